//! The runner: one sync run from reading to recording (see the crate docs for invariants).
//!
//! A run: read the org's changed Leads and Contacts (`SystemModstamp > watermark − overlap`),
//! our changed contacts (change log after our cursor), the links touching them, then every
//! holder of a sensitive email on both sides (the core's input contract); plan with
//! `lb_core::plan`; check the API budget for the writes; apply in batches — journal intents,
//! create/update Leads through the client (collections or Bulk by volume), write our contacts,
//! then record links, bases, provenance, failures and cleared intents in one transaction per
//! batch; finally move the watermarks (only when everything read was applied).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use lb_core::{
    Mapping, OrgRecord, PairPlan, Plan, RunId, SObject, Side, SyncInput, SyncedLink,
    WriteOp as PlanOp,
};
use lb_salesforce::{
    ApiError, Client, Credentials, Error as SfError, Record, RecordResult, WriteOp, WriteReport,
};
use lb_store::sync::{
    BatchCommit, Intent, NewRun, ProvenanceEntry, RunEnd, RunFailure, RunRecord, RunStatus,
    StoredLink,
};
use lb_store::{ChangeCursor, Contact, ContactId, Email, MasterKey, Origin, Store, StoreError};
use serde::Serialize;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::connection::{ConnectionSettings, client_config, load_credentials};
use crate::convert::{contact_input, org_fields, org_record, our_contact, soql_datetime};
use crate::health::Health;
use crate::settings::{FullResyncPolicy, SyncSettings, Watermarks, load_mapping};
use crate::{EngineError, lock};

/// Emails per `Email IN (…)` lookup: about 11,000 characters of URL, below Salesforce's
/// 16,384-character limit for a GET query.
const EMAIL_LOOKUP_CHUNK: usize = 300;
/// Change-log rows read per page.
const CHANGE_PAGE: u32 = 10_000;

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
    /// A phase starts ("reading the org", "planning", "applying").
    Phase(&'static str),
    /// Records read so far from the org.
    Read { records: u64 },
    /// Pairs applied so far, out of `total`.
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
    /// Records read again by the next run: their last write failed, or a value can only
    /// follow now (a contact created here from a Lead gets its page link sent back).
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
const RETRY_KEY: &str = "retry";

/// Records whose write failed in a run: the next runs read them again even though nothing
/// changed, so a refused record is retried without blocking the others (no lost change).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Retry {
    contacts: BTreeSet<i64>,
    leads: BTreeSet<String>,
    org_contacts: BTreeSet<String>,
}

impl Retry {
    fn union(mut self, other: &Retry) -> Retry {
        self.contacts.extend(other.contacts.iter().copied());
        self.leads.extend(other.leads.iter().cloned());
        self.org_contacts.extend(other.org_contacts.iter().cloned());
        self
    }

