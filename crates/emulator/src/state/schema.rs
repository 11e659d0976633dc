//! sObject and field metadata: what `describe` reports and what writes are validated against.
//!
//! The standard objects (Lead, Contact, Account, User, Organization) follow the real v59 describes
//! summarised in salesforce-api.md §12. Invariants: field names are unique per object ignoring
//! case; `ObjectDef::field` looks names up case-insensitively and returns the canonical spelling;
//! a field the integration user cannot read (field-level security, §12.4) is invisible to every
//! API path (describe, writes, queries) even though its definition exists.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The describe `type` of a field (§3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    Id,
    String,
    Boolean,
    Int,
    Double,
    Currency,
    Percent,
    Date,
    DateTime,
    Picklist,
    MultiPicklist,
    Email,
    Phone,
    Url,
    TextArea,
    Reference,
    /// Compound, read-only address field (`Address`, `MailingAddress`).
    Address,
}

impl FieldType {
    /// The describe `type` string.
    pub fn api_name(self) -> &'static str {
        match self {
            FieldType::Id => "id",
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
            FieldType::Int => "int",
            FieldType::Double => "double",
            FieldType::Currency => "currency",
            FieldType::Percent => "percent",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
            FieldType::Picklist => "picklist",
            FieldType::MultiPicklist => "multipicklist",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::TextArea => "textarea",
            FieldType::Reference => "reference",
            FieldType::Address => "address",
        }
    }

    /// The describe `soapType` string.
    pub fn soap_type(self) -> &'static str {
        match self {
            FieldType::Id | FieldType::Reference => "tns:ID",
            FieldType::Boolean => "xsd:boolean",
            FieldType::Int => "xsd:int",
            FieldType::Double | FieldType::Currency | FieldType::Percent => "xsd:double",
            FieldType::Date => "xsd:date",
            FieldType::DateTime => "xsd:dateTime",
            FieldType::Address => "urn:address",
            _ => "xsd:string",
        }
    }

    /// Whether values are stored as JSON strings with a maximum length.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            FieldType::String
                | FieldType::Picklist
                | FieldType::MultiPicklist
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Url
                | FieldType::TextArea
        )
    }

    fn default_length(self) -> u32 {
        match self {
            FieldType::Id | FieldType::Reference => 18,
            FieldType::Phone => 40,
            FieldType::Email => 80,
            FieldType::TextArea => 32000,
            FieldType::MultiPicklist => 4099,
            t if t.is_text() => 255,
            _ => 0,
        }
    }
}

/// One picklist entry of a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PicklistEntry {
    pub value: String,
    pub label: String,
    pub default: bool,
    pub active: bool,
}

/// What the integration user may do with a field (field-level security, §12.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldAccess {
    pub readable: bool,
    pub editable: bool,
}

/// A field definition: the metadata describe reports and writes are checked against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    pub name: String,
    pub label: String,
    pub field_type: FieldType,
    /// Maximum characters for text types, 18 for ids, 0 otherwise.
    pub length: u32,
    pub precision: u32,
    pub scale: u32,
    /// Maximum digits for `int` fields.
    pub digits: u32,
    pub nillable: bool,
    pub createable: bool,
    pub updateable: bool,
    pub defaulted_on_create: bool,
    /// The value a new record gets when the field is omitted (only when `defaulted_on_create`).
    pub default_value: Value,
    pub picklist: Vec<PicklistEntry>,
    pub restricted_picklist: bool,
    pub reference_to: Vec<String>,
    pub relationship_name: Option<String>,
    pub external_id: bool,
    pub unique: bool,
    pub case_sensitive: bool,
    pub id_lookup: bool,
    pub name_field: bool,
    pub custom: bool,
    /// Computed by the emulator (e.g. `Name` from first and last name); never written directly.
    pub calculated: bool,
    pub html_formatted: bool,
    /// Id of the CustomField definition (`00N…`) for custom fields.
    pub definition_id: Option<String>,
    pub access: FieldAccess,
}

