//! Bulk API 2.0 jobs (salesforce-api.md §8): the job store, CSV parsing of uploads, applying
//! ingest rows to the org, and rendering result files.
//!
//! Invariants:
//! - A job moves only forward: `Open → UploadComplete → InProgress → JobComplete | Failed`, or
//!   to `Aborted` from `Open`/`UploadComplete`. Query jobs start at `UploadComplete`.
//! - An upload is checked (line ending, header) before any row is applied; a bad file fails the
//!   whole job with Salesforce's `errorMessage` and writes nothing. Nothing here panics on input.
//! - Every ingest row ends with exactly one [`Outcome`]; `numberRecordsProcessed` counts
//!   successes and failures, `numberRecordsFailed` the failures. Rows a job never reached (it
//!   was aborted) are `Unprocessed`.
//! - Rows are applied through the same [`Org`] write methods as REST calls, so validation,
//!   audit fields and ids are identical.
//! - Query jobs keep the matching row numbers (rows are never removed from a table); result
//!   pages render the rows' current values.

use std::collections::BTreeMap;
use std::sync::Arc;

use lb_wire::ApiError;
use lb_wire::bulk::JobInfo;
use serde_json::{Map, Value};

use super::{DmlError, FieldType, Org, UpsertOutcome, ids};

/// Largest upload accepted: 150 MB as Salesforce measures it after base64 (§8.1), i.e. about
/// 100 MB of raw CSV.
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

/// Salesforce processes ingest data in internal batches of 10,000 records (§8.1, limits).
pub const INTERNAL_BATCH: usize = 10_000;

/// Jobs and their results are deleted 7 days after reaching a terminal state (§8.1).
pub const RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

/// Ingest or query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Ingest,
    Query,
}

/// The job `operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Insert,
    Update,
    Upsert,
    Delete,
    HardDelete,
    Query,
    QueryAll,
}

impl Operation {
    /// The wire spelling (exact case, as Salesforce requires).
    pub fn parse(s: &str) -> Option<Operation> {
        Some(match s {
            "insert" => Operation::Insert,
            "update" => Operation::Update,
            "upsert" => Operation::Upsert,
            "delete" => Operation::Delete,
            "hardDelete" => Operation::HardDelete,
            "query" => Operation::Query,
            "queryAll" => Operation::QueryAll,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Upsert => "upsert",
            Operation::Delete => "delete",
            Operation::HardDelete => "hardDelete",
            Operation::Query => "query",
            Operation::QueryAll => "queryAll",
        }
    }

    pub fn is_query(self) -> bool {
        matches!(self, Operation::Query | Operation::QueryAll)
    }
}

/// Job states (§8.1 step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Open,
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Open => "Open",
            JobState::UploadComplete => "UploadComplete",
            JobState::InProgress => "InProgress",
            JobState::JobComplete => "JobComplete",
            JobState::Failed => "Failed",
            JobState::Aborted => "Aborted",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::JobComplete | JobState::Failed | JobState::Aborted
        )
    }
}

/// `columnDelimiter` values (§8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Backquote,
    Caret,
    Comma,
    Pipe,
    Semicolon,
    Tab,
}

impl Delimiter {
    pub fn parse(s: &str) -> Option<Delimiter> {
        Some(match s {
            "BACKQUOTE" => Delimiter::Backquote,
            "CARET" => Delimiter::Caret,
            "COMMA" => Delimiter::Comma,
            "PIPE" => Delimiter::Pipe,
            "SEMICOLON" => Delimiter::Semicolon,
            "TAB" => Delimiter::Tab,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Delimiter::Backquote => "BACKQUOTE",
            Delimiter::Caret => "CARET",
            Delimiter::Comma => "COMMA",
            Delimiter::Pipe => "PIPE",
            Delimiter::Semicolon => "SEMICOLON",
            Delimiter::Tab => "TAB",
        }
    }

    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Backquote => b'`',
            Delimiter::Caret => b'^',
            Delimiter::Comma => b',',
            Delimiter::Pipe => b'|',
            Delimiter::Semicolon => b';',
            Delimiter::Tab => b'\t',
        }
    }
}

