//! Database rows and their conversion to the public records. Shared by both backends: the
//! derived `FromRow` is generic over the database.

use std::collections::BTreeMap;

use lb_core::contact::Email;

use crate::StoreError;
use crate::model::{
    ApiKey, Contact, ContactId, CustomField, FieldChange, FieldKind, Form, LifecycleStage, Origin,
    StageDates, Submission,
};
use crate::time_fmt::from_micros;

/// The column list matching [`ContactRow`], as a literal so queries stay `&'static str`.
macro_rules! contact_columns {
    () => {
        "id, email, first_name, last_name, company, job_title, phone, behaviour_score, state, \
         lifecycle_stage, lead_at, mql_at, sql_at, customer_at, source, medium, campaign, custom, \
         created_at, updated_at"
    };
}
pub(crate) use contact_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct ContactRow {
    id: i64,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    job_title: Option<String>,
    phone: Option<String>,
    behaviour_score: i64,
    state: String,
    lifecycle_stage: String,
    lead_at: Option<i64>,
    mql_at: Option<i64>,
    sql_at: Option<i64>,
    customer_at: Option<i64>,
    source: Option<String>,
    medium: Option<String>,
    campaign: Option<String>,
    custom: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ContactRow> for Contact {
    type Error = StoreError;

    fn try_from(row: ContactRow) -> Result<Contact, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("contact {}: {what}", row.id));
        let email = Email::parse(&row.email).map_err(|_| corrupt("invalid email"))?;
        let lifecycle_stage = LifecycleStage::parse(&row.lifecycle_stage)
            .ok_or_else(|| corrupt("lifecycle stage"))?;
        let custom: BTreeMap<String, String> =
            serde_json::from_str(&row.custom).map_err(|_| corrupt("custom fields"))?;
        Ok(Contact {
            id: ContactId(row.id),
            email,
            first_name: row.first_name,
            last_name: row.last_name,
            company: row.company,
            job_title: row.job_title,
            phone: row.phone,
            behaviour_score: row.behaviour_score,
            state: row.state,
            lifecycle_stage,
            stage_reached: StageDates {
                lead: row.lead_at.map(from_micros),
                mql: row.mql_at.map(from_micros),
                sql: row.sql_at.map(from_micros),
                customer: row.customer_at.map(from_micros),
            },
            source: row.source,
            medium: row.medium,
            campaign: row.campaign,
            custom,
            created_at: from_micros(row.created_at),
            updated_at: from_micros(row.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CustomFieldRow {
    id: i64,
    name: String,
    label: String,
    kind: String,
    options: String,
    created_at: i64,
}

impl TryFrom<CustomFieldRow> for CustomField {
    type Error = StoreError;

    fn try_from(row: CustomFieldRow) -> Result<CustomField, StoreError> {
        let corrupt = || StoreError::Corrupt(format!("custom field {}", row.name));
        Ok(CustomField {
            id: row.id,
            kind: FieldKind::parse(&row.kind).ok_or_else(corrupt)?,
            options: serde_json::from_str(&row.options).map_err(|_| corrupt())?,
            name: row.name,
            label: row.label,
            created_at: from_micros(row.created_at),
        })
    }
}

/// A row of `contact_changes`: one write of one contact (see `write.rs`).
#[derive(sqlx::FromRow)]
pub(crate) struct ChangeRow {
    id: i64,
    contact_id: i64,
    origin: String,
    changed_at: i64,
    fields: String,
}

impl ChangeRow {
    /// The write's fields as [`FieldChange`]s, in the order they were applied, sharing its id.
    pub(crate) fn into_changes(self) -> Result<Vec<FieldChange>, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("change {}: {what}", self.id));
        let origin = Origin::parse(&self.origin).ok_or_else(|| corrupt("origin"))?;
        let fields = crate::write::parse_fields(&self.fields).map_err(|_| corrupt("fields"))?;
        let changed_at = from_micros(self.changed_at);
        Ok(fields
            .into_iter()
            .map(|(field, value)| FieldChange {
                seq: self.id,
                contact_id: ContactId(self.contact_id),
                field,
                value,
                origin,
                changed_at,
            })
            .collect())
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct FormRow {
    id: i64,
    name: String,
    mapping: String,
    score_increment: i64,
    redirect_url: Option<String>,
    created_at: i64,
}

impl TryFrom<FormRow> for Form {
    type Error = StoreError;

    fn try_from(row: FormRow) -> Result<Form, StoreError> {
        Ok(Form {
            id: row.id,
            name: row.name,
            mapping: serde_json::from_str(&row.mapping)
                .map_err(|_| StoreError::Corrupt(format!("form {}: mapping", row.id)))?,
            score_increment: row.score_increment,
            redirect_url: row.redirect_url,
            created_at: from_micros(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SubmissionRow {
    id: i64,
    form_id: i64,
    contact_id: i64,
    created: i64,
    payload: String,
    submitted_at: i64,
}

impl TryFrom<SubmissionRow> for Submission {
    type Error = StoreError;

    fn try_from(row: SubmissionRow) -> Result<Submission, StoreError> {
        Ok(Submission {
            id: row.id,
            form_id: row.form_id,
            contact_id: ContactId(row.contact_id),
            created_contact: row.created != 0,
            payload: serde_json::from_str(&row.payload)
                .map_err(|_| StoreError::Corrupt(format!("submission {}: payload", row.id)))?,
            submitted_at: from_micros(row.submitted_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    id: i64,
    name: String,
    prefix: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> ApiKey {
        ApiKey {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            created_at: from_micros(row.created_at),
            last_used_at: row.last_used_at.map(from_micros),
            revoked_at: row.revoked_at.map(from_micros),
        }
    }
}
