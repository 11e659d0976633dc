//! A Salesforce org emulator that real clients (simple-salesforce, jsforce, our own
//! `lb-salesforce`) accept unchanged: OAuth and SOAP login, describe, records, SOQL queries,
//! collections, composite, limits, editions, fault injection — over real HTTP(S).
//!
//! Use it in-process from tests:
//! ```no_run
//! # async fn demo() -> Result<(), lb_emulator::Error> {
//! let running = lb_emulator::spawn(lb_emulator::Config::default()).await?;
//! println!("instance URL: {}", running.url);
//! running.shutdown().await?;
//! # Ok(()) }
//! ```
//! or as `leadbridge emulator`. [`router`] gives the bare `axum::Router` for `oneshot` tests.
//!
//! Layout: [`state`] holds the org (metadata, records, credentials, counters) behind clear
//! methods; `http` turns requests into calls on it and answers with Salesforce's exact wire
//! shapes (`lb-wire`). Invariants: every `/services/data` call except the version list is
//! authenticated, counted against the daily allowance and answered with `Sforce-Limit-Info`;
//! no input can make a handler panic or answer 500 (other than the injected
//! `server_unavailable` fault, which answers 503).

pub mod soql;
pub mod state;

mod http;
mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

pub use http::router;
/// Re-exported so callers can fill [`Config`]'s secret fields without their own dependency.
pub use secrecy::SecretString;

/// Newest API version served (`/services/data/v66.0`); the oldest is 31.0.
pub const MAX_API_VERSION: u32 = http::MAX_VERSION;
pub use state::{Edition, Org};

/// Everything that shapes an emulated org. `Default` gives a Developer Edition org with fixed,
/// documented demo credentials (see `leadbridge emulator --help`).
#[derive(Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    pub edition: Edition,
    /// Delay added before answering each API request (simulates network distance).
    pub latency: Duration,
    /// Daily API allowance; `None` uses the edition's default.
    pub daily_api_limit: Option<u64>,
    pub org_name: String,
    /// The integration user's login.
    pub username: String,
    pub password: SecretString,
    pub security_token: SecretString,
    /// The connected app.
    pub client_id: String,
    pub client_secret: SecretString,
    /// PEM certificate or public key that JWT bearer assertions are checked against.
    pub jwt_certificate_pem: Option<String>,
    /// Where the org is saved on shutdown and loaded from at start.
    pub state_file: Option<PathBuf>,
    /// Serve HTTPS with a generated self-signed certificate.
    pub tls: bool,
    /// Where the certificate PEM goes with `tls`; default: next to the state file, else the
    /// system temp directory.
    pub cert_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes (Bulk uploads are the big ones).
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("edition", &self.edition)
            .field("latency", &self.latency)
            .field("daily_api_limit", &self.daily_api_limit)
            .field("username", &self.username)
            .field("client_id", &self.client_id)
            .field("state_file", &self.state_file)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            edition: Edition::Developer,
            latency: Duration::ZERO,
            daily_api_limit: None,
            org_name: "Leadbridge Demo Org".into(),
            username: "integration@leadbridge.example".into(),
            password: SecretString::from("Emulator-Pass1"),
            security_token: SecretString::from("EMUTOKEN0123456789AB"),
            client_id:
                "3MVG9leadbridgeEmulatorConsumerKey0000000000000000000000000000000000000000000"
                    .into(),
            client_secret: SecretString::from(
                "EMULATORSECRET0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF01",
            ),
            jwt_certificate_pem: None,
            state_file: None,
            tls: false,
            cert_file: None,
            max_body_bytes: 160 * 1024 * 1024,
        }
    }
}

impl Config {
    fn seed(&self) -> state::OrgSeed {
        state::OrgSeed {
            org_name: self.org_name.clone(),
            edition: self.edition,
            username: self.username.clone(),
            user_email: self.username.clone(),
            user_first_name: "Integration".into(),
            user_last_name: "User".into(),
        }
    }

    fn fresh_auth(&self) -> state::Auth {
        state::Auth {
            username: self.username.clone(),
            password: self.password.clone(),
            security_token: self.security_token.clone(),
            password_expired: false,
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            jwt_certificate_pem: self.jwt_certificate_pem.clone(),
            sessions: Default::default(),
            refresh_tokens: Default::default(),
            codes: Default::default(),
        }
    }

    fn daily_limit(&self) -> u64 {
        self.daily_api_limit
            .unwrap_or_else(|| self.edition.default_daily_api_limit())
    }
}

