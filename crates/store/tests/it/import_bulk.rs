//! Imports big enough for the bulk paths (PostgreSQL `COPY` from 1,000 rows a batch, SQLite ids
//! chosen by the writer) and the pipelined import (one batch written while the next is read):
//! what they store and record must be what the small-batch statements store and record.

use std::collections::HashMap;

use lb_store::{
    ChangeCursor, Contact, ContactEvent, ContactId, ContactQuery, Email, FieldKind, ImportOptions,
    NewCustomField, Origin, Store,
};
use serde_json::json;

use crate::both_backends;
use crate::support::input;

/// Cell values a text encoding could get wrong: separators, quotes, escapes, COPY's text-format
/// end marker and NULL spelling, line breaks, non-ASCII; "" is an empty cell (no value).
const AWKWARD: [&str; 10] = [
    "comma, inside",
    "quote \" inside",
    "tab\tinside",
    "back\\slash \\N",
    "new\nline and CRLF\r\nhere",
    "Zoë 東京 🎉",
    "",
    "'single'; DROP TABLE contacts; --",
    "\\.",
    "plain",
];

fn cell(i: usize, shift: usize) -> &'static str {
    AWKWARD[(i + shift) % AWKWARD.len()]
}

/// `rows` contacts `{prefix}{i}@example.com` with awkward values, as CSV.
fn awkward_csv(prefix: &str, rows: usize) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "email",
        "first_name",
        "last_name",
        "company",
        "notes",
        "phone",
        "behaviour_score",
        "state",
    ])
    .unwrap();
    for i in 0..rows {
        out.write_record([
            format!("{prefix}{i}@example.com").as_str(),
            cell(i, 0),
            cell(i, 1),
            cell(i, 2),
            cell(i, 3),
            if i % 2 == 0 { "+33 1 23 45" } else { "" },
            &(i % 51).to_string(),
            ["new", "engaged", "accepted"][i % 3],
        ])
        .unwrap();
    }
    out.into_inner().unwrap()
}

async fn add_notes_field(store: &Store) {
    store
        .add_custom_field(&NewCustomField {
            name: "notes".into(),
            label: None,
            kind: FieldKind::Text,
            options: vec![],
        })
        .await
        .unwrap();
}

async fn by_email(store: &Store, email: &str) -> Contact {
    store
        .contact_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{email} was not imported"))
}

/// A contact's recorded fields except the ones that differ between two imports of the same
/// values under another email (email, creation time).
async fn history(store: &Store, id: ContactId) -> Vec<(String, Option<String>)> {
    store
        .contact_history(id)
        .await
        .unwrap()
        .into_iter()
        .inspect(|c| assert_eq!(c.origin, Origin::Import))
        .filter(|c| c.field != "email" && c.field != "created_at")
        .map(|c| (c.field, c.value))
        .collect()
}

/// The contact ids of the change-log rows after `cursor`, one per row, in cursor order.
async fn changed_ids(store: &Store, mut cursor: ChangeCursor) -> Vec<ContactId> {
    let mut out: Vec<(i64, ContactId)> = Vec::new();
    loop {
        let page = store.changes_since(cursor, 10_000).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = ChangeCursor(last.seq);
        out.extend(page.iter().map(|c| (c.seq, c.contact_id)));
    }
    out.dedup_by_key(|(seq, _)| *seq);
    out.into_iter().map(|(_, id)| id).collect()
}

