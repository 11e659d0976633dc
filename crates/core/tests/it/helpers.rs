//! Builders for snapshots and one `sync` helper, so the tests read like the requirement.
#![allow(dead_code)]

use lb_core::*;
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub fn t(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + secs).unwrap()
}

pub fn ours(id: &str, email: &str, values: &[(&str, &str)]) -> OurContact {
    let mut c = OurContact::new(id, email);
    for (k, v) in values {
        c.values.insert(k.to_string(), v.to_string());
        c.changed_at.insert(k.to_string(), t(0));
    }
    c
}

pub fn lead(id: &str, email: &str, fields: &[(&str, &str)], created: i64) -> OrgRecord {
    let mut f: BTreeMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if !email.is_empty() {
        f.insert("Email".into(), email.into());
    }
    OrgRecord {
        id: id.into(),
        object: SObject::Lead,
        fields: f,
        last_modified: t(created),
        system_modstamp: t(created),
        created: t(created),
        is_converted: false,
        converted_contact_id: None,
    }
}

pub fn org_contact(
    id: &str,
    email: &str,
    flag: &str,
    fields: &[(&str, &str)],
    created: i64,
) -> OrgRecord {
    let mut r = lead(id, email, fields, created);
    r.object = SObject::Contact;
    if !flag.is_empty() {
        r.fields.insert("sync_to_plezi__c".into(), flag.into());
    }
    r
}

/// Hands out `new-c1`, `00Qnew1`… in order.
#[derive(Default)]
pub struct Ids(pub u32);

impl NewIds for Ids {
    fn contact_id(&mut self, _from: &str) -> ContactId {
        self.0 += 1;
        ContactId(format!("new-c{}", self.0))
    }
    fn lead_id(&mut self, _from: &ContactId) -> String {
        self.0 += 1;
        format!("00Qnew{}", self.0)
    }
}

/// A world: both sides, the links, a mapping and a config.
pub struct World {
    pub snap: Snapshot,
    pub mapping: Mapping,
    pub config: PlanConfig,
    pub ids: Ids,
    pub runs: u32,
}

impl World {
    pub fn new(contacts: Vec<OurContact>, records: Vec<OrgRecord>) -> World {
        let mut snap = Snapshot::default();
        for c in contacts {
            snap.contacts.insert(c.id.clone(), c);
        }
        for r in records {
            snap.records.insert(r.id.clone(), r);
        }
        World {
            snap,
            mapping: Mapping::default_mapping(),
            config: PlanConfig::default(),
            ids: Ids::default(),
            runs: 0,
        }
    }

    /// Plans over everything (a full sync).
    pub fn plan(&self) -> Plan {
        plan(
            &self.mapping,
            &self.config,
            &self.snap.full_input(),
            &RunId::from(format!("run-{}", self.runs + 1)),
        )
    }

    /// Plans and applies a full sync at time `now`.
    pub fn sync(&mut self, now: i64) -> Plan {
        let p = self.plan();
        self.snap.apply(&p, &mut self.ids, t(now));
        self.runs += 1;
        p
    }

    pub fn contact(&self, id: &str) -> &OurContact {
        &self.snap.contacts[&ContactId::from(id)]
    }
    pub fn record(&self, id: &str) -> &OrgRecord {
        &self.snap.records[id]
    }
    pub fn link_of(&self, id: &str) -> Option<&SyncedLink> {
        self.snap.links.get(&ContactId::from(id))
    }

    pub fn edit_ours(&mut self, id: &str, attr: &str, value: Option<&str>, at: i64) {
        let c = self.snap.contacts.get_mut(&ContactId::from(id)).unwrap();
        if attr == "email" {
            c.email = value.map(str::to_string);
        } else {
            match value {
                Some(v) => c.values.insert(attr.into(), v.into()),
                None => c.values.remove(attr),
            };
        }
        c.changed_at.insert(attr.into(), t(at));
    }

    pub fn edit_org(&mut self, id: &str, field: &str, value: Option<&str>, at: i64) {
        let r = self.snap.records.get_mut(id).unwrap();
        match value {
            Some(v) => r.fields.insert(field.into(), v.into()),
            None => r.fields.remove(field),
        };
        r.last_modified = t(at);
        r.system_modstamp = t(at);
    }
}

pub fn skip_reasons(p: &Plan) -> Vec<(String, SkipReason)> {
    p.skips
        .iter()
        .map(|s| (s.id.clone(), s.reason.clone()))
        .collect()
}

pub fn crm_values(p: &PairPlan) -> Vec<(String, Option<String>)> {
    p.crm
        .iter()
        .flat_map(|w| w.values.iter().map(|v| (v.field.clone(), v.value.clone())))
        .collect()
}

pub fn our_values(p: &PairPlan) -> Vec<(String, Option<String>)> {
    p.marketing
        .iter()
        .flat_map(|w| {
            w.values
                .iter()
                .map(|v| (v.attribute.clone(), v.value.clone()))
        })
        .collect()
}

pub fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}
