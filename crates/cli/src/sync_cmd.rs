//! `leadbridge sync [--full] [--dry-run] [--json]`: one sync run by hand (R-SYNC-5), with
//! progress bars on a terminal and a JSON summary (`status`, `api_requests`, counts, every
//! failure). Exit code 0 only when the run succeeded; 1 when it failed or is paused.
//!
//! Also the helpers the sync commands share: where the data lives and how to open it.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lb_engine::{Engine, EngineError, Progress, RunOutcome, RunRequest, RunStatus, Scope, Trigger};
use lb_store::{MasterKey, Store};

use crate::base_settings::{BaseSettings, GlobalArgs, app_base_url, runtime};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Read everything on both sides instead of the changes since the last run (R-SYNC-5).
    #[arg(long)]
    pub full: bool,
    /// Print the plan and write nothing (neither side, nor the run history).
    #[arg(long)]
    pub dry_run: bool,
    /// Print the run's summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// How Salesforce users reach this app (`plezi_url` points to URL/contacts/ID); recorded
    /// for later runs and `serve` [default: base_url in the config file, else the last one used].
    #[arg(long, env = "LEADBRIDGE_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
}

/// Opens the contact base and its master key as every contact-base command does (`--data-dir`,
/// `--database-url`, `--config`).
pub async fn open_base(global: &GlobalArgs) -> anyhow::Result<(Store, MasterKey)> {
    let settings = BaseSettings::resolve(global)?;
    let store = settings.open_store().await?;
    let key = settings.master_key(&store).await?;
    Ok((store, key))
}

pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEADBRIDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(global: &GlobalArgs, args: SyncArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    let base = BaseSettings::resolve(global)?;
    runtime()?.block_on(async move {
        let (store, key) = open_base(global).await?;
        let (_, base_url_warning) = app_base_url(&store, &base, args.base_url.as_deref()).await?;
        if let Some(w) = &base_url_warning {
            eprintln!("warning: {w}");
        }
        let warnings = base_url_warning.as_slice();
        let engine = Engine::new(store.clone(), key);
        let bars = (!args.json && std::io::stderr().is_terminal()).then(Bars::new);
        let mut request =
            RunRequest::new(Trigger::Manual, if args.full { Scope::Full } else { Scope::Incremental });
        request.dry_run = args.dry_run;
        if let Some(b) = &bars {
            let b = b.clone();
            request.progress = Some(Arc::new(move |p| b.update(p)));
        }
        let result = engine.run(request).await;
        if let Some(b) = &bars {
            b.finish();
        }
        store.close().await;
        match result {
            Ok(outcome) => Ok(report(&outcome, args.json, warnings)),
            Err(e) => {
                let status = if matches!(e, EngineError::Busy(_)) { "paused" } else { "failed" };
                if args.json {
                    let v = serde_json::json!({ "status": status, "api_requests": 0, "message": e.to_string(), "warnings": warnings });
                    outln!("{}", serde_json::to_string_pretty(&v)?);
                } else {
                    eprintln!("sync {status}: {e}");
                }
                Ok(ExitCode::from(1))
            }
        }
    })
}

