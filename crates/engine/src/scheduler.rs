//! The scheduler (R-SYNC-4): one task, one `tokio::select!` over
//! - the cancellation token (clean shutdown: the current run stops between two batches),
//! - the interval (every 2 hours by default, from the settings),
//! - a trigger channel (`leadbridge serve`'s "sync now", new credentials saved),
//! - the store's events: a form submission schedules its contact for a targeted push after a
//!   short debounce (submissions arriving together go in one run),
//! - a health poll: a sync paused by refused credentials resumes by itself once new ones are
//!   saved (by any process), a paused allowance or budget once its retry time has come.
//!
//! Runs happen one at a time, inside the loop: events that arrive meanwhile wait in the
//! channels (a lagging event receiver falls back to an incremental run, which reads the
//! change log and misses nothing).

use std::collections::BTreeSet;
use std::time::Duration;

use lb_store::{ContactEvent, ContactId};
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::EngineError;
use crate::connection::ConnectionSettings;
use crate::health::Health;
use crate::runner::{Engine, RunRequest, SCHEDULE_KEY, Scope, Trigger};
use crate::settings::SyncSettings;

/// Scheduler settings that are not user settings (tests shorten them).
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// `None`: the settings' `interval_minutes`.
    pub interval: Option<Duration>,
    /// `None`: the settings' `debounce_ms`.
    pub debounce: Option<Duration>,
    /// How often the health is checked for a resumable pause.
    pub health_poll: Duration,
    /// Delay before the first scheduled run after start.
    pub first_run_after: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            interval: None,
            debounce: None,
            health_poll: Duration::from_secs(15),
            first_run_after: Duration::from_secs(5),
        }
    }
}

/// The running scheduler.
pub struct SchedulerHandle {
    triggers: mpsc::Sender<(Trigger, Scope)>,
    task: JoinHandle<()>,
}

impl SchedulerHandle {
    /// Asks for a run (e.g. a "sync now" button); queued behind the current one.
    pub fn trigger(&self, trigger: Trigger, scope: Scope) {
        if self.triggers.try_send((trigger, scope)).is_err() {
            tracing::debug!("a run is already queued; this trigger joins it");
        }
    }

