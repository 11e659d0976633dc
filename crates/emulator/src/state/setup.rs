//! Setup metadata a real org exposes to the API and that custom fields depend on (§12.4):
//! `PermissionSet` (with the integration user's profile-owned set), `PermissionSetAssignment`,
//! `FieldPermissions`, and `LeadStatus` (which statuses convert, §12.5); plus building a custom
//! field from Tooling `CustomField` metadata.
//!
//! Invariants:
//! - A custom field created through the Tooling API starts invisible (no read, no edit), as in a
//!   real org. Its access is recomputed from the live `FieldPermissions` records whenever one of
//!   them (or a `PermissionSetAssignment`) changes: readable iff some record on one of the
//!   integration user's permission sets (its profile's own set, or an assigned one) has
//!   `PermissionsRead`, editable likewise with `PermissionsEdit`.
//! - Standard fields keep their access: `FieldPermissions` on them are stored but, as for
//!   required fields in a real org, do not hide them.

use serde_json::{Map, Value, json};

use super::{FieldAccess, FieldDef, FieldType, ObjectDef, Org, Record, Table};
use lb_wire::ApiError;

/// Key prefixes (§16): PermissionSet, PermissionSetAssignment, FieldPermissions, LeadStatus.
const PERMISSION_SET: &str = "0PS";
const ASSIGNMENT: &str = "0Pa";
const FIELD_PERMISSIONS: &str = "01k";
const LEAD_STATUS: &str = "01J";

fn system_fields(label: &str) -> Vec<FieldDef> {
    use FieldType as T;
    vec![
        FieldDef::new("Id", &format!("{label} ID"), T::Id)
            .read_only()
            .defaulted(Value::Null)
            .required(),
        FieldDef::new("IsDeleted", "Deleted", T::Boolean).read_only(),
        FieldDef::new("CreatedDate", "Created Date", T::DateTime)
            .read_only()
            .defaulted(Value::Null)
            .required(),
        FieldDef::new("CreatedById", "Created By ID", T::Reference)
            .references(&["User"], "CreatedBy")
            .read_only()
            .defaulted(Value::Null)
            .required(),
        FieldDef::new("LastModifiedDate", "Last Modified Date", T::DateTime)
            .read_only()
            .defaulted(Value::Null)
            .required(),
        FieldDef::new("LastModifiedById", "Last Modified By ID", T::Reference)
            .references(&["User"], "LastModifiedBy")
            .read_only()
            .defaulted(Value::Null)
            .required(),
        FieldDef::new("SystemModstamp", "System Modstamp", T::DateTime)
            .read_only()
            .defaulted(Value::Null)
            .required(),
    ]
}

fn object(
    name: &str,
    label: &str,
    plural: &str,
    prefix: &str,
    mut fields: Vec<FieldDef>,
) -> ObjectDef {
    let mut all = system_fields(label);
    all.append(&mut fields);
    ObjectDef::new(name, label, plural, prefix, all)
}

/// The setup objects' definitions.
pub fn setup_objects() -> Vec<ObjectDef> {
    use FieldType as T;
    let permission_set = object(
        "PermissionSet",
        "Permission Set",
        "Permission Sets",
        PERMISSION_SET,
        vec![
            FieldDef::new("Name", "Name", T::String)
                .len(80)
                .required()
                .id_lookup(),
            FieldDef::new("Label", "Label", T::String)
                .len(80)
                .required(),
            FieldDef::new("Description", "Description", T::TextArea).len(255),
            FieldDef::new("IsOwnedByProfile", "Is Owned By Profile", T::Boolean).read_only(),
            FieldDef::new("ProfileId", "Profile ID", T::Reference)
                .references(&["Profile"], "Profile")
                .read_only(),
        ],
    );
    let assignment = object(
        "PermissionSetAssignment",
        "Permission Set Assignment",
        "Permission Set Assignments",
        ASSIGNMENT,
        vec![
            FieldDef::new("AssigneeId", "Assignee ID", T::Reference)
                .references(&["User"], "Assignee")
                .required()
                .create_only(),
            FieldDef::new("PermissionSetId", "Permission Set ID", T::Reference)
                .references(&["PermissionSet"], "PermissionSet")
                .required()
                .create_only(),
        ],
    );
    let field_permissions = object(
        "FieldPermissions",
        "Field Permissions",
        "Field Permissions",
        FIELD_PERMISSIONS,
        vec![
            FieldDef::new("ParentId", "Parent ID", T::Reference)
                .references(&["PermissionSet"], "Parent")
                .required()
                .create_only(),
            FieldDef::new("SobjectType", "Sobject Type Name", T::String)
                .len(40)
                .required()
                .create_only(),
            FieldDef::new("Field", "Field Name", T::String)
                .len(81)
                .required()
                .create_only(),
            FieldDef::new("PermissionsRead", "Read Access", T::Boolean),
            FieldDef::new("PermissionsEdit", "Edit Access", T::Boolean),
        ],
    );
    let mut lead_status = object(
        "LeadStatus",
        "Lead Status Value",
        "Lead Status Values",
        LEAD_STATUS,
        vec![
            FieldDef::new("MasterLabel", "Master Label", T::String)
                .len(255)
                .read_only(),
            FieldDef::new("ApiName", "Api Name", T::String)
                .len(255)
                .read_only(),
            FieldDef::new("SortOrder", "Sort Order", T::Int).read_only(),
            FieldDef::new("IsDefault", "Is Default", T::Boolean).read_only(),
            FieldDef::new("IsConverted", "Is Converted", T::Boolean).read_only(),
        ],
    );
    lead_status.createable = false;
    lead_status.updateable = false;
    lead_status.deletable = false;
    vec![permission_set, assignment, field_permissions, lead_status]
}

