//! Writing records through sObject Collections, and the report every write returns.
//!
//! Invariants:
//! - Chunks of at most 200 records, `allOrNone=false`: one bad record never sinks the others.
//! - Every input row gets exactly one [`RecordOutcome`], in input order, whatever happens:
//!   saved (with its id), failed (with Salesforce's errors), unprocessed (never sent: the work
//!   stopped first), or indeterminate (sent, but no answer came back: the caller must
//!   reconcile before creating it again). Nothing already accepted is lost when the work stops.
//! - Records that failed only with `UNABLE_TO_LOCK_ROW` were not written, so they are re-sent
//!   (alone) with backoff, whatever the operation.

use lb_wire::{ApiError, CollectionRequest, RecordError, SaveResult};
use reqwest::Method;
use serde_json::Value;

use crate::budget::EndpointKind;
use crate::client::{Call, Client, Target};
use crate::error::Error;
use crate::query::Record;
use crate::retry::Idempotency;
use crate::soql::check_name;

/// sObject Collections' per-request maximum.
pub const COLLECTION_CHUNK: usize = 200;

/// What to do with the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Insert,
    /// Rows carry `Id`.
    Update,
    /// Rows carry the external id field.
    Upsert {
        external_id_field: String,
    },
    /// Rows carry `Id`.
    Delete,
}

impl WriteOp {
    fn idempotency(&self) -> Idempotency {
        match self {
            Self::Insert => Idempotency::Unsafe,
            _ => Idempotency::Safe,
        }
    }
    pub(crate) fn bulk_name(&self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Upsert { .. } => "upsert",
            Self::Delete => "delete",
        }
    }
}

/// How a write was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMethod {
    Collections,
    Bulk,
}

/// The fate of one input row.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordResult {
    /// `created` is known for upserts and bulk (`sf__Created`), and true for inserts.
    Saved { id: String, created: Option<bool> },
    /// Salesforce's own errors for this record.
    Failed(Vec<ApiError>),
    /// Never sent (the work stopped before), or reported unprocessed by a Bulk job.
    Unprocessed,
    /// Sent, but the answer was lost: the record may or may not exist.
    Indeterminate(String),
}

/// One input row's outcome; `row` is its index in the caller's slice.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordOutcome {
    pub row: usize,
    pub result: RecordResult,
}

/// The outcome of a write: one entry per input row, in input order.
#[derive(Debug, Clone)]
pub struct WriteReport {
    pub method: WriteMethod,
    pub outcomes: Vec<RecordOutcome>,
    /// Why the work stopped before the end (credentials, allowance, budget, network).
    pub stopped: Option<Error>,
    /// Bulk job ids, for support.
    pub job_ids: Vec<String>,
}

impl WriteReport {
    pub fn saved(&self) -> usize {
        self.count(|r| matches!(r, RecordResult::Saved { .. }))
    }
    pub fn failed(&self) -> usize {
        self.count(|r| matches!(r, RecordResult::Failed(_)))
    }
    pub fn unprocessed(&self) -> usize {
        self.count(|r| matches!(r, RecordResult::Unprocessed))
    }
    pub fn indeterminate(&self) -> usize {
        self.count(|r| matches!(r, RecordResult::Indeterminate(_)))
    }
    fn count(&self, f: impl Fn(&RecordResult) -> bool) -> usize {
        self.outcomes.iter().filter(|o| f(&o.result)).count()
    }
}

pub(crate) fn record_errors(errors: Vec<RecordError>) -> Vec<ApiError> {
    errors.into_iter().map(ApiError::from).collect()
}

fn is_lock_failure(r: &SaveResult) -> bool {
    !r.success
        && !r.errors.is_empty()
        && r.errors
            .iter()
            .all(|e| e.status_code == "UNABLE_TO_LOCK_ROW")
}

impl Client {
    /// Inserts `rows` (`attributes` and `Id` must be absent) through collections.
    pub async fn create(&self, sobject: &str, rows: &[Record]) -> WriteReport {
        self.collections(&WriteOp::Insert, sobject, rows).await
    }
    /// Updates `rows` (each with `Id`).
    pub async fn update(&self, sobject: &str, rows: &[Record]) -> WriteReport {
        self.collections(&WriteOp::Update, sobject, rows).await
    }
    /// Upserts `rows` by `external_id_field`: idempotent, so a lost answer can be retried.
    pub async fn upsert(
        &self,
        sobject: &str,
        external_id_field: &str,
        rows: &[Record],
    ) -> WriteReport {
        self.collections(
            &WriteOp::Upsert {
                external_id_field: external_id_field.to_owned(),
            },
            sobject,
            rows,
        )
        .await
    }
    /// Deletes the records of `ids`.
    pub async fn delete(&self, ids: &[String]) -> WriteReport {
        let rows: Vec<Record> = ids
            .iter()
            .map(|id| Record::from_iter([("Id".to_owned(), Value::String(id.clone()))]))
            .collect();
        self.collections(&WriteOp::Delete, "", &rows).await
    }

