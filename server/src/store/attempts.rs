//! Attempts: a build's files, log and result; the stage images it left; tallies per exercise.

use super::*;

impl Store {
    /// Store an attempt: first when it is submitted (status `queued`, so a server killed
    /// during the build leaves a trace), then again when it ends.
    pub async fn save_attempt(&self, attempt: &Attempt) -> Result<()> {
        let checks = attempt.view.checks.as_deref().unwrap_or_default();
        let mut tx = self.pool.begin().await?;
        let files_hash = if attempt.details_kept {
            Some(put_file_set(&mut *tx, &attempt.files).await?)
        } else {
            None
        };
        sqlx::query(
            "INSERT INTO attempts (id, learner_id, exercise, status, passed, checks_passed, checks_total, \
             size_bytes, layers, files, log, result, created_at, finished_at, stage_images, \
             files_hash, details_kept, server_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', $10, $11, $12, $13, $14, $15, $16, $17) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, passed = excluded.passed, \
             checks_passed = excluded.checks_passed, checks_total = excluded.checks_total, \
             size_bytes = excluded.size_bytes, layers = excluded.layers, \
             log = CASE WHEN attempts.details_kept = 1 THEN excluded.log ELSE attempts.log END, \
             result = excluded.result, finished_at = excluded.finished_at, \
             stage_images = excluded.stage_images",
        )
        .bind(&attempt.id)
        .bind(&attempt.learner_id)
        .bind(&attempt.exercise)
        .bind(attempt.view.status.as_str())
        .bind(i64::from(attempt.passed()))
        .bind(checks.iter().filter(|c| c.passed).count() as i64)
        .bind(checks.len() as i64)
        .bind(attempt.view.image.as_ref().map(|i| i.size_bytes as i64))
        .bind(attempt.view.image.as_ref().map(|i| i.layers as i64))
        .bind(if attempt.details_kept {
            to_json(&attempt.log)?
        } else {
            "[]".to_string()
        })
        .bind(to_json(&attempt.view)?)
        .bind(attempt.created_at)
        .bind(attempt.finished_at)
        .bind(to_json(&attempt.stage_images)?)
        .bind(files_hash)
        .bind(i64::from(attempt.details_kept))
        .bind(&self.server)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if attempt.view.status.is_finished() {
            if let Err(e) = self
                .drop_old_details(&attempt.learner_id, &attempt.exercise)
                .await
            {
                // Nothing is lost: the next finished attempt tries again.
                tracing::warn!(attempt = %attempt.id, "could not drop the details of older attempts: {e}");
            }
        }
        Ok(())
    }

