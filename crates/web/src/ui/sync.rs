//! The sync's pages: the health banner (what happened, what to do), "Sync now", "Preview" (the
//! dry-run plan, readable), the run history with its chart, and a run's detail with every
//! failure (the org's error code and message, a link to the record), each record skipped with
//! its reason and each duplicate group of the org (the first `lb_engine::REPORTED_MAX` of each,
//! as the engine recorded them in the run's counts; the exact totals are beside them).
//!
//! "Sync now" starts the run in the background and answers at once with a redirect; while a
//! run is going the sync page reloads itself every few seconds (a `<meta refresh>`: no script).
//! A preview runs synchronously: it reads both sides, plans, and writes nothing.

use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use lb_core::{LinkChange, Plan, SObject, Side, WriteOp};
use lb_engine::{Health, RunRecord, RunRequest, RunStatus, Scope, Trigger, Watermarks};
use serde::Deserialize;
use serde_json::Value;

use super::chart::{Point, runs_chart};
use super::contacts::record_url;
use super::{Ctx, UiError, UiState, render, when};

/// Runs listed in the history (and drawn in the chart).
const HISTORY: u32 = 30;
const CHART_RUNS: usize = 20;
/// Pairs of a preview shown in detail (the counts cover all of them).
const PREVIEW_PAIRS: usize = 200;

/// The health banner.
pub(crate) struct HealthView {
    pub class: &'static str,
    pub title: &'static str,
    pub what_happened: Option<String>,
    pub what_to_do: Vec<String>,
    pub since: Option<String>,
    pub rejected: bool,
}

/// The fields of R-FIELD the sync cannot run without.
const REQUIRED_FIELDS: [&str; 2] = ["Lead.plezi_url__c", "Contact.sync_to_plezi__c"];

/// Required org fields the saved connection did not find (`Object.Field`).
pub(crate) fn missing_required_fields(
    saved: Option<&lb_engine::ConnectionSettings>,
) -> Vec<String> {
    match saved {
        Some(s) if !s.field_types.is_empty() => REQUIRED_FIELDS
            .iter()
            .filter(|f| !s.field_types.keys().any(|k| k.eq_ignore_ascii_case(f)))
            .map(|f| (*f).to_owned())
            .collect(),
        _ => vec![],
    }
}

impl HealthView {
    /// The banner for `health`; a healthy connection that lacks required fields says so.
    pub(crate) fn with_fields(ctx: &Ctx, health: &Health, missing_fields: &[String]) -> HealthView {
        let mut view = HealthView::of(ctx, health);
        if matches!(health, Health::Healthy { .. }) && !missing_fields.is_empty() {
            view.class = "warn";
            view.title = ctx.t("health.fields_missing");
            view.what_happened = Some(missing_fields.join(", "));
            view.what_to_do = vec![ctx.t("health.fields_missing.do").to_owned()];
        }
        view
    }

