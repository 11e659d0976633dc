//! Sign-in, sessions, the setup link, the language switch, and the gate every page request
//! goes through (session check and CSRF check).
//!
//! The session cookie holds a random token; the store keeps only its hash
//! ([`lb_store::auth`]). The anti-CSRF token is the synchroniser kind: one per session, stored
//! with it, sent back by every form as the hidden `csrf` input. Before sign-in (the sign-in,
//! setup and language forms) a random pre-session cookie plays that role (double submit).

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use lb_store::StoreError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::i18n::LANG_COOKIE;
use super::{Ctx, UiState, render};

pub(crate) const SESSION_COOKIE: &str = "lb_session";
pub(crate) const PRE_CSRF_COOKIE: &str = "lb_precsrf";
/// Largest form body the gate buffers to read the CSRF token.
const MAX_FORM_BYTES: usize = 1 << 20;

/// Failed sign-ins per username: after [`MAX_FAILURES`] within [`FAILURE_WINDOW`], that
/// username cannot sign in until the window has passed since its last failure (a guessing
/// attack gets a handful of tries per quarter hour; Argon2 already makes each one slow).
#[derive(Clone, Default)]
pub(crate) struct SignInThrottle(
    std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, (u32, time::OffsetDateTime)>>,
    >,
);

const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: time::Duration = time::Duration::minutes(15);

impl SignInThrottle {
    fn key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    fn blocked(&self, username: &str, now: time::OffsetDateTime) -> bool {
        let Ok(map) = self.0.lock() else { return false };
        map.get(&Self::key(username))
            .is_some_and(|(n, last)| *n >= MAX_FAILURES && now - *last < FAILURE_WINDOW)
    }

    fn failed(&self, username: &str, now: time::OffsetDateTime) {
        if let Ok(mut map) = self.0.lock() {
            map.retain(|_, (_, last)| now - *last < FAILURE_WINDOW);
            let entry = map.entry(Self::key(username)).or_insert((0, now));
            *entry = (entry.0 + 1, now);
        }
    }

    fn succeeded(&self, username: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(&Self::key(username));
        }
    }
}

/// The sync is stopped: every page of a signed-in administrator says so (class, words key).
#[derive(Clone, Copy)]
pub(crate) struct Alert(pub &'static str, pub &'static str);

/// The alert for the connection's health, if it stops the sync.
async fn alert_for(state: &UiState) -> Option<Alert> {
    match lb_engine::Health::load(&state.store).await.ok()? {
        lb_engine::Health::CredentialsRejected { .. } => Some(Alert("bad", "alert.rejected")),
        lb_engine::Health::AllowanceSpent { .. } | lb_engine::Health::BudgetReached { .. } => {
            Some(Alert("warn", "alert.paused"))
        }
        lb_engine::Health::Failing { .. } => Some(Alert("bad", "alert.failing")),
        _ => None,
    }
}

/// The pre-session anti-CSRF token of this request (set before sign-in).
#[derive(Clone)]
pub(crate) struct PreCsrf(pub String);

fn is_public(path: &str) -> bool {
    matches!(path, "/sign-in" | "/language" | "/assets/ui.css") || path.starts_with("/setup/")
}

/// Only a path of this app is a valid place to go back to (no `//host` or `https://…`).
pub(crate) fn safe_local_path(next: Option<&str>) -> Option<String> {
    let next = next?;
    (next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.contains("://"))
    .then(|| next.to_owned())
}

