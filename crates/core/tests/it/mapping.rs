//! R-MAP: the mapping, its validation against the describe, its hash.

use Direction::*;
use SObject::*;
use lb_core::validate::Toward;
use lb_core::*;

fn schema() -> OrgSchema {
    let mut s = OrgSchema::seed_org();
    s.objects
        .get_mut(&Lead)
        .unwrap()
        .push(OrgField::new("short__c", FieldType::String, Some(3)));
    s
}

fn catalog() -> Catalog {
    Catalog::standard()
        .with(AttributeDef::new(
            "budget",
            AttrKind::Integer {
                min: 0,
                max: 1_000_000,
            },
            None,
        ))
        .with(AttributeDef::new("birthday", AttrKind::Date, None))
}

#[test]
fn default_mapping_validates_cleanly_against_an_org_with_the_seed_fields() {
    let v = validate(
        &Mapping::default_mapping(),
        &Catalog::standard(),
        &OrgSchema::seed_org(),
    );
    assert_eq!(v.problems, vec![]);
}

#[test]
fn default_mapping_holds_the_seed_fields_r_field_1_3_4() {
    let m = Mapping::default_mapping();
    let to_crm = |attr: &str, field: &str| {
        let e = m
            .entry(attr, Lead)
            .unwrap_or_else(|| panic!("{attr} mapped"));
        assert_eq!((e.field.as_str(), e.direction), (field, ToCrm), "{attr}");
    };
    to_crm("page_url", "plezi_url__c");
    to_crm("behaviour_score", "score__c");
    to_crm("state", "status__c");
    to_crm("campaign", "campaign__c");
    to_crm("created_on", "lead_creation_date__c");
    assert_eq!(m.entry("email", Lead).unwrap().direction, Both);
    assert_eq!(m.entry("email", Contact).unwrap().direction, ToMarketing);
}

