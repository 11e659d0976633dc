//! `/api/v1/forms`: forms, their submissions, and the public submission endpoint.
//!
//! The submission endpoint needs no API key (a form on a public site posts to it). It accepts
//! `application/x-www-form-urlencoded` (a plain HTML `<form>`) or a JSON object of scalar
//! values, at most [`SUBMISSION_MAX_BYTES`]. The scoring rule: each submission adds the form's
//! `score_increment` (default 5) to the contact's `behaviour_score`, capped at 50.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use lb_store::NewForm;
use serde_json::Value;

use super::dto::{FormIn, FormOut, SubmissionAccepted, SubmissionListParams, SubmissionOut};
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ProblemBody};
use crate::AppState;

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
        .create_form(&NewForm {
            name: input.name,
            mapping: input.mapping,
            score_increment: input.score_increment,
        })
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

/// Submit a form (public, no API key): creates or updates the contact by email, records the
/// submission, raises the behaviour score and triggers a sync.
#[utoipa::path(
    post, path = "/forms/{id}/submissions", tag = "forms",
    params(("id" = i64, Path, description = "Form id")),
    request_body(
        description = "The form's inputs, urlencoded or as a JSON object of scalar values",
        content(
            (std::collections::BTreeMap<String, String> = "application/x-www-form-urlencoded"),
            (std::collections::BTreeMap<String, String> = "application/json"),
        )
    ),
    responses(
        (status = 201, body = SubmissionAccepted),
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
) -> Result<(StatusCode, Json<SubmissionAccepted>), ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let body = axum::body::to_bytes(request.into_body(), SUBMISSION_MAX_BYTES)
        .await
        .map_err(|_| ApiError::TooLarge(SUBMISSION_MAX_BYTES))?;
    let inputs = match content_type.as_str() {
        "application/x-www-form-urlencoded" => {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).map_err(|e| {
                ApiError::invalid("(body)", format!("not valid urlencoded data: {e}"))
            })?
        }
        "application/json" => json_inputs(&body)?,
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "'{other}' is not accepted: send application/x-www-form-urlencoded or application/json"
            )));
        }
    };
    let outcome = state.store.submit_form(id, &inputs).await?;
    Ok((
        StatusCode::CREATED,
        Json(SubmissionAccepted {
            submission_id: outcome.submission.id,
            contact_id: outcome.contact.id.0,
            created_contact: outcome.submission.created_contact,
            behaviour_score: outcome.contact.behaviour_score,
        }),
    ))
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
