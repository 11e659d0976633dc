//! HTTP surface of the emulator: routes, the data-API gate (version, session, edition, daily
//! allowance, injected faults, `Sforce-Limit-Info`) and the reply type every handler returns.
//!
//! Invariants:
//! - Every `/services/data/vNN.0/…` request goes through [`data_entry`]: authenticated, counted
//!   once, answered with `Sforce-Limit-Info`, and dispatched off the async runtime
//!   (`spawn_blocking`) because it takes the org lock and may scan a million records.
//! - Handlers never panic on input and never answer 500: every refusal is Salesforce's own
//!   error shape (`[{"message","errorCode"}]` for REST, `{"error","error_description"}` for
//!   OAuth, SOAP faults for SOAP).
//! - Composite subrequests run through the same [`data::dispatch`] as top-level requests, minus
//!   the gate (the composite call is one API call).

mod bulk;
mod collections;
mod control;
mod convert;
mod data;
mod merge;
mod oauth;
mod query;
mod replication;
mod soap;
mod tooling;

pub(crate) use query::Cursors;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use bytes::Bytes;
use lb_wire::ApiError;
use serde::Serialize;

use crate::Emulator;
use crate::state::FaultKind;

/// Oldest API version still served; older ones answer 410 (retired in Summer '25, §2).
pub(crate) const MIN_VERSION: u32 = 31;
/// Newest API version served (Spring '26).
pub(crate) const MAX_VERSION: u32 = 66;

/// The emulator's routes over `emulator`'s state.
pub fn router(emulator: Emulator) -> Router {
    Router::new()
        .route("/services/data", get(versions))
        .route("/services/data/", get(versions))
        .route("/services/data/{*rest}", any(data_entry))
        .route("/services/oauth2/token", any(oauth::token))
        .route("/services/oauth2/authorize", any(oauth::authorize))
        .route("/services/oauth2/userinfo", any(oauth::userinfo))
        .route("/services/oauth2/revoke", any(oauth::revoke))
        .route("/id/{org}/{user}", any(oauth::identity))
        .route("/services/Soap/u/{version}", post(soap::endpoint))
        .route("/services/Soap/c/{version}", post(soap::endpoint))
        .route("/__emulator/reset", post(control::reset))
        .route("/__emulator/records", post(control::records))
        .route("/__emulator/stats", get(control::stats))
        .route("/__emulator/faults", post(control::faults))
        .route("/__emulator/password", post(control::password))
        .fallback(not_found)
        .with_state(emulator)
}

/// A finished answer: status, content type, extra headers, body bytes.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

pub(crate) const JSON: &str = "application/json;charset=UTF-8";

impl Reply {
    /// `value` serialised as JSON.
    pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Reply {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        Reply::raw_json(status, body)
    }

    /// Pre-serialised JSON bytes.
    pub fn raw_json(status: StatusCode, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type: JSON,
            headers: Vec::new(),
            body: Bytes::from(body),
        }
    }

    /// A REST error array.
    pub fn errors(status: StatusCode, errors: Vec<ApiError>) -> Reply {
        Reply::json(status, &errors)
    }

    /// A REST error array with one error without `fields`.
    pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Reply {
        Reply::errors(status, vec![ApiError::new(code, message)])
    }

    /// 404 NOT_FOUND "The requested resource does not exist".
    pub fn not_found() -> Reply {
        Reply::error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    }

    /// An empty body (204, 201 for uploads).
    pub fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            content_type: "",
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Any other content type (CSV, XML, HTML).
    pub fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header (invalid values are skipped rather than failing the reply).
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Reply {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    /// The body parsed back as JSON (composite subresponses embed it).
    pub fn body_json(&self) -> serde_json::Value {
        if self.body.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&self.body).into_owned())
        })
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::from(self.body));
        *res.status_mut() = self.status;
        if !self.content_type.is_empty() {
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            );
        }
        for (k, v) in self.headers {
            res.headers_mut().append(k, v);
        }
        res
    }
}

