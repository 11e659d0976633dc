//! The connection to one org: configuration, token cache, and the one function every call goes
//! through ([`Client::send`]).
//!
//! Invariants:
//! - Every HTTP attempt is counted (per [`EndpointKind`]) and every response's
//!   `Sforce-Limit-Info` is read before anything else.
//! - Before a call that counts against the allowance, the last reading is checked against the
//!   [`Budget`]; a spent budget sends nothing.
//! - A 401 `INVALID_SESSION_ID` triggers one re-authentication and one retry; concurrent calls
//!   share that re-authentication (one token request, not one per call).
//! - Once the token endpoint refuses the credentials, every later call fails with the same
//!   [`AuthError`] without contacting Salesforce until [`Client::set_credentials`] is called.
//!   The same latch holds for `REQUEST_LIMIT_EXCEEDED` (`TotalRequests`) until
//!   [`Client::resume`].
//! - Only calls marked [`Idempotency::Safe`] are retried after they may have reached the org.
//! - Redirects are never followed (a redirect could carry the bearer token elsewhere).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use tracing::{debug, warn};
use url::Url;

use crate::auth::{Credentials, Session};
use crate::budget::{Budget, EndpointKind, LimitInfo, RequestCounts};
use crate::error::{AuthError, Error};
use crate::hosts::HostPolicy;
use crate::policy::WritePolicy;
use crate::retry::{Idempotency, RetryPolicy, Transient, may_retry};

/// The API version this client is written against; the client negotiates the highest version
/// the org supports that is not above it.
pub const API_VERSION: &str = "66.0";

/// Settings of one connection.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. `https://login.salesforce.com`, `https://acme.my.salesforce.com`, or the emulator.
    pub login_url: String,
    /// The highest API version to use (`"66.0"`).
    pub api_version: String,
    pub hosts: HostPolicy,
    pub retry: RetryPolicy,
    pub budget: Budget,
    /// Per-request timeout.
    pub timeout: Duration,
    pub write_policy: WritePolicy,
    pub bulk: BulkConfig,
    /// `Sforce-Query-Options: batchSize=` for REST query pages (200–2000; `None` = 2000).
    pub query_batch_size: Option<u32>,
}

/// How the client waits for Bulk API 2.0 jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkConfig {
    /// First delay between two status polls; it doubles up to `poll_max`.
    pub poll_initial: Duration,
    pub poll_max: Duration,
    /// Give up waiting (the job keeps running in the org) after this long.
    pub max_wait: Duration,
    /// Records per result page of a Bulk query (`maxRecords`).
    pub query_page_records: u32,
    /// Raw CSV bytes per ingest job (Salesforce: 150 MB after base64, about 100 MB raw);
    /// larger writes run as several jobs.
    pub max_upload_bytes: usize,
}

impl Default for BulkConfig {
    fn default() -> Self {
        Self {
            poll_initial: Duration::from_millis(500),
            poll_max: Duration::from_secs(30),
            max_wait: Duration::from_secs(3600),
            query_page_records: 100_000,
            max_upload_bytes: 100_000_000,
        }
    }
}

impl ClientConfig {
    pub fn new(login_url: impl Into<String>) -> Self {
        Self {
            login_url: login_url.into(),
            api_version: API_VERSION.to_owned(),
            hosts: HostPolicy::default(),
            retry: RetryPolicy::default(),
            budget: Budget::default(),
            timeout: Duration::from_secs(120),
            write_policy: WritePolicy::default(),
            bulk: BulkConfig::default(),
            query_batch_size: None,
        }
    }
}

/// A typed async client for one org. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("Client")
            .field("login_url", &self.inner.login_url.as_str())
            .field("grant", &st.credentials.grant())
            .field("session", &st.session)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) config: ClientConfig,
    pub(crate) login_url: Url,
    pub(crate) state: Mutex<State>,
    /// Serialises logins so that concurrent 401s cause one token request.
    auth_gate: tokio::sync::Mutex<()>,
    pub(crate) describe: Mutex<crate::discovery::DescribeCache>,
}

pub(crate) struct State {
    credentials: Credentials,
    session: Option<Arc<Session>>,
    refused: Option<AuthError>,
    limit_stop: Option<String>,
    limit: Option<LimitInfo>,
    counts: RequestCounts,
    pub(crate) version: Option<String>,
    /// How far the org's clock is at least ahead of ours (see [`Client::server_time`]).
    clock_offset: Option<time::Duration>,
}

