//! `GET /contacts/{id}`: one contact's page — its attributes, lifecycle stages with the date
//! each was reached, custom fields, and the history of its changes with their origin.

use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use lb_store::{Attribute, ContactId, LifecycleStage, Store, StoreError, rfc3339};

use super::escape;

/// How many recent changes the page lists.
const HISTORY_SHOWN: usize = 50;

/// The page of contact `raw_id` (as it came in the path). Served by the signed-in web app
/// only (`ui::router`, behind its session gate): the page shows personal data.
///
/// `notice` is trusted HTML placed under the email (the web app's "deleted in Salesforce"
/// notice, already escaped); `lang` is the page's `lang` attribute (the notice's language).
pub(crate) async fn show(
    store: &Store,
    raw_id: &str,
    lang: crate::ui::Lang,
    notice: Option<&str>,
) -> Response {
    let Ok(id) = raw_id.parse::<i64>() else {
        return not_found(raw_id, lang);
    };
    let contact = match store.contact(ContactId(id)).await {
        Ok(c) => c,
        Err(StoreError::NotFound { .. }) => return not_found(raw_id, lang),
        Err(e) => return failure(e, lang),
    };
    let (schema, history) = match (
        store.schema().await,
        store.contact_history(contact.id).await,
    ) {
        (Ok(s), Ok(h)) => (s, h),
        (Err(e), _) | (_, Err(e)) => return failure(e, lang),
    };
    let name = [contact.first_name.as_deref(), contact.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let title = if name.is_empty() {
        contact.email.to_string()
    } else {
        name
    };

    let t = |key| lang.t(key);
    let mut body = String::new();
    // A salesperson lands here from Salesforce (plezi_url): the way on into the app.
    let _ = writeln!(
        body,
        "<p class=\"nav\" id=\"contact-nav\"><a href=\"/contacts\">← {}</a> · <a href=\"/contacts/{}/sync\">{}</a></p>",
        escape(t("nav.contacts")),
        contact.id,
        escape(t("contacts.sync_status"))
    );
    let _ = write!(
        body,
        "<h1>{}</h1>\n<p class=\"email\">{}</p>\n",
        escape(&title),
        escape(contact.email.as_str())
    );
    if let Some(notice) = notice {
        body.push_str(notice);
        body.push('\n');
    }
    let _ = writeln!(
        body,
        "<h2>{}</h2>\n<dl class=\"attributes\">",
        escape(t("page.contact.attributes"))
    );
    for attribute in Attribute::ALL {
        let value = contact.value(attribute.name()).unwrap_or_default();
        let _ = writeln!(
            body,
            "<dt>{}</dt><dd>{}</dd>",
            attribute.name(),
            escape(&value)
        );
    }
    for field in &schema.fields {
        let value = contact.value(&field.name).unwrap_or_default();
        let _ = writeln!(
            body,
            "<dt>{}</dt><dd>{}</dd>",
            escape(&field.label),
            escape(&value)
        );
    }
    let _ = writeln!(
        body,
        "</dl>\n<h2>{}</h2>\n<ol class=\"lifecycle\">",
        escape(t("page.contact.lifecycle"))
    );
    for stage in LifecycleStage::ALL {
        let reached = contact.stage_reached.get(stage).map(rfc3339);
        let current = if stage == contact.lifecycle_stage {
            " class=\"current\""
        } else {
            ""
        };
        let _ = writeln!(
            body,
            "<li{current}>{} — {}</li>",
            stage.name().to_uppercase(),
            reached.as_deref().unwrap_or(t("page.contact.not_reached"))
        );
    }
    let _ = writeln!(
        body,
        "</ol>\n<h2>{}</h2>\n<table class=\"history\">\n<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        escape(t("page.contact.history")),
        escape(t("contacts.when")),
        escape(t("page.contact.field")),
        escape(t("contacts.value")),
        escape(t("contacts.origin"))
    );
    for change in history.iter().rev().take(HISTORY_SHOWN) {
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            rfc3339(change.changed_at),
            escape(&change.field),
            escape(change.value.as_deref().unwrap_or("")),
            escape(lang.t(&format!("origin.{}", change.origin.name())))
        );
    }
    body.push_str("</table>\n");
    Html(page_in(lang.code(), &title, &body)).into_response()
}

fn page_in(lang: &str, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head><meta charset=\"utf-8\"><title>{} · leadbridge</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"stylesheet\" href=\"/assets/ui.css\"></head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn not_found(raw_id: &str, lang: crate::ui::Lang) -> Response {
    let title = lang.t("page.contact.not_found");
    let body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n<p><a href=\"/contacts\">← {}</a></p>\n",
        escape(title),
        escape(&lang.t("page.contact.no_such").replace("{id}", raw_id)),
        escape(lang.t("nav.contacts"))
    );
    (
        StatusCode::NOT_FOUND,
        Html(page_in(lang.code(), title, &body)),
    )
        .into_response()
}

fn failure(err: StoreError, lang: crate::ui::Lang) -> Response {
    tracing::error!(error = %err, "contact page failed");
    let title = lang.t("page.contact.failed");
    let body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n",
        escape(title),
        escape(lang.t("page.contact.failed_body"))
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(page_in(lang.code(), title, &body)),
    )
        .into_response()
}
