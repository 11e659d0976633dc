//! The run's read spool (migration `0110_sync_spool`): the org records a run read and the ids of
//! our contacts it must look at, kept in the store instead of in memory, so the runner plans
//! and applies partition by partition of whole email groups and its memory follows the
//! partition, not the base.
//!
//! **Invariants.**
//! - A spooled record is planned at most once per run: every read of a run's rows by the
//!   runner *takes* them (select and delete in one transaction), so a record whose Lead a
//!   partition updated is never planned again from its stale spooled copy.
//! - Partitions are ranges of `email_norm` (the record's normalised email, `''` without one)
//!   and of our contacts' emails (stored normalised the same way): a range holds whole email
//!   groups. [`KeyRange`]s are half-open at the bottom, `(after, upto]`, and successive ranges
//!   cover every key exactly once.
//! - Spooled rows never outlive their run: the runner clears its own at the end, and a run
//!   holding the sync lease discards those of any other run (a dead run's spool is never
//!   resumed: its watermark did not move, so the next run reads the same records again).

use lb_core::OrgRecord;

use crate::model::ContactId;
use crate::sync::SyncStore;
use crate::{Db, Email, StoreError};

/// A range of partition keys: `(after, upto]`; `after = None` starts at the very first key
/// (`''`, the records without an email, included); `upto = None` has no upper bound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRange {
    pub after: Option<String>,
    pub upto: Option<String>,
}

/// Which contacts of ours a run looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OursSource {
    /// Every contact of the base (the full resync).
    All,
    /// The ids spooled for this run ([`SyncStore::spool_ours`]).
    Spooled,
}

/// Rows per multi-row insert (6 binds each: far under both databases' limits).
pub(crate) const SPOOL_CHUNK: usize = 1_000;

mod sqlite_spool {
    use crate::sync::sqlite_sync::begin_write;
    type Engine = sqlx::Sqlite;
    include!("spool_queries.rs");
}

mod postgres_spool {
    use crate::sync::postgres_sync::begin_write;
    type Engine = sqlx::Postgres;
    include!("spool_queries.rs");
}

