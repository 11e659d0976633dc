//! `lb-store`: the marketing contact base's storage.
//!
//! **Job.** Contacts (standard attributes, configurable states, lifecycle stages with the date
//! each was reached, custom fields), the per-field change log the sync merges with, forms and
//! their submissions, API keys, and the encrypted secret store. SQLite by default (a file in the
//! data directory, WAL), PostgreSQL from a `postgres://` URL; both run their own migrations
//! (`migrations/{sqlite,postgres}`) when the store is opened.
//!
//! **One code path, two databases.** The queries are written once in `queries.rs` in SQL both
//! databases accept (`$1` placeholders, `RETURNING`, `ON CONFLICT`; times as Unix microseconds)
//! and compiled twice, once per backend module; [`Store`] dispatches on the URL's scheme.
//!
//! **Invariants.**
//! - A contact is written in one transaction together with its change-log rows: never a
//!   half-written contact, never a change without its record (or the reverse).
//! - Every write transaction is serialised (SQLite `BEGIN IMMEDIATE`; PostgreSQL a transaction
//!   advisory lock), so change-log sequence numbers become visible in increasing order and
//!   [`Store::changes_since`] never skips a change that commits late.
//! - Emails are stored normalised ([`lb_core::contact::Email`]): uniqueness is case-insensitive.
//! - Secrets never reach the database unencrypted (see [`secrets`]).
//! - Events ([`ContactEvent`]) are sent only after the transaction committed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::broadcast;

pub mod auth;
mod import;
pub mod malloc;
mod model;
mod rows;
pub mod secrets;
mod submit;
pub mod sync;
mod text_pack;
mod time_fmt;
mod validate;
mod write;

pub use import::{ImportOptions, ImportReport, RejectedRow, export_csv};
pub use lb_core::contact::{Email, EmailError};
pub use model::*;
pub use secrets::{MasterKey, SecretError};
pub use time_fmt::rfc3339;
pub use validate::{
    Blank, CUSTOM_TEXT_MAX_CHARS, ContactInput, Patch, Schema, TEXT_MAX_CHARS, parse_input,
};
pub use write::ContactWrite;

/// Highest `behaviour_score` a contact can reach.
pub const BEHAVIOUR_SCORE_MAX: i64 = 50;
/// Points a form submission adds to `behaviour_score` unless the form says otherwise.
pub const DEFAULT_SCORE_INCREMENT: i64 = 5;
/// The SQLite file's name inside the data directory.
pub const SQLITE_FILE: &str = "leadbridge.db";

/// One problem with one field of the input (and its row, for imports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// For imports: the row's line number in the file (the header is line 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: &str, message: String) -> Problem {
        Problem {
            row: None,
            field: field.to_owned(),
            message,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(row) = self.row {
            write!(f, "row {row}: ")?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn join_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input breaks a rule; every problem is listed.
    #[error("invalid input: {}", join_problems(.0))]
    Invalid(Vec<Problem>),
    /// The email belongs to another contact.
    #[error("email {email} is already used by contact {existing}")]
    EmailTaken { email: String, existing: ContactId },
    #[error("{what} not found")]
    NotFound { what: String },
    /// A name (custom field, state) that must be unique already exists.
    #[error("{what} already exists")]
    AlreadyExists { what: String },
    #[error("{0}")]
    Secret(#[from] SecretError),
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database URL not understood: {0}")]
    BadUrl(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot write the export: {0}")]
    Export(String),
    /// A stored row that the code cannot read (hand-edited database, newer version).
    #[error("corrupt record in the database: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A failure of the database itself (unreachable, pool exhausted, SQLite still busy after
    /// its timeout): retrying later may succeed, unlike bad input or a missing record.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(err) = self else {
            return false;
        };
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => true,
            // SQLITE_BUSY (5) and its extended codes; PostgreSQL classes 08 (connection), 53
            // (insufficient resources) and 57P (operator intervention, e.g. shutdown).
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                matches!(code.as_ref(), "5" | "261" | "517")
                    || code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57P")
            }),
            _ => false,
        }
    }

    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> StoreError {
        StoreError::Invalid(vec![Problem::new(field, message.into())])
    }
}

