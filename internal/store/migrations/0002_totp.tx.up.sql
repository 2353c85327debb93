-- TOTP second factor. Secrets are AES-256-GCM ciphertexts bound to the user id; the
-- last accepted time step makes every code single-use across replicas.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
--bun:split
ALTER TABLE users ADD COLUMN totp_pending_secret TEXT;
--bun:split
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
--bun:split
-- Backup codes are stored only as keyed hashes (HMAC-SHA256).
CREATE TABLE backup_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
