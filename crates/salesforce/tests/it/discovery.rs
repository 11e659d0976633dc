//! Versions, cached describes, the org's edition (R-CONN-4) and `/limits`.

use lb_emulator::{Config, Edition as EmuEdition};
use lb_salesforce::{
    Client, ClientConfig, CustomFieldKind, CustomFieldSpec, Edition, EndpointKind,
};
use secrecy::ExposeSecret;

use crate::fake;
use crate::helpers::{count, org, org_with};

#[tokio::test]
async fn negotiates_the_highest_version_not_above_ours() {
    let org = org().await;
    let client = org.client();
    let versions = client.versions().await.unwrap();
    assert!(versions.iter().any(|v| v.version == "66.0"));
    assert_eq!(client.negotiate_version().await.unwrap(), "66.0");
    assert_eq!(client.api_version(), "66.0");
    assert_eq!(count(&client, EndpointKind::Versions), 2);
}

#[tokio::test]
async fn the_org_clock_is_read_from_every_answer() {
    let org = org().await;
    let client = org.client();
    assert_eq!(client.server_time(), None, "nothing was asked yet");
    let before = time::OffsetDateTime::now_utc() - time::Duration::seconds(2);
    client.versions().await.unwrap();
    let seen = client.server_time().expect("the answer's Date header");
    let now = time::OffsetDateTime::now_utc();
    // Same machine, same clock: a lower bound, at most the header's one-second truncation
    // (plus the time the answer took) behind.
    assert!(seen <= now, "{seen} is ahead of the org's clock {now}");
    assert!(seen >= before, "{seen} is more than 2 s behind");
    // It follows the clock between answers.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(client.server_time().unwrap() > seen);
}

#[tokio::test]
async fn describe_is_fetched_once_per_connection() {
    let org = org().await;
    let client = org.client();
    let lead = client.describe("Lead").await.unwrap();
    assert_eq!(lead.summary.name, "Lead");
    let email = lead
        .fields
        .iter()
        .find(|f| f.name == "Email")
        .expect("Email field");
    assert_eq!(email.field_type, "email");
    let status = lead.fields.iter().find(|f| f.name == "Status").unwrap();
    assert!(
        status
            .picklist_values
            .iter()
            .any(|p| p.value == "Open - Not Contacted" && p.default_value)
    );
    client.describe("Lead").await.unwrap();
    client.describe("lead").await.unwrap();
    assert_eq!(count(&client, EndpointKind::Describe), 1);
    client.invalidate_describe("Lead");
    client.describe("Lead").await.unwrap();
    assert_eq!(count(&client, EndpointKind::Describe), 2);
}

#[tokio::test]
async fn unchanged_metadata_keeps_the_cache_after_one_conditional_call() {
    // The emulator does not answer 304 yet, so a scripted server plays the org here, serving a
    // real describe body taken from the emulator.
    let org = org().await;
    let client = org.client();
    let token = client.session().await.unwrap().access_token.clone();
    let describe_body = reqwest::Client::new()
        .get(format!(
            "{}/services/data/v66.0/sobjects/Lead/describe",
            org.em.url
        ))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fake = fake::start(10, move |req| match req.path.as_str() {
        "/services/oauth2/token" => fake::Answer::json(200, fake::token_body("{SELF}")),
        p if p.ends_with("/sobjects/Lead/describe") => {
            fake::Answer::json(200, describe_body.clone())
        }
        p if p.ends_with("/sobjects") && req.header("if-modified-since").is_some() => {
            fake::Answer::json(304, "")
        }
        _ => fake::Answer::json(500, "[]"),
    })
    .await;
    let client = Client::new(
        ClientConfig::new(fake.url.clone()),
        org.client_credentials(),
    )
    .unwrap();
    client.describe("Lead").await.unwrap();
    assert!(
        !client.refresh_describes_if_changed().await.unwrap(),
        "304: nothing changed"
    );
    client.describe("Lead").await.unwrap();
    assert_eq!(
        count(&client, EndpointKind::Describe),
        2,
        "one describe + one conditional check"
    );
    let seen = fake.seen.lock().unwrap().clone();
    let check = seen.iter().find(|s| s.path.ends_with("/sobjects")).unwrap();
    assert_eq!(check.method, "GET");
    let since = check.header("if-modified-since").unwrap();
    assert!(since.ends_with(" GMT") && since.len() == 29, "{since}");
}