    /// Waits for the scheduler to stop (cancel its token first).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// The scheduler of one engine.
pub struct Scheduler;

impl Scheduler {
    /// Starts the scheduler task; it stops when `cancel` is cancelled.
    pub fn spawn(
        engine: Engine,
        config: SchedulerConfig,
        cancel: CancellationToken,
    ) -> SchedulerHandle {
        let (tx, rx) = mpsc::channel(16);
        let events = engine.store().subscribe();
        let task = tokio::spawn(run_loop(engine, config, cancel, rx, events));
        SchedulerHandle { triggers: tx, task }
    }
}

async fn run_loop(
    engine: Engine,
    config: SchedulerConfig,
    cancel: CancellationToken,
    mut triggers: mpsc::Receiver<(Trigger, Scope)>,
    mut events: broadcast::Receiver<ContactEvent>,
) {
    let settings = SyncSettings::load(engine.store()).await.unwrap_or_default();
    let interval = config
        .interval
        .unwrap_or(Duration::from_secs(settings.interval_minutes.max(1) * 60));
    let debounce = config
        .debounce
        .unwrap_or(Duration::from_millis(settings.debounce_ms));
    let mut next_scheduled = Instant::now() + config.first_run_after;
    let mut pending: BTreeSet<ContactId> = BTreeSet::new();
    let mut push_at: Option<Instant> = None;
    let mut poll = tokio::time::interval(config.health_poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    publish_next(&engine, next_scheduled).await;
    loop {
        let push_deadline = push_at.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep_until(next_scheduled) => {
                run(&engine, Trigger::Schedule, Scope::Incremental, &cancel).await;
                next_scheduled = Instant::now() + interval;
                publish_next(&engine, next_scheduled).await;
            }
            Some((trigger, scope)) = triggers.recv() => {
                run(&engine, trigger, scope, &cancel).await;
            }
            event = events.recv() => match event {
                Ok(ContactEvent::FormSubmitted { contact_id, .. }) => {
                    pending.insert(contact_id);
                    push_at.get_or_insert_with(|| Instant::now() + debounce);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Some submissions were not seen one by one: the change log has them all.
                    pending.clear();
                    push_at = None;
                    run(&engine, Trigger::FormSubmission, Scope::Incremental, &cancel).await;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    events = engine.store().subscribe();
                }
            },
            _ = tokio::time::sleep_until(push_deadline), if push_at.is_some() => {
                push_at = None;
                let ids: Vec<ContactId> = std::mem::take(&mut pending).into_iter().collect();
                run(&engine, Trigger::FormSubmission, Scope::Contacts(ids), &cancel).await;
            }
            _ = poll.tick() => {
                if resumable(&engine).await.unwrap_or(false) {
                    run(&engine, Trigger::CredentialsSaved, Scope::Incremental, &cancel).await;
                }
            }
        }
    }
    let _ = engine.store().sync().delete_state(SCHEDULE_KEY).await;
}

/// A pause that can end now: new credentials after a refusal, or the retry time of a paused
/// allowance or budget. Reads the store only; sends nothing to Salesforce.
async fn resumable(engine: &Engine) -> Result<bool, EngineError> {
    let sync = engine.store().sync();
    if let Some(flag) = sync.state(crate::connection::RESUME_KEY).await? {
        // Taken once (compare-and-swap): two schedulers never both resume for one save.
        if sync
            .compare_and_swap_state(crate::connection::RESUME_KEY, Some(&flag), None)
            .await?
        {
            return Ok(true);
        }
    }
    let Some(conn) = ConnectionSettings::load(engine.store()).await? else {
        return Ok(false);
    };
    let health = Health::load(engine.store()).await?;
    Ok(health.is_paused()
        && health.may_run(conn.credentials_version, OffsetDateTime::now_utc(), false))
}

async fn run(engine: &Engine, trigger: Trigger, scope: Scope, cancel: &CancellationToken) {
    let mut request = RunRequest::new(trigger, scope);
    request.cancel = Some(cancel.clone());
    match engine.run(request).await {
        Ok(outcome) => tracing::info!(
            run = ?outcome.run_id,
            trigger = trigger.name(),
            status = outcome.status.name(),
            api_requests = outcome.api_requests,
            "sync run finished"
        ),
        Err(EngineError::NotConnected) => tracing::debug!("no connection yet: nothing to sync"),
        Err(e) => tracing::warn!(error = %e, trigger = trigger.name(), "sync run could not start"),
    }
}

async fn publish_next(engine: &Engine, at: Instant) {
    let in_secs = at.saturating_duration_since(Instant::now()).as_secs();
    let when = OffsetDateTime::now_utc() + time::Duration::seconds(in_secs as i64);
    let value =
        serde_json::json!({ "pid": std::process::id(), "next_run_at": lb_store::rfc3339(when) });
    if let Err(e) = engine
        .store()
        .sync()
        .put_state_json(SCHEDULE_KEY, &value)
        .await
    {
        tracing::warn!(error = %e, "could not record the next run time");
    }
}

/// The scheduler as `leadbridge serve` runs it: an engine, its scheduler task and the token
/// that stops it.
pub struct RunningScheduler {
    engine: Engine,
    cancel: CancellationToken,
    handle: SchedulerHandle,
}

impl Scheduler {
    /// For `serve`: records `app_base_url` (where `plezi_url` points, R-FIELD-1) in the sync
    /// settings, then starts the scheduler with the default configuration.
    pub async fn start(
        store: lb_store::Store,
        key: lb_store::MasterKey,
        app_base_url: &str,
    ) -> Result<RunningScheduler, EngineError> {
        let mut settings = SyncSettings::load(&store).await?;
        if settings.app_base_url != app_base_url {
            settings.app_base_url = app_base_url.trim_end_matches('/').to_owned();
            settings.save(&store).await?;
        }
        let engine = Engine::new(store, key);
        let cancel = CancellationToken::new();
        let handle = Scheduler::spawn(engine.clone(), SchedulerConfig::default(), cancel.clone());
        Ok(RunningScheduler {
            engine,
            cancel,
            handle,
        })
    }
}

impl RunningScheduler {
    /// The engine (for "sync now", status, connect from the web layer).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn trigger(&self, trigger: Trigger, scope: Scope) {
        self.handle.trigger(trigger, scope);
    }

    /// Stops the scheduler: a run in progress ends after its current batch.
    pub async fn stop(self) {
        self.cancel.cancel();
        self.handle.join().await;
    }
}