/// `lineEnding` values (§8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnding {
    Lf,
    Crlf,
}

impl LineEnding {
    pub fn parse(s: &str) -> Option<LineEnding> {
        match s {
            "LF" => Some(LineEnding::Lf),
            "CRLF" => Some(LineEnding::Crlf),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LineEnding::Lf => "LF",
            LineEnding::Crlf => "CRLF",
        }
    }

    pub fn terminator(self) -> &'static str {
        match self {
            LineEnding::Lf => "\n",
            LineEnding::Crlf => "\r\n",
        }
    }
}

/// What happened to one uploaded row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success {
        id: String,
        created: bool,
    },
    /// `error` is the `sf__Error` text (`CODE:message:fields --`); `id` is empty for inserts.
    Failure {
        id: String,
        error: String,
    },
    Unprocessed,
}

/// One Bulk 2.0 job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub operation: Operation,
    /// Canonical object name.
    pub object: String,
    pub external_id_field: Option<String>,
    pub delimiter: Delimiter,
    pub line_ending: LineEnding,
    pub api_version: u32,
    pub created_by_id: String,
    pub created_date: String,
    pub system_modstamp: String,
    pub state: JobState,
    pub error_message: Option<String>,
    pub processed: u64,
    pub failed: u64,
    pub processing_ms: u64,
    /// A counted write fault (UNABLE_TO_LOCK_ROW, DUPLICATES_DETECTED) injected into a call on
    /// this job: its first row fails with it, as a lock or duplicate rule fails one record.
    pub injected: Option<ApiError>,
    /// When the job reached a terminal state (ms since the epoch); results are kept 7 days.
    pub finished_ms: Option<i64>,
    /// Ingest: the raw upload until processing parses it.
    pub upload: Option<bytes::Bytes>,
    /// Ingest: the header as uploaded and every data row (original values).
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub outcomes: Vec<Outcome>,
    /// Query: the SOQL text, the selected fields and the matching row numbers.
    pub query: Option<String>,
    pub query_fields: Arc<Vec<String>>,
    pub query_rows: Arc<Vec<u32>>,
}

impl Job {
    /// A new job in its first state (`Open` for ingest, `UploadComplete` for query).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        operation: Operation,
        object: String,
        external_id_field: Option<String>,
        delimiter: Delimiter,
        line_ending: LineEnding,
        api_version: u32,
        created_by_id: String,
        now: String,
    ) -> Job {
        let kind = if operation.is_query() {
            JobKind::Query
        } else {
            JobKind::Ingest
        };
        Job {
            id,
            kind,
            operation,
            object,
            external_id_field,
            delimiter,
            line_ending,
            api_version,
            created_by_id,
            created_date: now.clone(),
            system_modstamp: now,
            state: if kind == JobKind::Query {
                JobState::UploadComplete
            } else {
                JobState::Open
            },
            error_message: None,
            processed: 0,
            failed: 0,
            processing_ms: 0,
            finished_ms: None,
            injected: None,
            upload: None,
            header: Vec::new(),
            rows: Vec::new(),
            outcomes: Vec::new(),
            query: None,
            query_fields: Arc::new(Vec::new()),
            query_rows: Arc::new(Vec::new()),
        }
    }

    /// The job info body. `detail` adds the counters `GET /jobs/…/{id}` reports.
    pub fn info(&self, detail: bool) -> JobInfo {
        let ingest = self.kind == JobKind::Ingest;
        let mut info = JobInfo {
            id: self.id.clone(),
            state: self.state.as_str().to_owned(),
            operation: Some(self.operation.as_str().to_owned()),
            object: Some(self.object.clone()),
            created_by_id: Some(self.created_by_id.clone()),
            created_date: Some(self.created_date.clone()),
            system_modstamp: Some(self.system_modstamp.clone()),
            external_id_field_name: self.external_id_field.clone(),
            concurrency_mode: Some("Parallel".into()),
            content_type: Some("CSV".into()),
            api_version: Some(f64::from(self.api_version)),
            content_url: (ingest && self.state == JobState::Open).then(|| {
                format!(
                    "services/data/v{}.0/jobs/ingest/{}/batches",
                    self.api_version, self.id
                )
            }),
            line_ending: Some(self.line_ending.as_str().into()),
            column_delimiter: Some(self.delimiter.as_str().into()),
            ..JobInfo::default()
        };
        if detail {
            info.job_type = Some(if ingest { "V2Ingest" } else { "V2Query" }.into());
            info.number_records_processed = Some(self.processed);
            info.retries = Some(0);
            info.total_processing_time = Some(self.processing_ms);
            if ingest {
                info.number_records_failed = Some(self.failed);
                info.api_active_processing_time = Some(self.processing_ms);
                info.apex_processing_time = Some(0);
            }
            info.error_message = self.error_message.clone();
        }
        info
    }
}

