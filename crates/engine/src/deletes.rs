//! Org deletes (issue 6): Leads and Contacts deleted — or merged away — in Salesforce.
//!
//! The runner reads the org's changes with `/query`, which never returns a deleted record, so
//! without this module a deleted Lead keeps its link forever and a full sync could re-create
//! the Lead a salesperson deliberately deleted. This module reads the deletions with
//! `/queryAll` and turns them into link changes and tombstones in the store.
//!
//! ## Semantics
//! - A deleted org record that was linked to one of our contacts: the link is removed and a
//!   tombstone recorded ([`lb_store::sync::tombstones`]); **our contact is kept** (marketing
//!   data is never lost because of a deletion in the CRM).
//! - A merged-away record (`MasterRecordId` set): the contact is re-linked to the master record
//!   instead, keeping the link's bases (the master's differing values then arrive as org
//!   changes through the three-way merge). If the master is already linked to another contact,
//!   the loser's contact is tombstoned (with the master's id) and reported as a duplicate.
//!   Chains (A merged into B, B merged into C in the same window) resolve to the last master;
//!   a chain ending in a deleted record is a deletion.
//! - A deleted record that was linked to nothing: nothing happens.
//! - **Nothing is ever deleted in the org**, and no contact of ours is ever deleted.
//! - A tombstoned contact is left out of planning ([`suppressed`]) until the user clears the
//!   tombstone ([`lb_store::sync::SyncStore::clear_tombstone`]); it is then planned like any
//!   unlinked contact (its email is looked up; a new Lead is created if none exists).
//!
//! ## Why `queryAll` and not `sobjects/{type}/deleted`
//! The runner's change read itself goes through `queryAll` (REST, or a Bulk 2.0 `queryAll`
//! job for big reads) with `IsDeleted` and `MasterRecordId` selected: deletions and merges
//! arrive with the changes, bounded by the same `SystemModstamp > watermark − overlap`, and cost
//! no request of their own (an idle run still costs one query per object). The replication
//! resource only gives ids and dates (merges could not be told from deletions) and falls out of
//! its 30-day window after a long pause (`INVALID_REPLICATION_DATE`). Both see only what is
//! still in the recycle bin (about 15 days); a record purged before a run reads it is missed.
//! [`read_deleted`] reads deletions alone (tests, tools).
//!
//! ## How the runner uses this (`runner.rs`)
//! 1. `spool_page` routes each deleted row ([`deleted_record`]) aside; after each object's read
//!    (and after the retry re-read by Id) `apply_org_deletes` calls [`apply_deletes`] (a dry run
//!    only counts). A merge's winner newly linked is read again by Id in the same run.
//! 2. Before planning, [`suppressed_all`] once per run; `suppress` then leaves each tombstoned
//!    contact and the org records holding its email out of each partition, with a skip reason
//!    ([`skip_reason`]). A record with that email *created after the deletion* means the CRM
//!    re-created it on purpose: the tombstone is cleared and the pair syncs as usual.
//! 3. Deletions move no watermark; re-reading one in the overlap finds no link (`unlinked`).
//! 4. The run record carries [`DeleteCounts`] as `counts.deletes`; merges whose winner is
//!    linked to another contact also count in `duplicate_groups`.

use std::collections::{BTreeMap, HashMap, HashSet};

use lb_core::SObject;
use lb_salesforce::{Client, Filter, Record, Soql};
use lb_store::sync::tombstones::{DeleteOp, DeleteOutcome, Tombstone};
use lb_store::{ContactId, Store, StoreError};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::EngineError;
use crate::convert::parse_sf_datetime;

/// How many deletions a run's record lists one by one (the counts are exact).
pub const REPORTED_DELETES_MAX: usize = 500;

/// One org record deleted (or merged away) in Salesforce, as `queryAll` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletedRecord {
    pub id: String,
    pub object: SObject,
    /// Its `SystemModstamp`: when it was deleted.
    #[serde(with = "time::serde::rfc3339")]
    pub deleted_at: OffsetDateTime,
    /// `MasterRecordId`: the record it was merged into.
    pub master_id: Option<String>,
}

/// What [`apply_deletes`] did (goes into the run's counts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeleteCounts {
    /// Deleted records read from the org.
    pub read: u64,
    /// Deleted records no contact was linked to (nothing done).
    pub unlinked: u64,
    /// Links removed and tombstones recorded (contacts kept).
    pub tombstoned: u64,
    /// Contacts re-linked to the master of a merge.
    pub relinked: u64,
    /// Merges whose master was already linked to another contact (tombstoned, reported).
    pub duplicates: u64,
    /// Links that moved between this batch's read of the links and its transaction (another
    /// writer): left alone. A deletion read again in the overlap counts as `unlinked`.
    pub stale: u64,
    /// Org ids newly linked by a merge: the runner reads them again in this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relinked_masters: Vec<String>,
    /// Each tombstone, re-link and duplicate, the first [`REPORTED_DELETES_MAX`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<DeleteReport>,
}

