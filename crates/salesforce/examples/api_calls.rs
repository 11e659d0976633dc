//! Benchmark, run by hand: API requests per 1,000 records for the two ways of pushing and the
//! two ways of pulling Leads, next to the theoretical minimum, against the in-process emulator.
//!
//! ```sh
//! cargo run -p lb-salesforce --example api_calls            # 10,000 pushed, 100,000 pulled
//! cargo run -p lb-salesforce --example api_calls -- 2000 20000
//! ```
//!
//! Minimums: collections `records / 200`, REST query pages `records / 2,000`, a Bulk job a
//! constant (create + upload + close + one status poll + the successful-results file for an
//! ingest where every record succeeds; create + one poll + one result page per 100,000
//! records for a query).

use std::time::Instant;

use lb_salesforce::{Client, ClientConfig, Credentials, Record, RequestCounts, WriteOp};
use serde_json::json;

fn leads(n: usize, tag: &str) -> Vec<Record> {
    (0..n)
        .map(|i| {
            json!({"LastName": format!("Bench {i}"), "FirstName": "Ann", "Company": "Acme", "Email": format!("{tag}{i}@bench.example"), "Title": "Buyer"})
                .as_object()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn row(label: &str, records: usize, used: &RequestCounts, minimum: u64, secs: f64) {
    let calls = used.api_calls();
    let per_k = calls as f64 * 1000.0 / records as f64;
    let min_k = minimum as f64 * 1000.0 / records as f64;
    let over = if minimum == 0 {
        0.0
    } else {
        (calls as f64 / minimum as f64 - 1.0) * 100.0
    };
    let kinds: Vec<String> = used
        .by_kind
        .iter()
        .filter(|(k, _)| k.counts_against_allowance())
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    println!(
        "{label:<34} {records:>7} rec  {calls:>5} calls  {per_k:>7.3}/1k  min {minimum:>4} ({min_k:.3}/1k)  +{over:>5.1}%  {secs:>6.2}s  [{}]",
        kinds.join(" ")
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let push: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let pull: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);

    let em = lb_emulator::spawn(lb_emulator::Config {
        daily_api_limit: Some(10_000_000),
        ..Default::default()
    })
    .await
    .expect("emulator");
    let cfg = em.emulator.config().clone();
    let (username, password, security_token) = em.emulator.credentials();
    let creds = Credentials::Password {
        client_id: cfg.client_id.clone(),
        client_secret: Some(cfg.client_secret.clone()),
        username,
        password,
        security_token,
    };
    let mut config = ClientConfig::new(em.login_url.clone());
    config.bulk.poll_initial = std::time::Duration::from_millis(200);
    let client = Client::new(config, creds).expect("client");
    client.session().await.expect("login");

    println!("pushing {push} new Leads, pulling {pull} Leads (emulator, dev build)\n");
    println!(
        "{:<34} {:>11} {:>11} {:>12} {:>17} {:>7} {:>7}",
        "method", "records", "calls", "per 1k", "minimum", "over", "time"
    );

    // Push: collections.
    let before = client.request_counts();
    let t = Instant::now();
    let report = client
        .collections(&WriteOp::Insert, "Lead", &leads(push, "c"))
        .await;
    assert_eq!(report.saved(), push, "collections: {:?}", report.stopped);
    row(
        "push: collections (200/call)",
        push,
        &client.request_counts().since(&before),
        push.div_ceil(200) as u64,
        t.elapsed().as_secs_f64(),
    );

    // Push: Bulk 2.0 ingest.
    let before = client.request_counts();
    let t = Instant::now();
    let report = client
        .bulk_ingest(&WriteOp::Insert, "Lead", leads(push, "b"))
        .await;
    assert_eq!(report.saved(), push, "bulk: {:?}", report.stopped);
    row(
        "push: bulk 2.0 ingest",
        push,
        &client.request_counts().since(&before),
        5,
        t.elapsed().as_secs_f64(),
    );

    // Pull: top the org up to `pull` Leads through the control API (not counted).
    let have = 2 * push;
    let http = reqwest::Client::new();
    let mut seeded = have;
    while seeded < pull {
        let n = (pull - seeded).min(10_000);
        let body = json!({"sobject": "Lead", "records": leads(n, &format!("s{seeded}_"))});
        let r = http
            .post(format!("{}/__emulator/records", em.url))
            .json(&body)
            .send()
            .await
            .expect("seed");
        assert!(
            r.status().is_success(),
            "seed: {}",
            r.text().await.unwrap_or_default()
        );
        seeded += n;
    }
    let soql = "SELECT Id, Email, FirstName, LastName, Company, Title, SystemModstamp FROM Lead";

    let before = client.request_counts();
    let t = Instant::now();
    let mut pager = client.query(soql);
    let mut got = 0;
    while let Some(page) = pager.next_page().await.expect("query page") {
        got += page.records.len();
    }
    assert_eq!(got, seeded);
    row(
        "pull: REST query pages",
        got,
        &client.request_counts().since(&before),
        got.div_ceil(2_000) as u64,
        t.elapsed().as_secs_f64(),
    );

    let before = client.request_counts();
    let t = Instant::now();
    let records = client
        .bulk_query(soql, false)
        .await
        .expect("bulk query")
        .collect_all()
        .await
        .expect("pages");
    assert_eq!(records.len(), seeded);
    let pages = seeded.div_ceil(client.config().bulk.query_page_records as usize) as u64;
    row(
        "pull: bulk 2.0 query",
        records.len(),
        &client.request_counts().since(&before),
        2 + pages,
        t.elapsed().as_secs_f64(),
    );

    let total = client.request_counts();
    println!(
        "\nall requests by kind: {:?}",
        total
            .by_kind
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<_>>()
    );
    em.shutdown().await.ok();
}
