//! Versions, describe and record CRUD/upsert (salesforce-api.md §2, §3, §5, §12).

use lb_emulator::state::{FieldDef, FieldType};
use serde_json::json;

use crate::support::{Org, V};

#[tokio::test]
async fn versions_list_needs_no_session_and_spans_31_to_66() {
    let org = Org::start().await;
    let resp = org
        .http
        .get(org.url("/services/data/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().get("sforce-limit-info").is_none(),
        "the versions list is not counted"
    );
    let list: serde_json::Value = resp.json().await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 36);
    assert_eq!(
        list[0],
        json!({"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"})
    );
    assert_eq!(
        list[35],
        json!({"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"})
    );
    let root = org.call("GET", V, None).await;
    assert_eq!(
        root.body["sobjects"],
        json!("/services/data/v66.0/sobjects")
    );
    assert_eq!(root.body["query"], json!("/services/data/v66.0/query"));
}

#[tokio::test]
async fn global_describe_lists_standard_objects() {
    let org = Org::start().await;
    let a = org.call("GET", &format!("{V}/sobjects/"), None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["encoding"], json!("UTF-8"));
    assert_eq!(a.body["maxBatchSize"], json!(200));
    let lead = a.body["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Lead")
        .expect("Lead")
        .clone();
    assert_eq!(lead["keyPrefix"], json!("00Q"));
    assert_eq!(lead["labelPlural"], json!("Leads"));
    assert_eq!(
        lead["urls"]["describe"],
        json!("/services/data/v66.0/sobjects/Lead/describe")
    );
    for name in ["Account", "Contact", "Organization", "User"] {
        assert!(
            a.body["sobjects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["name"] == name),
            "{name}"
        );
    }
}

#[tokio::test]
async fn lead_describe_has_realistic_field_metadata() {
    let org = Org::start().await;
    let a = org
        .call("GET", &format!("{V}/sobjects/lead/describe"), None)
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["name"], json!("Lead"));
    let field = |n: &str| {
        a.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == n)
            .unwrap_or_else(|| panic!("{n}"))
            .clone()
    };
    let status = field("Status");
    assert_eq!(status["type"], json!("picklist"));
    assert_eq!(status["nillable"], json!(false));
    assert_eq!(status["defaultedOnCreate"], json!(true));
    assert_eq!(status["restrictedPicklist"], json!(true));
    assert_eq!(
        status["picklistValues"][0],
        json!({"active": true, "defaultValue": true, "label": "Open - Not Contacted", "validFor": null, "value": "Open - Not Contacted"})
    );
    let last = field("LastName");
    assert_eq!(
        (
            last["type"].clone(),
            last["length"].clone(),
            last["nillable"].clone()
        ),
        (json!("string"), json!(80), json!(false))
    );
    assert_eq!(field("Email")["type"], json!("email"));
    assert_eq!(field("Email")["soapType"], json!("xsd:string"));
    assert_eq!(field("Id")["soapType"], json!("tns:ID"));
    assert_eq!(field("SystemModstamp")["type"], json!("datetime"));
    assert_eq!(field("IsConverted")["updateable"], json!(false));
    assert_eq!(field("OwnerId")["referenceTo"], json!(["Group", "User"]));
    assert_eq!(
        a.body["recordTypeInfos"][0]["recordTypeId"],
        json!("012000000000000AAA")
    );
    let missing = org
        .call("GET", &format!("{V}/sobjects/Nope__c/describe"), None)
        .await;
    assert_eq!(
        (missing.status, missing.body),
        (
            404,
            json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        )
    );
}

