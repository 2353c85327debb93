DROP TABLE service_keys;
--bun:split
DROP TABLE signing_keys;
