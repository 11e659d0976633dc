//! The five OAuth grants Salesforce offers an integration, one token request for all of them,
//! and the session they produce.
//!
//! Invariants: secrets live in `secrecy` types and are exposed only to build the token form or
//! the `Authorization` header; `Debug` never shows them. The `instance_url` a token response
//! names is checked against the host allow-list before any token is sent there. A refusal by
//! the token endpoint becomes an [`AuthError`] (never retried: retrying a refused password
//! locks the integration user out).

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use url::Url;

use crate::error::AuthError;

/// Shown wherever the user picks the username-password flow.
pub const PASSWORD_FLOW_NOTICE: &str = "Legacy login: Salesforce blocks the username-password flow by default in orgs created since \
     Summer '23 and retires it for connected apps on 20 February 2027. The password (and with it \
     the security token) also expires every few months, which stops the sync until both are \
     entered again. Prefer the Salesforce sign-in (web-server flow with a refresh token), client \
     credentials, or JWT bearer: none of them expires with a password.";

/// The grant a set of credentials uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantKind {
    Password,
    ClientCredentials,
    JwtBearer,
    AuthorizationCode,
    RefreshToken,
}

impl fmt::Display for GrantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Password => "username-password",
            Self::ClientCredentials => "client-credentials",
            Self::JwtBearer => "JWT bearer",
            Self::AuthorizationCode => "authorization-code",
            Self::RefreshToken => "refresh-token",
        })
    }
}

/// Where the JWT signing key comes from.
#[derive(Debug, Clone)]
pub enum JwtKey {
    /// A PEM file holding the RSA private key whose certificate is uploaded to the app.
    File(PathBuf),
    /// The PEM text itself.
    Pem(SecretString),
}

/// The credentials of one connection, one variant per grant.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// Legacy username-password flow: the security token is appended to the password.
    /// See [`PASSWORD_FLOW_NOTICE`].
    Password {
        client_id: String,
        client_secret: Option<SecretString>,
        username: String,
        password: SecretString,
        security_token: SecretString,
    },
    /// Client credentials (needs the org's My Domain login URL and a run-as user).
    ClientCredentials {
        client_id: String,
        client_secret: SecretString,
    },
    /// JWT bearer, RS256. `audience` defaults from the login URL (see [`jwt_audience`]).
    JwtBearer {
        client_id: String,
        username: String,
        key: JwtKey,
        audience: Option<String>,
    },
    /// The code returned to the redirect URI of the web-server flow, with its PKCE verifier.
    /// Used once; the client then keeps the refresh token it yields.
    AuthorizationCode {
        client_id: String,
        client_secret: Option<SecretString>,
        code: SecretString,
        code_verifier: SecretString,
        redirect_uri: String,
    },
    /// A refresh token from an earlier web-server login.
    RefreshToken {
        client_id: String,
        client_secret: Option<SecretString>,
        refresh_token: SecretString,
    },
}

impl Credentials {
    pub fn grant(&self) -> GrantKind {
        match self {
            Self::Password { .. } => GrantKind::Password,
            Self::ClientCredentials { .. } => GrantKind::ClientCredentials,
            Self::JwtBearer { .. } => GrantKind::JwtBearer,
            Self::AuthorizationCode { .. } => GrantKind::AuthorizationCode,
            Self::RefreshToken { .. } => GrantKind::RefreshToken,
        }
    }

    fn client_id(&self) -> &str {
        match self {
            Self::Password { client_id, .. }
            | Self::ClientCredentials { client_id, .. }
            | Self::JwtBearer { client_id, .. }
            | Self::AuthorizationCode { client_id, .. }
            | Self::RefreshToken { client_id, .. } => client_id,
        }
    }