    pub(crate) fn of(ctx: &Ctx, health: &Health) -> HealthView {
        let base = |class, title: &str| HealthView {
            class,
            title: ctx.t(title),
            what_happened: None,
            what_to_do: vec![],
            since: None,
            rejected: false,
        };
        match health {
            Health::NotConnected => {
                let mut v = base("warn", "health.not_connected");
                v.what_to_do
                    .push(ctx.t("health.not_connected.do").to_owned());
                v
            }
            Health::Healthy { since } => HealthView {
                since: Some(when(*since)),
                ..base("ok", "health.healthy")
            },
            Health::CredentialsRejected {
                error,
                description,
                grant,
                guidance,
                since,
                ..
            } => {
                let mut v = base("bad", "health.rejected");
                v.rejected = true;
                v.since = Some(when(*since));
                v.what_happened = Some(if error == lb_salesforce::AuthError::LOCAL {
                    format!(
                        "{} {} ({description}). {}",
                        ctx.t("health.rejected.local"),
                        super::settings::grant_label(ctx, grant),
                        ctx.t("health.rejected.paused")
                    )
                } else {
                    format!(
                        "{} {} ({error}: {description}). {}",
                        ctx.t("health.rejected.refused"),
                        super::settings::grant_label(ctx, grant),
                        ctx.t("health.rejected.paused")
                    )
                });
                // The guidance's own "What to do:" is dropped: the banner's heading says it.
                v.what_to_do = guidance
                    .iter()
                    .map(|g| super::engine_texts::guidance_line(ctx.lang, g))
                    .collect();
                v.what_to_do.push(ctx.t("health.rejected.do").to_owned());
                v
            }
            Health::AllowanceSpent {
                message,
                since,
                retry_after,
            }
            | Health::BudgetReached {
                message,
                since,
                retry_after,
            } => {
                let title = if matches!(health, Health::AllowanceSpent { .. }) {
                    "health.allowance"
                } else {
                    "health.budget"
                };
                let mut v = base("warn", title);
                v.since = Some(when(*since));
                v.what_happened = Some(message.clone());
                v.what_to_do.push(format!(
                    "{} {}",
                    ctx.t("health.retry_after"),
                    when(*retry_after)
                ));
                v
            }
            Health::Failing {
                message,
                consecutive_failures,
                since,
            } => {
                let mut v = base("bad", "health.failing");
                v.since = Some(when(*since));
                v.what_happened = Some(format!("{message} ({consecutive_failures}×)"));
                v.what_to_do.push(ctx.t("health.failing.do").to_owned());
                v
            }
        }
    }
}

/// One run in the history.
pub(crate) struct RunRow {
    id: i64,
    started: String,
    finished: String,
    trigger: String,
    scope: String,
    status: &'static str,
    status_class: &'static str,
    org_created: u64,
    org_updated: u64,
    ours_created: u64,
    ours_updated: u64,
    skipped: u64,
    duplicate_groups: u64,
    failed: u64,
    conflicts: u64,
    api_requests: u64,
    message: String,
}

fn count(counts: &Value, path: &[&str]) -> u64 {
    path.iter()
        .try_fold(counts, |v, k| v.get(k))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

fn run_row(ctx: &Ctx, r: &RunRecord) -> RunRow {
    let c = &r.counts;
    let (status, status_class) = match r.status {
        RunStatus::Running => ("run.running", "muted"),
        RunStatus::Succeeded => ("run.succeeded", "ok"),
        RunStatus::Failed => ("run.failed", "bad"),
        RunStatus::Paused => ("run.paused", "warn"),
    };
    let both = |side: &str, what: &str| {
        count(c, &[side, "Lead", what]) + count(c, &[side, "Contact", what])
    };
    RunRow {
        id: r.id,
        started: when(r.started_at),
        finished: r.finished_at.map(when).unwrap_or_default(),
        trigger: ctx.t(&format!("trigger.{}", r.triggered_by)).to_owned(),
        scope: ctx.t(&format!("scope.{}", r.scope)).to_owned(),
        status: ctx.t(status),
        status_class,
        org_created: both("crm", "created"),
        org_updated: both("crm", "updated"),
        ours_created: both("marketing", "created"),
        ours_updated: both("marketing", "updated"),
        skipped: count(c, &["skipped"]),
        duplicate_groups: count(c, &["duplicate_groups"]),
        failed: count(c, &["failed"]),
        conflicts: count(c, &["conflicts"]),
        api_requests: r.api_requests,
        // The engine records its notes in English: said in the page's language.
        message: super::engine_texts::run_message(ctx.lang, r.message.as_deref().unwrap_or("")),
    }
}

#[derive(askama::Template)]
#[template(path = "sync.html")]
struct SyncPage {
    ctx: Ctx,
    health: HealthView,
    connected: bool,
    org: Option<String>,
    running: bool,
    resync_due: bool,
    runs: Vec<RunRow>,
    chart: String,
    backlog: i64,
    pending_creates: usize,
    next_run: Option<String>,
    interval_minutes: u64,
    notice: Option<&'static str>,
    /// Contacts left out of the sync because their Salesforce record was deleted.
    tombstones: i64,
}

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    notice: Option<String>,
}

pub(crate) async fn health_page(
    State(state): State<UiState>,
    ctx: Ctx,
    Query(q): Query<PageQuery>,
) -> Response {
    match build_page(&state, &ctx, q.notice.as_deref()).await {
        Ok(parts) => render(&SyncPage { ctx, ..parts }),
        Err(err) => err.into_page(ctx),
    }
}

