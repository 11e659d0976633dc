//! Bulk API 2.0 throughput of the emulator, run by hand, never in CI:
//!
//! ```sh
//! cargo run --release -p lb-emulator --example bulk_bench -- [--records 100000]
//! ```
//!
//! Starts an in-process emulator on a loopback port, then over real HTTP: creates an insert job,
//! uploads `--records` Leads as one CSV, closes the job and polls until `JobComplete`; downloads
//! `successfulResults/`; then runs a Bulk query job over them and reads every result page
//! (50,000 records per page). Every answer is checked (all rows succeed, every page has the
//! records it announces), so a fast wrong answer cannot pass for a fast right one.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

const V: &str = "/services/data/v66.0";

#[tokio::main]
async fn main() {
    let mut records = 100_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--records" {
            records = args
                .next()
                .and_then(|n| n.parse().ok())
                .expect("--records N");
        }
    }
    let running = lb_emulator::spawn(lb_emulator::Config::default())
        .await
        .expect("emulator starts");
    let base = running.url.clone();
    let http = reqwest::Client::new();
    let banner = running.banner();
    let s = |k: &str| banner[k].as_str().unwrap_or_default().to_owned();
    let pass = format!("{}{}", s("password"), s("security_token"));
    let token: Value = http
        .post(format!("{base}/services/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", &s("client_id")),
            ("client_secret", &s("client_secret")),
            ("username", &s("username")),
            ("password", &pass),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let token = token["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let call = |m: reqwest::Method, path: String| {
        http.request(m, format!("{base}{path}")).bearer_auth(&token)
    };

    let mut csv = String::with_capacity(records * 60);
    csv.push_str("FirstName,LastName,Company,Email,Title\n");
    for i in 0..records {
        csv.push_str(&format!(
            "First{i},Last{i},BenchCo {},bench{i}@example.com,\"Title, {}\"\n",
            i % 997,
            i % 13
        ));
    }

    let t0 = Instant::now();
    let job: Value = call(reqwest::Method::POST, format!("{V}/jobs/ingest"))
        .json(&json!({"object": "Lead", "operation": "insert"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("job json");
    let id = job["id"].as_str().expect("job id").to_owned();
    let up = call(
        reqwest::Method::PUT,
        format!("{V}/jobs/ingest/{id}/batches"),
    )
    .header("content-type", "text/csv")
    .body(csv)
    .send()
    .await
    .expect("upload");
    assert_eq!(up.status().as_u16(), 201);
    let uploaded = t0.elapsed();
    call(reqwest::Method::PATCH, format!("{V}/jobs/ingest/{id}"))
        .json(&json!({"state": "UploadComplete"}))
        .send()
        .await
        .expect("close");
    let info = loop {
        let info: Value = call(reqwest::Method::GET, format!("{V}/jobs/ingest/{id}"))
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("info");
        if matches!(
            info["state"].as_str(),
            Some("JobComplete" | "Failed" | "Aborted")
        ) {
            break info;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let processed = t0.elapsed();
    assert_eq!(info["state"], json!("JobComplete"), "{info}");
    assert_eq!(info["numberRecordsProcessed"], json!(records));
    assert_eq!(info["numberRecordsFailed"], json!(0));
    let ok = call(
        reqwest::Method::GET,
        format!("{V}/jobs/ingest/{id}/successfulResults"),
    )
    .send()
    .await
    .expect("results")
    .text()
    .await
    .expect("csv");
    assert_eq!(ok.lines().count(), records + 1);
    let with_results = t0.elapsed();
    println!(
        "ingest {records} Leads: upload {:.2}s, processed (JobComplete seen) {:.2}s = {:.0} records/s; successfulResults {:.1} MB by {:.2}s",
        uploaded.as_secs_f64(),
        processed.as_secs_f64(),
        records as f64 / processed.as_secs_f64(),
        ok.len() as f64 / 1e6,
        with_results.as_secs_f64()
    );

    let t1 = Instant::now();
    let job: Value = call(reqwest::Method::POST, format!("{V}/jobs/query"))
        .json(&json!({"operation": "query", "query": "SELECT Id, FirstName, LastName, Company, Email, Title, CreatedDate FROM Lead"}))
        .send()
        .await
        .expect("query job")
        .json()
        .await
        .expect("job json");
    let qid = job["id"].as_str().expect("query id").to_owned();
    loop {
        let info: Value = call(reqwest::Method::GET, format!("{V}/jobs/query/{qid}"))
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("info");
        if info["state"] == json!("JobComplete") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut locator: Option<String> = None;
    let mut rows = 0usize;
    let mut pages = 0usize;
    loop {
        let mut url = format!("{V}/jobs/query/{qid}/results?maxRecords=50000");
        if let Some(l) = &locator {
            url.push_str(&format!("&locator={l}"));
        }
        let resp = call(reqwest::Method::GET, url).send().await.expect("page");
        let n: usize = resp.headers()["sforce-numberofrecords"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let next = resp.headers()["sforce-locator"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = resp.text().await.expect("csv");
        assert_eq!(body.lines().count(), n + 1);
        rows += n;
        pages += 1;
        if next == "null" {
            break;
        }
        locator = Some(next);
    }
    assert_eq!(rows, records);
    let q = t1.elapsed();
    println!(
        "query job over {rows} Leads: {pages} pages in {:.2}s = {:.0} records/s",
        q.as_secs_f64(),
        rows as f64 / q.as_secs_f64()
    );
    running.shutdown().await.expect("shutdown");
}
