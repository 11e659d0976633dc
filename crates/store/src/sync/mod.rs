//! The sync runtime's persistence (issue 6): links with their bases, provenance, the run
//! history with every failure, the intent journal of Lead creations, and a small key/value
//! table for watermarks, settings, connection and health. Migrations `0100_*` of both backends.
//! The read spool of a run ([`spool`](self::KeyRange): what a run read, taken out partition by
//! partition so the runner's memory follows the partition) is migration `0110_*`; the run's
//! outbox of org writes and the retry table ([`OutboxRow`], [`RetryKind`]: what a run sends to
//! the org once every partition is planned, and the records to read again) are `0130_*`.
//!
//! **Invariants.**
//! - [`SyncStore::commit_batch`] writes the links, provenance, failures and cleared intents of
//!   one applied batch in one transaction: after a crash, a batch is either recorded whole or
//!   not at all (and then re-planned, harmlessly, on the next run).
//! - An intent ([`SyncStore::put_intents`]) is written *before* a Lead is created in the org
//!   and cleared in the same transaction as the link that records the Lead's Id. An intent
//!   left behind means "this create may have reached the org": the runner looks the email up
//!   before creating anything for that contact again.
//! - One link per contact and one per org record (a link that moves to another record, e.g. a
//!   converted Lead's Contact, replaces the old one).
//! - Credentials are not stored here: they go to the encrypted secret store
//!   ([`crate::Store::put_secret`]); the key/value table holds no secret.

use std::collections::{BTreeMap, HashMap};

use lb_core::{FieldBase, SObject, Side};
use time::OffsetDateTime;

use crate::model::{ChangeCursor, Contact, ContactId, Origin};
use crate::{Db, Email, Store, StoreError};

/// A stored link between one of our contacts and one org record, with the bases of its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLink {
    pub contact_id: ContactId,
    pub org_id: String,
    pub object: SObject,
    pub base: BTreeMap<String, FieldBase>,
}

/// The latest value written to one attribute on one side, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceEntry {
    pub contact_id: ContactId,
    pub attribute: String,
    /// The side that was written.
    pub target: Side,
    /// The side the value came from.
    pub source: Side,
    /// The planner's rule, as text (`Propagated`, `ConflictResolved(MostRecent)`, …).
    pub rule: String,
    pub value: Option<String>,
    pub run_id: i64,
    pub written_at: OffsetDateTime,
}

/// What a run's state is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Paused,
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Paused => "paused",
        }
    }

    pub fn parse(raw: &str) -> Option<RunStatus> {
        [
            RunStatus::Running,
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::Paused,
        ]
        .into_iter()
        .find(|s| s.name() == raw)
    }
}

/// A run as it starts.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub triggered_by: String,
    pub scope: String,
    pub dry_run: bool,
    /// Who runs it (`pid@host`), to tell an interrupted run from a live one.
    pub owner: String,
    pub mapping_hash: Option<String>,
}

/// A run as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub triggered_by: String,
    pub scope: String,
    pub dry_run: bool,
    pub status: RunStatus,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    pub owner: String,
    /// The engine's counts (JSON: per side and object).
    pub counts: serde_json::Value,
    pub api_requests: u64,
    pub message: Option<String>,
    pub mapping_hash: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub status: RunStatus,
    pub counts: serde_json::Value,
    pub api_requests: u64,
    pub message: Option<String>,
}

/// One record that failed in a run, with the org's own words when the org refused it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunFailure {
    /// The side whose write failed.
    pub side: Side,
    pub object: Option<String>,
    /// Our contact id or the org record's Id.
    pub record: Option<String>,
    pub email: Option<String>,
    /// Salesforce's `errorCode` (or our own code for a local refusal).
    pub error_code: String,
    pub message: String,
    pub fields: Vec<String>,
}

/// A Lead creation about to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub contact_id: ContactId,
    pub email: String,
}

/// Everything recorded after one applied batch, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct BatchCommit {
    pub run_id: i64,
    pub links: Vec<StoredLink>,
    pub provenance: Vec<ProvenanceEntry>,
    pub failures: Vec<RunFailure>,
    /// Intents whose create is settled (link stored, or refused by the org).
    pub clear_intents: Vec<ContactId>,
}

/// One row of the change log, as the sync reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeMark {
    pub seq: i64,
    pub contact_id: ContactId,
    pub origin: Origin,
}

/// The sync runtime's view of the store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SyncStore {
    store: Store,
}

