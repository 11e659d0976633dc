//! sObject Collections and Composite (salesforce-api.md §6, §7).

use serde_json::{Value, json};

use crate::support::{Org, V};

fn lead(last: &str) -> Value {
    json!({"attributes": {"type": "Lead"}, "LastName": last, "Company": "Acme"})
}

async fn lead_count(org: &Org) -> u64 {
    let a = org
        .call(
            "GET",
            &format!("{V}/query?q=SELECT+COUNT()+FROM+Lead"),
            None,
        )
        .await;
    a.body["totalSize"].as_u64().unwrap()
}

#[tokio::test]
async fn create_reports_per_record_results_in_order() {
    let org = Org::start().await;
    let body = json!({"allOrNone": false, "records": [lead("A"), {"attributes": {"type": "Lead"}, "Company": "NoName"}, lead("C")]});
    let a = org
        .call("POST", &format!("{V}/composite/sobjects"), Some(body))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let r = a.body.as_array().unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["success"], json!(true));
    assert!(r[0]["id"].as_str().unwrap().starts_with("00Q"));
    assert_eq!(
        r[1],
        json!({"success": false, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName]", "fields": ["LastName"]}]})
    );
    assert_eq!(r[2]["success"], json!(true));
    assert_eq!(lead_count(&org).await, 2);
}

#[tokio::test]
async fn all_or_none_rolls_everything_back() {
    let org = Org::start().await;
    let body = json!({"allOrNone": true, "records": [lead("A"), {"attributes": {"type": "Lead"}, "LastName": "B"}]});
    let a = org
        .call("POST", &format!("{V}/composite/sobjects"), Some(body))
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body[0],
        json!({"success": false, "errors": [{"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all records were valid and the request was using AllOrNone header", "fields": []}]})
    );
    assert_eq!(
        a.body[1]["errors"][0]["statusCode"],
        json!("REQUIRED_FIELD_MISSING")
    );
    assert_eq!(lead_count(&org).await, 0);
}

#[tokio::test]
async fn more_than_200_records_is_refused() {
    let org = Org::start().await;
    let records: Vec<Value> = (0..201).map(|i| lead(&format!("L{i}"))).collect();
    let a = org
        .call(
            "POST",
            &format!("{V}/composite/sobjects"),
            Some(json!({"records": records})),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body[0]["errorCode"], json!("EXCEEDED_ID_LIMIT"));
}

#[tokio::test]
async fn update_retrieve_and_delete() {
    let org = Org::start().await;
    let a = org.lead("A", "Acme", "a@acme.io").await;
    let b = org.lead("B", "Acme", "b@acme.io").await;
    let upd = json!({"records": [
        {"attributes": {"type": "Lead"}, "id": a, "Title": "CTO"},
        {"attributes": {"type": "Lead"}, "id": b, "Email": "broken"}]});
    let r = org
        .call("PATCH", &format!("{V}/composite/sobjects"), Some(upd))
        .await;
    assert_eq!(r.body[0], json!({"id": a, "success": true, "errors": []}));
    assert_eq!(
        r.body[1]["errors"][0]["statusCode"],
        json!("INVALID_EMAIL_ADDRESS")
    );

    let missing = "00QKg0000000zzzAAA";
    let got = org
        .call(
            "GET",
            &format!("{V}/composite/sobjects/Lead?ids={a},{missing}&fields=Id,Title"),
            None,
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.body[0]["Title"], json!("CTO"));
    assert_eq!(got.body[1], json!(null));
    let posted = org
        .call(
            "POST",
            &format!("{V}/composite/sobjects/Lead"),
            Some(json!({"ids": [a, b], "fields": ["LastName"]})),
        )
        .await;
    assert_eq!(posted.body[1]["LastName"], json!("B"));

    let del = org
        .call(
            "DELETE",
            &format!("{V}/composite/sobjects?ids={a},{b}&allOrNone=false"),
            None,
        )
        .await;
    assert_eq!(
        del.body,
        json!([{"id": a, "success": true, "errors": []}, {"id": b, "success": true, "errors": []}])
    );
    let none = org
        .call("DELETE", &format!("{V}/composite/sobjects"), None)
        .await;
    assert_eq!(
        (none.status, none.body),
        (
            400,
            json!([{"message": "At least 1 Id is required.", "errorCode": "REQUIRED_FIELD_MISSING"}])
        )
    );
}

