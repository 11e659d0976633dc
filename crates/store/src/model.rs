//! The contact base's records as the store hands them out.
//!
//! Values that the sync compares are exposed in the core's canonical text form (see
//! `lb_core::model`): numbers in plain decimal, booleans `true`/`false`, dates `YYYY-MM-DD`,
//! datetimes RFC 3339 UTC; `None` is blank.

use std::collections::BTreeMap;
use std::fmt;

use lb_core::contact::Email;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A contact's id: stable for the life of the contact, the `{id}` of `/contacts/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContactId(pub i64);

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A standard contact attribute, named as in CSV columns, JSON keys and CLI flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attribute {
    Email,
    FirstName,
    LastName,
    Company,
    JobTitle,
    Phone,
    BehaviourScore,
    State,
    LifecycleStage,
    Source,
    Medium,
    Campaign,
    CreatedAt,
}

impl Attribute {
    /// Every standard attribute, in the order (which is also the CSV export's order).
    pub const ALL: [Attribute; 13] = [
        Attribute::Email,
        Attribute::FirstName,
        Attribute::LastName,
        Attribute::Company,
        Attribute::JobTitle,
        Attribute::Phone,
        Attribute::BehaviourScore,
        Attribute::State,
        Attribute::LifecycleStage,
        Attribute::Source,
        Attribute::Medium,
        Attribute::Campaign,
        Attribute::CreatedAt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Attribute::Email => "email",
            Attribute::FirstName => "first_name",
            Attribute::LastName => "last_name",
            Attribute::Company => "company",
            Attribute::JobTitle => "job_title",
            Attribute::Phone => "phone",
            Attribute::BehaviourScore => "behaviour_score",
            Attribute::State => "state",
            Attribute::LifecycleStage => "lifecycle_stage",
            Attribute::Source => "source",
            Attribute::Medium => "medium",
            Attribute::Campaign => "campaign",
            Attribute::CreatedAt => "created_at",
        }
    }

    pub fn from_name(name: &str) -> Option<Attribute> {
        Attribute::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The funnel LEAD > MQL > SQL > customer (R-FIELD-4), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LifecycleStage {
    Lead,
    Mql,
    Sql,
    Customer,
}

impl LifecycleStage {
    pub const ALL: [LifecycleStage; 4] = [
        LifecycleStage::Lead,
        LifecycleStage::Mql,
        LifecycleStage::Sql,
        LifecycleStage::Customer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LifecycleStage::Lead => "lead",
            LifecycleStage::Mql => "mql",
            LifecycleStage::Sql => "sql",
            LifecycleStage::Customer => "customer",
        }
    }

    /// Accepts the stage names in any case (`MQL`, `mql`).
    pub fn parse(raw: &str) -> Option<LifecycleStage> {
        let raw = raw.trim();
        LifecycleStage::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(raw))
    }
}

impl fmt::Display for LifecycleStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who made a change: recorded with every field change, so the sync can tell its own writes
/// from the marketer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    User,
    Form,
    Api,
    Import,
    Sync,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::User => "user",
            Origin::Form => "form",
            Origin::Api => "api",
            Origin::Import => "import",
            Origin::Sync => "sync",
        }
    }

    pub fn parse(raw: &str) -> Option<Origin> {
        [
            Origin::User,
            Origin::Form,
            Origin::Api,
            Origin::Import,
            Origin::Sync,
        ]
        .into_iter()
        .find(|o| o.name() == raw)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When the contact first reached each lifecycle stage (`None`: not reached).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageDates {
    pub lead: Option<OffsetDateTime>,
    pub mql: Option<OffsetDateTime>,
    pub sql: Option<OffsetDateTime>,
    pub customer: Option<OffsetDateTime>,
}

impl StageDates {
    pub fn get(&self, stage: LifecycleStage) -> Option<OffsetDateTime> {
        match stage {
            LifecycleStage::Lead => self.lead,
            LifecycleStage::Mql => self.mql,
            LifecycleStage::Sql => self.sql,
            LifecycleStage::Customer => self.customer,
        }
    }

    pub(crate) fn slot(&mut self, stage: LifecycleStage) -> &mut Option<OffsetDateTime> {
        match stage {
            LifecycleStage::Lead => &mut self.lead,
            LifecycleStage::Mql => &mut self.mql,
            LifecycleStage::Sql => &mut self.sql,
            LifecycleStage::Customer => &mut self.customer,
        }
    }
}

/// One contact of the marketing base.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub email: Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    /// 0–50 (`lb_store::BEHAVIOUR_SCORE_MAX`).
    pub behaviour_score: i64,
    /// One of the configured states ([`crate::Store::states`]).
    pub state: String,
    pub lifecycle_stage: LifecycleStage,
    pub stage_reached: StageDates,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    /// Custom field name → value in canonical text form (see the module docs).
    pub custom: BTreeMap<String, String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Contact {
    /// The canonical text value of an attribute or custom field (`None`: blank or unknown).
    pub fn value(&self, field: &str) -> Option<String> {
        let Some(attribute) = Attribute::from_name(field) else {
            return self.custom.get(field).cloned();
        };
        match attribute {
            Attribute::Email => Some(self.email.to_string()),
            Attribute::FirstName => self.first_name.clone(),
            Attribute::LastName => self.last_name.clone(),
            Attribute::Company => self.company.clone(),
            Attribute::JobTitle => self.job_title.clone(),
            Attribute::Phone => self.phone.clone(),
            Attribute::BehaviourScore => Some(self.behaviour_score.to_string()),
            Attribute::State => Some(self.state.clone()),
            Attribute::LifecycleStage => Some(self.lifecycle_stage.name().to_owned()),
            Attribute::Source => self.source.clone(),
            Attribute::Medium => self.medium.clone(),
            Attribute::Campaign => self.campaign.clone(),
            Attribute::CreatedAt => Some(crate::time_fmt::rfc3339(self.created_at)),
        }
    }

    /// Every non-blank attribute and custom field, in canonical text form.
    pub fn values(&self) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = Attribute::ALL
            .into_iter()
            .filter_map(|a| self.value(a.name()).map(|v| (a.name().to_owned(), v)))
            .collect();
        out.extend(self.custom.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }
}

/// The type of a custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    Number,
    Date,
    Picklist,
    Boolean,
}

