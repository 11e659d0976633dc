//! sObject Collections (`/composite/sobjects`, §6) and Composite (`/composite`, §7).
//!
//! Invariants: a collection request takes the org's write lock once for all its records; with
//! `allOrNone` either every record is written or none is (journal rollback), and the records
//! that would have succeeded report `ALL_OR_NONE_OPERATION_ROLLED_BACK`. Per-record errors use
//! `statusCode`. A composite request with `allOrNone` holds the write lock across all its
//! subrequests so the rollback cannot undo anybody else's writes.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use bytes::Bytes;
use lb_wire::{ApiError, RecordError, SaveResult};
use serde_json::{Map, Value, json};

use super::data::{self, RecordOut, not_allowed, parse_json, select_fields};
use super::{Call, Ctx, Reply, fault_error, split_path};
use crate::state::{DmlError, FieldType, Org, UpsertOutcome};

const MAX_RECORDS: usize = 200;
const MAX_SUBREQUESTS: usize = 25;

pub(crate) fn dispatch(cx: &Ctx, call: &Call, rest: &[&str]) -> Reply {
    // sObject Collections exist from v42.0; upsert from v46.0 (§6).
    if call.version < 42 || (rest.len() == 2 && call.version < 46) {
        return Reply::not_found();
    }
    let m = &call.method;
    match rest {
        [] => match *m {
            Method::POST => write_records(cx, call, Mode::Create),
            Method::PATCH => write_records(cx, call, Mode::Update),
            Method::DELETE => delete_records(cx, call),
            _ => not_allowed(m, "POST,PATCH,DELETE"),
        },
        [object] => match *m {
            Method::GET => retrieve(cx, call, object, call.param("ids"), call.param("fields")),
            Method::POST => {
                let body = match parse_json(call) {
                    Ok(Value::Object(b)) => b,
                    Ok(_) => return bad_body("ids"),
                    Err(r) => return r,
                };
                let list = |k: &str| -> Option<String> {
                    body.get(k)?.as_array().map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                };
                retrieve(cx, call, object, list("ids"), list("fields"))
            }
            _ => not_allowed(m, "GET,POST"),
        },
        [object, field] => match *m {
            Method::PATCH => write_records(cx, call, Mode::Upsert { object, field }),
            _ => not_allowed(m, "PATCH"),
        },
        _ => Reply::not_found(),
    }
}

#[derive(Clone, Copy)]
enum Mode<'a> {
    Create,
    Update,
    Upsert { object: &'a str, field: &'a str },
}

fn bad_body(what: &str) -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        "JSON_PARSER_ERROR",
        format!("Cannot deserialize the request body: expected an object with '{what}'"),
    )
}

fn failed(id: Option<String>, e: ApiError) -> SaveResult {
    SaveResult {
        id,
        success: false,
        errors: vec![RecordError::from(e)],
        created: None,
    }
}

fn failed_dml(id: Option<String>, e: DmlError) -> SaveResult {
    SaveResult {
        id,
        success: false,
        errors: e.errors.into_iter().map(RecordError::from).collect(),
        created: None,
    }
}

fn rolled_back(mut r: SaveResult) -> SaveResult {
    r.success = false;
    r.created = None;
    r.errors = vec![RecordError {
        status_code: "ALL_OR_NONE_OPERATION_ROLLED_BACK".into(),
        message: "Record rolled back because not all records were valid and the request was using AllOrNone header".into(),
        fields: vec![],
    }];
    r
}

/// The type named by a record's `attributes.type`.
fn record_type(rec: &Map<String, Value>) -> Option<&str> {
    rec.get("attributes")?.get("type")?.as_str()
}

