//! Property tests: random histories of edits on both sides, random mappings, random sync points
//! (full or incremental). After every sync: determinism, the plan round-trips through JSON,
//! directions respected, nothing written to an org Contact or a converted Lead, two contacts
//! never share an email, idempotence, and an incremental run never decides differently from a
//! full one; after every full sync: convergence of the two-way fields and no lost update.

use crate::helpers::{Ids, t};
use lb_core::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const ATTRS: [&str; 7] = [
    "email",
    "first_name",
    "last_name",
    "company",
    "a1",
    "a2",
    "a3",
];
const FIELDS: [&str; 7] = [
    "Email",
    "FirstName",
    "LastName",
    "Company",
    "A1__c",
    "A2__c",
    "A3__c",
];
const VALUES: [Option<&str>; 4] = [None, Some("v1"), Some("v2"), Some("v3")];
const EMAILS: [&str; 6] = [
    "e0@x.io",
    " E0@X.io",
    "e1@x.io",
    "e2@x.io",
    "not-an-email",
    "",
];
const FLAGS: [&str; 4] = ["yes", "Oui", "no", ""];

#[derive(Clone, Debug)]
enum Op {
    EditOurs { c: usize, attr: usize, val: usize },
    EditOrg { r: usize, field: usize, val: usize },
    NewOurs { email: usize },
    NewLead { email: usize },
    NewOrgContact { email: usize, flag: usize },
    Convert { r: usize, flag: usize },
    Flag { r: usize, flag: usize },
    Remap { attr: usize, dir: usize },
    Sync { full: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..8usize, 0..7usize, 0..4usize).prop_map(|(c, attr, val)| Op::EditOurs { c, attr, val }),
        6 => (0..8usize, 0..7usize, 0..6usize).prop_map(|(r, field, val)| Op::EditOrg { r, field, val }),
        2 => (0..4usize).prop_map(|email| Op::NewOurs { email }),
        2 => (0..6usize).prop_map(|email| Op::NewLead { email }),
        1 => (0..6usize, 0..4usize).prop_map(|(email, flag)| Op::NewOrgContact { email, flag }),
        1 => (0..8usize, 0..4usize).prop_map(|(r, flag)| Op::Convert { r, flag }),
        1 => (0..8usize, 0..4usize).prop_map(|(r, flag)| Op::Flag { r, flag }),
        1 => (4..7usize, 0..4usize).prop_map(|(attr, dir)| Op::Remap { attr, dir }),
        4 => any::<bool>().prop_map(|full| Op::Sync { full }),
    ]
}

const DIRS: [Direction; 4] = [
    Direction::ToCrm,
    Direction::ToMarketing,
    Direction::Both,
    Direction::Off,
];

fn entry_strategy(i: usize) -> impl Strategy<Value = Vec<MappingEntry>> {
    (
        0..4usize,
        0..3usize,
        any::<bool>(),
        any::<bool>(),
        0..4usize,
    )
        .prop_map(move |(d, c, never_blank, mapped, cd)| {
            let attr = ATTRS[4 + i];
            let field = FIELDS[4 + i];
            let mut lead = MappingEntry::new(attr, SObject::Lead, field, DIRS[d]).with_conflict(
                [
                    ConflictPolicy::MostRecent,
                    ConflictPolicy::CrmWins,
                    ConflictPolicy::MarketingWins,
                ][c],
            );
            if never_blank {
                lead = lead.with_blanks(BlankPolicy::NeverBlankOut);
            }
            if mapped {
                lead = lead.with_value_map(ValueMap::new(&[("v1", "X1")]));
            }
            let mut out = vec![lead];
            if cd < 3 {
                out.push(MappingEntry::new(attr, SObject::Contact, field, DIRS[cd]));
            }
            out
        })
}

