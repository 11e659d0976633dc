//! The runner: one sync run from reading to recording (see the crate docs for invariants).
//!
//! A run, with memory following the partition rather than the base:
//! 1. **Read** (`read_our_changes`, `read_org_changes`): the ids of our changed contacts
//!    (change log after our cursor; every contact for a full run) and the org's changed Leads
//!    and Contacts (`SystemModstamp > watermark − overlap`; everything for a full run) go to the
//!    run's spool in the store (`lb_store::sync` spool), page by page. A read whose first REST
//!    page says `totalSize` above `bulk_read_threshold` continues as one Bulk API 2.0 query job.
//!    Linked records read back unchanged since their last sync are left out as they arrive.
//! 2. **Partitions** (`run_partitions`): ranges of normalised emails holding about
//!    `plan_partition` records and contacts — whole email groups. Each is taken out of the
//!    spool, completed as the core's input contract asks (`gather`: links, the record linked to
//!    each contact and the Contact of each converted Lead taken from the spool too, the contacts
//!    linked to its records, then every holder of a sensitive email — looked up in the org, or
//!    in the spool for a full run) and planned with `lb_core::plan`. Its pairs that write only
//!    to our side are applied at once (`apply_plan` → `record_batch`); the pairs that write to
//!    the org (Lead creates and updates) and the seed updates go to the run's **outbox** in the
//!    store (`lb_store::sync` outbox: the serialized `PairPlan` and the link before it). A pair
//!    whose contact or record already waits in the outbox (planned by an earlier partition) is
//!    left to the next run through the retry table, never planned twice from one state.
//! 3. **Outbox** (`flush_outbox`), once every partition is planned: one budget check for the
//!    whole outbox, then Lead creates, Lead updates and seed updates, each in jobs of up to
//!    [`OUTBOX_JOB_ROWS`] rows read from the store page by page (one Bulk 2.0 ingest job for a
//!    100,000-contact push instead of one per partition; collections for small volumes, as the
//!    client's policy decides). A create's intent is journalled before its job is sent. After
//!    each job its pairs are read back batch by batch and recorded (`record_batch`): their
//!    marketing side (which waits for its org write), counts, failures, links, bases,
//!    provenance and settled intents in one `commit_batch` per batch.
//! 4. **Page links**: a contact created here from an org Lead gets its `page_url` (the Lead's
//!    `plezi_url`, R-FIELD-1, known only once the contact has an id) as a Lead update in the
//!    outbox of the same run, with the base it leaves (`push_page_url`): sent with the other
//!    updates, so the next run neither re-reads the Lead by Id nor sends anything.
//! 5. **Watermarks** move only when everything read was applied and sent; the spool and the
//!    outbox are cleared at the end whatever happened (a run that stopped is read and planned
//!    again by the next one; a dead run's are discarded by the next leased run). Records whose
//!    write failed go to the retry table (`lb_store::sync::RetryKind`), read again page by
//!    page by the next runs; a complete run settles the older rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use lb_core::{
    Mapping, OrgRecord, PairPlan, Plan, RunId, SObject, Side, SyncInput, SyncedLink,
    WriteOp as PlanOp,
};
use lb_salesforce::{
    ApiError, Client, Credentials, Error as SfError, Record, RecordResult, WriteOp,
};
use lb_store::sync::{
    BatchCommit, Intent, KeyRange, NewRun, OursSource, OutboxKind, OutboxRow, ProvenanceEntry,
    RetryKind, RunEnd, RunFailure, RunRecord, RunStatus, StoredLink,
};
use lb_store::{
    ChangeCursor, Contact, ContactId, ContactWrite, Email, MasterKey, Origin, Store, StoreError,
};
use serde::Serialize;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::connection::{ConnectionSettings, client_config, load_credentials};
use crate::convert::{
    PAGE_URL, contact_input, org_fields, org_record, our_contact, page_url, soql_datetime,
    typed_bulk_record,
};
use crate::deletes::{self, DeleteCounts, DeletedRecord, Suppressed};
use crate::health::Health;
use crate::settings::{FullResyncPolicy, SyncSettings, Watermarks, load_mapping};
use crate::{EngineError, lock};

/// Emails per `Email IN (…)` lookup: about 11,000 characters of URL, below Salesforce's
/// 16,384-character limit for a GET query.
const EMAIL_LOOKUP_CHUNK: usize = 300;
/// Change-log rows read per page.
const CHANGE_PAGE: u32 = 10_000;
/// A dry run's spool left behind (the process died) is discarded after this long.
const DRY_SPOOL_MAX_AGE_SECS: i64 = 6 * 3600;

/// What started a run (recorded in the history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Manual,
    Schedule,
    FormSubmission,
    CredentialsSaved,
    Startup,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::FormSubmission => "form_submission",
            Trigger::CredentialsSaved => "credentials_saved",
            Trigger::Startup => "startup",
        }
    }
}

/// What a run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Changes since the watermarks (a full resync when none exist yet, or when the mapping
    /// changed and the settings say so).
    Incremental,
    /// Everything on both sides (R-SYNC-5).
    Full,
    /// Only these contacts of ours (a form submission): pushed without reading the org's
    /// changes; the watermarks do not move.
    Contacts(Vec<ContactId>),
}

/// Progress of a run, for progress bars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A phase starts ("reading the org", "planning", "applying", "sending to the org").
    Phase(&'static str),
    /// Records read so far from the org.
    Read { records: u64 },
    /// Pairs applied so far in the whole run, out of `total`: the pairs planned so far (the
    /// run's total once every partition is planned, before the outbox is sent).
    Applied { done: u64, total: u64 },
}

pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// One run to do.
#[derive(Clone)]
pub struct RunRequest {
    pub trigger: Trigger,
    pub scope: Scope,
    /// Plan only: nothing is written anywhere (not even the run history).
    pub dry_run: bool,
    pub progress: Option<ProgressFn>,
    /// Stops the run between two batches (what was applied is recorded).
    pub cancel: Option<CancellationToken>,
}

impl RunRequest {
    pub fn new(trigger: Trigger, scope: Scope) -> RunRequest {
        RunRequest {
            trigger,
            scope,
            dry_run: false,
            progress: None,
            cancel: None,
        }
    }
}

/// Counts of one object on one side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ObjectCounts {
    pub created: u64,
    pub updated: u64,
    pub failed: u64,
}

/// Counts per object on one side (the org side writes only Leads: R-SYNC-2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SideCounts {
    #[serde(rename = "Lead")]
    pub lead: ObjectCounts,
    #[serde(rename = "Contact")]
    pub contact: ObjectCounts,
}

impl SideCounts {
    fn of(&mut self, object: SObject) -> &mut ObjectCounts {
        match object {
            SObject::Lead => &mut self.lead,
            SObject::Contact => &mut self.contact,
        }
    }
}

/// Everything a run counts (R-SYNC-7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    pub read_org_leads: u64,
    pub read_org_contacts: u64,
    pub read_contacts: u64,
    /// Writes to the org, per object.
    pub crm: SideCounts,
    /// Writes to our contacts, per org object they came from.
    pub marketing: SideCounts,
    pub skipped: u64,
    pub conflicts: u64,
    pub duplicate_groups: u64,
    pub links_matched: u64,
    pub links_followed: u64,
    pub seed_updates: u64,
    /// Records whose write failed (every one is in the run's failures).
    pub failed: u64,
    /// Each record left out, with the reason (R-SYNC-1, R-SYNC-7), the first
    /// [`REPORTED_MAX`] of them (`skipped` has the exact count).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skips: Vec<SkipReport>,
    /// Each duplicate group of the org (R-SYNC-3), the first [`REPORTED_MAX`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<DuplicateReport>,
    /// Org records deleted or merged away since the last run, and what became of their links
    /// (see [`crate::deletes`]); a dry run only counts them (`read`).
    #[serde(default, skip_serializing_if = "DeleteCounts::is_empty")]
    pub deletes: DeleteCounts,
}

/// How many skips and duplicate groups a run's record lists one by one.
pub const REPORTED_MAX: usize = 500;

/// One record the run left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkipReport {
    /// `marketing` (our contact id) or `crm` (the org record's Id).
    pub side: &'static str,
    pub id: String,
    pub object: Option<String>,
    pub reason: String,
}

/// One group of org records sharing an email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateReport {
    pub email: String,
    /// Ids in the deterministic order (the first is the one synced).
    pub records: Vec<String>,
    pub synced: String,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// `None` for a dry run (nothing recorded).
    pub run_id: Option<i64>,
    pub status: RunStatus,
    pub trigger: Trigger,
    /// `full`, `incremental` or `contacts`.
    pub scope: String,
    pub dry_run: bool,
    pub counts: RunCounts,
    /// API requests this run used (counted against the daily allowance).
    pub api_requests: u64,
    pub message: Option<String>,
    pub health: Health,
    pub failures: Vec<RunFailure>,
    /// The plan (dry runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

/// `leadbridge status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub connected: bool,
    pub connection: Option<serde_json::Value>,
    pub health: Health,
    pub health_explained: String,
    pub last_run: Option<serde_json::Value>,
    pub last_success: Option<serde_json::Value>,
    /// When the scheduler (`leadbridge serve`) runs next, if one is running.
    pub next_run: Option<String>,
    pub interval_minutes: u64,
    pub backlog: Backlog,
    pub watermarks: Watermarks,
}

/// Work waiting for the next run (the org's side costs API requests to know; not counted).
#[derive(Debug, Clone, Serialize)]
pub struct Backlog {
    /// Contacts of ours changed since the last complete run.
    pub contacts_changed: i64,
    /// Lead creations whose outcome is not recorded yet (settled by the next run).
    pub pending_creates: usize,
    /// Records read again by the next run because their last write failed (the store's
    /// retry table).
    pub retries: usize,
}

/// The sync engine of one contact base. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    key: MasterKey,
    /// One run at a time in this process (the lease covers other processes).
    gate: tokio::sync::Mutex<()>,
    /// The client of the current credentials version (its session and describe cache survive
    /// between runs).
    client: Mutex<Option<((u64, String), Client)>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

pub(crate) const SCHEDULE_KEY: &str = "scheduler";
/// The state value older versions kept the retry set in (moved to the retry table once).
const RETRY_KEY: &str = "retry";

/// The retry set as older versions kept it (one JSON state value): read once, moved to the
/// store's retry table ([`lb_store::sync::RetryKind`]).
#[derive(Debug, Clone, Default, serde::Deserialize)]
struct LegacyRetry {
    #[serde(default)]
    contacts: BTreeSet<i64>,
    #[serde(default)]
    leads: BTreeSet<String>,
    #[serde(default)]
    org_contacts: BTreeSet<String>,
}

/// Outbox rows a Bulk job carries at most: a job's rows, their outcomes and the table the client
/// uploads are in memory at once (about 1 KB a row at worst), so this bounds the flush's
/// memory; 100,000 rows is also the Bulk job size Salesforce's own tools default to.
const OUTBOX_JOB_ROWS: usize = 100_000;
/// Outbox rows read per page while a job's rows are built, and put per statement group while
/// a partition is planned (small: each is a few KB of JSON, transient).
const OUTBOX_PAGE: usize = 1_000;

