//! The field mapping (R-MAP): our attributes, each mapped to a field of an org object with a
//! direction, an optional value map, a conflict policy and a blank-value rule.
//!
//! Invariants:
//! - entries keep the order the user sees; a new entry always goes last (R-MAP-4);
//! - at most one entry per (attribute, object);
//! - the mandatory entries (email and the identity fields) are locked (R-MAP-2): they can be
//!   neither removed nor redirected through this API, and [`crate::validate()`] reports a mapping
//!   that was built around them;
//! - [`Mapping::hash`] changes exactly when what flows where changes (R-SYNC-5).

use crate::model::{SObject, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Which way values of one entry flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// Marketing → CRM only.
    ToCrm,
    /// CRM → marketing only.
    ToMarketing,
    /// Both ways, conflicts resolved by the entry's [`ConflictPolicy`].
    Both,
    /// Shown in the list, nothing flows.
    Off,
}

impl Direction {
    pub fn to_crm(self) -> bool {
        matches!(self, Direction::ToCrm | Direction::Both)
    }
    pub fn to_marketing(self) -> bool {
        matches!(self, Direction::ToMarketing | Direction::Both)
    }
}

/// How a two-way field resolves a change on both sides since the last sync.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum ConflictPolicy {
    /// The most recent change wins: our per-field change time against the org record's
    /// `LastModifiedDate`. A tie, or an unknown change time of ours, goes to the CRM.
    #[default]
    MostRecent,
    CrmWins,
    MarketingWins,
}

/// What a blank source value does to a non-blank target value.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum BlankPolicy {
    /// Clearing a value on one side clears it on the other.
    #[default]
    Propagate,
    /// A blank never erases a value on the other side ("never blank out").
    NeverBlankOut,
}

/// One pair of spellings of the same picklist value (R-MAP-6): ours ↔ the org's API value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ValuePair {
    pub ours: String,
    pub theirs: String,
}

/// A value translation table. Lookups try an exact match, then a case-insensitive one; a value
/// with no pair passes through unchanged (validation reports picklist values left uncovered).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ValueMap(pub Vec<ValuePair>);

impl ValueMap {
    pub fn new(pairs: &[(&str, &str)]) -> Self {
        ValueMap(
            pairs
                .iter()
                .map(|(o, t)| ValuePair {
                    ours: o.to_string(),
                    theirs: t.to_string(),
                })
                .collect(),
        )
    }

    fn find<'a>(
        &'a self,
        v: &str,
        key: impl Fn(&'a ValuePair) -> &'a str,
    ) -> Option<&'a ValuePair> {
        self.0
            .iter()
            .find(|p| key(p) == v)
            .or_else(|| self.0.iter().find(|p| key(p).eq_ignore_ascii_case(v)))
    }

    pub fn to_crm(&self, ours: &str) -> String {
        self.find(ours, |p| &p.ours)
            .map_or_else(|| ours.to_string(), |p| p.theirs.clone())
    }

    pub fn to_marketing(&self, theirs: &str) -> String {
        self.find(theirs, |p| &p.theirs)
            .map_or_else(|| theirs.to_string(), |p| p.ours.clone())
    }
}

/// One line of the mapping screen.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MappingEntry {
    /// Our attribute (see [`Catalog`]).
    pub attribute: String,
    pub object: SObject,
    /// The org field's API name, e.g. `Title` or `plezi_url__c`.
    pub field: String,
    pub direction: Direction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_map: Option<ValueMap>,
    #[serde(default)]
    pub conflict: ConflictPolicy,
    #[serde(default)]
    pub blanks: BlankPolicy,
}

impl MappingEntry {
    pub fn new(attribute: &str, object: SObject, field: &str, direction: Direction) -> Self {
        MappingEntry {
            attribute: attribute.to_string(),
            object,
            field: field.to_string(),
            direction,
            value_map: None,
            conflict: ConflictPolicy::default(),
            blanks: BlankPolicy::default(),
        }
    }

