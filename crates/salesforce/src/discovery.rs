//! What the org is: API versions, object metadata (describe), edition, limits.
//!
//! Invariants: a describe is fetched once per connection and object, then served from the
//! cache; it is refreshed only when the org says its metadata changed (a conditional
//! global describe answering 200 instead of 304 — one call checks every object — or a
//! conditional object describe), or when the caller invalidates it after changing a field
//! itself. Re-reading metadata every run is how peers waste calls (sync-notes.md).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lb_wire::{ApiVersion, GlobalDescribe, Limit, QueryPage, SObjectDescribe};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::budget::{EndpointKind, LimitInfo};
use crate::client::{Call, Client, Target};
use crate::error::Error;

#[derive(Default)]
pub(crate) struct DescribeCache {
    objects: HashMap<String, Cached>,
}

struct Cached {
    describe: Arc<SObjectDescribe>,
    /// HTTP date to send as `If-Modified-Since`.
    as_of: String,
    fetched: OffsetDateTime,
}

/// The org's edition, from `Organization.OrganizationType` (R-CONN-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edition {
    Developer,
    Enterprise,
    Unlimited,
    Performance,
    Professional,
    /// `Team Edition` is Group Edition's API value.
    Group,
    ContactManager,
    Personal,
    Essentials,
    Base,
    Other(String),
}

/// Whether an edition has REST API access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiAccess {
    Included,
    /// Only with the API add-on (Professional).
    AddOn,
    Unavailable,
    Unknown,
}

impl Edition {
    /// Parses `OrganizationType` (`Enterprise Edition`, `Team Edition`, …), case-insensitively.
    pub fn parse(org_type: &str) -> Self {
        let t = org_type.trim().to_ascii_lowercase();
        let t = t.strip_suffix(" edition").unwrap_or(&t);
        match t {
            "developer" => Self::Developer,
            "enterprise" => Self::Enterprise,
            "unlimited" => Self::Unlimited,
            "performance" => Self::Performance,
            "professional" => Self::Professional,
            "team" | "group" => Self::Group,
            "contact manager" => Self::ContactManager,
            "personal" => Self::Personal,
            "essentials" | "starter" => Self::Essentials,
            "base" => Self::Base,
            _ => Self::Other(org_type.trim().to_owned()),
        }
    }

    pub fn api_access(&self) -> ApiAccess {
        match self {
            Self::Developer | Self::Enterprise | Self::Unlimited | Self::Performance => {
                ApiAccess::Included
            }
            Self::Professional => ApiAccess::AddOn,
            Self::Group | Self::ContactManager | Self::Personal | Self::Essentials | Self::Base => {
                ApiAccess::Unavailable
            }
            Self::Other(_) => ApiAccess::Unknown,
        }
    }

    /// True only for editions that include the API; Professional needs an add-on (an org
    /// that can answer the edition query at all has it).
    pub fn api_available(&self) -> bool {
        self.api_access() == ApiAccess::Included
    }

    /// A sentence for the setup screen.
    pub fn explain(&self) -> String {
        match self.api_access() {
            ApiAccess::Included => format!("{} includes the Salesforce API.", self.label()),
            ApiAccess::AddOn => format!(
                "{} has the Salesforce API only with the API add-on, which Salesforce sells separately.",
                self.label()
            ),
            ApiAccess::Unavailable => format!(
                "{} does not include the Salesforce API; the connector needs Enterprise, Unlimited, Performance or Developer edition (or Professional with the API add-on).",
                self.label()
            ),
            ApiAccess::Unknown => format!(
                "Salesforce reports the edition as '{}'; API access could not be determined.",
                self.label()
            ),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Self::Developer => "Developer Edition".into(),
            Self::Enterprise => "Enterprise Edition".into(),
            Self::Unlimited => "Unlimited Edition".into(),
            Self::Performance => "Performance Edition".into(),
            Self::Professional => "Professional Edition".into(),
            Self::Group => "Group Edition".into(),
            Self::ContactManager => "Contact Manager Edition".into(),
            Self::Personal => "Personal Edition".into(),
            Self::Essentials => "Essentials Edition".into(),
            Self::Base => "Base Edition".into(),
            Self::Other(s) => s.clone(),
        }
    }
}

/// What the `Organization` record says about the org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgInfo {
    pub id: String,
    pub name: String,
    pub edition: Edition,
    pub is_sandbox: bool,
    pub instance_name: Option<String>,
}

