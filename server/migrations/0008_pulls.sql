-- Pulls from the class registry made in a learner's console: which image came back from
-- which repository, and whether the engine already held it (then nothing came back: the pull
-- only named it). A console exercise asks for a pull that brought an image back.
CREATE TABLE pulls (
    id TEXT PRIMARY KEY,
    learner_id TEXT NOT NULL REFERENCES learners(id),
    repository TEXT NOT NULL,
    reference TEXT NOT NULL,
    digest TEXT NOT NULL,
    image_id TEXT NOT NULL,
    fresh BIGINT NOT NULL,
    pulled_at BIGINT NOT NULL
);
CREATE INDEX pulls_by_learner ON pulls (learner_id, repository, pulled_at);
