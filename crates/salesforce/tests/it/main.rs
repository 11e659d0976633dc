//! Integration tests of `lb-salesforce` against the in-process Salesforce emulator
//! (`lb-emulator`), one module per area. Every test starts its own org on port 0.

mod auth;
mod bulk;
mod discovery;
mod fake;
mod faults;
mod helpers;
mod keys;
mod query;
mod security;
mod tooling;
mod writes;
