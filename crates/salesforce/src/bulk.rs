//! Bulk API 2.0: ingest jobs (CSV streamed up, results mapped back to the caller's rows) and
//! query jobs (CSV pages followed by `Sforce-Locator`).
//!
//! Invariants:
//! - A job's calls are: create, upload, close, polls (with backoff: the interval doubles from
//!   `BulkConfig::poll_initial` up to `poll_max`; an ingest job's first wait is at least the
//!   time its rows take at [`INGEST_ROWS_PER_SEC`], as polling sooner cannot find it done),
//!   then one request per result file or page.
//! - The CSV is encoded while it is sent (a stream of encoded chunks), never held twice.
//! - Every input row gets exactly one outcome. Salesforce's result files echo the uploaded
//!   columns but not the row order, so rows are matched back by their uploaded values (rows
//!   with identical values are interchangeable and taken in order). A row that appears in no
//!   result file is reported unprocessed.
//! - Ingest uploads are not retried (a second upload to a job is refused); status polls and
//!   result downloads are (they are reads).
//! - Once a job is closed it runs in the org whatever happens to us: if its results cannot be
//!   read (network, allowance, budget), its rows are reported indeterminate, never unprocessed,
//!   so they are not sent again blindly.

use std::collections::{HashMap, VecDeque};
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

/// A row's CSV size, counting quotes and separators generously.
fn row_bytes(cells: &[String]) -> usize {
    cells.iter().map(|c| c.len() + 3).sum::<usize>() + 1
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

/// A CSV cell for a JSON value. In Bulk 2.0 CSV an empty cell leaves the field as is and
/// `#N/A` sets it to null. Public for [`Client::bulk_ingest_cells`]'s callers.
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None => String::new(),
        Some(Value::Null) => "#N/A".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => other.to_string(),
    }
}

fn csv_line(cells: &[String]) -> Result<Vec<u8>, Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(cells)
        .map_err(|e| Error::Protocol(format!("CSV: {e}")))?;
    w.into_inner()
        .map_err(|e| Error::Protocol(format!("CSV: {e}")))
}