    /// The form body of the token request. The only place passwords and secrets are exposed.
    pub(crate) fn token_form(
        &self,
        login_url: &Url,
    ) -> Result<Vec<(&'static str, String)>, AuthError> {
        let grant = self.grant();
        let mut form = Vec::with_capacity(6);
        match self {
            Self::Password {
                client_secret,
                username,
                password,
                security_token,
                ..
            } => {
                form.push(("grant_type", "password".to_owned()));
                form.push(("client_id", self.client_id().to_owned()));
                if let Some(s) = client_secret {
                    form.push(("client_secret", s.expose_secret().to_owned()));
                }
                form.push(("username", username.clone()));
                form.push((
                    "password",
                    format!(
                        "{}{}",
                        password.expose_secret(),
                        security_token.expose_secret()
                    ),
                ));
            }
            Self::ClientCredentials { client_secret, .. } => {
                form.push(("grant_type", "client_credentials".to_owned()));
                form.push(("client_id", self.client_id().to_owned()));
                form.push(("client_secret", client_secret.expose_secret().to_owned()));
            }
            Self::JwtBearer {
                username,
                key,
                audience,
                ..
            } => {
                let pem = match key {
                    JwtKey::File(path) => {
                        SecretString::from(std::fs::read_to_string(path).map_err(|e| {
                            AuthError::local(
                                grant,
                                format!("cannot read the JWT key file {}: {e}", path.display()),
                            )
                        })?)
                    }
                    JwtKey::Pem(p) => p.clone(),
                };
                let aud = audience.clone().unwrap_or_else(|| jwt_audience(login_url));
                let assertion = jwt_assertion(
                    self.client_id(),
                    username,
                    &aud,
                    &pem,
                    OffsetDateTime::now_utc(),
                )?;
                form.push(("grant_type", JWT_BEARER_GRANT.to_owned()));
                form.push(("assertion", assertion));
            }
            Self::AuthorizationCode {
                client_secret,
                code,
                code_verifier,
                redirect_uri,
                ..
            } => {
                form.push(("grant_type", "authorization_code".to_owned()));
                form.push(("code", code.expose_secret().to_owned()));
                form.push(("client_id", self.client_id().to_owned()));
                if let Some(s) = client_secret {
                    form.push(("client_secret", s.expose_secret().to_owned()));
                }
                form.push(("redirect_uri", redirect_uri.clone()));
                form.push(("code_verifier", code_verifier.expose_secret().to_owned()));
            }
            Self::RefreshToken {
                client_secret,
                refresh_token,
                ..
            } => {
                form.push(("grant_type", "refresh_token".to_owned()));
                form.push(("refresh_token", refresh_token.expose_secret().to_owned()));
                form.push(("client_id", self.client_id().to_owned()));
                if let Some(s) = client_secret {
                    form.push(("client_secret", s.expose_secret().to_owned()));
                }
            }
        }
        Ok(form)
    }

    /// After an authorization-code exchange, the credentials to use next time: the refresh
    /// token (the code is single-use). Other grants re-use themselves.
    pub(crate) fn after_login(&self, refresh_token: Option<&SecretString>) -> Option<Credentials> {
        match (self, refresh_token) {
            (
                Self::AuthorizationCode {
                    client_id,
                    client_secret,
                    ..
                },
                Some(rt),
            ) => Some(Self::RefreshToken {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                refresh_token: rt.clone(),
            }),
            _ => None,
        }
    }
}

pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The `aud` Salesforce expects: `https://test.salesforce.com` for sandboxes,
/// `https://login.salesforce.com` for every other Salesforce host, and the login URL's origin
/// for anything else (the emulator).
pub fn jwt_audience(login_url: &Url) -> String {
    let host = login_url
        .host_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if host == "test.salesforce.com" || host.ends_with(".sandbox.my.salesforce.com") {
        "https://test.salesforce.com".to_owned()
    } else if host.ends_with("salesforce.com") || host.ends_with("force.com") {
        "https://login.salesforce.com".to_owned()
    } else {
        login_url.origin().ascii_serialization()
    }
}

#[derive(Serialize)]
struct JwtClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
}

/// An RS256 assertion valid for three minutes.
pub(crate) fn jwt_assertion(
    client_id: &str,
    username: &str,
    audience: &str,
    pem: &SecretString,
    now: OffsetDateTime,
) -> Result<String, AuthError> {
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()).map_err(|e| {
            AuthError::local(
                GrantKind::JwtBearer,
                format!("the JWT key is not an RSA private key in PEM form: {e}"),
            )
        })?;
    let claims = JwtClaims {
        iss: client_id,
        sub: username,
        aud: audience,
        exp: now.unix_timestamp() + 180,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(|e| AuthError::local(GrantKind::JwtBearer, format!("cannot sign the JWT: {e}")))
}

/// One web-server login in progress: the PKCE verifier and the CSRF `state` to keep until the
/// browser comes back to the redirect URI.
#[derive(Clone)]
pub struct PkceLogin {
    verifier: SecretString,
    challenge: String,
    state: String,
}

