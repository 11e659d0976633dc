//! Tombstones: what the store remembers of org records deleted (or merged away) in Salesforce
//! while linked to one of our contacts (issue 6, org deletes). Migrations `0120_tombstones`.
//!
//! A tombstone says "contact C was linked to org record R; R was deleted in the org at T (merged
//! into M)". The contact itself is kept — marketing data is never lost because of a deletion in
//! the CRM — but the runner leaves it out of planning while the tombstone exists, so a full sync
//! does not re-create the Lead a salesperson deliberately deleted. The user clears it
//! ([`SyncStore::clear_tombstone`]) to sync the contact again (a new Lead is then created, or
//! an existing org record with its email is linked).
//!
//! **Invariants.**
//! - [`SyncStore::commit_deletes`] applies one batch of deletions in one transaction,
//!   serialised with the other sync writers (the same lock as `commit_batch`): a link is only
//!   removed (or moved to the merge's master) if it still points at the deleted record, so a
//!   link that moved meanwhile is left alone ([`DeleteOutcome::Stale`]).
//! - Removing a link and writing its tombstone happen together; moving a link to the master
//!   (a merge whose master no other contact is linked to) writes no tombstone and keeps the
//!   link's bases (the master's differing values then arrive as org changes through the
//!   three-way merge).
//! - One link per org record still holds: a merge whose master is already linked to another
//!   contact tombstones the loser's contact instead of linking two contacts to one record.
//! - One tombstone per contact (a later one replaces it).

use lb_core::SObject;
use time::OffsetDateTime;

use crate::model::ContactId;
use crate::sync::SyncStore;
use crate::{Db, StoreError};

/// One tombstone, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tombstone {
    pub contact_id: ContactId,
    /// The deleted (or merged-away) org record.
    pub org_id: String,
    pub object: SObject,
    /// When the org deleted it.
    #[serde(with = "time::serde::rfc3339")]
    pub deleted_at: OffsetDateTime,
    /// The merge's winner, when the record was merged away into a record already linked to
    /// another contact.
    pub master_id: Option<String>,
    /// The run that recorded it.
    pub run_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
}

/// One deleted org record that was linked to `contact_id` when the batch was planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOp {
    pub contact_id: ContactId,
    pub org_id: String,
    pub object: SObject,
    pub deleted_at: OffsetDateTime,
    /// `MasterRecordId`: set when the record was merged away into this record.
    pub master_id: Option<String>,
}

/// What [`SyncStore::commit_deletes`] did with one [`DeleteOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The link was removed and a tombstone written.
    Tombstoned,
    /// A merge: the link now points at the master.
    Relinked,
    /// A merge whose master is linked to another contact: the link was removed and a tombstone
    /// (with `master_id`) written; `other` holds the master's link.
    MasterLinkedElsewhere { other: ContactId },
    /// The contact's link no longer pointed at the deleted record: nothing done.
    Stale,
}

