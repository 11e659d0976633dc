// The sync runtime's queries, compiled once per backend (see `sync/mod.rs`), in the SQL subset
// both databases accept, like the contact base's `queries.rs`.

use std::collections::{BTreeMap, HashMap};

use lb_core::FieldBase;
use sqlx::{QueryBuilder, Row};
use time::OffsetDateTime;

use crate::model::{ChangeCursor, Contact, ContactId, Origin};
use crate::rows::{ContactRow, contact_columns};
use crate::sync::{
    BatchCommit, ChangeMark, Intent, NewRun, ProvenanceEntry, RunEnd, RunFailure, RunRecord,
    RunStatus, StoredLink, parse_object, parse_side, side_name,
};
use crate::time_fmt::{from_micros, now, to_micros};
use crate::{Backend, Email, StoreError};

type Pool = sqlx::Pool<Engine>;
type Tx = sqlx::Transaction<'static, Engine>;

/// Ids per `IN (...)` list: well under both databases' bind limits.
const IN_CHUNK: usize = 900;
/// Provenance rows per multi-row upsert (8 binds each, under SQLite's 32,766).
const PROVENANCE_CHUNK: usize = 1_000;
/// Not the contact base's key: the sync's writers serialise among themselves.
const SYNC_LOCK_KEY: i64 = 0x6c62_7379;

/// A write transaction of the sync's state: serialised with every other sync writer (the
/// spool and the outbox use it too).
pub(in crate::sync) async fn begin_write(pool: &Pool) -> Result<Tx, StoreError> {
    match BACKEND {
        Backend::Sqlite => Ok(pool.begin_with("BEGIN IMMEDIATE").await?),
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(SYNC_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

// ---------------------------------------------------------------- links

#[derive(sqlx::FromRow)]
struct LinkRow {
    contact_id: i64,
    org_id: String,
    object: String,
    base: String,
}

impl TryFrom<LinkRow> for StoredLink {
    type Error = StoreError;
    fn try_from(row: LinkRow) -> Result<StoredLink, StoreError> {
        let base: BTreeMap<String, FieldBase> = serde_json::from_str(&row.base)
            .map_err(|e| corrupt(format!("link of contact {}: {e}", row.contact_id)))?;
        Ok(StoredLink {
            contact_id: ContactId(row.contact_id),
            org_id: row.org_id,
            object: parse_object(&row.object)?,
            base,
        })
    }
}

const LINK_COLUMNS: &str = "SELECT contact_id, org_id, object, base FROM sync_links";

pub(crate) async fn links_by_contacts(
    pool: &Pool,
    ids: &[ContactId],
) -> Result<Vec<StoredLink>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut qb = QueryBuilder::<Engine>::new(LINK_COLUMNS);
        qb.push(" WHERE contact_id IN (");
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.0);
        }
        qb.push(")");
        for row in qb.build_query_as::<LinkRow>().fetch_all(pool).await? {
            out.push(StoredLink::try_from(row)?);
        }
    }
    Ok(out)
}

pub(crate) async fn links_by_org_ids(
    pool: &Pool,
    ids: &[String],
) -> Result<Vec<StoredLink>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut qb = QueryBuilder::<Engine>::new(LINK_COLUMNS);
        qb.push(" WHERE org_id IN (");
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.clone());
        }
        qb.push(")");
        for row in qb.build_query_as::<LinkRow>().fetch_all(pool).await? {
            out.push(StoredLink::try_from(row)?);
        }
    }
    Ok(out)
}

pub(crate) async fn all_links(pool: &Pool) -> Result<Vec<StoredLink>, StoreError> {
    let rows = sqlx::query_as::<_, LinkRow>(
        "SELECT contact_id, org_id, object, base FROM sync_links ORDER BY contact_id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(StoredLink::try_from).collect()
}

pub(crate) async fn count_links(pool: &Pool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sync_links")
        .fetch_one(pool)
        .await?)
}