#[tokio::test]
async fn a_metadata_change_in_the_org_refreshes_the_cached_describe() {
    let org = org().await;
    let client = org.client();
    let before = client.describe("Lead").await.unwrap();
    assert!(!before.fields.iter().any(|f| f.name == "plezi_url__c"));
    // Someone else (an admin, another connection) adds a field.
    let admin = org.client();
    admin
        .ensure_custom_field(&CustomFieldSpec {
            object: "Lead".into(),
            name: "plezi_url".into(),
            label: "Plezi URL".into(),
            kind: CustomFieldKind::Text { length: 255 },
            description: None,
        })
        .await
        .unwrap();
    assert!(
        client
            .describe("Lead")
            .await
            .unwrap()
            .fields
            .iter()
            .all(|f| f.name != "plezi_url__c"),
        "still cached"
    );
    assert!(client.refresh_describes_if_changed().await.unwrap());
    let after = client.describe("Lead").await.unwrap();
    assert!(after.fields.iter().any(|f| f.name == "plezi_url__c"));
}

#[tokio::test]
async fn unknown_object_describe_keeps_salesforce_error() {
    let org = org().await;
    let err = org.client().describe("Nope__c").await.unwrap_err();
    assert_eq!(err.error_code(), Some("NOT_FOUND"));
}

#[tokio::test]
async fn edition_comes_from_organization_type() {
    let org = org().await;
    let info = org.client().org_info().await.unwrap();
    assert_eq!(info.edition, Edition::Developer);
    assert!(info.edition.api_available());
    assert!(info.id.starts_with("00D"));

    let org = org_with(Config {
        edition: EmuEdition::Enterprise,
        ..Config::default()
    })
    .await;
    assert_eq!(
        org.client().org_info().await.unwrap().edition,
        Edition::Enterprise
    );
}

#[tokio::test]
async fn edition_without_api_is_reported_by_the_refusal_itself() {
    // R-CONN-4: on Group or Professional (no add-on) every data call is refused.
    for edition in [
        EmuEdition::Group,
        EmuEdition::Professional,
        EmuEdition::ContactManager,
    ] {
        let org = org_with(Config {
            edition,
            ..Config::default()
        })
        .await;
        let err = org.client().org_info().await.unwrap_err();
        assert!(err.is_api_disabled(), "{edition:?}: {err:?}");
        assert!(err.stops_work());
    }
}

#[tokio::test]
async fn limits_are_read_and_feed_the_budget() {
    let org = org_with(Config {
        daily_api_limit: Some(1_000),
        ..Config::default()
    })
    .await;
    let client = org.client();
    let limits = client.limits().await.unwrap();
    let daily = limits.get("DailyApiRequests").expect("DailyApiRequests");
    assert_eq!(daily.max, 1_000);
    let info = client.limit_info().unwrap();
    assert_eq!(info.max, 1_000);
    assert!(info.used >= 1);
}

#[tokio::test]
async fn a_client_newer_than_the_org_settles_on_the_org_version_before_its_first_call() {
    let org = org().await;
    let mut config = org.config();
    config.api_version = "70.0".into(); // the emulator serves up to 66.0
    let client = org.client_with(config);
    client.query_records("SELECT Id FROM Lead").await.unwrap();
    assert_eq!(client.api_version(), "66.0");
    assert_eq!(count(&client, EndpointKind::Versions), 1);
    client.query_records("SELECT Id FROM Lead").await.unwrap();
    assert_eq!(
        count(&client, EndpointKind::Versions),
        1,
        "settled once per connection"
    );
}
