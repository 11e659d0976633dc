//! `leadbridge status [--json]`: the connection's state (with the exact reason and what to do
//! when paused), the last and next run, and the backlog. Sends nothing to Salesforce.

use std::process::ExitCode;

use clap::Args;
use lb_engine::Engine;

use crate::base_settings::{GlobalArgs, runtime};
use crate::sync_cmd::open_base;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(global: &GlobalArgs, args: StatusArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let (store, key) = open_base(global).await?;
        let engine = Engine::new(store.clone(), key);
        let status = engine.status().await?;
        store.close().await;
        if args.json {
            outln!("{}", serde_json::to_string_pretty(&status)?);
            return Ok(ExitCode::SUCCESS);
        }
        match &status.connection {
            Some(c) => outln!(
                "Connection: {} ({} flow, {} at {})",
                status.health.name(),
                c["grant"].as_str().unwrap_or("?"),
                c["org"]["name"].as_str().unwrap_or("org"),
                c["instance_url"].as_str().unwrap_or("?")
            ),
            None => outln!("Connection: not connected"),
        }
        outln!("{}", status.health_explained);
        match &status.last_run {
            Some(r) => outln!(
                "Last run: #{} {} at {} ({} API requests)",
                r["id"],
                r["status"].as_str().unwrap_or("?"),
                r["finished_at"].as_str().unwrap_or("?"),
                r["api_requests"]
            ),
            None => outln!("Last run: none yet"),
        }
        match &status.next_run {
            Some(t) => outln!("Next run: {t} (every {} min)", status.interval_minutes),
            None => outln!("Next run: none scheduled (`leadbridge serve` syncs every {} min)", status.interval_minutes),
        }
        outln!(
            "Backlog: {} contact(s) changed here since the last run, {} Lead creation(s) to confirm",
            status.backlog.contacts_changed, status.backlog.pending_creates
        );
        Ok(ExitCode::SUCCESS)
    })
}
