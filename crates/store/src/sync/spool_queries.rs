// The spool's queries, compiled once per backend (see `spool.rs`), in the SQL subset both
// databases accept (`DELETE … RETURNING` included).

use lb_core::OrgRecord;
use sqlx::{QueryBuilder, Row};

use crate::Email;
use crate::StoreError;
use crate::model::ContactId;
use crate::sync::spool::{KeyRange, OursSource, SPOOL_CHUNK, corrupt, spool_key};
use crate::time_fmt::{now, to_micros};

type Pool = sqlx::Pool<Engine>;

/// Ids per `IN (...)` list.
const IN_CHUNK: usize = 900;
// Write transactions: `begin_write` of `sync/queries.rs` (the sync's writer lock).

fn decode(raw: &str) -> Result<OrgRecord, StoreError> {
    serde_json::from_str(raw).map_err(|e| corrupt(format!("spooled record: {e}")))
}

/// `AND <col> > $n AND <col> <= $m` for a range, binds pushed.
fn push_range(qb: &mut QueryBuilder<Engine>, col: &str, range: &KeyRange) {
    match &range.after {
        Some(a) => {
            qb.push(format!(" AND {col} > "));
            qb.push_bind(a.clone());
        }
        None => {
            qb.push(format!(" AND {col} >= ''"));
        }
    }
    if let Some(u) = &range.upto {
        qb.push(format!(" AND {col} <= "));
        qb.push_bind(u.clone());
    }
}

pub(crate) async fn spool_records(
    pool: &Pool,
    run_id: i64,
    records: &[OrgRecord],
) -> Result<(), StoreError> {
    let at = to_micros(now());
    let mut tx = begin_write(pool).await?;
    for chunk in records.chunks(SPOOL_CHUNK) {
        let mut rows = Vec::with_capacity(chunk.len());
        for r in chunk {
            rows.push((
                r.id.as_str(),
                r.object.api_name(),
                spool_key(r),
                serde_json::to_string(r).map_err(corrupt)?,
            ));
        }
        // A record read twice in one run (a retry read by Id, an identity lookup): one row,
        // the latest copy. Repeats inside one statement would break the upsert: keep the last.
        let mut seen = std::collections::HashSet::new();
        let mut unique: Vec<_> = rows
            .into_iter()
            .rev()
            .filter(|r| seen.insert(r.0))
            .collect();
        unique.reverse();
        let mut qb = QueryBuilder::<Engine>::new(
            "INSERT INTO sync_spool (run_id, org_id, object, email_norm, record, created_at) ",
        );
        qb.push_values(unique, |mut b, (id, object, key, json)| {
            b.push_bind(run_id)
                .push_bind(id.to_owned())
                .push_bind(object)
                .push_bind(key)
                .push_bind(json)
                .push_bind(at);
        });
        qb.push(
            " ON CONFLICT (run_id, org_id) DO UPDATE SET object = excluded.object, email_norm = excluded.email_norm, \
             record = excluded.record",
        );
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn spool_ours(
    pool: &Pool,
    run_id: i64,
    ids: &[ContactId],
) -> Result<(), StoreError> {
    let at = to_micros(now());
    let mut tx = begin_write(pool).await?;
    for chunk in ids.chunks(SPOOL_CHUNK) {
        let mut qb = QueryBuilder::<Engine>::new(
            "INSERT INTO sync_spool_ours (run_id, contact_id, created_at) ",
        );
        qb.push_values(chunk, |mut b, id| {
            b.push_bind(run_id).push_bind(id.0).push_bind(at);
        });
        qb.push(" ON CONFLICT (run_id, contact_id) DO NOTHING");
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn spooled_ours(
    pool: &Pool,
    run_id: i64,
    ids: &[ContactId],
) -> Result<Vec<ContactId>, StoreError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut qb =
            QueryBuilder::<Engine>::new("SELECT contact_id FROM sync_spool_ours WHERE run_id = ");
        qb.push_bind(run_id);
        qb.push(" AND contact_id IN (");
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.0);
        }
        qb.push(")");
        for r in qb.build().fetch_all(pool).await? {
            out.push(ContactId(r.try_get("contact_id")?));
        }
    }
    Ok(out)
}

pub(crate) async fn spool_nth_key(
    pool: &Pool,
    run_id: i64,
    after: Option<&str>,
    n: u32,
) -> Result<Option<String>, StoreError> {
    let range = KeyRange {
        after: after.map(str::to_owned),
        upto: None,
    };
    let mut qb = QueryBuilder::<Engine>::new("SELECT email_norm FROM sync_spool WHERE run_id = ");
    qb.push_bind(run_id);
    push_range(&mut qb, "email_norm", &range);
    qb.push(" ORDER BY email_norm LIMIT 1 OFFSET ");
    qb.push_bind(i64::from(n) - 1);
    Ok(qb
        .build()
        .fetch_optional(pool)
        .await?
        .map(|r| r.try_get("email_norm"))
        .transpose()?)
}

