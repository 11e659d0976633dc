//! The planner: from snapshots of both sides, links and bases to a [`Plan`] (R-SYNC-1..3, R-SYNC-6).
//!
//! Invariants:
//! - pure and deterministic: the same input, in any order, gives the same plan, byte for byte
//!   once serialized;
//! - idempotent: applying a plan and planning again with no new edit gives an empty plan;
//! - nothing is ever written to an org Contact, nor to a converted Lead (R-SYNC-2, R-SYNC-6);
//! - a side "changed" iff its value differs from its base; a change not in conflict always
//!   arrives on the other side when the entry's direction allows it; a conflict is resolved by
//!   the entry's policy and recorded;
//! - every written value carries its provenance (side, run, rule);
//! - work and memory are proportional to the input (the changed records), never to the base.
//!
//! # What the runtime must feed (the input contract)
//! [`SyncInput`] holds only what changed, plus what identity needs:
//! - `contacts`: our changed contacts, **and** our contact linked to each org record in
//!   `records` (a cheap local read);
//! - `records`: the org's changed Leads and Contacts (by `SystemModstamp`), **and** the
//!   Contact a changed converted Lead points to (`ConvertedContactId`), **and** the record
//!   linked to a contact whose email changed since its last sync (read by Id; rare);
//! - every holder of a *sensitive* email, on both sides: the email of an unlinked contact or
//!   record of the input, an email that changed since the last sync (either side), and in
//!   seed mode every email of the input (contacts, records, and the org-side email in the
//!   base of each linked contact). One email lookup per batch on each side
//!   (`WHERE Email IN (…)` on Lead and Contact), so an existing record is never duplicated and
//!   duplicate groups are complete. A linked record whose email did not change needs none.
//!   These rules feed each other: apply them until the input stops growing;
//! - `links`: every link touching a contact or record of the input, with its bases.
//!
//! [`crate::Snapshot::incremental_input`] builds exactly this from in-memory snapshots.
//!
//! A linked org record that did not change may be left out: its base stands in for its values.
//! A field without a base (new link, new mapping entry) is merged only when both sides are in
//! the input; the full resync (R-SYNC-5) puts everything in the input.

use crate::contact::Email;
use crate::mapping::{BlankPolicy, ConflictPolicy, Mapping, MappingEntry};
use crate::model::{
    ContactId, EMAIL_ATTRIBUTE, FieldBase, OrgRecord, OurContact, RunId, SObject, SyncedLink, Value,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use time::OffsetDateTime;

/// A side of the sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Side {
    Marketing,
    Crm,
}

/// How duplicate org records (same email) are resolved (R-SYNC-3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DuplicateMode {
    /// Link the first record (see [`DuplicateGroup`] for the order) and report the group.
    #[default]
    LinkOldest,
    /// As `LinkOldest`, and copy the first record's mapped values onto the other Leads of the
    /// group, as the seed describes ("the second record gets the first's data").
    Seed,
}

/// A field Salesforce requires to create a Lead, with the user's chosen fallback (never a silent
/// placeholder: without a fallback, the contact is skipped with the reason).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredField {
    pub field: String,
    pub fallback: Option<String>,
}

/// Settings of the planner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanConfig {
    pub duplicates: DuplicateMode,
    /// Default: `LastName` and `Company`, no fallback.
    pub lead_required: Vec<RequiredField>,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            duplicates: DuplicateMode::LinkOldest,
            lead_required: ["LastName", "Company"]
                .iter()
                .map(|f| RequiredField {
                    field: f.to_string(),
                    fallback: None,
                })
                .collect(),
        }
    }
}

/// Everything the planner reads. See the module docs for what the runtime must include.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncInput {
    pub contacts: Vec<OurContact>,
    pub records: Vec<OrgRecord>,
    pub links: Vec<SyncedLink>,
}

/// The rule that decided a written value: the answer to "why did this value change?".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Rule {
    /// Only the source side changed since the last sync.
    Propagated,
    /// Both sides changed; the entry's policy picked the source.
    ConflictResolved(ConflictPolicy),
    /// Both sides changed on a one-way field: the direction's source wins.
    DirectionSource,
    /// First sync of this field on this link: the other side was blank, or only one way flows.
    FirstSync,
    /// Value of a newly created record.
    Created,
    /// The user's fallback for a field Salesforce requires on a new Lead.
    RequiredFallback,
    /// Seed-mode duplicate resolution: copied from the group's first record (R-SYNC-3).
    DuplicateSeed,
}

/// Where a written value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Provenance {
    /// The side the value was read from (the fallback of a required field counts as ours).
    pub side: Side,
    pub run: RunId,
    pub rule: Rule,
}

/// One value a plan writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenValue {
    /// Our attribute (the key on our side; `email` is the contact's email).
    pub attribute: String,
    /// The org field (the key on the org side).
    pub field: String,
    pub value: Value,
    pub provenance: Provenance,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteOp {
    Create,
    Update,
}

/// A create or update of one record on one side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordWrite {
    pub op: WriteOp,
    pub values: Vec<WrittenValue>,
}

/// What happens to the link of a pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkChange {
    /// An existing link, kept by Id.
    Unchanged,
    /// A new link between two existing records, matched by email.
    Matched,
    /// A new link to a record this plan creates (on either side).
    Created,
    /// The Lead was converted: the link now points to its Contact (R-SYNC-6).
    FollowConversion { from_lead: String },
}

/// A field changed on both sides since the last sync (or differed at the first sync).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub attribute: String,
    pub field: String,
    pub base: Option<FieldBase>,
    pub ours: Value,
    pub theirs: Value,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ours_changed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub theirs_changed_at: OffsetDateTime,
    pub policy: ConflictPolicy,
    pub winner: Side,
}

/// Everything planned for one contact ↔ org record pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairPlan {
    /// `None`: this plan creates our contact (from the org record).
    pub contact_id: Option<ContactId>,
    /// `None`: this plan creates the Lead (from our contact).
    pub org_id: Option<String>,
    pub object: SObject,
    pub link: LinkChange,
    /// Always a Lead: nothing is ever written to an org Contact.
    pub crm: Option<RecordWrite>,
    pub marketing: Option<RecordWrite>,
    pub conflicts: Vec<Conflict>,
    /// Values that were not propagated, with the reason.
    pub held: Vec<Held>,
    /// The bases this pair changes, in mapping order (unchanged bases are left out).
    pub base_changes: Vec<BaseUpdate>,
}

