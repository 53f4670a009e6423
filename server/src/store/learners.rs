//! Learners: their rows, names, resume codes and cohorts joined.

use super::*;

impl Store {
    /// Make sure the learner's row exists (a first visit, or a session that outlived its row)
    /// and move `last_seen_at` to now. Writes at most once per [`TOUCH_EVERY_MS`] per learner,
    /// so following a build or polling a page does not write on every request.
    pub async fn ensure_learner(&self, id: &str) -> Result<()> {
        let now = now_ms();
        let recent = self
            .touched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .is_some_and(|at| now - at < TOUCH_EVERY_MS);
        if recent {
            return Ok(());
        }
        let updated = sqlx::query("UPDATE learners SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO learners (id, display_name, resume_code, cohort_id, created_at, last_seen_at) \
                 VALUES ($1, NULL, $2, NULL, $3, $3) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(random_code(3))
            .bind(now)
            .execute(&self.pool)
            .await?;
        }
        self.touched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), now);
        Ok(())
    }

    /// The learner with this id, made if missing (see [`Store::ensure_learner`]).
    pub async fn touch_learner(&self, id: &str) -> Result<Learner> {
        self.ensure_learner(id).await?;
        self.learner(id)
            .await?
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    pub async fn learner(&self, id: &str) -> Result<Option<Learner>> {
        self.one("SELECT * FROM learners WHERE id = $1", id, learner_from)
            .await
    }

    pub async fn learner_by_resume_code(&self, code: &str) -> Result<Option<Learner>> {
        self.one(
            "SELECT * FROM learners WHERE resume_code = $1",
            normalize_code(code),
            learner_from,
        )
        .await
    }

    pub async fn set_display_name(&self, id: &str, name: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE learners SET display_name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Put the learner in the cohort with this join code; `None` when no cohort has it.
    pub async fn join_cohort(&self, learner: &str, code: &str) -> Result<Option<Cohort>> {
        let Some(cohort) = self.cohort_by_join_code(code).await? else {
            return Ok(None);
        };
        sqlx::query("UPDATE learners SET cohort_id = $1 WHERE id = $2")
            .bind(&cohort.id)
            .bind(learner)
            .execute(&self.pool)
            .await?;
        Ok(Some(cohort))
    }
}
