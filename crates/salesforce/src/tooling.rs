//! Creating the custom fields leadbridge needs (R-FIELD) and making them visible to the
//! integration user (R-FIELD-5).
//!
//! Invariants: a field is created through the Tooling API `CustomField` object only after a
//! check that it does not exist; a field created that way is visible to nobody (salesforce-api.md
//! §12.4), so creating it is always followed by granting read and edit on it to the permission
//! set owned by the integration user's profile; the cached describe of the object is dropped
//! afterwards so the new field shows up.

use lb_wire::tooling::{
    CustomFieldMetadata, CustomFieldRequest, FieldPermissions, PicklistEntry, ToolingSaveResult,
    ValueSet, ValueSetDefinition,
};
use lb_wire::{ApiError, SaveResult};
use reqwest::Method;
use serde_json::Value;

use crate::budget::EndpointKind;
use crate::client::{Call, Client, Target};
use crate::error::Error;
use crate::retry::Idempotency;
use crate::soql::{Filter, Soql, check_name};

/// The kinds of field R-FIELD needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomFieldKind {
    /// Text of at most `length` characters (1–255).
    Text {
        length: u32,
    },
    /// A single-select picklist; `restricted` refuses values outside the list.
    Picklist {
        values: Vec<String>,
        restricted: bool,
    },
    Date,
}

/// A custom field to create: `name` is the developer name without `__c` (`plezi_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomFieldSpec {
    pub object: String,
    pub name: String,
    pub label: String,
    pub kind: CustomFieldKind,
    pub description: Option<String>,
}

impl CustomFieldSpec {
    /// `plezi_url__c`.
    pub fn api_name(&self) -> String {
        format!("{}__c", self.name)
    }

    /// `Lead.plezi_url__c`.
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.object, self.api_name())
    }

    /// Salesforce's developer-name rule: letters, digits and `_`, starting with a letter, no
    /// `__`, no trailing `_`, at most 40 characters.
    pub fn validate(&self) -> Result<(), Error> {
        let n = &self.name;
        let ok = !n.is_empty()
            && n.len() <= 40
            && n.starts_with(|c: char| c.is_ascii_alphabetic())
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !n.contains("__")
            && !n.ends_with('_');
        if !ok {
            return Err(Error::Api {
                status: 400,
                errors: vec![ApiError::new(
                    "INVALID_FIELD_NAME",
                    format!(
                        "'{n}' is not a valid field name: letters, digits and single underscores, starting with a letter, at most 40 characters"
                    ),
                )],
            });
        }
        check_name(&self.object)?;
        if let CustomFieldKind::Text { length } = self.kind
            && !(1..=255).contains(&length)
        {
            return Err(Error::Api {
                status: 400,
                errors: vec![ApiError::new(
                    "INVALID_LENGTH",
                    format!("a text field holds 1 to 255 characters, not {length}"),
                )],
            });
        }
        Ok(())
    }

    /// The Tooling request body.
    pub fn to_request(&self) -> CustomFieldRequest {
        let (field_type, length, value_set) = match &self.kind {
            CustomFieldKind::Text { length } => ("Text", Some(*length), None),
            CustomFieldKind::Date => ("Date", None, None),
            CustomFieldKind::Picklist { values, restricted } => (
                "Picklist",
                None,
                Some(ValueSet {
                    restricted: Some(*restricted),
                    value_set_definition: ValueSetDefinition {
                        sorted: false,
                        value: values
                            .iter()
                            .map(|v| PicklistEntry {
                                value_name: v.clone(),
                                label: v.clone(),
                                default: false,
                            })
                            .collect(),
                    },
                }),
            ),
        };
        CustomFieldRequest {
            full_name: self.full_name(),
            metadata: CustomFieldMetadata {
                field_type: field_type.to_owned(),
                label: self.label.clone(),
                length,
                required: Some(false),
                unique: None,
                external_id: None,
                description: self.description.clone(),
                inline_help_text: None,
                value_set,
            },
        }
    }
}

/// What [`Client::ensure_custom_field`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSetup {
    /// The `CustomField` id (`00N…`), when known.
    pub id: Option<String>,
    /// False when the field already existed.
    pub created: bool,
    /// The permission set that received read/edit access.
    pub permission_set_id: String,
}

