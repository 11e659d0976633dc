//! The JSON shapes of the API. Keys are the attribute names of the issue; times are RFC 3339
//! UTC strings; custom fields appear under `custom` with JSON types matching their kind.

use std::collections::BTreeMap;

use lb_store::{Contact, CustomField, FieldChange, FieldKind, Form, Schema, Submission, rfc3339};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// A contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactOut {
    pub id: i64,
    /// The contact's page (the target of Salesforce's `plezi_url`).
    pub url: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    /// 0–50.
    pub behaviour_score: i64,
    pub state: String,
    /// lead, mql, sql or customer.
    pub lifecycle_stage: String,
    /// When each lifecycle stage was first reached.
    pub stage_reached: StageReachedOut,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    /// Custom field name → value (string, number, `YYYY-MM-DD` date or boolean by kind).
    #[schema(value_type = Object)]
    pub custom: BTreeMap<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StageReachedOut {
    pub lead: Option<String>,
    pub mql: Option<String>,
    pub sql: Option<String>,
    pub customer: Option<String>,
}

impl ContactOut {
    pub fn new(c: Contact, schema: &Schema, base_url: &str) -> ContactOut {
        let custom = c
            .custom
            .iter()
            .map(|(name, text)| {
                let kind = schema
                    .fields
                    .iter()
                    .find(|f| &f.name == name)
                    .map(|f| f.kind);
                (name.clone(), typed(kind, text))
            })
            .collect();
        let s = &c.stage_reached;
        ContactOut {
            id: c.id.0,
            url: format!("{base_url}/contacts/{}", c.id),
            email: c.email.to_string(),
            behaviour_score: c.behaviour_score,
            lifecycle_stage: c.lifecycle_stage.name().to_owned(),
            stage_reached: StageReachedOut {
                lead: s.lead.map(rfc3339),
                mql: s.mql.map(rfc3339),
                sql: s.sql.map(rfc3339),
                customer: s.customer.map(rfc3339),
            },
            custom,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            first_name: c.first_name,
            last_name: c.last_name,
            company: c.company,
            job_title: c.job_title,
            phone: c.phone,
            state: c.state,
            source: c.source,
            medium: c.medium,
            campaign: c.campaign,
        }
    }
}

fn typed(kind: Option<FieldKind>, text: &str) -> Value {
    match kind {
        Some(FieldKind::Number) => text
            .parse::<f64>()
            .ok()
            .and_then(|n| {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    Some(Value::from(n as i64))
                } else {
                    serde_json::Number::from_f64(n).map(Value::Number)
                }
            })
            .unwrap_or_else(|| Value::String(text.to_owned())),
        Some(FieldKind::Boolean) => Value::Bool(text == "true"),
        _ => Value::String(text.to_owned()),
    }
}

/// The fields of a contact to create or change. Every key is optional on PATCH; `null` or ""
/// clears a field. Custom fields go at the top level under their names, or grouped under
/// `custom` as a contact is read.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // Documentation only: handlers read a JSON object to tell null from absent.
pub struct ContactIn {
    /// Required on create.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    /// 0–50.
    pub behaviour_score: Option<i64>,
    /// One of the configured states (`GET /api/v1/states`).
    pub state: Option<String>,
    /// lead, mql, sql or customer.
    pub lifecycle_stage: Option<String>,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    /// RFC 3339 or YYYY-MM-DD; taken into account on creation only.
    pub created_at: Option<String>,
    /// Custom fields by name (as in a contact read back); they may also be given at the top
    /// level.
    #[schema(value_type = Option<Object>)]
    pub custom: Option<BTreeMap<String, Value>>,
}

/// A page of contacts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactPageOut {
    pub contacts: Vec<ContactOut>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

/// Listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactListParams {
    /// Case-insensitive substring of email, first name, last name or company.
    pub q: Option<String>,
    pub state: Option<String>,
    pub lifecycle_stage: Option<String>,
    /// The `next` of the previous page.
    pub after: Option<i64>,
    /// 1–1000, default 50.
    pub limit: Option<u32>,
}