/// Reads a request body up to the configured maximum; oversized bodies get 413 in
/// Salesforce's error shape instead of a dropped connection.
pub(crate) async fn read_body(em: &Emulator, body: Body) -> Result<Bytes, Reply> {
    let max = em.config().max_body_bytes;
    axum::body::to_bytes(body, max).await.map_err(|_| {
        Reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQUEST_ENTITY_TOO_LARGE",
            format!("The request body exceeds the maximum size of {max} bytes."),
        )
    })
}

/// Parses `vNN.N` (or `latest`) into the major version; Err is the reply for a bad version.
pub(crate) fn parse_version(seg: &str) -> Result<u32, Reply> {
    if seg == "latest" {
        return Ok(MAX_VERSION);
    }
    let parsed = seg
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .filter(|(_, minor)| *minor == "0")
        .and_then(|(major, _)| major.parse::<u32>().ok());
    match parsed {
        Some(v) if (MIN_VERSION..=MAX_VERSION).contains(&v) => Ok(v),
        Some(v) if (7..MIN_VERSION).contains(&v) => Err(Reply::error(
            StatusCode::GONE,
            "UNSUPPORTED_API_VERSION",
            format!("Version {v}.0 of the API is retired and no longer available."),
        )),
        _ => Err(Reply::not_found()),
    }
}

/// Release label of an API version (`66.0` → `Spring '26`): three releases a year, 31.0 being
/// Summer '14.
pub(crate) fn release_label(v: u32) -> String {
    let n = v - 31; // Summer '14
    let season_idx = n % 3; // 0 Summer, 1 Winter, 2 Spring
    let (season, year) = match season_idx {
        0 => ("Summer", 14 + n / 3),
        1 => ("Winter", 15 + n / 3),
        _ => ("Spring", 15 + n / 3),
    };
    format!("{season} '{year:02}")
}

/// `GET /services/data/`: no session needed, not counted (§2).
async fn versions() -> Reply {
    let list: Vec<lb_wire::ApiVersion> = (MIN_VERSION..=MAX_VERSION)
        .map(|v| lb_wire::ApiVersion {
            label: release_label(v),
            url: format!("/services/data/v{v}.0"),
            version: format!("{v}.0"),
        })
        .collect();
    Reply::json(StatusCode::OK, &list)
}

async fn not_found() -> Reply {
    Reply::not_found()
}

/// The bearer token of a request (`Authorization: Bearer X`; Salesforce also takes `OAuth X`).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The session check shared by the data API, userinfo and identity: `Ok(user_id)` or the 401.
pub(crate) fn authenticate(em: &Emulator, headers: &HeaderMap) -> Result<(String, bool), Reply> {
    let invalid = || {
        Reply::error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
    };
    let token = bearer(headers).ok_or_else(invalid)?;
    let auth = em.auth();
    let session = auth.sessions.get(&token).ok_or_else(invalid)?;
    Ok((session.user_id.clone(), session.password_expired))
}

/// The org as a handler sees it: either through the shared locks (one call), or through one
/// write lock held for a whole all-or-none composite request, so its subrequests see each
/// other's writes and can be rolled back together without other requests interleaving.
pub(crate) struct Ctx<'a> {
    pub em: &'a Emulator,
    held: Option<std::cell::RefCell<&'a mut crate::Org>>,
}

/// Shared access to the org through a [`Ctx`].
pub(crate) enum OrgRef<'b> {
    Lock(std::sync::RwLockReadGuard<'b, crate::Org>),
    Cell(std::cell::Ref<'b, crate::Org>),
}

/// Exclusive access to the org through a [`Ctx`].
pub(crate) enum OrgMut<'b> {
    Lock(std::sync::RwLockWriteGuard<'b, crate::Org>),
    Cell(std::cell::RefMut<'b, crate::Org>),
}

impl std::ops::Deref for OrgRef<'_> {
    type Target = crate::Org;
    fn deref(&self) -> &crate::Org {
        match self {
            OrgRef::Lock(g) => g,
            OrgRef::Cell(g) => g,
        }
    }
}

impl std::ops::Deref for OrgMut<'_> {
    type Target = crate::Org;
    fn deref(&self) -> &crate::Org {
        match self {
            OrgMut::Lock(g) => g,
            OrgMut::Cell(g) => g,
        }
    }
}

