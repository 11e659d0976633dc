//! Throughput and memory benchmark of the emulator (issue 2, "Proof"), run by hand, never in CI:
//!
//! ```sh
//! cargo build --release -p leadbridge
//! cargo run --release -p lb-emulator --example emulator_bench -- [--leads 1000000] [--insert 100000] \
//!     [--query-pages 250] [--workers 4] [--bin target/release/leadbridge]
//! ```
//!
//! It starts the real `leadbridge emulator` binary as a child process (so the memory figures are
//! the emulator's alone, read from `/proc/<pid>/status`), seeds `--leads` Leads through
//! `POST /__emulator/records`, then measures over loopback HTTP, as a sync would see it:
//! - records/s of 200-record sObject Collection inserts (`POST /composite/sobjects`), with
//!   `--workers` requests in flight;
//! - records/s of a full-table query read page by page (2,000 records per page, by
//!   `nextRecordsUrl`), one cursor at a time as a sync reads;
//! - the latency of the sync's incremental query (`WHERE SystemModstamp > … ORDER BY
//!   SystemModstamp`) and of a lookup by Email on the loaded org;
//! - peak resident memory (VmHWM) after each phase.
//!
//! Every answer is checked (all inserts succeed, every page has the records it announces), so a
//! fast wrong answer cannot pass for a fast right one. Targets: ≥ 5,000 inserted and ≥ 50,000
//! queried records/s on a 2-core machine.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Args {
    leads: usize,
    insert: usize,
    query_pages: usize,
    workers: usize,
    bin: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        leads: 1_000_000,
        insert: 100_000,
        query_pages: 250,
        workers: 4,
        bin: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/release/leadbridge"
        )
        .to_string(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--leads" => args.leads = value().parse().expect("--leads N"),
            "--insert" => args.insert = value().parse().expect("--insert N"),
            "--query-pages" => args.query_pages = value().parse().expect("--query-pages N"),
            "--workers" => args.workers = value().parse().expect("--workers N"),
            "--bin" => args.bin = value(),
            other => {
                panic!("unknown flag {other}; see the module doc of examples/emulator_bench.rs")
            }
        }
    }
    args
}

/// `(VmHWM, VmRSS)` of a process in MiB, from `/proc/<pid>/status`.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

struct Emu {
    child: Child,
    url: String,
    org: Value,
}

impl Drop for Emu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &str) -> Emu {
    let mut child = Command::new(bin)
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--daily-api-limit",
            "1000000000",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("start {bin} (build it with `cargo build --release -p leadbridge`): {e}")
        });
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .expect("read the emulator's JSON line");
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let org: Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("JSON line ({e}): {line:?}"));
    let url = org["url"]
        .as_str()
        .expect("url")
        .trim_end_matches('/')
        .to_string();
    Emu { child, url, org }
}

fn lead(i: usize, tag: &str) -> Value {
    json!({
        "FirstName": format!("First{i}"),
        "LastName": format!("Last{i:07}"),
        "Company": format!("{tag} Company {}", i % 5_000),
        "Email": format!("{tag}.lead{i}@bench.example.com"),
        "Title": "Head of Marketing",
        "LeadSource": "Web",
    })
}

