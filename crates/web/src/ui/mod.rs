//! The web app: server-rendered pages (English and French) for the marketer and the
//! Salesforce admin — sign-in, Settings > API/CRM > Salesforce, the mapping, the sync's health
//! and history, contacts and forms.
//!
//! **Job.** Turn the store's and the sync's state into HTML, and form posts into calls on
//! them. Pages work without JavaScript: every action is a `<form method="post">` answered by a
//! redirect to a page (POST-redirect-GET).
//!
//! **Invariants.**
//! - Every route except sign-in, the setup link, the language switch and the stylesheet needs
//!   a signed-in administrator; without one, the request is redirected to `/sign-in`
//!   ([`auth::gate`]).
//! - Every POST carries the session's anti-CSRF token (or, before sign-in, the token of the
//!   pre-session cookie); a POST without the right one is refused with 403 before any handler
//!   runs.
//! - A stored secret (client secret, password, security token, private key, refresh token) is
//!   never written into a page: forms show only whether it is set, and an empty secret input
//!   keeps the stored value.
//! - Session cookies are `HttpOnly`, `SameSite=Lax` (the OAuth callback is a top-level
//!   navigation from Salesforce, which `Strict` would strip) and `Secure` when the app is
//!   served over HTTPS.

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use lb_engine::Engine;
use lb_store::auth::AdminSession;
use lb_store::{MasterKey, Store};

pub mod auth;
mod chart;
mod contacts;
pub(crate) mod engine_texts;
mod forms;
pub mod i18n;
mod mapping;
mod settings;
mod sync;
mod tombstones;

pub use forms::snippet as form_snippet;
pub use i18n::Lang;

/// What the pages need. Cheap to clone.
#[derive(Clone)]
pub struct UiState {
    pub store: Store,
    /// The sync (connect, run, preview); it also holds the key of the secret store.
    pub engine: Engine,
    /// How a browser reaches this app (`http://127.0.0.1:8080`), without a trailing slash: the
    /// OAuth callback, the forms' snippet and the `plezi_url` links are built from it.
    pub base_url: String,
    settings: settings::SettingsMemory,
    /// A client for the saved connection (describes are cached in it), rebuilt when the
    /// credentials change.
    client: Arc<std::sync::Mutex<Option<(u64, lb_salesforce::Client)>>>,
    /// A run started from the web app is going (set before it is spawned, so the page that
    /// follows the redirect already knows).
    run_in_progress: Arc<std::sync::atomic::AtomicBool>,
    /// Failed sign-ins per username (see [`auth::SignInThrottle`]).
    throttle: auth::SignInThrottle,
}

impl UiState {
    pub fn new(engine: Engine, base_url: &str) -> UiState {
        UiState {
            store: engine.store().clone(),
            engine,
            base_url: base_url.trim_end_matches('/').to_owned(),
            settings: settings::SettingsMemory::default(),
            client: Arc::default(),
            run_in_progress: Arc::default(),
            throttle: auth::SignInThrottle::default(),
        }
    }

    /// Opens the secret store (Salesforce credentials).
    fn key(&self) -> &MasterKey {
        self.engine.master_key()
    }

    /// Drops the cached client (new credentials were saved).
    fn forget_client(&self) {
        if let Ok(mut slot) = self.client.lock() {
            *slot = None;
        }
    }

    /// A client for the saved connection, or `None` when nothing is saved.
    async fn client(&self) -> Result<Option<lb_salesforce::Client>, UiError> {
        let Some((saved, credentials)) = lb_engine::load_credentials(&self.store, self.key())
            .await
            .map_err(|e| UiError::Internal(e.to_string()))?
        else {
            return Ok(None);
        };
        if let Ok(slot) = self.client.lock()
            && let Some((version, client)) = slot.as_ref()
            && *version == saved.credentials_version
        {
            return Ok(Some(client.clone()));
        }
        let config = lb_salesforce::ClientConfig::new(saved.login_url.clone());
        let client = lb_salesforce::Client::new(config, credentials)
            .map_err(|e| UiError::Internal(e.to_string()))?;
        if let Ok(mut slot) = self.client.lock() {
            *slot = Some((saved.credentials_version, client.clone()));
        }
        Ok(Some(client))
    }

    /// Cookies get `Secure` when the app is reached over HTTPS.
    fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

/// The web app for `serve` and `demo`: its routes, and — when no administrator exists yet — a
/// fresh one-time setup link to print (`{base_url}/setup/{token}`, valid 24 hours).
pub async fn app(
    engine: Engine,
    base_url: &str,
) -> Result<(Router, Option<String>), lb_store::StoreError> {
    use secrecy::ExposeSecret;
    let state = UiState::new(engine, base_url);
    let link = state
        .store
        .create_setup_token()
        .await?
        .map(|token| format!("{}/setup/{}", state.base_url, token.expose_secret()));
    Ok((router(state), link))
}

/// The pages' routes. Merge into the app's router: `app.merge(ui::router(state))`.
pub fn router(state: UiState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/sync") }))
        .route("/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route("/sign-out", post(auth::sign_out))
        .route("/setup/{token}", get(auth::setup_page).post(auth::setup))
        .route("/language", post(auth::set_language))
        .route("/assets/ui.css", get(stylesheet))
        .route(
            "/settings",
            get(|| async { Redirect::to("/settings/salesforce") }),
        )
        .route(
            "/settings/salesforce",
            get(settings::page).post(settings::update),
        )
        .route("/settings/salesforce/fields", post(settings::create_fields))
        .route(
            "/settings/api_setting/salesforce_authorize",
            get(settings::oauth_callback),
        )
        .route("/settings/mapping", get(mapping::page).post(mapping::save))
        .route("/sync", get(sync::health_page))
        .route("/sync/now", post(sync::sync_now))
        .route("/sync/preview", post(sync::preview))
        .route("/sync/runs/{id}", get(sync::run_page))
        .route("/sync/deleted", get(tombstones::list))
        .route("/contacts", get(contacts::list))
        .route("/contacts/{id}", get(contact_page))
        .route("/contacts/{id}/sync", get(contacts::sync_status))
        .route("/contacts/{id}/resync", post(tombstones::resync))
        .route("/forms", get(forms::list).post(forms::create))
        .route("/forms/{id}", get(forms::show))
        .route("/forms/{id}/redirect", post(forms::set_redirect))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::gate,
        ))
        .fallback(unknown_page)
        .with_state(state)
}