/// Checks the session and the CSRF token of every request to a page (see the module docs).
pub async fn gate(
    State(state): State<UiState>,
    jar: CookieJar,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let session = match jar.get(SESSION_COOKIE) {
        Some(cookie) => match state.store.admin_session(cookie.value()).await {
            Ok(session) => session,
            Err(err) => {
                tracing::error!(%err, "session lookup failed");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database is not answering.",
                )
                    .into_response();
            }
        },
        None => None,
    };
    if session.is_none() && !is_public(&path) {
        let back = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let target = if req.method() == Method::GET && back != "/" {
            format!(
                "/sign-in?next={}",
                url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
            )
        } else {
            "/sign-in".to_owned()
        };
        return Redirect::to(&target).into_response();
    }

    let existing_pre = jar.get(PRE_CSRF_COOKIE).map(|c| c.value().to_owned());
    let mut new_pre = None;
    let (mut parts, body) = req.into_parts();
    let body = if parts.method == Method::GET || parts.method == Method::HEAD {
        body
    } else {
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response();
            }
        };
        let expected = match &session {
            Some(s) => Some(s.csrf_token.as_str()),
            None => existing_pre.as_deref(),
        };
        let sent = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v));
        let valid = matches!((expected, sent.as_deref()), (Some(e), Some(s)) if !e.is_empty() && constant_time_eq(e.as_bytes(), s.as_bytes()));
        if !valid {
            tracing::warn!(path, "form refused: missing or wrong CSRF token");
            let ctx = Ctx {
                lang: super::Lang::negotiate(&parts.headers),
                user: session.as_ref().map(|s| s.user.username.clone()),
                csrf: String::new(),
                path,
                alert: None,
            };
            let page = super::ErrorPage {
                message: ctx.t("error.csrf").to_owned(),
                ctx,
            };
            return (StatusCode::FORBIDDEN, render(&page)).into_response();
        }
        Body::from(bytes)
    };
    match &session {
        Some(s) => {
            parts.extensions.insert(s.clone());
            if let Some(alert) = alert_for(&state).await {
                parts.extensions.insert(alert);
            }
        }
        None => {
            let token = existing_pre.clone().unwrap_or_else(|| {
                let t = random_token();
                new_pre = Some(t.clone());
                t
            });
            parts.extensions.insert(PreCsrf(token));
        }
    }
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let headers = response.headers_mut();
    if let Some(token) = new_pre {
        let cookie = Cookie::build((PRE_CSRF_COOKIE, token))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(state.secure_cookies())
            .build();
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_token() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn session_cookie(state: &UiState, token: &SecretString) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token.expose_secret().to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies())
        .max_age(time::Duration::seconds(
            lb_store::auth::SESSION_TTL.whole_seconds(),
        ))
        .build()
}

// ------------------------------------------------------------------ sign-in

#[derive(askama::Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    ctx: Ctx,
    next: String,
    username: String,
    failed: bool,
    throttled: bool,
    no_admin: bool,
    signed_out: bool,
}

#[derive(Deserialize)]
pub(crate) struct SignInQuery {
    next: Option<String>,
    notice: Option<String>,
}

pub(crate) async fn sign_in_page(
    State(state): State<UiState>,
    ctx: Ctx,
    Query(q): Query<SignInQuery>,
) -> Response {
    if ctx.user.is_some() {
        return Redirect::to("/sync").into_response();
    }
    let no_admin = state
        .store
        .admin_count()
        .await
        .map(|n| n == 0)
        .unwrap_or(false);
    render(&SignInPage {
        ctx,
        next: safe_local_path(q.next.as_deref()).unwrap_or_default(),
        username: String::new(),
        failed: false,
        throttled: false,
        no_admin,
        signed_out: q.notice.as_deref() == Some("signed_out"),
    })
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    username: String,
    password: SecretString,
    #[serde(default)]
    next: String,
}

pub(crate) async fn sign_in(
    State(state): State<UiState>,
    ctx: Ctx,
    jar: CookieJar,
    axum::Form(form): axum::Form<SignInForm>,
) -> Response {
    let now = time::OffsetDateTime::now_utc();
    if state.throttle.blocked(&form.username, now) {
        tracing::warn!("sign-in refused: too many failures for this username");
        let page = SignInPage {
            next: safe_local_path(Some(&form.next)).unwrap_or_default(),
            username: form.username,
            failed: false,
            throttled: true,
            no_admin: false,
            signed_out: false,
            ctx,
        };
        return (StatusCode::TOO_MANY_REQUESTS, render(&page)).into_response();
    }
    let user = match state
        .store
        .verify_admin(&form.username, &form.password)
        .await
    {
        Ok(user) => user,
        Err(err) => return super::UiError::Internal(err.to_string()).into_page(ctx),
    };
    let Some(user) = user else {
        tracing::info!("sign-in refused");
        state.throttle.failed(&form.username, now);
        let page = SignInPage {
            next: safe_local_path(Some(&form.next)).unwrap_or_default(),
            username: form.username,
            failed: true,
            throttled: false,
            no_admin: false,
            signed_out: false,
            ctx,
        };
        return (StatusCode::UNAUTHORIZED, render(&page)).into_response();
    };
    match state.store.create_admin_session(user.id).await {
        Ok(new) => {
            tracing::info!(user = %user.username, "signed in");
            state.throttle.succeeded(&form.username);
            let jar = jar
                .add(session_cookie(&state, &new.token))
                .remove(Cookie::build(PRE_CSRF_COOKIE).path("/"));
            let to = safe_local_path(Some(&form.next)).unwrap_or_else(|| "/sync".to_owned());
            (jar, Redirect::to(&to)).into_response()
        }
        Err(err) => super::UiError::Internal(err.to_string()).into_page(ctx),
    }
}