fn ours_from(qb: &mut QueryBuilder<Engine>, run_id: i64, source: OursSource) {
    match source {
        OursSource::All => {
            qb.push(" FROM contacts c WHERE 1 = 1");
        }
        OursSource::Spooled => {
            qb.push(
                " FROM sync_spool_ours o JOIN contacts c ON c.id = o.contact_id WHERE o.run_id = ",
            );
            qb.push_bind(run_id);
        }
    }
}

pub(crate) async fn ours_nth_email(
    pool: &Pool,
    run_id: i64,
    source: OursSource,
    after: Option<&str>,
    n: u32,
) -> Result<Option<String>, StoreError> {
    let range = KeyRange {
        after: after.map(str::to_owned),
        upto: None,
    };
    let mut qb = QueryBuilder::<Engine>::new("SELECT c.email AS email");
    ours_from(&mut qb, run_id, source);
    push_range(&mut qb, "c.email", &range);
    qb.push(" ORDER BY c.email LIMIT 1 OFFSET ");
    qb.push_bind(i64::from(n) - 1);
    Ok(qb
        .build()
        .fetch_optional(pool)
        .await?
        .map(|r| r.try_get("email"))
        .transpose()?)
}

pub(crate) async fn ours_in_range(
    pool: &Pool,
    run_id: i64,
    source: OursSource,
    range: &KeyRange,
) -> Result<Vec<ContactId>, StoreError> {
    let mut qb = QueryBuilder::<Engine>::new("SELECT c.id AS id");
    ours_from(&mut qb, run_id, source);
    push_range(&mut qb, "c.email", range);
    qb.push(" ORDER BY c.email");
    let rows = qb.build().fetch_all(pool).await?;
    rows.iter()
        .map(|r| Ok(ContactId(r.try_get("id")?)))
        .collect()
}

async fn take(mut qb: QueryBuilder<Engine>, pool: &Pool) -> Result<Vec<OrgRecord>, StoreError> {
    qb.push(" RETURNING record");
    let mut tx = begin_write(pool).await?;
    let rows = qb.build().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| decode(r.try_get::<&str, _>("record")?))
        .collect()
}

pub(crate) async fn spool_take_range(
    pool: &Pool,
    run_id: i64,
    range: &KeyRange,
) -> Result<Vec<OrgRecord>, StoreError> {
    let mut qb = QueryBuilder::<Engine>::new("DELETE FROM sync_spool WHERE run_id = ");
    qb.push_bind(run_id);
    push_range(&mut qb, "email_norm", range);
    take(qb, pool).await
}

pub(crate) async fn spool_take_ids(
    pool: &Pool,
    run_id: i64,
    ids: &[String],
) -> Result<Vec<OrgRecord>, StoreError> {
    spool_take_in(pool, run_id, "org_id", ids).await
}

pub(crate) async fn spool_take_emails(
    pool: &Pool,
    run_id: i64,
    emails: &[Email],
) -> Result<Vec<OrgRecord>, StoreError> {
    let keys: Vec<String> = emails.iter().map(|e| e.as_str().to_owned()).collect();
    spool_take_in(pool, run_id, "email_norm", &keys).await
}

/// Takes out the run's spooled records whose `column` is one of `values`.
async fn spool_take_in(
    pool: &Pool,
    run_id: i64,
    column: &'static str,
    values: &[String],
) -> Result<Vec<OrgRecord>, StoreError> {
    let mut out = Vec::new();
    for chunk in values.chunks(IN_CHUNK) {
        let mut qb = QueryBuilder::<Engine>::new("DELETE FROM sync_spool WHERE run_id = ");
        qb.push_bind(run_id);
        qb.push(" AND ");
        qb.push(column);
        qb.push(" IN (");
        let mut list = qb.separated(", ");
        for v in chunk {
            list.push_bind(v.clone());
        }
        qb.push(")");
        out.extend(take(qb, pool).await?);
    }
    Ok(out)
}

pub(crate) async fn spool_len(pool: &Pool, run_id: i64) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM sync_spool WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(pool)
            .await?,
    )
}

pub(crate) async fn spool_clear(pool: &Pool, run_id: i64) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    sqlx::query("DELETE FROM sync_spool WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sync_spool_ours WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn spool_discard_others(
    pool: &Pool,
    run_id: i64,
    dry_run_age_secs: i64,
) -> Result<u64, StoreError> {
    let old = to_micros(now()) - dry_run_age_secs.max(0) * 1_000_000;
    let mut tx = begin_write(pool).await?;
    let mut n = 0;
    for table in ["sync_spool", "sync_spool_ours"] {
        n += sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE run_id <> $1 AND (run_id > 0 OR created_at < $2)"
        )))
        .bind(run_id)
        .bind(old)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(n)
}
