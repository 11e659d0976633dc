//! OAuth 2.0 (§1): the token endpoint with the password, client-credentials, refresh-token,
//! authorization-code (+PKCE S256) and JWT-bearer grants; `authorize` (auto-approves and
//! redirects); `userinfo`; `revoke`; the identity URL.
//!
//! Invariants: every refusal is `{"error","error_description"}` with HTTP 400 and the exact
//! pairs Salesforce sends (table in §1.3): credential problems never say which part was wrong.
//! Secrets are compared in constant time and never logged or echoed back.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use lb_wire::{OAuthError, TokenResponse};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Reply, authenticate, bearer, read_body};
use crate::Emulator;
use crate::state::{AuthCode, GrantKind, RefreshGrant, Session, constant_time_eq, now_ms};

/// An authorization code is good for 15 minutes, once.
const CODE_TTL_MS: i64 = 15 * 60 * 1000;

fn oauth_error(error: &str, description: &str) -> Reply {
    Reply::json(
        StatusCode::BAD_REQUEST,
        &OAuthError {
            error: error.to_owned(),
            error_description: description.to_owned(),
        },
    )
}

fn auth_failure() -> Reply {
    oauth_error("invalid_grant", "authentication failure")
}

/// HMAC-SHA256 (RFC 2104), for the token `signature`.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// A random token body of `n` bytes, URL-safe.
fn random_token(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Issues a session and builds the token response (§1.2).
pub(crate) fn issue(
    em: &Emulator,
    grant: GrantKind,
    with_refresh: Option<String>,
    scope: Option<&str>,
    password_expired: bool,
) -> (TokenResponse, String) {
    let base = em.base_url();
    let (org_id, user_id) = {
        let org = em.org();
        (org.org_id.clone(), org.user_id.clone())
    };
    // Access tokens look like `00D…!…`: the 15-character org id, `!`, an opaque part.
    let token = format!("{}!AQ{}", &org_id[..15], random_token(72));
    let issued_at = now_ms();
    let id_url = format!("{base}/id/{org_id}/{user_id}");
    let mut auth = em.auth();
    let refresh = match with_refresh {
        Some(existing) => Some(existing),
        None if matches!(grant, GrantKind::AuthorizationCode) => {
            let wants = scope.is_none_or(|s| {
                s.split(' ')
                    .any(|x| x == "refresh_token" || x == "offline_access" || x == "full")
            });
            wants.then(|| {
                let rt = format!("5Aep861{}", random_token(60));
                let grant = RefreshGrant {
                    client_id: auth.client_id.clone(),
                    user_id: user_id.clone(),
                    scope: scope.unwrap_or_default().to_owned(),
                };
                auth.refresh_tokens.insert(rt.clone(), grant);
                rt
            })
        }
        None => None,
    };
    auth.sessions.insert(
        token.clone(),
        Session {
            user_id: user_id.clone(),
            issued_at_ms: issued_at,
            grant,
            password_expired,
            refresh_token: refresh.clone(),
        },
    );
    let signature = STANDARD.encode(hmac_sha256(
        auth.client_secret.expose_secret().as_bytes(),
        format!("{id_url}{issued_at}").as_bytes(),
    ));
    let response = TokenResponse {
        access_token: token.clone(),
        // Only the auth-code flow hands the refresh token out; a refresh grant does not rotate it.
        refresh_token: if matches!(grant, GrantKind::AuthorizationCode) {
            refresh
        } else {
            None
        },
        signature: Some(signature),
        scope: scope.map(str::to_owned).filter(|s| !s.is_empty()),
        id_token: None,
        instance_url: base,
        id: id_url,
        token_type: "Bearer".into(),
        issued_at: Some(issued_at.to_string()),
    };
    (response, token)
}

/// The form parameters of a token request: body (form-encoded) and query string merged.
fn form(query: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    params.extend(url::form_urlencoded::parse(body).into_owned());
    params
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Client id and secret from HTTP Basic or the body (§1.4).
fn client_credentials(
    headers: &HeaderMap,
    params: &[(String, String)],
) -> (Option<String>, Option<String>) {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        && let Some((id, secret)) = STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())))
    {
        let id = url::form_urlencoded::parse(format!("a={id}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or(id);
        let secret = url::form_urlencoded::parse(format!("a={secret}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or(secret);
        return (Some(id), Some(secret));
    }
    (
        get(params, "client_id").map(str::to_owned),
        get(params, "client_secret").map(str::to_owned),
    )
}

/// Checks the connected app: unknown id → `invalid_client_id`; wrong (or, when required,
/// missing) secret → `invalid_client`.
fn check_client(
    em: &Emulator,
    id: Option<&str>,
    secret: Option<&str>,
    secret_required: bool,
) -> Result<(), Reply> {
    let auth = em.auth();
    match id {
        Some(id) if constant_time_eq(id.as_bytes(), auth.client_id.as_bytes()) => {}
        _ => {
            return Err(oauth_error(
                "invalid_client_id",
                "client identifier invalid",
            ));
        }
    }
    match secret {
        Some(s) if auth.secret_matches(s) => Ok(()),
        None if !secret_required => Ok(()),
        _ => Err(oauth_error("invalid_client", "invalid client credentials")),
    }
}

/// `POST /services/oauth2/token`.
pub(crate) async fn token(State(em): State<Emulator>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if parts.method != Method::POST {
        return oauth_error("invalid_request", "must use HTTP POST").into_response();
    }
    let body = match read_body(&em, body).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let form_encoded = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_encoded && !body.is_empty() {
        return oauth_error("unsupported_grant_type", "grant type not supported").into_response();
    }
    let params = form(parts.uri.query(), &body);
    let reply = match get(&params, "grant_type") {
        Some("password") => password_grant(&em, &parts.headers, &params),
        Some("client_credentials") => client_credentials_grant(&em, &parts.headers, &params),
        Some("refresh_token") => refresh_grant(&em, &parts.headers, &params),
        Some("authorization_code") => code_grant(&em, &parts.headers, &params),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => jwt_grant(&em, &params),
        _ => oauth_error("unsupported_grant_type", "grant type not supported"),
    };
    reply.into_response()
}

fn password_grant(em: &Emulator, headers: &HeaderMap, params: &[(String, String)]) -> Reply {
    let (id, secret) = client_credentials(headers, params);
    if let Err(r) = check_client(em, id.as_deref(), secret.as_deref(), true) {
        return r;
    }
    {
        let auth = em.auth();
        let user_ok =
            get(params, "username").is_some_and(|u| u.eq_ignore_ascii_case(&auth.username));
        let pass_ok = get(params, "password").is_some_and(|p| auth.password_matches(p));
        // An expired password is refused like any bad credential: Salesforce gives no detail
        // at the token endpoint (§1.3); the reason only shows in Login History.
        if !user_ok || !pass_ok || auth.password_expired {
            return auth_failure();
        }
    }
    let (resp, _) = issue(em, GrantKind::Password, None, None, false);
    Reply::json(StatusCode::OK, &resp)
}

fn client_credentials_grant(
    em: &Emulator,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Reply {
    let (id, secret) = client_credentials(headers, params);
    if let Err(r) = check_client(em, id.as_deref(), secret.as_deref(), true) {
        return r;
    }
    let (resp, _) = issue(em, GrantKind::ClientCredentials, None, Some("api"), false);
    Reply::json(StatusCode::OK, &resp)
}

fn refresh_grant(em: &Emulator, headers: &HeaderMap, params: &[(String, String)]) -> Reply {
    let (id, secret) = client_credentials(headers, params);
    if let Err(r) = check_client(em, id.as_deref(), secret.as_deref(), false) {
        return r;
    }
    let Some(rt) = get(params, "refresh_token") else {
        return oauth_error("invalid_grant", "expired access/refresh token");
    };
    let scope = {
        let auth = em.auth();
        match auth.refresh_tokens.get(rt) {
            Some(g) => g.scope.clone(),
            None => return oauth_error("invalid_grant", "expired access/refresh token"),
        }
    };
    let (resp, _) = issue(
        em,
        GrantKind::RefreshToken,
        Some(rt.to_owned()),
        Some(&scope),
        false,
    );
    Reply::json(StatusCode::OK, &resp)
}

fn code_grant(em: &Emulator, headers: &HeaderMap, params: &[(String, String)]) -> Reply {
    let (id, secret) = client_credentials(headers, params);
    let verifier = get(params, "code_verifier");
    // A PKCE client may omit the secret; a confidential one must send the right one.
    if let Err(r) = check_client(em, id.as_deref(), secret.as_deref(), verifier.is_none()) {
        return r;
    }
    let Some(code) = get(params, "code") else {
        return oauth_error("invalid_grant", "invalid authorization code");
    };
    let pending = em.auth().codes.remove(code);
    let Some(pending) = pending.filter(|c| c.expires_at_ms > now_ms()) else {
        return oauth_error("invalid_grant", "expired authorization code");
    };
    if get(params, "redirect_uri") != Some(pending.redirect_uri.as_str()) {
        return oauth_error(
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        );
    }
    if let Some(challenge) = &pending.code_challenge {
        let Some(verifier) = verifier else {
            return oauth_error("invalid_grant", "invalid code verifier");
        };
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if !constant_time_eq(computed.as_bytes(), challenge.as_bytes()) {
            return oauth_error("invalid_request", "invalid code verifier");
        }
    }
    let (resp, _) = issue(
        em,
        GrantKind::AuthorizationCode,
        None,
        Some(&pending.scope),
        false,
    );
    Reply::json(StatusCode::OK, &resp)
}

fn jwt_grant(em: &Emulator, params: &[(String, String)]) -> Reply {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
    let Some(assertion) = get(params, "assertion") else {
        return oauth_error("invalid_grant", "invalid assertion");
    };
    let Ok(header) = decode_header(assertion) else {
        return oauth_error("invalid_grant", "invalid assertion");
    };
    if header.alg != Algorithm::RS256 {
        return oauth_error("invalid_grant", "invalid assertion");
    }
    let (pem, client_id, username) = {
        let auth = em.auth();
        (
            auth.jwt_certificate_pem.clone(),
            auth.client_id.clone(),
            auth.username.clone(),
        )
    };
    let Some(key) = pem.and_then(|p| DecodingKey::from_rsa_pem(p.as_bytes()).ok()) else {
        return oauth_error("invalid_grant", "invalid assertion");
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims = match decode::<Value>(assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            let desc = match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "expired authorization code",
                _ => "invalid assertion",
            };
            return oauth_error("invalid_grant", desc);
        }
    };
    let s = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if s("iss") != client_id {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    let base = em.base_url();
    let aud_ok = |a: &str| {
        let a = a.trim_end_matches('/');
        a == base || a == "https://login.salesforce.com" || a == "https://test.salesforce.com"
    };
    let aud_valid = match claims.get("aud") {
        Some(Value::String(a)) => aud_ok(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(aud_ok),
        _ => false,
    };
    if !aud_valid {
        return oauth_error("invalid_grant", "audience is invalid");
    }
    if !s("sub").eq_ignore_ascii_case(&username) {
        return oauth_error("invalid_grant", "user hasn't approved this consumer");
    }
    let (resp, _) = issue(em, GrantKind::JwtBearer, None, Some("api"), false);
    Reply::json(
        StatusCode::OK,
        &TokenResponse {
            signature: None,
            issued_at: None,
            ..resp
        },
    )
}

/// `GET /services/oauth2/authorize`: validates, auto-approves, redirects with `code` and
/// `state` (or `error`/`error_description` once the redirect URI is known).
pub(crate) async fn authorize(State(em): State<Emulator>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = read_body(&em, body).await.unwrap_or_default();
    let params = form(parts.uri.query(), &body);
    let client_ok = get(&params, "client_id").is_some_and(|id| id == em.auth().client_id);
    let Some(redirect) = get(&params, "redirect_uri").and_then(|r| url::Url::parse(r).ok()) else {
        let msg = if client_ok {
            "redirect_uri must match configuration"
        } else {
            "client identifier invalid"
        };
        return Reply::text(
            StatusCode::BAD_REQUEST,
            "text/html;charset=UTF-8",
            format!("<html><body><h1>error</h1><p>{msg}</p></body></html>"),
        )
        .into_response();
    };
    let state = get(&params, "state").map(str::to_owned);
    let redirect_with = |pairs: Vec<(&str, String)>| {
        let mut url = redirect.clone();
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, &v);
            }
            if let Some(s) = &state {
                q.append_pair("state", s);
            }
        }
        Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, url.as_str())
            .body(axum::body::Body::empty())
            .unwrap_or_else(|_| StatusCode::BAD_REQUEST.into_response())
    };
    if !client_ok {
        return redirect_with(vec![
            ("error", "invalid_client_id".into()),
            ("error_description", "client identifier invalid".into()),
        ]);
    }
    if get(&params, "response_type") != Some("code") {
        return redirect_with(vec![
            ("error", "unsupported_response_type".into()),
            ("error_description", "response type not supported".into()),
        ]);
    }
    let challenge = get(&params, "code_challenge").map(str::to_owned);
    let method = get(&params, "code_challenge_method").map(str::to_owned);
    if challenge.is_some() && method.as_deref().is_some_and(|m| m != "S256") {
        return redirect_with(vec![
            ("error", "invalid_request".into()),
            ("error_description", "invalid code_challenge_method".into()),
        ]);
    }
    let code = format!("aPrx{}", random_token(48));
    let mut auth = em.auth();
    let client_id = auth.client_id.clone();
    auth.codes.insert(
        code.clone(),
        AuthCode {
            client_id,
            redirect_uri: get(&params, "redirect_uri").unwrap_or_default().to_owned(),
            code_challenge: challenge,
            code_challenge_method: method,
            scope: get(&params, "scope").unwrap_or_default().to_owned(),
            expires_at_ms: now_ms() + CODE_TTL_MS,
        },
    );
    drop(auth);
    redirect_with(vec![("code", code)])
}

fn identity_body(em: &Emulator) -> Value {
    let base = em.base_url();
    let org = em.org();
    let user = org
        .get("User", &org.user_id)
        .ok()
        .cloned()
        .unwrap_or_default();
    let s = |k: &str| user.get(k).cloned().unwrap_or(Value::Null);
    let (org_id, user_id) = (org.org_id.clone(), org.user_id.clone());
    let v = "{version}";
    json!({
        "id": format!("{base}/id/{org_id}/{user_id}"),
        "asserted_user": true,
        "user_id": user_id,
        "organization_id": org_id,
        "username": s("Username"),
        "nick_name": s("Alias"),
        "display_name": s("Name"),
        "email": s("Email"),
        "email_verified": true,
        "first_name": s("FirstName"),
        "last_name": s("LastName"),
        "timezone": s("TimeZoneSidKey"),
        "photos": {"picture": format!("{base}/profilephoto/005/F"), "thumbnail": format!("{base}/profilephoto/005/T")},
        "mobile_phone": null,
        "mobile_phone_verified": false,
        "status": {"created_date": null, "body": null},
        "urls": {
            "enterprise": format!("{base}/services/Soap/c/{v}/{}", &org_id[..15]),
            "metadata": format!("{base}/services/Soap/m/{v}/{}", &org_id[..15]),
            "partner": format!("{base}/services/Soap/u/{v}/{}", &org_id[..15]),
            "rest": format!("{base}/services/data/v{v}/"),
            "sobjects": format!("{base}/services/data/v{v}/sobjects/"),
            "search": format!("{base}/services/data/v{v}/search/"),
            "query": format!("{base}/services/data/v{v}/query/"),
            "recent": format!("{base}/services/data/v{v}/recent/"),
            "tooling_soap": format!("{base}/services/Soap/T/{v}/{}", &org_id[..15]),
            "tooling_rest": format!("{base}/services/data/v{v}/tooling/"),
            "profile": format!("{base}/{user_id}"),
            "feeds": format!("{base}/services/data/v{v}/chatter/feeds"),
            "groups": format!("{base}/services/data/v{v}/chatter/groups"),
            "users": format!("{base}/services/data/v{v}/chatter/users"),
            "feed_items": format!("{base}/services/data/v{v}/chatter/feed-items"),
            "feed_elements": format!("{base}/services/data/v{v}/chatter/feed-elements"),
            "custom_domain": base,
        },
        "active": true,
        "user_type": "STANDARD",
        "language": s("LanguageLocaleKey"),
        "locale": s("LocaleSidKey"),
        "utcOffset": 3_600_000,
        "last_modified_date": s("LastModifiedDate"),
        "is_app_installed": true,
    })
}

fn bad_token() -> Response {
    Reply::text(
        StatusCode::FORBIDDEN,
        "text/plain;charset=UTF-8",
        "Bad_OAuth_Token",
    )
    .into_response()
}

/// `GET /services/oauth2/userinfo` (OIDC claims, §1.1).
pub(crate) async fn userinfo(State(em): State<Emulator>, headers: HeaderMap) -> Response {
    if authenticate(&em, &headers).is_err() {
        return bad_token();
    }
    let id = identity_body(&em);
    let g = |k: &str| id.get(k).cloned().unwrap_or(Value::Null);
    let body = json!({
        "sub": g("id"),
        "user_id": g("user_id"),
        "organization_id": g("organization_id"),
        "preferred_username": g("username"),
        "nickname": g("nick_name"),
        "name": g("display_name"),
        "email": g("email"),
        "email_verified": true,
        "given_name": g("first_name"),
        "family_name": g("last_name"),
        "zoneinfo": g("timezone"),
        "photos": g("photos"),
        "profile": id["urls"]["profile"],
        "picture": id["photos"]["picture"],
        "address": {},
        "urls": g("urls"),
        "active": true,
        "user_type": "STANDARD",
        "language": g("language"),
        "locale": g("locale"),
        "utcOffset": g("utcOffset"),
        "updated_at": g("last_modified_date"),
        "is_app_installed": true,
    });
    Reply::json(StatusCode::OK, &body).into_response()
}

/// `GET /id/{org}/{user}`: the identity service, bearer-authenticated.
pub(crate) async fn identity(
    State(em): State<Emulator>,
    Path((org, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if authenticate(&em, &headers).is_err() {
        return bad_token();
    }
    let (org_id, user_id) = {
        let o = em.org();
        (o.org_id.clone(), o.user_id.clone())
    };
    let same = |a: &str, b: &str| a.len() >= 15 && b.starts_with(&a[..15]);
    if !same(&org, &org_id) || !same(&user, &user_id) {
        return Reply::text(StatusCode::NOT_FOUND, "text/plain;charset=UTF-8", "Bad_Id")
            .into_response();
    }
    Reply::json(StatusCode::OK, &identity_body(&em)).into_response()
}

/// `POST /services/oauth2/revoke` (`token=` an access or refresh token). Revoking a refresh
/// token also ends the sessions obtained with it.
pub(crate) async fn revoke(State(em): State<Emulator>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = read_body(&em, body).await.unwrap_or_default();
    let params = form(parts.uri.query(), &body);
    let token = get(&params, "token")
        .map(str::to_owned)
        .or_else(|| bearer(&parts.headers));
    let Some(token) = token else {
        return oauth_error("unsupported_token_type", "this token type is not supported")
            .into_response();
    };
    let mut auth = em.auth();
    let known = if auth.refresh_tokens.remove(&token).is_some() {
        auth.sessions
            .retain(|_, s| s.refresh_token.as_deref() != Some(token.as_str()));
        true
    } else {
        auth.sessions.remove(&token).is_some()
    };
    if known {
        Reply::empty(StatusCode::OK).into_response()
    } else {
        oauth_error("invalid_token", "invalid token").into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