/// One entry of the run's outbox: a pair whose org write waits for the flush, with the link
/// it had before (for [`PairPlan::link_after`]).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct OutboxEntry {
    pair: PairPlan,
    #[serde(default)]
    previous: Option<SyncedLink>,
}

/// A seed update in the outbox.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SeedEntry {
    lead_id: String,
    values: Vec<lb_core::WrittenValue>,
}

fn retry_kind(object: SObject) -> RetryKind {
    match object {
        SObject::Lead => RetryKind::Lead,
        SObject::Contact => RetryKind::OrgContact,
    }
}

enum Stop {
    Sf(SfError),
    Store(StoreError),
    Cancelled,
    Invalid(String),
}

impl From<SfError> for Stop {
    fn from(e: SfError) -> Stop {
        Stop::Sf(e)
    }
}
impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Stop {
        Stop::Store(e)
    }
}
impl From<EngineError> for Stop {
    fn from(e: EngineError) -> Stop {
        match e {
            EngineError::Store(s) => Stop::Store(s),
            EngineError::Salesforce(s) => Stop::Sf(s),
            other => Stop::Invalid(other.to_string()),
        }
    }
}

impl Engine {
    pub fn new(store: Store, key: MasterKey) -> Engine {
        Engine {
            inner: Arc::new(Inner {
                store,
                key,
                gate: tokio::sync::Mutex::new(()),
                client: Mutex::new(None),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn master_key(&self) -> &MasterKey {
        &self.inner.key
    }

    /// Checks and saves a connection (see [`crate::connect`]); a sync paused by refused
    /// credentials resumes with the next run.
    pub async fn connect(
        &self,
        request: crate::ConnectRequest,
    ) -> Result<crate::ConnectReport, EngineError> {
        let report = crate::connect(&self.inner.store, &self.inner.key, request).await?;
        Ok(report)
    }

    /// The client for the saved credentials (a new one when they changed).
    async fn client(&self, conn: &ConnectionSettings) -> Result<Client, EngineError> {
        let settings = SyncSettings::load(&self.inner.store).await?;
        let settings_key = format!(
            "{}/{}/{}",
            settings.budget_share, settings.bulk_write_threshold, settings.bulk_query_page
        );
        if let Some((version, client)) = self
            .inner
            .client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            // A new client when the credentials or the settings it was built with changed.
            if version.0 == conn.credentials_version && version.1 == settings_key {
                return Ok(client.clone());
            }
        }
        let (conn, credentials): (ConnectionSettings, Credentials) =
            load_credentials(&self.inner.store, &self.inner.key)
                .await?
                .ok_or(EngineError::NotConnected)?;
        let mut config = client_config(&conn.login_url, &settings);
        // Bulk query result pages are parsed whole: their size bounds the read's memory.
        config.bulk.query_page_records = settings.bulk_query_page.max(1);
        let client = Client::new(config, credentials)?;
        *self.inner.client.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(((conn.credentials_version, settings_key), client.clone()));
        Ok(client)
    }

    /// Runs one sync. `Err` only when the run could not even start (no connection, another
    /// process is running one, the store failed); everything else is in the outcome.
    pub async fn run(&self, request: RunRequest) -> Result<RunOutcome, EngineError> {
        let _gate = self.inner.gate.lock().await;
        let store = &self.inner.store;
        let sync = store.sync();
        let conn = ConnectionSettings::load(store)
            .await?
            .ok_or(EngineError::NotConnected)?;
        let health = Health::load(store).await?;
        let scope_name = match &request.scope {
            Scope::Incremental => "incremental",
            Scope::Full => "full",
            Scope::Contacts(_) => "contacts",
        };
        let mut outcome = RunOutcome {
            run_id: None,
            status: RunStatus::Running,
            trigger: request.trigger,
            scope: scope_name.to_owned(),
            dry_run: request.dry_run,
            counts: RunCounts::default(),
            api_requests: 0,
            message: None,
            health: health.clone(),
            failures: Vec::new(),
            plan: None,
        };
        let now = OffsetDateTime::now_utc();
        if !health.may_run(
            conn.credentials_version,
            now,
            request.trigger == Trigger::Manual,
        ) {
            // R-CONN-6: no request at all while the refused credentials are the saved ones.
            outcome.status = RunStatus::Paused;
            outcome.message = Some(health.explain());
            if !request.dry_run {
                let id = sync
                    .start_run(&self.new_run(&request, scope_name, None))
                    .await?;
                sync.finish_run(id, &end_of(&outcome)).await?;
                outcome.run_id = Some(id);
            }
            return Ok(outcome);
        }

        let token = format!("{}-{}", std::process::id(), now.unix_timestamp_nanos());
        let lease = if request.dry_run {
            None
        } else {
            Some(lock::acquire(store, &token).await?)
        };
        if lease.is_some() {
            // Holding the lease, any run still marked running was cut short (kill -9, crash).
            for stale in sync.running_runs().await? {
                let end = RunEnd {
                    status: RunStatus::Failed,
                    counts: stale.counts.clone(),
                    api_requests: stale.api_requests,
                    message: Some(
                        "interrupted: the process stopped mid-run; what it applied is recorded and the next run took over"
                            .into(),
                    ),
                };
                sync.finish_run(stale.id, &end).await?;
            }
        }
        let result = self.run_leased(&request, &conn, health, &mut outcome).await;
        if let Some(lease) = &lease {
            lock::release(store, lease).await?;
        }
        result.map(|()| outcome)
    }

    fn new_run(&self, request: &RunRequest, scope: &str, mapping_hash: Option<String>) -> NewRun {
        NewRun {
            triggered_by: request.trigger.name().to_owned(),
            scope: scope.to_owned(),
            dry_run: request.dry_run,
            owner: format!("{}@{}", std::process::id(), lock::hostname()),
            mapping_hash,
        }
    }

    async fn run_leased(
        &self,
        request: &RunRequest,
        conn: &ConnectionSettings,
        health: Health,
        outcome: &mut RunOutcome,
    ) -> Result<(), EngineError> {
        let store = &self.inner.store;
        let sync = store.sync();
        let settings = SyncSettings::load(store).await?;
        let mapping = effective_mapping(load_mapping(store).await?, conn);
        // The record says what runs: an incremental request may be a full resync.
        let resolved = Resolved::of(
            &request.scope,
            &Watermarks::load(store).await?,
            &mapping.hash(),
            &settings,
        );
        outcome.scope = resolved.name().to_owned();
        let run_id = if request.dry_run {
            None
        } else {
            Some(
                sync.start_run(&self.new_run(request, resolved.name(), Some(mapping.hash())))
                    .await?,
            )
        };
        outcome.run_id = run_id;
        // The run's rows in the read spool. A dry run holds no lease: a negative id of its own.
        let spool_id = match run_id {
            Some(id) => {
                // Holding the lease: the spool of any other run is a dead run's, discarded
                // (its watermarks did not move: this run reads the same records again).
                sync.spool_discard_others(id, DRY_SPOOL_MAX_AGE_SECS)
                    .await?;
                // Likewise its outbox: what it planned is planned again from the same reads.
                sync.outbox_discard_others(id).await?;
                // The retry set of older versions moves to the retry table.
                if let Some(legacy) = sync.state_json::<LegacyRetry>(RETRY_KEY).await? {
                    let mut ids: Vec<(RetryKind, String)> = Vec::new();
                    ids.extend(
                        legacy
                            .contacts
                            .iter()
                            .map(|c| (RetryKind::Contact, c.to_string())),
                    );
                    ids.extend(legacy.leads.into_iter().map(|l| (RetryKind::Lead, l)));
                    ids.extend(
                        legacy
                            .org_contacts
                            .into_iter()
                            .map(|c| (RetryKind::OrgContact, c)),
                    );
                    sync.retry_add(0, &ids).await?;
                    sync.delete_state(RETRY_KEY).await?;
                }
                id
            }
            None => -(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64,
        };
        let client = match self.client(conn).await {
            Ok(c) => c,
            Err(e) => {
                outcome.status = RunStatus::Failed;
                outcome.message = Some(e.to_string());
                if let Some(id) = run_id {
                    sync.finish_run(id, &end_of(outcome)).await?;
                }
                return Ok(());
            }
        };
        // The run was allowed to start (see `Health::may_run`): a `REQUEST_LIMIT_EXCEEDED` latch
        // from an earlier run of this client must not stop it before it asks the org again.
        client.resume();
        let before = client.request_counts();
        let mut run = RunCtx {
            store: store.clone(),
            client: client.clone(),
            conn: conn.clone(),
            settings,
            mapping,
            request: request.clone(),
            run_id: run_id.unwrap_or(0),
            spool_id,
            counts: RunCounts::default(),
            failures: Vec::new(),
            notes: Vec::new(),
            plan: None,
            previous: HashMap::new(),
            masters: Vec::new(),
            retry_new: Vec::new(),
            url_rows: Vec::new(),
            applied: 0,
            planned: 0,
            tracking: None,
            stamps: Vec::new(),
            stamps_kept: 0,
            suppressed: Suppressed::default(),
            deleted: Vec::new(),
        };
        let result = run.execute().await;
        // What a run did not plan or send (stopped, cancelled) is read again by the next one.
        sync.spool_clear(spool_id).await?;
        if let Some(id) = run_id {
            sync.outbox_clear(id).await?;
            sync.retry_add(id, &std::mem::take(&mut run.retry_new))
                .await?;
            // A complete run read every earlier retry again: its own failures replace them.
            if result.is_ok() && !matches!(request.scope, Scope::Contacts(_)) {
                sync.retry_settle(id).await?;
            }
        }
        outcome.api_requests = client.request_counts().since(&before).api_calls();
        outcome.counts = run.counts;
        outcome.plan = run.plan;
        outcome.failures = run.failures;
        let mut notes = run.notes;
        let new_health = match result {
            Ok(()) => {
                outcome.status = RunStatus::Succeeded;
                if outcome.counts.failed > 0 {
                    notes.push(format!(
                        "{} record(s) failed; each is listed with the org's error in `leadbridge runs show {}`",
                        outcome.counts.failed,
                        run_id.map(|i| i.to_string()).unwrap_or_default()
                    ));
                }
                Some(Health::Healthy {
                    since: OffsetDateTime::now_utc(),
                })
            }
            Err(Stop::Sf(e)) => match Health::from_stop(&e, conn.credentials_version) {
                Some(h) => {
                    outcome.status = RunStatus::Paused;
                    notes.insert(0, h.explain());
                    Some(h)
                }
                None => {
                    outcome.status = RunStatus::Failed;
                    notes.insert(0, e.to_string());
                    Some(Health::failing_after(&health, e.to_string()))
                }
            },
            Err(Stop::Store(e)) => {
                outcome.status = RunStatus::Failed;
                notes.insert(0, format!("the contact base failed: {e}"));
                None
            }
            Err(Stop::Invalid(m)) => {
                outcome.status = RunStatus::Failed;
                notes.insert(0, m.clone());
                Some(Health::failing_after(&health, m))
            }
            Err(Stop::Cancelled) => {
                outcome.status = RunStatus::Paused;
                notes.insert(
                    0,
                    "stopped by shutdown; the next run continues from here".into(),
                );
                None
            }
        };
        outcome.message = (!notes.is_empty()).then(|| notes.join("\n"));
        if !request.dry_run
            && let Some(h) = new_health
        {
            h.save(store).await?;
            outcome.health = h;
        }
        if let Some(id) = run_id {
            sync.finish_run(id, &end_of(outcome)).await?;
        }
        Ok(())
    }

    /// `leadbridge status`: connection, health, last and next run, backlog. Sends nothing to
    /// Salesforce.
    pub async fn status(&self) -> Result<StatusReport, EngineError> {
        let store = &self.inner.store;
        let sync = store.sync();
        let conn = ConnectionSettings::load(store).await?;
        let health = match &conn {
            None => Health::NotConnected,
            Some(_) => Health::load(store).await?,
        };
        let settings = SyncSettings::load(store).await?;
        let watermarks = Watermarks::load(store).await?;
        let last_run = sync.last_finished_run(None).await?;
        let last_success = sync.last_finished_run(Some(RunStatus::Succeeded)).await?;
        let schedule: Option<serde_json::Value> = sync.state_json(SCHEDULE_KEY).await?;
        let next_run = schedule.and_then(|s| {
            let pid = s.get("pid")?.as_u64()?;
            let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
            alive
                .then(|| s.get("next_run_at")?.as_str().map(str::to_owned))
                .flatten()
        });
        Ok(StatusReport {
            connected: conn.is_some(),
            connection: conn.as_ref().map(connection_view),
            health_explained: health.explain(),
            health,
            last_run: last_run.as_ref().map(run_view),
            last_success: last_success.as_ref().map(run_view),
            next_run,
            interval_minutes: settings.interval_minutes,
            backlog: Backlog {
                contacts_changed: sync.backlog(watermarks.ours).await?,
                pending_creates: sync.intents().await?.len(),
                retries: usize::try_from(sync.retry_len().await?).unwrap_or(0)
                    + sync
                        .state_json::<LegacyRetry>(RETRY_KEY)
                        .await?
                        .map_or(0, |r| {
                            r.contacts.len() + r.leads.len() + r.org_contacts.len()
                        }),
            },
            watermarks,
        })
    }
}

/// A connection as shown to the user (no secret in it).
pub fn connection_view(c: &ConnectionSettings) -> serde_json::Value {
    serde_json::json!({
        "grant": c.grant,
        "login_url": c.login_url,
        "instance_url": c.instance_url,
        "client_id": c.client_id,
        "username": c.username,
        "org": c.org,
        "credentials_saved_at": lb_store::rfc3339(c.saved_at),
    })
}

/// A run as JSON (`leadbridge runs --json`, the web's history).
pub fn run_view(r: &RunRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "trigger": r.triggered_by,
        "scope": r.scope,
        "status": r.status.name(),
        "started_at": lb_store::rfc3339(r.started_at),
        "finished_at": r.finished_at.map(lb_store::rfc3339),
        "counts": r.counts,
        "api_requests": r.api_requests,
        "message": r.message,
        "mapping_hash": r.mapping_hash,
    })
}

fn end_of(outcome: &RunOutcome) -> RunEnd {
    RunEnd {
        status: outcome.status,
        counts: serde_json::to_value(&outcome.counts).unwrap_or_default(),
        api_requests: outcome.api_requests,
        message: outcome.message.clone(),
    }
}

/// The mapping restricted to the fields the org has (an optional field not created yet is
/// left out instead of failing every write with `INVALID_FIELD`).
fn effective_mapping(mut mapping: Mapping, conn: &ConnectionSettings) -> Mapping {
    if conn.knows_fields() {
        mapping
            .entries
            .retain(|e| conn.field_type(e.object, &e.field).is_some());
    }
    mapping
}

fn core_id(id: ContactId) -> lb_core::ContactId {
    lb_core::ContactId(id.0.to_string())
}

fn store_id(id: &lb_core::ContactId) -> Option<ContactId> {
    id.0.parse().ok().map(ContactId)
}

struct RunCtx {
    store: Store,
    client: Client,
    conn: ConnectionSettings,
    settings: SyncSettings,
    mapping: Mapping,
    request: RunRequest,
    run_id: i64,
    /// The run's rows in the read spool: its run id, a negative id for a dry run.
    spool_id: i64,
    counts: RunCounts,
    failures: Vec<RunFailure>,
    notes: Vec<String>,
    plan: Option<Plan>,
    /// The links as they were before this run, by contact (for `PairPlan::link_after`), for
    /// the partition being applied.
    previous: HashMap<ContactId, SyncedLink>,
    /// Merge winners newly linked while reading the org: read again by Id in this run.
    masters: Vec<(SObject, String)>,
    /// Records to read again next time (failed writes), added to the store's retry table
    /// after each recorded batch.
    retry_new: Vec<(RetryKind, String)>,
    /// The page link (`plezi_url`) updates of the contacts a batch created from Leads, put in
    /// the outbox once the batch is recorded.
    url_rows: Vec<OutboxRow>,
    /// Pairs applied so far, and planned so far (for `Progress::Applied`).
    applied: u64,
    planned: u64,
    /// While reading the org's changes: what to leave out as it arrives (see `prune_page`).
    tracking: Option<Tracking>,
    /// The stamps of the records read that may still fall in the next run's overlap window.
    stamps: Vec<(String, SObject, OffsetDateTime)>,
    /// How many stamps the last trim kept.
    stamps_kept: usize,
    /// Contacts left out because their org record was deleted (their tombstone), read once
    /// per run before planning.
    suppressed: Suppressed,
    /// Deleted and merged-away records the current object's read met (applied after it).
    deleted: Vec<DeletedRecord>,
}

/// What the change read leaves out page by page.
struct Tracking {
    /// Records read in the last run's overlap window, unchanged since (`Id` → stamp).
    recent: BTreeMap<String, String>,
    /// Whether unchanged linked records may be left out (the mapping did not change).
    prune: bool,
}

/// What a run does: an incremental request becomes a full resync when nothing was synced yet,
/// or when the mapping changed and the settings say so (R-SYNC-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resolved {
    full: bool,
    mapping_changed: bool,
    targeted: bool,
}

impl Resolved {
    fn of(scope: &Scope, wm: &Watermarks, mapping_hash: &str, settings: &SyncSettings) -> Resolved {
        let mapping_changed = wm
            .mapping_hash
            .as_deref()
            .is_some_and(|h| h != mapping_hash);
        let never_synced = wm.completed_at.is_none();
        let full = match scope {
            Scope::Full => true,
            Scope::Incremental => {
                never_synced
                    || (mapping_changed && settings.full_resync == FullResyncPolicy::Automatic)
            }
            Scope::Contacts(_) => false,
        };
        Resolved {
            full,
            mapping_changed,
            targeted: matches!(scope, Scope::Contacts(_)),
        }
    }