impl Client {
    /// Developer names (without `__c`) of `object`'s custom fields, from the Tooling API.
    pub async fn custom_field_names(&self, object: &str) -> Result<Vec<String>, Error> {
        let soql = Soql::select(&["Id", "DeveloperName"], "CustomField")
            .filter(Filter::eq("TableEnumOrId", object))
            .build()?;
        let mut pager = self.tooling_query(&soql).await?;
        let mut names: Vec<String> = Vec::new();
        loop {
            names.extend(pager.records.iter().filter_map(|r| {
                r.get("DeveloperName")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }));
            match pager.next_records_url.take() {
                Some(url) if !pager.done => {
                    pager = self
                        .send(Call::get(EndpointKind::Tooling, Target::Path(url)))
                        .await?
                        .json()?;
                }
                _ => break,
            }
        }
        Ok(names)
    }

    async fn tooling_query(&self, soql: &str) -> Result<lb_wire::QueryPage, Error> {
        self.send(
            Call::get(EndpointKind::Tooling, Target::Data("tooling/query".into())).query("q", soql),
        )
        .await?
        .json()
    }

    /// Creates the field through the Tooling API. Fails with Salesforce's error (e.g.
    /// `DUPLICATE_DEVELOPER_NAME`) if it exists; see [`Client::ensure_custom_field`].
    pub async fn create_custom_field(
        &self,
        spec: &CustomFieldSpec,
    ) -> Result<Option<String>, Error> {
        spec.validate()?;
        let call = Call::json(
            EndpointKind::Tooling,
            Method::POST,
            Target::Data("tooling/sobjects/CustomField".into()),
            &spec.to_request(),
            Idempotency::Unsafe,
        )?;
        let result: ToolingSaveResult = self.send(call).await?.json()?;
        if !result.success {
            let errors = result
                .errors
                .into_iter()
                .filter_map(|e| serde_json::from_value::<ApiError>(e).ok())
                .collect();
            return Err(Error::Api {
                status: 400,
                errors,
            });
        }
        self.invalidate_describe(&spec.object);
        Ok(result.id)
    }