fn http_date(t: OffsetDateTime) -> String {
    let fmt = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// Picks the highest version not above `ours` (`"66.0"`).
pub fn pick_version(available: &[ApiVersion], ours: &str) -> Option<String> {
    let num = |v: &str| v.parse::<f64>().ok();
    let max = num(ours)?;
    available
        .iter()
        .filter_map(|v| num(&v.version).map(|n| (n, &v.version)))
        .filter(|(n, _)| *n <= max)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, v)| v.clone())
}

impl Client {
    /// `GET /services/data/`: the versions the org serves.
    pub async fn versions(&self) -> Result<Vec<ApiVersion>, Error> {
        self.send(Call::get(
            EndpointKind::Versions,
            Target::Path("/services/data/".into()),
        ))
        .await?
        .json()
    }

    /// Chooses and remembers the highest version the org supports that is not above ours.
    pub async fn negotiate_version(&self) -> Result<String, Error> {
        let versions = self.versions().await?;
        let ours = self.inner.config.api_version.clone();
        let v = pick_version(&versions, &ours).ok_or_else(|| {
            Error::Protocol(format!("the org serves no API version at or below {ours}"))
        })?;
        self.state().version = Some(v.clone());
        Ok(v)
    }

    /// The describe of `sobject`, from the cache when present (no call).
    pub async fn describe(&self, sobject: &str) -> Result<Arc<SObjectDescribe>, Error> {
        if let Some(c) = self
            .describe_cache()
            .objects
            .get(&sobject.to_ascii_lowercase())
        {
            return Ok(c.describe.clone());
        }
        self.fetch_describe(sobject, None).await
    }

    /// Asks the org whether `sobject`'s metadata changed since it was cached
    /// (`If-Modified-Since`; 304 keeps the cache). One call.
    pub async fn refresh_describe(&self, sobject: &str) -> Result<Arc<SObjectDescribe>, Error> {
        let since = self
            .describe_cache()
            .objects
            .get(&sobject.to_ascii_lowercase())
            .map(|c| c.as_of.clone());
        self.fetch_describe(sobject, since).await
    }

    /// One conditional global describe: if the org reports any metadata change since the
    /// oldest cached describe, drops the cache (entries are fetched again on next use) and
    /// returns true. Costs one call, whatever the number of cached objects; none if the cache is
    /// empty.
    pub async fn refresh_describes_if_changed(&self) -> Result<bool, Error> {
        let since = {
            let cache = self.describe_cache();
            // The oldest entry: a change after it may concern any cached object.
            match cache.objects.values().min_by_key(|c| c.fetched) {
                Some(c) => c.as_of.clone(),
                None => return Ok(false),
            }
        };
        let mut call = Call::get(EndpointKind::Describe, Target::Data("sobjects".into()))
            .header("if-modified-since", since);
        call.accept = &[304];
        let reply = self.send(call).await?;
        if reply.status == 304 {
            return Ok(false);
        }
        let _: GlobalDescribe = reply.json()?;
        self.describe_cache().objects.clear();
        Ok(true)
    }

    /// The global describe (`GET /sobjects/`). Not cached.
    pub async fn describe_global(&self) -> Result<GlobalDescribe, Error> {
        self.send(Call::get(
            EndpointKind::Describe,
            Target::Data("sobjects".into()),
        ))
        .await?
        .json()
    }

    /// Drops a cached describe (after creating a field, for example).
    pub fn invalidate_describe(&self, sobject: &str) {
        self.describe_cache()
            .objects
            .remove(&sobject.to_ascii_lowercase());
    }

    fn describe_cache(&self) -> std::sync::MutexGuard<'_, DescribeCache> {
        self.inner
            .describe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    async fn fetch_describe(
        &self,
        sobject: &str,
        since: Option<String>,
    ) -> Result<Arc<SObjectDescribe>, Error> {
        crate::soql::check_name(sobject)?;
        let mut call = Call::get(
            EndpointKind::Describe,
            Target::Data(format!("sobjects/{sobject}/describe")),
        );
        // Stamp the cache with a time just before the request, so a change made while the
        // request runs is not missed by the next conditional check.
        let fetched = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        let as_of = http_date(fetched);
        if let Some(s) = since {
            call = call.header("if-modified-since", s);
            call.accept = &[304];
        }
        let reply = self.send(call).await?;
        let key = sobject.to_ascii_lowercase();
        if reply.status == 304 {
            // The guard must not live across the await below (the future must stay `Send`).
            let cached = self
                .describe_cache()
                .objects
                .get(&key)
                .map(|c| c.describe.clone());
            if let Some(d) = cached {
                return Ok(d);
            }
            return Box::pin(self.fetch_describe(sobject, None)).await;
        }
        let describe = Arc::new(reply.json::<SObjectDescribe>()?);
        let as_of = reply
            .header("last-modified")
            .map(str::to_owned)
            .unwrap_or(as_of);
        self.describe_cache().objects.insert(
            key,
            Cached {
                describe: describe.clone(),
                as_of,
                fetched,
            },
        );
        Ok(describe)
    }

