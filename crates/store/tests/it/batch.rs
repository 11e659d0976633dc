//! `Store::write_contacts` (the batch write) and the change log's layout migration.

use lb_store::{ChangeCursor, ContactEvent, ContactId, ContactWrite, Origin, StoreError};
use serde_json::json;

use crate::both_backends;
use crate::support::{input, jane};

both_backends!(
    write_contacts_gives_each_write_its_own_outcome_in_order,
    |store| {
        let jane_c = store.create_contact(&jane(), Origin::User).await.unwrap();
        let mut events = store.subscribe();
        let before = store.latest_change_cursor().await.unwrap();
        let writes = vec![
            // 0: created.
            ContactWrite::Create(input(
                json!({"email": "bob@example.com", "first_name": "Bob"}),
            )),
            // 1: invalid, names every problem.
            ContactWrite::Create(input(json!({"email": "nope", "behaviour_score": 99}))),
            // 2: taken by a stored contact.
            ContactWrite::Create(input(json!({"email": "JANE.DOE@example.com"}))),
            // 3: no such contact.
            ContactWrite::Update(ContactId(987_654), input(json!({"company": "X"}))),
            // 4: taken by the contact created by write 0 of this batch.
            ContactWrite::Create(input(json!({"email": "bob@example.com"}))),
            // 5: jane moves to a new email...
            ContactWrite::Update(
                jane_c.id,
                input(json!({"email": "jane@new.example", "company": null})),
            ),
            // 6: ...which frees her old one for a new contact.
            ContactWrite::Create(input(json!({"email": "jane.doe@example.com"}))),
            // 7: no change: no change-log row, no event.
            ContactWrite::Update(jane_c.id, input(json!({"first_name": "Jane"}))),
            // 8: no email to create with.
            ContactWrite::Create(input(json!({"first_name": "Nobody"}))),
        ];
        let results = store.write_contacts(&writes, Origin::Sync).await.unwrap();
        assert_eq!(results.len(), writes.len());
        let bob = results[0].as_ref().unwrap().clone();
        assert_eq!(bob.email.as_str(), "bob@example.com");
        assert_eq!(bob.first_name.as_deref(), Some("Bob"));
        assert_eq!(store.contact(bob.id).await.unwrap(), bob);
        match &results[1] {
            Err(StoreError::Invalid(problems)) => {
                let mut fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
                fields.sort_unstable();
                assert_eq!(fields, ["behaviour_score", "email"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&results[2], Err(StoreError::EmailTaken { existing, .. }) if *existing == jane_c.id)
        );
        assert!(matches!(&results[3], Err(StoreError::NotFound { .. })));
        assert!(
            matches!(&results[4], Err(StoreError::EmailTaken { email, existing }) if email == "bob@example.com" && *existing == bob.id)
        );
        let moved = results[5].as_ref().unwrap();
        assert_eq!(
            (moved.id, moved.email.as_str(), moved.company.as_deref()),
            (jane_c.id, "jane@new.example", None)
        );
        let newcomer = results[6].as_ref().unwrap();
        assert_ne!(newcomer.id, jane_c.id);
        assert_eq!(newcomer.email.as_str(), "jane.doe@example.com");
        assert_eq!(results[7].as_ref().unwrap(), moved);
        match &results[8] {
            Err(StoreError::Invalid(problems)) => assert_eq!(problems[0].field, "email"),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.contact(jane_c.id).await.unwrap(), *moved);
        assert_eq!(store.count_contacts().await.unwrap(), 3);

        // One change-log row per changing write, with the batch's origin, in write order.
        let changes = store.changes_since(before, 1000).await.unwrap();
        assert!(changes.iter().all(|c| c.origin == Origin::Sync));
        let mut writers: Vec<ContactId> = changes.iter().map(|c| c.contact_id).collect();
        writers.dedup();
        assert_eq!(writers, [bob.id, jane_c.id, newcomer.id]);
        let jane_fields: Vec<(&str, Option<&str>)> = changes
            .iter()
            .filter(|c| c.contact_id == jane_c.id)
            .map(|c| (c.field.as_str(), c.value.as_deref()))
            .collect();
        assert_eq!(
            jane_fields,
            [("email", Some("jane@new.example")), ("company", None)]
        );
        let last = store.last_changes(jane_c.id).await.unwrap();
        assert_eq!(last["email"].origin, Origin::Sync);
        assert_eq!(last["first_name"].origin, Origin::User);

        // Events after the commit, one per changed contact.
        let mut seen = Vec::new();
        while let Ok(event) = events.try_recv() {
            seen.push(event);
        }
        assert_eq!(
            seen,
            [bob.id, jane_c.id, newcomer.id].map(|contact_id| ContactEvent::Changed {
                contact_id,
                origin: Origin::Sync
            })
        );
    }
);

both_backends!(
    write_contacts_updates_one_contact_several_times_in_order,
    |store| {
        let c = store
            .create_contact(&input(json!({"email": "a@example.com"})), Origin::User)
            .await
            .unwrap();
        let other = store
            .create_contact(&input(json!({"email": "b@example.com"})), Origin::User)
            .await
            .unwrap();
        let writes = vec![
            ContactWrite::Update(c.id, input(json!({"email": "t@example.com"}))),
            ContactWrite::Update(other.id, input(json!({"email": "a@example.com"}))),
            ContactWrite::Update(c.id, input(json!({"email": "b@example.com", "phone": "1"}))),
            ContactWrite::Update(other.id, input(json!({"phone": "2"}))),
        ];
        let results = store.write_contacts(&writes, Origin::Api).await.unwrap();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let c_now = store.contact(c.id).await.unwrap();
        let other_now = store.contact(other.id).await.unwrap();
        assert_eq!(
            (c_now.email.as_str(), c_now.phone.as_deref()),
            ("b@example.com", Some("1"))
        );
        assert_eq!(
            (other_now.email.as_str(), other_now.phone.as_deref()),
            ("a@example.com", Some("2"))
        );
        assert_eq!(results[2].as_ref().unwrap(), &c_now);
        assert_eq!(results[3].as_ref().unwrap(), &other_now);
        assert!(
            store
                .write_contacts(&[], Origin::Api)
                .await
                .unwrap()
                .is_empty()
        );
    }
);

both_backends!(changes_since_never_splits_a_write, |store| {
    for i in 0..3 {
        store
            .create_contact(
                &input(json!({"email": format!("p{i}@example.com"), "first_name": "P"})),
                Origin::Api,
            )
            .await
            .unwrap();
    }
    // Each creation records 6 fields: a page of 8 holds one write, a page of 12 two.
    let page = store.changes_since(ChangeCursor::START, 8).await.unwrap();
    assert_eq!(page.len(), 6);
    assert!(page.iter().all(|c| c.seq == page[0].seq));
    let page = store.changes_since(ChangeCursor::START, 12).await.unwrap();
    assert_eq!(page.len(), 12);
    let rest = store
        .changes_since(ChangeCursor(page[11].seq), 1)
        .await
        .unwrap();
    assert_eq!(
        rest.len(),
        6,
        "a write larger than the limit still comes whole"
    );
    assert_eq!(
        store.latest_change_cursor().await.unwrap(),
        ChangeCursor(rest[0].seq)
    );
});

/// The 0002 migration keeps every existing per-field row, with its id, as a one-field write,
/// and new writes continue after them.
mod change_log_migration {
    use sqlx::{Connection, Executor, Row};

    const SQLITE: [&str; 2] = [
        include_str!("../../migrations/sqlite/0001_contact_base.sql"),
        include_str!("../../migrations/sqlite/0002_change_log_per_write.sql"),
    ];
    const POSTGRES: [&str; 2] = [
        include_str!("../../migrations/postgres/0001_contact_base.sql"),
        include_str!("../../migrations/postgres/0002_change_log_per_write.sql"),
    ];
    const OLD_ROWS: &str = "INSERT INTO field_changes (id, contact_id, field, value, origin, changed_at) VALUES \
        (1, 7, 'email', 'a@example.com', 'import', 100), (2, 7, 'company', NULL, 'user', 200), \
        (5, 8, 'first_name', 'Zoë \"Z\"', 'sync', 300)";

    /// Runs 0001, writes old-layout rows, runs 0002, reads them back through the view.
    macro_rules! check {
        ($conn:expr, $migrations:expr) => {{
            let conn = $conn;
            (&mut *conn).execute(sqlx::raw_sql($migrations[0])).await.unwrap();
            (&mut *conn).execute(sqlx::raw_sql(OLD_ROWS)).await.unwrap();
            (&mut *conn).execute(sqlx::raw_sql($migrations[1])).await.unwrap();
            let rows = (&mut *conn)
                .fetch_all(sqlx::raw_sql(
                    "SELECT id, contact_id, field, value, origin, changed_at FROM field_changes ORDER BY id",
                ))
                .await
                .unwrap();
            let got: Vec<(i64, i64, String, Option<String>, String, i64)> = rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
                .collect();
            let s = |v: &str| v.to_owned();
            assert_eq!(
                got,
                [
                    (1, 7, s("email"), Some(s("a@example.com")), s("import"), 100),
                    (2, 7, s("company"), None, s("user"), 200),
                    (5, 8, s("first_name"), Some(s("Zoë \"Z\"")), s("sync"), 300),
                ]
            );
            let next = (&mut *conn).fetch_one(sqlx::raw_sql(NEXT_ID)).await.unwrap();
            let next: i64 = next.get(0);
            assert_eq!(next, 6, "new change ids continue after the migrated ones");
        }};
    }

    const NEXT_ID: &str = "INSERT INTO contact_changes (contact_id, origin, changed_at, fields) \
        VALUES (9, 'api', 400, '{\"phone\":\"1\"}') RETURNING id";

    #[tokio::test]
    async fn sqlite() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        check!(&mut conn, SQLITE);
    }

    #[tokio::test]
    async fn postgres() {
        let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
            eprintln!("TEST_POSTGRES_URL not set: PostgreSQL variant not run");
            return;
        };
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        let mut conn = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
        check!(&mut conn, POSTGRES);
    }
}