impl FieldDef {
    /// A nillable, createable, updateable field of type `field_type` with that type's usual size.
    pub fn new(name: &str, label: &str, field_type: FieldType) -> Self {
        let (precision, scale, digits) = match field_type {
            FieldType::Currency => (18, 2, 0),
            FieldType::Double | FieldType::Percent => (18, 0, 0),
            FieldType::Int => (0, 0, 9),
            _ => (0, 0, 0),
        };
        FieldDef {
            name: name.to_owned(),
            label: label.to_owned(),
            field_type,
            length: field_type.default_length(),
            precision,
            scale,
            digits,
            nillable: field_type != FieldType::Boolean,
            createable: true,
            updateable: true,
            defaulted_on_create: field_type == FieldType::Boolean,
            default_value: if field_type == FieldType::Boolean {
                json!(false)
            } else {
                Value::Null
            },
            picklist: Vec::new(),
            restricted_picklist: false,
            reference_to: Vec::new(),
            relationship_name: None,
            external_id: false,
            unique: false,
            case_sensitive: false,
            id_lookup: false,
            name_field: false,
            custom: name.ends_with("__c"),
            calculated: false,
            html_formatted: false,
            definition_id: None,
            access: FieldAccess {
                readable: true,
                editable: true,
            },
        }
    }

    /// Sets the maximum length.
    pub fn len(mut self, length: u32) -> Self {
        self.length = length;
        self
    }

    /// Not nillable, no default: a create without it fails with REQUIRED_FIELD_MISSING.
    pub fn required(mut self) -> Self {
        self.nillable = false;
        self
    }

    /// Neither createable nor updateable (system or computed fields).
    pub fn read_only(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self
    }

    /// Createable but not updateable.
    pub fn create_only(mut self) -> Self {
        self.updateable = false;
        self
    }

    /// Gets `value` when omitted on create.
    pub fn defaulted(mut self, value: Value) -> Self {
        self.defaulted_on_create = true;
        self.default_value = value;
        self
    }

    /// Picklist values; the one named `default` (if any) is the default on create.
    pub fn picklist(mut self, values: &[&str], default: Option<&str>, restricted: bool) -> Self {
        self.picklist = values
            .iter()
            .map(|v| PicklistEntry {
                value: (*v).to_owned(),
                label: (*v).to_owned(),
                default: Some(*v) == default,
                active: true,
            })
            .collect();
        self.restricted_picklist = restricted;
        if let Some(d) = default {
            self = self.defaulted(Value::String(d.to_owned()));
        }
        self
    }

    /// A lookup to `targets`, with the given relationship name.
    pub fn references(mut self, targets: &[&str], relationship: &str) -> Self {
        self.reference_to = targets.iter().map(|t| (*t).to_owned()).collect();
        self.relationship_name = Some(relationship.to_owned());
        self
    }

    /// Usable as an `idLookup` (Email, Username, Name…).
    pub fn id_lookup(mut self) -> Self {
        self.id_lookup = true;
        self
    }

    /// The object's name field.
    pub fn name_field(mut self) -> Self {
        self.name_field = true;
        self.id_lookup = true;
        self
    }

    /// Computed by the emulator, read-only.
    pub fn calculated(mut self) -> Self {
        self.calculated = true;
        self.read_only()
    }