fn write_records(cx: &Ctx, call: &Call, mode: Mode) -> Reply {
    let body = match parse_json(call) {
        Ok(Value::Object(b)) => b,
        Ok(_) => return bad_body("records"),
        Err(r) => return r,
    };
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(records) = body.get("records").and_then(Value::as_array) else {
        return bad_body("records");
    };
    if records.len() > MAX_RECORDS {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            format!(
                "record limit reached. cannot submit more than {MAX_RECORDS} records into this call"
            ),
        );
    }
    if let Mode::Upsert { object, field } = mode {
        let org = cx.org();
        let Some(def) = org.object(object) else {
            return Reply::not_found();
        };
        if !def
            .field(field)
            .is_some_and(|f| f.external_id || f.field_type == FieldType::Id)
        {
            return Reply::error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("Provided external ID field does not exist or is not accessible: {field}"),
            );
        }
    }
    if let Some(kind) = call.injected {
        let results: Vec<SaveResult> = records
            .iter()
            .map(|_| failed(None, fault_error(kind, "", None)))
            .collect();
        return Reply::json(StatusCode::OK, &results);
    }
    let mut org = cx.org_mut();
    let savepoint = org.begin();
    let mut results = Vec::with_capacity(records.len());
    for rec in records {
        let Some(rec) = rec.as_object() else {
            results.push(failed(
                None,
                ApiError::with_fields("INVALID_FIELD", "Each record must be a JSON object", vec![]),
            ));
            continue;
        };
        results.push(write_one(&mut org, rec, mode));
    }
    let any_failed = results.iter().any(|r| !r.success);
    if all_or_none && any_failed {
        org.rollback(savepoint);
        // Created records never existed: their results carry no id.
        let creating = matches!(mode, Mode::Create);
        results = results
            .into_iter()
            .map(|r| if r.success { rolled_back(r) } else { r })
            .map(|r| {
                if creating {
                    SaveResult { id: None, ..r }
                } else {
                    r
                }
            })
            .collect();
    } else {
        org.commit();
    }
    Reply::json(StatusCode::OK, &results)
}

fn write_one(org: &mut Org, rec: &Map<String, Value>, mode: Mode) -> SaveResult {
    let mut fields = rec.clone();
    fields.remove("attributes");
    let id_key = fields
        .keys()
        .find(|k| k.eq_ignore_ascii_case("id"))
        .cloned();
    match mode {
        Mode::Create => {
            let Some(object) = record_type(rec) else {
                return failed(
                    None,
                    ApiError::with_fields(
                        "INVALID_TYPE",
                        "No type was specified in the attributes of the record",
                        vec![],
                    ),
                );
            };
            if id_key.is_some() {
                return failed(
                    None,
                    ApiError::with_fields(
                        "INVALID_FIELD",
                        "cannot specify Id in an insert call",
                        vec![],
                    ),
                );
            }
            if org.object(object).is_none() {
                return failed(None, invalid_type(object));
            }
            match org.create(object, &fields) {
                Ok(id) => SaveResult {
                    id: Some(id),
                    success: true,
                    errors: vec![],
                    created: None,
                },
                Err(e) => failed_dml(None, e),
            }
        }
        Mode::Update => {
            let Some(id) = id_key
                .as_ref()
                .and_then(|k| fields.remove(k))
                .and_then(|v| v.as_str().map(str::to_owned))
            else {
                return failed(
                    None,
                    ApiError::with_fields(
                        "MISSING_ARGUMENT",
                        "Id not specified in an update call",
                        vec![],
                    ),
                );
            };
            let object = match record_type(rec) {
                Some(t) => match org.object(t) {
                    Some(d) => d.name.clone(),
                    None => return failed(Some(id), invalid_type(t)),
                },
                None => match org.object_for_id(&id) {
                    Some(d) => d.name.clone(),
                    None => {
                        return failed(
                            Some(id.clone()),
                            ApiError::with_fields(
                                "MALFORMED_ID",
                                format!("malformed id {id}"),
                                vec![],
                            ),
                        );
                    }
                },
            };
            match org.update(&object, &id, &fields) {
                Ok(id18) => SaveResult {
                    id: Some(id18),
                    success: true,
                    errors: vec![],
                    created: None,
                },
                Err(e) => failed_dml(Some(id), e),
            }
        }
        Mode::Upsert { object, field } => {
            if let Some(t) = record_type(rec)
                && !t.eq_ignore_ascii_case(object)
            {
                return failed(
                    None,
                    ApiError::with_fields(
                        "INVALID_TYPE",
                        format!("Record type {t} does not match the type {object} of the request"),
                        vec![],
                    ),
                );
            }
            let key_name = org
                .object(object)
                .and_then(|d| d.field(field))
                .map(|f| f.name.clone())
                .unwrap_or_else(|| field.to_owned());
            let value = fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&key_name))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null);
            let value = match value {
                Value::String(s) if !s.is_empty() => s,
                Value::Number(n) => n.to_string(),
                _ => {
                    // No key: an Id upsert creates, an external-id upsert cannot match anything.
                    if key_name == "Id" {
                        fields.retain(|k, _| !k.eq_ignore_ascii_case("Id"));
                        return match org.create(object, &fields) {
                            Ok(id) => SaveResult {
                                id: Some(id),
                                success: true,
                                errors: vec![],
                                created: Some(true),
                            },
                            Err(e) => failed_dml(None, e),
                        };
                    }
                    return failed(
                        None,
                        ApiError::with_fields(
                            "MISSING_ARGUMENT",
                            format!("{key_name} not specified"),
                            vec![],
                        ),
                    );
                }
            };
            match org.upsert(object, &key_name, &value, &fields, false) {
                Ok(UpsertOutcome::Created(id)) => SaveResult {
                    id: Some(id),
                    success: true,
                    errors: vec![],
                    created: Some(true),
                },
                Ok(UpsertOutcome::Updated(id)) => SaveResult {
                    id: Some(id),
                    success: true,
                    errors: vec![],
                    created: Some(false),
                },
                Ok(UpsertOutcome::Multiple(ids)) => failed(
                    None,
                    ApiError::with_fields(
                        "DUPLICATE_EXTERNAL_ID",
                        format!(
                            "{key_name}: more than one record found for external id field: [{}]",
                            ids.join(", ")
                        ),
                        vec![key_name.clone()],
                    ),
                ),
                Err(e) => failed_dml(None, e),
            }
        }
    }
}

