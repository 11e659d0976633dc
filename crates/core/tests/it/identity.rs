//! R-SYNC-1, R-SYNC-2, R-SYNC-3, R-SYNC-6, R-FIELD-2: who is who, what flows, what never does.

use crate::helpers::*;
use lb_core::*;

fn full_lead(id: &str, email: &str, created: i64) -> OrgRecord {
    lead(
        id,
        email,
        &[("LastName", "Doe"), ("Company", "Acme")],
        created,
    )
}

#[test]
fn records_without_email_are_skipped_with_the_reason_on_both_sides_r_sync_1() {
    let mut blank = ours("c1", "", &[("last_name", "Doe"), ("company", "Acme")]);
    blank.email = None;
    let w = World::new(
        vec![blank, ours("c2", "not-an-email", &[])],
        vec![
            lead("00Q1", "", &[("LastName", "X")], 0),
            lead("00Q2", "x@", &[], 0),
        ],
    );
    let p = w.plan();
    assert_eq!(p.pairs, vec![]);
    assert_eq!(
        skip_reasons(&p),
        vec![
            ("c1".into(), SkipReason::NoEmail),
            ("c2".into(), SkipReason::InvalidEmail("not-an-email".into())),
            ("00Q1".into(), SkipReason::NoEmail),
            ("00Q2".into(), SkipReason::InvalidEmail("x@".into())),
        ]
    );
}

#[test]
fn emails_match_trimmed_and_case_insensitive_r_sync_1() {
    let w = World::new(
        vec![ours(
            "c1",
            "  Jane.Doe@Example.com ",
            &[("last_name", "Doe"), ("company", "Acme")],
        )],
        vec![full_lead("00Q1", "jane.doe@EXAMPLE.COM", 0)],
    );
    let p = w.plan();
    assert_eq!(p.pairs.len(), 1);
    let pair = &p.pairs[0];
    assert_eq!(
        (pair.contact_id.clone(), pair.org_id.as_deref(), &pair.link),
        (Some("c1".into()), Some("00Q1"), &LinkChange::Matched)
    );
    assert_eq!(
        pair.crm, None,
        "the same email in another case is not a change"
    );
}

#[test]
fn a_new_contact_here_creates_a_lead_with_exact_values_and_provenance() {
    let mut w = World::new(
        vec![ours(
            "c1",
            "jane@x.io",
            &[
                ("first_name", "Jane"),
                ("last_name", "Doe"),
                ("company", "Acme"),
                ("behaviour_score", "42"),
            ],
        )],
        vec![],
    );
    let p = w.sync(10);
    assert_eq!(p.pairs.len(), 1);
    let pair = &p.pairs[0];
    assert_eq!(pair.crm.as_ref().unwrap().op, WriteOp::Create);
    assert_eq!(
        crm_values(pair),
        vec![
            ("Email".into(), s("jane@x.io")),
            ("FirstName".into(), s("Jane")),
            ("LastName".into(), s("Doe")),
            ("Company".into(), s("Acme")),
            ("score__c".into(), s("42")),
        ]
    );
    for v in &pair.crm.as_ref().unwrap().values {
        assert_eq!(
            v.provenance,
            Provenance {
                side: Side::Marketing,
                run: RunId::from("run-1"),
                rule: Rule::Created
            }
        );
    }
    let link = w.link_of("c1").unwrap();
    assert_eq!(
        (link.org_id.as_str(), link.object),
        ("00Qnew1", SObject::Lead)
    );
    assert!(
        w.plan().is_empty(),
        "planning again after applying gives an empty plan"
    );
}

#[test]
fn a_new_lead_in_the_org_creates_one_contact_here_r_sync_2() {
    let mut w = World::new(
        vec![],
        vec![lead(
            "00Q1",
            "Bob@X.io",
            &[
                ("LastName", "Martin"),
                ("Company", "Initech"),
                ("Title", "CEO"),
            ],
            0,
        )],
    );
    let p = w.sync(10);
    assert_eq!(p.summary().marketing_creates, 1);
    assert_eq!(
        our_values(&p.pairs[0]),
        vec![
            ("email".into(), s("bob@x.io")),
            ("last_name".into(), s("Martin")),
            ("company".into(), s("Initech"))
        ]
    );
    let c = w.contact("new-c1");
    assert_eq!(c.email.as_deref(), Some("bob@x.io"));
    assert_eq!(
        c.value("job_title"),
        None,
        "Title flows only to the CRM by default"
    );
    assert!(w.plan().is_empty());
}