    /// What the run record says ran.
    fn name(self) -> &'static str {
        if self.targeted {
            "contacts"
        } else if self.full {
            "full"
        } else {
            "incremental"
        }
    }
}

/// Where the org read stopped (the watermarks of a complete run).
#[derive(Debug, Default)]
struct OrgRead {
    lead: Option<OffsetDateTime>,
    contact: Option<OffsetDateTime>,
}

/// One partition of the run, before planning.
#[derive(Default)]
struct Gathered {
    records: BTreeMap<String, OrgRecord>,
    contacts: BTreeMap<ContactId, Contact>,
    links: BTreeMap<ContactId, StoredLink>,
    /// org id → contact id, for the links above.
    linked_org: HashMap<String, ContactId>,
}

impl Gathered {
    fn add_links(&mut self, links: Vec<StoredLink>) {
        for l in links {
            self.linked_org.insert(l.org_id.clone(), l.contact_id);
            self.links.insert(l.contact_id, l);
        }
    }

    fn add_records(&mut self, records: Vec<OrgRecord>) -> Vec<String> {
        let mut added = Vec::new();
        for r in records {
            if !self.records.contains_key(&r.id) {
                added.push(r.id.clone());
                self.records.insert(r.id.clone(), r);
            }
        }
        added
    }
}

impl RunCtx {
    fn progress(&self, p: Progress) {
        if let Some(f) = &self.request.progress {
            f(p);
        }
    }

    fn cancelled(&self) -> bool {
        self.request
            .cancel
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
    }

