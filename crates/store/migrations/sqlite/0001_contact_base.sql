-- The marketing contact base (issue 4). Times are Unix microseconds (UTC) in BIGINT columns so the
-- SQL is the same on SQLite and PostgreSQL; emails are stored normalised (trimmed, lower-cased),
-- which makes the plain UNIQUE index case-insensitive by construction.

CREATE TABLE states (
    name     TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
INSERT INTO states (name, position) VALUES ('new', 1), ('engaged', 2), ('accepted', 3), ('closed', 4);

CREATE TABLE custom_fields (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    label      TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('text', 'number', 'date', 'picklist', 'boolean')),
    options    TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL
);

CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT NOT NULL UNIQUE,
    first_name      TEXT,
    last_name       TEXT,
    company         TEXT,
    job_title       TEXT,
    phone           TEXT,
    behaviour_score BIGINT NOT NULL DEFAULT 0 CHECK (behaviour_score BETWEEN 0 AND 50),
    state           TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL CHECK (lifecycle_stage IN ('lead', 'mql', 'sql', 'customer')),
    lead_at         BIGINT,
    mql_at          BIGINT,
    sql_at          BIGINT,
    customer_at     BIGINT,
    source          TEXT,
    medium          TEXT,
    campaign        TEXT,
    custom          TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX contacts_updated_at ON contacts (updated_at);

-- Append-only; no foreign key so that a deleted contact's history (and its `_deleted` row)
-- stays readable by the sync. `id` is the change cursor.
CREATE TABLE field_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id BIGINT NOT NULL,
    field      TEXT NOT NULL,
    value      TEXT,
    origin     TEXT NOT NULL CHECK (origin IN ('user', 'form', 'api', 'import', 'sync')),
    changed_at BIGINT NOT NULL
);
CREATE INDEX field_changes_contact ON field_changes (contact_id, field);

CREATE TABLE forms (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL,
    mapping         TEXT NOT NULL,
    score_increment BIGINT NOT NULL CHECK (score_increment BETWEEN 0 AND 50),
    created_at      BIGINT NOT NULL
);

CREATE TABLE form_submissions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    form_id      BIGINT NOT NULL REFERENCES forms (id),
    contact_id   BIGINT NOT NULL,
    created      BIGINT NOT NULL,
    payload      TEXT NOT NULL,
    submitted_at BIGINT NOT NULL
);
CREATE INDEX form_submissions_form ON form_submissions (form_id, id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    updated_at BIGINT NOT NULL
);
