//! Bulk API 2.0 over HTTP (salesforce-api.md §8): `/jobs/ingest` and `/jobs/query`.
//!
//! Invariants:
//! - Every call is an ordinary data-API call (authenticated, counted, `Sforce-Limit-Info`);
//!   this module only adds routing and the job state machine of `state::bulk`.
//! - Processing runs on its own thread once a job is closed (ingest) or created (query), so the
//!   closing call answers at once with `UploadComplete` and clients poll as with Salesforce.
//!   Ingest rows are applied in internal batches of 10,000 under the org write lock, releasing it
//!   between batches so other API calls are not starved.
//! - A counted write fault (`/__emulator/faults` UNABLE_TO_LOCK_ROW or DUPLICATES_DETECTED)
//!   consumed by the upload or the close of a job is not lost: the job's first row fails with
//!   it in `failedResults/`, the others are processed.
//! - Query result pages always carry `Sforce-Locator` (the string `null` on the last page) and
//!   `Sforce-NumberOfRecords`; without `maxRecords` the whole result is one page.

use std::sync::Arc;
use std::time::Instant;

use axum::http::{HeaderName, Method, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};

use super::data::{not_allowed, parse_object};
use super::{Call, Ctx, Reply};
use crate::Emulator;
use crate::soql;
use crate::state::bulk::{
    self as jobs, Delimiter, INTERNAL_BATCH, Job, JobKind, JobState, LineEnding, MAX_UPLOAD_BYTES,
    Operation, Outcome, ResultKind,
};
use crate::state::{Org, Record};

const CSV: &str = "text/csv";

/// Routes `jobs/…`; `None` when the path is not a Bulk 2.0 path.
pub(crate) fn route(em: &Ctx, call: &Call, segs: &[&str]) -> Option<Reply> {
    let m = &call.method;
    let kind = match segs.get(1) {
        Some(&"ingest") => JobKind::Ingest,
        Some(&"query") => JobKind::Query,
        _ => return None,
    };
    if segs.first() != Some(&"jobs") {
        return None;
    }
    Some(match (&segs[2..], kind) {
        ([], _) => match *m {
            Method::POST => create(em, call, kind),
            Method::GET => list(em, call, kind),
            _ => not_allowed(m, "GET,POST"),
        },
        ([id], _) => match *m {
            Method::GET => info(em, id, kind),
            Method::PATCH => change_state(em, call, id, kind),
            Method::DELETE => delete(em, id, kind),
            _ => not_allowed(m, "GET,PATCH,DELETE"),
        },
        ([id, "batches"], JobKind::Ingest) => match *m {
            Method::PUT => upload(em, call, id),
            _ => not_allowed(m, "PUT"),
        },
        (
            [
                id,
                which @ ("successfulResults" | "failedResults" | "unprocessedrecords"),
            ],
            JobKind::Ingest,
        ) => match *m {
            Method::GET => ingest_results(em, id, which),
            _ => not_allowed(m, "GET"),
        },
        ([id, "results"], JobKind::Query) => match *m {
            Method::GET => query_results(em, call, id),
            _ => not_allowed(m, "GET"),
        },
        _ => Reply::not_found(),
    })
}

fn invalid_job(message: impl Into<String>) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, "INVALIDJOB", message)
}

fn invalid_value(property: &str, value: &str) -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        "API_ERROR",
        format!("Invalid value: '{value}' supplied for property: '{property}'"),
    )
}

fn invalid_state(message: impl Into<String>) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, "INVALIDJOBSTATE", message)
}

fn str_prop<'a>(
    body: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, Reply> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid_value(name, &other.to_string())),
    }
}