    fn len(&self) -> usize {
        self.contacts.len() + self.leads.len() + self.org_contacts.len()
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
            "{}/{}",
            settings.budget_share, settings.bulk_write_threshold
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
        let client = Client::new(client_config(&conn.login_url, &settings), credentials)?;
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
        let result = self
            .run_leased(&request, scope_name, &conn, health, &mut outcome)
            .await;
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
        scope_name: &str,
        conn: &ConnectionSettings,
        health: Health,
        outcome: &mut RunOutcome,
    ) -> Result<(), EngineError> {
        let store = &self.inner.store;
        let sync = store.sync();
        let settings = SyncSettings::load(store).await?;
        let mapping = effective_mapping(load_mapping(store).await?, conn);
        let run_id = if request.dry_run {
            None
        } else {
            Some(
                sync.start_run(&self.new_run(request, scope_name, Some(mapping.hash())))
                    .await?,
            )
        };
        outcome.run_id = run_id;
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
            counts: RunCounts::default(),
            failures: Vec::new(),
            notes: Vec::new(),
            plan: None,
            previous: HashMap::new(),
            retry_before: Retry::default(),
            retry_now: Retry::default(),
            tracking: None,
            stamps: Vec::new(),
        };
        let result = run.execute().await;
        if !request.dry_run {
            // A complete run read every earlier retry again: its own failures replace them.
            let complete = result.is_ok() && !matches!(request.scope, Scope::Contacts(_));
            let retry = if complete {
                run.retry_now.clone()
            } else {
                run.retry_before.clone().union(&run.retry_now)
            };
            sync.put_state_json(RETRY_KEY, &retry).await?;
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
        if !request.dry_run {
            if let Some(h) = new_health {
                h.save(store).await?;
                outcome.health = h;
            }
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
                retries: sync
                    .state_json::<Retry>(RETRY_KEY)
                    .await?
                    .map_or(0, |r| r.len()),
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
    counts: RunCounts,
    failures: Vec<RunFailure>,
    notes: Vec<String>,
    plan: Option<Plan>,
    /// The links as they were before this run, by contact (for `PairPlan::link_after`).
    previous: HashMap<ContactId, SyncedLink>,
    retry_before: Retry,
    retry_now: Retry,
    /// While reading the org's changes: every record's stamp (for the next overlap), and what
    /// to leave out as it arrives (see `prune_page`).
    tracking: Option<Tracking>,
    stamps: Vec<(String, SObject, OffsetDateTime)>,
}

/// What the change read leaves out page by page.
struct Tracking {
    /// Records read in the last run's overlap window, unchanged since (`Id` → stamp).
    recent: BTreeMap<String, String>,
    /// Our changed contacts, when unchanged linked records may be left out (`None`: keep all).
    ours: Option<BTreeSet<ContactId>>,
}

/// What the runner read, before planning.
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
}

impl RunCtx {
    fn progress(&self, p: Progress) {
        if let Some(f) = &self.request.progress {
            f(p);
        }
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
        fields
    }