/// Failures starting, loading or saving an emulator. The I/O or JSON cause is the error's
/// `source` (anyhow's `{:#}` prints it), so the messages do not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read or write {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not a saved emulator org")]
    BadState {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// What `--state FILE` holds.
#[derive(Serialize, Deserialize)]
struct Saved {
    format: u32,
    org: Org,
    auth: state::Auth,
    usage: state::Usage,
}

/// A running org's shared state. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct Emulator {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    /// `scheme://host:port` the server answers on; set once bound.
    pub(crate) base_url: RwLock<String>,
    pub(crate) org: RwLock<Org>,
    pub(crate) auth: Mutex<state::Auth>,
    pub(crate) usage: Mutex<state::Usage>,
    pub(crate) cursors: Mutex<http::Cursors>,
    /// Bulk API 2.0 jobs (not saved with the state file: jobs are transient, §8).
    pub(crate) bulk: Mutex<state::bulk::Jobs>,
}

/// Locks that a panicking writer poisoned are still usable: every write either completes or
/// is rolled back before it can panic, so the data stays consistent.
fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}
fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

impl Emulator {
    /// A new org from `config`, loaded from `config.state_file` when that file exists.
    pub fn new(config: Config) -> Result<Emulator, Error> {
        let (org, auth, usage) = match &config.state_file {
            Some(path) if path.exists() => {
                let saved = load(path)?;
                let mut org = saved.org;
                org.rebuild_indexes();
                let mut usage = saved.usage;
                usage.daily_limit = config.daily_limit();
                (org, saved.auth, usage)
            }
            _ => (
                Org::new(&config.seed()),
                config.fresh_auth(),
                state::Usage::new(config.daily_limit()),
            ),
        };
        Ok(Emulator {
            shared: Arc::new(Shared {
                base_url: RwLock::new(format!("http://{}", config.listen)),
                org: RwLock::new(org),
                auth: Mutex::new(auth),
                usage: Mutex::new(usage),
                cursors: Mutex::new(http::Cursors::default()),
                bulk: Mutex::new(state::bulk::Jobs::default()),
                config,
            }),
        })
    }

    /// The configuration this org was started with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The instance URL (`http(s)://127.0.0.1:PORT`).
    pub fn base_url(&self) -> String {
        read(&self.shared.base_url).clone()
    }

    pub(crate) fn set_base_url(&self, url: String) {
        *write(&self.shared.base_url) = url;
    }

    /// Shared read access to the org (queries, describes).
    pub fn org(&self) -> RwLockReadGuard<'_, Org> {
        read(&self.shared.org)
    }

    /// Exclusive access to the org (writes).
    pub fn org_mut(&self) -> RwLockWriteGuard<'_, Org> {
        write(&self.shared.org)
    }

    /// Credentials, connected app and sessions.
    pub fn auth(&self) -> MutexGuard<'_, state::Auth> {
        lock(&self.shared.auth)
    }

    /// API counters and pending faults.
    pub fn usage(&self) -> MutexGuard<'_, state::Usage> {
        lock(&self.shared.usage)
    }

    pub(crate) fn cursors(&self) -> MutexGuard<'_, http::Cursors> {
        lock(&self.shared.cursors)
    }

    /// Bulk API 2.0 jobs.
    pub(crate) fn bulk(&self) -> MutexGuard<'_, state::bulk::Jobs> {
        lock(&self.shared.bulk)
    }

    /// Back to a fresh org: records, custom fields, sessions, counters and faults all cleared;
    /// credentials back to the configured ones.
    pub fn reset(&self) {
        let cfg = &self.shared.config;
        *self.org_mut() = Org::new(&cfg.seed());
        *self.auth() = cfg.fresh_auth();
        *self.usage() = state::Usage::new(cfg.daily_limit());
        *self.cursors() = http::Cursors::default();
        *self.bulk() = state::bulk::Jobs::default();
    }

    /// Writes the org to `config.state_file` (atomically: temp file then rename). No-op without
    /// a state file.
    pub fn save(&self) -> Result<(), Error> {
        let Some(path) = &self.shared.config.state_file else {
            return Ok(());
        };
        let bytes = {
            let org = self.org();
            let auth = self.auth();
            let usage = self.usage().clone();
            #[derive(Serialize)]
            struct SavedRef<'a> {
                format: u32,
                org: &'a Org,
                auth: &'a state::Auth,
                usage: state::Usage,
            }
            serde_json::to_vec(&SavedRef {
                format: 1,
                org: &org,
                auth: &auth,
                usage,
            })
            .map_err(|e| Error::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?
        };
        let tmp = path.with_extension("tmp");
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        write_private(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    /// The integration user's current password and security token (the control API can change
    /// them). Exposed for the CLI banner and tests only.
    pub fn credentials(&self) -> (String, SecretString, SecretString) {
        let auth = self.auth();
        (
            auth.username.clone(),
            auth.password.clone(),
            auth.security_token.clone(),
        )
    }
}

/// Writes `bytes` to `path` readable by its owner only: the state holds the org's password,
/// token and client secret in plain text.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    // A leftover temp file keeps its old mode: set it whatever it was.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn load(path: &Path) -> Result<Saved, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| Error::BadState {
        path: path.to_owned(),
        source,
    })
}