/// `POST /jobs/ingest` and `POST /jobs/query`.
fn create(em: &Ctx, call: &Call, kind: JobKind) -> Reply {
    let body = match parse_object(call, "JobInfo") {
        Ok(b) => b,
        Err(r) => return r,
    };
    match create_job(em, call, kind, &body) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn create_job(
    em: &Ctx,
    call: &Call,
    kind: JobKind,
    body: &serde_json::Map<String, Value>,
) -> Result<Reply, Reply> {
    let op_text = str_prop(body, "operation")?.unwrap_or_default();
    let operation = Operation::parse(op_text)
        .filter(|op| op.is_query() == (kind == JobKind::Query))
        .ok_or_else(|| invalid_value("operation", op_text))?;
    if let Some(ct) = str_prop(body, "contentType")?.filter(|ct| *ct != "CSV") {
        return Err(invalid_value("contentType", ct));
    }
    let delimiter = match str_prop(body, "columnDelimiter")? {
        None => Delimiter::Comma,
        Some(d) => Delimiter::parse(d).ok_or_else(|| invalid_value("columnDelimiter", d))?,
    };
    let line_ending = match str_prop(body, "lineEnding")? {
        None => LineEnding::Lf,
        Some(l) => LineEnding::parse(l).ok_or_else(|| invalid_value("lineEnding", l))?,
    };
    let (object, external_id, compiled) = if kind == JobKind::Query {
        let query = str_prop(body, "query")?
            .filter(|q| !q.trim().is_empty())
            .ok_or_else(|| {
                Reply::error(
                    StatusCode::BAD_REQUEST,
                    "API_ERROR",
                    "Invalid value: '' supplied for property: 'query'",
                )
            })?;
        let org = em.org();
        let compiled = soql::compile(query, &*org)
            .map_err(|e| Reply::error(StatusCode::BAD_REQUEST, e.error_code, e.message))?;
        if compiled.is_count() {
            // Bulk 2.0 refuses aggregate functions (§8.2, "Create a Query Job").
            return Err(Reply::error(
                StatusCode::BAD_REQUEST,
                "API_ERROR",
                "Aggregate queries are not supported by Bulk API 2.0 query jobs",
            ));
        }
        (
            compiled.object().to_owned(),
            None,
            Some((query.to_owned(), compiled)),
        )
    } else {
        let name = str_prop(body, "object")?.unwrap_or_default();
        let org = em.org();
        let def = org
            .object(name)
            .ok_or_else(|| invalid_job(format!("InvalidJob : Unable to find object: {name}")))?;
        let external = match (operation, str_prop(body, "externalIdFieldName")?) {
            (Operation::Upsert, None | Some("")) => {
                return Err(invalid_job(format!(
                    "InvalidJob : External ID was blank for {}. An External ID must be specified for upsert.",
                    def.name
                )));
            }
            (Operation::Upsert, Some(f)) => {
                let field = def.field(f).filter(|fd| fd.external_id || fd.name == "Id").ok_or_else(|| {
                    invalid_job(format!("InvalidJob : Field name provided, {f} does not match an External ID for {}", def.name))
                })?;
                Some(field.name.clone())
            }
            _ => None,
        };
        (def.name.clone(), external, None)
    };
    let (user, now) = {
        let mut org = em.org_mut();
        (org.user_id.clone(), org.now())
    };
    let mut store = em.em.bulk();
    let id = store.next_id();
    let mut job = Job::new(
        id.clone(),
        operation,
        object,
        external_id,
        delimiter,
        line_ending,
        call.version,
        user,
        now,
    );
    let compiled = compiled.map(|(text, c)| {
        job.query = Some(text);
        c
    });
    let reply = Reply::json(StatusCode::OK, &job.info(false));
    store.insert(job);
    drop(store);
    if let Some(compiled) = compiled {
        let em2 = em.em.clone();
        std::thread::spawn(move || run_query(&em2, &id, compiled));
    }
    Ok(reply)
}

/// `GET /jobs/ingest` / `GET /jobs/query`: every job of that kind, one page.
fn list(em: &Ctx, call: &Call, kind: JobKind) -> Reply {
    let _ = call;
    let store = em.em.bulk();
    let records: Vec<lb_wire::bulk::JobInfo> = store
        .of_kind(kind)
        .map(|j| {
            let mut info = j.info(false);
            info.content_url = None;
            info.job_type = Some(
                if kind == JobKind::Ingest {
                    "V2Ingest"
                } else {
                    "V2Query"
                }
                .into(),
            );
            info
        })
        .collect();
    Reply::json(
        StatusCode::OK,
        &json!({"done": true, "records": records, "nextRecordsUrl": null}),
    )
}

fn with_job<T>(em: &Ctx, id: &str, kind: JobKind, f: impl FnOnce(&mut Job) -> T) -> Option<T> {
    let mut store = em.em.bulk();
    store.get_mut(id).filter(|j| j.kind == kind).map(f)
}

/// `GET /jobs/…/{id}`.
fn info(em: &Ctx, id: &str, kind: JobKind) -> Reply {
    with_job(em, id, kind, |j| Reply::json(StatusCode::OK, &j.info(true)))
        .unwrap_or_else(Reply::not_found)
}

/// `PATCH /jobs/…/{id}` with `{"state":"UploadComplete"}` (ingest) or `{"state":"Aborted"}`.
fn change_state(em: &Ctx, call: &Call, id: &str, kind: JobKind) -> Reply {
    let body = match parse_object(call, "JobInfo") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let wanted = match str_prop(&body, "state") {
        Ok(Some(s)) => s.to_owned(),
        Ok(None) => return invalid_value("state", ""),
        Err(r) => return r,
    };
    let now = em.org_mut().now();
    let outcome = with_job(em, id, kind, |job| {
        let from = job.state;
        let to = match (wanted.as_str(), kind) {
            ("UploadComplete", JobKind::Ingest) if from == JobState::Open => {
                JobState::UploadComplete
            }
            ("Aborted", _) if !from.is_terminal() => JobState::Aborted,
            ("UploadComplete" | "Aborted", _) => {
                return Err(invalid_state(format!(
                    "InvalidJobState : Cannot change the state of job {} from {} to {wanted}",
                    job.id,
                    from.as_str()
                )));
            }
            (other, _) => return Err(invalid_value("state", other)),
        };
        job.state = to;
        if let Some(kind) = call.injected {
            job.injected
                .get_or_insert_with(|| super::fault_error(kind, &job.object, None));
        }
        if to == JobState::Aborted {
            job.finished_ms = Some(crate::state::now_ms());
        }
        job.system_modstamp = now.clone();
        Ok((
            Reply::json(StatusCode::OK, &job.info(false)),
            to == JobState::UploadComplete,
        ))
    });
    match outcome {
        None => Reply::not_found(),
        Some(Err(r)) => r,
        Some(Ok((reply, start))) => {
            if start {
                let em2 = em.em.clone();
                let id = id.to_owned();
                std::thread::spawn(move || run_ingest(&em2, &id));
            }
            reply
        }
    }
}

/// `DELETE /jobs/…/{id}`: only once the job is closed (UploadComplete or later), 204.
fn delete(em: &Ctx, id: &str, kind: JobKind) -> Reply {
    let mut store = em.em.bulk();
    let Some(job) = store.get(id).filter(|j| j.kind == kind) else {
        return Reply::not_found();
    };
    if matches!(job.state, JobState::Open | JobState::InProgress) {
        return invalid_state(format!(
            "InvalidJobState : Cannot delete job {} in state {}; close or abort it first",
            job.id,
            job.state.as_str()
        ));
    }
    store.remove(id);
    Reply::empty(StatusCode::NO_CONTENT)
}

/// `PUT /jobs/ingest/{id}/batches`: the job's one CSV upload, 201 with an empty body.
fn upload(em: &Ctx, call: &Call, id: &str) -> Reply {
    if call.body.len() > MAX_UPLOAD_BYTES {
        return Reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQUEST_ENTITY_TOO_LARGE",
            format!(
                "The uploaded data exceeds the maximum of {MAX_UPLOAD_BYTES} bytes per job; split it into several jobs."
            ),
        );
    }
    let content_type = call
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !content_type.starts_with("text/csv") {
        return Reply::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("Content type '{content_type}' is not supported for job data; send text/csv"),
        );
    }
    with_job(em, id, JobKind::Ingest, |job| {
        if job.state != JobState::Open {
            return invalid_state(format!(
                "InvalidJobState : Cannot upload data to job {} in state {}",
                job.id,
                job.state.as_str()
            ));
        }
        if job.upload.is_some() {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "BULK_API_ERROR",
                format!(
                    "Found multipe contents for job: <{}>, please 'Close' / 'Abort' / 'Delete' the current Job then create a new Job and make sure you only do 'PUT' once on a given Job.",
                    &job.id[..15]
                ),
            );
        }
        job.upload = Some(call.body.clone());
        if let Some(kind) = call.injected {
            job.injected.get_or_insert_with(|| super::fault_error(kind, &job.object, None));
        }
        Reply::empty(StatusCode::CREATED)
    })
    .unwrap_or_else(Reply::not_found)
}

