//! `lb-engine`: the sync that runs — the imperative shell around the pure core (`lb-core`).
//!
//! **Job.** Connect to an org and check it ([`connect`]), run syncs ([`Engine::run`]): pull the
//! org's changes since its watermark, take ours since our cursor, plan with the core, apply
//! through the Salesforce client, record links, bases and provenance after each applied
//! batch; schedule them ([`Scheduler`]: an interval, form submissions, manual triggers,
//! cancellation); keep the connection's [`Health`]; report ([`Engine::status`]).
//!
//! **Invariants.**
//! - Crash safety: an intent is journalled before any Lead is created and cleared with the
//!   link that records its Id; contacts with a leftover intent are looked up in the org by
//!   email before anything is created for them again. Killed at any instant and run again, no
//!   Lead is duplicated.
//! - No change is lost: the org watermark (`SystemModstamp`, read again with an overlap) and
//!   our change-log cursor only move after a run applied everything it read; re-reading a
//!   record is harmless (three-way merge against the stored bases).
//! - Credentials refused → [`Health::CredentialsRejected`]: nothing is sent to Salesforce again
//!   until new credentials are saved; then the next run resumes where the last one stopped.
//! - Allowance spent or budget reached → paused ([`Health::AllowanceSpent`],
//!   [`Health::BudgetReached`]) until a later check finds room.
//! - One run at a time, across processes (a lease in the store, taken over from a dead
//!   process).
//! - Every failed record is recorded with the org's `errorCode`, message and record.

pub mod connection;
mod convert;
pub mod deletes;
pub mod health;
mod lock;
pub mod runner;
pub mod scheduler;
pub mod settings;

pub use connection::{
    ConnectReport, ConnectRequest, ConnectionSettings, FieldCheck, FieldStatus, OrgSummary,
    REDIRECT_PATH, complete_web_oauth, connect, load_credentials, org_fields,
};
pub use health::Health;
pub use runner::{
    DuplicateReport, Engine, ObjectCounts, Progress, ProgressFn, REPORTED_MAX, RunCounts,
    RunOutcome, RunRequest, Scope, SideCounts, SkipReport, StatusReport, Trigger,
};
pub use scheduler::{RunningScheduler, Scheduler, SchedulerConfig, SchedulerHandle};
pub use settings::{FullResyncPolicy, SyncSettings, Watermarks};

pub use lb_store::sync::{RunFailure, RunRecord, RunStatus};

/// Everything that can stop the engine itself (as opposed to a run that ends failed or
/// paused, which is an [`RunOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] lb_store::StoreError),
    #[error(transparent)]
    Salesforce(#[from] lb_salesforce::Error),
    /// Nothing is connected yet.
    #[error("no Salesforce connection is set up: run `leadbridge connect` first")]
    NotConnected,
    /// Another process is running a sync.
    #[error("a sync is already running ({0}); try again when it has finished")]
    Busy(String),
    #[error("{0}")]
    Invalid(String),
}
