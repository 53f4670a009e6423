-- Images a learner's console built, by the engine's id. Whose an image is was kept before in
-- labels on the image itself, which the classic builder can only add as one more step (a
-- container made and committed) at the end of every build; here it costs nothing on the
-- engine, and every server reading this database knows it.
CREATE TABLE console_images (
    learner_id TEXT NOT NULL REFERENCES learners(id),
    image_id TEXT NOT NULL,
    built_at BIGINT NOT NULL,
    PRIMARY KEY (learner_id, image_id)
);
CREATE INDEX console_images_by_image ON console_images (image_id);
