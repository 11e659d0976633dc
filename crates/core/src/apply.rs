//! The pure "apply": what both sides and the links become once a plan succeeded.
//!
//! The runtime applies plans to Salesforce and the store for real; this module does the same on
//! in-memory [`Snapshot`]s, for the property tests and for an "after" preview. It also shows, as
//! code, what the planner's input contract asks for ([`Snapshot::incremental_input`]).
//!
//! Invariant: applying only uses the plan (and the ids the caller hands out for new records):
//! the links it stores are exactly those [`PairPlan::link_after`] returns.

use crate::contact::Email;
use crate::model::{ContactId, EMAIL_ATTRIBUTE, OrgRecord, OurContact, SObject, SyncedLink};
use crate::plan::{DuplicateMode, LinkChange, PairPlan, Plan, SyncInput, WriteOp, WrittenValue};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// Hands out ids for the records a plan creates.
pub trait NewIds {
    /// Id of our new contact created from org record `from_org`.
    fn contact_id(&mut self, from_org: &str) -> ContactId;
    /// Id of the new Lead created from our contact `from`.
    fn lead_id(&mut self, from: &ContactId) -> String;
}

/// Both sides and the links, in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub contacts: BTreeMap<ContactId, OurContact>,
    pub records: BTreeMap<String, OrgRecord>,
    /// Keyed by our contact id (a contact has at most one link).
    pub links: BTreeMap<ContactId, SyncedLink>,
}

impl Snapshot {
    /// Everything: the input of a full resync (R-SYNC-5).
    pub fn full_input(&self) -> SyncInput {
        SyncInput {
            contacts: self.contacts.values().cloned().collect(),
            records: self.records.values().cloned().collect(),
            links: self.links.values().cloned().collect(),
        }
    }

    /// The input of an incremental run where `changed_contacts` and `changed_records` changed,
    /// completed as the planner's input contract asks (see [`mod@crate::plan`]); `duplicates` is
    /// the planner's duplicate mode (seed mode needs the duplicates of every changed record).
    pub fn incremental_input(
        &self,
        changed_contacts: &BTreeSet<ContactId>,
        changed_records: &BTreeSet<String>,
        duplicates: DuplicateMode,
    ) -> SyncInput {
        let link_by_org: BTreeMap<&str, &SyncedLink> = self
            .links
            .values()
            .map(|l| (l.org_id.as_str(), l))
            .collect();
        let synced_email = |l: &SyncedLink, ours: bool| {
            let b = l.base.get(EMAIL_ATTRIBUTE)?;
            let v = if ours { &b.ours } else { &b.theirs };
            v.as_deref().and_then(|e| Email::parse(e).ok())
        };
        let mut contacts: BTreeSet<ContactId> = changed_contacts
            .iter()
            .filter(|c| self.contacts.contains_key(*c))
            .cloned()
            .collect();
        let mut records: BTreeSet<String> = changed_records
            .iter()
            .filter(|r| self.records.contains_key(*r))
            .cloned()
            .collect();
        // Grow the set until it is stable (one or two rounds in practice): each rule can bring
        // in records or contacts that another rule then applies to.
        loop {
            let before = (contacts.len(), records.len());
            // The Contact a converted Lead points to.
            let converted: Vec<String> = records
                .iter()
                .filter_map(|r| self.records[r].converted_contact_id.clone())
                .collect();
            records.extend(
                converted
                    .into_iter()
                    .filter(|c| self.records.contains_key(c)),
            );
            // Our contact linked to each record (a local read).
            for id in &records {
                if let Some(l) = link_by_org.get(id.as_str()) {
                    contacts.insert(l.contact_id.clone());
                }
            }
            // Emails whose holders must all be seen: unlinked records and contacts (identity),
            // emails that changed since the last sync (the record moves to another group; its
            // linked record comes along), and in seed mode every email of the input (the
            // duplicates of a record whose values change).
            let mut emails: BTreeSet<Email> = BTreeSet::new();
            for id in &contacts {
                let c = &self.contacts[id];
                let Some(e) = c.normalized_email() else {
                    continue;
                };
                match self.links.get(id) {
                    None => {
                        emails.insert(e);
                    }
                    Some(l) if synced_email(l, true).as_ref() != Some(&e) => {
                        emails.insert(e);
                        if self.records.contains_key(&l.org_id) {
                            records.insert(l.org_id.clone());
                        }
                    }
                    Some(l) if duplicates == DuplicateMode::Seed => {
                        // The linked record's own email too (as last seen): its duplicates get
                        // this contact's changes.
                        emails.insert(e);
                        emails.extend(synced_email(l, false));
                    }
                    Some(_) => {}
                }
            }
            for id in &records {
                let r = &self.records[id];
                let Some(e) = r.normalized_email() else {
                    continue;
                };
                let moved = link_by_org
                    .get(id.as_str())
                    .is_none_or(|l| synced_email(l, false).as_ref() != Some(&e));
                if moved || duplicates == DuplicateMode::Seed {
                    emails.insert(e);
                }
            }
            for r in self.records.values() {
                if r.normalized_email().is_some_and(|e| emails.contains(&e)) {
                    records.insert(r.id.clone());
                }
            }
            for c in self.contacts.values() {
                if c.normalized_email().is_some_and(|e| emails.contains(&e)) {
                    contacts.insert(c.id.clone());
                }
            }
            if (contacts.len(), records.len()) == before {
                break;
            }
        }
        let links = self
            .links
            .values()
            .filter(|l| contacts.contains(&l.contact_id) || records.contains(&l.org_id))
            .cloned()
            .collect();
        SyncInput {
            contacts: contacts.iter().map(|c| self.contacts[c].clone()).collect(),
            records: records.iter().map(|r| self.records[r].clone()).collect(),
            links,
        }
    }

