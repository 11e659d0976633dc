use axum::http::{Method, StatusCode};
use lb_store::ContactEvent;
use serde_json::json;

use crate::both_backends;

async fn newsletter(app: &crate::support::TestApp) -> i64 {
    let form = app
        .send_json(
            Method::POST,
            "/api/v1/forms",
            json!({"name": "Newsletter", "mapping": {"mail": "email", "fname": "first_name", "utm_campaign": "campaign"}}),
        )
        .await;
    assert_eq!(form.status, StatusCode::CREATED, "{}", form.text);
    let body = form.json();
    assert_eq!(body["score_increment"], 5);
    let id = body["id"].as_i64().unwrap();
    assert_eq!(
        body["submission_url"],
        format!("{}/api/v1/forms/{id}/submissions", crate::support::BASE_URL)
    );
    id
}

both_backends!(
    public_submission_urlencoded_then_json_creates_then_updates,
    |app| {
        let form = newsletter(app).await;
        let mut events = app.state.subscribe();
        let uri = format!("/api/v1/forms/{form}/submissions");
        let first = app
            .request(
                Method::POST,
                &uri,
                false,
                Some("application/x-www-form-urlencoded"),
                "mail=Zoe%40Example.com&fname=Zo%C3%A9&utm_campaign=spring&extra=1",
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        let first = first.json();
        assert_eq!(
            (
                first["created_contact"].as_bool(),
                first["behaviour_score"].as_i64()
            ),
            (Some(true), Some(5))
        );
        let contact_id = first["contact_id"].as_i64().unwrap();
        assert_eq!(
            events.recv().await.unwrap(),
            ContactEvent::FormSubmitted {
                form_id: form,
                submission_id: first["submission_id"].as_i64().unwrap(),
                contact_id: lb_store::ContactId(contact_id),
            }
        );
        let second = app
            .request(
                Method::POST,
                &uri,
                false,
                Some("application/json; charset=utf-8"),
                &json!({"mail": "zoe@example.com", "fname": "Zoé B."}).to_string(),
            )
            .await
            .json();
        assert_eq!(
            (
                second["contact_id"].as_i64(),
                second["created_contact"].as_bool(),
                second["behaviour_score"].as_i64()
            ),
            (Some(contact_id), Some(false), Some(10))
        );
        let contact = app
            .get(&format!("/api/v1/contacts/{contact_id}"))
            .await
            .json();
        assert_eq!(contact["first_name"], "Zoé B.");
        assert_eq!(contact["campaign"], "spring");
        let subs = app.get(&uri).await.json();
        assert_eq!(subs.as_array().unwrap().len(), 2);
        assert_eq!(subs[1]["payload"]["extra"], "1");
    }
);

both_backends!(bad_submissions_are_problems_and_write_nothing, |app| {
    let form = newsletter(app).await;
    let uri = format!("/api/v1/forms/{form}/submissions");
    let bad_email = app
        .request(
            Method::POST,
            &uri,
            false,
            Some("application/x-www-form-urlencoded"),
            "mail=zoe&fname=Z",
        )
        .await;
    assert_eq!(bad_email.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_email.problem_fields(), ["mail"]);
    let nested = app
        .request(
            Method::POST,
            &uri,
            false,
            Some("application/json"),
            r#"{"mail": ["a@b.co"]}"#,
        )
        .await;
    assert_eq!(nested.problem_fields(), ["mail"]);
    let broken = app
        .request(Method::POST, &uri, false, Some("application/json"), "{")
        .await;
    assert_eq!(broken.problem_fields(), ["(body)"]);
    // Multipart is read (its text parts); a malformed one names the body.
    let multipart = app
        .request(
            Method::POST,
            &uri,
            false,
            Some("multipart/form-data; boundary=x"),
            "",
        )
        .await;
    assert_eq!(multipart.problem_fields(), ["(body)"]);
    let plain_text = app
        .request(Method::POST, &uri, false, Some("text/plain"), "mail=a@b.co")
        .await;
    assert_eq!(plain_text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!("mail=a%40b.co&fname={}", "x".repeat(70 * 1024));
    let too_large = app
        .request(
            Method::POST,
            &uri,
            false,
            Some("application/x-www-form-urlencoded"),
            &huge,
        )
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    let unknown = app
        .request(
            Method::POST,
            "/api/v1/forms/999/submissions",
            false,
            Some("application/json"),
            "{}",
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(app.state.store.count_contacts().await.unwrap(), 0);
    assert_eq!(app.get(&uri).await.json(), json!([]));
});

both_backends!(form_mapping_errors_name_the_mapping_entry, |app| {
    let bad = app
        .send_json(
            Method::POST,
            "/api/v1/forms",
            json!({"name": "x", "mapping": {"score": "behaviour_score"}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.problem_fields(), ["mapping.score", "mapping"]);
    let listed = app.get("/api/v1/forms").await.json();
    assert_eq!(listed, json!([]));
});

both_backends!(
    a_nul_character_in_a_submission_is_a_422_naming_the_input,
    |app| {
        let form = newsletter(app).await;
        let uri = format!("/api/v1/forms/{form}/submissions");
        let bad = app
            .request(
                Method::POST,
                &uri,
                false,
                Some("application/x-www-form-urlencoded"),
                "mail=zoe%40example.com&fname=Zo%00e",
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        assert_eq!(bad.problem_fields(), ["fname"]);
        let good = app
            .request(
                Method::POST,
                &uri,
                false,
                Some("application/x-www-form-urlencoded"),
                "mail=zoe%40example.com&fname=Zoe",
            )
            .await;
        assert_eq!(good.status, StatusCode::CREATED, "{}", good.text);
        assert_eq!(good.json()["created_contact"], true);
    }
);