/// The status a converted Lead takes by default, and the only converted one in a new org.
pub const CONVERTED_STATUS: &str = "Closed - Converted";

/// Adds the setup objects and their seed rows (the profile's own permission set, the Lead
/// statuses) to a fresh org. Called by `Org::new`.
pub(super) fn install(org: &mut Org) {
    for def in setup_objects() {
        org.tables.insert(def.name.clone(), Table::default());
        org.objects
            .insert(def.name.clone(), std::sync::Arc::new(def));
    }
    org.rebuild_indexes();
    let profile = org
        .tables
        .get("User")
        .and_then(|t| t.rows.first())
        .and_then(|u| u.get("ProfileId"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut set = Record::new();
    set.insert("Name".into(), json!("X00eKg0000000001AAA"));
    set.insert("Label".into(), json!("00eKg0000000001AAA"));
    set.insert("IsOwnedByProfile".into(), json!(true));
    set.insert("ProfileId".into(), profile);
    seed_row(org, "PermissionSet", set);
    for (i, status) in super::schema::LEAD_STATUSES.iter().enumerate() {
        let mut rec = Record::new();
        rec.insert("MasterLabel".into(), json!(status));
        rec.insert("ApiName".into(), json!(status));
        rec.insert("SortOrder".into(), json!(i + 1));
        rec.insert("IsDefault".into(), json!(i == 0));
        rec.insert("IsConverted".into(), json!(*status == CONVERTED_STATUS));
        seed_row(org, "LeadStatus", rec);
    }
}

/// Inserts a system row with id and audit fields, bypassing createability (setup data).
fn seed_row(org: &mut Org, object: &str, mut rec: Record) {
    let prefix = org.objects[object].key_prefix.clone();
    let id = org.next_id(&prefix);
    let now = org.now();
    rec.insert("Id".into(), Value::String(id));
    rec.insert("IsDeleted".into(), Value::Bool(false));
    for f in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
        rec.insert(f.into(), Value::String(now.clone()));
    }
    for f in ["CreatedById", "LastModifiedById"] {
        rec.insert(f.into(), Value::String(org.user_id.clone()));
    }
    org.push_row(object, rec);
}

fn live_rows<'a>(org: &'a Org, object: &str) -> impl Iterator<Item = &'a Record> {
    let table = org.tables.get(object);
    table.into_iter().flat_map(|t| {
        t.rows
            .iter()
            .enumerate()
            .filter(|(i, _)| !t.recycle_bin.contains_key(&(*i as u32)))
            .map(|(_, r)| r)
    })
}

fn str_of<'a>(rec: &'a Record, field: &str) -> &'a str {
    rec.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn same_id(a: &str, b: &str) -> bool {
    a.len() >= 15 && b.len() >= 15 && a[..15] == b[..15]
}

impl Org {
    /// Ids of the permission sets that apply to the integration user: its profile's own set and
    /// every assigned one.
    pub fn user_permission_sets(&self) -> Vec<String> {
        let profile = self
            .get("User", &self.user_id)
            .ok()
            .map(|u| str_of(u, "ProfileId").to_owned())
            .unwrap_or_default();
        let mut sets: Vec<String> = live_rows(self, "PermissionSet")
            .filter(|s| {
                s.get("IsOwnedByProfile") == Some(&Value::Bool(true))
                    && same_id(str_of(s, "ProfileId"), &profile)
            })
            .map(|s| str_of(s, "Id").to_owned())
            .collect();
        sets.extend(
            live_rows(self, "PermissionSetAssignment")
                .filter(|a| same_id(str_of(a, "AssigneeId"), &self.user_id))
                .map(|a| str_of(a, "PermissionSetId").to_owned()),
        );
        sets
    }