impl FieldKind {
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Number => "number",
            FieldKind::Date => "date",
            FieldKind::Picklist => "picklist",
            FieldKind::Boolean => "boolean",
        }
    }

    pub fn parse(raw: &str) -> Option<FieldKind> {
        [
            FieldKind::Text,
            FieldKind::Number,
            FieldKind::Date,
            FieldKind::Picklist,
            FieldKind::Boolean,
        ]
        .into_iter()
        .find(|k| k.name() == raw)
    }
}

/// A custom field definition. Fields are only ever added (R-MAP-4: a new one appears last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomField {
    pub id: i64,
    /// The key in CSV columns and JSON: `[a-z][a-z0-9_]*`, never a standard attribute's name.
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    /// Allowed values of a picklist (empty for the other kinds).
    pub options: Vec<String>,
    pub created_at: OffsetDateTime,
}

/// What is needed to add a custom field.
#[derive(Debug, Clone)]
pub struct NewCustomField {
    pub name: String,
    /// Defaults to the name when `None`.
    pub label: Option<String>,
    pub kind: FieldKind,
    pub options: Vec<String>,
}

/// One recorded change of one field of one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// Position in the change log: strictly increasing in commit order (the cursor).
    pub seq: i64,
    pub contact_id: ContactId,
    /// An attribute or custom field name, or [`DELETED_FIELD`] when the contact was deleted.
    pub field: String,
    /// The new value in canonical text form (`None`: cleared).
    pub value: Option<String>,
    pub origin: Origin,
    pub changed_at: OffsetDateTime,
}

/// The pseudo-field recorded when a contact is deleted.
pub const DELETED_FIELD: &str = "_deleted";

/// When and by whom a field last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastChange {
    pub changed_at: OffsetDateTime,
    pub origin: Origin,
}

/// A position in the change log; `ChangeCursor::START` (the default) reads from the beginning.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ChangeCursor(pub i64);

impl ChangeCursor {
    pub const START: ChangeCursor = ChangeCursor(0);
}

/// Filters and keyset pagination for listing contacts (ordered by id).
#[derive(Debug, Clone, Default)]
pub struct ContactQuery {
    /// Case-insensitive substring of email, first name, last name or company.
    pub search: Option<String>,
    pub state: Option<String>,
    pub lifecycle_stage: Option<LifecycleStage>,
    /// Return contacts with an id greater than this one (the previous page's `next`).
    pub after: Option<ContactId>,
    /// Page size; clamped to 1..=1000, default 50.
    pub limit: Option<u32>,
}

/// One page of contacts; `next` is the `after` of the following page, `None` on the last one.
#[derive(Debug, Clone)]
pub struct ContactPage {
    pub contacts: Vec<Contact>,
    pub next: Option<ContactId>,
}

/// A form: its inputs mapped to contact attributes or custom fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub id: i64,
    pub name: String,
    /// Input name → attribute or custom field name. One input maps to `email`.
    pub mapping: BTreeMap<String, String>,
    /// Points added to `behaviour_score` by each submission (capped at 50).
    pub score_increment: i64,
    /// Where a browser posting the form as plain HTML goes afterwards (an http/https URL);
    /// `None`: the web app's own thank-you page.
    pub redirect_url: Option<String>,
    pub created_at: OffsetDateTime,
}

/// What is needed to create a form.
#[derive(Debug, Clone)]
pub struct NewForm {
    pub name: String,
    pub mapping: BTreeMap<String, String>,
    /// Defaults to [`crate::DEFAULT_SCORE_INCREMENT`].
    pub score_increment: Option<i64>,
}

/// A recorded form submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub id: i64,
    pub form_id: i64,
    pub contact_id: ContactId,
    /// True when the submission created the contact.
    pub created_contact: bool,
    /// The inputs exactly as submitted (input name → value), mapped or not.
    pub payload: BTreeMap<String, String>,
    pub submitted_at: OffsetDateTime,
}

/// The result of accepting a form submission.
#[derive(Debug, Clone)]
pub struct SubmissionOutcome {
    pub submission: Submission,
    pub contact: Contact,
}

/// An API key as listed (the token itself is only shown once, at creation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The token's first characters, to recognise a key in a list.
    pub prefix: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Something that happened to the contact base, broadcast after the transaction committed.
/// The sync subscribes to it (R-SYNC-4: a sync right after every form submission). A receiver
/// that lags (`RecvError::Lagged`) must fall back to [`crate::Store::changes_since`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactEvent {
    /// A form submission created or updated this contact.
    FormSubmitted {
        form_id: i64,
        submission_id: i64,
        contact_id: ContactId,
    },
    /// Fields of this contact changed (created or updated), except through a form.
    Changed {
        contact_id: ContactId,
        origin: Origin,
    },
    Deleted {
        contact_id: ContactId,
    },
}