impl fmt::Debug for PkceLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PkceLogin")
            .field("challenge", &self.challenge)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl PkceLogin {
    /// A fresh verifier (64 characters of base64url from 48 random bytes) and state.
    pub fn new() -> Self {
        let mut rng = rand::rng();
        let mut v = [0u8; 48];
        rng.fill_bytes(&mut v);
        let mut s = [0u8; 24];
        rng.fill_bytes(&mut s);
        Self::from_parts(
            SecretString::from(URL_SAFE_NO_PAD.encode(v)),
            URL_SAFE_NO_PAD.encode(s),
        )
    }

    /// Rebuilds a login from a stored verifier and state (e.g. kept in the user's session).
    pub fn from_parts(verifier: SecretString, state: String) -> Self {
        let challenge = pkce_challenge(verifier.expose_secret());
        Self {
            verifier,
            challenge,
            state,
        }
    }

    pub fn verifier(&self) -> &SecretString {
        &self.verifier
    }
    pub fn challenge(&self) -> &str {
        &self.challenge
    }
    pub fn state(&self) -> &str {
        &self.state
    }

    /// `{login}/services/oauth2/authorize?response_type=code&…&code_challenge_method=S256`.
    pub fn authorize_url(
        &self,
        login_url: &Url,
        client_id: &str,
        redirect_uri: &str,
        scopes: &[&str],
    ) -> Url {
        let mut url = login_url
            .join("/services/oauth2/authorize")
            .unwrap_or_else(|_| login_url.clone());
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", &self.state)
            .append_pair("code_challenge", &self.challenge)
            .append_pair("code_challenge_method", "S256");
        url
    }

    /// Checks the `state` the browser brought back, then builds the credentials that exchange
    /// `code`. A mismatched state (a forged redirect) is refused before anything is sent.
    pub fn credentials(
        &self,
        returned_state: &str,
        code: SecretString,
        client_id: &str,
        client_secret: Option<SecretString>,
        redirect_uri: &str,
    ) -> Result<Credentials, AuthError> {
        if returned_state != self.state {
            return Err(AuthError::local(
                GrantKind::AuthorizationCode,
                "the sign-in answer does not belong to this login (state mismatch); start the sign-in again",
            ));
        }
        Ok(Credentials::AuthorizationCode {
            client_id: client_id.to_owned(),
            client_secret,
            code,
            code_verifier: self.verifier.clone(),
            redirect_uri: redirect_uri.to_owned(),
        })
    }
}

impl Default for PkceLogin {
    fn default() -> Self {
        Self::new()
    }
}

/// `base64url(SHA-256(verifier))`, no padding (RFC 7636 S256).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An authenticated session: what the token endpoint granted.
#[derive(Clone)]
pub struct Session {
    pub access_token: SecretString,
    /// Checked against the host allow-list.
    pub instance_url: Url,
    /// Identity URL `…/id/{orgId}/{userId}`.
    pub identity_url: String,
    pub issued_at: Option<OffsetDateTime>,
    /// From the web-server flow (and refresh-token rotation); persist it to log in again.
    pub refresh_token: Option<SecretString>,
    pub grant: GrantKind,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("access_token", &"[REDACTED]")
            .field("instance_url", &self.instance_url.as_str())
            .field("identity_url", &self.identity_url)
            .field("issued_at", &self.issued_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("grant", &self.grant)
            .finish()
    }
}

