-- A user's sessions are listed newest first: with the order in the index the list is a range
-- scan in that order (no sort, on PostgreSQL or SQLite, however many sessions the user holds).
-- Its leading column serves every lookup by user_id, so the single-column index goes.
CREATE INDEX sessions_user_created_idx ON sessions (user_id, created_at, id);
--bun:split
DROP INDEX sessions_user_id_idx;