    /// The org's identity and edition (one query). On an edition without API access the call
    /// itself fails with `API_DISABLED_FOR_ORG` ([`Error::is_api_disabled`]).
    pub async fn org_info(&self) -> Result<OrgInfo, Error> {
        let page: QueryPage = self
            .query_page(
                "SELECT Id, Name, OrganizationType, IsSandbox, InstanceName FROM Organization",
                false,
            )
            .await?;
        let rec = page
            .records
            .first()
            .ok_or_else(|| Error::Protocol("no Organization record".into()))?;
        let s = |k: &str| rec.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        Ok(OrgInfo {
            id: s("Id").unwrap_or_default(),
            name: s("Name").unwrap_or_default(),
            edition: Edition::parse(&s("OrganizationType").unwrap_or_default()),
            is_sandbox: rec
                .get("IsSandbox")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            instance_name: s("InstanceName"),
        })
    }

    /// `GET /limits/`. Also refreshes [`Client::limit_info`] from `DailyApiRequests`.
    pub async fn limits(&self) -> Result<BTreeMap<String, Limit>, Error> {
        let raw: serde_json::Map<String, serde_json::Value> = self
            .send(Call::get(
                EndpointKind::Limits,
                Target::Data("limits/".into()),
            ))
            .await?
            .json()?;
        // Only entries shaped `{"Max":N,"Remaining":N}`; per-app children are ignored.
        let limits: BTreeMap<String, Limit> = raw
            .into_iter()
            .filter_map(|(k, v)| serde_json::from_value::<Limit>(v).ok().map(|l| (k, l)))
            .collect();
        if let Some(d) = limits.get("DailyApiRequests") {
            let prev = self.limit_info();
            self.record_limit(LimitInfo {
                used: d.max.saturating_sub(d.remaining),
                max: d.max,
                per_app: prev.and_then(|p| p.per_app),
            });
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editions_know_their_api_access() {
        let cases = [
            ("Developer Edition", Edition::Developer, true),
            ("Enterprise Edition", Edition::Enterprise, true),
            ("Unlimited Edition", Edition::Unlimited, true),
            ("Performance Edition", Edition::Performance, true),
            ("Professional Edition", Edition::Professional, false),
            ("Team Edition", Edition::Group, false),
            ("Contact Manager Edition", Edition::ContactManager, false),
            ("Personal Edition", Edition::Personal, false),
            ("Base Edition", Edition::Base, false),
        ];
        for (raw, want, api) in cases {
            let e = Edition::parse(raw);
            assert_eq!(e, want, "{raw}");
            assert_eq!(e.api_available(), api, "{raw}");
        }
        assert_eq!(
            Edition::parse("Professional Edition").api_access(),
            ApiAccess::AddOn
        );
        assert_eq!(
            Edition::parse("Galactic Edition").api_access(),
            ApiAccess::Unknown
        );
        assert!(
            Edition::Group
                .explain()
                .contains("does not include the Salesforce API")
        );
    }

    #[test]
    fn highest_version_not_above_ours_is_picked() {
        let vs: Vec<ApiVersion> = serde_json::from_str(
            r#"[{"label":"Winter '25","url":"/services/data/v62.0","version":"62.0"},
                {"label":"Spring '26","url":"/services/data/v66.0","version":"66.0"},
                {"label":"Summer '26","url":"/services/data/v67.0","version":"67.0"},
                {"label":"Spring '25","url":"/services/data/v63.0","version":"63.0"}]"#,
        )
        .unwrap();
        assert_eq!(pick_version(&vs, "66.0").as_deref(), Some("66.0"));
        assert_eq!(pick_version(&vs, "64.0").as_deref(), Some("63.0"));
        assert_eq!(pick_version(&vs, "61.0"), None);
    }

    #[test]
    fn http_dates_are_rfc_1123() {
        let t = time::macros::datetime!(2015-08-10 00:00:00 UTC);
        assert_eq!(http_date(t), "Mon, 10 Aug 2015 00:00:00 GMT");
    }
}
