//! The settings every contact-base command shares: where the data lives, which database, and
//! (for `serve`) where to listen. Resolved once from flags, environment and an optional TOML
//! config file, in that order of precedence.
//!
//! Config file keys (all optional): `data_dir`, `database_url`, `listen`, `base_url`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use lb_store::{Database, MasterKey, Store};
use serde::Deserialize;

/// The global flags (see `main.rs`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Data directory: the SQLite database and the master key file live here
    /// [default: $XDG_DATA_HOME/leadbridge or ~/.local/share/leadbridge].
    #[arg(long, global = true, env = "LEADBRIDGE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: postgres://… for PostgreSQL; default: SQLite in the data directory.
    #[arg(
        long,
        global = true,
        env = "LEADBRIDGE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// TOML config file (keys: data_dir, database_url, listen, base_url); flags and environment
    /// variables win over it.
    #[arg(long, global = true, env = "LEADBRIDGE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    base_url: Option<String>,
}

/// Validated settings.
#[derive(Debug)]
pub struct BaseSettings {
    pub data_dir: PathBuf,
    pub database: Database,
    pub listen: Option<SocketAddr>,
    pub base_url: Option<String>,
}

impl BaseSettings {
    pub fn resolve(args: &GlobalArgs) -> anyhow::Result<BaseSettings> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the config file {}", path.display()))?;
                toml::from_str::<ConfigFile>(&text)
                    .with_context(|| format!("reading the config file {}", path.display()))?
            }
            None => ConfigFile::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(default_data_dir);
        let database = match args
            .database_url
            .as_deref()
            .or(file.database_url.as_deref())
        {
            Some(url) if !url.trim().is_empty() => Database::from_url(url.trim())?,
            _ => Database::in_data_dir(&data_dir),
        };
        Ok(BaseSettings {
            data_dir,
            database,
            listen: file.listen,
            base_url: file.base_url,
        })
    }

    /// Creates the data directory if needed and opens the database (running its migrations).
    pub async fn open_store(&self) -> anyhow::Result<Store> {
        lb_store::ensure_data_dir(&self.data_dir)
            .with_context(|| format!("preparing the data directory {}", self.data_dir.display()))?;
        Store::open(&self.database)
            .await
            .with_context(|| format!("opening the contact base ({:?})", self.database))
    }

    /// The master key (environment or the data directory's key file), checked against the
    /// secrets already stored so that a wrong key fails here, clearly.
    pub async fn master_key(&self, store: &Store) -> anyhow::Result<MasterKey> {
        let key =
            MasterKey::from_env_or_data_dir(&self.data_dir).context("loading the master key")?;
        store
            .check_master_key(&key)
            .await
            .context("checking the master key")?;
        Ok(key)
    }
}

fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(xdg).join("leadbridge");
    }
    match std::env::var_os("HOME") {
        Some(home) => Path::new(&home).join(".local/share/leadbridge"),
        None => PathBuf::from(".leadbridge"),
    }
}

/// A multi-threaded runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
