//! Turning raw input (API JSON, form inputs, CSV cells, CLI flags) into a checked [`Patch`], and
//! applying a patch to a contact.
//!
//! Invariants: validation collects every problem of a record instead of stopping at the first;
//! a patch that exists only holds valid values (so applying it cannot fail); applying reports
//! exactly the fields whose canonical value changed (the change log records nothing else).

use std::collections::BTreeMap;

use lb_core::contact::Email;
use serde_json::Value;
use time::{Date, OffsetDateTime, format_description::well_known::Rfc3339};

use crate::model::{Attribute, Contact, ContactId, CustomField, FieldKind, LifecycleStage};
use crate::time_fmt;
use crate::write::FieldsJson;
use crate::{BEHAVIOUR_SCORE_MAX, Problem};

/// Longest value of a standard text attribute.
pub const TEXT_MAX_CHARS: usize = 255;
/// Longest value of a custom text field.
pub const CUSTOM_TEXT_MAX_CHARS: usize = 1000;
const PHONE_MAX_CHARS: usize = 40;

/// Raw input for one contact: attribute or custom field name → value. JSON `null` or an empty
/// string clears the field.
pub type ContactInput = serde_json::Map<String, Value>;

/// The configurable parts of the contact model, read from the database.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub states: Vec<String>,
    pub fields: Vec<CustomField>,
}

impl Schema {
    pub(crate) fn default_state(&self) -> String {
        self.states
            .first()
            .cloned()
            .unwrap_or_else(|| "new".to_owned())
    }

    fn field(&self, name: &str) -> Option<&CustomField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Every column name an import accepts, standard attributes first.
    pub fn column_names(&self) -> Vec<String> {
        Attribute::ALL
            .iter()
            .map(|a| a.name().to_owned())
            .chain(self.fields.iter().map(|f| f.name.clone()))
            .collect()
    }

    pub(crate) fn is_known(&self, name: &str) -> bool {
        Attribute::from_name(name).is_some() || self.field(name).is_some()
    }
}

/// A checked set of changes to one contact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patch {
    pub(crate) email: Option<Email>,
    pub(crate) first_name: Option<Option<String>>,
    pub(crate) last_name: Option<Option<String>>,
    pub(crate) company: Option<Option<String>>,
    pub(crate) job_title: Option<Option<String>>,
    pub(crate) phone: Option<Option<String>>,
    pub(crate) behaviour_score: Option<i64>,
    pub(crate) state: Option<String>,
    pub(crate) lifecycle_stage: Option<LifecycleStage>,
    pub(crate) source: Option<Option<String>>,
    pub(crate) medium: Option<Option<String>>,
    pub(crate) campaign: Option<Option<String>>,
    pub(crate) created_at: Option<OffsetDateTime>,
    pub(crate) custom: BTreeMap<String, Option<String>>,
}

impl Patch {
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }
}

/// How empty strings are read: from a JSON body an empty string clears the field; in a CSV row
/// or a form an empty cell means "no value given" and leaves the field as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blank {
    Clears,
    Ignored,
}

/// The key under which a contact's custom fields are read (and may be written).
const CUSTOM_GROUP: &str = "custom";

/// Checks raw input against the schema; every problem is reported. Custom fields are given at
/// the top level or grouped under `custom`.
pub fn parse_input(
    input: &ContactInput,
    schema: &Schema,
    blank: Blank,
) -> Result<Patch, Vec<Problem>> {
    let mut patch = Patch::default();
    let mut problems = Vec::new();
    let mut one = |name: &str, value: &Value, problems: &mut Vec<Problem>| {
        let text = match value_text(value) {
            Ok(t) => t,
            Err(message) => {
                problems.push(Problem::new(name, message));
                return;
            }
        };
        let text = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if text.is_none() && blank == Blank::Ignored {
            if !schema.is_known(name) {
                problems.push(unknown_field(name));
            }
            return;
        }
        if let Err(message) = set_field(&mut patch, schema, name, text) {
            problems.push(message);
        }
    };
    for (name, value) in input {
        // Custom fields may also come grouped under `custom`, the shape a contact is read in,
        // so what a client read can be written back.
        if let (CUSTOM_GROUP, Value::Object(fields)) = (name.as_str(), value) {
            for (field, value) in fields {
                if Attribute::from_name(field).is_some() {
                    problems.push(Problem::new(
                        &format!("{CUSTOM_GROUP}.{field}"),
                        format!("{field} is not a custom field: give it at the top level"),
                    ));
                } else {
                    one(field, value, &mut problems);
                }
            }
            continue;
        }
        one(name, value, &mut problems);
    }
    if problems.is_empty() {
        Ok(patch)
    } else {
        Err(problems)
    }
}

