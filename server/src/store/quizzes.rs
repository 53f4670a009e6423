//! Quiz answers and each learner's latest grades (kept in memory for the busiest learners).

use super::*;

impl Store {
    pub async fn record_quiz(
        &self,
        learner: &str,
        lesson: &str,
        quiz: &str,
        answers: &QuizAnswers,
        grade: &QuizGrade,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO quiz_answers (id, learner_id, lesson, quiz, answers, grade, correct, total, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new_id())
        .bind(learner)
        .bind(lesson)
        .bind(quiz)
        .bind(to_json(answers)?)
        .bind(to_json(grade)?)
        .bind(grade.correct as i64)
        .bind(grade.total as i64)
        .bind(self.stamp())
        .execute(&self.pool)
        .await?;
        let mut cache = self.grade_cache();
        cache.generation += 1;
        if let Some(grades) = cache.by_learner.get_mut(learner) {
            Arc::make_mut(grades).insert(format!("{lesson}/{quiz}"), grade.clone());
        }
        Ok(())
    }

    fn grade_cache(&self) -> std::sync::MutexGuard<'_, GradeCache> {
        crate::sync::lock(&self.grades)
    }

    /// Every quiz submission of these learners, oldest first (one query).
    pub async fn quiz_answers(&self, learners: &[String]) -> Result<Vec<QuizAnswerRow>> {
        if learners.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT learner_id, lesson, quiz, grade, created_at FROM quiz_answers \
             WHERE learner_id IN ({}) ORDER BY created_at, id",
            placeholders(learners.len())
        );
        let mut query = sqlx::query(&sql);
        for learner in learners {
            query = query.bind(learner);
        }
        let rows = query.fetch_all(&self.pool).await?;
        // A grade that cannot be read back is an error, not an answer that silently vanishes
        // from a learner's record.
        rows.iter()
            .map(|row| {
                let grade: String = row.get("grade");
                Ok(QuizAnswerRow {
                    learner_id: row.get("learner_id"),
                    lesson: row.get("lesson"),
                    quiz: row.get("quiz"),
                    grade: serde_json::from_str(&grade).map_err(StoreError::unreadable)?,
                    created_at: row.get("created_at"),
                })
            })
            .collect()
    }

    /// `"<lesson>/<quiz>"` → the learner's latest grade.
    pub async fn latest_grades(&self, learner: &str) -> Result<Arc<HashMap<String, QuizGrade>>> {
        let generation = {
            let cache = self.grade_cache();
            if let Some(grades) = cache.by_learner.get(learner) {
                return Ok(grades.clone());
            }
            cache.generation
        };
        let grades: Arc<HashMap<String, QuizGrade>> = Arc::new(
            self.quiz_answers(&[learner.to_string()])
                .await?
                .into_iter()
                .map(|a| (format!("{}/{}", a.lesson, a.quiz), a.grade))
                .collect(),
        );
        let mut cache = self.grade_cache();
        if cache.generation == generation {
            if cache.by_learner.len() >= GRADE_CACHE_LEARNERS {
                cache.by_learner.clear();
            }
            cache.by_learner.insert(learner.to_string(), grades.clone());
        }
        Ok(grades)
    }
}