macro_rules! backend {
    ($module:ident, $engine:ty, $backend:expr) => {
        mod $module {
            use sqlx::{QueryBuilder, Row};

            use super::*;
            use crate::Backend;
            use crate::sync::parse_object;
            use crate::time_fmt::{from_micros, now, to_micros};

            type Engine = $engine;
            type Pool = sqlx::Pool<Engine>;
            const BACKEND: Backend = $backend;
            /// The sync writers' lock key (the same as `sync/queries.rs`): deletions serialise
            /// with batches, so a link read by one is not moved under the other.
            const SYNC_LOCK_KEY: i64 = 0x6c62_7379;
            const IN_CHUNK: usize = 900;
            const COLUMNS: &str = "SELECT contact_id, org_id, object, deleted_at, master_id, run_id, recorded_at FROM sync_tombstones";

            async fn begin_write(pool: &Pool) -> Result<sqlx::Transaction<'static, Engine>, StoreError> {
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

            #[derive(sqlx::FromRow)]
            struct TombstoneRow {
                contact_id: i64,
                org_id: String,
                object: String,
                deleted_at: i64,
                master_id: Option<String>,
                run_id: i64,
                recorded_at: i64,
            }

            impl TryFrom<TombstoneRow> for Tombstone {
                type Error = StoreError;
                fn try_from(r: TombstoneRow) -> Result<Tombstone, StoreError> {
                    Ok(Tombstone {
                        contact_id: ContactId(r.contact_id),
                        org_id: r.org_id,
                        object: parse_object(&r.object)?,
                        deleted_at: from_micros(r.deleted_at),
                        master_id: r.master_id,
                        run_id: r.run_id,
                        recorded_at: from_micros(r.recorded_at),
                    })
                }
            }

            pub(super) async fn commit_deletes(
                pool: &Pool,
                run_id: i64,
                ops: &[DeleteOp],
            ) -> Result<Vec<DeleteOutcome>, StoreError> {
                let mut tx = begin_write(pool).await?;
                let at = to_micros(now());
                let mut out = Vec::with_capacity(ops.len());
                for op in ops {
                    let linked: Option<String> =
                        sqlx::query_scalar("SELECT org_id FROM sync_links WHERE contact_id = $1")
                            .bind(op.contact_id.0)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if linked.as_deref() != Some(op.org_id.as_str()) {
                        out.push(DeleteOutcome::Stale);
                        continue;
                    }
                    let mut tombstone_master = None;
                    let mut outcome = DeleteOutcome::Tombstoned;
                    if let Some(master) = &op.master_id {
                        let holder: Option<i64> =
                            sqlx::query_scalar("SELECT contact_id FROM sync_links WHERE org_id = $1")
                                .bind(master)
                                .fetch_optional(&mut *tx)
                                .await?;
                        match holder {
                            None => {
                                sqlx::query(
                                    "UPDATE sync_links SET org_id = $1, run_id = $2, updated_at = $3 \
                                     WHERE contact_id = $4 AND org_id = $5",
                                )
                                .bind(master)
                                .bind(run_id)
                                .bind(at)
                                .bind(op.contact_id.0)
                                .bind(&op.org_id)
                                .execute(&mut *tx)
                                .await?;
                                out.push(DeleteOutcome::Relinked);
                                continue;
                            }
                            Some(other) => {
                                tombstone_master = Some(master.clone());
                                outcome = DeleteOutcome::MasterLinkedElsewhere {
                                    other: ContactId(other),
                                };
                            }
                        }
                    }
                    sqlx::query("DELETE FROM sync_links WHERE contact_id = $1 AND org_id = $2")
                        .bind(op.contact_id.0)
                        .bind(&op.org_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO sync_tombstones (contact_id, org_id, object, deleted_at, master_id, run_id, recorded_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (contact_id) DO UPDATE SET org_id = excluded.org_id, object = excluded.object, \
                         deleted_at = excluded.deleted_at, master_id = excluded.master_id, run_id = excluded.run_id, \
                         recorded_at = excluded.recorded_at",
                    )
                    .bind(op.contact_id.0)
                    .bind(&op.org_id)
                    .bind(op.object.api_name())
                    .bind(to_micros(op.deleted_at))
                    .bind(tombstone_master)
                    .bind(run_id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                    out.push(outcome);
                }
                tx.commit().await?;
                Ok(out)
            }

            pub(super) async fn tombstones_for(
                pool: &Pool,
                ids: &[ContactId],
            ) -> Result<Vec<Tombstone>, StoreError> {
                let mut out = Vec::new();
                for chunk in ids.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<Engine>::new(COLUMNS);
                    qb.push(" WHERE contact_id IN (");
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(id.0);
                    }
                    qb.push(")");
                    for row in qb.build_query_as::<TombstoneRow>().fetch_all(pool).await? {
                        out.push(Tombstone::try_from(row)?);
                    }
                }
                out.sort_by_key(|t| t.contact_id);
                Ok(out)
            }

            pub(super) async fn list(
                pool: &Pool,
                after: ContactId,
                limit: i64,
            ) -> Result<Vec<Tombstone>, StoreError> {
                let rows = sqlx::query_as::<_, TombstoneRow>(sqlx::AssertSqlSafe(format!(
                    "{COLUMNS} WHERE contact_id > $1 ORDER BY contact_id LIMIT $2"
                )))
                .bind(after.0)
                .bind(limit)
                .fetch_all(pool)
                .await?;
                rows.into_iter().map(Tombstone::try_from).collect()
            }

            pub(super) async fn count(pool: &Pool) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM sync_tombstones")
                    .fetch_one(pool)
                    .await?;
                Ok(row.try_get::<i64, _>("n")?)
            }

            pub(super) async fn clear(pool: &Pool, id: ContactId) -> Result<bool, StoreError> {
                let mut tx = begin_write(pool).await?;
                let n = sqlx::query("DELETE FROM sync_tombstones WHERE contact_id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(n > 0)
            }
        }
    };
}

backend!(sqlite_tombstones, sqlx::Sqlite, Backend::Sqlite);
backend!(postgres_tombstones, sqlx::Postgres, Backend::Postgres);

macro_rules! dispatch {
    ($self:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match &$self.store.db {
            Db::Sqlite(pool) => sqlite_tombstones::$f(pool, $($arg),*).await,
            Db::Postgres(pool) => postgres_tombstones::$f(pool, $($arg),*).await,
        }
    };
}

impl SyncStore {
    /// Applies deletions seen in the org (see the module docs): per op, the link is removed
    /// and a tombstone written, or the link moved to the merge's master. One outcome per op,
    /// in order. All in one transaction.
    pub async fn commit_deletes(
        &self,
        run_id: i64,
        ops: &[DeleteOp],
    ) -> Result<Vec<DeleteOutcome>, StoreError> {
        dispatch!(self, commit_deletes(run_id, ops))
    }

    /// The tombstones of these contacts (those without one left out), by contact id.
    pub async fn tombstones_for(&self, ids: &[ContactId]) -> Result<Vec<Tombstone>, StoreError> {
        dispatch!(self, tombstones_for(ids))
    }