impl DeleteCounts {
    /// Nothing read: the run record leaves the field out.
    pub fn is_empty(&self) -> bool {
        self.read == 0
    }

    /// Adds another object's counts to these (a run reads Leads, then Contacts).
    pub fn absorb(&mut self, other: DeleteCounts) {
        self.read += other.read;
        self.unlinked += other.unlinked;
        self.tombstoned += other.tombstoned;
        self.relinked += other.relinked;
        self.duplicates += other.duplicates;
        self.stale += other.stale;
        self.relinked_masters.extend(other.relinked_masters);
        let room = REPORTED_DELETES_MAX.saturating_sub(self.reports.len());
        self.reports.extend(other.reports.into_iter().take(room));
    }
}

/// One deletion that changed a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteReport {
    pub contact_id: ContactId,
    pub object: SObject,
    /// The deleted (merged-away) org record.
    pub org_id: String,
    /// `tombstoned`, `relinked` or `duplicate`.
    pub outcome: &'static str,
    /// The merge's master.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_id: Option<String>,
    /// For a duplicate: the contact already linked to the master.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_contact: Option<ContactId>,
}

/// Reads the records of `object` deleted in the org after `since` (the runner's
/// `watermark − overlap`; `None`: everything still in the recycle bin) with `/queryAll`.
/// One API request per 2,000 records (the query's pages). Ordered by deletion time, then Id.
pub async fn read_deleted(
    client: &Client,
    object: SObject,
    since: Option<OffsetDateTime>,
) -> Result<Vec<DeletedRecord>, EngineError> {
    let mut filter = Filter::eq("IsDeleted", true);
    if let Some(t) = since {
        filter = filter.and(Filter::gt("SystemModstamp", t));
    }
    let soql = Soql::select(
        &["Id", "IsDeleted", "MasterRecordId", "SystemModstamp"],
        object.api_name(),
    )
    .filter(filter)
    .build()
    .map_err(|e| EngineError::Invalid(format!("deleted records query: {e}")))?;
    let rows = client.query_all(soql).collect_all().await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(d) = deleted_record(object, &row)? {
            out.push(d);
        }
    }
    out.sort_by(|a, b| (a.deleted_at, &a.id).cmp(&(b.deleted_at, &b.id)));
    Ok(out)
}

/// The deletion a `queryAll` row reports, `None` for a live row (queryAll also answers
/// archived rows; only deletions matter). The runner's change read goes through `queryAll`
/// and routes its deleted rows here, so deletions cost no request of their own.
pub fn deleted_record(object: SObject, row: &Record) -> Result<Option<DeletedRecord>, EngineError> {
    // Bulk query rows are CSV strings, typed by the describe when it is known.
    let deleted = match row.get("IsDeleted") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if !deleted {
        return Ok(None);
    }
    let Some(id) = row.get("Id").and_then(Value::as_str) else {
        return Err(EngineError::Invalid(format!(
            "a deleted {} came back without an Id",
            object.api_name()
        )));
    };
    let stamp = row.get("SystemModstamp").and_then(Value::as_str);
    let Some(deleted_at) = stamp.and_then(parse_sf_datetime) else {
        return Err(EngineError::Invalid(format!(
            "deleted {} {id}: unreadable SystemModstamp {stamp:?}",
            object.api_name()
        )));
    };
    let master_id = row
        .get("MasterRecordId")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    Ok(Some(DeletedRecord {
        id: id.to_owned(),
        object,
        deleted_at,
        master_id,
    }))
}

/// The 15-character form of a Salesforce id (ids compare case-sensitively on it).
fn id15(id: &str) -> &str {
    id.get(..15).unwrap_or(id)
}

/// Follows merge chains inside `deleted`: the final master of each merged record (`None` when
/// the chain ends in a plain deletion, i.e. nothing survived).
fn final_masters(deleted: &[DeletedRecord]) -> HashMap<&str, Option<String>> {
    let by_id: HashMap<&str, &DeletedRecord> = deleted.iter().map(|d| (id15(&d.id), d)).collect();
    let mut out = HashMap::new();
    for d in deleted {
        let mut master = d.master_id.clone();
        let mut seen: HashSet<&str> = HashSet::from([id15(&d.id)]);
        while let Some(m) = master.clone() {
            match by_id.get(id15(&m)) {
                // The master was itself deleted or merged in the same window.
                Some(next) if seen.insert(id15(&next.id)) => master = next.master_id.clone(),
                Some(_) => {
                    master = None; // a cycle cannot happen in Salesforce; treat as deleted
                }
                None => break,
            }
        }
        out.insert(id15(&d.id), master);
    }
    out
}