    /// The describe entry for this field.
    pub fn describe(&self) -> lb_wire::FieldDescribe {
        let t = self.field_type;
        let is_textual = t.is_text() || matches!(t, FieldType::Id | FieldType::Reference);
        let filterable = !matches!(t, FieldType::TextArea | FieldType::Address);
        lb_wire::FieldDescribe {
            aggregatable: filterable && t != FieldType::Boolean,
            ai_prediction_field: false,
            auto_number: false,
            byte_length: if is_textual { self.length * 3 } else { 0 },
            calculated: self.calculated,
            calculated_formula: None,
            cascade_delete: false,
            case_sensitive: self.case_sensitive,
            compound_field_name: None,
            controller_name: None,
            createable: self.createable && self.access.editable,
            custom: self.custom,
            default_value: self.default_value.clone(),
            default_value_formula: None,
            defaulted_on_create: self.defaulted_on_create,
            dependent_picklist: false,
            deprecated_and_hidden: false,
            digits: self.digits,
            display_location_in_decimal: false,
            encrypted: false,
            external_id: self.external_id,
            extra_type_info: match (t, self.html_formatted) {
                (FieldType::TextArea, true) => Some("richtextarea".into()),
                (FieldType::TextArea, false) if self.length > 255 => Some("plaintextarea".into()),
                (FieldType::Address, _) | (FieldType::Id, _) => None,
                _ => None,
            },
            filterable,
            filtered_lookup_info: None,
            formula_treat_null_number_as_zero: false,
            groupable: filterable
                && !matches!(
                    t,
                    FieldType::Double
                        | FieldType::Currency
                        | FieldType::Percent
                        | FieldType::DateTime
                ),
            high_scale_number: false,
            html_formatted: self.html_formatted,
            id_lookup: self.id_lookup || t == FieldType::Id,
            inline_help_text: None,
            label: self.label.clone(),
            length: if is_textual { self.length } else { 0 },
            mask: None,
            mask_type: None,
            name: self.name.clone(),
            name_field: self.name_field,
            name_pointing: false,
            nillable: self.nillable,
            permissionable: self.nillable && self.createable && !self.calculated,
            picklist_values: self
                .picklist
                .iter()
                .map(|p| lb_wire::PicklistValue {
                    active: p.active,
                    default_value: p.default,
                    label: p.label.clone(),
                    valid_for: None,
                    value: p.value.clone(),
                })
                .collect(),
            polymorphic_foreign_key: self.reference_to.len() > 1,
            precision: self.precision,
            query_by_distance: false,
            reference_target_field: None,
            reference_to: self.reference_to.clone(),
            relationship_name: self.relationship_name.clone(),
            relationship_order: None,
            restricted_delete: false,
            restricted_picklist: self.restricted_picklist,
            scale: self.scale,
            search_prefilterable: false,
            soap_type: t.soap_type().to_owned(),
            sortable: filterable,
            field_type: t.api_name().to_owned(),
            unique: self.unique,
            updateable: self.updateable && self.access.editable,
            write_requires_master_read: false,
        }
    }
}

/// An sObject type: its flags and fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectDef {
    pub name: String,
    pub label: String,
    pub label_plural: String,
    pub key_prefix: String,
    pub createable: bool,
    pub updateable: bool,
    pub deletable: bool,
    pub custom: bool,
    pub fields: Vec<FieldDef>,
    /// Lower-cased field name → index in `fields`. Rebuilt by [`ObjectDef::reindex`].
    #[serde(skip)]
    field_index: HashMap<String, usize>,
}

impl ObjectDef {
    /// An object with the given fields (the audit fields are added by the caller).
    pub fn new(name: &str, label: &str, plural: &str, prefix: &str, fields: Vec<FieldDef>) -> Self {
        let mut def = ObjectDef {
            name: name.to_owned(),
            label: label.to_owned(),
            label_plural: plural.to_owned(),
            key_prefix: prefix.to_owned(),
            createable: true,
            updateable: true,
            deletable: true,
            custom: name.ends_with("__c"),
            fields,
            field_index: HashMap::new(),
        };
        def.reindex();
        def
    }