fn mapping_strategy() -> impl Strategy<Value = (Mapping, PlanConfig)> {
    (
        entry_strategy(0),
        entry_strategy(1),
        entry_strategy(2),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(a, b, c, seed, fallback)| {
            let mut m = Mapping {
                entries: mapping::locked_entries(),
            };
            m.entries.extend(a.into_iter().chain(b).chain(c));
            let mut config = PlanConfig::default();
            if seed {
                config.duplicates = DuplicateMode::Seed;
            }
            if fallback {
                for r in &mut config.lead_required {
                    r.fallback = Some(format!("FB {}", r.field));
                }
            }
            (m, config)
        })
}

struct Sim {
    snap: Snapshot,
    mapping: Mapping,
    config: PlanConfig,
    ids: Ids,
    now: i64,
    changed_c: BTreeSet<ContactId>,
    changed_r: BTreeSet<String>,
    full_hash: String,
    runs: u32,
    next: u32,
}

fn pick<K: Clone, V>(m: &BTreeMap<K, V>, i: usize) -> Option<K> {
    if m.is_empty() {
        None
    } else {
        m.keys().nth(i % m.len()).cloned()
    }
}

impl Sim {
    fn new(mapping: Mapping, config: PlanConfig) -> Sim {
        let full_hash = mapping.hash();
        Sim {
            snap: Snapshot::default(),
            mapping,
            config,
            ids: Ids::default(),
            now: 0,
            changed_c: BTreeSet::new(),
            changed_r: BTreeSet::new(),
            full_hash,
            runs: 0,
            next: 0,
        }
    }

    /// The value an org edit writes: the org spells mapped values its own way.
    fn org_value(&self, field: usize, val: usize) -> Option<String> {
        let v = VALUES[val % 4].map(str::to_string);
        let e = self.mapping.entry(ATTRS[field], SObject::Lead)?;
        if field == 0 {
            return Some(EMAILS[val % 6].to_string()).filter(|s| !s.is_empty());
        }
        e.to_crm(&v)
    }