    pub fn with_value_map(mut self, map: ValueMap) -> Self {
        self.value_map = Some(map);
        self
    }
    pub fn with_conflict(mut self, policy: ConflictPolicy) -> Self {
        self.conflict = policy;
        self
    }
    pub fn with_blanks(mut self, blanks: BlankPolicy) -> Self {
        self.blanks = blanks;
        self
    }

    /// Our value as the org should store it.
    pub fn to_crm(&self, ours: &Value) -> Value {
        self.to_crm_ref(ours.as_deref()).map(Cow::into_owned)
    }

    /// The org's value as we should store it.
    pub fn to_marketing(&self, theirs: &Value) -> Value {
        self.to_marketing_ref(theirs.as_deref())
            .map(Cow::into_owned)
    }

    /// [`Self::to_crm`] without copying when there is nothing to translate.
    pub fn to_crm_ref<'a>(&'a self, ours: Option<&'a str>) -> Option<Cow<'a, str>> {
        let v = ours?;
        Some(
            match self.value_map.as_ref().and_then(|m| m.find(v, |p| &p.ours)) {
                Some(p) => Cow::Borrowed(p.theirs.as_str()),
                None => Cow::Borrowed(v),
            },
        )
    }

    /// [`Self::to_marketing`] without copying when there is nothing to translate.
    pub fn to_marketing_ref<'a>(&'a self, theirs: Option<&'a str>) -> Option<Cow<'a, str>> {
        let v = theirs?;
        Some(
            match self
                .value_map
                .as_ref()
                .and_then(|m| m.find(v, |p| &p.theirs))
            {
                Some(p) => Cow::Borrowed(p.ours.as_str()),
                None => Cow::Borrowed(v),
            },
        )
    }

    /// A short, stable fingerprint of what this entry moves: object, field, effective direction
    /// and value map (not the conflict or blank policy, which do not change what a base means).
    pub fn fingerprint(&self) -> u32 {
        let mut h = Sha256::new();
        h.update(format!(
            "{:?}\u{1f}{}\u{1f}{:?}\u{1f}",
            self.object,
            self.field.to_lowercase(),
            self.effective_direction()
        ));
        for p in self.value_map.iter().flat_map(|m| &m.0) {
            h.update(format!("{:?}={:?}\u{1f}", p.ours, p.theirs));
        }
        let d = h.finalize();
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// The direction that can actually happen: nothing is ever written to an org Contact
    /// (R-SYNC-2), whatever the entry says.
    pub fn effective_direction(&self) -> Direction {
        match (self.object, self.direction) {
            (SObject::Contact, Direction::Both | Direction::ToMarketing) => Direction::ToMarketing,
            (SObject::Contact, _) => Direction::Off,
            (SObject::Lead, d) => d,
        }
    }
}

/// Edits refused by the mapping itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("`{attribute}` is already mapped to a {object} field")]
    DuplicateEntry { attribute: String, object: SObject },
    #[error("`{attribute}` is a mandatory attribute: its {object} mapping is locked (R-MAP-2)")]
    Locked { attribute: String, object: SObject },
    #[error("`{attribute}` has no {object} mapping")]
    NotMapped { attribute: String, object: SObject },
}

/// The ordered list of entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub entries: Vec<MappingEntry>,
}

/// The attributes that are mandatory and locked (R-MAP-2): the identity of a contact, and the
/// two fields Salesforce requires to create a Lead (`LastName`, `Company`).
pub const MANDATORY_ATTRIBUTES: &[&str] = &["email", "first_name", "last_name", "company"];

impl Mapping {
    /// The default mapping: the standard fields, `plezi_url`, `score`, `status`, `campaign` and
    /// the lead creation date (R-FIELD-1, R-FIELD-3, R-FIELD-4).
    pub fn default_mapping() -> Mapping {
        use Direction::*;
        use SObject::*;
        let mut entries = locked_entries();
        entries.extend([
            MappingEntry::new("phone", Lead, "Phone", Both),
            MappingEntry::new("phone", Contact, "Phone", ToMarketing),
            // The seed: a free-text job title in the CRM should only flow marketing → CRM (R-MAP-5).
            MappingEntry::new("job_title", Lead, "Title", ToCrm),
            MappingEntry::new("page_url", Lead, "plezi_url__c", ToCrm),
            MappingEntry::new("behaviour_score", Lead, "score__c", ToCrm),
            MappingEntry::new("state", Lead, "status__c", ToCrm),
            MappingEntry::new("campaign", Lead, "campaign__c", ToCrm),
            MappingEntry::new("created_on", Lead, "lead_creation_date__c", ToCrm),
        ]);
        Mapping { entries }
    }

