//! Instructors and their cohorts.

use super::*;

impl Store {
    /// Add an instructor, or with `replace` set a new password for an existing one.
    pub async fn put_instructor(
        &self,
        name: &str,
        password_hash: &str,
        replace: bool,
    ) -> anyhow::Result<()> {
        if let Some(existing) = self.instructor_by_name(name).await? {
            if !replace {
                anyhow::bail!("there is already an instructor called `{name}`; add --reset to give them a new password");
            }
            sqlx::query(
                "UPDATE instructors SET password_hash = $1, credential_version = credential_version + 1 WHERE id = $2",
            )
                .bind(password_hash)
                .bind(&existing.id)
                .execute(&self.pool)
                .await?;
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO instructors (id, name, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(new_id())
        .bind(name)
        .bind(password_hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn instructor_by_name(&self, name: &str) -> Result<Option<Instructor>> {
        self.instructor_where("name", name).await
    }

    pub async fn instructor(&self, id: &str) -> Result<Option<Instructor>> {
        self.instructor_where("id", id).await
    }

    async fn instructor_where(&self, column: &str, value: &str) -> Result<Option<Instructor>> {
        let sql = format!(
            "SELECT id, name, password_hash, credential_version FROM instructors WHERE {column} = $1"
        );
        Ok(sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| Instructor {
                id: row.get("id"),
                name: row.get("name"),
                password_hash: row.get("password_hash"),
                credential_version: row.get("credential_version"),
            }))
    }

    pub async fn create_cohort(&self, instructor: &str, name: &str) -> Result<Cohort> {
        let cohort = Cohort {
            id: new_id(),
            name: name.to_string(),
            join_code: random_code(2),
            instructor_id: instructor.to_string(),
        };
        sqlx::query(
            "INSERT INTO cohorts (id, name, join_code, instructor_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&cohort.id)
        .bind(&cohort.name)
        .bind(&cohort.join_code)
        .bind(&cohort.instructor_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(cohort)
    }

    /// The instructor's cohorts with their learner counts, newest first.
    pub async fn cohorts_of(&self, instructor: &str) -> Result<Vec<(Cohort, u32)>> {
        let rows = sqlx::query(
            "SELECT c.id, c.name, c.join_code, c.instructor_id, \
             (SELECT COUNT(*) FROM learners l WHERE l.cohort_id = c.id) AS learners \
             FROM cohorts c WHERE c.instructor_id = $1 ORDER BY c.created_at DESC, c.id",
        )
        .bind(instructor)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| (cohort_from(row), row.get::<i64, _>("learners") as u32))
            .collect())
    }

    /// The cohort, only if `instructor` runs it.
    pub async fn cohort_of(&self, id: &str, instructor: &str) -> Result<Option<Cohort>> {
        Ok(
            sqlx::query("SELECT * FROM cohorts WHERE id = $1 AND instructor_id = $2")
                .bind(id)
                .bind(instructor)
                .fetch_optional(&self.pool)
                .await?
                .as_ref()
                .map(cohort_from),
        )
    }

    pub async fn cohort(&self, id: &str) -> Result<Option<Cohort>> {
        self.one("SELECT * FROM cohorts WHERE id = $1", id, cohort_from)
            .await
    }

    pub async fn cohort_by_join_code(&self, code: &str) -> Result<Option<Cohort>> {
        self.one(
            "SELECT * FROM cohorts WHERE join_code = $1",
            normalize_code(code),
            cohort_from,
        )
        .await
    }

    /// The cohort's learners, by name then by when they came.
    pub async fn cohort_learners(&self, cohort: &str) -> Result<Vec<Learner>> {
        Ok(sqlx::query(
            "SELECT * FROM learners WHERE cohort_id = $1 ORDER BY display_name IS NULL, display_name, created_at, id",
        )
        .bind(cohort)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(learner_from)
        .collect())
    }
}

impl Store {
    /// The credential version of the instructor whose id begins with `id_prefix` (12 letters
    /// or digits, as a registry username holds it) and the ids of the learners in their
    /// cohorts: `None` when no instructor's id, or more than one's, begins so.
    pub async fn learners_of_instructor_prefix(
        &self,
        id_prefix: &str,
    ) -> Result<Option<(i64, Vec<String>)>> {
        if id_prefix.len() != 12 || !id_prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let instructors: Vec<(String, i64)> =
            sqlx::query_as("SELECT id, credential_version FROM instructors WHERE id LIKE $1")
                .bind(format!("{id_prefix}%"))
                .fetch_all(&self.pool)
                .await?;
        let [(instructor, version)] = instructors.as_slice() else {
            return Ok(None);
        };
        let learners = sqlx::query_scalar(
            "SELECT l.id FROM learners l JOIN cohorts c ON l.cohort_id = c.id WHERE c.instructor_id = $1",
        )
        .bind(instructor)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some((*version, learners)))
    }
}
