//! Lead conversion, as SOAP `convertLead()` performs it (salesforce-api.md §12.5; REST offers no
//! conversion resource).
//!
//! Invariants:
//! - A conversion is all or nothing: the Account, the Contact and the Lead change together or
//!   not at all (one [`Org::begin`] bracket).
//! - The converted Lead gets `IsConverted = true`, `ConvertedDate` (today, UTC),
//!   `ConvertedAccountId`, `ConvertedContactId` and the converted status; those fields stay
//!   read-only to the API, and later updates of the Lead fail with
//!   `CANNOT_UPDATE_CONVERTED_LEAD`.
//! - New records take the Lead's standard values (Company → Account Name, address → Billing /
//!   Mailing address, …); merging into an existing Account or Contact only fills its empty
//!   fields, except `LeadSource` with `overwriteLeadSource`.
//! - The emulated org has no Opportunity object: no opportunity is ever created and
//!   `opportunityId` is null, whatever `doNotCreateOpportunity` says.

use lb_wire::ApiError;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::setup::CONVERTED_STATUS;
use super::{Org, format_date};

/// One `leadConverts` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadConvert {
    pub lead_id: String,
    pub converted_status: Option<String>,
    pub account_id: Option<String>,
    pub contact_id: Option<String>,
    pub owner_id: Option<String>,
    pub overwrite_lead_source: bool,
    pub do_not_create_opportunity: bool,
}

/// What a successful conversion produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub lead_id: String,
    pub account_id: String,
    pub contact_id: String,
}

/// Lead field → Account field for a new or merged Account.
const TO_ACCOUNT: &[(&str, &str)] = &[
    ("Company", "Name"),
    ("Street", "BillingStreet"),
    ("City", "BillingCity"),
    ("State", "BillingState"),
    ("PostalCode", "BillingPostalCode"),
    ("Country", "BillingCountry"),
    ("Phone", "Phone"),
    ("Fax", "Fax"),
    ("Website", "Website"),
    ("Industry", "Industry"),
    ("AnnualRevenue", "AnnualRevenue"),
    ("NumberOfEmployees", "NumberOfEmployees"),
];

/// Lead field → Contact field for a new or merged Contact.
const TO_CONTACT: &[(&str, &str)] = &[
    ("Salutation", "Salutation"),
    ("FirstName", "FirstName"),
    ("LastName", "LastName"),
    ("Title", "Title"),
    ("Email", "Email"),
    ("Phone", "Phone"),
    ("MobilePhone", "MobilePhone"),
    ("Fax", "Fax"),
    ("LeadSource", "LeadSource"),
    ("Description", "Description"),
    ("Street", "MailingStreet"),
    ("City", "MailingCity"),
    ("State", "MailingState"),
    ("PostalCode", "MailingPostalCode"),
    ("Country", "MailingCountry"),
    ("HasOptedOutOfEmail", "HasOptedOutOfEmail"),
    ("HasOptedOutOfFax", "HasOptedOutOfFax"),
    ("DoNotCall", "DoNotCall"),
];

fn err(code: &str, message: impl Into<String>, fields: &[&str]) -> ApiError {
    ApiError::with_fields(
        code,
        message,
        fields.iter().map(|f| (*f).to_owned()).collect(),
    )
}

/// Values of `lead` mapped onto `target` fields that exist there and are writable; with
/// `only_empty`, only fields `existing` leaves empty (merging).
fn mapped(
    org: &Org,
    lead: &Map<String, Value>,
    target: &str,
    map: &[(&str, &str)],
    existing: Option<&Map<String, Value>>,
    overwrite: &[&str],
) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(def) = org.object(target) else {
        return out;
    };
    for (from, to) in map {
        let Some(v) = lead.get(*from).filter(|v| !v.is_null()) else {
            continue;
        };
        let Some(f) = def.field(to).filter(|f| f.access.editable && f.createable) else {
            continue;
        };
        if let Some(rec) = existing {
            let empty = rec
                .get(&f.name)
                .is_none_or(|x| x.is_null() || x == &Value::String(String::new()));
            if !empty && !overwrite.contains(to) {
                continue;
            }
            if !f.updateable {
                continue;
            }
        }
        out.insert(f.name.clone(), v.clone());
    }
    out
}

fn dml(e: super::DmlError) -> ApiError {
    e.errors
        .into_iter()
        .next()
        .unwrap_or_else(|| ApiError::new("UNKNOWN_EXCEPTION", "conversion failed"))
}

impl Org {
    /// Converts one Lead (see the module docs). Errors are the `LeadConvertResult.errors` a
    /// SOAP client would get.
    pub fn convert_lead(&mut self, c: &LeadConvert) -> Result<Converted, ApiError> {
        let sp = self.begin();
        match self.convert_inner(c) {
            Ok(done) => {
                self.commit();
                Ok(done)
            }
            Err(e) => {
                self.rollback(sp);
                Err(e)
            }
        }
    }

