//! `leadbridge`: the one binary. A thin dispatcher (ripgrep style): clap parses flags into the
//! `Cli` struct, each subcommand lives in its own module and does its work through the library
//! crates. `anyhow` lives here and only here; errors are printed once and mapped to exit codes.

use clap::{Parser, Subcommand};

mod emulator_cmd;

/// Marketing contact base kept in sync with a Salesforce org.
#[derive(Debug, Parser)]
#[command(name = "leadbridge", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the local Salesforce emulator (an offline org that real clients accept).
    Emulator(emulator_cmd::EmulatorArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Emulator(args) => emulator_cmd::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
