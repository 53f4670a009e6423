//! The images learners' consoles built: whose each is (see migration 0011).

use super::*;

impl Store {
    /// Note that `learner`'s console built the image `image_id` (again, if it had before).
    pub async fn record_console_image(&self, learner: &str, image_id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO console_images (learner_id, image_id, built_at) VALUES ($1, $2, $3) \
             ON CONFLICT (learner_id, image_id) DO UPDATE SET built_at = excluded.built_at",
        )
        .bind(learner)
        .bind(image_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The ids of the images `learner`'s console built (some may be gone from the engine).
    pub async fn console_images(&self, learner: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT image_id FROM console_images WHERE learner_id = $1 ORDER BY image_id",
        )
        .bind(learner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Every (learner, image id) the consoles built.
    pub async fn all_console_images(&self) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT learner_id, image_id FROM console_images ORDER BY learner_id, image_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Forget that `learner` built `image_id` (it is gone from the engine, or is no longer
    /// theirs to keep).
    pub async fn forget_console_image(&self, learner: &str, image_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM console_images WHERE learner_id = $1 AND image_id = $2")
            .bind(learner)
            .bind(image_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
