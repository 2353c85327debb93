ALTER TABLE users DROP COLUMN verification_sent_at;
--bun:split
DROP TABLE activity_events;
--bun:split
ALTER TABLE sessions DROP COLUMN last_seen_at;
--bun:split
ALTER TABLE sessions DROP COLUMN method;
--bun:split
ALTER TABLE sessions DROP COLUMN user_agent;
--bun:split
ALTER TABLE sessions DROP COLUMN ip;