pub(crate) async fn commit_batch(pool: &Pool, batch: &BatchCommit) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    let at = to_micros(now());
    for link in &batch.links {
        let base = serde_json::to_string(&link.base).map_err(corrupt)?;
        // A record can be linked to one contact only: a link that moved (conversion followed,
        // relinked after a merge) replaces the old one.
        sqlx::query("DELETE FROM sync_links WHERE org_id = $1 AND contact_id <> $2")
            .bind(&link.org_id)
            .bind(link.contact_id.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sync_links (contact_id, org_id, object, base, run_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (contact_id) DO UPDATE SET org_id = excluded.org_id, object = excluded.object, \
             base = excluded.base, run_id = excluded.run_id, updated_at = excluded.updated_at",
        )
        .bind(link.contact_id.0)
        .bind(&link.org_id)
        .bind(link.object.api_name())
        .bind(base)
        .bind(batch.run_id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    // Multi-row upserts: an initial sync writes ~10 provenance rows per contact.
    for chunk in batch.provenance.chunks(PROVENANCE_CHUNK) {
        let mut qb = QueryBuilder::<Engine>::new(
            "INSERT INTO sync_provenance (contact_id, attribute, target, source, rule, value, run_id, written_at) ",
        );
        qb.push_values(chunk, |mut row, p| {
            row.push_bind(p.contact_id.0)
                .push_bind(p.attribute.clone())
                .push_bind(side_name(p.target))
                .push_bind(side_name(p.source))
                .push_bind(p.rule.clone())
                .push_bind(p.value.clone())
                .push_bind(p.run_id)
                .push_bind(to_micros(p.written_at));
        });
        qb.push(
            " ON CONFLICT (contact_id, attribute, target) DO UPDATE SET source = excluded.source, rule = excluded.rule, \
             value = excluded.value, run_id = excluded.run_id, written_at = excluded.written_at",
        );
        qb.build().execute(&mut *tx).await?;
    }
    for f in &batch.failures {
        let fields = serde_json::to_string(&f.fields).map_err(corrupt)?;
        sqlx::query(
            "INSERT INTO sync_run_failures (run_id, side, object, record, email, error_code, message, fields) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(batch.run_id)
        .bind(side_name(f.side))
        .bind(f.object.as_deref())
        .bind(f.record.as_deref())
        .bind(f.email.as_deref())
        .bind(&f.error_code)
        .bind(&f.message)
        .bind(fields)
        .execute(&mut *tx)
        .await?;
    }
    for chunk in batch.clear_intents.chunks(IN_CHUNK) {
        let mut qb = QueryBuilder::<Engine>::new("DELETE FROM sync_intents WHERE contact_id IN (");
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.0);
        }
        qb.push(")");
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ProvenanceRow {
    contact_id: i64,
    attribute: String,
    target: String,
    source: String,
    rule: String,
    value: Option<String>,
    run_id: i64,
    written_at: i64,
}

pub(crate) async fn provenance(
    pool: &Pool,
    contact_id: ContactId,
) -> Result<Vec<ProvenanceEntry>, StoreError> {
    let rows = sqlx::query_as::<_, ProvenanceRow>(
        "SELECT contact_id, attribute, target, source, rule, value, run_id, written_at FROM sync_provenance \
         WHERE contact_id = $1 ORDER BY attribute, target",
    )
    .bind(contact_id.0)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ProvenanceEntry {
                contact_id: ContactId(r.contact_id),
                attribute: r.attribute,
                target: parse_side(&r.target)?,
                source: parse_side(&r.source)?,
                rule: r.rule,
                value: r.value,
                run_id: r.run_id,
                written_at: from_micros(r.written_at),
            })
        })
        .collect()
}

// ---------------------------------------------------------------- intents

