-- The run's outbox (issue 6 at volume): the pairs of a run that write to the org (Lead creates
-- and updates, seed updates, and the page link `plezi_url` of a contact created here from a
-- Lead) are kept here while the run plans partition by partition, then sent in Bulk jobs as
-- large as the client allows and recorded chunk by chunk. Rows never outlive their run: the
-- runner clears its own at the end, and a run holding the sync lease discards those of a run
-- that died (its watermarks did not move: the next run reads and plans the same changes again;
-- a create it may have sent is settled by its intent). Dry runs write no outbox.

CREATE TABLE sync_outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     BIGINT NOT NULL,
    -- 'create' (a Lead create), 'update' (a Lead update) or 'seed' (a seed update).
    kind       TEXT NOT NULL CHECK (kind IN ('create', 'update', 'seed')),
    contact_id BIGINT,
    org_id     TEXT,
    -- The engine's entry (JSON: the core's pair plan and the link as it was before).
    entry      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sync_outbox_run ON sync_outbox (run_id, kind, id);
CREATE INDEX sync_outbox_contact ON sync_outbox (run_id, contact_id);
CREATE INDEX sync_outbox_org ON sync_outbox (run_id, org_id);

-- Records the next runs read again even though nothing changed: their last write failed (or a
-- merge winner waits for its turn). Replaces the JSON state value `retry`. A run that read every
-- earlier retry again (a complete one) removes the rows of the runs before it.
CREATE TABLE sync_retry (
    -- 'contact' (our contact id), 'lead' or 'org_contact' (an org Id).
    kind       TEXT NOT NULL CHECK (kind IN ('contact', 'lead', 'org_contact')),
    id         TEXT NOT NULL,
    run_id     BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
