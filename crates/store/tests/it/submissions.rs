//! The submission group commit's rules under concurrency (two batches in flight on
//! PostgreSQL), the form cache, and a bad write failing alone inside a batch. Each test runs on
//! SQLite and, when `TEST_POSTGRES_URL` is set, on PostgreSQL; the concurrent ones on a
//! multi-threaded runtime.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;

use lb_store::{
    ChangeCursor, ContactInput, Database, Form, NewCustomField, NewForm, Origin, Store, StoreError,
};
use serde_json::json;

/// A fresh store and the URL a second process would open it with (kept alive by the guard).
async fn store_and_url() -> Vec<(Store, String, Option<tempfile::TempDir>)> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lb.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&Database::from_url(&url).unwrap())
        .await
        .unwrap();
    out.push((store, url, Some(dir)));
    if let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") {
        use sqlx::Connection;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        let store = Store::open(&Database::from_url(url.as_str()).unwrap())
            .await
            .unwrap();
        out.push((store, url.to_string(), None));
    } else {
        eprintln!("TEST_POSTGRES_URL not set: PostgreSQL variant not run");
    }
    out
}

async fn form(store: &Store, name: &str, mapping: &[(&str, &str)], increment: i64) -> Form {
    store
        .create_form(&NewForm {
            name: name.into(),
            mapping: mapping
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            score_increment: Some(increment),
        })
        .await
        .unwrap()
}

fn inputs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_for_one_email_all_count_in_arrival_order() {
    for (store, _, _dir) in store_and_url().await {
        let form = form(&store, "f", &[("email", "email"), ("utm", "source")], 1).await;
        let n = 45;
        let mut tasks = Vec::new();
        for i in 0..n {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .submit_form(
                        form.id,
                        &inputs(&[("email", "Same@Example.com"), ("utm", &format!("s{i}"))]),
                    )
                    .await
                    .unwrap()
            }));
        }
        let mut scores = Vec::new();
        let mut created = 0;
        for t in tasks {
            let outcome = t.await.unwrap();
            scores.push(outcome.contact.behaviour_score);
            created += usize::from(outcome.submission.created_contact);
        }
        scores.sort_unstable();
        // Each submission saw the one before it: the scores are 1, 2, …, n.
        assert_eq!(scores, (1..=n).collect::<Vec<i64>>(), "{store:?}");
        assert_eq!(created, 1, "one contact created, {store:?}");
        assert_eq!(store.count_contacts().await.unwrap(), 1);
        let contact = store
            .contact_by_email(&lb_store::Email::parse("same@example.com").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(contact.behaviour_score, n);
        assert_eq!(
            store.submissions(form.id, None, 1000).await.unwrap().len(),
            n as usize
        );
        // First touch: the source of the submission that created the contact is kept.
        let first = store
            .submissions(form.id, None, 1000)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.created_contact)
            .unwrap();
        assert_eq!(
            contact.source.as_deref(),
            first.payload.get("utm").map(String::as_str),
            "{store:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_cursor_reader_sees_every_change_once_under_concurrent_submissions() {
    for (store, _, _dir) in store_and_url().await {
        let form = form(
            &store,
            "f",
            &[("email", "email"), ("name", "first_name")],
            1,
        )
        .await;
        let writers_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let store = store.clone();
            let done = std::sync::Arc::clone(&writers_done);
            tokio::spawn(async move {
                let mut cursor = ChangeCursor::START;
                let mut seen: Vec<(i64, String)> = Vec::new();
                loop {
                    // Read the flag before the page: a page read after every writer finished
                    // is the last one needed.
                    let last = done.load(std::sync::atomic::Ordering::SeqCst);
                    let page = store.changes_since(cursor, 40).await.unwrap();
                    if let Some(change) = page.last() {
                        cursor = ChangeCursor(change.seq);
                    }
                    let empty = page.is_empty();
                    seen.extend(page.into_iter().map(|c| (c.seq, c.field)));
                    if last && empty {
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
            })
        };
        let mut writers = Vec::new();
        for w in 0..8 {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..40 {
                    let email = format!("p{}@example.com", (w * 40 + i) % 90);
                    store
                        .submit_form(
                            form.id,
                            &inputs(&[("email", &email), ("name", &format!("N{w}-{i}"))]),
                        )
                        .await
                        .unwrap();
                    if i % 10 == 0 {
                        // Another writer of the contact base between the batches.
                        let mut input = ContactInput::new();
                        input.insert("email".into(), json!(format!("api{w}-{i}@example.com")));
                        store.create_contact(&input, Origin::Api).await.unwrap();
                    }
                }
            }));
        }
        for w in writers {
            w.await.unwrap();
        }
        writers_done.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = reader.await.unwrap();
        let all: Vec<(i64, String)> = store
            .changes_since(ChangeCursor::START, 1_000_000)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.seq, c.field))
            .collect();
        let unique: HashSet<&(i64, String)> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "a change was read twice, {store:?}"
        );
        assert_eq!(seen, all, "the reader missed changes, {store:?}");
        assert_eq!(
            store.submissions(form.id, None, 1000).await.unwrap().len(),
            320
        );
    }
}