/// Which database to use.
#[derive(Clone)]
pub enum Database {
    /// A SQLite file, created (with its directory) on first start.
    Sqlite(PathBuf),
    /// A PostgreSQL URL; it may carry a password, hence the secret.
    Postgres(SecretString),
}

impl Database {
    /// `postgres://…` / `postgresql://…` select PostgreSQL; `sqlite://PATH` or a plain path select
    /// SQLite.
    pub fn from_url(url: &str) -> Result<Database, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Database::Postgres(SecretString::from(url.to_owned())))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Database::Sqlite(PathBuf::from(path)))
        } else if url.contains("://") {
            Err(StoreError::BadUrl(format!(
                "unsupported scheme in '{}' (use postgres:// or sqlite://)",
                url.split("://").next().unwrap_or_default()
            )))
        } else {
            Ok(Database::Sqlite(PathBuf::from(url)))
        }
    }

    /// The SQLite file of a data directory.
    pub fn in_data_dir(dir: &Path) -> Database {
        Database::Sqlite(dir.join(SQLITE_FILE))
    }
}

/// Hand-written so that a PostgreSQL password never reaches a log.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Database::Postgres(url) => {
                let shown = match url::Url::parse(url.expose_secret()) {
                    Ok(mut u) => {
                        if u.password().is_some() {
                            let _ = u.set_password(Some("***"));
                        }
                        u.to_string()
                    }
                    Err(_) => "<unparsable url>".to_owned(),
                };
                f.debug_tuple("Postgres").field(&shown).finish()
            }
        }
    }
}

