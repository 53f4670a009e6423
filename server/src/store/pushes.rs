//! Pushes to the class registry made from the workbench or a console, and pulls from it made
//! in a console.

use super::*;

/// One push as it is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushRow {
    pub id: String,
    pub build_id: String,
    /// `learner-1/my-app` (no registry address: the same registry may move).
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub image_id: String,
    pub size_bytes: u64,
    pub pushed_at: i64,
}

/// A push's columns, as read.
type Row = (String, String, String, String, String, String, i64, i64);

impl Store {
    /// Keep a push that the registry confirmed.
    pub async fn record_push(&self, learner: &str, push: &PushRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO pushes (id, learner_id, build_id, repository, tag, digest, image_id, \
             size_bytes, pushed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&push.id)
        .bind(learner)
        .bind(&push.build_id)
        .bind(&push.repository)
        .bind(&push.tag)
        .bind(&push.digest)
        .bind(&push.image_id)
        .bind(i64::try_from(push.size_bytes).unwrap_or(i64::MAX))
        .bind(push.pushed_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The learner's pushes, newest first.
    pub async fn pushes(&self, learner: &str) -> Result<Vec<PushRow>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, build_id, repository, tag, digest, image_id, size_bytes, pushed_at \
                 FROM pushes WHERE learner_id = $1 ORDER BY pushed_at DESC, id",
        )
        .bind(learner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, build_id, repository, tag, digest, image_id, size, pushed_at)| PushRow {
                    id,
                    build_id,
                    repository,
                    tag,
                    digest,
                    image_id,
                    size_bytes: size.max(0) as u64,
                    pushed_at,
                },
            )
            .collect())
    }
}

/// One pull from the class registry made in a console, as it is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRow {
    pub id: String,
    /// `learner-1/my-app`.
    pub repository: String,
    /// The tag or digest pulled.
    pub reference: String,
    /// The manifest's digest the registry gave.
    pub digest: String,
    /// What the engine calls the image it then held.
    pub image_id: String,
    /// Whether the engine held no such image before: it came back from the registry (not
    /// only a new name for an image still there).
    pub fresh: bool,
    pub pulled_at: i64,
}

/// A pull's columns, as read.
type PullColumns = (String, String, String, String, String, i64, i64);

impl Store {
    /// Keep a pull that left the registry's image in the engine: one row per repository,
    /// digest and freshness, the latest (pulling the same image again and again adds none).
    pub async fn record_pull(&self, learner: &str, pull: &PullRow) -> Result<()> {
        sqlx::query(
            "DELETE FROM pulls WHERE learner_id = $1 AND repository = $2 AND digest = $3 \
             AND fresh = $4",
        )
        .bind(learner)
        .bind(&pull.repository)
        .bind(&pull.digest)
        .bind(i64::from(pull.fresh))
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "INSERT INTO pulls (id, learner_id, repository, reference, digest, image_id, fresh, \
             pulled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&pull.id)
        .bind(learner)
        .bind(&pull.repository)
        .bind(&pull.reference)
        .bind(&pull.digest)
        .bind(&pull.image_id)
        .bind(i64::from(pull.fresh))
        .bind(pull.pulled_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The learner's pulls from `repository`, newest first.
    pub async fn pulls(&self, learner: &str, repository: &str) -> Result<Vec<PullRow>> {
        let rows: Vec<PullColumns> = sqlx::query_as(
            "SELECT id, repository, reference, digest, image_id, fresh, pulled_at FROM pulls \
             WHERE learner_id = $1 AND repository = $2 ORDER BY pulled_at DESC, id",
        )
        .bind(learner)
        .bind(repository)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, repository, reference, digest, image_id, fresh, pulled_at)| PullRow {
                    id,
                    repository,
                    reference,
                    digest,
                    image_id,
                    fresh: fresh != 0,
                    pulled_at,
                },
            )
            .collect())
    }
}
