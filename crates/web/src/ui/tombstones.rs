//! Contacts left out of the sync because their Salesforce record was deleted (issue 6, org
//! deletes): the notice on a contact's pages with its "Sync again" button, the list page
//! (`/sync/deleted`, paged, linked from the sync page with the count), and the POST that
//! clears a tombstone (`/contacts/{id}/resync`).
//!
//! Clearing a tombstone only removes it from the store: the next sync plans the contact like
//! any unlinked one, so it may create a new Lead in Salesforce (or link the org record that
//! has its email). Every page says so before and after the button.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use lb_store::ContactId;
use lb_store::sync::tombstones::Tombstone;
use serde::Deserialize;

use super::contacts::record_url;
use super::{Ctx, Lang, UiError, UiState, render, when};

/// Rows per page of the list.
const PAGE_SIZE: u32 = 50;

/// The sentence of a tombstone: "The Salesforce Lead 00Q… was deleted on … (run #N); this
/// contact is no longer synced." (plus the merge's winner when there is one).
pub(crate) fn sentence(lang: Lang, t: &Tombstone) -> String {
    let mut text = lang
        .t("tomb.notice")
        .replace("{object}", t.object.api_name())
        .replace("{org_id}", &t.org_id)
        .replace("{date}", &when(t.deleted_at))
        .replace("{run}", &t.run_id.to_string());
    if let Some(master) = &t.master_id {
        text.push(' ');
        text.push_str(&lang.t("tomb.merged").replace("{master}", master));
    }
    text
}

/// The notice on a contact's pages: its tombstone with the "Sync again" button, or what a
/// "Sync again" just did (`resync` of the query: `done` / `none`).
#[derive(askama::Template)]
#[template(path = "tombstone_notice.html")]
pub(crate) struct Notice {
    lang: Lang,
    csrf: String,
    contact_id: i64,
    /// Where the button's redirect goes back to (`contact` or `sync`).
    back: &'static str,
    sentence: Option<String>,
    /// The words key of what a "Sync again" just did.
    outcome: Option<&'static str>,
}

/// The notice's HTML for contact `id`, or `None` when there is nothing to say.
pub(crate) async fn notice_html(
    state: &UiState,
    lang: Lang,
    csrf: &str,
    id: ContactId,
    back: &'static str,
    resync: Option<&str>,
) -> Result<Option<String>, UiError> {
    let stone = state.store.sync().tombstones_for(&[id]).await?.pop();
    let outcome = match resync {
        Some("done") => Some("tomb.cleared"),
        Some("none") => Some("tomb.not_found"),
        _ => None,
    };
    if stone.is_none() && outcome.is_none() {
        return Ok(None);
    }
    let notice = Notice {
        lang,
        csrf: csrf.to_owned(),
        contact_id: id.0,
        back,
        sentence: stone.as_ref().map(|t| sentence(lang, t)),
        outcome,
    };
    askama::Template::render(&notice)
        .map(Some)
        .map_err(|e| UiError::Internal(e.to_string()))
}

#[derive(Deserialize)]
pub(crate) struct ResyncForm {
    #[serde(default)]
    back: String,
}

/// "Sync again": clears the contact's tombstone and goes back to the page the button was on.
pub(crate) async fn resync(
    State(state): State<UiState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<ResyncForm>,
) -> Response {
    let cleared = match state.store.sync().clear_tombstone(ContactId(id)).await {
        Ok(cleared) => cleared,
        Err(err) => return UiError::from(err).into_page(ctx),
    };
    if !cleared && let Err(err) = state.store.contact(ContactId(id)).await {
        return UiError::from(err).into_page(ctx);
    }
    if cleared {
        tracing::info!(
            contact = id,
            "tombstone cleared: the contact is synced again"
        );
    }
    let outcome = if cleared { "done" } else { "none" };
    let target = match form.back.as_str() {
        "sync" => format!("/contacts/{id}/sync?resync={outcome}"),
        "list" => format!("/sync/deleted?resync={outcome}&contact={id}"),
        _ => format!("/contacts/{id}?resync={outcome}"),
    };
    Redirect::to(&target).into_response()
}

struct Row {
    contact_id: i64,
    email: String,
    object: &'static str,
    org_id: String,
    org_url: Option<String>,
    master_id: Option<String>,
    deleted_at: String,
    run_id: i64,
}

#[derive(askama::Template)]
#[template(path = "tombstones.html")]
struct ListPage {
    ctx: Ctx,
    total: i64,
    rows: Vec<Row>,
    next: Option<String>,
    /// What a "Sync again" from this page just did, with the contact.
    outcome: Option<(&'static str, String)>,
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    after: Option<i64>,
    resync: Option<String>,
    contact: Option<i64>,
}

/// `/sync/deleted`: every contact left out of the sync, by contact id, a page at a time.
pub(crate) async fn list(
    State(state): State<UiState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> Response {
    let after = ContactId(q.after.unwrap_or(0).max(0));
    let sync = state.store.sync();
    let (page, total) = match tokio::try_join!(
        crate::api::tombstones::page(&state.store, after, PAGE_SIZE),
        sync.count_tombstones()
    ) {
        Ok(found) => found,
        Err(err) => return UiError::from(err).into_page(ctx),
    };
    let (rows, next) = page;
    let instance = super::settings::instance_url(&state).await;
    let rows = rows
        .into_iter()
        .map(|(t, email)| Row {
            contact_id: t.contact_id.0,
            email: email.unwrap_or_else(|| format!("#{}", t.contact_id)),
            object: t.object.api_name(),
            org_url: instance
                .as_deref()
                .map(|base| record_url(base, t.object.api_name(), &t.org_id)),
            org_id: t.org_id,
            master_id: t.master_id,
            deleted_at: when(t.deleted_at),
            run_id: t.run_id,
        })
        .collect();
    let outcome = match (q.resync.as_deref(), q.contact) {
        (Some("done"), Some(id)) => Some(("tomb.cleared_one", format!("#{id}"))),
        (Some("none"), Some(id)) => Some(("tomb.not_found_one", format!("#{id}"))),
        _ => None,
    };
    render(&ListPage {
        ctx,
        total,
        rows,
        next: next.map(|id| format!("/sync/deleted?after={id}")),
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use lb_core::SObject;
    use lb_store::ContactId;
    use lb_store::sync::tombstones::Tombstone;
    use time::macros::datetime;

    use super::{Lang, sentence};

    #[test]
    fn the_sentence_names_the_record_its_deletion_and_run_and_a_merge_winner() {
        let mut t = Tombstone {
            contact_id: ContactId(7),
            org_id: "003000000000009AAA".into(),
            object: SObject::Contact,
            deleted_at: datetime!(2026-12-01 09:30 UTC),
            master_id: None,
            run_id: 12,
            recorded_at: datetime!(2026-12-01 10:00 UTC),
        };
        assert_eq!(
            sentence(Lang::En, &t),
            "The Salesforce Contact 003000000000009AAA was deleted on 2026-12-01 09:30 UTC (run #12); this contact is no longer synced."
        );
        t.master_id = Some("003000000000010AAA".into());
        assert_eq!(
            sentence(Lang::Fr, &t),
            "Le Contact Salesforce 003000000000009AAA a été supprimé le 2026-12-01 09:30 UTC (synchro n°12) ; ce contact n'est plus synchronisé. Il a été fusionné dans 003000000000010AAA, qui est lié à un autre contact."
        );
    }
}
