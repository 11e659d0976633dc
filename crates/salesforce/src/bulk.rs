//! Bulk API 2.0: ingest jobs (CSV streamed up, results mapped back to the caller's rows) and
//! query jobs (CSV pages followed by `Sforce-Locator`).
//!
//! Invariants:
//! - A job's calls are: create, upload, close, polls (with backoff: the interval doubles from
//!   `BulkConfig::poll_initial` up to `poll_max`; an ingest job's first wait is at least the
//!   time its rows take at [`INGEST_ROWS_PER_SEC`], as polling sooner cannot find it done),
//!   then one request per result file or page.
//! - The CSV is held once ([`CsvRows`]: rows encoded as they are added) and sent as a stream
//!   of chunks copied from it; results are matched by a digest of each line, not a copy.
//! - Every input row gets exactly one outcome. Salesforce's result files echo the uploaded
//!   columns but not the row order, so rows are matched back by their uploaded values (rows
//!   with identical values are interchangeable and taken in order). A row that appears in no
//!   result file is reported unprocessed.
//! - Ingest uploads are not retried (a second upload to a job is refused); status polls and
//!   result downloads are (they are reads).
//! - Once a job is closed it runs in the org whatever happens to us: if its results cannot be
//!   read (network, allowance, budget), its rows are reported indeterminate, never unprocessed,
//!   so they are not sent again blindly.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Rows an ingest job processes per second at best (a guess on the fast side: Salesforce's
/// own processing with triggers and rules is slower). A job's first status poll waits at
/// least `rows / INGEST_ROWS_PER_SEC`: each earlier poll is an API call that cannot find the
/// job done.
pub const INGEST_ROWS_PER_SEC: usize = 50_000;

/// The wait before a job's first status poll: `poll_initial`, or longer for a large ingest
/// job (see [`INGEST_ROWS_PER_SEC`]), never above `poll_max`.
fn first_poll_delay(initial: Duration, max: Duration, rows: usize) -> Duration {
    let expected =
        Duration::from_millis((rows as u64).saturating_mul(1000) / INGEST_ROWS_PER_SEC as u64);
    initial.max(expected).min(max.max(initial))
}

use bytes::Bytes;
use lb_wire::ApiError;
use lb_wire::bulk::{
    COL_CREATED, COL_ERROR, COL_ID, CreateIngestJob, CreateQueryJob, HEADER_LOCATOR,
    HEADER_NUMBER_OF_RECORDS, JobInfo, JobStateChange,
};
use reqwest::Method;
use serde_json::Value;

use crate::budget::EndpointKind;
use crate::client::{Body, Call, Client, Target};
use crate::error::Error;
use crate::query::Record;
use crate::retry::Idempotency;
use crate::writes::{RecordOutcome, RecordResult, WriteMethod, WriteOp, WriteReport};

/// Rows encoded per streamed chunk.
const ROWS_PER_CHUNK: usize = 1_000;

/// The rows of an ingest job, encoded to their CSV lines as they are added, in one buffer:
/// a job of 100,000 rows holds its upload (~25 MB) and a span per row, not a `String` per
/// cell nor a JSON map per row. Columns are the union of the rows' fields in the order first
/// met; a row without a field leaves its cell empty (in Bulk 2.0 CSV: the field is left as
/// is), a JSON null is `#N/A` (the field is cleared). A delete job has the `Id` column only.
#[derive(Debug, Default)]
pub struct CsvRows {
    columns: Vec<String>,
    id_only: bool,
    buf: Vec<u8>,
    /// Per row: where its line ends in `buf` and how many cells it wrote (later columns are
    /// empty cells added when the line is sent).
    rows: Vec<(usize, u32)>,
}

impl CsvRows {
    /// Rows for a job of `op`.
    pub fn new(op: &WriteOp) -> CsvRows {
        let id_only = matches!(op, WriteOp::Delete);
        CsvRows {
            columns: if id_only {
                vec!["Id".to_owned()]
            } else {
                Vec::new()
            },
            id_only,
            ..CsvRows::default()
        }
    }

