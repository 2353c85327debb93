-- One table for every single-use token sent by email, keyed by purpose (reset now; email
-- verification and email change next), stored only as SHA-256 hashes. data carries what a
-- purpose needs beside the user (an email change's new address).
CREATE TABLE one_time_tokens (
    token_hash  TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    data        TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
--bun:split
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);
--bun:split
INSERT INTO one_time_tokens (token_hash, purpose, user_id, created_at, expires_at, used_at)
SELECT token_hash, 'reset', user_id, created_at, expires_at, used_at FROM reset_tokens;
--bun:split
DROP TABLE reset_tokens;