#[test]
fn a_lead_without_company_is_not_created_unless_the_user_set_a_fallback() {
    let mut w = World::new(vec![ours("c1", "a@x.io", &[("last_name", "Doe")])], vec![]);
    assert_eq!(
        skip_reasons(&w.plan()),
        vec![(
            "c1".into(),
            SkipReason::MissingRequiredField {
                field: "Company".into()
            }
        )]
    );

    w.config.lead_required[1].fallback = Some("Individual".into());
    let p = w.sync(1);
    let fallback = p.pairs[0]
        .crm
        .as_ref()
        .unwrap()
        .values
        .iter()
        .find(|v| v.field == "Company")
        .unwrap();
    assert_eq!(
        (fallback.value.as_deref(), fallback.provenance.rule),
        (Some("Individual"), Rule::RequiredFallback)
    );
    // The fallback never flows back into our contact.
    assert!(w.plan().is_empty());
    assert_eq!(w.contact("c1").value("company"), None);
}

#[test]
fn a_link_survives_an_email_change_on_either_side() {
    let mut w = World::new(
        vec![ours(
            "c1",
            "old@x.io",
            &[("last_name", "Doe"), ("company", "Acme")],
        )],
        vec![full_lead("00Q1", "old@x.io", 0)],
    );
    w.sync(1);
    w.edit_org("00Q1", "Email", Some("New@X.io"), 5);
    let p = w.sync(6);
    assert_eq!(p.summary().marketing_updates, 1);
    assert_eq!(
        our_values(&p.pairs[0]),
        vec![("email".into(), s("new@x.io"))]
    );
    assert_eq!(w.snap.contacts.len(), 1, "no second contact");

    w.edit_ours("c1", "email", Some("third@x.io"), 10);
    let p = w.sync(11);
    assert_eq!(
        crm_values(&p.pairs[0]),
        vec![("Email".into(), s("third@x.io"))]
    );
    assert_eq!(w.snap.records.len(), 1, "no second Lead");
    assert_eq!(w.link_of("c1").unwrap().org_id, "00Q1");
    assert!(w.plan().is_empty());
}

#[test]
fn duplicate_org_emails_link_the_oldest_and_report_the_group_r_sync_3() {
    let w = World::new(
        vec![],
        vec![
            full_lead("00Q9", "dup@x.io", 5),
            full_lead("00Q3", "DUP@x.io", 1),
            full_lead("00Q2", "dup@x.io", 1),
        ],
    );
    let p = w.plan();
    assert_eq!(
        p.summary().marketing_creates,
        1,
        "two org records with one email make one contact here"
    );
    assert_eq!(
        p.pairs[0].org_id.as_deref(),
        Some("00Q2"),
        "oldest CreatedDate, then smallest Id"
    );
    let g = &p.duplicate_groups[0];
    assert_eq!(g.email.as_str(), "dup@x.io");
    assert_eq!(
        g.members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["00Q2", "00Q3", "00Q9"]
    );
    assert_eq!(
        (g.primary.as_str(), g.mode),
        ("00Q2", DuplicateMode::LinkOldest)
    );
    assert_eq!(g.seed_updates, vec![]);
    assert_eq!(
        skip_reasons(&p),
        vec![
            (
                "00Q3".into(),
                SkipReason::DuplicateInOrg {
                    primary: "00Q2".into()
                }
            ),
            (
                "00Q9".into(),
                SkipReason::DuplicateInOrg {
                    primary: "00Q2".into()
                }
            ),
        ]
    );
}

#[test]
fn seed_mode_gives_the_other_duplicates_the_first_records_data_r_sync_3() {
    let mut w = World::new(
        vec![],
        vec![
            lead(
                "00Q1",
                "dup@x.io",
                &[("LastName", "Doe"), ("Company", "Acme"), ("Phone", "+33 1")],
                1,
            ),
            lead(
                "00Q2",
                "dup@x.io",
                &[("LastName", "Doh"), ("Company", "Acme")],
                2,
            ),
        ],
    );
    w.config.duplicates = DuplicateMode::Seed;
    let p = w.sync(3);
    let seed = &p.duplicate_groups[0].seed_updates;
    assert_eq!(seed.len(), 1);
    assert_eq!(seed[0].lead_id, "00Q2");
    let copied: Vec<_> = seed[0]
        .values
        .iter()
        .map(|v| (v.field.as_str(), v.value.as_deref(), v.provenance.rule))
        .collect();
    assert_eq!(
        copied,
        vec![
            ("LastName", Some("Doe"), Rule::DuplicateSeed),
            ("Phone", Some("+33 1"), Rule::DuplicateSeed)
        ]
    );
    assert_eq!(w.record("00Q2").value("LastName").as_deref(), Some("Doe"));
    assert!(w.plan().is_empty());
}

