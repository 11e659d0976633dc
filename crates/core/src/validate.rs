//! Validation of a mapping against the org's describe (R-MAP-2, R-MAP-3, R-MAP-5, R-MAP-7,
//! R-SYNC-2).
//!
//! Invariant: validation never stops at the first problem; it returns every problem of every
//! entry, in list order, so the setup screen can show them all at once. Warnings do not block a
//! sync; errors do.

use crate::mapping::{
    AttrKind, AttributeDef, Catalog, Direction, Mapping, MappingEntry, locked_entries,
};
use crate::model::SObject;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A field type from the describe's `type` (salesforce-api.md §3.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    Id,
    String,
    TextArea,
    Email,
    Phone,
    Url,
    Picklist,
    MultiPicklist,
    Combobox,
    Boolean,
    Int,
    Double,
    Currency,
    Percent,
    Date,
    DateTime,
    Reference,
    Other(std::string::String),
}

impl FieldType {
    /// Reads the describe's `type` string.
    pub fn from_describe(t: &str) -> FieldType {
        match t {
            "id" => FieldType::Id,
            "string" | "encryptedstring" => FieldType::String,
            "textarea" => FieldType::TextArea,
            "email" => FieldType::Email,
            "phone" => FieldType::Phone,
            "url" => FieldType::Url,
            "picklist" => FieldType::Picklist,
            "multipicklist" => FieldType::MultiPicklist,
            "combobox" => FieldType::Combobox,
            "boolean" => FieldType::Boolean,
            "int" | "long" => FieldType::Int,
            "double" => FieldType::Double,
            "currency" => FieldType::Currency,
            "percent" => FieldType::Percent,
            "date" => FieldType::Date,
            "datetime" => FieldType::DateTime,
            "reference" => FieldType::Reference,
            other => FieldType::Other(other.to_string()),
        }
    }

    /// Free text: any value the user types (R-MAP-5).
    pub fn is_free_text(&self) -> bool {
        matches!(
            self,
            FieldType::String | FieldType::TextArea | FieldType::Combobox
        )
    }

    fn is_picklist(&self) -> bool {
        matches!(self, FieldType::Picklist | FieldType::MultiPicklist)
    }

    /// Whether `length` bounds the stored text.
    fn has_text_length(&self) -> bool {
        matches!(
            self,
            FieldType::String
                | FieldType::TextArea
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Url
                | FieldType::Combobox
        )
    }
}

/// One field of the describe, reduced to what validation needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgField {
    pub name: String,
    pub kind: FieldType,
    /// `length` of the describe (0 for non-text fields → `None`).
    pub length: Option<u32>,
    /// Active picklist values (`picklistValues[].value`).
    pub picklist_values: Vec<String>,
    pub createable: bool,
    pub updateable: bool,
}

impl OrgField {
    pub fn new(name: &str, kind: FieldType, length: Option<u32>) -> Self {
        OrgField {
            name: name.to_string(),
            kind,
            length,
            picklist_values: Vec::new(),
            createable: true,
            updateable: true,
        }
    }
    pub fn picklist(name: &str, values: &[&str]) -> Self {
        OrgField {
            picklist_values: values.iter().map(|v| v.to_string()).collect(),
            ..OrgField::new(name, FieldType::Picklist, Some(255))
        }
    }
    pub fn read_only(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self
    }
}

/// The org's describe of Lead and Contact, as validation needs it. Field names are matched
/// case-insensitively, as Salesforce does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSchema {
    pub objects: BTreeMap<SObject, Vec<OrgField>>,
}

impl OrgSchema {
    pub fn with_object(mut self, object: SObject, fields: Vec<OrgField>) -> Self {
        self.objects.insert(object, fields);
        self
    }

    /// Adds one object from the body of `GET /sobjects/{Lead|Contact}/describe`
    /// (salesforce-api.md §3.2): each of `fields[]` with its `name`, `type`, `length`, active
    /// `picklistValues[].value`, `createable` and `updateable`. Other keys are ignored; a body
    /// without a `fields` array is refused.
    pub fn add_describe(
        &mut self,
        object: SObject,
        describe: &serde_json::Value,
    ) -> Result<(), DescribeError> {
        let fields = describe
            .get("fields")
            .and_then(|f| f.as_array())
            .ok_or(DescribeError::NoFields(object))?;
        let mut out = Vec::with_capacity(fields.len());
        for f in fields {
            let text = |k: &str| f.get(k).and_then(|v| v.as_str());
            let flag = |k: &str| f.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
            let (Some(name), Some(kind)) = (text("name"), text("type")) else {
                return Err(DescribeError::BadField(
                    object,
                    f.to_string().chars().take(80).collect(),
                ));
            };
            let length = f
                .get("length")
                .and_then(|v| v.as_u64())
                .filter(|l| *l > 0)
                .map(|l| l as u32);
            let picklist_values = f
                .get("picklistValues")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter(|p| p.get("active").and_then(|a| a.as_bool()).unwrap_or(true))
                .filter_map(|p| p.get("value").and_then(|v| v.as_str()).map(str::to_string))
                .collect();
            out.push(OrgField {
                name: name.to_string(),
                kind: FieldType::from_describe(kind),
                length,
                picklist_values,
                createable: flag("createable"),
                updateable: flag("updateable"),
            });
        }
        self.objects.insert(object, out);
        Ok(())
    }

