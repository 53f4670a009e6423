-- Learners, cohorts, instructors and everything a learner did. Portable SQL: TEXT ids (uuids
-- made by the server), BIGINT times in milliseconds since 1970, INTEGER flags, JSON as TEXT.

CREATE TABLE instructors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE cohorts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    join_code TEXT NOT NULL UNIQUE,
    instructor_id TEXT NOT NULL REFERENCES instructors(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX cohorts_instructor ON cohorts(instructor_id);

CREATE TABLE learners (
    id TEXT PRIMARY KEY,
    display_name TEXT,
    -- Continues this learner's work on another browser; shown only to the learner.
    resume_code TEXT NOT NULL UNIQUE,
    cohort_id TEXT REFERENCES cohorts(id),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX learners_cohort ON learners(cohort_id);

-- Every submission of a quiz, as answered and as graded.
CREATE TABLE quiz_answers (
    id TEXT PRIMARY KEY,
    learner_id TEXT NOT NULL REFERENCES learners(id),
    lesson TEXT NOT NULL,
    quiz TEXT NOT NULL,
    answers TEXT NOT NULL,
    grade TEXT NOT NULL,
    correct INTEGER NOT NULL,
    total INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX quiz_answers_learner ON quiz_answers(learner_id, lesson, quiz, created_at);

-- Every finished build: the files, the log and the whole result the learner saw.
CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    learner_id TEXT NOT NULL REFERENCES learners(id),
    exercise TEXT NOT NULL,
    status TEXT NOT NULL,
    passed INTEGER NOT NULL,
    checks_passed INTEGER NOT NULL,
    checks_total INTEGER NOT NULL,
    size_bytes BIGINT,
    layers INTEGER,
    files TEXT NOT NULL,
    log TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL
);
CREATE INDEX attempts_learner ON attempts(learner_id, exercise, created_at);
