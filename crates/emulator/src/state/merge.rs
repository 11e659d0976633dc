//! Record merges, as SOAP `merge()` performs them (Lead, Contact and Account only; REST offers
//! no merge resource).
//!
//! Invariants:
//! - A merge is all or nothing: the master's update and the victims' deletions happen together
//!   or not at all (one [`Org::begin`] bracket).
//! - At most three records per request, the master included: one or two victims.
//! - Each victim is deleted as [`Org::delete`] deletes (recycle bin, `IsDeleted = true`, a new
//!   `SystemModstamp`) and its `MasterRecordId` becomes the master's 18-character id, so
//!   `queryAll` with `IsDeleted = true` shows who won. The master's own `MasterRecordId` stays
//!   null.
//! - Field values given with the master record overwrite the master's, validated as an update
//!   (read-only fields refused); fields not given keep the master's values.
//! - Related records are not reparented: the emulated org has no child records of Leads, and
//!   `updatedRelatedIds` is always empty.

use lb_wire::ApiError;
use serde_json::{Map, Value};

use super::{Org, ids};

/// At most this many records merged into the master per request (three in all).
pub const MAX_VICTIMS: usize = 2;

/// One `MergeRequest`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeRequest {
    pub object: String,
    pub master_id: String,
    /// Values that supersede the master's (field name → value, as an update body).
    pub master_fields: Map<String, Value>,
    pub victim_ids: Vec<String>,
}

/// A successful merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The master's 18-character id.
    pub id: String,
    /// The victims' 18-character ids, in request order.
    pub merged_record_ids: Vec<String>,
}

