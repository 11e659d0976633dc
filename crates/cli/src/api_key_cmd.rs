//! `leadbridge api-key create|list|revoke`: bearer keys for the REST API. A key's token is
//! printed once, at creation; only its SHA-256 is stored.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use lb_store::rfc3339;
use secrecy::ExposeSecret;

use crate::base_settings::{BaseSettings, GlobalArgs, runtime};

#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    #[command(subcommand)]
    command: ApiKeyCommand,
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print its token (shown only this once).
    Create {
        /// What the key is for (e.g. "zapier").
        #[arg(long, default_value = "default")]
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the keys (never their tokens).
    List,
    /// Revoke a key by id.
    Revoke { id: i64 },
}

pub fn run(global: &GlobalArgs, args: ApiKeyArgs) -> anyhow::Result<ExitCode> {
    let settings = BaseSettings::resolve(global)?;
    runtime()?.block_on(async move {
        let store = settings.open_store().await?;
        match args.command {
            ApiKeyCommand::Create { name, json } => {
                let (key, token) = store.create_api_key(&name).await?;
                if json {
                    let out = serde_json::json!({"id": key.id, "name": key.name, "token": token.expose_secret()});
                    outln!("{out}");
                } else {
                    outln!("{}", token.expose_secret());
                    eprintln!("API key {} ('{}') created; the token above is shown only once.", key.id, key.name);
                }
            }
            ApiKeyCommand::List => {
                outln!("{:>4}  {:<24} {:<14} {:<22} {:<22} {}", "ID", "NAME", "PREFIX", "CREATED", "LAST USED", "REVOKED");
                for key in store.api_keys().await? {
                    outln!(
                        "{:>4}  {:<24} {:<14} {:<22} {:<22} {}",
                        key.id,
                        key.name,
                        key.prefix,
                        rfc3339(key.created_at),
                        key.last_used_at.map(rfc3339).unwrap_or_else(|| "-".into()),
                        key.revoked_at.map(rfc3339).unwrap_or_else(|| "-".into())
                    );
                }
            }
            ApiKeyCommand::Revoke { id } => {
                store.revoke_api_key(id).await?;
                outln!("API key {id} revoked");
            }
        }
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
