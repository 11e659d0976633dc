//! Bad input gets Salesforce's error shape and status: never a 500, never a hang (issue 2).

use lb_emulator::Config;
use serde_json::json;

use crate::support::{Org, V};

#[tokio::test]
async fn malformed_json_is_json_parser_error() {
    let org = Org::start().await;
    for body in ["{\"LastName\": ", "{oops}", "", "[1,2"] {
        let a = org
            .raw(
                "POST",
                &format!("{V}/sobjects/Lead"),
                "application/json",
                body.to_owned(),
            )
            .await;
        assert_eq!(a.status, 400, "{body:?} → {}", a.text);
        assert_eq!(
            a.body[0]["errorCode"],
            json!("JSON_PARSER_ERROR"),
            "{body:?}"
        );
        assert!(
            a.body[0]["message"].as_str().unwrap().contains("[line:"),
            "{}",
            a.text
        );
    }
    let a = org
        .raw(
            "POST",
            &format!("{V}/sobjects/Lead"),
            "application/json",
            "[{\"LastName\": \"x\"}]",
        )
        .await;
    assert_eq!(a.body[0]["errorCode"], json!("JSON_PARSER_ERROR"));
    let a = org
        .raw(
            "POST",
            &format!("{V}/composite/sobjects"),
            "application/json",
            "{\"records\": 5}",
        )
        .await;
    assert_eq!(a.status, 400);
    let a = org
        .raw(
            "POST",
            &format!("{V}/sobjects/Lead"),
            "application/xml",
            "<Lead/>",
        )
        .await;
    assert_eq!(a.status, 415);
}

#[tokio::test]
async fn wrong_types_and_unknown_names() {
    let org = Org::start().await;
    let path = format!("{V}/sobjects/Lead");
    let post = |body| org.call("POST", &path, Some(body));
    let a = post(json!({"LastName": "x", "Company": "y", "NumberOfEmployees": "many"})).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body[0]["errorCode"], json!("JSON_PARSER_ERROR"));
    assert_eq!(
        a.body[0]["message"],
        json!(
            "Cannot deserialize instance of int from VALUE_STRING value many or request may be missing a required field"
        )
    );
    let a = post(json!({"LastName": ["x"], "Company": "y"})).await;
    assert_eq!(a.body[0]["errorCode"], json!("JSON_PARSER_ERROR"));
    let a = post(json!({"LastName": "x", "Company": "y", "ConvertedDate": "soon"})).await;
    assert_eq!(
        a.body[0]["errorCode"],
        json!("INVALID_FIELD_FOR_INSERT_UPDATE")
    );
    let a = post(json!({"LastName": "x", "Company": "y", "OwnerId": "not-an-id"})).await;
    assert_eq!(a.body[0]["errorCode"], json!("MALFORMED_ID"));
    let a = post(json!({"LastName": "x", "Company": "y", "Bogus__c": 1})).await;
    assert_eq!(
        a.body,
        json!([{"message": "No such column 'Bogus__c' on sobject of type Lead", "errorCode": "INVALID_FIELD"}])
    );
    let a = org
        .call(
            "POST",
            &format!("{V}/sobjects/Nope__c"),
            Some(json!({"Name": "x"})),
        )
        .await;
    assert_eq!(a.status, 404);
    let id = org.lead("Doe", "Acme", "d@acme.io").await;
    let a = org
        .call("GET", &format!("{V}/sobjects/Lead/{id}?fields=Nope"), None)
        .await;
    assert_eq!(a.body[0]["errorCode"], json!("INVALID_FIELD"));
    let a = org
        .call("GET", &format!("{V}/sobjects/Lead/garbage%00id"), None)
        .await;
    assert_eq!(a.status, 404);
    let a = org.call("PUT", &format!("{V}/sobjects/Lead"), None).await;
    assert_eq!(a.status, 405);
    assert_eq!(a.body[0]["errorCode"], json!("METHOD_NOT_ALLOWED"));
}

#[tokio::test]
async fn versions_outside_the_range_are_410_or_404() {
    let org = Org::start().await;
    let a = org.call("GET", "/services/data/v30.0/sobjects", None).await;
    assert_eq!(a.status, 410);
    assert!(a.body[0]["errorCode"].is_string());
    for v in ["v99.0", "v66", "vx", "66.0"] {
        let a = org
            .call("GET", &format!("/services/data/{v}/sobjects"), None)
            .await;
        assert_eq!(a.status, 404, "{v}");
        assert_eq!(a.body[0]["errorCode"], json!("NOT_FOUND"));
    }
    let a = org.call("GET", "/services/data/v31.0/limits", None).await;
    assert_eq!(a.status, 200);
    let a = org.call("GET", "/no/such/thing", None).await;
    assert_eq!(
        (a.status, a.body),
        (
            404,
            json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        )
    );
}

#[tokio::test]
async fn oversized_bodies_get_413_in_salesforce_shape() {
    let org = Org::start_with(Config {
        max_body_bytes: 1024,
        ..Config::default()
    })
    .await;
    let big = format!(
        "{{\"LastName\": \"{}\", \"Company\": \"x\"}}",
        "a".repeat(4096)
    );
    let a = org
        .raw(
            "POST",
            &format!("{V}/sobjects/Lead"),
            "application/json",
            big,
        )
        .await;
    assert_eq!(a.status, 413);
    assert_eq!(a.body[0]["errorCode"], json!("REQUEST_ENTITY_TOO_LARGE"));
}

#[tokio::test]
async fn garbage_to_oauth_and_soap_is_refused_cleanly() {
    let org = Org::start().await;
    let resp = org
        .http
        .post(org.url("/services/oauth2/token"))
        .header("content-type", "application/json")
        .body("{\"grant_type\":\"password\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"})
    );
    let resp = org
        .http
        .get(org.url("/services/oauth2/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    for body in [
        "",
        "<",
        "not xml at all",
        "<Envelope><Body><query/></Body></Envelope>",
    ] {
        let resp = org
            .http
            .post(org.url("/services/Soap/u/59.0"))
            .header("content-type", "text/xml")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 500, "{body:?}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("<faultcode>"), "{text}");
    }
    let resp = org
        .http
        .post(org.url("/services/Soap/u/12.0"))
        .body("<x/>")
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(text.contains("UNSUPPORTED_API_VERSION"), "{text}");
    let resp = org
        .http
        .post(org.url("/__emulator/faults"))
        .body("{{{")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn composite_garbage_is_refused_without_side_effects() {
    let org = Org::start().await;
    let cases = [
        json!({"compositeRequest": [{"method": "POST", "url": "/elsewhere", "referenceId": "a", "body": {}}]}),
        json!({"compositeRequest": [{"method": "GET", "url": "/services/data/v66.0/limits", "referenceId": "bad id!"}]}),
        json!({"compositeRequest": [{"method": "GET", "url": "/services/data/v66.0/sobjects/Lead/@{nope.id}", "referenceId": "a"}]}),
        json!({"compositeRequest": []}),
        json!({"compositeRequest": "x"}),
    ];
    for body in cases {
        let a = org
            .call("POST", &format!("{V}/composite"), Some(body.clone()))
            .await;
        assert!(
            a.status == 400
                || (a.status == 200
                    && a.body["compositeResponse"][0]["httpStatusCode"] == json!(400)),
            "{body} → {} {}",
            a.status,
            a.text
        );
    }
}
