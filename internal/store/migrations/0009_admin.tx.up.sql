-- The admin plane: roles, paid plans with an end, suspension, the last sign-in, and the
-- indexes the admin's user search and audit query page through.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
--bun:split
ALTER TABLE users ADD COLUMN plan_expires_at BIGINT;
--bun:split
ALTER TABLE users ADD COLUMN suspended_at BIGINT;
--bun:split
ALTER TABLE users ADD COLUMN suspended_reason TEXT;
--bun:split
ALTER TABLE users ADD COLUMN last_login_at BIGINT;
--bun:split
-- Users are listed newest first by (created_at, id), a keyset that new sign-ups cannot shift.
CREATE INDEX users_created_idx ON users (created_at, id);
--bun:split
-- The same keyset within a paid tier, for the tier filter.
CREATE INDEX users_tier_created_idx ON users (tier, created_at, id);
--bun:split
-- Only admins carry the role, so "how many admins are left" reads a handful of rows.
CREATE INDEX users_role_idx ON users (role);
--bun:split
-- The audit query across all users, newest first, with or without a type filter.
CREATE INDEX activity_events_at_idx ON activity_events (at, id);
--bun:split
CREATE INDEX activity_events_type_at_idx ON activity_events (type, at, id);
{{if eq .Dialect "pg"}}
--bun:split
-- Substring search of email and name stays an index lookup at millions of users: trigram
-- indexes (pg_trgm ships with PostgreSQL and is a trusted extension since 13).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--bun:split
CREATE INDEX users_email_trgm_idx ON users USING gin (email gin_trgm_ops);
--bun:split
CREATE INDEX users_name_trgm_idx ON users USING gin (lower(name) gin_trgm_ops);
{{end}}
