//! `leadbridge contacts tombstones|resync` (issue 6): the contacts left out of the sync because
//! their Salesforce record was deleted, listed and synced again from the terminal. The
//! tombstones are recorded through the store's own API (what the sync's deletes step does),
//! then the real binary is run on the same data directory.

use std::path::Path;
use std::process::{Command, Output};

use lb_store::sync::tombstones::{DeleteOp, DeleteOutcome};
use lb_store::sync::{BatchCommit, NewRun, StoredLink};
use lb_store::{ContactId, Database, Store};

fn leadbridge(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .env("LEADBRIDGE_DATA_DIR", data_dir)
        .env_remove("LEADBRIDGE_DATABASE_URL")
        .env_remove("LEADBRIDGE_MASTER_KEY")
        .args(args)
        .output()
        .expect("run leadbridge")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Links each contact to its Lead in one run, then records that Salesforce deleted the Leads.
fn record_deletions(data_dir: &Path, deleted: &[(i64, &str)]) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Store::open(&Database::in_data_dir(data_dir)).await.unwrap();
        let sync = store.sync();
        let run = sync
            .start_run(&NewRun {
                triggered_by: "manual".into(),
                scope: "incremental".into(),
                dry_run: false,
                owner: "1@tests".into(),
                mapping_hash: None,
            })
            .await
            .unwrap();
        sync.commit_batch(&BatchCommit {
            run_id: run,
            links: deleted
                .iter()
                .map(|(id, org)| StoredLink {
                    contact_id: ContactId(*id),
                    org_id: (*org).to_owned(),
                    object: lb_core::SObject::Lead,
                    base: Default::default(),
                })
                .collect(),
            ..BatchCommit::default()
        })
        .await
        .unwrap();
        let ops: Vec<DeleteOp> = deleted
            .iter()
            .map(|(id, org)| DeleteOp {
                contact_id: ContactId(*id),
                org_id: (*org).to_owned(),
                object: lb_core::SObject::Lead,
                // Contact 2's deletion carries microseconds, as the org's times do.
                deleted_at: if *id == 2 {
                    time::macros::datetime!(2026-11-30 14:05:00.123456 UTC)
                } else {
                    time::macros::datetime!(2026-11-30 14:05 UTC)
                },
                master_id: None,
            })
            .collect();
        let outcomes = sync.commit_deletes(run, &ops).await.unwrap();
        assert!(outcomes.iter().all(|o| *o == DeleteOutcome::Tombstoned));
        store.close().await;
        run
    })
}

#[test]
fn contacts_tombstones_lists_them_and_resync_clears_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for email in ["ann@example.com", "bob@example.com", "cat@example.com"] {
        let added = leadbridge(&data, &["contacts", "add", "--email", email]);
        assert!(added.status.success(), "{}", stderr(&added));
    }
    let none = leadbridge(&data, &["contacts", "tombstones"]);
    assert!(none.status.success(), "{}", stderr(&none));
    assert_eq!(stdout(&none), "no contact is left out of the sync\n");

    let run = record_deletions(
        &data,
        &[(1, "00Q000000000001AAA"), (2, "00Q000000000002AAA")],
    );

    let table = leadbridge(&data, &["contacts", "tombstones"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].contains("ORG ID") && lines[0].contains("DELETED AT"),
        "{text}"
    );
    // Columns line up whatever the deletion time's precision (microseconds: 27 characters).
    let run_end = |line: &str, run: &str| line.rfind(run).map(|at| at + run.len());
    for line in &lines[1..3] {
        assert_eq!(
            run_end(lines[0], "RUN"),
            run_end(line, &format!(" {run}")),
            "{text}"
        );
    }
    for (line, (id, email, org, at)) in lines[1..3].iter().zip([
        (
            1,
            "ann@example.com",
            "00Q000000000001AAA",
            "2026-11-30T14:05:00Z",
        ),
        (
            2,
            "bob@example.com",
            "00Q000000000002AAA",
            "2026-11-30T14:05:00.123456Z",
        ),
    ]) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cols,
            [
                id.to_string().as_str(),
                email,
                "Lead",
                org,
                at,
                run.to_string().as_str()
            ],
            "{text}"
        );
    }
    assert!(
        lines[3].starts_with("2 contacts left out of the sync"),
        "{text}"
    );

    // `contacts show` says where a contact stands with Salesforce.
    let shown = stdout(&leadbridge(&data, &["contacts", "show", "2"]));
    assert!(
        shown.contains(
            "  salesforce       left out of the sync: its Lead 00Q000000000002AAA was deleted in Salesforce on 2026-11-30T14:05:00.123456Z; `leadbridge contacts resync 2` syncs it again\n"
        ),
        "{shown}"
    );
    let shown = stdout(&leadbridge(&data, &["contacts", "show", "3"]));
    assert!(
        shown.contains("  salesforce       not linked yet (the next sync looks its email up)\n"),
        "{shown}"
    );
    let shown = leadbridge(&data, &["contacts", "show", "bob@example.com", "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(value["salesforce"]["linked"], serde_json::Value::Null);
    assert_eq!(
        value["salesforce"]["tombstone"]["org_id"],
        "00Q000000000002AAA"
    );
    assert_eq!(value["salesforce"]["tombstone"]["run_id"], run);

    let json = leadbridge(&data, &["contacts", "tombstones", "--json"]);
    assert!(json.status.success(), "{}", stderr(&json));
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["contact_id"], 1);
    assert_eq!(rows[0]["email"], "ann@example.com");
    assert_eq!(rows[0]["org_id"], "00Q000000000001AAA");
    assert_eq!(rows[0]["object"], "Lead");
    assert_eq!(rows[0]["deleted_at"], "2026-11-30T14:05:00Z");
    assert_eq!(rows[0]["run_id"], run);
    assert!(rows[0]["master_id"].is_null());

    // By email, then by id.
    let cleared = leadbridge(&data, &["contacts", "resync", "Ann@Example.com"]);
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    assert_eq!(
        stdout(&cleared),
        "contact 1 <ann@example.com> will be synced again (its Salesforce Lead 00Q000000000001AAA was deleted): the next sync may create a new Lead in Salesforce for it\n"
    );
    let twice = leadbridge(&data, &["contacts", "resync", "1"]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(
        stderr(&twice).contains("contact 1 <ann@example.com> is not left out of the sync"),
        "{}",
        stderr(&twice)
    );
    let synced = leadbridge(&data, &["contacts", "resync", "3"]);
    assert_eq!(synced.status.code(), Some(1));
    let unknown = leadbridge(&data, &["contacts", "resync", "99"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(stderr(&unknown), "no contact 99\n");
    let bad = leadbridge(&data, &["contacts", "resync", "not an email"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));

    let left = leadbridge(&data, &["contacts", "tombstones", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&left.stdout).unwrap();
    let ids: Vec<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["contact_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![2]);
    let one = stdout(&leadbridge(&data, &["contacts", "tombstones"]));
    assert!(
        one.ends_with(
            "\n1 contact left out of the sync; `leadbridge contacts resync ID` syncs one again\n"
        ),
        "{one}"
    );
    // --data-dir after the subcommand works like the environment variable.
    let flag = Command::new(env!("CARGO_BIN_EXE_leadbridge"))
        .env_remove("LEADBRIDGE_DATA_DIR")
        .env_remove("LEADBRIDGE_DATABASE_URL")
        .args(["contacts", "resync", "2", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(flag.status.success(), "{}", stderr(&flag));
    let empty = leadbridge(&data, &["contacts", "tombstones", "--json"]);
    assert_eq!(stdout(&empty), "[]\n");
}
