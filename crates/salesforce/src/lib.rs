//! `lb-salesforce`: the typed async Salesforce client, and the only crate of the app that talks
//! to Salesforce over HTTP.
//!
//! What it does, module by module:
//! - [`auth`]: the five OAuth grants (password + security token, client credentials, JWT
//!   bearer, authorization code + PKCE, refresh token) and the session they yield.
//! - [`client`]: the connection — token cache, one re-authentication on 401, retries with
//!   backoff where safe, request counting, `Sforce-Limit-Info` on every response, budget.
//! - [`discovery`]: versions, cached describes, the org's [`Edition`], `/limits`.
//! - [`query`] and [`soql`]: paged queries and a builder whose literals are always escaped.
//! - [`writes`], [`bulk`], [`policy`]: collections in chunks of 200, Bulk API 2.0 ingest and
//!   query, and the cost-based choice between them.
//! - [`tooling`]: custom fields and their field-level security (R-FIELD-5).
//! - [`hosts`]: the allow-list of hosts credentials may be sent to.
//!
//! Invariants: every request and response body is an `lb-wire` type (shared with the
//! emulator); secrets are `secrecy` types with redacted `Debug`; a token-endpoint refusal stops
//! the client until new credentials arrive; `REQUEST_LIMIT_EXCEEDED` stops the work; every row
//! of a write gets exactly one outcome.

pub mod auth;
pub mod budget;
pub mod bulk;
pub mod client;
pub mod discovery;
pub mod error;
pub mod hosts;
pub mod policy;
pub mod query;
pub mod retry;
pub mod soql;
pub mod tooling;
pub mod writes;

#[cfg(test)]
mod fixtures;

pub use auth::{Credentials, GrantKind, JwtKey, PASSWORD_FLOW_NOTICE, PkceLogin, Session};
pub use budget::{Budget, EndpointKind, LimitInfo, RequestCounts};
pub use bulk::BulkQueryPager;
pub use client::{API_VERSION, BulkConfig, Client, ClientConfig};
pub use discovery::{ApiAccess, Edition, OrgInfo};
pub use error::{AuthError, AuthFailure, Error};
pub use hosts::{HostPolicy, UrlError};
pub use lb_wire::{ApiError, SObjectDescribe};
pub use policy::WritePolicy;
pub use query::{QueryPager, Record};
pub use retry::{Idempotency, RetryPolicy};
pub use secrecy::SecretString;
pub use soql::{Filter, Literal, Order, Soql, StatementLimits};
pub use tooling::{CustomFieldKind, CustomFieldSpec, FieldSetup};
pub use writes::{RecordOutcome, RecordResult, WriteMethod, WriteOp, WriteReport};
