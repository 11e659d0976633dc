//! Fresh stores per test and the `both_backends!` macro that runs one test body on each.

use lb_store::{Database, Store};
use serde_json::{Map, Value, json};

pub struct TestStore {
    pub store: Store,
    /// Keeps the SQLite directory alive for the test's duration.
    pub dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Database::in_data_dir(&dir.path().join("data")))
        .await
        .unwrap();
    TestStore {
        store,
        dir: Some(dir),
    }
}

/// A fresh database on the test server, or `None` (with a notice) when no server is configured
/// outside CI. In CI a missing server is a failure, never a silent skip.
pub async fn postgres() -> Option<TestStore> {
    let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set TEST_POSTGRES_URL"
        );
        eprintln!("TEST_POSTGRES_URL not set: PostgreSQL variant not run");
        return None;
    };
    Some(TestStore {
        store: fresh_postgres(&admin_url).await,
        dir: None,
    })
}

pub async fn fresh_postgres(admin_url: &str) -> Store {
    use sqlx::Connection;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(admin_url).unwrap();
    url.set_path(&name);
    Store::open(&Database::from_url(url.as_str()).unwrap())
        .await
        .unwrap()
}

/// Defines `mod $name { sqlite, postgres }`, each running `$body` with `store: &Store`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, |$store:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($store: &lb_store::Store) $body

            #[tokio::test]
            async fn sqlite() {
                let t = $crate::support::sqlite().await;
                run(&t.store).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(t) = $crate::support::postgres().await {
                    run(&t.store).await;
                }
            }
        }
    };
}

/// A contact input from a JSON object literal.
pub fn input(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("input must be a JSON object"),
    }
}

pub fn jane() -> Map<String, Value> {
    input(json!({
        "email": "  Jane.Doe@Example.COM ",
        "first_name": "Jane",
        "last_name": "Doe",
        "company": "Acme",
    }))
}

/// The (field, message) pairs of an `Invalid` error, sorted.
pub fn problems(err: lb_store::StoreError) -> Vec<(String, String)> {
    match err {
        lb_store::StoreError::Invalid(problems) => {
            let mut out: Vec<_> = problems.into_iter().map(|p| (p.field, p.message)).collect();
            out.sort();
            out
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}
