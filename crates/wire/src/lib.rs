//! Salesforce's wire vocabulary as serde types, shared by the client (`lb-salesforce`) and the
//! emulator (`lb-emulator`).
//!
//! **Invariant:** both sides speak through these types, so a field renamed on one side is renamed
//! on the other. No I/O, no HTTP. Field names follow Salesforce's JSON exactly (`errorCode`,
//! `nextRecordsUrl`, `Max`/`Remaining`, …); comments cite `shared/docs/salesforce-api.md` sections.
//!
//! Additive edits only: other crates add types here, nobody renames someone else's.

pub mod bulk;
pub mod tooling;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One entry of a REST error body (§10): the body is a JSON **array** of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub message: String,
    #[serde(rename = "errorCode")]
    pub error_code: String,
    /// Present for DML/validation errors, absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

impl ApiError {
    /// An error without a `fields` member (session, limit, not-found errors).
    pub fn new(error_code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            message: message.into(),
            error_code: error_code.into(),
            fields: None,
        }
    }

    /// An error carrying `fields` (validation errors).
    pub fn with_fields(
        error_code: impl Into<String>,
        message: impl Into<String>,
        fields: Vec<String>,
    ) -> Self {
        ApiError {
            message: message.into(),
            error_code: error_code.into(),
            fields: Some(fields),
        }
    }
}

/// A per-record error inside a SaveResult (collections, composite, bulk): uses `statusCode`, not
/// `errorCode` (§6), and always carries `fields`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    #[serde(rename = "statusCode")]
    pub status_code: String,
    pub message: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

impl From<ApiError> for RecordError {
    fn from(e: ApiError) -> Self {
        RecordError {
            status_code: e.error_code,
            message: e.message,
            fields: e.fields.unwrap_or_default(),
        }
    }
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        ApiError {
            message: e.message,
            error_code: e.status_code,
            fields: Some(e.fields),
        }
    }
}

/// The result of one create/update/upsert/delete (§5, §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveResult {
    /// 18-character id; absent when the record failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub success: bool,
    #[serde(default)]
    pub errors: Vec<RecordError>,
    /// Only on upserts: whether the record was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
}

/// OAuth token endpoint error body (§1.3): `{"error","error_description"}`, HTTP 400.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: String,
    pub error_description: String,
}

/// Successful token response, all grants (§1.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub instance_url: String,
    /// Identity URL `https://{login}/id/{orgId18}/{userId18}`.
    pub id: String,
    /// `Bearer`; absent from some recorded responses (restforce's auth fixture), so optional
    /// when reading.
    #[serde(default = "bearer")]
    pub token_type: String,
    /// Milliseconds since the epoch, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

/// One entry of `GET /services/data/` (§2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiVersion {
    pub label: String,
    pub url: String,
    pub version: String,
}

/// `attributes` on every record (§4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordAttributes {
    #[serde(rename = "type")]
    pub sobject_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A query page (§4). `records` stay loose JSON objects: their keys depend on the query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage {
    pub total_size: u64,
    pub done: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_records_url: Option<String>,
    pub records: Vec<Map<String, Value>>,
}

/// `{"Max":N,"Remaining":N}` in `/limits` (§11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    #[serde(rename = "Max")]
    pub max: u64,
    #[serde(rename = "Remaining")]
    pub remaining: u64,
}

/// Body of `POST/PATCH /composite/sobjects` (§6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionRequest {
    #[serde(default)]
    pub all_or_none: bool,
    pub records: Vec<Map<String, Value>>,
}

/// Body of `POST /composite/sobjects/{Type}` retrieve (§6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionRetrieveRequest {
    pub ids: Vec<String>,
    pub fields: Vec<String>,
}

/// One subrequest of `POST /composite` (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositeSubrequest {
    pub method: String,
    pub url: String,
    pub reference_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_headers: Option<Map<String, Value>>,
}

/// Body of `POST /composite` (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositeRequest {
    #[serde(default)]
    pub all_or_none: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collate_subrequests: Option<bool>,
    pub composite_request: Vec<CompositeSubrequest>,
}

/// One subresponse of `POST /composite` (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositeSubresponse {
    pub body: Value,
    pub http_headers: Map<String, Value>,
    pub http_status_code: u16,
    pub reference_id: String,
}

/// Response of `POST /composite` (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositeResponse {
    pub composite_response: Vec<CompositeSubresponse>,
}

/// A picklist entry in a field describe (§3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[serde(default)]
pub struct PicklistValue {
    pub active: bool,
    pub default_value: bool,
    pub label: String,
    pub valid_for: Option<String>,
    pub value: String,
}