async fn build_page(state: &UiState, ctx: &Ctx, notice: Option<&str>) -> Result<SyncPage, UiError> {
    let internal = |e: lb_engine::EngineError| UiError::Internal(e.to_string());
    let status = state.engine.status().await.map_err(internal)?;
    let sync = state.store.sync();
    let records = sync.runs(None, HISTORY).await?;
    let tombstones = sync.count_tombstones().await?;
    let running = state.run_in_progress.load(Ordering::SeqCst)
        || records.iter().any(|r| r.status == RunStatus::Running);
    let mapping = lb_engine::settings::load_mapping(&state.store)
        .await
        .map_err(internal)?;
    let watermarks: Watermarks = status.watermarks.clone();
    let resync_due = watermarks
        .mapping_hash
        .as_ref()
        .is_some_and(|h| *h != mapping.hash());
    let runs: Vec<RunRow> = records
        .iter()
        .filter(|r| !r.dry_run)
        .map(|r| run_row(ctx, r))
        .collect();
    let points: Vec<Point> = runs
        .iter()
        .take(CHART_RUNS)
        .rev()
        .map(|r| Point {
            label: format!("#{}", r.id),
            records: r.org_created + r.org_updated + r.ours_created + r.ours_updated,
            api_requests: r.api_requests,
        })
        .collect();
    let chart = if points.is_empty() {
        String::new()
    } else {
        runs_chart(
            &points,
            ctx.t("chart.records"),
            ctx.t("chart.requests"),
            ctx.t("chart.title"),
        )
    };
    let saved = lb_engine::ConnectionSettings::load(&state.store)
        .await
        .map_err(internal)?;
    let missing = missing_required_fields(saved.as_ref());
    let org = status.connection.as_ref().and_then(|c| {
        let org = c.get("org")?;
        Some(format!(
            "{} · {} · API {}",
            org.get("name")?.as_str()?,
            org.get("edition")?.as_str()?,
            org.get("api_version")?.as_str()?
        ))
    });
    let notice = match notice {
        Some("started") => Some("sync.notice.started"),
        Some("busy") => Some("sync.notice.busy"),
        Some("not_connected") => Some("sync.notice.not_connected"),
        _ => None,
    };
    Ok(SyncPage {
        ctx: Ctx {
            lang: ctx.lang,
            user: None,
            csrf: String::new(),
            path: String::new(),
            alert: None,
        },
        health: HealthView::with_fields(ctx, &status.health, &missing),
        connected: status.connected,
        org,
        running,
        resync_due,
        runs,
        chart,
        backlog: status.backlog.contacts_changed,
        pending_creates: status.backlog.pending_creates,
        // Recorded as RFC 3339 by the scheduler: shown like every other time on the page.
        next_run: status.next_run.map(|at| {
            time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
                .map(super::when)
                .unwrap_or(at)
        }),
        interval_minutes: status.interval_minutes,
        notice,
        tombstones,
    })
}

#[derive(Deserialize)]
pub(crate) struct SyncNowForm {
    #[serde(default)]
    full: String,
}

/// "Sync now" (and "Run a full resync" with `full=1`): starts the run and redirects at once.
pub(crate) async fn sync_now(
    State(state): State<UiState>,
    axum::Form(form): axum::Form<SyncNowForm>,
) -> Response {
    match lb_engine::ConnectionSettings::load(&state.store).await {
        Ok(Some(_)) => {}
        Ok(None) => return Redirect::to("/sync?notice=not_connected").into_response(),
        Err(err) => {
            tracing::error!(%err, "cannot read the connection");
            return Redirect::to("/sync").into_response();
        }
    }
    if state.run_in_progress.swap(true, Ordering::SeqCst) {
        return Redirect::to("/sync?notice=busy").into_response();
    }
    let scope = if form.full == "1" {
        Scope::Full
    } else {
        Scope::Incremental
    };
    let engine = state.engine.clone();
    let flag = state.run_in_progress.clone();
    tokio::spawn(async move {
        match engine.run(RunRequest::new(Trigger::Manual, scope)).await {
            Ok(outcome) => {
                tracing::info!(status = outcome.status.name(), run = ?outcome.run_id, "sync started from the web app ended")
            }
            Err(err) => tracing::warn!(%err, "sync started from the web app could not run"),
        }
        flag.store(false, Ordering::SeqCst);
    });
    Redirect::to("/sync?notice=started").into_response()
}

