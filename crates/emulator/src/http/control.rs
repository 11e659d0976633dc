//! The control API for tests and demos, under `/__emulator/` (JSON in, JSON out). Not part of
//! Salesforce: not authenticated, not counted against the daily allowance.
//!
//! - `POST reset`: a fresh org (records, custom fields, sessions, counters, faults cleared).
//! - `POST records` `{"sobject": "Lead", "records": [...]}`: seeds records (all or none);
//!   system fields such as `CreatedDate` may be given. Answers `{"ids": [...]}`.
//! - `GET stats`: `{"api_requests": N, "by_endpoint": {...}, "daily_limit": M, "records": {...}}`.
//! - `POST faults` `{"kind": K, "count": N}`: see [`crate::state::FaultKind`].
//! - `POST password` `{"password": P, "security_token": T}`: new credentials; clears an
//!   expired password.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use super::{Reply, read_body};
use crate::Emulator;
use crate::state::FaultKind;

fn bad(message: impl Into<String>) -> Response {
    Reply::json(StatusCode::BAD_REQUEST, &json!({"error": message.into()})).into_response()
}

async fn json_body(em: &Emulator, req: Request) -> Result<Map<String, Value>, Response> {
    let body = read_body(em, req.into_body())
        .await
        .map_err(IntoResponse::into_response)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad("the body must be a JSON object")),
        Err(e) => Err(bad(format!("malformed JSON: {e}"))),
    }
}

pub(crate) async fn reset(State(em): State<Emulator>) -> Response {
    em.reset();
    Reply::json(StatusCode::OK, &json!({"reset": true})).into_response()
}

pub(crate) async fn records(State(em): State<Emulator>, req: Request) -> Response {
    let body = match json_body(&em, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(object) = body
        .get("sobject")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return bad("missing \"sobject\"");
    };
    let Some(records) = body.get("records").and_then(Value::as_array).cloned() else {
        return bad("missing \"records\" (an array of objects)");
    };
    let result = tokio::task::spawn_blocking(move || {
        let mut org = em.org_mut();
        if org.object(&object).is_none() {
            return Err(json!({"error": format!("unknown sobject {object}")}));
        }
        let sp = org.begin();
        let mut ids = Vec::with_capacity(records.len());
        for (index, rec) in records.iter().enumerate() {
            let outcome = match rec.as_object() {
                Some(m) => org.seed(&object, m).map_err(|e| e.errors),
                None => Err(vec![lb_wire::ApiError::new("JSON_PARSER_ERROR", "each record must be a JSON object")]),
            };
            match outcome {
                Ok(id) => ids.push(id),
                Err(errors) => {
                    org.rollback(sp);
                    return Err(json!({"error": "record refused; nothing was seeded", "index": index, "errors": errors}));
                }
            }
        }
        org.commit();
        Ok(ids)
    })
    .await;
    match result {
        Ok(Ok(ids)) => Reply::json(StatusCode::CREATED, &json!({"ids": ids})).into_response(),
        Ok(Err(body)) => Reply::json(StatusCode::BAD_REQUEST, &body).into_response(),
        Err(_) => bad("seeding failed"),
    }
}

pub(crate) async fn stats(State(em): State<Emulator>) -> Response {
    let usage = em.usage().clone();
    let counts: Map<String, Value> = {
        let org = em.org();
        org.objects()
            .filter_map(|o| {
                org.table(&o.name)
                    .map(|t| (o.name.clone(), json!(t.live_count())))
            })
            .collect()
    };
    let faults: Map<String, Value> = usage
        .faults
        .iter()
        .map(|(k, n)| {
            (
                serde_json::to_value(k)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                json!(n),
            )
        })
        .collect();
    let (password_expired, open_sessions) = {
        let auth = em.auth();
        (auth.password_expired, auth.sessions.len())
    };
    let open_cursors = em.cursors().len();
    let body = json!({
        "api_requests": usage.used,
        "daily_limit": usage.daily_limit,
        "by_endpoint": usage.by_endpoint,
        "records": counts,
        "pending_faults": faults,
        "password_expired": password_expired,
        "open_sessions": open_sessions,
        "open_query_cursors": open_cursors,
    });
    Reply::json(StatusCode::OK, &body).into_response()
}

pub(crate) async fn faults(State(em): State<Emulator>, req: Request) -> Response {
    let body = match json_body(&em, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(kind_name) = body.get("kind").and_then(Value::as_str) else {
        return bad("missing \"kind\"");
    };
    let Some(kind) = FaultKind::parse(kind_name) else {
        return bad(format!(
            "unknown fault kind {kind_name:?}; expected one of expire_password, expire_sessions, request_limit_exceeded, server_unavailable, unable_to_lock_row, duplicates_detected"
        ));
    };
    let count = match body.get("count") {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => n,
            None => return bad("\"count\" must be a non-negative integer"),
        },
    };
    if kind == FaultKind::ExpirePassword {
        // The password expires now: the password grant is refused and existing sessions die.
        let mut auth = em.auth();
        auth.password_expired = true;
        auth.sessions.clear();
        return Reply::json(
            StatusCode::OK,
            &json!({"kind": kind_name, "password_expired": true}),
        )
        .into_response();
    }
    let pending = {
        let mut usage = em.usage();
        let n = usage.faults.entry(kind).or_default();
        *n = n.saturating_add(count);
        let pending = *n;
        if pending == 0 {
            usage.faults.remove(&kind);
        }
        pending
    };
    Reply::json(
        StatusCode::OK,
        &json!({"kind": kind_name, "pending": pending}),
    )
    .into_response()
}

pub(crate) async fn password(State(em): State<Emulator>, req: Request) -> Response {
    let body = match json_body(&em, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(password) = body
        .get("password")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    else {
        return bad("missing \"password\"");
    };
    let token = body.get("security_token").and_then(Value::as_str);
    let mut auth = em.auth();
    auth.password = SecretString::from(password.to_owned());
    if let Some(t) = token {
        auth.security_token = SecretString::from(t.to_owned());
    }
    auth.password_expired = false;
    // Sessions opened while the password was expired only served to change it.
    auth.sessions.retain(|_, s| !s.password_expired);
    Reply::json(StatusCode::OK, &json!({"password_changed": true})).into_response()
}