/// Any other address: a page in the reader's language with the way back, instead of an empty
/// 404 (a mistyped or outdated link from Salesforce or a bookmark). It says nothing about the
/// data, so it needs no session. An unknown API path keeps its bare 404.
async fn unknown_page(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    if uri.path().starts_with("/api/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let lang = Lang::negotiate(&headers);
    let body = format!(
        "<!doctype html>\n<html lang=\"{}\">\n<head><meta charset=\"utf-8\"><title>{} · leadbridge</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"stylesheet\" href=\"/assets/ui.css\"></head>\n\
         <body>\n<main>\n<h1 id=\"not-found\">{}</h1>\n<p><a href=\"/\">leadbridge</a></p>\n</main>\n</body>\n</html>\n",
        lang.code(),
        lang.t("error.title"),
        lang.t("error.not_found"),
    );
    (StatusCode::NOT_FOUND, Html(body)).into_response()
}

/// `?resync=done|none` after a "Sync again" (see [`tombstones`]).
#[derive(serde::Deserialize)]
struct ResyncQuery {
    resync: Option<String>,
}

/// The contact page (`plezi_url`'s target): personal data, so behind the gate like every page.
/// A contact left out of the sync (its Salesforce record was deleted) gets the notice with its
/// "Sync again" button.
async fn contact_page(
    axum::extract::State(state): axum::extract::State<UiState>,
    ctx: Ctx,
    axum::extract::Path(raw_id): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<ResyncQuery>,
) -> Response {
    let notice = match raw_id.parse::<i64>() {
        Ok(id) => match tombstones::notice_html(
            &state,
            ctx.lang,
            &ctx.csrf,
            lb_store::ContactId(id),
            "contact",
            q.resync.as_deref(),
        )
        .await
        {
            Ok(notice) => notice,
            Err(err) => return err.into_page(ctx),
        },
        Err(_) => None,
    };
    crate::pages::contact::show(&state.store, &raw_id, ctx.lang, notice.as_deref()).await
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("ui.css"),
    )
        .into_response()
}

/// What every page's layout needs: language, who is signed in, the form token, the section.
pub(crate) struct Ctx {
    pub lang: Lang,
    pub user: Option<String>,
    pub csrf: String,
    pub path: String,
    /// A strip on every page while the sync is stopped: (CSS class, words key).
    pub alert: Option<(&'static str, &'static str)>,
}

impl Ctx {
    /// The words for `key` in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// Whether the navigation entry for `prefix` is the current section.
    pub fn active(&self, prefix: &str) -> bool {
        self.path == prefix || self.path.starts_with(&format!("{prefix}/"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let lang = Lang::negotiate(&parts.headers);
        let session = parts.extensions.get::<AdminSession>();
        let csrf = match session {
            Some(s) => s.csrf_token.clone(),
            None => parts
                .extensions
                .get::<auth::PreCsrf>()
                .map(|p| p.0.clone())
                .unwrap_or_default(),
        };
        Ok(Ctx {
            lang,
            user: session.map(|s| s.user.username.clone()),
            csrf,
            path: parts.uri.path().to_owned(),
            alert: parts.extensions.get::<auth::Alert>().map(|a| (a.0, a.1)),
        })
    }
}

/// Renders a template into a response; a rendering failure is logged and shown as a 500 page.
pub(crate) fn render<T: askama::Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            tracing::error!(%err, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
                .into_response()
        }
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ctx: Ctx,
    message: String,
}

/// A failure a handler cannot recover from: rendered as a page with the right status.
pub(crate) enum UiError {
    NotFound,
    Internal(String),
}

impl UiError {
    pub(crate) fn into_page(self, ctx: Ctx) -> Response {
        let (status, message) = match self {
            UiError::NotFound => (StatusCode::NOT_FOUND, ctx.t("error.not_found").to_owned()),
            UiError::Internal(detail) => {
                tracing::error!(%detail, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ctx.t("error.internal").to_owned(),
                )
            }
        };
        (status, render(&ErrorPage { ctx, message })).into_response()
    }
}

impl From<lb_store::StoreError> for UiError {
    fn from(err: lb_store::StoreError) -> UiError {
        match err {
            lb_store::StoreError::NotFound { .. } => UiError::NotFound,
            other => UiError::Internal(other.to_string()),
        }
    }
}

/// Formats a time for a page: `2026-11-29 04:05 UTC`.
pub(crate) fn when(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}
