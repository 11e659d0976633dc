//! A form embedded on another site: cross-origin calls (CORS) and plain HTML posts (303 to the
//! form's redirect URL or the thank-you page; an HTML page naming the refused input).

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use crate::both_backends;
use crate::support::TestApp;

const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn header_of<'a>(a: &'a Answer, name: &str) -> Option<&'a str> {
    a.headers.get(name).map(|v| v.to_str().unwrap())
}

async fn form(app: &TestApp, redirect_url: Option<&str>) -> i64 {
    let created = app
        .send_json(
            Method::POST,
            "/api/v1/forms",
            json!({"name": "Webinar", "mapping": {"mail": "email", "fname": "first_name"}, "redirect_url": redirect_url}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(
        created.json()["redirect_url"].as_str(),
        redirect_url,
        "{}",
        created.text
    );
    created.json()["id"].as_i64().unwrap()
}

both_backends!(
    a_script_on_any_site_may_post_a_submission_but_not_read_the_api,
    |app| {
        let id = form(app, None).await;
        let uri = format!("/api/v1/forms/{id}/submissions");
        let origin = "https://shop.example";
        let preflight = call(
            &app.app,
            Method::OPTIONS,
            &uri,
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
            "",
        )
        .await;
        assert!(preflight.status.is_success(), "{}", preflight.status);
        assert_eq!(
            header_of(&preflight, "access-control-allow-origin"),
            Some(origin)
        );
        assert!(
            header_of(&preflight, "access-control-allow-methods")
                .is_some_and(|m| m.contains("POST"))
        );
        assert!(
            header_of(&preflight, "access-control-allow-headers")
                .is_some_and(|h| h.to_ascii_lowercase().contains("content-type"))
        );
        assert_eq!(
            header_of(&preflight, "access-control-allow-credentials"),
            None
        );

        let posted = call(
            &app.app,
            Method::POST,
            &uri,
            &[
                ("origin", origin),
                ("content-type", "application/json"),
                ("accept", "*/*"),
            ],
            r#"{"mail": "cors@example.com"}"#,
        )
        .await;
        assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.text);
        assert_eq!(
            header_of(&posted, "access-control-allow-origin"),
            Some(origin)
        );

        // The API-key routes: no CORS without configured origins, preflight included.
        let list_preflight = call(
            &app.app,
            Method::OPTIONS,
            "/api/v1/contacts",
            &[
                ("origin", origin),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "authorization"),
            ],
            "",
        )
        .await;
        assert_eq!(
            header_of(&list_preflight, "access-control-allow-origin"),
            None
        );
        // Nor a read of the same path's submissions list (GET) from another site.
        let read_preflight = call(
            &app.app,
            Method::OPTIONS,
            &uri,
            &[("origin", origin), ("access-control-request-method", "GET")],
            "",
        )
        .await;
        assert_eq!(
            header_of(&read_preflight, "access-control-allow-origin"),
            None
        );
        let token = format!("Bearer {}", app.token);
        let read = call(
            &app.app,
            Method::GET,
            "/api/v1/contacts",
            &[("origin", origin), ("authorization", &token)],
            "",
        )
        .await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(header_of(&read, "access-control-allow-origin"), None);
    }
);

both_backends!(
    configured_origins_may_call_the_api_key_routes_and_others_may_not,
    |app| {
        let allowed = "https://crm.example";
        let router = lb_web::router(
            app.state
                .clone()
                .with_cors_origins(vec![allowed.to_owned()]),
        );
        let token = format!("Bearer {}", app.token);
        let preflight = call(
            &router,
            Method::OPTIONS,
            "/api/v1/contacts",
            &[
                ("origin", allowed),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "authorization"),
            ],
            "",
        )
        .await;
        assert!(preflight.status.is_success(), "{}", preflight.status);
        assert_eq!(
            header_of(&preflight, "access-control-allow-origin"),
            Some(allowed)
        );
        assert!(
            header_of(&preflight, "access-control-allow-headers")
                .is_some_and(|h| h.to_ascii_lowercase().contains("authorization"))
        );
        let read = call(
            &router,
            Method::GET,
            "/api/v1/contacts",
            &[("origin", allowed), ("authorization", &token)],
            "",
        )
        .await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(
            header_of(&read, "access-control-allow-origin"),
            Some(allowed)
        );
        let other = call(
            &router,
            Method::GET,
            "/api/v1/contacts",
            &[
                ("origin", "https://evil.example"),
                ("authorization", &token),
            ],
            "",
        )
        .await;
        assert_eq!(header_of(&other, "access-control-allow-origin"), None);
    }
);