    pub fn field(&self, object: SObject, name: &str) -> Option<&OrgField> {
        self.objects
            .get(&object)?
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// A typical org once the seed's fields exist (R-FIELD-1..4): the standard Lead and Contact
    /// fields the default mapping uses, `plezi_url__c`, `score__c`, `status__c`, `campaign__c`,
    /// `lead_creation_date__c` and Contact's `sync_to_plezi__c`. For tests and the emulator.
    pub fn seed_org() -> OrgSchema {
        use FieldType::*;
        let common = |extra: Vec<OrgField>| {
            let mut v = vec![
                OrgField::new("Id", Id, Some(18)).read_only(),
                OrgField::new("Email", Email, Some(80)),
                OrgField::new("FirstName", String, Some(40)),
                OrgField::new("LastName", String, Some(80)),
                OrgField::new("Title", String, Some(128)),
                OrgField::new("Phone", Phone, Some(40)),
                OrgField::new("LastModifiedDate", DateTime, None).read_only(),
                OrgField::new("SystemModstamp", DateTime, None).read_only(),
                OrgField::new("CreatedDate", DateTime, None).read_only(),
            ];
            v.extend(extra);
            v
        };
        OrgSchema::default()
            .with_object(
                SObject::Lead,
                common(vec![
                    OrgField::new("Company", String, Some(255)),
                    OrgField::picklist(
                        "Status",
                        &[
                            "Open - Not Contacted",
                            "Working - Contacted",
                            "Closed - Converted",
                            "Closed - Not Converted",
                        ],
                    ),
                    OrgField::picklist(
                        "LeadSource",
                        &["Web", "Phone Inquiry", "Partner Referral", "Other"],
                    ),
                    OrgField::new("IsConverted", Boolean, None).read_only(),
                    OrgField::new("ConvertedContactId", Reference, Some(18)).read_only(),
                    OrgField::new("plezi_url__c", Url, Some(255)),
                    OrgField::new("score__c", String, Some(255)),
                    OrgField::new("status__c", String, Some(255)),
                    OrgField::new("campaign__c", String, Some(255)),
                    OrgField::new("lead_creation_date__c", Date, None),
                ]),
            )
            .with_object(
                SObject::Contact,
                common(vec![OrgField::picklist("sync_to_plezi__c", &["yes", "no"])]),
            )
    }
}

/// A describe body the schema cannot be read from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DescribeError {
    #[error("the {0} describe has no `fields` array")]
    NoFields(SObject),
    #[error("a field of the {0} describe has no name or type: {1}")]
    BadField(SObject, String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Warning,
    Error,
}

/// Which side a set of values flows toward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Toward {
    Crm,
    Marketing,
}

/// What is wrong with an entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ProblemKind {
    #[error("we have no attribute named `{0}`")]
    UnknownAttribute(String),
    #[error("the org has no field `{field}` on {object}")]
    MissingField { object: SObject, field: String },
    #[error("our {ours:?} attribute cannot be stored in a field of type {theirs:?}")]
    TypeMismatch { ours: AttrKind, theirs: FieldType },
    #[error("the org field holds {available} characters but our values need up to {needed}")]
    LengthTooShort { needed: u32, available: u32 },
    #[error("values not covered by the value map toward {toward:?}: {}", values.join(", "))]
    PicklistNotCovered { toward: Toward, values: Vec<String> },
    #[error("`{attribute}` may only flow marketing → CRM (R-MAP-3)")]
    OneWayOnly { attribute: String },
    #[error(
        "`{attribute}` is mandatory and its mapping is locked; expected {expected:?} to {object}.{field} (R-MAP-2)"
    )]
    Locked {
        attribute: String,
        object: SObject,
        field: String,
        expected: Direction,
    },
    #[error(
        "we never write to a Salesforce Contact: Contact fields can only flow CRM → marketing (R-SYNC-2)"
    )]
    ContactIsReadOnly,
    #[error("the integration user cannot {} this field (createable: {createable}, updateable: {updateable})", if *createable || *updateable { "always write" } else { "write" })]
    NotWritable { createable: bool, updateable: bool },
    #[error(
        "a free-text CRM field flows into our picklist: every value typed in the CRM would land here (R-MAP-5)"
    )]
    FreeTextIntoPicklist,
    #[error("our free text flows into an org picklist: values outside its list will be refused")]
    FreeTextIntoOrgPicklist,
    #[error("`{attribute}` is mapped twice to {object}")]
    DuplicateEntry { attribute: String, object: SObject },
    #[error("{object}.{field} is written by more than one attribute")]
    FieldWrittenTwice { object: SObject, field: String },
}