    /// Applies every write of `plan` as if each succeeded at `now`, and stores the links.
    pub fn apply(&mut self, plan: &Plan, ids: &mut impl NewIds, now: OffsetDateTime) {
        for pair in &plan.pairs {
            self.apply_pair(pair, ids, now);
        }
        for group in &plan.duplicate_groups {
            for seed in &group.seed_updates {
                if let Some(r) = self.records.get_mut(&seed.lead_id) {
                    write_record(r, &seed.values, now);
                }
            }
        }
    }

    fn apply_pair(&mut self, pair: &PairPlan, ids: &mut impl NewIds, now: OffsetDateTime) {
        let contact_id = match &pair.contact_id {
            Some(c) => c.clone(),
            None => ids.contact_id(
                pair.org_id
                    .as_deref()
                    .expect("a pair has at least one side"),
            ),
        };
        let org_id = match &pair.org_id {
            Some(o) => o.clone(),
            None => ids.lead_id(&contact_id),
        };
        if let Some(w) = &pair.marketing {
            let c = match w.op {
                WriteOp::Create => {
                    self.contacts
                        .entry(contact_id.clone())
                        .or_insert_with(|| OurContact {
                            id: contact_id.clone(),
                            email: None,
                            values: BTreeMap::new(),
                            changed_at: BTreeMap::new(),
                        })
                }
                WriteOp::Update => self
                    .contacts
                    .get_mut(&contact_id)
                    .expect("updated contact exists"),
            };
            for v in &w.values {
                if v.attribute == EMAIL_ATTRIBUTE {
                    c.email = v.value.clone();
                } else {
                    match &v.value {
                        Some(s) => c.values.insert(v.attribute.clone(), s.clone()),
                        None => c.values.remove(&v.attribute),
                    };
                }
                c.changed_at.insert(v.attribute.clone(), now);
            }
        }
        if let Some(w) = &pair.crm {
            assert_eq!(
                pair.object,
                SObject::Lead,
                "the core never writes to an org Contact"
            );
            let r = match w.op {
                WriteOp::Create => {
                    self.records
                        .entry(org_id.clone())
                        .or_insert_with(|| OrgRecord {
                            id: org_id.clone(),
                            object: SObject::Lead,
                            fields: BTreeMap::new(),
                            last_modified: now,
                            system_modstamp: now,
                            created: now,
                            is_converted: false,
                            converted_contact_id: None,
                        })
                }
                WriteOp::Update => self
                    .records
                    .get_mut(&org_id)
                    .expect("updated record exists"),
            };
            write_record(r, &w.values, now);
        }
        if let LinkChange::FollowConversion { .. } = pair.link {
            self.links.remove(&contact_id);
        }
        let previous = self.links.get(&contact_id);
        let link = pair.link_after(previous, contact_id.clone(), org_id, true, true);
        if let Some(link) = link {
            self.links.insert(contact_id, link);
        }
    }
}

fn write_record(r: &mut OrgRecord, values: &[WrittenValue], now: OffsetDateTime) {
    for v in values {
        match &v.value {
            Some(s) => r.fields.insert(v.field.clone(), s.clone()),
            None => r.fields.remove(&v.field),
        };
    }
    debug_assert!(r.object == SObject::Lead && !r.is_converted);
    r.last_modified = now;
    r.system_modstamp = now;
}
