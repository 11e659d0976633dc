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
    List {
        /// Print them as one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id.
    Revoke {
        /// The key's id (the first column of `leadbridge api-key list`).
        id: i64,
    },
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
            ApiKeyCommand::List { json } => {
                let keys = store.api_keys().await?;
                if json {
                    let keys: Vec<_> = keys
                        .iter()
                        .map(|k| {
                            serde_json::json!({
                                "id": k.id,
                                "name": k.name,
                                "prefix": k.prefix,
                                "created_at": rfc3339(k.created_at),
                                "last_used_at": k.last_used_at.map(rfc3339),
                                "revoked_at": k.revoked_at.map(rfc3339),
                            })
                        })
                        .collect();
                    outln!("{}", serde_json::Value::Array(keys));
                } else if keys.is_empty() {
                    outln!("no API keys (create one with `leadbridge api-key create --name NAME`)");
                } else {
                    // Times are RFC 3339 with microseconds: 27 characters.
                    outln!("{:>4}  {:<24} {:<14} {:<27} {:<27} {}", "ID", "NAME", "PREFIX", "CREATED", "LAST USED", "REVOKED");
                    for key in keys {
                        outln!(
                            "{:>4}  {:<24} {:<14} {:<27} {:<27} {}",
                            key.id,
                            key.name,
                            key.prefix,
                            rfc3339(key.created_at),
                            key.last_used_at.map(rfc3339).unwrap_or_else(|| "-".into()),
                            key.revoked_at.map(rfc3339).unwrap_or_else(|| "-".into())
                        );
                    }
                }
            }
            ApiKeyCommand::Revoke { id } => match store.revoke_api_key(id).await {
                Ok(()) => outln!("API key {id} revoked"),
                // Not found is the user's answer, not a failure of the tool (exit 1, as
                // `contacts show` for an unknown contact).
                Err(lb_store::StoreError::NotFound { .. }) => {
                    eprintln!("no active API key {id} (see `leadbridge api-key list`)");
                    store.close().await;
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            },
        }
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}
