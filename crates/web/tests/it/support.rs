//! A fresh app per test: a store (SQLite in a temp dir, or a fresh PostgreSQL database), an API
//! key, and request helpers.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use lb_store::{Database, Store};
use lb_web::AppState;
use secrecy::ExposeSecret;
use serde_json::Value;
use tower::ServiceExt;

pub const BASE_URL: &str = "http://leadbridge.test";

pub struct TestApp {
    pub app: Router,
    pub state: AppState,
    pub token: String,
    _dir: Option<tempfile::TempDir>,
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The `field` of every entry of a problem's `errors`.
    pub fn problem_fields(&self) -> Vec<String> {
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}",
            self.text
        );
        self.json()["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    async fn with_store(store: Store, dir: Option<tempfile::TempDir>) -> TestApp {
        let (_, token) = store.create_api_key("tests").await.unwrap();
        let state = AppState::new(store, BASE_URL);
        TestApp {
            app: lb_web::router(state.clone()),
            state,
            token: token.expose_secret().to_owned(),
            _dir: dir,
        }
    }

    pub async fn request(
        &self,
        method: Method,
        uri: &str,
        auth: bool,
        content_type: Option<&str>,
        body: &str,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if auth {
            req = req.header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let response = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            content_type,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.request(Method::GET, uri, true, None, "").await
    }

    pub async fn send_json(&self, method: Method, uri: &str, body: Value) -> Reply {
        self.request(
            method,
            uri,
            true,
            Some("application/json"),
            &body.to_string(),
        )
        .await
    }
}

pub async fn sqlite_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Database::in_data_dir(dir.path()))
        .await
        .unwrap();
    TestApp::with_store(store, Some(dir)).await
}

/// `None` (with a notice) when no PostgreSQL is configured outside CI; a failure in CI.
pub async fn postgres_app() -> Option<TestApp> {
    use sqlx::Connection;
    let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set TEST_POSTGRES_URL"
        );
        eprintln!("TEST_POSTGRES_URL not set: PostgreSQL variant not run");
        return None;
    };
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let store = Store::open(&Database::from_url(url.as_str()).unwrap())
        .await
        .unwrap();
    Some(TestApp::with_store(store, None).await)
}

/// Defines `mod $name { sqlite, postgres }`, each running `$body` with `app: &TestApp`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: &$crate::support::TestApp) $body

            #[tokio::test]
            async fn sqlite() {
                run(&$crate::support::sqlite_app().await).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(app) = $crate::support::postgres_app().await {
                    run(&app).await;
                }
            }
        }
    };
}

/// Records, through the store's own API, what the sync does when Salesforce deleted the
/// records linked to these contacts: one run links each contact to its org record, then
/// `commit_deletes` removes the link and writes the tombstone. Returns the run's id.
pub async fn tombstone(store: &Store, deleted: &[(lb_store::ContactId, &str)]) -> i64 {
    use lb_core::SObject;
    use lb_store::sync::tombstones::{DeleteOp, DeleteOutcome};
    use lb_store::sync::{BatchCommit, NewRun, StoredLink};
    let sync = store.sync();
    let run = sync
        .start_run(&NewRun {
            triggered_by: "manual".into(),
            scope: "incremental".into(),
            dry_run: false,
            owner: "1@tests".into(),
            mapping_hash: None,
        })
        .await
        .unwrap();
    sync.commit_batch(&BatchCommit {
        run_id: run,
        links: deleted
            .iter()
            .map(|(id, org)| StoredLink {
                contact_id: *id,
                org_id: (*org).to_owned(),
                object: SObject::Lead,
                base: Default::default(),
            })
            .collect(),
        ..BatchCommit::default()
    })
    .await
    .unwrap();
    let ops: Vec<DeleteOp> = deleted
        .iter()
        .map(|(id, org)| DeleteOp {
            contact_id: *id,
            org_id: (*org).to_owned(),
            object: SObject::Lead,
            deleted_at: time::macros::datetime!(2026-11-30 14:05 UTC),
            master_id: None,
        })
        .collect();
    let outcomes = sync.commit_deletes(run, &ops).await.unwrap();
    assert!(
        outcomes.iter().all(|o| *o == DeleteOutcome::Tombstoned),
        "{outcomes:?}"
    );
    run
}
