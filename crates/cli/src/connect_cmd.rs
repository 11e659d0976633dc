//! `leadbridge connect`: save the Salesforce credentials (encrypted) and check them against the
//! org — login, edition in plain words (R-CONN-4), API version, the fields of R-FIELD with their
//! types, `--create-fields` to create the missing ones (R-FIELD-5). Exit code 1 when the
//! connection does not work (or a required field is missing).
//!
//! Flows: username-password + security token (the seed's), client credentials
//! (`--client-secret` without `--username`), JWT bearer (`--private-key FILE --username`).
//! The web-server flow goes through the app's callback (`lb_engine::complete_web_oauth`).
//! Secrets can come from the environment instead of flags (flags show in `ps`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use lb_engine::{ConnectReport, ConnectRequest, FieldStatus};
use lb_salesforce::{Credentials, JwtKey, SecretString};

use crate::base_settings::{BaseSettings, GlobalArgs, app_base_url, runtime};
use crate::sync_cmd::{init_tracing, open_base};

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The org's URL, e.g. https://eu11.my.salesforce.com (also the login URL when
    /// --login-url is not given).
    #[arg(long)]
    pub instance_url: Option<String>,
    /// Where to log in: https://login.salesforce.com, https://test.salesforce.com, or the
    /// org's My Domain URL (required by client credentials).
    #[arg(long)]
    pub login_url: Option<String>,
    /// The connected app's consumer key.
    #[arg(long, env = "LEADBRIDGE_SF_CLIENT_ID")]
    pub client_id: String,
    /// The connected app's consumer secret.
    #[arg(long, env = "LEADBRIDGE_SF_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// The integration user's username.
    #[arg(long, env = "LEADBRIDGE_SF_USERNAME")]
    pub username: Option<String>,
    /// The integration user's password (username-password flow).
    #[arg(long, env = "LEADBRIDGE_SF_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// The user's security token (appended to the password).
    #[arg(long, env = "LEADBRIDGE_SF_SECURITY_TOKEN", hide_env_values = true)]
    pub security_token: Option<String>,
    /// RSA private key (PEM) for the JWT bearer flow.
    #[arg(long)]
    pub private_key: Option<PathBuf>,
    /// Create the missing custom fields in the org (Tooling API).
    #[arg(long)]
    pub create_fields: bool,
    /// How Salesforce users reach this app (`plezi_url` points to URL/contacts/ID); recorded
    /// for `sync` and `serve` [default: base_url in the config file, else the last one used].
    #[arg(long, env = "LEADBRIDGE_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn credentials(args: &ConnectArgs) -> anyhow::Result<Credentials> {
    let secret = |s: &Option<String>| s.as_ref().map(|v| SecretString::from(v.clone()));
    if let Some(key) = &args.private_key {
        let username = args
            .username
            .clone()
            .ok_or_else(|| anyhow::anyhow!("--private-key needs --username"))?;
        check_private_key(key)?;
        return Ok(Credentials::JwtBearer {
            client_id: args.client_id.clone(),
            username,
            key: JwtKey::File(key.clone()),
            audience: None,
        });
    }
    if let Some(password) = &args.password {
        let username = args
            .username
            .clone()
            .ok_or_else(|| anyhow::anyhow!("--password needs --username"))?;
        // Salesforce's username-password flow needs the consumer secret; without it the
        // token endpoint's answer would read as "the secret is wrong".
        if args.client_secret.as_deref().is_none_or(str::is_empty) {
            anyhow::bail!(
                "the username-password flow needs --client-secret (or LEADBRIDGE_SF_CLIENT_SECRET): \
                 the connected app's consumer secret"
            );
        }
        return Ok(Credentials::Password {
            client_id: args.client_id.clone(),
            client_secret: secret(&args.client_secret),
            username,
            password: SecretString::from(password.clone()),
            // Salesforce accepts no token when the server's IP is trusted by the org.
            security_token: SecretString::from(args.security_token.clone().unwrap_or_default()),
        });
    }
    match &args.client_secret {
        Some(s) if args.username.is_none() => Ok(Credentials::ClientCredentials {
            client_id: args.client_id.clone(),
            client_secret: SecretString::from(s.clone()),
        }),
        _ => anyhow::bail!(
            "choose a login flow: --username with --password and --security-token, --client-secret alone \
             (client credentials), or --private-key FILE with --username (JWT bearer)"
        ),
    }
}