macro_rules! spool_dispatch {
    ($self:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match &$self.store.db {
            Db::Sqlite(pool) => sqlite_spool::$f(pool, $($arg),*).await,
            Db::Postgres(pool) => postgres_spool::$f(pool, $($arg),*).await,
        }
    };
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The partition key of a record: its normalised email, `''` without a valid one.
pub fn spool_key(record: &OrgRecord) -> String {
    record
        .normalized_email()
        .map(|e| e.as_str().to_owned())
        .unwrap_or_default()
}

impl SyncStore {
    /// Spools records read by run `run_id` (a record read twice keeps its latest copy).
    pub async fn spool_records(
        &self,
        run_id: i64,
        records: &[OrgRecord],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        spool_dispatch!(self, spool_records(run_id, records))
    }

    /// Spools ids of our contacts run `run_id` must look at (repeats are ignored).
    pub async fn spool_ours(&self, run_id: i64, ids: &[ContactId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        spool_dispatch!(self, spool_ours(run_id, ids))
    }

    /// Which of `ids` are spooled for run `run_id`.
    pub async fn spooled_ours(
        &self,
        run_id: i64,
        ids: &[ContactId],
    ) -> Result<Vec<ContactId>, StoreError> {
        spool_dispatch!(self, spooled_ours(run_id, ids))
    }

    /// The `n`-th (1-based) smallest record key above `after`, if there are that many.
    pub async fn spool_nth_key(
        &self,
        run_id: i64,
        after: Option<&str>,
        n: u32,
    ) -> Result<Option<String>, StoreError> {
        spool_dispatch!(self, spool_nth_key(run_id, after, n.max(1)))
    }

    /// The `n`-th (1-based) smallest email of our contacts above `after`.
    pub async fn ours_nth_email(
        &self,
        run_id: i64,
        source: OursSource,
        after: Option<&str>,
        n: u32,
    ) -> Result<Option<String>, StoreError> {
        spool_dispatch!(self, ours_nth_email(run_id, source, after, n.max(1)))
    }

    /// Our contacts whose email lies in `range`, ordered by email.
    pub async fn ours_in_range(
        &self,
        run_id: i64,
        source: OursSource,
        range: &KeyRange,
    ) -> Result<Vec<ContactId>, StoreError> {
        spool_dispatch!(self, ours_in_range(run_id, source, range))
    }

    /// Takes (returns and removes) the spooled records whose key lies in `range`.
    pub async fn spool_take_range(
        &self,
        run_id: i64,
        range: &KeyRange,
    ) -> Result<Vec<OrgRecord>, StoreError> {
        spool_dispatch!(self, spool_take_range(run_id, range))
    }

    /// Takes the spooled records with these Ids (missing ones left out).
    pub async fn spool_take_ids(
        &self,
        run_id: i64,
        ids: &[String],
    ) -> Result<Vec<OrgRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        spool_dispatch!(self, spool_take_ids(run_id, ids))
    }

    /// Takes the spooled records holding these emails.
    pub async fn spool_take_emails(
        &self,
        run_id: i64,
        emails: &[Email],
    ) -> Result<Vec<OrgRecord>, StoreError> {
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        spool_dispatch!(self, spool_take_emails(run_id, emails))
    }

    /// How many records run `run_id` still has spooled.
    pub async fn spool_len(&self, run_id: i64) -> Result<i64, StoreError> {
        spool_dispatch!(self, spool_len(run_id))
    }

    /// Removes everything run `run_id` spooled.
    pub async fn spool_clear(&self, run_id: i64) -> Result<(), StoreError> {
        spool_dispatch!(self, spool_clear(run_id))
    }

    /// Removes the spool of every other real run (call it holding the sync lease: no other
    /// real run is alive) and of dry runs (negative ids) older than `dry_run_age_secs`.
    pub async fn spool_discard_others(
        &self,
        run_id: i64,
        dry_run_age_secs: i64,
    ) -> Result<u64, StoreError> {
        spool_dispatch!(self, spool_discard_others(run_id, dry_run_age_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_db::both;
    use std::collections::BTreeMap;

    use lb_core::{OrgRecord, SObject};
    use time::OffsetDateTime;

    use super::{KeyRange, OursSource};
    use crate::{ContactInput, Origin, Store};

    fn record(id: &str, email: Option<&str>) -> OrgRecord {
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let mut fields = BTreeMap::new();
        if let Some(e) = email {
            fields.insert("Email".to_owned(), e.to_owned());
        }
        fields.insert("LastName".to_owned(), format!("L{id}"));
        OrgRecord {
            id: id.into(),
            object: SObject::Lead,
            fields,
            last_modified: t,
            system_modstamp: t,
            created: t,
            is_converted: false,
            converted_contact_id: None,
        }
    }

    #[tokio::test]
    async fn key_ranges_take_every_spooled_record_once_and_in_whole_email_groups() {
        both("spool", async |store: &Store| {
            let sync = store.sync();
            let mut recs: Vec<OrgRecord> = (0..20)
                .map(|i| {
                    record(
                        &format!("00Q{i:03}"),
                        Some(&format!("p{:02}@x.test", i / 2)),
                    )
                })
                .collect();
            recs.push(record("00Qnone", None));
            // Read twice: one row, the latest copy.
            let mut again = recs[3].clone();
            again.fields.insert("LastName".into(), "Again".into());
            sync.spool_records(7, &recs).await.unwrap();
            sync.spool_records(7, &[again]).await.unwrap();
            sync.spool_records(8, &recs[..2]).await.unwrap();
            assert_eq!(sync.spool_len(7).await.unwrap(), 21);
            let mut after: Option<String> = None;
            let mut seen = Vec::new();
            loop {
                let upto = sync.spool_nth_key(7, after.as_deref(), 5).await.unwrap();
                let range = KeyRange {
                    after: after.clone(),
                    upto: upto.clone(),
                };
                let part = sync.spool_take_range(7, &range).await.unwrap();
                // Two records per email: a group is never split.
                let mut per: BTreeMap<String, usize> = BTreeMap::new();
                for r in &part {
                    *per.entry(super::spool_key(r)).or_default() += 1;
                }
                for (k, n) in per {
                    assert!(k.is_empty() || n == 2, "{k} split");
                }
                seen.extend(part);
                match upto {
                    Some(u) => after = Some(u),
                    None => break,
                }
            }
            assert_eq!(seen.len(), 21, "each record once");
            assert_eq!(
                seen.iter().find(|r| r.id == "00Q003").unwrap().fields["LastName"],
                "Again"
            );
            assert_eq!(sync.spool_len(7).await.unwrap(), 0);
            // Taken by Id or email: gone for good.
            assert_eq!(
                sync.spool_take_ids(8, &["00Q001".into(), "nope".into()])
                    .await
                    .unwrap()
                    .len(),
                1
            );
            let e = crate::Email::parse("p00@x.test").unwrap();
            assert_eq!(
                sync.spool_take_emails(8, std::slice::from_ref(&e))
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert!(sync.spool_take_emails(8, &[e]).await.unwrap().is_empty());
        })
        .await;
    }

    #[tokio::test]
    async fn our_contacts_come_by_email_range_and_a_dead_runs_spool_is_discarded() {
        both("spool", async |store: &Store| {
            let sync = store.sync();
            let mut ids = Vec::new();
            for i in 0..6 {
                let mut input = ContactInput::new();
                input.insert("email".into(), format!("c{i}@x.test").into());
                ids.push(store.create_contact(&input, Origin::User).await.unwrap().id);
            }
            sync.spool_ours(3, &[ids[4], ids[1], ids[1]]).await.unwrap();
            let all = KeyRange::default();
            assert_eq!(
                sync.ours_in_range(3, OursSource::Spooled, &all)
                    .await
                    .unwrap(),
                vec![ids[1], ids[4]]
            );
            assert_eq!(
                sync.ours_in_range(3, OursSource::All, &all)
                    .await
                    .unwrap()
                    .len(),
                6
            );
            let second = sync
                .ours_nth_email(3, OursSource::All, None, 2)
                .await
                .unwrap();
            assert_eq!(second.as_deref(), Some("c1@x.test"));
            let first_two = KeyRange {
                after: None,
                upto: second,
            };
            assert_eq!(
                sync.ours_in_range(3, OursSource::All, &first_two)
                    .await
                    .unwrap(),
                vec![ids[0], ids[1]]
            );
            assert_eq!(
                sync.spooled_ours(3, &[ids[0], ids[4]]).await.unwrap(),
                vec![ids[4]]
            );
            // Run 3 died; run 4 holds the lease; a fresh dry run (-5) is left alone.
            sync.spool_records(3, &[record("00Qa", Some("a@x.test"))])
                .await
                .unwrap();
            sync.spool_records(-5, &[record("00Qb", Some("b@x.test"))])
                .await
                .unwrap();
            sync.spool_records(4, &[record("00Qc", Some("c@x.test"))])
                .await
                .unwrap();
            assert_eq!(sync.spool_discard_others(4, 3600).await.unwrap(), 3);
            assert_eq!(sync.spool_len(3).await.unwrap(), 0);
            assert_eq!(sync.spool_len(-5).await.unwrap(), 1);
            assert_eq!(sync.spool_len(4).await.unwrap(), 1);
            assert!(
                sync.ours_in_range(3, OursSource::Spooled, &all)
                    .await
                    .unwrap()
                    .is_empty()
            );
            sync.spool_clear(4).await.unwrap();
            sync.spool_clear(-5).await.unwrap();
            assert_eq!(
                sync.spool_len(4).await.unwrap() + sync.spool_len(-5).await.unwrap(),
                0
            );
        })
        .await;
    }
}