/// One attribute's base once a pair is applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseUpdate {
    pub attribute: String,
    pub base: FieldBase,
}

impl PairPlan {
    /// The link to store after applying this pair. `previous` is the link as it was (`None`
    /// for a new one; ignored unless the link is [`LinkChange::Unchanged`]); `crm_ok` /
    /// `marketing_ok` tell whether each side's write succeeded (true when there was none).
    /// Fields of a failed update keep their old base, so the next run tries again; a failed
    /// create leaves no link at all (`None`).
    pub fn link_after(
        &self,
        previous: Option<&SyncedLink>,
        contact_id: ContactId,
        org_id: String,
        crm_ok: bool,
        marketing_ok: bool,
    ) -> Option<SyncedLink> {
        let create_failed = |w: &Option<RecordWrite>, ok: bool| {
            w.as_ref().is_some_and(|w| w.op == WriteOp::Create && !ok)
        };
        if create_failed(&self.crm, crm_ok) || create_failed(&self.marketing, marketing_ok) {
            return None;
        }
        let mut base = match (&self.link, previous) {
            (LinkChange::Unchanged, Some(l)) => l.base.clone(),
            _ => BTreeMap::new(),
        };
        let failed = |attr: &str| {
            [(&self.crm, crm_ok), (&self.marketing, marketing_ok)]
                .iter()
                .any(|(w, ok)| {
                    !ok && w
                        .as_ref()
                        .is_some_and(|w| w.values.iter().any(|v| v.attribute == attr))
                })
        };
        for u in &self.base_changes {
            if !failed(&u.attribute) {
                base.insert(u.attribute.clone(), u.base.clone());
            }
        }
        Some(SyncedLink {
            contact_id,
            org_id,
            object: self.object,
            base,
        })
    }
}

/// Why a value was not propagated although the merge picked it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum HoldReason {
    #[error("a blank never erases this field (never blank out)")]
    NeverBlankOut,
    #[error("the org's email is blank or invalid: our contact keeps its email (R-SYNC-1)")]
    InvalidEmail,
    #[error("another contact here ({contact_id}) already has this email")]
    EmailTakenHere { contact_id: ContactId },
}

/// One value held back, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub attribute: String,
    pub reason: HoldReason,
}

/// Why a record is not synced.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, thiserror::Error,
)]
pub enum SkipReason {
    #[error("no email: a record without email is never synced (R-SYNC-1)")]
    NoEmail,
    #[error("`{0}` is not a valid email (R-SYNC-1)")]
    InvalidEmail(String),
    #[error("Contact not flagged sync_to_plezi = yes (R-FIELD-2)")]
    ContactNotFlagged,
    #[error("converted Lead: its Contact stands for it (R-SYNC-6)")]
    ConvertedLead { contact_id: Option<String> },
    #[error("converted Lead whose Contact {contact_id} is already linked to contact {linked_to}")]
    ConvertedContactLinkedElsewhere {
        contact_id: String,
        linked_to: ContactId,
    },
    #[error("another contact here has the same email ({kept} is synced)")]
    DuplicateEmailHere { kept: ContactId },
    #[error("duplicate of {primary} in the org (same email, R-SYNC-3)")]
    DuplicateInOrg { primary: String },
    #[error("the email belongs to org record {org_id}, already linked to contact {contact_id}")]
    EmailLinkedElsewhere {
        org_id: String,
        contact_id: ContactId,
    },
    #[error(
        "the email is an org Contact ({org_id}) not flagged for sync: no Lead is created for it"
    )]
    EmailIsUnflaggedContact { org_id: String },
    #[error("Salesforce requires {field} to create a Lead, and it is blank with no fallback set")]
    MissingRequiredField { field: String },
    #[error("contact {contact_id} here already has this email")]
    EmailTakenHere { contact_id: ContactId },
    #[error("the input holds a second link for this record ({other})")]
    ConflictingLink { other: String },
}

impl SkipReason {
    /// A stable identifier of the reason (snake_case): what a translation or a machine reader
    /// keys on, since the English text (`Display`) may be reworded.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::NoEmail => "no_email",
            SkipReason::InvalidEmail(_) => "invalid_email",
            SkipReason::ContactNotFlagged => "contact_not_flagged",
            SkipReason::ConvertedLead { .. } => "converted_lead",
            SkipReason::ConvertedContactLinkedElsewhere { .. } => {
                "converted_contact_linked_elsewhere"
            }
            SkipReason::DuplicateEmailHere { .. } => "duplicate_email_here",
            SkipReason::DuplicateInOrg { .. } => "duplicate_in_org",
            SkipReason::EmailLinkedElsewhere { .. } => "email_linked_elsewhere",
            SkipReason::EmailIsUnflaggedContact { .. } => "email_is_unflagged_contact",
            SkipReason::MissingRequiredField { .. } => "missing_required_field",
            SkipReason::EmailTakenHere { .. } => "email_taken_here",
            SkipReason::ConflictingLink { .. } => "conflicting_link",
        }
    }
}

/// One record left out, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    pub side: Side,
    /// Our contact id or the org record's Id.
    pub id: String,
    pub object: Option<SObject>,
    pub reason: SkipReason,
}

/// One member of a duplicate group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub id: String,
    pub object: SObject,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub linked_to: Option<ContactId>,
}

/// Seed mode: values copied from the first record onto another Lead of the group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedUpdate {
    pub lead_id: String,
    pub values: Vec<WrittenValue>,
}

/// Org records sharing one email (R-SYNC-3), in the deterministic order: the record already
/// linked first, then Contacts before Leads (sales owns Contacts), then `CreatedDate`, then
/// `Id`. The first member is the one we link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateGroup {
    pub email: Email,
    pub members: Vec<GroupMember>,
    pub primary: String,
    pub mode: DuplicateMode,
    pub seed_updates: Vec<SeedUpdate>,
}

/// Counts for the run record and the preview (R-SYNC-7).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub crm_creates: usize,
    pub crm_updates: usize,
    pub marketing_creates: usize,
    pub marketing_updates: usize,
    pub links_matched: usize,
    pub links_followed: usize,
    pub conflicts: usize,
    pub skipped: usize,
    pub duplicate_groups: usize,
    pub seed_updates: usize,
    /// Values that a write clears (blank over a value): "K blanked" in the dry-run preview.
    pub crm_values_blanked: usize,
    pub marketing_values_blanked: usize,
}