    /// Rebuilds the case-insensitive name index (after deserialising or adding a field).
    pub fn reindex(&mut self) {
        self.field_index = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.to_ascii_lowercase(), i))
            .collect();
    }

    /// The field named `name` (any case), including fields hidden by field-level security.
    pub fn field_any(&self, name: &str) -> Option<&FieldDef> {
        let i = if let Some(i) = self.field_index.get(name) {
            *i
        } else {
            *self.field_index.get(&name.to_ascii_lowercase())?
        };
        self.fields.get(i)
    }

    /// The field named `name` (any case) if the integration user can read it.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.field_any(name).filter(|f| f.access.readable)
    }

    /// Mutable access to a field definition (any visibility).
    pub fn field_mut(&mut self, name: &str) -> Option<&mut FieldDef> {
        let i = *self.field_index.get(&name.to_ascii_lowercase())?;
        self.fields.get_mut(i)
    }

    /// Adds a field; refuses a name already taken (any case), handing the field back.
    #[allow(
        clippy::result_large_err,
        reason = "the refused field is given back whole, once"
    )]
    pub fn add_field(&mut self, field: FieldDef) -> Result<(), FieldDef> {
        if self
            .field_index
            .contains_key(&field.name.to_ascii_lowercase())
        {
            return Err(field);
        }
        self.fields.push(field);
        self.reindex();
        Ok(())
    }

    /// The fields the integration user can read, in definition order.
    pub fn visible_fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter().filter(|f| f.access.readable)
    }

    /// Whether this object has an `OwnerId` (defaulted to the running user on create).
    pub fn has_owner(&self) -> bool {
        self.field_any("OwnerId").is_some()
    }

    /// Global-describe summary (§3.1).
    pub fn summary(&self, version: &str) -> lb_wire::SObjectSummary {
        let base = format!("/services/data/v{version}/sobjects/{}", self.name);
        let mut urls = serde_json::Map::new();
        urls.insert(
            "rowTemplate".into(),
            Value::String(format!("{base}/{{ID}}")),
        );
        urls.insert(
            "defaultValues".into(),
            Value::String(format!("{base}/defaultValues?recordTypeId&fields")),
        );
        urls.insert("describe".into(), Value::String(format!("{base}/describe")));
        urls.insert("sobject".into(), Value::String(base.clone()));
        let system = matches!(self.name.as_str(), "Organization" | "User");
        lb_wire::SObjectSummary {
            activateable: false,
            associate_entity_type: None,
            associate_parent_entity: None,
            createable: self.createable,
            custom: self.custom,
            custom_setting: false,
            deep_cloneable: false,
            deletable: self.deletable,
            deprecated_and_hidden: false,
            feed_enabled: !system,
            has_subtypes: false,
            is_interface: false,
            is_subtype: false,
            key_prefix: Some(self.key_prefix.clone()),
            label: self.label.clone(),
            label_plural: self.label_plural.clone(),
            layoutable: self.name != "Organization",
            mergeable: matches!(self.name.as_str(), "Lead" | "Contact" | "Account"),
            mru_enabled: self.name != "Organization",
            name: self.name.clone(),
            queryable: true,
            replicateable: true,
            retrieveable: true,
            searchable: self.name != "Organization",
            triggerable: self.name != "Organization",
            undeletable: self.deletable,
            updateable: self.updateable,
            urls,
        }
    }

    /// Full describe (§3.2): only the fields the integration user can read.
    pub fn describe(&self, version: &str) -> lb_wire::SObjectDescribe {
        let summary = self.summary(version);
        let scopes: Vec<Value> = if self.has_owner() {
            vec![
                json!({"label": format!("All {}", self.label_plural.to_lowercase()), "name": "everything"}),
                json!({"label": format!("My {}", self.label_plural.to_lowercase()), "name": "mine"}),
                json!({"label": "My team's", "name": "team"}),
            ]
        } else {
            vec![
                json!({"label": format!("All {}", self.label_plural.to_lowercase()), "name": "everything"}),
            ]
        };
        let record_type_infos = if matches!(self.name.as_str(), "Organization" | "User") {
            Vec::new()
        } else {
            let mut urls = serde_json::Map::new();
            urls.insert(
                "layout".into(),
                Value::String(format!(
                    "/services/data/v{version}/sobjects/{}/describe/layouts/012000000000000AAA",
                    self.name
                )),
            );
            vec![lb_wire::RecordTypeInfo {
                active: true,
                available: true,
                default_record_type_mapping: true,
                developer_name: "Master".into(),
                master: true,
                name: "Master".into(),
                record_type_id: "012000000000000AAA".into(),
                urls,
            }]
        };
        lb_wire::SObjectDescribe {
            summary,
            action_overrides: Vec::new(),
            child_relationships: Vec::new(),
            compact_layoutable: self.name != "Organization",
            fields: self.visible_fields().map(FieldDef::describe).collect(),
            listviewable: None,
            lookup_layoutable: None,
            named_layout_infos: Vec::new(),
            network_scope_field_name: None,
            record_type_infos,
            search_layoutable: self.name != "Organization",
            supported_scopes: scopes,
        }
    }
}

use FieldType as T;