impl Store {
    /// The sync runtime's tables.
    pub fn sync(&self) -> SyncStore {
        SyncStore {
            store: self.clone(),
        }
    }
}

pub mod tombstones;

mod sqlite_sync {
    type Engine = sqlx::Sqlite;
    const BACKEND: crate::Backend = crate::Backend::Sqlite;
    include!("queries.rs");
}

mod postgres_sync {
    type Engine = sqlx::Postgres;
    const BACKEND: crate::Backend = crate::Backend::Postgres;
    include!("queries.rs");
}

macro_rules! sync_dispatch {
    ($self:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match &$self.store.db {
            Db::Sqlite(pool) => sqlite_sync::$f(pool, $($arg),*).await,
            Db::Postgres(pool) => postgres_sync::$f(pool, $($arg),*).await,
        }
    };
}

impl SyncStore {
    /// The contact base this view belongs to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    // ---- links ----

    pub async fn links_by_contacts(
        &self,
        ids: &[ContactId],
    ) -> Result<Vec<StoredLink>, StoreError> {
        sync_dispatch!(self, links_by_contacts(ids))
    }

    pub async fn links_by_org_ids(&self, ids: &[String]) -> Result<Vec<StoredLink>, StoreError> {
        sync_dispatch!(self, links_by_org_ids(ids))
    }

    /// Every link (the full resync reads them all).
    pub async fn all_links(&self) -> Result<Vec<StoredLink>, StoreError> {
        sync_dispatch!(self, all_links())
    }

    pub async fn count_links(&self) -> Result<i64, StoreError> {
        sync_dispatch!(self, count_links())
    }

    /// Records one applied batch (see the module docs).
    pub async fn commit_batch(&self, batch: &BatchCommit) -> Result<(), StoreError> {
        sync_dispatch!(self, commit_batch(batch))
    }

    /// The provenance of every written attribute of one contact.
    pub async fn provenance(
        &self,
        contact_id: ContactId,
    ) -> Result<Vec<ProvenanceEntry>, StoreError> {
        sync_dispatch!(self, provenance(contact_id))
    }

    // ---- intents ----

    pub async fn put_intents(&self, run_id: i64, intents: &[Intent]) -> Result<(), StoreError> {
        sync_dispatch!(self, put_intents(run_id, intents))
    }

    pub async fn intents(&self) -> Result<Vec<Intent>, StoreError> {
        sync_dispatch!(self, intents())
    }

    // ---- runs ----

    pub async fn start_run(&self, run: &NewRun) -> Result<i64, StoreError> {
        sync_dispatch!(self, start_run(run))
    }

    pub async fn finish_run(&self, id: i64, end: &RunEnd) -> Result<(), StoreError> {
        sync_dispatch!(self, finish_run(id, end))
    }

    /// Adds failures to a run outside a batch (a run that stopped before applying anything).
    pub async fn add_failures(
        &self,
        run_id: i64,
        failures: &[RunFailure],
    ) -> Result<(), StoreError> {
        let batch = BatchCommit {
            run_id,
            failures: failures.to_vec(),
            ..BatchCommit::default()
        };
        self.commit_batch(&batch).await
    }

    /// Runs newest first; `before` an id for the next page.
    pub async fn runs(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<RunRecord>, StoreError> {
        sync_dispatch!(self, runs(before, limit.clamp(1, 1000)))
    }

    pub async fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        sync_dispatch!(self, run(id))
    }

    /// The failures of one run, in the order they happened.
    pub async fn run_failures(&self, run_id: i64) -> Result<Vec<RunFailure>, StoreError> {
        sync_dispatch!(self, run_failures(run_id))
    }

    pub async fn count_run_failures(&self, run_id: i64) -> Result<i64, StoreError> {
        sync_dispatch!(self, count_run_failures(run_id))
    }

    /// The latest finished run with this status (`None`: any finished run).
    pub async fn last_finished_run(
        &self,
        status: Option<RunStatus>,
    ) -> Result<Option<RunRecord>, StoreError> {
        sync_dispatch!(self, last_finished_run(status))
    }

