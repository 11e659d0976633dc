//! CSV import and export of contacts.
//!
//! An import streams the file: rows are read, checked and written in batches (one transaction
//! per batch), so memory stays flat whatever the file's size. A row whose email exists updates
//! that contact (non-empty cells only: an empty cell leaves the value as it is), the others
//! create contacts. A bad row is rejected with its problems and the others are kept.
//!
//! Row numbers are the file's line numbers (the header is line 1), so a user can find the row
//! in an editor.

use std::collections::HashSet;
use std::io::{Read, Write};

use serde::Serialize;

use crate::validate::{Patch, parse_cells};
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
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
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
        let mut batch: Vec<(u64, Patch)> = Vec::with_capacity(options.batch_size);
        let mut record = csv::StringRecord::new();
        loop {
            let line = csv.position().line();
            match csv.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    report.rows += 1;
                    let row = record.position().map_or(line, |p| p.line());
                    match parse_row(&headers, &record, &schema) {
                        Ok(patch) => batch.push((row, patch)),
                        Err(problems) => reject(&mut report, options, row, problems),
                    }
                }
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                    // The accepted batches so far are committed; say where reading stopped.
                    self.flush(&schema, &mut batch, &mut report).await?;
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
                self.flush(&schema, &mut batch, &mut report).await?;
                progress(csv.position().byte());
            }
        }
        self.flush(&schema, &mut batch, &mut report).await?;
        progress(csv.position().byte());
        Ok(report)
    }

    async fn flush(
        &self,
        schema: &crate::Schema,
        batch: &mut Vec<(u64, Patch)>,
        report: &mut ImportReport,
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let outcome = self.import_batch(schema, std::mem::take(batch)).await?;
        report.created += outcome.created;
        report.updated += outcome.updated;
        report.unchanged += outcome.unchanged;
        self.emit_changed(&outcome.changed, Origin::Import);
        Ok(())
    }
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
