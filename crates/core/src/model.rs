//! The planner's input vocabulary: snapshots of both sides, links and bases.
//!
//! **Values are strings.** Every field value on either side is an `Option<String>` in a canonical
//! text form chosen by the runtime: numbers in plain decimal (`"42"`, `"3.5"`), booleans `"true"` /
//! `"false"`, dates `YYYY-MM-DD`, datetimes RFC 3339 in UTC. `None` — and, on input, an empty
//! string — is *blank*. Strings keep the core free of floating-point equality and make plans
//! readable in the dry-run preview; the runtime converts at the edges (it already has to for
//! Salesforce JSON and the database).
//!
//! Invariant: nothing here reads a clock. Every time is an input.

use crate::contact::Email;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use time::OffsetDateTime;

/// A field value: `None` is blank. See the module docs for the text forms.
pub type Value = Option<String>;

/// Our contact's id in the marketing base (opaque to the core).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContactId(pub String);

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<T: Into<String>> From<T> for ContactId {
    fn from(s: T) -> Self {
        ContactId(s.into())
    }
}

/// The sync run that produced a plan, for provenance ("which run set this value?"). Shared,
/// not copied, by every value a plan writes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct RunId(Arc<str>);

impl RunId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for RunId {
    fn from(s: String) -> Self {
        RunId(Arc::from(s))
    }
}

impl From<&str> for RunId {
    fn from(s: &str) -> Self {
        RunId(Arc::from(s))
    }
}

impl From<RunId> for String {
    fn from(r: RunId) -> String {
        r.0.to_string()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The two org objects we sync with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SObject {
    Lead,
    Contact,
}

impl SObject {
    pub fn api_name(self) -> &'static str {
        match self {
            SObject::Lead => "Lead",
            SObject::Contact => "Contact",
        }
    }
}

impl fmt::Display for SObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

/// Our attribute that holds the contact's email (the identity key, R-SYNC-1).
pub const EMAIL_ATTRIBUTE: &str = "email";
/// The org field that holds a record's email, on Lead and Contact.
pub const EMAIL_FIELD: &str = "Email";
/// The Contact checkbox/picklist that selects Contacts for import (R-FIELD-2).
pub const SYNC_FLAG_FIELD: &str = "sync_to_plezi__c";

/// Reads a raw text as a value: the empty string is blank.
pub fn value_of(raw: Option<&str>) -> Value {
    match raw {
        Some(s) if !s.is_empty() => Some(s.to_string()),
        _ => None,
    }
}

/// One contact of ours, as the runtime reads it from the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OurContact {
    pub id: ContactId,
    /// The email as stored (normalized by the core before matching; blank or invalid = skipped).
    pub email: Option<String>,
    /// Attribute → value. A missing attribute or an empty string is blank. `email` is read from
    /// the field above, not from here.
    pub values: BTreeMap<String, String>,
    /// Attribute → when it last changed here (for "most recent change wins"). A missing entry is
    /// "unknown", which loses every most-recent contest.
    pub changed_at: BTreeMap<String, OffsetDateTime>,
}

impl OurContact {
    pub fn new(id: impl Into<ContactId>, email: impl Into<String>) -> Self {
        OurContact {
            id: id.into(),
            email: Some(email.into()),
            values: BTreeMap::new(),
            changed_at: BTreeMap::new(),
        }
    }

    /// The current value of one attribute (`email` included).
    pub fn value(&self, attribute: &str) -> Value {
        if attribute == EMAIL_ATTRIBUTE {
            return value_of(self.email.as_deref());
        }
        value_of(self.values.get(attribute).map(String::as_str))
    }

    /// The current value of one attribute, borrowed (`None` = blank).
    pub fn value_ref(&self, attribute: &str) -> Option<&str> {
        let v = if attribute == EMAIL_ATTRIBUTE {
            self.email.as_deref()
        } else {
            self.values.get(attribute).map(String::as_str)
        };
        v.filter(|s| !s.is_empty())
    }

    pub fn normalized_email(&self) -> Option<Email> {
        self.email.as_deref().and_then(|e| Email::parse(e).ok())
    }
}

/// One Lead or Contact of the org, as the runtime read it from Salesforce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRecord {
    pub id: String,
    pub object: SObject,
    /// Field API name → value. Missing or empty = blank. The email is `fields["Email"]`, the
    /// Contact's import flag `fields["sync_to_plezi__c"]`.
    pub fields: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub system_modstamp: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Lead only: converted to a Contact (R-SYNC-6).
    pub is_converted: bool,
    /// Lead only: the Contact it was converted into.
    pub converted_contact_id: Option<String>,
}

impl OrgRecord {
    pub fn value(&self, field: &str) -> Value {
        value_of(self.fields.get(field).map(String::as_str))
    }

    /// The value of one field, borrowed (`None` = blank).
    pub fn value_ref(&self, field: &str) -> Option<&str> {
        self.fields
            .get(field)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn normalized_email(&self) -> Option<Email> {
        self.fields
            .get(EMAIL_FIELD)
            .and_then(|e| Email::parse(e).ok())
    }

    /// R-FIELD-2: a Contact is imported only when `sync_to_plezi` says yes (yes/oui/true, any
    /// case, surrounding spaces ignored). Leads are always eligible.
    pub fn is_flagged_for_sync(&self) -> bool {
        match self.object {
            SObject::Lead => true,
            SObject::Contact => self
                .fields
                .get(SYNC_FLAG_FIELD)
                .map(|v| matches!(v.trim().to_lowercase().as_str(), "yes" | "oui" | "true"))
                .unwrap_or(false),
        }
    }
}

/// The last synced value of one mapped attribute, as seen on each side.
///
/// Both sides are kept (not just one "last synced value") because a value map or the org's own
/// normalisation can make the two spellings differ; a side changed iff its current value differs
/// from *its* base.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldBase {
    pub ours: Value,
    pub theirs: Value,
    /// [`crate::MappingEntry::fingerprint`] of the entry this base was synced under. A base
    /// from another entry (field, direction or value map changed) is ignored: the field is
    /// synced again by the first-sync rules, which is what a full resync after a mapping
    /// change needs (R-SYNC-5).
    #[serde(default)]
    pub entry: u32,
}

/// A link between one contact of ours and one org record, with the bases of its mapped fields.
/// Keyed by Id on both sides: an email change on either side is an update, never a fork.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncedLink {
    pub contact_id: ContactId,
    pub org_id: String,
    pub object: SObject,
    /// Attribute name → base. A missing attribute has never been synced on this link (new link
    /// or new mapping entry): the first-sync rules apply to it.
    pub base: BTreeMap<String, FieldBase>,
}
