//! Settings > API/CRM configuration > Salesforce, as in the seed: pick the login flow, enter
//! the connected app's and the integration user's details, "Update configuration".
//!
//! The check itself is the engine's ([`lb_engine::connect`]): log in, read the edition and the
//! API version, check the fields of R-FIELD, save the credentials once they work. This page
//! shows its report: connected or the org's exact refusal with what to do, the edition in plain
//! words, the API version, the required fields present or missing (with "Create missing
//! fields"), then the way to the mapping.
//!
//! Secrets typed here go to the engine and from there to the encrypted secret store; the page
//! only ever says whether one is set. An empty secret input keeps the stored value (when the
//! flow is unchanged), so correcting a username does not mean retyping the password.
//!
//! The web-server flow (R-CONN-3): the form redirects the browser to Salesforce's authorize
//! page with a PKCE challenge; Salesforce sends it back to
//! [`lb_engine::REDIRECT_PATH`] with a code and our `state`, which must match a login this
//! process started less than ten minutes ago.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use lb_engine::{ConnectReport, ConnectRequest, ConnectionSettings, FieldStatus, Health};
use lb_salesforce::{Credentials, JwtKey, PkceLogin};
use secrecy::SecretString;
use serde::Deserialize;
use time::OffsetDateTime;

use super::{Ctx, UiError, UiState, render, when};

/// Salesforce's production login host: the default login URL.
pub(crate) const DEFAULT_LOGIN_URL: &str = "https://login.salesforce.com";
/// How long a started web sign-in may take to come back.
const OAUTH_PENDING_TTL: time::Duration = time::Duration::minutes(10);
const OAUTH_SCOPES: &[&str] = &["api", "refresh_token", "offline_access"];

/// What the settings pages keep between requests in this process.
#[derive(Clone, Default)]
pub struct SettingsMemory {
    /// The last "Update configuration" answer, shown after the redirect.
    last_report: Arc<Mutex<Option<(ConnectReport, OffsetDateTime)>>>,
    /// Web sign-ins in progress, by `state`.
    pending: Arc<Mutex<HashMap<String, PendingOAuth>>>,
}

struct PendingOAuth {
    verifier: SecretString,
    login_url: String,
    client_id: String,
    client_secret: Option<SecretString>,
    started: OffsetDateTime,
}

impl SettingsMemory {
    fn remember(&self, report: ConnectReport) {
        if let Ok(mut slot) = self.last_report.lock() {
            *slot = Some((report, OffsetDateTime::now_utc()));
        }
    }

    fn last(&self) -> Option<(ConnectReport, OffsetDateTime)> {
        self.last_report.lock().ok().and_then(|s| s.clone())
    }
}

/// The instance URL of the saved connection (for links to org records).
pub(crate) async fn instance_url(state: &UiState) -> Option<String> {
    ConnectionSettings::load(&state.store)
        .await
        .ok()
        .flatten()
        .and_then(|s| s.instance_url)
}

/// The login flows the page offers, in the order shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    WebOAuth,
    ClientCredentials,
    Jwt,
    Password,
}

impl Flow {
    const ALL: [Flow; 4] = [
        Flow::WebOAuth,
        Flow::ClientCredentials,
        Flow::Jwt,
        Flow::Password,
    ];

    fn code(self) -> &'static str {
        match self {
            Flow::WebOAuth => "web_oauth",
            Flow::ClientCredentials => "client_credentials",
            Flow::Jwt => "jwt",
            Flow::Password => "password",
        }
    }

    fn parse(raw: &str) -> Option<Flow> {
        Flow::ALL.into_iter().find(|f| f.code() == raw)
    }

    /// The flow a saved connection was made with (`refresh_token` comes from the web flow).
    /// Accepts the saved connection's grant names and the client's `GrantKind` display names.
    fn of_saved(grant: &str) -> Flow {
        match grant {
            "client_credentials" | "client-credentials" => Flow::ClientCredentials,
            "jwt_bearer" | "JWT bearer" => Flow::Jwt,
            "password" | "username-password" => Flow::Password,
            _ => Flow::WebOAuth,
        }
    }
}