both_backends!(
    bulk_import_stores_and_records_what_small_batches_do,
    |store| {
        add_notes_field(store).await;
        let rows = 1200;
        let before_bulk = store.latest_change_cursor().await.unwrap();
        // One batch of 1,200 rows: the bulk path.
        let report = store
            .import_csv(
                &mut awkward_csv("bulk", rows).as_slice(),
                &ImportOptions::default(),
                &mut |_| {},
            )
            .await
            .unwrap();
        assert_eq!((report.created, report.rejected), (rows as u64, 0));
        let before_small = store.latest_change_cursor().await.unwrap();
        // Batches of 7: the statements a single write uses.
        let small = ImportOptions {
            batch_size: 7,
            ..Default::default()
        };
        let report = store
            .import_csv(
                &mut awkward_csv("small", rows).as_slice(),
                &small,
                &mut |_| {},
            )
            .await
            .unwrap();
        assert_eq!((report.created, report.rejected), (rows as u64, 0));

        let mut bulk_ids = Vec::new();
        let mut small_ids = Vec::new();
        for i in 0..rows {
            let bulk = by_email(store, &format!("bulk{i}@example.com")).await;
            let small = by_email(store, &format!("small{i}@example.com")).await;
            let expected = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            assert_eq!(bulk.first_name, expected(cell(i, 0)), "row {i}");
            assert_eq!(bulk.last_name, expected(cell(i, 1)), "row {i}");
            assert_eq!(bulk.company, expected(cell(i, 2)), "row {i}");
            assert_eq!(
                bulk.custom.get("notes").cloned(),
                expected(cell(i, 3)),
                "row {i}"
            );
            assert_eq!(bulk.behaviour_score, (i % 51) as i64);
            let fields = |c: &Contact| {
                (
                    c.first_name.clone(),
                    c.last_name.clone(),
                    c.company.clone(),
                    c.job_title.clone(),
                    c.phone.clone(),
                    c.behaviour_score,
                    c.state.clone(),
                    c.lifecycle_stage,
                    (c.source.clone(), c.medium.clone(), c.campaign.clone()),
                    c.custom.clone(),
                )
            };
            assert_eq!(fields(&bulk), fields(&small), "row {i}");
            assert!(bulk.stage_reached.lead.is_some());
            assert_eq!(
                history(store, bulk.id).await,
                history(store, small.id).await,
                "row {i}"
            );
            bulk_ids.push(bulk.id);
            small_ids.push(small.id);
        }
        assert!(
            bulk_ids.windows(2).all(|w| w[0] < w[1]),
            "ids follow the file"
        );
        assert!(bulk_ids.last() < small_ids.first());
        assert!(small_ids.windows(2).all(|w| w[0] < w[1]));
        // One change-log row per contact, in file order, each import after the other.
        let mut expected = bulk_ids.clone();
        assert_eq!(changed_ids(store, before_bulk).await.len(), 2 * rows);
        expected.extend(&small_ids);
        assert_eq!(changed_ids(store, before_bulk).await, expected);
        assert_eq!(changed_ids(store, before_small).await, small_ids);
    }
);