    /// Recomputes the integration user's access to the custom field `Object.Field__c` from the
    /// live `FieldPermissions` records. Standard fields and unknown names are left alone.
    pub fn refresh_field_access(&mut self, full_name: &str) {
        let Some((object, field)) = full_name.split_once('.') else {
            return;
        };
        let is_custom = self
            .object(object)
            .and_then(|o| o.field_any(field))
            .is_some_and(|f| f.custom);
        if !is_custom {
            return;
        }
        let sets = self.user_permission_sets();
        let mut access = FieldAccess {
            readable: false,
            editable: false,
        };
        for fp in live_rows(self, "FieldPermissions") {
            if !str_of(fp, "Field").eq_ignore_ascii_case(full_name)
                || !sets.iter().any(|s| same_id(s, str_of(fp, "ParentId")))
            {
                continue;
            }
            let read = fp.get("PermissionsRead") == Some(&Value::Bool(true));
            access.readable |= read;
            access.editable |= read && fp.get("PermissionsEdit") == Some(&Value::Bool(true));
        }
        self.set_field_access(object, field, access);
    }

    /// Recomputes every custom field named by a `FieldPermissions` record (after an assignment
    /// changes which permission sets apply).
    pub fn refresh_all_field_access(&mut self) {
        let names: Vec<String> = live_rows(self, "FieldPermissions")
            .map(|fp| str_of(fp, "Field").to_owned())
            .collect();
        for name in names {
            self.refresh_field_access(&name);
        }
    }

    /// Tooling `CustomField` rows, one per custom field of every object (hidden ones included:
    /// the Tooling API sees metadata regardless of field-level security).
    pub fn custom_field_rows(&self) -> Vec<Record> {
        let mut out = Vec::new();
        for def in self.objects.values() {
            for f in def.fields.iter().filter(|f| f.custom) {
                let Some(id) = &f.definition_id else { continue };
                let mut rec = Record::new();
                rec.insert("Id".into(), json!(id));
                rec.insert(
                    "DeveloperName".into(),
                    json!(f.name.trim_end_matches("__c")),
                );
                rec.insert("TableEnumOrId".into(), json!(def.name));
                rec.insert("FullName".into(), json!(format!("{}.{}", def.name, f.name)));
                rec.insert("NamespacePrefix".into(), Value::Null);
                out.push(rec);
            }
        }
        out
    }
}

/// Checks a developer name (`plezi_url`): letters, digits and single underscores, starting with
/// a letter, no trailing underscore, at most 40 characters (§12.3).
fn valid_developer_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 40
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && !name.contains("__")
        && !name.ends_with('_')
}

fn integrity(message: impl Into<String>, field: &str) -> ApiError {
    ApiError::with_fields("FIELD_INTEGRITY_EXCEPTION", message, vec![field.to_owned()])
}

