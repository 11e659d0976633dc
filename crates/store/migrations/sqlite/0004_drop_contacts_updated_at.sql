-- Nothing reads contacts by updated_at (listings are by id, the sync reads the change log), and
-- every contact insert or update paid for this index.
DROP INDEX contacts_updated_at;