/// The import's fast path: (column, cell) pairs of one CSV row, empty cells ignored. Same rules
/// as [`parse_input`] with [`Blank::Ignored`], without building a JSON map per row.
pub(crate) fn parse_cells<'a>(
    cells: impl Iterator<Item = (&'a str, &'a str)>,
    schema: &Schema,
) -> Result<Patch, Vec<Problem>> {
    let mut patch = Patch::default();
    let mut problems = Vec::new();
    for (name, cell) in cells {
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        if let Err(problem) = set_field(&mut patch, schema, name, Some(cell.to_owned())) {
            problems.push(problem);
        }
    }
    if problems.is_empty() {
        Ok(patch)
    } else {
        Err(problems)
    }
}

fn unknown_field(name: &str) -> Problem {
    Problem::new(name, "unknown field".to_owned())
}

/// JSON scalars are accepted as text (the CSV and form paths only have text).
fn value_text(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Array(_) | Value::Object(_) => Err("expected a string, number or boolean".into()),
    }
}

fn set_field(
    patch: &mut Patch,
    schema: &Schema,
    name: &str,
    text: Option<String>,
) -> Result<(), Problem> {
    let problem = |message: String| Problem::new(name, message);
    // PostgreSQL cannot store a NUL character in text (and SQLite would cut C strings at it):
    // refused here, for this value, on every path and both backends alike.
    if text.as_deref().is_some_and(|t| t.contains('\0')) {
        return Err(problem(
            "contains a NUL character (\\0), which cannot be stored".into(),
        ));
    }
    let Some(attribute) = Attribute::from_name(name) else {
        let Some(field) = schema.field(name) else {
            return Err(unknown_field(name));
        };
        let value = match text {
            None => None,
            Some(t) => Some(canonical_custom(field, &t).map_err(problem)?),
        };
        patch.custom.insert(name.to_owned(), value);
        return Ok(());
    };
    let text_value = |max: usize| -> Result<Option<String>, Problem> {
        match &text {
            Some(t) if t.chars().count() > max => {
                Err(problem(format!("is longer than {max} characters")))
            }
            other => Ok(other.clone()),
        }
    };
    match attribute {
        Attribute::Email => {
            let raw = text.ok_or_else(|| problem("is required".into()))?;
            patch.email = Some(Email::parse(&raw).map_err(|e| problem(e.to_string()))?);
        }
        Attribute::FirstName => patch.first_name = Some(text_value(TEXT_MAX_CHARS)?),
        Attribute::LastName => patch.last_name = Some(text_value(TEXT_MAX_CHARS)?),
        Attribute::Company => patch.company = Some(text_value(TEXT_MAX_CHARS)?),
        Attribute::JobTitle => patch.job_title = Some(text_value(TEXT_MAX_CHARS)?),
        Attribute::Source => patch.source = Some(text_value(TEXT_MAX_CHARS)?),
        Attribute::Medium => patch.medium = Some(text_value(TEXT_MAX_CHARS)?),
        Attribute::Campaign => patch.campaign = Some(text_value(TEXT_MAX_CHARS)?),
        Attribute::Phone => {
            let phone = text_value(PHONE_MAX_CHARS)?;
            if let Some(p) = &phone {
                let ok = p.chars().any(|c| c.is_ascii_digit())
                    && p.chars()
                        .all(|c| c.is_ascii_digit() || " +-().x/".contains(c));
                if !ok {
                    return Err(problem(format!("'{p}' is not a phone number")));
                }
            }
            patch.phone = Some(phone);
        }
        Attribute::BehaviourScore => {
            let raw =
                text.ok_or_else(|| problem("cannot be blank (0 is the lowest score)".into()))?;
            let score = raw
                .parse::<i64>()
                .ok()
                .filter(|s| (0..=BEHAVIOUR_SCORE_MAX).contains(s))
                .ok_or_else(|| {
                    problem(format!(
                        "'{raw}' is not a whole number between 0 and {BEHAVIOUR_SCORE_MAX}"
                    ))
                })?;
            patch.behaviour_score = Some(score);
        }
        Attribute::State => {
            let raw = text.ok_or_else(|| problem("cannot be blank".into()))?;
            let state = schema
                .states
                .iter()
                .find(|s| s.eq_ignore_ascii_case(&raw))
                .ok_or_else(|| {
                    problem(format!(
                        "'{raw}' is not a configured state (one of: {})",
                        schema.states.join(", ")
                    ))
                })?;
            patch.state = Some(state.clone());
        }
        Attribute::LifecycleStage => {
            let raw = text.ok_or_else(|| problem("cannot be blank".into()))?;
            patch.lifecycle_stage = Some(LifecycleStage::parse(&raw).ok_or_else(|| {
                problem(format!("'{raw}' is not one of: lead, mql, sql, customer"))
            })?);
        }
        Attribute::CreatedAt => {
            let raw = text.ok_or_else(|| problem("cannot be blank".into()))?;
            patch.created_at = Some(parse_datetime(&raw).ok_or_else(|| {
                problem(format!(
                    "'{raw}' is not an RFC 3339 date-time or a YYYY-MM-DD date"
                ))
            })?);
        }
    }
    Ok(())
}