/// One problem, tied to its entry (index in the list) when it has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub severity: Severity,
    pub entry: Option<usize>,
    pub attribute: String,
    pub kind: ProblemKind,
}

/// Every problem of a mapping.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    pub problems: Vec<Problem>,
}

impl Validation {
    /// No errors (warnings allowed).
    pub fn is_ok(&self) -> bool {
        !self.problems.iter().any(|p| p.severity == Severity::Error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Warning)
    }
}

/// Attributes that may only flow marketing → CRM (R-MAP-3).
pub const ONE_WAY_ATTRIBUTES: &[&str] = &["behaviour_score", "state"];

/// Checks `mapping` against our attributes and the org's describe; returns every problem.
pub fn validate(mapping: &Mapping, catalog: &Catalog, schema: &OrgSchema) -> Validation {
    let mut out = Vec::new();
    let mut push = |severity, entry: Option<usize>, attribute: &str, kind| {
        out.push(Problem {
            severity,
            entry,
            attribute: attribute.to_string(),
            kind,
        })
    };

    // R-MAP-2: every locked entry present exactly as shipped.
    for locked in locked_entries() {
        let same = mapping
            .entry(&locked.attribute, locked.object)
            .is_some_and(|e| {
                e.field.eq_ignore_ascii_case(&locked.field)
                    && e.direction == locked.direction
                    && e.blanks == locked.blanks
            });
        if !same {
            let at = mapping
                .entries
                .iter()
                .position(|e| e.attribute == locked.attribute && e.object == locked.object);
            push(
                Severity::Error,
                at,
                &locked.attribute,
                ProblemKind::Locked {
                    attribute: locked.attribute.clone(),
                    object: locked.object,
                    field: locked.field.clone(),
                    expected: locked.direction,
                },
            );
        }
    }

    let mut seen: BTreeSet<(SObject, &str)> = BTreeSet::new();
    let mut written: BTreeMap<(SObject, String), usize> = BTreeMap::new();
    for (i, e) in mapping.entries.iter().enumerate() {
        let at = Some(i);
        let attr = e.attribute.as_str();
        if !seen.insert((e.object, attr)) {
            push(
                Severity::Error,
                at,
                attr,
                ProblemKind::DuplicateEntry {
                    attribute: attr.to_string(),
                    object: e.object,
                },
            );
        }
        if crate::mapping::is_locked(attr)
            && !locked_entries()
                .iter()
                .any(|l| l.attribute == attr && l.object == e.object)
        {
            let l = locked_entries()
                .into_iter()
                .find(|l| l.attribute == attr)
                .expect("locked attribute has an entry");
            push(
                Severity::Error,
                at,
                attr,
                ProblemKind::Locked {
                    attribute: attr.to_string(),
                    object: l.object,
                    field: l.field,
                    expected: l.direction,
                },
            );
        }
        if e.object == SObject::Contact && e.direction.to_crm() {
            push(Severity::Error, at, attr, ProblemKind::ContactIsReadOnly);
        }
        if ONE_WAY_ATTRIBUTES.contains(&attr) && e.direction.to_marketing() {
            push(
                Severity::Error,
                at,
                attr,
                ProblemKind::OneWayOnly {
                    attribute: attr.to_string(),
                },
            );
        }
        let Some(def) = catalog.get(attr) else {
            push(
                Severity::Error,
                at,
                attr,
                ProblemKind::UnknownAttribute(attr.to_string()),
            );
            continue;
        };
        if e.direction == Direction::Off {
            continue;
        }
        let Some(field) = schema.field(e.object, &e.field) else {
            push(
                Severity::Error,
                at,
                attr,
                ProblemKind::MissingField {
                    object: e.object,
                    field: e.field.clone(),
                },
            );
            continue;
        };
        let to_crm = e.effective_direction().to_crm();
        let to_ours = e.effective_direction().to_marketing();
        if to_crm {
            let n = written
                .entry((e.object, field.name.to_lowercase()))
                .or_insert(0);
            *n += 1;
            if *n == 2 {
                push(
                    Severity::Error,
                    at,
                    attr,
                    ProblemKind::FieldWrittenTwice {
                        object: e.object,
                        field: field.name.clone(),
                    },
                );
            }
        }
        for kind in check_entry(e, def, field, to_crm, to_ours) {
            let severity = match kind {
                ProblemKind::FreeTextIntoPicklist | ProblemKind::FreeTextIntoOrgPicklist => {
                    Severity::Warning
                }
                ProblemKind::NotWritable {
                    createable,
                    updateable,
                } if createable || updateable => Severity::Warning,
                _ => Severity::Error,
            };
            push(severity, at, attr, kind);
        }
    }
    Validation { problems: out }
}