    /// Adds a record (its `attributes` aside) as the next row.
    pub fn push(&mut self, record: &Record) {
        let mut cells: Vec<(usize, &Value)> = Vec::with_capacity(record.len());
        for (field, value) in record {
            if field == "attributes" || (self.id_only && field != "Id") {
                continue;
            }
            let at = match self.columns.iter().position(|c| c == field) {
                Some(i) => i,
                None => {
                    self.columns.push(field.clone());
                    self.columns.len() - 1
                }
            };
            cells.push((at, value));
        }
        cells.sort_unstable_by_key(|(at, _)| *at);
        let width = cells.last().map_or(0, |(at, _)| at + 1);
        let mut next = cells.into_iter().peekable();
        let mut text = String::new();
        for i in 0..width {
            if i > 0 {
                self.buf.push(b',');
            }
            if let Some((_, v)) = next.next_if(|(at, _)| *at == i) {
                text.clear();
                cell_text(v, &mut text);
                push_cell(&mut self.buf, &text);
            }
        }
        self.rows.push((self.buf.len(), width as u32));
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Appends row `i`'s line, as uploaded (every column, `\n` excluded), to `out`.
    fn line_into(&self, i: usize, out: &mut Vec<u8>) {
        let start = if i == 0 { 0 } else { self.rows[i - 1].0 };
        let (end, width) = self.rows[i];
        let from = out.len();
        out.extend_from_slice(&self.buf[start..end]);
        let pad = self.columns.len().saturating_sub((width as usize).max(1));
        out.resize(out.len() + pad, b',');
        end_line(out, from);
    }

    /// Row `i`'s size in the upload.
    fn line_len(&self, i: usize) -> usize {
        let start = if i == 0 { 0 } else { self.rows[i - 1].0 };
        let (end, width) = self.rows[i];
        end - start + self.columns.len().saturating_sub((width as usize).max(1)) + 3
    }
}

/// Ingest or query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobKind {
    Ingest,
    Query,
}

impl JobKind {
    fn path(self) -> &'static str {
        match self {
            Self::Ingest => "jobs/ingest",
            Self::Query => "jobs/query",
        }
    }
    fn endpoint(self) -> EndpointKind {
        match self {
            Self::Ingest => EndpointKind::BulkIngest,
            Self::Query => EndpointKind::BulkQuery,
        }
    }
}

/// A JSON value's text in a Bulk CSV cell (see [`CsvRows`]).
fn cell_text(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("#N/A"),
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        other => out.push_str(&other.to_string()),
    }
}

/// Appends a CSV cell (RFC 4180: quoted when it holds a comma, a quote or a line break).
fn push_cell(out: &mut Vec<u8>, text: &str) {
    if text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push(b'"');
        for b in text.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// Ends a line begun at `from`: a line of one empty cell is written `""` (an empty line is
/// no row at all to a CSV reader).
fn end_line(out: &mut Vec<u8>, from: usize) {
    if out.len() == from {
        out.extend_from_slice(b"\"\"");
    }
}

/// One line of `cells`, encoded as [`CsvRows`] encodes its rows.
fn encode_line<'a>(cells: impl IntoIterator<Item = &'a str>, out: &mut Vec<u8>) {
    let from = out.len();
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_cell(out, c);
    }
    end_line(out, from);
}

/// A row's key in the result index: 128 bits of SHA-256 of its line (rows are matched back
/// by their uploaded values; a collision between two different lines is out of reach).
fn line_key(line: &[u8]) -> u128 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(line);
    u128::from_le_bytes(d[..16].try_into().expect("16 bytes"))
}

/// Parses `sf__Error`: `CODE:message:fields --` (fields may be empty).
pub(crate) fn parse_bulk_error(raw: &str) -> ApiError {
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_suffix("--").unwrap_or(trimmed).trim_end();
    let Some((code, rest)) = trimmed.split_once(':') else {
        return ApiError::new("UNKNOWN_ERROR", raw.trim());
    };
    let (message, fields) = match rest.rsplit_once(':') {
        Some((m, f)) if !f.contains(' ') || f.trim().is_empty() => (m, f),
        _ => (rest, ""),
    };
    let fields: Vec<String> = fields
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    ApiError::with_fields(code.trim(), message.trim(), fields)
}

/// A finished Bulk query: its records come page by page.
#[derive(Debug)]
pub struct BulkQueryPager {
    client: Client,
    job_id: String,
    locator: Option<String>,
    done: bool,
}

