// The outbox's and the retry table's queries, compiled once per backend (see `outbox.rs`).

use sqlx::{QueryBuilder, Row};

use crate::StoreError;
use crate::model::ContactId;
use crate::sync::outbox::{OUTBOX_CHUNK, OutboxKind, OutboxRow, RetryKind};
use crate::time_fmt::{now, to_micros};

type Pool = sqlx::Pool<Engine>;

/// Ids per `IN (...)` list.
const IN_CHUNK: usize = 900;
// Write transactions: `begin_write` of `sync/queries.rs` (the sync's writer lock).

fn parse_kind(raw: &str) -> Result<OutboxKind, StoreError> {
    [OutboxKind::Create, OutboxKind::Update, OutboxKind::Seed]
        .into_iter()
        .find(|k| k.name() == raw)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown outbox kind {raw}")))
}

pub(crate) async fn outbox_put(
    pool: &Pool,
    run_id: i64,
    rows: &[OutboxRow],
) -> Result<(), StoreError> {
    let at = to_micros(now());
    let mut tx = begin_write(pool).await?;
    for chunk in rows.chunks(OUTBOX_CHUNK) {
        let mut qb = QueryBuilder::<Engine>::new(
            "INSERT INTO sync_outbox (run_id, kind, contact_id, org_id, entry, created_at) ",
        );
        // Bound by reference: a partition's entries are not copied again.
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(run_id)
                .push_bind(r.kind.name())
                .push_bind(r.contact_id.map(|c| c.0))
                .push_bind(r.org_id.as_deref())
                .push_bind(r.entry.as_str())
                .push_bind(at);
        });
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn outbox_len(
    pool: &Pool,
    run_id: i64,
    kind: Option<OutboxKind>,
) -> Result<i64, StoreError> {
    let mut qb = QueryBuilder::<Engine>::new("SELECT COUNT(*) AS n FROM sync_outbox WHERE run_id = ");
    qb.push_bind(run_id);
    if let Some(k) = kind {
        qb.push(" AND kind = ");
        qb.push_bind(k.name());
    }
    Ok(qb.build().fetch_one(pool).await?.try_get("n")?)
}

pub(crate) async fn outbox_page(
    pool: &Pool,
    run_id: i64,
    kind: OutboxKind,
    after: i64,
    upto: Option<i64>,
    limit: u32,
) -> Result<Vec<(i64, OutboxRow)>, StoreError> {
    let mut qb = QueryBuilder::<Engine>::new(
        "SELECT id, kind, contact_id, org_id, entry FROM sync_outbox WHERE run_id = ",
    );
    qb.push_bind(run_id);
    qb.push(" AND kind = ");
    qb.push_bind(kind.name());
    qb.push(" AND id > ");
    qb.push_bind(after);
    if let Some(u) = upto {
        qb.push(" AND id <= ");
        qb.push_bind(u);
    }
    qb.push(" ORDER BY id LIMIT ");
    qb.push_bind(i64::from(limit));
    let rows = qb.build().fetch_all(pool).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                OutboxRow {
                    kind: parse_kind(r.try_get("kind")?)?,
                    contact_id: r.try_get::<Option<i64>, _>("contact_id")?.map(ContactId),
                    org_id: r.try_get("org_id")?,
                    entry: r.try_get("entry")?,
                },
            ))
        })
        .collect()
}

pub(crate) async fn outbox_claimed(
    pool: &Pool,
    run_id: i64,
    contacts: &[ContactId],
    org_ids: &[String],
) -> Result<(Vec<ContactId>, Vec<String>), StoreError> {
    let mut found_contacts = Vec::new();
    for chunk in contacts.chunks(IN_CHUNK) {
        let mut qb = QueryBuilder::<Engine>::new(
            "SELECT DISTINCT contact_id FROM sync_outbox WHERE run_id = ",
        );
        qb.push_bind(run_id);
        qb.push(" AND contact_id IN (");
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.0);
        }
        qb.push(")");
        for r in qb.build().fetch_all(pool).await? {
            found_contacts.push(ContactId(r.try_get("contact_id")?));
        }
    }
    let mut found_org = Vec::new();
    for chunk in org_ids.chunks(IN_CHUNK) {
        let mut qb =
            QueryBuilder::<Engine>::new("SELECT DISTINCT org_id FROM sync_outbox WHERE run_id = ");
        qb.push_bind(run_id);
        qb.push(" AND org_id IN (");
        let mut list = qb.separated(", ");
        for id in chunk {
            list.push_bind(id.clone());
        }
        qb.push(")");
        for r in qb.build().fetch_all(pool).await? {
            found_org.push(r.try_get("org_id")?);
        }
    }
    Ok((found_contacts, found_org))
}

pub(crate) async fn outbox_clear(pool: &Pool, run_id: i64) -> Result<(), StoreError> {
    let mut tx = begin_write(pool).await?;
    sqlx::query("DELETE FROM sync_outbox WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn outbox_discard_others(pool: &Pool, run_id: i64) -> Result<u64, StoreError> {
    let mut tx = begin_write(pool).await?;
    let n = sqlx::query("DELETE FROM sync_outbox WHERE run_id <> $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n)
}

pub(crate) async fn retry_add(
    pool: &Pool,
    run_id: i64,
    ids: &[(RetryKind, String)],
) -> Result<(), StoreError> {
    let at = to_micros(now());
    // Repeats inside one statement would break the upsert.
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&(RetryKind, String)> = ids.iter().filter(|k| seen.insert(*k)).collect();
    let mut tx = begin_write(pool).await?;
    for chunk in unique.chunks(OUTBOX_CHUNK) {
        let mut qb =
            QueryBuilder::<Engine>::new("INSERT INTO sync_retry (kind, id, run_id, created_at) ");
        qb.push_values(chunk, |mut b, (kind, id)| {
            b.push_bind(kind.name())
                .push_bind(id.clone())
                .push_bind(run_id)
                .push_bind(at);
        });
        qb.push(" ON CONFLICT (kind, id) DO UPDATE SET run_id = excluded.run_id");
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn retry_page(
    pool: &Pool,
    kind: RetryKind,
    after: &str,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    // Contact ids are numbers kept as text: ordered by length first, then text, which is
    // numeric order for them and a total order for Ids.
    let rows = sqlx::query(
        "SELECT id FROM sync_retry WHERE kind = $1 AND (LENGTH(id) > LENGTH($2) OR (LENGTH(id) = LENGTH($2) AND id > $2)) \
         ORDER BY LENGTH(id), id LIMIT $3",
    )
    .bind(kind.name())
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

pub(crate) async fn retry_len(pool: &Pool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sync_retry")
        .fetch_one(pool)
        .await?)
}

pub(crate) async fn retry_settle(pool: &Pool, run_id: i64) -> Result<u64, StoreError> {
    let mut tx = begin_write(pool).await?;
    let n = sqlx::query("DELETE FROM sync_retry WHERE run_id < $1")
        .bind(run_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n)
}
