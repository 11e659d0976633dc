//! The settings every contact-base command shares: where the data lives, which database, and
//! (for `serve`) where to listen. Resolved once from flags, environment and an optional TOML
//! config file, in that order of precedence.
//!
//! Config file keys (all optional): `data_dir`, `database_url`, `listen`, `base_url`,
//! `cors_origins` (a list of origins allowed to call the API-key routes from a browser).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use lb_store::{Database, MasterKey, Store};
use serde::Deserialize;

/// The contact-base flags before the subcommand (`leadbridge --data-dir D contacts list`), with
/// their environment variables. Not clap-global: `emulator` does not use them, so its help
/// does not list them; [`SubcommandArgs`] repeats them after the subcommands that do.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Data directory: the SQLite database and the master key file live here
    /// [default: $XDG_DATA_HOME/leadbridge or ~/.local/share/leadbridge].
    #[arg(long, env = "LEADBRIDGE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: postgres://… for PostgreSQL; default: SQLite in the data directory.
    #[arg(
        long,
        env = "LEADBRIDGE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// TOML config file (keys: data_dir, database_url, listen, base_url, cors_origins); flags
    /// and environment variables win over it.
    #[arg(long, env = "LEADBRIDGE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The same flags after a subcommand that uses the contact base (`leadbridge contacts list
/// --data-dir D`), global below it. No environment variables here: those fill [`GlobalArgs`],
/// so that a flag anywhere wins over the environment.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SubcommandArgs {
    /// Data directory (also LEADBRIDGE_DATA_DIR): the SQLite database and the master key file
    /// [default: $XDG_DATA_HOME/leadbridge or ~/.local/share/leadbridge].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (also LEADBRIDGE_DATABASE_URL): postgres://… for PostgreSQL; default:
    /// SQLite in the data directory.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// TOML config file (also LEADBRIDGE_CONFIG; keys: data_dir, database_url, listen,
    /// base_url, cors_origins); flags and environment variables win over it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl GlobalArgs {
    /// These settings with the flags given after the subcommand taking precedence.
    pub fn with(&self, after: SubcommandArgs) -> GlobalArgs {
        GlobalArgs {
            data_dir: after.data_dir.or_else(|| self.data_dir.clone()),
            database_url: after.database_url.or_else(|| self.database_url.clone()),
            config: after.config.or_else(|| self.config.clone()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    base_url: Option<String>,
    cors_origins: Option<Vec<String>>,
}

/// Validated settings.
#[derive(Debug)]
pub struct BaseSettings {
    pub data_dir: PathBuf,
    pub database: Database,
    pub listen: Option<SocketAddr>,
    pub base_url: Option<String>,
    /// The config file's `cors_origins`, checked (see [`lb_web::api::cors::parse_origin`]).
    pub cors_origins: Option<Vec<String>>,
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
        let cors_origins = match file.cors_origins {
            Some(list) => Some(check_origins(list.iter().map(String::as_str)).with_context(
                || match &args.config {
                    Some(path) => format!("reading cors_origins in {}", path.display()),
                    None => "reading cors_origins".to_owned(),
                },
            )?),
            None => None,
        };
        Ok(BaseSettings {
            data_dir,
            database,
            listen: file.listen,
            base_url: file.base_url,
            cors_origins,
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

/// Checks origins given for CORS (`https://shop.example`, or `*`), each named when refused.
pub fn check_origins<'a>(
    origins: impl IntoIterator<Item = &'a str>,
) -> anyhow::Result<Vec<String>> {
    origins
        .into_iter()
        .filter(|o| !o.trim().is_empty())
        .map(|o| lb_web::api::cors::parse_origin(o).map_err(anyhow::Error::msg))
        .collect()
}

/// Where `plezi_url` points for the commands that write to the org (`connect`, `sync`): the
/// `--base-url` flag or `LEADBRIDGE_BASE_URL` (`flag`), else the config file's `base_url`, else
/// what `serve` last recorded. A given URL is recorded in the sync settings so that later runs
/// and `serve` agree. Returns the URL in effect and, when it is loopback, the warning to show:
/// links in Salesforce would then open nothing for anyone but this machine's user. Never refuses
/// (the demo legitimately runs on loopback).
pub async fn app_base_url(
    store: &Store,
    settings: &BaseSettings,
    flag: Option<&str>,
) -> anyhow::Result<(String, Option<String>)> {
    let mut sync = lb_engine::SyncSettings::load(store)
        .await
        .context("reading the sync settings")?;
    let given = flag
        .or(settings.base_url.as_deref())
        .map(|u| u.trim().trim_end_matches('/'))
        .filter(|u| !u.is_empty());
    if let Some(url) = given {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("the base URL {url:?} must start with http:// or https://");
        }
        if sync.app_base_url != url {
            sync.app_base_url = url.to_owned();
            sync.save(store).await.context("saving the base URL")?;
        }
    }
    let url = sync.app_base_url;
    let origin = match given {
        Some(_) => BaseUrlOrigin::Given,
        None if url == lb_engine::SyncSettings::default().app_base_url => BaseUrlOrigin::Default,
        None => BaseUrlOrigin::Recorded,
    };
    let warning = is_loopback_url(&url).then(|| loopback_warning(&url, origin));
    Ok((url, warning))
}

/// Where the base URL a command uses came from, for the warning's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BaseUrlOrigin {
    /// This command's flag, the environment or the config file.
    Given,
    /// Nothing ever set one.
    Default,
    /// `serve` (its `--base-url` or listen address), `demo` or an earlier `--base-url`
    /// recorded it.
    Recorded,
}

fn loopback_warning(url: &str, origin: BaseUrlOrigin) -> String {
    let why = match origin {
        BaseUrlOrigin::Given => "is a loopback address",
        BaseUrlOrigin::Default => "is the default (no base URL is set), a loopback address",
        BaseUrlOrigin::Recorded => {
            "(recorded earlier by `serve`, `demo` or a --base-url) is a loopback address"
        }
    };
    format!(
        "the app's base URL {url} {why}: plezi_url in Salesforce will point to {url}/contacts/ID, \
         which only this machine can open. Set the URL Salesforce users reach this app at with \
         --base-url URL, the LEADBRIDGE_BASE_URL environment variable, or base_url in the config \
         file (--config FILE)."
    )
}

/// Whether `url`'s host is loopback or unspecified (`localhost`, `127.x.x.x`, `::1`, `0.0.0.0`).
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback() || ip.is_unspecified(),
        Err(_) => false,
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

#[cfg(test)]
mod tests {
    use super::is_loopback_url;

    #[test]
    fn loopback_and_unspecified_hosts_are_recognised() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:8080/",
            "http://LOCALHOST",
            "http://[::1]:8080",
            "http://0.0.0.0:8080",
            "http://127.1.2.3",
            "http://app.localhost",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://crm.example.com",
            "http://10.0.0.5:8080",
            "https://[2001:db8::1]/",
            "http://localhost.example.com",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