/// All Bulk 2.0 jobs of the org, by id (ids grow, so the map is in creation order).
#[derive(Debug, Default)]
pub struct Jobs {
    jobs: BTreeMap<String, Job>,
    seq: u64,
}

impl Jobs {
    /// A fresh `750…` job id.
    pub fn next_id(&mut self) -> String {
        self.seq += 1;
        ids::to18(&ids::make_id15("750", self.seq))
    }

    /// Adds a job, first dropping jobs that finished more than 7 days ago, as Salesforce
    /// deletes them (§8.1 limits), so a long-running emulator does not keep every upload.
    pub fn insert(&mut self, job: Job) {
        let horizon = super::now_ms() - RETENTION_MS;
        self.jobs
            .retain(|_, j| j.finished_ms.is_none_or(|t| t >= horizon));
        self.jobs.insert(job.id.clone(), job);
    }

    /// A job by 15- or 18-character id.
    pub fn get(&self, id: &str) -> Option<&Job> {
        let key = self.key(id)?;
        self.jobs.get(&key)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Job> {
        let key = self.key(id)?;
        self.jobs.get_mut(&key)
    }

    pub fn remove(&mut self, id: &str) -> Option<Job> {
        let key = self.key(id)?;
        self.jobs.remove(&key)
    }

    /// Jobs of one kind, oldest first.
    pub fn of_kind(&self, kind: JobKind) -> impl Iterator<Item = &Job> {
        self.jobs.values().filter(move |j| j.kind == kind)
    }

    fn key(&self, id: &str) -> Option<String> {
        let short = ids::normalize(id)?;
        self.jobs.keys().find(|k| k.starts_with(short)).cloned()
    }
}

/// How each uploaded column maps onto the object, resolved once per job.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Per column: the canonical field name, or `None` for a column the operation ignores.
    columns: Vec<Option<String>>,
    /// Column holding the record id (update, delete) or the upsert key.
    key_column: Option<usize>,
    /// Canonical field types per column, for value conversion.
    types: Vec<Option<FieldType>>,
}

