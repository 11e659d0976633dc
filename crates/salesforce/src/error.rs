//! One error type for every failure of the client, keeping Salesforce's own words.
//!
//! Invariants: a refusal by Salesforce keeps its `errorCode`, `message` and `fields` (per call in
//! [`Error::Api`], per record in [`crate::RecordResult::Failed`], both as [`lb_wire::ApiError`])
//! so the UI can show the org's own words; a refusal at the token endpoint is an [`AuthError`]
//! that says in plain words what the user must do, and is never retried.

use std::fmt;

use lb_wire::ApiError;

use crate::auth::GrantKind;
use crate::budget::LimitInfo;
use crate::hosts::UrlError;
use crate::soql::SoqlError;

/// Every failure of a client call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The token endpoint refused the credentials. The client stops: no further login attempt
    /// is made until new credentials are given (a retry loop locks the user out).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Salesforce refused the call with its error array.
    #[error("Salesforce answered {status}: {}", join_errors(errors))]
    Api { status: u16, errors: Vec<ApiError> },
    /// `REQUEST_LIMIT_EXCEEDED`: the org's daily allowance (or its long-request concurrency) is
    /// spent. The work stops here and is reported; nothing is retried.
    #[error("Salesforce API request limit exceeded: {message}")]
    RequestLimitExceeded {
        message: String,
        limit: Option<LimitInfo>,
    },
    /// Our own budget (a share of the org's daily allowance) would be overrun: nothing was sent.
    #[error(
        "API budget reached: the org has used {}/{} of its daily API requests and this \
         connector may use up to {:.0}% of them",
        limit.used, limit.max, max_share * 100.0
    )]
    BudgetExhausted { limit: LimitInfo, max_share: f64 },
    /// A URL outside the allow-list, or malformed.
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Soql(#[from] SoqlError),
    /// The network failed (after retries, where retrying was safe).
    #[error("could not reach Salesforce: {0}")]
    Transport(String),
    /// An answer Salesforce would not give (unexpected shape or status).
    #[error("unexpected answer from Salesforce: {0}")]
    Protocol(String),
    /// A Bulk API 2.0 job ended in `Failed` or `Aborted`.
    #[error("Bulk API job {job_id} ended {state}: {message}")]
    BulkJob {
        job_id: String,
        state: String,
        message: String,
    },
    /// A Bulk job did not finish within the configured wait.
    #[error("Bulk API job {job_id} still {state} after waiting {waited_secs} s")]
    BulkTimeout {
        job_id: String,
        state: String,
        waited_secs: u64,
    },
}

impl Error {
    /// Salesforce's `errorCode` of the first error, when Salesforce gave one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Self::Api { errors, .. } => errors.first().map(|e| e.error_code.as_str()),
            Self::RequestLimitExceeded { .. } => Some("REQUEST_LIMIT_EXCEEDED"),
            _ => None,
        }
    }

    /// `API_DISABLED_FOR_ORG`: the org's edition has no API access (R-CONN-4).
    pub fn is_api_disabled(&self) -> bool {
        self.error_code() == Some("API_DISABLED_FOR_ORG")
    }

    /// Whether the whole piece of work must stop (credentials, allowance, budget), as opposed to
    /// a failure of one call that later calls may not share.
    pub fn stops_work(&self) -> bool {
        matches!(
            self,
            Self::Auth(_)
                | Self::RequestLimitExceeded { .. }
                | Self::BudgetExhausted { .. }
                | Self::Url(_)
        ) || self.is_api_disabled()
    }
}

