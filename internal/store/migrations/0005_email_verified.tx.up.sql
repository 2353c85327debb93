-- When the owner of the address proved they read its mail (a verification link or a password
-- reset through the emailed link); NULL = never. Second factors enrolled on a never-verified
-- account are removed by the first reset through the mailbox.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
