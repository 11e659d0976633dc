use lb_store::{
    ContactQuery, FieldKind, ImportOptions, NewCustomField, Origin, StoreError, export_csv,
};

use crate::both_backends;
use crate::support::{input, jane};

async fn import(store: &lb_store::Store, csv: &str) -> Result<lb_store::ImportReport, StoreError> {
    let options = ImportOptions {
        batch_size: 2,
        ..Default::default()
    };
    store
        .import_csv(&mut csv.as_bytes(), &options, &mut |_| {})
        .await
}

both_backends!(
    import_updates_by_email_creates_others_and_reports_rejected_rows,
    |store| {
        store.create_contact(&jane(), Origin::User).await.unwrap();
        let csv = "email,first_name,company,behaviour_score,state\n\
               JANE.DOE@example.com,,Initech,7,engaged\n\
               bob@example.com,Bob,,3,\n\
               broken,Carl,,,\n\
               dan@example.com,Dan,,99,frozen\n\
               eve@example.com,\"Eve\",Hooli\n\
               bob@example.com,Robert,,,\n";
        let report = import(store, csv).await.unwrap();
        assert_eq!(
            (report.rows, report.created, report.updated, report.rejected),
            (6, 1, 2, 3),
            "bob is created in one batch and updated in a later one"
        );
        let rejected: Vec<(u64, Vec<String>)> = report
            .rejections
            .iter()
            .map(|r| (r.row, r.problems.iter().map(|p| p.field.clone()).collect()))
            .collect();
        assert_eq!(
            rejected,
            [
                (4, vec!["email".to_owned()]),
                (5, vec!["behaviour_score".to_owned(), "state".to_owned()]),
                (6, vec!["(row)".to_owned()]),
            ]
        );
        let jane = store
            .contact_by_email(&lb_store::Email::parse("jane.doe@example.com").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            jane.first_name.as_deref(),
            Some("Jane"),
            "an empty cell leaves the value"
        );
        assert_eq!(jane.company.as_deref(), Some("Initech"));
        assert_eq!((jane.behaviour_score, jane.state.as_str()), (7, "engaged"));
        let bob = store
            .contact_by_email(&lb_store::Email::parse("bob@example.com").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            bob.first_name.as_deref(),
            Some("Robert"),
            "a later row with the same email wins"
        );
        assert_eq!(store.count_contacts().await.unwrap(), 2);
        let history = store.contact_history(bob.id).await.unwrap();
        assert!(history.iter().all(|c| c.origin == Origin::Import));
    }
);

both_backends!(unknown_column_rejects_the_whole_file, |store| {
    let err = import(store, "email,shoe_size\na@example.com,42\n")
        .await
        .unwrap_err();
    match err {
        StoreError::Invalid(problems) => {
            assert_eq!(problems.len(), 1);
            assert_eq!(
                (problems[0].row, problems[0].field.as_str()),
                (Some(1), "shoe_size")
            );
        }
        other => panic!("{other:?}"),
    }
    let err = import(store, "first_name\nAnn\n").await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(p) if p[0].field == "email"));
    assert_eq!(store.count_contacts().await.unwrap(), 0);
});

both_backends!(export_then_import_round_trips_every_attribute, |store| {
    store
        .add_custom_field(&NewCustomField {
            name: "budget".into(),
            label: None,
            kind: FieldKind::Number,
            options: vec![],
        })
        .await
        .unwrap();
    let mut with_all = jane();
    with_all.extend(input(serde_json::json!({
        "job_title": "CTO", "phone": "0123", "behaviour_score": 9, "state": "accepted",
        "lifecycle_stage": "sql", "source": "web", "medium": "cpc", "campaign": "q4",
        "created_at": "2025-03-01T10:00:00Z", "budget": 12.5
    })));
    let original = store.create_contact(&with_all, Origin::User).await.unwrap();
    assert_eq!(
        lb_store::rfc3339(original.created_at),
        "2025-03-01T10:00:00Z"
    );
    let mut out = Vec::new();
    assert_eq!(export_csv(store, &mut out).await.unwrap(), 1);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "email,first_name,last_name,company,job_title,phone,behaviour_score,state,lifecycle_stage,source,medium,campaign,created_at,budget\n\
         jane.doe@example.com,Jane,Doe,Acme,CTO,0123,9,accepted,sql,web,cpc,q4,2025-03-01T10:00:00Z,12.5\n"
    );
    let cursor = store.latest_change_cursor().await.unwrap();
    let report = import(store, &text).await.unwrap();
    assert_eq!((report.rows, report.updated, report.unchanged), (1, 0, 1));
    assert!(
        store.changes_since(cursor, 10).await.unwrap().is_empty(),
        "re-importing an export changes nothing"
    );
    let page = store.list_contacts(&ContactQuery::default()).await.unwrap();
    assert_eq!(page.contacts[0], original);
});

both_backends!(
    counts_add_up_to_the_accepted_rows_when_a_file_repeats_an_email,
    |store| {
        store.create_contact(&jane(), Origin::User).await.unwrap();
        // One batch: the repeats of new1 update (or leave unchanged) the contact created by
        // its first row; jane's two rows are one update and one no-op.
        let csv = "email,first_name\n\
                   new1@x.com,Ann\n\
                   NEW1@x.com,Anna\n\
                   new2@x.com,Bo\n\
                   jane.doe@example.com,Janet\n\
                   jane.doe@example.com,Janet\n";
        let report = store
            .import_csv(&mut csv.as_bytes(), &ImportOptions::default(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(
            (
                report.accepted(),
                report.created,
                report.updated,
                report.unchanged
            ),
            (5, 2, 2, 1)
        );
        assert_eq!(
            report.created + report.updated + report.unchanged,
            report.accepted()
        );
        let page = store.list_contacts(&ContactQuery::default()).await.unwrap();
        assert_eq!(page.contacts.len(), 3);
    }
);

both_backends!(
    a_nul_character_refuses_its_row_naming_the_field_the_batch_goes_on,
    |store| {
        // PostgreSQL cannot store NUL in text: without the check the whole batch failed there.
        let csv = "email,first_name,company\n\
               ann@example.com,Ann,Acme\n\
               nul@example.com,N\u{0}l,Acme\n\
               ben@example.com,Ben,Acme\n";
        let report = import(store, csv).await.unwrap();
        assert_eq!((report.created, report.rejected), (2, 1), "{report:?}");
        let r = &report.rejections[0];
        assert_eq!(r.row, 3);
        assert_eq!(r.problems[0].field, "first_name");
        assert!(r.problems[0].message.contains("NUL"), "{r:?}");
        // The API path refuses it the same way, and nothing was half-written.
        let err = store
            .create_contact(
                &input(serde_json::json!({"email": "nul2@example.com", "company": "a\u{0}b"})),
                Origin::Api,
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("company"), "{err}");
        assert_eq!(store.count_contacts().await.unwrap(), 2);
    }
);