fn parse_datetime(raw: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        // Stored in microseconds: truncate now so that what is returned equals what is read.
        return Some(time_fmt::from_micros(time_fmt::to_micros(t)));
    }
    parse_date(raw).map(|d| d.midnight().assume_utc())
}

fn parse_date(raw: &str) -> Option<Date> {
    Date::parse(raw, time_fmt::DATE).ok()
}

/// The canonical text of a custom field's value, or why it does not fit the field.
fn canonical_custom(field: &CustomField, raw: &str) -> Result<String, String> {
    match field.kind {
        FieldKind::Text => {
            if raw.chars().count() > CUSTOM_TEXT_MAX_CHARS {
                Err(format!("is longer than {CUSTOM_TEXT_MAX_CHARS} characters"))
            } else {
                Ok(raw.to_owned())
            }
        }
        FieldKind::Number => match raw.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(canonical_number(n)),
            _ => Err(format!("'{raw}' is not a number")),
        },
        FieldKind::Date => parse_date(raw)
            .map(time_fmt::date)
            .ok_or_else(|| format!("'{raw}' is not a date (YYYY-MM-DD)")),
        FieldKind::Boolean => match raw.to_ascii_lowercase().as_str() {
            "true" | "yes" | "oui" | "1" => Ok("true".into()),
            "false" | "no" | "non" | "0" => Ok("false".into()),
            _ => Err(format!("'{raw}' is not a boolean (true/false, yes/no)")),
        },
        FieldKind::Picklist => field
            .options
            .iter()
            .find(|o| o.eq_ignore_ascii_case(raw))
            .cloned()
            .ok_or_else(|| format!("'{raw}' is not one of: {}", field.options.join(", "))),
    }
}

/// Plain decimal, no exponent, no trailing `.0` (the core's canonical number form).
pub(crate) fn canonical_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// One field whose canonical value changed: (field name, new value).
pub(crate) type Change = (String, Option<String>);