fn join_errors(errors: &[ApiError]) -> String {
    if errors.is_empty() {
        return "no error detail".to_owned();
    }
    errors
        .iter()
        .map(|e| match &e.fields {
            Some(f) if !f.is_empty() => {
                format!("{}: {} [{}]", e.error_code, e.message, f.join(", "))
            }
            _ => format!("{}: {}", e.error_code, e.message),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What kind of refusal the token endpoint gave, decided from Salesforce's
/// `error`/`error_description` pair (salesforce-api.md §1.3–1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// `invalid_grant` / `authentication failure`: wrong or expired password, reset security
    /// token, unknown user, or the username-password flow blocked in the org.
    BadCredentials,
    /// The session works but the password expired (`INVALID_OPERATION_WITH_EXPIRED_PASSWORD`
    /// on a data call: the login succeeded the way SOAP-era logins do).
    PasswordExpired,
    /// `inactive user`.
    InactiveUser,
    /// `ip restricted` / login hours.
    IpRestricted,
    /// The refresh token expired or was revoked.
    ExpiredRefreshToken,
    /// The authorization code was already used or expired.
    ExpiredAuthorizationCode,
    /// JWT/client-credentials user not pre-authorized for the app.
    NotApproved,
    /// `request not supported on this domain`: the grant needs the org's My Domain URL.
    WrongDomain,
    /// The app has no run-as user for client credentials.
    NoClientCredentialsUser,
    /// JWT `aud` rejected.
    BadAudience,
    /// Unknown consumer key.
    UnknownClientId,
    /// Wrong consumer secret.
    BadClientSecret,
    /// `unsupported_grant_type`: wrong host, plain http, or the grant disabled for the app.
    UnsupportedGrant,
    /// Too many logins for this user.
    RateLimited,
    /// Anything else the token endpoint said.
    Other,
    /// The credentials could not even be prepared (an unreadable JWT key file, a PKCE state
    /// that does not match).
    Local,
}

/// A refusal at the token endpoint, with plain-words guidance. Never retried.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct AuthError {
    pub failure: AuthFailure,
    pub grant: GrantKind,
    /// Salesforce's `error` (e.g. `invalid_grant`).
    pub error: String,
    /// Salesforce's `error_description` (e.g. `authentication failure`).
    pub description: String,
    /// HTTP status of the refusal (0 when it was a local failure).
    pub status: u16,
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("failure", &self.failure)
            .field("grant", &self.grant)
            .field("error", &self.error)
            .field("description", &self.description)
            .field("status", &self.status)
            .finish()
    }
}

/// Where to read the exact reason for a refused login.
pub const LOGIN_HISTORY_HINT: &str = "The exact reason is in Salesforce: Setup > Users > (the integration user) > Login History, \
     or Setup > Login History.";

impl AuthError {
    /// Classifies a token-endpoint error body.
    pub fn from_oauth(grant: GrantKind, status: u16, error: &str, description: &str) -> Self {
        let d = description.to_ascii_lowercase();
        let failure = match error {
            "invalid_grant" if d.starts_with("authentication failure") => {
                AuthFailure::BadCredentials
            }
            "invalid_grant" if d.contains("inactive user") => AuthFailure::InactiveUser,
            "invalid_grant" if d.contains("ip restricted") || d.contains("login hours") => {
                AuthFailure::IpRestricted
            }
            "invalid_grant"
                if d.contains("expired access/refresh token") || d.contains("refresh token") =>
            {
                AuthFailure::ExpiredRefreshToken
            }
            "invalid_grant" if d.contains("authorization code") => {
                AuthFailure::ExpiredAuthorizationCode
            }
            "invalid_grant" if d.contains("hasn't approved") || d.contains("not approved") => {
                AuthFailure::NotApproved
            }
            "invalid_grant" if d.contains("not supported on this domain") => {
                AuthFailure::WrongDomain
            }
            "invalid_grant" if d.contains("no client credentials user") => {
                AuthFailure::NoClientCredentialsUser
            }
            "invalid_grant" if d.contains("audience") => AuthFailure::BadAudience,
            "invalid_client_id" => AuthFailure::UnknownClientId,
            "invalid_client" | "invalid_client_credentials" => AuthFailure::BadClientSecret,
            "unsupported_grant_type" => AuthFailure::UnsupportedGrant,
            "inactive_user" => AuthFailure::InactiveUser,
            "rate_limit_exceeded" => AuthFailure::RateLimited,
            _ => AuthFailure::Other,
        };
        Self {
            failure,
            grant,
            error: error.to_owned(),
            description: description.to_owned(),
            status,
        }
    }

    /// The `error` of a login that could not be prepared here ([`AuthFailure::Local`]).
    pub const LOCAL: &'static str = "local";

