//! Import benchmark (run by hand, release build):
//!
//! ```text
//! cargo run --release -p lb-store --example import_bench -- [ROWS] [postgres://…]
//! ```
//!
//! Writes a CSV of ROWS contacts (default 1,000,000) to a temp dir, imports it into a fresh
//! SQLite store (or a fresh database on the given PostgreSQL server), then imports it again
//! (every row an update with no change). Prints rows/s for both passes and the process's peak
//! RSS (VmHWM) after each, to show memory stays flat whatever the file's size. The PostgreSQL
//! database it creates is dropped at the end.
//!
//! `IMPORT_BENCH_PASSES=create` runs the first pass only (to profile it), `IMPORT_BENCH_BATCH=N`
//! sets the batch size, `IMPORT_BENCH_SETTLE=1` flushes the first pass's writes to disk and
//! waits 3 s before the second (else the kernel's write-back of the first pass runs during the
//! second, unevenly between a fast and a slow binary).
//!
//! Figures, 1,000,000 rows, 2-core machine shared with other helpers' builds and benchmarks
//! (load average 2.2–3.0; a quiet machine does better). Baseline: 340db8d (before the packed
//! SQLite binds and the change log written in place), its binary run alternately with this one
//! in the same minutes, release build, `import_bench 1000000 [postgres://…]`; rows/s, median of
//! the runs, ratio of the medians. SQLite: six pairs, the last three with IMPORT_BENCH_SETTLE=1
//! (the re-import only compares fairly with it: without, this binary's re-import measured
//! 0.87× — 88.7k 80.7k 73.2k against 103.4k 92.4k 83.9k — with the same instruction count).
//!
//! | backend    | pass      | baseline runs                           | median | now runs                                | median | ratio |
//! |------------|-----------|-----------------------------------------|--------|-----------------------------------------|--------|-------|
//! | SQLite     | create    | 59.3k 54.7k 67.9k 66.5k 61.1k 55.7k     | 60.2k  | 83.5k 76.1k 92.5k 78.1k 80.0k 77.9k     | 79.1k  | 1.31× |
//! | SQLite     | re-import | (settled) 77.5k 96.1k 77.0k             | 77.5k  | (settled) 89.1k 78.2k 78.6k             | 78.6k  | 1.01× |
//! | PostgreSQL | create    | 48.1k 47.1k 57.4k                       | 48.1k  | 58.3k 59.7k 64.4k                       | 59.7k  | 1.24× |
//! | PostgreSQL | re-import | 133.1k 141.2k 183.1k                    | 141.2k | 130.2k 170.1k 176.5k                    | 170.1k | 1.21× |
//!
//! Peak RSS (VmHWM): SQLite 73–89 → 48–57 MiB, PostgreSQL 48–52 → 29–38 MiB. CPU work in our
//! process (callgrind, `IMPORT_BENCH_PASSES=create import_bench 50000`, CSV writing included):
//! 5.47G → 3.59G instructions; SQLite's own thread 2.60G → 2.13G, the batch writer's task
//! 2.14G → 0.73G. Where the create pass's time went before (per-phase timers, 1M rows, the
//! batch writer is the critical path: the reader waits on it): INSERT of contacts 33%,
//! change-log INSERT 21%, commit (WAL writes, checkpoints: kernel time) 16%, building the
//! batch in memory (apply, change-log JSON) 13%, existing-email lookup 7%; of the
//! instructions, a third went to sqlx's bound texts (each copied twice with two allocations on
//! our side, once more by SQLite, all freed after). Now: one blob of texts per statement
//! (`text_pack.rs`), the change log written as fields are applied. What remains is mostly
//! SQLite's own insert work (b-trees, the email index, and a temporary table per row for each
//! `CHECK (… IN (…))` constraint: lifecycle_stage, origin) and the commit.
//!
//! Lead engineer's check at the end of the session, quiet machine (load < 1.4, nothing else
//! running), `IMPORT_BENCH_SETTLE=1`, glibc arenas capped at 4 as the binary caps them here,
//! alternated with the 340db8d binary (which ignores the settle):
//!
//! | backend    | pass      | 340db8d        | now            | ratio |
//! |------------|-----------|----------------|----------------|-------|
//! | SQLite     | create    | 71,166  65,747 | 90,856  93,017 | 1.35× |
//! | SQLite     | re-import | 54,869  47,961 | 42,459  43,920 | 0.84× |
//! | PostgreSQL | create    | 60,819  61,672 | 68,945  69,477 | 1.13× |
//! | PostgreSQL | re-import | 188,782 191,322| 178,134 178,794| 0.94× |
//!
//! The SQLite re-import (every row unchanged) varies from run to run far more than the create
//! (42–65k in this session's runs of the same binary, with the first pass's data still being
//! written back by the kernel); its instruction count did not change. Capping arenas at 2
//! instead of 4 cost the import ~15% (create 56.8k vs 65.9k under load), hence 2 × cores.

