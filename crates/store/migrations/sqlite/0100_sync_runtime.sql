-- The sync runtime (issue 6): links and their bases, provenance, runs and their failures, the
-- intent journal of Lead creations, and a small key/value table for watermarks, settings,
-- connection and health. Times are Unix microseconds like the contact base's tables.

-- One link per contact of ours and per org record (R-SYNC-1: kept by Id once made).
CREATE TABLE sync_links (
    contact_id BIGINT PRIMARY KEY,
    org_id     TEXT NOT NULL UNIQUE,
    object     TEXT NOT NULL CHECK (object IN ('Lead', 'Contact')),
    -- JSON: attribute -> {"ours": value, "theirs": value}, the last synced values.
    base       TEXT NOT NULL,
    run_id     BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The latest written value of each attribute on each side, and why (plan provenance).
CREATE TABLE sync_provenance (
    contact_id BIGINT NOT NULL,
    attribute  TEXT NOT NULL,
    target     TEXT NOT NULL CHECK (target IN ('marketing', 'crm')),
    source     TEXT NOT NULL CHECK (source IN ('marketing', 'crm')),
    rule       TEXT NOT NULL,
    value      TEXT,
    run_id     BIGINT NOT NULL,
    written_at BIGINT NOT NULL,
    PRIMARY KEY (contact_id, attribute, target)
);

CREATE TABLE sync_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    triggered_by TEXT NOT NULL,
    scope        TEXT NOT NULL,
    dry_run      BOOLEAN NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'paused')),
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    owner        TEXT NOT NULL,
    counts       TEXT NOT NULL,
    api_requests BIGINT NOT NULL,
    message      TEXT,
    mapping_hash TEXT
);
CREATE INDEX sync_runs_status ON sync_runs (status);

CREATE TABLE sync_run_failures (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     BIGINT NOT NULL REFERENCES sync_runs (id),
    side       TEXT NOT NULL CHECK (side IN ('marketing', 'crm')),
    object     TEXT,
    record     TEXT,
    email      TEXT,
    error_code TEXT NOT NULL,
    message    TEXT NOT NULL,
    fields     TEXT
);
CREATE INDEX sync_run_failures_run ON sync_run_failures (run_id, id);

-- Written before a Lead is created, removed once its link is stored: after a crash, the
-- contacts listed here are looked up in the org by email before anything is created again.
CREATE TABLE sync_intents (
    contact_id BIGINT PRIMARY KEY,
    email      TEXT NOT NULL,
    run_id     BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sync_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
