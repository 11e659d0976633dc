//! One fresh emulated org per test, clients for each grant, and the emulator's control API.

use std::time::Duration;

use lb_emulator::{Config, RunningEmulator};
use lb_salesforce::{
    BulkConfig, Client, ClientConfig, Credentials, EndpointKind, Record, RetryPolicy, SecretString,
};
use serde_json::{Value, json};

pub struct Org {
    pub em: RunningEmulator,
    http: reqwest::Client,
}

pub async fn org() -> Org {
    org_with(Config::default()).await
}

pub async fn org_with(config: Config) -> Org {
    let em = lb_emulator::spawn(config).await.expect("emulator starts");
    Org {
        em,
        http: reqwest::Client::new(),
    }
}

impl Org {
    /// Client settings with fast retries and polls so tests stay quick.
    pub fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new(self.em.login_url.clone());
        c.retry = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
        };
        c.bulk = BulkConfig {
            poll_initial: Duration::from_millis(5),
            poll_max: Duration::from_millis(50),
            max_wait: Duration::from_secs(60),
            query_page_records: 1_000,
            ..BulkConfig::default()
        };
        c
    }

    pub fn password_credentials(&self) -> Credentials {
        let cfg = self.em.emulator.config();
        let (username, password, token) = self.em.emulator.credentials();
        Credentials::Password {
            client_id: cfg.client_id.clone(),
            client_secret: Some(cfg.client_secret.clone()),
            username,
            password,
            security_token: token,
        }
    }

    pub fn client_credentials(&self) -> Credentials {
        let cfg = self.em.emulator.config();
        Credentials::ClientCredentials {
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
        }
    }

    /// A client using the password grant.
    pub fn client(&self) -> Client {
        Client::new(self.config(), self.password_credentials()).expect("client")
    }

    pub fn client_with(&self, config: ClientConfig) -> Client {
        Client::new(config, self.password_credentials()).expect("client")
    }

    fn control(&self, path: &str) -> String {
        format!("{}/__emulator/{path}", self.em.url)
    }

    /// Injects a fault for the next `count` data requests.
    pub async fn fault(&self, kind: &str, count: u64) {
        let r = self
            .http
            .post(self.control("faults"))
            .json(&json!({"kind": kind, "count": count}))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "fault {kind}: {}",
            r.text().await.unwrap()
        );
    }

    /// Sets new credentials as a user does after a password reset.
    pub async fn set_password(&self, password: &str, token: &str) {
        let r = self
            .http
            .post(self.control("password"))
            .json(&json!({"password": password, "security_token": token}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Seeds records directly (not counted as API calls); returns their ids.
    pub async fn seed(&self, sobject: &str, records: Vec<Value>) -> Vec<String> {
        let r = self
            .http
            .post(self.control("records"))
            .json(&json!({"sobject": sobject, "records": records}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(status.is_success(), "seed: {body}");
        body["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn stats(&self) -> Value {
        self.http
            .get(self.control("stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn secret(&self) -> SecretString {
        self.em.emulator.config().client_secret.clone()
    }

    pub fn client_id(&self) -> String {
        self.em.emulator.config().client_id.clone()
    }

    pub fn username(&self) -> String {
        self.em.emulator.config().username.clone()
    }
}

/// `n` valid new Leads with distinct emails `lead{i}@{domain}`.
pub fn leads(n: usize, domain: &str) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let v = json!({"LastName": format!("Lead {i}"), "Company": "Acme", "Email": format!("lead{i}@{domain}")});
            v.as_object().unwrap().clone()
        })
        .collect()
}

pub fn rec(v: Value) -> Record {
    v.as_object().expect("object").clone()
}

pub fn count(client: &Client, kind: EndpointKind) -> u64 {
    client.request_counts().get(kind)
}
