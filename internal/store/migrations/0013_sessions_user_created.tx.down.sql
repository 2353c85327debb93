CREATE INDEX sessions_user_id_idx ON sessions (user_id);
--bun:split
DROP INDEX sessions_user_created_idx;
