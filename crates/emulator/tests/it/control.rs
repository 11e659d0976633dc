//! Limits, editions, faults, the control API, persistence and TLS (salesforce-api.md §10, §11).

use lb_emulator::{Config, Edition};
use serde_json::json;

use crate::support::{Org, V, answer};

fn usage(a: &crate::support::Answer) -> (u64, u64) {
    let h = a.headers["sforce-limit-info"].to_str().unwrap();
    let (used, max) = h
        .strip_prefix("api-usage=")
        .unwrap()
        .split_once('/')
        .unwrap();
    (used.parse().unwrap(), max.parse().unwrap())
}

#[tokio::test]
async fn every_call_is_counted_in_the_limit_header_and_limits() {
    let org = Org::start().await;
    let a = org.call("GET", &format!("{V}/sobjects"), None).await;
    let b = org.call("GET", &format!("{V}/limits/"), None).await;
    assert_eq!(usage(&b).0, usage(&a).0 + 1);
    assert_eq!(usage(&a).1, 15_000, "Developer Edition allowance");
    assert_eq!(
        b.body["DailyApiRequests"],
        json!({"Max": 15000, "Remaining": 15000 - usage(&b).0})
    );
    assert!(b.body["DailyBulkV2QueryJobs"]["Max"].is_u64());
    let stats = org.control("GET", "stats", None).await;
    assert_eq!(stats.body["api_requests"], json!(2));
    assert_eq!(
        stats.body["by_endpoint"],
        json!({"sobjects": 1, "limits": 1})
    );
    let missing = org
        .call(
            "GET",
            &format!("{V}/sobjects/Lead/00QKg0000000zzzAAA"),
            None,
        )
        .await;
    assert!(
        missing.headers.contains_key("sforce-limit-info"),
        "errors carry the header too"
    );
}

#[tokio::test]
async fn spent_allowance_is_403_request_limit_exceeded() {
    let org = Org::start_with(Config {
        daily_api_limit: Some(2),
        ..Config::default()
    })
    .await;
    assert_eq!(
        org.call("GET", &format!("{V}/limits"), None).await.status,
        200
    );
    assert_eq!(
        org.call("GET", &format!("{V}/limits"), None).await.status,
        200
    );
    let a = org.call("GET", &format!("{V}/limits"), None).await;
    assert_eq!(
        (a.status, a.body.clone()),
        (
            403,
            json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
        )
    );
    assert_eq!(usage(&a), (2, 2));
}

#[tokio::test]
async fn editions_without_api_refuse_every_data_call() {
    for edition in [
        Edition::Professional,
        Edition::Group,
        Edition::ContactManager,
    ] {
        let org = Org::start_with(Config {
            edition,
            ..Config::default()
        })
        .await;
        let a = org.call("GET", &format!("{V}/sobjects"), None).await;
        assert_eq!(
            (a.status, a.body),
            (
                403,
                json!([{"message": "The REST API is not enabled for this Organization.", "errorCode": "API_DISABLED_FOR_ORG"}])
            ),
            "{edition:?}"
        );
    }
    for (edition, label) in [
        (Edition::Performance, "Unlimited Edition"),
        (Edition::Developer, "Developer Edition"),
    ] {
        let org = Org::start_with(Config {
            edition,
            ..Config::default()
        })
        .await;
        let a = org
            .call(
                "GET",
                &format!("{V}/query?q=SELECT+OrganizationType+FROM+Organization"),
                None,
            )
            .await;
        assert_eq!(a.body["records"][0]["OrganizationType"], json!(label));
    }
}