fn audit_fields(with_owner: bool) -> Vec<FieldDef> {
    let mut f = Vec::new();
    if with_owner {
        f.push(
            FieldDef::new("OwnerId", "Owner ID", T::Reference)
                .references(&["Group", "User"], "Owner")
                .required()
                .defaulted(Value::Null),
        );
    }
    f.push(FieldDef::new("IsDeleted", "Deleted", T::Boolean).read_only());
    f.push(
        FieldDef::new("CreatedDate", "Created Date", T::DateTime)
            .read_only()
            .defaulted(Value::Null)
            .required(),
    );
    f.push(
        FieldDef::new("CreatedById", "Created By ID", T::Reference)
            .references(&["User"], "CreatedBy")
            .read_only()
            .defaulted(Value::Null)
            .required(),
    );
    f.push(
        FieldDef::new("LastModifiedDate", "Last Modified Date", T::DateTime)
            .read_only()
            .defaulted(Value::Null)
            .required(),
    );
    f.push(
        FieldDef::new("LastModifiedById", "Last Modified By ID", T::Reference)
            .references(&["User"], "LastModifiedBy")
            .read_only()
            .defaulted(Value::Null)
            .required(),
    );
    f.push(
        FieldDef::new("SystemModstamp", "System Modstamp", T::DateTime)
            .read_only()
            .defaulted(Value::Null)
            .required(),
    );
    f
}

fn id_field(label: &str) -> FieldDef {
    FieldDef::new("Id", &format!("{label} ID"), T::Id)
        .read_only()
        .defaulted(Value::Null)
        .required()
}

const SALUTATIONS: &[&str] = &["Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx."];
const LEAD_SOURCES: &[&str] = &[
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
];
const INDUSTRIES: &[&str] = &[
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
];
/// The default Lead Status values of a new org; the first is the default (§12.1).
pub const LEAD_STATUSES: &[&str] = &[
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
];

fn address_fields(prefix: &str, label_prefix: &str) -> Vec<FieldDef> {
    let l = |s: &str| {
        if label_prefix.is_empty() {
            s.to_owned()
        } else {
            format!("{label_prefix} {s}")
        }
    };
    vec![
        FieldDef::new(&format!("{prefix}Street"), &l("Street"), T::TextArea).len(255),
        FieldDef::new(&format!("{prefix}City"), &l("City"), T::String).len(40),
        FieldDef::new(&format!("{prefix}State"), &l("State/Province"), T::String).len(80),
        FieldDef::new(
            &format!("{prefix}PostalCode"),
            &l("Zip/Postal Code"),
            T::String,
        )
        .len(20),
        FieldDef::new(&format!("{prefix}Country"), &l("Country"), T::String).len(80),
        FieldDef::new(&format!("{prefix}Latitude"), &l("Latitude"), T::Double),
        FieldDef::new(&format!("{prefix}Longitude"), &l("Longitude"), T::Double),
        FieldDef::new(
            &format!("{prefix}GeocodeAccuracy"),
            &l("Geocode Accuracy"),
            T::Picklist,
        )
        .picklist(
            &[
                "Address",
                "NearAddress",
                "Block",
                "Street",
                "ExtendedZip",
                "Zip",
                "Neighborhood",
                "City",
                "County",
                "State",
                "Unknown",
            ],
            None,
            true,
        )
        .len(40),
        FieldDef::new(&format!("{prefix}Address"), &l("Address"), T::Address).read_only(),
    ]
}

