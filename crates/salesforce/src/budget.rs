//! The org's daily API allowance as the client sees it: `Sforce-Limit-Info` read on every
//! response, a [`Budget`] (the share of the allowance this connector may push the org to), and
//! counts of the requests this client made, per kind of endpoint.
//!
//! Invariants: the last reading is replaced only by a reading from a later response (readings
//! are monotonic within a rolling day except at the day's rollover, so we simply keep the
//! latest); a request is counted once per HTTP attempt, retries included, because each attempt
//! costs the customer an API call.

use std::collections::BTreeMap;
use std::fmt;

/// One reading of `Sforce-Limit-Info: api-usage=25/15000[; per-app-api-usage=17/250(appName=x)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitInfo {
    /// API requests used in the rolling 24 hours, the whole org.
    pub used: u64,
    /// The org's daily allocation.
    pub max: u64,
    /// The per-app quota, when the org sets one for our connected app.
    pub per_app: Option<(u64, u64)>,
}

impl LimitInfo {
    /// Parses the header value. Unknown parts (`api-bursts=…`) are ignored, as Salesforce asks;
    /// `None` when no `api-usage` part is readable.
    pub fn parse(header: &str) -> Option<Self> {
        let mut api = None;
        let mut per_app = None;
        for part in header.split(';') {
            let Some((key, value)) = part.trim().split_once('=') else {
                continue;
            };
            // `per-app-api-usage=17/250(appName=x)`: the split above cut at the first '='.
            let value = value.split('(').next().unwrap_or(value);
            let pair = value.split_once('/').and_then(|(u, m)| {
                Some((u.trim().parse::<u64>().ok()?, m.trim().parse::<u64>().ok()?))
            });
            match key.trim().to_ascii_lowercase().as_str() {
                "api-usage" => api = pair,
                "per-app-api-usage" => per_app = pair,
                _ => {}
            }
        }
        api.map(|(used, max)| Self { used, max, per_app })
    }

    /// Share of the daily allocation used so far (0.0–1.0+; Salesforce allows some overage).
    pub fn used_share(&self) -> f64 {
        if self.max == 0 {
            1.0
        } else {
            self.used as f64 / self.max as f64
        }
    }
}

/// How much of the org's daily API allowance this connector may push the org to.
///
/// The org's allowance is shared with every other integration and with its users; a sync that
/// spends it all breaks the customer's other tools. `max_share = 0.8` means: start or continue
/// work only while the org as a whole stays under 80 % of its rolling-24 h allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub max_share: f64,
}

impl Default for Budget {
    fn default() -> Self {
        Self { max_share: 0.9 }
    }
}

impl Budget {
    /// Calls still available under this budget given a reading (0 when spent).
    pub fn remaining(&self, info: &LimitInfo) -> u64 {
        let ceiling = (info.max as f64 * self.max_share.clamp(0.0, 1.0)).floor() as u64;
        let mut left = ceiling.saturating_sub(info.used);
        if let Some((used, max)) = info.per_app {
            left = left.min(max.saturating_sub(used));
        }
        left
    }

    /// Whether `planned` more calls fit.
    pub fn allows(&self, info: &LimitInfo, planned: u64) -> bool {
        self.remaining(info) >= planned
    }
}

/// The kind of endpoint a request went to, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndpointKind {
    /// `/services/oauth2/token` (does not count against the daily allowance).
    Token,
    /// `/services/data/` (does not count against the daily allowance).
    Versions,
    Describe,
    Query,
    /// `nextRecordsUrl` pages.
    QueryMore,
    Limits,
    Collections,
    Sobject,
    BulkIngest,
    BulkQuery,
    Tooling,
    Other,
}

impl EndpointKind {
    /// Whether Salesforce counts this request against the daily API allowance.
    pub fn counts_against_allowance(self) -> bool {
        !matches!(self, Self::Token | Self::Versions)
    }
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Token => "token",
            Self::Versions => "versions",
            Self::Describe => "describe",
            Self::Query => "query",
            Self::QueryMore => "query_more",
            Self::Limits => "limits",
            Self::Collections => "collections",
            Self::Sobject => "sobject",
            Self::BulkIngest => "bulk_ingest",
            Self::BulkQuery => "bulk_query",
            Self::Tooling => "tooling",
            Self::Other => "other",
        };
        f.write_str(name)
    }
}

/// Requests made by one client, per endpoint kind (every HTTP attempt, retries included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub by_kind: BTreeMap<EndpointKind, u64>,
}

impl RequestCounts {
    pub(crate) fn add(&mut self, kind: EndpointKind) {
        *self.by_kind.entry(kind).or_default() += 1;
    }

    /// Every request, token and versions included.
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }

    /// Requests that Salesforce counts against the daily allowance.
    pub fn api_calls(&self) -> u64 {
        self.by_kind
            .iter()
            .filter(|(k, _)| k.counts_against_allowance())
            .map(|(_, n)| n)
            .sum()
    }

    pub fn get(&self, kind: EndpointKind) -> u64 {
        self.by_kind.get(&kind).copied().unwrap_or(0)
    }

    /// Counts made since `earlier` (for measuring one piece of work).
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        let mut by_kind = BTreeMap::new();
        for (k, n) in &self.by_kind {
            let d = n.saturating_sub(earlier.get(*k));
            if d > 0 {
                by_kind.insert(*k, d);
            }
        }
        RequestCounts { by_kind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_header_forms_seen_in_the_field_are_parsed() {
        let cases = [
            ("api-usage=25/15000", Some((25, 15000, None))),
            (
                "api-usage=18/5000; per-app-api-usage=17/250(appName=sample-connected-app)",
                Some((18, 5000, Some((17, 250)))),
            ),
            (
                "api-usage=10018/100000; api-bursts=1/750",
                Some((10018, 100000, None)),
            ),
            ("  API-Usage = 7 / 10 ", Some((7, 10, None))),
            ("api-bursts=1/750", None),
            ("api-usage=abc/10", None),
            ("", None),
        ];
        for (raw, want) in cases {
            let got = LimitInfo::parse(raw).map(|l| (l.used, l.max, l.per_app));
            assert_eq!(got, want, "{raw}");
        }
    }

    #[test]
    fn budget_is_a_share_of_the_daily_allocation() {
        let budget = Budget { max_share: 0.8 };
        let info = LimitInfo {
            used: 7_000,
            max: 10_000,
            per_app: None,
        };
        assert_eq!(budget.remaining(&info), 1_000);
        assert!(budget.allows(&info, 1_000));
        assert!(!budget.allows(&info, 1_001));
        let spent = LimitInfo {
            used: 9_000,
            max: 10_000,
            per_app: None,
        };
        assert_eq!(budget.remaining(&spent), 0);
    }

    #[test]
    fn per_app_quota_caps_the_budget() {
        let budget = Budget { max_share: 1.0 };
        let info = LimitInfo {
            used: 10,
            max: 10_000,
            per_app: Some((240, 250)),
        };
        assert_eq!(budget.remaining(&info), 10);
    }

    #[test]
    fn counts_separate_allowance_calls_from_token_calls() {
        let mut c = RequestCounts::default();
        c.add(EndpointKind::Token);
        c.add(EndpointKind::Versions);
        c.add(EndpointKind::Query);
        c.add(EndpointKind::Query);
        assert_eq!(c.total(), 4);
        assert_eq!(c.api_calls(), 2);
        let before = c.clone();
        c.add(EndpointKind::Collections);
        let d = c.since(&before);
        assert_eq!(d.total(), 1);
        assert_eq!(d.get(EndpointKind::Collections), 1);
    }
}
