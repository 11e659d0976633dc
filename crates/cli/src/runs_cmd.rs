//! `leadbridge runs [--json]` and `leadbridge runs show ID [--json]`: the run history
//! (R-SYNC-7): trigger, times, counts per side and object, API requests, and each failure with
//! the org's `errorCode`, message and record.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::base_settings::{GlobalArgs, runtime};
use crate::sync_cmd::open_base;

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub action: Option<RunsAction>,
    /// How many runs to list, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// One run with every failure.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(global: &GlobalArgs, args: RunsArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let (store, _key) = open_base(global).await?;
        let sync = store.sync();
        let code = match args.action {
            None => {
                let runs = sync.runs(None, args.limit).await?;
                if args.json {
                    let list: Vec<serde_json::Value> =
                        runs.iter().map(lb_engine::runner::run_view).collect();
                    outln!("{}", serde_json::to_string_pretty(&list)?);
                } else if runs.is_empty() {
                    outln!("No sync run yet.");
                } else {
                    outln!(
                        "{:>5}  {:<20}  {:<16}  {:<11}  {:<10}  {:>8}  summary",
                        "id", "started", "trigger", "scope", "status", "requests"
                    );
                    for r in &runs {
                        outln!(
                            "{:>5}  {:<27}  {:<16}  {:<11}  {:<10}  {:>8}  {}",
                            r.id,
                            lb_store::rfc3339(r.started_at),
                            r.triggered_by,
                            r.scope,
                            r.status.name(),
                            r.api_requests,
                            summary(&r.counts)
                        );
                    }
                }
                ExitCode::SUCCESS
            }
            Some(RunsAction::Show { id, json }) => match sync.run(id).await? {
                None => {
                    eprintln!("error: no run {id}");
                    ExitCode::from(1)
                }
                Some(r) => {
                    let failures = sync.run_failures(id).await?;
                    if json || args.json {
                        let mut v = lb_engine::runner::run_view(&r);
                        v["failures"] = serde_json::to_value(&failures)?;
                        outln!("{}", serde_json::to_string_pretty(&v)?);
                    } else {
                        outln!(
                            "run {} — {} ({} sync, triggered by {})",
                            r.id,
                            r.status.name(),
                            r.scope,
                            r.triggered_by
                        );
                        outln!(
                            "  started {}, finished {}",
                            lb_store::rfc3339(r.started_at),
                            r.finished_at
                                .map(lb_store::rfc3339)
                                .unwrap_or_else(|| "—".into())
                        );
                        outln!("  API requests: {}", r.api_requests);
                        outln!(
                            "  counts: {}",
                            serde_json::to_string_pretty(&r.counts)?.replace('\n', "\n  ")
                        );
                        if let Some(m) = &r.message {
                            outln!("  {}", m.replace('\n', "\n  "));
                        }
                        outln!("  failures: {}", failures.len());
                        for f in &failures {
                            outln!(
                                "    {:?} {} {}{}: {} {}{}",
                                f.side,
                                f.object.as_deref().unwrap_or(""),
                                f.record.as_deref().unwrap_or(""),
                                f.email
                                    .as_deref()
                                    .map(|e| format!(" <{e}>"))
                                    .unwrap_or_default(),
                                f.error_code,
                                f.message,
                                if f.fields.is_empty() {
                                    String::new()
                                } else {
                                    format!(" [{}]", f.fields.join(", "))
                                }
                            );
                        }
                    }
                    ExitCode::SUCCESS
                }
            },
        };
        store.close().await;
        Ok(code)
    })
}

fn summary(counts: &serde_json::Value) -> String {
    let n = |path: &[&str]| {
        let mut v = counts;
        for p in path {
            v = &v[*p];
        }
        v.as_u64().unwrap_or(0)
    };
    format!(
        "org +{} ~{} | here +{} ~{} | skipped {} | failed {}",
        n(&["crm", "Lead", "created"]),
        n(&["crm", "Lead", "updated"]),
        n(&["marketing", "Lead", "created"]) + n(&["marketing", "Contact", "created"]),
        n(&["marketing", "Lead", "updated"]) + n(&["marketing", "Contact", "updated"]),
        n(&["skipped"]),
        n(&["failed"])
    )
}