fn lead() -> ObjectDef {
    let mut f = vec![
        id_field("Lead"),
        FieldDef::new("MasterRecordId", "Master Record ID", T::Reference)
            .references(&["Lead"], "MasterRecord")
            .read_only(),
        FieldDef::new("LastName", "Last Name", T::String)
            .len(80)
            .required(),
        FieldDef::new("FirstName", "First Name", T::String).len(40),
        FieldDef::new("Salutation", "Salutation", T::Picklist)
            .picklist(SALUTATIONS, None, false)
            .len(40),
        FieldDef::new("Name", "Full Name", T::String)
            .len(121)
            .name_field()
            .calculated(),
        FieldDef::new("Title", "Title", T::String).len(128),
        FieldDef::new("Company", "Company", T::String)
            .len(255)
            .required(),
    ];
    f.extend(address_fields("", ""));
    f.extend([
        FieldDef::new("Phone", "Phone", T::Phone),
        FieldDef::new("MobilePhone", "Mobile Phone", T::Phone),
        FieldDef::new("Fax", "Fax", T::Phone),
        FieldDef::new("Email", "Email", T::Email).id_lookup(),
        FieldDef::new("Website", "Website", T::Url),
        FieldDef::new("PhotoUrl", "Photo URL", T::Url).read_only(),
        FieldDef::new("Description", "Description", T::TextArea),
        FieldDef::new("LeadSource", "Lead Source", T::Picklist).picklist(LEAD_SOURCES, None, false),
        FieldDef::new("Status", "Status", T::Picklist)
            .picklist(LEAD_STATUSES, Some(LEAD_STATUSES[0]), true)
            .required(),
        FieldDef::new("Industry", "Industry", T::Picklist).picklist(INDUSTRIES, None, false),
        FieldDef::new("Rating", "Rating", T::Picklist).picklist(
            &["Hot", "Warm", "Cold"],
            None,
            false,
        ),
        FieldDef::new("AnnualRevenue", "Annual Revenue", T::Currency),
        FieldDef::new("NumberOfEmployees", "Employees", T::Int).len(0),
        FieldDef::new("HasOptedOutOfEmail", "Email Opt Out", T::Boolean),
        FieldDef::new("HasOptedOutOfFax", "Fax Opt Out", T::Boolean),
        FieldDef::new("DoNotCall", "Do Not Call", T::Boolean),
        FieldDef::new("IsConverted", "Converted", T::Boolean).create_only(),
        FieldDef::new("ConvertedDate", "Converted Date", T::Date).read_only(),
        FieldDef::new("ConvertedAccountId", "Converted Account ID", T::Reference)
            .references(&["Account"], "ConvertedAccount")
            .read_only(),
        FieldDef::new("ConvertedContactId", "Converted Contact ID", T::Reference)
            .references(&["Contact"], "ConvertedContact")
            .read_only(),
        FieldDef::new(
            "ConvertedOpportunityId",
            "Converted Opportunity ID",
            T::Reference,
        )
        .references(&["Opportunity"], "ConvertedOpportunity")
        .read_only(),
        FieldDef::new("IsUnreadByOwner", "Unread By Owner", T::Boolean),
        FieldDef::new("LastActivityDate", "Last Activity", T::Date).read_only(),
        FieldDef::new("LastViewedDate", "Last Viewed Date", T::DateTime).read_only(),
        FieldDef::new("LastReferencedDate", "Last Referenced Date", T::DateTime).read_only(),
        FieldDef::new("EmailBouncedReason", "Email Bounced Reason", T::String),
        FieldDef::new("EmailBouncedDate", "Email Bounced Date", T::DateTime),
    ]);
    f.extend(audit_fields(true));
    ObjectDef::new("Lead", "Lead", "Leads", "00Q", f)
}

fn contact() -> ObjectDef {
    let mut f = vec![
        id_field("Contact"),
        FieldDef::new("MasterRecordId", "Master Record ID", T::Reference)
            .references(&["Contact"], "MasterRecord")
            .read_only(),
        FieldDef::new("AccountId", "Account ID", T::Reference).references(&["Account"], "Account"),
        FieldDef::new("LastName", "Last Name", T::String)
            .len(80)
            .required(),
        FieldDef::new("FirstName", "First Name", T::String).len(40),
        FieldDef::new("Salutation", "Salutation", T::Picklist)
            .picklist(SALUTATIONS, None, false)
            .len(40),
        FieldDef::new("Name", "Full Name", T::String)
            .len(121)
            .name_field()
            .calculated(),
    ];
    f.extend(address_fields("Other", "Other"));
    f.extend(address_fields("Mailing", "Mailing"));
    f.extend([
        FieldDef::new("Phone", "Business Phone", T::Phone),
        FieldDef::new("Fax", "Business Fax", T::Phone),
        FieldDef::new("MobilePhone", "Mobile Phone", T::Phone),
        FieldDef::new("HomePhone", "Home Phone", T::Phone),
        FieldDef::new("OtherPhone", "Other Phone", T::Phone),
        FieldDef::new("ReportsToId", "Reports To ID", T::Reference)
            .references(&["Contact"], "ReportsTo"),
        FieldDef::new("Email", "Email", T::Email).id_lookup(),
        FieldDef::new("Title", "Title", T::String).len(128),
        FieldDef::new("Department", "Department", T::String).len(80),
        FieldDef::new("LeadSource", "Lead Source", T::Picklist).picklist(LEAD_SOURCES, None, false),
        FieldDef::new("Birthdate", "Birthdate", T::Date),
        FieldDef::new("Description", "Contact Description", T::TextArea),
        FieldDef::new("HasOptedOutOfEmail", "Email Opt Out", T::Boolean),
        FieldDef::new("HasOptedOutOfFax", "Fax Opt Out", T::Boolean),
        FieldDef::new("DoNotCall", "Do Not Call", T::Boolean),
        FieldDef::new("LastActivityDate", "Last Activity", T::Date).read_only(),
        FieldDef::new("LastViewedDate", "Last Viewed Date", T::DateTime).read_only(),
        FieldDef::new("LastReferencedDate", "Last Referenced Date", T::DateTime).read_only(),
        FieldDef::new("EmailBouncedReason", "Email Bounced Reason", T::String),
        FieldDef::new("EmailBouncedDate", "Email Bounced Date", T::DateTime),
        FieldDef::new("IsEmailBounced", "Is Email Bounced", T::Boolean),
    ]);
    f.extend(audit_fields(true));
    ObjectDef::new("Contact", "Contact", "Contacts", "003", f)
}

