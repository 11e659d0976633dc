//! Collections in chunks of 200 with per-record outcomes mapped back to the caller's rows.

use lb_salesforce::{EndpointKind, RecordResult, WriteMethod, WriteOp};
use serde_json::json;

use crate::helpers::{count, leads, org, rec};

#[tokio::test]
async fn inserts_go_in_chunks_of_200_and_map_back_to_rows() {
    let org = org().await;
    let client = org.client();
    let mut rows = leads(450, "ins.example");
    rows[7].remove("LastName"); // Salesforce requires LastName on Lead.
    let report = client.create("Lead", &rows).await;
    assert_eq!(report.method, WriteMethod::Collections);
    assert!(report.stopped.is_none());
    assert_eq!(count(&client, EndpointKind::Collections), 3);
    assert_eq!(report.outcomes.len(), 450);
    assert_eq!(report.saved(), 449);
    for (i, o) in report.outcomes.iter().enumerate() {
        assert_eq!(o.row, i);
    }
    let RecordResult::Failed(errors) = &report.outcomes[7].result else {
        panic!("{:?}", report.outcomes[7])
    };
    assert_eq!(errors[0].error_code, "REQUIRED_FIELD_MISSING");
    assert_eq!(
        errors[0].fields.as_deref(),
        Some(&["LastName".to_owned()][..])
    );
    // Each saved id is the record of that row.
    let RecordResult::Saved { id, created } = &report.outcomes[300].result else {
        panic!()
    };
    assert_eq!(*created, Some(true));
    let found = client
        .query_records(format!("SELECT Email FROM Lead WHERE Id = '{id}'"))
        .await
        .unwrap();
    assert_eq!(found[0]["Email"], "lead300@ins.example");
}

#[tokio::test]
async fn updates_and_deletes_report_per_record() {
    let org = org().await;
    let ids = org.seed("Lead", (0..3).map(|i| json!({"LastName": format!("L{i}"), "Company": "C", "Email": format!("u{i}@x.com")})).collect()).await;
    let client = org.client();
    let rows = vec![
        rec(json!({"Id": ids[0], "Title": "CTO"})),
        rec(json!({"Id": "00Q000000000000AAA", "Title": "Ghost"})),
        rec(json!({"Id": ids[2], "Email": "not-an-email"})),
    ];
    let report = client.update("Lead", &rows).await;
    assert!(matches!(&report.outcomes[0].result, RecordResult::Saved { id, .. } if *id == ids[0]));
    assert!(matches!(
        &report.outcomes[1].result,
        RecordResult::Failed(_)
    ));
    let RecordResult::Failed(e) = &report.outcomes[2].result else {
        panic!()
    };
    assert_eq!(e[0].error_code, "INVALID_EMAIL_ADDRESS");
    let del = client.delete(&ids[..2]).await;
    assert_eq!(del.saved(), 2);
    assert_eq!(
        client
            .query_records("SELECT Id FROM Lead")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn upsert_by_id_creates_then_updates() {
    let org = org().await;
    let client = org.client();
    let created = client
        .upsert(
            "Lead",
            "Id",
            &[rec(
                json!({"LastName": "New", "Company": "C", "Email": "new@x.com"}),
            )],
        )
        .await;
    let RecordResult::Saved {
        id,
        created: Some(true),
    } = &created.outcomes[0].result
    else {
        panic!("{created:?}")
    };
    let updated = client
        .upsert("Lead", "Id", &[rec(json!({"Id": id, "Title": "VP"}))])
        .await;
    assert!(
        matches!(
            &updated.outcomes[0].result,
            RecordResult::Saved {
                created: Some(false),
                ..
            }
        ),
        "{updated:?}"
    );
}

#[tokio::test]
async fn upsert_on_a_field_that_is_not_an_external_id_is_refused_per_row() {
    let org = org().await;
    let report = org
        .client()
        .upsert(
            "Lead",
            "Title",
            &[rec(json!({"Title": "x", "LastName": "L", "Company": "C"}))],
        )
        .await;
    let RecordResult::Failed(e) = &report.outcomes[0].result else {
        panic!("{report:?}")
    };
    assert_eq!(e[0].error_code, "NOT_FOUND");
}

#[tokio::test]
async fn write_policy_uses_collections_for_small_batches() {
    let org = org().await;
    let client = org.client();
    let report = client
        .write(&WriteOp::Insert, "Lead", leads(10, "small.example"))
        .await;
    assert_eq!(report.method, WriteMethod::Collections);
    assert_eq!(report.saved(), 10);
}
