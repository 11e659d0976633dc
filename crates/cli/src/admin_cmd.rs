//! `leadbridge admin create|set-password|list|setup-link`: the administrators of the web app.
//!
//! The password is read from `LEADBRIDGE_ADMIN_PASSWORD` when set (scripts), else as the first
//! line of standard input (`--password-stdin` style, so it never appears in `ps` or the shell
//! history). It is never printed.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use lb_store::rfc3339;
use secrecy::{ExposeSecret, SecretString};

use crate::base_settings::{BaseSettings, GlobalArgs, runtime};

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator (password from LEADBRIDGE_ADMIN_PASSWORD or the first line of stdin).
    Create {
        /// The name to sign in with (case-insensitive).
        #[arg(long)]
        username: String,
    },
    /// Replace an administrator's password (signs out all their sessions).
    SetPassword {
        /// The administrator whose password is replaced.
        #[arg(long)]
        username: String,
    },
    /// Print a one-time link that creates the first administrator (only while none exists).
    SetupLink {
        /// How browsers reach the app [default: the config's base_url, else http://127.0.0.1:8080].
        #[arg(long, env = "LEADBRIDGE_BASE_URL", value_name = "URL")]
        base_url: Option<String>,
    },
}

fn read_password() -> anyhow::Result<SecretString> {
    if let Ok(p) = std::env::var("LEADBRIDGE_ADMIN_PASSWORD")
        && !p.is_empty()
    {
        return Ok(SecretString::from(p));
    }
    eprintln!(
        "Password (one line on standard input; at least {} characters):",
        lb_store::auth::MIN_PASSWORD_CHARS
    );
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        !password.is_empty(),
        "no password given (set LEADBRIDGE_ADMIN_PASSWORD or pipe it on stdin)"
    );
    Ok(SecretString::from(password))
}

pub fn run(global: &GlobalArgs, args: AdminArgs) -> anyhow::Result<ExitCode> {
    let settings = BaseSettings::resolve(global)?;
    runtime()?.block_on(async move {
        let store = settings.open_store().await?;
        match args.command {
            AdminCommand::Create { username } => {
                let password = read_password()?;
                let admin = store.create_admin(&username, &password).await?;
                eprintln!(
                    "Administrator '{}' created ({}); sign in at /sign-in.",
                    admin.username,
                    rfc3339(admin.created_at)
                );
            }
            AdminCommand::SetPassword { username } => {
                let password = read_password()?;
                store.set_admin_password(&username, &password).await?;
                eprintln!(
                    "Password of '{}' replaced; their sessions are closed.",
                    username.trim().to_lowercase()
                );
            }
            AdminCommand::SetupLink { base_url } => {
                let base = base_url
                    .or(settings.base_url.clone())
                    .unwrap_or_else(|| "http://127.0.0.1:8080".into());
                match store.create_setup_token().await? {
                    Some(token) => outln!("{}/setup/{}", base.trim_end_matches('/'), token.expose_secret()),
                    None => {
                        eprintln!("An administrator already exists: sign in, or use `leadbridge admin create`.");
                        return Ok(ExitCode::from(1));
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
