//! Contacts left out of the sync because the Salesforce record they were linked to was deleted
//! (issue 6, org deletes): `GET /sync/tombstones` pages through them, `DELETE
//! /contacts/{id}/tombstone` clears one so the next sync plans the contact again (a new Lead
//! may then be created, or an org record with its email linked).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lb_store::ContactId;
use lb_store::sync::tombstones::Tombstone;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiPath, ApiQuery, ProblemBody};
use crate::AppState;

/// A contact no longer synced because its Salesforce record was deleted (or merged into a
/// record already linked to another contact).
#[derive(Debug, Serialize, ToSchema)]
pub struct TombstoneOut {
    pub contact_id: i64,
    /// The contact's page.
    pub contact_url: String,
    /// The contact's email; null if the contact was deleted here since.
    pub email: Option<String>,
    /// The deleted (or merged-away) Salesforce record.
    pub org_id: String,
    /// Lead or Contact.
    pub object: String,
    /// When Salesforce deleted it.
    pub deleted_at: String,
    /// The merge's winner, when the record was merged into a record linked to another contact.
    pub master_id: Option<String>,
    /// The sync run that recorded the deletion.
    pub run_id: i64,
    pub recorded_at: String,
}

impl TombstoneOut {
    fn new(t: Tombstone, email: Option<String>, base_url: &str) -> TombstoneOut {
        TombstoneOut {
            contact_id: t.contact_id.0,
            contact_url: format!("{base_url}/contacts/{}", t.contact_id),
            email,
            org_id: t.org_id,
            object: t.object.api_name().to_owned(),
            deleted_at: lb_store::rfc3339(t.deleted_at),
            master_id: t.master_id,
            run_id: t.run_id,
            recorded_at: lb_store::rfc3339(t.recorded_at),
        }
    }
}

/// A page of tombstones, by contact id.
#[derive(Debug, Serialize, ToSchema)]
pub struct TombstonePageOut {
    pub tombstones: Vec<TombstoneOut>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

/// Listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TombstoneListParams {
    /// The `next` of the previous page (a contact id).
    pub after: Option<i64>,
    /// 1–1000, default 50.
    pub limit: Option<u32>,
}

/// One page of tombstones and the cursor of the next: `limit + 1` rows are read to know
/// whether there is a next page (at the store's maximum of 1000, a full page always has one).
pub(crate) async fn page(
    store: &lb_store::Store,
    after: ContactId,
    limit: u32,
) -> Result<(Vec<(Tombstone, Option<String>)>, Option<ContactId>), lb_store::StoreError> {
    let mut rows = store.sync().tombstones(after, limit + 1).await?;
    let next = if rows.len() > limit as usize || rows.len() == 1000 {
        rows.truncate(limit as usize);
        rows.last().map(|t| t.contact_id)
    } else {
        None
    };
    let ids: Vec<ContactId> = rows.iter().map(|t| t.contact_id).collect();
    let emails: HashMap<ContactId, String> = store
        .contacts_by_id(&ids)
        .await?
        .into_iter()
        .map(|c| (c.id, c.email.to_string()))
        .collect();
    let rows = rows
        .into_iter()
        .map(|t| {
            let email = emails.get(&t.contact_id).cloned();
            (t, email)
        })
        .collect();
    Ok((rows, next))
}

/// Contacts not synced because their Salesforce record was deleted, by contact id (keyset
/// pagination with `after`).
#[utoipa::path(
    get, path = "/sync/tombstones", tag = "sync",
    params(TombstoneListParams),
    responses(
        (status = 200, body = TombstonePageOut),
        (status = 422, body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<TombstoneListParams>,
) -> Result<Json<TombstonePageOut>, ApiError> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let after = params.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid(
            "after",
            "must be a contact id (0 or more)",
        ));
    }
    let (rows, next) = page(&state.store, ContactId(after), limit).await?;
    Ok(Json(TombstonePageOut {
        tombstones: rows
            .into_iter()
            .map(|(t, email)| TombstoneOut::new(t, email, &state.base_url))
            .collect(),
        next: next.map(|id| id.0),
    }))
}

/// Sync this contact again: clears its tombstone, so the next sync plans it like any unlinked
/// contact (a new Lead may be created in Salesforce, or an org record with its email linked).
#[utoipa::path(
    delete, path = "/contacts/{id}/tombstone", tag = "sync",
    params(("id" = i64, Path, description = "Contact id")),
    responses(
        (status = 204, description = "Cleared: the next sync includes the contact again"),
        (status = 404, description = "No such contact, or it has no tombstone", body = ProblemBody, content_type = "application/problem+json"),
    ),
    security(("api_key" = []))
)]
pub async fn clear(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    if state.store.sync().clear_tombstone(ContactId(id)).await? {
        return Ok(StatusCode::NO_CONTENT);
    }
    // Say which: an unknown contact, or a contact that is synced (no tombstone).
    state.store.contact(ContactId(id)).await?;
    Err(ApiError::NotFound(format!(
        "tombstone of contact {id} (it is not left out of the sync)"
    )))
}
