-- Password reset tokens (stored only as SHA-256 hashes) and the transactional outbox that
-- carries reset requests and emails to the background sender.
CREATE TABLE reset_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
--bun:split
CREATE INDEX reset_tokens_user_id_idx ON reset_tokens (user_id);
--bun:split
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
--bun:split
CREATE INDEX outbox_due_idx ON outbox (status, next_attempt_at);
--bun:split
-- When the holder of an email was last told about a registration attempt (throttle).
ALTER TABLE users ADD COLUMN duplicate_notice_at BIGINT;