#[test]
fn an_email_that_is_an_org_contact_never_spawns_a_lead() {
    let w = World::new(
        vec![ours(
            "c1",
            "boss@x.io",
            &[("last_name", "Boss"), ("company", "Acme")],
        )],
        vec![org_contact(
            "003A",
            "boss@x.io",
            "no",
            &[("LastName", "Boss")],
            0,
        )],
    );
    let p = w.plan();
    assert_eq!(p.pairs, vec![]);
    assert_eq!(
        skip_reasons(&p),
        vec![(
            "c1".into(),
            SkipReason::EmailIsUnflaggedContact {
                org_id: "003A".into()
            }
        )]
    );

    // Flagged, the Contact is linked instead (and still never written to).
    let w = World::new(
        vec![ours(
            "c1",
            "boss@x.io",
            &[("last_name", "Boss"), ("company", "Acme")],
        )],
        vec![org_contact(
            "003A",
            "boss@x.io",
            "Oui",
            &[("LastName", "Boss")],
            0,
        )],
    );
    let p = w.plan();
    assert_eq!(
        (
            p.pairs[0].org_id.as_deref(),
            p.pairs[0].object,
            &p.pairs[0].link,
            &p.pairs[0].crm
        ),
        (Some("003A"), SObject::Contact, &LinkChange::Matched, &None)
    );
}

#[test]
fn only_contacts_flagged_yes_oui_or_true_are_imported_r_field_2() {
    let flags = ["yes", "OUI", " True ", "no", "non", "", "false"];
    let records: Vec<OrgRecord> = flags
        .iter()
        .enumerate()
        .map(|(i, f)| {
            org_contact(
                &format!("003{i}"),
                &format!("k{i}@x.io"),
                f,
                &[("LastName", "K")],
                0,
            )
        })
        .collect();
    let p = World::new(vec![], records).plan();
    let imported: Vec<_> = p.pairs.iter().map(|p| p.org_id.clone().unwrap()).collect();
    assert_eq!(imported, ["0030", "0031", "0032"]);
    let skipped: Vec<_> = p
        .skips
        .iter()
        .map(|s| (s.id.as_str(), s.reason.clone()))
        .collect();
    assert_eq!(
        skipped,
        ["0033", "0034", "0035", "0036"]
            .map(|id| (id, SkipReason::ContactNotFlagged))
            .to_vec()
    );
}

#[test]
fn contacts_flow_crm_to_marketing_only_and_are_never_written_r_sync_2() {
    let mut w = World::new(
        vec![],
        vec![org_contact(
            "003A",
            "k@x.io",
            "yes",
            &[("LastName", "Kay"), ("Phone", "1")],
            0,
        )],
    );
    w.sync(1);
    w.edit_ours("new-c1", "phone", Some("2"), 5);
    w.edit_ours("new-c1", "last_name", Some("Kai"), 5);
    let p = w.sync(6);
    assert!(
        p.writes_nothing(),
        "our edits never reach an org Contact: {p:?}"
    );
    assert!(w.plan().is_empty());
    assert_eq!(w.record("003A").value("Phone").as_deref(), Some("1"));

    w.edit_org("003A", "Phone", Some("3"), 10);
    let p = w.sync(11);
    assert_eq!(our_values(&p.pairs[0]), vec![("phone".into(), s("3"))]);
    assert_eq!(p.pairs[0].crm, None);
}

#[test]
fn a_contact_whose_flag_goes_to_no_stops_flowing_and_is_not_deleted_r_field_2() {
    let mut w = World::new(
        vec![],
        vec![org_contact(
            "003A",
            "k@x.io",
            "yes",
            &[("LastName", "Kay")],
            0,
        )],
    );
    w.sync(1);
    w.edit_org("003A", "sync_to_plezi__c", Some("no"), 5);
    w.edit_org("003A", "LastName", Some("Changed"), 5);
    let p = w.sync(6);
    assert_eq!(p.pairs, vec![]);
    assert_eq!(
        skip_reasons(&p),
        vec![("003A".into(), SkipReason::ContactNotFlagged)]
    );
    assert_eq!(
        w.contact("new-c1").value("last_name").as_deref(),
        Some("Kay")
    );
    assert!(
        w.link_of("new-c1").is_some(),
        "the link is kept for when the flag comes back"
    );
}

#[test]
fn leads_sync_both_ways_r_sync_2() {
    let mut w = World::new(
        vec![ours(
            "c1",
            "a@x.io",
            &[("last_name", "Doe"), ("company", "Acme")],
        )],
        vec![],
    );
    w.sync(1);
    w.edit_org("00Qnew1", "Company", Some("Globex"), 5);
    w.sync(6);
    assert_eq!(w.contact("c1").value("company").as_deref(), Some("Globex"));
    w.edit_ours("c1", "phone", Some("+1 555"), 8);
    w.sync(9);
    assert_eq!(
        w.record("00Qnew1").value("Phone").as_deref(),
        Some("+1 555")
    );
}