#[test]
fn validation_lists_every_problem_at_once_r_map_7() {
    let mut m = Mapping::default_mapping();
    m.push(MappingEntry::new("source", Lead, "Source__c", Both))
        .unwrap();
    m.push(MappingEntry::new("lifecycle_stage", Lead, "Status", Both))
        .unwrap();
    m.push(MappingEntry::new("budget", Lead, "short__c", ToCrm))
        .unwrap();
    m.push(MappingEntry::new("birthday", Lead, "IsConverted", ToCrm))
        .unwrap();
    m.push(MappingEntry::new("medium", Contact, "Title", ToCrm))
        .unwrap();
    m.push(MappingEntry::new(
        "job_title",
        Contact,
        "Title",
        ToMarketing,
    ))
    .unwrap();
    m.push(MappingEntry::new("favourite_colour", Lead, "Title", ToCrm))
        .unwrap();
    // Bypass the API's lock on purpose, as a mapping read from an old config could.
    m.entries
        .iter_mut()
        .find(|e| e.attribute == "state")
        .unwrap()
        .direction = Both;
    m.entries
        .iter_mut()
        .find(|e| e.attribute == "first_name" && e.object == Lead)
        .unwrap()
        .direction = ToCrm;

    let v = validate(&m, &catalog(), &schema());
    let got: Vec<(Severity, Option<usize>, &str, ProblemKind)> = v
        .problems
        .iter()
        .map(|p| (p.severity, p.entry, p.attribute.as_str(), p.kind.clone()))
        .collect();
    let e = Severity::Error;
    let w = Severity::Warning;
    let status_values: Vec<String> = [
        "Open - Not Contacted",
        "Working - Contacted",
        "Closed - Converted",
        "Closed - Not Converted",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(
        got,
        vec![
            (
                e,
                Some(2),
                "first_name",
                ProblemKind::Locked {
                    attribute: "first_name".into(),
                    object: Lead,
                    field: "FirstName".into(),
                    expected: Both
                }
            ),
            (
                e,
                Some(12),
                "state",
                ProblemKind::OneWayOnly {
                    attribute: "state".into()
                }
            ),
            // status__c is free text: flowing back, it would fill our picklist (R-MAP-5).
            (w, Some(12), "state", ProblemKind::FreeTextIntoPicklist),
            (
                e,
                Some(15),
                "source",
                ProblemKind::MissingField {
                    object: Lead,
                    field: "Source__c".into()
                }
            ),
            (
                e,
                Some(16),
                "lifecycle_stage",
                ProblemKind::PicklistNotCovered {
                    toward: Toward::Crm,
                    values: ["lead", "mql", "sql", "customer"]
                        .map(String::from)
                        .to_vec()
                }
            ),
            (
                e,
                Some(16),
                "lifecycle_stage",
                ProblemKind::PicklistNotCovered {
                    toward: Toward::Marketing,
                    values: status_values
                }
            ),
            (
                e,
                Some(17),
                "budget",
                ProblemKind::LengthTooShort {
                    needed: 7,
                    available: 3
                }
            ),
            (
                e,
                Some(18),
                "birthday",
                ProblemKind::TypeMismatch {
                    ours: AttrKind::Date,
                    theirs: FieldType::Boolean
                }
            ),
            (e, Some(19), "medium", ProblemKind::ContactIsReadOnly),
            (w, Some(20), "job_title", ProblemKind::FreeTextIntoPicklist),
            (
                e,
                Some(21),
                "favourite_colour",
                ProblemKind::UnknownAttribute("favourite_colour".into())
            ),
        ]
    );
    assert!(!v.is_ok());
}

#[test]
fn behaviour_score_and_state_may_only_flow_to_the_crm_r_map_3() {
    for attr in ["behaviour_score", "state"] {
        for dir in [Both, ToMarketing] {
            let mut m = Mapping::default_mapping();
            m.set_direction(attr, Lead, dir).unwrap();
            let v = validate(&m, &Catalog::standard(), &OrgSchema::seed_org());
            let kinds: Vec<_> = v.errors().map(|p| p.kind.clone()).collect();
            assert_eq!(
                kinds,
                vec![ProblemKind::OneWayOnly {
                    attribute: attr.into()
                }],
                "{attr} {dir:?}"
            );
        }
    }
}

#[test]
fn mandatory_attributes_are_listed_but_locked_r_map_2() {
    let mut m = Mapping::default_mapping();
    for attr in ["email", "first_name", "last_name", "company"] {
        assert!(m.entry(attr, Lead).is_some(), "{attr} is listed");
        assert_eq!(
            m.set_direction(attr, Lead, Off),
            Err(MappingError::Locked {
                attribute: attr.into(),
                object: Lead
            })
        );
        assert_eq!(
            m.remove(attr, Lead).unwrap_err(),
            MappingError::Locked {
                attribute: attr.into(),
                object: Lead
            }
        );
    }
    // Building a mapping without them is caught by validation.
    m.entries.retain(|e| e.attribute != "email");
    let v = validate(&m, &Catalog::standard(), &OrgSchema::seed_org());
    let locked: Vec<_> = v
        .errors()
        .map(|p| match &p.kind {
            ProblemKind::Locked {
                attribute, object, ..
            } => (attribute.clone(), *object),
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(
        locked,
        vec![("email".to_string(), Lead), ("email".to_string(), Contact)]
    );
}

#[test]
fn new_entries_appear_last_in_the_list_r_map_4() {
    let mut m = Mapping::default_mapping();
    let before = m.entries.len();
    m.push(MappingEntry::new("medium", Lead, "medium__c", ToCrm))
        .unwrap();
    m.push(MappingEntry::new("source", Lead, "LeadSource", ToCrm))
        .unwrap();
    assert_eq!(m.entries.len(), before + 2);
    assert_eq!(m.entries[before].attribute, "medium");
    assert_eq!(m.entries[before + 1].attribute, "source");
    assert_eq!(
        m.push(MappingEntry::new("medium", Lead, "other__c", ToCrm)),
        Err(MappingError::DuplicateEntry {
            attribute: "medium".into(),
            object: Lead
        })
    );
}

#[test]
fn free_text_crm_field_flowing_to_us_is_allowed_but_warned_r_map_5() {
    let mut m = Mapping::default_mapping();
    m.set_direction("job_title", Lead, Both).unwrap();
    let v = validate(&m, &Catalog::standard(), &OrgSchema::seed_org());
    assert!(v.is_ok());
    let warnings: Vec<_> = v
        .warnings()
        .map(|p| (p.attribute.as_str(), p.kind.clone()))
        .collect();
    assert_eq!(
        warnings,
        vec![("job_title", ProblemKind::FreeTextIntoPicklist)]
    );
}

#[test]
fn value_map_covers_our_state_with_the_org_lead_status_r_map_6() {
    let mut m = Mapping::default_mapping();
    let map = ValueMap::new(&[
        ("new", "Open - Not Contacted"),
        ("engaged", "Working - Contacted"),
        ("accepted", "Closed - Converted"),
    ]);
    m.push(MappingEntry::new("state", Lead, "Status", ToCrm).with_value_map(map.clone()))
        .unwrap_err();
    // `state` already maps to status__c; map it to Status instead.
    m.remove("state", Lead).unwrap();
    m.push(MappingEntry::new("state", Lead, "Status", ToCrm).with_value_map(map))
        .unwrap();
    let v = validate(&m, &Catalog::standard(), &OrgSchema::seed_org());
    let kinds: Vec<_> = v.problems.iter().map(|p| p.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![ProblemKind::PicklistNotCovered {
            toward: Toward::Crm,
            values: vec!["closed".into()]
        }]
    );
    let e = m.entry("state", Lead).unwrap();
    assert_eq!(
        e.to_crm(&Some("Engaged".into())),
        Some("Working - Contacted".into())
    );
    assert_eq!(
        e.to_marketing(&Some("Open - Not Contacted".into())),
        Some("new".into())
    );
}

#[test]
fn a_field_the_integration_user_cannot_write_is_an_error() {
    let mut s = OrgSchema::seed_org();
    s.objects
        .get_mut(&Lead)
        .unwrap()
        .iter_mut()
        .find(|f| f.name == "campaign__c")
        .unwrap()
        .updateable = false;
    s.objects
        .get_mut(&Lead)
        .unwrap()
        .iter_mut()
        .find(|f| f.name == "score__c")
        .unwrap()
        .createable = false;
    s.objects
        .get_mut(&Lead)
        .unwrap()
        .iter_mut()
        .find(|f| f.name == "score__c")
        .unwrap()
        .updateable = false;
    let v = validate(&Mapping::default_mapping(), &Catalog::standard(), &s);
    let got: Vec<_> = v
        .problems
        .iter()
        .map(|p| (p.severity, p.attribute.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Severity::Error, "behaviour_score"),
            (Severity::Warning, "campaign")
        ]
    );
}

#[test]
fn mapping_hash_changes_with_what_flows_not_with_list_order_r_sync_5() {
    let m = Mapping::default_mapping();
    let h = m.hash();
    assert_eq!(h.len(), 64);
    assert_eq!(h, Mapping::default_mapping().hash(), "stable across calls");
    // Pinned: a change here makes every installation run a full resync (R-SYNC-5).
    assert_eq!(
        h,
        "cc79ca507f797d969380eb97785e2482c2c7027895a96794e87db5f25b1aacc6"
    );

    let mut reordered = m.clone();
    reordered.entries.reverse();
    assert_eq!(reordered.hash(), h);

    let mut policy = m.clone();
    policy
        .entries
        .iter_mut()
        .find(|e| e.attribute == "phone")
        .unwrap()
        .conflict = ConflictPolicy::CrmWins;
    assert_eq!(
        policy.hash(),
        h,
        "a conflict policy cannot make old data flow"
    );

    let mut dir = m.clone();
    dir.set_direction("phone", Lead, ToCrm).unwrap();
    assert_ne!(dir.hash(), h);

    let mut added = m.clone();
    added
        .push(MappingEntry::new("medium", Lead, "medium__c", ToCrm))
        .unwrap();
    assert_ne!(added.hash(), h);

    let mut mapped = m.clone();
    mapped
        .entries
        .iter_mut()
        .find(|e| e.attribute == "campaign")
        .unwrap()
        .value_map = Some(ValueMap::new(&[("a", "b")]));
    assert_ne!(mapped.hash(), h);
}

#[test]
fn mapping_round_trips_through_json() {
    let mut m = Mapping::default_mapping();
    m.push(
        MappingEntry::new("lifecycle_stage", Lead, "Status", ToCrm)
            .with_value_map(ValueMap::new(&[("lead", "Open - Not Contacted")])),
    )
    .unwrap();
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<Mapping>(&json).unwrap(), m);
}

#[test]
fn the_schema_is_read_from_the_orgs_describe_body() {
    let describe = serde_json::json!({
        "name": "Lead",
        "fields": [
            {"name": "Id", "type": "id", "length": 18, "createable": false, "updateable": false, "picklistValues": []},
            {"name": "Status", "type": "picklist", "length": 255, "createable": true, "updateable": true,
             "picklistValues": [
                {"active": true, "value": "Open - Not Contacted", "label": "Open"},
                {"active": false, "value": "Old", "label": "Old"}
             ]},
            {"name": "score__c", "type": "string", "length": 10, "createable": true, "updateable": true}
        ]
    });
    let mut schema = OrgSchema::default();
    schema.add_describe(Lead, &describe).unwrap();
    let status = schema.field(Lead, "status").unwrap();
    assert_eq!(
        (status.kind.clone(), status.picklist_values.clone()),
        (
            FieldType::Picklist,
            vec!["Open - Not Contacted".to_string()]
        )
    );
    let score = schema.field(Lead, "Score__C").unwrap();
    assert_eq!((score.length, score.createable), (Some(10), true));
    assert!(!schema.field(Lead, "Id").unwrap().updateable);
    assert_eq!(
        schema.add_describe(Contact, &serde_json::json!({"name": "Contact"})),
        Err(DescribeError::NoFields(Contact))
    );
}