/// A readable line of the preview.
pub(crate) struct PlanLine {
    action: &'static str,
    class: &'static str,
    who: String,
    contact_id: Option<i64>,
    values: Vec<(String, String)>,
    conflicts: Vec<String>,
    held: Vec<String>,
}

#[derive(askama::Template)]
#[template(path = "preview.html")]
struct PreviewPage {
    ctx: Ctx,
    error: Option<String>,
    health: Option<HealthView>,
    summary: Vec<(&'static str, u64)>,
    lines: Vec<PlanLine>,
    more: usize,
    /// Object (or "our contact"), record id, link to the record, reason.
    skips: Vec<(String, String, Option<String>, String)>,
    groups: Vec<(String, String, Vec<String>)>,
    api_requests: u64,
}

/// "Preview": a dry run, shown as sentences (what would be created or updated where, skips,
/// duplicate groups). Nothing is written.
pub(crate) async fn preview(State(state): State<UiState>, ctx: Ctx) -> Response {
    let mut request = RunRequest::new(Trigger::Manual, Scope::Incremental);
    request.dry_run = true;
    let outcome = match state.engine.run(request).await {
        Ok(outcome) => outcome,
        Err(err) => {
            return render(&PreviewPage {
                error: Some(err.to_string()),
                health: None,
                summary: vec![],
                lines: vec![],
                more: 0,
                skips: vec![],
                groups: vec![],
                api_requests: 0,
                ctx,
            });
        }
    };
    let Some(plan) = outcome.plan.as_ref() else {
        return render(&PreviewPage {
            error: Some(
                outcome
                    .message
                    .clone()
                    .unwrap_or_else(|| outcome.health.explain()),
            ),
            health: Some(HealthView::of(&ctx, &outcome.health)),
            summary: vec![],
            lines: vec![],
            more: 0,
            skips: vec![],
            groups: vec![],
            api_requests: outcome.api_requests,
            ctx,
        });
    };
    let s = plan.summary();
    let summary = vec![
        ("preview.crm_creates", s.crm_creates as u64),
        ("preview.crm_updates", s.crm_updates as u64),
        ("preview.marketing_creates", s.marketing_creates as u64),
        ("preview.marketing_updates", s.marketing_updates as u64),
        ("preview.links_matched", s.links_matched as u64),
        ("preview.conflicts", s.conflicts as u64),
        ("preview.skipped", s.skipped as u64),
        ("preview.duplicate_groups", s.duplicate_groups as u64),
    ];
    let (lines, more) = plan_lines(&ctx, plan);
    let instance = super::settings::instance_url(&state).await;
    let skips = plan
        .skips
        .iter()
        .map(|k| {
            let side = match k.side {
                Side::Crm => k
                    .object
                    .map(|o| o.api_name().to_owned())
                    .unwrap_or_else(|| "Salesforce".to_owned()),
                Side::Marketing => ctx.t("preview.our_contact").to_owned(),
            };
            let link = match (k.side, k.object, instance.as_deref()) {
                (Side::Crm, Some(object), Some(base)) => {
                    Some(record_url(base, object.api_name(), &k.id))
                }
                (Side::Marketing, _, _) if k.id.parse::<i64>().is_ok() => {
                    Some(format!("/contacts/{}/sync", k.id))
                }
                _ => None,
            };
            (
                side,
                k.id.clone(),
                link,
                super::engine_texts::skip_reason(ctx.lang, &k.reason),
            )
        })
        .collect();
    let groups = plan
        .duplicate_groups
        .iter()
        .map(|g| {
            let members = g
                .members
                .iter()
                .map(|m| format!("{} {} ({})", m.object.api_name(), m.id, when(m.created)))
                .collect();
            (g.email.to_string(), g.primary.clone(), members)
        })
        .collect();
    render(&PreviewPage {
        error: None,
        health: None,
        summary,
        lines,
        more,
        skips,
        groups,
        api_requests: outcome.api_requests,
        ctx,
    })
}

fn plan_lines(ctx: &Ctx, plan: &Plan) -> (Vec<PlanLine>, usize) {
    let mut lines = Vec::new();
    for pair in plan.pairs.iter() {
        let who = pair
            .crm
            .iter()
            .chain(pair.marketing.iter())
            .flat_map(|w| w.values.iter())
            .find(|v| v.attribute == "email")
            .and_then(|v| v.value.clone())
            .or_else(|| pair.org_id.clone())
            .unwrap_or_default();
        let conflicts: Vec<String> = pair
            .conflicts
            .iter()
            .map(|c| {
                format!(
                    "{}: {} “{}” / Salesforce “{}” → {:?}",
                    c.attribute,
                    ctx.t("preview.ours"),
                    c.ours.clone().unwrap_or_default(),
                    c.theirs.clone().unwrap_or_default(),
                    c.winner
                )
            })
            .collect();
        let held: Vec<String> = pair
            .held
            .iter()
            .map(|h| format!("{}: {:?}", h.attribute, h.reason))
            .collect();
        let contact_id = pair
            .contact_id
            .as_ref()
            .and_then(|c| c.0.parse::<i64>().ok());
        for (write, side) in [(&pair.crm, Side::Crm), (&pair.marketing, Side::Marketing)] {
            let Some(write) = write else { continue };
            let action = match (side, write.op, pair.object) {
                (Side::Crm, WriteOp::Create, _) => "preview.create_lead",
                (Side::Crm, WriteOp::Update, _) => "preview.update_lead",
                (Side::Marketing, WriteOp::Create, SObject::Contact) => {
                    "preview.create_ours_from_contact"
                }
                (Side::Marketing, WriteOp::Create, SObject::Lead) => {
                    "preview.create_ours_from_lead"
                }
                (Side::Marketing, WriteOp::Update, _) => "preview.update_ours",
            };
            lines.push(PlanLine {
                action: ctx.t(action),
                class: if write.op == WriteOp::Create {
                    "ok"
                } else {
                    "muted"
                },
                who: who.clone(),
                contact_id,
                values: write
                    .values
                    .iter()
                    .map(|v| {
                        (
                            format!("{} → {}", v.attribute, v.field),
                            v.value.clone().unwrap_or_default(),
                        )
                    })
                    .collect(),
                conflicts: conflicts.clone(),
                held: held.clone(),
            });
        }
        if pair.crm.is_none()
            && pair.marketing.is_none()
            && matches!(
                pair.link,
                LinkChange::Matched | LinkChange::FollowConversion { .. }
            )
        {
            lines.push(PlanLine {
                action: ctx.t("preview.link"),
                class: "muted",
                who,
                contact_id,
                values: vec![],
                conflicts,
                held,
            });
        }
    }
    let more = lines.len().saturating_sub(PREVIEW_PAIRS);
    lines.truncate(PREVIEW_PAIRS);
    (lines, more)
}

#[derive(askama::Template)]
#[template(path = "run.html")]
struct RunPage {
    ctx: Ctx,
    run: RunRow,
    counts: Vec<(&'static str, u64)>,
    failures: Vec<FailureRow>,
    skips: Vec<SkipRow>,
    duplicates: Vec<DuplicateRow>,
    deletes: Option<DeletesView>,
}

/// What the run's org deletes did, as the engine records it in `counts.deletes`
/// (`lb_engine::deletes::DeleteCounts`, present only when the run read a deletion).
#[derive(Deserialize, Default)]
struct RecordedDeletes {
    #[serde(default)]
    read: u64,
    #[serde(default)]
    unlinked: u64,
    #[serde(default)]
    tombstoned: u64,
    #[serde(default)]
    relinked: u64,
    #[serde(default)]
    duplicates: u64,
    #[serde(default)]
    stale: u64,
}

/// One deletion that changed a link (`lb_engine::deletes::DeleteReport`).
#[derive(Deserialize)]
struct RecordedDeleteReport {
    contact_id: i64,
    object: String,
    org_id: String,
    outcome: String,
    #[serde(default)]
    master_id: Option<String>,
    #[serde(default)]
    other_contact: Option<i64>,
}

/// The "Deleted or merged in Salesforce" section of a run's page.
pub(crate) struct DeletesView {
    /// The counts in plain words.
    summary: String,
    /// Deletions that changed a link (tombstoned, relinked, duplicates): the reports cover the
    /// first of them.
    changed: u64,
    rows: Vec<DeleteRow>,
}

pub(crate) struct DeleteRow {
    contact_id: i64,
    object: String,
    org_id: String,
    outcome: String,
    /// The merge's winner and its link in Salesforce.
    master: Option<(String, Option<String>)>,
    /// For a duplicate: the contact already linked to the winner.
    other_contact: Option<i64>,
}

/// `n` with the singular or plural wording of `key` (`{key}.one` / `{key}.other`, `{n}` filled).
fn counted(lang: super::i18n::Lang, key: &str, n: u64) -> String {
    let form = if n == 1 { "one" } else { "other" };
    lang.t(&format!("{key}.{form}"))
        .replace("{n}", &n.to_string())
}

/// The deletes' counts as a sentence: how many org records were deleted or merged away, then
/// each non-zero outcome ("2 records deleted or merged away in Salesforce: 1 contact no longer
/// synced (…), 1 contact relinked to the record it was merged into.").
fn deletes_summary(lang: super::i18n::Lang, d: &RecordedDeletes) -> String {
    let parts: Vec<String> = [
        ("run.deletes.tombstoned", d.tombstoned),
        ("run.deletes.relinked", d.relinked),
        ("run.deletes.duplicates", d.duplicates),
        ("run.deletes.unlinked", d.unlinked),
        ("run.deletes.stale", d.stale),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(key, n)| counted(lang, key, n))
    .collect();
    let head = counted(lang, "run.deletes.read", d.read);
    if parts.is_empty() {
        format!("{head}.")
    } else {
        format!("{head}{}{}.", lang.t("run.deletes.colon"), parts.join(", "))
    }
}

/// The section, from the run's counts; `None` when the run read no deletion (or recorded none:
/// a run from before the engine read them).
fn deletes_view(ctx: &Ctx, counts: &Value, instance: Option<&str>) -> Option<DeletesView> {
    let stored = counts.get("deletes")?;
    let d = RecordedDeletes::deserialize(stored).ok()?;
    if d.read == 0 {
        return None;
    }
    let rows = recorded::<RecordedDeleteReport>(stored, "reports")
        .into_iter()
        .map(|r| {
            let outcome = match r.outcome.as_str() {
                "tombstoned" => ctx.t("run.deletes.outcome.tombstoned").to_owned(),
                "relinked" => ctx.t("run.deletes.outcome.relinked").to_owned(),
                "duplicate" => ctx.t("run.deletes.outcome.duplicate").to_owned(),
                other => other.to_owned(),
            };
            let master = r.master_id.map(|m| {
                let link = instance.map(|base| record_url(base, &r.object, &m));
                (m, link)
            });
            DeleteRow {
                contact_id: r.contact_id,
                object: r.object,
                org_id: r.org_id,
                outcome,
                master,
                other_contact: r.other_contact,
            }
        })
        .collect();
    Some(DeletesView {
        summary: deletes_summary(ctx.lang, &d),
        changed: d.tombstoned + d.relinked + d.duplicates,
        rows,
    })
}

/// A skip as the engine records it in the run's counts (`lb_engine::SkipReport`).
#[derive(Deserialize)]
struct RecordedSkip {
    side: String,
    id: String,
    #[serde(default)]
    object: Option<String>,
    reason: String,
}

/// A duplicate group as the engine records it (`lb_engine::DuplicateReport`).
#[derive(Deserialize)]
struct RecordedDuplicate {
    email: String,
    records: Vec<String>,
    synced: String,
}

pub(crate) struct SkipRow {
    side: String,
    object: String,
    id: String,
    link: Option<String>,
    reason: String,
}

pub(crate) struct DuplicateRow {
    email: String,
    /// Each org record of the group: id, link, whether it is the one linked.
    members: Vec<(String, Option<String>, bool)>,
}

/// The recorded list at `key` of the run's counts; a run from before the engine recorded them
/// (or a malformed entry) lists nothing rather than failing the page.
fn recorded<T: serde::de::DeserializeOwned>(counts: &Value, key: &str) -> Vec<T> {
    counts
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| T::deserialize(v).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The object of an org record from its Id's key prefix (Lead `00Q`, Contact `003`), for the
/// link: duplicate groups record ids only.
fn object_of(id: &str) -> Option<&'static str> {
    match id.get(..3) {
        Some("00Q") => Some("Lead"),
        Some("003") => Some("Contact"),
        _ => None,
    }
}

fn skip_row(ctx: &Ctx, k: RecordedSkip, instance: Option<&str>) -> SkipRow {
    let marketing = k.side == "marketing";
    let object = k.object.clone().unwrap_or_default();
    let link = if marketing {
        k.id.parse::<i64>().ok().map(|id| format!("/contacts/{id}"))
    } else {
        let object = k.object.as_deref().or_else(|| object_of(&k.id));
        match (object, instance) {
            (Some(object), Some(base)) => Some(record_url(base, object, &k.id)),
            _ => None,
        }
    };
    // The engine records its reasons in English: said in the page's language.
    let reason = super::engine_texts::recorded_skip_reason(ctx.lang, &k.reason);
    SkipRow {
        side: if marketing {
            ctx.t("preview.our_contact").to_owned()
        } else {
            "Salesforce".to_owned()
        },
        object,
        id: k.id,
        link,
        reason,
    }
}

fn duplicate_row(d: RecordedDuplicate, instance: Option<&str>) -> DuplicateRow {
    let members = d
        .records
        .into_iter()
        .map(|id| {
            let link = match (object_of(&id), instance) {
                (Some(object), Some(base)) => Some(record_url(base, object, &id)),
                _ => None,
            };
            let linked = id == d.synced;
            (id, link, linked)
        })
        .collect();
    DuplicateRow {
        email: d.email,
        members,
    }
}

pub(crate) struct FailureRow {
    side: String,
    object: String,
    record: String,
    link: Option<String>,
    email: String,
    code: String,
    message: String,
    fields: String,
}

pub(crate) async fn run_page(
    State(state): State<UiState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Response {
    let sync = state.store.sync();
    let run = match sync.run(id).await {
        Ok(Some(run)) => run,
        Ok(None) => return UiError::NotFound.into_page(ctx),
        Err(err) => return UiError::from(err).into_page(ctx),
    };
    let failures = match sync.run_failures(id).await {
        Ok(f) => f,
        Err(err) => return UiError::from(err).into_page(ctx),
    };
    let instance = super::settings::instance_url(&state).await;
    let failures = failures
        .into_iter()
        .map(|f| {
            let record = f.record.clone().unwrap_or_default();
            let object = f.object.clone().unwrap_or_default();
            let link = match (f.side, f.record.as_deref(), instance.as_deref()) {
                (Side::Crm, Some(id), Some(base)) if !id.is_empty() => {
                    Some(record_url(base, &object, id))
                }
                (Side::Marketing, Some(id), _) if id.parse::<i64>().is_ok() => {
                    Some(format!("/contacts/{id}/sync"))
                }
                _ => None,
            };
            FailureRow {
                side: match f.side {
                    Side::Crm => "Salesforce".to_owned(),
                    Side::Marketing => ctx.t("preview.our_contact").to_owned(),
                },
                object,
                record,
                link,
                email: f.email.unwrap_or_default(),
                code: f.error_code,
                message: f.message,
                fields: f.fields.join(", "),
            }
        })
        .collect();
    let c = &run.counts;
    let counts = vec![
        ("run.read_org_leads", count(c, &["read_org_leads"])),
        ("run.read_org_contacts", count(c, &["read_org_contacts"])),
        ("run.read_contacts", count(c, &["read_contacts"])),
        ("run.links_matched", count(c, &["links_matched"])),
        ("run.links_followed", count(c, &["links_followed"])),
        ("run.seed_updates", count(c, &["seed_updates"])),
    ];
    let skips = recorded::<RecordedSkip>(c, "skips")
        .into_iter()
        .map(|k| skip_row(&ctx, k, instance.as_deref()))
        .collect();
    let duplicates = recorded::<RecordedDuplicate>(c, "duplicates")
        .into_iter()
        .map(|d| duplicate_row(d, instance.as_deref()))
        .collect();
    let deletes = deletes_view(&ctx, c, instance.as_deref());
    let row = run_row(&ctx, &run);
    render(&RunPage {
        ctx,
        run: row,
        counts,
        failures,
        skips,
        duplicates,
        deletes,
    })
}

#[cfg(test)]
mod tests {
    use super::super::i18n::Lang;
    use super::*;

    #[test]
    fn the_banner_says_nothing_was_sent_when_the_login_could_not_be_prepared_here() {
        let rejected = |error: &str| Health::CredentialsRejected {
            error: error.into(),
            description: "the private key cannot sign".into(),
            grant: "jwt_bearer".into(),
            guidance: vec![],
            credentials_version: 1,
            since: time::OffsetDateTime::UNIX_EPOCH,
        };
        for lang in [Lang::En, Lang::Fr] {
            let ctx = Ctx {
                lang,
                user: None,
                csrf: String::new(),
                path: "/sync".into(),
                alert: None,
            };
            let local = HealthView::of(&ctx, &rejected(lb_salesforce::AuthError::LOCAL))
                .what_happened
                .unwrap();
            let refused = HealthView::of(&ctx, &rejected("invalid_grant"))
                .what_happened
                .unwrap();
            assert!(local.starts_with(ctx.t("health.rejected.local")), "{local}");
            assert!(!local.contains("local:"), "{local}");
            assert!(
                refused.starts_with(ctx.t("health.rejected.refused")),
                "{refused}"
            );
            assert!(
                refused.contains("(invalid_grant: the private key cannot sign)"),
                "{refused}"
            );
        }
    }

    #[test]
    fn the_deletes_counts_read_as_a_sentence_of_their_non_zero_outcomes_in_both_languages() {
        let d = RecordedDeletes {
            read: 2,
            tombstoned: 1,
            relinked: 1,
            ..RecordedDeletes::default()
        };
        assert_eq!(
            deletes_summary(Lang::En, &d),
            "2 records deleted or merged away in Salesforce: 1 contact no longer synced (its Salesforce record was deleted), 1 contact relinked to the record it was merged into."
        );
        assert_eq!(
            deletes_summary(Lang::Fr, &d),
            "2 fiches supprimées ou fusionnées dans Salesforce : 1 contact n'est plus synchronisé (sa fiche Salesforce a été supprimée), 1 contact relié à la fiche qui a absorbé la sienne."
        );
        let d = RecordedDeletes {
            read: 7,
            tombstoned: 2,
            duplicates: 1,
            unlinked: 3,
            stale: 1,
            ..RecordedDeletes::default()
        };
        assert_eq!(
            deletes_summary(Lang::En, &d),
            "7 records deleted or merged away in Salesforce: 2 contacts no longer synced (their Salesforce record was deleted), 1 contact no longer synced (its record was merged into one linked to another contact), 3 not linked to any contact (nothing to do), 1 left alone (its link changed during the run)."
        );
        assert_eq!(
            deletes_summary(Lang::Fr, &d),
            "7 fiches supprimées ou fusionnées dans Salesforce : 2 contacts ne sont plus synchronisés (leur fiche Salesforce a été supprimée), 1 contact n'est plus synchronisé (sa fiche a été fusionnée dans une fiche liée à un autre contact), 3 n'étaient liées à aucun contact (rien à faire), 1 laissée telle quelle (son lien a changé pendant la synchro)."
        );
        let one = RecordedDeletes {
            read: 1,
            unlinked: 1,
            ..RecordedDeletes::default()
        };
        assert_eq!(
            deletes_summary(Lang::En, &one),
            "1 record deleted or merged away in Salesforce: 1 not linked to any contact (nothing to do)."
        );
    }
}
