//! Translation at the edges: Salesforce JSON records and our store's contacts into the core's
//! snapshots (values as canonical strings, see `lb_core::model`), and the core's writes back
//! into Salesforce JSON and store input.

use std::collections::BTreeMap;

use lb_core::{OrgRecord, OurContact, SObject, WrittenValue};
use lb_salesforce::Record;
use lb_store::{Contact, ContactInput};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::connection::ConnectionSettings;

/// Our attributes computed from the contact rather than stored: only ever sent to the org.
pub(crate) const PAGE_URL: &str = "page_url";
pub(crate) const CREATED_ON: &str = "created_on";

/// Salesforce datetimes: `2026-01-01T00:00:00.000+0000` (no colon in the offset).
pub(crate) fn parse_sf_datetime(raw: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Some(t);
    }
    // Insert the colon RFC 3339 wants in a `+hhmm` offset.
    let (head, tail) = raw.split_at(raw.len().checked_sub(5)?);
    if (tail.starts_with('+') || tail.starts_with('-'))
        && tail[1..].chars().all(|c| c.is_ascii_digit())
    {
        let fixed = format!("{head}{}:{}", &tail[..3], &tail[3..]);
        return OffsetDateTime::parse(&fixed, &Rfc3339).ok();
    }
    None
}

/// SOQL datetime literal (UTC, no quotes).
pub(crate) fn soql_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(canonical_number(&n.to_string())),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// `5.0` → `5`: the org sends doubles for number fields; the core compares text.
fn canonical_number(raw: &str) -> String {
    match raw.strip_suffix(".0") {
        Some(int) if int.chars().all(|c| c.is_ascii_digit() || c == '-') => int.to_owned(),
        _ => raw.to_owned(),
    }
}

/// One org record into the core's snapshot. `None` when the record lacks its system fields.
pub(crate) fn org_record(object: SObject, record: &Record) -> Option<OrgRecord> {
    let id = record.get("Id")?.as_str()?.to_owned();
    let time = |name: &str| {
        record
            .get(name)
            .and_then(Value::as_str)
            .and_then(parse_sf_datetime)
    };
    let system_modstamp = time("SystemModstamp")?;
    let mut fields = BTreeMap::new();
    for (name, value) in record {
        if name == "attributes" {
            continue;
        }
        // Datetimes in canonical RFC 3339 UTC so both sides spell them alike.
        let text = match value.as_str().and_then(|s| {
            (s.len() >= 24 && s.contains('T'))
                .then(|| parse_sf_datetime(s))
                .flatten()
        }) {
            Some(t) => Some(lb_store::rfc3339(t)),
            None => text_of(value),
        };
        if let Some(t) = text {
            fields.insert(name.clone(), t);
        }
    }
    Some(OrgRecord {
        id,
        object,
        last_modified: time("LastModifiedDate").unwrap_or(system_modstamp),
        created: time("CreatedDate").unwrap_or(system_modstamp),
        system_modstamp,
        is_converted: record
            .get("IsConverted")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        converted_contact_id: record
            .get("ConvertedContactId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        fields,
    })
}

/// Our contact into the core's snapshot, with the computed attributes (`page_url`, the
/// contact's page in our app for `plezi_url` (R-FIELD-1), and `created_on`).
pub(crate) fn our_contact(
    contact: &Contact,
    changed_at: Option<&BTreeMap<String, OffsetDateTime>>,
    app_base_url: &str,
) -> OurContact {
    let mut values = contact.values();
    values.remove("email");
    values.insert(
        PAGE_URL.into(),
        format!(
            "{}/contacts/{}",
            app_base_url.trim_end_matches('/'),
            contact.id
        ),
    );
    let d = contact.created_at.date();
    values.insert(
        CREATED_ON.into(),
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
    );
    OurContact {
        id: contact.id.to_string().into(),
        email: Some(contact.email.to_string()),
        values,
        changed_at: changed_at.cloned().unwrap_or_default(),
    }
}

/// A write's values as Salesforce JSON, typed by the describe (numbers and booleans are not
/// strings there).
pub(crate) fn org_fields(
    values: &[WrittenValue],
    object: SObject,
    conn: &ConnectionSettings,
) -> Record {
    let mut out = Record::new();
    for v in values {
        let json = match (&v.value, conn.field_type(object, &v.field)) {
            (None, _) => Value::Null,
            (Some(text), Some("boolean")) => {
                Value::Bool(matches!(text.as_str(), "true" | "yes" | "oui" | "1"))
            }
            (Some(text), Some("double" | "int" | "currency" | "percent")) => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(text.clone())),
            (Some(text), Some("date")) => Value::String(text.chars().take(10).collect()),
            (Some(text), _) => Value::String(text.clone()),
        };
        out.insert(v.field.clone(), json);
    }
    out
}

/// A write's values as store input (computed attributes are never written here).
pub(crate) fn contact_input(values: &[WrittenValue]) -> ContactInput {
    let mut out = ContactInput::new();
    for v in values {
        if v.attribute == PAGE_URL || v.attribute == CREATED_ON {
            continue;
        }
        out.insert(
            v.attribute.clone(),
            v.value.clone().map(Value::String).unwrap_or(Value::Null),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_datetimes_without_offset_colon_parse() {
        let t = parse_sf_datetime("2026-01-02T03:04:05.000+0000").unwrap();
        assert_eq!(lb_store::rfc3339(t), "2026-01-02T03:04:05Z");
        assert_eq!(soql_datetime(t), "2026-01-02T03:04:05Z");
        assert!(parse_sf_datetime("not a date").is_none());
    }

    #[test]
    fn org_numbers_read_as_plain_decimals() {
        assert_eq!(text_of(&serde_json::json!(5.0)), Some("5".into()));
        assert_eq!(text_of(&serde_json::json!(5.5)), Some("5.5".into()));
        assert_eq!(text_of(&serde_json::json!("")), None);
    }
}
