//! Custom fields and field-level security over the routes Salesforce offers (salesforce-api.md
//! §12.4): `POST /tooling/sobjects/CustomField`, `GET /tooling/sobjects/CustomField/{id}`,
//! `GET /tooling/query?q=… FROM CustomField …`, and the `FieldPermissions` /
//! `PermissionSetAssignment` sObjects whose writes grant the integration user access.
//!
//! Invariants:
//! - A field created here is invisible to describe, queries and writes until a
//!   `FieldPermissions` record on one of the integration user's permission sets grants read
//!   (and edit): the FLS trap of a real org.
//! - `FieldPermissions` writes are validated as Salesforce does (the field must exist and be
//!   prefixed by `SobjectType`, edit needs read, one record per permission set and field) and
//!   the field's access is recomputed after every create, update or delete.
//! - Reads of these objects (GET, SOQL) are the ordinary REST paths.

use axum::http::{Method, StatusCode};
use lb_wire::tooling::ToolingSaveResult;
use lb_wire::{ApiError, SaveResult};
use serde_json::{Map, Value, json};

use super::data::{dml_reply, not_allowed, parse_object};
use super::{Call, Ctx, Reply};
use crate::soql::{self, FieldKind};
use crate::state::setup;

/// Routes the Tooling paths and the permission sObjects' writes; `None` for anything else.
pub(crate) fn route(em: &Ctx, call: &Call, segs: &[&str]) -> Option<Reply> {
    let m = &call.method;
    match segs {
        ["tooling", "sobjects", t] if t.eq_ignore_ascii_case("CustomField") => Some(match *m {
            Method::POST => create_field(em, call),
            _ => not_allowed(m, "POST"),
        }),
        ["tooling", "sobjects", t, id] if t.eq_ignore_ascii_case("CustomField") => Some(match *m {
            Method::GET => get_field(em, call, id),
            _ => not_allowed(m, "GET"),
        }),
        ["tooling", "query"] => Some(match *m {
            Method::GET => tooling_query(em, call),
            _ => not_allowed(m, "GET"),
        }),
        ["sobjects", t] if t.eq_ignore_ascii_case("FieldPermissions") && *m == Method::POST => {
            Some(create_permission(em, call))
        }
        ["sobjects", t, id]
            if t.eq_ignore_ascii_case("FieldPermissions")
                && matches!(*m, Method::PATCH | Method::DELETE) =>
        {
            Some(change_permission(em, call, id))
        }
        ["sobjects", t]
            if t.eq_ignore_ascii_case("PermissionSetAssignment") && *m == Method::POST =>
        {
            Some(assignment(em, call, None))
        }
        ["sobjects", t, id]
            if t.eq_ignore_ascii_case("PermissionSetAssignment") && *m == Method::DELETE =>
        {
            Some(assignment(em, call, Some(id)))
        }
        _ => None,
    }
}

/// `POST /tooling/sobjects/CustomField`: 201 with the Tooling save result.
fn create_field(em: &Ctx, call: &Call) -> Reply {
    let body = match parse_object(call, "CustomField") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let full_name = body
        .get("FullName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(metadata) = body.get("Metadata").and_then(Value::as_object) else {
        return Reply::errors(
            StatusCode::BAD_REQUEST,
            vec![ApiError::with_fields(
                "FIELD_INTEGRITY_EXCEPTION",
                "Metadata is required",
                vec!["Metadata".into()],
            )],
        );
    };
    let mut org = em.org_mut();
    let (object, field) = match setup::field_from_metadata(&org, &full_name, metadata) {
        Ok(x) => x,
        Err(e) => return Reply::errors(StatusCode::BAD_REQUEST, vec![e]),
    };
    match org.add_custom_field(&object, field) {
        Ok(id) => Reply::json(
            StatusCode::CREATED,
            &ToolingSaveResult {
                id: Some(id),
                success: true,
                errors: vec![],
                warnings: vec![],
                infos: vec![],
            },
        ),
        Err(e) => Reply::errors(StatusCode::BAD_REQUEST, vec![e]),
    }
}

fn field_row(em: &Ctx, id: &str) -> Option<Map<String, Value>> {
    let short = id.get(..15)?;
    em.org().custom_field_rows().into_iter().find(|r| {
        r.get("Id")
            .and_then(Value::as_str)
            .and_then(|i| i.get(..15))
            == Some(short)
    })
}