    fn email_taken(&self, email: &str, except: Option<&ContactId>) -> bool {
        let e = Email::parse(email).unwrap();
        self.snap
            .contacts
            .values()
            .any(|c| Some(&c.id) != except && c.normalized_email() == Some(e.clone()))
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.now += 1;
        let now = t(self.now);
        match *op {
            Op::EditOurs { c, attr, val } => {
                let Some(id) = pick(&self.snap.contacts, c) else {
                    return Ok(());
                };
                if attr == 0 {
                    // Our store keeps emails valid and unique.
                    let email = EMAILS[val % 4];
                    if self.email_taken(email, Some(&id)) {
                        return Ok(());
                    }
                    self.snap.contacts.get_mut(&id).unwrap().email = Some(email.to_string());
                } else {
                    let c = self.snap.contacts.get_mut(&id).unwrap();
                    match VALUES[val] {
                        Some(v) => c.values.insert(ATTRS[attr].into(), v.into()),
                        None => c.values.remove(ATTRS[attr]),
                    };
                }
                self.snap
                    .contacts
                    .get_mut(&id)
                    .unwrap()
                    .changed_at
                    .insert(ATTRS[attr].into(), now);
                self.changed_c.insert(id);
            }
            Op::EditOrg { r, field, val } => {
                let Some(id) = pick(&self.snap.records, r) else {
                    return Ok(());
                };
                let v = self
                    .org_value(field, val)
                    .or_else(|| VALUES[val % 4].map(str::to_string));
                let v = if field != 0 && val >= 4 { None } else { v };
                let rec = self.snap.records.get_mut(&id).unwrap();
                match v {
                    Some(v) => rec.fields.insert(FIELDS[field].into(), v),
                    None => rec.fields.remove(FIELDS[field]),
                };
                rec.last_modified = now;
                rec.system_modstamp = now;
                self.changed_r.insert(id);
            }
            Op::NewOurs { email } => {
                if self.email_taken(EMAILS[email], None) {
                    return Ok(());
                }
                self.next += 1;
                let id = ContactId(format!("c{}", self.next));
                let mut c = OurContact::new(id.clone(), EMAILS[email]);
                c.values
                    .insert("last_name".into(), format!("L{}", self.next));
                c.changed_at.insert("last_name".into(), now);
                self.snap.contacts.insert(id.clone(), c);
                self.changed_c.insert(id);
            }
            Op::NewLead { email } | Op::NewOrgContact { email, .. } => {
                self.next += 1;
                let (object, prefix) = if matches!(op, Op::NewLead { .. }) {
                    (SObject::Lead, "00Q")
                } else {
                    (SObject::Contact, "003")
                };
                let id = format!("{prefix}{:03}", self.next);
                let mut fields =
                    BTreeMap::from([("LastName".to_string(), format!("O{}", self.next))]);
                if !EMAILS[email].is_empty() {
                    fields.insert("Email".into(), EMAILS[email].into());
                }
                if let Op::NewOrgContact { flag, .. } = *op {
                    fields.insert("sync_to_plezi__c".into(), FLAGS[flag].into());
                }
                let rec = OrgRecord {
                    id: id.clone(),
                    object,
                    fields,
                    last_modified: now,
                    system_modstamp: now,
                    created: t(self.now / 3),
                    is_converted: false,
                    converted_contact_id: None,
                };
                self.snap.records.insert(id.clone(), rec);
                self.changed_r.insert(id);
            }
            Op::Convert { r, flag } => {
                let leads: BTreeMap<String, ()> = self
                    .snap
                    .records
                    .values()
                    .filter(|r| r.object == SObject::Lead && !r.is_converted)
                    .map(|r| (r.id.clone(), ()))
                    .collect();
                let Some(lead_id) = pick(&leads, r) else {
                    return Ok(());
                };
                self.next += 1;
                let cid = format!("003{:03}", self.next);
                let lead = self.snap.records.get_mut(&lead_id).unwrap();
                lead.is_converted = true;
                lead.converted_contact_id = Some(cid.clone());
                lead.system_modstamp = now;
                let mut fields = lead.fields.clone();
                fields.insert("sync_to_plezi__c".into(), FLAGS[flag].into());
                let contact = OrgRecord {
                    id: cid.clone(),
                    object: SObject::Contact,
                    fields,
                    last_modified: now,
                    system_modstamp: now,
                    created: now,
                    is_converted: false,
                    converted_contact_id: None,
                };
                self.snap.records.insert(cid.clone(), contact);
                self.changed_r.insert(lead_id);
                self.changed_r.insert(cid);
            }
            Op::Flag { r, flag } => {
                let contacts: BTreeMap<String, ()> = self
                    .snap
                    .records
                    .values()
                    .filter(|r| r.object == SObject::Contact)
                    .map(|r| (r.id.clone(), ()))
                    .collect();
                let Some(id) = pick(&contacts, r) else {
                    return Ok(());
                };
                let rec = self.snap.records.get_mut(&id).unwrap();
                rec.fields
                    .insert("sync_to_plezi__c".into(), FLAGS[flag].into());
                rec.last_modified = now;
                rec.system_modstamp = now;
                self.changed_r.insert(id);
            }
            Op::Remap { attr, dir } => {
                self.mapping
                    .set_direction(ATTRS[attr], SObject::Lead, DIRS[dir])
                    .unwrap();
            }
            Op::Sync { full } => self.sync(full)?,
        }
        Ok(())
    }