use std::io::{BufWriter, Write};
use std::time::Instant;

use lb_store::{Database, ImportOptions, Store};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    // Arenas capped as the `leadbridge` binary caps them, before any thread starts.
    lb_store::malloc::runtime().block_on(run());
}

async fn run() {
    let args: Vec<String> = std::env::args().collect();
    let rows: u64 = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let pg = args.get(2).cloned();
    let dir = tempfile::tempdir().expect("temp dir");
    let csv_path = dir.path().join("contacts.csv");
    {
        let mut out = BufWriter::new(std::fs::File::create(&csv_path).expect("csv file"));
        writeln!(out, "email,first_name,last_name,company,job_title,phone,behaviour_score,state,source,campaign").unwrap();
        for i in 0..rows {
            writeln!(
                out,
                "user{i}@example{}.com,First{i},Last{i},Company {},Engineer,+33 1 23 45 {:02} {:02},{},{},web,spring-{}",
                i % 97,
                i % 5000,
                i % 100,
                (i / 100) % 100,
                i % 51,
                ["new", "engaged", "accepted", "closed"][(i % 4) as usize],
                i % 12
            )
            .unwrap();
        }
    }
    let size = std::fs::metadata(&csv_path).unwrap().len();
    println!(
        "CSV: {rows} rows, {:.1} MiB; peak RSS after writing it: {:.1} MiB",
        size as f64 / 1048576.0,
        peak_rss_mib()
    );

    // The bench's own PostgreSQL database, dropped at the end (a 1,000,000-row run leaves ~700 MB).
    let bench_db = pg
        .as_ref()
        .map(|_| format!("bench_{}", uuid::Uuid::new_v4().simple()));
    let store = match (&pg, &bench_db) {
        (Some(admin), Some(name)) => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(admin).await.expect("postgres");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let mut url = url::Url::parse(admin).unwrap();
            url.set_path(name);
            Store::open(&Database::from_url(url.as_str()).unwrap())
                .await
                .expect("postgres store")
        }
        _ => Store::open(&Database::in_data_dir(&dir.path().join("data")))
            .await
            .expect("sqlite store"),
    };
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    // IMPORT_BENCH_PASSES=create runs the first pass only (to profile it alone).
    let passes = match std::env::var("IMPORT_BENCH_PASSES").as_deref() {
        Ok("create") => &["create"][..],
        _ => &["create", "re-import (no change)"][..],
    };
    for (i, pass) in passes.iter().enumerate() {
        // IMPORT_BENCH_SETTLE=1: before the second pass, the first one's writes are flushed to
        // disk and the machine left alone a few seconds, so that the kernel's write-back of the
        // first pass does not run during the second (it did, unevenly, between binaries).
        if i > 0 && std::env::var("IMPORT_BENCH_SETTLE").is_ok_and(|v| v == "1") {
            let _ = std::process::Command::new("sync").status();
            std::thread::sleep(std::time::Duration::from_secs(3));
        }
        let mut reader =
            std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&csv_path).unwrap());
        let started = Instant::now();
        let mut last_mark = 0u64;
        let mut on_progress = |bytes: u64| {
            if bytes - last_mark > size / 4 {
                last_mark = bytes;
                eprintln!(
                    "  … {:.0}% read, peak RSS {:.1} MiB",
                    bytes as f64 * 100.0 / size as f64,
                    peak_rss_mib()
                );
            }
        };
        let mut options = ImportOptions::default();
        if let Some(n) = std::env::var("IMPORT_BENCH_BATCH")
            .ok()
            .and_then(|n| n.parse().ok())
        {
            options.batch_size = n;
        }
        let report = store
            .import_csv(&mut reader, &options, &mut on_progress)
            .await
            .expect("import");
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{backend} {pass}: {} rows ({} created, {} updated, {} unchanged, {} rejected) in {secs:.1}s = {:.0} rows/s; peak RSS {:.1} MiB",
            report.rows,
            report.created,
            report.updated,
            report.unchanged,
            report.rejected,
            report.rows as f64 / secs,
            peak_rss_mib()
        );
    }
    println!(
        "contacts: {}, change-log writes (cursor): {}",
        store.count_contacts().await.unwrap(),
        store.latest_change_cursor().await.unwrap().0
    );
    store.close().await;
    if let (Some(admin), Some(name)) = (&pg, &bench_db) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(admin).await.expect("postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("drop the bench database");
    }
}
