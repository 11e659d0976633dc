//! The three-way merge per field, conflicts, blanks, provenance, plans as data.

use crate::helpers::*;
use lb_core::*;
use std::collections::BTreeSet;

/// c1 ↔ 00Q1 linked and in sync, phone "1".
fn linked() -> World {
    let mut w = World::new(
        vec![ours(
            "c1",
            "a@x.io",
            &[("last_name", "Doe"), ("company", "Acme"), ("phone", "1")],
        )],
        vec![lead(
            "00Q1",
            "a@x.io",
            &[("LastName", "Doe"), ("Company", "Acme"), ("Phone", "1")],
            0,
        )],
    );
    let first = w.sync(1);
    assert_eq!(first.pairs[0].link, LinkChange::Matched);
    assert!(w.plan().is_empty());
    w
}

fn set_policy(w: &mut World, attr: &str, policy: ConflictPolicy) {
    w.mapping
        .entries
        .iter_mut()
        .find(|e| e.attribute == attr && e.object == SObject::Lead)
        .unwrap()
        .conflict = policy;
}

#[test]
fn a_change_on_one_side_only_arrives_on_the_other() {
    let mut w = linked();
    w.edit_ours("c1", "phone", Some("2"), 10);
    let p = w.sync(11);
    let v = &p.pairs[0].crm.as_ref().unwrap().values[0];
    assert_eq!((v.field.as_str(), v.value.as_deref()), ("Phone", Some("2")));
    assert_eq!(
        v.provenance,
        Provenance {
            side: Side::Marketing,
            run: RunId::from("run-2"),
            rule: Rule::Propagated
        }
    );
    assert_eq!(p.pairs[0].conflicts, vec![]);
    assert_eq!(w.record("00Q1").value("Phone").as_deref(), Some("2"));
}

#[test]
fn our_own_write_coming_back_from_the_org_is_not_a_change() {
    let mut w = linked();
    w.edit_ours("c1", "phone", Some("2"), 10);
    w.sync(11);
    // The org re-reads the record with a new SystemModstamp and the same values: nothing to do.
    w.edit_org("00Q1", "Phone", Some("2"), 30);
    assert!(w.plan().is_empty());
}

#[test]
fn both_sides_changed_most_recent_change_wins_and_the_conflict_is_recorded() {
    let mut w = linked();
    w.edit_ours("c1", "phone", Some("ours"), 20);
    w.edit_org("00Q1", "Phone", Some("theirs"), 15);
    let p = w.sync(21);
    let c = &p.pairs[0].conflicts[0];
    assert_eq!(
        (
            c.attribute.as_str(),
            c.ours.as_deref(),
            c.theirs.as_deref(),
            c.winner
        ),
        ("phone", Some("ours"), Some("theirs"), Side::Marketing)
    );
    let b = c.base.clone().unwrap();
    assert_eq!((b.ours, b.theirs), (s("1"), s("1")));
    assert_eq!(
        (c.ours_changed_at, c.theirs_changed_at, c.policy),
        (Some(t(20)), t(15), ConflictPolicy::MostRecent)
    );
    assert_eq!(crm_values(&p.pairs[0]), vec![("Phone".into(), s("ours"))]);
    assert_eq!(
        p.pairs[0].crm.as_ref().unwrap().values[0].provenance.rule,
        Rule::ConflictResolved(ConflictPolicy::MostRecent)
    );

    // The org side more recent: the org's value comes here.
    w.edit_ours("c1", "phone", Some("ours2"), 30);
    w.edit_org("00Q1", "Phone", Some("theirs2"), 31);
    let p = w.sync(32);
    assert_eq!(p.pairs[0].conflicts[0].winner, Side::Crm);
    assert_eq!(
        our_values(&p.pairs[0]),
        vec![("phone".into(), s("theirs2"))]
    );
    assert!(w.plan().is_empty());
}

#[test]
fn a_tie_or_an_unknown_change_time_goes_to_the_crm() {
    let mut w = linked();
    w.edit_ours("c1", "phone", Some("ours"), 15);
    w.edit_org("00Q1", "Phone", Some("theirs"), 15);
    assert_eq!(w.plan().pairs[0].conflicts[0].winner, Side::Crm);
    w.snap
        .contacts
        .get_mut(&ContactId::from("c1"))
        .unwrap()
        .changed_at
        .clear();
    assert_eq!(w.plan().pairs[0].conflicts[0].winner, Side::Crm);
}