    fn fields_for(&self, object: SObject) -> Vec<String> {
        let mut fields: Vec<String> = [
            "Id",
            "Email",
            "SystemModstamp",
            "LastModifiedDate",
            "CreatedDate",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        match object {
            SObject::Lead => {
                fields.extend(["IsConverted".to_string(), "ConvertedContactId".to_string()])
            }
            SObject::Contact => fields.push(lb_core::model::SYNC_FLAG_FIELD.to_string()),
        }
        for e in self.mapping.entries.iter().filter(|e| e.object == object) {
            if !fields.iter().any(|f| f.eq_ignore_ascii_case(&e.field)) {
                fields.push(e.field.clone());
            }
        }
        if self.conn.knows_fields() {
            fields.retain(|f| self.conn.field_type(object, f).is_some());
        }
        // The change read goes through `queryAll`: deletions and merges arrive with the
        // changes (standard fields of every Lead and Contact).
        fields.extend(["IsDeleted".to_string(), "MasterRecordId".to_string()]);
        fields
    }

    fn soql(&self, object: SObject, where_clause: Option<String>) -> String {
        let mut soql = format!(
            "SELECT {} FROM {}",
            self.fields_for(object).join(", "),
            object.api_name()
        );
        if let Some(w) = where_clause {
            soql.push_str(" WHERE ");
            soql.push_str(&w);
        }
        soql
    }

    /// A small live read (identity lookups by email or Id) straight into a partition: REST
    /// pages. Returns the Ids it added.
    async fn query_into(
        &mut self,
        object: SObject,
        where_clause: Option<String>,
        g: &mut Gathered,
    ) -> Result<Vec<String>, Stop> {
        let mut pager = self.client.query(self.soql(object, where_clause));
        let mut added = Vec::new();
        while let Some(page) = pager.next_page().await? {
            let mut recs = Vec::with_capacity(page.records.len());
            for r in &page.records {
                if let Some(rec) = org_record(object, r) {
                    match object {
                        SObject::Lead => self.counts.read_org_leads += 1,
                        SObject::Contact => self.counts.read_org_contacts += 1,
                    }
                    recs.push(rec);
                }
            }
            added.extend(g.add_records(recs));
        }
        Ok(added)
    }

    /// Reads `object`'s records matching `where_clause` into the run's spool, page by page:
    /// REST query pages, or one Bulk API 2.0 query job when the first page's `totalSize` is
    /// above `bulk_read_threshold` (the REST pages would cost more requests). Moves `stamp` to
    /// the highest `SystemModstamp` read.
    async fn spool_query(
        &mut self,
        object: SObject,
        where_clause: Option<String>,
        stamp: &mut Option<OffsetDateTime>,
    ) -> Result<(), Stop> {
        let soql = self.soql(object, where_clause);
        let mut pager = self.client.query_all(soql.clone());
        let Some(first) = pager.next_page().await? else {
            return Ok(());
        };
        if first.total_size as usize > self.settings.bulk_read_threshold
            && first.next_records_url.is_some()
        {
            // Big: the rest would cost `totalSize / 2000` REST pages; one Bulk query job costs
            // a create, a few polls and `totalSize / bulk_query_page` result pages. The first
            // page is dropped (the job returns every record).
            drop(first);
            drop(pager);
            let mut job = self.client.bulk_query(&soql, true).await?;
            while let Some(rows) = job.next_page().await? {
                let rows: Vec<Record> = rows
                    .into_iter()
                    .map(|r| typed_bulk_record(r, object, &self.conn))
                    .collect();
                self.spool_page(object, rows, stamp).await?;
            }
            return Ok(());
        }
        self.spool_page(object, first.records, stamp).await?;
        while let Some(page) = pager.next_page().await? {
            self.spool_page(object, page.records, stamp).await?;
        }
        Ok(())
    }

    /// One page of the org read into the spool: stamps tracked, records unchanged since the
    /// last run's overlap and linked records unchanged since their last sync left out.
    async fn spool_page(
        &mut self,
        object: SObject,
        rows: Vec<Record>,
        stamp: &mut Option<OffsetDateTime>,
    ) -> Result<(), Stop> {
        let mut recs = Vec::with_capacity(rows.len());
        for r in rows {
            if let Some(d) = deletes::deleted_record(object, &r)? {
                self.deleted.push(d);
                continue;
            }
            let Some(rec) = org_record(object, &r) else {
                continue;
            };
            if stamp.is_none_or(|s| rec.system_modstamp > s) {
                *stamp = Some(rec.system_modstamp);
            }
            match object {
                SObject::Lead => self.counts.read_org_leads += 1,
                SObject::Contact => self.counts.read_org_contacts += 1,
            }
            if let Some(t) = &self.tracking {
                self.stamps
                    .push((rec.id.clone(), object, rec.system_modstamp));
                if t.recent.get(&rec.id) == Some(&lb_store::rfc3339(rec.system_modstamp)) {
                    continue;
                }
            }
            recs.push(rec);
        }
        // The stamps kept for the next overlap window: trimmed as the read goes (a read-back
        // of 1,000,000 records must not hold 1,000,000 stamps).
        if self.stamps.len() > 2 * self.stamps_kept + 10_000 {
            let overlap = time::Duration::seconds(self.settings.overlap_seconds.max(0));
            let high = *stamp;
            self.stamps
                .retain(|(_, o, s)| *o != object || high.is_none_or(|m| *s > m - overlap));
            self.stamps_kept = self.stamps.len();
        }
        self.prune_page(&mut recs).await?;
        self.store
            .sync()
            .spool_records(self.spool_id, &recs)
            .await?;
        self.progress(Progress::Read {
            records: self.counts.read_org_leads + self.counts.read_org_contacts,
        });
        Ok(())
    }

    /// Keeps only the stamps that can still fall in the next overlap window: the watermark
    /// only rises, so a stamp at or below `highest − overlap` never will.
    fn trim_stamps(&mut self, lead: Option<OffsetDateTime>, contact: Option<OffsetDateTime>) {
        let overlap = time::Duration::seconds(self.settings.overlap_seconds.max(0));
        self.stamps.retain(|(_, object, stamp)| {
            let mark = match object {
                SObject::Lead => lead,
                SObject::Contact => contact,
            };
            mark.is_none_or(|m| *stamp > m - overlap)
        });
    }

    /// Reads the org's changes since the watermarks (everything for a full run) into the
    /// run's spool, then the records whose last write failed (by Id). The one place where
    /// the org's side of a run is read.
    async fn read_org_changes(
        &mut self,
        wm: &mut Watermarks,
        resolved: Resolved,
    ) -> Result<OrgRead, Stop> {
        let full = resolved.full;
        let overlap = time::Duration::seconds(self.settings.overlap_seconds.max(0));
        let mut read = OrgRead {
            lead: wm.lead,
            contact: wm.contact,
        };
        self.tracking = (!full).then(|| Tracking {
            recent: std::mem::take(&mut wm.recent),
            prune: !resolved.mapping_changed,
        });
        for object in [SObject::Lead, SObject::Contact] {
            let since = match object {
                SObject::Lead => wm.lead,
                SObject::Contact => wm.contact,
            };
            let filter = match (full, since) {
                (false, Some(t)) => {
                    Some(format!("SystemModstamp > {}", soql_datetime(t - overlap)))
                }
                _ => None,
            };
            let mut s = match object {
                SObject::Lead => read.lead,
                SObject::Contact => read.contact,
            };
            // A lower bound of the org's clock as the query is sent (one second of margin
            // more): every record stamped `overlap` before it had committed when the query
            // ran. The next run reads from there rather than from the newest stamp seen, so a
            // large write is read back by the run after it, not again by every run within the
            // overlap window that follows.
            let floor = self
                .client
                .server_time()
                .map(|d| d - time::Duration::seconds(1));
            self.spool_query(object, filter, &mut s).await?;
            if let Some(f) = floor
                && s.is_none_or(|m| f > m)
            {
                s = Some(f);
            }
            match object {
                SObject::Lead => read.lead = s,
                SObject::Contact => read.contact = s,
            }
            self.trim_stamps(read.lead, read.contact);
            // Deletions and merges came with the changes (`queryAll`): applied now, before
            // anything is planned. A merge's winner is read again by Id below, so it syncs in
            // this run. Deletions move no watermark; one re-read in the overlap changes nothing.
            let masters = self.apply_org_deletes().await?;
            self.masters
                .extend(masters.into_iter().map(|m| (object, m)));
        }
        self.tracking = None;
        // Records whose write failed last time (the retry table, page by page) and the merge
        // winners just linked are read again by Id.
        if !full {
            let sync = self.store.sync();
            for object in [SObject::Lead, SObject::Contact] {
                let mut ids: Vec<String> = self
                    .masters
                    .iter()
                    .filter(|(o, _)| *o == object)
                    .map(|(_, id)| id.clone())
                    .collect();
                let mut after = String::new();
                loop {
                    let page = sync
                        .retry_page(retry_kind(object), &after, EMAIL_LOOKUP_CHUNK as u32)
                        .await?;
                    let last = page.last().cloned();
                    ids.extend(page);
                    while ids.len() >= EMAIL_LOOKUP_CHUNK || (last.is_none() && !ids.is_empty()) {
                        let chunk: Vec<String> =
                            ids.drain(..ids.len().min(EMAIL_LOOKUP_CHUNK)).collect();
                        let list = chunk
                            .iter()
                            .map(|e| lb_salesforce::soql::quote(e))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let mut none = None;
                        self.spool_query(object, Some(format!("Id IN ({list})")), &mut none)
                            .await?;
                    }
                    match last {
                        Some(l) => after = l,
                        None => break,
                    }
                }
                // A retried record deleted or merged since: its winner waits for the next run.
                let masters = self.apply_org_deletes().await?;
                self.retry_new
                    .extend(masters.into_iter().map(|m| (retry_kind(object), m)));
            }
        }
        Ok(read)
    }

    /// Applies the deletions and merges the last read met (see [`crate::deletes`]); a dry run
    /// only counts them. Returns the merge winners newly linked to our contacts.
    async fn apply_org_deletes(&mut self) -> Result<Vec<String>, Stop> {
        let deleted = std::mem::take(&mut self.deleted);
        if deleted.is_empty() {
            return Ok(Vec::new());
        }
        if self.request.dry_run {
            self.counts.deletes.read += deleted.len() as u64;
            return Ok(Vec::new());
        }
        let dc = deletes::apply_deletes(&self.store, self.run_id, &deleted).await?;
        self.counts.duplicate_groups += dc.duplicates;
        let masters = dc.relinked_masters.clone();
        self.counts.deletes.absorb(dc);
        Ok(masters)
    }

    /// Spools the ids of our contacts this run looks at (all of them for a full run: read
    /// from the contacts table instead). Returns the change-log cursor to move to.
    async fn read_our_changes(
        &mut self,
        wm: &Watermarks,
        resolved: Resolved,
        intents: &[Intent],
    ) -> Result<ChangeCursor, Stop> {
        let sync = self.store.sync();
        let mut cursor = wm.ours;
        match &self.request.scope {
            Scope::Contacts(ids) => sync.spool_ours(self.spool_id, ids).await?,
            _ if resolved.full => {
                cursor = sync.store().latest_change_cursor().await?;
            }
            _ => loop {
                let marks = sync.change_marks(cursor, CHANGE_PAGE).await?;
                let n = marks.len();
                let ids: Vec<ContactId> = marks
                    .iter()
                    .filter(|m| m.origin != Origin::Sync)
                    .map(|m| m.contact_id)
                    .collect();
                sync.spool_ours(self.spool_id, &ids).await?;
                if let Some(last) = marks.last() {
                    cursor = ChangeCursor(last.seq);
                }
                if n < CHANGE_PAGE as usize {
                    break;
                }
            },
        }
        if !resolved.full {
            if !resolved.targeted {
                // Contacts whose write failed last time, page by page.
                let mut after = String::new();
                loop {
                    let page = sync
                        .retry_page(RetryKind::Contact, &after, CHANGE_PAGE)
                        .await?;
                    let Some(last) = page.last().cloned() else {
                        break;
                    };
                    let ids: Vec<ContactId> = page
                        .iter()
                        .filter_map(|id| id.parse().ok().map(ContactId))
                        .collect();
                    sync.spool_ours(self.spool_id, &ids).await?;
                    after = last;
                }
            }
            // Leftover intents: creates that may have reached the org before a crash.
            let ids: Vec<ContactId> = intents.iter().map(|i| i.contact_id).collect();
            sync.spool_ours(self.spool_id, &ids).await?;
        }
        Ok(cursor)
    }

    async fn execute(&mut self) -> Result<(), Stop> {
        let sync = self.store.sync();
        let mut wm = Watermarks::load(&self.store).await?;
        let mapping_hash = self.mapping.hash();
        let resolved = Resolved::of(&self.request.scope, &wm, &mapping_hash, &self.settings);
        let (full, mapping_changed, targeted) =
            (resolved.full, resolved.mapping_changed, resolved.targeted);
        if mapping_changed && full && self.request.scope == Scope::Incremental {
            self.notes.push("the mapping changed since the last full sync: this run was a full resync (R-SYNC-5)".into());
        }
        if mapping_changed && !full {
            self.notes.push(
                "the mapping changed since the last full sync: run `leadbridge sync --full` to bring every contact up to date (R-SYNC-5)"
                    .into(),
            );
        }
        let intents = sync.intents().await?;

        // 1. Ours: the ids of our changed contacts go to the spool.
        self.progress(Progress::Phase("reading our contacts"));
        let cursor = self.read_our_changes(&wm, resolved, &intents).await?;

        // 2. The org's changes, into the spool.
        self.progress(Progress::Phase("reading the org"));
        let read = if targeted {
            OrgRead::default()
        } else {
            self.read_org_changes(&mut wm, resolved).await?
        };
        let read_stamps = std::mem::take(&mut self.stamps);

        // 3. Plan and apply partition by partition of whole email groups, leaving out the
        //    contacts whose org record was deleted.
        self.suppressed = deletes::suppressed_all(&self.store).await?;
        self.run_partitions(resolved, &intents).await?;
        if self.request.dry_run {
            return Ok(());
        }

        // 4. The org's writes, kept in the outbox while the partitions were planned: sent in
        //    jobs as large as the client allows, then recorded chunk by chunk.
        self.flush_outbox().await?;
        if self.counts.duplicate_groups > 0 {
            self.notes.push(format!(
                "{} duplicate group(s) in the org (same email on several records, R-SYNC-3): the first record of each is synced",
                self.counts.duplicate_groups
            ));
        }

        // 5. Everything read was applied: the watermarks move.
        if !targeted {
            let overlap = time::Duration::seconds(self.settings.overlap_seconds.max(0));
            wm.lead = read.lead;
            wm.contact = read.contact;
            wm.ours = cursor;
            wm.recent = read_stamps
                .into_iter()
                .filter(|(_, object, stamp)| {
                    let mark = match object {
                        SObject::Lead => read.lead,
                        SObject::Contact => read.contact,
                    };
                    mark.is_some_and(|m| *stamp > m - overlap)
                })
                .map(|(id, _, stamp)| (id, lb_store::rfc3339(stamp)))
                .collect();
            if full || wm.mapping_hash.is_none() {
                wm.mapping_hash = Some(mapping_hash);
            }
            wm.completed_at = Some(OffsetDateTime::now_utc());
            wm.save(&self.store).await?;
        }
        Ok(())
    }

    /// Plans and applies the spooled read partition by partition: each is a range of email
    /// keys `(after, upto]` holding about `plan_partition` records and contacts (whole email
    /// groups), completed with what identity needs, planned, and applied before the next is
    /// loaded, so memory follows the partition, not the base.
    async fn run_partitions(&mut self, resolved: Resolved, intents: &[Intent]) -> Result<(), Stop> {
        let sync = self.store.sync();
        let source = if resolved.full {
            OursSource::All
        } else {
            OursSource::Spooled
        };
        // Records and contacts each count half of the partition.
        let n = (self.settings.plan_partition / 2).max(1) as u32;
        let mut after: Option<String> = None;
        let mut merged: Option<Plan> = None;
        loop {
            if self.cancelled() {
                return Err(Stop::Cancelled);
            }
            let k1 = sync
                .spool_nth_key(self.spool_id, after.as_deref(), n)
                .await?;
            let k2 = sync
                .ours_nth_email(self.spool_id, source, after.as_deref(), n)
                .await?;
            let upto = match (k1, k2) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let range = KeyRange {
                after: after.clone(),
                upto: upto.clone(),
            };
            let mut g = Gathered::default();
            g.add_records(sync.spool_take_range(self.spool_id, &range).await?);
            let ours: BTreeSet<ContactId> = sync
                .ours_in_range(self.spool_id, source, &range)
                .await?
                .into_iter()
                .collect();
            if !g.records.is_empty() || !ours.is_empty() {
                self.gather(&mut g, ours, resolved, intents, &range).await?;
                if let Some(plan) = self.plan_partition(g).await? {
                    match &mut merged {
                        None => merged = Some(plan),
                        Some(m) => {
                            m.pairs.extend(plan.pairs);
                            m.skips.extend(plan.skips);
                            m.duplicate_groups.extend(plan.duplicate_groups);
                        }
                    }
                }
            }
            match upto {
                Some(u) => after = Some(u),
                None => break,
            }
        }
        if self.request.dry_run {
            self.plan = merged;
        }
        Ok(())
    }

    /// Completes one partition with what the core's input contract asks: the links of its
    /// contacts and records, the records linked to its contacts and the Contacts of its
    /// converted Leads (taken from the spool when they are there, so each is planned once),
    /// the contacts linked to its records, then every holder of a sensitive email (looked up
    /// in the org for an incremental run; in the spool for a full one, which read the org
    /// whole).
    async fn gather(
        &mut self,
        g: &mut Gathered,
        ours: BTreeSet<ContactId>,
        resolved: Resolved,
        intents: &[Intent],
        range: &KeyRange,
    ) -> Result<(), Stop> {
        let sync = self.store.sync();
        let ids: Vec<ContactId> = ours.iter().copied().collect();
        g.add_links(sync.links_by_contacts(&ids).await?);
        let org_ids: Vec<String> = g.records.keys().cloned().collect();
        g.add_links(sync.links_by_org_ids(&org_ids).await?);
        self.take_related(g).await?;
        let mut wanted: BTreeSet<ContactId> = ours;
        for id in g.records.keys() {
            if let Some(c) = g.linked_org.get(id) {
                wanted.insert(*c);
            }
        }
        self.load_contacts(g, wanted).await?;
        if resolved.full {
            self.complete_from_spool(g, range).await?;
        } else {
            let mine: Vec<Intent> = intents
                .iter()
                .filter(|i| g.contacts.contains_key(&i.contact_id))
                .cloned()
                .collect();
            self.complete_identity(g, &mine).await?;
        }
        self.counts.read_contacts += g.contacts.len() as u64;
        Ok(())
    }

    /// Takes from the spool the records this partition must plan with what it holds: the
    /// record linked to each of its contacts (planned apart, its stale copy could undo a write
    /// of this partition) and the Contact of each converted Lead (R-SYNC-6), until nothing more
    /// comes.
    async fn take_related(&mut self, g: &mut Gathered) -> Result<(), Stop> {
        let sync = self.store.sync();
        loop {
            let mut ids: BTreeSet<String> = BTreeSet::new();
            for l in g.links.values() {
                if !g.records.contains_key(&l.org_id) {
                    ids.insert(l.org_id.clone());
                }
            }
            for r in g.records.values() {
                if let (true, Some(cid)) = (r.is_converted, &r.converted_contact_id)
                    && !g.records.contains_key(cid)
                {
                    ids.insert(cid.clone());
                }
            }
            let ids: Vec<String> = ids.into_iter().collect();
            let taken = sync.spool_take_ids(self.spool_id, &ids).await?;
            if taken.is_empty() {
                return Ok(());
            }
            let added = g.add_records(taken);
            g.add_links(sync.links_by_org_ids(&added).await?);
        }
    }

    /// A full run read the whole org into the spool: the holders of an email this partition
    /// holds outside its key range (a linked contact or record whose email differs from its
    /// counterpart's) are still spooled, and are taken from there with our contacts holding
    /// them.
    async fn complete_from_spool(
        &mut self,
        g: &mut Gathered,
        range: &KeyRange,
    ) -> Result<(), Stop> {
        let sync = self.store.sync();
        let in_range = |e: &str| {
            range.after.as_deref().is_none_or(|a| e > a)
                && range.upto.as_deref().is_none_or(|u| e <= u)
        };
        let mut emails: BTreeSet<String> = BTreeSet::new();
        for c in g.contacts.values() {
            if !in_range(c.email.as_str()) {
                emails.insert(c.email.as_str().to_owned());
            }
        }
        for r in g.records.values() {
            if let Some(e) = r.normalized_email()
                && !in_range(e.as_str())
            {
                emails.insert(e.as_str().to_owned());
            }
        }
        if emails.is_empty() {
            return Ok(());
        }
        let parsed: Vec<Email> = emails.iter().filter_map(|e| Email::parse(e).ok()).collect();
        let added = g.add_records(sync.spool_take_emails(self.spool_id, &parsed).await?);
        g.add_links(sync.links_by_org_ids(&added).await?);
        let mut new_contacts = Vec::new();
        for c in sync.contacts_by_emails(&parsed).await? {
            g.contacts.entry(c.id).or_insert_with(|| {
                new_contacts.push(c.id);
                c
            });
        }
        g.add_links(sync.links_by_contacts(&new_contacts).await?);
        self.take_related(g).await?;
        let wanted: BTreeSet<ContactId> = g
            .records
            .keys()
            .filter_map(|id| g.linked_org.get(id).copied())
            .collect();
        self.load_contacts(g, wanted).await?;
        Ok(())
    }

    /// Plans one partition and applies it (a dry run returns the plan instead).
    /// Leaves out of a partition the contacts whose org record was deleted (tombstoned, see
    /// [`crate::deletes`]) and the org records holding their email, so no Lead a salesperson
    /// deleted is re-created and no older duplicate is imported in its place. A record of that
    /// email *created in the org after the deletion* means the CRM re-created it on purpose:
    /// the tombstone is cleared and the pair syncs as usual (a dry run only says so).
    async fn suppress(&mut self, g: &mut Gathered) -> Result<(), Stop> {
        let email_of = |r: &OrgRecord| {
            r.fields
                .get("Email")
                .and_then(|e| lb_core::contact::Email::parse(e).ok())
                .map(|e| e.as_str().to_owned())
        };
        let mut recreated: BTreeSet<ContactId> = BTreeSet::new();
        for r in g.records.values() {
            let Some(cid) = email_of(r).and_then(|e| self.suppressed.emails.get(&e).copied())
            else {
                continue;
            };
            if self
                .suppressed
                .tombstones
                .get(&cid)
                .is_some_and(|t| r.created > t.deleted_at)
            {
                recreated.insert(cid);
            }
        }
        for cid in recreated {
            if !self.request.dry_run {
                self.store.sync().clear_tombstone(cid).await?;
            }
            if let Some(t) = self.suppressed.tombstones.remove(&cid) {
                self.suppressed.emails.retain(|_, c| *c != cid);
                self.notes.push(format!(
                    "contact {cid}: a {} with its email was created in the org after {} was deleted; its tombstone is cleared and it syncs again",
                    t.object.api_name(),
                    t.org_id
                ));
            }
        }
        let mut skips: Vec<SkipReport> = Vec::new();
        let gone: Vec<ContactId> = g
            .contacts
            .keys()
            .copied()
            .filter(|id| self.suppressed.contains(*id))
            .collect();
        for id in gone {
            g.contacts.remove(&id);
            if let Some(l) = g.links.remove(&id) {
                g.linked_org.remove(&l.org_id);
            }
            if let Some(t) = self.suppressed.tombstones.get(&id) {
                skips.push(SkipReport {
                    side: "marketing",
                    id: id.to_string(),
                    object: None,
                    reason: deletes::skip_reason(t),
                });
            }
        }
        let suppressed = &self.suppressed;
        g.records.retain(|id, r| {
            let Some(t) = email_of(r)
                .and_then(|e| suppressed.emails.get(&e))
                .and_then(|cid| suppressed.tombstones.get(cid))
            else {
                return true;
            };
            skips.push(SkipReport {
                side: "crm",
                id: id.clone(),
                object: Some(r.object.api_name().to_owned()),
                reason: deletes::skip_reason(t),
            });
            false
        });
        self.counts.skipped += skips.len() as u64;
        let room = REPORTED_MAX.saturating_sub(self.counts.skips.len());
        self.counts.skips.extend(skips.into_iter().take(room));
        Ok(())
    }

    async fn plan_partition(&mut self, mut g: Gathered) -> Result<Option<Plan>, Stop> {
        self.progress(Progress::Phase("planning"));
        let sync = self.store.sync();
        if !self.suppressed.is_empty() {
            self.suppress(&mut g).await?;
        }
        let ids: Vec<ContactId> = g.contacts.keys().copied().collect();
        let times = sync.field_times(&ids).await?;
        self.previous = std::mem::take(&mut g.links)
            .into_values()
            .map(|l| {
                let link = SyncedLink {
                    contact_id: core_id(l.contact_id),
                    org_id: l.org_id,
                    object: l.object,
                    base: l.base,
                };
                (l.contact_id, link)
            })
            .collect();
        let input = SyncInput {
            contacts: std::mem::take(&mut g.contacts)
                .into_values()
                .map(|c| our_contact(&c, times.get(&c.id), &self.settings.app_base_url))
                .collect(),
            records: g.records.into_values().collect(),
            links: self.previous.values().cloned().collect(),
        };
        drop(times);
        let plan = lb_core::plan(
            &self.mapping,
            &self.settings.plan_config(),
            &input,
            &RunId::from(self.run_id.to_string()),
        );
        drop(input);
        let summary = plan.summary();
        self.counts.skipped += summary.skipped as u64;
        for skip in plan
            .skips
            .iter()
            .take(REPORTED_MAX.saturating_sub(self.counts.skips.len()))
        {
            self.counts.skips.push(SkipReport {
                side: match skip.side {
                    Side::Marketing => "marketing",
                    Side::Crm => "crm",
                },
                id: skip.id.clone(),
                object: skip.object.map(|o| o.api_name().to_owned()),
                reason: skip.reason.to_string(),
            });
        }
        for group in plan
            .duplicate_groups
            .iter()
            .take(REPORTED_MAX.saturating_sub(self.counts.duplicates.len()))
        {
            self.counts.duplicates.push(DuplicateReport {
                email: group.email.as_str().to_owned(),
                records: group.members.iter().map(|m| m.id.clone()).collect(),
                synced: group.primary.clone(),
            });
        }
        self.counts.conflicts += summary.conflicts as u64;
        self.counts.duplicate_groups += summary.duplicate_groups as u64;
        self.counts.links_matched += summary.links_matched as u64;
        self.counts.links_followed += summary.links_followed as u64;
        if self.request.dry_run {
            self.counts.crm.lead.created += summary.crm_creates as u64;
            self.counts.crm.lead.updated += summary.crm_updates as u64;
            self.counts.marketing.lead.created += summary.marketing_creates as u64;
            self.counts.marketing.lead.updated += summary.marketing_updates as u64;
            self.counts.seed_updates += summary.seed_updates as u64;
            return Ok(Some(plan));
        }
        self.apply_plan(plan, &summary).await?;
        Ok(None)
    }

    /// Applies a plan's pairs that write only to our side at once, batch by batch; the pairs
    /// that write to the org (and the seed updates) go to the run's outbox, sent once every
    /// partition is planned ([`RunCtx::flush_outbox`]). A pair whose contact or record already
    /// waits in the outbox (planned by an earlier partition) is left to the next run, which
    /// reads it again (retry table): planned twice from one state, it could create twice.
    async fn apply_plan(&mut self, plan: Plan, _summary: &lb_core::Summary) -> Result<(), Stop> {
        self.progress(Progress::Phase("applying"));
        let sync = self.store.sync();
        let Plan {
            pairs,
            duplicate_groups,
            ..
        } = plan;
        let contacts: Vec<ContactId> = pairs
            .iter()
            .filter_map(|p| p.contact_id.as_ref().and_then(store_id))
            .collect();
        let org_ids: Vec<String> = pairs.iter().filter_map(|p| p.org_id.clone()).collect();
        let (taken_contacts, taken_org) = sync
            .outbox_claimed(self.run_id, &contacts, &org_ids)
            .await?;
        let taken_contacts: BTreeSet<ContactId> = taken_contacts.into_iter().collect();
        let taken_org: BTreeSet<String> = taken_org.into_iter().collect();
        let mut now: Vec<PairPlan> = Vec::new();
        let mut later: Vec<OutboxRow> = Vec::new();
        for p in pairs {
            let cid = p.contact_id.as_ref().and_then(store_id);
            if cid.is_some_and(|c| taken_contacts.contains(&c))
                || p.org_id.as_ref().is_some_and(|o| taken_org.contains(o))
            {
                if let Some(c) = cid {
                    self.retry_new.push((RetryKind::Contact, c.0.to_string()));
                }
                if let Some(o) = &p.org_id {
                    self.retry_new.push((retry_kind(p.object), o.clone()));
                }
                continue;
            }
            let Some(crm) = &p.crm else {
                now.push(p);
                continue;
            };
            let kind = match crm.op {
                PlanOp::Create => OutboxKind::Create,
                PlanOp::Update => OutboxKind::Update,
            };
            let entry = OutboxEntry {
                previous: cid.and_then(|c| self.previous.get(&c).cloned()),
                pair: p,
            };
            later.push(OutboxRow {
                kind,
                contact_id: cid,
                org_id: entry.pair.org_id.clone(),
                entry: encode(&entry)?,
            });
            if later.len() >= OUTBOX_PAGE {
                self.planned += later.len() as u64;
                sync.outbox_put(self.run_id, &later).await?;
                later.clear();
            }
        }
        for g in &duplicate_groups {
            for s in &g.seed_updates {
                let entry = SeedEntry {
                    lead_id: s.lead_id.clone(),
                    values: s.values.clone(),
                };
                later.push(OutboxRow {
                    kind: OutboxKind::Seed,
                    contact_id: None,
                    org_id: Some(s.lead_id.clone()),
                    entry: encode(&entry)?,
                });
            }
        }
        drop(duplicate_groups);
        self.planned += (now.len() + later.len()) as u64;
        sync.outbox_put(self.run_id, &later).await?;
        drop(later);
        let empty = HashMap::new();
        for batch in now.chunks(self.settings.batch_size.max(1)) {
            if self.cancelled() {
                return Err(Stop::Cancelled);
            }
            self.record_batch(batch, &empty, false).await?;
            self.applied += batch.len() as u64;
            self.progress(Progress::Applied {
                done: self.applied,
                total: self.planned,
            });
        }
        Ok(())
    }

    /// Sends the run's outbox: Lead creates, then Lead updates (the page links of contacts
    /// created from Leads included), then seed updates, each in jobs of up to
    /// [`OUTBOX_JOB_ROWS`] rows read from the store page by page (the client carries a write
    /// of more than `bulk_write_threshold` rows as one Bulk job), after one budget check for
    /// the whole outbox. After each job its pairs are read back and recorded batch by batch
    /// (marketing side, counts, failures, links, bases, provenance). A create's intent is
    /// journalled before its job is sent. A stop leaves the rest unsent (and the watermarks
    /// unmoved); a cancellation is honoured between jobs.
    async fn flush_outbox(&mut self) -> Result<(), Stop> {
        let sync = self.store.sync();
        let kinds = [OutboxKind::Create, OutboxKind::Update, OutboxKind::Seed];
        let mut cost = 0u64;
        for kind in kinds {
            let n = sync.outbox_len(self.run_id, Some(kind)).await? as usize;
            let job_cost = |rows: usize| {
                if rows == 0 {
                    0
                } else if rows > self.settings.bulk_write_threshold {
                    lb_salesforce::policy::BULK_INGEST_TYPICAL_CALLS
                } else {
                    rows.div_ceil(lb_salesforce::writes::COLLECTION_CHUNK) as u64
                }
            };
            cost += (n / OUTBOX_JOB_ROWS) as u64 * job_cost(OUTBOX_JOB_ROWS)
                + job_cost(n % OUTBOX_JOB_ROWS);
        }
        if cost == 0 {
            return Ok(());
        }
        self.progress(Progress::Phase("sending to the org"));
        // Budget: the writes must fit before the first one is sent.
        self.client.check_budget(cost).await?;
        for kind in kinds {
            let mut after = 0i64;
            let mut left = sync.outbox_len(self.run_id, Some(kind)).await? as usize;
            loop {
                if self.cancelled() {
                    return Err(Stop::Cancelled);
                }
                // The job's rows, page by page (intents journalled before anything is sent).
                let bulk = self
                    .client
                    .config()
                    .write_policy
                    .choose_write(left.min(OUTBOX_JOB_ROWS))
                    == lb_salesforce::WriteMethod::Bulk;
                let op = match kind {
                    OutboxKind::Create => WriteOp::Insert,
                    OutboxKind::Update | OutboxKind::Seed => WriteOp::Update,
                };
                let mut rows = JobRows::new(bulk, &op);
                let mut entries = 0usize;
                let mut last = after;
                while entries < OUTBOX_JOB_ROWS {
                    let want = OUTBOX_PAGE.min(OUTBOX_JOB_ROWS - entries);
                    let page = sync
                        .outbox_page(self.run_id, kind, last, None, want as u32)
                        .await?;
                    let Some((id, _)) = page.last() else {
                        break;
                    };
                    last = *id;
                    entries += page.len();
                    let got = page.len();
                    let mut intents = Vec::new();
                    for (_, row) in &page {
                        if let Some(r) = self.outbox_record(row, &mut intents)? {
                            rows.push(r);
                        }
                    }
                    if !intents.is_empty() {
                        sync.put_intents(self.run_id, &intents).await?;
                    }
                    if got < want {
                        break;
                    }
                }
                if entries == 0 {
                    break;
                }
                left = left.saturating_sub(entries);
                let mut results: Vec<RecordResult> = vec![RecordResult::Unprocessed; rows.len()];
                let report = rows.send(&self.client, &op).await;
                for o in report.outcomes {
                    if let Some(slot) = results.get_mut(o.row) {
                        *slot = o.result;
                    }
                }
                let stopped = report.stopped;
                // Recorded batch by batch (at most `OUTBOX_PAGE` pairs: a pair's provenance is a
                // row per value), read back in the same order (row by row).
                let mut cursor = after;
                let mut next_row = 0usize;
                loop {
                    let page = sync
                        .outbox_page(
                            self.run_id,
                            kind,
                            cursor,
                            Some(last),
                            self.settings.batch_size.clamp(1, OUTBOX_PAGE) as u32,
                        )
                        .await?;
                    let Some((id, _)) = page.last() else {
                        break;
                    };
                    cursor = *id;
                    let n = page.len() as u64;
                    if kind == OutboxKind::Seed {
                        self.record_seed(&page, &mut results, &mut next_row).await?;
                    } else {
                        let mut pairs = Vec::with_capacity(page.len());
                        let mut crm_result = HashMap::new();
                        self.previous.clear();
                        for (i, (_, row)) in page.into_iter().enumerate() {
                            let entry: OutboxEntry = decode(&row.entry)?;
                            if sendable(&entry.pair) {
                                if let Some(r) = results.get_mut(next_row) {
                                    crm_result
                                        .insert(i, std::mem::replace(r, RecordResult::Unprocessed));
                                }
                                next_row += 1;
                            }
                            if let (Some(cid), Some(prev)) = (row.contact_id, entry.previous) {
                                self.previous.insert(cid, prev);
                            }
                            pairs.push(entry.pair);
                        }
                        self.record_batch(&pairs, &crm_result, stopped.is_some())
                            .await?;
                    }
                    self.applied += n;
                    self.progress(Progress::Applied {
                        done: self.applied,
                        total: self.planned,
                    });
                }
                if let Some(e) = stopped {
                    return Err(Stop::Sf(e));
                }
                after = last;
            }
        }
        Ok(())
    }

    /// The org row of one outbox entry (`None`: nothing to send, e.g. an update without an
    /// Id); a create's intent is added to `intents`.
    fn outbox_record(
        &self,
        row: &OutboxRow,
        intents: &mut Vec<Intent>,
    ) -> Result<Option<Record>, Stop> {
        if row.kind == OutboxKind::Seed {
            let seed: SeedEntry = decode(&row.entry)?;
            let mut r = org_fields(&seed.values, SObject::Lead, &self.conn);
            r.insert("Id".into(), serde_json::Value::String(seed.lead_id));
            return Ok(Some(r));
        }
        let entry: OutboxEntry = decode(&row.entry)?;
        let p = &entry.pair;
        if !sendable(p) {
            return Ok(None);
        }
        let Some(w) = &p.crm else {
            return Ok(None);
        };
        let mut r = org_fields(&w.values, SObject::Lead, &self.conn);
        match w.op {
            PlanOp::Create => {
                if let (Some(cid), Some(email)) =
                    (p.contact_id.as_ref().and_then(store_id), email_of(p))
                {
                    intents.push(Intent {
                        contact_id: cid,
                        email,
                    });
                }
            }
            PlanOp::Update => {
                r.insert(
                    "Id".into(),
                    serde_json::Value::String(p.org_id.clone().unwrap_or_default()),
                );
            }
        }
        Ok(Some(r))
    }

    /// Records one batch of seed updates of a sent job.
    async fn record_seed(
        &mut self,
        page: &[(i64, OutboxRow)],
        results: &mut [RecordResult],
        next_row: &mut usize,
    ) -> Result<(), Stop> {
        let mut batch = BatchCommit {
            run_id: self.run_id,
            ..BatchCommit::default()
        };
        for (_, row) in page {
            let seed: SeedEntry = decode(&row.entry)?;
            let result = results
                .get_mut(*next_row)
                .map(|r| std::mem::replace(r, RecordResult::Unprocessed));
            *next_row += 1;
            match result {
                Some(RecordResult::Saved { .. }) => self.counts.seed_updates += 1,
                Some(RecordResult::Failed(errors)) => {
                    let f =
                        self.failure(Side::Crm, SObject::Lead, Some(seed.lead_id), None, &errors);
                    batch.failures.push(f);
                }
                _ => {}
            }
        }
        self.failures.extend(batch.failures.iter().cloned());
        self.store.sync().commit_batch(&batch).await?;
        Ok(())
    }

    /// While the org's changes are read: leaves out the linked records of a page unchanged
    /// since their last sync (every mapped value equal to its base: our own writes coming
    /// back with a new `SystemModstamp`, or a change to a field we do not map) when their
    /// contact did not change here. The core would plan nothing for them; a read-back of
    /// 1,000,000 records then costs neither spool space nor their contacts' loading.
    /// Converted Leads always stay (R-SYNC-6).
    async fn prune_page(&self, recs: &mut Vec<OrgRecord>) -> Result<(), Stop> {
        let Some(Tracking { prune: true, .. }) = &self.tracking else {
            return Ok(());
        };
        if recs.is_empty() {
            return Ok(());
        }
        let sync = self.store.sync();
        let ids: Vec<String> = recs.iter().map(|r| r.id.clone()).collect();
        let links: HashMap<String, StoredLink> = sync
            .links_by_org_ids(&ids)
            .await?
            .into_iter()
            .map(|l| (l.org_id.clone(), l))
            .collect();
        if links.is_empty() {
            return Ok(());
        }
        let linked: Vec<ContactId> = links.values().map(|l| l.contact_id).collect();
        let changed: BTreeSet<ContactId> = sync
            .spooled_ours(self.spool_id, &linked)
            .await?
            .into_iter()
            .collect();
        let mapping = &self.mapping;
        recs.retain(|r| {
            let Some(link) = links.get(&r.id) else {
                return true;
            };
            if changed.contains(&link.contact_id) || r.is_converted {
                return true;
            }
            let unchanged = link.object == r.object
                && mapping.active_entries(r.object).all(|e| {
                    link.base
                        .get(&e.attribute)
                        .is_some_and(|b| b.theirs == r.value(&e.field))
                });
            !unchanged
        });
        Ok(())
    }

    async fn load_contacts(
        &mut self,
        g: &mut Gathered,
        ids: BTreeSet<ContactId>,
    ) -> Result<(), Stop> {
        let missing: Vec<ContactId> = ids
            .into_iter()
            .filter(|id| !g.contacts.contains_key(id))
            .collect();
        for chunk in missing.chunks(5_000) {
            for c in self.store.contacts_by_id(chunk).await? {
                g.contacts.insert(c.id, c);
            }
        }
        Ok(())
    }

    /// Adds every org record and contact holding a sensitive email: the email of an unlinked
    /// contact or record, an email changed since the last sync, a leftover intent's email (a
    /// Lead created just before a crash is found here, never created twice), and every email
    /// in seed mode. Also the Contact a converted Lead points to, and the record linked to a
    /// contact whose email changed.
    async fn complete_identity(
        &mut self,
        g: &mut Gathered,
        intents: &[Intent],
    ) -> Result<(), Stop> {
        let seed_mode = self.settings.duplicates == lb_core::DuplicateMode::Seed;
        let mut emails: BTreeSet<String> = BTreeSet::new();
        let mut by_id: BTreeMap<SObject, BTreeSet<String>> = BTreeMap::new();
        for c in g.contacts.values() {
            match g.links.get(&c.id) {
                None => {
                    emails.insert(c.email.as_str().to_owned());
                }
                Some(l) => {
                    let base = l.base.get("email").and_then(|b| b.ours.clone());
                    let changed = base
                        .as_deref()
                        .is_some_and(|b| !b.eq_ignore_ascii_case(c.email.as_str()));
                    if changed || seed_mode {
                        emails.insert(c.email.as_str().to_owned());
                    }
                    if changed && !g.records.contains_key(&l.org_id) {
                        by_id.entry(l.object).or_default().insert(l.org_id.clone());
                    }
                }
            }
        }
        for i in intents {
            emails.insert(i.email.clone());
        }
        for r in g.records.values() {
            let Some(email) = r.normalized_email() else {
                continue;
            };
            let linked = g.linked_org.get(&r.id).and_then(|c| g.links.get(c));
            let changed = linked.is_some_and(|l| {
                l.base
                    .get("email")
                    .and_then(|b| b.theirs.as_deref())
                    .is_some_and(|b| !b.eq_ignore_ascii_case(email.as_str()))
            });
            if linked.is_none() || changed || seed_mode {
                emails.insert(email.as_str().to_owned());
            }
            if r.is_converted
                && let Some(cid) = &r.converted_contact_id
                && !g.records.contains_key(cid)
            {
                by_id
                    .entry(SObject::Contact)
                    .or_default()
                    .insert(cid.clone());
            }
        }
        let mut added: Vec<String> = Vec::new();
        let email_list: Vec<String> = emails.iter().cloned().collect();
        if !email_list.is_empty() {
            for object in [SObject::Lead, SObject::Contact] {
                for chunk in email_list.chunks(EMAIL_LOOKUP_CHUNK) {
                    let list = chunk
                        .iter()
                        .map(|e| lb_salesforce::soql::quote(e))
                        .collect::<Vec<_>>()
                        .join(", ");
                    added.extend(
                        self.query_into(object, Some(format!("Email IN ({list})")), g)
                            .await?,
                    );
                }
            }
        }
        for (object, ids) in by_id {
            let ids: Vec<String> = ids
                .into_iter()
                .filter(|id| !g.records.contains_key(id))
                .collect();
            for chunk in ids.chunks(EMAIL_LOOKUP_CHUNK) {
                let list = chunk
                    .iter()
                    .map(|e| lb_salesforce::soql::quote(e))
                    .collect::<Vec<_>>()
                    .join(", ");
                added.extend(
                    self.query_into(object, Some(format!("Id IN ({list})")), g)
                        .await?,
                );
            }
        }
        // Read live, they supersede their spooled copies (each record is planned once).
        self.store
            .sync()
            .spool_take_ids(self.spool_id, &added)
            .await?;
        // Our side: contacts holding those emails (and the emails of the records just found).
        for id in &added {
            if let Some(e) = g.records.get(id).and_then(OrgRecord::normalized_email) {
                emails.insert(e.as_str().to_owned());
            }
        }
        let parsed: Vec<Email> = emails.iter().filter_map(|e| Email::parse(e).ok()).collect();
        let sync = self.store.sync();
        let found = sync.contacts_by_emails(&parsed).await?;
        let mut new_contacts: Vec<ContactId> = Vec::new();
        for c in found {
            g.contacts.entry(c.id).or_insert_with(|| {
                new_contacts.push(c.id);
                c
            });
        }
        g.add_links(sync.links_by_org_ids(&added).await?);
        g.add_links(sync.links_by_contacts(&new_contacts).await?);
        // The records linked to the contacts just found, if spooled, come with them.
        let before: BTreeSet<String> = g.records.keys().cloned().collect();
        self.take_related(g).await?;
        let mut wanted = BTreeSet::new();
        for id in added
            .iter()
            .chain(g.records.keys().filter(|id| !before.contains(*id)))
        {
            if let Some(c) = g.linked_org.get(id) {
                wanted.insert(*c);
            }
        }
        self.load_contacts(g, wanted).await?;
        Ok(())
    }

    fn failure(
        &mut self,
        side: Side,
        object: SObject,
        record: Option<String>,
        email: Option<String>,
        errors: &[ApiError],
    ) -> RunFailure {
        let first = errors.first();
        let f = RunFailure {
            side,
            object: Some(object.api_name().to_owned()),
            record,
            email,
            error_code: first
                .map(|e| e.error_code.clone())
                .unwrap_or_else(|| "UNKNOWN_ERROR".into()),
            message: if errors.is_empty() {
                "no error detail".into()
            } else {
                errors
                    .iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            },
            fields: errors
                .iter()
                .flat_map(|e| e.fields.clone().unwrap_or_default())
                .collect(),
        };
        self.counts.failed += 1;
        f
    }

    /// Records one batch of pairs whose org writes are done (`crm_result`, by index in
    /// `pairs`; none for pairs without one): writes their marketing side in one store
    /// transaction, then records counts, failures, links, bases, provenance and settled intents
    /// in one `commit_batch`. When the org work `stopped`, a pair whose org write was not done
    /// is left out whole (its marketing write waits for it). The page links of the contacts
    /// created here from Leads go to the outbox after the commit.
    async fn record_batch(
        &mut self,
        pairs: &[PairPlan],
        crm_result: &HashMap<usize, RecordResult>,
        stopped: bool,
    ) -> Result<(), Stop> {
        let sync = self.store.sync();
        let mut batch = BatchCommit {
            run_id: self.run_id,
            ..BatchCommit::default()
        };
        // A marketing write waits for its org counterpart: left out when the org work stopped
        // before that counterpart was done.
        let waits = |i: usize| {
            stopped
                && pairs[i].crm.is_some()
                && !matches!(
                    crm_result.get(&i),
                    Some(RecordResult::Saved { .. } | RecordResult::Failed(_))
                )
        };

        // Our side: the batch's contact writes in one store transaction (`write_contacts`),
        // each with its own outcome. Marketing writes wait for their org counterpart only when
        // there is one.
        let mut writes: Vec<ContactWrite> = Vec::new();
        let mut write_of: HashMap<usize, usize> = HashMap::new();
        for (i, p) in pairs.iter().enumerate() {
            let Some(w) = &p.marketing else { continue };
            if waits(i) {
                continue;
            }
            let input = contact_input(&w.values);
            let write = match (w.op, p.contact_id.as_ref().and_then(store_id)) {
                (PlanOp::Create, _) => ContactWrite::Create(input),
                (PlanOp::Update, Some(id)) => ContactWrite::Update(id, input),
                (PlanOp::Update, None) => continue,
            };
            write_of.insert(i, writes.len());
            writes.push(write);
        }
        let mut written: Vec<Option<Result<Contact, StoreError>>> = self
            .write_contacts(&writes)
            .await?
            .into_iter()
            .map(Some)
            .collect();
        drop(writes);
        let now = OffsetDateTime::now_utc();
        for (i, p) in pairs.iter().enumerate() {
            let crm_outcome = crm_result.get(&i);
            let crm_ok = matches!(
                (&p.crm, crm_outcome),
                (None, _) | (Some(_), Some(RecordResult::Saved { .. }))
            );
            if let (Some(w), Some(outcome)) = (&p.crm, crm_outcome) {
                match outcome {
                    RecordResult::Saved { .. } => match w.op {
                        PlanOp::Create => self.counts.crm.lead.created += 1,
                        PlanOp::Update => self.counts.crm.lead.updated += 1,
                    },
                    RecordResult::Failed(errors) => {
                        self.counts.crm.lead.failed += 1;
                        if let Some(cid) = p.contact_id.as_ref().and_then(store_id) {
                            self.retry_new.push((RetryKind::Contact, cid.0.to_string()));
                        }
                        let record = match w.op {
                            PlanOp::Create => p.contact_id.as_ref().map(|c| format!("contact {c}")),
                            PlanOp::Update => p.org_id.clone(),
                        };
                        let f = self.failure(Side::Crm, SObject::Lead, record, email_of(p), errors);
                        batch.failures.push(f);
                    }
                    RecordResult::Indeterminate(why) => {
                        // The create may exist: the intent stays and the next run looks it up.
                        let errors = [ApiError {
                            error_code: "INDETERMINATE".into(),
                            message: why.clone(),
                            fields: None,
                        }];
                        let f = self.failure(
                            Side::Crm,
                            SObject::Lead,
                            p.contact_id.as_ref().map(|c| format!("contact {c}")),
                            email_of(p),
                            &errors,
                        );
                        batch.failures.push(f);
                    }
                    RecordResult::Unprocessed => {}
                }
            }
            if let (Some(w), Some(cid)) = (&p.crm, p.contact_id.as_ref().and_then(store_id))
                && w.op == PlanOp::Create
                && matches!(
                    crm_outcome,
                    Some(RecordResult::Saved { .. } | RecordResult::Failed(_))
                )
            {
                batch.clear_intents.push(cid);
            }
            let mut contact_id = p.contact_id.as_ref().and_then(store_id);
            let mut marketing_ok = true;
            if waits(i) {
                continue;
            }
            let mut created_from_lead: Option<(ContactId, String)> = None;
            if let Some(w) = &p.marketing {
                let result = match write_of.get(&i).and_then(|&k| written[k].take()) {
                    Some(Ok(c)) if w.op == PlanOp::Create => Ok(Some(c.id)),
                    Some(Ok(_)) | None => Ok(None),
                    Some(Err(e)) => Err(e),
                };
                let counts = self.counts.marketing.of(p.object);
                match result {
                    Ok(created) => {
                        match w.op {
                            PlanOp::Create => counts.created += 1,
                            PlanOp::Update => counts.updated += 1,
                        }
                        if let Some(new_id) = created {
                            contact_id = Some(new_id);
                            // The new contact's page link (`plezi_url`) can only go to its Lead
                            // now that it has an id: it goes through the outbox in this run.
                            if let (SObject::Lead, Some(oid)) = (p.object, &p.org_id) {
                                created_from_lead = Some((new_id, oid.clone()));
                            }
                        }
                    }
                    Err(
                        e @ (StoreError::Invalid(_)
                        | StoreError::EmailTaken { .. }
                        | StoreError::NotFound { .. }),
                    ) => {
                        counts.failed += 1;
                        if let Some(oid) = &p.org_id {
                            self.retry_new.push((retry_kind(p.object), oid.clone()));
                        }
                        marketing_ok = false;
                        let code = match &e {
                            StoreError::EmailTaken { .. } => "EMAIL_TAKEN",
                            StoreError::NotFound { .. } => "NOT_FOUND",
                            _ => "INVALID_VALUE",
                        };
                        let errors = [ApiError {
                            error_code: code.into(),
                            message: e.to_string(),
                            fields: None,
                        }];
                        let f = self.failure(
                            Side::Marketing,
                            p.object,
                            p.org_id.clone(),
                            email_of(p),
                            &errors,
                        );
                        batch.failures.push(f);
                    }
                    Err(e) => return Err(Stop::Store(e)),
                }
            }
            let org_id = p.org_id.clone().or_else(|| match crm_outcome {
                Some(RecordResult::Saved { id, .. }) => Some(id.clone()),
                _ => None,
            });
            let (Some(cid), Some(oid)) = (contact_id, org_id) else {
                continue;
            };
            if let Some(link) = p.link_after(
                self.previous.get(&cid),
                core_id(cid),
                oid,
                crm_ok,
                marketing_ok,
            ) {
                if let Some((new_id, lead_id)) = created_from_lead.take() {
                    self.push_page_url(new_id, lead_id, &link)?;
                }
                batch.links.push(StoredLink {
                    contact_id: cid,
                    org_id: link.org_id,
                    object: link.object,
                    base: link.base,
                });
                // Linked (created, or matched to a Lead a crashed run had created): settled.
                batch.clear_intents.push(cid);
            }
            for (write, ok, target) in [
                (&p.crm, crm_ok, Side::Crm),
                (&p.marketing, marketing_ok, Side::Marketing),
            ] {
                let (Some(w), true) = (write, ok) else {
                    continue;
                };
                for v in &w.values {
                    batch.provenance.push(ProvenanceEntry {
                        contact_id: cid,
                        attribute: v.attribute.clone(),
                        target,
                        source: v.provenance.side,
                        rule: format!("{:?}", v.provenance.rule),
                        value: v.value.clone(),
                        run_id: self.run_id,
                        written_at: now,
                    });
                }
            }
        }
        self.failures.extend(batch.failures.iter().cloned());
        sync.commit_batch(&batch).await?;
        // After the commit: the link the page link's entry starts from is stored.
        let urls = std::mem::take(&mut self.url_rows);
        sync.outbox_put(self.run_id, &urls).await?;
        self.planned += urls.len() as u64;
        Ok(())
    }

    /// Queues the page link (`page_url`, the Lead's `plezi_url`: R-FIELD-1) of a contact just
    /// created from Lead `lead_id`, as an update of that Lead in the outbox, with the base it
    /// leaves once sent (so the next run has nothing to send). Only when the mapping sends
    /// `page_url` to Leads.
    fn push_page_url(
        &mut self,
        contact: ContactId,
        lead_id: String,
        link: &SyncedLink,
    ) -> Result<(), Stop> {
        let Some(entry) = self
            .mapping
            .active_entries(SObject::Lead)
            .find(|e| e.attribute == PAGE_URL)
        else {
            return Ok(());
        };
        if !matches!(
            entry.effective_direction(),
            lb_core::Direction::ToCrm | lb_core::Direction::Both
        ) {
            return Ok(());
        }
        let url = Some(page_url(&self.settings.app_base_url, contact));
        let pair = PairPlan {
            contact_id: Some(core_id(contact)),
            org_id: Some(lead_id.clone()),
            object: SObject::Lead,
            link: lb_core::LinkChange::Unchanged,
            crm: Some(lb_core::RecordWrite {
                op: PlanOp::Update,
                values: vec![lb_core::WrittenValue {
                    attribute: PAGE_URL.to_owned(),
                    field: entry.field.clone(),
                    value: url.clone(),
                    provenance: lb_core::Provenance {
                        side: Side::Marketing,
                        run: RunId::from(self.run_id.to_string()),
                        rule: lb_core::Rule::FirstSync,
                    },
                }],
            }),
            marketing: None,
            conflicts: Vec::new(),
            held: Vec::new(),
            base_changes: vec![lb_core::BaseUpdate {
                attribute: PAGE_URL.to_owned(),
                base: lb_core::FieldBase {
                    ours: url.clone(),
                    theirs: url,
                    entry: entry.fingerprint(),
                },
            }],
        };
        let row = OutboxRow {
            kind: OutboxKind::Update,
            contact_id: Some(contact),
            org_id: Some(lead_id),
            entry: encode(&OutboxEntry {
                pair,
                previous: Some(link.clone()),
            })?,
        };
        self.url_rows.push(row);
        Ok(())
    }

    /// Writes a batch's contacts in one store transaction, each row with its own outcome
    /// (an `Err` is the database itself failing: then nothing was written).
    async fn write_contacts(
        &self,
        writes: &[ContactWrite],
    ) -> Result<Vec<Result<Contact, StoreError>>, Stop> {
        Ok(self.store.write_contacts(writes, Origin::Sync).await?)
    }
}

/// The rows of one outbox job: JSON records for collections, or only their CSV lines for a
/// Bulk job (a job of 100,000 rows would otherwise hold a JSON map per row besides the CSV
/// the client uploads).
enum JobRows {
    Records(Vec<Record>),
    Csv(lb_salesforce::bulk::CsvRows),
}

impl JobRows {
    fn new(bulk: bool, op: &WriteOp) -> JobRows {
        if bulk {
            JobRows::Csv(lb_salesforce::bulk::CsvRows::new(op))
        } else {
            JobRows::Records(Vec::new())
        }
    }

