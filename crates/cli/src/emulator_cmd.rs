//! `leadbridge emulator`: serve the Salesforce emulator until SIGINT/SIGTERM.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {}

pub fn run(_args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
