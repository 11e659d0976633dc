//! `/query` and `/queryAll` (§4): compile with the SOQL module, run once, page by locator.
//!
//! Invariant (performance): a query is filtered and sorted exactly once. Its result is kept as a
//! cursor of row numbers (4 bytes per record, rows are never removed from a table), and each
//! `nextRecordsUrl` page only renders its slice. Pages render the records' current values.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use super::data::RecordOut;
use super::{Call, Ctx, Reply};
use crate::soql::{self, FieldKind};
use crate::state::{FieldType, Org, Record, ids, now_ms};

/// Default and maximum page size; the minimum a client may ask for is 200 (§4).
const MAX_BATCH: usize = 2000;
const MIN_BATCH: usize = 200;
/// Cursors live two days (API v56+ rules, §4).
const CURSOR_TTL_MS: i64 = 2 * 24 * 3600 * 1000;
/// Open cursors kept at most; the oldest go first.
const MAX_CURSORS: usize = 256;

impl soql::Schema for Org {
    fn object(&self, name: &str) -> Option<String> {
        Org::object(self, name).map(|o| o.name.clone())
    }

    fn field(&self, object: &str, field: &str) -> Option<(String, FieldKind)> {
        let f = Org::object(self, object)?.field(field)?;
        let kind = match f.field_type {
            FieldType::Id => FieldKind::Id,
            FieldType::String | FieldType::Address => FieldKind::String,
            FieldType::Boolean => FieldKind::Boolean,
            FieldType::Int => FieldKind::Int,
            FieldType::Double => FieldKind::Double,
            FieldType::Currency => FieldKind::Currency,
            FieldType::Percent => FieldKind::Percent,
            FieldType::Date => FieldKind::Date,
            FieldType::DateTime => FieldKind::DateTime,
            FieldType::Picklist => FieldKind::Picklist,
            FieldType::MultiPicklist => FieldKind::MultiPicklist,
            FieldType::Email => FieldKind::Email,
            FieldType::Phone => FieldKind::Phone,
            FieldType::Url => FieldKind::Url,
            FieldType::TextArea => FieldKind::TextArea,
            FieldType::Reference => FieldKind::Reference,
        };
        Some((f.name.clone(), kind))
    }

    fn key_prefix(&self, object: &str) -> Option<String> {
        Org::object(self, object).map(|o| o.key_prefix.clone())
    }
}

/// An open query result.
struct Cursor {
    object: String,
    fields: Arc<Vec<String>>,
    rows: Arc<Vec<u32>>,
    batch: usize,
    created_ms: i64,
}

/// Open query cursors by locator id (`0r8…`, 18 characters).
#[derive(Default)]
pub(crate) struct Cursors {
    open: HashMap<String, Cursor>,
    seq: u64,
}

impl Cursors {
    fn insert(&mut self, cursor: Cursor) -> String {
        let now = now_ms();
        self.open.retain(|_, c| now - c.created_ms < CURSOR_TTL_MS);
        while self.open.len() >= MAX_CURSORS {
            let Some(oldest) = self.open.iter().min_by_key(|(_, c)| c.created_ms).map(|(k, _)| k.clone()) else { break };
            self.open.remove(&oldest);
        }
        self.seq += 1;
        let id = ids::to18(&ids::make_id15("0r8", self.seq));
        self.open.insert(id.clone(), cursor);
        id
    }

    /// Number of open cursors (for tests and stats).
    pub(crate) fn len(&self) -> usize {
        self.open.len()
    }
}

/// `Sforce-Query-Options: batchSize=N`, clamped to 200..=2000 (§4).
fn batch_size(call: &Call) -> Option<usize> {
    let v = call.headers.get("sforce-query-options")?.to_str().ok()?;
    v.split(',')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("batchSize"))
        .and_then(|(_, n)| n.trim().parse::<usize>().ok())
        .map(|n| n.clamp(MIN_BATCH, MAX_BATCH))
}

fn soql_error(e: soql::SoqlError) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, e.error_code, e.message)
}

