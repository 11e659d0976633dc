//! Bulk API 2.0 ingest (results mapped back to rows) and query (locator paging).

use lb_salesforce::{EndpointKind, RecordResult, WriteMethod, WriteOp};
use serde_json::json;

use crate::helpers::{count, leads, org};

#[tokio::test]
async fn bulk_insert_maps_successes_and_failures_back_to_rows() {
    let org = org().await;
    let client = org.client();
    let mut rows = leads(3_000, "bulk.example");
    rows[5].remove("LastName");
    rows[2_999].insert("Email".into(), json!("not-an-email"));
    let report = client.write(&WriteOp::Insert, "Lead", rows).await;
    assert_eq!(
        report.method,
        WriteMethod::Bulk,
        "3,000 rows go through Bulk"
    );
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert_eq!(report.job_ids.len(), 1);
    assert_eq!(report.saved(), 2_998);
    let RecordResult::Failed(e) = &report.outcomes[5].result else {
        panic!("{:?}", report.outcomes[5])
    };
    assert_eq!(e[0].error_code, "REQUIRED_FIELD_MISSING");
    let RecordResult::Failed(e) = &report.outcomes[2_999].result else {
        panic!("{:?}", report.outcomes[2_999])
    };
    assert_eq!(e[0].error_code, "INVALID_EMAIL_ADDRESS");
    // Each id belongs to its row.
    let RecordResult::Saved { id, created } = &report.outcomes[1_234].result else {
        panic!()
    };
    assert_eq!(*created, Some(true));
    let found = client
        .query_records(format!("SELECT Email FROM Lead WHERE Id = '{id}'"))
        .await
        .unwrap();
    assert_eq!(found[0]["Email"], "lead1234@bulk.example");
    // create + upload + close + polls + 3 result files: a constant, whatever the volume.
    let calls = count(&client, EndpointKind::BulkIngest);
    assert!((6..=12).contains(&calls), "{calls} bulk calls");
}

#[tokio::test]
async fn bulk_update_and_delete_by_id() {
    let org = org().await;
    let ids = org.seed("Lead", (0..20).map(|i| json!({"LastName": format!("L{i}"), "Company": "C", "Email": format!("b{i}@x.com")})).collect()).await;
    let client = org.client();
    let rows = ids
        .iter()
        .map(|id| {
            json!({"Id": id, "Title": "Bulk"})
                .as_object()
                .unwrap()
                .clone()
        })
        .collect();
    let report = client.bulk_ingest(&WriteOp::Update, "Lead", rows).await;
    assert_eq!(report.saved(), 20, "{report:?}");
    let titled = client
        .query_records("SELECT Id FROM Lead WHERE Title = 'Bulk'")
        .await
        .unwrap();
    assert_eq!(titled.len(), 20);
    let rows = ids[..5]
        .iter()
        .map(|id| json!({"Id": id}).as_object().unwrap().clone())
        .collect();
    let report = client.bulk_ingest(&WriteOp::Delete, "Lead", rows).await;
    assert_eq!(report.saved(), 5, "{report:?}");
    assert_eq!(
        client
            .query_records("SELECT Id FROM Lead")
            .await
            .unwrap()
            .len(),
        15
    );
}

#[tokio::test]
async fn bulk_query_pages_by_locator() {
    let org = org().await;
    org.seed("Lead", (0..2_500).map(|i| json!({"LastName": format!("L{i}"), "Company": "C", "Email": format!("q{i}@x.com")})).collect()).await;
    let client = org.client();
    let mut pager = client
        .bulk_query("SELECT Id, Email, Title FROM Lead", false)
        .await
        .unwrap();
    let mut sizes = Vec::new();
    let mut emails = std::collections::BTreeSet::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        sizes.push(page.len());
        for r in &page {
            emails.insert(r["Email"].as_str().unwrap().to_owned());
            assert_eq!(
                r["Title"],
                serde_json::Value::Null,
                "empty cells read as null"
            );
        }
    }
    assert_eq!(sizes, vec![1_000, 1_000, 500]);
    assert_eq!(emails.len(), 2_500);
}

#[tokio::test]
async fn bulk_query_with_bad_soql_keeps_salesforce_error() {
    let org = org().await;
    let err = org
        .client()
        .bulk_query("SELECT Nope__c FROM Lead", false)
        .await
        .unwrap_err();
    assert!(
        err.error_code().is_some() || matches!(err, lb_salesforce::Error::BulkJob { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn writes_larger_than_one_upload_run_as_several_jobs() {
    let org = org().await;
    let mut config = org.config();
    config.bulk.max_upload_bytes = 2_000; // about 45 rows of these Leads per job
    let client = org.client_with(config);
    let report = client
        .bulk_ingest(&WriteOp::Insert, "Lead", leads(150, "split.example"))
        .await;
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert!(report.job_ids.len() >= 3, "{} jobs", report.job_ids.len());
    assert_eq!(report.saved(), 150);
    let RecordResult::Saved { id, .. } = &report.outcomes[149].result else {
        panic!()
    };
    let found = client
        .query_records(format!("SELECT Email FROM Lead WHERE Id = '{id}'"))
        .await
        .unwrap();
    assert_eq!(found[0]["Email"], "lead149@split.example");
}

#[tokio::test]
async fn bulk_upsert_reports_created_and_updated_rows() {
    let org = org().await;
    let ids = org
        .seed(
            "Lead",
            vec![json!({"LastName": "Old", "Company": "C", "Email": "old@x.com"})],
        )
        .await;
    let client = org.client();
    let rows = vec![
        json!({"Id": ids[0], "LastName": "Old", "Company": "C", "Title": "Updated"})
            .as_object()
            .unwrap()
            .clone(),
        json!({"LastName": "New", "Company": "C", "Title": "Created"})
            .as_object()
            .unwrap()
            .clone(),
    ];
    let report = client
        .bulk_ingest(
            &WriteOp::Upsert {
                external_id_field: "Id".into(),
            },
            "Lead",
            rows,
        )
        .await;
    assert!(report.stopped.is_none(), "{:?}", report.stopped);
    assert!(
        matches!(&report.outcomes[0].result, RecordResult::Saved { id, created: Some(false) } if *id == ids[0]),
        "{report:?}"
    );
    assert!(
        matches!(
            &report.outcomes[1].result,
            RecordResult::Saved {
                created: Some(true),
                ..
            }
        ),
        "{report:?}"
    );
}

#[tokio::test]
async fn a_submitted_job_whose_results_cannot_be_read_leaves_its_rows_indeterminate() {
    // Allowance of 3 calls: create, upload and close pass; the status poll would overrun it.
    let org = crate::helpers::org_with(lb_emulator::Config {
        daily_api_limit: Some(3),
        ..Default::default()
    })
    .await;
    let mut config = org.config();
    config.budget = lb_salesforce::Budget { max_share: 1.0 };
    let client = org.client_with(config);
    let report = client
        .bulk_ingest(&WriteOp::Insert, "Lead", leads(10, "late.example"))
        .await;
    assert!(
        matches!(
            report.stopped,
            Some(lb_salesforce::Error::BudgetExhausted { .. })
        ),
        "{:?}",
        report.stopped
    );
    assert_eq!(
        report.indeterminate(),
        10,
        "the job runs in the org: its rows must not be sent again blindly"
    );
    let RecordResult::Indeterminate(why) = &report.outcomes[0].result else {
        panic!()
    };
    assert!(why.contains(&report.job_ids[0]), "{why}");
}
