use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;

both_backends!(
    requests_without_a_valid_key_are_refused_with_a_problem,
    |app| {
        let none = app
            .request(Method::GET, "/api/v1/contacts", false, None, "")
            .await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        assert_eq!(none.content_type, "application/problem+json");
        assert_eq!(none.json()["status"], 401);
        let bad = app
            .request(Method::GET, "/api/v1/contacts", false, None, "")
            .await;
        assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    }
);

both_backends!(contact_crud_round_trip, |app| {
    let created = app
        .send_json(
            Method::POST,
            "/api/v1/contacts",
            json!({"email": "Ann@Example.com", "first_name": "Ann", "behaviour_score": 7}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let body = created.json();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(body["email"], "ann@example.com");
    assert_eq!(
        body["url"],
        format!("{}/contacts/{id}", crate::support::BASE_URL)
    );
    assert_eq!(body["state"], "new");
    assert_eq!(body["lifecycle_stage"], "lead");
    assert_eq!(body["stage_reached"]["lead"], body["created_at"]);

    let patched = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/contacts/{id}"),
            json!({"first_name": null, "lifecycle_stage": "mql"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.json()["first_name"], serde_json::Value::Null);
    assert_eq!(patched.json()["lifecycle_stage"], "mql");

    let changes = app
        .get(&format!("/api/v1/contacts/{id}/changes"))
        .await
        .json();
    let last = changes.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["field"].as_str(), last["origin"].as_str()),
        (Some("lifecycle_stage"), Some("api"))
    );

    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/contacts/{id}"),
            true,
            None,
            "",
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.get(&format!("/api/v1/contacts/{id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.content_type, "application/problem+json");
});

both_backends!(
    bad_input_is_a_422_naming_every_field_and_writes_nothing,
    |app| {
        let bad = app
        .send_json(
            Method::POST,
            "/api/v1/contacts",
            json!({"email": "nope", "behaviour_score": 99, "state": "frozen", "shoe_size": 42, "company": "x".repeat(300)}),
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            bad.problem_fields(),
            ["behaviour_score", "company", "email", "shoe_size", "state"]
        );
        let malformed = app
            .request(
                Method::POST,
                "/api/v1/contacts",
                true,
                Some("application/json"),
                "{\"email\": ",
            )
            .await;
        assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(malformed.problem_fields(), ["(body)"]);
        let not_object = app
            .request(
                Method::POST,
                "/api/v1/contacts",
                true,
                Some("application/json"),
                "[1]",
            )
            .await;
        assert_eq!(not_object.status, StatusCode::UNPROCESSABLE_ENTITY);
        let wrong_type = app
            .request(
                Method::POST,
                "/api/v1/contacts",
                true,
                Some("text/plain"),
                "email=a@b.co",
            )
            .await;
        assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let bad_id = app.get("/api/v1/contacts/abc").await;
        assert_eq!(bad_id.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad_id.problem_fields(), ["(path)"]);
        let bad_limit = app.get("/api/v1/contacts?limit=0").await;
        assert_eq!(bad_limit.problem_fields(), ["limit"]);
        // A body over the API's limit is 413, as for a form submission, not "invalid input".
        let huge = json!({"email": "big@example.com", "first_name": "x".repeat(2 << 20)});
        let too_large = app.send_json(Method::POST, "/api/v1/contacts", huge).await;
        assert_eq!(
            too_large.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}",
            too_large.text
        );
        assert_eq!(too_large.content_type, "application/problem+json");
        assert_eq!(too_large.json()["status"], 413);
        assert_eq!(app.state.store.count_contacts().await.unwrap(), 0);
    }
);

both_backends!(duplicate_email_is_a_409_naming_email, |app| {
    app.send_json(
        Method::POST,
        "/api/v1/contacts",
        json!({"email": "a@example.com"}),
    )
    .await;
    let dup = app
        .send_json(
            Method::POST,
            "/api/v1/contacts",
            json!({"email": "A@EXAMPLE.COM"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.problem_fields(), ["email"]);
});

both_backends!(search_and_pagination, |app| {
    for (email, company) in [
        ("a@x.io", "Acme"),
        ("b@x.io", "Globex"),
        ("c@x.io", "ACME Corp"),
        ("d@x.io", "acme"),
    ] {
        let r = app
            .send_json(
                Method::POST,
                "/api/v1/contacts",
                json!({"email": email, "company": company}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let first = app.get("/api/v1/contacts?q=acme&limit=2").await.json();
    let emails: Vec<&str> = first["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["a@x.io", "c@x.io"]);
    let next = first["next"].as_i64().unwrap();
    let second = app
        .get(&format!("/api/v1/contacts?q=acme&limit=2&after={next}"))
        .await
        .json();
    let emails: Vec<&str> = second["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["d@x.io"]);
    assert!(second.get("next").is_none());
});

both_backends!(custom_fields_are_added_and_typed_in_contacts, |app| {
    let number = app
        .send_json(
            Method::POST,
            "/api/v1/custom-fields",
            json!({"name": "budget", "kind": "number"}),
        )
        .await;
    assert_eq!(number.status, StatusCode::CREATED, "{}", number.text);
    let picklist = app
        .send_json(
            Method::POST,
            "/api/v1/custom-fields",
            json!({"name": "tier", "kind": "picklist", "options": ["Gold", "Silver"]}),
        )
        .await;
    assert_eq!(picklist.status, StatusCode::CREATED);
    let bad_kind = app
        .send_json(
            Method::POST,
            "/api/v1/custom-fields",
            json!({"name": "x", "kind": "colour"}),
        )
        .await;
    assert_eq!(bad_kind.problem_fields(), ["kind"]);
    let dup = app
        .send_json(
            Method::POST,
            "/api/v1/custom-fields",
            json!({"name": "budget", "kind": "text"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let fields = app.get("/api/v1/custom-fields").await.json();
    assert_eq!(fields.as_array().unwrap().len(), 2);
    let c = app
        .send_json(
            Method::POST,
            "/api/v1/contacts",
            json!({"email": "t@x.io", "budget": "1200", "tier": "gold"}),
        )
        .await
        .json();
    assert_eq!(c["custom"], json!({"budget": 1200, "tier": "Gold"}));
    // Written back in the shape it was read: `custom` with its JSON types.
    let mut edited = c["custom"].clone();
    edited["budget"] = json!(1500);
    let path = format!("/api/v1/contacts/{}", c["id"]);
    let back = app
        .send_json(Method::PATCH, &path, json!({"custom": edited}))
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text);
    assert_eq!(
        back.json()["custom"],
        json!({"budget": 1500, "tier": "Gold"})
    );
    let wrong = app
        .send_json(Method::PATCH, &path, json!({"custom": {"company": "X"}}))
        .await;
    assert_eq!(wrong.problem_fields(), ["custom.company"]);
    let states = app
        .send_json(Method::POST, "/api/v1/states", json!({"name": "nurturing"}))
        .await
        .json();
    assert_eq!(
        states["states"],
        json!(["new", "engaged", "accepted", "closed", "nurturing"])
    );
});

both_backends!(
    a_method_a_path_does_not_accept_is_a_405_problem_not_an_empty_body,
    |app| {
        let put = app
            .send_json(
                Method::PUT,
                "/api/v1/contacts/1",
                json!({"first_name": "Ann"}),
            )
            .await;
        assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(put.content_type, "application/problem+json");
        let body = put.json();
        assert_eq!(body["status"], 405);
        assert_eq!(
            body["type"],
            "https://leadbridge.invalid/problems/method-not-allowed"
        );
        assert!(body["detail"].as_str().unwrap().contains("PUT"), "{body}");
    }
);
