-- The layerlab processes that serve from this database, each with its heartbeat: a process
-- marks interrupted, and cleans, only the work of processes whose heartbeat stopped (or that
-- said they stopped), never a live one's. Each says how long without a heartbeat means it is
-- gone (`dead_after_ms`, its --server-dead-after). An attempt names the process that took it.
CREATE TABLE servers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    process_started BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    dead_after_ms BIGINT NOT NULL,
    stopped_at BIGINT
);
ALTER TABLE attempts ADD COLUMN server_id TEXT;
