DROP INDEX webauthn_challenges_expires_idx;
--bun:split
DROP TABLE webauthn_challenges;
--bun:split
DROP INDEX passkeys_user_id_idx;
--bun:split
DROP INDEX passkeys_credential_id_key;
--bun:split
DROP TABLE passkeys;