    /// One run, as the runtime does it, with every check.
    fn sync(&mut self, full: bool) -> Result<(), TestCaseError> {
        // A mapping change forces a full resync (R-SYNC-5).
        let full = full || self.mapping.hash() != self.full_hash;
        self.runs += 1;
        let run = RunId::from(format!("run-{}", self.runs));
        let input = self.input(full);
        let p = plan(&self.mapping, &self.config, &input, &run);
        prop_assert_eq!(&p.mapping_hash, &self.mapping.hash());

        // Determinism: the same input in another order gives the same plan.
        let mut shuffled = input.clone();
        shuffled.contacts.reverse();
        shuffled.records.reverse();
        shuffled.links.reverse();
        let n = shuffled.records.len();
        shuffled.records.rotate_left(n / 2);
        prop_assert_eq!(
            &plan(&self.mapping, &self.config, &shuffled, &run),
            &p,
            "plan depends on input order"
        );

        // An incremental run never decides differently from a full one: same writes, same
        // conflicts, same links. (A pair that only records bases may differ: a full run sees
        // an unflagged Contact and skips it, an incremental one does not read it and just
        // records what it saw of ours.)
        if !full {
            let pf = plan(&self.mapping, &self.config, &self.snap.full_input(), &run);
            let acts = |p: &PairPlan| {
                p.crm.is_some()
                    || p.marketing.is_some()
                    || !p.conflicts.is_empty()
                    || p.link != LinkChange::Unchanged
            };
            for pair in &p.pairs {
                let twin = pf
                    .pairs
                    .iter()
                    .find(|f| f.contact_id == pair.contact_id && f.org_id == pair.org_id);
                if acts(pair) || twin.is_some_and(acts) {
                    prop_assert_eq!(twin, Some(pair), "incremental and full plans disagree");
                }
            }
        }

        // The preview round-trips: what the user saw is what runs.
        let json = serde_json::to_string(&p).expect("a plan serializes");
        prop_assert_eq!(
            &serde_json::from_str::<Plan>(&json).expect("and reads back"),
            &p
        );

        self.check_directions(&p)?;
        let before = self.snap.clone();
        self.snap.apply(&p, &mut self.ids, t(self.now));
        self.check_invariants(&before)?;
        if full {
            self.full_hash = self.mapping.hash();
            self.check_convergence(&before, &p)?;
        }

        // What the sync wrote comes back as changed on the next poll (echo).
        self.changed_c = self
            .snap
            .contacts
            .iter()
            .filter(|(id, c)| before.contacts.get(*id) != Some(*c))
            .map(|(id, _)| id.clone())
            .collect();
        self.changed_r = self
            .snap
            .records
            .iter()
            .filter(|(id, r)| before.records.get(*id) != Some(*r))
            .map(|(id, _)| id.clone())
            .collect();

        // Idempotence: planning again with no new edit gives an empty plan.
        let again = plan(&self.mapping, &self.config, &self.input(full), &run);
        prop_assert!(
            again.is_empty(),
            "not idempotent ({}): {:#?}",
            if full { "full" } else { "incremental" },
            again
        );
        Ok(())
    }

    fn input(&self, full: bool) -> SyncInput {
        if full {
            self.snap.full_input()
        } else {
            self.snap
                .incremental_input(&self.changed_c, &self.changed_r, self.config.duplicates)
        }
    }

    fn check_directions(&self, p: &Plan) -> Result<(), TestCaseError> {
        for pair in &p.pairs {
            if let Some(w) = &pair.crm {
                prop_assert_eq!(pair.object, SObject::Lead, "a write to an org Contact");
                if let Some(id) = &pair.org_id {
                    let r = &self.snap.records[id];
                    prop_assert!(
                        r.object == SObject::Lead && !r.is_converted,
                        "write to {:?}",
                        r
                    );
                }
                for v in &w.values {
                    if v.provenance.rule == Rule::RequiredFallback {
                        continue;
                    }
                    let e = self.mapping.entry(&v.attribute, SObject::Lead).unwrap();
                    prop_assert!(
                        e.effective_direction().to_crm(),
                        "{} written to the CRM against {:?}",
                        v.attribute,
                        e.direction
                    );
                    prop_assert_eq!(v.provenance.side, Side::Marketing);
                }
            }
            if let Some(w) = &pair.marketing {
                for v in &w.values {
                    let e = self.mapping.entry(&v.attribute, pair.object).unwrap();
                    prop_assert!(
                        e.effective_direction().to_marketing(),
                        "{} written here against {:?}",
                        v.attribute,
                        e.direction
                    );
                    prop_assert_eq!(v.provenance.side, Side::Crm);
                }
                if let Some(id) = &pair.org_id {
                    prop_assert!(
                        self.snap.records[id].is_flagged_for_sync(),
                        "an unflagged Contact flowed"
                    );
                }
            }
        }
        for g in &p.duplicate_groups {
            for s in &g.seed_updates {
                let r = &self.snap.records[&s.lead_id];
                prop_assert!(r.object == SObject::Lead && !r.is_converted);
                prop_assert!(
                    !self.snap.links.values().any(|l| l.org_id == s.lead_id),
                    "seed write to a linked Lead"
                );
            }
        }
        Ok(())
    }

