-- Tombstones (issue 6, org deletes): one per contact of ours whose linked org record was deleted
-- (or merged into a record already linked to another contact). The link is removed in the same
-- transaction; the contact is kept; the runner leaves the contact out of planning until the
-- user clears the tombstone, so a full sync never re-creates a Lead a salesperson deleted.
-- Times are Unix microseconds like the other tables.
CREATE TABLE sync_tombstones (
    contact_id  BIGINT PRIMARY KEY,
    -- The deleted (or merged-away) org record the contact was linked to.
    org_id      TEXT NOT NULL,
    object      TEXT NOT NULL CHECK (object IN ('Lead', 'Contact')),
    -- When the org deleted it (its SystemModstamp as queryAll reports it).
    deleted_at  BIGINT NOT NULL,
    -- The winner of a merge (MasterRecordId), when the record was merged away.
    master_id   TEXT,
    run_id      BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX sync_tombstones_org ON sync_tombstones (org_id);