#[tokio::test]
async fn a_form_created_by_another_process_with_a_new_field_is_read_with_that_field() {
    for (store, url, _dir) in store_and_url().await {
        let old = form(&store, "old", &[("email", "email")], 1).await;
        // The first submission caches the form and the schema of then.
        store
            .submit_form(old.id, &inputs(&[("email", "a@example.com")]))
            .await
            .unwrap();
        let other = Store::open(&Database::from_url(&url).unwrap())
            .await
            .unwrap();
        other
            .add_custom_field(&NewCustomField {
                name: "plan".into(),
                label: None,
                kind: lb_store::FieldKind::Text,
                options: Vec::new(),
            })
            .await
            .unwrap();
        let new = form(&other, "new", &[("email", "email"), ("p", "plan")], 1).await;
        let outcome = store
            .submit_form(
                new.id,
                &inputs(&[("email", "a@example.com"), ("p", "gold")]),
            )
            .await
            .unwrap();
        assert_eq!(
            outcome.contact.custom.get("plan").map(String::as_str),
            Some("gold"),
            "{store:?}"
        );
        assert_eq!(outcome.contact.behaviour_score, 2);
        other.close().await;
    }
}

#[tokio::test]
async fn a_changed_redirect_url_is_read_again() {
    for (store, _, _dir) in store_and_url().await {
        let f = form(&store, "f", &[("email", "email")], 1).await;
        store
            .submit_form(f.id, &inputs(&[("email", "a@example.com")]))
            .await
            .unwrap();
        let changed = store
            .set_form_redirect_url(f.id, Some("https://example.com/merci"))
            .await
            .unwrap();
        assert_eq!(store.form(f.id).await.unwrap(), changed);
        store
            .submit_form(f.id, &inputs(&[("email", "a@example.com")]))
            .await
            .unwrap();
        assert_eq!(
            store.form(f.id).await.unwrap().redirect_url.as_deref(),
            Some("https://example.com/merci")
        );
    }
}

