//! Contacts: the list with search, and each contact's sync status (the linked org record with
//! a link to it, when it was last synced, and per field who set the value, in which run, by
//! which rule).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use lb_store::{Contact, ContactId, ContactQuery};
use serde::Deserialize;

use super::{Ctx, UiError, UiState, render, when};

const PAGE_SIZE: u32 = 50;

#[derive(askama::Template)]
#[template(path = "contacts.html")]
struct ContactsPage {
    ctx: Ctx,
    search: String,
    total: i64,
    rows: Vec<ContactRow>,
    next: Option<String>,
}

struct ContactRow {
    id: i64,
    email: String,
    name: String,
    company: String,
    score: i64,
    state: String,
    stage: String,
    updated: String,
}

impl ContactRow {
    fn of(c: &Contact) -> ContactRow {
        let name = [c.first_name.as_deref(), c.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        ContactRow {
            id: c.id.0,
            email: c.email.to_string(),
            name,
            company: c.company.clone().unwrap_or_default(),
            score: c.behaviour_score,
            state: c.state.clone(),
            stage: c.lifecycle_stage.name().to_owned(),
            updated: when(c.updated_at),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
    after: Option<i64>,
}

pub(crate) async fn list(
    State(state): State<UiState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> Response {
    let search = q.q.unwrap_or_default().trim().to_owned();
    let query = ContactQuery {
        search: (!search.is_empty()).then(|| search.clone()),
        after: q.after.map(ContactId),
        limit: Some(PAGE_SIZE),
        ..ContactQuery::default()
    };
    let (page, total) = match tokio::try_join!(
        state.store.list_contacts(&query),
        state.store.count_contacts()
    ) {
        Ok(found) => found,
        Err(err) => return UiError::from(err).into_page(ctx),
    };
    let next = page.next.map(|after| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if !search.is_empty() {
            s.append_pair("q", &search);
        }
        s.append_pair("after", &after.0.to_string());
        format!("/contacts?{}", s.finish())
    });
    let rows = page.contacts.iter().map(ContactRow::of).collect();
    render(&ContactsPage {
        ctx,
        search,
        total,
        rows,
        next,
    })
}

#[derive(askama::Template)]
#[template(path = "contact_sync.html")]
struct SyncStatusPage {
    ctx: Ctx,
    contact: ContactRow,
    /// Every attribute and custom field with a value, in the store's order.
    fields: Vec<(String, String)>,
    /// The latest changes, newest first: field, value, origin, when.
    history: Vec<(String, String, &'static str, String)>,
    links: Vec<LinkRow>,
    last_synced: Option<String>,
    provenance: Vec<ProvenanceRow>,
    /// "Deleted in Salesforce" notice with its "Sync again" button (rendered HTML).
    tombstone: Option<String>,
}

struct LinkRow {
    object: String,
    org_id: String,
    url: Option<String>,
}

struct ProvenanceRow {
    attribute: String,
    value: String,
    direction: &'static str,
    run_id: i64,
    rule: String,
    written: String,
}

#[derive(Deserialize)]
pub(crate) struct SyncStatusQuery {
    resync: Option<String>,
}

pub(crate) async fn sync_status(
    State(state): State<UiState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<SyncStatusQuery>,
) -> Response {
    match load_sync_status(&state, ContactId(id)).await {
        Ok((contact, links, provenance, history)) => {
            let tombstone = match super::tombstones::notice_html(
                &state,
                ctx.lang,
                &ctx.csrf,
                contact.id,
                "sync",
                q.resync.as_deref(),
            )
            .await
            {
                Ok(notice) => notice,
                Err(err) => return err.into_page(ctx),
            };
            let fields = contact.values().into_iter().collect();
            let history = history
                .into_iter()
                .rev()
                .take(HISTORY_SHOWN)
                .map(|h| {
                    let origin = match h.origin {
                        lb_store::Origin::User => "origin.user",
                        lb_store::Origin::Form => "origin.form",
                        lb_store::Origin::Api => "origin.api",
                        lb_store::Origin::Import => "origin.import",
                        lb_store::Origin::Sync => "origin.sync",
                    };
                    (
                        h.field,
                        h.value.unwrap_or_default(),
                        ctx.t(origin),
                        when(h.changed_at),
                    )
                })
                .collect();
            let last_synced = provenance.iter().map(|p| p.written_at).max().map(when);
            let instance = super::settings::instance_url(&state).await;
            let links = links
                .into_iter()
                .map(|l| {
                    let object = format!("{:?}", l.object);
                    let url = instance
                        .as_ref()
                        .map(|base| record_url(base, &object, &l.org_id));
                    LinkRow {
                        object,
                        org_id: l.org_id,
                        url,
                    }
                })
                .collect();
            let mut provenance: Vec<ProvenanceRow> = provenance
                .into_iter()
                .map(|p| ProvenanceRow {
                    direction: match p.target {
                        lb_core::Side::Crm => "sync.to_crm",
                        lb_core::Side::Marketing => "sync.to_marketing",
                    },
                    attribute: p.attribute,
                    value: p.value.unwrap_or_default(),
                    run_id: p.run_id,
                    rule: rule_text(&ctx, &p.rule),
                    written: when(p.written_at),
                })
                .collect();
            provenance.sort_by(|a, b| {
                a.attribute
                    .cmp(&b.attribute)
                    .then(a.direction.cmp(b.direction))
            });
            render(&SyncStatusPage {
                ctx,
                fields,
                history,
                contact: ContactRow::of(&contact),
                links,
                last_synced,
                provenance,
                tombstone,
            })
        }
        Err(err) => err.into_page(ctx),
    }
}

type ContactView = (
    Contact,
    Vec<lb_store::sync::StoredLink>,
    Vec<lb_store::sync::ProvenanceEntry>,
    Vec<lb_store::FieldChange>,
);

async fn load_sync_status(state: &UiState, id: ContactId) -> Result<ContactView, UiError> {
    let contact = state.store.contact(id).await?;
    let sync = state.store.sync();
    let links = sync.links_by_contacts(&[id]).await?;
    let provenance = sync.provenance(id).await?;
    let history = state.store.contact_history(id).await?;
    Ok((contact, links, provenance, history))
}

/// Changes listed on a contact's page.
const HISTORY_SHOWN: usize = 30;

/// The record's page in Salesforce (Lightning Experience).
pub(crate) fn record_url(instance_url: &str, object: &str, id: &str) -> String {
    format!(
        "{}/lightning/r/{object}/{id}/view",
        instance_url.trim_end_matches('/')
    )
}

/// The rule that decided a value, as the engine records it (`lb_core::plan::Rule`'s `Debug`:
/// `Created`, `ConflictResolved(CrmWins)`…), in plain words in the page's language; an unknown
/// rule (another version's) as recorded.
fn rule_text(ctx: &Ctx, recorded: &str) -> String {
    let (name, policy) = match recorded.split_once('(') {
        Some((name, rest)) => (name, Some(rest.trim_end_matches(')'))),
        None => (recorded, None),
    };
    let key = match name {
        "Propagated" => "rule.propagated",
        "ConflictResolved" => "rule.conflict_resolved",
        "DirectionSource" => "rule.direction_source",
        "FirstSync" => "rule.first_sync",
        "Created" => "rule.created",
        "RequiredFallback" => "rule.required_fallback",
        "DuplicateSeed" => "rule.duplicate_seed",
        _ => return recorded.to_owned(),
    };
    let policy = policy.and_then(|p| match p {
        "MostRecent" => Some("map.conflict.most_recent"),
        "CrmWins" => Some("map.conflict.crm_wins"),
        "MarketingWins" => Some("map.conflict.marketing_wins"),
        _ => None,
    });
    match policy {
        Some(p) => format!("{} ({})", ctx.t(key), ctx.t(p)),
        None => ctx.t(key).to_owned(),
    }
}

#[cfg(test)]
mod rule_tests {
    #[test]
    fn every_rule_and_policy_has_its_words() {
        for key in [
            "rule.propagated",
            "rule.conflict_resolved",
            "rule.direction_source",
            "rule.first_sync",
            "rule.created",
            "rule.required_fallback",
            "rule.duplicate_seed",
            "map.conflict.most_recent",
            "map.conflict.crm_wins",
            "map.conflict.marketing_wins",
        ] {
            assert!(super::super::i18n::has_key(key), "{key}");
        }
        // The names the engine records: `lb_core::plan::Rule`'s Debug.
        use lb_core::mapping::ConflictPolicy;
        use lb_core::plan::Rule;
        for (rule, name) in [
            (Rule::Propagated, "Propagated"),
            (
                Rule::ConflictResolved(ConflictPolicy::CrmWins),
                "ConflictResolved(CrmWins)",
            ),
            (Rule::DirectionSource, "DirectionSource"),
            (Rule::FirstSync, "FirstSync"),
            (Rule::Created, "Created"),
            (Rule::RequiredFallback, "RequiredFallback"),
            (Rule::DuplicateSeed, "DuplicateSeed"),
        ] {
            assert_eq!(format!("{rule:?}"), name);
        }
    }
}