impl Session {
    /// The integration user's id (the last segment of the identity URL).
    pub fn user_id(&self) -> Option<&str> {
        self.identity_url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|s| s.starts_with("005"))
    }
    /// The org's id (the segment before the user id).
    pub fn org_id(&self) -> Option<&str> {
        let mut parts = self.identity_url.trim_end_matches('/').rsplit('/');
        parts.next();
        parts.next().filter(|s| s.starts_with("00D"))
    }

    pub(crate) fn from_wire(
        t: lb_wire::TokenResponse,
        instance_url: Url,
        grant: GrantKind,
    ) -> Self {
        let issued_at = t
            .issued_at
            .as_deref()
            .and_then(|ms| ms.parse::<i128>().ok())
            .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok());
        Self {
            access_token: SecretString::from(t.access_token),
            instance_url,
            identity_url: t.id,
            issued_at,
            refresh_token: t.refresh_token.map(SecretString::from),
            grant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_example() {
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn pkce_login_builds_the_authorize_url_with_s256() {
        let login = PkceLogin::new();
        assert_eq!(login.verifier().expose_secret().len(), 64);
        assert_eq!(
            login.challenge(),
            pkce_challenge(login.verifier().expose_secret())
        );
        let url = login.authorize_url(
            &Url::parse("https://login.salesforce.com").unwrap(),
            "ck",
            "https://app.example/settings/api_setting/salesforce_authorize",
            &["api", "refresh_token"],
        );
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(url.path(), "/services/oauth2/authorize");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "ck");
        assert_eq!(q["scope"], "api refresh_token");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], login.challenge());
        assert_eq!(q["state"], login.state());
        assert!(!url.as_str().contains(login.verifier().expose_secret()));
    }

    #[test]
    fn forged_state_is_refused_before_exchange() {
        let login = PkceLogin::new();
        let err = login
            .credentials("forged", SecretString::from("c"), "ck", None, "https://x")
            .unwrap_err();
        assert_eq!(err.failure, crate::AuthFailure::Local);
        let said = err.to_string();
        assert!(
            said.contains("could not be prepared here; nothing was sent to Salesforce")
                && !said.contains("Salesforce refused"),
            "{said}"
        );
        assert!(
            login
                .credentials(
                    login.state(),
                    SecretString::from("c"),
                    "ck",
                    None,
                    "https://x"
                )
                .is_ok()
        );
    }

    #[test]
    fn password_form_appends_the_security_token_and_debug_hides_it() {
        let creds = Credentials::Password {
            client_id: "ck".into(),
            client_secret: Some(SecretString::from("cs-secret")),
            username: "int@acme.com".into(),
            password: SecretString::from("hunter2"),
            security_token: SecretString::from("TOKEN123"),
        };
        let form = creds
            .token_form(&Url::parse("https://login.salesforce.com").unwrap())
            .unwrap();
        assert!(form.contains(&("password", "hunter2TOKEN123".to_owned())));
        assert!(form.contains(&("grant_type", "password".to_owned())));
        let dbg = format!("{creds:?}");
        for secret in ["hunter2", "TOKEN123", "cs-secret"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
    }

    #[test]
    fn jwt_audience_follows_the_login_host() {
        let aud = |u: &str| jwt_audience(&Url::parse(u).unwrap());
        assert_eq!(
            aud("https://login.salesforce.com"),
            "https://login.salesforce.com"
        );
        assert_eq!(
            aud("https://acme.my.salesforce.com"),
            "https://login.salesforce.com"
        );
        assert_eq!(
            aud("https://test.salesforce.com"),
            "https://test.salesforce.com"
        );
        assert_eq!(
            aud("https://acme--uat.sandbox.my.salesforce.com"),
            "https://test.salesforce.com"
        );
        assert_eq!(aud("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
    }

    #[test]
    fn unreadable_jwt_key_file_is_a_local_auth_error() {
        let creds = Credentials::JwtBearer {
            client_id: "ck".into(),
            username: "u".into(),
            key: JwtKey::File("/nonexistent/key.pem".into()),
            audience: None,
        };
        let err = creds
            .token_form(&Url::parse("https://login.salesforce.com").unwrap())
            .unwrap_err();
        assert_eq!(err.failure, crate::AuthFailure::Local);
        assert!(err.description.contains("/nonexistent/key.pem"));
    }

    #[test]
    fn session_exposes_org_and_user_ids_and_hides_tokens() {
        let t: lb_wire::TokenResponse = serde_json::from_str(
            r#"{"id":"https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P","issued_at":"1278448832702",
                "instance_url":"https://na1.salesforce.com","signature":"0Cmx","access_token":"00Dx0000000BV7z!AR8AQ","token_type":"Bearer"}"#,
        )
        .unwrap();
        let s = Session::from_wire(
            t,
            Url::parse("https://na1.salesforce.com").unwrap(),
            GrantKind::Password,
        );
        assert_eq!(s.user_id(), Some("005x00000012Q9P"));
        assert_eq!(s.org_id(), Some("00Dx0000000BV7z"));
        assert_eq!(s.issued_at.unwrap().unix_timestamp(), 1_278_448_832);
        assert!(!format!("{s:?}").contains("AR8AQ"));
    }
}
