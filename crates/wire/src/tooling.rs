//! Tooling API and setup-object bodies for creating custom fields and granting field-level
//! security (salesforce-api.md §12.4).

use serde::{Deserialize, Serialize};

/// Body of `POST /tooling/sobjects/CustomField`: `FullName` is `Object.Field__c`, `Metadata`
/// the Metadata API CustomField properties in camelCase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldRequest {
    #[serde(rename = "FullName")]
    pub full_name: String,
    #[serde(rename = "Metadata")]
    pub metadata: CustomFieldMetadata,
}

/// The CustomField metadata we send (text, picklist, date and the other simple types).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomFieldMetadata {
    /// `Text`, `Picklist`, `Date`, `Url`, `Checkbox`, `Number`, `DateTime`, `Email`, …
    #[serde(rename = "type")]
    pub field_type: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_help_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_set: Option<ValueSet>,
}

/// `valueSet` of a picklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueSet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted: Option<bool>,
    pub value_set_definition: ValueSetDefinition,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueSetDefinition {
    #[serde(default)]
    pub sorted: bool,
    pub value: Vec<PicklistEntry>,
}

/// One picklist value. The Tooling JSON names it `valueName` (the Metadata API's `fullName`
/// is accepted as an alias when reading).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PicklistEntry {
    #[serde(rename = "valueName", alias = "fullName")]
    pub value_name: String,
    pub label: String,
    #[serde(default)]
    pub default: bool,
}

/// Tooling create result: `{"id":"00N…","success":true,"errors":[],"warnings":[],"infos":[]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolingSaveResult {
    #[serde(default)]
    pub id: Option<String>,
    pub success: bool,
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
    #[serde(default)]
    pub warnings: Vec<serde_json::Value>,
    #[serde(default)]
    pub infos: Vec<serde_json::Value>,
}

/// A `FieldPermissions` record (create body, or a query row): read/edit of one field for one
/// permission set. `PermissionsEdit` requires `PermissionsRead`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldPermissions {
    #[serde(rename = "Id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "ParentId")]
    pub parent_id: String,
    #[serde(rename = "SobjectType")]
    pub sobject_type: String,
    /// `Object.Field__c`.
    #[serde(rename = "Field")]
    pub field: String,
    #[serde(rename = "PermissionsRead")]
    pub permissions_read: bool,
    #[serde(rename = "PermissionsEdit")]
    pub permissions_edit: bool,
}