#[test]
fn crm_wins_and_marketing_wins_policies_decide_conflicts() {
    for (policy, winner, value) in [
        (ConflictPolicy::CrmWins, Side::Crm, "theirs"),
        (ConflictPolicy::MarketingWins, Side::Marketing, "ours"),
    ] {
        let mut w = linked();
        set_policy(&mut w, "phone", policy);
        w.edit_ours(
            "c1",
            "phone",
            Some("ours"),
            if winner == Side::Crm { 50 } else { 10 },
        );
        w.edit_org("00Q1", "Phone", Some("theirs"), 20);
        let p = w.sync(60);
        assert_eq!(p.pairs[0].conflicts[0].winner, winner, "{policy:?}");
        assert_eq!(w.contact("c1").value("phone").as_deref(), Some(value));
        assert_eq!(w.record("00Q1").value("Phone").as_deref(), Some(value));
    }
}

#[test]
fn both_sides_changed_to_the_same_value_is_no_conflict() {
    let mut w = linked();
    w.edit_ours("c1", "phone", Some("same"), 10);
    w.edit_org("00Q1", "Phone", Some("same"), 11);
    let p = w.sync(12);
    assert_eq!(
        (
            p.pairs[0].conflicts.len(),
            &p.pairs[0].crm,
            &p.pairs[0].marketing
        ),
        (0, &None, &None)
    );
    let b = &p.pairs[0]
        .base_changes
        .iter()
        .find(|u| u.attribute == "phone")
        .unwrap()
        .base;
    assert_eq!((&b.ours, &b.theirs), (&s("same"), &s("same")));
    assert!(w.plan().is_empty());
}

#[test]
fn clearing_a_value_clears_the_other_side_by_default() {
    let mut w = linked();
    w.edit_org("00Q1", "Phone", None, 10);
    let p = w.sync(11);
    assert_eq!(our_values(&p.pairs[0]), vec![("phone".into(), None)]);
    assert_eq!(
        (
            p.summary().marketing_values_blanked,
            p.summary().marketing_updates
        ),
        (1, 1)
    );
    assert_eq!(w.contact("c1").value("phone"), None);
}

#[test]
fn never_blank_out_keeps_the_value_and_says_so() {
    let mut w = linked();
    w.mapping
        .entries
        .iter_mut()
        .find(|e| e.attribute == "phone" && e.object == SObject::Lead)
        .unwrap()
        .blanks = BlankPolicy::NeverBlankOut;
    w.edit_org("00Q1", "Phone", None, 10);
    let p = w.sync(11);
    assert_eq!(
        (&p.pairs[0].marketing, p.pairs[0].held.clone()),
        (
            &None,
            vec![Held {
                attribute: "phone".into(),
                reason: HoldReason::NeverBlankOut
            }]
        )
    );
    assert_eq!(w.contact("c1").value("phone").as_deref(), Some("1"));
    assert!(w.plan().is_empty(), "held once, not re-planned every run");
    // A later value from the org still arrives.
    w.edit_org("00Q1", "Phone", Some("7"), 20);
    w.sync(21);
    assert_eq!(w.contact("c1").value("phone").as_deref(), Some("7"));
}

#[test]
fn the_email_is_never_blanked_here_even_if_the_lead_loses_it() {
    let mut w = linked();
    w.edit_org("00Q1", "Email", None, 10);
    w.edit_org("00Q1", "Phone", Some("5"), 10);
    let p = w.sync(11);
    assert_eq!(p.skips, vec![]);
    assert_eq!(
        p.pairs[0].held,
        vec![Held {
            attribute: "email".into(),
            reason: HoldReason::InvalidEmail
        }]
    );
    assert_eq!(
        our_values(&p.pairs[0]),
        vec![("phone".into(), s("5"))],
        "the link by Id keeps the rest flowing"
    );
    assert_eq!(w.contact("c1").email.as_deref(), Some("a@x.io"));
    assert!(w.plan().is_empty());
    // Our next email change repairs the Lead.
    w.edit_ours("c1", "email", Some("new@x.io"), 20);
    let p = w.sync(21);
    assert_eq!(
        crm_values(&p.pairs[0]),
        vec![("Email".into(), s("new@x.io"))]
    );
}