fn invalid_type(object: &str) -> ApiError {
    ApiError::with_fields(
        "INVALID_TYPE",
        format!(
            "sObject type '{object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
        ),
        vec![],
    )
}

fn delete_records(cx: &Ctx, call: &Call) -> Reply {
    let ids: Vec<String> = call
        .param("ids")
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_FIELD_MISSING",
            "At least 1 Id is required.",
        );
    }
    if ids.len() > MAX_RECORDS {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            format!(
                "record limit reached. cannot submit more than {MAX_RECORDS} records into this call"
            ),
        );
    }
    let all_or_none = call
        .param("allOrNone")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if let Some(kind) = call.injected {
        let results: Vec<SaveResult> = ids
            .iter()
            .map(|id| failed(Some(id.clone()), fault_error(kind, "", None)))
            .collect();
        return Reply::json(StatusCode::OK, &results);
    }
    let mut org = cx.org_mut();
    let savepoint = org.begin();
    let mut results = Vec::with_capacity(ids.len());
    for id in &ids {
        results.push(match org.delete(None, id) {
            Ok(id18) => SaveResult {
                id: Some(id18),
                success: true,
                errors: vec![],
                created: None,
            },
            Err(e) => failed_dml(Some(id.clone()), e),
        });
    }
    if all_or_none && results.iter().any(|r| !r.success) {
        org.rollback(savepoint);
        results = results
            .into_iter()
            .map(|r| if r.success { rolled_back(r) } else { r })
            .collect();
    } else {
        org.commit();
    }
    Reply::json(StatusCode::OK, &results)
}

fn retrieve(
    cx: &Ctx,
    call: &Call,
    object: &str,
    ids: Option<String>,
    fields: Option<String>,
) -> Reply {
    let org = cx.org();
    let Some(def) = org.object(object) else {
        return Reply::not_found();
    };
    let Some(fields) = fields.filter(|f| !f.trim().is_empty()) else {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "MISSING_ARGUMENT",
            "The 'fields' parameter is required",
        );
    };
    let ids: Vec<String> = ids
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "MISSING_ARGUMENT",
            "The 'ids' parameter is required",
        );
    }
    if ids.len() > 2000 {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "cannot retrieve more than 2000 records in one call",
        );
    }
    let fields = match select_fields(def, Some(&fields)) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut buf = b"[".to_vec();
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        match org.get(&def.name, id) {
            Ok(rec) => {
                let _ = serde_json::to_writer(
                    &mut buf,
                    &RecordOut {
                        object: &def.name,
                        version: call.version,
                        rec,
                        fields: &fields,
                    },
                );
            }
            Err(_) => buf.extend_from_slice(b"null"),
        }
    }
    buf.push(b']');
    Reply::raw_json(StatusCode::OK, buf)
}

