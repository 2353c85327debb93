DROP TABLE settings;
--bun:split
DROP TABLE sessions;
--bun:split
DROP TABLE users;