#[test]
fn one_way_fields_only_flow_their_way() {
    let mut w = linked();
    // job_title → Title is marketing → CRM only: an org edit stays there.
    w.edit_org("00Q1", "Title", Some("CFO"), 10);
    assert!(w.plan().writes_nothing());
    // Our later edit wins over the org's (the direction's source).
    w.edit_ours("c1", "job_title", Some("Finance"), 12);
    let p = w.sync(13);
    let v = &p.pairs[0].crm.as_ref().unwrap().values[0];
    assert_eq!(
        (v.value.as_deref(), v.provenance.rule),
        (Some("Finance"), Rule::DirectionSource)
    );
    assert_eq!(p.pairs[0].marketing, None);
}

#[test]
fn first_sync_of_a_linked_pair_fills_blanks_without_erasing_anything() {
    let mut w = World::new(
        vec![ours(
            "c1",
            "a@x.io",
            &[("last_name", "Doe"), ("company", "Acme"), ("phone", "1")],
        )],
        vec![lead(
            "00Q1",
            "a@x.io",
            &[
                ("LastName", "Doe"),
                ("Company", "Acme"),
                ("FirstName", "Ann"),
            ],
            0,
        )],
    );
    let p = w.sync(1);
    assert_eq!(crm_values(&p.pairs[0]), vec![("Phone".into(), s("1"))]);
    assert_eq!(
        our_values(&p.pairs[0]),
        vec![("first_name".into(), s("Ann"))]
    );
    assert!(
        p.pairs[0]
            .crm
            .as_ref()
            .unwrap()
            .values
            .iter()
            .all(|v| v.provenance.rule == Rule::FirstSync)
    );
}

#[test]
fn a_value_map_translates_both_ways() {
    let mut w = linked();
    w.mapping
        .push(
            MappingEntry::new("lifecycle_stage", SObject::Lead, "Status", Direction::Both)
                .with_value_map(ValueMap::new(&[
                    ("lead", "Open - Not Contacted"),
                    ("sql", "Working - Contacted"),
                ])),
        )
        .unwrap();
    w.edit_ours("c1", "lifecycle_stage", Some("lead"), 10);
    w.sync(11);
    assert_eq!(
        w.record("00Q1").value("Status").as_deref(),
        Some("Open - Not Contacted")
    );
    assert!(w.plan().is_empty());
    w.edit_org("00Q1", "Status", Some("Working - Contacted"), 20);
    w.sync(21);
    assert_eq!(
        w.contact("c1").value("lifecycle_stage").as_deref(),
        Some("sql")
    );
    assert!(w.plan().is_empty());
}

#[test]
fn an_incremental_run_needs_only_the_changed_records() {
    let mut w = linked();
    w.edit_ours("c1", "phone", Some("2"), 10);
    // The org record did not change: it is not in the input; its base stands in for it.
    let input = SyncInput {
        contacts: vec![w.contact("c1").clone()],
        records: vec![],
        links: vec![w.link_of("c1").unwrap().clone()],
    };
    let p = plan(&w.mapping, &w.config, &input, &RunId::from("r"));
    assert_eq!(crm_values(&p.pairs[0]), vec![("Phone".into(), s("2"))]);
    let via_snapshot = w.snap.incremental_input(
        &BTreeSet::from([ContactId::from("c1")]),
        &BTreeSet::new(),
        DuplicateMode::LinkOldest,
    );
    assert_eq!(
        via_snapshot, input,
        "an unchanged Lead is not read from the org"
    );
    // Once our email changes, the Lead and every holder of the new email come along.
    w.snap
        .records
        .insert("00Q2".into(), lead("00Q2", "b@x.io", &[], 3));
    w.edit_ours("c1", "email", Some("b@x.io"), 11);
    let via_snapshot = w.snap.incremental_input(
        &BTreeSet::from([ContactId::from("c1")]),
        &BTreeSet::new(),
        DuplicateMode::LinkOldest,
    );
    let ids: Vec<&str> = via_snapshot.records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["00Q1", "00Q2"]);
}