/// Applies `deleted` to the store (see the module docs): one transaction for the whole batch.
/// Idempotent: applied twice, the second time finds no link to the deleted records
/// (`unlinked`) and changes nothing.
pub async fn apply_deletes(
    store: &Store,
    run_id: i64,
    deleted: &[DeletedRecord],
) -> Result<DeleteCounts, EngineError> {
    let sync = store.sync();
    let mut counts = DeleteCounts {
        read: deleted.len() as u64,
        ..DeleteCounts::default()
    };
    if deleted.is_empty() {
        return Ok(counts);
    }
    let ids: Vec<String> = deleted.iter().map(|d| d.id.clone()).collect();
    let links = sync.links_by_org_ids(&ids).await?;
    let linked: HashMap<&str, ContactId> = links
        .iter()
        .map(|l| (id15(&l.org_id), l.contact_id))
        .collect();
    let masters = final_masters(deleted);
    let mut ops = Vec::new();
    for d in deleted {
        let Some(contact) = linked.get(id15(&d.id)) else {
            counts.unlinked += 1;
            continue;
        };
        // The link holds the id as it was stored: the store compares it exactly.
        let org_id = links
            .iter()
            .find(|l| l.contact_id == *contact)
            .map(|l| l.org_id.clone())
            .unwrap_or_else(|| d.id.clone());
        ops.push(DeleteOp {
            contact_id: *contact,
            org_id,
            object: d.object,
            deleted_at: d.deleted_at,
            master_id: masters.get(id15(&d.id)).cloned().flatten(),
        });
    }
    let outcomes = sync.commit_deletes(run_id, &ops).await?;
    for (op, outcome) in ops.iter().zip(outcomes) {
        let (label, other) = match outcome {
            DeleteOutcome::Stale => {
                counts.stale += 1;
                continue;
            }
            DeleteOutcome::Tombstoned => {
                counts.tombstoned += 1;
                ("tombstoned", None)
            }
            DeleteOutcome::Relinked => {
                counts.relinked += 1;
                if let Some(m) = &op.master_id {
                    counts.relinked_masters.push(m.clone());
                }
                ("relinked", None)
            }
            DeleteOutcome::MasterLinkedElsewhere { other } => {
                counts.duplicates += 1;
                ("duplicate", Some(other))
            }
        };
        if counts.reports.len() < REPORTED_DELETES_MAX {
            counts.reports.push(DeleteReport {
                contact_id: op.contact_id,
                object: op.object,
                org_id: op.org_id.clone(),
                outcome: label,
                master_id: op.master_id.clone(),
                other_contact: other,
            });
        }
    }
    tracing::info!(
        read = counts.read,
        tombstoned = counts.tombstoned,
        relinked = counts.relinked,
        duplicates = counts.duplicates,
        "org deletions applied"
    );
    Ok(counts)
}

/// The contacts a run must leave out of planning because their org record was deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suppressed {
    /// Each suppressed contact's tombstone.
    pub tombstones: BTreeMap<ContactId, Tombstone>,
    /// Their emails (normalised) → the contact: org records holding one are left out too,
    /// unless created in the org after the deletion (see the runner's suppression).
    pub emails: BTreeMap<String, ContactId>,
}

impl Suppressed {
    pub fn contains(&self, id: ContactId) -> bool {
        self.tombstones.contains_key(&id)
    }

    pub fn len(&self) -> usize {
        self.tombstones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tombstones.is_empty()
    }

    /// `(contact, skip reason)` for the run's skip list, by contact id.
    pub fn reasons(&self) -> Vec<(ContactId, String)> {
        self.tombstones
            .iter()
            .map(|(id, t)| (*id, skip_reason(t)))
            .collect()
    }
}