both_backends!(
    bulk_import_mixing_new_existing_repeated_and_invalid_rows,
    |store| {
        let jane = store
            .create_contact(
                &input(json!({"email": "jane@example.com", "first_name": "Jane"})),
                Origin::User,
            )
            .await
            .unwrap();
        let old = store
            .create_contact(
                &input(json!({"email": "old@example.com", "first_name": "Old", "company": "Same"})),
                Origin::User,
            )
            .await
            .unwrap();
        let old_history = store.contact_history(old.id).await.unwrap();
        let mut events = store.subscribe();
        let mut csv = String::from("email,first_name,company,behaviour_score,state\n");
        let mut rejected_lines = Vec::new();
        for i in 0..1100 {
            csv.push_str(&format!("n{i}@example.com,N{i},Co {i},{},new\n", i % 50));
            // Line numbers: header is 1, row i is i + 2 plus the extra rows written so far.
            match i {
                100 => csv.push_str("JANE@EXAMPLE.COM,,Initech,7,engaged\n"),
                200 => csv.push_str("old@example.com,Old,Same,,\n"),
                300 => csv.push_str("broken,Carl,,,\n"),
                400 => csv.push_str("dan@example.com,Dan,,99,frozen\n"),
                500 => csv.push_str("eve@example.com,Eve\n"),
                600 => csv.push_str("N5@example.com,Later,,,\n"),
                _ => continue,
            }
            let line = csv.lines().count() as u64;
            if (300..=500).contains(&i) {
                rejected_lines.push(line);
            }
        }
        let report = store
            .import_csv(&mut csv.as_bytes(), &ImportOptions::default(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(
            (
                report.rows,
                report.created,
                report.updated,
                report.unchanged,
                report.rejected
            ),
            (1106, 1100, 2, 1, 3)
        );
        let rejections: Vec<(u64, Vec<String>)> = report
            .rejections
            .iter()
            .map(|r| (r.row, r.problems.iter().map(|p| p.field.clone()).collect()))
            .collect();
        assert_eq!(
            rejections,
            [
                (rejected_lines[0], vec!["email".to_owned()]),
                (
                    rejected_lines[1],
                    vec!["behaviour_score".to_owned(), "state".to_owned()]
                ),
                (rejected_lines[2], vec!["(row)".to_owned()]),
            ]
        );
        assert_eq!(store.count_contacts().await.unwrap(), 1102);
        let jane = store.contact(jane.id).await.unwrap();
        assert_eq!(
            (
                jane.first_name.as_deref(),
                jane.company.as_deref(),
                jane.behaviour_score,
                jane.state.as_str()
            ),
            (Some("Jane"), Some("Initech"), 7, "engaged")
        );
        assert_eq!(store.contact(old.id).await.unwrap(), old, "unchanged");
        assert_eq!(store.contact_history(old.id).await.unwrap(), old_history);
        let n5 = by_email(store, "n5@example.com").await;
        assert_eq!(n5.first_name.as_deref(), Some("Later"));
        let n5_writes: Vec<i64> = store
            .contact_history(n5.id)
            .await
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(n5_writes.len(), 2, "created, then updated by a later row");
        // One event per changed contact, after the commit.
        let mut changed: HashMap<ContactId, usize> = HashMap::new();
        while let Ok(event) = events.try_recv() {
            match event {
                ContactEvent::Changed {
                    contact_id,
                    origin: Origin::Import,
                } => *changed.entry(contact_id).or_default() += 1,
                other => panic!("unexpected event {other:?}"),
            }
        }
        assert_eq!(changed.len(), 1101, "1,100 new contacts and jane");
        assert!(changed.values().all(|&n| n == 1));
        assert!(changed.contains_key(&jane.id) && !changed.contains_key(&old.id));
    }
);

both_backends!(imported_contacts_never_reuse_a_deleted_id, |store| {
    let csv = |prefix: &str| {
        let mut csv = String::from("email\n");
        for i in 0..1001 {
            csv.push_str(&format!("{prefix}{i}@example.com\n"));
        }
        csv
    };
    let import = |csv: String| async move {
        store
            .import_csv(&mut csv.as_bytes(), &ImportOptions::default(), &mut |_| {})
            .await
            .unwrap()
    };
    import(csv("a")).await;
    let last = by_email(store, "a1000@example.com").await;
    store.delete_contact(last.id, Origin::User).await.unwrap();
    import(csv("b")).await;
    let first = by_email(store, "b0@example.com").await;
    assert!(
        first.id > last.id,
        "{:?} reuses the deleted {:?}",
        first.id,
        last.id
    );
    let single = store
        .create_contact(&input(json!({"email": "c@example.com"})), Origin::User)
        .await
        .unwrap();
    assert!(single.id > by_email(store, "b1000@example.com").await.id);
});

/// The pipelined import on a multi-thread runtime (the CLI's): batches written on another
/// thread while the next is read still commit one after another in file order.
async fn pipelined_batches_commit_in_file_order(store: &Store) {
    let rows = 3500;
    let mut csv = String::from("email,first_name\n");
    for i in 0..rows {
        csv.push_str(&format!("p{i}@example.com,P{i}\n"));
    }
    let cursor = store.latest_change_cursor().await.unwrap();
    let mut progress = Vec::new();
    let report = store
        .import_csv(
            &mut csv.as_bytes(),
            &ImportOptions {
                batch_size: 1000,
                ..Default::default()
            },
            &mut |bytes| progress.push(bytes),
        )
        .await
        .unwrap();
    assert_eq!(report.created, rows);
    assert_eq!(progress.len(), 4, "{progress:?}");
    assert_eq!(progress.last().copied(), Some(csv.len() as u64));
    let page = store
        .list_contacts(&ContactQuery {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.contacts[0].email.as_str(), "p0@example.com");
    assert_eq!(page.contacts[999].email.as_str(), "p999@example.com");
    let ids = changed_ids(store, cursor).await;
    assert_eq!(ids.len() as u64, rows);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "cursor order is file order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_import_on_a_multi_thread_runtime_sqlite() {
    let t = crate::support::sqlite().await;
    pipelined_batches_commit_in_file_order(&t.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_import_on_a_multi_thread_runtime_postgres() {
    if let Some(t) = crate::support::postgres().await {
        pipelined_batches_commit_in_file_order(&t.store).await;
    }
}
