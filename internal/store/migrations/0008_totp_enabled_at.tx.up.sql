-- When 2FA was turned on: a second factor enrolled before the address was proved may be a
-- squatter's, and the owner's first reset through the mailbox removes it (see ResetPassword).
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;
