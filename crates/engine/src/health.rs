//! The connection's health: a small state machine stored in the key/value table, so every
//! process (`serve`, `leadbridge sync`, `status`) sees the same state.
//!
//! Transitions:
//! - any → `CredentialsRejected` when the token endpoint refuses the stored credentials; it
//!   holds the credentials version that was refused, and no run contacts Salesforce while that
//!   version is still the stored one (R-CONN-6: no retry that locks the user out);
//! - any → `AllowanceSpent` / `BudgetReached` on `REQUEST_LIMIT_EXCEEDED` / our own budget; a
//!   scheduled run waits until `retry_after`;
//! - any → `Failing` when a run fails for another reason (network, unexpected answer);
//! - any → `Healthy` after a run that completed, or when new credentials are saved.

use lb_salesforce::{AuthError, Error as SfError};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::EngineError;
use lb_store::Store;

pub(crate) const HEALTH_KEY: &str = "health";

/// How long a paused allowance or budget waits before a scheduled run checks again.
pub(crate) const LIMIT_PAUSE: Duration = Duration::hours(1);

/// The state of the connection, as `leadbridge status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Health {
    NotConnected,
    Healthy {
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
    /// Salesforce refused the stored credentials; the sync is paused until new ones are saved.
    CredentialsRejected {
        /// Salesforce's `error` / `error_description`, word for word.
        error: String,
        description: String,
        /// The login flow that was refused.
        grant: String,
        /// What to do, most likely cause first.
        guidance: Vec<String>,
        credentials_version: u64,
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
    /// The org's daily API allowance is spent (`REQUEST_LIMIT_EXCEEDED`).
    AllowanceSpent {
        message: String,
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        retry_after: OffsetDateTime,
    },
    /// This connector's share of the allowance is used up.
    BudgetReached {
        message: String,
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        retry_after: OffsetDateTime,
    },
    /// The last run failed for another reason; the next scheduled run tries again.
    Failing {
        message: String,
        consecutive_failures: u32,
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
}

impl Health {
    pub fn name(&self) -> &'static str {
        match self {
            Health::NotConnected => "not connected",
            Health::Healthy { .. } => "connected",
            Health::CredentialsRejected { .. } => "credentials rejected",
            Health::AllowanceSpent { .. } => "paused: API allowance spent",
            Health::BudgetReached { .. } => "paused: API budget reached",
            Health::Failing { .. } => "failing",
        }
    }

    /// One paragraph for a human: the state, the exact reason and what to do.
    pub fn explain(&self) -> String {
        match self {
            Health::NotConnected => {
                "No Salesforce connection yet: run `leadbridge connect`.".into()
            }
            Health::Healthy { .. } => "Connected; the sync runs.".into(),
            Health::CredentialsRejected {
                error,
                description,
                grant,
                guidance,
                ..
            } if error == AuthError::LOCAL => format!(
                "Credentials rejected: the {grant} login could not be prepared here and nothing was sent to Salesforce ({description}). \
                 The sync is paused and nothing is lost; it resumes by itself once new credentials are saved \
                 (`leadbridge connect`).\n{}",
                guidance.join("\n")
            ),
            Health::CredentialsRejected {
                error,
                description,
                grant,
                guidance,
                ..
            } => format!(
                "Credentials rejected: Salesforce refused the {grant} login ({error}: {description}). \
                 The sync is paused and nothing is lost; it resumes by itself once new credentials are saved \
                 (`leadbridge connect`).\n{}",
                guidance.join("\n")
            ),
            Health::AllowanceSpent {
                message,
                retry_after,
                ..
            } => format!(
                "Paused: {message}. Pending changes are kept; the sync tries again after {}.",
                lb_store::rfc3339(*retry_after)
            ),
            Health::BudgetReached {
                message,
                retry_after,
                ..
            } => format!(
                "Paused: {message}. Pending changes are kept; the sync tries again after {} \
                 (raise `budget_share` in the settings to allow more).",
                lb_store::rfc3339(*retry_after)
            ),
            Health::Failing {
                message,
                consecutive_failures,
                ..
            } => {
                format!(
                    "The last {consecutive_failures} run(s) failed: {message}. The next run tries again."
                )
            }
        }
    }

    /// Whether a run may contact Salesforce now. `manual`: a user asked (a paused allowance or
    /// budget is checked again at once; refused credentials never are).
    pub fn may_run(&self, credentials_version: u64, now: OffsetDateTime, manual: bool) -> bool {
        match self {
            Health::CredentialsRejected {
                credentials_version: v,
                ..
            } => *v != credentials_version,
            Health::AllowanceSpent { retry_after, .. }
            | Health::BudgetReached { retry_after, .. } => manual || now >= *retry_after,
            _ => true,
        }
    }

    pub fn is_paused(&self) -> bool {
        matches!(
            self,
            Health::CredentialsRejected { .. }
                | Health::AllowanceSpent { .. }
                | Health::BudgetReached { .. }
        )
    }

    pub(crate) fn rejected(err: &AuthError, credentials_version: u64) -> Health {
        Health::CredentialsRejected {
            error: err.error.clone(),
            description: err.description.clone(),
            grant: err.grant.to_string(),
            guidance: err.guidance(),
            credentials_version,
            since: OffsetDateTime::now_utc(),
        }
    }

    /// The health a stopping error puts the connection in (`None`: not a stopping error).
    pub(crate) fn from_stop(err: &SfError, credentials_version: u64) -> Option<Health> {
        let now = OffsetDateTime::now_utc();
        match err {
            SfError::Auth(a) => Some(Health::rejected(a, credentials_version)),
            SfError::RequestLimitExceeded { message, .. } => Some(Health::AllowanceSpent {
                message: format!("Salesforce answered REQUEST_LIMIT_EXCEEDED ({message})"),
                since: now,
                retry_after: now + LIMIT_PAUSE,
            }),
            SfError::BudgetExhausted { .. } => Some(Health::BudgetReached {
                message: err.to_string(),
                since: now,
                retry_after: now + LIMIT_PAUSE,
            }),
            _ => None,
        }
    }

    pub async fn load(store: &Store) -> Result<Health, EngineError> {
        Ok(store
            .sync()
            .state_json(HEALTH_KEY)
            .await?
            .unwrap_or(Health::NotConnected))
    }

    pub(crate) async fn save(&self, store: &Store) -> Result<(), EngineError> {
        store.sync().put_state_json(HEALTH_KEY, self).await?;
        Ok(())
    }

    pub(crate) fn failing_after(previous: &Health, message: String) -> Health {
        let consecutive_failures = match previous {
            Health::Failing {
                consecutive_failures,
                ..
            } => consecutive_failures + 1,
            _ => 1,
        };
        Health::Failing {
            message,
            consecutive_failures,
            since: OffsetDateTime::now_utc(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(version: u64) -> Health {
        Health::CredentialsRejected {
            error: "invalid_grant".into(),
            description: "authentication failure".into(),
            grant: "username-password".into(),
            guidance: vec![],
            credentials_version: version,
            since: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn refused_credentials_are_never_retried_until_new_ones_are_saved() {
        let h = rejected(3);
        let now = OffsetDateTime::now_utc();
        assert!(!h.may_run(3, now, false));
        assert!(!h.may_run(3, now, true), "not even by hand (R-CONN-6)");
        assert!(h.may_run(4, now, false));
    }

    #[test]
    fn a_spent_allowance_waits_for_its_retry_time_unless_asked_by_hand() {
        let now = OffsetDateTime::now_utc();
        let h = Health::AllowanceSpent {
            message: "x".into(),
            since: now,
            retry_after: now + LIMIT_PAUSE,
        };
        assert!(!h.may_run(1, now, false));
        assert!(h.may_run(1, now, true));
        assert!(h.may_run(1, now + LIMIT_PAUSE, false));
    }

    #[test]
    fn a_login_that_could_not_be_prepared_here_does_not_say_salesforce_refused_it() {
        let refused = rejected(1).explain();
        assert!(refused.contains("Salesforce refused the username-password login (invalid_grant: authentication failure)"), "{refused}");
        let local = Health::CredentialsRejected {
            error: AuthError::LOCAL.into(),
            description: "the private key cannot sign".into(),
            grant: "jwt-bearer".into(),
            guidance: vec![],
            credentials_version: 1,
            since: OffsetDateTime::UNIX_EPOCH,
        }
        .explain();
        assert!(!local.contains("Salesforce refused"), "{local}");
        assert!(local.contains("the jwt-bearer login could not be prepared here and nothing was sent to Salesforce (the private key cannot sign)"), "{local}");
    }

    #[test]
    fn health_round_trips_through_json_with_its_state_tag() {
        let h = rejected(2);
        let text = serde_json::to_string(&h).unwrap();
        assert!(
            text.contains("\"state\":\"credentials_rejected\""),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Health>(&text).unwrap(), h);
    }
}