    /// Drop the files and log of this learner's finished attempts at `exercise` beyond the
    /// newest [`Store::keep_details`] (the best passing one is kept whatever its age), and
    /// the file sets no attempt names any more. Their summary rows and results stay, so
    /// tallies, the dashboard and the export do not change.
    pub async fn drop_old_details(&self, learner: &str, exercise: &str) -> Result<usize> {
        let rows = sqlx::query(
            "SELECT id, status, passed, size_bytes, details_kept, files_hash FROM attempts \
             WHERE learner_id = $1 AND exercise = $2 \
             AND status NOT IN ('queued', 'building', 'running') \
             ORDER BY created_at DESC, finished_at DESC, id DESC",
        )
        .bind(learner)
        .bind(exercise)
        .fetch_all(&self.pool)
        .await?;
        struct Row {
            id: String,
            status: String,
            passed: bool,
            size: Option<i64>,
            kept: bool,
            hash: Option<String>,
        }
        let rows: Vec<Row> = rows
            .iter()
            .map(|r| Row {
                id: r.get("id"),
                status: r.get("status"),
                passed: r.get::<i64, _>("passed") != 0,
                size: r.get("size_bytes"),
                kept: r.get::<i64, _>("details_kept") != 0,
                hash: r.get("files_hash"),
            })
            .collect();
        // The best passing attempt: the smallest image, the earliest of equals.
        let best = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.passed)
            .min_by_key(|(i, r)| (r.size.unwrap_or(i64::MAX), std::cmp::Reverse(*i)))
            .map(|(_, r)| r.id.clone());
        // The latest, which the exercise page shows (a cancelled build is not shown).
        let latest = rows
            .iter()
            .find(|r| r.status != "cancelled")
            .map(|r| r.id.clone());
        let doomed: Vec<&Row> = rows
            .iter()
            .skip(self.keep_details.max(1))
            .filter(|r| r.kept && Some(&r.id) != best.as_ref() && Some(&r.id) != latest.as_ref())
            .collect();
        for row in &doomed {
            sqlx::query(
                "UPDATE attempts SET files = '', log = '[]', files_hash = NULL, details_kept = 0 \
                 WHERE id = $1",
            )
            .bind(&row.id)
            .execute(&self.pool)
            .await?;
        }
        let mut hashes: Vec<&String> = doomed.iter().filter_map(|r| r.hash.as_ref()).collect();
        hashes.sort();
        hashes.dedup();
        for hash in hashes {
            sqlx::query(
                "DELETE FROM file_sets WHERE hash = $1 \
                 AND NOT EXISTS (SELECT 1 FROM attempts WHERE files_hash = $1)",
            )
            .bind(hash)
            .execute(&self.pool)
            .await?;
        }
        Ok(doomed.len())
    }

    /// What an attempt whose details were dropped shows instead of its log.
    pub fn details_not_kept(&self) -> String {
        format!(
            "The files and build log of this attempt were not kept: to save disk, the workshop keeps them only for the newest {} attempts at each exercise and for the best passing one. Its result (status, checks, image size) is kept and still counts.",
            self.keep_details.max(1)
        )
    }

    /// Why new builds must wait for lack of room for the database, if so: the disk holding
    /// the SQLite file has less free space than [`Store::min_free_bytes`] (free, floor).
    pub fn disk_too_full(&self) -> Option<(u64, u64)> {
        if self.min_free_bytes == 0 {
            return None;
        }
        let free = crate::engine::disk::free_bytes(self.database_dir.as_ref()?)?;
        (free < self.min_free_bytes).then_some((free, self.min_free_bytes))
    }

    /// Stage images of this learner's attempts at `exercise` other than `keep` (the build
    /// whose image stays), with the attempts they came from.
    pub async fn stage_images_besides(
        &self,
        learner: &str,
        exercise: &str,
        keep: &str,
    ) -> Result<Vec<(String, Vec<String>)>> {
        let rows = sqlx::query(
            "SELECT id, stage_images FROM attempts WHERE learner_id = $1 AND exercise = $2 \
             AND id <> $3 AND stage_images <> '[]'",
        )
        .bind(learner)
        .bind(exercise)
        .bind(keep)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(stage_images_from).collect())
    }

    /// Stage images of every finished attempt that is not the latest of its learner and
    /// exercise (the janitor's list), with the attempts they came from.
    pub async fn superseded_stage_images(&self) -> Result<Vec<(String, Vec<String>)>> {
        let rows = sqlx::query(
            "SELECT a.id, a.stage_images FROM attempts a WHERE a.stage_images <> '[]' \
             AND a.status IN ('succeeded', 'failed', 'interrupted') \
             AND EXISTS (SELECT 1 FROM attempts b WHERE b.learner_id = a.learner_id \
                 AND b.exercise = a.exercise AND b.created_at > a.created_at)",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(stage_images_from).collect())
    }

    /// Forget an attempt's stage images once they are removed.
    /// Note the images a running build has made so far (see `janitor::start`).
    pub async fn set_stage_images(&self, attempt: &str, images: &[String]) -> Result<()> {
        sqlx::query("UPDATE attempts SET stage_images = $1 WHERE id = $2")
            .bind(to_json(images)?)
            .bind(attempt)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn clear_stage_images(&self, attempt: &str) -> Result<()> {
        sqlx::query("UPDATE attempts SET stage_images = '[]' WHERE id = $1")
            .bind(attempt)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Attempts a server left unfinished when it went (see [`super::ServerRow::is_gone`])
    /// become `interrupted`, with a message that says what happened; their ids (their images
    /// and containers may need removing). Never this process's own, nor a live one's. With
    /// `unnamed`, also those no server is named on (taken by a version from before servers
    /// were named: at start-up, not while such a server may still be running).
    pub async fn mark_interrupted(&self, unnamed: bool) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id, server_id FROM attempts WHERE status IN ('queued', 'building', 'running')",
        )
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let servers: HashMap<String, super::ServerRow> = self
            .servers()
            .await?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let now = now_ms();
        let ids: Vec<String> = rows
            .iter()
            .filter(|row| match row.get::<Option<String>, _>("server_id") {
                Some(server) if server == self.server => false,
                Some(server) => servers.get(&server).is_none_or(|s| s.is_gone(now)),
                None => unnamed,
            })
            .map(|row| row.get("id"))
            .collect();
        for id in &ids {
            let Some(mut attempt) = self.attempt_any(id).await? else {
                continue;
            };
            attempt.view.status = app::dto::BuildStatus::Interrupted;
            attempt.view.queue_position = None;
            attempt.view.error = Some(app::dto::BuildFailure {
                code: "interrupted".into(),
                message: "The server stopped before this build finished, so it has no result. Your files are kept: build again."
                    .into(),
                line: None,
            });
            attempt.finished_at = now_ms();
            self.save_attempt(&attempt).await?;
        }
        Ok(ids)
    }

    /// The attempts queued, building or running (this process's and live ones').
    pub async fn unfinished_attempts(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM attempts WHERE status IN ('queued', 'building', 'running')",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The whole attempt, if it is `learner`'s.
    pub async fn attempt(&self, id: &str, learner: &str) -> Result<Option<Attempt>> {
        self.attempt_where(id, Some(learner)).await
    }

    /// The whole attempt, whoever made it: callers check who may see it.
    pub async fn attempt_any(&self, id: &str) -> Result<Option<Attempt>> {
        self.attempt_where(id, None).await
    }

    async fn attempt_where(&self, id: &str, learner: Option<&str>) -> Result<Option<Attempt>> {
        let row = sqlx::query("SELECT * FROM attempts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let owner: String = row.get("learner_id");
        if learner.is_some_and(|l| l != owner) {
            return Ok(None);
        }
        let parse = |column: &str| -> sqlx::Result<String> { row.try_get(column) };
        let decode = StoreError::unreadable;
        let details_kept = row.get::<i64, _>("details_kept") != 0;
        let files_hash: Option<String> = row.get("files_hash");
        let files = match files_hash {
            Some(hash) => {
                let content: String =
                    sqlx::query_scalar("SELECT content FROM file_sets WHERE hash = $1")
                        .bind(hash)
                        .fetch_one(&self.pool)
                        .await?;
                serde_json::from_str(&content).map_err(decode)?
            }
            None if details_kept => serde_json::from_str(&parse("files")?).map_err(decode)?,
            None => BTreeMap::new(),
        };
        let log = if details_kept {
            serde_json::from_str(&parse("log")?).map_err(decode)?
        } else {
            vec![LogLine {
                phase: app::dto::LogPhase::Server,
                text: self.details_not_kept(),
            }]
        };
        Ok(Some(Attempt {
            id: row.get("id"),
            learner_id: owner,
            exercise: row.get("exercise"),
            view: serde_json::from_str(&parse("result")?).map_err(decode)?,
            files,
            log,
            stage_images: serde_json::from_str(&parse("stage_images")?).map_err(decode)?,
            created_at: row.get("created_at"),
            finished_at: row.get("finished_at"),
            details_kept,
        }))
    }

    /// The learner's most recent finished attempt at `exercise`.
    pub async fn latest_attempt(&self, learner: &str, exercise: &str) -> Result<Option<Attempt>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM attempts WHERE learner_id = $1 AND exercise = $2 \
             AND status IN ('succeeded', 'failed', 'interrupted') \
             ORDER BY created_at DESC, finished_at DESC LIMIT 1",
        )
        .bind(learner)
        .bind(exercise)
        .fetch_optional(&self.pool)
        .await?;
        match id {
            Some(id) => self.attempt(&id, learner).await,
            None => Ok(None),
        }
    }

    /// Short rows of every attempt by these learners, oldest first (one query).
    pub async fn attempt_rows(&self, learners: &[String]) -> Result<Vec<AttemptRow>> {
        if learners.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE learner_id IN ({}) \
             ORDER BY created_at, finished_at, id",
            placeholders(learners.len())
        );
        let mut query = sqlx::query(&sql);
        for learner in learners {
            query = query.bind(learner);
        }
        Ok(query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(attempt_row_from)
            .collect())
    }

    /// Attempt id → when it was submitted (ms), for those of `ids` that exist.
    pub async fn attempt_times(&self, ids: &[String]) -> Result<HashMap<String, i64>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT id, created_at FROM attempts WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            out.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(out)
    }

    /// Exercise id → how this learner did (the playground is left out).
    pub async fn exercise_tallies(&self, learner: &str) -> Result<HashMap<String, ExerciseTally>> {
        Ok(tally(&self.attempt_rows(&[learner.to_string()]).await?)
            .remove(learner)
            .unwrap_or_default())
    }
}

/// learner → exercise → tally, from attempt rows (playground builds are left out).
pub fn tally(rows: &[AttemptRow]) -> HashMap<String, HashMap<String, ExerciseTally>> {
    let mut out: HashMap<String, HashMap<String, ExerciseTally>> = HashMap::new();
    for row in rows
        .iter()
        .filter(|r| r.exercise != crate::exercise::PLAYGROUND && r.status != "cancelled")
    {
        let t = out
            .entry(row.learner_id.clone())
            .or_default()
            .entry(row.exercise.clone())
            .or_default();
        t.attempts += 1;
        t.last_at = t.last_at.max(row.created_at);
        if row.passed {
            t.passed = true;
        } else if row.status == "succeeded" {
            t.missed_checks += 1;
        }
        if row.status == "succeeded" {
            if let Some(size) = row.size_bytes {
                t.best_size_bytes = Some(t.best_size_bytes.map_or(size, |b| b.min(size)));
            }
        }
    }
    out
}
