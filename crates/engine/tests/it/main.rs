//! Integration tests of the sync runtime against the in-process Salesforce emulator: the seed
//! walked end to end (`seed_walk`) and the faults a real org throws (`faults`), each checked
//! against the invariants in `support` (one org Lead per email, no lost change, every failure
//! recorded). `deletes` drives the org-deletes module directly; `oauth_flows` connects with JWT
//! bearer and client credentials, then syncs; `outbox` checks the run's outbox of org writes (one
//! Bulk job across partitions, page links in the same run, stops, the retry table).

mod deletes;
mod faults;
mod oauth_flows;
mod outbox;
mod seed_walk;
mod spool;
mod support;
mod watermark;
