//! Choosing between sObject Collections and Bulk API 2.0 by what each costs in API calls.
//!
//! # The reasoning
//!
//! The customer pays for API calls (a daily allowance shared by every integration), so the
//! choice is made on calls, then latency:
//!
//! - **Collections** cost `ceil(n / 200)` calls, answer synchronously, and report each record at
//!   once.
//! - **A Bulk 2.0 ingest job** costs a constant: create, upload, close, the status polls, and
//!   the result downloads — successful, failed and unprocessed, each skipped when the job info
//!   proves it empty. The first poll waits `poll_initial` and the interval doubles, so a job of
//!   `t` seconds needs about `log2(t / poll_initial) + 1` polls: 1–4 for ordinary jobs. That is
//!   5 calls at best (measured: 6 for 10,000 new Leads against the emulator) and about 10 for
//!   a slow job with failures. It is asynchronous (seconds to minutes of latency) and also
//!   spends the org's Bulk batch allowance (15,000 batches a day, one per ~10,000 records).
//! - Break-even against the pessimistic 10: `ceil(n / 200) > 10`, i.e. above about
//!   **2,000 records** bulk is cheaper — which is also Salesforce's own guidance ("use Bulk
//!   above about 2,000 records"). Below that, collections' lower latency and immediate
//!   per-record answers win.
//!
//! Reads follow the same logic: REST query pages cost `ceil(n / 2000)` calls (2,000 is the
//! maximum page size, not guaranteed for wide records); a Bulk query job costs create + polls +
//! `ceil(n / page)` result pages of up to 100,000+ records, about 5–8 calls. Break-even is
//! about **10,000 records**.
//!
//! Both thresholds are settings: an org with a tight Bulk batch allowance raises them, an org
//! short of REST calls lowers them.

use crate::client::Client;
use crate::query::Record;
use crate::writes::{COLLECTION_CHUNK, WriteMethod, WriteOp, WriteReport};

/// Calls a typical Bulk ingest job costs (see the module docs).
pub const BULK_INGEST_TYPICAL_CALLS: u64 = 10;
/// Calls a typical Bulk query job costs, before result pages.
pub const BULK_QUERY_TYPICAL_CALLS: u64 = 5;
/// Maximum records per REST query page.
pub const QUERY_PAGE_MAX: u64 = 2_000;

/// Collections below the threshold, Bulk above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WritePolicy {
    /// Writes of more than this many rows go through Bulk API 2.0.
    pub bulk_write_threshold: usize,
    /// Reads expected to return more than this many rows go through a Bulk query.
    pub bulk_read_threshold: u64,
}

impl Default for WritePolicy {
    fn default() -> Self {
        Self {
            bulk_write_threshold: 2_000,
            bulk_read_threshold: 10_000,
        }
    }
}

impl WritePolicy {
    pub fn choose_write(&self, rows: usize) -> WriteMethod {
        if rows > self.bulk_write_threshold {
            WriteMethod::Bulk
        } else {
            WriteMethod::Collections
        }
    }

    pub fn choose_read(&self, expected_rows: u64) -> WriteMethod {
        if expected_rows > self.bulk_read_threshold {
            WriteMethod::Bulk
        } else {
            WriteMethod::Collections
        }
    }

    /// Estimated API calls of writing `rows` with `method`.
    pub fn write_cost(method: WriteMethod, rows: usize) -> u64 {
        match method {
            WriteMethod::Collections => rows.div_ceil(COLLECTION_CHUNK) as u64,
            WriteMethod::Bulk => BULK_INGEST_TYPICAL_CALLS,
        }
    }

    /// Estimated API calls of reading `rows` (REST pages vs a Bulk query of `page` records
    /// per result page).
    pub fn read_cost(method: WriteMethod, rows: u64, bulk_page: u64) -> u64 {
        match method {
            WriteMethod::Collections => rows.div_ceil(QUERY_PAGE_MAX).max(1),
            WriteMethod::Bulk => BULK_QUERY_TYPICAL_CALLS + rows.div_ceil(bulk_page.max(1)).max(1),
        }
    }
}

impl Client {
    /// Writes `rows` by collections or Bulk, as the configured [`WritePolicy`] chooses.
    pub async fn write(&self, op: &WriteOp, sobject: &str, rows: Vec<Record>) -> WriteReport {
        match self.config().write_policy.choose_write(rows.len()) {
            WriteMethod::Collections => self.collections(op, sobject, &rows).await,
            WriteMethod::Bulk => self.bulk_ingest(op, sobject, rows).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_switches_to_bulk_above_break_even() {
        let p = WritePolicy::default();
        assert_eq!(p.choose_write(200), WriteMethod::Collections);
        assert_eq!(p.choose_write(2_000), WriteMethod::Collections);
        assert_eq!(p.choose_write(2_001), WriteMethod::Bulk);
        // At the threshold the two costs meet.
        assert_eq!(
            WritePolicy::write_cost(WriteMethod::Collections, 2_000),
            BULK_INGEST_TYPICAL_CALLS
        );
        assert_eq!(p.choose_read(10_000), WriteMethod::Collections);
        assert_eq!(p.choose_read(10_001), WriteMethod::Bulk);
    }

    #[test]
    fn threshold_is_configurable() {
        let p = WritePolicy {
            bulk_write_threshold: 50,
            ..WritePolicy::default()
        };
        assert_eq!(p.choose_write(51), WriteMethod::Bulk);
    }

    #[test]
    fn costs_follow_the_documented_model() {
        assert_eq!(
            WritePolicy::write_cost(WriteMethod::Collections, 10_000),
            50
        );
        assert_eq!(WritePolicy::write_cost(WriteMethod::Collections, 201), 2);
        assert_eq!(
            WritePolicy::read_cost(WriteMethod::Collections, 100_000, 0),
            50
        );
        assert_eq!(
            WritePolicy::read_cost(WriteMethod::Bulk, 100_000, 50_000),
            7
        );
    }
}