/// `GET /query?q=…` and `/queryAll?q=…` (deleted records included).
pub(crate) fn start(em: &Ctx, call: &Call, all: bool) -> Reply {
    let Some(q) = call.param("q").filter(|q| !q.trim().is_empty()) else {
        return Reply::error(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", "A query string has to be specified");
    };
    let org = em.org();
    let compiled = match soql::compile(&q, &*org) {
        Ok(c) => c,
        Err(e) => return soql_error(e),
    };
    if call.param("columns").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Reply::json(StatusCode::OK, &compiled.columns());
    }
    let Some(table) = org.table(compiled.object()) else { return Reply::not_found() };
    let rows_slice = table.rows();
    let bin = table.recycle_bin();
    let live = rows_slice.iter().enumerate().filter(|(i, _)| all || !bin.contains_key(&(*i as u32))).map(|(_, r)| r);
    if compiled.is_count() {
        let n = live.filter(|r| compiled.matches(r)).count();
        return Reply::json(StatusCode::OK, &serde_json::json!({"totalSize": n, "done": true, "records": []}));
    }
    // `run` hands back references into `rows_slice`; their positions are the row numbers.
    // Address arithmetic on the slice (no unsafe): element i lives at base + i * size.
    let base = rows_slice.as_ptr() as usize;
    let size = std::mem::size_of::<Record>().max(1);
    let rows: Vec<u32> = compiled.run(live).into_iter().map(|r| ((r as *const Record as usize - base) / size) as u32).collect();
    let batch = batch_size(call).unwrap_or(MAX_BATCH);
    let fields: Arc<Vec<String>> = Arc::new(compiled.fields().to_vec());
    let object = compiled.object().to_owned();
    let total = rows.len();
    let first: Vec<u32> = rows.iter().take(batch).copied().collect();
    let next = if total > batch {
        let cursor = Cursor { object: object.clone(), fields: fields.clone(), rows: Arc::new(rows), batch, created_ms: now_ms() };
        let locator = em.cursors().insert(cursor);
        Some(format!("{}/query/{locator}-{batch}", call.prefix()))
    } else {
        None
    };
    render_page(&org, call.version, &object, &fields, &first, total, next)
}

/// `GET /query/{locator}-{offset}`.
pub(crate) fn next_page(em: &Ctx, call: &Call, locator: &str) -> Reply {
    let invalid = || Reply::error(StatusCode::BAD_REQUEST, "INVALID_QUERY_LOCATOR", "invalid query locator");
    let Some((id, offset)) = locator.rsplit_once('-') else { return invalid() };
    let Ok(offset) = offset.parse::<usize>() else { return invalid() };
    let (object, fields, rows, batch) = {
        let cursors = em.cursors();
        let Some(c) = cursors.open.get(id) else { return invalid() };
        (c.object.clone(), c.fields.clone(), c.rows.clone(), batch_size(call).unwrap_or(c.batch))
    };
    if offset > rows.len() {
        return invalid();
    }
    let end = (offset + batch).min(rows.len());
    let next = (end < rows.len()).then(|| format!("{}/query/{id}-{end}", call.prefix()));
    let org = em.org();
    render_page(&org, call.version, &object, &fields, &rows[offset..end], rows.len(), next)
}

struct PageOut<'a> {
    org: &'a Org,
    version: u32,
    object: &'a str,
    fields: &'a [String],
    rows: &'a [u32],
    total: usize,
    next: Option<String>,
}

struct RecordsOut<'a>(&'a PageOut<'a>);

impl serde::Serialize for RecordsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let table = p.org.table(p.object);
        let mut seq = s.serialize_seq(Some(p.rows.len()))?;
        for row in p.rows {
            if let Some(rec) = table.and_then(|t| t.row(*row)) {
                seq.serialize_element(&RecordOut { object: p.object, version: p.version, rec, fields: p.fields })?;
            }
        }
        seq.end()
    }
}

impl serde::Serialize for PageOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("totalSize", &self.total)?;
        map.serialize_entry("done", &self.next.is_none())?;
        if let Some(next) = &self.next {
            map.serialize_entry("nextRecordsUrl", next)?;
        }
        map.serialize_entry("records", &RecordsOut(self))?;
        map.end()
    }
}

fn render_page(org: &Org, version: u32, object: &str, fields: &[String], rows: &[u32], total: usize, next: Option<String>) -> Reply {
    let page = PageOut { org, version, object, fields, rows, total, next };
    let mut buf = Vec::with_capacity(rows.len() * 256 + 128);
    match serde_json::to_writer(&mut buf, &page) {
        Ok(()) => Reply::raw_json(StatusCode::OK, buf),
        Err(_) => Reply::json(StatusCode::OK, &Value::Null),
    }
}