/// Type, length, picklist and writability checks of one active entry.
fn check_entry(
    e: &MappingEntry,
    def: &AttributeDef,
    field: &OrgField,
    to_crm: bool,
    to_ours: bool,
) -> Vec<ProblemKind> {
    let mut out = Vec::new();
    if !compatible(&def.kind, &field.kind) {
        out.push(ProblemKind::TypeMismatch {
            ours: def.kind.clone(),
            theirs: field.kind.clone(),
        });
        return out;
    }
    let ours_values: Option<Vec<String>> = match &def.kind {
        AttrKind::Picklist => Some(def.values.clone()),
        AttrKind::Boolean => Some(vec!["true".into(), "false".into()]),
        _ => None,
    };
    if to_crm {
        if !field.createable || !field.updateable {
            out.push(ProblemKind::NotWritable {
                createable: field.createable,
                updateable: field.updateable,
            });
        }
        if field.kind.has_text_length()
            && let (Some(available), Some(needed)) = (field.length, needed_length(e, def))
            && needed > available
        {
            out.push(ProblemKind::LengthTooShort { needed, available });
        }
        if field.kind.is_picklist() {
            match &ours_values {
                Some(values) => {
                    let missing: Vec<String> = values
                        .iter()
                        .map(|v| e.to_crm(&Some(v.clone())).unwrap_or_default())
                        .filter(|t| !field.picklist_values.iter().any(|p| p == t))
                        .collect();
                    if !missing.is_empty() {
                        out.push(ProblemKind::PicklistNotCovered {
                            toward: Toward::Crm,
                            values: missing,
                        });
                    }
                }
                None => out.push(ProblemKind::FreeTextIntoOrgPicklist),
            }
        }
    }
    if to_ours && def.kind == AttrKind::Picklist {
        if field.kind.is_free_text() {
            out.push(ProblemKind::FreeTextIntoPicklist);
        } else if field.kind.is_picklist() {
            let missing: Vec<String> = field
                .picklist_values
                .iter()
                .filter(|t| {
                    let ours = e.to_marketing(&Some((*t).clone())).unwrap_or_default();
                    !def.values.contains(&ours)
                })
                .cloned()
                .collect();
            if !missing.is_empty() {
                out.push(ProblemKind::PicklistNotCovered {
                    toward: Toward::Marketing,
                    values: missing,
                });
            }
        }
    }
    out
}

/// The longest text our values can take in the org, when known.
fn needed_length(e: &MappingEntry, def: &AttributeDef) -> Option<u32> {
    match &def.kind {
        AttrKind::Integer { min, max } => {
            Some(min.to_string().len().max(max.to_string().len()) as u32)
        }
        AttrKind::Date => Some(10),
        AttrKind::DateTime => Some(24),
        AttrKind::Boolean => Some(5),
        AttrKind::Picklist => def
            .values
            .iter()
            .map(|v| {
                e.to_crm(&Some(v.clone()))
                    .unwrap_or_default()
                    .chars()
                    .count() as u32
            })
            .max(),
        _ => def.max_len,
    }
}

/// Which of our kinds can live in which org field type (both ways).
fn compatible(ours: &AttrKind, theirs: &FieldType) -> bool {
    use FieldType as F;
    let textual = matches!(theirs, F::String | F::TextArea | F::Combobox);
    match ours {
        AttrKind::Text => textual || matches!(theirs, F::Picklist),
        AttrKind::Email => textual || matches!(theirs, F::Email),
        AttrKind::Phone => textual || matches!(theirs, F::Phone),
        AttrKind::Url => textual || matches!(theirs, F::Url),
        AttrKind::Integer { .. } => {
            textual || matches!(theirs, F::Int | F::Double | F::Currency | F::Percent)
        }
        AttrKind::Date => textual || matches!(theirs, F::Date),
        AttrKind::DateTime => textual || matches!(theirs, F::DateTime),
        AttrKind::Boolean => textual || matches!(theirs, F::Boolean | F::Picklist),
        AttrKind::Picklist => textual || matches!(theirs, F::Picklist | F::MultiPicklist),
    }
}