/// Parses an upload into header and rows, checking the line ending first. `Err` is the job's
/// `errorMessage`.
pub fn parse_upload(
    data: &[u8],
    delimiter: Delimiter,
    line_ending: LineEnding,
) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let data = data
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(data);
    // The first line terminator (the header's) must be the announced one.
    if let Some(nl) = data.iter().position(|b| *b == b'\n') {
        let crlf = nl > 0 && data[nl - 1] == b'\r';
        if crlf != (line_ending == LineEnding::Crlf) {
            return Err(format!(
                "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is {}",
                line_ending.as_str()
            ));
        }
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter.byte())
        .has_headers(true)
        .flexible(true)
        .from_reader(data);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_owned()).collect(),
        Err(e) => {
            return Err(format!(
                "InvalidBatch : Failed to parse CSV header: {}",
                csv_reason(&e)
            ));
        }
    };
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err("InvalidBatch : Failed to parse CSV header: the header row is empty".into());
    }
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec =
            rec.map_err(|e| format!("InvalidBatch : Failed to parse CSV: {}", csv_reason(&e)))?;
        if rec.len() == 1 && rec.get(0) == Some("") {
            continue; // a blank line
        }
        if rec.len() != header.len() {
            return Err(format!(
                "InvalidBatch : Wrong number of columns in row {}: expected {}, found {}",
                i + 2,
                header.len(),
                rec.len()
            ));
        }
        rows.push(rec.iter().map(str::to_owned).collect());
    }
    Ok((header, rows))
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => {
            format!(
                "invalid UTF-8 in line {}",
                pos.as_ref().map(|p| p.line()).unwrap_or(0)
            )
        }
        _ => e.to_string(),
    }
}

/// Resolves the header against the object. `Err` is the job's `errorMessage`
/// (`InvalidBatch : Field name not found : X`, as Salesforce words it).
pub fn plan(org: &Org, job: &Job, header: &[String]) -> Result<Plan, String> {
    let def = org
        .object(&job.object)
        .ok_or_else(|| format!("InvalidJob : Unable to find object: {}", job.object))?;
    let mut seen = std::collections::HashSet::new();
    let mut columns = Vec::with_capacity(header.len());
    let mut types = Vec::with_capacity(header.len());
    let mut key_column = None;
    let key_name = match job.operation {
        Operation::Upsert => job.external_id_field.clone().unwrap_or_else(|| "Id".into()),
        _ => "Id".into(),
    };
    for (i, name) in header.iter().enumerate() {
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(format!("InvalidBatch : Duplicate field name: {name}"));
        }
        let Some(f) = def.field(name) else {
            return Err(format!("InvalidBatch : Field name not found : {name}"));
        };
        if f.name.eq_ignore_ascii_case(&key_name) {
            key_column = Some(i);
        }
        let deleting = matches!(job.operation, Operation::Delete | Operation::HardDelete);
        if deleting && f.name != "Id" {
            // Delete jobs read the Id column only.
            columns.push(None);
            types.push(None);
            continue;
        }
        columns.push(Some(f.name.clone()));
        types.push(Some(f.field_type));
    }
    if job.operation != Operation::Insert && key_column.is_none() {
        return Err(match job.operation {
            Operation::Upsert => format!("InvalidBatch : Field name not found : {key_name}"),
            _ => "InvalidBatch : The Id field is required for this operation".into(),
        });
    }
    Ok(Plan {
        columns,
        key_column,
        types,
    })
}

/// The `sf__Error` text of a DML failure: `CODE:message:fields --`, or `CODE:message:--`.
pub fn error_text(errors: &[ApiError]) -> String {
    let Some(e) = errors.first() else {
        return "UNKNOWN_EXCEPTION:unknown error:--".into();
    };
    let fields = e.fields.clone().unwrap_or_default();
    if fields.is_empty() {
        format!("{}:{}:--", e.error_code, e.message)
    } else {
        format!("{}:{}:{} --", e.error_code, e.message, fields.join(", "))
    }
}

fn failure(id: &str, e: DmlError) -> Outcome {
    Outcome::Failure {
        id: id.to_owned(),
        error: error_text(&e.errors),
    }
}

/// A CSV cell as a JSON value: `#N/A` sets null, an empty cell leaves the field alone (`None`),
/// `1`/`0` are accepted for checkboxes; everything else goes to the org's own conversion.
fn cell(value: &str, ty: Option<FieldType>) -> Option<Value> {
    if value.is_empty() {
        return None;
    }
    if value == "#N/A" {
        return Some(Value::Null);
    }
    Some(match (ty, value) {
        (Some(FieldType::Boolean), "1") => Value::Bool(true),
        (Some(FieldType::Boolean), "0") => Value::Bool(false),
        _ => Value::String(value.to_owned()),
    })
}