    /// Tombstones by contact id, ascending, after `after` (`ContactId(0)`: from the start), at
    /// most `limit` (1..=1000): the list a UI pages through.
    pub async fn tombstones(
        &self,
        after: ContactId,
        limit: u32,
    ) -> Result<Vec<Tombstone>, StoreError> {
        dispatch!(self, list(after, i64::from(limit.clamp(1, 1000))))
    }

    pub async fn count_tombstones(&self) -> Result<i64, StoreError> {
        dispatch!(self, count())
    }

    /// Removes a contact's tombstone (the user asked to sync it again). Returns whether there
    /// was one. The next run plans the contact like any unlinked one.
    pub async fn clear_tombstone(&self, id: ContactId) -> Result<bool, StoreError> {
        dispatch!(self, clear(id))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::Store;
    use crate::model::Origin;
    use crate::sync::{BatchCommit, NewRun, StoredLink};

    fn link(contact: ContactId, org: &str) -> StoredLink {
        StoredLink {
            contact_id: contact,
            org_id: org.into(),
            object: SObject::Lead,
            base: BTreeMap::new(),
        }
    }

    fn op(contact: ContactId, org: &str, master: Option<&str>) -> DeleteOp {
        DeleteOp {
            contact_id: contact,
            org_id: org.into(),
            object: SObject::Lead,
            deleted_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            master_id: master.map(str::to_owned),
        }
    }

    async fn scenario(store: &Store) {
        let sync = store.sync();
        let run = sync
            .start_run(&NewRun {
                triggered_by: "manual".into(),
                scope: "incremental".into(),
                dry_run: false,
                owner: "1@h".into(),
                mapping_hash: None,
            })
            .await
            .unwrap();
        let mut ids = Vec::new();
        for i in 0..5 {
            let input = json!({"email": format!("c{i}@x.io")});
            let c = store
                .create_contact(input.as_object().unwrap(), Origin::User)
                .await
                .unwrap();
            ids.push(c.id);
        }
        let (a, b, c, d, e) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
        sync.commit_batch(&BatchCommit {
            run_id: run,
            links: vec![
                link(a, "00QA"),
                link(b, "00QB"),
                link(c, "00QC"),
                link(d, "00QD"),
            ],
            ..BatchCommit::default()
        })
        .await
        .unwrap();

        let outcomes = sync
            .commit_deletes(
                run,
                &[
                    // Deleted: tombstone, link gone.
                    op(a, "00QA", None),
                    // Merged into an unlinked record: relinked.
                    op(b, "00QB", Some("00QM")),
                    // Merged into D's record: tombstone with the master.
                    op(c, "00QC", Some("00QD")),
                    // E's link never pointed there: nothing.
                    op(e, "00QX", None),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            outcomes,
            vec![
                DeleteOutcome::Tombstoned,
                DeleteOutcome::Relinked,
                DeleteOutcome::MasterLinkedElsewhere { other: d },
                DeleteOutcome::Stale,
            ]
        );
        let links: BTreeMap<ContactId, String> = sync
            .all_links()
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.contact_id, l.org_id))
            .collect();
        assert_eq!(
            links,
            BTreeMap::from([(b, "00QM".to_owned()), (d, "00QD".to_owned())])
        );
        // Every contact is kept.
        for id in &ids {
            store.contact(*id).await.unwrap();
        }
        let stones = sync.tombstones_for(&ids).await.unwrap();
        assert_eq!(
            stones.iter().map(|t| t.contact_id).collect::<Vec<_>>(),
            vec![a, c]
        );
        assert_eq!(stones[0].org_id, "00QA");
        assert_eq!(stones[0].master_id, None);
        assert_eq!(stones[0].run_id, run);
        assert_eq!(stones[0].deleted_at, op(a, "", None).deleted_at);
        assert_eq!(stones[1].master_id.as_deref(), Some("00QD"));
        assert_eq!(sync.count_tombstones().await.unwrap(), 2);
        // Applying the same deletions again changes nothing (the links moved or are gone).
        let again = sync
            .commit_deletes(run, &[op(a, "00QA", None), op(b, "00QB", Some("00QM"))])
            .await
            .unwrap();
        assert_eq!(again, vec![DeleteOutcome::Stale, DeleteOutcome::Stale]);
        assert_eq!(sync.count_tombstones().await.unwrap(), 2);
        // Paging.
        let first = sync.tombstones(ContactId(0), 1).await.unwrap();
        assert_eq!(first.len(), 1);
        let rest = sync.tombstones(first[0].contact_id, 10).await.unwrap();
        assert_eq!(
            rest.iter().map(|t| t.contact_id).collect::<Vec<_>>(),
            vec![c]
        );
        // Cleared by the user.
        assert!(sync.clear_tombstone(a).await.unwrap());
        assert!(!sync.clear_tombstone(a).await.unwrap());
        assert_eq!(sync.count_tombstones().await.unwrap(), 1);
        assert!(sync.tombstones_for(&[a]).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn deletes_on_both_backends() {
        crate::sync::test_db::both("tomb", scenario).await;
    }
}
