// The SQL half of form submissions' group commit (see `submit.rs`), included in both backend
// modules after `queries.rs` and `write_batch.rs`.

use crate::submit::{PendingSubmission, Reply, SubmissionQueue, SubmissionWrite};

/// Opens the batch's write transaction (serialised with every other writer, see
/// `begin_write`) and a savepoint to fall back to. PostgreSQL gets all three in one round trip.
async fn begin_submissions(pool: &Pool) -> Result<Tx, StoreError> {
    match BACKEND {
        Backend::Sqlite => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query("SAVEPOINT submission_batch")
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
        Backend::Postgres => Ok(pool
            .begin_with(concat!(
                "BEGIN; SELECT pg_advisory_xact_lock(1818391412); ",
                "SAVEPOINT submission_batch"
            ))
            .await?),
    }
}

/// Runs one batch of the queue (see `submit.rs`): opens the transaction (waiting for the writer
/// before it), takes the queued submissions, hands `turn` on, writes them and commits. Every
/// submission taken gets its outcome, to be sent by the caller.
pub(crate) async fn submission_batch(
    pool: &Pool,
    queue: &SubmissionQueue,
    turn: tokio::sync::OwnedMutexGuard<()>,
) -> Vec<(Reply, Result<SubmissionOutcome, StoreError>)> {
    let begun = begin_submissions(pool).await;
    let jobs: Vec<PendingSubmission> = queue.take_batch();
    drop(turn);
    let (writes, replies): (Vec<SubmissionWrite>, Vec<Reply>) =
        jobs.into_iter().map(|j| (j.write, j.reply)).unzip();
    let outcomes = match begun {
        Ok(tx) => write_and_commit(tx, &writes).await,
        Err(err) => Err(err),
    };
    match outcomes {
        Ok(outcomes) => replies.into_iter().zip(outcomes).collect(),
        // Nothing of the batch is committed: each submission gets the error. Only its kind
        // and text can be repeated, sqlx errors are not `Clone`.
        Err(err) => {
            let text = err.to_string();
            let unavailable = err.is_unavailable();
            let mut first = Some(err);
            replies
                .into_iter()
                .map(|reply| {
                    let err = first.take().unwrap_or_else(|| {
                        StoreError::Database(if unavailable {
                            sqlx::Error::Io(std::io::Error::other(text.clone()))
                        } else {
                            sqlx::Error::Protocol(text.clone())
                        })
                    });
                    (reply, Err(err))
                })
                .collect()
        }
    }
}

/// Writes the batch, or, if that fails, each submission alone, then commits.
async fn write_and_commit(
    mut tx: Tx,
    writes: &[SubmissionWrite],
) -> Result<Vec<Result<SubmissionOutcome, StoreError>>, StoreError> {
    let at = now();
    let outcomes = match write_submissions(&mut tx, writes, at).await {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        Err(_) if writes.len() > 1 => {
            // Back to before the batch (the lock stays held) and one savepoint each, in
            // arrival order: one bad write fails only itself.
            sqlx::query("ROLLBACK TO SAVEPOINT submission_batch")
                .execute(&mut *tx)
                .await?;
            let mut outcomes = Vec::with_capacity(writes.len());
            for write in writes {
                sqlx::query("SAVEPOINT submission_one")
                    .execute(&mut *tx)
                    .await?;
                match write_submissions(&mut tx, std::slice::from_ref(write), at).await {
                    Ok(mut one) => {
                        sqlx::query("RELEASE SAVEPOINT submission_one")
                            .execute(&mut *tx)
                            .await?;
                        outcomes.push(Ok(one.remove(0)));
                    }
                    Err(err) => {
                        sqlx::query("ROLLBACK TO SAVEPOINT submission_one")
                            .execute(&mut *tx)
                            .await?;
                        outcomes.push(Err(err));
                    }
                }
            }
            outcomes
        }
        Err(err) => vec![Err(err)],
    };
    tx.commit().await?;
    Ok(outcomes)
}

/// Writes submissions in order in the caller's transaction (a later one sees the contact an
/// earlier one created): each creates or updates its contact by email through the batch writer
/// (first-touch attribution, the form's score increment), then every submission record is
/// inserted in one statement. Any error: the caller rolls back.
async fn write_submissions(
    conn: &mut Conn,
    jobs: &[SubmissionWrite],
    at: time::OffsetDateTime,
) -> Result<Vec<SubmissionOutcome>, StoreError> {
    let Some(first) = jobs.first() else {
        return Ok(Vec::new());
    };
    let ops = jobs
        .iter()
        .map(|job| WriteOp {
            target: Target::Upsert,
            patch: job.patch.clone(),
            mode: Apply::FirstTouch,
            score_increment: Some(job.form.form.score_increment),
        })
        .collect();
    // States are only ever appended: every job's schema has the same default state.
    let saved = write_ops(conn, &first.form.schema, ops, Origin::Form, at)
        .await?
        .into_iter()
        .collect::<Result<Vec<Saved>, StoreError>>()?;
    let mut ids = insert_submissions(conn, jobs, &saved, at).await?;
    // Ids are handed out in row order; RETURNING's order is not promised.
    ids.sort_unstable();
    if ids.len() != jobs.len() {
        return Err(StoreError::Corrupt(
            "a submission insert returned the wrong number of ids".into(),
        ));
    }
    jobs.iter()
        .zip(saved)
        .zip(ids)
        .map(|((job, saved), id)| {
            Ok(SubmissionOutcome {
                submission: Submission {
                    id,
                    form_id: job.form.form.id,
                    contact_id: saved.contact.id,
                    created_contact: saved.created,
                    payload: serde_json::from_str(&job.payload).map_err(|_| {
                        StoreError::Corrupt("a submission's payload is not JSON".into())
                    })?,
                    submitted_at: at,
                },
                contact: saved.contact,
            })
        })
        .collect()
}

/// The submission records as one multi-row VALUES statement; their ids (SQLite's
/// `insert_submissions`: it prepares in-process, and 5 binds a row stay far under its limit).
#[allow(dead_code)] // PostgreSQL binds arrays instead (`submit_postgres.rs`)
async fn insert_submissions_values(
    conn: &mut Conn,
    jobs: &[SubmissionWrite],
    saved: &[Saved],
    at: time::OffsetDateTime,
) -> Result<Vec<i64>, StoreError> {
    let mut qb = QueryBuilder::<Engine>::new(
        "INSERT INTO form_submissions (form_id, contact_id, created, payload, submitted_at) ",
    );
    qb.push_values(jobs.iter().zip(saved), |mut b, (job, saved)| {
        b.push_bind(job.form.form.id)
            .push_bind(saved.contact.id.0)
            .push_bind(i64::from(saved.created))
            .push_bind(job.payload.as_str())
            .push_bind(to_micros(at));
    });
    qb.push(" RETURNING id");
    Ok(qb.build_query_scalar().fetch_all(&mut *conn).await?)
}