#[test]
fn a_failed_update_keeps_the_old_base_so_the_next_run_retries() {
    let mut w = linked();
    w.edit_ours("c1", "phone", Some("2"), 10);
    let p = w.plan();
    let link = p.pairs[0]
        .link_after(w.link_of("c1"), "c1".into(), "00Q1".into(), false, true)
        .unwrap();
    assert_eq!(
        link.base["phone"],
        w.link_of("c1").unwrap().base["phone"],
        "the old base"
    );
    assert_eq!(link.base["phone"].ours, s("1"));
    w.snap.links.insert("c1".into(), link);
    assert_eq!(
        crm_values(&w.plan().pairs[0]),
        vec![("Phone".into(), s("2"))]
    );
    // A failed create stores no link at all.
    let mut w = World::new(
        vec![ours(
            "c9",
            "z@x.io",
            &[("last_name", "Z"), ("company", "Z")],
        )],
        vec![],
    );
    let p = w.plan();
    assert_eq!(
        p.pairs[0].link_after(None, "c9".into(), String::new(), false, true),
        None
    );
    w.sync(1);
    assert!(w.link_of("c9").is_some());
}

#[test]
fn a_plan_is_serializable_for_the_dry_run_preview() {
    let mut w = linked();
    w.edit_ours("c1", "phone", Some("ours"), 20);
    w.edit_org("00Q1", "Phone", Some("theirs"), 15);
    w.snap.contacts.insert("c2".into(), ours("c2", "", &[]));
    let p = w.plan();
    let json = serde_json::to_string_pretty(&p).unwrap();
    assert!(
        json.contains("\"ConflictResolved\": \"MostRecent\""),
        "the rule is in the preview: {json}"
    );
    assert!(
        json.contains("\"theirs_changed_at\": \"2026-"),
        "times are RFC 3339: {json}"
    );
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), p);
}

#[test]
fn a_mapping_change_is_visible_in_the_plan_hash_r_sync_5() {
    let mut w = linked();
    let before = w.plan().mapping_hash;
    w.mapping
        .set_direction("phone", SObject::Lead, Direction::ToCrm)
        .unwrap();
    assert_ne!(w.plan().mapping_hash, before);
}

#[test]
fn two_contacts_here_never_end_up_with_one_email() {
    let mut w = World::new(
        vec![
            ours("c1", "a@x.io", &[("last_name", "A"), ("company", "A")]),
            ours("c2", "b@x.io", &[("last_name", "B"), ("company", "B")]),
        ],
        vec![],
    );
    w.sync(1);
    // In the org, c1's Lead takes c2's email: the link holds, the email stays here.
    let l1 = w.link_of("c1").unwrap().org_id.clone();
    w.edit_org(&l1, "Email", Some("B@x.io"), 5);
    let p = w.sync(6);
    assert_eq!(
        p.pairs[0].held,
        vec![Held {
            attribute: "email".into(),
            reason: HoldReason::EmailTakenHere {
                contact_id: "c2".into()
            }
        }]
    );
    assert_eq!(w.contact("c1").email.as_deref(), Some("a@x.io"));
    assert!(w.plan().is_empty());
}

#[test]
fn a_direction_change_is_applied_by_the_full_resync_r_sync_5() {
    let mut w = linked();
    // job_title flows to the CRM only: the org's own title stays there.
    w.edit_ours("c1", "job_title", Some("IT"), 5);
    w.sync(6);
    w.edit_org("00Q1", "Title", Some("CTO"), 7);
    w.sync(8);
    assert_eq!(w.contact("c1").value("job_title").as_deref(), Some("IT"));
    // Both ways now: the full resync treats the field as never synced, and the most recent wins.
    w.mapping
        .set_direction("job_title", SObject::Lead, Direction::Both)
        .unwrap();
    let p = w.sync(9);
    assert_eq!(p.pairs[0].conflicts.len(), 1);
    assert_eq!(w.contact("c1").value("job_title").as_deref(), Some("CTO"));
    assert!(w.plan().is_empty());
}
