//! Translation at the edges: Salesforce JSON records and our store's contacts into the core's
//! snapshots (values as canonical strings, see `lb_core::model`), and the core's writes back
//! into Salesforce JSON and store input.

use std::collections::BTreeMap;

use lb_core::{OrgRecord, OurContact, SObject, WrittenValue};
use lb_salesforce::Record;
use lb_store::{Contact, ContactId, ContactInput};
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
        is_converted: match record.get("IsConverted") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        },
        converted_contact_id: record
            .get("ConvertedContactId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        fields,
    })
}

/// A Bulk API 2.0 query row (every value a string, blanks null) typed as a REST query page
/// would have it, by the describe: numbers and booleans are JSON numbers and booleans there,
/// so a record reads alike through either API (incremental runs read through REST, full ones
/// through Bulk: the same values, the same plan).
pub(crate) fn typed_bulk_record(
    mut record: Record,
    object: SObject,
    conn: &ConnectionSettings,
) -> Record {
    for (name, value) in record.iter_mut() {
        let Value::String(text) = value else {
            continue;
        };
        let typed = match (name.as_str(), conn.field_type(object, name)) {
            ("IsConverted", _) | (_, Some("boolean")) => match text.to_ascii_lowercase().as_str() {
                "true" | "1" => Some(Value::Bool(true)),
                "false" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            (_, Some("double" | "int" | "currency" | "percent")) => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            _ => None,
        };
        if let Some(t) = typed {
            *value = t;
        }
    }
    record
}

/// The contact's page in our app (`page_url`, sent to the Lead's `plezi_url`, R-FIELD-1).
pub(crate) fn page_url(app_base_url: &str, id: ContactId) -> String {
    format!("{}/contacts/{id}", app_base_url.trim_end_matches('/'))
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
    values.insert(PAGE_URL.into(), page_url(app_base_url, contact.id));
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
    fn bulk_rows_read_like_rest_records() {
        let conn: ConnectionSettings = serde_json::from_value(serde_json::json!({
            "grant": "password",
            "login_url": "https://login.example.com",
            "instance_url": "https://x.example.com",
            "client_id": "c",
            "username": "u",
            "saved_at": "2026-01-01T00:00:00Z",
            "credentials_version": 1,
            "org": null,
            "field_types": {"Lead.AnnualRevenue": "currency", "Lead.DoNotCall": "boolean"},
        }))
        .expect("fixture");
        let row: Record = serde_json::from_value(serde_json::json!({
            "Id": "00Q1", "IsConverted": "true", "Email": "a@b.c",
            "SystemModstamp": "2026-01-02T03:04:05.000Z",
            "AnnualRevenue": "5.0", "DoNotCall": "false", "Phone": null,
        }))
        .unwrap();
        let rec = org_record(SObject::Lead, &typed_bulk_record(row, SObject::Lead, &conn)).unwrap();
        assert!(rec.is_converted);
        assert_eq!(
            lb_store::rfc3339(rec.system_modstamp),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(rec.fields["Email"], "a@b.c");
        assert_eq!(
            rec.fields["AnnualRevenue"], "5",
            "as a REST number would read"
        );
        assert_eq!(rec.fields["DoNotCall"], "false");
        assert!(!rec.fields.contains_key("Phone"));
    }

    #[test]
    fn org_numbers_read_as_plain_decimals() {
        assert_eq!(text_of(&serde_json::json!(5.0)), Some("5".into()));
        assert_eq!(text_of(&serde_json::json!(5.5)), Some("5.5".into()));
        assert_eq!(text_of(&serde_json::json!("")), None);
    }
}
