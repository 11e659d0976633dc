//! Where the client may send credentials: the instance and login URLs must be Salesforce hosts
//! or loopback (R-CONN security).
//!
//! Invariant: every URL the client connects to (login URL, the `instance_url` a token endpoint
//! returns, every absolute `nextRecordsUrl`) passes [`HostPolicy::check`] first, so a tampered
//! setting or a forged token response can never make the client send a token or a password to
//! another host. Plain `http` is accepted only for loopback (the emulator, tests).

use std::net::IpAddr;

use url::{Host, Url};

/// Domain suffixes of Salesforce's own hosts, matched on a label boundary.
///
/// `my.salesforce.com`, `lightning.force.com`, `*.sandbox.my.salesforce.com`,
/// `*.my.site.com` (Experience Cloud) and Salesforce Government Cloud (`salesforce.mil`) and the
/// China instances (`sfcrmproducts.cn`) are all covered.
pub const DEFAULT_SALESFORCE_DOMAINS: &[&str] = &[
    "salesforce.com",
    "force.com",
    "salesforce-setup.com",
    "cloudforce.com",
    "salesforce.mil",
    "sfcrmproducts.cn",
    "site.com",
    "database.com",
];

/// The allow-list of hosts the client may talk to. The operator can extend it (e.g. a
/// corporate proxy in front of Salesforce) but loopback is always allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPolicy {
    domains: Vec<String>,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("'{0}' is not a valid URL")]
    Invalid(String),
    #[error("'{url}' uses {scheme}; only https is allowed (plain http only for loopback)")]
    Scheme { url: String, scheme: String },
    #[error("'{0}' carries a user name or password; put credentials in their own settings")]
    UserInfo(String),
    #[error(
        "'{host}' is not a Salesforce host (allowed: *.{allowed} or loopback); \
         refusing to send credentials there"
    )]
    NotSalesforce { host: String, allowed: String },
}

impl Default for HostPolicy {
    fn default() -> Self {
        Self {
            domains: DEFAULT_SALESFORCE_DOMAINS
                .iter()
                .map(|d| (*d).to_owned())
                .collect(),
        }
    }
}

impl HostPolicy {
    /// Adds a domain suffix (without a leading dot or `*.`), e.g. `sfproxy.example.com`.
    #[must_use]
    pub fn allow_domain(mut self, domain: &str) -> Self {
        let domain = domain
            .trim()
            .trim_start_matches("*.")
            .trim_start_matches('.');
        let domain = domain.to_ascii_lowercase();
        if !domain.is_empty() && !self.domains.contains(&domain) {
            self.domains.push(domain);
        }
        self
    }

    /// The domain suffixes in force.
    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    /// Parses `raw` and checks it (see [`HostPolicy::check`]).
    pub fn parse(&self, raw: &str) -> Result<Url, UrlError> {
        let url = Url::parse(raw.trim()).map_err(|_| UrlError::Invalid(raw.to_owned()))?;
        self.check(&url)?;
        Ok(url)
    }

    /// Accepts `https` to an allowed Salesforce domain, or `http`/`https` to loopback.
    pub fn check(&self, url: &Url) -> Result<(), UrlError> {
        let scheme = url.scheme();
        if scheme != "https" && scheme != "http" {
            return Err(UrlError::Scheme {
                url: url.to_string(),
                scheme: scheme.to_owned(),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::UserInfo(redact_userinfo(url)));
        }
        let host = url
            .host()
            .ok_or_else(|| UrlError::Invalid(url.to_string()))?;
        if is_loopback(&host) {
            return Ok(());
        }
        if scheme != "https" {
            return Err(UrlError::Scheme {
                url: url.to_string(),
                scheme: scheme.to_owned(),
            });
        }
        let name = match host {
            Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
            Host::Ipv4(ip) => return Err(self.refuse(&ip.to_string())),
            Host::Ipv6(ip) => return Err(self.refuse(&ip.to_string())),
        };
        let allowed = self.domains.iter().any(|d| {
            name.len() > d.len() + 1
                && name.ends_with(d.as_str())
                && name.as_bytes()[name.len() - d.len() - 1] == b'.'
        });
        if allowed {
            Ok(())
        } else {
            Err(self.refuse(&name))
        }
    }

    fn refuse(&self, host: &str) -> UrlError {
        UrlError::NotSalesforce {
            host: host.to_owned(),
            allowed: self.domains.join(", *."),
        }
    }
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub(crate) fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

fn redact_userinfo(url: &Url) -> String {
    let mut copy = url.clone();
    let _ = copy.set_username("");
    let _ = copy.set_password(None);
    copy.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str) -> Result<(), UrlError> {
        HostPolicy::default().parse(raw).map(|_| ())
    }

    #[test]
    fn salesforce_hosts_over_https_are_accepted() {
        for ok in [
            "https://login.salesforce.com",
            "https://test.salesforce.com/",
            "https://acme.my.salesforce.com",
            "https://acme--uat.sandbox.my.salesforce.com",
            "https://eu11.salesforce.com",
            "https://acme.lightning.force.com",
            "https://acme.my.salesforce-setup.com",
            "https://na1.cloudforce.com",
            "https://ACME.MY.SALESFORCE.COM",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn loopback_may_use_plain_http() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
            "http://127.3.4.5",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn look_alike_and_foreign_hosts_are_refused() {
        for bad in [
            "https://salesforce.com.evil.io",
            "https://evilsalesforce.com",
            "https://salesforce.com",
            "https://example.com",
            "https://10.0.0.1",
            "https://login.salesforce.com.",
        ] {
            let got = check(bad);
            if bad == "https://login.salesforce.com." {
                // A trailing root dot is the same host; accepted.
                assert_eq!(got, Ok(()));
                continue;
            }
            assert!(
                matches!(got, Err(UrlError::NotSalesforce { .. })),
                "{bad}: {got:?}"
            );
        }
    }

    #[test]
    fn plain_http_to_salesforce_is_refused() {
        assert!(matches!(
            check("http://login.salesforce.com"),
            Err(UrlError::Scheme { .. })
        ));
        assert!(matches!(
            check("ftp://127.0.0.1"),
            Err(UrlError::Scheme { .. })
        ));
    }

    #[test]
    fn userinfo_in_url_is_refused_and_not_echoed() {
        let err = check("https://bob:hunter2@login.salesforce.com").unwrap_err();
        assert!(matches!(err, UrlError::UserInfo(_)));
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn operator_can_extend_the_allow_list() {
        let policy = HostPolicy::default().allow_domain("*.sfproxy.example.com");
        assert!(policy.parse("https://eu.sfproxy.example.com").is_ok());
        assert!(
            HostPolicy::default()
                .parse("https://eu.sfproxy.example.com")
                .is_err()
        );
    }
}