    /// Grants the integration user's profile read and edit on `object.field` (a
    /// `FieldPermissions` record on the profile's own permission set), creating or updating it.
    /// Returns the permission set id.
    pub async fn grant_field_access(
        &self,
        object: &str,
        field_api_name: &str,
    ) -> Result<String, Error> {
        check_name(object)?;
        check_name(field_api_name)?;
        let session = self.session().await?;
        let user_id = session
            .user_id()
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "cannot read the user id from {}",
                    session.identity_url
                ))
            })?
            .to_owned();
        let users = self
            .query_records(
                Soql::select(&["Id", "ProfileId"], "User")
                    .filter(Filter::eq("Id", user_id.as_str()))
                    .build()?,
            )
            .await?;
        let profile_id = users
            .first()
            .and_then(|u| u.get("ProfileId"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "no profile found for the integration user {user_id}"
                ))
            })?
            .to_owned();
        let sets = self
            .query_records(
                Soql::select(&["Id"], "PermissionSet")
                    .filter(Filter::eq("IsOwnedByProfile", true))
                    .filter(Filter::eq("ProfileId", profile_id.as_str()))
                    .build()?,
            )
            .await?;
        let permission_set_id = sets
            .first()
            .and_then(|s| s.get("Id"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::Protocol(format!("no permission set owned by profile {profile_id}"))
            })?
            .to_owned();
        let full = format!("{object}.{field_api_name}");
        let existing = self
            .query_records(
                Soql::select(
                    &["Id", "PermissionsRead", "PermissionsEdit"],
                    "FieldPermissions",
                )
                .filter(Filter::eq("ParentId", permission_set_id.as_str()))
                .filter(Filter::eq("Field", full.as_str()))
                .build()?,
            )
            .await?;
        match existing
            .first()
            .and_then(|r| r.get("Id"))
            .and_then(Value::as_str)
        {
            Some(id) => {
                let already = existing[0].get("PermissionsRead") == Some(&Value::Bool(true))
                    && existing[0].get("PermissionsEdit") == Some(&Value::Bool(true));
                if !already {
                    let body =
                        serde_json::json!({ "PermissionsRead": true, "PermissionsEdit": true });
                    self.send(Call::json(
                        EndpointKind::Sobject,
                        Method::PATCH,
                        Target::Data(format!("sobjects/FieldPermissions/{id}")),
                        &body,
                        Idempotency::Safe,
                    )?)
                    .await?;
                }
            }
            None => {
                let body = FieldPermissions {
                    id: None,
                    parent_id: permission_set_id.clone(),
                    sobject_type: object.to_owned(),
                    field: full,
                    permissions_read: true,
                    permissions_edit: true,
                };
                let r: SaveResult = self
                    .send(Call::json(
                        EndpointKind::Sobject,
                        Method::POST,
                        Target::Data("sobjects/FieldPermissions".into()),
                        &body,
                        Idempotency::Unsafe,
                    )?)
                    .await?
                    .json()?;
                if !r.success {
                    return Err(Error::Api {
                        status: 400,
                        errors: crate::writes::record_errors(r.errors),
                    });
                }
            }
        }
        self.invalidate_describe(object);
        Ok(permission_set_id)
    }

    /// Creates the field unless it exists, then grants the integration user access to it
    /// (R-FIELD-5). Safe to run again.
    pub async fn ensure_custom_field(&self, spec: &CustomFieldSpec) -> Result<FieldSetup, Error> {
        spec.validate()?;
        let existing = self.custom_field_names(&spec.object).await?;
        let exists = existing.iter().any(|n| n.eq_ignore_ascii_case(&spec.name));
        let id = if exists {
            None
        } else {
            self.create_custom_field(spec).await?
        };
        let permission_set_id = self
            .grant_field_access(&spec.object, &spec.api_name())
            .await?;
        Ok(FieldSetup {
            id,
            created: !exists,
            permission_set_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: CustomFieldKind) -> CustomFieldSpec {
        CustomFieldSpec {
            object: "Lead".into(),
            name: name.into(),
            label: "L".into(),
            kind,
            description: None,
        }
    }

    #[test]
    fn picklist_request_uses_the_tooling_value_set_shape() {
        let s = CustomFieldSpec {
            object: "Contact".into(),
            name: "sync_to_plezi".into(),
            label: "Sync to Plezi".into(),
            kind: CustomFieldKind::Picklist {
                values: vec!["yes".into(), "no".into()],
                restricted: true,
            },
            description: None,
        };
        let json = serde_json::to_value(s.to_request()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "FullName": "Contact.sync_to_plezi__c",
                "Metadata": {"type": "Picklist", "label": "Sync to Plezi", "required": false,
                    "valueSet": {"restricted": true, "valueSetDefinition": {"sorted": false, "value": [
                        {"valueName": "yes", "label": "yes", "default": false},
                        {"valueName": "no", "label": "no", "default": false}]}}}
            })
        );
    }

    #[test]
    fn text_and_date_requests() {
        let t = serde_json::to_value(
            spec("plezi_url", CustomFieldKind::Text { length: 255 }).to_request(),
        )
        .unwrap();
        assert_eq!(t["FullName"], "Lead.plezi_url__c");
        assert_eq!(t["Metadata"]["type"], "Text");
        assert_eq!(t["Metadata"]["length"], 255);
        let d =
            serde_json::to_value(spec("lead_created", CustomFieldKind::Date).to_request()).unwrap();
        assert_eq!(d["Metadata"]["type"], "Date");
        assert!(d["Metadata"].get("length").is_none());
    }

    #[test]
    fn developer_names_follow_salesforce_rules() {
        for ok in ["plezi_url", "score", "Lead_Created_2"] {
            assert!(spec(ok, CustomFieldKind::Date).validate().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1x",
            "a__b",
            "trailing_",
            "has space",
            "x__c'",
            &"a".repeat(41),
        ] {
            assert!(
                spec(bad, CustomFieldKind::Date).validate().is_err(),
                "{bad}"
            );
        }
        assert!(
            spec("t", CustomFieldKind::Text { length: 256 })
                .validate()
                .is_err()
        );
    }
}
