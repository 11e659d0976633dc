//! Identity of a contact: the normalized email (R-SYNC-1).
//!
//! Invariant: an [`Email`] that exists is trimmed, lower-cased and syntactically plausible
//! (`local@domain.tld`, no whitespace, one `@`). Build one with [`Email::parse`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// A normalized email address: the identity key on both sides (R-SYNC-1).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why a text is not an email we can key on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the email is blank")]
    Blank,
    #[error("`{0}` is not a valid email address")]
    Invalid(String),
}

impl Email {
    /// Trims, lower-cases and checks the shape `local@domain.tld`.
    pub fn parse(raw: &str) -> Result<Email, EmailError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(EmailError::Blank);
        }
        let lower = s.to_lowercase();
        let invalid = || EmailError::Invalid(s.to_string());
        let (local, domain) = lower.split_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || domain.contains('@')
            || lower.chars().any(|c| c.is_whitespace() || c.is_control())
            || lower.len() > 254
        {
            return Err(invalid());
        }
        // A domain needs a dot with something on both sides ("x.io", not "x." or ".io").
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(invalid());
        }
        Ok(Email(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lower_cased_r_sync_1() {
        assert_eq!(
            Email::parse("  Jane.Doe@Example.COM ").unwrap().as_str(),
            "jane.doe@example.com"
        );
    }

    #[test]
    fn blank_and_malformed_emails_are_refused() {
        assert_eq!(Email::parse("   "), Err(EmailError::Blank));
        for bad in [
            "jane", "jane@", "@x.io", "a@b", "a@b.", "a b@x.io", "a@@x.io", "a@x..io",
        ] {
            assert!(
                matches!(Email::parse(bad), Err(EmailError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