#[test]
fn a_converted_lead_is_followed_to_its_contact_r_sync_6() {
    let mut w = World::new(
        vec![ours(
            "c1",
            "a@x.io",
            &[("last_name", "Doe"), ("company", "Acme")],
        )],
        vec![full_lead("00Q1", "a@x.io", 0)],
    );
    w.sync(1);
    // Converting in Salesforce marks the Lead and creates a Contact (flagged by sales).
    w.edit_org("00Q1", "Phone", Some("9"), 5);
    w.snap.records.get_mut("00Q1").unwrap().is_converted = true;
    w.snap.records.get_mut("00Q1").unwrap().converted_contact_id = Some("003C".into());
    w.snap.records.insert(
        "003C".into(),
        org_contact(
            "003C",
            "a@x.io",
            "yes",
            &[("LastName", "Doe"), ("Phone", "9")],
            5,
        ),
    );
    let p = w.sync(6);
    assert_eq!(p.pairs.len(), 1);
    let pair = &p.pairs[0];
    assert_eq!(
        pair.link,
        LinkChange::FollowConversion {
            from_lead: "00Q1".into()
        }
    );
    assert_eq!(
        (pair.org_id.as_deref(), pair.object, &pair.crm),
        (Some("003C"), SObject::Contact, &None)
    );
    assert_eq!(our_values(pair), vec![("phone".into(), s("9"))]);
    assert_eq!(
        p.summary().marketing_creates,
        0,
        "no second contact from the new org Contact"
    );
    let link = w.link_of("c1").unwrap();
    assert_eq!(
        (link.org_id.as_str(), link.object),
        ("003C", SObject::Contact)
    );
    assert!(w.plan().is_empty());

    // Our later edits are not written to the converted Lead nor to the Contact.
    w.edit_ours("c1", "phone", Some("10"), 20);
    assert!(w.sync(21).writes_nothing());
    assert_eq!(w.record("003C").value("Phone").as_deref(), Some("9"));
}

#[test]
fn two_contacts_here_with_one_email_sync_once() {
    let w = World::new(
        vec![
            ours("c2", "a@x.io", &[("last_name", "B"), ("company", "B")]),
            ours("c1", "A@x.io", &[("last_name", "A"), ("company", "A")]),
        ],
        vec![],
    );
    let p = w.plan();
    assert_eq!(
        p.pairs
            .iter()
            .map(|p| p.contact_id.clone().unwrap().0)
            .collect::<Vec<_>>(),
        ["c1"]
    );
    assert_eq!(
        skip_reasons(&p),
        vec![(
            "c2".into(),
            SkipReason::DuplicateEmailHere { kept: "c1".into() }
        )]
    );
}

#[test]
fn a_lead_converted_into_a_contact_linked_elsewhere_is_reported_r_sync_6() {
    let mut w = World::new(
        vec![ours(
            "c1",
            "a@x.io",
            &[("last_name", "A"), ("company", "A")],
        )],
        vec![
            full_lead("00Q1", "a@x.io", 0),
            org_contact("003K", "k@x.io", "yes", &[("LastName", "K")], 0),
        ],
    );
    w.sync(1);
    let c2 = w
        .snap
        .links
        .values()
        .find(|l| l.org_id == "003K")
        .unwrap()
        .contact_id
        .clone();
    // Sales converts c1's Lead into the Contact that c2 already follows.
    let lead = w.snap.records.get_mut("00Q1").unwrap();
    lead.is_converted = true;
    lead.converted_contact_id = Some("003K".into());
    let p = w.sync(2);
    assert_eq!(
        skip_reasons(&p),
        vec![(
            "00Q1".into(),
            SkipReason::ConvertedContactLinkedElsewhere {
                contact_id: "003K".into(),
                linked_to: c2
            }
        )]
    );
    assert_eq!(
        w.link_of("c1").unwrap().org_id,
        "00Q1",
        "the link stays until someone decides"
    );
    assert!(p.writes_nothing());
}

#[test]
fn conflicting_links_in_the_input_are_reported_not_guessed() {
    let mut w = World::new(
        vec![ours(
            "c1",
            "a@x.io",
            &[("last_name", "A"), ("company", "A")],
        )],
        vec![
            full_lead("00Q1", "a@x.io", 0),
            full_lead("00Q2", "b@x.io", 0),
        ],
    );
    w.sync(1);
    let mut input = w.snap.full_input();
    let mut second = input.links[0].clone();
    second.org_id = "00Q2".into();
    input.links.push(second);
    let p = plan(&w.mapping, &w.config, &input, &RunId::from("r"));
    assert_eq!(
        skip_reasons(&p),
        vec![(
            "00Q2".into(),
            SkipReason::ConflictingLink {
                other: "c1 ↔ 00Q1".into()
            }
        )]
    );
}
