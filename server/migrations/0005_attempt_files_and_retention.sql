-- Files of attempts, stored once per distinct set: `hash` is the SHA-256 (hex) of `content`,
-- the JSON object path → text that `attempts.files` held until now. An attempt names its set
-- in `files_hash` and keeps '' in `files` (rows from before are moved over at start-up, see
-- `store::move_inline_files`). `details_kept` = 0: the attempt's files and build log were
-- dropped (beyond `--keep-attempt-details`); its summary columns and `result` stay.
CREATE TABLE file_sets (
    hash TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
ALTER TABLE attempts ADD COLUMN files_hash TEXT REFERENCES file_sets(hash);
ALTER TABLE attempts ADD COLUMN details_kept INTEGER NOT NULL DEFAULT 1;
CREATE INDEX attempts_files_hash ON attempts(files_hash);
