//! Form submissions: mapping a submission through its form, the cache of forms, and the group
//! commit that writes submissions many to a transaction (the SQL half is `submit_batch.rs`,
//! compiled once per backend).
//!
//! **Form cache.** A submission needs its form and the schema (custom fields' kinds) to be
//! checked. Both are read once per form and kept: a form's mapping and score increment never
//! change after creation, the schema only grows (states are appended, fields added, nothing is
//! removed or changed), and a form is created after the fields it maps, so a form read together
//! with the schema is a pair that stays valid. The redirect URL is the one part of a form that
//! changes; it is not read from the cache (`set_form_redirect_url` drops the entry all the
//! same, and so do schema changes made by this process). A form created by another process is
//! simply not cached yet; a failed lookup is never cached.
//!
//! **Group commit, two batches in flight.** Writers are serialised through commit (see the crate
//! docs), so one transaction per submission would cap the rate at one commit per submission.
//! Submissions instead queue up ([`SubmissionQueue`]); one caller at a time holds the *turn*:
//! it starts a batch task, which opens its write transaction (on PostgreSQL this waits in the
//! server for the advisory lock the batch before it holds), only then takes what is queued (up
//! to [`SUBMISSION_BATCH_MAX`]) and hands the turn on. So while batch N writes and commits,
//! batch N+1 already waits for the lock on its own connection, and starts the moment N's commit
//! releases it, without a round trip through this process; the ids of N+1's change-log rows are
//! still taken after N committed, so change cursors never skip a row. A batch sees everything
//! the batches before it wrote (it reads the contacts after taking the lock): submissions for
//! one email apply in arrival order and every increment counts.
//!
//! A batch writes inside a savepoint; if it fails, the transaction goes back to the savepoint
//! and writes each submission alone (a savepoint each) still holding the lock, so one bad write
//! fails only itself and arrival order is kept. Replies and [`ContactEvent::FormSubmitted`] go
//! out after the commit; a caller that goes away (closed HTTP connection) abandons nothing:
//! waiting for the turn and the batch run in tasks of their own.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedMutexGuard, oneshot};

use crate::validate::{Blank, ContactInput, Patch, Schema, parse_input};
use crate::{
    ContactEvent, Db, Form, Problem, Store, StoreError, SubmissionOutcome, postgres_queries,
    sqlite_queries,
};

/// At most this many submissions share a transaction.
pub(crate) const SUBMISSION_BATCH_MAX: usize = 256;

/// A checked submission waiting for the writer (see [`Store::submit_form`]).
pub(crate) struct SubmissionWrite {
    pub(crate) form: Arc<CachedForm>,
    pub(crate) patch: Patch,
    pub(crate) payload: String,
}

/// A form as read together with the schema (see the module docs).
pub(crate) struct CachedForm {
    pub(crate) form: Form,
    pub(crate) schema: Schema,
}

pub(crate) type Reply = oneshot::Sender<Result<SubmissionOutcome, StoreError>>;

pub(crate) struct PendingSubmission {
    pub(crate) write: SubmissionWrite,
    pub(crate) reply: Reply,
}

/// Submissions waiting to be written, the turn to start the next batch, and the form cache.
#[derive(Default)]
pub(crate) struct SubmissionQueue {
    pending: Mutex<Pending>,
    turn: Arc<tokio::sync::Mutex<()>>,
    forms: Mutex<HashMap<i64, Arc<CachedForm>>>,
}

#[derive(Default)]
struct Pending {
    jobs: VecDeque<PendingSubmission>,
    /// How many submissions were ever queued / taken into a batch: the queue is first in,
    /// first out, so submission number `n` has been taken once `taken > n`.
    queued: u64,
    taken: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Held only to push, drain or look up: a panic cannot leave the data half-changed.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SubmissionQueue {
    /// Queues a submission; returns its number.
    fn push(&self, job: PendingSubmission) -> u64 {
        let mut p = lock(&self.pending);
        p.jobs.push_back(job);
        p.queued += 1;
        p.queued - 1
    }

    fn is_taken(&self, number: u64) -> bool {
        lock(&self.pending).taken > number
    }

    /// Takes the next batch, oldest first.
    pub(crate) fn take_batch(&self) -> Vec<PendingSubmission> {
        let mut p = lock(&self.pending);
        let n = p.jobs.len().min(SUBMISSION_BATCH_MAX);
        p.taken += n as u64;
        p.jobs.drain(..n).collect()
    }

    fn cached_form(&self, id: i64) -> Option<Arc<CachedForm>> {
        lock(&self.forms).get(&id).cloned()
    }

    fn cache_form(&self, form: Arc<CachedForm>) {
        lock(&self.forms).insert(form.form.id, form);
    }

    /// Drops a form's cache entry (`None`: every entry).
    pub(crate) fn forget_forms(&self, id: Option<i64>) {
        let mut forms = lock(&self.forms);
        match id {
            Some(id) => {
                forms.remove(&id);
            }
            None => forms.clear(),
        }
    }
}

impl Store {
    /// Accepts a submission: maps the inputs, creates or updates the contact by email, adds the
    /// form's `score_increment` to `behaviour_score` (capped at 50), records the submission,
    /// all in one transaction; then emits [`ContactEvent::FormSubmitted`].
    ///
    /// Rules: empty inputs are ignored; inputs the form does not map are kept in the recorded
    /// payload only; `source`, `medium` and `campaign` keep their first value (first-touch
    /// attribution).
    ///
    /// Submissions are written many to a transaction (group commit, see the `submit` module's
    /// docs); `Ok` means this submission is committed.
    pub async fn submit_form(
        &self,
        form_id: i64,
        inputs: &[(String, String)],
    ) -> Result<SubmissionOutcome, StoreError> {
        // Checked before queueing: only the writes are serialised.
        let form = self.form_for_submission(form_id).await?;
        let (patch, payload) = submission_patch(&form.form, &form.schema, inputs)?;
        let (reply, outcome) = oneshot::channel();
        let queue = &self.submissions;
        let number = queue.push(PendingSubmission {
            write: SubmissionWrite {
                form,
                patch,
                payload,
            },
            reply,
        });
        if !queue.is_taken(number) {
            // In a task of its own: a caller that goes away (closed HTTP connection) while it
            // waits for the turn must not leave its submission queued until the next one.
            let store = self.clone();
            tokio::spawn(async move { store.start_batches_until_taken(number).await });
        }
        // The sender is dropped unanswered only if the batch's task was lost (runtime shutting
        // down): nothing was committed for it, say so rather than wait forever.
        outcome
            .await
            .unwrap_or(Err(StoreError::Database(sqlx::Error::WorkerCrashed)))
    }