    pub fn entry(&self, attribute: &str, object: SObject) -> Option<&MappingEntry> {
        self.entries
            .iter()
            .find(|e| e.attribute == attribute && e.object == object)
    }

    /// The entries of one object that move values in at least one direction, in list order.
    pub fn active_entries(&self, object: SObject) -> impl Iterator<Item = &MappingEntry> {
        self.entries
            .iter()
            .filter(move |e| e.object == object && e.effective_direction() != Direction::Off)
    }

    /// Adds an entry at the end of the list (R-MAP-4).
    pub fn push(&mut self, entry: MappingEntry) -> Result<(), MappingError> {
        if self.entry(&entry.attribute, entry.object).is_some() {
            return Err(MappingError::DuplicateEntry {
                attribute: entry.attribute,
                object: entry.object,
            });
        }
        if is_locked(&entry.attribute) {
            return Err(MappingError::Locked {
                attribute: entry.attribute,
                object: entry.object,
            });
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Changes the direction of an entry; mandatory attributes are locked (R-MAP-2).
    pub fn set_direction(
        &mut self,
        attribute: &str,
        object: SObject,
        direction: Direction,
    ) -> Result<(), MappingError> {
        let entry = self.unlocked_entry_mut(attribute, object)?;
        entry.direction = direction;
        Ok(())
    }

    /// Removes an entry; mandatory attributes are locked (R-MAP-2).
    pub fn remove(
        &mut self,
        attribute: &str,
        object: SObject,
    ) -> Result<MappingEntry, MappingError> {
        self.unlocked_entry_mut(attribute, object)?;
        let at = self
            .entries
            .iter()
            .position(|e| e.attribute == attribute && e.object == object)
            .expect("found above");
        Ok(self.entries.remove(at))
    }

    fn unlocked_entry_mut(
        &mut self,
        attribute: &str,
        object: SObject,
    ) -> Result<&mut MappingEntry, MappingError> {
        if is_locked(attribute) {
            return Err(MappingError::Locked {
                attribute: attribute.to_string(),
                object,
            });
        }
        self.entries
            .iter_mut()
            .find(|e| e.attribute == attribute && e.object == object)
            .ok_or_else(|| MappingError::NotMapped {
                attribute: attribute.to_string(),
                object,
            })
    }

    /// A stable hash of what flows where (R-SYNC-5): when it differs from the hash recorded at the
    /// last full sync, a full resync is due.
    ///
    /// Covers attribute, object, field, direction, value map and blank rule of every entry, in a
    /// canonical order (moving a line in the list does not need a resync). The conflict policy is
    /// left out on purpose: it only decides future conflicts and cannot make old data flow.
    pub fn hash(&self) -> String {
        let mut lines: Vec<String> = self
            .entries
            .iter()
            .map(|e| {
                let vm = e
                    .value_map
                    .as_ref()
                    .map(|m| {
                        m.0.iter()
                            .map(|p| format!("{:?}={:?}", p.ours, p.theirs))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default();
                format!(
                    "{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{vm}",
                    e.object, e.attribute, e.field, e.direction, e.blanks
                )
            })
            .collect();
        lines.sort();
        let mut h = Sha256::new();
        h.update(b"leadbridge-mapping-v1\n");
        for l in &lines {
            h.update(l.as_bytes());
            h.update(b"\n");
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping::default_mapping()
    }
}

pub fn is_locked(attribute: &str) -> bool {
    MANDATORY_ATTRIBUTES.contains(&attribute)
}

/// The locked entries, exactly as they must appear in every mapping (R-MAP-2). The email never
/// blanks out: a record without email is not synced at all (R-SYNC-1).
pub fn locked_entries() -> Vec<MappingEntry> {
    use Direction::*;
    use SObject::*;
    vec![
        MappingEntry::new("email", Lead, "Email", Both).with_blanks(BlankPolicy::NeverBlankOut),
        MappingEntry::new("email", Contact, "Email", ToMarketing)
            .with_blanks(BlankPolicy::NeverBlankOut),
        MappingEntry::new("first_name", Lead, "FirstName", Both),
        MappingEntry::new("first_name", Contact, "FirstName", ToMarketing),
        MappingEntry::new("last_name", Lead, "LastName", Both)
            .with_blanks(BlankPolicy::NeverBlankOut),
        MappingEntry::new("last_name", Contact, "LastName", ToMarketing)
            .with_blanks(BlankPolicy::NeverBlankOut),
        MappingEntry::new("company", Lead, "Company", Both).with_blanks(BlankPolicy::NeverBlankOut),
    ]
}

/// The kind of one of our attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttrKind {
    Text,
    Email,
    Phone,
    Url,
    Integer {
        min: i64,
        max: i64,
    },
    Date,
    DateTime,
    Boolean,
    /// A closed list of values (see [`AttributeDef::values`]).
    Picklist,
}

/// One attribute of our contacts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AttributeDef {
    pub name: String,
    pub kind: AttrKind,
    /// Longest text we store, when bounded.
    pub max_len: Option<u32>,
    /// Picklist values, for [`AttrKind::Picklist`].
    pub values: Vec<String>,
}

impl AttributeDef {
    pub fn new(name: &str, kind: AttrKind, max_len: Option<u32>) -> Self {
        AttributeDef {
            name: name.to_string(),
            kind,
            max_len,
            values: Vec::new(),
        }
    }
    pub fn picklist(name: &str, values: &[&str]) -> Self {
        AttributeDef {
            name: name.to_string(),
            kind: AttrKind::Picklist,
            max_len: None,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }
    pub fn is_mandatory(&self) -> bool {
        is_locked(&self.name)
    }
}

/// Our contact attributes (the marketing side's schema), standard ones plus custom fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub attributes: Vec<AttributeDef>,
}

/// Our `state` values (lifecycle status, R-FIELD-3).
pub const STATE_VALUES: &[&str] = &["new", "engaged", "accepted", "closed"];
/// Our `lifecycle_stage` values (the funnel of R-FIELD-4).
pub const LIFECYCLE_VALUES: &[&str] = &["lead", "mql", "sql", "customer"];
/// Our `job_title` values: a picklist here, which is why a free-text CRM title must not flow in
/// (R-MAP-5).
pub const JOB_TITLE_VALUES: &[&str] = &[
    "Management",
    "Marketing",
    "Sales",
    "IT",
    "Finance",
    "Human resources",
    "Operations",
    "Other",
];

impl Catalog {
    /// The standard attributes of the marketing side (mission.md, "The marketing side"). Lengths
    /// follow the org's standard fields so the default mapping validates.
    pub fn standard() -> Catalog {
        use AttrKind::*;
        Catalog {
            attributes: vec![
                AttributeDef::new("email", Email, Some(80)),
                AttributeDef::new("first_name", Text, Some(40)),
                AttributeDef::new("last_name", Text, Some(80)),
                AttributeDef::new("company", Text, Some(255)),
                AttributeDef::picklist("job_title", JOB_TITLE_VALUES),
                AttributeDef::new("phone", Phone, Some(40)),
                AttributeDef::new("behaviour_score", Integer { min: 0, max: 50 }, None),
                AttributeDef::picklist("state", STATE_VALUES),
                AttributeDef::picklist("lifecycle_stage", LIFECYCLE_VALUES),
                AttributeDef::new("source", Text, Some(255)),
                AttributeDef::new("medium", Text, Some(255)),
                AttributeDef::new("campaign", Text, Some(255)),
                AttributeDef::new("created_on", Date, None),
                AttributeDef::new("page_url", Url, Some(255)),
            ],
        }
    }

    pub fn get(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Adds a custom attribute (replacing one of the same name).
    pub fn with(mut self, def: AttributeDef) -> Catalog {
        self.attributes.retain(|a| a.name != def.name);
        self.attributes.push(def);
        self
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::standard()
    }
}