/// Applies rows to the org and returns one outcome per row, in order. Each row is its own
/// transaction, as in Bulk 2.0 (a failed row never undoes another).
pub fn apply(org: &mut Org, job: &Job, plan: &Plan, rows: &[Vec<String>]) -> Vec<Outcome> {
    rows.iter()
        .map(|row| apply_row(org, job, plan, row))
        .collect()
}

/// The outcome of a row refused with `error` without touching the org (an injected fault).
pub fn refused(job: &Job, plan: &Plan, row: &[String], error: &ApiError) -> Outcome {
    let id = match job.operation {
        Operation::Update | Operation::Delete | Operation::HardDelete => plan
            .key_column
            .and_then(|i| row.get(i))
            .cloned()
            .unwrap_or_default(),
        _ => String::new(),
    };
    Outcome::Failure {
        id,
        error: error_text(std::slice::from_ref(error)),
    }
}

fn apply_row(org: &mut Org, job: &Job, plan: &Plan, row: &[String]) -> Outcome {
    let key = plan
        .key_column
        .and_then(|i| row.get(i))
        .map(String::as_str)
        .unwrap_or_default();
    let mut body = Map::new();
    for (i, value) in row.iter().enumerate() {
        let Some(Some(name)) = plan.columns.get(i) else {
            continue;
        };
        if Some(i) == plan.key_column && job.operation != Operation::Insert {
            continue;
        }
        if let Some(v) = cell(value, plan.types[i]) {
            body.insert(name.clone(), v);
        }
    }
    match job.operation {
        Operation::Insert => match org.create(&job.object, &body) {
            Ok(id) => Outcome::Success { id, created: true },
            Err(e) => failure("", e),
        },
        Operation::Update => {
            if key.is_empty() {
                return missing_id();
            }
            match org.update(&job.object, key, &body) {
                Ok(id) => Outcome::Success { id, created: false },
                Err(e) => failure(key, bulk_not_found(e, key)),
            }
        }
        Operation::Upsert => {
            let field = job.external_id_field.as_deref().unwrap_or("Id");
            if key.is_empty() {
                if field.eq_ignore_ascii_case("Id") {
                    // Upsert on Id with no id creates.
                    return match org.create(&job.object, &body) {
                        Ok(id) => Outcome::Success { id, created: true },
                        Err(e) => failure("", e),
                    };
                }
                return Outcome::Failure {
                    id: String::new(),
                    error: format!("MISSING_ARGUMENT:{field} not specified:--"),
                };
            }
            match org.upsert(&job.object, field, key, &body, false) {
                Ok(UpsertOutcome::Created(id)) => Outcome::Success { id, created: true },
                Ok(UpsertOutcome::Updated(id)) => Outcome::Success { id, created: false },
                Ok(UpsertOutcome::Multiple(found)) => Outcome::Failure {
                    id: String::new(),
                    error: format!(
                        "DUPLICATE_EXTERNAL_ID:{field}: more than one record found for external id field: [{}]:{field} --",
                        found.join(", ")
                    ),
                },
                Err(e) => failure("", e),
            }
        }
        Operation::Delete | Operation::HardDelete => {
            if key.is_empty() {
                return missing_id();
            }
            match org.delete(Some(&job.object), key) {
                Ok(id) => {
                    if job.operation == Operation::HardDelete {
                        org.purge(&job.object, &id);
                    }
                    Outcome::Success { id, created: false }
                }
                Err(e) => failure(key, bulk_not_found(e, key)),
            }
        }
        Operation::Query | Operation::QueryAll => Outcome::Unprocessed,
    }
}

fn missing_id() -> Outcome {
    Outcome::Failure {
        id: String::new(),
        error: "MISSING_ARGUMENT:Id not specified in an update call:--".into(),
    }
}