async fn check(resp: reqwest::Response, what: &str) -> Value {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "{what}: {status} {}",
        &text[..text.len().min(500)]
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let emu = start(&args.bin);
    let pid = emu.child.id();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    println!(
        "emulator pid {pid} at {}; idle memory: VmHWM {:.0} MiB",
        emu.url,
        memory_mib(pid).0
    );

    // 1. Load the org.
    let t = Instant::now();
    const SEED_CHUNK: usize = 10_000;
    for start in (0..args.leads).step_by(SEED_CHUNK) {
        let records: Vec<Value> = (start..args.leads.min(start + SEED_CHUNK))
            .map(|i| lead(i, "seed"))
            .collect();
        let resp = http
            .post(format!("{}/__emulator/records", emu.url))
            .json(&json!({"sobject": "Lead", "records": records}))
            .send()
            .await
            .expect("seed request");
        check(resp, "POST /__emulator/records").await;
    }
    let seed_secs = t.elapsed().as_secs_f64();
    let (hwm, rss) = memory_mib(pid);
    println!(
        "seeded {} Leads in {seed_secs:.1} s ({:.0} records/s); VmHWM {hwm:.0} MiB, VmRSS {rss:.0} MiB",
        args.leads,
        args.leads as f64 / seed_secs
    );

    // 2. Log in as the integration user (OAuth password grant).
    let form = [
        ("grant_type", "password".to_string()),
        (
            "client_id",
            emu.org["client_id"].as_str().unwrap().to_string(),
        ),
        (
            "client_secret",
            emu.org["client_secret"].as_str().unwrap().to_string(),
        ),
        (
            "username",
            emu.org["username"].as_str().unwrap().to_string(),
        ),
        (
            "password",
            format!(
                "{}{}",
                emu.org["password"].as_str().unwrap(),
                emu.org["security_token"].as_str().unwrap()
            ),
        ),
    ];
    let token = check(
        http.post(format!("{}/services/oauth2/token", emu.url))
            .form(&form)
            .send()
            .await
            .unwrap(),
        "token",
    )
    .await["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let auth = format!("Bearer {token}");
    let data = format!("{}/services/data/v66.0", emu.url);

    // 3. 200-record collection inserts, `workers` requests in flight.
    let batches = args.insert.div_ceil(200);
    let t = Instant::now();
    let mut inserted = 0usize;
    let mut next = 0usize;
    let mut in_flight = tokio::task::JoinSet::new();
    while next < batches || !in_flight.is_empty() {
        while next < batches && in_flight.len() < args.workers {
            let body = json!({
                "allOrNone": false,
                "records": (next * 200..args.insert.min(next * 200 + 200))
                    .map(|i| {
                        let mut r = lead(i, "ins");
                        r["attributes"] = json!({"type": "Lead"});
                        r
                    })
                    .collect::<Vec<_>>(),
            });
            let req = http
                .post(format!("{data}/composite/sobjects"))
                .header("Authorization", &auth)
                .json(&body);
            in_flight.spawn(async move {
                check(
                    req.send().await.expect("insert request"),
                    "composite insert",
                )
                .await
            });
            next += 1;
        }
        let results = in_flight.join_next().await.unwrap().unwrap();
        let results = results.as_array().expect("collection results");
        assert!(
            results.iter().all(|r| r["success"] == json!(true)),
            "a record failed: {results:?}"
        );
        inserted += results.len();
    }
    let insert_secs = t.elapsed().as_secs_f64();
    assert_eq!(inserted, args.insert);
    let (hwm, rss) = memory_mib(pid);
    println!(
        "collections insert: {inserted} records in {batches} requests of 200, {} in flight: {insert_secs:.2} s = {:.0} records/s; VmHWM {hwm:.0} MiB, VmRSS {rss:.0} MiB",
        args.workers,
        inserted as f64 / insert_secs
    );

    // 4. Full-table query, read page by page (2,000 per page), one cursor.
    let soql = "SELECT Id, FirstName, LastName, Email, Company, Status, LeadSource, SystemModstamp FROM Lead";
    let t = Instant::now();
    let first = check(
        http.get(format!("{data}/query"))
            .query(&[("q", soql)])
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap(),
        "query",
    )
    .await;
    let first_page_secs = t.elapsed().as_secs_f64();
    let total = first["totalSize"].as_u64().expect("totalSize") as usize;
    assert_eq!(total, args.leads + args.insert, "totalSize");
    let mut read = first["records"].as_array().expect("records").len();
    let mut pages = 1;
    let mut next_url = first["nextRecordsUrl"].as_str().map(str::to_string);
    let mut page_sizes_ok = read == 2_000.min(total);
    while let Some(path) = next_url.take() {
        if pages >= args.query_pages {
            break;
        }
        let page = check(
            http.get(format!("{}{path}", emu.url))
                .header("Authorization", &auth)
                .send()
                .await
                .unwrap(),
            "query page",
        )
        .await;
        let n = page["records"].as_array().expect("records").len();
        page_sizes_ok &= n == 2_000 || page["done"] == json!(true);
        read += n;
        pages += 1;
        next_url = page["nextRecordsUrl"].as_str().map(str::to_string);
    }
    let query_secs = t.elapsed().as_secs_f64();
    assert!(
        page_sizes_ok,
        "a page other than the last had fewer than 2,000 records"
    );
    let (hwm, rss) = memory_mib(pid);
    println!(
        "query paging: {read} records in {pages} pages of 2,000: {query_secs:.2} s = {:.0} records/s (first page after {:.0} ms); VmHWM {hwm:.0} MiB, VmRSS {rss:.0} MiB",
        read as f64 / query_secs,
        first_page_secs * 1000.0
    );

    // 5. The sync's own queries on the loaded org: incremental by SystemModstamp, lookup by Email.
    for (label, soql) in [
        (
            "incremental (SystemModstamp > 2000-01-01, ORDER BY, LIMIT 2000)",
            "SELECT Id, Email, SystemModstamp FROM Lead WHERE SystemModstamp > 2000-01-01T00:00:00Z ORDER BY SystemModstamp LIMIT 2000",
        ),
        (
            "lookup by Email",
            "SELECT Id FROM Lead WHERE Email = 'seed.lead424242@bench.example.com'",
        ),
        ("COUNT()", "SELECT COUNT() FROM Lead"),
    ] {
        let t = Instant::now();
        let answer = check(
            http.get(format!("{data}/query"))
                .query(&[("q", soql)])
                .header("Authorization", &auth)
                .send()
                .await
                .unwrap(),
            label,
        )
        .await;
        println!(
            "{label}: {:.1} ms, totalSize {}",
            t.elapsed().as_secs_f64() * 1000.0,
            answer["totalSize"]
        );
    }

    let (hwm, _) = memory_mib(pid);
    println!(
        "SUMMARY leads={} insert_records_per_s={:.0} query_records_per_s={:.0} peak_rss_mib={hwm:.0}",
        args.leads,
        inserted as f64 / insert_secs,
        read as f64 / query_secs
    );
}