/// A served emulator: its URLs, its state, and the handle to stop it.
pub struct RunningEmulator {
    /// Instance URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// Login host (the same server).
    pub login_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// Certificate PEM path when serving TLS (trust it, e.g. `REQUESTS_CA_BUNDLE`).
    pub cert_file: Option<PathBuf>,
    pub emulator: Emulator,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningEmulator {
    /// Stops serving (in-flight requests finish) and saves the state file.
    pub async fn shutdown(self) -> Result<(), Error> {
        self.handle.graceful_shutdown(Some(Duration::from_secs(5)));
        let _ = self.task.await;
        self.emulator.save()
    }

    /// The `leadbridge emulator` banner: URLs, the integration user's credentials and the
    /// connected app's keys, as one JSON object. The one place the demo secrets are exposed.
    pub fn banner(&self) -> serde_json::Value {
        let (username, password, token) = self.emulator.credentials();
        let cfg = self.emulator.config();
        let (org_id, user_id) = {
            let org = self.emulator.org();
            (org.org_id.clone(), org.user_id.clone())
        };
        serde_json::json!({
            "url": self.url,
            "login_url": self.login_url,
            "username": username,
            "password": password.expose_secret(),
            "security_token": token.expose_secret(),
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret.expose_secret(),
            "api_version": format!("{MAX_API_VERSION}.0"),
            "edition": cfg.edition,
            "org_id": org_id,
            "user_id": user_id,
            "ca_cert": self.cert_file.as_ref().map(|p| p.display().to_string()),
            "state_file": cfg.state_file.as_ref().map(|p| p.display().to_string()),
        })
    }

    /// Waits until the server stops by itself (it normally does not).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        (&mut self.task)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Binds `config.listen` (port 0 for tests), serves the emulator in a background task and
/// returns once it accepts connections.
pub async fn spawn(config: Config) -> Result<RunningEmulator, Error> {
    let emulator = Emulator::new(config)?;
    serve(emulator).await
}

/// Serves an existing [`Emulator`]; see [`spawn`].
pub async fn serve(emulator: Emulator) -> Result<RunningEmulator, Error> {
    let cfg = emulator.config().clone();
    let listener = std::net::TcpListener::bind(cfg.listen).map_err(|source| Error::Bind {
        addr: cfg.listen,
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| Error::Bind {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: cfg.listen,
        source,
    })?;
    let scheme = if cfg.tls { "https" } else { "http" };
    let url = format!("{scheme}://{addr}");
    emulator.set_base_url(url.clone());
    let app = router(emulator.clone()).into_make_service();
    let handle = axum_server::Handle::new();
    let (task, cert_file) = if cfg.tls {
        let generated = tls::self_signed(addr)?;
        let path = cfg
            .cert_file
            .clone()
            .unwrap_or_else(|| tls::default_cert_path(cfg.state_file.as_deref(), addr));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        }
        std::fs::write(&path, &generated.ca_pem).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let rustls = axum_server::tls_rustls::RustlsConfig::from_pem(
            generated.cert_pem.into_bytes(),
            generated.key_pem.expose_secret().as_bytes().to_vec(),
        )
        .await
        .map_err(|e| Error::Tls(e.to_string()))?;
        let server = axum_server::from_tcp_rustls(listener, rustls)
            .map_err(|source| Error::Bind { addr, source })?
            .handle(handle.clone());
        (tokio::spawn(server.serve(app)), Some(path))
    } else {
        let server = axum_server::from_tcp(listener)
            .map_err(|source| Error::Bind { addr, source })?
            .handle(handle.clone());
        (tokio::spawn(server.serve(app)), None)
    };
    handle.listening().await;
    tracing::info!(%url, "Salesforce emulator listening");
    Ok(RunningEmulator {
        login_url: url.clone(),
        url,
        addr,
        cert_file,
        emulator,
        handle,
        task,
    })
}
