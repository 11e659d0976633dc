//! SOQL queries through REST: pages followed by `nextRecordsUrl`, `queryAll` for deleted and
//! merged records.
//!
//! Invariants: pages are fetched one at a time as the caller consumes them (memory stays at
//! one page); each page is one API call; a `nextRecordsUrl` is followed only on the same
//! instance.

use futures::Stream;
use lb_wire::QueryPage;

use crate::budget::EndpointKind;
use crate::client::{Call, Client, Target};
use crate::error::Error;

/// One record as Salesforce returns it (`attributes` included).
pub type Record = serde_json::Map<String, serde_json::Value>;

/// Pages of one query, fetched on demand.
#[derive(Debug)]
pub struct QueryPager {
    client: Client,
    next: Next,
    total_size: Option<u64>,
}

#[derive(Debug)]
enum Next {
    First { soql: String, all: bool },
    More(String),
    Done,
}

impl QueryPager {
    /// The next page, or `None` when the query is exhausted.
    pub async fn next_page(&mut self) -> Result<Option<QueryPage>, Error> {
        let page = match std::mem::replace(&mut self.next, Next::Done) {
            Next::Done => return Ok(None),
            Next::First { soql, all } => self.client.query_page(&soql, all).await?,
            Next::More(url) => {
                let mut call = Call::get(EndpointKind::QueryMore, Target::Path(url));
                if let Some(n) = self.client.config().query_batch_size {
                    call = call.header("sforce-query-options", format!("batchSize={n}"));
                }
                self.client.send(call).await?.json()?
            }
        };
        self.total_size.get_or_insert(page.total_size);
        self.next = match (&page.next_records_url, page.done) {
            (Some(u), false) => Next::More(u.clone()),
            (None, false) => {
                return Err(Error::Protocol(
                    "page says done:false but has no nextRecordsUrl".into(),
                ));
            }
            _ => Next::Done,
        };
        Ok(Some(page))
    }

    /// `totalSize` as the first page reported it.
    pub fn total_size(&self) -> Option<u64> {
        self.total_size
    }

    /// Every remaining record, in order. Holds them all in memory: prefer
    /// [`QueryPager::next_page`] or [`QueryPager::into_stream`] for large results.
    pub async fn collect_all(mut self) -> Result<Vec<Record>, Error> {
        let mut out = Vec::new();
        while let Some(p) = self.next_page().await? {
            out.extend(p.records);
        }
        Ok(out)
    }

    /// The pages as a stream of record batches.
    pub fn into_stream(self) -> impl Stream<Item = Result<Vec<Record>, Error>> {
        futures::stream::try_unfold(self, |mut pager| async move {
            Ok(pager.next_page().await?.map(|p| (p.records, pager)))
        })
    }
}

impl Client {
    /// Runs `soql` (`/query`); pages are fetched as the pager is consumed.
    pub fn query(&self, soql: impl Into<String>) -> QueryPager {
        QueryPager {
            client: self.clone(),
            next: Next::First {
                soql: soql.into(),
                all: false,
            },
            total_size: None,
        }
    }

    /// Runs `soql` through `/queryAll`: deleted (recycle bin) and merged records included — a
    /// merged-away record has `IsDeleted = true` and `MasterRecordId` = the record it was merged
    /// into. Pages like [`Client::query`] (Salesforce's `nextRecordsUrl` for it is a `/query/`
    /// locator, followed as `QueryMore`). `lb-engine`'s org deletes read
    /// `… WHERE IsDeleted = true AND SystemModstamp > X` through it.
    pub fn query_all(&self, soql: impl Into<String>) -> QueryPager {
        QueryPager {
            client: self.clone(),
            next: Next::First {
                soql: soql.into(),
                all: true,
            },
            total_size: None,
        }
    }

    /// All records of `soql` in one vector (small results).
    pub async fn query_records(&self, soql: impl Into<String>) -> Result<Vec<Record>, Error> {
        self.query(soql).collect_all().await
    }

    /// The first page only.
    pub(crate) async fn query_page(&self, soql: &str, all: bool) -> Result<QueryPage, Error> {
        let mut call = Call::get(
            EndpointKind::Query,
            Target::Data(if all { "queryAll" } else { "query" }.into()),
        )
        .query("q", soql);
        if let Some(n) = self.config().query_batch_size {
            call = call.header("sforce-query-options", format!("batchSize={n}"));
        }
        self.send(call).await?.json()
    }
}
