-- Passkeys (WebAuthn credentials) and the challenges of their ceremonies. A credential id
-- belongs to exactly one account; both tables go with their user (ON DELETE CASCADE), so
-- deleting an account deletes its passkeys in the same transaction.
CREATE TABLE passkeys (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The raw credential id, base64url without padding (at most 1023 bytes raw).
    credential_id    TEXT NOT NULL,
    -- The COSE public key, base64url without padding; never exported.
    public_key       TEXT NOT NULL,
    sign_count       BIGINT NOT NULL DEFAULT 0,
    -- Comma-separated transports the authenticator reported ("internal,hybrid").
    transports       TEXT NOT NULL DEFAULT '',
    aaguid           TEXT NOT NULL DEFAULT '',
    attestation_fmt  TEXT NOT NULL DEFAULT '',
    user_verified    BOOLEAN NOT NULL DEFAULT FALSE,
    backup_eligible  BOOLEAN NOT NULL DEFAULT FALSE,
    backup_state     BOOLEAN NOT NULL DEFAULT FALSE,
    name             TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    last_used_at     BIGINT
);
--bun:split
CREATE UNIQUE INDEX passkeys_credential_id_key ON passkeys (credential_id);
--bun:split
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id, created_at);
--bun:split
-- A ceremony's server-side state between begin and finish: single use (used_at set by a
-- conditional update), 5 minutes, readable by every replica. user_id is NULL for sign-in.
CREATE TABLE webauthn_challenges (
    id          TEXT PRIMARY KEY,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    session     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
--bun:split
CREATE INDEX webauthn_challenges_expires_idx ON webauthn_challenges (expires_at);
