//! Bulk API 2.0 job bodies (salesforce-api.md §8). Results and uploads are CSV, not JSON;
//! the CSV column names Salesforce adds to result files are constants here.

use serde::{Deserialize, Serialize};

/// Result-file columns: `sf__Id`, `sf__Created` (successful), `sf__Error` (failed).
pub const COL_ID: &str = "sf__Id";
pub const COL_CREATED: &str = "sf__Created";
pub const COL_ERROR: &str = "sf__Error";
/// Response headers of query results pages.
pub const HEADER_LOCATOR: &str = "Sforce-Locator";
pub const HEADER_NUMBER_OF_RECORDS: &str = "Sforce-NumberOfRecords";

/// Body of `POST /jobs/ingest` (§8.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIngestJob {
    pub object: String,
    /// `insert`, `update`, `upsert`, `delete`, `hardDelete`.
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id_field_name: Option<String>,
    #[serde(default = "csv")]
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_ending: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_delimiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_rule_id: Option<String>,
}

/// Body of `POST /jobs/query` (§8.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateQueryJob {
    /// `query` or `queryAll`.
    pub operation: String,
    pub query: String,
    #[serde(default = "csv")]
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_delimiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_ending: Option<String>,
}

fn csv() -> String {
    "CSV".to_owned()
}

/// Body of `PATCH /jobs/ingest/{id}` (`UploadComplete` or `Aborted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStateChange {
    pub state: String,
}

/// Job info, ingest or query (§8.1 step 1 and 4, §8.2). Tolerant: only `id` and `state` are
/// required, since the set of keys grows with API versions and differs between ingest and
/// query jobs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    pub id: String,
    /// `Open`, `UploadComplete`, `InProgress`, `JobComplete`, `Failed`, `Aborted`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_modstamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id_field_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// A number in Salesforce's JSON (`66.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<f64>,
    /// Ingest only; no leading slash (`services/data/v66.0/jobs/ingest/750…/batches`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_ending: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_delimiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_records_processed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_records_failed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_processing_time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_active_processing_time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apex_processing_time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl JobInfo {
    /// `JobComplete`, `Failed` or `Aborted`.
    pub fn is_terminal(&self) -> bool {
        matches!(self.state.as_str(), "JobComplete" | "Failed" | "Aborted")
    }
}