both_backends!(
    a_plain_html_post_is_redirected_to_the_forms_redirect_url_or_the_thank_you_page,
    |app| {
        let redirecting = form(app, Some("https://shop.example/merci?from=form")).await;
        let plain = form(app, None).await;
        let browser = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("accept", BROWSER_ACCEPT),
        ];
        let to_shop = call(
            &app.app,
            Method::POST,
            &format!("/api/v1/forms/{redirecting}/submissions"),
            &browser,
            "mail=html%40example.com&fname=Ann",
        )
        .await;
        assert_eq!(to_shop.status, StatusCode::SEE_OTHER, "{}", to_shop.text);
        assert_eq!(
            header_of(&to_shop, "location"),
            Some("https://shop.example/merci?from=form")
        );
        let to_thanks = call(
            &app.app,
            Method::POST,
            &format!("/api/v1/forms/{plain}/submissions"),
            &browser,
            "mail=html%40example.com&fname=Ann",
        )
        .await;
        assert_eq!(to_thanks.status, StatusCode::SEE_OTHER);
        let thanks_path = format!("/forms/{plain}/thanks");
        assert_eq!(
            header_of(&to_thanks, "location"),
            Some(thanks_path.as_str())
        );
        // Both submissions were recorded: the second updated the contact (5 + 5).
        let found = app.get("/api/v1/contacts?q=html%40example.com").await;
        assert!(
            found.text.contains("\"behaviour_score\":10"),
            "{}",
            found.text
        );

        // The thank-you page needs no session and speaks the visitor's language.
        let en = call(&app.app, Method::GET, &thanks_path, &[], "").await;
        assert_eq!(en.status, StatusCode::OK);
        assert!(en.text.contains("Thank you"), "{}", en.text);
        let fr = call(
            &app.app,
            Method::GET,
            &thanks_path,
            &[("accept-language", "fr-FR,fr;q=0.9")],
            "",
        )
        .await;
        assert!(
            fr.text.contains("Merci") && fr.text.contains("lang=\"fr\""),
            "{}",
            fr.text
        );
        let missing = call(&app.app, Method::GET, "/forms/999999/thanks", &[], "").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        // A multipart post from a browser is read and redirected the same way.
        let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"mail\"\r\n\r\nmulti@example.com\r\n--XyZ--\r\n";
        let posted = call(
            &app.app,
            Method::POST,
            &format!("/api/v1/forms/{plain}/submissions"),
            &[
                ("content-type", "multipart/form-data; boundary=XyZ"),
                ("accept", BROWSER_ACCEPT),
            ],
            multipart,
        )
        .await;
        assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.text);
        // A script's multipart post gets JSON.
        let scripted = call(
            &app.app,
            Method::POST,
            &format!("/api/v1/forms/{plain}/submissions"),
            &[("content-type", "multipart/form-data; boundary=XyZ")],
            multipart,
        )
        .await;
        assert_eq!(scripted.status, StatusCode::CREATED, "{}", scripted.text);
    }
);

both_backends!(
    a_refused_html_post_shows_a_page_naming_the_input_and_json_clients_keep_json,
    |app| {
        let id = form(app, Some("https://shop.example/thanks")).await;
        let uri = format!("/api/v1/forms/{id}/submissions");
        let refused = call(
            &app.app,
            Method::POST,
            &uri,
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("accept", BROWSER_ACCEPT),
                ("accept-language", "fr"),
                ("referer", "https://shop.example/signup"),
            ],
            "mail=not-an-email",
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            header_of(&refused, "content-type").is_some_and(|c| c.starts_with("text/html")),
            "{:?}",
            refused.headers
        );
        assert!(
            refused.text.contains("data-field=\"mail\""),
            "{}",
            refused.text
        );
        assert!(
            refused.text.contains("Merci de corriger"),
            "{}",
            refused.text
        );
        // What is wrong is said in the page's language too, with the value given.
        assert!(
            refused
                .text
                .contains("<strong>mail</strong>: « not-an-email » n&#39;est pas une adresse email valide</li>"),
            "{}",
            refused.text
        );
        assert!(
            !refused.text.contains("is not a valid email"),
            "{}",
            refused.text
        );
        assert!(
            refused
                .text
                .contains("href=\"https://shop.example/signup\""),
            "{}",
            refused.text
        );
        assert_eq!(header_of(&refused, "location"), None);

        // Same body from a script (Accept */* or JSON): the problem document as before.
        for accept in [
            "*/*",
            "application/json",
            "application/json, text/html;q=0.5",
        ] {
            let json = call(
                &app.app,
                Method::POST,
                &uri,
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("accept", accept),
                ],
                "mail=not-an-email",
            )
            .await;
            assert_eq!(json.status, StatusCode::UNPROCESSABLE_ENTITY, "{accept}");
            assert_eq!(
                header_of(&json, "content-type"),
                Some("application/problem+json")
            );
        }
        // A JSON body is never answered with HTML, whatever Accept says.
        let json_body = call(
            &app.app,
            Method::POST,
            &uri,
            &[
                ("content-type", "application/json"),
                ("accept", BROWSER_ACCEPT),
            ],
            r#"{"mail": "json@example.com"}"#,
        )
        .await;
        assert_eq!(json_body.status, StatusCode::CREATED, "{}", json_body.text);
        // An unknown form, from a browser: an HTML 404.
        let unknown = call(
            &app.app,
            Method::POST,
            "/api/v1/forms/999999/submissions",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("accept", BROWSER_ACCEPT),
            ],
            "mail=a%40b.example",
        )
        .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert!(unknown.text.contains("<h1>"), "{}", unknown.text);
    }
);

both_backends!(a_bad_redirect_url_is_a_422_naming_the_field, |app| {
    let bad = app
            .send_json(
                Method::POST,
                "/api/v1/forms",
                json!({"name": "X", "mapping": {"mail": "email"}, "redirect_url": "javascript:alert(1)"}),
            )
            .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.problem_fields(), vec!["redirect_url".to_owned()]);
});
