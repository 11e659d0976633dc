//! CSV import and export of contacts.
//!
//! An import streams the file: rows are read, checked and written in batches (one transaction
//! per batch), so memory stays flat whatever the file's size. The next batch is read and checked
//! while the previous one is written (see `BatchWriter`). A row whose email exists updates
//! that contact (non-empty cells only: an empty cell leaves the value as it is), the others
//! create contacts. A bad row is rejected with its problems and the others are kept.
//!
//! Row numbers are the file's line numbers (the header is line 1), so a user can find the row
//! in an editor.

use std::collections::HashSet;
use std::io::{Read, Write};

use serde::Serialize;

use crate::validate::{Patch, Schema, parse_cells};
use crate::{ContactId, Origin, Problem, Store, StoreError};

/// How an import proceeds.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Rows written per transaction.
    pub batch_size: usize,
    /// Rejected rows kept in the report with their problems (the count is always exact).
    pub max_reported_rejections: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_size: 5000,
            max_reported_rejections: 1000,
        }
    }
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Data rows read (the header excluded).
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    /// Accepted rows that changed nothing (same values as stored).
    pub unchanged: u64,
    pub rejected: u64,
    /// The first rejected rows with their problems (see [`ImportOptions`]).
    pub rejections: Vec<RejectedRow>,
}

impl ImportReport {
    pub fn accepted(&self) -> u64 {
        self.rows - self.rejected
    }
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedRow {
    /// The row's line number in the file.
    pub row: u64,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Default)]
pub(crate) struct BatchOutcome {
    pub(crate) created: u64,
    pub(crate) updated: u64,
    pub(crate) unchanged: u64,
    pub(crate) changed: Vec<ContactId>,
}

impl Store {
    /// Imports contacts from CSV (header row of attribute and custom field names). `progress`
    /// is called after each batch with the bytes read so far. A header problem (unknown or
    /// duplicated column, no `email` column) rejects the whole file before anything is written.
    pub async fn import_csv(
        &self,
        reader: &mut (dyn Read + Send),
        options: &ImportOptions,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<ImportReport, StoreError> {
        let schema = self.schema().await?;
        let mut csv = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(reader);
        let headers: Vec<String> = csv
            .headers()
            .map_err(|e| {
                StoreError::Invalid(vec![header_problem(
                    "(header)",
                    format!("cannot read the header: {e}"),
                )])
            })?
            .iter()
            .map(|h| column_of(h.trim().trim_start_matches('\u{feff}'), &schema))
            .collect();
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        for h in &headers {
            if !schema.is_known(h) {
                problems.push(header_problem(
                    h,
                    format!(
                        "unknown column (known: {})",
                        schema.column_names().join(", ")
                    ),
                ));
            } else if !seen.insert(h.clone()) {
                problems.push(header_problem(h, "column appears twice".into()));
            }
        }
        if !seen.contains("email") {
            problems.push(header_problem(
                "email",
                "the file needs an email column".into(),
            ));
        }
        if !problems.is_empty() {
            return Err(StoreError::Invalid(problems));
        }

        let mut report = ImportReport::default();
        let mut writer = BatchWriter {
            store: self.clone(),
            schema: std::sync::Arc::new(schema),
            pending: None,
            yields: tokio::runtime::Handle::current().runtime_flavor()
                == tokio::runtime::RuntimeFlavor::CurrentThread,
        };
        let mut batch: Vec<(u64, Patch)> = Vec::with_capacity(options.batch_size);
        let mut record = csv::StringRecord::new();
        loop {
            let line = csv.position().line();
            match csv.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    report.rows += 1;
                    let row = record.position().map_or(line, |p| p.line());
                    match parse_row(&headers, &record, &writer.schema) {
                        Ok(patch) => batch.push((row, patch)),
                        Err(problems) => reject(&mut report, options, row, problems),
                    }
                }
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                    // The accepted batches so far are committed; say where reading stopped.
                    writer.finish(&mut report).await?;
                    writer.start(&mut batch, options.batch_size);
                    writer.finish(&mut report).await?;
                    return Err(StoreError::Invalid(vec![Problem {
                        row: Some(line),
                        field: "(file)".into(),
                        message: format!("reading stopped: {e}"),
                    }]));
                }
                Err(e) => {
                    report.rows += 1;
                    let row = e.position().map_or(line, |p| p.line());
                    reject(
                        &mut report,
                        options,
                        row,
                        vec![Problem::new("(row)", malformed(&e))],
                    );
                }
            }
            if batch.len() >= options.batch_size {
                // The previous batch must be committed before this one starts (one writer at
                // a time, batches commit in file order).
                writer.finish(&mut report).await?;
                writer.start(&mut batch, options.batch_size);
                progress(csv.position().byte());
            } else if writer.yields
                && report.rows % YIELD_EVERY_ROWS == 0
                && writer.pending.is_some()
            {
                tokio::task::yield_now().await;
            }
        }
        writer.finish(&mut report).await?;
        writer.start(&mut batch, 0);
        writer.finish(&mut report).await?;
        progress(csv.position().byte());
        Ok(report)
    }
}