/// The key file must be readable and hold an unencrypted private key in PEM form: checked here
/// so that a wrong path or file (the connected app's certificate, typically) is named as such
/// before anything is sent, instead of reading as a refusal by Salesforce.
fn check_private_key(path: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read --private-key {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    let wanted = "give the RSA private key (PEM: -----BEGIN PRIVATE KEY----- or -----BEGIN RSA \
                  PRIVATE KEY-----) whose certificate is uploaded to the connected app";
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        anyhow::bail!(
            "--private-key {} is encrypted with a passphrase: decrypt it first \
             (openssl pkey -in KEY -out KEY.pem); {wanted}",
            path.display()
        );
    }
    if text.contains("-----BEGIN PRIVATE KEY-----")
        || text.contains("-----BEGIN RSA PRIVATE KEY-----")
    {
        return Ok(());
    }
    let held = if text.contains("-----BEGIN CERTIFICATE-----") {
        "a certificate (what is uploaded to the connected app), not a private key"
    } else if text.contains("-----BEGIN PUBLIC KEY-----")
        || text.contains("-----BEGIN RSA PUBLIC KEY-----")
    {
        "a public key, not a private key"
    } else {
        "no PEM private key"
    };
    anyhow::bail!("--private-key {} holds {held}: {wanted}", path.display())
}

pub fn run(global: &GlobalArgs, args: ConnectArgs) -> anyhow::Result<ExitCode> {
    init_tracing();
    let credentials = credentials(&args)?;
    let login_url = args
        .login_url
        .clone()
        .or_else(|| args.instance_url.clone())
        .unwrap_or_else(|| "https://login.salesforce.com".into());
    let base = BaseSettings::resolve(global)?;
    runtime()?.block_on(async move {
        let (store, key) = open_base(global).await?;
        let (_, base_url_warning) = app_base_url(&store, &base, args.base_url.as_deref()).await?;
        let report = lb_engine::connect(
            &store,
            &key,
            ConnectRequest {
                login_url,
                instance_url: args.instance_url.clone(),
                credentials,
                create_fields: args.create_fields,
            },
        )
        .await?;
        store.close().await;
        if let Some(w) = &base_url_warning {
            eprintln!("warning: {w}");
        }
        if args.json {
            let mut value = serde_json::to_value(&report)?;
            if let Some(object) = value.as_object_mut() {
                object.insert(
                    "warnings".into(),
                    serde_json::json!(base_url_warning.as_slice()),
                );
            }
            outln!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            print_human(&report);
        }
        Ok(if report.ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

fn print_human(r: &ConnectReport) {
    match (&r.org, r.logged_in) {
        (Some(org), _) => {
            outln!(
                "Logged in to {} ({}) at {} — API v{}",
                org.name,
                org.edition,
                r.instance_url.as_deref().unwrap_or("?"),
                org.api_version
            );
            outln!("{}", org.edition_explained);
        }
        (None, true) => outln!("Logged in at {}", r.instance_url.as_deref().unwrap_or("?")),
        (None, false) => outln!("Could not log in ({} flow).", flow_words(&r.grant)),
    }
    if let Some(n) = &r.notice {
        outln!("Note: {n}");
    }
    if !r.fields.is_empty() {
        outln!("Fields (R-FIELD):");
    }
    for f in &r.fields {
        let mark = match f.status {
            FieldStatus::Present => "ok     ",
            FieldStatus::Created => "created",
            FieldStatus::Missing if !f.required => "absent ",
            FieldStatus::Missing => "MISSING",
            FieldStatus::WrongType => "WRONG  ",
        };
        let req = if f.required { "required" } else { "optional" };
        outln!(
            "  {mark} {}.{} ({req}){}",
            f.object,
            f.field,
            f.detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
    }
    // A field already listed as missing/absent above is not repeated as a mapping error.
    let absent: Vec<String> = r
        .fields
        .iter()
        .filter(|f| f.status == FieldStatus::Missing)
        .map(|f| format!("`{}` on {}", f.field, f.object))
        .collect();
    for p in &r.mapping_problems {
        if !absent.iter().any(|a| p.contains(a.as_str())) {
            outln!("  mapping {p}");
        }
    }
    if let Some(e) = &r.error {
        // The error carries the guidance too (for the web page); here it is listed below.
        let mut problem = e.clone();
        for g in &r.guidance {
            problem = problem.replace(g.as_str(), "");
        }
        outln!(
            "Problem: {}",
            problem.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    for g in &r.guidance {
        outln!("  {g}");
    }
    if r.saved {
        outln!(
            "Credentials saved (encrypted); {} API request(s) used.",
            r.api_requests
        );
    } else {
        outln!("Nothing saved.");
    }
    if r.ok {
        outln!("Ready: run `leadbridge sync` (or `leadbridge serve` to sync every 2 hours).");
    }
}

/// The flow's name in a sentence (the report names it as the saved connection does).
fn flow_words(grant: &str) -> &str {
    match grant {
        "password" => "username-password",
        "client_credentials" => "client-credentials",
        "jwt_bearer" => "JWT bearer",
        "refresh_token" => "web OAuth",
        other => other,
    }
}