/// All submissions below are queued before their batch takes them (one task polls them all,
/// the batch task runs after): one batch, whose failing write must fail alone.
#[tokio::test]
async fn a_write_that_fails_in_a_batch_fails_alone_and_the_order_is_kept() {
    for (store, url, _dir) in store_and_url().await {
        let good = form(&store, "good", &[("email", "email"), ("utm", "source")], 3).await;
        let doomed = form(&store, "doomed", &[("email", "email")], 3).await;
        // Cache both forms, then remove one behind the store's back: its submission records
        // break the foreign key at the insert.
        for f in [&good, &doomed] {
            store
                .submit_form(f.id, &inputs(&[("email", "warm@example.com")]))
                .await
                .unwrap();
        }
        {
            use sqlx::Connection;
            let sql = "DELETE FROM form_submissions WHERE form_id = $1";
            let sql2 = "DELETE FROM forms WHERE id = $1";
            if url.starts_with("sqlite") {
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                for q in [sql, sql2] {
                    sqlx::query(q)
                        .bind(doomed.id)
                        .execute(&mut c)
                        .await
                        .unwrap();
                }
            } else {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                for q in [sql, sql2] {
                    sqlx::query(q)
                        .bind(doomed.id)
                        .execute(&mut c)
                        .await
                        .unwrap();
                }
            }
        }
        let submit = |form_id: i64, email: &'static str, utm: &'static str| {
            let store = store.clone();
            async move {
                store
                    .submit_form(form_id, &inputs(&[("email", email), ("utm", utm)]))
                    .await
            }
        };
        let (a, b, c, d) = tokio::join!(
            submit(good.id, "x@example.com", "first"),
            submit(doomed.id, "y@example.com", ""),
            submit(good.id, "x@example.com", "second"),
            submit(good.id, "z@example.com", "third"),
        );
        let (a, c, d) = (a.unwrap(), c.unwrap(), d.unwrap());
        assert!(
            matches!(b, Err(StoreError::Database(_))),
            "{b:?}, {store:?}"
        );
        assert_eq!(a.contact.behaviour_score, 3);
        assert_eq!(c.contact.behaviour_score, 6, "in order after the failure");
        assert_eq!(c.contact.source.as_deref(), Some("first"));
        assert_eq!(d.contact.behaviour_score, 3);
        // Nothing of the failed submission stayed.
        assert!(
            store
                .contact_by_email(&lb_store::Email::parse("y@example.com").unwrap())
                .await
                .unwrap()
                .is_none()
        );
        let ids: BTreeMap<i64, lb_store::ContactId> = store
            .submissions(good.id, None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.id, s.contact_id))
            .collect();
        assert_eq!(ids.len(), 4, "warm-up + 3");
    }
}

#[tokio::test]
async fn a_nul_character_is_refused_naming_the_input_and_the_others_proceed() {
    for (store, _, _dir) in store_and_url().await {
        let f = form(
            &store,
            "f",
            &[("email", "email"), ("name", "first_name")],
            1,
        )
        .await;
        for bad in [
            inputs(&[("email", "a@example.com"), ("name", "A\0nn")]),
            inputs(&[("email", "a@example.com"), ("no\0te", "x")]),
        ] {
            let err = store.submit_form(f.id, &bad).await.unwrap_err();
            let StoreError::Invalid(problems) = err else {
                panic!("{err:?}, {store:?}")
            };
            assert_eq!(problems.len(), 1);
            assert!(
                ["name", "no\\0te"].contains(&problems[0].field.as_str()),
                "{problems:?}"
            );
            assert!(problems[0].message.contains("NUL"), "{problems:?}");
        }
        let ok = store
            .submit_form(
                f.id,
                &inputs(&[("email", "a@example.com"), ("name", "Ann")]),
            )
            .await
            .unwrap();
        assert_eq!(ok.contact.first_name.as_deref(), Some("Ann"));
        assert_eq!(store.submissions(f.id, None, 10).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_submission_whose_caller_went_away_is_still_written() {
    for (store, _, _dir) in store_and_url().await {
        let f = form(&store, "f", &[("email", "email")], 1).await;
        store
            .submit_form(f.id, &inputs(&[("email", "warm@example.com")]))
            .await
            .unwrap();
        let mut events = store.subscribe();
        // Polled once (the form is cached: it queues its submission), then dropped, as when
        // the HTTP connection closes; no other submission follows.
        let gone = inputs(&[("email", "gone@example.com")]);
        let mut once = Box::pin(store.submit_form(f.id, &gone));
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(once.as_mut().poll(cx))).await;
        assert!(polled.is_pending(), "{polled:?}");
        drop(once);
        let event = tokio::time::timeout(std::time::Duration::from_secs(30), events.recv())
            .await
            .expect("the queued submission was never written")
            .unwrap();
        let lb_store::ContactEvent::FormSubmitted { contact_id, .. } = event else {
            panic!("{event:?}")
        };
        let contact = store.contact(contact_id).await.unwrap();
        assert_eq!(contact.email.as_str(), "gone@example.com");
    }
}