fn report(outcome: &RunOutcome, json: bool, warnings: &[String]) -> ExitCode {
    if json {
        let value = serde_json::to_value(outcome).map(|mut v| {
            if let Some(object) = v.as_object_mut() {
                object.insert("warnings".into(), serde_json::json!(warnings));
            }
            v
        });
        match value.and_then(|v| serde_json::to_string_pretty(&v)) {
            Ok(text) => outln!("{text}"),
            Err(e) => eprintln!("error: {e}"),
        }
    } else {
        print_human(outcome);
    }
    if outcome.status == RunStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_human(o: &RunOutcome) {
    let c = &o.counts;
    let id = o
        .run_id
        .map(|i| format!("run {i}"))
        .unwrap_or_else(|| "dry run".into());
    outln!(
        "{id} ({} sync, {}): {}",
        o.scope,
        o.trigger.name(),
        o.status.name()
    );
    outln!(
        "  read: {} org Leads, {} org Contacts, {} contacts here",
        c.read_org_leads,
        c.read_org_contacts,
        c.read_contacts
    );
    // A dry run applies nothing: its counts are what a run would do.
    let verb = if o.dry_run { ", would be" } else { "" };
    outln!(
        "  org (Lead){verb}: {} created, {} updated, {} failed",
        c.crm.lead.created,
        c.crm.lead.updated,
        c.crm.lead.failed
    );
    outln!(
        "  here{verb}: {} created / {} updated from Leads, {} created / {} updated from Contacts, {} failed",
        c.marketing.lead.created,
        c.marketing.lead.updated,
        c.marketing.contact.created,
        c.marketing.contact.updated,
        c.marketing.lead.failed + c.marketing.contact.failed
    );
    outln!(
        "  skipped: {}, conflicts: {}, duplicate groups: {}, API requests: {}",
        c.skipped,
        c.conflicts,
        c.duplicate_groups,
        o.api_requests
    );
    for f in o.failures.iter().take(20) {
        outln!(
            "  failed {} {}{}: {} {}",
            f.object.as_deref().unwrap_or(""),
            f.record.as_deref().unwrap_or(""),
            f.email
                .as_deref()
                .map(|e| format!(" <{e}>"))
                .unwrap_or_default(),
            f.error_code,
            f.message
        );
    }
    if o.failures.len() > 20 {
        outln!(
            "  … and {} more (`leadbridge runs show {}`)",
            o.failures.len() - 20,
            o.run_id.unwrap_or(0)
        );
    }
    for k in c.skips.iter().take(10) {
        outln!(
            "  skipped {} {} {}: {}",
            k.side,
            k.object.as_deref().unwrap_or(""),
            k.id,
            k.reason
        );
    }
    if c.skipped > 10 {
        outln!(
            "  … {} skipped in all (`leadbridge runs show {}` lists them)",
            c.skipped,
            o.run_id.unwrap_or(0)
        );
    }
    for d in &c.duplicates {
        outln!(
            "  duplicate group {}: {} (synced: {})",
            d.email,
            d.records.join(", "),
            d.synced
        );
    }
    if let Some(plan) = &o.plan {
        outln!("plan:");
        for p in plan.pairs.iter().take(50) {
            let side = |w: &Option<lb_core::RecordWrite>| {
                w.as_ref()
                    .map(|w| format!("{:?} {} field(s)", w.op, w.values.len()))
                    .unwrap_or_else(|| "-".into())
            };
            outln!(
                "  contact {} <-> {} {}: org {}, here {}",
                p.contact_id
                    .as_ref()
                    .map(|c| c.0.as_str())
                    .unwrap_or("(new)"),
                p.object,
                p.org_id.as_deref().unwrap_or("(new)"),
                side(&p.crm),
                side(&p.marketing)
            );
        }
        if plan.pairs.len() > 50 {
            outln!(
                "  … {} more pairs (use --json for all)",
                plan.pairs.len() - 50
            );
        }
        for s in plan.skips.iter().take(30) {
            outln!("  skipped {:?} {}: {}", s.side, s.id, s.reason);
        }
        for g in &plan.duplicate_groups {
            let ids: Vec<&str> = g.members.iter().map(|m| m.id.as_str()).collect();
            outln!(
                "  duplicate group {}: {} (synced: {})",
                g.email,
                ids.join(", "),
                g.primary
            );
        }
    }
    if let Some(m) = &o.message {
        outln!("{m}");
    }
}

/// Progress bars on a terminal: a spinner while reading, a bar while applying.
#[derive(Clone)]
struct Bars {
    bar: ProgressBar,
}

impl Bars {
    fn new() -> Bars {
        let bar = ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Bars { bar }
    }

    fn update(&self, p: Progress) {
        match p {
            Progress::Phase(name) => {
                self.bar.set_message(name.to_string());
            }
            Progress::Read { records } => self
                .bar
                .set_message(format!("reading the org: {records} records")),
            Progress::Applied { done, total } => {
                if self.bar.length() != Some(total) {
                    self.bar.set_length(total);
                    self.bar.set_style(
                        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                    );
                    self.bar.set_message("applying");
                }
                self.bar.set_position(done);
            }
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
