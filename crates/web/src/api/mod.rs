//! The JSON REST API under `/api/v1`, and its OpenAPI document at `/api/v1/openapi.json`.
//!
//! **Invariants.**
//! - Every route needs `Authorization: Bearer <API key>` except the form submission endpoint
//!   and the OpenAPI document.
//! - The OpenAPI document is generated from the handlers' annotations while the router is
//!   built (`utoipa-axum`), so a route cannot exist without its documentation.
//! - Every error is a problem document ([`error::ProblemBody`]); bad input is a 422 naming its
//!   field, never a 500.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

mod contacts;
pub mod cors;
pub mod dto;
pub mod error;
mod forms;
mod schema;
pub mod tombstones;

use error::ApiError;

/// Largest JSON body the authenticated API accepts.
const API_MAX_BYTES: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "leadbridge",
        description = "The marketing contact base: contacts, custom fields, forms and submissions, and contacts left out of the sync.",
    ),
    modifiers(&BearerAuth),
    components(schemas(error::ProblemBody, error::FieldError)),
    tags(
        (name = "contacts", description = "Contacts of the marketing base"),
        (name = "custom fields", description = "Custom field definitions and the state list"),
        (name = "forms", description = "Forms and their submissions"),
        (name = "sync", description = "Contacts left out of the Salesforce sync because their record was deleted there"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The API router (paths already under `/api/v1`) and its OpenAPI document.
pub fn router(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let protected = OpenApiRouter::new()
        .routes(routes!(contacts::list, contacts::create))
        .routes(routes!(contacts::get, contacts::update, contacts::delete))
        .routes(routes!(contacts::changes))
        .routes(routes!(schema::list_fields, schema::create_field))
        .routes(routes!(schema::list_states, schema::add_state))
        .routes(routes!(forms::list, forms::create))
        .routes(routes!(forms::get))
        .routes(routes!(forms::submissions))
        .routes(routes!(tombstones::list))
        .routes(routes!(tombstones::clear))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ))
        .layer(DefaultBodyLimit::max(API_MAX_BYTES));
    let public = OpenApiRouter::new().routes(routes!(forms::submit));
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", protected.merge(public))
        .split_for_parts();
    let json = Arc::new(doc.to_json().unwrap_or_else(|_| "{}".into()));
    let router = router
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let json = Arc::clone(&json);
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        json.as_str().to_owned(),
                    )
                }
            }),
        )
        // Unknown API paths get a problem document too, not an empty 404.
        .route(
            "/api/v1/{*rest}",
            any(|| async { ApiError::NotFound("API route".into()) }),
        )
        // So does a known path with a method it has not (e.g. PUT where PATCH is): a 405.
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::MethodNotAllowed(method.to_string())
        });
    (router, doc)
}

async fn require_api_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return ApiError::Unauthorized.into_response();
    };
    match state.store.verify_api_key(token).await {
        Ok(Some(_key)) => next.run(request).await,
        Ok(None) => ApiError::Unauthorized.into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
