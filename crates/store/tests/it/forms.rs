use std::collections::BTreeMap;

use lb_store::{ContactEvent, NewForm, Origin, StoreError};

use crate::both_backends;
use crate::support::problems;

fn signup() -> NewForm {
    let mapping: BTreeMap<String, String> = [
        ("your_email", "email"),
        ("firstname", "first_name"),
        ("utm_source", "source"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    NewForm {
        name: "Newsletter".into(),
        mapping,
        score_increment: None,
    }
}

fn inputs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

both_backends!(
    submission_creates_then_updates_by_email_and_raises_the_score,
    |store| {
        let form = store.create_form(&signup()).await.unwrap();
        assert_eq!(form.score_increment, lb_store::DEFAULT_SCORE_INCREMENT);
        let mut events = store.subscribe();
        let first = store
            .submit_form(
                form.id,
                &inputs(&[
                    ("your_email", "Ann@Example.com"),
                    ("firstname", "Ann"),
                    ("utm_source", "google"),
                    ("honeypot", ""),
                ]),
            )
            .await
            .unwrap();
        assert!(first.submission.created_contact);
        assert_eq!(first.contact.behaviour_score, 5);
        assert_eq!(first.contact.source.as_deref(), Some("google"));
        assert_eq!(
            events.recv().await.unwrap(),
            ContactEvent::FormSubmitted {
                form_id: form.id,
                submission_id: first.submission.id,
                contact_id: first.contact.id
            }
        );
        let second = store
            .submit_form(
                form.id,
                &inputs(&[
                    ("your_email", "ann@example.com"),
                    ("firstname", "Annie"),
                    ("utm_source", "linkedin"),
                ]),
            )
            .await
            .unwrap();
        assert!(!second.submission.created_contact);
        assert_eq!(second.contact.id, first.contact.id);
        assert_eq!(second.contact.behaviour_score, 10);
        assert_eq!(second.contact.first_name.as_deref(), Some("Annie"));
        assert_eq!(
            second.contact.source.as_deref(),
            Some("google"),
            "first touch is kept"
        );
        let history = store.contact_history(first.contact.id).await.unwrap();
        assert!(history.iter().all(|c| c.origin == Origin::Form));
        let subs = store.submissions(form.id, None, 10).await.unwrap();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].id, second.submission.id, "newest first");
        assert_eq!(
            subs[1].payload.get("honeypot").map(String::as_str),
            Some(""),
            "unmapped inputs are kept"
        );
    }
);

both_backends!(score_is_capped_at_fifty, |store| {
    let mut form = signup();
    form.score_increment = Some(20);
    let form = store.create_form(&form).await.unwrap();
    let mut score = 0;
    for _ in 0..4 {
        score = store
            .submit_form(form.id, &inputs(&[("your_email", "cap@example.com")]))
            .await
            .unwrap()
            .contact
            .behaviour_score;
    }
    assert_eq!(score, 50);
});

both_backends!(bad_submission_names_the_input_and_writes_nothing, |store| {
    let form = store.create_form(&signup()).await.unwrap();
    let err = store
        .submit_form(
            form.id,
            &inputs(&[("your_email", "not an email"), ("firstname", "Al")]),
        )
        .await
        .unwrap_err();
    assert_eq!(problems(err)[0].0, "your_email");
    let missing = store
        .submit_form(form.id, &inputs(&[("firstname", "Al")]))
        .await
        .unwrap_err();
    assert_eq!(
        problems(missing),
        [("your_email".to_owned(), "is required".to_owned())]
    );
    assert_eq!(store.count_contacts().await.unwrap(), 0);
    assert!(
        store
            .submissions(form.id, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.submit_form(9999, &[]).await,
        Err(StoreError::NotFound { .. })
    ));
});

both_backends!(form_mapping_is_checked, |store| {
    let mut bad = signup();
    bad.mapping.remove("your_email");
    bad.mapping.insert("score".into(), "behaviour_score".into());
    bad.mapping.insert("x".into(), "no_such_field".into());
    let fields: Vec<String> = problems(store.create_form(&bad).await.unwrap_err())
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(fields, ["mapping", "mapping.score", "mapping.x"]);
});

