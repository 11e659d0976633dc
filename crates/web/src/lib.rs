//! `lb-web`: the HTTP face of leadbridge.
//!
//! **Job.** The JSON REST API under `/api/v1` (bearer API keys, OpenAPI document generated
//! from the handlers) in [`api`], and the server-rendered pages in [`pages`] (today the
//! contact page `/contacts/{id}`, the target of `plezi_url`, served by [`ui::router`] behind
//! sign-in). [`router`] assembles the API over one [`AppState`]; [`serve`] runs an app on a
//! listener until shutdown. [`router`] also serves the public thank-you page of the forms
//! (`/forms/{id}/thanks`, where a plain HTML form post lands when its form has no redirect URL).
//!
//! **Invariants.**
//! - Only this crate knows HTML and the API's JSON shapes; the store knows neither.
//! - Handlers never answer bad input with a 500: errors are problem documents (API) or
//!   plain pages.
//! - Writes go through `lb_store::Store`, which broadcasts a `ContactEvent` after each commit:
//!   the sync subscribes with [`AppState::subscribe`] (R-SYNC-4).

use std::future::Future;

use axum::Router;
use lb_store::{ContactEvent, Store};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

pub mod api;
pub mod pages;
pub mod ui;

/// What every handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// How a browser reaches this app (`http://127.0.0.1:8080`), without a trailing slash:
    /// contact page URLs (`plezi_url`) and form submission URLs are built from it.
    pub base_url: String,
    /// Origins (`https://shop.example`) whose scripts may call the API-key routes from a
    /// browser (CORS); `*` allows any. Empty: none (the default). The public form submission
    /// endpoint accepts every origin regardless (see [`api::cors`]).
    pub cors_origins: Vec<String>,
}

impl AppState {
    pub fn new(store: Store, base_url: &str) -> AppState {
        AppState {
            store,
            base_url: base_url.trim_end_matches('/').to_owned(),
            cors_origins: Vec::new(),
        }
    }

    /// This state with the origins allowed to call the API-key routes from a browser (each
    /// checked by [`api::cors::parse_origin`] beforehand).
    pub fn with_cors_origins(mut self, origins: Vec<String>) -> AppState {
        self.cors_origins = origins;
        self
    }

    /// Contact events (form submissions, API changes, imports) after they are committed.
    pub fn subscribe(&self) -> broadcast::Receiver<ContactEvent> {
        self.store.subscribe()
    }
}

/// The API (`/api/v1/...`). The pages (contact page included) come from [`ui::router`], merged
/// on top, so that they all sit behind its sign-in gate.
pub fn router(state: AppState) -> Router {
    let (api, _doc) = api::router(&state);
    Router::new()
        .merge(api)
        .layer(api::cors::layer(&state.cors_origins))
        .merge(pages::thanks::router())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