#[tokio::test]
async fn counted_faults_hit_the_next_requests_then_clear() {
    let org = Org::start().await;
    org.control(
        "POST",
        "faults",
        Some(json!({"kind": "server_unavailable", "count": 1})),
    )
    .await;
    assert_eq!(
        org.call("GET", &format!("{V}/limits"), None).await.status,
        503
    );
    assert_eq!(
        org.call("GET", &format!("{V}/limits"), None).await.status,
        200
    );

    org.control(
        "POST",
        "faults",
        Some(json!({"kind": "unable_to_lock_row", "count": 1})),
    )
    .await;
    let a = org
        .call(
            "POST",
            &format!("{V}/sobjects/Lead"),
            Some(json!({"LastName": "A", "Company": "B"})),
        )
        .await;
    assert_eq!(
        (a.status, a.body),
        (
            400,
            json!([{"message": "unable to obtain exclusive access to this record", "errorCode": "UNABLE_TO_LOCK_ROW"}])
        )
    );

    org.control(
        "POST",
        "faults",
        Some(json!({"kind": "duplicates_detected", "count": 1})),
    )
    .await;
    let a = org
        .call("POST", &format!("{V}/composite/sobjects"), Some(json!({"records": [{"attributes": {"type": "Lead"}, "LastName": "A", "Company": "B"}]})))
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body[0]["errors"][0]["statusCode"],
        json!("DUPLICATES_DETECTED")
    );

    org.control(
        "POST",
        "faults",
        Some(json!({"kind": "request_limit_exceeded", "count": 1})),
    )
    .await;
    assert_eq!(
        org.call("GET", &format!("{V}/limits"), None).await.status,
        403
    );

    org.control(
        "POST",
        "faults",
        Some(json!({"kind": "expire_sessions", "count": 1})),
    )
    .await;
    assert_eq!(
        org.call("GET", &format!("{V}/limits"), None).await.status,
        401
    );
    assert_eq!(
        org.call("GET", &format!("{V}/limits"), None).await.status,
        401,
        "the session stays dead"
    );
    let fresh = org.password_token().await;
    let resp = org
        .http
        .get(org.url(&format!("{V}/limits")))
        .bearer_auth(fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "a new login works");

    let a = org
        .control("POST", "faults", Some(json!({"kind": "meteor"})))
        .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn reset_and_seed_records() {
    let org = Org::start().await;
    let a = org
        .control(
            "POST",
            "records",
            Some(json!({"sobject": "Lead", "records": [{"LastName": "Old", "Company": "X", "CreatedDate": "2020-01-01T00:00:00Z", "SystemModstamp": "2020-01-02T00:00:00Z"}]})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.body["ids"][0].as_str().unwrap().to_owned();
    let got = org
        .call("GET", &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    assert_eq!(
        got.body["SystemModstamp"],
        json!("2020-01-02T00:00:00.000+0000")
    );
    let bad = org.control("POST", "records", Some(json!({"sobject": "Lead", "records": [{"LastName": "ok", "Company": "X"}, {"Company": "no name"}]}))).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["index"], json!(1));
    assert_eq!(
        org.control("GET", "stats", None).await.body["records"]["Lead"],
        json!(1),
        "nothing of a refused batch is kept"
    );
    assert_eq!(org.control("POST", "reset", None).await.status, 200);
    assert_eq!(
        org.control("GET", "stats", None).await.body["records"]["Lead"],
        json!(0)
    );
}

#[tokio::test]
async fn state_file_survives_a_restart_with_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    let org = Org::start_with(Config {
        state_file: Some(state.clone()),
        ..Config::default()
    })
    .await;
    let id = org.lead("Kept", "Acme", "k@acme.io").await;
    let token = org.token.clone();
    org.running.shutdown().await.expect("saved");
    assert!(state.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "the state holds the org's secrets in plain text: owner only"
        );
    }
    let running = lb_emulator::spawn(Config {
        state_file: Some(state.clone()),
        ..Config::default()
    })
    .await
    .unwrap();
    let resp = reqwest::Client::new()
        .get(format!("{}{V}/sobjects/Lead/{id}", running.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let a = answer(resp).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["LastName"], json!("Kept"));
    let garbage = dir.path().join("bad.json");
    std::fs::write(&garbage, "{not json").unwrap();
    assert!(matches!(
        lb_emulator::Emulator::new(Config {
            state_file: Some(garbage),
            ..Config::default()
        }),
        Err(lb_emulator::Error::BadState { .. })
    ));
}

#[tokio::test]
async fn tls_serves_https_with_a_certificate_clients_can_trust() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    let running = lb_emulator::spawn(Config {
        tls: true,
        state_file: Some(state),
        ..Config::default()
    })
    .await
    .expect("tls");
    assert!(running.url.starts_with("https://127.0.0.1:"));
    let cert_path = running.cert_file.clone().expect("cert written");
    assert_eq!(cert_path, dir.path().join("org.json.cert.pem"));
    let pem = std::fs::read(&cert_path).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap();
    let resp = client
        .get(format!("{}/services/data/", running.url))
        .send()
        .await
        .expect("https with the written CA");
    assert_eq!(resp.status(), 200);
    let localhost = running.url.replace("127.0.0.1", "localhost");
    let resp = client
        .get(format!("{localhost}/services/data/"))
        .send()
        .await
        .expect("localhost is in the certificate");
    assert_eq!(resp.status(), 200);
}
