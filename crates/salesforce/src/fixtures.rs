//! Response shapes as recorded from real orgs (written for this crate after the public sources
//! listed in salesforce-api.md §15: restforce's spec fixtures, CumulusCI's cassettes,
//! simple-salesforce's Bulk 2.0 tests), read through the same wire types and mapping code the
//! client uses.

use lb_wire::bulk::JobInfo;
use lb_wire::{FieldDescribe, GlobalDescribe, Limit, QueryPage, SaveResult, TokenResponse};

use crate::writes::{RecordResult, WriteOp, save_to_result};

#[test]
fn token_response_without_token_type_or_refresh_token() {
    // restforce auth_success_response.json shape: no token_type.
    let t: TokenResponse = serde_json::from_str(
        r#"{"id":"https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P","issued_at":"1278448832702",
            "instance_url":"https://na1.salesforce.com","signature":"0CmxinZir53Yex7nE0TD+zMpvIWYGb/bdJh6XfOH6EQ=",
            "access_token":"00Dx0000000BV7z!AR8AQAxo9UfVkh8AlV0Gomt9Czx9LjHnSSpwBMmbRcgKFmxOtvxjTrKW19ye6PE3Ds1eQz3z8jr3W7_VbWmEu4Q8TVGSTHxs"}"#,
    )
    .unwrap();
    assert_eq!(t.token_type, "Bearer");
    assert_eq!(t.refresh_token, None);
}

#[test]
fn paginated_query_page_with_a_parent_relationship() {
    let p: QueryPage = serde_json::from_str(
        r#"{"totalSize":4012,"done":false,"nextRecordsUrl":"/services/data/v66.0/query/0r8xx3vIB0mDp0hAAA-2000",
            "records":[{"attributes":{"type":"Lead","url":"/services/data/v66.0/sobjects/Lead/00Q5e00000AbCdEEAV"},
              "Id":"00Q5e00000AbCdEEAV","Email":"ann@acme.com","SystemModstamp":"2026-01-15T10:30:00.000+0000",
              "Owner":{"attributes":{"type":"User","url":"/services/data/v66.0/sobjects/User/0055e000001AbCdAAK"},"Name":"Ann Admin"},
              "ConvertedContactId":null}]}"#,
    )
    .unwrap();
    assert!(!p.done);
    assert_eq!(
        p.next_records_url.as_deref(),
        Some("/services/data/v66.0/query/0r8xx3vIB0mDp0hAAA-2000")
    );
    assert_eq!(p.records[0]["Owner"]["Name"], "Ann Admin");
}

#[test]
fn collection_results_map_success_failure_and_upsert_created() {
    let results: Vec<SaveResult> = serde_json::from_str(
        r#"[{"id":"00Q5e00000AbCdEEAV","success":true,"errors":[]},
            {"success":false,"errors":[{"statusCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}]},
            {"id":null,"success":false,"errors":[{"statusCode":"DUPLICATES_DETECTED","message":"Use one of these records?","fields":[]}]}]"#,
    )
    .unwrap();
    let mapped: Vec<RecordResult> = results
        .into_iter()
        .map(|r| save_to_result(&WriteOp::Insert, r))
        .collect();
    assert_eq!(
        mapped[0],
        RecordResult::Saved {
            id: "00Q5e00000AbCdEEAV".into(),
            created: Some(true)
        }
    );
    let RecordResult::Failed(e) = &mapped[1] else {
        panic!()
    };
    assert_eq!(
        (e[0].error_code.as_str(), e[0].fields.as_deref()),
        ("REQUIRED_FIELD_MISSING", Some(&["LastName".to_owned()][..]))
    );
    let RecordResult::Failed(e) = &mapped[2] else {
        panic!()
    };
    assert_eq!(e[0].message, "Use one of these records?");

    // CumulusCI TestUpsert cassette shape.
    let upsert: Vec<SaveResult> = serde_json::from_str(
        r#"[{"id":"0015500001QdQWaAAN","success":true,"errors":[],"created":true}]"#,
    )
    .unwrap();
    let op = WriteOp::Upsert {
        external_id_field: "Ext__c".into(),
    };
    assert_eq!(
        save_to_result(&op, upsert[0].clone()),
        RecordResult::Saved {
            id: "0015500001QdQWaAAN".into(),
            created: Some(true)
        }
    );
}

#[test]
fn bulk_job_info_as_salesforce_sends_it() {
    // restforce bulk create_job fixture shape: contentUrl without a leading slash, apiVersion a
    // number; the poll answer adds counters.
    let j: JobInfo = serde_json::from_str(
        r#"{"id":"7505g000001AbCdAAK","operation":"insert","object":"Lead","createdById":"0055e000001AbCdAAK",
            "createdDate":"2026-06-27T19:21:14.000+0000","systemModstamp":"2026-06-27T19:21:14.000+0000","state":"JobComplete",
            "concurrencyMode":"Parallel","contentType":"CSV","apiVersion":66.0,"jobType":"V2Ingest",
            "contentUrl":"services/data/v66.0/jobs/ingest/7505g000001AbCdAAK/batches","lineEnding":"LF","columnDelimiter":"COMMA",
            "numberRecordsProcessed":3,"numberRecordsFailed":1,"retries":0,"totalProcessingTime":312,"apiActiveProcessingTime":120,"apexProcessingTime":0}"#,
    )
    .unwrap();
    assert!(j.is_terminal());
    assert_eq!(
        (j.number_records_processed, j.number_records_failed),
        (Some(3), Some(1))
    );
    assert_eq!(j.api_version, Some(66.0));
}

#[test]
fn limits_skip_per_app_children() {
    // The telegraf test payload shape: per-app sub-objects inside DailyApiRequests.
    let raw: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"DailyApiRequests":{"Max":25000,"Remaining":24926,"Workbench":{"Max":0,"Remaining":0},"Salesforce Mobile Dashboards":{"Max":0,"Remaining":0}},
            "DailyBulkV2QueryJobs":{"Max":10000,"Remaining":10000},"DataStorageMB":{"Max":5,"Remaining":5}}"#,
    )
    .unwrap();
    let d: Limit = serde_json::from_value(raw["DailyApiRequests"].clone()).unwrap();
    assert_eq!((d.max, d.remaining), (25_000, 24_926));
}

#[test]
fn older_describes_missing_newer_keys_are_still_read() {
    // An older field entry (no aiPredictionField, searchPrefilterable, …) and a sparse global
    // describe must not break reading.
    let f: FieldDescribe = serde_json::from_str(
        r#"{"name":"Email","label":"Email","type":"email","length":80,"nillable":true,"createable":true,"updateable":true,
            "custom":false,"picklistValues":[],"referenceTo":[],"soapType":"xsd:string","defaultValue":null}"#,
    )
    .unwrap();
    assert_eq!(
        (f.name.as_str(), f.field_type.as_str(), f.length),
        ("Email", "email", 80)
    );
    let g: GlobalDescribe = serde_json::from_str(
        r#"{"encoding":"UTF-8","maxBatchSize":200,"sobjects":[{"name":"Lead","label":"Lead","keyPrefix":"00Q","queryable":true}]}"#,
    )
    .unwrap();
    assert_eq!(g.sobjects[0].key_prefix.as_deref(), Some("00Q"));
}