/// One field of an sObject describe (§3.2), with the keys a v59+ org returns. Describe types
/// read with `#[serde(default)]`: older API versions and older orgs omit newer keys
/// (`aiPredictionField`, …), and a missing key must not make a whole describe unreadable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[serde(default)]
pub struct FieldDescribe {
    pub aggregatable: bool,
    pub ai_prediction_field: bool,
    pub auto_number: bool,
    pub byte_length: u32,
    pub calculated: bool,
    pub calculated_formula: Option<String>,
    pub cascade_delete: bool,
    pub case_sensitive: bool,
    pub compound_field_name: Option<String>,
    pub controller_name: Option<String>,
    pub createable: bool,
    pub custom: bool,
    pub default_value: Value,
    pub default_value_formula: Option<String>,
    pub defaulted_on_create: bool,
    pub dependent_picklist: bool,
    pub deprecated_and_hidden: bool,
    pub digits: u32,
    pub display_location_in_decimal: bool,
    pub encrypted: bool,
    pub external_id: bool,
    pub extra_type_info: Option<String>,
    pub filterable: bool,
    pub filtered_lookup_info: Option<Value>,
    pub formula_treat_null_number_as_zero: bool,
    pub groupable: bool,
    pub high_scale_number: bool,
    pub html_formatted: bool,
    pub id_lookup: bool,
    pub inline_help_text: Option<String>,
    pub label: String,
    pub length: u32,
    pub mask: Option<String>,
    pub mask_type: Option<String>,
    pub name: String,
    pub name_field: bool,
    pub name_pointing: bool,
    pub nillable: bool,
    pub permissionable: bool,
    pub picklist_values: Vec<PicklistValue>,
    pub polymorphic_foreign_key: bool,
    pub precision: u32,
    pub query_by_distance: bool,
    pub reference_target_field: Option<String>,
    pub reference_to: Vec<String>,
    pub relationship_name: Option<String>,
    pub relationship_order: Option<u32>,
    pub restricted_delete: bool,
    pub restricted_picklist: bool,
    pub scale: u32,
    pub search_prefilterable: bool,
    pub soap_type: String,
    pub sortable: bool,
    #[serde(rename = "type")]
    pub field_type: String,
    pub unique: bool,
    pub updateable: bool,
    pub write_requires_master_read: bool,
}

/// One entry of the global describe's `sobjects` (§3.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[serde(default)]
pub struct SObjectSummary {
    pub activateable: bool,
    pub associate_entity_type: Option<String>,
    pub associate_parent_entity: Option<String>,
    pub createable: bool,
    pub custom: bool,
    pub custom_setting: bool,
    pub deep_cloneable: bool,
    pub deletable: bool,
    pub deprecated_and_hidden: bool,
    pub feed_enabled: bool,
    pub has_subtypes: bool,
    pub is_interface: bool,
    pub is_subtype: bool,
    pub key_prefix: Option<String>,
    pub label: String,
    pub label_plural: String,
    pub layoutable: bool,
    pub mergeable: bool,
    pub mru_enabled: bool,
    pub name: String,
    pub queryable: bool,
    pub replicateable: bool,
    pub retrieveable: bool,
    pub searchable: bool,
    pub triggerable: bool,
    pub undeletable: bool,
    pub updateable: bool,
    pub urls: Map<String, Value>,
}

/// `GET /sobjects/` (§3.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[serde(default)]
pub struct GlobalDescribe {
    pub encoding: String,
    pub max_batch_size: u32,
    pub sobjects: Vec<SObjectSummary>,
}

/// A record type entry of an sObject describe (§3.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[serde(default)]
pub struct RecordTypeInfo {
    pub active: bool,
    pub available: bool,
    pub default_record_type_mapping: bool,
    pub developer_name: String,
    pub master: bool,
    pub name: String,
    pub record_type_id: String,
    pub urls: Map<String, Value>,
}

/// `GET /sobjects/{Type}/describe` (§3.2). `summary` holds the global-describe flags, flattened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[serde(default)]
pub struct SObjectDescribe {
    #[serde(flatten)]
    pub summary: SObjectSummary,
    pub action_overrides: Vec<Value>,
    pub child_relationships: Vec<Value>,
    pub compact_layoutable: bool,
    pub fields: Vec<FieldDescribe>,
    pub listviewable: Option<bool>,
    pub lookup_layoutable: Option<bool>,
    pub named_layout_infos: Vec<Value>,
    pub network_scope_field_name: Option<String>,
    pub record_type_infos: Vec<RecordTypeInfo>,
    pub search_layoutable: bool,
    pub supported_scopes: Vec<Value>,
}
