//! Bulk API 2.0 ingest and query jobs (salesforce-api.md §8): job bodies, the state machine,
//! CSV result files, locator paging and Salesforce's refusals.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Answer, Org, V};

async fn create_ingest(org: &Org, body: Value) -> String {
    let a = org
        .call("POST", &format!("{V}/jobs/ingest"), Some(body))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.body["id"].as_str().expect("job id").to_owned()
}

async fn upload(org: &Org, id: &str, csv: &str) -> Answer {
    org.raw(
        "PUT",
        &format!("{V}/jobs/ingest/{id}/batches"),
        "text/csv",
        csv.to_owned(),
    )
    .await
}

async fn close(org: &Org, kind: &str, id: &str, state: &str) -> Answer {
    org.call(
        "PATCH",
        &format!("{V}/jobs/{kind}/{id}"),
        Some(json!({"state": state})),
    )
    .await
}

/// Polls job info until a terminal state (the emulator finishes promptly; the bound only keeps
/// a broken build from hanging the suite).
async fn wait(org: &Org, kind: &str, id: &str) -> Value {
    for _ in 0..600 {
        let a = org
            .call("GET", &format!("{V}/jobs/{kind}/{id}"), None)
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        if matches!(
            a.body["state"].as_str(),
            Some("JobComplete" | "Failed" | "Aborted")
        ) {
            return a.body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job {id} never finished");
}

async fn ingest(org: &Org, body: Value, csv: &str) -> (String, Value) {
    let id = create_ingest(org, body).await;
    let a = upload(org, &id, csv).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.text, "");
    let a = close(org, "ingest", &id, "UploadComplete").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["state"], json!("UploadComplete"));
    let info = wait(org, "ingest", &id).await;
    (id, info)
}

async fn results(org: &Org, id: &str, which: &str) -> Answer {
    let a = org
        .call("GET", &format!("{V}/jobs/ingest/{id}/{which}/"), None)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.headers["content-type"], "text/csv");
    a
}

async fn count(org: &Org, where_: &str) -> u64 {
    let q = format!("SELECT COUNT() FROM Lead {where_}");
    let url = format!(
        "{V}/query?q={}",
        url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
    );
    org.call("GET", &url, None).await.body["totalSize"]
        .as_u64()
        .expect("count")
}

