//! The web app (issue 7) on a real port, against the in-process Salesforce emulator: plain HTTP
//! checks of sign-in, CSRF and secrets (`http`), and the seed's walk in headless Chromium
//! (`browser`).

mod browser;
mod http;

use std::net::SocketAddr;

use lb_store::{Database, MasterKey, Store};
use lb_web::AppState;
use lb_web::ui::UiState;
use secrecy::{ExposeSecret, SecretString};

pub const ADMIN: &str = "admin@leadbridge.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// The app and an emulated org, both on loopback ports.
pub struct Stack {
    pub base_url: String,
    pub store: Store,
    pub engine: lb_engine::Engine,
    pub org: lb_emulator::RunningEmulator,
    _dir: tempfile::TempDir,
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(lb_emulator::Config::default()).await
    }

    /// The app against an org shaped by `config` (edition, limits…).
    pub async fn start_with(config: lb_emulator::Config) -> Stack {
        let org = lb_emulator::spawn(config).await.expect("emulator starts");
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Database::in_data_dir(dir.path()))
            .await
            .unwrap();
        store
            .create_admin(ADMIN, &SecretString::from(ADMIN_PASSWORD.to_owned()))
            .await
            .unwrap();
        let engine = lb_engine::Engine::new(store.clone(), MasterKey::generate());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let mut settings = lb_engine::SyncSettings::load(&store).await.unwrap();
        settings.app_base_url = base_url.clone();
        settings.save(&store).await.unwrap();
        let app = lb_web::router(AppState::new(store.clone(), &base_url))
            .merge(lb_web::ui::router(UiState::new(engine.clone(), &base_url)));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Stack {
            base_url,
            store,
            engine,
            org,
            _dir: dir,
        }
    }

    /// The emulated org's credentials, as the seed lists them.
    pub fn org_credentials(&self) -> OrgCredentials {
        let c = lb_emulator::Config::default();
        OrgCredentials {
            login_url: self.org.login_url.clone(),
            client_id: c.client_id,
            client_secret: c.client_secret.expose_secret().to_owned(),
            username: c.username,
            password: c.password.expose_secret().to_owned(),
            security_token: c.security_token.expose_secret().to_owned(),
        }
    }

    /// Connects the engine with the seed's flow and creates the required fields (no browser).
    pub async fn connect(&self) {
        let report = self.connect_with(true).await;
        assert!(report.ok, "{report:?}");
    }

    /// Connects the engine with the seed's flow; `create_fields` as the CLI's flag.
    pub async fn connect_with(&self, create_fields: bool) -> lb_engine::ConnectReport {
        let c = self.org_credentials();
        self.engine
            .connect(lb_engine::ConnectRequest {
                login_url: c.login_url,
                instance_url: None,
                credentials: lb_salesforce::Credentials::Password {
                    client_id: c.client_id,
                    client_secret: Some(SecretString::from(c.client_secret)),
                    username: c.username,
                    password: SecretString::from(c.password),
                    security_token: SecretString::from(c.security_token),
                },
                create_fields,
            })
            .await
            .unwrap()
    }

    /// Calls the emulator's control API (`/__emulator/...`).
    pub async fn control(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let reply = reqwest::Client::new()
            .post(format!("{}/__emulator/{path}", self.org.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            reply.status().is_success(),
            "control {path}: {}",
            reply.status()
        );
        reply.json().await.unwrap()
    }

    /// A SOQL query against the org, logged in with `password` + `token`.
    pub async fn org_query(&self, soql: &str, password: &str, token: &str) -> serde_json::Value {
        let c = self.org_credentials();
        let http = reqwest::Client::new();
        let login: serde_json::Value = http
            .post(format!("{}/services/oauth2/token", self.org.login_url))
            .form(&[
                ("grant_type", "password"),
                ("client_id", c.client_id.as_str()),
                ("client_secret", c.client_secret.as_str()),
                ("username", c.username.as_str()),
                ("password", &format!("{password}{token}")),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let access = login["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("login refused: {login}"));
        http.get(format!(
            "{}/services/data/v{}/query",
            self.org.url,
            lb_salesforce::API_VERSION
        ))
        .bearer_auth(access)
        .query(&[("q", soql)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
    }
}

pub struct OrgCredentials {
    pub login_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub password: String,
    pub security_token: String,
}