/// Creates the data directory (mode 0700 on Unix) if it does not exist.
pub fn ensure_data_dir(dir: &Path) -> Result<(), StoreError> {
    let err = |source| StoreError::DataDir {
        path: dir.to_owned(),
        source,
    };
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

#[derive(Clone)]
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// The contact base. Cheap to clone (pools and the event channel are shared).
#[derive(Clone)]
pub struct Store {
    db: Db,
    events: broadcast::Sender<ContactEvent>,
    /// SQLite has one writer at a time; queueing this process's writers here (fairly) keeps
    /// them out of SQLite's busy handler, whose sleeps of up to 100 ms would ruin latency.
    /// Other processes (a CLI import next to `serve`) still meet `busy_timeout`.
    sqlite_writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Group commit of form submissions and the form cache (see the `submit` module).
    submissions: std::sync::Arc<submit::SubmissionQueue>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.db {
            Db::Sqlite(_) => "Store(Sqlite)",
            Db::Postgres(_) => "Store(Postgres)",
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

mod sqlite_queries {
    type Engine = sqlx::Sqlite;
    const BACKEND: super::Backend = super::Backend::Sqlite;
    include!("queries.rs");
    include!("write_batch.rs");
    include!("submit_batch.rs");

    async fn insert_submissions(
        conn: &mut Conn,
        jobs: &[SubmissionWrite],
        saved: &[Saved],
        at: time::OffsetDateTime,
    ) -> Result<Vec<i64>, StoreError> {
        insert_submissions_values(conn, jobs, saved, at).await
    }

    // SQLite's bulk statements are the multi-row VALUES ones of `queries.rs`.
    async fn insert_rows(conn: &mut Conn, contacts: &mut [Contact]) -> Result<(), StoreError> {
        insert_rows_values(conn, contacts).await
    }

    async fn insert_changes(
        conn: &mut Conn,
        rows: &[(ContactId, &str)],
        origin: Origin,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        insert_changes_values(conn, rows, origin, at).await
    }

    async fn load_contacts(
        conn: &mut Conn,
        emails: &[&str],
        ids: &[i64],
    ) -> Result<Vec<Contact>, StoreError> {
        load_contacts_in(conn, emails, ids).await
    }

    /// One prepared UPDATE per contact: SQLite runs it in-process, there is no round trip to
    /// save.
    async fn update_rows(conn: &mut Conn, contacts: &[Contact]) -> Result<(), StoreError> {
        for contact in contacts {
            update_row(conn, contact).await?;
        }
        Ok(())
    }
}

mod postgres_queries {
    type Engine = sqlx::Postgres;
    const BACKEND: super::Backend = super::Backend::Postgres;
    include!("queries.rs");
    include!("write_batch.rs");
    include!("bulk_postgres.rs");
    include!("submit_batch.rs");
    include!("submit_postgres.rs");
}

/// Calls the same query function on whichever backend this store uses.
macro_rules! dispatch {
    ($self:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match &$self.db {
            Db::Sqlite(pool) => sqlite_queries::$f(pool, $($arg),*).await,
            Db::Postgres(pool) => postgres_queries::$f(pool, $($arg),*).await,
        }
    };
}

/// [`dispatch!`] for writes: on SQLite, waits for this process's other writers first.
macro_rules! dispatch_write {
    ($self:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match &$self.db {
            Db::Sqlite(pool) => {
                let _writer = $self.sqlite_writer.lock().await;
                sqlite_queries::$f(pool, $($arg),*).await
            }
            Db::Postgres(pool) => postgres_queries::$f(pool, $($arg),*).await,
        }
    };
}

/// How many events a slow subscriber may fall behind before it sees `Lagged`.
const EVENT_CAPACITY: usize = 4096;

impl Store {
    /// Opens (and creates, for SQLite) the database and runs the migrations.
    pub async fn open(database: &Database) -> Result<Store, StoreError> {
        let db = match database {
            Database::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    ensure_data_dir(parent)?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // In WAL mode NORMAL is durable against application crashes; only a power
                    // loss can drop the last transactions.
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(options)
                    .await?;
                sqlx::migrate!("migrations/sqlite").run(&pool).await?;
                Db::Sqlite(pool)
            }
            Database::Postgres(url) => {
                let options = PgConnectOptions::from_str(url.expose_secret())
                    .map_err(|e| StoreError::BadUrl(e.to_string()))?;
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .connect_with(options)
                    .await?;
                sqlx::migrate!("migrations/postgres").run(&pool).await?;
                Db::Postgres(pool)
            }
        };
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Ok(Store {
            db,
            events,
            sqlite_writer: Default::default(),
            submissions: Default::default(),
        })
    }

    /// Events after each committed write (see [`ContactEvent`]).
    pub fn subscribe(&self) -> broadcast::Receiver<ContactEvent> {
        self.events.subscribe()
    }

    fn emit(&self, event: ContactEvent) {
        // No subscriber is not an error: the sync may not be running.
        let _ = self.events.send(event);
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.db, Db::Postgres(_))
    }

    /// Closes the pools (waits for connections to be returned).
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    // ---- schema: states and custom fields ----

    /// The configured states and custom fields.
    pub async fn schema(&self) -> Result<Schema, StoreError> {
        dispatch!(self, schema())
    }

    /// The configured states, in order; the first is given to new contacts.
    pub async fn states(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.schema().await?.states)
    }

    /// Adds a state at the end of the list.
    pub async fn add_state(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 40 {
            return Err(StoreError::invalid(
                "name",
                "a state needs 1 to 40 characters",
            ));
        }
        let states = dispatch_write!(self, add_state(name))?;
        self.submissions.forget_forms(None);
        Ok(states)
    }

    pub async fn custom_fields(&self) -> Result<Vec<CustomField>, StoreError> {
        Ok(self.schema().await?.fields)
    }

    /// Adds a custom field; it appears last (R-MAP-4).
    pub async fn add_custom_field(
        &self,
        field: &NewCustomField,
    ) -> Result<CustomField, StoreError> {
        let checked = check_new_field(field)?;
        let field = dispatch_write!(self, add_custom_field(&checked))?;
        self.submissions.forget_forms(None);
        Ok(field)
    }

    // ---- contacts ----

    /// Creates a contact; `email` is required and must not be taken.
    pub async fn create_contact(
        &self,
        input: &ContactInput,
        origin: Origin,
    ) -> Result<Contact, StoreError> {
        let contact = dispatch_write!(self, create_contact(input, origin))?;
        self.emit(ContactEvent::Changed {
            contact_id: contact.id,
            origin,
        });
        Ok(contact)
    }

    /// Changes the given fields of a contact (null or "" clears a field).
    pub async fn update_contact(
        &self,
        id: ContactId,
        input: &ContactInput,
        origin: Origin,
    ) -> Result<Contact, StoreError> {
        let (contact, changed) = dispatch_write!(self, update_contact(id, input, origin))?;
        if changed {
            self.emit(ContactEvent::Changed {
                contact_id: contact.id,
                origin,
            });
        }
        Ok(contact)
    }

    /// Creates the contact or updates the one with the same email. Returns whether it was created.
    pub async fn upsert_contact(
        &self,
        input: &ContactInput,
        origin: Origin,
    ) -> Result<(Contact, bool), StoreError> {
        let (contact, created, changed) = dispatch_write!(self, upsert_contact(input, origin))?;
        if changed {
            self.emit(ContactEvent::Changed {
                contact_id: contact.id,
                origin,
            });
        }
        Ok((contact, created))
    }

    /// Creates and updates several contacts in one transaction, in order (a later write sees
    /// what an earlier one did: an email freed by one can be taken by the next). Each write gets
    /// its own outcome, exactly as [`Store::create_contact`] / [`Store::update_contact`] would
    /// give it: `Invalid`, `EmailTaken` and `NotFound` refuse that write only, the others are
    /// kept. The outer error is for the database itself (then nothing was written). Change-log
    /// rows carry `origin`; a [`ContactEvent::Changed`] per changed contact follows the commit.
    /// Everything is held in memory until the commit: batches of a few thousand writes.
    pub async fn write_contacts(
        &self,
        writes: &[ContactWrite],
        origin: Origin,
    ) -> Result<Vec<Result<Contact, StoreError>>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let results = dispatch_write!(self, write_contacts(writes, origin))?;
        for saved in results.iter().flatten() {
            if saved.changed {
                self.emit(ContactEvent::Changed {
                    contact_id: saved.contact.id,
                    origin,
                });
            }
        }
        Ok(results
            .into_iter()
            .map(|result| result.map(|saved| saved.contact))
            .collect())
    }

    /// Deletes a contact; its change log stays, with a final [`DELETED_FIELD`] row.
    pub async fn delete_contact(&self, id: ContactId, origin: Origin) -> Result<(), StoreError> {
        dispatch_write!(self, delete_contact(id, origin))?;
        self.emit(ContactEvent::Deleted { contact_id: id });
        Ok(())
    }

    pub async fn contact(&self, id: ContactId) -> Result<Contact, StoreError> {
        dispatch!(self, contact(id))?.ok_or_else(|| StoreError::NotFound {
            what: format!("contact {id}"),
        })
    }

    pub async fn contact_by_email(&self, email: &Email) -> Result<Option<Contact>, StoreError> {
        dispatch!(self, contact_by_email(email))
    }

    /// Several contacts by id (missing ids are left out), ordered by id.
    pub async fn contacts_by_id(&self, ids: &[ContactId]) -> Result<Vec<Contact>, StoreError> {
        dispatch!(self, contacts_by_id(ids))
    }

    /// A page of contacts, ordered by id (keyset pagination: stable under concurrent inserts).
    pub async fn list_contacts(&self, query: &ContactQuery) -> Result<ContactPage, StoreError> {
        dispatch!(self, list_contacts(query))
    }

    pub async fn count_contacts(&self) -> Result<i64, StoreError> {
        dispatch!(self, count_contacts())
    }

    // ---- change log ----

    /// Changes recorded after `cursor`, oldest first, at most `limit`. The last change's `seq`
    /// is the next cursor. Commit order equals `seq` order (see the crate docs).
    pub async fn changes_since(
        &self,
        cursor: ChangeCursor,
        limit: u32,
    ) -> Result<Vec<FieldChange>, StoreError> {
        dispatch!(self, changes_since(cursor, limit.clamp(1, 10_000)))
    }

    /// The cursor after the latest change (start a fresh subscriber from "now").
    pub async fn latest_change_cursor(&self) -> Result<ChangeCursor, StoreError> {
        dispatch!(self, latest_change_cursor())
    }

    /// Field name → when and by whom it last changed, for one contact.
    pub async fn last_changes(
        &self,
        id: ContactId,
    ) -> Result<BTreeMap<String, LastChange>, StoreError> {
        dispatch!(self, last_changes(id))
    }

    /// The full history of one contact, oldest first.
    pub async fn contact_history(&self, id: ContactId) -> Result<Vec<FieldChange>, StoreError> {
        dispatch!(self, contact_history(id))
    }

    // ---- forms ----

    pub async fn create_form(&self, form: &NewForm) -> Result<Form, StoreError> {
        self.create_form_with_redirect(form, None).await
    }

    /// [`Store::create_form`] with the URL a browser posting the form as plain HTML is sent to
    /// afterwards (see [`check_redirect_url`]); `None` or blank: no redirect URL. Every problem
    /// of the form and of the URL is reported at once.
    pub async fn create_form_with_redirect(
        &self,
        form: &NewForm,
        redirect_url: Option<&str>,
    ) -> Result<Form, StoreError> {
        let schema = self.schema().await?;
        let (checked, redirect) = match (
            check_new_form(form, &schema),
            check_redirect_url(redirect_url),
        ) {
            (Ok(checked), Ok(redirect)) => (checked, redirect),
            (Err(StoreError::Invalid(mut problems)), Err(StoreError::Invalid(more))) => {
                problems.extend(more);
                return Err(StoreError::Invalid(problems));
            }
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        dispatch_write!(self, create_form(&checked, redirect.as_deref()))
    }

    /// Sets (or, with `None` or blank, clears) a form's redirect URL (see
    /// [`check_redirect_url`]).
    pub async fn set_form_redirect_url(
        &self,
        id: i64,
        redirect_url: Option<&str>,
    ) -> Result<Form, StoreError> {
        let redirect = check_redirect_url(redirect_url)?;
        let form = dispatch_write!(self, set_form_redirect_url(id, redirect.as_deref()));
        self.submissions.forget_forms(Some(id));
        form?.ok_or_else(|| StoreError::NotFound {
            what: format!("form {id}"),
        })
    }

    pub async fn forms(&self) -> Result<Vec<Form>, StoreError> {
        dispatch!(self, forms())
    }

    pub async fn form(&self, id: i64) -> Result<Form, StoreError> {
        dispatch!(self, form(id))?.ok_or_else(|| StoreError::NotFound {
            what: format!("form {id}"),
        })
    }

    /// Submissions of one form, newest first, `before` a submission id (keyset pagination).
    pub async fn submissions(
        &self,
        form_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Submission>, StoreError> {
        dispatch!(self, submissions(form_id, before, limit.clamp(1, 1000)))
    }

    // ---- API keys ----

    /// Creates a key; the token is returned once and only its SHA-256 is stored.
    pub async fn create_api_key(&self, name: &str) -> Result<(ApiKey, SecretString), StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StoreError::invalid(
                "name",
                "an API key needs a name of 1 to 100 characters",
            ));
        }
        let token = secrets::new_api_token();
        let prefix: String = token.expose_secret().chars().take(12).collect();
        let hash = secrets::token_sha256(token.expose_secret());
        let key = dispatch_write!(self, create_api_key(name, &prefix, &hash))?;
        Ok((key, token))
    }

    /// The key a bearer token belongs to, if it exists and is not revoked; records its use.
    pub async fn verify_api_key(&self, token: &str) -> Result<Option<ApiKey>, StoreError> {
        let hash = secrets::token_sha256(token);
        dispatch!(self, verify_api_key(&hash))
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        dispatch!(self, api_keys())
    }

    pub async fn revoke_api_key(&self, id: i64) -> Result<(), StoreError> {
        dispatch_write!(self, revoke_api_key(id))
    }

    // ---- secrets ----

    /// Encrypts and stores a secret under `name` (replacing any previous value).
    pub async fn put_secret(
        &self,
        key: &MasterKey,
        name: &str,
        value: &SecretString,
    ) -> Result<(), StoreError> {
        let sealed = key.seal(name, value.expose_secret().as_bytes())?;
        dispatch_write!(self, put_secret(name, &sealed.nonce, &sealed.ciphertext))
    }

    /// Decrypts the secret `name`; `Ok(None)` when none is stored. A key that is not the one the
    /// secret was written with gives [`SecretError::WrongKey`], never garbage.
    pub async fn secret(
        &self,
        key: &MasterKey,
        name: &str,
    ) -> Result<Option<SecretString>, StoreError> {
        let Some((nonce, ciphertext)) = dispatch!(self, secret(name))? else {
            return Ok(None);
        };
        let plain = key.open(name, &secrets::Sealed { nonce, ciphertext })?;
        Ok(Some(plain))
    }

    pub async fn delete_secret(&self, name: &str) -> Result<bool, StoreError> {
        dispatch_write!(self, delete_secret(name))
    }

    /// The names of the stored secrets (never their values).
    pub async fn secret_names(&self) -> Result<Vec<String>, StoreError> {
        dispatch!(self, secret_names())
    }

    /// Checks that `key` opens the secrets already stored (call at start-up for a clear error).
    pub async fn check_master_key(&self, key: &MasterKey) -> Result<(), StoreError> {
        for name in self.secret_names().await? {
            self.secret(key, &name).await?;
        }
        Ok(())
    }

    // ---- import (used by `import.rs`) ----

    pub(crate) async fn import_batch(
        &self,
        schema: &Schema,
        rows: Vec<(u64, Patch)>,
    ) -> Result<import::BatchOutcome, StoreError> {
        dispatch_write!(self, import_batch(schema, rows))
    }

    /// Streams all contacts by id order, `batch` at a time, to `each`.
    pub(crate) async fn contacts_after(
        &self,
        after: ContactId,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError> {
        dispatch!(self, contacts_after(after, limit))
    }

    pub(crate) fn emit_changed(&self, ids: &[ContactId], origin: Origin) {
        if self.events.receiver_count() == 0 {
            return;
        }
        for id in ids {
            self.emit(ContactEvent::Changed {
                contact_id: *id,
                origin,
            });
        }
    }
}