/// A REST 404 for an unknown id reads, in a result file, as the SOAP-style
/// `INVALID_CROSS_REFERENCE_KEY` (or `MALFORMED_ID` for something that is not an id).
fn bulk_not_found(e: DmlError, key: &str) -> DmlError {
    if e.status != 404 {
        return e;
    }
    let error = if ids::normalize(key).is_none() {
        ApiError::with_fields(
            "MALFORMED_ID",
            format!("Id: id value of incorrect type: {key}"),
            vec!["Id".into()],
        )
    } else {
        ApiError::with_fields(
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
            vec![],
        )
    };
    DmlError {
        status: 400,
        errors: vec![error],
    }
}

impl Org {
    /// Takes a deleted record out of the recycle bin for good (Bulk `hardDelete`): `/deleted`
    /// no longer lists it. The row itself stays (row numbers never move), so `queryAll` still
    /// returns it with `IsDeleted = true`.
    pub fn purge(&mut self, object: &str, id: &str) {
        let Some(canonical) = self.object(object).map(|o| o.name.clone()) else {
            return;
        };
        let Some(table) = self.tables.get_mut(&canonical) else {
            return;
        };
        if let Some(row) = table.find(id) {
            table.recycle_bin.remove(&row);
        }
    }
}

// ---- result files ------------------------------------------------------------------------

/// Quotes a value the way Salesforce's result files do: always, doubling inner quotes.
fn quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// A header name as uploaded: quoted only when it needs to be (RFC 4180).
fn header_cell(out: &mut String, s: &str, delim: char) {
    if s.contains([delim, '"', '\n', '\r']) {
        quoted(out, s);
    } else {
        out.push_str(s);
    }
}

/// Which result file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    Successful,
    Failed,
    Unprocessed,
}

/// `successfulResults/`, `failedResults/` or `unprocessedrecords/` of an ingest job as CSV in
/// the job's delimiter and line ending.
pub fn result_file(job: &Job, kind: ResultKind) -> String {
    let delim = job.delimiter.byte() as char;
    let eol = job.line_ending.terminator();
    let mut out = String::with_capacity(64 + job.rows.len() * 64);
    match kind {
        ResultKind::Successful => {
            quoted(&mut out, lb_wire::bulk::COL_ID);
            out.push(delim);
            quoted(&mut out, lb_wire::bulk::COL_CREATED);
        }
        ResultKind::Failed => {
            quoted(&mut out, lb_wire::bulk::COL_ID);
            out.push(delim);
            quoted(&mut out, lb_wire::bulk::COL_ERROR);
        }
        ResultKind::Unprocessed => {}
    }
    for (i, h) in job.header.iter().enumerate() {
        if kind != ResultKind::Unprocessed || i > 0 {
            out.push(delim);
        }
        header_cell(&mut out, h, delim);
    }
    out.push_str(eol);
    let unprocessed = Outcome::Unprocessed;
    for (i, row) in job.rows.iter().enumerate() {
        let outcome = job.outcomes.get(i).unwrap_or(&unprocessed);
        match (kind, outcome) {
            (ResultKind::Successful, Outcome::Success { id, created }) => {
                quoted(&mut out, id);
                out.push(delim);
                quoted(&mut out, if *created { "true" } else { "false" });
            }
            (ResultKind::Failed, Outcome::Failure { id, error }) => {
                quoted(&mut out, id);
                out.push(delim);
                quoted(&mut out, error);
            }
            (ResultKind::Unprocessed, Outcome::Unprocessed) => {}
            _ => continue,
        }
        for (j, v) in row.iter().enumerate() {
            if kind != ResultKind::Unprocessed || j > 0 {
                out.push(delim);
            }
            quoted(&mut out, v);
        }
        out.push_str(eol);
    }
    out
}

