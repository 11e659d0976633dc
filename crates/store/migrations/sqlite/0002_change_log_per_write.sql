-- The change log becomes one row per write of a contact instead of one row per changed field
-- (an import of a new contact wrote ~12 rows and as many index entries; now it writes one).
-- `fields` is a JSON object: field name -> new canonical value (null when cleared), in the
-- order the fields were applied. `id` stays the change cursor; every field of one write shares
-- it. Existing rows keep their ids (stored cursors stay valid), one field each.
CREATE TABLE contact_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id BIGINT NOT NULL,
    origin     TEXT NOT NULL CHECK (origin IN ('user', 'form', 'api', 'import', 'sync')),
    changed_at BIGINT NOT NULL,
    fields     TEXT NOT NULL
);

INSERT INTO contact_changes (id, contact_id, origin, changed_at, fields)
SELECT id, contact_id, origin, changed_at, json_object(field, value)
FROM field_changes
ORDER BY id;

DROP TABLE field_changes;

CREATE INDEX contact_changes_contact ON contact_changes (contact_id);

-- The per-field change log as it was: one row per changed field, for readers that want it
-- (the sync's field times). Read-only.
CREATE VIEW field_changes (id, contact_id, field, value, origin, changed_at) AS
SELECT c.id, c.contact_id, f.key, f.value, c.origin, c.changed_at
FROM contact_changes AS c, json_each(c.fields) AS f;
