//! `leadbridge`: the one binary. A thin dispatcher (ripgrep style): clap parses flags into the
//! `Cli` struct, each subcommand lives in its own module and does its work through the library
//! crates. `anyhow` lives here and only here; errors are printed once and mapped to exit codes.

use clap::{Parser, Subcommand};

#[macro_use]
mod output;

mod admin_cmd;
mod api_key_cmd;
mod base_settings;
mod connect_cmd;
mod contacts_cmd;
mod demo_cmd;
mod emulator_cmd;
mod runs_cmd;
mod serve_cmd;
mod status_cmd;
mod sync_cmd;

/// Marketing contact base kept in sync with a Salesforce org.
#[derive(Debug, Parser)]
#[command(name = "leadbridge", version, about, long_about = None)]
struct Cli {
    /// --data-dir (LEADBRIDGE_DATA_DIR), --database-url (LEADBRIDGE_DATABASE_URL), --config.
    #[command(flatten)]
    global: base_settings::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the local Salesforce emulator (an offline org that real clients accept).
    Emulator(emulator_cmd::EmulatorArgs),
    /// Save and check the Salesforce credentials (edition, API version, required fields).
    Connect(connect_cmd::ConnectArgs),
    /// Run one sync now (incremental, or --full), or preview it (--dry-run).
    Sync(sync_cmd::SyncArgs),
    /// The sync history; `runs show ID` for one run with every failure.
    Runs(runs_cmd::RunsArgs),
    /// Connection state, last and next run, backlog.
    Status(status_cmd::StatusArgs),
    /// Everything in one process: app, embedded emulated org, seeded data, a first sync.
    Demo(demo_cmd::DemoArgs),
    /// The marketing contact base: add, list, show, import and export contacts.
    Contacts(contacts_cmd::ContactsArgs),
    /// Bearer keys for the REST API.
    ApiKey(api_key_cmd::ApiKeyArgs),
    /// Administrators of the web app: create, set-password, setup-link.
    Admin(admin_cmd::AdminArgs),
    /// Serve the REST API (/api/v1) and the pages.
    Serve(serve_cmd::ServeArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Emulator(args) => emulator_cmd::run(args),
        Command::Connect(args) => connect_cmd::run(&cli.global, args),
        Command::Sync(args) => sync_cmd::run(&cli.global, args),
        Command::Runs(args) => runs_cmd::run(&cli.global, args),
        Command::Status(args) => status_cmd::run(&cli.global, args),
        Command::Demo(args) => demo_cmd::run(&cli.global, args),
        Command::Contacts(args) => contacts_cmd::run(&cli.global, args),
        Command::ApiKey(args) => api_key_cmd::run(&cli.global, args),
        Command::Admin(args) => admin_cmd::run(&cli.global, args),
        Command::Serve(args) => serve_cmd::run(&cli.global, args),
    };
    match result {
        Ok(code) => code,
        // The reader stopped early (`| head`): not a failure (see `output`).
        Err(err) if output::is_broken_pipe(&err) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
