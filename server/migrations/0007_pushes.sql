-- Pushes to the class registry made from the workbench: which build's image went to which
-- tag, with the digest the registry then held for it. The registry itself is the truth about
-- what it holds now; these rows say when and from which attempt.
CREATE TABLE pushes (
    id TEXT PRIMARY KEY,
    learner_id TEXT NOT NULL REFERENCES learners(id),
    build_id TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    image_id TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    pushed_at BIGINT NOT NULL
);
CREATE INDEX pushes_by_learner ON pushes (learner_id, repository, tag, pushed_at);