pub(crate) struct FlowOption {
    code: &'static str,
    label: &'static str,
    help: &'static str,
    checked: bool,
}

pub(crate) struct FieldRow {
    object: String,
    field: String,
    required: bool,
    status: &'static str,
    status_class: &'static str,
    detail: String,
}

pub(crate) struct OrgView {
    name: String,
    id: String,
    edition: String,
    edition_explained: String,
    api_available: bool,
    api_version: String,
    sandbox: bool,
}

pub(crate) struct ReportView {
    /// The org refused API access (`API_DISABLED_FOR_ORG`): its edition lacks the API.
    api_disabled: bool,
    ok: bool,
    logged_in: bool,
    saved: bool,
    error: Option<String>,
    guidance: Vec<String>,
    notice: Option<String>,
    fields: Vec<FieldRow>,
    missing_fields: bool,
    mapping_problems: Vec<String>,
    api_requests: u64,
    at: String,
}

#[derive(askama::Template)]
#[template(path = "settings_salesforce.html")]
struct SettingsPage {
    ctx: Ctx,
    flows: Vec<FlowOption>,
    login_url: String,
    instance_url: String,
    client_id: String,
    username: String,
    client_secret_set: bool,
    password_set: bool,
    token_set: bool,
    private_key_set: bool,
    callback_url: String,
    saved: Option<SavedView>,
    org: Option<OrgView>,
    report: Option<ReportView>,
    health: super::sync::HealthView,
    notice: Option<&'static str>,
    /// Required fields the saved connection lacks, when no fresh report lists them.
    missing_fields: Vec<String>,
}

pub(crate) struct SavedView {
    flow: &'static str,
    saved_at: String,
    instance_url: String,
}

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    notice: Option<String>,
}

pub(crate) async fn page(
    State(state): State<UiState>,
    ctx: Ctx,
    Query(q): Query<PageQuery>,
) -> Response {
    match build_page(&state, ctx, q.notice.as_deref()).await {
        Ok(page) => render(&page),
        Err((err, ctx)) => err.into_page(ctx),
    }
}