    fn push(&mut self, record: Record) {
        match self {
            JobRows::Records(records) => records.push(record),
            JobRows::Csv(rows) => rows.push(&record),
        }
    }

    fn len(&self) -> usize {
        match self {
            JobRows::Records(records) => records.len(),
            JobRows::Csv(rows) => rows.len(),
        }
    }

    async fn send(self, client: &Client, op: &WriteOp) -> lb_salesforce::WriteReport {
        match self {
            JobRows::Records(records) => client.write(op, "Lead", records).await,
            JobRows::Csv(rows) => client.bulk_ingest_rows(op, "Lead", rows).await,
        }
    }
}

/// Whether an outbox pair has an org row to send (an update needs the record's Id).
fn sendable(p: &PairPlan) -> bool {
    p.crm
        .as_ref()
        .is_some_and(|w| w.op == PlanOp::Create || p.org_id.is_some())
}

/// A pair's email (the value written to either side).
fn email_of(p: &PairPlan) -> Option<String> {
    [&p.crm, &p.marketing]
        .into_iter()
        .flatten()
        .flat_map(|w| w.values.iter())
        .find(|v| v.attribute == "email")
        .and_then(|v| v.value.clone())
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, Stop> {
    serde_json::to_string(value)
        .map_err(|e| Stop::Store(StoreError::Corrupt(format!("outbox entry: {e}"))))
}

fn decode<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, Stop> {
    serde_json::from_str(raw)
        .map_err(|e| Stop::Store(StoreError::Corrupt(format!("outbox entry: {e}"))))
}
