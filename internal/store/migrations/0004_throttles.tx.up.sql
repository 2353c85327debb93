-- Abuse-resistance state shared by every replica: per-IP request budgets (GCRA "theoretical
-- arrival time") and failed-credential counters with their lock.
CREATE TABLE throttles (
    key           TEXT PRIMARY KEY,
    tat           BIGINT NOT NULL DEFAULT 0,
    failures      INTEGER NOT NULL DEFAULT 0,
    locked_until  BIGINT NOT NULL DEFAULT 0,
    updated_at    BIGINT NOT NULL
);
--bun:split
CREATE INDEX throttles_updated_at_idx ON throttles (updated_at);