    /// Starts batches, one turn at a time, until submission `number` has been taken into one.
    async fn start_batches_until_taken(self, number: u64) {
        let queue = &self.submissions;
        while !queue.is_taken(number) {
            let turn = Arc::clone(&queue.turn).lock_owned().await;
            if queue.is_taken(number) {
                break;
            }
            // This task starts the next batch, which hands the turn on once it has taken its
            // submissions; the loop then sees whether this one was among them (more than a
            // batch may be queued ahead of it).
            let store = self.clone();
            tokio::spawn(async move { store.write_submission_batch(turn).await });
        }
    }

    /// The form (and the schema it was checked with), from the cache or the database.
    async fn form_for_submission(&self, form_id: i64) -> Result<Arc<CachedForm>, StoreError> {
        if let Some(form) = self.submissions.cached_form(form_id) {
            return Ok(form);
        }
        // Schema first: a form is created after the fields it maps, so this schema knows them.
        let schema = self.schema().await?;
        let form = Arc::new(CachedForm {
            form: self.form(form_id).await?,
            schema,
        });
        self.submissions.cache_form(Arc::clone(&form));
        Ok(form)
    }

    /// One batch: see the module docs. `turn` is handed on once the batch is taken.
    async fn write_submission_batch(self, turn: OwnedMutexGuard<()>) {
        let done = match &self.db {
            Db::Sqlite(pool) => {
                let _writer = self.sqlite_writer.lock().await;
                sqlite_queries::submission_batch(pool, &self.submissions, turn).await
            }
            Db::Postgres(pool) => {
                postgres_queries::submission_batch(pool, &self.submissions, turn).await
            }
        };
        for (reply, outcome) in done {
            if let Ok(outcome) = &outcome {
                self.emit(ContactEvent::FormSubmitted {
                    form_id: outcome.submission.form_id,
                    submission_id: outcome.submission.id,
                    contact_id: outcome.contact.id,
                });
            }
            let _ = reply.send(outcome);
        }
    }
}

/// Maps a submission's inputs through its form into a checked patch (email required) and the
/// recorded payload (every input, mapped or not, as JSON). Problems name the form's inputs,
/// which is what the submitter knows.
pub(crate) fn submission_patch(
    form: &Form,
    schema: &Schema,
    inputs: &[(String, String)],
) -> Result<(Patch, String), StoreError> {
    // PostgreSQL cannot store a NUL character in text: refuse it here, naming the input, on
    // both backends, rather than fail the write with a database error.
    let nul: Vec<Problem> = inputs
        .iter()
        .filter(|(name, value)| name.contains('\0') || value.contains('\0'))
        .map(|(name, _)| {
            Problem::new(
                &name.replace('\0', "\\0"),
                "contains a NUL character (\\0), which cannot be stored".into(),
            )
        })
        .collect();
    if !nul.is_empty() {
        return Err(StoreError::Invalid(nul));
    }
    let mut input = ContactInput::new();
    let mut payload = BTreeMap::new();
    for (name, value) in inputs {
        if let Some(target) = form.mapping.get(name) {
            input.insert(target.clone(), serde_json::Value::String(value.clone()));
        }
        payload.insert(name.clone(), value.clone());
    }
    let input_of = |target: &str| {
        form.mapping
            .iter()
            .find(|(_, t)| t.as_str() == target)
            .map(|(i, _)| i.clone())
            .unwrap_or_else(|| target.to_owned())
    };
    let patch = parse_input(&input, schema, Blank::Ignored).map_err(|problems| {
        StoreError::Invalid(
            problems
                .into_iter()
                .map(|p| Problem {
                    field: input_of(&p.field),
                    ..p
                })
                .collect(),
        )
    })?;
    if patch.email().is_none() {
        return Err(StoreError::invalid(&input_of("email"), "is required"));
    }
    let payload = serde_json::to_string(&payload).unwrap_or_else(|_| "{}".into());
    Ok((patch, payload))
}
