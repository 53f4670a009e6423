-- Facts about this installation. `instance`: a random id, made once, that labels the engine
-- objects this database's server creates, so its janitor never touches another server's.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