/// What a sync will do: the dry-run preview, and the runtime's work order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub run: RunId,
    /// [`Mapping::hash`] of the mapping planned with (R-SYNC-5).
    pub mapping_hash: String,
    /// Sorted by (contact id, org id); pairs with nothing to do are left out.
    pub pairs: Vec<PairPlan>,
    pub skips: Vec<Skip>,
    pub duplicate_groups: Vec<DuplicateGroup>,
}

impl Plan {
    /// Nothing to write and no base or link to change (skips and groups are reports, not work).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
            && self
                .duplicate_groups
                .iter()
                .all(|g| g.seed_updates.is_empty())
    }

    /// Nothing to send to either side (the plan may still record bases, links or reports).
    pub fn writes_nothing(&self) -> bool {
        self.pairs
            .iter()
            .all(|p| p.crm.is_none() && p.marketing.is_none())
            && self
                .duplicate_groups
                .iter()
                .all(|g| g.seed_updates.is_empty())
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            skipped: self.skips.len(),
            duplicate_groups: self.duplicate_groups.len(),
            ..Summary::default()
        };
        for p in &self.pairs {
            match p.crm.as_ref().map(|w| w.op) {
                Some(WriteOp::Create) => s.crm_creates += 1,
                Some(WriteOp::Update) => s.crm_updates += 1,
                None => {}
            }
            match p.marketing.as_ref().map(|w| w.op) {
                Some(WriteOp::Create) => s.marketing_creates += 1,
                Some(WriteOp::Update) => s.marketing_updates += 1,
                None => {}
            }
            match p.link {
                LinkChange::Matched => s.links_matched += 1,
                LinkChange::FollowConversion { .. } => s.links_followed += 1,
                _ => {}
            }
            s.conflicts += p.conflicts.len();
            let blanks = |w: &Option<RecordWrite>| {
                w.iter()
                    .flat_map(|w| &w.values)
                    .filter(|v| v.value.is_none())
                    .count()
            };
            s.crm_values_blanked += blanks(&p.crm);
            s.marketing_values_blanked += blanks(&p.marketing);
        }
        s.seed_updates = self
            .duplicate_groups
            .iter()
            .map(|g| g.seed_updates.len())
            .sum();
        s
    }
}