    async fn query_into(
        &mut self,
        object: SObject,
        where_clause: Option<String>,
        g: &mut Gathered,
        stamp: &mut Option<OffsetDateTime>,
    ) -> Result<Vec<String>, Stop> {
        let mut soql = format!(
            "SELECT {} FROM {}",
            self.fields_for(object).join(", "),
            object.api_name()
        );
        if let Some(w) = where_clause {
            soql.push_str(" WHERE ");
            soql.push_str(&w);
        }
        let mut pager = self.client.query(soql);
        let mut added = Vec::new();
        let mut page_start = 0;
        while let Some(page) = pager.next_page().await? {
            for r in &page.records {
                let Some(rec) = org_record(object, r) else {
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
                if !g.records.contains_key(&rec.id) {
                    added.push(rec.id.clone());
                    g.records.insert(rec.id.clone(), rec);
                }
            }
            self.prune_page(g, &added[page_start..]).await?;
            page_start = added.len();
            self.progress(Progress::Read {
                records: self.counts.read_org_leads + self.counts.read_org_contacts,
            });
        }
        added.retain(|id| g.records.contains_key(id));
        Ok(added)
    }

    async fn execute(&mut self) -> Result<(), Stop> {
        let sync = self.store.sync();
        let mut wm = Watermarks::load(&self.store).await?;
        let mapping_hash = self.mapping.hash();
        let mapping_changed = wm
            .mapping_hash
            .as_deref()
            .is_some_and(|h| h != mapping_hash);
        let never_synced = wm.completed_at.is_none();
        let full = match &self.request.scope {
            Scope::Full => true,
            Scope::Incremental => {
                never_synced
                    || (mapping_changed && self.settings.full_resync == FullResyncPolicy::Automatic)
            }
            Scope::Contacts(_) => false,
        };
        if mapping_changed && full && self.request.scope == Scope::Incremental {
            self.notes.push("the mapping changed since the last full sync: this run was a full resync (R-SYNC-5)".into());
        }
        if mapping_changed && !full {
            self.notes.push(
                "the mapping changed since the last full sync: run `leadbridge sync --full` to bring every contact up to date (R-SYNC-5)"
                    .into(),
            );
        }
        let targeted = matches!(self.request.scope, Scope::Contacts(_));
        self.retry_before = sync.state_json(RETRY_KEY).await?.unwrap_or_default();
        let mut g = Gathered::default();

        // 2. Ours.
        self.progress(Progress::Phase("reading our contacts"));
        let mut ours: BTreeSet<ContactId> = BTreeSet::new();
        let mut cursor = wm.ours;
        match &self.request.scope {
            Scope::Contacts(ids) => ours.extend(ids.iter().copied()),
            _ if full => {
                let mut after = ContactId(0);
                loop {
                    let page = sync.contact_ids_after(after, 50_000).await?;
                    let Some(last) = page.last().copied() else {
                        break;
                    };
                    ours.extend(page);
                    after = last;
                }
                cursor = sync.store().latest_change_cursor().await?;
            }
            _ => loop {
                let marks = sync.change_marks(cursor, CHANGE_PAGE).await?;
                let n = marks.len();
                for m in &marks {
                    if m.origin != Origin::Sync {
                        ours.insert(m.contact_id);
                    }
                }
                if let Some(last) = marks.last() {
                    cursor = ChangeCursor(last.seq);
                }
                if n < CHANGE_PAGE as usize {
                    break;
                }
            },
        }
        if !targeted {
            ours.extend(self.retry_before.contacts.iter().map(|id| ContactId(*id)));
        }
        // Leftover intents: creates that may have reached the org before a crash.
        let intents = sync.intents().await?;
        ours.extend(intents.iter().map(|i| i.contact_id));

        // 1. The org's changes.
        self.progress(Progress::Phase("reading the org"));
        let mut lead_stamp = wm.lead;
        let mut contact_stamp = wm.contact;
        let overlap = time::Duration::seconds(self.settings.overlap_seconds.max(0));
        let mut read_stamps: Vec<(String, SObject, OffsetDateTime)> = Vec::new();
        if !targeted {
            self.tracking = (!full).then(|| Tracking {
                recent: std::mem::take(&mut wm.recent),
                ours: (!mapping_changed).then(|| ours.clone()),
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
                let stamp = match object {
                    SObject::Lead => &mut lead_stamp,
                    SObject::Contact => &mut contact_stamp,
                };
                let mut s = *stamp;
                self.query_into(object, filter, &mut g, &mut s).await?;
                *stamp = s;
            }
            self.tracking = None;
            read_stamps = std::mem::take(&mut self.stamps);
            // Records whose write failed last time are read again by Id.
            if !full {
                let retry = self.retry_before.clone();
                for (object, ids) in [
                    (SObject::Lead, &retry.leads),
                    (SObject::Contact, &retry.org_contacts),
                ] {
                    let ids: Vec<&String> = ids
                        .iter()
                        .filter(|id| !g.records.contains_key(*id))
                        .collect();
                    for chunk in ids.chunks(EMAIL_LOOKUP_CHUNK) {
                        let list = chunk
                            .iter()
                            .map(|e| lb_salesforce::soql::quote(e))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let mut none = None;
                        self.query_into(object, Some(format!("Id IN ({list})")), &mut g, &mut none)
                            .await?;
                    }
                }
            }
        }

        // 3. Links and the contacts they point to.
        if full {
            g.add_links(sync.all_links().await?);
        } else {
            let ids: Vec<ContactId> = ours.iter().copied().collect();
            g.add_links(sync.links_by_contacts(&ids).await?);
            let org_ids: Vec<String> = g.records.keys().cloned().collect();
            g.add_links(sync.links_by_org_ids(&org_ids).await?);
        }
        if !full && !mapping_changed {
            self.drop_unchanged(&mut g, &ours);
        }
        let mut wanted: BTreeSet<ContactId> = ours.clone();
        for id in g.records.keys() {
            if let Some(c) = g.linked_org.get(id) {
                wanted.insert(*c);
            }
        }
        self.load_contacts(&mut g, wanted).await?;

        // 4. Every holder of a sensitive email, on both sides (the core's input contract).
        if !full {
            self.complete_identity(&mut g, &intents).await?;
        }
        self.counts.read_contacts = g.contacts.len() as u64;

        // 5. Plan.
        self.progress(Progress::Phase("planning"));
        let ids: Vec<ContactId> = g.contacts.keys().copied().collect();
        let times = sync.field_times(&ids).await?;
        // Moved, not copied: a full sync holds every contact and link once (memory).
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
        g.linked_org = HashMap::new();
        let contacts: Vec<_> = std::mem::take(&mut g.contacts)
            .into_values()
            .map(|c| our_contact(&c, times.get(&c.id), &self.settings.app_base_url))
            .collect();
        drop(times);
        let records: Vec<OrgRecord> = g.records.into_values().collect();
        let links: Vec<SyncedLink> = self.previous.values().cloned().collect();
        // A large run is planned and applied in partitions of whole email groups, so the
        // planner's memory follows the partition, not the whole base.
        let inputs = partition(
            contacts,
            records,
            links,
            self.settings.plan_partition.max(1),
        );
        let mut merged: Option<Plan> = None;
        for input in inputs {
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
                match &mut merged {
                    None => merged = Some(plan),
                    Some(m) => {
                        m.pairs.extend(plan.pairs);
                        m.skips.extend(plan.skips);
                        m.duplicate_groups.extend(plan.duplicate_groups);
                    }
                }
                continue;
            }
            self.apply_plan(plan, &summary).await?;
        }
        if self.request.dry_run {
            self.plan = merged;
            return Ok(());
        }
        if self.counts.duplicate_groups > 0 {
            self.notes.push(format!(
                "{} duplicate group(s) in the org (same email on several records, R-SYNC-3): the first record of each is synced",
                self.counts.duplicate_groups
            ));
        }

        // 8. Everything read was applied: the watermarks move.
        if !targeted {
            wm.lead = lead_stamp;
            wm.contact = contact_stamp;
            wm.ours = cursor;
            wm.recent = read_stamps
                .into_iter()
                .filter(|(_, object, stamp)| {
                    let mark = match object {
                        SObject::Lead => lead_stamp,
                        SObject::Contact => contact_stamp,
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

    /// Checks the budget for a plan's writes, then applies it batch by batch.
    async fn apply_plan(&mut self, plan: Plan, summary: &lb_core::Summary) -> Result<(), Stop> {
        // Budget: the writes must fit before the first one is sent.
        let chunk = lb_salesforce::writes::COLLECTION_CHUNK;
        let writes = summary.crm_creates.div_ceil(chunk)
            + summary.crm_updates.div_ceil(chunk)
            + summary.seed_updates.div_ceil(chunk);
        if writes > 0 {
            self.client.check_budget(writes as u64).await?;
        }
        self.progress(Progress::Phase("applying"));
        let total = plan.pairs.len() as u64;
        let mut done = 0u64;
        for batch in plan.pairs.chunks(self.settings.batch_size.max(1)) {
            if self
                .request
                .cancel
                .as_ref()
                .is_some_and(CancellationToken::is_cancelled)
            {
                return Err(Stop::Cancelled);
            }
            self.apply_batch(batch).await?;
            done += batch.len() as u64;
            self.progress(Progress::Applied { done, total });
        }
        let seed: Vec<(String, Vec<lb_core::WrittenValue>)> = plan
            .duplicate_groups
            .iter()
            .flat_map(|g| {
                g.seed_updates
                    .iter()
                    .map(|s| (s.lead_id.clone(), s.values.clone()))
            })
            .collect();
        if !seed.is_empty() {
            self.apply_seed_updates(seed).await?;
        }
        Ok(())
    }

    /// While the org's changes are read: loads the links of a page's records and leaves out
    /// the linked ones unchanged since their last sync (as `drop_unchanged`), so a read-back
    /// of our own writes never holds every record at once.
    async fn prune_page(&self, g: &mut Gathered, ids: &[String]) -> Result<(), Stop> {
        let Some(Tracking {
            ours: Some(ours), ..
        }) = &self.tracking
        else {
            return Ok(());
        };
        if ids.is_empty() {
            return Ok(());
        }
        g.add_links(self.store.sync().links_by_org_ids(ids).await?);
        let mut dropped = Vec::new();
        for id in ids {
            let Some(r) = g.records.get(id) else { continue };
            let Some(cid) = g.linked_org.get(id) else {
                continue;
            };
            if ours.contains(cid) || r.is_converted {
                continue;
            }
            let Some(link) = g.links.get(cid) else {
                continue;
            };
            let unchanged = link.org_id == r.id
                && link.object == r.object
                && self.mapping.active_entries(r.object).all(|e| {
                    link.base
                        .get(&e.attribute)
                        .is_some_and(|b| b.theirs == r.value(&e.field))
                });
            if unchanged {
                dropped.push((id.clone(), *cid));
            }
        }
        for (id, cid) in dropped {
            g.records.remove(&id);
            g.linked_org.remove(&id);
            g.links.remove(&cid);
        }
        Ok(())
    }

    /// Leaves out the linked org records read again with every mapped value equal to its
    /// base (our own writes coming back with a new `SystemModstamp`, or a change to a field we
    /// do not map) when their contact did not change here: the core would plan nothing for
    /// them, and a full read-back of 100,000 records then costs neither their contacts' loading
    /// nor planner memory. Converted Leads always stay (R-SYNC-6).
    fn drop_unchanged(&self, g: &mut Gathered, ours: &BTreeSet<ContactId>) {
        let mapping = &self.mapping;
        let links = &g.links;
        let linked_org = &g.linked_org;
        let mut dropped: Vec<ContactId> = Vec::new();
        g.records.retain(|id, r| {
            let Some(cid) = linked_org.get(id) else {
                return true;
            };
            if ours.contains(cid) || r.is_converted {
                return true;
            }
            let Some(link) = links.get(cid) else {
                return true;
            };
            let unchanged = link.org_id == r.id
                && link.object == r.object
                && mapping.active_entries(r.object).all(|e| {
                    link.base
                        .get(&e.attribute)
                        .is_some_and(|b| b.theirs == r.value(&e.field))
                });
            if unchanged {
                dropped.push(*cid);
            }
            !unchanged
        });
        for cid in dropped {
            if let Some(l) = g.links.remove(&cid) {
                g.linked_org.remove(&l.org_id);
            }
        }
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
            if r.is_converted {
                if let Some(cid) = &r.converted_contact_id {
                    if !g.records.contains_key(cid) {
                        by_id
                            .entry(SObject::Contact)
                            .or_default()
                            .insert(cid.clone());
                    }
                }
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
                    let mut none = None;
                    added.extend(
                        self.query_into(object, Some(format!("Email IN ({list})")), g, &mut none)
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
                let mut none = None;
                added.extend(
                    self.query_into(object, Some(format!("Id IN ({list})")), g, &mut none)
                        .await?,
                );
            }
        }
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
            if !g.contacts.contains_key(&c.id) {
                new_contacts.push(c.id);
                g.contacts.insert(c.id, c);
            }
        }
        g.add_links(sync.links_by_org_ids(&added).await?);
        g.add_links(sync.links_by_contacts(&new_contacts).await?);
        let mut wanted = BTreeSet::new();
        for id in &added {
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

    async fn apply_batch(&mut self, pairs: &[PairPlan]) -> Result<(), Stop> {
        let sync = self.store.sync();
        let mut batch = BatchCommit {
            run_id: self.run_id,
            ..BatchCommit::default()
        };
        let email_of = |p: &PairPlan| -> Option<String> {
            [&p.crm, &p.marketing]
                .into_iter()
                .flatten()
                .flat_map(|w| w.values.iter())
                .find(|v| v.attribute == "email")
                .and_then(|v| v.value.clone())
        };

        // Org creates: the intent first, so a crash after the create is reconciled by email.
        let creates: Vec<usize> = (0..pairs.len())
            .filter(|&i| {
                pairs[i]
                    .crm
                    .as_ref()
                    .is_some_and(|w| w.op == PlanOp::Create)
            })
            .collect();
        let mut intents = Vec::new();
        for &i in &creates {
            if let (Some(cid), Some(email)) = (
                pairs[i].contact_id.as_ref().and_then(store_id),
                email_of(&pairs[i]),
            ) {
                intents.push(Intent {
                    contact_id: cid,
                    email,
                });
            }
        }
        if !intents.is_empty() {
            sync.put_intents(self.run_id, &intents).await?;
        }
        let mut crm_result: HashMap<usize, RecordResult> = HashMap::new();
        let mut stopped: Option<SfError> = None;
        if !creates.is_empty() {
            let rows: Vec<Record> = creates
                .iter()
                .map(|&i| {
                    org_fields(
                        &pairs[i]
                            .crm
                            .as_ref()
                            .map(|w| w.values.clone())
                            .unwrap_or_default(),
                        SObject::Lead,
                        &self.conn,
                    )
                })
                .collect();
            let report = self.client.write(&WriteOp::Insert, "Lead", rows).await;
            collect(&creates, report, &mut crm_result, &mut stopped);
        }
        let updates: Vec<usize> = (0..pairs.len())
            .filter(|&i| {
                pairs[i]
                    .crm
                    .as_ref()
                    .is_some_and(|w| w.op == PlanOp::Update)
                    && pairs[i].org_id.is_some()
            })
            .collect();
        if !updates.is_empty() && stopped.is_none() {
            let rows: Vec<Record> = updates
                .iter()
                .map(|&i| {
                    let mut r = org_fields(
                        &pairs[i]
                            .crm
                            .as_ref()
                            .map(|w| w.values.clone())
                            .unwrap_or_default(),
                        SObject::Lead,
                        &self.conn,
                    );
                    r.insert(
                        "Id".into(),
                        serde_json::Value::String(pairs[i].org_id.clone().unwrap_or_default()),
                    );
                    r
                })
                .collect();
            let report = self.client.write(&WriteOp::Update, "Lead", rows).await;
            collect(&updates, report, &mut crm_result, &mut stopped);
        }

        // Our side.
        let now = OffsetDateTime::now_utc();
        for (i, p) in pairs.iter().enumerate() {
            let crm_outcome = crm_result.get(&i);
            let crm_ok = match (&p.crm, crm_outcome) {
                (None, _) => true,
                (Some(_), Some(RecordResult::Saved { .. })) => true,
                _ => false,
            };
            if let (Some(w), Some(outcome)) = (&p.crm, crm_outcome) {
                match outcome {
                    RecordResult::Saved { .. } => match w.op {
                        PlanOp::Create => self.counts.crm.lead.created += 1,
                        PlanOp::Update => self.counts.crm.lead.updated += 1,
                    },
                    RecordResult::Failed(errors) => {
                        self.counts.crm.lead.failed += 1;
                        if let Some(cid) = p.contact_id.as_ref().and_then(store_id) {
                            self.retry_now.contacts.insert(cid.0);
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
            if let (Some(w), Some(cid)) = (&p.crm, p.contact_id.as_ref().and_then(store_id)) {
                if w.op == PlanOp::Create
                    && matches!(
                        crm_outcome,
                        Some(RecordResult::Saved { .. } | RecordResult::Failed(_))
                    )
                {
                    batch.clear_intents.push(cid);
                }
            }
            // Marketing writes wait for their org counterpart only when there is one.
            let mut contact_id = p.contact_id.as_ref().and_then(store_id);
            let mut marketing_ok = true;
            if let Some(w) = &p.marketing {
                if stopped.is_some() && p.crm.is_some() {
                    continue;
                }
                let input = contact_input(&w.values);
                let result = match (w.op, contact_id) {
                    (PlanOp::Create, _) => self
                        .store
                        .create_contact(&input, Origin::Sync)
                        .await
                        .map(|c| Some(c.id)),
                    (PlanOp::Update, Some(id)) => self
                        .store
                        .update_contact(id, &input, Origin::Sync)
                        .await
                        .map(|_| None),
                    (PlanOp::Update, None) => Ok(None),
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
                            // now that it has an id: the next run reads both again for it.
                            if let (SObject::Lead, Some(oid)) = (p.object, &p.org_id) {
                                self.retry_now.contacts.insert(new_id.0);
                                self.retry_now.leads.insert(oid.clone());
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
                            match p.object {
                                SObject::Lead => self.retry_now.leads.insert(oid.clone()),
                                SObject::Contact => self.retry_now.org_contacts.insert(oid.clone()),
                            };
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
        match stopped {
            Some(e) => Err(Stop::Sf(e)),
            None => Ok(()),
        }
    }

    async fn apply_seed_updates(
        &mut self,
        seed: Vec<(String, Vec<lb_core::WrittenValue>)>,
    ) -> Result<(), Stop> {
        let rows: Vec<Record> = seed
            .iter()
            .map(|(id, values)| {
                let mut r = org_fields(values, SObject::Lead, &self.conn);
                r.insert("Id".into(), serde_json::Value::String(id.clone()));
                r
            })
            .collect();
        let report = self.client.write(&WriteOp::Update, "Lead", rows).await;
        let mut batch = BatchCommit {
            run_id: self.run_id,
            ..BatchCommit::default()
        };
        for o in &report.outcomes {
            match &o.result {
                RecordResult::Saved { .. } => self.counts.seed_updates += 1,
                RecordResult::Failed(errors) => {
                    let f = self.failure(
                        Side::Crm,
                        SObject::Lead,
                        Some(seed[o.row].0.clone()),
                        None,
                        errors,
                    );
                    batch.failures.push(f);
                }
                _ => {}
            }
        }
        self.failures.extend(batch.failures.iter().cloned());
        self.store.sync().commit_batch(&batch).await?;
        match report.stopped {
            Some(e) => Err(Stop::Sf(e)),
            None => Ok(()),
        }
    }
}

/// Splits the planner's input into about `size`-item parts that keep every email group
/// whole: an org record goes by its email (the duplicate groups of R-SYNC-3 stay together), a
/// linked contact and its link go with their record, an unlinked contact by its own email.
/// One part when everything fits.
fn partition(
    contacts: Vec<lb_core::OurContact>,
    records: Vec<OrgRecord>,
    links: Vec<SyncedLink>,
    size: usize,
) -> Vec<SyncInput> {
    let total = contacts.len() + records.len();
    let parts = total.div_ceil(size).max(1);
    if parts == 1 {
        return vec![SyncInput {
            contacts,
            records,
            links,
        }];
    }
    let bucket = |email: Option<lb_core::Email>| -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        email
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default()
            .hash(&mut h);
        (h.finish() % parts as u64) as usize
    };
    let mut out: Vec<SyncInput> = (0..parts).map(|_| SyncInput::default()).collect();
    let mut record_part: HashMap<String, usize> = HashMap::new();
    for r in records {
        let p = bucket(r.normalized_email());
        record_part.insert(r.id.clone(), p);
        out[p].records.push(r);
    }
    let mut contact_part: HashMap<lb_core::ContactId, usize> = HashMap::new();
    for l in &links {
        if let Some(p) = record_part.get(&l.org_id) {
            contact_part.insert(l.contact_id.clone(), *p);
        }
    }
    for c in contacts {
        let p = contact_part
            .get(&c.id)
            .copied()
            .unwrap_or_else(|| bucket(c.normalized_email()));
        contact_part.insert(c.id.clone(), p);
        out[p].contacts.push(c);
    }
    for l in links {
        let p = contact_part
            .get(&l.contact_id)
            .or_else(|| record_part.get(&l.org_id))
            .copied()
            .unwrap_or(0);
        out[p].links.push(l);
    }
    out
}

/// Files a write report's outcomes under the pair indexes of its rows.
fn collect(
    indexes: &[usize],
    report: WriteReport,
    into: &mut HashMap<usize, RecordResult>,
    stopped: &mut Option<SfError>,
) {
    for o in report.outcomes {
        if let Some(&i) = indexes.get(o.row) {
            into.insert(i, o.result);
        }
    }
    if stopped.is_none() {
        *stopped = report.stopped;
    }
}
