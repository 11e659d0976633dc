//! What a browser sees after posting a form as plain HTML (no JavaScript): the thank-you page
//! `/forms/{id}/thanks` (public: the visitor has no session) when the form has no redirect URL,
//! and a small page naming the refused inputs when the submission was refused. EN/FR from the
//! browser's `Accept-Language`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use lb_store::StoreError;

use super::escape;
use crate::AppState;
use crate::api::error::ApiError;
use crate::ui::Lang;

/// The thank-you page of form `id`.
pub(crate) fn path(id: i64) -> String {
    format!("/forms/{id}/thanks")
}

/// The public pages of this module.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/forms/{id}/thanks", get(thanks))
}

async fn thanks(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> Response {
    let lang = Lang::negotiate(&headers);
    let found = match raw_id.parse::<i64>() {
        Ok(id) => state.store.form(id).await,
        Err(_) => Err(StoreError::NotFound {
            what: format!("form {raw_id}"),
        }),
    };
    match found {
        Ok(_) => page(
            lang,
            StatusCode::OK,
            lang.t("thanks.title"),
            &format!("<p id=\"thanks\">{}</p>", escape(lang.t("thanks.body"))),
        ),
        Err(StoreError::NotFound { .. }) => page(
            lang,
            StatusCode::NOT_FOUND,
            lang.t("refused.title"),
            &format!("<p>{}</p>", escape(lang.t("refused.not_found"))),
        ),
        Err(err) => {
            tracing::error!(%err, "thank-you page failed");
            page(
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                lang.t("refused.title"),
                &format!("<p>{}</p>", escape(lang.t("refused.unavailable"))),
            )
        }
    }
}

/// The page for a refused plain HTML post of form `form_id`: the same status as the JSON
/// answer would have, the inputs named.
pub(crate) fn refused(headers: &HeaderMap, form_id: i64, err: &ApiError) -> Response {
    let lang = Lang::negotiate(headers);
    let (status, body) = match err {
        ApiError::Invalid(problems)
        | ApiError::Conflict {
            errors: problems, ..
        } => {
            let items: String = problems
                .iter()
                .map(|p| {
                    format!(
                        "<li data-field=\"{0}\"><strong>{0}</strong>: {1}</li>",
                        escape(&p.field),
                        escape(&crate::ui::engine_texts::input_problem(lang, &p.message))
                    )
                })
                .collect();
            let status = if matches!(err, ApiError::Invalid(_)) {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::CONFLICT
            };
            (
                status,
                format!(
                    "<p>{}</p>\n<ul id=\"problems\">{items}</ul>",
                    escape(lang.t("refused.intro"))
                ),
            )
        }
        ApiError::NotFound(_) => (StatusCode::NOT_FOUND, simple(lang, "refused.not_found")),
        ApiError::TooLarge(_) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            simple(lang, "refused.too_large"),
        ),
        ApiError::UnsupportedMediaType(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            simple(lang, "refused.unsupported"),
        ),
        _ => {
            tracing::warn!(form_id, "a plain form post failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                simple(lang, "refused.unavailable"),
            )
        }
    };
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
        .map(|r| {
            format!(
                "<p><a id=\"back\" href=\"{}\">{}</a></p>",
                escape(r),
                escape(lang.t("refused.back"))
            )
        })
        .unwrap_or_else(|| {
            format!(
                "<p id=\"back\">{}</p>",
                escape(lang.t("refused.back_button"))
            )
        });
    page(
        lang,
        status,
        lang.t("refused.title"),
        &format!("{body}\n{back}"),
    )
}

fn simple(lang: Lang, key: &str) -> String {
    format!("<p>{}</p>", escape(lang.t(key)))
}

fn page(lang: Lang, status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"{}\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{1}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}</style>\
         </head>\n<body>\n<h1>{1}</h1>\n{2}\n</body>\n</html>\n",
        lang.code(),
        escape(title),
        body
    );
    (status, Html(html)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_these_pages_is_translated() {
        for key in [
            "thanks.title",
            "thanks.body",
            "refused.title",
            "refused.intro",
            "refused.not_found",
            "refused.too_large",
            "refused.unsupported",
            "refused.unavailable",
            "refused.back",
            "refused.back_button",
        ] {
            assert!(crate::ui::i18n::has_key(key), "{key}");
        }
    }

    #[test]
    fn a_refusal_names_the_input_in_the_readers_language() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, "fr".parse().unwrap());
        headers.insert(header::REFERER, "javascript:alert(1)".parse().unwrap());
        let err = ApiError::invalid("your_email", "'x' is not a valid email");
        let response = refused(&headers, 3, &err);
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = futures_body(response);
        assert!(body.contains("data-field=\"your_email\""), "{body}");
        assert!(body.contains("lang=\"fr\""), "{body}");
        assert!(!body.contains("javascript:"), "{body}");
    }

    fn futures_body(response: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