/// Why a run leaves a tombstoned contact (and the org records holding its email) out: the
/// run records its `Display` as the skip reason. Like [`lb_core::plan::SkipReason`], each kind
/// has a stable [`code`](TombstoneSkip::code), so the web app can recognise a recorded reason
/// and say it in the page's language (`lb-web`'s `ui/engine_texts.rs`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TombstoneSkip {
    #[error(
        "its Salesforce {object} {org_id} was deleted in the org on {when}; not synced (no Lead is re-created) until its deletion tombstone is cleared"
    )]
    DeletedInOrg {
        object: String,
        org_id: String,
        when: String,
    },
    #[error(
        "its Salesforce {object} {org_id} was merged into {master_id} on {when}, which is linked to another contact; not synced until its deletion tombstone is cleared"
    )]
    MergedIntoLinked {
        object: String,
        org_id: String,
        master_id: String,
        when: String,
    },
}

impl TombstoneSkip {
    pub fn of(t: &Tombstone) -> TombstoneSkip {
        let object = t.object.api_name().to_owned();
        let org_id = t.org_id.clone();
        let when = crate::convert::soql_datetime(t.deleted_at);
        match &t.master_id {
            Some(m) => TombstoneSkip::MergedIntoLinked {
                object,
                org_id,
                master_id: m.clone(),
                when,
            },
            None => TombstoneSkip::DeletedInOrg {
                object,
                org_id,
                when,
            },
        }
    }

    /// A stable identifier of the reason (snake_case), distinct from every `SkipReason` code.
    pub fn code(&self) -> &'static str {
        match self {
            TombstoneSkip::DeletedInOrg { .. } => "deleted_in_org",
            TombstoneSkip::MergedIntoLinked { .. } => "merged_into_linked",
        }
    }
}

/// The skip reason of a tombstoned contact, in plain words.
pub fn skip_reason(t: &Tombstone) -> String {
    TombstoneSkip::of(t).to_string()
}

/// Every tombstoned contact, with its email: what a run suppresses (full or incremental).
/// One COUNT when there is no tombstone; otherwise the tombstones (few) page by page.
pub async fn suppressed_all(store: &Store) -> Result<Suppressed, EngineError> {
    let sync = store.sync();
    if sync.count_tombstones().await? == 0 {
        return Ok(Suppressed::default());
    }
    let mut stones = Vec::new();
    let mut after = ContactId(0);
    loop {
        let page = sync.tombstones(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.contact_id;
        stones.extend(page);
    }
    with_emails(store, stones).await
}

/// The contacts among `candidates` that have a tombstone, with their emails. Reads the
/// tombstones by id, or all of them when that is fewer rows (a full sync's candidates are
/// every contact; tombstones are few).
pub async fn suppressed(
    store: &Store,
    candidates: &[ContactId],
) -> Result<Suppressed, EngineError> {
    let sync = store.sync();
    let total = sync.count_tombstones().await?;
    if total == 0 || candidates.is_empty() {
        return Ok(Suppressed::default());
    }
    let stones: Vec<Tombstone> = if (candidates.len() as i64) <= total {
        sync.tombstones_for(candidates).await?
    } else {
        let wanted: HashSet<ContactId> = candidates.iter().copied().collect();
        let mut all = Vec::new();
        let mut after = ContactId(0);
        loop {
            let page = sync.tombstones(after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.contact_id;
            all.extend(page.into_iter().filter(|t| wanted.contains(&t.contact_id)));
        }
        all
    };
    with_emails(store, stones).await
}

async fn with_emails(store: &Store, stones: Vec<Tombstone>) -> Result<Suppressed, EngineError> {
    let mut out = Suppressed::default();
    for t in stones {
        match store.contact(t.contact_id).await {
            Ok(c) => {
                out.emails.insert(c.email.to_string(), t.contact_id);
            }
            // The contact was deleted here since: nothing to suppress.
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
        out.tombstones.insert(t.contact_id, t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, master: Option<&str>) -> DeletedRecord {
        DeletedRecord {
            id: id.into(),
            object: SObject::Lead,
            deleted_at: OffsetDateTime::UNIX_EPOCH,
            master_id: master.map(str::to_owned),
        }
    }

    #[test]
    fn merge_chains_resolve_to_the_survivor() {
        let deleted = [
            rec("00Q000000000001AAA", Some("00Q000000000002AAA")),
            rec("00Q000000000002AAA", Some("00Q000000000003AAA")),
            rec("00Q000000000004AAA", Some("00Q000000000005AAA")),
            rec("00Q000000000005AAA", None),
            rec("00Q000000000006AAA", None),
        ];
        let m = final_masters(&deleted);
        assert_eq!(m["00Q000000000001"].as_deref(), Some("00Q000000000003AAA"));
        assert_eq!(m["00Q000000000002"].as_deref(), Some("00Q000000000003AAA"));
        // Merged into a record deleted since: a deletion.
        assert_eq!(m["00Q000000000004"], None);
        assert_eq!(m["00Q000000000006"], None);
    }
}