// ---- Composite ----------------------------------------------------------------------------

/// `POST /composite`: up to 25 subrequests sharing `@{ref.…}` references (§7).
pub(crate) fn composite(cx: &Ctx, call: &Call) -> Reply {
    let body = match parse_json(call) {
        Ok(Value::Object(b)) => b,
        Ok(_) => return bad_body("compositeRequest"),
        Err(r) => return r,
    };
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(subs) = body.get("compositeRequest").and_then(Value::as_array) else {
        return bad_body("compositeRequest");
    };
    if subs.is_empty() || subs.len() > MAX_SUBREQUESTS {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "INVALID_BATCH_REQUEST",
            format!(
                "A composite request must contain between 1 and {MAX_SUBREQUESTS} subrequests; it has {}.",
                subs.len()
            ),
        );
    }
    let mut parsed = Vec::with_capacity(subs.len());
    let mut seen = std::collections::HashSet::new();
    for s in subs {
        let sub: lb_wire::CompositeSubrequest = match serde_json::from_value(s.clone()) {
            Ok(x) => x,
            Err(e) => {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    "JSON_PARSER_ERROR",
                    format!("Invalid subrequest: {e}"),
                );
            }
        };
        if sub.reference_id.is_empty()
            || !sub
                .reference_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "INVALID_INPUT",
                format!(
                    "Invalid referenceId ('{}'): only alphanumerics and underscores are allowed.",
                    sub.reference_id
                ),
            );
        }
        if !seen.insert(sub.reference_id.clone()) {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "INVALID_INPUT",
                format!(
                    "Duplicate ReferenceId provided in the request: {}",
                    sub.reference_id
                ),
            );
        }
        parsed.push(sub);
    }
    if all_or_none && !cx.is_holding() {
        // One write lock for the whole transaction (see module docs).
        let mut guard = cx.em.org_mut();
        let held = Ctx::holding(cx.em, &mut guard);
        return run_composite(&held, call, &parsed, true);
    }
    run_composite(cx, call, &parsed, all_or_none)
}

fn run_composite(
    cx: &Ctx,
    call: &Call,
    subs: &[lb_wire::CompositeSubrequest],
    all_or_none: bool,
) -> Reply {
    let savepoint = if all_or_none {
        Some(cx.org_mut().begin())
    } else {
        None
    };
    let mut done: Vec<(String, Value, bool)> = Vec::new(); // referenceId, body, succeeded
    let mut out: Vec<lb_wire::CompositeSubresponse> = Vec::new();
    let mut failed_at = None;
    for (i, sub) in subs.iter().enumerate() {
        let resolved = resolve_refs_str(&sub.url, &done).and_then(|url| {
            let body = match &sub.body {
                Some(b) => Some(resolve_refs_value(b, &done)?),
                None => None,
            };
            Ok((url, body))
        });
        let reply = match resolved {
            Err(msg) => Reply::error(StatusCode::BAD_REQUEST, "PROCESSING_HALTED", msg),
            Ok((url, body)) => {
                run_sub(cx, call, &sub.method, &url, body, sub.http_headers.as_ref())
            }
        };
        let ok = reply.status.as_u16() < 400;
        let mut headers = Map::new();
        if reply.status == StatusCode::CREATED
            && let Some(id) = reply.body_json().get("id").and_then(Value::as_str)
        {
            let object = sub.url.split('/').nth(5).unwrap_or_default().to_owned();
            headers.insert(
                "Location".into(),
                Value::String(format!("{}/sobjects/{object}/{id}", call.prefix())),
            );
        }
        let body = reply.body_json();
        done.push((sub.reference_id.clone(), body.clone(), ok));
        out.push(lb_wire::CompositeSubresponse {
            body,
            http_headers: headers,
            http_status_code: reply.status.as_u16(),
            reference_id: sub.reference_id.clone(),
        });
        if !ok && all_or_none {
            failed_at = Some(i);
            break;
        }
    }
    if let Some(sp) = savepoint {
        if let Some(failed) = failed_at {
            cx.org_mut().rollback(sp);
            let halted = || json!([{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}]);
            for (i, resp) in out.iter_mut().enumerate() {
                if i != failed {
                    resp.body = halted();
                    resp.http_status_code = 400;
                    resp.http_headers = Map::new();
                }
            }
            for sub in &subs[failed + 1..] {
                out.push(lb_wire::CompositeSubresponse {
                    body: halted(),
                    http_headers: Map::new(),
                    http_status_code: 400,
                    reference_id: sub.reference_id.clone(),
                });
            }
        } else {
            cx.org_mut().commit();
        }
    }
    Reply::json(
        StatusCode::OK,
        &lb_wire::CompositeResponse {
            composite_response: out,
        },
    )
}