/// What a request sends as its body.
pub(crate) enum Body {
    Empty,
    Json(Bytes),
    /// A streamed body: sent once, never retried.
    Stream(Mutex<Option<reqwest::Body>>, &'static str),
}

/// Where a request goes.
pub(crate) enum Target {
    /// Under `/services/data/vXX.X/`.
    Data(String),
    /// An absolute path on the instance (e.g. a `nextRecordsUrl`).
    Path(String),
}

/// One call, as [`Client::send`] runs it.
pub(crate) struct Call {
    pub kind: EndpointKind,
    pub method: Method,
    pub target: Target,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Body,
    pub idempotency: Idempotency,
    /// Non-2xx statuses the caller handles itself (304, 300).
    pub accept: &'static [u16],
}

impl Call {
    pub(crate) fn get(kind: EndpointKind, target: Target) -> Self {
        Self {
            kind,
            method: Method::GET,
            target,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
            idempotency: Idempotency::Safe,
            accept: &[],
        }
    }
    pub(crate) fn json(
        kind: EndpointKind,
        method: Method,
        target: Target,
        body: &impl serde::Serialize,
        idempotency: Idempotency,
    ) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::Protocol(format!("cannot encode request: {e}")))?;
        Ok(Self {
            method,
            body: Body::Json(bytes.into()),
            idempotency,
            ..Self::get(kind, target)
        })
    }
    pub(crate) fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers
            .push((HeaderName::from_static(name), value.into()));
        self
    }
}

