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
mod forms_cmd;
mod runs_cmd;
mod schema_cmd;
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

/// A subcommand's own arguments plus the contact-base flags, accepted after it too
/// (`leadbridge contacts list --data-dir D`). `emulator` has none of them.
#[derive(Debug, clap::Args)]
struct Base<T: clap::Args> {
    #[command(flatten)]
    base: base_settings::SubcommandArgs,
    #[command(flatten)]
    args: T,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the local Salesforce emulator (an offline org that real clients accept).
    Emulator(emulator_cmd::EmulatorArgs),
    /// Save and check the Salesforce credentials (edition, API version, required fields).
    Connect(Base<connect_cmd::ConnectArgs>),
    /// Run one sync now (incremental, or --full), or preview it (--dry-run).
    Sync(Base<sync_cmd::SyncArgs>),
    /// The sync history; `runs show ID` for one run with every failure.
    Runs(Base<runs_cmd::RunsArgs>),
    /// Connection state, last and next run, backlog.
    Status(Base<status_cmd::StatusArgs>),
    /// Everything in one process: app, embedded emulated org, seeded data, a first sync.
    Demo(Base<demo_cmd::DemoArgs>),
    /// The marketing contact base: add, list, show, import and export contacts.
    Contacts(Base<contacts_cmd::ContactsArgs>),
    /// Custom field definitions: list, add.
    Fields(Base<schema_cmd::FieldsArgs>),
    /// The states a contact may be in: list, add.
    States(Base<schema_cmd::StatesArgs>),
    /// Forms whose public submissions create or update contacts: list, create, show.
    Forms(Base<forms_cmd::FormsArgs>),
    /// Bearer keys for the REST API.
    ApiKey(Base<api_key_cmd::ApiKeyArgs>),
    /// Administrators of the web app: create, set-password, setup-link.
    Admin(Base<admin_cmd::AdminArgs>),
    /// Serve the REST API (/api/v1) and the pages.
    Serve(Base<serve_cmd::ServeArgs>),
}

fn main() -> std::process::ExitCode {
    lb_store::malloc::limit_arenas();
    let cli = Cli::parse();
    let g = |base| cli.global.with(base);
    let result = match cli.command {
        Command::Emulator(args) => emulator_cmd::run(args),
        Command::Connect(a) => connect_cmd::run(&g(a.base), a.args),
        Command::Sync(a) => sync_cmd::run(&g(a.base), a.args),
        Command::Runs(a) => runs_cmd::run(&g(a.base), a.args),
        Command::Status(a) => status_cmd::run(&g(a.base), a.args),
        Command::Demo(a) => demo_cmd::run(&g(a.base), a.args),
        Command::Contacts(a) => contacts_cmd::run(&g(a.base), a.args),
        Command::Fields(a) => schema_cmd::run_fields(&g(a.base), a.args),
        Command::States(a) => schema_cmd::run_states(&g(a.base), a.args),
        Command::Forms(a) => forms_cmd::run(&g(a.base), a.args),
        Command::ApiKey(a) => api_key_cmd::run(&g(a.base), a.args),
        Command::Admin(a) => admin_cmd::run(&g(a.base), a.args),
        Command::Serve(a) => serve_cmd::run(&g(a.base), a.args),
    };
    match result {
        Ok(code) => code,
        // The reader stopped early (`| head`): not a failure (see `output`).
        Err(err) if output::is_broken_pipe(&err) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", chain_text(&err));
            std::process::ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, like `{:#}`, without a cause its parent already
/// quotes: library errors often put their source in their own message too, which printed
/// "…: No such file or directory (os error 2): No such file or directory (os error 2)".
fn chain_text(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    #[test]
    fn a_cause_already_quoted_by_its_parent_is_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let said = io.to_string();
        #[derive(Debug)]
        struct Quoting(std::io::Error);
        impl std::fmt::Display for Quoting {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "cannot prepare the data directory: {}", self.0)
            }
        }
        impl std::error::Error for Quoting {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let err: anyhow::Result<()> = Err(Quoting(io)).context("preparing /data");
        let text = super::chain_text(&err.unwrap_err());
        assert_eq!(
            text,
            format!("preparing /data: cannot prepare the data directory: {said}")
        );
        let plain: anyhow::Result<()> =
            Err(std::io::Error::other("disk full")).context("writing the list");
        assert_eq!(
            super::chain_text(&plain.unwrap_err()),
            "writing the list: disk full"
        );
    }
}
