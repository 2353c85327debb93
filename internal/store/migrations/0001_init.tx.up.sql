-- Accounts, server-side sessions and generated settings (secrets kept when none are configured).
-- Times are integer milliseconds since the Unix epoch (UTC): portable across PostgreSQL and SQLite.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    tier           TEXT NOT NULL,
    trial_ends_at  BIGINT,
    totp_enabled   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
--bun:split
-- Emails are stored lowercased and trimmed, so a plain unique index is case-insensitive.
CREATE UNIQUE INDEX users_email_key ON users (email);
--bun:split
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
--bun:split
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
--bun:split
CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
