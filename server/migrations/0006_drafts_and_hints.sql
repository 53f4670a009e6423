-- What a learner typed in an exercise's workbench and has not built yet, kept as they type so
-- it survives leaving the page, a reload or another device (one row per learner and
-- exercise; `files` is the JSON object path → text, bounded like a build's context).
CREATE TABLE drafts (
    learner_id TEXT NOT NULL REFERENCES learners(id),
    exercise TEXT NOT NULL,
    files TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (learner_id, exercise)
);

-- Hints a learner asked for on an exercise (on top of those unlocked by builds that reached
-- the checks and did not pass them all).
CREATE TABLE hint_requests (
    learner_id TEXT NOT NULL REFERENCES learners(id),
    exercise TEXT NOT NULL,
    shown BIGINT NOT NULL,
    PRIMARY KEY (learner_id, exercise)
);
