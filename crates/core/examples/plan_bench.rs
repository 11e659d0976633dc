//! Benchmark of the planner (run by hand, in release):
//!
//! ```text
//! cargo run --release -p lb-core --example plan_bench -- [linked=1000000] [changed_pct=10] [full]
//! ```
//!
//! A base of `linked` contacts, each linked to a Lead, of which `changed_pct` % changed on our
//! side and `changed_pct` % (drawn independently) in the org, 1 in 10 of those on the same
//! field (conflicts). The input is what the runtime feeds an incremental run (see `lb_core::plan`):
//! the changed contacts, the changed Leads, the contacts linked to those Leads, and the links
//! with their bases. Unchanged contacts and Leads are never built: memory follows the changes.
//! With `full`, every contact, Lead and link is built and planned instead (a full resync).
//!
//! Prints the time to plan, the plan's counts, and the peak RSS (VmHWM) before and after.
//!
//! Figures (2026-11-29, the 2-core dev machine under load ≈ 5 from parallel builds; CPU time is
//! the planner thread's own):
//!
//! | base      | changed/side | input (contacts / Leads / links) | plan wall | plan CPU | peak RSS (input → after plan) |
//! |-----------|--------------|----------------------------------|-----------|----------|-------------------------------|
//! | 1,000,000 | 10 %         | 190,027 / 100,139 / 190,027      | 1.98 s    | 1.46 s   | 920 → 1,202 MiB               |
//! | 2,000,000 | 5 %          | 195,541 / 100,475 / 195,541      | 2.35 s    | 1.45 s   | 943 → 1,228 MiB               |
//! |   500,000 | 20 %         | 179,917 /  99,799 / 179,917      | 2.62 s    | 1.42 s   | 878 → 1,154 MiB               |
//! | 1,000,000 | full resync  | 1,000,000 / 1,000,000 / 1,000,000| 17.3 s    | 9.45 s   | 5,480 → 6,300 MiB             |
//!
//! Same changes over twice the base: same time, same memory. Most of the memory is the input's
//! own representation (maps of strings); the planner adds ~1.5 KiB per planned pair.

use lb_core::*;
use std::collections::BTreeMap;
use std::time::Instant;
use time::OffsetDateTime;

/// splitmix64: deterministic, no dependency.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// CPU time of this thread so far (user + system), from /proc, in seconds: wall time is
/// unreliable on a shared 2-core machine.
fn thread_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 of stat (utime, stime), in clock ticks of 1/100 s.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn t(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + secs).unwrap()
}

/// The synced values of contact `i` (both sides agreed on these at the last sync).
fn synced(i: u64) -> Vec<(&'static str, &'static str, String)> {
    vec![
        ("email", "Email", format!("user{i}@example.com")),
        ("first_name", "FirstName", format!("First{}", i % 5000)),
        ("last_name", "LastName", format!("Last{i}")),
        ("company", "Company", format!("Company {}", i % 20_000)),
        ("phone", "Phone", format!("+33 1 {:08}", i)),
        ("job_title", "Title", "Marketing".to_string()),
        (
            "page_url",
            "plezi_url__c",
            format!("https://app.example/contacts/{i}"),
        ),
        ("behaviour_score", "score__c", (i % 51).to_string()),
        ("state", "status__c", "engaged".to_string()),
        ("campaign", "campaign__c", format!("spring-{}", i % 12)),
        (
            "created_on",
            "lead_creation_date__c",
            "2026-01-15".to_string(),
        ),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let linked: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let pct: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let full = args.iter().any(|a| a == "full");
    let mapping = Mapping::default_mapping();
    let fps: BTreeMap<&str, u32> = mapping
        .active_entries(SObject::Lead)
        .map(|e| (e.attribute.as_str(), e.fingerprint()))
        .collect();

    let ours_changed = |i: u64| mix(i) % 100 < pct;
    let org_changed = |i: u64| mix(i ^ 0xABCD_EF01) % 100 < pct;
    let conflict = |i: u64| mix(i ^ 0x1234).is_multiple_of(10);

    let started = Instant::now();
    let mut input = SyncInput::default();
    for i in 0..linked {
        let (oc, tc) = (ours_changed(i), org_changed(i));
        if !full && !oc && !tc {
            continue;
        }
        let values = synced(i);
        let cid = ContactId(format!("c{i}"));
        let org_id = format!("00Q{i:015}");
        let base = values
            .iter()
            .map(|(a, _, v)| {
                (
                    a.to_string(),
                    FieldBase {
                        ours: Some(v.clone()),
                        theirs: Some(v.clone()),
                        entry: fps[a],
                    },
                )
            })
            .collect();
        input.links.push(SyncedLink {
            contact_id: cid.clone(),
            org_id: org_id.clone(),
            object: SObject::Lead,
            base,
        });
        // Our contact: in the input when it changed, or when its Lead changed (local read).
        let mut c = OurContact {
            id: cid,
            email: None,
            values: BTreeMap::new(),
            changed_at: BTreeMap::new(),
        };
        for (a, _, v) in &values {
            if *a == "email" {
                c.email = Some(v.clone());
            } else {
                c.values.insert(a.to_string(), v.clone());
                c.changed_at.insert(a.to_string(), t(0));
            }
        }
        if oc {
            c.values
                .insert("behaviour_score".into(), ((i + 7) % 51).to_string());
            c.changed_at.insert("behaviour_score".into(), t(100));
            if conflict(i) {
                c.values.insert("phone".into(), format!("+33 6 {:08}", i));
                c.changed_at.insert("phone".into(), t(100 + (i % 3) as i64));
            }
        }
        input.contacts.push(c);
        if tc || full {
            let mut fields: BTreeMap<String, String> = values
                .iter()
                .map(|(_, f, v)| (f.to_string(), v.clone()))
                .collect();
            let mut modified = t(0);
            if tc {
                fields.insert("Company".into(), format!("Renamed {}", i % 20_000));
                if conflict(i) {
                    fields.insert("Phone".into(), format!("+33 7 {:08}", i));
                }
                modified = t(101);
            }
            input.records.push(OrgRecord {
                id: org_id,
                object: SObject::Lead,
                fields,
                last_modified: modified,
                system_modstamp: modified,
                created: t(-1000),
                is_converted: false,
                converted_contact_id: None,
            });
        }
    }
    let built = started.elapsed();
    let rss_input = peak_rss_mib();
    println!(
        "base {linked} linked contacts, {pct}% changed per side{}: input {} contacts, {} Leads, {} links (built in {:.2?}, peak RSS {:.0} MiB)",
        if full { " (full resync)" } else { "" },
        input.contacts.len(),
        input.records.len(),
        input.links.len(),
        built,
        rss_input
    );

    let started = Instant::now();
    let cpu = thread_cpu_secs();
    let p = plan(
        &mapping,
        &PlanConfig::default(),
        &input,
        &RunId::from("bench"),
    );
    let planned = started.elapsed();
    let cpu = thread_cpu_secs() - cpu;
    let s = p.summary();
    println!(
        "planned in {:.2?} (CPU {cpu:.2} s): {} pairs, crm updates {}, marketing updates {}, conflicts {}, skips {}; peak RSS {:.0} MiB",
        planned,
        p.pairs.len(),
        s.crm_updates,
        s.marketing_updates,
        s.conflicts,
        s.skipped,
        peak_rss_mib()
    );
    // Keep the plan alive until measured.
    assert!(!p.pairs.is_empty() || pct == 0);
}
