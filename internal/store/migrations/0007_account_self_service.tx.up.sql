-- Account self-service: where each session came from and when it was last used, the
-- security activity log, and the state of email verification and address changes.
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
--bun:split
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
--bun:split
UPDATE sessions SET last_seen_at = created_at;
--bun:split
-- Append-only. No foreign key: the one id-only account_deleted event outlives its user.
CREATE TABLE activity_events (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    type        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    ip          TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL,
    detail      TEXT
);
--bun:split
-- Pages newest first by (at, id) for one user: an index range scan at any table size.
CREATE INDEX activity_events_user_at_idx ON activity_events (user_id, at, id);
--bun:split
-- When the last verification email was queued (at most one per 5 minutes per account).
ALTER TABLE users ADD COLUMN verification_sent_at BIGINT;