pub(crate) async fn sign_out(State(state): State<UiState>, jar: CookieJar) -> Response {
    if let Some(cookie) = jar.get(SESSION_COOKIE)
        && let Err(err) = state.store.delete_admin_session(cookie.value()).await
    {
        tracing::error!(%err, "sign-out could not close the session");
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    (jar, Redirect::to("/sign-in?notice=signed_out")).into_response()
}

// ------------------------------------------------------------------ setup link

#[derive(askama::Template)]
#[template(path = "setup.html")]
struct SetupPage {
    ctx: Ctx,
    usable: bool,
    token: String,
    username: String,
    problems: Vec<String>,
}

pub(crate) async fn setup_page(
    State(state): State<UiState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Response {
    let usable = match state.store.setup_token_usable(&token).await {
        Ok(usable) => usable,
        Err(err) => return super::UiError::Internal(err.to_string()).into_page(ctx),
    };
    let status = if usable {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    (
        status,
        render(&SetupPage {
            ctx,
            usable,
            token,
            username: String::new(),
            problems: vec![],
        }),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct SetupForm {
    username: String,
    password: SecretString,
    password_again: SecretString,
}

pub(crate) async fn setup(
    State(state): State<UiState>,
    ctx: Ctx,
    jar: CookieJar,
    Path(token): Path<String>,
    axum::Form(form): axum::Form<SetupForm>,
) -> Response {
    if form.password.expose_secret() != form.password_again.expose_secret() {
        let problems = vec![ctx.t("setup.mismatch").to_owned()];
        let page = SetupPage {
            ctx,
            usable: true,
            token,
            username: form.username,
            problems,
        };
        return (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response();
    }
    let user = match state
        .store
        .redeem_setup_token(&token, &form.username, &form.password)
        .await
    {
        Ok(user) => user,
        Err(StoreError::Invalid(problems)) => {
            let problems = problems.iter().map(ToString::to_string).collect();
            let page = SetupPage {
                ctx,
                usable: true,
                token,
                username: form.username,
                problems,
            };
            return (StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response();
        }
        Err(StoreError::NotFound { .. }) => {
            let page = SetupPage {
                ctx,
                usable: false,
                token,
                username: String::new(),
                problems: vec![],
            };
            return (StatusCode::GONE, render(&page)).into_response();
        }
        Err(err) => return super::UiError::Internal(err.to_string()).into_page(ctx),
    };
    tracing::info!(user = %user.username, "first administrator created through the setup link");
    match state.store.create_admin_session(user.id).await {
        Ok(new) => {
            let jar = jar.add(session_cookie(&state, &new.token));
            (jar, Redirect::to("/settings/salesforce")).into_response()
        }
        Err(err) => super::UiError::Internal(err.to_string()).into_page(ctx),
    }
}

// ------------------------------------------------------------------ language

#[derive(Deserialize)]
pub(crate) struct LanguageForm {
    lang: String,
    #[serde(default)]
    back: String,
}

pub(crate) async fn set_language(
    jar: CookieJar,
    axum::Form(form): axum::Form<LanguageForm>,
) -> Response {
    let lang = super::Lang::parse(&form.lang).unwrap_or(super::Lang::En);
    let cookie = Cookie::build((LANG_COOKIE, lang.code()))
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(time::Duration::days(365))
        .build();
    let back = safe_local_path(Some(&form.back)).unwrap_or_else(|| "/".to_owned());
    (jar.add(cookie), Redirect::to(&back)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_block_the_username_for_a_quarter_hour() {
        let t = SignInThrottle::default();
        let now = time::OffsetDateTime::now_utc();
        for _ in 0..MAX_FAILURES {
            assert!(!t.blocked("Admin", now));
            t.failed("admin ", now);
        }
        assert!(t.blocked("ADMIN", now));
        assert!(!t.blocked("someone-else", now));
        assert!(t.blocked("admin", now + time::Duration::minutes(14)));
        assert!(!t.blocked("admin", now + FAILURE_WINDOW));
        t.succeeded("admin");
        assert!(!t.blocked("admin", now));
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_local_path(Some("/sync/runs/3")),
            Some("/sync/runs/3".to_owned())
        );
        assert_eq!(safe_local_path(Some("//evil.example/x")), None);
        assert_eq!(safe_local_path(Some("https://evil.example/")), None);
        assert_eq!(safe_local_path(Some("/\\evil.example")), None);
        assert_eq!(safe_local_path(Some("sync")), None);
    }
}