fn account() -> ObjectDef {
    let mut f = vec![
        id_field("Account"),
        FieldDef::new("MasterRecordId", "Master Record ID", T::Reference)
            .references(&["Account"], "MasterRecord")
            .read_only(),
        FieldDef::new("Name", "Account Name", T::String)
            .len(255)
            .required()
            .name_field(),
        FieldDef::new("Type", "Account Type", T::Picklist).picklist(
            &[
                "Prospect",
                "Customer - Direct",
                "Customer - Channel",
                "Channel Partner / Reseller",
                "Installation Partner",
                "Technology Partner",
                "Other",
            ],
            None,
            false,
        ),
        FieldDef::new("ParentId", "Parent Account ID", T::Reference)
            .references(&["Account"], "Parent"),
    ];
    f.extend(address_fields("Billing", "Billing"));
    f.extend(address_fields("Shipping", "Shipping"));
    f.extend([
        FieldDef::new("Phone", "Account Phone", T::Phone),
        FieldDef::new("Fax", "Account Fax", T::Phone),
        FieldDef::new("AccountNumber", "Account Number", T::String).len(40),
        FieldDef::new("Website", "Website", T::Url),
        FieldDef::new("Industry", "Industry", T::Picklist).picklist(INDUSTRIES, None, false),
        FieldDef::new("AnnualRevenue", "Annual Revenue", T::Currency),
        FieldDef::new("NumberOfEmployees", "Employees", T::Int).len(0),
        FieldDef::new("Description", "Account Description", T::TextArea),
        FieldDef::new("LastActivityDate", "Last Activity", T::Date).read_only(),
        FieldDef::new("LastViewedDate", "Last Viewed Date", T::DateTime).read_only(),
        FieldDef::new("LastReferencedDate", "Last Referenced Date", T::DateTime).read_only(),
    ]);
    f.extend(audit_fields(true));
    ObjectDef::new("Account", "Account", "Accounts", "001", f)
}

