-- OAuth 2.0 device authorization grants (RFC 8628): the device code is kept only as its
-- SHA-256 hash; the user code (8 letters, normalised) is unique while the row lives, and the
-- janitor deletes rows a day after they expire.
CREATE TABLE device_grants (
    id               TEXT PRIMARY KEY,
    device_code_hash TEXT NOT NULL UNIQUE,
    user_code        TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    client_name      TEXT NOT NULL,
    ip               TEXT NOT NULL,
    state            TEXT NOT NULL,
    user_id          TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    interval_ms      BIGINT NOT NULL,
    last_polled_at   BIGINT,
    decided_at       BIGINT,
    used_at          BIGINT
);
--bun:split
-- The cap on pending grants per client IP counts these.
CREATE INDEX device_grants_ip_idx ON device_grants (ip, expires_at);
--bun:split
CREATE INDEX device_grants_expires_idx ON device_grants (expires_at);
--bun:split
CREATE INDEX device_grants_user_idx ON device_grants (user_id);
