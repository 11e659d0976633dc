//! The one way contacts are written, shared by every writer (API, CLI, forms, import, sync):
//! a batch of operations applied in order in one transaction, checked against each other in
//! memory, then written with one statement per kind of row (not one per row). The SQL half is
//! `write_batch.rs`, compiled once per backend; this module holds what both backends share.
//!
//! **The change log.** Each operation that changes a contact appends one row to
//! `contact_changes`: the contact, the origin, the time and the changed fields as a JSON object
//! (field name → new canonical value, `null` when cleared), in the order the fields were
//! applied. The per-field view (`field_changes` in SQL, [`crate::FieldChange`] in Rust) is that
//! object unrolled: every field of one row shares the row's id as its `seq`.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};

use crate::model::{Contact, ContactId};
use crate::validate::{Apply, Change, ContactInput, Patch};

/// One write of [`crate::Store::write_contacts`].
#[derive(Debug, Clone)]
pub enum ContactWrite {
    /// Creates a contact; `email` is required and must not be taken.
    Create(ContactInput),
    /// Changes the given fields of a contact (null or "" clears a field).
    Update(ContactId, ContactInput),
}

/// Which contact an operation writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A new contact (the email must be free).
    Create,
    /// This existing contact.
    Update(ContactId),
    /// The contact with the patch's email, created when there is none.
    Upsert,
}

/// One checked operation of a batch.
#[derive(Debug, Clone)]
pub(crate) struct WriteOp {
    pub(crate) target: Target,
    pub(crate) patch: Patch,
    pub(crate) mode: Apply,
    /// Form submissions: the score becomes the contact's current score (0 for a new contact)
    /// plus this, capped at [`crate::BEHAVIOUR_SCORE_MAX`].
    pub(crate) score_increment: Option<i64>,
}

impl WriteOp {
    pub(crate) fn new(target: Target, patch: Patch) -> WriteOp {
        WriteOp {
            target,
            patch,
            mode: Apply::Overwrite,
            score_increment: None,
        }
    }
}

/// What one operation did.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    /// The contact as this operation left it.
    pub(crate) contact: Contact,
    pub(crate) created: bool,
    /// False when every value was already the stored one (nothing was recorded).
    pub(crate) changed: bool,
}

/// The `fields` column of a change-log row: a JSON object in the order of `changes`.
pub(crate) fn fields_json(changes: &[Change]) -> String {
    let mut out = String::with_capacity(16 + changes.len() * 32);
    push_fields_json(&mut out, changes);
    out
}

/// [`fields_json`] appended to `out`.
fn push_fields_json(out: &mut String, changes: &[Change]) {
    let mut log = ChangeLogText {
        text: std::mem::take(out),
        time: None,
    };
    let mut fields = FieldsJson::start(&mut log);
    for (field, value) in changes {
        fields.field(field, value.as_deref());
    }
    if fields.finish().is_none() {
        log.text.push_str("{}");
    }
    *out = log.text;
}

/// The change-log objects of a batch, one after another (see [`FieldsJson`]).
#[derive(Debug, Default)]
pub(crate) struct ChangeLogText {
    pub(crate) text: String,
    /// The last time written and its text: a batch's new contacts share their creation time.
    time: Option<(time::OffsetDateTime, String)>,
}

impl ChangeLogText {
    pub(crate) fn with_capacity(bytes: usize) -> ChangeLogText {
        ChangeLogText {
            text: String::with_capacity(bytes),
            time: None,
        }
    }
}

/// One change-log `fields` object being written at the end of a buffer, field by field as a
/// write applies them: the batch writer writes every row's object into one buffer, so the log
/// costs no allocation per field (nor per row). Same text as [`fields_json`].
pub(crate) struct FieldsJson<'a> {
    log: &'a mut ChangeLogText,
    start: usize,
    fields: usize,
}

impl<'a> FieldsJson<'a> {
    pub(crate) fn start(log: &'a mut ChangeLogText) -> FieldsJson<'a> {
        let start = log.text.len();
        log.text.push('{');
        FieldsJson {
            log,
            start,
            fields: 0,
        }
    }

    fn key(&mut self, name: &str) {
        if self.fields > 0 {
            self.log.text.push(',');
        }
        self.fields += 1;
        push_json_string(&mut self.log.text, name);
        self.log.text.push(':');
    }

    /// A field changed to `value` (`None`: cleared).
    pub(crate) fn field(&mut self, name: &str, value: Option<&str>) {
        self.key(name);
        match value {
            Some(v) => push_json_string(&mut self.log.text, v),
            None => self.log.text.push_str("null"),
        }
    }

    /// A field changed to this number's text (a JSON string, as every value).
    pub(crate) fn field_int(&mut self, name: &str, value: i64) {
        use std::fmt::Write as _;
        self.key(name);
        // Writing to a String cannot fail.
        let _ = write!(self.log.text, "\"{value}\"");
    }

    /// A field changed to this time, as RFC 3339 text ([`crate::time_fmt::rfc3339`]).
    pub(crate) fn field_time(&mut self, name: &str, value: time::OffsetDateTime) {
        self.key(name);
        let log = &mut *self.log;
        if log.time.as_ref().is_none_or(|(t, _)| *t != value) {
            log.time = Some((value, crate::time_fmt::rfc3339(value)));
        }
        if let Some((_, text)) = &log.time {
            push_json_string(&mut log.text, text);
        }
    }

    /// Closes the object: where it is in the buffer, or `None` (and nothing left in the
    /// buffer) when no field changed.
    pub(crate) fn finish(self) -> Option<std::ops::Range<usize>> {
        if self.fields == 0 {
            self.log.text.truncate(self.start);
            return None;
        }
        self.log.text.push('}');
        Some(self.start..self.log.text.len())
    }
}

pub(crate) fn push_json_string(out: &mut String, s: &str) {
    // serde_json's escaping (the same text as `serde_json::to_string`), written in place.
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        plain = i + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

/// Reads a `fields` column back, keeping the object's order.
pub(crate) fn parse_fields(json: &str) -> Result<Vec<Change>, serde_json::Error> {
    struct Ordered(Vec<Change>);
    impl<'de> serde::Deserialize<'de> for Ordered {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Ordered;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object of field names to text or null")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                    let mut out = Vec::with_capacity(map.size_hint().unwrap_or(4));
                    while let Some(entry) = map.next_entry::<String, Option<String>>()? {
                        out.push(entry);
                    }
                    Ok(Ordered(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Ordered>(json).map(|o| o.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_in_order_with_escapes_and_nulls() {
        let changes: Vec<Change> = vec![
            ("email".into(), Some("a@b.c".into())),
            ("company".into(), None),
            ("first_name".into(), Some("Zoë \"Z\" \\ \n\t".into())),
            ("a_custom".into(), Some(String::new())),
        ];
        let json = fields_json(&changes);
        assert_eq!(parse_fields(&json).unwrap(), changes);
        // Plain serde_json reads it too (the SQL views use the database's JSON functions).
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["company"], serde_json::Value::Null);
        assert_eq!(fields_json(&[]), "{}");
        // The same text as serde_json, escape by escape.
        for c in (0u8..0x80)
            .map(char::from)
            .chain(['é', 'ü', '€', '😀', '\u{2028}'])
        {
            let s = format!("a{c}b{c}");
            let mut out = String::new();
            push_json_string(&mut out, &s);
            assert_eq!(out, serde_json::to_string(&s).unwrap(), "{c:?}");
        }
        assert!(parse_fields("[1]").is_err());
    }
}