const RESERVED_FIELD_NAMES: [&str; 6] = [
    "id",
    "updated_at",
    "stage_reached",
    "custom",
    "_deleted",
    "url",
];

fn check_new_field(field: &NewCustomField) -> Result<NewCustomField, StoreError> {
    let mut problems = Vec::new();
    let name = field.name.trim().to_owned();
    let well_formed = name.len() <= 40
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        problems.push(Problem::new(
            "name",
            format!(
                "'{name}' must be 1 to 40 characters of a-z, 0-9 and _, starting with a letter"
            ),
        ));
    } else if Attribute::from_name(&name).is_some() || RESERVED_FIELD_NAMES.contains(&name.as_str())
    {
        problems.push(Problem::new(
            "name",
            format!("'{name}' is a standard attribute or reserved"),
        ));
    }
    let label = field
        .label
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .unwrap_or(&name)
        .to_owned();
    if label.chars().count() > 100 {
        problems.push(Problem::new(
            "label",
            "is longer than 100 characters".into(),
        ));
    }
    let mut options: Vec<String> = Vec::new();
    for option in &field.options {
        let option = option.trim();
        if option.is_empty() || option.chars().count() > 255 {
            problems.push(Problem::new(
                "options",
                "each option needs 1 to 255 characters".into(),
            ));
        } else if options.iter().any(|o| o.eq_ignore_ascii_case(option)) {
            problems.push(Problem::new(
                "options",
                format!("'{option}' is listed twice"),
            ));
        } else {
            options.push(option.to_owned());
        }
    }
    match field.kind {
        FieldKind::Picklist if options.is_empty() => problems.push(Problem::new(
            "options",
            "a picklist needs at least one option".into(),
        )),
        FieldKind::Picklist => {}
        _ if !options.is_empty() => problems.push(Problem::new(
            "options",
            "only a picklist has options".into(),
        )),
        _ => {}
    }
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    Ok(NewCustomField {
        name,
        label: Some(label),
        kind: field.kind,
        options,
    })
}