impl std::ops::DerefMut for OrgMut<'_> {
    fn deref_mut(&mut self) -> &mut crate::Org {
        match self {
            OrgMut::Lock(g) => &mut *g,
            OrgMut::Cell(g) => &mut *g,
        }
    }
}

impl<'a> Ctx<'a> {
    /// A context taking the locks per access.
    pub fn new(em: &'a Emulator) -> Self {
        Ctx { em, held: None }
    }

    /// A context over an org whose write lock the caller holds.
    pub fn holding(em: &'a Emulator, org: &'a mut crate::Org) -> Self {
        Ctx {
            em,
            held: Some(std::cell::RefCell::new(org)),
        }
    }

    /// Shared access. Never call [`Ctx::org_mut`] while holding this.
    pub fn org(&self) -> OrgRef<'_> {
        match &self.held {
            Some(cell) => OrgRef::Cell(std::cell::Ref::map(cell.borrow(), |o| &**o)),
            None => OrgRef::Lock(self.em.org()),
        }
    }

    /// Exclusive access.
    pub fn org_mut(&self) -> OrgMut<'_> {
        match &self.held {
            Some(cell) => OrgMut::Cell(std::cell::RefMut::map(cell.borrow_mut(), |o| &mut **o)),
            None => OrgMut::Lock(self.em.org_mut()),
        }
    }

    pub fn usage(&self) -> std::sync::MutexGuard<'_, crate::state::Usage> {
        self.em.usage()
    }

    pub fn cursors(&self) -> std::sync::MutexGuard<'_, Cursors> {
        self.em.cursors()
    }

    pub fn is_holding(&self) -> bool {
        self.held.is_some()
    }
}

/// Request data handed to [`data::dispatch`] (also built for composite subrequests).
pub(crate) struct Call {
    pub method: Method,
    pub version: u32,
    /// Path segments after the version, percent-decoded, without a trailing empty segment.
    pub segs: Vec<String>,
    /// Raw query string (without `?`).
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// A counted fault to apply to this call's writes (UNABLE_TO_LOCK_ROW, DUPLICATES_DETECTED).
    pub injected: Option<FaultKind>,
    /// Instance URL.
    pub base: String,
}

impl Call {
    /// `/services/data/vNN.0`
    pub fn prefix(&self) -> String {
        format!("/services/data/v{}.0", self.version)
    }