async fn build_page(
    state: &UiState,
    ctx: Ctx,
    notice: Option<&str>,
) -> Result<SettingsPage, (UiError, Ctx)> {
    let saved = match ConnectionSettings::load(&state.store).await {
        Ok(s) => s,
        Err(e) => return Err((UiError::Internal(e.to_string()), ctx)),
    };
    let secret_names = match state.store.secret_names().await {
        Ok(n) => n,
        Err(e) => return Err((UiError::from(e), ctx)),
    };
    let health = match Health::load(&state.store).await {
        Ok(h) => h,
        Err(e) => return Err((UiError::Internal(e.to_string()), ctx)),
    };
    let is_set = |name: &str| secret_names.iter().any(|n| n == name);
    let current = saved
        .as_ref()
        .map(|s| Flow::of_saved(&s.grant))
        .unwrap_or(Flow::WebOAuth);
    let flows = Flow::ALL
        .into_iter()
        .map(|f| FlowOption {
            code: f.code(),
            label: ctx.t(&format!("sf.flow.{}", f.code())),
            help: ctx.t(&format!("sf.flow.{}.help", f.code())),
            checked: f == current,
        })
        .collect();
    // A report from before the credentials were refused no longer describes the connection.
    let rejected_since = match &health {
        Health::CredentialsRejected { since, .. } => Some(*since),
        _ => None,
    };
    let report = state
        .settings
        .last()
        .filter(|(_, at)| rejected_since.is_none_or(|since| *at >= since))
        .map(|(r, at)| report_view(&ctx, &r, at));
    let org = saved
        .as_ref()
        .and_then(|s| s.org.as_ref())
        .map(|o| OrgView {
            name: o.name.clone(),
            id: o.id.clone(),
            edition: o.edition.clone(),
            edition_explained: super::engine_texts::connection_text(ctx.lang, &o.edition_explained),
            api_available: o.api_available,
            api_version: o.api_version.clone(),
            sandbox: o.is_sandbox,
        });
    let notice = match notice {
        Some("fields_created") => Some("sf.notice.fields_created"),
        Some("oauth_done") => Some("sf.notice.oauth_done"),
        _ => None,
    };
    let missing_fields = if report.is_none() {
        super::sync::missing_required_fields(saved.as_ref())
    } else {
        Vec::new()
    };
    Ok(SettingsPage {
        missing_fields,
        flows,
        login_url: saved
            .as_ref()
            .map(|s| s.login_url.clone())
            .unwrap_or_else(|| DEFAULT_LOGIN_URL.to_owned()),
        instance_url: saved
            .as_ref()
            .and_then(|s| s.instance_url.clone())
            .unwrap_or_default(),
        client_id: saved
            .as_ref()
            .map(|s| s.client_id.clone())
            .unwrap_or_default(),
        username: saved
            .as_ref()
            .and_then(|s| s.username.clone())
            .unwrap_or_default(),
        client_secret_set: is_set("salesforce.client_secret"),
        password_set: is_set("salesforce.password"),
        token_set: is_set("salesforce.security_token"),
        private_key_set: is_set("salesforce.private_key"),
        callback_url: format!("{}{}", state.base_url, lb_engine::REDIRECT_PATH),
        saved: saved.as_ref().map(|s| SavedView {
            flow: ctx.t(&format!("sf.flow.{}", Flow::of_saved(&s.grant).code())),
            saved_at: when(s.saved_at),
            instance_url: s.instance_url.clone().unwrap_or_default(),
        }),
        org,
        report,
        health: super::sync::HealthView::with_fields(
            &ctx,
            &health,
            &super::sync::missing_required_fields(saved.as_ref()),
        ),
        notice,
        ctx,
    })
}

fn report_view(ctx: &Ctx, r: &ConnectReport, at: OffsetDateTime) -> ReportView {
    let fields: Vec<FieldRow> = r
        .fields
        .iter()
        .map(|f| {
            let (status, status_class) = match f.status {
                FieldStatus::Present => ("sf.field.present", "ok"),
                FieldStatus::Created => ("sf.field.created", "ok"),
                FieldStatus::Missing if f.required => ("sf.field.missing", "bad"),
                FieldStatus::Missing => ("sf.field.missing", "warn"),
                FieldStatus::WrongType => ("sf.field.wrong_type", "bad"),
            };
            FieldRow {
                object: f.object.clone(),
                field: f.field.clone(),
                required: f.required,
                status: ctx.t(status),
                status_class,
                detail: super::engine_texts::connection_text(
                    ctx.lang,
                    f.detail.as_deref().unwrap_or_default(),
                ),
            }
        })
        .collect();
    ReportView {
        api_disabled: r
            .error
            .as_deref()
            .is_some_and(|e| e.contains("API_DISABLED_FOR_ORG"))
            || r.org.as_ref().is_some_and(|o| !o.api_available),
        ok: r.ok,
        logged_in: r.logged_in,
        saved: r.saved,
        error: r.error.clone(),
        guidance: r
            .guidance
            .iter()
            .map(|g| super::engine_texts::guidance_line(ctx.lang, g))
            .collect(),
        // The client's notice about the legacy flow, in the page's language (same facts).
        notice: r
            .notice
            .as_ref()
            .map(|_| ctx.t("sf.password_notice").to_owned()),
        missing_fields: r.fields.iter().any(|f| f.status == FieldStatus::Missing),
        fields,
        mapping_problems: r.mapping_problems.clone(),
        api_requests: r.api_requests,
        at: when(at),
    }
}

