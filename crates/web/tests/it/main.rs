//! lb-web through HTTP: the API and pages with `oneshot` (no socket), on SQLite always and on
//! PostgreSQL when `TEST_POSTGRES_URL` is set, plus one test on a real bound port.

mod support;

mod api_contacts;
mod api_forms;
mod api_tombstones;
mod form_posts;
mod openapi;
mod ui;