/// Builds the field a Tooling `CustomField` create asks for: `full_name` is `Object.Name__c`,
/// `metadata` the Metadata API properties (type, label, length, required, unique, externalId,
/// caseSensitive, defaultValue, precision, scale, valueSet). Returns the object and the field,
/// invisible until field permissions grant it (§12.4).
pub fn field_from_metadata(
    org: &Org,
    full_name: &str,
    metadata: &Map<String, Value>,
) -> Result<(String, FieldDef), ApiError> {
    let (object, name) = full_name.split_once('.').ok_or_else(|| {
        integrity(
            format!("FullName must be Object.Field__c, not {full_name}"),
            "FullName",
        )
    })?;
    let def = org.object(object).ok_or_else(|| {
        integrity(
            format!("Cannot find an object named {object} for the field {full_name}"),
            "FullName",
        )
    })?;
    let developer = name
        .strip_suffix("__c")
        .filter(|d| valid_developer_name(d))
        .ok_or_else(|| {
            integrity(
                format!(
                    "The field name {name} is not valid: use letters, digits and single underscores, start with a letter, end with __c, at most 40 characters before __c"
                ),
                "FullName",
            )
        })?;
    let text = |k: &str| metadata.get(k).and_then(Value::as_str);
    let flag = |k: &str| match metadata.get(k) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let number = |k: &str| match metadata.get(k) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let label = text("label")
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| integrity("Label is required", "label"))?;
    let kind = text("type").unwrap_or_default();
    let api_name = format!("{developer}__c");
    use FieldType as T;
    let mut field = match kind {
        "Text" => {
            let length = number("length")
                .ok_or_else(|| integrity("Length is required for a Text field", "length"))?;
            if !(1..=255).contains(&length) {
                return Err(integrity(
                    format!("Length must be between 1 and 255, not {length}"),
                    "length",
                ));
            }
            FieldDef::new(&api_name, label, T::String).len(length as u32)
        }
        "TextArea" => FieldDef::new(&api_name, label, T::TextArea).len(255),
        "LongTextArea" | "Html" => {
            let length = number("length").unwrap_or(32_768);
            if !(256..=131_072).contains(&length) {
                return Err(integrity(
                    format!("Length must be between 256 and 131,072, not {length}"),
                    "length",
                ));
            }
            FieldDef::new(&api_name, label, T::TextArea).len(length as u32)
        }
        "Email" => FieldDef::new(&api_name, label, T::Email),
        "Phone" => FieldDef::new(&api_name, label, T::Phone),
        "Url" => FieldDef::new(&api_name, label, T::Url),
        "Date" => FieldDef::new(&api_name, label, T::Date),
        "DateTime" => FieldDef::new(&api_name, label, T::DateTime),
        "Checkbox" => {
            let default = text("defaultValue")
                .map(|d| d.eq_ignore_ascii_case("true"))
                .unwrap_or(false);
            FieldDef::new(&api_name, label, T::Boolean).defaulted(Value::Bool(default))
        }
        "Number" | "Currency" | "Percent" => {
            let ty = match kind {
                "Currency" => T::Currency,
                "Percent" => T::Percent,
                _ => T::Double,
            };
            let precision = number("precision").unwrap_or(18);
            let scale = number("scale").unwrap_or(0);
            if !(1..=18).contains(&precision) || scale > precision {
                return Err(integrity(
                    format!("Invalid precision {precision} and scale {scale}"),
                    "precision",
                ));
            }
            let mut f = FieldDef::new(&api_name, label, ty);
            f.precision = precision as u32;
            f.scale = scale as u32;
            f
        }
        "Picklist" | "MultiselectPicklist" => {
            let set = metadata.get("valueSet").and_then(Value::as_object);
            let restricted = set
                .and_then(|s| s.get("restricted"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let values = set
                .and_then(|s| s.get("valueSetDefinition"))
                .and_then(|d| d.get("value"))
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    integrity(
                        "A picklist needs valueSet.valueSetDefinition.value",
                        "valueSet",
                    )
                })?;
            let mut names = Vec::new();
            let mut default = None;
            for v in values {
                let name = v
                    .get("valueName")
                    .or_else(|| v.get("fullName"))
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| {
                        integrity("Each picklist value needs a valueName", "valueSet")
                    })?;
                if v.get("default").and_then(Value::as_bool).unwrap_or(false) {
                    default = Some(name.to_owned());
                }
                names.push(name.to_owned());
            }
            if names.is_empty() {
                return Err(integrity("A picklist needs at least one value", "valueSet"));
            }
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let ty = if kind == "Picklist" {
                T::Picklist
            } else {
                T::MultiPicklist
            };
            let mut f =
                FieldDef::new(&api_name, label, ty).picklist(&refs, default.as_deref(), restricted);
            for (entry, v) in f.picklist.iter_mut().zip(values) {
                if let Some(l) = v.get("label").and_then(Value::as_str) {
                    entry.label = l.to_owned();
                }
            }
            f
        }
        other => {
            return Err(integrity(
                format!(
                    "Unsupported field type '{other}': use Text, TextArea, LongTextArea, Email, Phone, Url, Date, DateTime, Checkbox, Number, Currency, Percent, Picklist or MultiselectPicklist"
                ),
                "type",
            ));
        }
    };
    if flag("required") {
        field = field.required();
    }
    field.unique = flag("unique");
    field.external_id = flag("externalId");
    field.case_sensitive = flag("caseSensitive");
    field.id_lookup = field.unique || field.external_id;
    field.access = FieldAccess {
        readable: false,
        editable: false,
    };
    Ok((def.name.clone(), field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn developer_names_follow_salesforce_rules() {
        assert!(valid_developer_name("plezi_url"));
        assert!(!valid_developer_name("1abc"));
        assert!(!valid_developer_name("a__b"));
        assert!(!valid_developer_name("abc_"));
        assert!(!valid_developer_name("has space"));
        assert!(!valid_developer_name(&"a".repeat(41)));
    }
}
