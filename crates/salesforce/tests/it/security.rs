//! Credentials go only to Salesforce hosts or loopback, even when a token response lies.

use lb_salesforce::{Client, ClientConfig, Credentials, EndpointKind, Error, SecretString};

use crate::fake;

#[tokio::test]
async fn forged_instance_url_is_refused_before_any_data_call() {
    let fake = fake::start(1, |_| {
        fake::Answer::json(200, fake::token_body("https://collector.evil.example"))
    })
    .await;
    let creds = Credentials::ClientCredentials {
        client_id: "ck".into(),
        client_secret: SecretString::from("cs"),
    };
    let client = Client::new(ClientConfig::new(fake.url.clone()), creds).unwrap();
    let err = client
        .query_records("SELECT Id FROM Lead")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Url(_)), "{err:?}");
    assert!(err.to_string().contains("collector.evil.example"));
    assert_eq!(client.request_counts().get(EndpointKind::Query), 0);
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/services/oauth2/token");
}

#[test]
fn login_url_must_be_salesforce_or_loopback() {
    let creds = || Credentials::ClientCredentials {
        client_id: "ck".into(),
        client_secret: SecretString::from("cs"),
    };
    assert!(Client::new(ClientConfig::new("https://acme.my.salesforce.com"), creds()).is_ok());
    assert!(Client::new(ClientConfig::new("http://127.0.0.1:9"), creds()).is_ok());
    assert!(matches!(
        Client::new(ClientConfig::new("http://acme.my.salesforce.com"), creds()),
        Err(Error::Url(_))
    ));
    assert!(matches!(
        Client::new(ClientConfig::new("https://attacker.example"), creds()),
        Err(Error::Url(_))
    ));
    let mut cfg = ClientConfig::new("https://sf.proxy.corp.example");
    cfg.hosts = cfg.hosts.allow_domain("proxy.corp.example");
    assert!(Client::new(cfg, creds()).is_ok());
}

#[test]
fn debug_output_never_shows_secrets() {
    let creds = Credentials::Password {
        client_id: "ck".into(),
        client_secret: Some(SecretString::from("the-consumer-secret")),
        username: "u@x.com".into(),
        password: SecretString::from("the-password"),
        security_token: SecretString::from("the-token"),
    };
    let client = Client::new(
        ClientConfig::new("https://login.salesforce.com"),
        creds.clone(),
    )
    .unwrap();
    for text in [format!("{creds:?}"), format!("{client:?}")] {
        for secret in ["the-consumer-secret", "the-password", "the-token"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}