#[tokio::test]
async fn ingest_job_is_created_open_with_salesforce_job_info() {
    let org = Org::start().await;
    let a = org
        .call(
            "POST",
            &format!("{V}/jobs/ingest"),
            Some(json!({"object": "lead", "operation": "insert", "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let id = a.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("750") && id.len() == 18, "{id}");
    let created = a.body["createdDate"].clone();
    assert_eq!(
        a.body,
        json!({
            "id": id, "operation": "insert", "object": "Lead",
            "createdById": org.running.emulator.org().user_id, "createdDate": created, "systemModstamp": created,
            "state": "Open", "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": 66.0,
            "contentUrl": format!("services/data/v66.0/jobs/ingest/{id}/batches"),
            "lineEnding": "LF", "columnDelimiter": "COMMA",
        })
    );
    assert!(
        a.text.contains(r#""apiVersion":66.0"#),
        "apiVersion is a number: {}",
        a.text
    );
}

#[tokio::test]
async fn insert_job_reports_successes_failures_and_writes_the_good_rows() {
    let org = Org::start().await;
    let csv = "LastName,Company,Email\nDoe,BulkCo,jane@bulk.io\n,BulkCo,broken@bulk.io\n\"Roe, Jr\",BulkCo,\"rick@bulk.io\"\n";
    let (id, info) = ingest(&org, json!({"object": "Lead", "operation": "insert"}), csv).await;
    assert_eq!(info["state"], json!("JobComplete"));
    assert_eq!(info["numberRecordsProcessed"], json!(3));
    assert_eq!(info["numberRecordsFailed"], json!(1));
    assert_eq!(info["jobType"], json!("V2Ingest"));
    assert_eq!(info["retries"], json!(0));
    assert_eq!(count(&org, "WHERE Company = 'BulkCo'").await, 2);

    let ok = results(&org, &id, "successfulResults").await.text;
    let lines: Vec<&str> = ok.lines().collect();
    assert_eq!(lines.len(), 3, "{ok}");
    assert_eq!(lines[0], r#""sf__Id","sf__Created",LastName,Company,Email"#);
    let lead_id = &lines[1][1..19];
    assert!(lead_id.starts_with("00Q"), "{ok}");
    assert_eq!(
        lines[1],
        format!(r#""{lead_id}","true","Doe","BulkCo","jane@bulk.io""#)
    );
    assert!(
        lines[2].ends_with(r#","true","Roe, Jr","BulkCo","rick@bulk.io""#),
        "{ok}"
    );
    let got = org
        .call("GET", &format!("{V}/sobjects/Lead/{lead_id}"), None)
        .await;
    assert_eq!(got.body["Email"], json!("jane@bulk.io"));

    let failed = results(&org, &id, "failedResults").await.text;
    assert_eq!(
        failed,
        "\"sf__Id\",\"sf__Error\",LastName,Company,Email\n\"\",\"REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --\",\"\",\"BulkCo\",\"broken@bulk.io\"\n"
    );
    let unprocessed = results(&org, &id, "unprocessedrecords").await.text;
    assert_eq!(unprocessed, "LastName,Company,Email\n");
}

#[tokio::test]
async fn unknown_column_fails_the_job_without_writing_anything() {
    let org = Org::start().await;
    let (id, info) = ingest(
        &org,
        json!({"object": "Lead", "operation": "insert"}),
        "LastName,Company,Nope__c\nDoe,X,1\n",
    )
    .await;
    assert_eq!(info["state"], json!("Failed"));
    assert_eq!(
        info["errorMessage"],
        json!("InvalidBatch : Field name not found : Nope__c")
    );
    assert_eq!(info["numberRecordsProcessed"], json!(0));
    assert_eq!(count(&org, "").await, 0);
    let unprocessed = results(&org, &id, "unprocessedrecords").await.text;
    assert_eq!(unprocessed, "LastName,Company,Nope__c\nDoe,X,1\n");
}

#[tokio::test]
async fn a_crlf_file_in_an_lf_job_fails_with_the_line_ending_error() {
    let org = Org::start().await;
    let (_, info) = ingest(
        &org,
        json!({"object": "Lead", "operation": "insert"}),
        "LastName,Company\r\nDoe,X\r\n",
    )
    .await;
    assert_eq!(info["state"], json!("Failed"));
    assert_eq!(
        info["errorMessage"],
        json!(
            "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"
        )
    );
    // The same file in a CRLF job with a semicolon delimiter loads.
    let (id, info) = ingest(
        &org,
        json!({"object": "Lead", "operation": "insert", "lineEnding": "CRLF", "columnDelimiter": "SEMICOLON"}),
        "LastName;Company\r\nDoe;X\r\n",
    )
    .await;
    assert_eq!(info["state"], json!("JobComplete"), "{info}");
    let ok = results(&org, &id, "successfulResults").await.text;
    assert!(
        ok.starts_with("\"sf__Id\";\"sf__Created\";LastName;Company\r\n"),
        "{ok:?}"
    );
    assert!(ok.ends_with(";\"true\";\"Doe\";\"X\"\r\n"), "{ok:?}");
}

#[tokio::test]
async fn update_upsert_and_delete_jobs_apply_by_id_and_external_id() {
    let org = Org::start().await;
    let a = org.lead("Doe", "Acme", "jane@acme.io").await;
    let b = org.lead("Roe", "Acme", "rick@acme.io").await;

    let missing = "00Q000000000999";
    let csv = format!("Id,Title,Email\n{a},CEO,#N/A\n{b},,\n{missing},X,\nnot-an-id,X,\n");
    let (id, info) = ingest(&org, json!({"object": "Lead", "operation": "update"}), &csv).await;
    assert_eq!(
        (
            info["numberRecordsProcessed"].clone(),
            info["numberRecordsFailed"].clone()
        ),
        (json!(4), json!(2))
    );
    let got = org
        .call("GET", &format!("{V}/sobjects/Lead/{a}"), None)
        .await
        .body;
    assert_eq!(
        (got["Title"].clone(), got["Email"].clone()),
        (json!("CEO"), Value::Null),
        "#N/A sets null"
    );
    let got = org
        .call("GET", &format!("{V}/sobjects/Lead/{b}"), None)
        .await
        .body;
    assert_eq!(
        got["Email"],
        json!("rick@acme.io"),
        "an empty cell leaves the field alone"
    );
    let ok = results(&org, &id, "successfulResults").await.text;
    assert!(
        ok.contains(&format!("\"{a}\",\"false\",\"{a}\",\"CEO\",\"#N/A\"")),
        "{ok}"
    );
    let failed = results(&org, &id, "failedResults").await.text;
    assert_eq!(
        failed,
        format!(
            "\"sf__Id\",\"sf__Error\",Id,Title,Email\n\"{missing}\",\"INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--\",\"{missing}\",\"X\",\"\"\n\"not-an-id\",\"MALFORMED_ID:Lead ID: id value of incorrect type: not-an-id:Id --\",\"not-an-id\",\"X\",\"\"\n"
        )
    );

    // Upsert by Id: a known id updates, an empty one creates.
    let csv = format!("Id,LastName,Company\n{a},Doe2,Acme\n,New,Acme\n");
    let (id, info) = ingest(
        &org,
        json!({"object": "Lead", "operation": "upsert", "externalIdFieldName": "Id"}),
        &csv,
    )
    .await;
    assert_eq!(info["numberRecordsFailed"], json!(0), "{info}");
    let ok = results(&org, &id, "successfulResults").await.text;
    let created: Vec<&str> = ok
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(created, vec!["\"false\"", "\"true\""]);
    assert_eq!(count(&org, "WHERE Company = 'Acme'").await, 3);

    let (id, info) = ingest(
        &org,
        json!({"object": "Lead", "operation": "delete"}),
        &format!("Id\n{a}\n{b}\n"),
    )
    .await;
    assert_eq!(
        (
            info["numberRecordsProcessed"].clone(),
            info["numberRecordsFailed"].clone()
        ),
        (json!(2), json!(0))
    );
    assert_eq!(count(&org, "WHERE Company = 'Acme'").await, 1);
    let ok = results(&org, &id, "successfulResults").await.text;
    assert_eq!(
        ok,
        format!(
            "\"sf__Id\",\"sf__Created\",Id\n\"{a}\",\"false\",\"{a}\"\n\"{b}\",\"false\",\"{b}\"\n"
        )
    );
}

#[tokio::test]
async fn job_creation_refusals_use_bulk_error_codes() {
    let org = Org::start().await;
    let org = &org;
    let post = |body: Value| async move {
        org.call("POST", &format!("{V}/jobs/ingest"), Some(body))
            .await
    };
    let a = post(json!({"object": "Nope", "operation": "insert"})).await;
    assert_eq!(
        (a.status, a.body.clone()),
        (
            400,
            json!([{"errorCode": "INVALIDJOB", "message": "InvalidJob : Unable to find object: Nope"}])
        )
    );
    let a = post(json!({"object": "Lead", "operation": "upsert"})).await;
    assert_eq!(
        a.body,
        json!([{"errorCode": "INVALIDJOB", "message": "InvalidJob : External ID was blank for Lead. An External ID must be specified for upsert."}])
    );
    let a = post(json!({"object": "Lead", "operation": "upsert", "externalIdFieldName": "Email"}))
        .await;
    assert_eq!(
        a.body,
        json!([{"errorCode": "INVALIDJOB", "message": "InvalidJob : Field name provided, Email does not match an External ID for Lead"}])
    );
    let a = post(json!({"object": "Lead", "operation": "merge"})).await;
    assert_eq!(
        a.body,
        json!([{"errorCode": "API_ERROR", "message": "Invalid value: 'merge' supplied for property: 'operation'"}])
    );
    let a =
        post(json!({"object": "Lead", "operation": "insert", "columnDelimiter": "SPACE"})).await;
    assert_eq!(a.status, 400);
    let a = org
        .raw(
            "POST",
            &format!("{V}/jobs/ingest"),
            "application/json",
            "{nope",
        )
        .await;
    assert_eq!(
        (a.status, a.body[0]["errorCode"].clone()),
        (400, json!("JSON_PARSER_ERROR"))
    );
}

#[tokio::test]
async fn the_state_machine_refuses_out_of_order_calls() {
    let org = Org::start().await;
    let id = create_ingest(&org, json!({"object": "Lead", "operation": "insert"})).await;
    assert_eq!(
        upload(&org, &id, "LastName,Company\nA,B\n").await.status,
        201
    );
    let again = upload(&org, &id, "LastName,Company\nA,B\n").await;
    assert_eq!(
        (again.status, again.body[0]["errorCode"].clone()),
        (400, json!("BULK_API_ERROR"))
    );
    let early = org
        .call(
            "GET",
            &format!("{V}/jobs/ingest/{id}/successfulResults"),
            None,
        )
        .await;
    assert_eq!(
        (early.status, early.body[0]["errorCode"].clone()),
        (400, json!("INVALIDJOBSTATE"))
    );
    let open_delete = org
        .call("DELETE", &format!("{V}/jobs/ingest/{id}"), None)
        .await;
    assert_eq!(open_delete.status, 400);
    let bad = close(&org, "ingest", &id, "JobComplete").await;
    assert_eq!(
        bad.body,
        json!([{"errorCode": "API_ERROR", "message": "Invalid value: 'JobComplete' supplied for property: 'state'"}])
    );

    let aborted = close(&org, "ingest", &id, "Aborted").await;
    assert_eq!(
        (aborted.status, aborted.body["state"].clone()),
        (200, json!("Aborted"))
    );
    let late = upload(&org, &id, "LastName,Company\nA,B\n").await;
    assert_eq!(
        (late.status, late.body[0]["errorCode"].clone()),
        (400, json!("INVALIDJOBSTATE"))
    );
    let reclose = close(&org, "ingest", &id, "UploadComplete").await;
    assert_eq!(reclose.status, 400);
    assert_eq!(count(&org, "").await, 0, "an aborted job writes nothing");
    let unprocessed = results(&org, &id, "unprocessedrecords").await.text;
    assert_eq!(
        unprocessed, "LastName,Company\nA,B\n",
        "the aborted job's whole upload is unprocessed"
    );

    let wrong_type = org
        .raw(
            "PUT",
            &format!("{V}/jobs/ingest/{id}/batches"),
            "application/json",
            "{}",
        )
        .await;
    assert_eq!(wrong_type.status, 415);
    assert_eq!(
        org.call("DELETE", &format!("{V}/jobs/ingest/{id}"), None)
            .await
            .status,
        204
    );
    let gone = org
        .call("GET", &format!("{V}/jobs/ingest/{id}"), None)
        .await;
    assert_eq!(
        (gone.status, gone.body[0]["errorCode"].clone()),
        (404, json!("NOT_FOUND"))
    );
}

#[tokio::test]
async fn jobs_are_listed_per_kind() {
    let org = Org::start().await;
    let a = create_ingest(&org, json!({"object": "Lead", "operation": "insert"})).await;
    let q = org
        .call(
            "POST",
            &format!("{V}/jobs/query"),
            Some(json!({"operation": "query", "query": "SELECT Id FROM Lead"})),
        )
        .await;
    let list = org.call("GET", &format!("{V}/jobs/ingest"), None).await;
    assert_eq!(list.body["done"], json!(true));
    assert_eq!(list.body["nextRecordsUrl"], Value::Null);
    let ids: Vec<&str> = list.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a.as_str()]);
    assert_eq!(list.body["records"][0]["jobType"], json!("V2Ingest"));
    let list = org.call("GET", &format!("{V}/jobs/query"), None).await;
    let ids: Vec<&str> = list.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![q.body["id"].as_str().unwrap()]);
}

async fn query_job(org: &Org, soql: &str, operation: &str) -> (String, Value) {
    let a = org
        .call(
            "POST",
            &format!("{V}/jobs/query"),
            Some(json!({"operation": operation, "query": soql})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["state"], json!("UploadComplete"));
    assert_eq!(a.body["contentUrl"], Value::Null);
    let id = a.body["id"].as_str().unwrap().to_owned();
    let info = wait(org, "query", &id).await;
    (id, info)
}

#[tokio::test]
async fn query_results_page_by_locator_with_record_counts() {
    let org = Org::start().await;
    let records: Vec<Value> = (0..2_500)
        .map(|i| json!({"LastName": format!("L{i:05}"), "Company": "Paged"}))
        .collect();
    assert_eq!(
        org.control(
            "POST",
            "records",
            Some(json!({"sobject": "Lead", "records": records}))
        )
        .await
        .status,
        201
    );
    let (id, info) = query_job(
        &org,
        "SELECT Id, LastName FROM Lead WHERE Company = 'Paged' ORDER BY LastName",
        "query",
    )
    .await;
    assert_eq!(info["state"], json!("JobComplete"));
    assert_eq!(info["numberRecordsProcessed"], json!(2500));
    assert_eq!(info["jobType"], json!("V2Query"));

    let mut locator: Option<String> = None;
    let mut sizes = Vec::new();
    let mut names = Vec::new();
    loop {
        let url = match &locator {
            None => format!("{V}/jobs/query/{id}/results?maxRecords=1000"),
            Some(l) => format!("{V}/jobs/query/{id}/results?maxRecords=1000&locator={l}"),
        };
        let page = org.call("GET", &url, None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_eq!(page.headers["content-type"], "text/csv");
        let n: usize = page.headers["sforce-numberofrecords"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let mut lines = page.text.lines();
        assert_eq!(lines.next(), Some(r#""Id","LastName""#));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), n);
        sizes.push(n);
        names.extend(
            rows.iter()
                .map(|r| r.split(',').nth(1).unwrap().trim_matches('"').to_owned()),
        );
        let next = page.headers["sforce-locator"].to_str().unwrap().to_owned();
        if next == "null" {
            break;
        }
        locator = Some(next);
    }
    assert_eq!(sizes, vec![1000, 1000, 500]);
    let expected: Vec<String> = (0..2_500).map(|i| format!("L{i:05}")).collect();
    assert_eq!(names, expected);

    // Without maxRecords the whole result is one page.
    let all = org
        .call("GET", &format!("{V}/jobs/query/{id}/results"), None)
        .await;
    assert_eq!(all.headers["sforce-locator"], "null");
    assert_eq!(all.headers["sforce-numberofrecords"], "2500");
    let bad = org
        .call(
            "GET",
            &format!("{V}/jobs/query/{id}/results?locator=%21%21"),
            None,
        )
        .await;
    assert_eq!(bad.status, 400);
    let other_version = org
        .call(
            "GET",
            &format!("/services/data/v60.0/jobs/query/{id}/results"),
            None,
        )
        .await;
    assert_eq!(other_version.status, 409);
}

#[tokio::test]
async fn query_csv_quotes_values_leaves_nulls_empty_and_writes_utc_datetimes() {
    let org = Org::start().await;
    let id = org.lead("O'Hara \"Jr\"", "Comma, Inc", "x@y.io").await;
    let (job, _) = query_job(
        &org,
        "SELECT Id, LastName, Company, Title, CreatedDate FROM Lead",
        "query",
    )
    .await;
    let page = org
        .call("GET", &format!("{V}/jobs/query/{job}/results"), None)
        .await;
    let created = org
        .call("GET", &format!("{V}/sobjects/Lead/{id}"), None)
        .await
        .body["CreatedDate"]
        .as_str()
        .unwrap()
        .to_owned();
    let z = format!("{}Z", &created[..23]);
    assert_eq!(
        page.text,
        format!(
            "\"Id\",\"LastName\",\"Company\",\"Title\",\"CreatedDate\"\n\"{id}\",\"O'Hara \"\"Jr\"\"\",\"Comma, Inc\",,\"{z}\"\n"
        )
    );
}

#[tokio::test]
async fn query_all_jobs_see_deleted_records_and_bad_soql_is_refused_at_creation() {
    let org = Org::start().await;
    let id = org.lead("Gone", "Del", "g@del.io").await;
    assert_eq!(
        org.call("DELETE", &format!("{V}/sobjects/Lead/{id}"), None)
            .await
            .status,
        204
    );
    let (_, info) = query_job(&org, "SELECT Id FROM Lead", "query").await;
    assert_eq!(info["numberRecordsProcessed"], json!(0));
    let (job, info) = query_job(&org, "SELECT Id, IsDeleted FROM Lead", "queryAll").await;
    assert_eq!(info["numberRecordsProcessed"], json!(1));
    let page = org
        .call("GET", &format!("{V}/jobs/query/{job}/results"), None)
        .await;
    assert_eq!(
        page.text,
        format!("\"Id\",\"IsDeleted\"\n\"{id}\",\"true\"\n")
    );

    let bad = org
        .call(
            "POST",
            &format!("{V}/jobs/query"),
            Some(json!({"operation": "query", "query": "SELECT Nope__c FROM Lead"})),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body[0]["errorCode"].clone()),
        (400, json!("INVALID_FIELD"))
    );
    let count = org
        .call(
            "POST",
            &format!("{V}/jobs/query"),
            Some(json!({"operation": "query", "query": "SELECT COUNT() FROM Lead"})),
        )
        .await;
    assert_eq!(count.status, 400);
    let wrong_op = org
        .call(
            "POST",
            &format!("{V}/jobs/query"),
            Some(json!({"operation": "insert", "query": "SELECT Id FROM Lead"})),
        )
        .await;
    assert_eq!(wrong_op.status, 400);
}

#[tokio::test]
async fn every_bulk_call_counts_against_the_daily_allowance() {
    let org = Org::start().await;
    let before = org.control("GET", "stats", None).await.body["api_requests"]
        .as_u64()
        .unwrap();
    let (_id, _info) = ingest(
        &org,
        json!({"object": "Lead", "operation": "insert"}),
        "LastName,Company\nA,B\n",
    )
    .await;
    let after = org.control("GET", "stats", None).await;
    // create + upload + close + at least one poll
    assert!(
        after.body["api_requests"].as_u64().unwrap() >= before + 4,
        "{}",
        after.text
    );
    assert!(
        after.body["by_endpoint"]["jobs"].as_u64().unwrap() >= 4,
        "{}",
        after.text
    );
}

#[tokio::test]
async fn upsert_by_a_granted_custom_external_id_creates_then_updates() {
    let org = Org::start().await;
    let f = org
        .call(
            "POST",
            &format!("{V}/tooling/sobjects/CustomField"),
            Some(json!({"FullName": "Lead.Plezi_Id__c", "Metadata": {"type": "Text", "label": "Plezi Id", "length": 40, "externalId": true}})),
        )
        .await;
    assert_eq!(f.status, 201, "{}", f.text);
    // Before the grant the field does not exist for the integration user.
    let hidden = org.call("POST", &format!("{V}/jobs/ingest"), Some(json!({"object": "Lead", "operation": "upsert", "externalIdFieldName": "Plezi_Id__c"}))).await;
    assert_eq!(hidden.body[0]["errorCode"], json!("INVALIDJOB"));
    let sets = org
        .call(
            "GET",
            &format!("{V}/query?q=SELECT+Id+FROM+PermissionSet+WHERE+IsOwnedByProfile+%3D+true"),
            None,
        )
        .await;
    let set = sets.body["records"][0]["Id"].as_str().unwrap().to_owned();
    let g = org
        .call(
            "POST",
            &format!("{V}/sobjects/FieldPermissions"),
            Some(json!({"ParentId": set, "SobjectType": "Lead", "Field": "Lead.Plezi_Id__c", "PermissionsRead": true, "PermissionsEdit": true})),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.text);

    let body =
        json!({"object": "Lead", "operation": "upsert", "externalIdFieldName": "plezi_id__c"});
    let (_, info) = ingest(
        &org,
        body.clone(),
        "Plezi_Id__c,LastName,Company\np-1,Doe,Acme\np-2,Roe,Acme\n",
    )
    .await;
    assert_eq!(
        (
            info["state"].clone(),
            info["externalIdFieldName"].clone(),
            info["numberRecordsFailed"].clone()
        ),
        (json!("JobComplete"), json!("Plezi_Id__c"), json!(0))
    );
    let (id, info) = ingest(&org, body, "Plezi_Id__c,Title\np-1,CEO\np-3,\n").await;
    assert_eq!(
        (
            info["numberRecordsProcessed"].clone(),
            info["numberRecordsFailed"].clone()
        ),
        (json!(2), json!(1)),
        "{info}"
    );
    let ok = results(&org, &id, "successfulResults").await.text;
    assert!(
        ok.lines()
            .nth(1)
            .unwrap()
            .ends_with(",\"false\",\"p-1\",\"CEO\""),
        "{ok}"
    );
    let failed = results(&org, &id, "failedResults").await.text;
    assert_eq!(
        failed,
        "\"sf__Id\",\"sf__Error\",Plezi_Id__c,Title\n\"\",\"REQUIRED_FIELD_MISSING:Required fields are missing: [LastName, Company]:LastName, Company --\",\"p-3\",\"\"\n"
    );
    assert_eq!(
        count(&org, "WHERE Title = 'CEO' AND Plezi_Id__c = 'p-1'").await,
        1
    );
}

#[tokio::test]
async fn an_injected_lock_failure_fails_the_first_row_of_the_job() {
    let org = Org::start().await;
    let id = create_ingest(&org, json!({"object": "Lead", "operation": "insert"})).await;
    let f = org
        .control(
            "POST",
            "faults",
            Some(json!({"kind": "unable_to_lock_row", "count": 1})),
        )
        .await;
    assert!(f.status < 300, "{}", f.text);
    assert_eq!(
        upload(&org, &id, "LastName,Company\nA,X\nB,X\n")
            .await
            .status,
        201
    );
    assert_eq!(
        close(&org, "ingest", &id, "UploadComplete").await.status,
        200
    );
    let info = wait(&org, "ingest", &id).await;
    assert_eq!(
        (
            info["numberRecordsProcessed"].clone(),
            info["numberRecordsFailed"].clone()
        ),
        (json!(2), json!(1))
    );
    let failed = results(&org, &id, "failedResults").await.text;
    assert_eq!(
        failed,
        "\"sf__Id\",\"sf__Error\",LastName,Company\n\"\",\"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--\",\"A\",\"X\"\n"
    );
    assert_eq!(count(&org, "WHERE Company = 'X'").await, 1);
}
