//! Integration tests of the emulator through real HTTP on a port-0 listener: exact wire shapes
//! as Salesforce sends them (salesforce-api.md sections cited per test module).

mod auth;
mod bad_input;
mod bulk;
mod collections;
mod control;
mod convert;
mod merge;
mod query;
mod records;
mod replication;
mod support;
mod tooling;