/// The longest redirect URL a form accepts.
pub const REDIRECT_URL_MAX: usize = 2000;

/// Checks a form's redirect URL: an absolute `http` or `https` URL with a host, no user name or
/// password in it, at most [`REDIRECT_URL_MAX`] characters. Surrounding blanks are trimmed;
/// `None` or blank means no redirect URL (`Ok(None)`). Problems name the field `redirect_url`.
pub fn check_redirect_url(url: Option<&str>) -> Result<Option<String>, StoreError> {
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: &str| Err(StoreError::invalid("redirect_url", why));
    if url.chars().count() > REDIRECT_URL_MAX {
        return bad(&format!("must be at most {REDIRECT_URL_MAX} characters"));
    }
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => return bad(&format!("'{url}' is not an absolute URL ({e})")),
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return bad(&format!(
            "must be an http or https URL, not {}:",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return bad("must name a host");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return bad("must not contain a user name or password");
    }
    Ok(Some(url.to_owned()))
}

/// Attributes a public form may not set: the score is raised by the submission rule, the rest
/// are the marketer's or the system's.
const FORM_FORBIDDEN_TARGETS: [Attribute; 4] = [
    Attribute::BehaviourScore,
    Attribute::State,
    Attribute::LifecycleStage,
    Attribute::CreatedAt,
];

fn check_new_form(form: &NewForm, schema: &Schema) -> Result<NewForm, StoreError> {
    let mut problems = Vec::new();
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        problems.push(Problem::new(
            "name",
            "a form needs a name of 1 to 200 characters".into(),
        ));
    }
    let mut seen_email = false;
    for (input, target) in &form.mapping {
        let field = format!("mapping.{input}");
        if input.trim().is_empty() || input.len() > 100 {
            problems.push(Problem::new(
                &field,
                "an input name needs 1 to 100 characters".into(),
            ));
        }
        match Attribute::from_name(target) {
            Some(Attribute::Email) if seen_email => problems.push(Problem::new(
                &field,
                "only one input may map to email".into(),
            )),
            Some(Attribute::Email) => seen_email = true,
            Some(a) if FORM_FORBIDDEN_TARGETS.contains(&a) => problems.push(Problem::new(
                &field,
                format!("'{target}' cannot be set by a form"),
            )),
            Some(_) => {}
            None if schema.fields.iter().any(|f| &f.name == target) => {}
            None => problems.push(Problem::new(
                &field,
                format!("'{target}' is not a contact attribute or custom field"),
            )),
        }
    }
    if !seen_email {
        problems.push(Problem::new(
            "mapping",
            "one input must map to email".into(),
        ));
    }
    let increment = form.score_increment.unwrap_or(DEFAULT_SCORE_INCREMENT);
    if !(0..=BEHAVIOUR_SCORE_MAX).contains(&increment) {
        problems.push(Problem::new(
            "score_increment",
            format!("must be between 0 and {BEHAVIOUR_SCORE_MAX}"),
        ));
    }
    if !problems.is_empty() {
        return Err(StoreError::Invalid(problems));
    }
    Ok(NewForm {
        name,
        mapping: form.mapping.clone(),
        score_increment: Some(increment),
    })
}