    fn check_invariants(&self, before: &Snapshot) -> Result<(), TestCaseError> {
        let mut emails = BTreeSet::new();
        for c in self.snap.contacts.values() {
            let e = c.normalized_email();
            prop_assert!(e.is_some(), "contact without a valid email: {:?}", c);
            prop_assert!(
                emails.insert(e.unwrap()),
                "two contacts here share {:?}",
                c.email
            );
        }
        for (id, r) in &before.records {
            if r.object == SObject::Contact || r.is_converted {
                prop_assert_eq!(
                    Some(r),
                    self.snap.records.get(id),
                    "an org Contact or converted Lead changed"
                );
            }
        }
        let mut org_ids = BTreeSet::new();
        for l in self.snap.links.values() {
            prop_assert!(self.snap.contacts.contains_key(&l.contact_id));
            prop_assert_eq!(self.snap.records[&l.org_id].object, l.object);
            prop_assert!(
                org_ids.insert(l.org_id.clone()),
                "two links to {}",
                l.org_id
            );
        }
        Ok(())
    }

    /// After a full sync: two-way fields agree (convergence), and a change on one side only
    /// arrived on the other when the direction allows it (no lost update).
    fn check_convergence(&self, before: &Snapshot, p: &Plan) -> Result<(), TestCaseError> {
        let skipped: BTreeSet<&str> = p.skips.iter().map(|s| s.id.as_str()).collect();
        for link in self.snap.links.values() {
            let r = &self.snap.records[&link.org_id];
            let c = &self.snap.contacts[&link.contact_id];
            if link.object != SObject::Lead || r.is_converted || skipped.contains(r.id.as_str()) {
                continue;
            }
            let old = before
                .links
                .get(&link.contact_id)
                .filter(|l| l.org_id == link.org_id);
            for e in self.mapping.active_entries(SObject::Lead) {
                if e.attribute == "email" {
                    continue;
                }
                let (ours, theirs) = (c.value(&e.attribute), r.value(&e.field));
                let dir = e.effective_direction();
                if dir == Direction::Both && e.blanks == BlankPolicy::Propagate {
                    prop_assert_eq!(
                        e.to_crm(&ours),
                        theirs.clone(),
                        "{} did not converge on {}",
                        e.attribute,
                        r.id
                    );
                }
                let Some(b) = old.and_then(|l| l.base.get(&e.attribute)) else {
                    continue;
                };
                let ours_b = before.contacts[&link.contact_id].value(&e.attribute);
                let theirs_b = before.records[&link.org_id].value(&e.field);
                let (oc, tc) = (ours_b != b.ours, theirs_b != b.theirs);
                let held = |v: &Value, other: &Value| {
                    v.is_none() && other.is_some() && e.blanks == BlankPolicy::NeverBlankOut
                };
                if oc && !tc && dir.to_crm() && !held(&ours_b, &theirs_b) {
                    prop_assert_eq!(
                        &theirs,
                        &e.to_crm(&ours_b),
                        "lost update of ours {} on {}",
                        e.attribute,
                        r.id
                    );
                }
                if tc && !oc && dir.to_marketing() && !held(&theirs_b, &ours_b) {
                    prop_assert_eq!(
                        &ours,
                        &e.to_marketing(&theirs_b),
                        "lost update of theirs {} on {}",
                        e.attribute,
                        r.id
                    );
                }
            }
        }
        Ok(())
    }
}

proptest! {
    // 3,000 histories of up to 40 steps per run (PROPTEST_CASES overrides, for a long soak).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(3000),
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_histories_converge_lose_nothing_and_respect_directions(
        (mapping, config) in mapping_strategy(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let mut sim = Sim::new(mapping, config);
        for op in &ops {
            sim.step(op)?;
        }
        sim.sync(true)?;
    }
}