/// Processes a closed ingest job: parse, check the header, apply in internal batches.
fn run_ingest(em: &Emulator, id: &str) {
    let started = Instant::now();
    let Some(job) = ({
        let mut store = em.bulk();
        store
            .get_mut(id)
            .filter(|j| j.state == JobState::UploadComplete)
            .map(|j| {
                j.state = JobState::InProgress;
                j.clone()
            })
    }) else {
        return;
    };
    let fail = |message: String| {
        let now = em.org_mut().now();
        if let Some(j) = em.bulk().get_mut(id) {
            j.state = JobState::Failed;
            j.finished_ms = Some(crate::state::now_ms());
            j.error_message = Some(message);
            j.system_modstamp = now;
            j.processing_ms = started.elapsed().as_millis() as u64;
        }
    };
    let data = job.upload.clone().unwrap_or_default();
    let (header, rows) = match jobs::parse_upload(&data, job.delimiter, job.line_ending) {
        Ok(parsed) => parsed,
        Err(message) => return fail(message),
    };
    // Bind first: a guard in the match scrutinee would live into `fail`, which writes.
    let planned = jobs::plan(&em.org(), &job, &header);
    let plan = match planned {
        Ok(p) => p,
        Err(message) => return fail(message),
    };
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(rows.len());
    let mut failed = 0u64;
    let mut aborted = false;
    let mut start = 0;
    if let (Some(error), Some(first)) = (&job.injected, rows.first()) {
        outcomes.push(jobs::refused(&job, &plan, first, error));
        failed += 1;
        start = 1;
    }
    for chunk in rows[start..].chunks(INTERNAL_BATCH) {
        if em
            .bulk()
            .get(id)
            .is_none_or(|j| j.state == JobState::Aborted)
        {
            aborted = true;
            break;
        }
        let done = {
            let mut org = em.org_mut();
            jobs::apply(&mut org, &job, &plan, chunk)
        };
        failed += done
            .iter()
            .filter(|o| matches!(o, Outcome::Failure { .. }))
            .count() as u64;
        outcomes.extend(done);
        if let Some(j) = em.bulk().get_mut(id) {
            j.processed = outcomes.len() as u64;
            j.failed = failed;
        }
    }
    outcomes.resize(rows.len(), Outcome::Unprocessed);
    let now = em.org_mut().now();
    let mut store = em.bulk();
    let Some(j) = store.get_mut(id) else { return };
    j.header = header;
    j.rows = rows;
    j.processed = outcomes
        .iter()
        .filter(|o| !matches!(o, Outcome::Unprocessed))
        .count() as u64;
    j.failed = failed;
    j.outcomes = outcomes;
    j.upload = None;
    j.system_modstamp = now;
    j.processing_ms = started.elapsed().as_millis() as u64;
    if !aborted && j.state == JobState::InProgress {
        j.state = JobState::JobComplete;
    }
    j.finished_ms = Some(crate::state::now_ms());
}