pub(crate) async fn put_intents(
    pool: &Pool,
    run_id: i64,
    intents: &[Intent],
) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    let at = to_micros(now());
    for i in intents {
        sqlx::query(
            "INSERT INTO sync_intents (contact_id, email, run_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (contact_id) DO UPDATE SET email = excluded.email, run_id = excluded.run_id",
        )
        .bind(i.contact_id.0)
        .bind(&i.email)
        .bind(run_id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn intents(pool: &Pool) -> Result<Vec<Intent>, StoreError> {
    let rows = sqlx::query("SELECT contact_id, email FROM sync_intents ORDER BY contact_id")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Intent {
                contact_id: ContactId(r.try_get("contact_id")?),
                email: r.try_get("email")?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------- runs

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    triggered_by: String,
    scope: String,
    dry_run: bool,
    status: String,
    started_at: i64,
    finished_at: Option<i64>,
    owner: String,
    counts: String,
    api_requests: i64,
    message: Option<String>,
    mapping_hash: Option<String>,
}

impl TryFrom<RunRow> for RunRecord {
    type Error = StoreError;
    fn try_from(r: RunRow) -> Result<RunRecord, StoreError> {
        Ok(RunRecord {
            id: r.id,
            triggered_by: r.triggered_by,
            scope: r.scope,
            dry_run: r.dry_run,
            status: RunStatus::parse(&r.status)
                .ok_or_else(|| corrupt(format!("run {}: status {}", r.id, r.status)))?,
            started_at: from_micros(r.started_at),
            finished_at: r.finished_at.map(from_micros),
            owner: r.owner,
            counts: serde_json::from_str(&r.counts)
                .map_err(|e| corrupt(format!("run {}: {e}", r.id)))?,
            api_requests: u64::try_from(r.api_requests).unwrap_or(0),
            message: r.message,
            mapping_hash: r.mapping_hash,
        })
    }
}

macro_rules! run_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, triggered_by, scope, dry_run, status, started_at, finished_at, owner, counts, \
             api_requests, message, mapping_hash FROM sync_runs ",
            $rest
        )
    };
}

