-- Sign-in for the web app (issue 7): administrators, their sessions and the one-time setup link.
-- Numbered from 200 so the contact base's and the sync's migrations keep their own range.
-- Only hashes of the session and setup tokens are stored: a copy of the database does not let
-- anyone sign in. Times are Unix microseconds (UTC), as in the rest of the store.

CREATE TABLE admin_users (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    username         TEXT NOT NULL UNIQUE,
    password_hash    TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    last_sign_in_at  BIGINT
);

CREATE TABLE admin_sessions (
    token_sha256  TEXT PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions (user_id);

CREATE TABLE admin_setup_tokens (
    token_sha256  TEXT PRIMARY KEY,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);