/// Runs a query job once and keeps the matching row numbers.
fn run_query(em: &Emulator, id: &str, compiled: soql::CompiledQuery) {
    let started = Instant::now();
    let all = match em.bulk().get_mut(id) {
        Some(j) if j.state == JobState::UploadComplete => {
            j.state = JobState::InProgress;
            j.operation == Operation::QueryAll
        }
        _ => return,
    };
    let rows = {
        let org = em.org();
        matching_rows(&org, &compiled, all)
    };
    let now = em.org_mut().now();
    let mut store = em.bulk();
    let Some(j) = store.get_mut(id) else { return };
    if j.state != JobState::InProgress {
        return; // aborted meanwhile
    }
    j.processed = rows.len() as u64;
    j.query_fields = Arc::new(compiled.fields().to_vec());
    j.query_rows = Arc::new(rows);
    j.state = JobState::JobComplete;
    j.finished_ms = Some(crate::state::now_ms());
    j.system_modstamp = now;
    j.processing_ms = started.elapsed().as_millis() as u64;
}

fn matching_rows(org: &Org, compiled: &soql::CompiledQuery, all: bool) -> Vec<u32> {
    let Some(table) = org.table(compiled.object()) else {
        return Vec::new();
    };
    let rows = table.rows();
    let bin = table.recycle_bin();
    let live = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| all || !bin.contains_key(&(*i as u32)))
        .map(|(_, r)| r);
    // `run` hands back references into `rows`; their positions are the row numbers.
    let base = rows.as_ptr() as usize;
    let size = std::mem::size_of::<Record>().max(1);
    compiled
        .run(live)
        .into_iter()
        .map(|r| ((r as *const Record as usize - base) / size) as u32)
        .collect()
}