pub(crate) async fn start_run(pool: &Pool, run: &NewRun) -> Result<i64, StoreError> {
    let mut tx = begin_write(pool).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO sync_runs (triggered_by, scope, dry_run, status, started_at, owner, counts, api_requests, mapping_hash) \
         VALUES ($1, $2, $3, 'running', $4, $5, '{}', 0, $6) RETURNING id",
    )
    .bind(&run.triggered_by)
    .bind(&run.scope)
    .bind(run.dry_run)
    .bind(to_micros(now()))
    .bind(&run.owner)
    .bind(run.mapping_hash.as_deref())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub(crate) async fn finish_run(pool: &Pool, id: i64, end: &RunEnd) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    let counts = serde_json::to_string(&end.counts).map_err(corrupt)?;
    let done = sqlx::query(
        "UPDATE sync_runs SET status = $1, finished_at = $2, counts = $3, api_requests = $4, message = $5 WHERE id = $6",
    )
    .bind(end.status.name())
    .bind(to_micros(now()))
    .bind(counts)
    .bind(i64::try_from(end.api_requests).unwrap_or(i64::MAX))
    .bind(end.message.as_deref())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: format!("run {id}"),
        });
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn runs(
    pool: &Pool,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<RunRecord>, StoreError> {
    let rows = sqlx::query_as::<_, RunRow>(run_select!("WHERE id < $1 ORDER BY id DESC LIMIT $2"))
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(RunRecord::try_from).collect()
}

pub(crate) async fn run(pool: &Pool, id: i64) -> Result<Option<RunRecord>, StoreError> {
    sqlx::query_as::<_, RunRow>(run_select!("WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(RunRecord::try_from)
        .transpose()
}

pub(crate) async fn last_finished_run(
    pool: &Pool,
    status: Option<RunStatus>,
) -> Result<Option<RunRecord>, StoreError> {
    sqlx::query_as::<_, RunRow>(run_select!(
        "WHERE status <> 'running' AND dry_run = $1 AND ($2 = '' OR status = $2) ORDER BY id DESC LIMIT 1"
    ))
        .bind(false)
        .bind(status.map(RunStatus::name).unwrap_or(""))
        .fetch_optional(pool)
        .await?
        .map(RunRecord::try_from)
        .transpose()
}

pub(crate) async fn running_runs(pool: &Pool) -> Result<Vec<RunRecord>, StoreError> {
    let rows = sqlx::query_as::<_, RunRow>(run_select!("WHERE status = 'running' ORDER BY id"))
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(RunRecord::try_from).collect()
}

pub(crate) async fn run_failures(pool: &Pool, run_id: i64) -> Result<Vec<RunFailure>, StoreError> {
    let rows = sqlx::query(
        "SELECT side, object, record, email, error_code, message, fields FROM sync_run_failures WHERE run_id = $1 ORDER BY id",
    )
    .bind(run_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let fields: Option<String> = r.try_get("fields")?;
            Ok(RunFailure {
                side: parse_side(&r.try_get::<String, _>("side")?)?,
                object: r.try_get("object")?,
                record: r.try_get("record")?,
                email: r.try_get("email")?,
                error_code: r.try_get("error_code")?,
                message: r.try_get("message")?,
                fields: fields
                    .and_then(|f| serde_json::from_str(&f).ok())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

pub(crate) async fn count_run_failures(pool: &Pool, run_id: i64) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM sync_run_failures WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(pool)
            .await?,
    )
}

// ---------------------------------------------------------------- key/value state

pub(crate) async fn get_state(pool: &Pool, key: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT value FROM sync_state WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?,
    )
}

pub(crate) async fn put_state(pool: &Pool, key: &str, value: &str) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    sqlx::query(
        "INSERT INTO sync_state (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(value)
    .bind(to_micros(now()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn delete_state(pool: &Pool, key: &str) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    sqlx::query("DELETE FROM sync_state WHERE key = $1")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn compare_and_swap_state(
    pool: &Pool,
    key: &str,
    expected: Option<&str>,
    new: Option<&str>,
) -> Result<bool, StoreError> {
    let mut tx = begin_write(pool).await?;
    let current: Option<String> = sqlx::query_scalar("SELECT value FROM sync_state WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
    if current.as_deref() != expected {
        return Ok(false);
    }
    match new {
        Some(value) => {
            sqlx::query(
                "INSERT INTO sync_state (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(to_micros(now()))
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM sync_state WHERE key = $1")
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

// ---------------------------------------------------------------- contact base reads

pub(crate) async fn contacts_by_emails(
    pool: &Pool,
    emails: &[Email],
) -> Result<Vec<Contact>, StoreError> {
    let mut out = Vec::new();
    for chunk in emails.chunks(IN_CHUNK) {
        let mut qb = QueryBuilder::<Engine>::new(concat!(
            "SELECT ",
            contact_columns!(),
            " FROM contacts WHERE email IN ("
        ));
        let mut list = qb.separated(", ");
        for e in chunk {
            list.push_bind(e.as_str().to_owned());
        }
        qb.push(")");
        for row in qb.build_query_as::<ContactRow>().fetch_all(pool).await? {
            out.push(Contact::try_from(row)?);
        }
    }
    Ok(out)
}

pub(crate) async fn change_marks(
    pool: &Pool,
    cursor: ChangeCursor,
    limit: u32,
) -> Result<Vec<ChangeMark>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, contact_id, origin FROM field_changes WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(cursor.0)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let origin: String = r.try_get("origin")?;
            Ok(ChangeMark {
                seq: r.try_get("id")?,
                contact_id: ContactId(r.try_get("contact_id")?),
                origin: Origin::parse(&origin)
                    .ok_or_else(|| corrupt(format!("origin {origin}")))?,
            })
        })
        .collect()
}

pub(crate) async fn backlog(pool: &Pool, cursor: ChangeCursor) -> Result<i64, StoreError> {
    // A contact whose link was recorded after its last change (a run for that contact alone,
    // e.g. after a form submission, sent it) is not waiting any more.
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT contact_id, MAX(changed_at) AS last FROM contact_changes \
         WHERE id > $1 AND origin <> 'sync' GROUP BY contact_id) AS changed \
         WHERE NOT EXISTS (SELECT 1 FROM sync_links AS l \
         WHERE l.contact_id = changed.contact_id AND l.updated_at >= changed.last)",
    )
    .bind(cursor.0)
    .fetch_one(pool)
    .await?)
}

pub(crate) async fn field_times(
    pool: &Pool,
    ids: &[ContactId],
) -> Result<HashMap<ContactId, BTreeMap<String, OffsetDateTime>>, StoreError> {
    let mut out: HashMap<ContactId, BTreeMap<String, OffsetDateTime>> = HashMap::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut qb = QueryBuilder::<Engine>::new(
            "SELECT contact_id, field, MAX(changed_at) AS at FROM field_changes WHERE origin <> 'sync' AND contact_id IN (",
        );
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.0);
        }
        qb.push(") GROUP BY contact_id, field");
        for r in qb.build().fetch_all(pool).await? {
            let id: i64 = r.try_get("contact_id")?;
            let field: String = r.try_get("field")?;
            let at: i64 = r.try_get("at")?;
            out.entry(ContactId(id))
                .or_default()
                .insert(field, from_micros(at));
        }
    }
    Ok(out)
}

pub(crate) async fn contact_ids_after(
    pool: &Pool,
    after: ContactId,
    limit: u32,
) -> Result<Vec<ContactId>, StoreError> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM contacts WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.0)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
    Ok(ids.into_iter().map(ContactId).collect())
}
