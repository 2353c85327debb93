{{if eq .Dialect "pg"}}
DROP INDEX IF EXISTS users_name_trgm_idx;
--bun:split
DROP INDEX IF EXISTS users_email_trgm_idx;
--bun:split
{{end}}
DROP INDEX activity_events_type_at_idx;
--bun:split
DROP INDEX activity_events_at_idx;
--bun:split
DROP INDEX users_role_idx;
--bun:split
DROP INDEX users_tier_created_idx;
--bun:split
DROP INDEX users_created_idx;
--bun:split
ALTER TABLE users DROP COLUMN last_login_at;
--bun:split
ALTER TABLE users DROP COLUMN suspended_reason;
--bun:split
ALTER TABLE users DROP COLUMN suspended_at;
--bun:split
ALTER TABLE users DROP COLUMN plan_expires_at;
--bun:split
ALTER TABLE users DROP COLUMN role;
