ALTER TABLE users DROP COLUMN totp_enabled_at;