both_backends!(
    concurrent_submissions_each_get_their_own_outcome_and_one_contact_per_email,
    |store| {
        // Submissions arriving together share transactions (group commit): each caller must
        // still get its own submission, and a later one must see the contact an earlier one
        // created in the same batch.
        let form = store.create_form(&signup()).await.unwrap();
        let mut events = store.subscribe();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let store = store.clone();
            let email = if i % 2 == 0 {
                "same@example.com".to_owned()
            } else {
                format!("u{i}@example.com")
            };
            tasks.push(tokio::spawn(async move {
                store
                    .submit_form(
                        form.id,
                        &inputs(&[("your_email", &email), ("firstname", &format!("N{i}"))]),
                    )
                    .await
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap().unwrap());
        }
        let mut ids: Vec<i64> = outcomes.iter().map(|o| o.submission.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 40);
        let same: Vec<_> = outcomes
            .iter()
            .filter(|o| o.contact.email.as_str() == "same@example.com")
            .collect();
        assert_eq!(same.len(), 20);
        assert_eq!(
            same.iter().filter(|o| o.submission.created_contact).count(),
            1
        );
        assert!(same.iter().all(|o| o.contact.id == same[0].contact.id));
        assert_eq!(store.count_contacts().await.unwrap(), 21);
        let stored = store.contact(same[0].contact.id).await.unwrap();
        assert_eq!(stored.behaviour_score, 50); // 20 × 5, capped
        assert_eq!(
            store.submissions(form.id, None, 100).await.unwrap().len(),
            40
        );
        for _ in 0..40 {
            assert!(matches!(
                events.recv().await.unwrap(),
                ContactEvent::FormSubmitted { .. }
            ));
        }
    }
);

both_backends!(
    a_form_keeps_a_checked_redirect_url_that_can_be_changed_and_cleared,
    |store| {
        let plain = store.create_form(&signup()).await.unwrap();
        assert_eq!(plain.redirect_url, None);
        let form = store
            .create_form_with_redirect(&signup(), Some(" https://example.com/thanks?x=1 "))
            .await
            .unwrap();
        assert_eq!(
            form.redirect_url.as_deref(),
            Some("https://example.com/thanks?x=1")
        );
        assert_eq!(store.form(form.id).await.unwrap(), form);
        assert!(store.forms().await.unwrap().contains(&form));
        let changed = store
            .set_form_redirect_url(plain.id, Some("http://shop.example/merci"))
            .await
            .unwrap();
        assert_eq!(
            changed.redirect_url.as_deref(),
            Some("http://shop.example/merci")
        );
        let cleared = store
            .set_form_redirect_url(plain.id, Some("  "))
            .await
            .unwrap();
        assert_eq!(cleared.redirect_url, None);
        assert!(matches!(
            store.set_form_redirect_url(999_999, None).await,
            Err(StoreError::NotFound { .. })
        ));
    }
);

both_backends!(
    a_bad_redirect_url_is_refused_naming_the_field_and_nothing_is_written,
    |store| {
        for bad in [
            "javascript:alert(1)",
            "/thanks",
            "ftp://example.com/x",
            "https://user:pw@example.com/",
            "not a url",
        ] {
            let err = store
                .create_form_with_redirect(&signup(), Some(bad))
                .await
                .unwrap_err();
            let found = problems(err);
            assert!(
                found.iter().any(|(field, _)| field == "redirect_url"),
                "{bad}: {found:?}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(2000));
        assert!(
            store
                .create_form_with_redirect(&signup(), Some(&long))
                .await
                .is_err()
        );
        // Problems of the form and of the URL come together.
        let mut nameless = signup();
        nameless.name = " ".into();
        let err = store
            .create_form_with_redirect(&nameless, Some("mailto:a@b.c"))
            .await
            .unwrap_err();
        let fields: Vec<String> = problems(err).into_iter().map(|(f, _)| f).collect();
        assert!(fields.contains(&"name".to_owned()) && fields.contains(&"redirect_url".to_owned()));
        assert!(store.forms().await.unwrap().is_empty());
        assert!(
            store
                .set_form_redirect_url(1, Some("data:text/html,x"))
                .await
                .is_err()
        );
    }
);
