//! lb-store through its public API, on SQLite always and on PostgreSQL when
//! `TEST_POSTGRES_URL` is set (a fresh database per test).

mod support;

mod admins;
mod api_keys;
mod batch;
mod contacts;
mod forms;
mod import;
mod import_bulk;
mod secrets;
mod submissions;
mod sync_runtime;