fn user() -> ObjectDef {
    let mut f = vec![
        id_field("User"),
        FieldDef::new("Username", "Username", T::String)
            .len(80)
            .required()
            .id_lookup(),
        FieldDef::new("LastName", "Last Name", T::String)
            .len(80)
            .required(),
        FieldDef::new("FirstName", "First Name", T::String).len(40),
        FieldDef::new("Name", "Full Name", T::String)
            .len(121)
            .name_field()
            .calculated(),
        FieldDef::new("CompanyName", "Company Name", T::String).len(80),
        FieldDef::new("Title", "Title", T::String).len(80),
        FieldDef::new("Email", "Email", T::Email)
            .len(128)
            .required(),
        FieldDef::new("Alias", "Alias", T::String).len(8).required(),
        FieldDef::new("IsActive", "Active", T::Boolean).defaulted(json!(true)),
        FieldDef::new("TimeZoneSidKey", "Time Zone", T::Picklist)
            .picklist(&["Europe/Paris", "America/Los_Angeles", "GMT"], None, true)
            .len(40)
            .required(),
        FieldDef::new("LocaleSidKey", "Locale", T::Picklist)
            .picklist(&["fr_FR", "en_US", "en_GB"], None, true)
            .len(40)
            .required(),
        FieldDef::new("EmailEncodingKey", "Email Encoding", T::Picklist)
            .picklist(&["UTF-8", "ISO-8859-1"], None, true)
            .len(40)
            .required(),
        FieldDef::new("LanguageLocaleKey", "Language", T::Picklist)
            .picklist(&["fr", "en_US"], None, true)
            .len(40)
            .required(),
        FieldDef::new("ProfileId", "Profile ID", T::Reference)
            .references(&["Profile"], "Profile")
            .required(),
        FieldDef::new("UserType", "User Type", T::Picklist)
            .picklist(
                &[
                    "Standard",
                    "PowerPartner",
                    "CspLitePortal",
                    "CsnOnly",
                    "Guest",
                ],
                None,
                true,
            )
            .len(40)
            .read_only(),
    ];
    f.extend(audit_fields(false));
    let mut o = ObjectDef::new("User", "User", "Users", "005", f);
    o.deletable = false;
    o
}

fn organization() -> ObjectDef {
    let mut f = vec![
        id_field("Organization"),
        FieldDef::new("Name", "Name", T::String)
            .len(80)
            .required()
            .name_field(),
        FieldDef::new("Division", "Division", T::String).len(80),
        FieldDef::new("Country", "Country", T::String).len(80),
        FieldDef::new("PrimaryContact", "Primary Contact", T::String).len(80),
        FieldDef::new("DefaultLocaleSidKey", "Locale", T::Picklist)
            .picklist(&["fr_FR", "en_US"], None, true)
            .len(40)
            .required(),
        FieldDef::new("LanguageLocaleKey", "Language", T::Picklist)
            .picklist(&["fr", "en_US"], None, true)
            .len(40)
            .required(),
        FieldDef::new("TimeZoneSidKey", "Time Zone", T::Picklist)
            .picklist(&["Europe/Paris", "GMT"], None, true)
            .len(40)
            .required(),
        FieldDef::new("OrganizationType", "Edition", T::Picklist)
            .picklist(
                &[
                    "Team Edition",
                    "Professional Edition",
                    "Enterprise Edition",
                    "Developer Edition",
                    "Personal Edition",
                    "Unlimited Edition",
                    "Contact Manager Edition",
                    "Base Edition",
                ],
                None,
                true,
            )
            .len(40)
            .read_only(),
        FieldDef::new("InstanceName", "Instance Name", T::String)
            .len(5)
            .read_only(),
        FieldDef::new("IsSandbox", "Is Sandbox", T::Boolean).read_only(),
        FieldDef::new("TrialExpirationDate", "Trial Expiration Date", T::DateTime).read_only(),
        FieldDef::new("NamespacePrefix", "Namespace Prefix", T::String)
            .len(15)
            .read_only(),
    ];
    f.extend(audit_fields(false));
    let mut o = ObjectDef::new("Organization", "Organization", "Organizations", "00D", f);
    o.createable = false;
    o.deletable = false;
    o
}

/// The standard objects every emulated org starts with.
pub fn standard_objects() -> Vec<ObjectDef> {
    vec![account(), contact(), lead(), organization(), user()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_status_defaults_to_open_not_contacted() {
        let lead = lead();
        let status = lead.field("status").expect("Status exists");
        assert_eq!(status.name, "Status");
        assert!(status.defaulted_on_create && status.restricted_picklist && !status.nillable);
        assert_eq!(status.default_value, json!("Open - Not Contacted"));
    }

    #[test]
    fn hidden_fields_are_not_found_nor_described() {
        let mut lead = lead();
        let mut f = FieldDef::new("plezi_url__c", "Plezi URL", T::Url);
        f.access = FieldAccess {
            readable: false,
            editable: false,
        };
        lead.add_field(f).expect("new field");
        assert!(lead.field("PLEZI_URL__C").is_none());
        assert!(lead.field_any("PLEZI_URL__C").is_some());
        assert!(
            !lead
                .describe("66.0")
                .fields
                .iter()
                .any(|f| f.name == "plezi_url__c")
        );
    }
}