#[derive(Deserialize)]
pub(crate) struct SettingsForm {
    flow: String,
    #[serde(default)]
    login_url: String,
    #[serde(default)]
    instance_url: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    security_token: String,
    #[serde(default)]
    private_key: String,
}

impl std::fmt::Debug for SettingsForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsForm")
            .field("flow", &self.flow)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn non_empty(s: &str) -> Option<SecretString> {
    let s = s.trim();
    (!s.is_empty()).then(|| SecretString::from(s.to_owned()))
}

/// "Update configuration".
pub(crate) async fn update(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<SettingsForm>,
) -> Response {
    let Some(flow) = Flow::parse(&form.flow) else {
        return refuse(
            &state,
            ctx,
            vec![format!("unknown login flow '{}'", form.flow)],
        )
        .await;
    };
    let login_url = match form.login_url.trim() {
        "" => DEFAULT_LOGIN_URL.to_owned(),
        other => other.trim_end_matches('/').to_owned(),
    };
    if url::Url::parse(&login_url).is_err() {
        return refuse_key(&state, ctx, "sf.error.login_url").await;
    }
    let client_id = form.client_id.trim().to_owned();
    if client_id.is_empty() {
        return refuse_key(&state, ctx, "sf.error.client_id").await;
    }
    // Stored secrets fill the blanks, but only for the flow they were saved with.
    let stored = match lb_engine::load_credentials(&state.store, state.key()).await {
        Ok(c) => c.filter(|(s, _)| Flow::of_saved(&s.grant) == flow),
        Err(err) => {
            tracing::warn!(%err, "stored credentials unreadable; the form must give them all");
            None
        }
    };
    let stored_secret =
        |pick: fn(&Credentials) -> Option<SecretString>| stored.as_ref().and_then(|(_, c)| pick(c));
    let client_secret = non_empty(&form.client_secret).or_else(|| {
        stored_secret(|c| match c {
            Credentials::Password { client_secret, .. }
            | Credentials::RefreshToken { client_secret, .. }
            | Credentials::AuthorizationCode { client_secret, .. } => client_secret.clone(),
            Credentials::ClientCredentials { client_secret, .. } => Some(client_secret.clone()),
            Credentials::JwtBearer { .. } => None,
        })
    });
    let username = form.username.trim().to_owned();
    let mut problems = Vec::new();
    let credentials = match flow {
        Flow::WebOAuth => {
            return start_oauth(&state, login_url, client_id, client_secret);
        }
        Flow::ClientCredentials => match client_secret {
            Some(client_secret) => Some(Credentials::ClientCredentials {
                client_id,
                client_secret,
            }),
            None => {
                problems.push(ctx.t("sf.error.client_secret").to_owned());
                None
            }
        },
        Flow::Jwt => {
            let key = non_empty(&form.private_key).or_else(|| {
                stored_secret(|c| match c {
                    Credentials::JwtBearer {
                        key: JwtKey::Pem(pem),
                        ..
                    } => Some(pem.clone()),
                    _ => None,
                })
            });
            if username.is_empty() {
                problems.push(ctx.t("sf.error.username").to_owned());
            }
            match key {
                Some(pem) if problems.is_empty() => Some(Credentials::JwtBearer {
                    client_id,
                    username,
                    key: JwtKey::Pem(pem),
                    audience: None,
                }),
                Some(_) => None,
                None => {
                    problems.push(ctx.t("sf.error.private_key").to_owned());
                    None
                }
            }
        }
        Flow::Password => {
            let password = non_empty(&form.password).or_else(|| {
                stored_secret(|c| match c {
                    Credentials::Password { password, .. } => Some(password.clone()),
                    _ => None,
                })
            });
            // A security token may legitimately be empty (trusted IP ranges), so an empty input
            // keeps the stored one only when one is stored.
            let token = non_empty(&form.security_token)
                .or_else(|| {
                    stored_secret(|c| match c {
                        Credentials::Password { security_token, .. } => {
                            Some(security_token.clone())
                        }
                        _ => None,
                    })
                })
                .unwrap_or_else(|| SecretString::from(String::new()));
            if username.is_empty() {
                problems.push(ctx.t("sf.error.username").to_owned());
            }
            match password {
                Some(password) if problems.is_empty() => Some(Credentials::Password {
                    client_id,
                    client_secret,
                    username,
                    password,
                    security_token: token,
                }),
                Some(_) => None,
                None => {
                    problems.push(ctx.t("sf.error.password").to_owned());
                    None
                }
            }
        }
    };
    let Some(credentials) = credentials else {
        return refuse(&state, ctx, problems).await;
    };
    let instance_url =
        Some(form.instance_url.trim().trim_end_matches('/').to_owned()).filter(|s| !s.is_empty());
    let request = ConnectRequest {
        login_url,
        instance_url,
        credentials,
        create_fields: false,
    };
    run_connect(&state, ctx, request, "/settings/salesforce").await
}

