ALTER TABLE users DROP COLUMN duplicate_notice_at;
--bun:split
DROP TABLE outbox;
--bun:split
DROP TABLE reset_tokens;