    fn convert_inner(&mut self, c: &LeadConvert) -> Result<Converted, ApiError> {
        let lead = self
            .get("Lead", &c.lead_id)
            .map_err(|_| {
                err(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id",
                    &["leadId"],
                )
            })?
            .clone();
        if lead.get("IsConverted") == Some(&Value::Bool(true)) {
            return Err(err(
                "CANNOT_UPDATE_CONVERTED_LEAD",
                "cannot reference converted lead",
                &["leadId"],
            ));
        }
        let status = c.converted_status.clone().unwrap_or_default();
        let converted_statuses: Vec<String> = self
            .table("LeadStatus")
            .map(|t| {
                t.rows()
                    .iter()
                    .filter(|r| r.get("IsConverted") == Some(&Value::Bool(true)))
                    .filter_map(|r| {
                        r.get("MasterLabel")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_else(|| vec![CONVERTED_STATUS.to_owned()]);
        let Some(status) = converted_statuses
            .iter()
            .find(|s| s.eq_ignore_ascii_case(&status))
            .cloned()
        else {
            return Err(err(
                "INVALID_STATUS",
                format!("invalid convertedStatus: {status}"),
                &["convertedStatus"],
            ));
        };
        let lead_source = ["LeadSource"];
        let overwrite: &[&str] = if c.overwrite_lead_source {
            &lead_source
        } else {
            &[]
        };

        // Account: merge into the given one, else create from the Lead.
        let account_id = match &c.account_id {
            Some(id) => {
                let existing = self
                    .get("Account", id)
                    .map_err(|_| {
                        err(
                            "INVALID_CROSS_REFERENCE_KEY",
                            "invalid cross reference id",
                            &["accountId"],
                        )
                    })?
                    .clone();
                let body = mapped(
                    self,
                    &lead,
                    "Account",
                    TO_ACCOUNT,
                    Some(&existing),
                    overwrite,
                );
                let mut body = body;
                body.remove("Name");
                if body.is_empty() {
                    existing["Id"].as_str().unwrap_or(id).to_owned()
                } else {
                    self.update("Account", id, &body).map_err(dml)?
                }
            }
            None => {
                let mut body = mapped(self, &lead, "Account", TO_ACCOUNT, None, overwrite);
                if !body.contains_key("Name") {
                    let name = lead
                        .get("Name")
                        .cloned()
                        .unwrap_or_else(|| lead.get("LastName").cloned().unwrap_or(Value::Null));
                    body.insert("Name".into(), name);
                }
                if let Some(owner) = &c.owner_id {
                    body.insert("OwnerId".into(), Value::String(owner.clone()));
                }
                self.create("Account", &body).map_err(dml)?
            }
        };

        // Contact: merge into the given one (which must belong to the Account), else create.
        let contact_id = match &c.contact_id {
            Some(id) => {
                let existing = self
                    .get("Contact", id)
                    .map_err(|_| {
                        err(
                            "INVALID_CROSS_REFERENCE_KEY",
                            "invalid cross reference id",
                            &["contactId"],
                        )
                    })?
                    .clone();
                let belongs = existing
                    .get("AccountId")
                    .and_then(Value::as_str)
                    .is_some_and(|a| a.get(..15) == account_id.get(..15));
                if !belongs {
                    return Err(err(
                        "INVALID_CROSS_REFERENCE_KEY",
                        "the contact does not belong to the account it is merged with",
                        &["contactId"],
                    ));
                }
                let body = mapped(
                    self,
                    &lead,
                    "Contact",
                    TO_CONTACT,
                    Some(&existing),
                    overwrite,
                );
                if body.is_empty() {
                    existing["Id"].as_str().unwrap_or(id).to_owned()
                } else {
                    self.update("Contact", id, &body).map_err(dml)?
                }
            }
            None => {
                let mut body = mapped(self, &lead, "Contact", TO_CONTACT, None, overwrite);
                body.insert("AccountId".into(), Value::String(account_id.clone()));
                if let Some(owner) = &c.owner_id {
                    body.insert("OwnerId".into(), Value::String(owner.clone()));
                }
                self.create("Contact", &body).map_err(dml)?
            }
        };

        // The Lead: its conversion fields are read-only to the API, so they are set here.
        let def = self
            .object("Lead")
            .expect("Lead is a standard object")
            .clone();
        let (row, lead_id) = self.locate_live(&def, &c.lead_id).map_err(dml)?;
        let old = self.tables["Lead"].rows[row as usize].clone();
        let mut rec = old.clone();
        let now = self.now();
        rec.insert("IsConverted".into(), Value::Bool(true));
        rec.insert(
            "ConvertedDate".into(),
            Value::String(format_date(OffsetDateTime::now_utc().date())),
        );
        rec.insert(
            "ConvertedAccountId".into(),
            Value::String(account_id.clone()),
        );
        rec.insert(
            "ConvertedContactId".into(),
            Value::String(contact_id.clone()),
        );
        rec.insert("Status".into(), Value::String(status));
        rec.insert("LastModifiedDate".into(), Value::String(now.clone()));
        rec.insert("SystemModstamp".into(), Value::String(now));
        rec.insert(
            "LastModifiedById".into(),
            Value::String(self.user_id.clone()),
        );
        self.replace_row(&def, row, rec, false);
        self.journal(super::Undo::Changed {
            object: "Lead".into(),
            row,
            old,
            was_in_bin: None,
        });
        Ok(Converted {
            lead_id,
            account_id,
            contact_id,
        })
    }
}