/// The uploaded cells of each row, and the header.
struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn table(op: &WriteOp, rows: &[Record]) -> Table {
    let mut columns: Vec<String> = Vec::new();
    if matches!(op, WriteOp::Delete) {
        columns.push("Id".into());
    } else {
        for r in rows {
            for k in r.keys() {
                if k != "attributes" && !columns.iter().any(|c| c == k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    let rows = rows
        .iter()
        .map(|r| columns.iter().map(|c| cell(r.get(c))).collect())
        .collect();
    Table { columns, rows }
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
    /// Runs `op` over `rows` as one Bulk API 2.0 ingest job and maps the results back.
    pub async fn bulk_ingest(&self, op: &WriteOp, sobject: &str, rows: Vec<Record>) -> WriteReport {
        let Table {
            columns,
            rows: cells,
        } = table(op, &rows);
        // Only the uploaded cells are needed from here on.
        drop(rows);
        self.bulk_ingest_cells(op, sobject, columns, cells).await
    }

    /// [`Client::bulk_ingest`] for rows given as their CSV cells under `columns` (each cell
    /// encoded with [`cell`]; `Id` among the columns for an update): a large write without a
    /// JSON map per row. Outcomes are by index in `rows`.
    pub async fn bulk_ingest_cells(
        &self,
        op: &WriteOp,
        sobject: &str,
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
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
        // One upload per job, at most ~100 MB of CSV each (Salesforce's advice for the 150 MB
        // base64 cap): larger writes run as several jobs, one after the other.
        let max_bytes = self.config().bulk.max_upload_bytes;
        let mut offset = 0;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut group = Vec::new();
            let mut bytes = 0usize;
            while let Some(r) =
                rows.next_if(|r| group.is_empty() || bytes + row_bytes(r) <= max_bytes)
            {
                bytes += row_bytes(&r);
                group.push(r);
            }
            let n = group.len();
            if let Err(e) = self
                .bulk_ingest_into(op, sobject, &columns, group, offset, &mut report)
                .await
            {
                report.stopped = Some(e);
                break;
            }
            offset += n;
        }
        report
    }

    async fn bulk_ingest_into(
        &self,
        op: &WriteOp,
        sobject: &str,
        columns: &[String],
        rows: Vec<Vec<String>>,
        offset: usize,
        report: &mut WriteReport,
    ) -> Result<(), Error> {
        let row_count = rows.len();
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

        // Index rows by their uploaded cells (to map results back), then move the rows into
        // the upload stream, which encodes them chunk by chunk as the request body is sent.
        let key_of = |cells: &[String]| cells.join("\u{1f}");
        let mut index: HashMap<String, VecDeque<usize>> = HashMap::new();
        for (i, cells) in rows.iter().enumerate() {
            index.entry(key_of(cells)).or_default().push_back(i);
        }
        let header = Bytes::from(csv_line(columns)?);
        let mut pending_rows = rows.into_iter();
        let body_chunks = std::iter::from_fn(move || {
            let mut buf = Vec::new();
            let mut n = 0;
            for r in pending_rows.by_ref() {
                match csv_line(&r) {
                    Ok(line) => buf.extend(line),
                    Err(e) => return Some(Err(std::io::Error::other(e.to_string()))),
                }
                n += 1;
                if n == ROWS_PER_CHUNK {
                    break;
                }
            }
            (n > 0).then(|| Ok(Bytes::from(buf)))
        });
        let chunks = futures::stream::iter(
            std::iter::once(Ok::<Bytes, std::io::Error>(header)).chain(body_chunks),
        );
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
                o.result = RecordResult::Indeterminate(format!(
                    "Bulk job {} was submitted but its results could not be read: {e}",
                    job.id
                ));
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
        let fetched = async {
            let done = self
                .wait_for_job(JobKind::Ingest, &job.id, row_count)
                .await?;
            // Skip result files the job info proves empty: each download is an API call.
            let total = row_count as u64;
            let processed = done.number_records_processed;
            let failed = done.number_records_failed;
            let need_success = !matches!((processed, failed), (Some(p), Some(f)) if p == f);
            let need_failed = failed != Some(0);
            let need_unprocessed = !(done.state == "JobComplete" && processed == Some(total));
            let mut files = [Bytes::new(), Bytes::new(), Bytes::new()];
            for (slot, (need, name)) in files.iter_mut().zip([
                (need_success, "successfulResults/"),
                (need_failed, "failedResults/"),
                (need_unprocessed, "unprocessedrecords/"),
            ]) {
                if need {
                    *slot = self.job_file(&job.id, name).await?;
                }
            }
            Ok::<_, Error>((done, files))
        }
        .await;
        let (done, [successes, failures, unprocessed]) = match fetched {
            Ok(x) => x,
            Err(e) => {
                submitted(report, &e);
                return Err(e);
            }
        };

        // Map results back by uploaded values.
        let mut take = |rec: &csv::StringRecord, headers: &csv::StringRecord| -> Option<usize> {
            let pos: HashMap<&str, usize> =
                headers.iter().enumerate().map(|(i, h)| (h, i)).collect();
            let cells: Vec<String> = columns
                .iter()
                .map(|c| {
                    pos.get(c.as_str())
                        .and_then(|&i| rec.get(i))
                        .unwrap_or("")
                        .to_owned()
                })
                .collect();
            index.get_mut(&key_of(&cells)).and_then(VecDeque::pop_front)
        };

        for (body, which) in [(successes, 0u8), (failures, 1), (unprocessed, 2)] {
            let mut rdr = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(&body[..]);
            let headers = match rdr.headers() {
                Ok(h) => h.clone(),
                Err(_) => continue, // empty file
            };
            let col = |name: &str| headers.iter().position(|h| h == name);
            let (id_col, created_col, err_col) = (col(COL_ID), col(COL_CREATED), col(COL_ERROR));
            for rec in rdr.records() {
                let rec = rec.map_err(|e| Error::Protocol(format!("result CSV: {e}")))?;
                let Some(row) = take(&rec, &headers) else {
                    continue;
                };
                let get = |c: Option<usize>| c.and_then(|i| rec.get(i)).unwrap_or("").to_owned();
                report.outcomes[offset + row].result = match which {
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
    fn csv_cells_distinguish_absent_from_null() {
        assert_eq!(cell(None), "");
        assert_eq!(cell(Some(&Value::Null)), "#N/A");
        assert_eq!(cell(Some(&serde_json::json!(3))), "3");
        assert_eq!(cell(Some(&serde_json::json!(true))), "true");
        assert_eq!(
            csv_line(&["a,b".into(), "x\"y".into(), "plain".into()]).unwrap(),
            b"\"a,b\",\"x\"\"y\",plain\n"
        );
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
