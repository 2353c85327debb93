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
INSERT INTO reset_tokens (token_hash, user_id, created_at, expires_at, used_at)
SELECT token_hash, user_id, created_at, expires_at, used_at FROM one_time_tokens WHERE purpose = 'reset';
--bun:split
DROP TABLE one_time_tokens;