    pub(crate) fn local(grant: GrantKind, description: impl Into<String>) -> Self {
        Self {
            failure: AuthFailure::Local,
            grant,
            error: Self::LOCAL.to_owned(),
            description: description.into(),
            status: 0,
        }
    }

    /// The refusal in one sentence with what to do; a local failure says nothing was sent.
    fn sentence(&self) -> String {
        let what = if self.failure == AuthFailure::Local {
            format!(
                "The {} login could not be prepared here; nothing was sent to Salesforce ({})",
                self.grant, self.description
            )
        } else {
            format!(
                "Salesforce refused the {} login ({}: {})",
                self.grant, self.error, self.description
            )
        };
        format!("{what}. {}", self.guidance().join(" "))
    }

    /// What the user must do, in plain words, most likely cause first (R-CONN-6).
    pub fn guidance(&self) -> Vec<String> {
        let s = |x: &str| x.to_owned();
        let mut out = match self.failure {
            AuthFailure::BadCredentials if self.grant == GrantKind::Password => vec![
                s("Salesforce gives the same answer for several causes; most likely first:"),
                s(
                    "1. The integration user's password expired or was changed (orgs force a change about every 90 days).",
                ),
                s(
                    "2. The security token was reset: every password change resets it and Salesforce emails a new one.",
                ),
                s(
                    "3. The username-password flow is blocked in this org (the default since Summer '23: Setup > OAuth and OpenID Connect Settings > Allow OAuth Username-Password Flows).",
                ),
                s(
                    "What to do: reset the password AND the security token and enter both here, or switch to an OAuth flow that does not expire (web-server login with a refresh token, client credentials, or JWT bearer).",
                ),
            ],
            AuthFailure::PasswordExpired => vec![
                s(
                    "The integration user's password has expired (orgs force a change about every 90 days).",
                ),
                s(
                    "What to do: reset the password AND the security token and enter both here, or switch to an OAuth flow that does not expire (web-server login with a refresh token, client credentials, or JWT bearer).",
                ),
            ],
            AuthFailure::BadCredentials => vec![s(
                "The user or the app was refused; check the connected app's settings and the user's access.",
            )],
            AuthFailure::InactiveUser => vec![s(
                "The integration user is deactivated: reactivate it in Setup > Users, or choose another user.",
            )],
            AuthFailure::IpRestricted => vec![s(
                "The login came from an IP address or at an hour the user's profile does not allow: add this server's address to the profile's Login IP Ranges (or the org's trusted IP ranges), or relax the app's IP policy.",
            )],
            AuthFailure::ExpiredRefreshToken => vec![s(
                "The stored authorization expired or was revoked (by an admin, the app's refresh-token policy, or more than 5 logins for this app): sign in to Salesforce again from the settings page.",
            )],
            AuthFailure::ExpiredAuthorizationCode => vec![s(
                "The sign-in took too long or was already used: start the Salesforce sign-in again.",
            )],
            AuthFailure::NotApproved => vec![s(
                "The user is not pre-authorized for this app: in the connected app's policies choose 'Admin approved users are pre-authorized' and add the user's profile or a permission set.",
            )],
            AuthFailure::WrongDomain => vec![s(
                "This login needs the org's own My Domain address (https://<your-domain>.my.salesforce.com), not login.salesforce.com or test.salesforce.com.",
            )],
            AuthFailure::NoClientCredentialsUser => vec![s(
                "The app has no run-as user for the client-credentials flow: set one in the app's policies (Client Credentials Flow > Run As).",
            )],
            AuthFailure::BadAudience => vec![s(
                "The JWT audience was refused: use https://login.salesforce.com for production, https://test.salesforce.com for sandboxes.",
            )],
            AuthFailure::UnknownClientId => vec![s(
                "The consumer key is not known to this org: copy it again from the connected app, and check that the login URL is this org's.",
            )],
            AuthFailure::BadClientSecret => vec![s(
                "The consumer secret is wrong: copy it again from the connected app.",
            )],
            AuthFailure::UnsupportedGrant => vec![s(
                "This login method is not enabled for the app or the login URL is wrong: enable the flow in the connected app and use https with the org's login URL.",
            )],
            AuthFailure::RateLimited => vec![s(
                "Too many logins for this user in the last hour: wait an hour before trying again.",
            )],
            AuthFailure::Other | AuthFailure::Local => vec![s("Check the connection settings.")],
        };
        if self.failure != AuthFailure::Local {
            out.push(LOGIN_HISTORY_HINT.to_owned());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(grant: GrantKind, body: &str) -> AuthError {
        let e: lb_wire::OAuthError = serde_json::from_str(body).unwrap();
        AuthError::from_oauth(grant, 400, &e.error, &e.error_description)
    }

    #[test]
    fn authentication_failure_lists_the_causes_in_order_of_likelihood() {
        // R-CONN-6: the recorded body of a wrong/expired password or a reset token.
        let err = classify(
            GrantKind::Password,
            r#"{"error":"invalid_grant","error_description":"authentication failure"}"#,
        );
        assert_eq!(err.failure, AuthFailure::BadCredentials);
        let text = err.guidance().join("\n");
        let expired = text.find("password expired").unwrap();
        let token = text.find("security token was reset").unwrap();
        let blocked = text.find("username-password flow is blocked").unwrap();
        assert!(expired < token && token < blocked);
        assert!(text.contains("reset the password AND the security token"));
        assert!(text.contains("Login History"));
        assert!(
            err.to_string()
                .contains("invalid_grant: authentication failure")
        );
    }

    #[test]
    fn recorded_token_refusals_are_classified() {
        let cases = [
            (
                r#"{"error":"invalid_grant","error_description":"authentication failure - Invalid Password"}"#,
                AuthFailure::BadCredentials,
            ),
            (
                r#"{"error":"invalid_grant","error_description":"inactive user"}"#,
                AuthFailure::InactiveUser,
            ),
            (
                r#"{"error":"invalid_grant","error_description":"ip restricted"}"#,
                AuthFailure::IpRestricted,
            ),
            (
                r#"{"error":"invalid_grant","error_description":"IP restricted or invalid login hours"}"#,
                AuthFailure::IpRestricted,
            ),
            (
                r#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#,
                AuthFailure::ExpiredRefreshToken,
            ),
            (
                r#"{"error":"invalid_grant","error_description":"expired authorization code"}"#,
                AuthFailure::ExpiredAuthorizationCode,
            ),
            (
                r#"{"error":"invalid_grant","error_description":"user hasn't approved this consumer"}"#,
                AuthFailure::NotApproved,
            ),
            (
                r#"{"error":"invalid_grant","error_description":"request not supported on this domain"}"#,
                AuthFailure::WrongDomain,
            ),
            (
                r#"{"error":"invalid_grant","error_description":"Audience validation failed"}"#,
                AuthFailure::BadAudience,
            ),
            (
                r#"{"error":"invalid_client_id","error_description":"client identifier invalid"}"#,
                AuthFailure::UnknownClientId,
            ),
            (
                r#"{"error":"invalid_client","error_description":"invalid client credentials"}"#,
                AuthFailure::BadClientSecret,
            ),
            (
                r#"{"error":"unsupported_grant_type","error_description":"grant type not supported"}"#,
                AuthFailure::UnsupportedGrant,
            ),
            (
                r#"{"error":"weird","error_description":"new thing"}"#,
                AuthFailure::Other,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(classify(GrantKind::Password, body).failure, want, "{body}");
        }
    }

    #[test]
    fn api_error_keeps_salesforce_words() {
        let errors: Vec<ApiError> = serde_json::from_str(
            r#"[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]"#,
        )
        .unwrap();
        let err = Error::Api {
            status: 400,
            errors,
        };
        assert_eq!(err.error_code(), Some("REQUIRED_FIELD_MISSING"));
        assert_eq!(
            err.to_string(),
            "Salesforce answered 400: REQUIRED_FIELD_MISSING: Required fields are missing: [LastName] [LastName]"
        );
        assert!(!err.stops_work());
    }

    #[test]
    fn api_disabled_stops_work() {
        let err = Error::Api {
            status: 403,
            errors: vec![ApiError::new(
                "API_DISABLED_FOR_ORG",
                "The REST API is not enabled for this Organization.",
            )],
        };
        assert!(err.is_api_disabled());
        assert!(err.stops_work());
    }
}
