//! `GET /api/v1/sync/tombstones` and `DELETE /api/v1/contacts/{id}/tombstone` (issue 6): the
//! contacts left out of the sync because their Salesforce record was deleted, and clearing one.

use axum::http::{Method, StatusCode};
use lb_store::{ContactId, Origin};
use serde_json::json;

use crate::both_backends;
use crate::support::{BASE_URL, TestApp, tombstone};

async fn contact(app: &TestApp, email: &str) -> ContactId {
    let input = json!({ "email": email });
    app.state
        .store
        .create_contact(input.as_object().unwrap(), Origin::User)
        .await
        .unwrap()
        .id
}

both_backends!(tombstones_are_listed_by_page_and_cleared_once, |app| {
    let a = contact(app, "ann@example.com").await;
    let b = contact(app, "bob@example.com").await;
    let c = contact(app, "cat@example.com").await;
    let synced = contact(app, "dan@example.com").await;
    let run = tombstone(
        &app.state.store,
        &[
            (a, "00Q000000000001AAA"),
            (b, "00Q000000000002AAA"),
            (c, "00Q000000000003AAA"),
        ],
    )
    .await;

    let empty_key = app
        .request(Method::GET, "/api/v1/sync/tombstones", false, None, "")
        .await;
    assert_eq!(empty_key.status, StatusCode::UNAUTHORIZED);

    let first = app.get("/api/v1/sync/tombstones?limit=2").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let body = first.json();
    let rows = body["tombstones"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["contact_id"], a.0);
    assert_eq!(rows[0]["email"], "ann@example.com");
    assert_eq!(rows[0]["contact_url"], format!("{BASE_URL}/contacts/{a}"));
    assert_eq!(rows[0]["org_id"], "00Q000000000001AAA");
    assert_eq!(rows[0]["object"], "Lead");
    assert_eq!(rows[0]["deleted_at"], "2026-11-30T14:05:00Z");
    assert_eq!(rows[0]["run_id"], run);
    assert!(rows[0]["master_id"].is_null());
    assert_eq!(rows[1]["contact_id"], b.0);
    assert_eq!(body["next"], b.0);

    let rest = app
        .get(&format!("/api/v1/sync/tombstones?limit=2&after={}", b.0))
        .await
        .json();
    let rows = rest["tombstones"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["contact_id"], c.0);
    assert!(rest.get("next").is_none(), "last page: {rest}");

    for bad in ["limit=0", "limit=1001", "after=-3", "limit=x"] {
        let reply = app.get(&format!("/api/v1/sync/tombstones?{bad}")).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(reply.content_type, "application/problem+json", "{bad}");
    }

    // Clearing: 204, then the contact is gone from the list; a second time is a 404.
    let uri = format!("/api/v1/contacts/{b}/tombstone");
    let cleared = app.request(Method::DELETE, &uri, true, None, "").await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT, "{}", cleared.text);
    assert!(
        app.state
            .store
            .sync()
            .tombstones_for(&[b])
            .await
            .unwrap()
            .is_empty()
    );
    let again = app.request(Method::DELETE, &uri, true, None, "").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.content_type, "application/problem+json");
    assert!(
        again.json()["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("tombstone of contact {b}")),
        "{}",
        again.text
    );
    // The contact itself is still there.
    assert_eq!(
        app.get(&format!("/api/v1/contacts/{b}")).await.status,
        StatusCode::OK
    );

    // A synced contact has no tombstone; an unknown contact is named as such.
    let none = app
        .request(
            Method::DELETE,
            &format!("/api/v1/contacts/{synced}/tombstone"),
            true,
            None,
            "",
        )
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    let unknown = app
        .request(
            Method::DELETE,
            "/api/v1/contacts/987654/tombstone",
            true,
            None,
            "",
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown.json()["detail"]
            .as_str()
            .unwrap()
            .contains("contact 987654")
    );

    let left = app.get("/api/v1/sync/tombstones").await.json();
    let ids: Vec<i64> = left["tombstones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["contact_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![a.0, c.0]);
    // No key: refused before anything is cleared.
    let anonymous = app
        .request(
            Method::DELETE,
            &format!("/api/v1/contacts/{a}/tombstone"),
            false,
            None,
            "",
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.state.store.sync().count_tombstones().await.unwrap(), 2);
});