#[tokio::test]
async fn upsert_collection_reports_created_flags() {
    let org = Org::start().await;
    let mut f =
        lb_emulator::state::FieldDef::new("Ext__c", "Ext", lb_emulator::state::FieldType::String);
    f.external_id = true;
    org.running
        .emulator
        .org_mut()
        .add_custom_field("Lead", f)
        .unwrap();
    let body = |title: &str| {
        json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Lead"}, "Ext__c": "k1", "LastName": "A", "Company": "Acme", "Title": title},
            {"attributes": {"type": "Lead"}, "Ext__c": "k2", "LastName": "B", "Company": "Acme", "Title": title}]})
    };
    let first = org
        .call(
            "PATCH",
            &format!("{V}/composite/sobjects/Lead/Ext__c"),
            Some(body("x")),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body[0]["created"], json!(true));
    let second = org
        .call(
            "PATCH",
            &format!("{V}/composite/sobjects/Lead/Ext__c"),
            Some(body("y")),
        )
        .await;
    assert_eq!(second.body[0]["created"], json!(false));
    assert_eq!(second.body[0]["id"], first.body[0]["id"]);
}

#[tokio::test]
async fn composite_resolves_references_between_subrequests() {
    let org = Org::start().await;
    let body = json!({"allOrNone": true, "compositeRequest": [
        {"method": "POST", "url": "/services/data/v66.0/sobjects/Account", "referenceId": "refAcc", "body": {"Name": "Acme"}},
        {"method": "POST", "url": "/services/data/v66.0/sobjects/Contact", "referenceId": "refCon", "body": {"LastName": "Doe", "AccountId": "@{refAcc.id}"}},
        {"method": "GET", "url": "/services/data/v66.0/sobjects/Contact/@{refCon.id}?fields=AccountId", "referenceId": "readBack"}]});
    let a = org
        .call("POST", &format!("{V}/composite"), Some(body))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let r = a.body["compositeResponse"].as_array().unwrap();
    assert_eq!(r[0]["httpStatusCode"], json!(201));
    assert_eq!(r[0]["referenceId"], json!("refAcc"));
    let acc = r[0]["body"]["id"].as_str().unwrap();
    assert_eq!(
        r[0]["httpHeaders"]["Location"],
        json!(format!("/services/data/v66.0/sobjects/Account/{acc}"))
    );
    assert_eq!(r[2]["body"]["AccountId"], json!(acc));
}

#[tokio::test]
async fn composite_all_or_none_failure_halts_and_rolls_back() {
    let org = Org::start().await;
    let body = json!({"allOrNone": true, "compositeRequest": [
        {"method": "POST", "url": "/services/data/v66.0/sobjects/Lead", "referenceId": "ok", "body": {"LastName": "A", "Company": "B"}},
        {"method": "GET", "url": "/services/data/v66.0/sobjects/Lead/00QKg0000000zzzAAA", "referenceId": "missing"},
        {"method": "POST", "url": "/services/data/v66.0/sobjects/Lead", "referenceId": "never", "body": {"LastName": "C", "Company": "D"}}]});
    let a = org
        .call("POST", &format!("{V}/composite"), Some(body))
        .await;
    let r = a.body["compositeResponse"].as_array().unwrap();
    let halted = json!([{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}]);
    assert_eq!(
        (r[0]["httpStatusCode"].clone(), r[0]["body"].clone()),
        (json!(400), halted.clone())
    );
    assert_eq!(
        r[1]["body"],
        json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
    );
    assert_eq!(r[2]["body"], halted);
    assert_eq!(lead_count(&org).await, 0);
}

#[tokio::test]
async fn composite_is_one_api_call_and_caps_subrequests() {
    let org = Org::start().await;
    let before = org.control("GET", "stats", None).await.body["api_requests"]
        .as_u64()
        .unwrap();
    let subs: Vec<Value> = (0..3).map(|i| json!({"method": "GET", "url": "/services/data/v66.0/limits", "referenceId": format!("r{i}")})).collect();
    org.call(
        "POST",
        &format!("{V}/composite"),
        Some(json!({"compositeRequest": subs})),
    )
    .await;
    let after = org.control("GET", "stats", None).await.body["api_requests"]
        .as_u64()
        .unwrap();
    assert_eq!(after - before, 1);
    let subs: Vec<Value> = (0..26).map(|i| json!({"method": "GET", "url": "/services/data/v66.0/limits", "referenceId": format!("r{i}")})).collect();
    let a = org
        .call(
            "POST",
            &format!("{V}/composite"),
            Some(json!({"compositeRequest": subs})),
        )
        .await;
    assert_eq!(a.status, 400);
}
