-- The run's read spool (issue 6 at volume): the org records a run read, and the ids of our
-- contacts it must look at, kept here instead of in memory so that the runner's memory follows
-- the partition it plans, not the base. A run takes its rows out as it plans them (partitions
-- of whole email groups, by `email_norm` range) and removes what is left when it ends; the rows
-- of a run that died are discarded by the next run, which reads again from the watermark (the
-- watermark never moved past what a dead run read). Dry runs use negative run ids.

CREATE TABLE sync_spool (
    run_id     BIGINT NOT NULL,
    org_id     TEXT NOT NULL,
    object     TEXT NOT NULL CHECK (object IN ('Lead', 'Contact')),
    -- The record's normalised email ('' when it has none): the partition key.
    email_norm TEXT NOT NULL,
    -- The record as the core's `OrgRecord` (JSON).
    record     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, org_id)
);
CREATE INDEX sync_spool_email ON sync_spool (run_id, email_norm);

CREATE TABLE sync_spool_ours (
    run_id     BIGINT NOT NULL,
    contact_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, contact_id)
);
