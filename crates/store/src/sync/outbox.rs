//! The run's outbox and the retry table (migration `0130_sync_outbox`).
//!
//! **Outbox.** While a run plans partition by partition, the pairs that write to the org are
//! kept here instead of being sent partition by partition; once every partition is planned,
//! the runner sends them in Bulk jobs as large as the client allows (creates, then updates,
//! then seed updates) and records them chunk by chunk, reading them back in `id` order. The
//! store keeps each entry as opaque JSON (the engine's pair plan and the link before it).
//!
//! **Invariants.**
//! - Rows never outlive their run: the runner clears its own ([`SyncStore::outbox_clear`]),
//!   and a run holding the sync lease discards those of every other run
//!   ([`SyncStore::outbox_discard_others`]): a dead run's outbox is never resumed (its
//!   watermarks did not move, so the next run plans the same changes again; a create it may
//!   have sent left an intent, settled by an email lookup).
//! - Pages are read in `id` order (the order rows were put), `(after, upto]`, so two passes
//!   over the same range see the same rows.
//!
//! **Retry.** Records whose last write failed, read again by the next runs although nothing
//! changed (a refused record is retried without blocking the others). Keyed by kind and id; a
//! complete run removes the rows of the runs before it ([`SyncStore::retry_settle`]).

use crate::model::ContactId;
use crate::sync::SyncStore;
use crate::{Db, StoreError};

/// What an outbox row sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxKind {
    /// A Lead create.
    Create,
    /// A Lead update.
    Update,
    /// A seed update (a duplicate of a seed-mode email group).
    Seed,
}

impl OutboxKind {
    pub fn name(self) -> &'static str {
        match self {
            OutboxKind::Create => "create",
            OutboxKind::Update => "update",
            OutboxKind::Seed => "seed",
        }
    }
}

/// One entry of a run's outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub kind: OutboxKind,
    /// Our contact of the pair, if it has one (for [`SyncStore::outbox_claimed`]).
    pub contact_id: Option<ContactId>,
    /// The org record of the pair, if it has one.
    pub org_id: Option<String>,
    /// The engine's entry (JSON).
    pub entry: String,
}

/// What a retry row names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RetryKind {
    /// One of our contacts (its id).
    Contact,
    /// An org Lead (its Id).
    Lead,
    /// An org Contact (its Id).
    OrgContact,
}

impl RetryKind {
    pub fn name(self) -> &'static str {
        match self {
            RetryKind::Contact => "contact",
            RetryKind::Lead => "lead",
            RetryKind::OrgContact => "org_contact",
        }
    }
}

/// Rows per multi-row insert.
pub(crate) const OUTBOX_CHUNK: usize = 500;

mod sqlite_outbox {
    use crate::sync::sqlite_sync::begin_write;
    type Engine = sqlx::Sqlite;
    include!("outbox_queries.rs");
}

mod postgres_outbox {
    use crate::sync::postgres_sync::begin_write;
    type Engine = sqlx::Postgres;
    include!("outbox_queries.rs");
}

macro_rules! outbox_dispatch {
    ($self:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match &$self.store.db {
            Db::Sqlite(pool) => sqlite_outbox::$f(pool, $($arg),*).await,
            Db::Postgres(pool) => postgres_outbox::$f(pool, $($arg),*).await,
        }
    };
}

