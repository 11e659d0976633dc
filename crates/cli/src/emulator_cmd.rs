//! `leadbridge emulator`: serve the Salesforce emulator until SIGINT/SIGTERM.
//!
//! Contract with scripts and tests: the **first stdout line** is one JSON object with the
//! instance URL, login URL, the integration user's credentials and the connected app's keys
//! (`url`, `login_url`, `username`, `password`, `security_token`, `client_id`, `client_secret`,
//! plus `api_version`, `edition`, `org_id`, `user_id`, and `ca_cert` with `--tls`). Logs go to
//! stderr. On SIGINT/SIGTERM the org is saved to `--state` (if given) and the process exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use lb_emulator::{Config, Edition, SecretString};

#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Edition of the emulated org; API access only on developer, enterprise, unlimited,
    /// performance.
    #[arg(long, default_value = "developer", value_parser = parse_edition)]
    edition: Edition,
    /// Delay added to every data-API answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Daily API allowance (default: the edition's).
    #[arg(long)]
    daily_api_limit: Option<u64>,
    /// Save the org here on shutdown and load it at start.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Serve HTTPS with a generated certificate whose PEM is written next to the state file.
    #[arg(long)]
    tls: bool,
    /// Where to write the certificate PEM with --tls.
    #[arg(long)]
    cert_file: Option<PathBuf>,
    /// Name of the emulated organization.
    #[arg(long)]
    org_name: Option<String>,
    /// The integration user's username.
    #[arg(long, env = "LEADBRIDGE_EMULATOR_USERNAME")]
    username: Option<String>,
    /// The integration user's password.
    #[arg(long, env = "LEADBRIDGE_EMULATOR_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// The integration user's security token (appended to the password at login).
    #[arg(
        long,
        env = "LEADBRIDGE_EMULATOR_SECURITY_TOKEN",
        hide_env_values = true
    )]
    security_token: Option<String>,
    /// The connected app's consumer key.
    #[arg(long, env = "LEADBRIDGE_EMULATOR_CLIENT_ID")]
    client_id: Option<String>,
    /// The connected app's consumer secret.
    #[arg(
        long,
        env = "LEADBRIDGE_EMULATOR_CLIENT_SECRET",
        hide_env_values = true
    )]
    client_secret: Option<String>,
    /// PEM certificate (or RSA public key) that JWT bearer assertions must be signed for.
    #[arg(long)]
    jwt_cert: Option<PathBuf>,
    /// Largest accepted request body, in MiB.
    #[arg(long, default_value_t = 160)]
    max_body_mib: usize,
}

fn parse_edition(s: &str) -> Result<Edition, String> {
    Edition::parse(s).ok_or_else(|| {
        format!("unknown edition {s:?}; expected developer, enterprise, unlimited, performance, professional, group or contact-manager")
    })
}

impl EmulatorArgs {
    fn config(self) -> anyhow::Result<Config> {
        let mut cfg = Config {
            listen: self.listen,
            edition: self.edition,
            latency: Duration::from_millis(self.latency_ms),
            daily_api_limit: self.daily_api_limit,
            state_file: self.state,
            tls: self.tls,
            cert_file: self.cert_file,
            max_body_bytes: self.max_body_mib.saturating_mul(1024 * 1024),
            ..Config::default()
        };
        if let Some(v) = self.org_name {
            cfg.org_name = v;
        }
        if let Some(v) = self.username {
            cfg.username = v;
        }
        if let Some(v) = self.password {
            cfg.password = SecretString::from(v);
        }
        if let Some(v) = self.security_token {
            cfg.security_token = SecretString::from(v);
        }
        if let Some(v) = self.client_id {
            cfg.client_id = v;
        }
        if let Some(v) = self.client_secret {
            cfg.client_secret = SecretString::from(v);
        }
        if let Some(path) = self.jwt_cert {
            let pem = std::fs::read_to_string(&path)
                .with_context(|| format!("reading --jwt-cert {}", path.display()))?;
            cfg.jwt_certificate_pem = Some(pem);
        }
        Ok(cfg)
    }
}

pub fn run(args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let signal = shutdown_signal()?;
    let running = lb_emulator::spawn(config)
        .await
        .context("starting the emulator")?;
    // The banner is the one place these demo credentials are shown: scripts need them.
    let line = running.banner();
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").context("writing the banner")?;
        out.flush().context("writing the banner")?;
    }
    signal.await;
    tracing::info!("shutting down");
    running
        .shutdown()
        .await
        .context("saving the emulator state")?;
    Ok(ExitCode::SUCCESS)
}

/// Installs the SIGINT/SIGTERM handlers (before the banner is printed, so a signal sent as soon
/// as the banner is read is never lost) and returns a future that completes on either.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing SIGTERM handler")?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .context("installing SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
