//! `/api/v1/forms`: forms, their submissions, and the public submission endpoint.
//!
//! The submission endpoint needs no API key (a form on a public site posts to it) and answers
//! any origin (CORS, see [`super::cors`]). It accepts `application/x-www-form-urlencoded` (a
//! plain HTML `<form>`), `multipart/form-data` (its text parts) or a JSON object of scalar
//! values, at most [`SUBMISSION_MAX_BYTES`]. A browser's plain form post is answered with a
//! redirect (303) or an HTML error page; every other client gets JSON. The scoring rule: each submission adds the form's
//! `score_increment` (default 5) to the contact's `behaviour_score`, capped at 50.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lb_store::NewForm;
use serde_json::Value;

use super::dto::{FormIn, FormOut, SubmissionAccepted, SubmissionListParams, SubmissionOut};
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ProblemBody};
use crate::AppState;

mod multipart;

/// Largest submission body accepted.
pub const SUBMISSION_MAX_BYTES: usize = 64 * 1024;

/// The forms, oldest first.
#[utoipa::path(
    get, path = "/forms", tag = "forms",
    responses((status = 200, body = Vec<FormOut>)),
    security(("api_key" = []))
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<FormOut>>, ApiError> {
    let forms = state.store.forms().await?;
    Ok(Json(
        forms
            .into_iter()
            .map(|f| FormOut::new(f, &state.base_url))
            .collect(),
    ))
}

/// Create a form.
#[utoipa::path(
    post, path = "/forms", tag = "forms",
    request_body = FormIn,
    responses(
        (status = 201, body = FormOut),
        (status = 422, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<FormIn>,
) -> Result<(StatusCode, Json<FormOut>), ApiError> {
    let form = state
        .store
        .create_form_with_redirect(
            &NewForm {
                name: input.name,
                mapping: input.mapping,
                score_increment: input.score_increment,
            },
            input.redirect_url.as_deref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(FormOut::new(form, &state.base_url)),
    ))
}

/// Read one form.
#[utoipa::path(
    get, path = "/forms/{id}", tag = "forms",
    params(("id" = i64, Path, description = "Form id")),
    responses(
        (status = 200, body = FormOut),
        (status = 404, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<FormOut>, ApiError> {
    Ok(Json(FormOut::new(
        state.store.form(id).await?,
        &state.base_url,
    )))
}

/// The submissions of a form, newest first.
#[utoipa::path(
    get, path = "/forms/{id}/submissions", tag = "forms",
    params(("id" = i64, Path, description = "Form id"), SubmissionListParams),
    responses(
        (status = 200, body = Vec<SubmissionOut>),
        (status = 404, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn submissions(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(params): ApiQuery<SubmissionListParams>,
) -> Result<Json<Vec<SubmissionOut>>, ApiError> {
    state.store.form(id).await?;
    let list = state
        .store
        .submissions(id, params.before, params.limit.unwrap_or(50))
        .await?;
    Ok(Json(list.into_iter().map(SubmissionOut::from).collect()))
}

/// Submit a form (public, no API key, any origin may call it: CORS): creates or updates the
/// contact by email, records the submission, raises the behaviour score and triggers a sync.
///
/// A plain HTML form post (urlencoded or multipart, `Accept` preferring `text/html`) is answered
/// for a browser: 303 See Other to the form's `redirect_url`, or to the app's thank-you page
/// `/forms/{id}/thanks`; a refused submission gets a small HTML page naming the input. Other
/// clients get JSON: 201, or a problem document.
#[utoipa::path(
    post, path = "/forms/{id}/submissions", tag = "forms",
    params(("id" = i64, Path, description = "Form id")),
    request_body(
        description = "The form's inputs, urlencoded, multipart (text parts) or as a JSON object of scalar values",
        content(
            (std::collections::BTreeMap<String, String> = "application/x-www-form-urlencoded"),
            (std::collections::BTreeMap<String, String> = "multipart/form-data"),
            (std::collections::BTreeMap<String, String> = "application/json"),
        )
    ),
    responses(
        (status = 201, body = SubmissionAccepted),
        (status = 303, description = "A plain HTML form post was accepted: the browser goes to the form's redirect_url or to /forms/{id}/thanks",
            headers(("Location" = String, description = "Where the browser goes"))),
        (status = 404, body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let browser = matches!(
        media_type.as_str(),
        "application/x-www-form-urlencoded" | "multipart/form-data"
    ) && prefers_html(&headers);
    let outcome = async {
        let body = axum::body::to_bytes(request.into_body(), SUBMISSION_MAX_BYTES)
            .await
            .map_err(|_| ApiError::TooLarge(SUBMISSION_MAX_BYTES))?;
        let inputs = match media_type.as_str() {
            "application/x-www-form-urlencoded" => {
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).map_err(|e| {
                    ApiError::invalid("(body)", format!("not valid urlencoded data: {e}"))
                })?
            }
            "multipart/form-data" => multipart::text_fields(&content_type, &body)
                .map_err(|e| ApiError::invalid("(body)", e))?,
            "application/json" => json_inputs(&body)?,
            other => {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "'{other}' is not accepted: send application/x-www-form-urlencoded, multipart/form-data or application/json"
                )));
            }
        };
        Ok::<_, ApiError>(state.store.submit_form(id, &inputs).await?)
    }
    .await;
    match (outcome, browser) {
        (Ok(outcome), false) => (
            StatusCode::CREATED,
            Json(SubmissionAccepted {
                submission_id: outcome.submission.id,
                contact_id: outcome.contact.id.0,
                created_contact: outcome.submission.created_contact,
                behaviour_score: outcome.contact.behaviour_score,
            }),
        )
            .into_response(),
        (Err(err), false) => err.into_response(),
        (Ok(_), true) => {
            // The submission is committed; only where the browser goes is left to find.
            let target = match state.store.form(id).await {
                Ok(form) => form.redirect_url,
                Err(err) => {
                    tracing::warn!(%err, form_id = id, "form unreadable after a submission");
                    None
                }
            }
            .unwrap_or_else(|| crate::pages::thanks::path(id));
            (StatusCode::SEE_OTHER, [(header::LOCATION, target)]).into_response()
        }
        (Err(err), true) => crate::pages::thanks::refused(&headers, id, &err),
    }
}

/// Whether the client prefers an HTML page to JSON (a browser's own navigation sends
/// `text/html,…,*/*;q=0.8`; `fetch()` sends `*/*`).
fn prefers_html(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let weight = |wanted: &[&str]| {
        accept
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let media = parts.next()?.trim().to_ascii_lowercase();
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                wanted.contains(&media.as_str()).then_some(q)
            })
            .fold(0.0_f32, f32::max)
    };
    let html = weight(&["text/html", "application/xhtml+xml"]);
    html > 0.0 && html >= weight(&["application/json", "application/problem+json"])
}

fn json_inputs(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("(body)", format!("not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::invalid(
            "(body)",
            "expected a JSON object of input name → value",
        ));
    };
    let mut inputs = Vec::with_capacity(map.len());
    let mut problems = Vec::new();
    for (name, value) in map {
        match value {
            Value::String(s) => inputs.push((name, s)),
            Value::Number(n) => inputs.push((name, n.to_string())),
            Value::Bool(b) => inputs.push((name, b.to_string())),
            Value::Null => inputs.push((name, String::new())),
            Value::Array(_) | Value::Object(_) => problems.push(lb_store::Problem::new(
                &name,
                "expected a string, number or boolean".into(),
            )),
        }
    }
    if problems.is_empty() {
        Ok(inputs)
    } else {
        Err(ApiError::Invalid(problems))
    }
}
