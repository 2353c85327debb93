DROP TABLE backup_codes;
--bun:split
ALTER TABLE users DROP COLUMN totp_last_step;
--bun:split
ALTER TABLE users DROP COLUMN totp_pending_secret;
--bun:split
ALTER TABLE users DROP COLUMN totp_secret;