/// A contact that does not exist yet: the starting point a patch is applied to.
pub(crate) fn blank_contact(email: Email, schema: &Schema, now: OffsetDateTime) -> Contact {
    Contact {
        id: ContactId(0),
        email,
        first_name: None,
        last_name: None,
        company: None,
        job_title: None,
        phone: None,
        behaviour_score: 0,
        state: schema.default_state(),
        lifecycle_stage: LifecycleStage::Lead,
        stage_reached: Default::default(),
        source: None,
        medium: None,
        campaign: None,
        custom: BTreeMap::new(),
        created_at: now,
        updated_at: now,
    }
}

/// How a patch treats fields that already hold a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Apply {
    /// Every value of the patch is written.
    Overwrite,
    /// Form submissions: `source`, `medium` and `campaign` keep their first value (first-touch
    /// attribution); other fields are written.
    FirstTouch,
}

/// Applies a patch, writing the fields whose canonical value changed to `log` (the change log's
/// object, see `write.rs`). For a new contact (`is_new`), every non-blank field is reported as
/// changed and `created_at` may be set; for an existing one `created_at` is left alone (it is
/// set once). The patch's values move into the contact (no copy).
pub(crate) fn apply(
    contact: &mut Contact,
    patch: Patch,
    is_new: bool,
    mode: Apply,
    now: OffsetDateTime,
    log: &mut FieldsJson<'_>,
) {
    if is_new && let Some(t) = patch.created_at {
        contact.created_at = t;
    }
    let stage_time = if is_new { contact.created_at } else { now };
    if let Some(email) = patch.email
        && (email != contact.email || is_new)
    {
        log.field("email", Some(email.as_str()));
        contact.email = email;
    }
    let mut text =
        |name: &str, slot: &mut Option<String>, new: Option<Option<String>>, keep: bool| {
            if let Some(new) = new {
                if keep && slot.is_some() {
                    return;
                }
                if *slot != new {
                    log.field(name, new.as_deref());
                    *slot = new;
                }
            }
        };
    let first_touch = mode == Apply::FirstTouch;
    text(
        "first_name",
        &mut contact.first_name,
        patch.first_name,
        false,
    );
    text("last_name", &mut contact.last_name, patch.last_name, false);
    text("company", &mut contact.company, patch.company, false);
    text("job_title", &mut contact.job_title, patch.job_title, false);
    text("phone", &mut contact.phone, patch.phone, false);
    text("source", &mut contact.source, patch.source, first_touch);
    text("medium", &mut contact.medium, patch.medium, first_touch);
    text(
        "campaign",
        &mut contact.campaign,
        patch.campaign,
        first_touch,
    );
    if let Some(score) = patch.behaviour_score
        && score != contact.behaviour_score
    {
        contact.behaviour_score = score;
        if !is_new {
            log.field_int("behaviour_score", score);
        }
    }
    if let Some(state) = patch.state
        && state != contact.state
    {
        if !is_new {
            log.field("state", Some(&state));
        }
        contact.state = state;
    }
    if let Some(stage) = patch.lifecycle_stage
        && stage != contact.lifecycle_stage
    {
        contact.lifecycle_stage = stage;
        if !is_new {
            log.field("lifecycle_stage", Some(stage.name()));
        }
    }
    let stage = contact.lifecycle_stage;
    let slot = contact.stage_reached.slot(stage);
    if slot.is_none() {
        *slot = Some(stage_time);
    }
    for (name, value) in patch.custom {
        let current = contact.custom.get(&name);
        if current != value.as_ref() {
            if !(is_new && value.is_none()) {
                log.field(&name, value.as_deref());
            }
            match value {
                Some(v) => contact.custom.insert(name, v),
                None => contact.custom.remove(&name),
            };
        }
    }
    if is_new {
        // A new contact's always-present fields are part of its first recorded state.
        log.field_int("behaviour_score", contact.behaviour_score);
        log.field("state", Some(&contact.state));
        log.field("lifecycle_stage", Some(stage.name()));
        log.field_time("created_at", contact.created_at);
    }
}
