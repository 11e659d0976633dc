use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;

both_backends!(contact_page_shows_attributes_escaped_and_stages, |app| {
    let c = app
        .send_json(Method::POST, "/api/v1/contacts", json!({"email": "x@example.com", "first_name": "<script>alert(1)</script>", "company": "A&B"}))
        .await
        .json();
    let page = app
        .request(
            Method::GET,
            &format!("/contacts/{}", c["id"]),
            false,
            None,
            "",
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.text.contains("<script>"));
    assert!(page.text.contains("A&amp;B"));
    assert!(page.text.contains("LEAD — "));
    assert!(page.text.contains("MQL — not reached"));
    let missing = app
        .request(Method::GET, "/contacts/424242", false, None, "")
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let junk = app
        .request(Method::GET, "/contacts/%3Cb%3E", false, None, "")
        .await;
    assert_eq!(junk.status, StatusCode::NOT_FOUND);
    assert!(!junk.text.contains("<b>"));
});