fn err(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

impl Org {
    /// Merges the victims into the master (see the module docs). Errors are the
    /// `MergeResult.errors` a SOAP client would get.
    pub fn merge(&mut self, req: &MergeRequest) -> Result<Merged, ApiError> {
        let sp = self.begin();
        match self.merge_inner(req) {
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

    fn merge_inner(&mut self, req: &MergeRequest) -> Result<Merged, ApiError> {
        let def = self.object_arc(&req.object).ok_or_else(|| {
            err(
                "INVALID_TYPE",
                format!("sObject type '{}' is not supported.", req.object),
            )
        })?;
        if !matches!(def.name.as_str(), "Lead" | "Contact" | "Account") {
            return Err(err(
                "INVALID_TYPE_FOR_OPERATION",
                format!("entity type {} does not support merge", def.name),
            ));
        }
        if req.victim_ids.is_empty() {
            return Err(err(
                "REQUIRED_FIELD_MISSING",
                "recordToMergeIds: at least one record to merge is required",
            ));
        }
        if req.victim_ids.len() > MAX_VICTIMS {
            return Err(err(
                "LIMIT_EXCEEDED",
                format!(
                    "A merge request merges at most {} records, the master included; got {}",
                    MAX_VICTIMS + 1,
                    req.victim_ids.len() + 1
                ),
            ));
        }
        let master = self
            .locate_live(&def, &req.master_id)
            .map_err(|e| first(e, "masterRecord"))?
            .1;
        let mut victims: Vec<String> = Vec::with_capacity(req.victim_ids.len());
        for id in &req.victim_ids {
            let (_, id18) = self
                .locate_live(&def, id)
                .map_err(|e| first(e, "recordToMergeIds"))?;
            if id18 == master {
                return Err(err(
                    "INVALID_ID_FIELD",
                    "The master record cannot also be a record to merge",
                ));
            }
            if victims.contains(&id18) {
                return Err(err(
                    "DUPLICATE_VALUE",
                    format!("duplicate id in recordToMergeIds: {id}"),
                ));
            }
            if def.name == "Lead"
                && self
                    .get("Lead", &id18)
                    .ok()
                    .and_then(|r| r.get("IsConverted"))
                    == Some(&Value::Bool(true))
            {
                return Err(err(
                    "CANNOT_UPDATE_CONVERTED_LEAD",
                    "cannot reference converted lead",
                ));
            }
            victims.push(id18);
        }
        if !req.master_fields.is_empty() {
            self.update(&def.name, &master, &req.master_fields)
                .map_err(|e| first(e, "masterRecord"))?;
        }
        for victim in &victims {
            self.delete(Some(&def.name), victim)
                .map_err(|e| first(e, "recordToMergeIds"))?;
            // Patched in place after the delete: the delete journalled the whole row, so a
            // rollback restores the victim without its MasterRecordId too.
            let table = self
                .tables
                .get_mut(&def.name)
                .expect("table for every object");
            let norm = ids::normalize(victim).unwrap_or(victim);
            if let Some(row) = table.find(norm) {
                table.rows[row as usize]
                    .insert("MasterRecordId".into(), Value::String(master.clone()));
            }
        }
        Ok(Merged {
            id: master,
            merged_record_ids: victims,
        })
    }
}

fn first(e: super::DmlError, what: &str) -> ApiError {
    e.errors
        .into_iter()
        .next()
        .unwrap_or_else(|| err("UNKNOWN_EXCEPTION", format!("{what}: merge failed")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::state::{Edition, OrgSeed};

    fn org() -> Org {
        Org::new(&OrgSeed {
            org_name: "Acme".into(),
            edition: Edition::Enterprise,
            username: "integration@acme.test".into(),
            user_email: "integration@acme.test".into(),
            user_first_name: "Integration".into(),
            user_last_name: "User".into(),
        })
    }

    fn lead(org: &mut Org, last: &str) -> String {
        let body = json!({"LastName": last, "Company": "Acme", "Email": format!("{last}@x.io")});
        org.create("Lead", body.as_object().unwrap()).unwrap()
    }

    fn req(master: &str, victims: &[&str], fields: Value) -> MergeRequest {
        MergeRequest {
            object: "Lead".into(),
            master_id: master.into(),
            master_fields: fields.as_object().cloned().unwrap_or_default(),
            victim_ids: victims.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn victims_are_deleted_with_the_master_recorded() {
        let mut org = org();
        let (a, b, c) = (
            lead(&mut org, "a"),
            lead(&mut org, "b"),
            lead(&mut org, "c"),
        );
        let done = org
            .merge(&req(&a, &[&b, &c[..15]], json!({"FirstName": "Won"})))
            .unwrap();
        assert_eq!(done.id, a);
        assert_eq!(done.merged_record_ids, vec![b.clone(), c.clone()]);
        let master = org.get("Lead", &a).unwrap();
        assert_eq!(master["FirstName"], json!("Won"));
        assert!(master.get("MasterRecordId").is_none_or(Value::is_null));
        let table = org.table("Lead").unwrap();
        assert_eq!(table.live_count(), 1);
        for v in [&b, &c] {
            let row = table.find(v).unwrap();
            let rec = table.row(row).unwrap();
            assert_eq!(rec["IsDeleted"], json!(true));
            assert_eq!(rec["MasterRecordId"], json!(a));
            assert!(table.recycle_bin().contains_key(&row));
        }
    }

    #[test]
    fn a_refused_merge_changes_nothing() {
        let mut org = org();
        let (a, b) = (lead(&mut org, "a"), lead(&mut org, "b"));
        let gone = lead(&mut org, "gone");
        org.delete(Some("Lead"), &gone).unwrap();
        // The second victim is deleted: the first is not merged either.
        let e = org.merge(&req(&a, &[&b, &gone], json!({}))).unwrap_err();
        assert_eq!(e.error_code, "ENTITY_IS_DELETED");
        assert!(org.get("Lead", &b).is_ok());
        // A read-only field on the master refuses the merge before any victim is deleted.
        let e = org
            .merge(&req(&a, &[&b], json!({"MasterRecordId": a.clone()})))
            .unwrap_err();
        assert_eq!(e.error_code, "INVALID_FIELD_FOR_INSERT_UPDATE", "{e:?}");
        assert!(org.get("Lead", &b).is_ok());
        let e = org.merge(&req(&a, &[&a], json!({}))).unwrap_err();
        assert_eq!(e.error_code, "INVALID_ID_FIELD");
        let e = org.merge(&req(&a, &[], json!({}))).unwrap_err();
        assert_eq!(e.error_code, "REQUIRED_FIELD_MISSING");
        let (c, d) = (lead(&mut org, "c"), lead(&mut org, "d"));
        let e = org.merge(&req(&a, &[&b, &c, &d], json!({}))).unwrap_err();
        assert_eq!(e.error_code, "LIMIT_EXCEEDED");
        let mut wrong = req(&a, &[&b], json!({}));
        wrong.object = "User".into();
        assert_eq!(
            org.merge(&wrong).unwrap_err().error_code,
            "INVALID_TYPE_FOR_OPERATION"
        );
        assert_eq!(org.table("Lead").unwrap().live_count(), 4);
    }
}