fn run_sub(
    cx: &Ctx,
    call: &Call,
    method: &str,
    url: &str,
    body: Option<Value>,
    headers: Option<&Map<String, Value>>,
) -> Reply {
    let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
            format!("Invalid HTTP method: {method}"),
        );
    };
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let Some(rest) = path.strip_prefix("/services/data/") else {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
            format!("Invalid URL for a composite subrequest: {url}"),
        );
    };
    let (version_seg, segs) = split_path(rest);
    let version = match super::parse_version(&version_seg) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if segs.first().is_some_and(|s| s == "composite") && segs.len() == 1 {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
            "A composite request cannot contain another composite request",
        );
    }
    let mut hdrs = HeaderMap::new();
    for (k, v) in headers.into_iter().flatten() {
        if let (Ok(name), Some(Ok(val))) = (
            HeaderName::from_bytes(k.as_bytes()),
            v.as_str().map(HeaderValue::from_str),
        ) {
            hdrs.insert(name, val);
        }
    }
    let body = body
        .map(|b| Bytes::from(serde_json::to_vec(&b).unwrap_or_default()))
        .unwrap_or_default();
    let sub = Call {
        method,
        version,
        segs,
        query: query.to_owned(),
        headers: hdrs,
        body,
        injected: call.injected,
        base: call.base.clone(),
    };
    data::dispatch(cx, &sub)
}

/// Replaces every `@{ref.path}` in `s` with the referenced value.
fn resolve_refs_str(s: &str, done: &[(String, Value, bool)]) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("@{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let expr = &after[..end];
        let v = lookup_ref(expr, done)?;
        match v {
            Value::String(x) => out.push_str(&x),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn resolve_refs_value(v: &Value, done: &[(String, Value, bool)]) -> Result<Value, String> {
    Ok(match v {
        Value::String(s)
            if s.starts_with("@{") && s.ends_with('}') && s.matches("@{").count() == 1 =>
        {
            lookup_ref(&s[2..s.len() - 1], done)?
        }
        Value::String(s) if s.contains("@{") => Value::String(resolve_refs_str(s, done)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| resolve_refs_value(x, done))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut o = Map::new();
            for (k, x) in m {
                o.insert(k.clone(), resolve_refs_value(x, done)?);
            }
            Value::Object(o)
        }
        other => other.clone(),
    })
}

/// `refAcc.id`, `refQuery.records[0].Id`.
fn lookup_ref(expr: &str, done: &[(String, Value, bool)]) -> Result<Value, String> {
    let (name, path) = expr.split_once('.').unwrap_or((expr, ""));
    let missing = || {
        format!(
            "Invalid reference specified. No value for {expr} found in {name}. Provided referenceId ('{name}') must exist and be in a successful state."
        )
    };
    let Some((_, body, ok)) = done.iter().find(|(r, _, _)| r == name) else {
        return Err(missing());
    };
    if !ok {
        return Err(missing());
    }
    let mut cur = body;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            cur = cur.get(key).ok_or_else(missing)?;
        }
        for idx in indexes.split('[').filter(|x| !x.is_empty()) {
            let n: usize = idx.trim_end_matches(']').parse().map_err(|_| missing())?;
            cur = cur.get(n).ok_or_else(missing)?;
        }
    }
    Ok(cur.clone())
}
