//! The sync's settings and watermarks, stored as JSON in the store's key/value table.
//!
//! Settings are what a user can change (interval, budget, what to do when the mapping changed,
//! the Lead creation fallbacks); watermarks are where the last complete run stopped reading.

use std::collections::BTreeMap;

use lb_core::{DuplicateMode, Mapping, PlanConfig, RequiredField};
use lb_store::ChangeCursor;
use lb_store::Store;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::EngineError;

pub(crate) const SETTINGS_KEY: &str = "settings";
pub(crate) const MAPPING_KEY: &str = "mapping";
pub(crate) const WATERMARKS_KEY: &str = "watermarks";

/// What to do when the mapping changed since the last full sync (R-SYNC-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FullResyncPolicy {
    /// The next run is a full resync.
    Automatic,
    /// Runs stay incremental and report that a full resync is needed (`leadbridge sync --full`).
    OnConfirmation,
}

/// The user's sync settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncSettings {
    /// Minutes between two scheduled runs (R-SYNC-4: every 2 hours by default).
    pub interval_minutes: u64,
    /// Share of the org's daily API allowance this connector may bring the org to (0–1).
    pub budget_share: f64,
    pub full_resync: FullResyncPolicy,
    /// Debounce of form-submission triggers, in milliseconds.
    pub debounce_ms: u64,
    /// Seconds read again before the org watermark (timestamps commit out of order).
    pub overlap_seconds: i64,
    pub duplicates: DuplicateMode,
    /// Lead fields Salesforce requires, with the user's fallback (none by default: a contact
    /// without a company is skipped with the reason, never given a silent placeholder).
    pub lead_required: Vec<RequiredField>,
    /// The app's public base URL: `plezi_url` points to `{app_base_url}/contacts/{id}`.
    pub app_base_url: String,
    /// Pairs per applied batch (links are recorded after each). Above `bulk_write_threshold`
    /// rows, a batch's writes go through one Bulk API 2.0 job (a handful of requests) instead
    /// of a collection request per 200 records.
    pub batch_size: usize,
    /// Writes above this many rows use Bulk API 2.0.
    pub bulk_write_threshold: usize,
    /// Contacts and records planned together at most: a run spools what it read in the store
    /// and plans and applies it in partitions of whole email groups (key ranges of about half
    /// this many records and half this many contacts), so memory follows the partition.
    pub plan_partition: usize,
    /// An org read whose first REST page says `totalSize` above this goes through one Bulk API
    /// 2.0 query job instead of REST pages of 2,000 (a create, a few status polls and one
    /// request per `bulk_query_page` records).
    pub bulk_read_threshold: usize,
    /// Records per Bulk query result page (each page is parsed whole: it bounds memory).
    pub bulk_query_page: u32,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            interval_minutes: 120,
            budget_share: 0.5,
            full_resync: FullResyncPolicy::Automatic,
            debounce_ms: 100,
            overlap_seconds: 300,
            duplicates: DuplicateMode::LinkOldest,
            lead_required: PlanConfig::default().lead_required,
            app_base_url: "http://127.0.0.1:8080".into(),
            batch_size: 10_000,
            bulk_write_threshold: 2_000,
            plan_partition: 10_000,
            bulk_read_threshold: 20_000,
            bulk_query_page: 10_000,
        }
    }
}

impl SyncSettings {
    pub fn plan_config(&self) -> PlanConfig {
        PlanConfig {
            duplicates: self.duplicates,
            lead_required: self.lead_required.clone(),
        }
    }

    pub fn validate(&self) -> Result<(), EngineError> {
        if !(0.0..=1.0).contains(&self.budget_share) || self.budget_share == 0.0 {
            return Err(EngineError::Invalid(
                "budget_share must be above 0 and at most 1".into(),
            ));
        }
        if self.interval_minutes == 0 {
            return Err(EngineError::Invalid(
                "interval_minutes must be at least 1".into(),
            ));
        }
        if self.batch_size == 0 {
            return Err(EngineError::Invalid("batch_size must be at least 1".into()));
        }
        if self.bulk_query_page == 0 {
            return Err(EngineError::Invalid(
                "bulk_query_page must be at least 1".into(),
            ));
        }
        Ok(())
    }

    pub async fn load(store: &Store) -> Result<SyncSettings, EngineError> {
        Ok(store
            .sync()
            .state_json(SETTINGS_KEY)
            .await?
            .unwrap_or_default())
    }

    pub async fn save(&self, store: &Store) -> Result<(), EngineError> {
        self.validate()?;
        store.sync().put_state_json(SETTINGS_KEY, self).await?;
        Ok(())
    }
}

/// The mapping in force: the stored one, else the default (R-FIELD-1, R-FIELD-3, R-FIELD-4).
pub async fn load_mapping(store: &Store) -> Result<Mapping, EngineError> {
    Ok(store
        .sync()
        .state_json(MAPPING_KEY)
        .await?
        .unwrap_or_else(Mapping::default_mapping))
}

pub async fn save_mapping(store: &Store, mapping: &Mapping) -> Result<(), EngineError> {
    store.sync().put_state_json(MAPPING_KEY, mapping).await?;
    Ok(())
}

/// Where the last complete run stopped reading, on each side.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Watermarks {
    /// Highest `SystemModstamp` read from Leads.
    #[serde(with = "time::serde::rfc3339::option")]
    pub lead: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub contact: Option<OffsetDateTime>,
    /// Our change-log cursor.
    pub ours: ChangeCursor,
    /// The mapping hash of the last full sync (R-SYNC-5).
    pub mapping_hash: Option<String>,
    /// Records read in the overlap window by the last complete run (`Id` → `SystemModstamp`):
    /// read again unchanged, they are left out instead of being processed (and looked up)
    /// again, so an idle sync costs one query per object.
    #[serde(default)]
    pub recent: BTreeMap<String, String>,
    /// When the last complete full or incremental run ended.
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
}

impl Watermarks {
    pub async fn load(store: &Store) -> Result<Watermarks, EngineError> {
        Ok(store
            .sync()
            .state_json(WATERMARKS_KEY)
            .await?
            .unwrap_or_default())
    }

    pub(crate) async fn save(&self, store: &Store) -> Result<(), EngineError> {
        store.sync().put_state_json(WATERMARKS_KEY, self).await?;
        Ok(())
    }
}