/// `GET /jobs/ingest/{id}/successfulResults|failedResults|unprocessedrecords`.
fn ingest_results(em: &Ctx, id: &str, which: &str) -> Reply {
    let kind = match which {
        "successfulResults" => ResultKind::Successful,
        "failedResults" => ResultKind::Failed,
        _ => ResultKind::Unprocessed,
    };
    with_job(em, id, JobKind::Ingest, |job| {
        if kind != ResultKind::Unprocessed && !job.state.is_terminal() {
            return invalid_state(format!(
                "InvalidJobState : Results are available once job {} is complete; it is {}",
                job.id,
                job.state.as_str()
            ));
        }
        if kind == ResultKind::Unprocessed && job.rows.is_empty() {
            // A job failed or aborted before its rows were read: the whole upload is unprocessed.
            let data = job.upload.clone().unwrap_or_default();
            return Reply::text(StatusCode::OK, CSV, data);
        }
        Reply::text(StatusCode::OK, CSV, jobs::result_file(job, kind))
    })
    .unwrap_or_else(Reply::not_found)
}

fn encode_locator(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(offset.to_string())
}

fn decode_locator(locator: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(locator.trim_end_matches('='))
        .ok()?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

/// `GET /jobs/query/{id}/results?locator=&maxRecords=`: one CSV page.
fn query_results(em: &Ctx, call: &Call, id: &str) -> Reply {
    let max = match call.param("maxRecords") {
        None => None,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    "API_ERROR",
                    format!("Invalid value: '{v}' supplied for parameter: 'maxRecords'"),
                );
            }
        },
    };
    let offset = match call.param("locator").filter(|l| !l.is_empty()) {
        None => 0,
        Some(l) => match decode_locator(&l) {
            Some(n) => n,
            None => {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_QUERY_LOCATOR",
                    format!("Invalid locator: {l}"),
                );
            }
        },
    };
    let snapshot = with_job(em, id, JobKind::Query, |job| {
        if job.state != JobState::JobComplete {
            return Err(invalid_state(format!(
                "InvalidJobState : Results are available once job {} is complete; it is {}",
                job.id,
                job.state.as_str()
            )));
        }
        if job.api_version != call.version {
            return Err(Reply::error(
                StatusCode::CONFLICT,
                "API_ERROR",
                format!(
                    "Use the API version the job was created with (v{}.0) to get its results",
                    job.api_version
                ),
            ));
        }
        // Query jobs carry no ingest data; the row list is shared.
        Ok(job.clone())
    });
    let job = match snapshot {
        None => return Reply::not_found(),
        Some(Err(r)) => return r,
        Some(Ok(j)) => j,
    };
    let total = job.query_rows.len();
    if offset > total {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            format!("Invalid locator: {}", encode_locator(offset)),
        );
    }
    let end = max.map_or(total, |m| offset.saturating_add(m).min(total));
    let page = &job.query_rows[offset..end];
    let body = {
        let org = em.org();
        jobs::query_page(&org, &job, page)
    };
    let locator = if end < total {
        encode_locator(end)
    } else {
        "null".to_owned()
    };
    Reply::text(StatusCode::OK, CSV, body)
        .with_header(HeaderName::from_static("sforce-locator"), &locator)
        .with_header(
            HeaderName::from_static("sforce-numberofrecords"),
            &page.len().to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators_round_trip_and_garbage_is_refused() {
        assert_eq!(encode_locator(10000), "MTAwMDA");
        assert_eq!(decode_locator("MTAwMDA"), Some(10000));
        assert_eq!(decode_locator("MTAwMDA="), Some(10000));
        assert_eq!(decode_locator("!!"), None);
        assert_eq!(decode_locator("YWJj"), None);
    }
}
