//! Replication: `GET /sobjects/{type}/updated/?start=&end=` and `/deleted/` (salesforce-api.md
//! §9, REST "sObject Get Updated" / "Get Deleted").
//!
//! Invariants:
//! - `start` and `end` are truncated to the minute; `start` must precede `end` and lie within
//!   the last 30 days, otherwise `INVALID_REPLICATION_DATE`.
//! - The window covered is `[start, latestDateCovered)` where `latestDateCovered` is `end`, or the
//!   current minute when `end` is later: a client that polls from the previous
//!   `latestDateCovered` misses nothing and sees nothing twice.
//! - Changes are detected by `SystemModstamp` (stored as `…+0000` strings, whose order is time
//!   order); deletions by the recycle bin's deletion time. More than 600,000 ids is
//!   `EXCEEDED_ID_LIMIT`.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::data::not_allowed;
use super::{Call, Ctx, Reply};
use crate::state::{format_datetime, parse_datetime};

/// At most this many ids per call (§9).
const MAX_IDS: usize = 600_000;
/// Only the last 30 days can be replicated (§9).
const WINDOW_DAYS: i64 = 30;

/// Routes `sobjects/{type}/updated` and `/deleted`; `None` for other paths.
pub(crate) fn route(em: &Ctx, call: &Call, segs: &[&str]) -> Option<Reply> {
    let ["sobjects", object, which @ ("updated" | "deleted")] = segs else {
        return None;
    };
    if call.method != Method::GET {
        return Some(not_allowed(&call.method, "GET,HEAD"));
    }
    Some(match window(call) {
        Err(reply) => reply,
        Ok((start, end)) if *which == "updated" => updated(em, object, start, end),
        Ok((start, end)) => deleted(em, object, start, end),
    })
}

fn bad_date(message: impl Into<String>) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, "INVALID_REPLICATION_DATE", message)
}

fn to_minute(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_second(0)
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(t)
}

/// Parses and checks `start`/`end`; returns them truncated, with `end` capped at now.
fn window(call: &Call) -> Result<(OffsetDateTime, OffsetDateTime), Reply> {
    let param = |name: &str| -> Result<OffsetDateTime, Reply> {
        let raw = call
            .param(name)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                Reply::error(
                    StatusCode::BAD_REQUEST,
                    "MISSING_ARGUMENT",
                    format!("{name} parameter is required"),
                )
            })?;
        // A `+` of the offset arrives as a space when the client did not URL-encode it.
        let fixed = raw.trim().replace(' ', "+");
        parse_datetime(&fixed).map(to_minute).ok_or_else(|| {
            bad_date(format!(
                "Unable to parse {name} date: {raw}; use ISO 8601, e.g. 2026-05-01T00:00:00+00:00"
            ))
        })
    };
    let (start, end) = (param("start")?, param("end")?);
    if start >= end {
        return Err(bad_date("start date must chronologically precede end date"));
    }
    let now = OffsetDateTime::now_utc();
    if start < to_minute(now) - Duration::days(WINDOW_DAYS) {
        return Err(bad_date(format!(
            "start date cannot be more than {WINDOW_DAYS} days ago"
        )));
    }
    Ok((start, end.min(to_minute(now))))
}

fn updated(em: &Ctx, object: &str, start: OffsetDateTime, end: OffsetDateTime) -> Reply {
    let org = em.org();
    let Some(table) = org.table(object) else {
        return Reply::not_found();
    };
    let (from, to) = (format_datetime(start), format_datetime(end));
    let bin = table.recycle_bin();
    let mut ids = Vec::new();
    for (row, rec) in table.rows().iter().enumerate() {
        if bin.contains_key(&(row as u32)) || rec.get("IsDeleted") == Some(&Value::Bool(true)) {
            continue;
        }
        let stamp = rec
            .get("SystemModstamp")
            .or_else(|| rec.get("LastModifiedDate"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if stamp >= from.as_str() && stamp < to.as_str() {
            ids.push(rec.get("Id").cloned().unwrap_or(Value::Null));
            if ids.len() > MAX_IDS {
                return too_many();
            }
        }
    }
    Reply::json(
        StatusCode::OK,
        &json!({"ids": ids, "latestDateCovered": to}),
    )
}

fn deleted(em: &Ctx, object: &str, start: OffsetDateTime, end: OffsetDateTime) -> Reply {
    let org = em.org();
    let Some(table) = org.table(object) else {
        return Reply::not_found();
    };
    let (from, to) = (format_datetime(start), format_datetime(end));
    let mut out = Vec::new();
    for (row, at) in table.recycle_bin() {
        if at.as_str() >= from.as_str() && at.as_str() < to.as_str() {
            let id = table
                .row(*row)
                .and_then(|r| r.get("Id"))
                .cloned()
                .unwrap_or(Value::Null);
            out.push(json!({"id": id, "deletedDate": at}));
            if out.len() > MAX_IDS {
                return too_many();
            }
        }
    }
    // Nothing has ever been purged from the emulated recycle bin, so deletions are known from
    // the org's creation (its Organization record), to the minute.
    let earliest = org
        .table("Organization")
        .and_then(|t| t.rows().first())
        .and_then(|r| r.get("CreatedDate"))
        .and_then(Value::as_str)
        .and_then(parse_datetime)
        .map(|t| format_datetime(to_minute(t)))
        .unwrap_or_else(|| from.clone());
    Reply::json(
        StatusCode::OK,
        &json!({"deletedRecords": out, "earliestDateAvailable": earliest, "latestDateCovered": to}),
    )
}

fn too_many() -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        "EXCEEDED_ID_LIMIT",
        format!("More than {MAX_IDS} ids match; choose start and end dates closer together"),
    )
}