    /// Runs `op` over `rows` in chunks of 200 with `allOrNone=false`.
    pub async fn collections(&self, op: &WriteOp, sobject: &str, rows: &[Record]) -> WriteReport {
        let mut outcomes: Vec<Option<RecordResult>> = vec![None; rows.len()];
        let mut stopped = None;
        let check = match op {
            WriteOp::Delete => Ok(""),
            WriteOp::Upsert { external_id_field } => {
                check_name(sobject).and_then(|_| check_name(external_id_field))
            }
            _ => check_name(sobject),
        };
        if let Err(e) = check {
            stopped = Some(Error::from(e));
        }
        for (chunk_no, chunk) in rows.chunks(COLLECTION_CHUNK).enumerate() {
            if stopped.is_some() {
                break;
            }
            let base = chunk_no * COLLECTION_CHUNK;
            let mut pending: Vec<usize> = (base..base + chunk.len()).collect();
            let mut round = 0;
            while !pending.is_empty() {
                let batch: Vec<&Record> = pending.iter().map(|&i| &rows[i]).collect();
                match self.collection_call(op, sobject, &batch).await {
                    Ok(results) if results.len() == pending.len() => {
                        let mut locked = Vec::new();
                        for (&row, r) in pending.iter().zip(results) {
                            if is_lock_failure(&r) && round < self.config().retry.max_retries {
                                locked.push(row);
                                continue;
                            }
                            outcomes[row] = Some(save_to_result(op, r));
                        }
                        pending = locked;
                        if !pending.is_empty() {
                            let delay = self.config().retry.delay(round, &mut rand::rng());
                            tokio::time::sleep(delay).await;
                            round += 1;
                        }
                    }
                    Ok(results) => {
                        let why = format!(
                            "Salesforce returned {} results for {} records",
                            results.len(),
                            pending.len()
                        );
                        for &row in &pending {
                            outcomes[row] = Some(RecordResult::Indeterminate(why.clone()));
                        }
                        pending.clear();
                    }
                    Err(e @ Error::Transport(_)) => {
                        for &row in &pending {
                            outcomes[row] = Some(RecordResult::Indeterminate(e.to_string()));
                        }
                        stopped = Some(e);
                        pending.clear();
                    }
                    Err(e) if e.stops_work() => {
                        stopped = Some(e);
                        pending.clear();
                    }
                    Err(Error::Api { errors, .. }) => {
                        // The whole request was refused (malformed, too large…): each record
                        // carries that refusal, and the next chunk is tried.
                        for &row in &pending {
                            outcomes[row] = Some(RecordResult::Failed(errors.clone()));
                        }
                        pending.clear();
                    }
                    Err(e) => {
                        for &row in &pending {
                            outcomes[row] = Some(RecordResult::Failed(vec![ApiError::new(
                                "CLIENT_ERROR",
                                e.to_string(),
                            )]));
                        }
                        pending.clear();
                    }
                }
            }
        }
        WriteReport {
            method: super::writes::WriteMethod::Collections,
            outcomes: outcomes
                .into_iter()
                .enumerate()
                .map(|(row, r)| RecordOutcome {
                    row,
                    result: r.unwrap_or(RecordResult::Unprocessed),
                })
                .collect(),
            stopped,
            job_ids: Vec::new(),
        }
    }

    async fn collection_call(
        &self,
        op: &WriteOp,
        sobject: &str,
        batch: &[&Record],
    ) -> Result<Vec<SaveResult>, Error> {
        let with_type = |r: &Record| {
            let mut rec = Record::new();
            rec.insert("attributes".into(), serde_json::json!({ "type": sobject }));
            for (k, v) in r {
                if k != "attributes" {
                    rec.insert(k.clone(), v.clone());
                }
            }
            rec
        };
        let call = match op {
            WriteOp::Delete => {
                let ids: Vec<&str> = batch
                    .iter()
                    .filter_map(|r| r.get("Id").and_then(Value::as_str))
                    .collect();
                Call {
                    method: Method::DELETE,
                    ..Call::get(
                        EndpointKind::Collections,
                        Target::Data("composite/sobjects".into()),
                    )
                }
                .query("ids", ids.join(","))
                .query("allOrNone", "false")
            }
            _ => {
                let body = CollectionRequest {
                    all_or_none: false,
                    records: batch.iter().map(|r| with_type(r)).collect(),
                };
                let (method, path) = match op {
                    WriteOp::Insert => (Method::POST, "composite/sobjects".to_owned()),
                    WriteOp::Update => (Method::PATCH, "composite/sobjects".to_owned()),
                    WriteOp::Upsert { external_id_field } => (
                        Method::PATCH,
                        format!("composite/sobjects/{sobject}/{external_id_field}"),
                    ),
                    WriteOp::Delete => unreachable!("handled above"),
                };
                Call::json(
                    EndpointKind::Collections,
                    method,
                    Target::Data(path),
                    &body,
                    op.idempotency(),
                )?
            }
        };
        let mut call = call;
        call.idempotency = op.idempotency();
        self.send(call).await?.json()
    }
}

pub(crate) fn save_to_result(op: &WriteOp, r: SaveResult) -> RecordResult {
    if r.success {
        let created = match op {
            WriteOp::Insert => Some(true),
            WriteOp::Upsert { .. } => r.created,
            _ => None,
        };
        match r.id {
            Some(id) => RecordResult::Saved { id, created },
            None => RecordResult::Indeterminate("success without an id".into()),
        }
    } else {
        RecordResult::Failed(record_errors(r.errors))
    }
}
