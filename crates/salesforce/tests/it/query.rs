//! Queries: escaping that holds against hostile emails, paging, queryAll, chunked IN-lists.

use futures::TryStreamExt as _;
use lb_salesforce::{ClientConfig, EndpointKind, Filter, Soql, StatementLimits};
use serde_json::json;

use crate::helpers::{count, org};

fn emails_of(records: &[lb_salesforce::Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|r| r["Email"].as_str().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn emails_with_quotes_query_exactly_that_email() {
    let org = org().await;
    let stored = [
        "o'brien@x.com",
        "o'neil+tag@x.com",
        "plain@x.com",
        "other@x.com",
    ];
    org.seed(
        "Lead",
        stored
            .iter()
            .map(|e| json!({"LastName": "L", "Company": "C", "Email": e}))
            .collect(),
    )
    .await;
    let client = org.client();
    for email in stored {
        let soql = Soql::select(&["Id", "Email"], "Lead")
            .filter(Filter::eq("Email", email))
            .build()
            .unwrap();
        let found = client.query_records(soql).await.unwrap();
        assert_eq!(
            emails_of(&found),
            vec![email.to_owned()],
            "query for {email}"
        );
    }
    // An injection attempt: unescaped, it would match every Lead with an email. Escaped, it is
    // one (invalid, so absent) email and matches nothing.
    let hostile = "a'OR Email!=''@x.com";
    let soql = Soql::select(&["Id", "Email"], "Lead")
        .filter(Filter::eq("Email", hostile))
        .build()
        .unwrap();
    assert!(client.query_records(soql).await.unwrap().is_empty());
    // Stored in a text field, such strings are found exactly (a trailing backslash must not
    // escape the closing quote).
    let texts = [hostile, "ends with \\", "back\\'slash"];
    org.seed("Lead", texts.iter().enumerate().map(|(i, t)| json!({"LastName": "L", "Company": "C", "Title": t, "Email": format!("t{i}@x.com")})).collect()).await;
    for (i, t) in texts.iter().enumerate() {
        let soql = Soql::select(&["Id", "Email"], "Lead")
            .filter(Filter::eq("Title", *t))
            .build()
            .unwrap();
        assert_eq!(
            emails_of(&client.query_records(soql).await.unwrap()),
            vec![format!("t{i}@x.com")],
            "{t}"
        );
    }
}

#[tokio::test]
async fn pages_follow_next_records_url_one_call_each() {
    let org = org().await;
    org.seed("Lead", (0..450).map(|i| json!({"LastName": format!("L{i}"), "Company": "C", "Email": format!("p{i}@x.com")})).collect()).await;
    let mut config: ClientConfig = org.config();
    config.query_batch_size = Some(200);
    let client = org.client_with(config);
    let mut pager = client.query("SELECT Id, Email FROM Lead ORDER BY Email");
    let mut sizes = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        sizes.push(page.records.len());
    }
    assert_eq!(sizes, vec![200, 200, 50]);
    assert_eq!(pager.total_size(), Some(450));
    assert_eq!(count(&client, EndpointKind::Query), 1);
    assert_eq!(count(&client, EndpointKind::QueryMore), 2);

    // The same through the stream interface.
    let batches: Vec<Vec<lb_salesforce::Record>> = client
        .query("SELECT Id FROM Lead")
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 450);
}

#[tokio::test]
async fn query_all_sees_deleted_records() {
    let org = org().await;
    let ids = org
        .seed(
            "Lead",
            vec![
                json!({"LastName": "Gone", "Company": "C", "Email": "gone@x.com"}),
                json!({"LastName": "Here", "Company": "C", "Email": "here@x.com"}),
            ],
        )
        .await;
    let client = org.client();
    let report = client.delete(&ids[..1]).await;
    assert_eq!(report.saved(), 1);
    let soql = Soql::select(&["Id", "Email", "IsDeleted"], "Lead")
        .filter(Filter::eq("IsDeleted", true))
        .build()
        .unwrap();
    assert!(client.query_records(soql.clone()).await.unwrap().is_empty());
    let deleted = client.query_all(soql).collect_all().await.unwrap();
    assert_eq!(emails_of(&deleted), vec!["gone@x.com"]);
}

