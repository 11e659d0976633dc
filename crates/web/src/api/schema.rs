//! `/api/v1/custom-fields` and `/api/v1/states`: the configurable parts of the contact model.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lb_store::{FieldKind, NewCustomField};

use super::dto::{CustomFieldIn, CustomFieldOut, StateIn, StatesOut};
use super::error::{ApiError, ApiJson, ProblemBody};
use crate::AppState;

/// The custom field definitions, oldest first.
#[utoipa::path(
    get, path = "/custom-fields", tag = "custom fields",
    responses((status = 200, body = Vec<CustomFieldOut>)),
    security(("api_key" = []))
)]
pub async fn list_fields(
    State(state): State<AppState>,
) -> Result<Json<Vec<CustomFieldOut>>, ApiError> {
    let fields = state.store.custom_fields().await?;
    Ok(Json(fields.into_iter().map(CustomFieldOut::from).collect()))
}

/// Add a custom field; it can be used at once and appears last.
#[utoipa::path(
    post, path = "/custom-fields", tag = "custom fields",
    request_body = CustomFieldIn,
    responses(
        (status = 201, body = CustomFieldOut),
        (status = 409, body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn create_field(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CustomFieldIn>,
) -> Result<(StatusCode, Json<CustomFieldOut>), ApiError> {
    let kind = FieldKind::parse(&input.kind).ok_or_else(|| {
        ApiError::invalid(
            "kind",
            format!(
                "'{}' is not one of: text, number, date, picklist, boolean",
                input.kind
            ),
        )
    })?;
    let field = state
        .store
        .add_custom_field(&NewCustomField {
            name: input.name,
            label: input.label,
            kind,
            options: input.options,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(field.into())))
}

/// The configured states.
#[utoipa::path(
    get, path = "/states", tag = "custom fields",
    responses((status = 200, body = StatesOut)),
    security(("api_key" = []))
)]
pub async fn list_states(State(state): State<AppState>) -> Result<Json<StatesOut>, ApiError> {
    Ok(Json(StatesOut {
        states: state.store.states().await?,
    }))
}

/// Add a state at the end of the list.
#[utoipa::path(
    post, path = "/states", tag = "custom fields",
    request_body = StateIn,
    responses(
        (status = 201, body = StatesOut),
        (status = 409, body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn add_state(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<StateIn>,
) -> Result<(StatusCode, Json<StatesOut>), ApiError> {
    let states = state.store.add_state(&input.name).await?;
    Ok((StatusCode::CREATED, Json(StatesOut { states })))
}
