//! One sync at a time across processes: a lease in the store's key/value table, holding the
//! owner's `pid@host`. A lease whose process is gone (killed, crashed) is taken over, so a
//! `kill -9` never blocks the next run.

use serde::{Deserialize, Serialize};

use crate::EngineError;
use lb_store::Store;

const LOCK_KEY: &str = "run_lock";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lease {
    pub pid: u32,
    pub host: String,
    pub token: String,
}

impl Lease {
    pub(crate) fn owner(&self) -> String {
        format!("{}@{}", self.pid, self.host)
    }
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a process of this host is alive (Linux: `/proc/PID` exists). Elsewhere, assume
/// alive: a stale lease then needs `leadbridge sync` to be told (never silently stolen).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Takes the lease, or says who holds it.
pub(crate) async fn acquire(store: &Store, token: &str) -> Result<Lease, EngineError> {
    let sync = store.sync();
    let ours = Lease {
        pid: std::process::id(),
        host: hostname(),
        token: token.to_owned(),
    };
    let ours_text =
        serde_json::to_string(&ours).map_err(|e| EngineError::Invalid(e.to_string()))?;
    for _ in 0..3 {
        let current = sync.state(LOCK_KEY).await?;
        let takeable = match &current {
            None => true,
            Some(text) => match serde_json::from_str::<Lease>(text) {
                Ok(holder) if holder.host == ours.host => {
                    !process_alive(holder.pid) || holder.token == ours.token
                }
                Ok(holder) => return Err(EngineError::Busy(holder.owner())),
                // An unreadable lease is nobody's.
                Err(_) => true,
            },
        };
        if !takeable {
            let holder: Lease = serde_json::from_str(current.as_deref().unwrap_or_default())
                .map_err(|e| EngineError::Invalid(e.to_string()))?;
            return Err(EngineError::Busy(holder.owner()));
        }
        if sync
            .compare_and_swap_state(LOCK_KEY, current.as_deref(), Some(&ours_text))
            .await?
        {
            return Ok(ours);
        }
    }
    Err(EngineError::Busy("another process".into()))
}

pub(crate) async fn release(store: &Store, lease: &Lease) -> Result<(), EngineError> {
    let sync = store.sync();
    let text = serde_json::to_string(lease).map_err(|e| EngineError::Invalid(e.to_string()))?;
    sync.compare_and_swap_state(LOCK_KEY, Some(&text), None)
        .await?;
    Ok(())
}