struct Ctx<'a> {
    mapping: &'a Mapping,
    config: &'a PlanConfig,
    run: &'a RunId,
    /// Active entries of Lead and Contact with their fingerprints, computed once per plan.
    lead: Vec<(&'a MappingEntry, u32)>,
    contact: Vec<(&'a MappingEntry, u32)>,
}

impl<'a> Ctx<'a> {
    fn new(mapping: &'a Mapping, config: &'a PlanConfig, run: &'a RunId) -> Self {
        let entries = |o| {
            mapping
                .active_entries(o)
                .map(|e| (e, e.fingerprint()))
                .collect()
        };
        Ctx {
            mapping,
            config,
            run,
            lead: entries(SObject::Lead),
            contact: entries(SObject::Contact),
        }
    }

    fn entries(&self, object: SObject) -> &[(&'a MappingEntry, u32)] {
        match object {
            SObject::Lead => &self.lead,
            SObject::Contact => &self.contact,
        }
    }

    fn prov(&self, side: Side, rule: Rule) -> Provenance {
        Provenance {
            side,
            run: self.run.clone(),
            rule,
        }
    }
}

/// Plans one sync run. See the module docs for the input contract.
pub fn plan(mapping: &Mapping, config: &PlanConfig, input: &SyncInput, run: &RunId) -> Plan {
    let ctx = Ctx::new(mapping, config, run);
    let mut pairs = Vec::new();
    let mut skips = Vec::new();
    let mut groups: Vec<DuplicateGroup> = Vec::new();
    // Seed mode: (group index, first record, Leads to copy onto), resolved once every pair is
    // planned so the copies carry the first record's values *after* this plan.
    let mut seeds: Vec<(usize, &OrgRecord, Vec<&OrgRecord>)> = Vec::new();

    let contacts: FastMap<&ContactId, &OurContact> =
        input.contacts.iter().map(|c| (&c.id, c)).collect();
    let records: FastMap<&str, &OrgRecord> =
        input.records.iter().map(|r| (r.id.as_str(), r)).collect();

    // Links: a second link for the same contact or record is inconsistent input, reported and
    // ignored; which one wins is decided in a canonical order (only contested links are sorted).
    let mut per_contact: FastMap<&ContactId, u32> =
        FastMap::with_capacity_and_hasher(input.links.len(), Default::default());
    let mut per_org: FastMap<&str, u32> =
        FastMap::with_capacity_and_hasher(input.links.len(), Default::default());
    for l in &input.links {
        *per_contact.entry(&l.contact_id).or_default() += 1;
        *per_org.entry(l.org_id.as_str()).or_default() += 1;
    }
    let mut by_contact: FastMap<&ContactId, &SyncedLink> =
        FastMap::with_capacity_and_hasher(input.links.len(), Default::default());
    let mut by_org: FastMap<&str, &SyncedLink> =
        FastMap::with_capacity_and_hasher(input.links.len(), Default::default());
    let mut contested: Vec<&SyncedLink> = Vec::new();
    for l in &input.links {
        if per_contact[&l.contact_id] == 1 && per_org[l.org_id.as_str()] == 1 {
            by_contact.insert(&l.contact_id, l);
            by_org.insert(&l.org_id, l);
        } else {
            contested.push(l);
        }
    }
    contested.sort_by(|a, b| (&a.contact_id, &a.org_id).cmp(&(&b.contact_id, &b.org_id)));
    for l in contested {
        if let Some(other) = by_contact
            .get(&l.contact_id)
            .or_else(|| by_org.get(l.org_id.as_str()))
        {
            let other = format!("{} ↔ {}", other.contact_id, other.org_id);
            skips.push(Skip {
                side: Side::Crm,
                id: l.org_id.clone(),
                object: Some(l.object),
                reason: SkipReason::ConflictingLink { other },
            });
            continue;
        }
        by_contact.insert(&l.contact_id, l);
        by_org.insert(&l.org_id, l);
    }

    // Org record id → the contact it is linked to (or becomes linked to by a conversion).
    let mut linked_org: FastMap<&str, &ContactId> =
        by_org.iter().map(|(k, l)| (*k, &l.contact_id)).collect();
    let empty = BTreeMap::new();

    // 1. Linked pairs whose contact or record is in the input.
    let active: Vec<&SyncedLink> = by_contact
        .values()
        .filter(|l| contacts.contains_key(&l.contact_id) || records.contains_key(l.org_id.as_str()))
        .copied()
        .collect();
    // Conversions are settled after the rest, in contact order: two converted Leads may point
    // to one Contact, and the first claims it.
    let mut conversions: Vec<(&SyncedLink, Option<&OurContact>, &OrgRecord)> = Vec::new();
    for link in active {
        let c = contacts.get(&link.contact_id).copied();
        let r = records.get(link.org_id.as_str()).copied();
        if let Some(c) = c
            && let Err(reason) = email_check(c.email.as_deref())
        {
            skips.push(Skip {
                side: Side::Marketing,
                id: c.id.0.clone(),
                object: None,
                reason,
            });
            continue;
        }
        if let Some(r) = r {
            if r.object == SObject::Lead && r.is_converted {
                conversions.push((link, c, r));
                continue;
            }
            // A linked record whose email was blanked or broken in the org keeps syncing by Id:
            // R-SYNC-1 keeps it from being *matched*, and the merge holds its email back
            // (`HoldReason::InvalidEmail`) so our contact keeps a valid one. Skipping it would
            // lose what we saw, and the next incremental run would decide on stale bases.
            if !r.is_flagged_for_sync() {
                // The flag went to no: the Contact stops flowing, nothing is deleted (R-FIELD-2).
                skips.push(skip_record(r, SkipReason::ContactNotFlagged));
                continue;
            }
        }
        let can_crm = link.object == SObject::Lead;
        let p = merge_pair(&ctx, c, r, link.object, &link.base, can_crm, true);
        if !p.is_empty() {
            let org_id = Some(link.org_id.clone());
            pairs.push(p.into_plan(Some(link.contact_id.clone()), org_id, LinkChange::Unchanged));
        }
    }

    conversions.sort_by(|a, b| a.0.contact_id.cmp(&b.0.contact_id));
    for (link, c, r) in conversions {
        let Some(cid) = r.converted_contact_id.as_deref() else {
            skips.push(skip_record(
                r,
                SkipReason::ConvertedLead { contact_id: None },
            ));
            continue;
        };
        if let Some(other) = linked_org.get(cid)
            && **other != link.contact_id
        {
            let reason = SkipReason::ConvertedContactLinkedElsewhere {
                contact_id: cid.to_string(),
                linked_to: (*other).clone(),
            };
            skips.push(skip_record(r, reason));
            continue;
        }
        linked_org.insert(cid, &link.contact_id);
        let cr = records.get(cid).copied();
        let can_ours = cr.is_some_and(OrgRecord::is_flagged_for_sync);
        let link_change = LinkChange::FollowConversion {
            from_lead: r.id.clone(),
        };
        let p = merge_pair(&ctx, c, cr, SObject::Contact, &empty, false, can_ours);
        pairs.push(p.into_plan(
            Some(link.contact_id.clone()),
            Some(cid.to_string()),
            link_change,
        ));
    }

    // Emails flowing here from linked records must not give two contacts one email.
    let mut owners = resolve_email_moves(&mut pairs, &contacts, &input.contacts);

    // 2. Unlinked records of both sides, grouped by email.
    #[derive(Default)]
    struct Group<'a> {
        ours: Vec<&'a OurContact>,
        org: Vec<&'a OrgRecord>,
    }
    let mut by_email: FastMap<Email, Group> = FastMap::default();
    for c in &input.contacts {
        if by_contact.contains_key(&c.id) {
            continue;
        }
        match email_check(c.email.as_deref()) {
            Ok(e) => by_email.entry(e).or_default().ours.push(c),
            Err(reason) => skips.push(Skip {
                side: Side::Marketing,
                id: c.id.0.clone(),
                object: None,
                reason,
            }),
        }
    }
    let planned_org_email: FastMap<&str, Value> = pairs
        .iter()
        .filter_map(|p| {
            let v = p
                .crm
                .as_ref()?
                .values
                .iter()
                .find(|v| v.attribute == EMAIL_ATTRIBUTE)?;
            Some((p.org_id.as_deref()?, v.value.clone()))
        })
        .collect();
    for r in &input.records {
        let linked = linked_org.contains_key(r.id.as_str());
        if r.object == SObject::Lead && r.is_converted {
            if !linked {
                skips.push(skip_record(
                    r,
                    SkipReason::ConvertedLead {
                        contact_id: r.converted_contact_id.clone(),
                    },
                ));
            }
            continue;
        }
        // A linked Lead whose email this plan changes is grouped under its new email.
        let email = match planned_org_email.get(r.id.as_str()) {
            Some(v) => v.as_deref(),
            None => r.fields.get(crate::model::EMAIL_FIELD).map(String::as_str),
        };
        match email_check(email) {
            Ok(e) => by_email.entry(e).or_default().org.push(r),
            Err(reason) if !linked => skips.push(skip_record(r, reason)),
            Err(_) => {}
        }
    }
    // Only groups with something to decide, in email order.
    let mut groups_todo: Vec<(Email, Group)> = by_email
        .into_iter()
        .filter(|(_, g)| {
            !g.ours.is_empty()
                || g.org.len() > 1
                || g.org
                    .iter()
                    .any(|r| !linked_org.contains_key(r.id.as_str()))
        })
        .collect();
    groups_todo.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (email, mut g) in groups_todo {
        g.ours.sort_by(|a, b| a.id.cmp(&b.id));
        let linked_to = |r: &OrgRecord| linked_org.get(r.id.as_str()).map(|c| (*c).clone());
        let (mut importable, mut blockers): (Vec<&OrgRecord>, Vec<&OrgRecord>) =
            g.org.iter().copied().partition(|r| r.is_flagged_for_sync());
        blockers.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        importable.sort_by(|a, b| {
            let key = |r: &OrgRecord| {
                (
                    linked_to(r).is_none(),
                    r.object == SObject::Lead,
                    r.created,
                    r.id.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        let primary = importable.first().copied();
        if importable.len() > 1 {
            let p = primary.expect("non-empty");
            let mut seed_targets = Vec::new();
            for r in &importable[1..] {
                let unlinked = linked_to(r).is_none();
                if unlinked {
                    skips.push(skip_record(
                        r,
                        SkipReason::DuplicateInOrg {
                            primary: p.id.clone(),
                        },
                    ));
                }
                if ctx.config.duplicates == DuplicateMode::Seed
                    && unlinked
                    && r.object == SObject::Lead
                {
                    seed_targets.push(*r);
                }
            }
            groups.push(DuplicateGroup {
                email: email.clone(),
                members: importable
                    .iter()
                    .map(|r| GroupMember {
                        id: r.id.clone(),
                        object: r.object,
                        created: r.created,
                        linked_to: linked_to(r),
                    })
                    .collect(),
                primary: p.id.clone(),
                mode: ctx.config.duplicates,
                seed_updates: Vec::new(),
            });
            if !seed_targets.is_empty() {
                seeds.push((groups.len() - 1, p, seed_targets));
            }
        }
        for extra in g.ours.iter().skip(1) {
            let reason = SkipReason::DuplicateEmailHere {
                kept: g.ours[0].id.clone(),
            };
            skips.push(Skip {
                side: Side::Marketing,
                id: extra.id.0.clone(),
                object: None,
                reason,
            });
        }
        let unflagged_unlinked: Vec<&OrgRecord> = blockers
            .iter()
            .copied()
            .filter(|r| linked_to(r).is_none())
            .collect();
        let mut blocker_used = false;
        match (g.ours.first().copied(), primary) {
            (Some(x), Some(p)) => match linked_to(p) {
                Some(other) => {
                    let reason = SkipReason::EmailLinkedElsewhere {
                        org_id: p.id.clone(),
                        contact_id: other,
                    };
                    skips.push(Skip {
                        side: Side::Marketing,
                        id: x.id.0.clone(),
                        object: None,
                        reason,
                    });
                }
                None => {
                    let merged = merge_pair(
                        &ctx,
                        Some(x),
                        Some(p),
                        p.object,
                        &empty,
                        p.object == SObject::Lead,
                        true,
                    );
                    pairs.push(merged.into_plan(
                        Some(x.id.clone()),
                        Some(p.id.clone()),
                        LinkChange::Matched,
                    ));
                }
            },
            (Some(x), None) => {
                if let Some(b) = unflagged_unlinked.first().or(blockers.first()) {
                    // An email that is an org Contact never spawns a new Lead.
                    blocker_used = true;
                    let reason = SkipReason::EmailIsUnflaggedContact {
                        org_id: b.id.clone(),
                    };
                    skips.push(Skip {
                        side: Side::Marketing,
                        id: x.id.0.clone(),
                        object: None,
                        reason,
                    });
                } else {
                    match create_lead(&ctx, x) {
                        Ok(p) => pairs.push(p),
                        Err(reason) => skips.push(Skip {
                            side: Side::Marketing,
                            id: x.id.0.clone(),
                            object: None,
                            reason,
                        }),
                    }
                }
            }
            (None, Some(p)) if linked_to(p).is_none() => {
                let owners = owners.get_or_insert_with(|| current_owners(&input.contacts));
                let taken = owners.get(&email).cloned();
                if taken.is_none() {
                    owners.insert(email.clone(), ContactId(format!("(new from {})", p.id)));
                }
                match taken {
                    // A contact here (linked to another record) has, or is about to get, this email.
                    Some(contact_id) => {
                        skips.push(skip_record(p, SkipReason::EmailTakenHere { contact_id }))
                    }
                    None => pairs.push(create_contact(&ctx, p)),
                }
            }
            _ => {}
        }
        if !blocker_used {
            for b in unflagged_unlinked {
                skips.push(skip_record(b, SkipReason::ContactNotFlagged));
            }
        }
    }

    let planned_crm: FastMap<&str, &[WrittenValue]> = pairs
        .iter()
        .filter_map(|p| Some((p.org_id.as_deref()?, p.crm.as_ref()?.values.as_slice())))
        .collect();
    for (gi, primary, targets) in seeds {
        let after = planned_crm
            .get(primary.id.as_str())
            .copied()
            .unwrap_or_default();
        for r in targets {
            let values = seed_values(&ctx, primary, after, r);
            if !values.is_empty() {
                groups[gi].seed_updates.push(SeedUpdate {
                    lead_id: r.id.clone(),
                    values,
                });
            }
        }
    }

    // Keys are unique: a pair has its contact or its record, never shared with another pair.
    pairs.sort_unstable_by(|a, b| (&a.contact_id, &a.org_id).cmp(&(&b.contact_id, &b.org_id)));
    skips.sort_unstable_by(|a, b| {
        (a.side, &a.id, a.object, &a.reason).cmp(&(b.side, &b.id, b.object, &b.reason))
    });
    skips.dedup();
    Plan {
        run: run.clone(),
        mapping_hash: mapping.hash(),
        pairs,
        skips,
        duplicate_groups: groups,
    }
}

fn skip_record(r: &OrgRecord, reason: SkipReason) -> Skip {
    Skip {
        side: Side::Crm,
        id: r.id.clone(),
        object: Some(r.object),
        reason,
    }
}

fn email_check(raw: Option<&str>) -> Result<Email, SkipReason> {
    match raw.map(str::trim) {
        None | Some("") => Err(SkipReason::NoEmail),
        Some(s) => Email::parse(s).map_err(|_| SkipReason::InvalidEmail(s.to_string())),
    }
}

/// Equality as the sync sees it: emails compare normalized (trimmed, case-insensitive, as
/// [`Email::parse`] does), everything else exactly.
fn same(attribute: &str, a: Option<&str>, b: Option<&str>) -> bool {
    if attribute == EMAIL_ATTRIBUTE {
        fn norm(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|s| !s.is_empty())
        }
        return match (norm(a), norm(b)) {
            (Some(a), Some(b)) if a.is_ascii() && b.is_ascii() => a.eq_ignore_ascii_case(b),
            (Some(a), Some(b)) => a
                .chars()
                .flat_map(char::to_lowercase)
                .eq(b.chars().flat_map(char::to_lowercase)),
            (a, b) => a == b,
        };
    }
    a == b
}

/// The work of one pair before it becomes a [`PairPlan`].
struct PairWork {
    object: SObject,
    crm: Vec<WrittenValue>,
    ours: Vec<WrittenValue>,
    conflicts: Vec<Conflict>,
    held: Vec<Held>,
    base_changes: Vec<BaseUpdate>,
}

impl PairWork {
    fn new(object: SObject) -> Self {
        PairWork {
            object,
            crm: Vec::new(),
            ours: Vec::new(),
            conflicts: Vec::new(),
            held: Vec::new(),
            base_changes: Vec::new(),
        }
    }

    /// Records the base of `attr` after this pair, unless it stays as it was.
    fn set_base(
        &mut self,
        attr: &str,
        before: Option<&FieldBase>,
        ours: Option<&str>,
        theirs: Option<&str>,
        entry: u32,
    ) {
        if before.is_some_and(|b| {
            b.entry == entry && b.ours.as_deref() == ours && b.theirs.as_deref() == theirs
        }) {
            return;
        }
        let base = FieldBase {
            ours: ours.map(str::to_string),
            theirs: theirs.map(str::to_string),
            entry,
        };
        match self.base_changes.iter_mut().find(|u| u.attribute == attr) {
            Some(u) => u.base = base,
            None => self.base_changes.push(BaseUpdate {
                attribute: attr.to_string(),
                base,
            }),
        }
    }

    fn is_empty(&self) -> bool {
        self.crm.is_empty()
            && self.ours.is_empty()
            && self.conflicts.is_empty()
            && self.held.is_empty()
            && self.base_changes.is_empty()
    }

    fn into_plan(
        self,
        contact_id: Option<ContactId>,
        org_id: Option<String>,
        link: LinkChange,
    ) -> PairPlan {
        let op = |v: Vec<WrittenValue>, create: bool| {
            let op = if create {
                WriteOp::Create
            } else {
                WriteOp::Update
            };
            (!v.is_empty() || create).then_some(RecordWrite { op, values: v })
        };
        PairPlan {
            object: self.object,
            crm: op(self.crm, org_id.is_none()),
            marketing: op(self.ours, contact_id.is_none()),
            contact_id,
            org_id,
            link,
            conflicts: self.conflicts,
            held: self.held,
            base_changes: self.base_changes,
        }
    }
}

/// Where a field's winning value goes.
enum Winner {
    Ours(Rule),
    Theirs(Rule),
}

/// Three-way merge of every active entry of `object` for one pair. Values are borrowed from
/// the input and only copied into what the plan keeps (writes, changed bases).
fn merge_pair(
    ctx: &Ctx,
    contact: Option<&OurContact>,
    record: Option<&OrgRecord>,
    object: SObject,
    base: &BTreeMap<String, FieldBase>,
    can_crm: bool,
    can_ours: bool,
) -> PairWork {
    let mut w = PairWork::new(object);
    for &(e, fp) in ctx.entries(object) {
        let attr = e.attribute.as_str();
        let stored = base.get(attr);
        let ours: Option<&str> = match (contact, stored) {
            (Some(c), _) => c.value_ref(attr),
            (None, Some(b)) => b.ours.as_deref(),
            (None, None) => continue,
        };
        let theirs: Option<&str> = match (record, stored) {
            (Some(r), _) => r.value_ref(&e.field),
            (None, Some(b)) => b.theirs.as_deref(),
            (None, None) => continue,
        };
        let dir = e.effective_direction();
        let to_crm = dir.to_crm() && can_crm;
        let to_ours = dir.to_marketing() && can_ours;
        let ours_as_crm = e.to_crm_ref(ours);
        let in_sync = same(attr, ours_as_crm.as_deref(), theirs);
        // Change times matter only in a conflict: read them then.
        let times = || {
            (
                contact.and_then(|c| c.changed_at.get(attr).copied()),
                record.map(|r| r.last_modified),
            )
        };
        // A base synced under another entry (field, direction or value map changed, R-SYNC-5)
        // still tells which side was edited since; when neither was, the old direction may be
        // why the sides differ, so the first-sync rules decide again.
        let b = stored.filter(|b| {
            b.entry == fp
                || !same(attr, ours, b.ours.as_deref())
                || !same(attr, theirs, b.theirs.as_deref())
        });

        let winner = match b {
            Some(b) => {
                let oc = !same(attr, ours, b.ours.as_deref());
                let tc = !same(attr, theirs, b.theirs.as_deref());
                if !oc && !tc {
                    continue;
                }
                if in_sync {
                    w.set_base(attr, stored, ours, theirs, fp);
                    continue;
                }
                match (oc, tc) {
                    (true, false) if to_crm => Winner::Ours(Rule::Propagated),
                    (false, true) if to_ours => Winner::Theirs(Rule::Propagated),
                    (true, true) if to_crm && to_ours => {
                        let (ours_time, theirs_time) = times();
                        let winner = resolve(e.conflict, ours_time, theirs_time);
                        w.conflicts.push(conflict(
                            e,
                            Some(b),
                            ours,
                            theirs,
                            ours_time,
                            theirs_time,
                            winner,
                        ));
                        pick(winner, Rule::ConflictResolved(e.conflict))
                    }
                    (true, true) if to_crm => Winner::Ours(Rule::DirectionSource),
                    (true, true) if to_ours => Winner::Theirs(Rule::DirectionSource),
                    _ => {
                        // The change may not flow (direction, Contact, converted Lead). An org
                        // change is recorded as seen, so a later run that does not re-read this
                        // record (its base standing in for it) decides on what the org really
                        // holds. Ours needs no such care: our contacts are always re-read.
                        if tc {
                            w.set_base(attr, stored, b.ours.as_deref(), theirs, fp);
                        }
                        continue;
                    }
                }
            }
            None => {
                if in_sync {
                    w.set_base(attr, stored, ours, theirs, fp);
                    continue;
                }
                // First sync of this field on this link: a blank never erases a value here,
                // whatever the blank rule, so linking two existing records loses no data.
                if to_crm && to_ours {
                    if ours.is_none() {
                        Winner::Theirs(Rule::FirstSync)
                    } else if theirs.is_none() {
                        Winner::Ours(Rule::FirstSync)
                    } else {
                        let (ours_time, theirs_time) = times();
                        let winner = resolve(e.conflict, ours_time, theirs_time);
                        w.conflicts.push(conflict(
                            e,
                            None,
                            ours,
                            theirs,
                            ours_time,
                            theirs_time,
                            winner,
                        ));
                        pick(winner, Rule::ConflictResolved(e.conflict))
                    }
                } else if to_crm && ours.is_some() {
                    Winner::Ours(Rule::FirstSync)
                } else if to_ours && theirs.is_some() {
                    Winner::Theirs(Rule::FirstSync)
                } else if to_crm || to_ours {
                    // Only a blank could flow: record what both sides hold as the base.
                    w.set_base(attr, stored, ours, theirs, fp);
                    continue;
                } else {
                    continue;
                }
            }
        };
        match winner {
            Winner::Ours(rule) => {
                if ours_as_crm.is_none()
                    && theirs.is_some()
                    && e.blanks == BlankPolicy::NeverBlankOut
                {
                    w.held.push(Held {
                        attribute: attr.to_string(),
                        reason: HoldReason::NeverBlankOut,
                    });
                    w.set_base(attr, stored, ours, theirs, fp);
                    continue;
                }
                let mut value: Value = ours_as_crm.map(Cow::into_owned);
                if attr == EMAIL_ATTRIBUTE {
                    // The org gets the normalized email, as our store keeps it.
                    value = value.map(|v| Email::parse(&v).map_or(v, String::from));
                }
                w.set_base(attr, stored, ours, value.as_deref(), fp);
                w.crm.push(WrittenValue {
                    attribute: attr.to_string(),
                    field: e.field.clone(),
                    value,
                    provenance: ctx.prov(Side::Marketing, rule),
                });
            }
            Winner::Theirs(rule) => {
                let mut value: Option<Cow<str>> = e.to_marketing_ref(theirs);
                if attr == EMAIL_ATTRIBUTE {
                    value = value
                        .and_then(|v| Email::parse(&v).ok())
                        .map(|e| Cow::Owned(String::from(e)));
                }
                let hold = if value.is_none() && ours.is_some() && attr == EMAIL_ATTRIBUTE {
                    Some(HoldReason::InvalidEmail)
                } else if value.is_none()
                    && ours.is_some()
                    && e.blanks == BlankPolicy::NeverBlankOut
                {
                    Some(HoldReason::NeverBlankOut)
                } else {
                    None
                };
                if let Some(reason) = hold {
                    w.held.push(Held {
                        attribute: attr.to_string(),
                        reason,
                    });
                    w.set_base(attr, stored, ours, theirs, fp);
                    continue;
                }
                let value: Value = value.map(Cow::into_owned);
                w.set_base(attr, stored, value.as_deref(), theirs, fp);
                w.ours.push(WrittenValue {
                    attribute: attr.to_string(),
                    field: e.field.clone(),
                    value,
                    provenance: ctx.prov(Side::Crm, rule),
                });
            }
        }
    }
    w
}

fn resolve(
    policy: ConflictPolicy,
    ours: Option<OffsetDateTime>,
    theirs: Option<OffsetDateTime>,
) -> Side {
    match policy {
        ConflictPolicy::CrmWins => Side::Crm,
        ConflictPolicy::MarketingWins => Side::Marketing,
        ConflictPolicy::MostRecent => match (ours, theirs) {
            (Some(o), Some(t)) if o > t => Side::Marketing,
            (Some(_), None) => Side::Marketing,
            _ => Side::Crm,
        },
    }
}

fn pick(side: Side, rule: Rule) -> Winner {
    match side {
        Side::Marketing => Winner::Ours(rule),
        Side::Crm => Winner::Theirs(rule),
    }
}

fn conflict(
    e: &MappingEntry,
    base: Option<&FieldBase>,
    ours: Option<&str>,
    theirs: Option<&str>,
    ours_changed_at: Option<OffsetDateTime>,
    theirs_changed_at: Option<OffsetDateTime>,
    winner: Side,
) -> Conflict {
    Conflict {
        attribute: e.attribute.clone(),
        field: e.field.clone(),
        base: base.cloned(),
        ours: ours.map(str::to_string),
        theirs: theirs.map(str::to_string),
        ours_changed_at,
        theirs_changed_at: theirs_changed_at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
        policy: e.conflict,
        winner,
    }
}

/// A new Lead from one of our contacts.
fn create_lead(ctx: &Ctx, x: &OurContact) -> Result<PairPlan, SkipReason> {
    let mut values = Vec::new();
    let mut base = Vec::new();
    for &(e, fp) in ctx.entries(SObject::Lead) {
        let ours = x.value(&e.attribute);
        let mut theirs = None;
        if e.effective_direction().to_crm() {
            theirs = e.to_crm(&ours);
            if e.attribute == EMAIL_ATTRIBUTE {
                theirs = theirs.map(|v| Email::parse(&v).map_or(v, String::from));
            }
            if theirs.is_some() {
                let prov = ctx.prov(Side::Marketing, Rule::Created);
                values.push(WrittenValue {
                    attribute: e.attribute.clone(),
                    field: e.field.clone(),
                    value: theirs.clone(),
                    provenance: prov,
                });
            }
        }
        let base_entry = FieldBase {
            ours,
            theirs,
            entry: fp,
        };
        base.push(BaseUpdate {
            attribute: e.attribute.clone(),
            base: base_entry,
        });
    }
    for req in &ctx.config.lead_required {
        if values
            .iter()
            .any(|v| v.field.eq_ignore_ascii_case(&req.field))
        {
            continue;
        }
        let Some(fallback) = &req.fallback else {
            return Err(SkipReason::MissingRequiredField {
                field: req.field.clone(),
            });
        };
        let entry = ctx
            .mapping
            .active_entries(SObject::Lead)
            .find(|e| e.field.eq_ignore_ascii_case(&req.field));
        let attribute = entry.map_or_else(|| req.field.clone(), |e| e.attribute.clone());
        let value = Some(fallback.clone());
        if let Some(u) = base.iter_mut().find(|u| u.attribute == attribute) {
            u.base.theirs = value.clone();
        }
        let prov = ctx.prov(Side::Marketing, Rule::RequiredFallback);
        values.push(WrittenValue {
            attribute,
            field: req.field.clone(),
            value,
            provenance: prov,
        });
    }
    Ok(PairPlan {
        contact_id: Some(x.id.clone()),
        org_id: None,
        object: SObject::Lead,
        link: LinkChange::Created,
        crm: Some(RecordWrite {
            op: WriteOp::Create,
            values,
        }),
        marketing: None,
        conflicts: Vec::new(),
        held: Vec::new(),
        base_changes: base,
    })
}

/// A new contact of ours from an org Lead or flagged Contact.
fn create_contact(ctx: &Ctx, r: &OrgRecord) -> PairPlan {
    let mut values = Vec::new();
    let mut base = Vec::new();
    for &(e, fp) in ctx.entries(r.object) {
        let theirs = r.value(&e.field);
        let mut ours = None;
        if e.effective_direction().to_marketing() {
            ours = e.to_marketing(&theirs);
            if e.attribute == EMAIL_ATTRIBUTE {
                ours = ours.and_then(|v| Email::parse(&v).ok()).map(String::from);
            }
            if ours.is_some() {
                let prov = ctx.prov(Side::Crm, Rule::Created);
                values.push(WrittenValue {
                    attribute: e.attribute.clone(),
                    field: e.field.clone(),
                    value: ours.clone(),
                    provenance: prov,
                });
            }
        }
        let base_entry = FieldBase {
            ours,
            theirs,
            entry: fp,
        };
        base.push(BaseUpdate {
            attribute: e.attribute.clone(),
            base: base_entry,
        });
    }
    PairPlan {
        contact_id: None,
        org_id: Some(r.id.clone()),
        object: r.object,
        link: LinkChange::Created,
        crm: None,
        marketing: Some(RecordWrite {
            op: WriteOp::Create,
            values,
        }),
        conflicts: Vec::new(),
        held: Vec::new(),
        base_changes: base,
    }
}

/// Seed mode: the first record's mapped values that differ on another Lead of the group.
fn seed_values(
    ctx: &Ctx,
    primary: &OrgRecord,
    planned: &[WrittenValue],
    lead: &OrgRecord,
) -> Vec<WrittenValue> {
    let mut out = Vec::new();
    for e in ctx.mapping.active_entries(SObject::Lead) {
        if e.attribute == EMAIL_ATTRIBUTE || !e.effective_direction().to_crm() {
            continue;
        }
        let Some(src) = ctx.mapping.entry(&e.attribute, primary.object) else {
            continue;
        };
        let value = match planned.iter().find(|v| v.field == src.field) {
            Some(v) => v.value.clone(),
            None => primary.value(&src.field),
        };
        if value.is_some() && lead.value(&e.field) != value {
            let prov = ctx.prov(Side::Crm, Rule::DuplicateSeed);
            out.push(WrittenValue {
                attribute: e.attribute.clone(),
                field: e.field.clone(),
                value,
                provenance: prov,
            });
        }
    }
    out
}

/// Settles the email changes pass 1 planned for our contacts so that no two contacts here end up
/// with one email (the store's invariant). A contact keeping its email keeps it; among contacts
/// moving to the same email, the smallest id wins; the others keep theirs and the value is held
/// ([`HoldReason::EmailTakenHere`]). Repeated until stable, since a held contact keeps an email
/// someone else may be moving to. Returns who holds each email once the plan is applied.
fn resolve_email_moves(
    pairs: &mut [PairPlan],
    by_id: &FastMap<&ContactId, &OurContact>,
    contacts: &[OurContact],
) -> Option<FastMap<Email, ContactId>> {
    // (pair index, contact, email it moves to)
    let mut moves: Vec<(usize, ContactId, Email)> = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        let (Some(cid), Some(w)) = (&p.contact_id, &p.marketing) else {
            continue;
        };
        if let Some(v) = w.values.iter().find(|v| v.attribute == EMAIL_ATTRIBUTE)
            && let Some(e) = v.value.as_deref().and_then(|v| Email::parse(v).ok())
            && by_id.get(cid).and_then(|c| c.normalized_email()).as_ref() != Some(&e)
        {
            moves.push((i, cid.clone(), e));
        }
    }
    if moves.is_empty() {
        return None;
    }
    let mut current: FastMap<&ContactId, Email> =
        FastMap::with_capacity_and_hasher(contacts.len(), Default::default());
    for c in contacts {
        if let Some(e) = c.normalized_email() {
            current.insert(&c.id, e);
        }
    }
    let mut held: FastMap<ContactId, ContactId> = FastMap::default();
    let final_owners = loop {
        // email → (staying claimant, moving claimants)
        let mut claims: FastMap<&Email, (Option<&ContactId>, Vec<&ContactId>)> = FastMap::default();
        let moving: FastMap<&ContactId, &Email> = moves
            .iter()
            .filter(|(_, c, _)| !held.contains_key(c))
            .map(|(_, c, e)| (c, e))
            .collect();
        for (c, e) in &current {
            if !moving.contains_key(c) {
                let slot = &mut claims.entry(e).or_default().0;
                if slot.is_none_or(|s| *c < s) {
                    *slot = Some(c);
                }
            }
        }
        for (c, e) in &moving {
            claims.entry(e).or_default().1.push(c);
        }
        let mut newly_held = Vec::new();
        for (stayer, movers) in claims.values_mut() {
            movers.sort();
            let winner = match stayer {
                Some(s) => (*s).clone(),
                None => movers[0].clone(),
            };
            for m in movers.iter().filter(|m| ***m != winner) {
                newly_held.push(((*m).clone(), winner.clone()));
            }
        }
        if newly_held.is_empty() {
            let mut owners = FastMap::with_capacity_and_hasher(claims.len(), Default::default());
            for (e, (stayer, movers)) in claims {
                if let Some(owner) = stayer.or(movers.first().copied()) {
                    owners.insert(e.clone(), owner.clone());
                }
            }
            break owners;
        }
        held.extend(newly_held);
    };
    for (i, cid, _) in &moves {
        let Some(winner) = held.get(cid) else {
            continue;
        };
        let p = &mut pairs[*i];
        let w = p.marketing.as_mut().expect("a move is a marketing write");
        let at = w
            .values
            .iter()
            .position(|v| v.attribute == EMAIL_ATTRIBUTE)
            .expect("found above");
        w.values.remove(at);
        if w.values.is_empty() && w.op == WriteOp::Update {
            p.marketing = None;
        }
        let ours = current.get(cid).map(|e| e.as_str().to_string());
        if let Some(u) = p
            .base_changes
            .iter_mut()
            .find(|u| u.attribute == EMAIL_ATTRIBUTE)
        {
            u.base.ours = ours;
        }
        p.held.push(Held {
            attribute: EMAIL_ATTRIBUTE.to_string(),
            reason: HoldReason::EmailTakenHere {
                contact_id: winner.clone(),
            },
        });
    }
    Some(final_owners)
}

/// The Fx hash (rustc's) with a final mix: much faster than SipHash on the short string keys
/// of a plan. Its
/// weakness to chosen collisions does not matter here, and iteration order never reaches a
/// plan (every output is sorted).
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        // The multiply only carries entropy upward, and hashbrown picks buckets from the low
        // bits: without a final mix, ids like "c1234567" share buckets by the thousand.
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Who holds each email here before the plan (smallest id first if the store ever held two).
fn current_owners(contacts: &[OurContact]) -> FastMap<Email, ContactId> {
    let mut owners: FastMap<Email, ContactId> =
        FastMap::with_capacity_and_hasher(contacts.len(), Default::default());
    for c in contacts {
        if let Some(e) = c.normalized_email() {
            let owner = owners.entry(e).or_insert_with(|| c.id.clone());
            if c.id < *owner {
                *owner = c.id.clone();
            }
        }
    }
    owners
}