/// One recorded change of one field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    pub seq: i64,
    pub field: String,
    pub value: Option<String>,
    /// user, form, api, import or sync.
    pub origin: String,
    pub changed_at: String,
}

impl From<FieldChange> for ChangeOut {
    fn from(c: FieldChange) -> ChangeOut {
        ChangeOut {
            seq: c.seq,
            field: c.field,
            value: c.value,
            origin: c.origin.name().to_owned(),
            changed_at: rfc3339(c.changed_at),
        }
    }
}

/// A custom field definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomFieldOut {
    pub id: i64,
    pub name: String,
    pub label: String,
    /// text, number, date, picklist or boolean.
    pub kind: String,
    pub options: Vec<String>,
    pub created_at: String,
}

impl From<CustomField> for CustomFieldOut {
    fn from(f: CustomField) -> CustomFieldOut {
        CustomFieldOut {
            id: f.id,
            kind: f.kind.name().to_owned(),
            name: f.name,
            label: f.label,
            options: f.options,
            created_at: rfc3339(f.created_at),
        }
    }
}

/// A new custom field.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CustomFieldIn {
    /// `[a-z][a-z0-9_]*`, at most 40 characters, not a standard attribute.
    pub name: String,
    pub label: Option<String>,
    /// text, number, date, picklist or boolean.
    pub kind: String,
    /// The allowed values of a picklist.
    #[serde(default)]
    pub options: Vec<String>,
}

/// The configured states, in order (new contacts get the first).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatesOut {
    pub states: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StateIn {
    pub name: String,
}

/// A form.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormOut {
    pub id: i64,
    pub name: String,
    /// Input name → attribute or custom field name.
    pub mapping: BTreeMap<String, String>,
    /// Points each submission adds to behaviour_score (capped at 50).
    pub score_increment: i64,
    /// Where the form posts its submissions (no API key needed).
    pub submission_url: String,
    /// Where a browser posting the form as plain HTML is sent afterwards (303 See Other);
    /// null: the app's thank-you page (`/forms/{id}/thanks`).
    pub redirect_url: Option<String>,
    pub created_at: String,
}

impl FormOut {
    pub fn new(f: Form, base_url: &str) -> FormOut {
        FormOut {
            submission_url: format!("{base_url}/api/v1/forms/{}/submissions", f.id),
            id: f.id,
            name: f.name,
            mapping: f.mapping,
            score_increment: f.score_increment,
            redirect_url: f.redirect_url,
            created_at: rfc3339(f.created_at),
        }
    }
}

/// A new form.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FormIn {
    pub name: String,
    /// Input name → attribute or custom field name; one input must map to `email`.
    pub mapping: BTreeMap<String, String>,
    /// 0–50, default 5.
    pub score_increment: Option<i64>,
    /// An http or https URL a browser posting the form as plain HTML is sent to afterwards;
    /// absent or null: the app's thank-you page.
    #[serde(default)]
    pub redirect_url: Option<String>,
}

/// A recorded submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionOut {
    pub id: i64,
    pub form_id: i64,
    pub contact_id: i64,
    /// True when this submission created the contact.
    pub created_contact: bool,
    /// The inputs as submitted.
    pub payload: BTreeMap<String, String>,
    pub submitted_at: String,
}

impl From<Submission> for SubmissionOut {
    fn from(s: Submission) -> SubmissionOut {
        SubmissionOut {
            id: s.id,
            form_id: s.form_id,
            contact_id: s.contact_id.0,
            created_contact: s.created_contact,
            payload: s.payload,
            submitted_at: rfc3339(s.submitted_at),
        }
    }
}

/// Listing parameters for submissions (newest first).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubmissionListParams {
    /// Submissions older than this id (the last id of the previous page).
    pub before: Option<i64>,
    /// 1–1000, default 50.
    pub limit: Option<u32>,
}

/// The answer to a form submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionAccepted {
    pub submission_id: i64,
    pub contact_id: i64,
    pub created_contact: bool,
    pub behaviour_score: i64,
}