/// Rows parsed between two yields to the batch being written (see [`BatchWriter`]).
const YIELD_EVERY_ROWS: u64 = 256;

/// The import's pipeline: one batch is written (in a task of its own) while the next one is
/// read and checked, so the CSV work and the database's work overlap (2 cores: one each). At
/// most one batch is in flight and the next starts only once it committed, so batches still
/// commit one after another in file order and memory holds at most two batches.
struct BatchWriter {
    store: Store,
    schema: std::sync::Arc<crate::Schema>,
    pending: Option<AbortOnDrop<Result<BatchOutcome, StoreError>>>,
    /// On a current-thread runtime the batch being written only advances while this task
    /// waits: the reading then yields every [`YIELD_EVERY_ROWS`] rows to let it take its next
    /// step. A multi-thread runtime writes it on another thread, and yielding would only cost.
    yields: bool,
}

impl BatchWriter {
    /// Starts writing `batch` (left empty, with `capacity` for the next one). The caller has
    /// waited for the previous batch ([`BatchWriter::finish`]).
    fn start(&mut self, batch: &mut Vec<(u64, Patch)>, capacity: usize) {
        debug_assert!(self.pending.is_none());
        if batch.is_empty() {
            return;
        }
        let rows = std::mem::replace(batch, Vec::with_capacity(capacity));
        let store = self.store.clone();
        let schema = self.schema.clone();
        self.pending = Some(AbortOnDrop(tokio::spawn(async move {
            let outcome = store.import_batch(&schema, rows).await?;
            // Right after the commit, in this task: a batch that committed always has its
            // events, even when the import was dropped meanwhile.
            store.emit_changed(&outcome.changed, Origin::Import);
            Ok(outcome)
        })));
    }

    /// Waits for the batch in flight, if any, and counts it.
    async fn finish(&mut self, report: &mut ImportReport) -> Result<(), StoreError> {
        let Some(mut pending) = self.pending.take() else {
            return Ok(());
        };
        let outcome = match (&mut pending.0).await {
            Ok(result) => result?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                return Err(StoreError::Corrupt(format!(
                    "an import batch was lost: {e}"
                )));
            }
        };
        report.created += outcome.created;
        report.updated += outcome.updated;
        report.unchanged += outcome.unchanged;
        Ok(())
    }
}

/// A spawned batch write that is cancelled (its transaction rolled back) when the import is
/// dropped before it finished, as an import that is not pipelined would be.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The column a header names: the name itself when it is one, else the one it spells with
/// other case or with spaces or hyphens for underscores ("Email", "First Name" from a
/// spreadsheet); an unknown header is kept as written, to be reported.
fn column_of(header: &str, schema: &Schema) -> String {
    if schema.is_known(header) {
        return header.to_owned();
    }
    let loose = |s: &str| s.to_lowercase().replace([' ', '-'], "_");
    let wanted = loose(header);
    schema
        .column_names()
        .into_iter()
        .find(|c| loose(c) == wanted)
        .unwrap_or_else(|| header.to_owned())
}

fn header_problem(field: &str, message: String) -> Problem {
    Problem {
        row: Some(1),
        field: field.to_owned(),
        message,
    }
}

fn malformed(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("has {len} cells, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".into(),
        _ => format!("is not valid CSV: {e}"),
    }
}

fn reject(report: &mut ImportReport, options: &ImportOptions, row: u64, problems: Vec<Problem>) {
    report.rejected += 1;
    if report.rejections.len() < options.max_reported_rejections {
        let problems = problems
            .into_iter()
            .map(|p| Problem {
                row: Some(row),
                ..p
            })
            .collect();
        report.rejections.push(RejectedRow { row, problems });
    }
}

fn parse_row(
    headers: &[String],
    record: &csv::StringRecord,
    schema: &crate::Schema,
) -> Result<Patch, Vec<Problem>> {
    let patch = parse_cells(
        headers.iter().map(String::as_str).zip(record.iter()),
        schema,
    )?;
    if patch.email().is_none() {
        return Err(vec![Problem::new("email", "is required".into())]);
    }
    Ok(patch)
}

/// Writes every contact as CSV (standard attributes, then custom fields), page by page.
/// Returns the number of contacts written.
pub async fn export_csv(store: &Store, out: &mut (dyn Write + Send)) -> Result<u64, StoreError> {
    let schema = store.schema().await?;
    let columns = schema.column_names();
    let io = |e: csv::Error| StoreError::Export(e.to_string());
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(&columns).map_err(io)?;
    let mut after = ContactId(0);
    let mut written = 0;
    loop {
        let page = store.contacts_after(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for contact in &page {
            writer
                .write_record(columns.iter().map(|c| contact.value(c).unwrap_or_default()))
                .map_err(io)?;
            written += 1;
        }
    }
    writer
        .flush()
        .map_err(|e| StoreError::Export(e.to_string()))?;
    Ok(written)
}