/// `GET /tooling/sobjects/CustomField/{id}`.
fn get_field(em: &Ctx, call: &Call, id: &str) -> Reply {
    let Some(row) = field_row(em, id) else {
        return Reply::not_found();
    };
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": "CustomField", "url": format!("{}/tooling/sobjects/CustomField/{}", call.prefix(), row["Id"].as_str().unwrap_or_default())}),
    );
    out.extend(row);
    Reply::json(StatusCode::OK, &out)
}

/// The Tooling objects a query may name.
struct ToolingSchema;

impl soql::Schema for ToolingSchema {
    fn object(&self, name: &str) -> Option<String> {
        name.eq_ignore_ascii_case("CustomField")
            .then(|| "CustomField".to_owned())
    }

    fn field(&self, _object: &str, field: &str) -> Option<(String, FieldKind)> {
        [
            "Id",
            "DeveloperName",
            "TableEnumOrId",
            "FullName",
            "NamespacePrefix",
        ]
        .iter()
        .find(|f| f.eq_ignore_ascii_case(field))
        .map(|f| {
            (
                (*f).to_owned(),
                if *f == "Id" {
                    FieldKind::Id
                } else {
                    FieldKind::String
                },
            )
        })
    }
}

/// `GET /tooling/query?q=…`: CustomField rows, in the Tooling query result shape.
fn tooling_query(em: &Ctx, call: &Call) -> Reply {
    let Some(q) = call.param("q").filter(|q| !q.trim().is_empty()) else {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let compiled = match soql::compile(&q, &ToolingSchema) {
        Ok(c) => c,
        Err(e) => return Reply::error(StatusCode::BAD_REQUEST, e.error_code, e.message),
    };
    let rows = em.org().custom_field_rows();
    let hits = compiled.run(rows.iter());
    let records: Vec<Value> = if compiled.is_count() {
        Vec::new()
    } else {
        hits.iter()
            .map(|r| {
                let mut out = Map::new();
                let id = r.get("Id").and_then(Value::as_str).unwrap_or_default();
                out.insert(
                    "attributes".into(),
                    json!({"type": "CustomField", "url": format!("{}/tooling/sobjects/CustomField/{id}", call.prefix())}),
                );
                for f in compiled.fields() {
                    out.insert(f.clone(), r.get(f).cloned().unwrap_or(Value::Null));
                }
                Value::Object(out)
            })
            .collect()
    };
    Reply::json(
        StatusCode::OK,
        &json!({
            "size": hits.len(),
            "totalSize": hits.len(),
            "done": true,
            "queryLocator": null,
            "entityTypeName": "CustomField",
            "records": records,
        }),
    )
}

fn text_of(body: &Map<String, Value>, name: &str) -> String {
    body.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn flag_of(body: &Map<String, Value>, name: &str) -> Option<bool> {
    body.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_bool())
}

fn bad(code: &str, message: String, field: &str) -> Reply {
    Reply::errors(
        StatusCode::BAD_REQUEST,
        vec![ApiError::with_fields(code, message, vec![field.to_owned()])],
    )
}

fn edit_needs_read(full: &str) -> Reply {
    bad(
        "FIELD_INTEGRITY_EXCEPTION",
        format!("Permission Edit {full} depends on permission(s): Read {full}"),
        "PermissionsEdit",
    )
}

/// `POST /sobjects/FieldPermissions`.
fn create_permission(em: &Ctx, call: &Call) -> Reply {
    let mut body = match parse_object(call, "FieldPermissions") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (field, sobject, parent) = (
        text_of(&body, "Field"),
        text_of(&body, "SobjectType"),
        text_of(&body, "ParentId"),
    );
    let mut org = em.org_mut();
    // The field must exist (hidden or not) and be named `SobjectType.Field`.
    let canonical = field.split_once('.').and_then(|(o, f)| {
        let def = org
            .object(o)
            .filter(|d| d.name.eq_ignore_ascii_case(&sobject))?;
        def.field_any(f)
            .map(|fd| (def.name.clone(), format!("{}.{}", def.name, fd.name)))
    });
    let Some((object, full)) = canonical else {
        if field.is_empty() || sobject.is_empty() {
            // Let the ordinary validation name the missing required fields.
            return match org.create("FieldPermissions", &body) {
                Ok(_) => Reply::error(
                    StatusCode::BAD_REQUEST,
                    "FIELD_INTEGRITY_EXCEPTION",
                    "Field and SobjectType are required",
                ),
                Err(e) => dml_reply(e),
            };
        }
        return bad(
            "FIELD_INTEGRITY_EXCEPTION",
            format!("Field Name: bad value for restricted picklist field: {field}"),
            "Field",
        );
    };
    let read = flag_of(&body, "PermissionsRead").unwrap_or(false);
    if flag_of(&body, "PermissionsEdit").unwrap_or(false) && !read {
        return edit_needs_read(&full);
    }
    if org.get("PermissionSet", &parent).is_err() {
        return bad(
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id".into(),
            "ParentId",
        );
    }
    let taken = org.table("FieldPermissions").and_then(|t| {
        let bin = t.recycle_bin();
        t.rows().iter().enumerate().find_map(|(i, r)| {
            let same = !bin.contains_key(&(i as u32))
                && r.get("Field")
                    .and_then(Value::as_str)
                    .is_some_and(|f| f.eq_ignore_ascii_case(&full))
                && r.get("ParentId")
                    .and_then(Value::as_str)
                    .and_then(|p| p.get(..15))
                    == parent.get(..15);
            same.then(|| {
                r.get("Id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            })
        })
    });
    if let Some(existing) = taken {
        return Reply::errors(
            StatusCode::BAD_REQUEST,
            vec![ApiError::with_fields(
                "DUPLICATE_VALUE",
                format!(
                    "duplicate value found: <unknown> duplicates value on record with id: {existing}"
                ),
                vec![],
            )],
        );
    }
    body.retain(|k, _| !k.eq_ignore_ascii_case("Field") && !k.eq_ignore_ascii_case("SobjectType"));
    body.insert("Field".into(), Value::String(full.clone()));
    body.insert("SobjectType".into(), Value::String(object));
    match org.create("FieldPermissions", &body) {
        Ok(id) => {
            org.refresh_field_access(&full);
            Reply::json(
                StatusCode::CREATED,
                &SaveResult {
                    id: Some(id),
                    success: true,
                    errors: vec![],
                    created: None,
                },
            )
        }
        Err(e) => dml_reply(e),
    }
}

/// `PATCH` / `DELETE /sobjects/FieldPermissions/{id}`.
fn change_permission(em: &Ctx, call: &Call, id: &str) -> Reply {
    let body = if call.method == Method::PATCH {
        match parse_object(call, "FieldPermissions") {
            Ok(b) => Some(b),
            Err(r) => return r,
        }
    } else {
        None
    };
    let mut org = em.org_mut();
    let existing = match org.get("FieldPermissions", id) {
        Ok(r) => r.clone(),
        Err(e) => return dml_reply(e),
    };
    let full = existing
        .get("Field")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let result = match &body {
        Some(b) => {
            let flag = |name: &str| {
                flag_of(b, name)
                    .or_else(|| existing.get(name).and_then(Value::as_bool))
                    .unwrap_or(false)
            };
            if flag("PermissionsEdit") && !flag("PermissionsRead") {
                return edit_needs_read(&full);
            }
            org.update("FieldPermissions", id, b)
                .map(|_| Reply::empty(StatusCode::NO_CONTENT))
        }
        None => org
            .delete(Some("FieldPermissions"), id)
            .map(|_| Reply::empty(StatusCode::NO_CONTENT)),
    };
    match result {
        Ok(reply) => {
            org.refresh_field_access(&full);
            reply
        }
        Err(e) => dml_reply(e),
    }
}

/// `POST /sobjects/PermissionSetAssignment` and `DELETE /sobjects/PermissionSetAssignment/{id}`:
/// the ordinary write, then every granted field's access is recomputed.
fn assignment(em: &Ctx, call: &Call, id: Option<&str>) -> Reply {
    let mut org = em.org_mut();
    let result = match id {
        None => {
            let body = match parse_object(call, "PermissionSetAssignment") {
                Ok(b) => b,
                Err(r) => return r,
            };
            let set = text_of(&body, "PermissionSetId");
            if !set.is_empty() && org.get("PermissionSet", &set).is_err() {
                return bad(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id".into(),
                    "PermissionSetId",
                );
            }
            org.create("PermissionSetAssignment", &body).map(|id| {
                Reply::json(
                    StatusCode::CREATED,
                    &SaveResult {
                        id: Some(id),
                        success: true,
                        errors: vec![],
                        created: None,
                    },
                )
            })
        }
        Some(id) => org
            .delete(Some("PermissionSetAssignment"), id)
            .map(|_| Reply::empty(StatusCode::NO_CONTENT)),
    };
    match result {
        Ok(reply) => {
            org.refresh_all_field_access();
            reply
        }
        Err(e) => dml_reply(e),
    }
}
