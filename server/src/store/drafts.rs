//! Drafts (what someone is typing, per exercise) and the hints they asked for.

use super::*;

impl Store {
    /// Keep what the learner typed in an exercise's workbench (replacing their last draft).
    pub async fn save_draft(
        &self,
        learner: &str,
        exercise: &str,
        files: &BTreeMap<String, String>,
        at: i64,
    ) -> Result<()> {
        let content = serde_json::to_string(files).map_err(StoreError::unwritable)?;
        sqlx::query(
            "INSERT INTO drafts (learner_id, exercise, files, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (learner_id, exercise) DO UPDATE SET files = excluded.files, \
             updated_at = excluded.updated_at WHERE drafts.files <> excluded.files",
        )
        .bind(learner)
        .bind(exercise)
        .bind(content)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The learner's draft of an exercise and when it was saved (ms), if they have one.
    pub async fn draft(
        &self,
        learner: &str,
        exercise: &str,
    ) -> Result<Option<(BTreeMap<String, String>, i64)>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT files, updated_at FROM drafts WHERE learner_id = $1 AND exercise = $2",
        )
        .bind(learner)
        .bind(exercise)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(files, at)| {
            serde_json::from_str(&files)
                .map(|files| (files, at))
                .map_err(StoreError::unreadable)
        })
        .transpose()
    }

    /// How many hints the learner asked to see on an exercise.
    pub async fn hints_requested(&self, learner: &str, exercise: &str) -> Result<u32> {
        let shown: Option<i64> = sqlx::query_scalar(
            "SELECT shown FROM hint_requests WHERE learner_id = $1 AND exercise = $2",
        )
        .bind(learner)
        .bind(exercise)
        .fetch_optional(&self.pool)
        .await?;
        Ok(shown.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32)
    }

    /// Count one more hint asked for, up to `at_most` (the exercise's number of hints).
    pub async fn request_hint(&self, learner: &str, exercise: &str, at_most: u32) -> Result<()> {
        sqlx::query(
            "INSERT INTO hint_requests (learner_id, exercise, shown) VALUES ($1, $2, 1) \
             ON CONFLICT (learner_id, exercise) DO UPDATE SET shown = \
             CASE WHEN hint_requests.shown < $3 THEN hint_requests.shown + 1 ELSE hint_requests.shown END",
        )
        .bind(learner)
        .bind(exercise)
        .bind(i64::from(at_most))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