    /// Runs still marked `running`.
    pub async fn running_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        sync_dispatch!(self, running_runs())
    }

    // ---- key/value state ----

    pub async fn state(&self, key: &str) -> Result<Option<String>, StoreError> {
        sync_dispatch!(self, get_state(key))
    }

    pub async fn put_state(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sync_dispatch!(self, put_state(key, value))
    }

    pub async fn delete_state(&self, key: &str) -> Result<(), StoreError> {
        sync_dispatch!(self, delete_state(key))
    }

    /// Sets `key` to `new` only if its current value is `expected` (`None`: absent). Returns
    /// whether it did. `new = None` deletes. Serialised with every other writer.
    pub async fn compare_and_swap_state(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<bool, StoreError> {
        sync_dispatch!(self, compare_and_swap_state(key, expected, new))
    }

    /// Typed read of a JSON value.
    pub async fn state_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.state(key).await? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("sync state {key}: {e}"))),
        }
    }

    pub async fn put_state_json<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(value)
            .map_err(|e| StoreError::Corrupt(format!("sync state {key}: {e}")))?;
        self.put_state(key, &text).await
    }

    // ---- reads of the contact base for the sync ----

    /// Contacts by email (missing ones left out).
    pub async fn contacts_by_emails(&self, emails: &[Email]) -> Result<Vec<Contact>, StoreError> {
        sync_dispatch!(self, contacts_by_emails(emails))
    }

    /// Change-log rows after `cursor`, oldest first, at most `limit`.
    pub async fn change_marks(
        &self,
        cursor: ChangeCursor,
        limit: u32,
    ) -> Result<Vec<ChangeMark>, StoreError> {
        sync_dispatch!(self, change_marks(cursor, limit.clamp(1, 50_000)))
    }

    /// How many contacts changed after `cursor` other than by the sync itself and not sent
    /// since (their link recorded after their last change): the backlog.
    pub async fn backlog(&self, cursor: ChangeCursor) -> Result<i64, StoreError> {
        sync_dispatch!(self, backlog(cursor))
    }

    /// For each contact, when each field last changed other than by the sync.
    pub async fn field_times(
        &self,
        ids: &[ContactId],
    ) -> Result<HashMap<ContactId, BTreeMap<String, OffsetDateTime>>, StoreError> {
        sync_dispatch!(self, field_times(ids))
    }

    /// Every contact id, ascending, after `after` (the full resync pages through them).
    pub async fn contact_ids_after(
        &self,
        after: ContactId,
        limit: u32,
    ) -> Result<Vec<ContactId>, StoreError> {
        sync_dispatch!(self, contact_ids_after(after, limit.clamp(1, 50_000)))
    }
}

mod spool;
pub use spool::{KeyRange, OursSource, spool_key};

mod outbox;
pub use outbox::{OutboxKind, OutboxRow, RetryKind};

pub(crate) fn side_name(side: Side) -> &'static str {
    match side {
        Side::Marketing => "marketing",
        Side::Crm => "crm",
    }
}

pub(crate) fn parse_side(raw: &str) -> Result<Side, StoreError> {
    match raw {
        "marketing" => Ok(Side::Marketing),
        "crm" => Ok(Side::Crm),
        other => Err(StoreError::Corrupt(format!("unknown side {other}"))),
    }
}

pub(crate) fn parse_object(raw: &str) -> Result<SObject, StoreError> {
    match raw {
        "Lead" => Ok(SObject::Lead),
        "Contact" => Ok(SObject::Contact),
        other => Err(StoreError::Corrupt(format!("unknown object {other}"))),
    }
}

/// Test databases for the sync modules' unit tests: each test runs on SQLite, then on a fresh
/// database of the test PostgreSQL server when `TEST_POSTGRES_URL` is set.
#[cfg(test)]
pub(crate) mod test_db {
    use crate::{Database, Store};

    /// A fresh database on the test server (`TEST_POSTGRES_URL`) and its name, or `None`
    /// (never on CI).
    async fn postgres(prefix: &str) -> Option<(Store, String)> {
        use sqlx::Connection;
        let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set TEST_POSTGRES_URL"
            );
            return None;
        };
        let name = format!("t_{prefix}_{}", uuid::Uuid::new_v4().simple());
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
        Some((store, name))
    }

    /// Runs `f` on a fresh SQLite store, then on a fresh PostgreSQL one if configured (that
    /// database is dropped after).
    pub(crate) async fn both(prefix: &str, f: impl AsyncFn(&Store)) {
        use sqlx::Connection;
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Store::open(&Database::in_data_dir(&dir.path().join("data")))
            .await
            .unwrap();
        f(&sqlite).await;
        let Some((pg, name)) = postgres(prefix).await else {
            eprintln!("TEST_POSTGRES_URL not set: PostgreSQL variant not run");
            return;
        };
        f(&pg).await;
        pg.close().await;
        let admin_url = std::env::var("TEST_POSTGRES_URL").unwrap();
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
}
