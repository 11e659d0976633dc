//! The harness: an emulated org on port 0, a fresh SQLite contact base, an engine connected with
//! the seed's flow, and the invariant checks shared by every test.

use std::collections::BTreeMap;
use std::time::Duration;

use lb_emulator::RunningEmulator;
use lb_engine::{
    ConnectReport, ConnectRequest, Engine, RunOutcome, RunRequest, Scope, SyncSettings, Trigger,
};
use lb_salesforce::{Credentials, SecretString};
use lb_store::{ContactInput, Database, MasterKey, Origin, Store};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

pub const APP: &str = "http://app.test";

pub struct World {
    pub em: RunningEmulator,
    pub store: Store,
    pub engine: Engine,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

pub async fn world() -> World {
    world_with(lb_emulator::Config::default()).await
}

pub async fn world_with(config: lb_emulator::Config) -> World {
    let em = lb_emulator::spawn(config).await.expect("emulator starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&Database::Sqlite(dir.path().join("leadbridge.db")))
        .await
        .expect("store opens");
    let settings = SyncSettings {
        app_base_url: APP.into(),
        ..SyncSettings::default()
    };
    settings.save(&store).await.expect("settings");
    let engine = Engine::new(store.clone(), MasterKey::generate());
    World {
        em,
        store,
        engine,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl World {
    pub fn credentials(&self, password: &str, token: &str) -> Credentials {
        let cfg = self.em.emulator.config();
        Credentials::Password {
            client_id: cfg.client_id.clone(),
            client_secret: Some(SecretString::from(
                cfg.client_secret.expose_secret().to_owned(),
            )),
            username: cfg.username.clone(),
            password: SecretString::from(password.to_owned()),
            security_token: SecretString::from(token.to_owned()),
        }
    }

    /// Connects with the emulator's own credentials (consumer key/secret, username, password +
    /// security token), creating the missing fields.
    pub async fn connect(&self) -> ConnectReport {
        let (_, password, token) = self.em.emulator.credentials();
        let creds = self.credentials(password.expose_secret(), token.expose_secret());
        self.connect_with(creds).await
    }

    pub async fn connect_with(&self, credentials: Credentials) -> ConnectReport {
        self.engine
            .connect(ConnectRequest {
                login_url: self.em.login_url.clone(),
                instance_url: Some(self.em.url.clone()),
                credentials,
                create_fields: true,
            })
            .await
            .expect("connect runs")
    }

    pub async fn sync(&self) -> RunOutcome {
        self.engine
            .run(RunRequest::new(Trigger::Manual, Scope::Incremental))
            .await
            .expect("run starts")
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/__emulator/{path}", self.em.url))
            .json(&body)
            .send()
            .await
            .expect("control call");
        assert!(r.status().is_success(), "control {path}: {}", r.status());
        r.json().await.expect("json")
    }

    pub async fn fault(&self, kind: &str, count: u32) {
        self.control("faults", json!({"kind": kind, "count": count}))
            .await;
    }

    pub async fn api_requests(&self) -> u64 {
        let r: Value = self
            .http
            .get(format!("{}/__emulator/stats", self.em.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["api_requests"].as_u64().unwrap()
    }

    pub async fn seed_org(&self, object: &str, records: Vec<Value>) -> Vec<String> {
        let r = self
            .control("records", json!({"sobject": object, "records": records}))
            .await;
        r["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn add_contact(&self, fields: Value) -> lb_store::Contact {
        let input: ContactInput = fields.as_object().cloned().unwrap();
        self.store
            .create_contact(&input, Origin::User)
            .await
            .expect("contact created")
    }

    /// Every org Lead with this email (case-insensitive), as field maps.
    pub fn org_leads(&self, email: &str) -> Vec<serde_json::Map<String, Value>> {
        let org = self.em.emulator.org();
        let table = org.table("Lead").unwrap();
        table
            .rows()
            .iter()
            .enumerate()
            .filter(|(i, _)| !table.recycle_bin().contains_key(&(*i as u32)))
            .map(|(_, r)| r.clone())
            .filter(|r| {
                r.get("Email")
                    .and_then(Value::as_str)
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .collect()
    }

    pub fn org_record(&self, object: &str, id: &str) -> serde_json::Map<String, Value> {
        self.em
            .emulator
            .org()
            .get(object, id)
            .expect("record exists")
            .clone()
    }

    pub fn org_update(&self, object: &str, id: &str, fields: Value) {
        let mut org = self.em.emulator.org_mut();
        org.update(object, id, fields.as_object().unwrap())
            .expect("org update");
    }

    /// Invariants after any run: one org Lead per email of ours (never a duplicate created by
    /// us), and every failure counted in a run is recorded in its history.
    pub async fn check_invariants(&self, outcomes: &[&RunOutcome]) {
        let mut after = None;
        let mut emails = Vec::new();
        loop {
            let page = self
                .store
                .list_contacts(&lb_store::ContactQuery {
                    after,
                    limit: Some(1000),
                    ..Default::default()
                })
                .await
                .unwrap();
            emails.extend(page.contacts.iter().map(|c| c.email.to_string()));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let mut per_email: BTreeMap<String, usize> = BTreeMap::new();
        for e in &emails {
            per_email.insert(e.clone(), self.org_leads(e).len());
        }
        for (email, n) in &per_email {
            assert!(
                *n <= 1 || email.starts_with("dup"),
                "{email} has {n} Leads in the org"
            );
        }
        for o in outcomes {
            if let Some(id) = o.run_id {
                let recorded = self.store.sync().run_failures(id).await.unwrap();
                assert_eq!(
                    recorded.len() as u64,
                    o.counts.failed,
                    "run {id}: every failure recorded"
                );
                assert_eq!(recorded, o.failures);
            }
        }
    }

    /// Waits (polling) for a condition on the org, up to `secs`.
    pub async fn eventually(&self, secs: u64, mut f: impl FnMut(&World) -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if f(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        f(self)
    }
}