/// What came back.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Protocol(format!(
                "cannot read the answer ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            ))
        })
    }
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Client {
    /// A client for the org behind `config.login_url`. Nothing is sent until the first call.
    pub fn new(config: ClientConfig, credentials: Credentials) -> Result<Self, Error> {
        let login_url = config.hosts.parse(&config.login_url)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .user_agent(concat!("leadbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                login_url,
                state: Mutex::new(State {
                    credentials,
                    session: None,
                    refused: None,
                    limit_stop: None,
                    limit: None,
                    counts: RequestCounts::default(),
                    version: None,
                    clock_offset: None,
                }),
                auth_gate: tokio::sync::Mutex::new(()),
                describe: Mutex::new(Default::default()),
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Requests made so far, per endpoint kind (retries included).
    pub fn request_counts(&self) -> RequestCounts {
        self.state().counts.clone()
    }

    /// The latest `Sforce-Limit-Info` reading (or `/limits` answer).
    pub fn limit_info(&self) -> Option<LimitInfo> {
        self.state().limit
    }

    /// Calls left under the configured budget, when a reading exists.
    pub fn budget_remaining(&self) -> Option<u64> {
        self.limit_info()
            .map(|l| self.inner.config.budget.remaining(&l))
    }

    /// Checks that `planned` calls fit the budget; without a reading yet, reads `/limits`
    /// first (one call) so the answer is never a guess.
    pub async fn check_budget(&self, planned: u64) -> Result<LimitInfo, Error> {
        let info = match self.limit_info() {
            Some(i) => i,
            None => {
                self.limits().await?;
                self.limit_info()
                    .ok_or_else(|| Error::Protocol("no DailyApiRequests in /limits".into()))?
            }
        };
        let budget = self.inner.config.budget;
        if budget.allows(&info, planned) {
            Ok(info)
        } else {
            Err(Error::BudgetExhausted {
                limit: info,
                max_share: budget.max_share,
            })
        }
    }

    pub(crate) fn record_limit(&self, info: LimitInfo) {
        self.state().limit = Some(info);
    }

    /// A lower bound of the org's clock now. Each answer's `Date` header (whole seconds) was
    /// written by the org before this machine received it, so `Date − local receipt time` is
    /// at most the true offset between the two clocks; the largest such value seen, added to
    /// this machine's clock, is never ahead of the org's. A sync reading changes by
    /// `SystemModstamp` takes it just before sending its query: every record stamped
    /// `overlap` before it had committed when the query ran, so its next watermark can rest
    /// on the org's time of the read rather than on the newest record it saw. `None` until an
    /// answer carried a `Date`.
    pub fn server_time(&self) -> Option<OffsetDateTime> {
        let offset = self.state().clock_offset?;
        Some(OffsetDateTime::now_utc() + offset)
    }

    fn record_date(&self, headers: &HeaderMap) {
        let received = OffsetDateTime::now_utc();
        if let Some(d) = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date)
        {
            let offset = d - received;
            let mut st = self.state();
            if st.clock_offset.is_none_or(|old| offset > old) {
                st.clock_offset = Some(offset);
            }
        }
    }

    /// The current session, logging in first if there is none.
    pub async fn session(&self) -> Result<Arc<Session>, Error> {
        {
            let st = self.state();
            if let Some(e) = &st.refused {
                return Err(e.clone().into());
            }
            if let Some(s) = &st.session {
                return Ok(s.clone());
            }
        }
        self.login(None).await
    }

    /// Replaces the credentials (e.g. after the user reset the password) and clears the
    /// refusal latch; the next call logs in with them.
    pub fn set_credentials(&self, credentials: Credentials) {
        let mut st = self.state();
        st.credentials = credentials;
        st.session = None;
        st.refused = None;
    }

    /// Starts from a stored session (skips the first login).
    pub fn set_session(&self, session: Session) -> Result<(), Error> {
        self.inner.config.hosts.check(&session.instance_url)?;
        self.state().session = Some(Arc::new(session));
        Ok(())
    }

    /// The refresh token to persist, when the current session has one (web-server flow).
    pub fn refresh_token(&self) -> Option<SecretString> {
        let st = self.state();
        match &st.credentials {
            Credentials::RefreshToken { refresh_token, .. } => Some(refresh_token.clone()),
            _ => st.session.as_ref().and_then(|s| s.refresh_token.clone()),
        }
    }

    /// Clears the `REQUEST_LIMIT_EXCEEDED` latch (e.g. the next day).
    pub fn resume(&self) {
        self.state().limit_stop = None;
    }

    /// The refusal that stopped this client, if any.
    pub fn auth_refusal(&self) -> Option<AuthError> {
        self.state().refused.clone()
    }

    /// Logs in (again). `stale` is the session a caller saw fail; if another task already
    /// replaced it, that newer session is returned without a new token request.
    async fn login(&self, stale: Option<&Arc<Session>>) -> Result<Arc<Session>, Error> {
        let _gate = self.inner.auth_gate.lock().await;
        let credentials = {
            let st = self.state();
            if let Some(e) = &st.refused {
                return Err(e.clone().into());
            }
            match (&st.session, stale) {
                (Some(cur), Some(old)) if !Arc::ptr_eq(cur, old) => return Ok(cur.clone()),
                (Some(cur), None) => return Ok(cur.clone()),
                _ => {}
            }
            st.credentials.clone()
        };
        let grant = credentials.grant();
        let form = match credentials.token_form(&self.inner.login_url) {
            Ok(f) => f,
            Err(e) => {
                self.state().refused = Some(e.clone());
                return Err(e.into());
            }
        };
        let url = self
            .inner
            .login_url
            .join("/services/oauth2/token")
            .map_err(|e| Error::Protocol(e.to_string()))?;
        self.state().counts.add(EndpointKind::Token);
        debug!(%grant, "requesting a Salesforce token");
        let resp = self
            .inner
            .http
            .post(url)
            .form(&form)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| Error::Transport(format!("token endpoint: {e}")))?;
        drop(form);
        self.record_date(resp.headers());
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        if !(200..300).contains(&status) {
            return match serde_json::from_slice::<lb_wire::OAuthError>(&body) {
                Ok(oe) => {
                    let err =
                        AuthError::from_oauth(grant, status, &oe.error, &oe.error_description);
                    warn!(%grant, error = %oe.error, description = %oe.error_description, "token endpoint refused the credentials; stopping");
                    let mut st = self.state();
                    st.refused = Some(err.clone());
                    st.session = None;
                    Err(err.into())
                }
                Err(_) => Err(Error::Protocol(format!(
                    "token endpoint answered {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ))),
            };
        }
        let token: lb_wire::TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| Error::Protocol(format!("token response: {e}")))?;
        let instance_url = self.inner.config.hosts.parse(&token.instance_url)?;
        let session = Arc::new(Session::from_wire(token, instance_url, grant));
        let mut st = self.state();
        if let Some(next) = st.credentials.after_login(session.refresh_token.as_ref()) {
            st.credentials = next;
        }
        st.session = Some(session.clone());
        Ok(session)
    }

    /// The API version in use: the negotiated one, or the configured one before negotiation.
    pub fn api_version(&self) -> String {
        self.state()
            .version
            .clone()
            .unwrap_or_else(|| self.inner.config.api_version.clone())
    }

    fn url_for(&self, session: &Session, target: &Target) -> Result<Url, Error> {
        let path = match target {
            Target::Data(rest) => format!(
                "/services/data/v{}/{}",
                self.api_version(),
                rest.trim_start_matches('/')
            ),
            Target::Path(p) if p.starts_with('/') => p.clone(),
            Target::Path(p) => {
                // An absolute URL (a locator from the org): it must be the same instance.
                let u = Url::parse(p).map_err(|_| Error::Protocol(format!("bad next URL {p}")))?;
                if u.origin() != session.instance_url.origin() {
                    return Err(Error::Protocol(format!(
                        "refusing to follow {p}: not this org's instance"
                    )));
                }
                return Ok(u);
            }
        };
        session
            .instance_url
            .join(&path)
            .map_err(|e| Error::Protocol(format!("bad path {path}: {e}")))
    }

    /// Runs one call with counting, limit reading, budget, one re-auth on 401 and retries
    /// where safe.
    pub(crate) async fn send(&self, call: Call) -> Result<Reply, Error> {
        {
            let st = self.state();
            if let Some(e) = &st.refused {
                return Err(e.clone().into());
            }
            if let Some(msg) = &st.limit_stop {
                return Err(Error::RequestLimitExceeded {
                    message: msg.clone(),
                    limit: st.limit,
                });
            }
            if call.kind.counts_against_allowance()
                && let Some(info) = st.limit
                && !self.inner.config.budget.allows(&info, 1)
            {
                return Err(Error::BudgetExhausted {
                    limit: info,
                    max_share: self.inner.config.budget.max_share,
                });
            }
        }
        let mut session = self.session().await?;
        if matches!(call.target, Target::Data(_)) && self.state().version.is_none() {
            self.ensure_version().await;
        }
        let mut reauthed = false;
        let mut attempt = 0u32;
        let policy = self.inner.config.retry;
        loop {
            let url = self.url_for(&session, &call.target)?;
            let mut req = self.inner.http.request(call.method.clone(), url);
            if !call.query.is_empty() {
                req = req.query(&call.query);
            }
            let mut auth =
                HeaderValue::from_str(&format!("Bearer {}", session.access_token.expose_secret()))
                    .map_err(|_| {
                        Error::Protocol("the access token is not a valid header value".into())
                    })?;
            auth.set_sensitive(true);
            req = req
                .header(reqwest::header::AUTHORIZATION, auth)
                .header("Accept", "application/json");
            for (k, v) in &call.headers {
                req = req.header(k.clone(), v.as_str());
            }
            let mut replayable = true;
            req = match &call.body {
                Body::Empty => req,
                Body::Json(b) => req
                    .header("Content-Type", "application/json")
                    .body(b.clone()),
                Body::Stream(slot, ctype) => {
                    replayable = false;
                    let body = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                    match body {
                        Some(b) => req.header("Content-Type", *ctype).body(b),
                        None => {
                            return Err(Error::Protocol(
                                "a streamed body cannot be sent twice".into(),
                            ));
                        }
                    }
                }
            };
            self.state().counts.add(call.kind);
            let sent = req.send().await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    let transient = if e.is_connect() {
                        Transient::NotSent
                    } else {
                        Transient::MaybeApplied
                    };
                    if replayable
                        && attempt < policy.max_retries
                        && may_retry(transient, call.idempotency)
                    {
                        self.pause(attempt, &format!("{e}")).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(Error::Transport(e.to_string()));
                }
            };
            if let Some(info) = resp
                .headers()
                .get("Sforce-Limit-Info")
                .and_then(|v| v.to_str().ok())
                .and_then(LimitInfo::parse)
            {
                self.record_limit(info);
            }
            self.record_date(resp.headers());
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    if replayable
                        && attempt < policy.max_retries
                        && may_retry(Transient::MaybeApplied, call.idempotency)
                    {
                        self.pause(attempt, &format!("{e}")).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(Error::Transport(e.to_string()));
                }
            };
            if (200..300).contains(&status) || call.accept.contains(&status) {
                return Ok(Reply {
                    status,
                    headers,
                    body,
                });
            }
            let errors = parse_errors(&body);
            let code = errors
                .first()
                .map(|e| e.error_code.as_str())
                .unwrap_or_default();
            if status == 401 && !reauthed {
                debug!(code, "session refused; logging in again once");
                session = self.login(Some(&session)).await?;
                reauthed = true;
                continue;
            }
            if code == "INVALID_OPERATION_WITH_EXPIRED_PASSWORD" {
                // Every later call would fail the same way: stop like a refused login.
                let message = errors
                    .first()
                    .map(|e| e.message.clone())
                    .unwrap_or_default();
                let err = AuthError {
                    failure: crate::error::AuthFailure::PasswordExpired,
                    grant: session.grant,
                    error: code.to_owned(),
                    description: message,
                    status,
                };
                let mut st = self.state();
                st.refused = Some(err.clone());
                st.session = None;
                warn!("the integration user's password expired; stopping");
                return Err(err.into());
            }
            if code == "REQUEST_LIMIT_EXCEEDED" {
                let message = errors
                    .first()
                    .map(|e| e.message.clone())
                    .unwrap_or_default();
                let mut st = self.state();
                // The daily allowance stays spent; a concurrency refusal (ConcurrentPerOrgLongTxn)
                // passes on its own but still stops this piece of work.
                if !message.contains("Concurrent") {
                    st.limit_stop = Some(message.clone());
                }
                warn!(%message, "Salesforce request limit exceeded; stopping");
                return Err(Error::RequestLimitExceeded {
                    message,
                    limit: st.limit,
                });
            }
            let transient = matches!(status, 502..=504)
                || code == "UNABLE_TO_LOCK_ROW"
                || code == "SERVER_UNAVAILABLE";
            if transient
                && replayable
                && attempt < policy.max_retries
                && may_retry(Transient::MaybeApplied, call.idempotency)
            {
                self.pause(attempt, code).await;
                attempt += 1;
                continue;
            }
            return Err(Error::Api { status, errors });
        }
    }

    /// Settles the API version once per connection, before the first versioned call: the
    /// highest the org serves at or below ours (the versions list is free: it does not count
    /// against the allowance). If the list cannot be read, the configured version is kept.
    async fn ensure_version(&self) {
        let call = Call::get(
            EndpointKind::Versions,
            Target::Path("/services/data/".into()),
        );
        let picked = match Box::pin(self.send(call))
            .await
            .and_then(|r| r.json::<Vec<lb_wire::ApiVersion>>())
        {
            Ok(list) => crate::discovery::pick_version(&list, &self.inner.config.api_version),
            Err(e) => {
                warn!(error = %e, "cannot read the org's API versions; using the configured one");
                None
            }
        };
        let mut st = self.state();
        if st.version.is_none() {
            st.version = Some(picked.unwrap_or_else(|| self.inner.config.api_version.clone()));
        }
    }

    async fn pause(&self, attempt: u32, why: &str) {
        let delay = self.inner.config.retry.delay(attempt, &mut rand::rng());
        debug!(attempt, ?delay, why, "retrying after a transient failure");
        tokio::time::sleep(delay).await;
    }
}

/// Reads an error body: the usual array, a single object (seen on collections), or anything
/// else kept as text under `UNKNOWN_ERROR`.
pub(crate) fn parse_errors(body: &[u8]) -> Vec<lb_wire::ApiError> {
    if let Ok(list) = serde_json::from_slice::<Vec<lb_wire::ApiError>>(body) {
        return list;
    }
    if let Ok(one) = serde_json::from_slice::<lb_wire::ApiError>(body) {
        return vec![one];
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(500)])
        .trim()
        .to_owned();
    vec![lb_wire::ApiError::new(
        "UNKNOWN_ERROR",
        if text.is_empty() {
            "empty answer".to_owned()
        } else {
            text
        },
    )]
}