impl SyncStore {
    /// Adds entries to run `run_id`'s outbox, in order.
    pub async fn outbox_put(&self, run_id: i64, rows: &[OutboxRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        outbox_dispatch!(self, outbox_put(run_id, rows))
    }

    /// How many entries of `kind` (every kind: `None`) run `run_id` has.
    pub async fn outbox_len(
        &self,
        run_id: i64,
        kind: Option<OutboxKind>,
    ) -> Result<i64, StoreError> {
        outbox_dispatch!(self, outbox_len(run_id, kind))
    }

    /// At most `limit` entries of `kind` with `after < id <= upto` (`upto = None`: no bound),
    /// in `id` order, with their ids.
    pub async fn outbox_page(
        &self,
        run_id: i64,
        kind: OutboxKind,
        after: i64,
        upto: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, OutboxRow)>, StoreError> {
        outbox_dispatch!(self, outbox_page(run_id, kind, after, upto, limit.max(1)))
    }

    /// Which of these contacts and org records already have an entry in run `run_id`'s outbox.
    pub async fn outbox_claimed(
        &self,
        run_id: i64,
        contacts: &[ContactId],
        org_ids: &[String],
    ) -> Result<(Vec<ContactId>, Vec<String>), StoreError> {
        outbox_dispatch!(self, outbox_claimed(run_id, contacts, org_ids))
    }

    /// Removes run `run_id`'s outbox.
    pub async fn outbox_clear(&self, run_id: i64) -> Result<(), StoreError> {
        outbox_dispatch!(self, outbox_clear(run_id))
    }

    /// Removes the outbox of every other run (call it holding the sync lease). Returns how
    /// many rows went.
    pub async fn outbox_discard_others(&self, run_id: i64) -> Result<u64, StoreError> {
        outbox_dispatch!(self, outbox_discard_others(run_id))
    }

    // ---- retry ----

    /// Records ids to read again next time (a row already there is kept, now run `run_id`'s).
    pub async fn retry_add(
        &self,
        run_id: i64,
        ids: &[(RetryKind, String)],
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        outbox_dispatch!(self, retry_add(run_id, ids))
    }

    /// At most `limit` ids of `kind` above `after` (`""`: from the first), ascending.
    pub async fn retry_page(
        &self,
        kind: RetryKind,
        after: &str,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        outbox_dispatch!(self, retry_page(kind, after, limit.max(1)))
    }

    /// How many ids wait to be read again.
    pub async fn retry_len(&self) -> Result<i64, StoreError> {
        outbox_dispatch!(self, retry_len())
    }

    /// A complete run `run_id` read every earlier retry again: the rows of the runs before it
    /// go (its own failures stay).
    pub async fn retry_settle(&self, run_id: i64) -> Result<u64, StoreError> {
        outbox_dispatch!(self, retry_settle(run_id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_db::both;
    use super::{OutboxKind, OutboxRow, RetryKind};
    use crate::Store;
    use crate::model::ContactId;

    fn row(kind: OutboxKind, contact: Option<i64>, org: Option<&str>, entry: &str) -> OutboxRow {
        OutboxRow {
            kind,
            contact_id: contact.map(ContactId),
            org_id: org.map(str::to_owned),
            entry: entry.to_owned(),
        }
    }

    #[tokio::test]
    async fn an_outbox_is_read_back_in_order_by_kind_and_range_and_never_outlives_its_run() {
        both("outbox", async |store: &Store| {
            let sync = store.sync();
            let mut rows = Vec::new();
            for i in 0..1_200 {
                let kind = if i % 3 == 0 {
                    OutboxKind::Create
                } else {
                    OutboxKind::Update
                };
                let org = format!("00Q{i:05}");
                let org = (kind == OutboxKind::Update).then_some(org.as_str());
                rows.push(row(kind, Some(i), org, &format!("{{\"n\":{i}}}")));
            }
            rows.push(row(OutboxKind::Seed, None, Some("00Qseed"), "{}"));
            sync.outbox_put(5, &rows).await.unwrap();
            sync.outbox_put(6, &rows[..10]).await.unwrap();
            assert_eq!(sync.outbox_len(5, None).await.unwrap(), 1_201);
            assert_eq!(
                sync.outbox_len(5, Some(OutboxKind::Create)).await.unwrap(),
                400
            );
            assert_eq!(sync.outbox_len(5, Some(OutboxKind::Seed)).await.unwrap(), 1);
            // Page by page, in the order put; a bounded range reads the same rows again.
            let mut after = 0;
            let mut seen = Vec::new();
            loop {
                let page = sync
                    .outbox_page(5, OutboxKind::Update, after, None, 300)
                    .await
                    .unwrap();
                let Some((last, _)) = page.last() else {
                    break;
                };
                after = *last;
                seen.extend(page);
            }
            assert_eq!(seen.len(), 800);
            let expected: Vec<&OutboxRow> = rows
                .iter()
                .filter(|r| r.kind == OutboxKind::Update)
                .collect();
            assert!(seen.iter().map(|(_, r)| r).eq(expected.iter().copied()));
            let (lo, hi) = (seen[99].0, seen[199].0);
            let again = sync
                .outbox_page(5, OutboxKind::Update, lo, Some(hi), 1_000)
                .await
                .unwrap();
            assert_eq!(again, seen[100..200].to_vec());
            // Who already waits in the outbox.
            let (c, o) = sync
                .outbox_claimed(
                    5,
                    &[ContactId(3), ContactId(5_000)],
                    &["00Q00001".into(), "00Q00003".into(), "00Qseed".into()],
                )
                .await
                .unwrap();
            assert_eq!(c, vec![ContactId(3)]);
            let mut o = o;
            o.sort();
            assert_eq!(o, vec!["00Q00001".to_string(), "00Qseed".to_string()]);
            // Run 5 died; run 7 holds the lease and discards every other run's outbox.
            sync.outbox_put(7, &rows[..2]).await.unwrap();
            assert_eq!(sync.outbox_discard_others(7).await.unwrap(), 1_211);
            assert_eq!(sync.outbox_len(5, None).await.unwrap(), 0);
            assert_eq!(sync.outbox_len(7, None).await.unwrap(), 2);
            sync.outbox_clear(7).await.unwrap();
            assert_eq!(sync.outbox_len(7, None).await.unwrap(), 0);
        })
        .await;
    }

    #[tokio::test]
    async fn retries_page_in_order_and_a_complete_run_settles_the_older_ones() {
        both("outbox", async |store: &Store| {
            let sync = store.sync();
            let contacts: Vec<(RetryKind, String)> = [9, 10, 2, 100, 2]
                .iter()
                .map(|i: &i64| (RetryKind::Contact, i.to_string()))
                .collect();
            sync.retry_add(3, &contacts).await.unwrap();
            sync.retry_add(
                3,
                &[
                    (RetryKind::Lead, "00Qb".into()),
                    (RetryKind::Lead, "00Qa".into()),
                ],
            )
            .await
            .unwrap();
            assert_eq!(sync.retry_len().await.unwrap(), 6);
            let first = sync.retry_page(RetryKind::Contact, "", 2).await.unwrap();
            assert_eq!(first, vec!["2", "9"], "numeric order for contact ids");
            let rest = sync.retry_page(RetryKind::Contact, "9", 10).await.unwrap();
            assert_eq!(rest, vec!["10", "100"]);
            assert_eq!(
                sync.retry_page(RetryKind::Lead, "", 10).await.unwrap(),
                vec!["00Qa", "00Qb"]
            );
            // Run 4 failed contact 9 again, then completed: only its own failures stay.
            sync.retry_add(4, &[(RetryKind::Contact, "9".into())])
                .await
                .unwrap();
            assert_eq!(sync.retry_settle(4).await.unwrap(), 5);
            assert_eq!(
                sync.retry_page(RetryKind::Contact, "", 10).await.unwrap(),
                vec!["9"]
            );
            assert!(
                sync.retry_page(RetryKind::OrgContact, "", 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
        })
        .await;
    }
}
