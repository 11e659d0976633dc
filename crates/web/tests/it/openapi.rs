use axum::http::{Method, StatusCode};

/// Every operation the document lists is routed (never the API's "no such route" answer nor a
/// 405), and every route the API serves is in the document.
#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let app = crate::support::sqlite_app().await;
    let doc = app
        .request(Method::GET, "/api/v1/openapi.json", false, None, "")
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.json();
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push(format!("{} {path}", method.to_uppercase()));
            let uri = path.replace("{id}", "1");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let reply = app
                .request(method.clone(), &uri, true, Some("application/json"), "{}")
                .await;
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}"
            );
            assert!(
                !reply.text.contains("API route not found"),
                "{method} {uri} is documented but not routed"
            );
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "DELETE /api/v1/contacts/{id}",
            "DELETE /api/v1/contacts/{id}/tombstone",
            "GET /api/v1/contacts",
            "GET /api/v1/contacts/{id}",
            "GET /api/v1/contacts/{id}/changes",
            "GET /api/v1/custom-fields",
            "GET /api/v1/forms",
            "GET /api/v1/forms/{id}",
            "GET /api/v1/forms/{id}/submissions",
            "GET /api/v1/states",
            "GET /api/v1/sync/tombstones",
            "PATCH /api/v1/contacts/{id}",
            "POST /api/v1/contacts",
            "POST /api/v1/custom-fields",
            "POST /api/v1/forms",
            "POST /api/v1/forms/{id}/submissions",
            "POST /api/v1/states",
        ]
    );
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    assert!(
        doc["paths"]["/api/v1/forms/{id}/submissions"]["post"]
            .get("security")
            .is_none(),
        "submissions are public"
    );
    let unknown = app.get("/api/v1/nothing-here").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.content_type, "application/problem+json");
}

/// The one test on a real socket: `serve` answers over TCP and stops on shutdown.
#[tokio::test]
async fn serves_over_a_real_socket_and_shuts_down() {
    let app = crate::support::sqlite_app().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lb_web::serve(listener, app.app.clone(), async move {
        let _ = stopped.await;
    }));
    let reply = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/contacts"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