#[tokio::test]
async fn long_in_lists_are_split_and_every_value_is_found() {
    let org = org().await;
    let emails: Vec<String> = (0..1_500)
        .map(|i| format!("someone.with.a.long.name.{i:05}@example-company.com"))
        .collect();
    org.seed(
        "Lead",
        emails
            .iter()
            .map(|e| json!({"LastName": "L", "Company": "C", "Email": e}))
            .collect(),
    )
    .await;
    let client = org.client();
    let statements = Soql::select(&["Id", "Email"], "Lead")
        .chunk_in("Email", &emails, StatementLimits::default())
        .unwrap();
    assert!(
        statements.len() >= 4,
        "1,500 long emails do not fit one URL ({} statements)",
        statements.len()
    );
    let mut found = Vec::new();
    for s in statements {
        found.extend(client.query_records(s).await.unwrap());
    }
    let mut want = emails.clone();
    want.sort();
    assert_eq!(emails_of(&found), want);
}

#[tokio::test]
async fn unknown_field_keeps_salesforce_error_code() {
    let org = org().await;
    let err = org
        .client()
        .query_records("SELECT Nope__c FROM Lead")
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), Some("INVALID_FIELD"));
    assert!(!err.stops_work());
}

/// The org-deletes read of `lb-engine`: `queryAll` for `IsDeleted = true AND SystemModstamp >
/// X`, paged like `query` (its `nextRecordsUrl` is a `/query/` locator, as Salesforce's is), with
/// `MasterRecordId` telling a merge from a deletion.
#[tokio::test]
async fn query_all_pages_deletions_since_a_stamp_with_merge_masters() {
    let org = org().await;
    let before = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let ids = org
        .seed(
            "Lead",
            (0..260)
                .map(|i| json!({"LastName": format!("L{i}"), "Company": "C", "Email": format!("d{i}@x.com")}))
                .collect(),
        )
        .await;
    let mut config: ClientConfig = org.config();
    config.query_batch_size = Some(200);
    let client = org.client_with(config);
    let report = client.delete(&ids[..250]).await;
    assert_eq!(report.saved(), 250);
    // Lead 251 is merged into Lead 252.
    org.em
        .emulator
        .org_mut()
        .merge(&lb_emulator::state::merge::MergeRequest {
            object: "Lead".into(),
            master_id: ids[252].clone(),
            master_fields: serde_json::Map::new(),
            victim_ids: vec![ids[251].clone()],
        })
        .unwrap();
    let soql = |since: time::OffsetDateTime| {
        Soql::select(
            &["Id", "IsDeleted", "MasterRecordId", "SystemModstamp"],
            "Lead",
        )
        .filter(Filter::eq("IsDeleted", true).and(Filter::gt("SystemModstamp", since)))
        .build()
        .unwrap()
    };
    let (q0, m0) = (
        count(&client, EndpointKind::Query),
        count(&client, EndpointKind::QueryMore),
    );
    let mut pager = client.query_all(soql(before));
    let mut rows = Vec::new();
    let mut sizes = Vec::new();
    while let Some(page) = pager.next_page().await.unwrap() {
        sizes.push(page.records.len());
        rows.extend(page.records);
    }
    assert_eq!(sizes, vec![200, 51]);
    assert_eq!(count(&client, EndpointKind::Query) - q0, 1);
    assert_eq!(count(&client, EndpointKind::QueryMore) - m0, 1);
    assert!(rows.iter().all(|r| r["IsDeleted"] == json!(true)));
    let merged: Vec<_> = rows
        .iter()
        .filter(|r| !r["MasterRecordId"].is_null())
        .collect();
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0]["Id"], json!(ids[251]));
    assert_eq!(merged[0]["MasterRecordId"], json!(ids[252]));
    // The same query through /query sees none of them; a later window sees nothing.
    assert!(client.query_records(soql(before)).await.unwrap().is_empty());
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(1);
    assert!(
        client
            .query_all(soql(later))
            .collect_all()
            .await
            .unwrap()
            .is_empty()
    );
}