impl BulkQueryPager {
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The next page of records (values as strings; empty cells as null), or `None`.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Record>>, Error> {
        if self.done {
            return Ok(None);
        }
        let page_size = self.client.config().bulk.query_page_records;
        let mut call = Call::get(
            EndpointKind::BulkQuery,
            Target::Data(format!("jobs/query/{}/results", self.job_id)),
        )
        .query("maxRecords", page_size.to_string())
        .header("accept", "text/csv");
        if let Some(l) = &self.locator {
            call = call.query("locator", l.clone());
        }
        let reply = self.client.send(call).await?;
        let records = parse_query_csv(&reply.body)?;
        if let Some(n) = reply
            .header(HEADER_NUMBER_OF_RECORDS)
            .and_then(|n| n.trim().parse::<usize>().ok())
            && n != records.len()
        {
            return Err(Error::Protocol(format!(
                "{HEADER_NUMBER_OF_RECORDS} says {n} but the page holds {}",
                records.len()
            )));
        }
        match reply.header(HEADER_LOCATOR).map(str::trim) {
            Some(l) if !l.is_empty() && l != "null" => self.locator = Some(l.to_owned()),
            _ => self.done = true,
        }
        Ok(Some(records))
    }

    pub async fn collect_all(mut self) -> Result<Vec<Record>, Error> {
        let mut out = Vec::new();
        while let Some(p) = self.next_page().await? {
            out.extend(p);
        }
        Ok(out)
    }
}

fn parse_query_csv(body: &[u8]) -> Result<Vec<Record>, Error> {
    let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(body);
    let headers = rdr
        .headers()
        .map_err(|e| Error::Protocol(format!("result CSV: {e}")))?
        .clone();
    let mut out = Vec::new();
    for row in rdr.records() {
        let row = row.map_err(|e| Error::Protocol(format!("result CSV: {e}")))?;
        let rec: Record = headers
            .iter()
            .zip(row.iter())
            .map(|(h, v)| {
                (
                    h.to_owned(),
                    if v.is_empty() {
                        Value::Null
                    } else {
                        Value::String(v.to_owned())
                    },
                )
            })
            .collect();
        out.push(rec);
    }
    Ok(out)
}

impl Client {
    /// Runs `op` over `rows` as Bulk API 2.0 ingest jobs and maps the results back.
    pub async fn bulk_ingest(&self, op: &WriteOp, sobject: &str, rows: Vec<Record>) -> WriteReport {
        let mut csv = CsvRows::new(op);
        for r in rows {
            csv.push(&r);
        }
        self.bulk_ingest_rows(op, sobject, csv).await
    }

    /// [`Client::bulk_ingest`] for rows already encoded (see [`CsvRows`]): a large write
    /// without a JSON map per row. Outcomes are by index in `rows`. One job per ~100 MB of
    /// CSV (Salesforce's advice for the 150 MB base64 cap), one after the other.
    pub async fn bulk_ingest_rows(
        &self,
        op: &WriteOp,
        sobject: &str,
        rows: CsvRows,
    ) -> WriteReport {
        let mut report = WriteReport {
            method: WriteMethod::Bulk,
            outcomes: (0..rows.len())
                .map(|row| RecordOutcome {
                    row,
                    result: RecordResult::Unprocessed,
                })
                .collect(),
            stopped: None,
            job_ids: Vec::new(),
        };
        if rows.is_empty() {
            return report;
        }
        if let Err(e) = crate::soql::check_name(sobject) {
            report.stopped = Some(e.into());
            return report;
        }
        let max_bytes = self.config().bulk.max_upload_bytes;
        let rows = std::sync::Arc::new(rows);
        let mut start = 0;
        while start < rows.len() {
            let mut end = start + 1;
            let mut bytes = rows.line_len(start);
            while end < rows.len() && bytes + rows.line_len(end) <= max_bytes {
                bytes += rows.line_len(end);
                end += 1;
            }
            if let Err(e) = self
                .bulk_ingest_into(op, sobject, &rows, start..end, &mut report)
                .await
            {
                report.stopped = Some(e);
                break;
            }
            start = end;
        }
        report
    }