#[tokio::test]
async fn custom_fields_appear_in_describe_only_once_readable() {
    let org = Org::start().await;
    let mut f = FieldDef::new("plezi_url__c", "Plezi URL", FieldType::Url);
    f.access.readable = false;
    f.access.editable = false;
    org.running
        .emulator
        .org_mut()
        .add_custom_field("Lead", f)
        .expect("added");
    let names = |a: &serde_json::Value| {
        a["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let before = org
        .call("GET", &format!("{V}/sobjects/Lead/describe"), None)
        .await;
    assert!(!names(&before.body).contains(&"plezi_url__c".to_owned()));
    let write = org
        .call(
            "POST",
            &format!("{V}/sobjects/Lead"),
            Some(json!({"LastName": "A", "Company": "B", "plezi_url__c": "https://x.io"})),
        )
        .await;
    assert_eq!(write.body[0]["errorCode"], json!("INVALID_FIELD"));
    org.running.emulator.org_mut().set_field_access(
        "Lead",
        "plezi_url__c",
        lb_emulator::state::FieldAccess {
            readable: true,
            editable: true,
        },
    );
    let after = org
        .call("GET", &format!("{V}/sobjects/Lead/describe"), None)
        .await;
    let field = after.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "plezi_url__c")
        .unwrap()
        .clone();
    assert_eq!(
        (field["custom"].clone(), field["type"].clone()),
        (json!(true), json!("url"))
    );
    let write = org
        .call(
            "POST",
            &format!("{V}/sobjects/Lead"),
            Some(json!({"LastName": "A", "Company": "B", "PLEZI_URL__C": "https://x.io"})),
        )
        .await;
    assert_eq!(write.status, 201, "{}", write.text);
}

#[tokio::test]
async fn create_get_update_delete_round_trip() {
    let org = Org::start().await;
    let a = org.call("POST", &format!("{V}/sobjects/Lead"), Some(json!({"lastname": "Doe", "company": "Acme", "EMAIL": "jane@acme.io", "FirstName": "Jane"}))).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.body["id"].as_str().unwrap().to_owned();
    assert_eq!(a.body, json!({"id": id, "success": true, "errors": []}));
    assert_eq!(id.len(), 18);
    assert!(id.starts_with("00Q"));
    assert_eq!(
        a.headers["sforce-limit-info"]
            .to_str()
            .unwrap()
            .split('/')
            .count(),
        2
    );

    let got = org
        .call("GET", &format!("{V}/sobjects/Lead/{}", &id[..15]), None)
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.body["attributes"],
        json!({"type": "Lead", "url": format!("/services/data/v66.0/sobjects/Lead/{id}")})
    );
    assert_eq!(got.body["Id"], json!(id));
    assert_eq!(got.body["Name"], json!("Jane Doe"));
    assert_eq!(got.body["Status"], json!("Open - Not Contacted"));
    assert_eq!(got.body["IsDeleted"], json!(false));
    assert_eq!(got.body["Phone"], json!(null), "unset fields are null");
    let created = got.body["CreatedDate"].as_str().unwrap();
    assert_eq!(created.len(), "2026-01-01T00:00:00.000+0000".len());
    assert!(created.ends_with("+0000"));
    assert!(
        got.text.starts_with("{\"attributes\""),
        "attributes come first"
    );

    let some = org
        .call(
            "GET",
            &format!("{V}/sobjects/Lead/{id}?fields=Email,lastname"),
            None,
        )
        .await;
    assert_eq!(
        some.body,
        json!({"attributes": got.body["attributes"], "Email": "jane@acme.io", "LastName": "Doe"})
    );

    let upd = org
        .call(
            "PATCH",
            &format!("{V}/sobjects/Lead/{id}"),
            Some(json!({"Title": "CTO"})),
        )
        .await;
    assert_eq!((upd.status, upd.text.as_str()), (204, ""));
    let got2 = org
        .call("GET", &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    assert_eq!(got2.body["Title"], json!("CTO"));
    assert!(got2.body["SystemModstamp"].as_str() >= got.body["SystemModstamp"].as_str());

    let del = org
        .call("DELETE", &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    assert_eq!(del.status, 204);
    let gone = org
        .call("GET", &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    assert_eq!(
        (gone.status, gone.body),
        (
            404,
            json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        )
    );
    let again = org
        .call(
            "PATCH",
            &format!("{V}/sobjects/Lead/{id}"),
            Some(json!({"Title": "X"})),
        )
        .await;
    assert_eq!(
        (again.status, again.body),
        (
            404,
            json!([{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}])
        )
    );
}

#[tokio::test]
async fn validation_errors_use_the_salesforce_error_array() {
    let org = Org::start().await;
    let path = format!("{V}/sobjects/Lead");
    let post = |body| org.call("POST", &path, Some(body));
    let a = post(json!({"FirstName": "x"})).await;
    assert_eq!(
        (a.status, a.body),
        (
            400,
            json!([{"message": "Required fields are missing: [LastName, Company]", "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName", "Company"]}])
        )
    );
    let a = post(json!({"LastName": "x", "Company": "y", "Email": "not-an-email"})).await;
    assert_eq!(
        a.body,
        json!([{"message": "Email: invalid email address: not-an-email", "errorCode": "INVALID_EMAIL_ADDRESS", "fields": ["Email"]}])
    );
    let a = post(json!({"LastName": "x", "Company": "y", "Status": "Hot"})).await;
    assert_eq!(
        a.body,
        json!([{"message": "Lead Status: bad value for restricted picklist field: Hot", "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "fields": ["Status"]}])
    );
    let long = "a".repeat(41);
    let a = post(json!({"LastName": "x", "Company": "y", "FirstName": long})).await;
    assert_eq!(a.body[0]["errorCode"], json!("STRING_TOO_LONG"));
    assert_eq!(
        a.body[0]["message"],
        json!(format!(
            "First Name: data value too large: {long} (max length=40)"
        ))
    );
    let a = post(json!({"LastName": "x", "Company": "y", "Id": "00Q000000000000AAA"})).await;
    assert_eq!(
        a.body,
        json!([{"message": "The Id field should not be specified in the sobject data.", "errorCode": "INVALID_FIELD"}])
    );
    let a =
        post(json!({"LastName": "x", "Company": "y", "CreatedDate": "2020-01-01T00:00:00Z"})).await;
    assert_eq!(
        a.body[0]["errorCode"],
        json!("INVALID_FIELD_FOR_INSERT_UPDATE")
    );
    assert_eq!(a.body[0]["fields"], json!(["CreatedDate"]));
    let id = org.lead("Doe", "Acme", "d@acme.io").await;
    let a = org
        .call(
            "PATCH",
            &format!("{V}/sobjects/Lead/{id}"),
            Some(json!({"LastName": null})),
        )
        .await;
    assert_eq!(a.body[0]["errorCode"], json!("REQUIRED_FIELD_MISSING"));
}

#[tokio::test]
async fn upsert_by_external_id_creates_updates_and_reports_duplicates() {
    let org = Org::start().await;
    let mut f = FieldDef::new("Ext__c", "Ext", FieldType::String);
    f.external_id = true;
    org.running
        .emulator
        .org_mut()
        .add_custom_field("Lead", f)
        .expect("field");
    let path = format!("{V}/sobjects/Lead/Ext__c/K-1");
    let a = org
        .call(
            "PATCH",
            &path,
            Some(json!({"LastName": "Doe", "Company": "Acme"})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        a.body,
        json!({"id": id, "success": true, "errors": [], "created": true})
    );
    let a = org
        .call("PATCH", &path, Some(json!({"Title": "CEO"})))
        .await;
    assert_eq!(
        (a.status, a.body),
        (
            200,
            json!({"id": id, "success": true, "errors": [], "created": false})
        )
    );
    let old = org
        .call(
            "PATCH",
            "/services/data/v45.0/sobjects/Lead/Ext__c/K-1",
            Some(json!({"Title": "CFO"})),
        )
        .await;
    assert_eq!(old.status, 204, "before v46 an updating upsert answers 204");
    let got = org.call("GET", &path, None).await;
    assert_eq!(got.body["Title"], json!("CFO"));
    org.call(
        "POST",
        &format!("{V}/sobjects/Lead"),
        Some(json!({"LastName": "Twin", "Company": "Acme", "Ext__c": "K-1"})),
    )
    .await;
    let a = org.call("PATCH", &path, Some(json!({"Title": "x"}))).await;
    assert_eq!(a.status, 300);
    assert_eq!(a.body.as_array().unwrap().len(), 2);
    assert!(
        a.body[0]
            .as_str()
            .unwrap()
            .starts_with("/services/data/v66.0/sobjects/Lead/00Q")
    );
    let a = org
        .call(
            "PATCH",
            &format!("{V}/sobjects/Lead/Namez/1"),
            Some(json!({"LastName": "x"})),
        )
        .await;
    assert_eq!(
        (a.status, a.body),
        (
            404,
            json!([{"message": "Provided external ID field does not exist or is not accessible: Namez", "errorCode": "NOT_FOUND"}])
        )
    );
}

#[tokio::test]
async fn organization_reports_the_edition_and_user_is_readable_at_v51() {
    let org = Org::start_with(lb_emulator::Config {
        edition: lb_emulator::Edition::Enterprise,
        ..Default::default()
    })
    .await;
    let q = org
        .call(
            "GET",
            &format!("{V}/query?q=SELECT+Id,OrganizationType+FROM+Organization"),
            None,
        )
        .await;
    assert_eq!(
        q.body["records"][0]["OrganizationType"],
        json!("Enterprise Edition"),
        "{}",
        q.text
    );
    let user_id = org.running.emulator.org().user_id.clone();
    let u = org
        .call(
            "GET",
            &format!("/services/data/v51.0/sobjects/User/{user_id}"),
            None,
        )
        .await;
    assert_eq!(u.body["Username"], json!("integration@leadbridge.example"));
}

#[tokio::test]
async fn describe_honours_if_modified_since_until_a_field_is_added() {
    let org = Org::start().await;
    let path = format!("{V}/sobjects/Lead/describe");
    let later = "Fri, 01 Jan 2100 00:00:00 GMT";
    let a = org
        .call_with("GET", &path, None, &[("If-Modified-Since", later)])
        .await;
    assert_eq!((a.status, a.text.as_str()), (304, ""));
    let early = "Thu, 01 Jan 2015 00:00:00 GMT";
    assert_eq!(
        org.call_with("GET", &path, None, &[("If-Modified-Since", early)])
            .await
            .status,
        200
    );
    assert_eq!(
        org.call_with(
            "GET",
            &format!("{V}/sobjects"),
            None,
            &[("If-Modified-Since", later)]
        )
        .await
        .status,
        304
    );
    assert_eq!(
        org.call_with("GET", &path, None, &[("If-Modified-Since", "garbage")])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn record_count_and_head_requests() {
    let org = Org::start().await;
    org.lead("A", "Acme", "a@acme.io").await;
    let a = org
        .call(
            "GET",
            &format!("{V}/limits/recordCount?sObjects=Lead,Contact"),
            None,
        )
        .await;
    assert_eq!(
        a.body,
        json!({"sObjects": [{"count": 1, "name": "Lead"}, {"count": 0, "name": "Contact"}]})
    );
    let h = org
        .call("HEAD", &format!("{V}/sobjects/Lead/describe"), None)
        .await;
    assert_eq!((h.status, h.text.as_str()), (200, ""));
}
