-- Bumped each time an instructor gets a new password (`layerlab instructor add NAME --reset`,
-- which runs as a process of its own): a session logged in with an older value is ended on
-- its next instructor request.
ALTER TABLE instructors ADD COLUMN credential_version BIGINT NOT NULL DEFAULT 0;