/// A query value as Bulk CSV writes it: null as an empty cell, datetimes in `…Z` form, every
/// other value quoted.
fn query_cell(out: &mut String, v: Option<&Value>) {
    match v {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            if s.len() == 28 && s.ends_with("+0000") && s.as_bytes().get(10) == Some(&b'T') {
                let mut z = s[..23].to_owned();
                z.push('Z');
                quoted(out, &z);
            } else {
                quoted(out, s);
            }
        }
        Some(other) => quoted(out, &other.to_string()),
    }
}

/// One page of a query job's results: the header row and `rows` (row numbers of `object`).
pub fn query_page(org: &Org, job: &Job, rows: &[u32]) -> String {
    let delim = job.delimiter.byte() as char;
    let eol = job.line_ending.terminator();
    let mut out = String::with_capacity(64 + rows.len() * 24 * job.query_fields.len().max(1));
    for (i, f) in job.query_fields.iter().enumerate() {
        if i > 0 {
            out.push(delim);
        }
        quoted(&mut out, f);
    }
    out.push_str(eol);
    let Some(table) = org.table(&job.object) else {
        return out;
    };
    for row in rows {
        let Some(rec) = table.row(*row) else { continue };
        for (i, f) in job.query_fields.iter().enumerate() {
            if i > 0 {
                out.push(delim);
            }
            query_cell(&mut out, rec.get(f));
        }
        out.push_str(eol);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ending_mismatch_fails_the_upload_with_salesforce_words() {
        let e = parse_upload(b"LastName\r\nA\r\n", Delimiter::Comma, LineEnding::Lf).unwrap_err();
        assert_eq!(
            e,
            "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is LF"
        );
        let e = parse_upload(b"LastName\nA\n", Delimiter::Comma, LineEnding::Crlf).unwrap_err();
        assert_eq!(
            e,
            "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is CRLF"
        );
    }

    #[test]
    fn quoted_cells_keep_delimiters_quotes_and_newlines() {
        let (h, rows) = parse_upload(
            b"LastName|Description\n\"A|B\"|\"say \"\"hi\"\"\nthere\"\n",
            Delimiter::Pipe,
            LineEnding::Lf,
        )
        .unwrap();
        assert_eq!(h, vec!["LastName", "Description"]);
        assert_eq!(
            rows,
            vec![vec!["A|B".to_owned(), "say \"hi\"\nthere".to_owned()]]
        );
    }

    #[test]
    fn ragged_rows_and_bad_utf8_are_job_errors_not_panics() {
        let e = parse_upload(b"A,B\n1\n", Delimiter::Comma, LineEnding::Lf).unwrap_err();
        assert_eq!(
            e,
            "InvalidBatch : Wrong number of columns in row 2: expected 2, found 1"
        );
        assert!(
            parse_upload(b"A\n\xff\xfe\n", Delimiter::Comma, LineEnding::Lf)
                .unwrap_err()
                .starts_with("InvalidBatch : Failed to parse CSV")
        );
        assert!(parse_upload(b"", Delimiter::Comma, LineEnding::Lf).is_err());
    }

    #[test]
    fn error_text_follows_the_result_file_form() {
        let with = ApiError::with_fields(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LastName]",
            vec!["LastName".into()],
        );
        assert_eq!(
            error_text(&[with]),
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
        );
        let without = ApiError::new(
            "UNABLE_TO_LOCK_ROW",
            "unable to obtain exclusive access to this record",
        );
        assert_eq!(
            error_text(&[without]),
            "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--"
        );
    }

    #[test]
    fn empty_cells_are_left_alone_and_na_sets_null() {
        assert_eq!(cell("", Some(FieldType::String)), None);
        assert_eq!(cell("#N/A", Some(FieldType::String)), Some(Value::Null));
        assert_eq!(cell("1", Some(FieldType::Boolean)), Some(Value::Bool(true)));
        assert_eq!(
            cell("1", Some(FieldType::String)),
            Some(Value::String("1".into()))
        );
    }
}
