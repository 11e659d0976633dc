//! Integration tests of the `leadbridge` binary, driven as a user drives it: the real binary
//! (`CARGO_BIN_EXE_leadbridge`) started as a process, and the real Salesforce clients
//! (simple-salesforce, jsforce, installed by scripts/test.sh) run against it.
//!
//! Modules: `support` (process and client harness), `emulator_cli` (the emulator binary's
//! contract), `simple_salesforce` and `jsforce` (issue 2's conformance proof), and the other
//! subcommands' end-to-end tests (`connect_cli`, `contacts_cli`, `schema_forms_cli`, `tombstones_cli`, `e2e_sync`).

mod connect_cli;
mod contacts_cli;
mod e2e_sync;
mod emulator_cli;
mod jsforce;
mod schema_forms_cli;
mod simple_salesforce;
mod support;
mod tombstones_cli;
