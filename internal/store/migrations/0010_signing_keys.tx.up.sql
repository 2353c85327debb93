-- Ed25519 token-signing keys (the private half sealed with the encryption key) and the keys
-- other services introspect tokens with (only their SHA-256 hash is kept).
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    -- One row per generation: replicas that rotate at once race on this unique number and
    -- exactly one new key results.
    generation      BIGINT NOT NULL UNIQUE,
    public_key      TEXT NOT NULL,
    private_sealed  TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    -- Tokens are signed with the newest key whose activates_at has passed; a new key is
    -- published (in the JWKS) from created_at, ahead of signing.
    activates_at    BIGINT NOT NULL
);
--bun:split
CREATE TABLE service_keys (
    name        TEXT PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,
    hint        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
