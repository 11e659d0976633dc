use lb_store::{
    ChangeCursor, ContactId, ContactQuery, DELETED_FIELD, FieldKind, LifecycleStage,
    NewCustomField, Origin, Store, StoreError,
};
use serde_json::json;

use crate::both_backends;
use crate::support::{input, jane, problems};

both_backends!(
    created_contact_has_normalised_email_defaults_and_a_change_per_field,
    |store| {
        let c = store.create_contact(&jane(), Origin::User).await.unwrap();
        assert_eq!(c.email.as_str(), "jane.doe@example.com");
        assert_eq!(c.first_name.as_deref(), Some("Jane"));
        assert_eq!(c.behaviour_score, 0);
        assert_eq!(c.state, "new");
        assert_eq!(c.lifecycle_stage, LifecycleStage::Lead);
        assert_eq!(c.stage_reached.lead, Some(c.created_at));
        assert_eq!(store.contact(c.id).await.unwrap(), c);
        let fields: Vec<(String, Option<String>, Origin)> = store
            .contact_history(c.id)
            .await
            .unwrap()
            .into_iter()
            .map(|ch| (ch.field, ch.value, ch.origin))
            .collect();
        let mut names: Vec<&str> = fields.iter().map(|f| f.0.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "behaviour_score",
                "company",
                "created_at",
                "email",
                "first_name",
                "last_name",
                "lifecycle_stage",
                "state"
            ]
        );
        assert!(fields.iter().all(|f| f.2 == Origin::User));
    }
);

