-- The images a build made besides its final one (the stages of a multi-stage build), as a
-- JSON list of image ids: the janitor removes them once a newer attempt supersedes the build.
ALTER TABLE attempts ADD COLUMN stage_images TEXT NOT NULL DEFAULT '[]';