async fn run_connect(state: &UiState, ctx: Ctx, request: ConnectRequest, back: &str) -> Response {
    match lb_engine::connect(&state.store, state.key(), request).await {
        Ok(report) => {
            tracing::info!(
                ok = report.ok,
                logged_in = report.logged_in,
                "Salesforce configuration checked"
            );
            state.settings.remember(report);
            state.forget_client();
            Redirect::to(back).into_response()
        }
        Err(err) => UiError::Internal(err.to_string()).into_page(ctx),
    }
}

/// Shows the form again with what is wrong in the input (nothing was sent to Salesforce).
async fn refuse(state: &UiState, ctx: Ctx, problems: Vec<String>) -> Response {
    let report = ConnectReport {
        ok: false,
        logged_in: false,
        saved: false,
        grant: String::new(),
        notice: None,
        instance_url: None,
        org: None,
        fields: vec![],
        mapping_problems: vec![],
        error: Some(problems.join(" ")),
        guidance: vec![],
        api_requests: 0,
    };
    match build_page(state, ctx, None).await {
        Ok(mut page) => {
            page.report = Some(report_view(&page.ctx, &report, OffsetDateTime::now_utc()));
            (axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response()
        }
        Err((err, ctx)) => err.into_page(ctx),
    }
}

async fn refuse_key(state: &UiState, ctx: Ctx, key: &str) -> Response {
    let message = ctx.t(key).to_owned();
    refuse(state, ctx, vec![message]).await
}

/// "Create missing fields": the same check, with the consent to create them (R-FIELD-5).
pub(crate) async fn create_fields(State(state): State<UiState>, ctx: Ctx) -> Response {
    let (saved, credentials) = match lb_engine::load_credentials(&state.store, state.key()).await {
        Ok(Some(found)) => found,
        Ok(None) => return refuse_key(&state, ctx, "sf.error.not_connected").await,
        Err(err) => return UiError::Internal(err.to_string()).into_page(ctx),
    };
    let request = ConnectRequest {
        login_url: saved.login_url.clone(),
        instance_url: saved.instance_url.clone(),
        credentials,
        create_fields: true,
    };
    run_connect(
        &state,
        ctx,
        request,
        "/settings/salesforce?notice=fields_created",
    )
    .await
}

fn start_oauth(
    state: &UiState,
    login_url: String,
    client_id: String,
    client_secret: Option<SecretString>,
) -> Response {
    let login = PkceLogin::new();
    let Ok(login_base) = url::Url::parse(&login_url) else {
        return Redirect::to("/settings/salesforce").into_response();
    };
    let redirect_uri = format!("{}{}", state.base_url, lb_engine::REDIRECT_PATH);
    let target = login.authorize_url(&login_base, &client_id, &redirect_uri, OAUTH_SCOPES);
    if let Ok(mut pending) = state.settings.pending.lock() {
        let now = OffsetDateTime::now_utc();
        pending.retain(|_, p| now - p.started < OAUTH_PENDING_TTL);
        pending.insert(
            login.state().to_owned(),
            PendingOAuth {
                verifier: login.verifier().clone(),
                login_url,
                client_id,
                client_secret,
                started: now,
            },
        );
    }
    tracing::info!("web sign-in to Salesforce started");
    Redirect::to(target.as_str()).into_response()
}

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The OAuth callback the seed registers: `/settings/api_setting/salesforce_authorize`.
pub(crate) async fn oauth_callback(
    State(state): State<UiState>,
    ctx: Ctx,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let pending = q.state.as_deref().and_then(|s| {
        state
            .settings
            .pending
            .lock()
            .ok()
            .and_then(|mut p| p.remove(s))
    });
    let Some(pending) =
        pending.filter(|p| OffsetDateTime::now_utc() - p.started < OAUTH_PENDING_TTL)
    else {
        return refuse_key(&state, ctx, "sf.error.oauth_state").await;
    };
    if let Some(error) = q.error {
        let text = format!("{error}: {}", q.error_description.unwrap_or_default());
        return refuse(&state, ctx, vec![text]).await;
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return refuse_key(&state, ctx, "sf.error.oauth_state").await;
    };
    let returned_state = q.state.unwrap_or_default();
    let login = PkceLogin::from_parts(pending.verifier, returned_state.clone());
    let redirect_uri = format!("{}{}", state.base_url, lb_engine::REDIRECT_PATH);
    let credentials = match login.credentials(
        &returned_state,
        SecretString::from(code),
        &pending.client_id,
        pending.client_secret,
        &redirect_uri,
    ) {
        Ok(c) => c,
        Err(err) => return refuse(&state, ctx, vec![err.to_string()]).await,
    };
    match lb_engine::complete_web_oauth(&state.store, state.key(), &pending.login_url, credentials)
        .await
    {
        Ok(report) => {
            state.settings.remember(report);
            state.forget_client();
            Redirect::to("/settings/salesforce?notice=oauth_done").into_response()
        }
        Err(err) => UiError::Internal(err.to_string()).into_page(ctx),
    }
}

/// Which grant a saved connection uses, in the engine's words (used by the sync page).
pub(crate) fn grant_label(ctx: &Ctx, grant: &str) -> &'static str {
    ctx.t(&format!("sf.flow.{}", Flow::of_saved(grant).code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grant_name_maps_to_its_flow() {
        use lb_salesforce::GrantKind;
        assert_eq!(
            Flow::of_saved(&GrantKind::Password.to_string()),
            Flow::Password
        );
        assert_eq!(
            Flow::of_saved(&GrantKind::ClientCredentials.to_string()),
            Flow::ClientCredentials
        );
        assert_eq!(Flow::of_saved(&GrantKind::JwtBearer.to_string()), Flow::Jwt);
        assert_eq!(
            Flow::of_saved(&GrantKind::RefreshToken.to_string()),
            Flow::WebOAuth
        );
        assert_eq!(Flow::of_saved("password"), Flow::Password);
        assert_eq!(Flow::of_saved("jwt_bearer"), Flow::Jwt);
    }

    #[test]
    fn form_debug_never_shows_a_secret() {
        let form = SettingsForm {
            flow: "password".into(),
            login_url: String::new(),
            instance_url: String::new(),
            client_id: "key".into(),
            client_secret: "s3cret-value".into(),
            username: "u".into(),
            password: "pw-value".into(),
            security_token: "tok-value".into(),
            private_key: String::new(),
        };
        let shown = format!("{form:?}");
        assert!(
            !shown.contains("s3cret")
                && !shown.contains("pw-value")
                && !shown.contains("tok-value"),
            "{shown}"
        );
    }
}