    /// The query parameter `name` (decoded), first occurrence.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// Splits `v66.0/sobjects/Lead/` into the version and decoded segments.
pub(crate) fn split_path(rest: &str) -> (String, Vec<String>) {
    let mut parts = rest.split('/');
    let version = parts.next().unwrap_or_default().to_owned();
    let mut segs: Vec<String> = parts.map(percent_decode).collect();
    while segs.last().is_some_and(|s| s.is_empty()) {
        segs.pop();
    }
    (version, segs)
}

fn percent_decode(s: &str) -> String {
    // Path segments: `%XX` decoded, `+` kept literally (only query strings use `+` for space).
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Name under which a call is counted in `/__emulator/stats` `by_endpoint`.
fn endpoint_key(segs: &[String]) -> String {
    match segs {
        [] => "resources".into(),
        [a, b, ..] if a == "composite" && b == "sobjects" => "composite/sobjects".into(),
        [a, ..] => a.clone(),
    }
}

/// `/services/data/{*rest}`: the gate in front of every data-API call.
async fn data_entry(State(em): State<Emulator>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let latency = em.config().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let rest = parts
        .uri
        .path()
        .trim_start_matches("/services/data/")
        .to_owned();
    let (version_seg, segs) = split_path(&rest);
    let version = match parse_version(&version_seg) {
        Ok(v) => v,
        Err(reply) => return reply.into_response(),
    };
    let (user_id, password_expired) = match authenticate(&em, &parts.headers) {
        Ok(s) => s,
        Err(reply) => return reply.into_response(),
    };
    let _ = user_id;
    if password_expired {
        return Reply::error(
            StatusCode::FORBIDDEN,
            "INVALID_OPERATION_WITH_EXPIRED_PASSWORD",
            "The users password has expired, you must call SetPassword before attempting any other API operations",
        )
        .into_response();
    }
    if !em.org().edition.api_enabled() {
        return Reply::error(
            StatusCode::FORBIDDEN,
            "API_DISABLED_FOR_ORG",
            "The REST API is not enabled for this Organization.",
        )
        .into_response();
    }
    // Counting and faults under one lock so concurrent calls see a consistent allowance.
    let is_write = matches!(
        parts.method,
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    );
    let (limit_info, early, injected) = {
        let mut usage = em.usage();
        let mut early = None;
        let mut injected = None;
        if usage.take_fault(FaultKind::ExpireSessions) {
            if let Some(token) = bearer(&parts.headers) {
                em.auth().sessions.remove(&token);
            }
            early = Some(Reply::error(
                StatusCode::UNAUTHORIZED,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
            ));
        } else if usage.take_fault(FaultKind::RequestLimitExceeded)
            || usage.charge(&endpoint_key(&segs)).is_err()
        {
            early = Some(Reply::error(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            ));
        } else if usage.take_fault(FaultKind::ServerUnavailable) {
            early = Some(Reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable, please try again later.",
            ));
        } else if is_write {
            for kind in [FaultKind::UnableToLockRow, FaultKind::DuplicatesDetected] {
                if usage.take_fault(kind) {
                    injected = Some(kind);
                    break;
                }
            }
        }
        (usage.limit_info(), early, injected)
    };
    let limit_header = HeaderName::from_static("sforce-limit-info");
    if let Some(reply) = early {
        return reply.with_header(limit_header, &limit_info).into_response();
    }
    let body = match read_body(&em, body).await {
        Ok(b) => b,
        Err(reply) => return reply.with_header(limit_header, &limit_info).into_response(),
    };
    let call = Call {
        // HEAD is GET without a body (hyper drops the body of a HEAD answer).
        method: if parts.method == Method::HEAD {
            Method::GET
        } else {
            parts.method
        },
        version,
        segs,
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
        injected,
        base: em.base_url(),
    };
    let em2 = em.clone();
    let reply = match tokio::task::spawn_blocking(move || data::dispatch(&Ctx::new(&em2), &call))
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "data handler failed");
            Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you contact support: 0-0 (0)",
            )
        }
    };
    reply.with_header(limit_header, &limit_info).into_response()
}

/// The error body for a counted write fault (§10).
pub(crate) fn fault_error(kind: FaultKind, object: &str, id: Option<&str>) -> ApiError {
    match kind {
        FaultKind::UnableToLockRow => ApiError::with_fields(
            "UNABLE_TO_LOCK_ROW",
            "unable to obtain exclusive access to this record",
            vec![],
        ),
        _ => {
            let _ = (object, id);
            ApiError::with_fields(
                "DUPLICATES_DETECTED",
                "You're creating a duplicate record. We recommend you use an existing record instead.",
                vec![],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_labels_follow_the_three_a_year_cadence() {
        assert_eq!(release_label(31), "Summer '14");
        assert_eq!(release_label(59), "Winter '24");
        assert_eq!(release_label(65), "Winter '26");
        assert_eq!(release_label(66), "Spring '26");
    }

    #[test]
    fn versions_outside_the_range_are_gone_or_unknown() {
        assert_eq!(parse_version("v66.0").ok(), Some(66));
        assert_eq!(parse_version("v31.0").ok(), Some(31));
        assert_eq!(
            parse_version("v30.0").err().map(|r| r.status),
            Some(StatusCode::GONE)
        );
        assert_eq!(
            parse_version("v67.0").err().map(|r| r.status),
            Some(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            parse_version("v66.5").err().map(|r| r.status),
            Some(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            parse_version("banana").err().map(|r| r.status),
            Some(StatusCode::NOT_FOUND)
        );
    }

    #[test]
    fn path_segments_are_decoded_and_trailing_slash_dropped() {
        let (v, segs) = split_path("v66.0/sobjects/Lead/Ext__c/a%20b+c/");
        assert_eq!(v, "v66.0");
        assert_eq!(segs, vec!["sobjects", "Lead", "Ext__c", "a b+c"]);
    }
}