both_backends!(email_is_unique_whatever_its_case, |store| {
    let first = store.create_contact(&jane(), Origin::User).await.unwrap();
    let err = store
        .create_contact(
            &input(json!({"email": "JANE.DOE@example.com"})),
            Origin::Api,
        )
        .await
        .unwrap_err();
    match err {
        StoreError::EmailTaken { email, existing } => {
            assert_eq!(email, "jane.doe@example.com");
            assert_eq!(existing, first.id);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.count_contacts().await.unwrap(), 1);
});

both_backends!(bad_input_lists_every_problem_and_writes_nothing, |store| {
    let err = store
        .create_contact(
            &input(json!({
                "email": "not-an-email",
                "behaviour_score": 51,
                "state": "frozen",
                "shoe_size": "42",
                "company": "x".repeat(256),
                "lifecycle_stage": "prospect",
            })),
            Origin::Api,
        )
        .await
        .unwrap_err();
    let fields: Vec<String> = problems(err).into_iter().map(|p| p.0).collect();
    assert_eq!(
        fields,
        [
            "behaviour_score",
            "company",
            "email",
            "lifecycle_stage",
            "shoe_size",
            "state"
        ]
    );
    assert_eq!(store.count_contacts().await.unwrap(), 0);
    assert!(
        store
            .changes_since(ChangeCursor::START, 100)
            .await
            .unwrap()
            .is_empty()
    );
});

both_backends!(
    update_records_only_changed_fields_with_their_origin,
    |store| {
        let c = store.create_contact(&jane(), Origin::User).await.unwrap();
        let before = store.latest_change_cursor().await.unwrap();
        let updated = store
        .update_contact(
            c.id,
            &input(json!({"first_name": "Jane", "company": null, "behaviour_score": "12", "state": "Engaged"})),
            Origin::Sync,
        )
        .await
        .unwrap();
        assert_eq!(updated.company, None);
        assert_eq!(updated.behaviour_score, 12);
        assert_eq!(updated.state, "engaged");
        let changes: Vec<(String, Option<String>, Origin)> = store
            .changes_since(before, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|ch| (ch.field, ch.value, ch.origin))
            .collect();
        assert_eq!(
            changes,
            [
                ("company".to_owned(), None, Origin::Sync),
                (
                    "behaviour_score".to_owned(),
                    Some("12".to_owned()),
                    Origin::Sync
                ),
                ("state".to_owned(), Some("engaged".to_owned()), Origin::Sync),
            ]
        );
        let last = store.last_changes(c.id).await.unwrap();
        assert_eq!(last["company"].origin, Origin::Sync);
        assert_eq!(last["first_name"].origin, Origin::User);
        assert!(last["company"].changed_at >= last["first_name"].changed_at);
        // Writing the same values again changes nothing and records nothing.
        let cursor = store.latest_change_cursor().await.unwrap();
        store
            .update_contact(c.id, &input(json!({"behaviour_score": 12})), Origin::Api)
            .await
            .unwrap();
        assert_eq!(store.latest_change_cursor().await.unwrap(), cursor);
    }
);

both_backends!(
    lifecycle_stage_keeps_the_date_each_stage_was_reached,
    |store| {
        let c = store.create_contact(&jane(), Origin::User).await.unwrap();
        let mql = store
            .update_contact(
                c.id,
                &input(json!({"lifecycle_stage": "MQL"})),
                Origin::User,
            )
            .await
            .unwrap();
        assert_eq!(mql.lifecycle_stage, LifecycleStage::Mql);
        assert_eq!(mql.stage_reached.lead, Some(c.created_at));
        assert!(mql.stage_reached.mql.is_some_and(|t| t >= c.created_at));
        assert_eq!(mql.stage_reached.sql, None);
        let back = store
            .update_contact(
                c.id,
                &input(json!({"lifecycle_stage": "lead"})),
                Origin::User,
            )
            .await
            .unwrap();
        assert_eq!(
            back.stage_reached.mql, mql.stage_reached.mql,
            "a reached stage keeps its date"
        );
    }
);

both_backends!(
    custom_fields_of_every_kind_are_checked_and_canonical,
    |store| {
        for (name, kind, options) in [
            ("budget", FieldKind::Number, vec![]),
            ("renewal", FieldKind::Date, vec![]),
            ("newsletter", FieldKind::Boolean, vec![]),
            (
                "industry",
                FieldKind::Picklist,
                vec!["Retail".to_owned(), "Banking".to_owned()],
            ),
            ("notes", FieldKind::Text, vec![]),
        ] {
            store
                .add_custom_field(&NewCustomField {
                    name: name.into(),
                    label: None,
                    kind,
                    options,
                })
                .await
                .unwrap();
        }
        let names: Vec<String> = store
            .custom_fields()
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(
            names,
            ["budget", "renewal", "newsletter", "industry", "notes"],
            "new fields come last"
        );
        let mut jane = jane();
        jane.extend(input(json!({
        "budget": "1500.0", "renewal": "2027-01-31", "newsletter": "oui", "industry": "banking", "notes": "met at expo"
    })));
        let c = store.create_contact(&jane, Origin::User).await.unwrap();
        assert_eq!(c.value("budget").as_deref(), Some("1500"));
        assert_eq!(c.value("renewal").as_deref(), Some("2027-01-31"));
        assert_eq!(c.value("newsletter").as_deref(), Some("true"));
        assert_eq!(c.value("industry").as_deref(), Some("Banking"));
        let err = store
        .update_contact(
            c.id,
            &input(json!({"budget": "lots", "renewal": "31/01/2027", "newsletter": "maybe", "industry": "Mining"})),
            Origin::User,
        )
        .await
        .unwrap_err();
        assert_eq!(
            problems(err),
            [
                ("budget".to_owned(), "'lots' is not a number".to_owned()),
                (
                    "industry".to_owned(),
                    "'Mining' is not one of: Retail, Banking".to_owned()
                ),
                (
                    "newsletter".to_owned(),
                    "'maybe' is not a boolean (true/false, yes/no)".to_owned()
                ),
                (
                    "renewal".to_owned(),
                    "'31/01/2027' is not a date (YYYY-MM-DD)".to_owned()
                ),
            ]
        );
        let clash = store
            .add_custom_field(&NewCustomField {
                name: "company".into(),
                label: None,
                kind: FieldKind::Text,
                options: vec![],
            })
            .await
            .unwrap_err();
        assert_eq!(problems(clash)[0].0, "name");
        let twice = store
            .add_custom_field(&NewCustomField {
                name: "budget".into(),
                label: None,
                kind: FieldKind::Text,
                options: vec![],
            })
            .await
            .unwrap_err();
        assert!(
            matches!(twice, StoreError::AlreadyExists { .. }),
            "{twice:?}"
        );
    }
);

both_backends!(states_are_configurable, |store| {
    assert_eq!(
        store.states().await.unwrap(),
        ["new", "engaged", "accepted", "closed"]
    );
    let c = store.create_contact(&jane(), Origin::User).await.unwrap();
    let err = store
        .update_contact(c.id, &input(json!({"state": "nurturing"})), Origin::User)
        .await
        .unwrap_err();
    assert_eq!(problems(err)[0].0, "state");
    assert_eq!(
        store.add_state("nurturing").await.unwrap(),
        ["new", "engaged", "accepted", "closed", "nurturing"]
    );
    let c = store
        .update_contact(c.id, &input(json!({"state": "nurturing"})), Origin::User)
        .await
        .unwrap();
    assert_eq!(c.state, "nurturing");
});

both_backends!(
    changes_since_pages_through_the_log_including_deletions,
    |store| {
        let a = store.create_contact(&jane(), Origin::User).await.unwrap();
        let b = store
            .create_contact(&input(json!({"email": "bob@example.com"})), Origin::Api)
            .await
            .unwrap();
        store.delete_contact(a.id, Origin::User).await.unwrap();
        let mut cursor = ChangeCursor::START;
        let mut seen = Vec::new();
        loop {
            let page = store.changes_since(cursor, 3).await.unwrap();
            let Some(last) = page.last() else { break };
            cursor = ChangeCursor(last.seq);
            seen.extend(page);
        }
        assert!(seen.windows(2).all(|w| w[0].seq <= w[1].seq));
        let last = seen.last().unwrap();
        assert_eq!(
            (last.contact_id, last.field.as_str()),
            (a.id, DELETED_FIELD)
        );
        assert!(
            seen.iter()
                .any(|c| c.contact_id == b.id && c.field == "email")
        );
        assert!(matches!(
            store.contact(a.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.delete_contact(ContactId(999_999), Origin::User).await,
            Err(StoreError::NotFound { .. })
        ));
    }
);

both_backends!(listing_searches_and_pages_by_id, |store| {
    for i in 0..7 {
        let company = if i % 2 == 0 { "Acme 100%" } else { "Globex" };
        store
            .create_contact(
                &input(json!({"email": format!("p{i}@example.com"), "company": company})),
                Origin::Import,
            )
            .await
            .unwrap();
    }
    let mut query = ContactQuery {
        search: Some("acme 100%".into()),
        limit: Some(2),
        ..Default::default()
    };
    let mut emails = Vec::new();
    loop {
        let page = store.list_contacts(&query).await.unwrap();
        emails.extend(page.contacts.iter().map(|c| c.email.to_string()));
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        emails,
        [
            "p0@example.com",
            "p2@example.com",
            "p4@example.com",
            "p6@example.com"
        ]
    );
    let none = store
        .list_contacts(&ContactQuery {
            search: Some("100_".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.contacts.is_empty(), "'_' is literal, not a wildcard");
});

both_backends!(upsert_updates_by_email_and_emits_events, |store| {
    let mut events = store.subscribe();
    let (c, created) = store.upsert_contact(&jane(), Origin::Api).await.unwrap();
    assert!(created);
    let (again, created) = store
        .upsert_contact(
            &input(json!({"email": "jane.doe@EXAMPLE.com", "phone": "+33 1 23 45 67 89"})),
            Origin::Api,
        )
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, c.id);
    assert_eq!(again.first_name.as_deref(), Some("Jane"));
    assert_eq!(again.phone.as_deref(), Some("+33 1 23 45 67 89"));
    for _ in 0..2 {
        assert_eq!(
            events.recv().await.unwrap(),
            lb_store::ContactEvent::Changed {
                contact_id: c.id,
                origin: Origin::Api
            }
        );
    }
});

#[tokio::test]
async fn sqlite_data_dir_is_created_and_reopened_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let db = lb_store::Database::in_data_dir(&data);
    let store = Store::open(&db).await.unwrap();
    store.create_contact(&jane(), Origin::User).await.unwrap();
    store.close().await;
    assert!(data.join("leadbridge.db").is_file());
    let again = Store::open(&db).await.unwrap();
    assert_eq!(again.count_contacts().await.unwrap(), 1);
}

#[test]
fn postgres_password_never_shows_in_debug() {
    let db = lb_store::Database::from_url("postgres://app:s3cret@db.local:5432/lb").unwrap();
    let shown = format!("{db:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("db.local"), "{shown}");
}

both_backends!(
    custom_fields_may_be_written_in_the_shape_they_are_read,
    |store| {
        store
            .add_custom_field(&NewCustomField {
                name: "industry".into(),
                label: None,
                kind: FieldKind::Text,
                options: Vec::new(),
            })
            .await
            .unwrap();
        let c = store
            .create_contact(
                &input(json!({"email": "grouped@example.com", "custom": {"industry": "Retail"}})),
                Origin::Api,
            )
            .await
            .unwrap();
        assert_eq!(c.custom.get("industry").map(String::as_str), Some("Retail"));
        // The API reads a contact's custom fields under `custom`: written back the same way.
        let patch = input(json!({"custom": {"industry": "Banking"}, "company": "Acme"}));
        let c2 = store
            .update_contact(c.id, &patch, Origin::Api)
            .await
            .unwrap();
        assert_eq!(
            c2.custom.get("industry").map(String::as_str),
            Some("Banking")
        );
        // An attribute inside the group, or an unknown field there, is named.
        let err = store
            .update_contact(
                c.id,
                &input(json!({"custom": {"company": "X", "nope": "Y"}})),
                Origin::Api,
            )
            .await
            .unwrap_err();
        let fields: Vec<String> = problems(err).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["custom.company", "nope"]);
    }
);
