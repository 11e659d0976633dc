//! `/api/v1/contacts`: create, read, change, delete, search and page through contacts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lb_store::{ContactId, ContactInput, ContactQuery, LifecycleStage, Origin};

use super::dto::{ChangeOut, ContactIn, ContactListParams, ContactOut, ContactPageOut};
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ProblemBody};
use crate::AppState;

/// List and search contacts (ordered by id; keyset pagination with `after`).
#[utoipa::path(
    get, path = "/contacts", tag = "contacts",
    params(ContactListParams),
    responses(
        (status = 200, body = ContactPageOut),
        (status = 422, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ContactListParams>,
) -> Result<Json<ContactPageOut>, ApiError> {
    let lifecycle_stage = match params.lifecycle_stage.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(LifecycleStage::parse(raw).ok_or_else(|| {
            ApiError::invalid(
                "lifecycle_stage",
                format!("'{raw}' is not one of: lead, mql, sql, customer"),
            )
        })?),
    };
    if let Some(limit) = params.limit
        && !(1..=1000).contains(&limit)
    {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let query = ContactQuery {
        search: params.q,
        state: params.state.filter(|s| !s.is_empty()),
        lifecycle_stage,
        after: params.after.map(ContactId),
        limit: params.limit,
    };
    let page = state.store.list_contacts(&query).await?;
    let schema = state.store.schema().await?;
    Ok(Json(ContactPageOut {
        contacts: page
            .contacts
            .into_iter()
            .map(|c| ContactOut::new(c, &schema, &state.base_url))
            .collect(),
        next: page.next.map(|id| id.0),
    }))
}

/// Create a contact (`email` required and unused).
#[utoipa::path(
    post, path = "/contacts", tag = "contacts",
    request_body = ContactIn,
    responses(
        (status = 201, body = ContactOut),
        (status = 409, description = "The email belongs to another contact", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ContactInput>,
) -> Result<(StatusCode, Json<ContactOut>), ApiError> {
    let contact = state.store.create_contact(&input, Origin::Api).await?;
    let schema = state.store.schema().await?;
    Ok((
        StatusCode::CREATED,
        Json(ContactOut::new(contact, &schema, &state.base_url)),
    ))
}

/// Read one contact.
#[utoipa::path(
    get, path = "/contacts/{id}", tag = "contacts",
    params(("id" = i64, Path, description = "Contact id")),
    responses(
        (status = 200, body = ContactOut),
        (status = 404, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ContactOut>, ApiError> {
    let contact = state.store.contact(ContactId(id)).await?;
    let schema = state.store.schema().await?;
    Ok(Json(ContactOut::new(contact, &schema, &state.base_url)))
}

/// Change some fields of a contact (absent keys are left alone; `null` or "" clears).
#[utoipa::path(
    patch, path = "/contacts/{id}", tag = "contacts",
    params(("id" = i64, Path, description = "Contact id")),
    request_body = ContactIn,
    responses(
        (status = 200, body = ContactOut),
        (status = 404, body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ContactInput>,
) -> Result<Json<ContactOut>, ApiError> {
    let contact = state
        .store
        .update_contact(ContactId(id), &input, Origin::Api)
        .await?;
    let schema = state.store.schema().await?;
    Ok(Json(ContactOut::new(contact, &schema, &state.base_url)))
}

/// Delete a contact (its change history is kept).
#[utoipa::path(
    delete, path = "/contacts/{id}", tag = "contacts",
    params(("id" = i64, Path, description = "Contact id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_contact(ContactId(id), Origin::Api)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The change history of a contact, oldest first: every field change with its time and origin.
#[utoipa::path(
    get, path = "/contacts/{id}/changes", tag = "contacts",
    params(("id" = i64, Path, description = "Contact id")),
    responses(
        (status = 200, body = Vec<ChangeOut>),
        (status = 404, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn changes(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<ChangeOut>>, ApiError> {
    let history = state.store.contact_history(ContactId(id)).await?;
    if history.is_empty() {
        state.store.contact(ContactId(id)).await?;
    }
    Ok(Json(history.into_iter().map(ChangeOut::from).collect()))
}