    async fn bulk_ingest_into(
        &self,
        op: &WriteOp,
        sobject: &str,
        rows: &std::sync::Arc<CsvRows>,
        range: std::ops::Range<usize>,
        report: &mut WriteReport,
    ) -> Result<(), Error> {
        let row_count = range.len();
        let offset = range.start;
        let create = CreateIngestJob {
            object: sobject.to_owned(),
            operation: op.bulk_name().to_owned(),
            external_id_field_name: match op {
                WriteOp::Upsert { external_id_field } => Some(external_id_field.clone()),
                _ => None,
            },
            content_type: "CSV".into(),
            line_ending: Some("LF".into()),
            column_delimiter: Some("COMMA".into()),
            assignment_rule_id: None,
        };
        let job: JobInfo = self
            .send(Call::json(
                EndpointKind::BulkIngest,
                Method::POST,
                Target::Data("jobs/ingest".into()),
                &create,
                Idempotency::Unsafe,
            )?)
            .await?
            .json()?;
        report.job_ids.push(job.id.clone());

        // Index rows by a digest of their line (to map results back): `first` holds a line's
        // first row not yet matched, `next` the row after it with the same line.
        let mut first: HashMap<u128, u32> = HashMap::with_capacity(row_count);
        let mut next: Vec<u32> = vec![u32::MAX; row_count];
        let mut line = Vec::new();
        for i in range.clone().rev() {
            line.clear();
            rows.line_into(i, &mut line);
            let rel = (i - offset) as u32;
            if let Some(prev) = first.insert(line_key(&line), rel) {
                next[rel as usize] = prev;
            }
        }
        let mut header = Vec::new();
        encode_line(rows.columns.iter().map(String::as_str), &mut header);
        header.push(b'\n');
        // The upload is encoded chunk by chunk as the request body is sent.
        let (stream_rows, mut at) = (rows.clone(), range.start);
        let end = range.end;
        let body_chunks = std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let mut buf = Vec::new();
            for i in at..end.min(at + ROWS_PER_CHUNK) {
                stream_rows.line_into(i, &mut buf);
                buf.push(b'\n');
            }
            at = end.min(at + ROWS_PER_CHUNK);
            Some(Ok::<Bytes, std::io::Error>(Bytes::from(buf)))
        });
        let chunks =
            futures::stream::iter(std::iter::once(Ok(Bytes::from(header))).chain(body_chunks));
        let upload = Call {
            method: Method::PUT,
            body: Body::Stream(
                std::sync::Mutex::new(Some(reqwest::Body::wrap_stream(chunks))),
                "text/csv",
            ),
            idempotency: Idempotency::Unsafe,
            ..Call::get(
                EndpointKind::BulkIngest,
                Target::Data(format!("jobs/ingest/{}/batches", job.id)),
            )
        };
        if let Err(e) = self.send(upload).await {
            // Leave no open job behind; the rows stay unprocessed.
            let _ = self
                .set_job_state(JobKind::Ingest, &job.id, "Aborted")
                .await;
            return Err(e);
        }
        let submitted = |report: &mut WriteReport, e: &Error| {
            // The job may run in the org even though we cannot tell: never report its rows as
            // unprocessed (they could be sent again and duplicated); the job id allows a check.
            for o in &mut report.outcomes[offset..offset + row_count] {
                if matches!(o.result, RecordResult::Unprocessed) {
                    o.result = RecordResult::Indeterminate(format!(
                        "Bulk job {} was submitted but its results could not be read: {e}",
                        job.id
                    ));
                }
            }
        };
        match self
            .set_job_state(JobKind::Ingest, &job.id, "UploadComplete")
            .await
        {
            Ok(_) => {}
            Err(e @ Error::Transport(_)) => {
                submitted(report, &e);
                return Err(e);
            }
            Err(e) => {
                let _ = self
                    .set_job_state(JobKind::Ingest, &job.id, "Aborted")
                    .await;
                return Err(e);
            }
        }
        let done = match self.wait_for_job(JobKind::Ingest, &job.id, row_count).await {
            Ok(done) => done,
            Err(e) => {
                submitted(report, &e);
                return Err(e);
            }
        };
        // Skip result files the job info proves empty: each download is an API call. Each
        // file is read, matched back and dropped before the next one is fetched.
        let total = row_count as u64;
        let processed = done.number_records_processed;
        let failed = done.number_records_failed;
        let files = [
            (
                !matches!((processed, failed), (Some(p), Some(f)) if p == f),
                "successfulResults/",
            ),
            (failed != Some(0), "failedResults/"),
            (
                !(done.state == "JobComplete" && processed == Some(total)),
                "unprocessedrecords/",
            ),
        ];
        for (which, (need, name)) in files.into_iter().enumerate() {
            if !need {
                continue;
            }
            let body = match self.job_file(&job.id, name).await {
                Ok(b) => b,
                Err(e) => {
                    submitted(report, &e);
                    return Err(e);
                }
            };
            let mut rdr = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(&body[..]);
            let headers = match rdr.headers() {
                Ok(h) => h.clone(),
                Err(_) => continue, // empty file
            };
            let col = |name: &str| headers.iter().position(|h| h == name);
            let (id_col, created_col, err_col) = (col(COL_ID), col(COL_CREATED), col(COL_ERROR));
            // Where each uploaded column is in this file.
            let at: Vec<Option<usize>> = rows.columns.iter().map(|c| col(c)).collect();
            let mut rec = csv::StringRecord::new();
            loop {
                match rdr.read_record(&mut rec) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        let e = Error::Protocol(format!("result CSV: {e}"));
                        submitted(report, &e);
                        return Err(e);
                    }
                }
                line.clear();
                encode_line(
                    at.iter().map(|c| c.and_then(|i| rec.get(i)).unwrap_or("")),
                    &mut line,
                );
                let key = line_key(&line);
                let Some(&row) = first.get(&key) else {
                    continue;
                };
                match next[row as usize] {
                    u32::MAX => first.remove(&key),
                    after => first.insert(key, after),
                };
                let get = |c: Option<usize>| c.and_then(|i| rec.get(i)).unwrap_or("").to_owned();
                report.outcomes[offset + row as usize].result = match which {
                    0 => RecordResult::Saved {
                        id: get(id_col),
                        created: created_col.map(|_| get(created_col).eq_ignore_ascii_case("true")),
                    },
                    1 => RecordResult::Failed(vec![parse_bulk_error(&get(err_col))]),
                    _ => RecordResult::Unprocessed,
                };
            }
        }
        if done.state != "JobComplete" {
            return Err(Error::BulkJob {
                job_id: done.id.clone(),
                state: done.state.clone(),
                message: done.error_message.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    async fn job_file(&self, job_id: &str, file: &str) -> Result<Bytes, Error> {
        let call = Call::get(
            EndpointKind::BulkIngest,
            Target::Data(format!("jobs/ingest/{job_id}/{file}")),
        )
        .header("accept", "text/csv");
        Ok(self.send(call).await?.body)
    }

    async fn set_job_state(
        &self,
        kind: JobKind,
        job_id: &str,
        state: &str,
    ) -> Result<JobInfo, Error> {
        let body = JobStateChange {
            state: state.to_owned(),
        };
        self.send(Call::json(
            kind.endpoint(),
            Method::PATCH,
            Target::Data(format!("{}/{job_id}", kind.path())),
            &body,
            Idempotency::Safe,
        )?)
        .await?
        .json()
    }

    async fn wait_for_job(
        &self,
        kind: JobKind,
        job_id: &str,
        rows: usize,
    ) -> Result<JobInfo, Error> {
        let cfg = self.config().bulk;
        let start = Instant::now();
        let mut delay = first_poll_delay(cfg.poll_initial, cfg.poll_max, rows);
        loop {
            // Wait before every poll, the first included: a job is never done the instant it
            // is closed, and an early poll is a wasted API call.
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(cfg.poll_max).max(Duration::from_millis(1));
            let info: JobInfo = self
                .send(Call::get(
                    kind.endpoint(),
                    Target::Data(format!("{}/{job_id}", kind.path())),
                ))
                .await?
                .json()?;
            if info.is_terminal() {
                return Ok(info);
            }
            if start.elapsed() + delay > cfg.max_wait {
                return Err(Error::BulkTimeout {
                    job_id: job_id.to_owned(),
                    state: info.state,
                    waited_secs: start.elapsed().as_secs(),
                });
            }
        }
    }

    /// Runs `soql` as a Bulk API 2.0 query job (`queryAll` when `all`), waits for it, and
    /// returns a pager over its result pages.
    pub async fn bulk_query(&self, soql: &str, all: bool) -> Result<BulkQueryPager, Error> {
        let body = CreateQueryJob {
            operation: if all { "queryAll" } else { "query" }.into(),
            query: soql.to_owned(),
            content_type: "CSV".into(),
            column_delimiter: Some("COMMA".into()),
            line_ending: Some("LF".into()),
        };
        let job: JobInfo = self
            .send(Call::json(
                EndpointKind::BulkQuery,
                Method::POST,
                Target::Data("jobs/query".into()),
                &body,
                Idempotency::Unsafe,
            )?)
            .await?
            .json()?;
        let done = self.wait_for_job(JobKind::Query, &job.id, 0).await?;
        if done.state != "JobComplete" {
            return Err(Error::BulkJob {
                job_id: done.id,
                state: done.state,
                message: done.error_message.unwrap_or_default(),
            });
        }
        Ok(BulkQueryPager {
            client: self.clone(),
            job_id: job.id,
            locator: None,
            done: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_ingest_job_is_first_polled_once_it_can_be_done() {
        let (initial, max) = (Duration::from_millis(500), Duration::from_secs(30));
        assert_eq!(first_poll_delay(initial, max, 0), initial, "query jobs");
        assert_eq!(first_poll_delay(initial, max, 2_001), initial, "small jobs");
        assert_eq!(
            first_poll_delay(initial, max, 100_000),
            Duration::from_secs(2)
        );
        assert_eq!(first_poll_delay(initial, max, 10_000_000), max, "capped");
        // A test configuration with tiny delays keeps them.
        let tiny = Duration::from_millis(1);
        assert_eq!(first_poll_delay(tiny, tiny, 100_000), tiny);
    }

    #[test]
    fn bulk_error_cells_keep_code_message_and_fields() {
        let cases = [
            (
                "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
                (
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [LastName]",
                    vec!["LastName"],
                ),
            ),
            (
                "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 200 records: 001A,001B:--",
                (
                    "UNABLE_TO_LOCK_ROW",
                    "unable to obtain exclusive access to this record or 200 records: 001A,001B",
                    vec![],
                ),
            ),
            (
                "DUPLICATE_VALUE:duplicate value found: email__c duplicates value on record with id: a0N:--",
                (
                    "DUPLICATE_VALUE",
                    "duplicate value found: email__c duplicates value on record with id: a0N",
                    vec![],
                ),
            ),
            ("garbage", ("UNKNOWN_ERROR", "garbage", vec![])),
        ];
        for (raw, (code, msg, fields)) in cases {
            let e = parse_bulk_error(raw);
            assert_eq!(e.error_code, code, "{raw}");
            assert_eq!(e.message, msg, "{raw}");
            let want: Vec<String> = fields.into_iter().map(String::from).collect();
            assert_eq!(e.fields.unwrap_or_default(), want, "{raw}");
        }
    }

    #[test]
    fn csv_rows_distinguish_absent_from_null_and_pad_later_columns() {
        let rec = |v: serde_json::Value| -> Record { serde_json::from_value(v).unwrap() };
        let mut rows = CsvRows::new(&WriteOp::Insert);
        rows.push(&rec(
            serde_json::json!({"attributes": {"type": "Lead"}, "A": "a,b", "B": null}),
        ));
        rows.push(&rec(serde_json::json!({"B": "x\"y", "C": 3, "D": true})));
        rows.push(&rec(serde_json::json!({"A": "plain"})));
        let lines: Vec<String> = (0..rows.len())
            .map(|i| {
                let mut l = Vec::new();
                rows.line_into(i, &mut l);
                String::from_utf8(l).unwrap()
            })
            .collect();
        assert_eq!(rows.columns, ["A", "B", "C", "D"]);
        assert_eq!(lines, ["\"a,b\",#N/A,,", ",\"x\"\"y\",3,true", "plain,,,"]);
        // A result row re-encoded from its cells gives the same line, hence the same key.
        let mut l = Vec::new();
        encode_line(["", "x\"y", "3", "true"], &mut l);
        assert_eq!(l, lines[1].as_bytes());
        // One column, one empty cell: a quoted empty cell, not an empty line.
        let mut del = CsvRows::new(&WriteOp::Delete);
        del.push(&rec(serde_json::json!({"Name": "no id"})));
        let mut l = Vec::new();
        del.line_into(0, &mut l);
        assert_eq!(l, b"\"\"");
        let mut l = Vec::new();
        encode_line([""], &mut l);
        assert_eq!(l, b"\"\"");
    }

    #[test]
    fn query_result_csv_becomes_records_with_nulls() {
        let recs =
            parse_query_csv(b"\"Id\",\"Email\",\"Owner.Name\"\n\"00Q1\",\"\",\"Ann\"\n").unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0]["Id"], "00Q1");
        assert_eq!(recs[0]["Email"], Value::Null);
        assert_eq!(recs[0]["Owner.Name"], "Ann");
    }
}