/// An HTTP `Date` header (IMF-fixdate, RFC 9110 §5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`).
fn parse_http_date(v: &str) -> Option<OffsetDateTime> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(v.trim(), &fmt)
        .ok()
        .map(|t| t.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_in_every_recorded_shape_are_read() {
        let arr = parse_errors(
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
        );
        assert_eq!(
            arr,
            vec![lb_wire::ApiError::new(
                "INVALID_SESSION_ID",
                "Session expired or invalid"
            )]
        );
        let one = parse_errors(br#"{"message":"Json Deserialization failed on token 'null'","errorCode":"INVALID_FIELD"}"#);
        assert_eq!(one[0].error_code, "INVALID_FIELD");
        let html = parse_errors(b"<html>Service Unavailable</html>");
        assert_eq!(html[0].error_code, "UNKNOWN_ERROR");
        assert_eq!(html[0].message, "<html>Service Unavailable</html>");
    }

    #[test]
    fn http_dates_are_read_as_utc_and_anything_else_is_ignored() {
        let d = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(d, time::macros::datetime!(1994-11-06 08:49:37 UTC));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("06 Nov 1994"), None);
    }

    #[test]
    fn client_refuses_a_login_url_outside_the_allow_list() {
        let creds = Credentials::ClientCredentials {
            client_id: "ck".into(),
            client_secret: SecretString::from("s"),
        };
        let err = Client::new(ClientConfig::new("https://login.evil.example"), creds).unwrap_err();
        assert!(matches!(err, Error::Url(_)), "{err:?}");
    }
}
