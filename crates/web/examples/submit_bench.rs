//! Form submission load benchmark on loopback (run by hand, release build):
//!
//! ```text
//! cargo run --release -p lb-web --example submit_bench -- [RATE] [SECONDS] [postgres://…]
//! ```
//!
//! Serves the app on 127.0.0.1:0 in this process (SQLite in a temp dir, or a fresh database on
//! the given PostgreSQL server), then:
//! 1. open loop: RATE submissions/s (default 500) for SECONDS (default 20), each request sent
//!    at its scheduled time whatever the previous ones did, latency measured from that time
//!    (no coordinated omission);
//! 2. closed loop: 32 clients submitting back to back for SECONDS, for the maximum throughput.
//!
//! Submissions are urlencoded, over 20,000 distinct emails (creates first, then updates).
//!
//! Figures, `500 10`, runs alternated back to back in one session (2-core machine shared with
//! other helpers' builds, load average 4 to 10), the median of each figure over the runs;
//! baseline = 004a9ef (one batch in flight, form and schema read per submission); now = forms
//! cached with their schema, batch N+1 waiting for the writer lock while N commits, submission
//! rows inserted with UNNEST on PostgreSQL:
//!
//! | backend    | loop        | runs | baseline p50 / p99 / rate | now p50 / p99 / rate    |
//! |------------|-------------|------|---------------------------|-------------------------|
//! | PostgreSQL | open, 500/s | 5    | 16.4 / 63.2 ms / 499/s    | 9.3 / 60.0 ms / 499/s   |
//! | PostgreSQL | closed, 32  | 5    | 56.5 / 112.5 ms / 544/s   | 35.4 / 82.4 ms / 893/s  |
//! | SQLite     | open, 500/s | 3    | 3.0 / 69.0 ms / 500/s     | 3.0 / 62.5 ms / 500/s   |
//! | SQLite     | closed, 32  | 3    | 14.0 / 66.7 ms / 1,879/s  | 7.0 / 44.7 ms / 3,066/s |
//!
//! Ratios now/baseline: PostgreSQL open p50 0.57, closed rate 1.64; SQLite closed rate 1.63;
//! open-loop p99 0.95 (PostgreSQL) and 0.91 (SQLite), within the noise at that load. An
//! instrumented run at 500/s on PostgreSQL: over 3,000 batches for 5,000 submissions (size p50
//! 1, p99 4 to 6), write + commit of a batch p50 1.2 to 2.7 ms, p99 8 to 12 ms.
//!
//! Later in the same session, quieter (load average 2.5 to 4.5), final commit against the same
//! baseline binary, alternated, medians (PostgreSQL 3 runs each, SQLite 2):
//!
//! | backend    | loop        | baseline p50 / p99 / rate | now p50 / p99 / rate     |
//! |------------|-------------|---------------------------|--------------------------|
//! | PostgreSQL | open, 500/s | 11.2 / 85.4 ms / 500/s    | 4.2 / 30.4 ms / 500/s    |
//! | PostgreSQL | closed, 32  | 34.2 / 79.7 ms / 874/s    | 19.6 / 37.7 ms / 1,566/s |
//! | SQLite     | open, 500/s | 2.6 / 8.7 ms / 500/s      | 2.0 / 8.1 ms / 500/s     |
//! | SQLite     | closed, 32  | 7.5 / 18.5 ms / 3,947/s   | 4.7 / 15.2 ms / 6,102/s  |
//!
//! PostgreSQL open-loop p99 of the six runs of the new code (this commit and the one before
//! it, which differ only in where the wait for the batch turn runs): 12.0, 12.6, 14.0, 30.4,
//! 31.0, 288 ms; of the baseline: 17.6, 85.4, 143 ms. So the aim (p99 < 20 ms at 500/s) is met
//! on PostgreSQL when the machine is quiet, not while other builds load the two cores; SQLite
//! meets it in every quiet run, before and after.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lb_store::{Database, NewForm, Store};
use lb_web::AppState;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(name: &str, mut latencies: Vec<Duration>, errors: u64, elapsed: Duration) {
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: {} ok, {errors} errors in {:.1}s = {:.0}/s; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.90)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
}

fn main() {
    // Arenas capped as the `leadbridge` binary caps them, before any thread starts.
    lb_store::malloc::runtime().block_on(run());
}

async fn run() {
    let args: Vec<String> = std::env::args().collect();
    let rate: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(500);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let pg = args.get(3).cloned();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = match &pg {
        None => Store::open(&Database::in_data_dir(dir.path()))
            .await
            .expect("sqlite"),
        Some(admin) => {
            use sqlx::Connection;
            let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(admin).await.expect("postgres");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let mut url = url::Url::parse(admin).unwrap();
            url.set_path(&name);
            Store::open(&Database::from_url(url.as_str()).unwrap())
                .await
                .expect("postgres store")
        }
    };
    let mapping = [
        ("email", "email"),
        ("first_name", "first_name"),
        ("company", "company"),
        ("utm_source", "source"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    let form = store
        .create_form(&NewForm {
            name: "bench".into(),
            mapping,
            score_increment: Some(1),
        })
        .await
        .expect("form");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = lb_web::router(AppState::new(store.clone(), &format!("http://{addr}")));
    tokio::spawn(lb_web::serve(listener, app, std::future::pending()));
    let url = Arc::new(format!(
        "http://{addr}/api/v1/forms/{}/submissions",
        form.id
    ));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };

    let send = {
        let client = client.clone();
        let url = Arc::clone(&url);
        let counter = Arc::clone(&counter);
        move || {
            let client = client.clone();
            let url = Arc::clone(&url);
            let n = counter.fetch_add(1, Ordering::Relaxed);
            async move {
                let body = format!(
                    "email=user{}%40example.com&first_name=User{n}&company=Co+{}&utm_source=bench",
                    n % 20_000,
                    n % 300
                );
                let reply = client
                    .post(url.as_str())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await;
                matches!(reply, Ok(r) if r.status().as_u16() == 201)
            }
        }
    };

    // Warm-up: connections, statement caches.
    for _ in 0..200 {
        send().await;
    }

    // 1. Open loop at `rate`/s.
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = started + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let fut = send();
        tasks.push(tokio::spawn(async move {
            let ok = fut.await;
            (ok, scheduled.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    for t in tasks {
        let (ok, latency) = t.await.unwrap();
        if ok {
            latencies.push(latency)
        } else {
            errors += 1
        }
    }
    summary(
        &format!("{backend} open loop {rate}/s"),
        latencies,
        errors,
        started.elapsed(),
    );

    // 2. Closed loop, 32 clients.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..32 {
        let send = send.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                if send().await {
                    latencies.push(t.elapsed())
                } else {
                    errors += 1
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    summary(
        &format!("{backend} closed loop, 32 clients"),
        latencies,
        errors,
        started.elapsed(),
    );
    println!("contacts: {}", store.count_contacts().await.unwrap());
}
