//! The database: one SQLite file by default (WAL, busy timeout), or a PostgreSQL database
//! given by URL, holding sessions, learners, cohorts, instructors, every quiz answer and
//! every attempt. The schema is in `server/migrations/` (portable SQL, one set for both) and is
//! applied at start-up. Queries go through sqlx's `Any` driver and use `$1`-style parameters,
//! numbered in order of first use, which SQLite and Postgres both read.

use anyhow::Context;
use app::dto::{BuildView, LogLine, QuizAnswers, QuizGrade};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, Executor, Row};
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod sessions;
pub use sessions::Sessions;

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(database_url: &str) -> anyhow::Result<Backend> {
        if database_url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!(
                "unsupported database URL `{}`: use sqlite://FILE or postgres://USER:PASSWORD@HOST/DATABASE",
                redact(database_url)
            )
        }
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(database_url: &str) -> String {
    let Some((scheme, rest)) = database_url.split_once("://") else {
        return database_url.to_string();
    };
    let authority = rest.split('/').next().unwrap_or("");
    let Some((credentials, host)) = authority.rsplit_once('@') else {
        return database_url.to_string();
    };
    let Some((user, _password)) = credentials.split_once(':') else {
        return database_url.to_string();
    };
    format!("{scheme}://{user}:***@{host}{}", &rest[authority.len()..])
}

/// Connections each pool keeps at most.
const MAX_CONNECTIONS: u32 = 8;

/// Open (creating a SQLite file if needed) the database, apply the migrations and create the
/// session table.
pub async fn open(database_url: &str) -> anyhow::Result<(Store, Sessions)> {
    let backend = Backend::of(database_url)?;
    let shown = redact(database_url);
    sqlx::any::install_default_drivers();
    let (pool, sessions) = match backend {
        Backend::Sqlite => {
            let options = SqliteConnectOptions::from_str(database_url)
                .with_context(|| format!("bad database URL `{shown}`"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // With WAL, NORMAL syncs at checkpoints instead of on every commit: a killed
                // server loses nothing; only a power cut may lose the last commits. FULL cost
                // an fsync per new session or answer.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            // The session store wants a SQLite pool of its own; opening it first also creates
            // the file and switches it to WAL, which lasts.
            let sessions_pool = SqlitePoolOptions::new()
                .max_connections(MAX_CONNECTIONS / 2)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open the database at `{shown}`"))?;
            let pool = AnyPoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(
                            "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON;",
                        )
                        .await
                        .map(|_| ())
                    })
                })
                .connect(database_url)
                .await
                .with_context(|| format!("cannot open the database at `{shown}`"))?;
            (pool, Sessions::sqlite(sessions_pool))
        }
        Backend::Postgres => {
            // One connection first: a pool that cannot connect only says it timed out, this
            // says why (refused, no such database, wrong password).
            use sqlx::Connection;
            let cannot = || format!("cannot connect to the database at `{shown}`");
            sqlx::PgConnection::connect(database_url)
                .await
                .with_context(cannot)?
                .close()
                .await
                .with_context(cannot)?;
            let sessions_pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(MAX_CONNECTIONS / 2)
                .acquire_timeout(Duration::from_secs(10))
                .connect(database_url)
                .await
                .with_context(cannot)?;
            let pool = AnyPoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .acquire_timeout(Duration::from_secs(10))
                .connect(database_url)
                .await
                .with_context(cannot)?;
            (pool, Sessions::postgres(sessions_pool))
        }
    };
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .with_context(|| format!("cannot bring the database at `{shown}` up to date"))?;
    sessions
        .migrate()
        .await
        .context("cannot create the session table")?;
    let instance = instance_id(&pool)
        .await
        .context("cannot read this installation's id")?;
    move_inline_files(&pool)
        .await
        .context("cannot move the files of earlier attempts to the file store")?;
    let database_dir = match backend {
        Backend::Sqlite => SqliteConnectOptions::from_str(database_url)
            .ok()
            .and_then(|o| o.get_filename().parent().map(std::path::Path::to_path_buf))
            .map(|dir| {
                if dir.as_os_str().is_empty() {
                    ".".into()
                } else {
                    dir
                }
            }),
        Backend::Postgres => None,
    };
    let store = Store {
        pool,
        backend,
        instance,
        touched: Default::default(),
        grades: Default::default(),
        last_stamp: Default::default(),
        keep_details: DEFAULT_KEEP_ATTEMPT_DETAILS,
        min_free_bytes: 0,
        database_dir,
    };
    Ok((store, sessions))
}

/// The installation's id (see the `meta` table), made on first start.
async fn instance_id(pool: &AnyPool) -> sqlx::Result<String> {
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('instance', $1) ON CONFLICT (key) DO NOTHING",
    )
    .bind(new_id())
    .execute(pool)
    .await?;
    sqlx::query_scalar("SELECT value FROM meta WHERE key = 'instance'")
        .fetch_one(pool)
        .await
}

/// Attempts before migration 0005 held their files inline: store each set once in `file_sets`
/// and point the attempt at it (a few hundred rows at a time; nothing is dropped).
async fn move_inline_files(pool: &AnyPool) -> sqlx::Result<()> {
    loop {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, files FROM attempts WHERE files_hash IS NULL AND details_kept = 1 \
             AND files <> '' LIMIT 200",
        )
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(());
        }
        for (id, files) in rows {
            let files: BTreeMap<String, String> =
                serde_json::from_str(&files).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            let mut tx = pool.begin().await?;
            let hash = put_file_set(&mut *tx, &files).await?;
            sqlx::query("UPDATE attempts SET files_hash = $1, files = '' WHERE id = $2")
                .bind(hash)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
    }
}

/// The SHA-256 (hex) of a file set as stored: its JSON, paths in order.
pub fn file_set_hash(content: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Store a file set once (content-addressed); its hash.
async fn put_file_set<'c, E>(executor: E, files: &BTreeMap<String, String>) -> sqlx::Result<String>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let content = to_json(files)?;
    let hash = file_set_hash(&content);
    // An update, not "do nothing": it locks an existing set until the attempt naming it is
    // committed in the same transaction, so a trim of older attempts cannot delete it in
    // between (the trim then fails on the reference, and is only logged); a set a trim
    // deleted just before is written again.
    sqlx::query(
        "INSERT INTO file_sets (hash, content, size_bytes, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (hash) DO UPDATE SET created_at = excluded.created_at",
    )
    .bind(&hash)
    .bind(&content)
    .bind(content.len() as i64)
    .bind(now_ms())
    .execute(executor)
    .await?;
    Ok(hash)
}

/// Attempts per learner and exercise whose files and log are kept by default (the newest).
pub const DEFAULT_KEEP_ATTEMPT_DETAILS: usize = 30;

/// `value` as the JSON text a column stores. Never an empty string that could not be read
/// back: a value that cannot be written as JSON is an error, and nothing is stored.
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> sqlx::Result<String> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// Milliseconds since 1970.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Letters and digits that cannot be mistaken for each other (no 0/O, 1/I/L, U).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";

/// A random code in groups of four, e.g. `K7QX-M2PD-9TRA` (`groups` × 4 characters).
pub fn random_code(groups: usize) -> String {
    let mut out = String::new();
    let bytes: Vec<u8> = (0..groups.div_ceil(4))
        .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
        .collect();
    for (i, b) in bytes.iter().take(groups * 4).enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()] as char);
    }
    out
}

/// Codes are typed by people: ignore case, spaces and dashes.
pub fn normalize_code(code: &str) -> String {
    let plain: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    plain
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[derive(Clone, Debug, PartialEq)]
pub struct Learner {
    pub id: String,
    pub display_name: Option<String>,
    pub resume_code: String,
    pub cohort_id: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cohort {
    pub id: String,
    pub name: String,
    pub join_code: String,
    pub instructor_id: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instructor {
    pub id: String,
    pub name: String,
    pub password_hash: String,
    /// Bumped by every password reset; a session logged in under another value is over.
    pub credential_version: i64,
}

/// One finished build, as stored.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub id: String,
    pub learner_id: String,
    pub exercise: String,
    pub view: BuildView,
    pub files: BTreeMap<String, String>,
    pub log: Vec<LogLine>,
    /// Images the build made besides the final one (multi-stage stages), for the janitor.
    pub stage_images: Vec<String>,
    pub created_at: i64,
    pub finished_at: i64,
    /// False once its files and log were dropped (see [`Store::keep_details`]): `files` is
    /// then empty and `log` one line that says so.
    pub details_kept: bool,
}

impl Attempt {
    pub fn passed(&self) -> bool {
        self.view.status == app::dto::BuildStatus::Succeeded
            && self
                .view
                .checks
                .as_ref()
                .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c.passed))
    }

    /// A build that made an image and reached the checks, but did not pass them all: it
    /// unlocks a hint. A build that failed (an empty Dockerfile, a typo, a missing image), was
    /// interrupted or cancelled does not.
    pub fn missed(&self) -> bool {
        self.view.status == app::dto::BuildStatus::Succeeded && !self.passed()
    }
}

/// The short form of an attempt, without files and log.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptRow {
    pub id: String,
    pub learner_id: String,
    pub exercise: String,
    pub status: String,
    pub passed: bool,
    pub checks_passed: u32,
    pub checks_total: u32,
    pub size_bytes: Option<u64>,
    pub layers: Option<u32>,
    pub created_at: i64,
}

/// One quiz submission, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct QuizAnswerRow {
    pub learner_id: String,
    pub lesson: String,
    pub quiz: String,
    pub grade: QuizGrade,
    pub created_at: i64,
}

/// How far one learner got with one exercise.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExerciseTally {
    pub attempts: u32,
    /// Builds that made an image, reached the checks and did not pass them all (each unlocks
    /// a hint; a build that fails before the checks does not).
    pub missed_checks: u32,
    pub passed: bool,
    pub best_size_bytes: Option<u64>,
    pub last_at: i64,
}

/// The database and every query layerlab makes.
#[derive(Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
    /// This installation's id: labels the containers its builds make.
    pub instance: String,
    /// learner → when this process last wrote their `last_seen_at`.
    touched: std::sync::Arc<std::sync::Mutex<HashMap<String, i64>>>,
    /// Each learner's latest grades, as every lesson page shows them; kept up to date by
    /// [`Store::record_quiz`], the only writer of quiz answers.
    grades: std::sync::Arc<std::sync::Mutex<GradeCache>>,
    /// The last time [`Store::stamp`] gave out.
    last_stamp: Arc<AtomicI64>,
    /// Finished attempts per learner and exercise whose files and log are kept (the newest;
    /// the best passing one is kept too): `--keep-attempt-details`.
    pub keep_details: usize,
    /// Free space the database's disk must keep for new builds to be accepted (0: no check).
    pub min_free_bytes: u64,
    /// The directory of the SQLite file (none for PostgreSQL: that disk is elsewhere).
    pub database_dir: Option<std::path::PathBuf>,
}

/// Learners whose latest grades are kept in memory at most (then the cache starts afresh).
const GRADE_CACHE_LEARNERS: usize = 20_000;

#[derive(Default)]
struct GradeCache {
    /// Shared with readers: a page reads a learner's grades without copying them.
    by_learner: HashMap<String, Arc<HashMap<String, QuizGrade>>>,
    /// Bumped by every recorded answer: a read that began before it must not fill the cache.
    generation: u64,
}

/// `last_seen_at` is precise to five minutes.
const TOUCH_EVERY_MS: i64 = 5 * 60 * 1000;

fn learner_from(row: &AnyRow) -> Learner {
    Learner {
        id: row.get("id"),
        display_name: row.get("display_name"),
        resume_code: row.get("resume_code"),
        cohort_id: row.get("cohort_id"),
        created_at: row.get("created_at"),
        last_seen_at: row.get("last_seen_at"),
    }
}

fn cohort_from(row: &AnyRow) -> Cohort {
    Cohort {
        id: row.get("id"),
        name: row.get("name"),
        join_code: row.get("join_code"),
        instructor_id: row.get("instructor_id"),
    }
}

fn attempt_row_from(row: &AnyRow) -> AttemptRow {
    AttemptRow {
        id: row.get("id"),
        learner_id: row.get("learner_id"),
        exercise: row.get("exercise"),
        status: row.get("status"),
        passed: row.get::<i64, _>("passed") != 0,
        checks_passed: row.get::<i64, _>("checks_passed") as u32,
        checks_total: row.get::<i64, _>("checks_total") as u32,
        size_bytes: row.get::<Option<i64>, _>("size_bytes").map(|s| s as u64),
        layers: row.get::<Option<i64>, _>("layers").map(|l| l as u32),
        created_at: row.get("created_at"),
    }
}

/// `$1, $2, …, $n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// (attempt id, its stage images) from a row with `id` and `stage_images`.
fn stage_images_from(row: &AnyRow) -> (String, Vec<String>) {
    let images: String = row.get("stage_images");
    let id: String = row.get("id");
    // Only clean-up reads these: an unreadable list is said in the log (those stage images,
    // which carry no labels, then stay until an operator prunes dangling images).
    let images = serde_json::from_str(&images).unwrap_or_else(|e| {
        tracing::warn!(attempt = %id, "its stage images cannot be read back: {e}");
        Vec::new()
    });
    (id, images)
}

const ATTEMPT_COLUMNS: &str = "id, learner_id, exercise, status, passed, checks_passed, checks_total, size_bytes, layers, created_at";

impl Store {
    /// Now in milliseconds, but later than every stamp this store gave before: two answers
    /// sent within one millisecond keep their order (a learner's latest grade is the last row).
    fn stamp(&self) -> i64 {
        let now = now_ms();
        let previous = self
            .last_stamp
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(now.max(last + 1))
            })
            .unwrap_or(now);
        now.max(previous + 1)
    }

    // ----- learners -------------------------------------------------------------------------

    /// Make sure the learner's row exists (a first visit, or a session that outlived its row)
    /// and move `last_seen_at` to now. Writes at most once per [`TOUCH_EVERY_MS`] per learner,
    /// so following a build or polling a page does not write on every request.
    pub async fn ensure_learner(&self, id: &str) -> sqlx::Result<()> {
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
    pub async fn touch_learner(&self, id: &str) -> sqlx::Result<Learner> {
        self.ensure_learner(id).await?;
        self.learner(id)
            .await?
            .ok_or_else(|| sqlx::Error::RowNotFound)
    }

    pub async fn learner(&self, id: &str) -> sqlx::Result<Option<Learner>> {
        Ok(sqlx::query("SELECT * FROM learners WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(learner_from))
    }

    pub async fn learner_by_resume_code(&self, code: &str) -> sqlx::Result<Option<Learner>> {
        Ok(sqlx::query("SELECT * FROM learners WHERE resume_code = $1")
            .bind(normalize_code(code))
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(learner_from))
    }

    pub async fn set_display_name(&self, id: &str, name: Option<&str>) -> sqlx::Result<()> {
        sqlx::query("UPDATE learners SET display_name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Put the learner in the cohort with this join code; `None` when no cohort has it.
    pub async fn join_cohort(&self, learner: &str, code: &str) -> sqlx::Result<Option<Cohort>> {
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

    // ----- quizzes --------------------------------------------------------------------------

    pub async fn record_quiz(
        &self,
        learner: &str,
        lesson: &str,
        quiz: &str,
        answers: &QuizAnswers,
        grade: &QuizGrade,
    ) -> sqlx::Result<()> {
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
    pub async fn quiz_answers(&self, learners: &[String]) -> sqlx::Result<Vec<QuizAnswerRow>> {
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
                    grade: serde_json::from_str(&grade)
                        .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    created_at: row.get("created_at"),
                })
            })
            .collect()
    }

    /// `"<lesson>/<quiz>"` → the learner's latest grade.
    pub async fn latest_grades(
        &self,
        learner: &str,
    ) -> sqlx::Result<Arc<HashMap<String, QuizGrade>>> {
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

    // ----- attempts -------------------------------------------------------------------------

    /// Store an attempt: first when it is submitted (status `queued`, so a server killed
    /// during the build leaves a trace), then again when it ends.
    pub async fn save_attempt(&self, attempt: &Attempt) -> sqlx::Result<()> {
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
             files_hash, details_kept) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', $10, $11, $12, $13, $14, $15, $16) \
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
        .bind(serde_json::to_string(&attempt.stage_images).unwrap_or_else(|_| "[]".into()))
        .bind(files_hash)
        .bind(i64::from(attempt.details_kept))
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
    pub async fn drop_old_details(&self, learner: &str, exercise: &str) -> sqlx::Result<usize> {
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
    ) -> sqlx::Result<Vec<(String, Vec<String>)>> {
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
    pub async fn superseded_stage_images(&self) -> sqlx::Result<Vec<(String, Vec<String>)>> {
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
    pub async fn set_stage_images(&self, attempt: &str, images: &[String]) -> sqlx::Result<()> {
        sqlx::query("UPDATE attempts SET stage_images = $1 WHERE id = $2")
            .bind(serde_json::to_string(images).unwrap_or_else(|_| "[]".into()))
            .bind(attempt)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn clear_stage_images(&self, attempt: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE attempts SET stage_images = '[]' WHERE id = $1")
            .bind(attempt)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Attempts a stopped server left unfinished become `interrupted`, with a message that
    /// says what happened; their ids (their images and containers may need removing).
    pub async fn mark_interrupted(&self) -> sqlx::Result<Vec<String>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM attempts WHERE status IN ('queued', 'building', 'running')",
        )
        .fetch_all(&self.pool)
        .await?;
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

    /// The whole attempt, if it is `learner`'s.
    pub async fn attempt(&self, id: &str, learner: &str) -> sqlx::Result<Option<Attempt>> {
        self.attempt_where(id, Some(learner)).await
    }

    /// The whole attempt, whoever made it: callers check who may see it.
    pub async fn attempt_any(&self, id: &str) -> sqlx::Result<Option<Attempt>> {
        self.attempt_where(id, None).await
    }

    async fn attempt_where(
        &self,
        id: &str,
        learner: Option<&str>,
    ) -> sqlx::Result<Option<Attempt>> {
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
        let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
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
    pub async fn latest_attempt(
        &self,
        learner: &str,
        exercise: &str,
    ) -> sqlx::Result<Option<Attempt>> {
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
    pub async fn attempt_rows(&self, learners: &[String]) -> sqlx::Result<Vec<AttemptRow>> {
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
    pub async fn attempt_times(&self, ids: &[String]) -> sqlx::Result<HashMap<String, i64>> {
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
    pub async fn exercise_tallies(
        &self,
        learner: &str,
    ) -> sqlx::Result<HashMap<String, ExerciseTally>> {
        Ok(tally(&self.attempt_rows(&[learner.to_string()]).await?)
            .remove(learner)
            .unwrap_or_default())
    }

    // ----- drafts and hints ---------------------------------------------------------------

    /// Keep what the learner typed in an exercise's workbench (replacing their last draft).
    pub async fn save_draft(
        &self,
        learner: &str,
        exercise: &str,
        files: &BTreeMap<String, String>,
        at: i64,
    ) -> sqlx::Result<()> {
        let content = serde_json::to_string(files).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
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
    ) -> sqlx::Result<Option<(BTreeMap<String, String>, i64)>> {
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
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))
        })
        .transpose()
    }

    /// How many hints the learner asked to see on an exercise.
    pub async fn hints_requested(&self, learner: &str, exercise: &str) -> sqlx::Result<u32> {
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
    pub async fn request_hint(
        &self,
        learner: &str,
        exercise: &str,
        at_most: u32,
    ) -> sqlx::Result<()> {
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

    // ----- instructors and cohorts ----------------------------------------------------------

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

    pub async fn instructor_by_name(&self, name: &str) -> sqlx::Result<Option<Instructor>> {
        self.instructor_where("name", name).await
    }

    pub async fn instructor(&self, id: &str) -> sqlx::Result<Option<Instructor>> {
        self.instructor_where("id", id).await
    }

    async fn instructor_where(
        &self,
        column: &str,
        value: &str,
    ) -> sqlx::Result<Option<Instructor>> {
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

    pub async fn create_cohort(&self, instructor: &str, name: &str) -> sqlx::Result<Cohort> {
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
    pub async fn cohorts_of(&self, instructor: &str) -> sqlx::Result<Vec<(Cohort, u32)>> {
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
    pub async fn cohort_of(&self, id: &str, instructor: &str) -> sqlx::Result<Option<Cohort>> {
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

    pub async fn cohort(&self, id: &str) -> sqlx::Result<Option<Cohort>> {
        Ok(sqlx::query("SELECT * FROM cohorts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(cohort_from))
    }

    pub async fn cohort_by_join_code(&self, code: &str) -> sqlx::Result<Option<Cohort>> {
        Ok(sqlx::query("SELECT * FROM cohorts WHERE join_code = $1")
            .bind(normalize_code(code))
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(cohort_from))
    }

    /// The cohort's learners, by name then by when they came.
    pub async fn cohort_learners(&self, cohort: &str) -> sqlx::Result<Vec<Learner>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_unambiguous_and_typed_loosely() {
        let code = random_code(3);
        assert_eq!(code.len(), 14, "{code}");
        assert!(code
            .chars()
            .all(|c| c == '-' || CODE_ALPHABET.contains(&(c as u8))));
        assert_ne!(random_code(3), code, "codes are random");
        assert_eq!(normalize_code(" k7qx m2pd-9tra "), "K7QX-M2PD-9TRA");
        assert_eq!(normalize_code(&code.to_lowercase()), code);
    }

    fn row(exercise: &str, passed: bool, size: Option<u64>, at: i64) -> AttemptRow {
        AttemptRow {
            id: format!("{exercise}{at}"),
            learner_id: "a".into(),
            exercise: exercise.into(),
            status: if size.is_some() {
                "succeeded"
            } else {
                "failed"
            }
            .into(),
            passed,
            checks_passed: 0,
            checks_total: 1,
            size_bytes: size,
            layers: None,
            created_at: at,
        }
    }

    #[test]
    fn tallies_count_attempts_and_keep_the_best_size() {
        let rows = [
            row("non-root", false, None, 1),
            row("non-root", false, Some(5000), 2),
            row("non-root", true, Some(3000), 3),
            row("non-root", false, Some(4000), 4),
            row("playground", true, Some(10), 5),
        ];
        let all = tally(&rows);
        let t = &all["a"]["non-root"];
        assert_eq!(
            (
                t.attempts,
                t.missed_checks,
                t.passed,
                t.best_size_bytes,
                t.last_at
            ),
            // The failed build never reached the checks: no miss, no hint.
            (4, 2, true, Some(3000), 4)
        );
        assert!(!all["a"].contains_key("playground"));
    }

    fn grade(correct: usize) -> QuizGrade {
        QuizGrade {
            quiz: "q".into(),
            correct,
            total: 3,
            questions: Vec::new(),
        }
    }

    /// A finished attempt at `exercise` with these files, passing or not, made at `at`.
    fn finished(id: &str, files: &[(&str, &str)], passed: bool, size: u64, at: i64) -> Attempt {
        let mut view = BuildView::queued(id, "non-root");
        view.status = app::dto::BuildStatus::Succeeded;
        view.image = Some(app::dto::ImageFacts {
            id: format!("sha256:{id}"),
            size_bytes: size,
            layers: 2,
            history: Vec::new(),
        });
        view.checks = Some(vec![app::dto::CheckOutcome {
            id: "user".into(),
            passed,
            message: "runs as a user".into(),
            learn_more: None,
        }]);
        Attempt {
            id: id.into(),
            learner_id: "a".into(),
            exercise: "non-root".into(),
            view,
            files: files
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect(),
            log: vec![LogLine {
                phase: app::dto::LogPhase::Build,
                text: format!("step of {id}"),
            }],
            stage_images: Vec::new(),
            created_at: at,
            finished_at: at + 1,
            details_kept: true,
        }
    }

    async fn count(store: &Store, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&store.pool)
            .await
            .expect(sql)
    }

    async fn temp_store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        open(&url).await.expect("open").0
    }

    #[tokio::test]
    async fn a_learner_rebuilding_for_hours_leaves_only_the_newest_details() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = temp_store(&dir).await;
        store.keep_details = 5;
        store.ensure_learner("a").await.expect("learner");
        // 40 builds, each with different files; the 3rd passes with the smallest image.
        for i in 0..40 {
            let body = format!("FROM busybox:1.36\nRUN echo {i}\n");
            let big = "x".repeat(10_000);
            let attempt = finished(
                &format!("t{i:02}"),
                &[("Dockerfile", &body), ("junk.txt", &big)],
                i == 3 || i == 20,
                if i == 3 { 1_000 } else { 5_000 + i as u64 },
                1_000 + i,
            );
            store.save_attempt(&attempt).await.expect("save");
        }
        let rows = store.attempt_rows(&["a".to_string()]).await.expect("rows");
        assert_eq!(rows.len(), 40, "every attempt keeps its summary row");
        let t = &store.exercise_tallies("a").await.expect("tallies")["non-root"];
        assert_eq!(
            (
                t.attempts,
                t.missed_checks,
                t.passed,
                t.best_size_bytes,
                t.last_at
            ),
            (40, 38, true, Some(1_000), 1_039),
            "tallies count every attempt, dropped details or not"
        );
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM attempts WHERE details_kept = 1"
            )
            .await,
            6,
            "the newest 5 and the best passing one"
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM file_sets").await,
            6,
            "the file sets of dropped attempts are deleted"
        );
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM attempts WHERE details_kept = 0 \
                 AND (log <> '[]' OR files <> '' OR files_hash IS NOT NULL)"
            )
            .await,
            0,
            "dropped attempts hold no files or log"
        );
        let best = store.attempt("t03", "a").await.expect("read").expect("t03");
        assert!(best.details_kept && best.files["Dockerfile"].contains("echo 3"));
        assert_eq!(best.log[0].text, "step of t03");
        let newest = store.latest_attempt("a", "non-root").await.expect("read");
        assert!(newest.expect("latest").files["Dockerfile"].contains("echo 39"));
        // An older one (even one that passed) says plainly that its details were not kept.
        for old in ["t00", "t20", "t34"] {
            let gone = store.attempt(old, "a").await.expect("read").expect("row");
            assert!(!gone.details_kept && gone.files.is_empty(), "{old}");
            assert_eq!(gone.log.len(), 1);
            assert!(gone.log[0].text.contains("were not kept"), "{:?}", gone.log);
            assert!(gone.log[0].text.contains("newest 5 attempts"));
            assert_eq!(
                gone.view.image.expect("result kept").size_bytes,
                5_000 + old[1..].parse::<u64>().unwrap()
            );
        }
        assert!(
            store
                .attempt("t35", "a")
                .await
                .expect("read")
                .expect("row")
                .details_kept
        );
        // Saving a dropped attempt again (e.g. marked interrupted) brings back no log.
        let mut again = store.attempt_any("t00").await.expect("read").expect("row");
        again.log.push(LogLine {
            phase: app::dto::LogPhase::Server,
            text: "more".into(),
        });
        store.save_attempt(&again).await.expect("save");
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM attempts WHERE details_kept = 1"
            )
            .await,
            6
        );
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM attempts WHERE id = 't00' AND log = '[]'"
            )
            .await,
            1
        );
    }

    #[tokio::test]
    async fn identical_file_sets_are_stored_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = temp_store(&dir).await;
        store.ensure_learner("a").await.expect("learner");
        let files = [
            ("Dockerfile", "FROM busybox:1.36\n"),
            ("app.sh", "echo hi\n"),
        ];
        for (i, id) in ["d1", "d2", "d3"].iter().enumerate() {
            store
                .save_attempt(&finished(id, &files, false, 10, i as i64))
                .await
                .expect("save");
        }
        store
            .save_attempt(&finished(
                "d4",
                &[("Dockerfile", "FROM alpine\n")],
                false,
                10,
                9,
            ))
            .await
            .expect("save");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM file_sets").await, 2);
        assert_eq!(
            count(&store, "SELECT COUNT(DISTINCT files_hash) FROM attempts").await,
            2
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM attempts WHERE files <> ''").await,
            0
        );
        for id in ["d1", "d2", "d3"] {
            let read = store.attempt(id, "a").await.expect("read").expect("row");
            assert_eq!(read.files["app.sh"], "echo hi\n");
        }
        let hash: String = sqlx::query_scalar("SELECT files_hash FROM attempts WHERE id = 'd4'")
            .fetch_one(&store.pool)
            .await
            .expect("hash");
        assert_eq!(hash, file_set_hash(r#"{"Dockerfile":"FROM alpine\n"}"#));
    }

    #[tokio::test]
    async fn attempts_stored_before_migration_5_keep_their_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("old.db").display());
        {
            sqlx::any::install_default_drivers();
            let options = SqliteConnectOptions::from_str(&url)
                .expect("url")
                .create_if_missing(true);
            let pool = SqlitePoolOptions::new()
                .connect_with(options)
                .await
                .expect("pool");
            let mut old = sqlx::migrate!("./migrations");
            old.migrations = old
                .migrations
                .iter()
                .filter(|m| m.version <= 4)
                .cloned()
                .collect::<Vec<_>>()
                .into();
            old.run(&pool).await.expect("migrations 1-4");
            sqlx::query("INSERT INTO learners (id, resume_code, created_at, last_seen_at) VALUES ('a', 'R', 1, 1)")
                .execute(&pool)
                .await
                .expect("learner");
            for (id, dockerfile) in [
                ("o1", "FROM busybox\n"),
                ("o2", "FROM busybox\n"),
                ("o3", "FROM alpine\n"),
            ] {
                let view =
                    serde_json::to_string(&finished(id, &[], false, 7, 1).view).expect("json");
                let files = serde_json::to_string(&BTreeMap::from([("Dockerfile", dockerfile)]))
                    .expect("json");
                sqlx::query(
                    "INSERT INTO attempts (id, learner_id, exercise, status, passed, checks_passed, checks_total, \
                     size_bytes, layers, files, log, result, created_at, finished_at) \
                     VALUES ($1, 'a', 'non-root', 'succeeded', 0, 0, 1, 7, 2, $2, '[{\"phase\":\"build\",\"text\":\"old\"}]', $3, 1, 2)",
                )
                .bind(id)
                .bind(files)
                .bind(view)
                .execute(&pool)
                .await
                .expect("attempt");
            }
        }
        let (store, _) = open(&url).await.expect("migrate");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM file_sets").await, 2);
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM attempts WHERE files = '' AND files_hash IS NOT NULL AND details_kept = 1").await,
            3
        );
        for (id, dockerfile) in [
            ("o1", "FROM busybox\n"),
            ("o2", "FROM busybox\n"),
            ("o3", "FROM alpine\n"),
        ] {
            let read = store.attempt(id, "a").await.expect("read").expect("row");
            assert_eq!(read.files["Dockerfile"], dockerfile);
            assert_eq!(read.log[0].text, "old");
        }
        drop(store);
        // A second start finds nothing more to move and changes nothing.
        let (store, _) = open(&url).await.expect("reopen");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM file_sets").await, 2);
    }

    #[tokio::test]
    async fn the_database_disk_floor_is_checked_only_when_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = temp_store(&dir).await;
        assert_eq!(store.database_dir.as_deref(), Some(dir.path()));
        assert_eq!(store.disk_too_full(), None, "no floor: no check");
        store.min_free_bytes = 1;
        assert_eq!(
            store.disk_too_full(),
            None,
            "there is more than a byte free"
        );
        store.min_free_bytes = u64::MAX;
        let (free, floor) = store.disk_too_full().expect("below an impossible floor");
        assert!(free > 0 && floor == u64::MAX);
    }

    #[tokio::test]
    async fn latest_grades_follow_every_answer_and_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("grades.db").display());
        let (store, _) = open(&url).await.expect("open");
        store.ensure_learner("a").await.expect("learner");
        assert!(store.latest_grades("a").await.expect("grades").is_empty());
        let answers = QuizAnswers::default();
        store
            .record_quiz("a", "lesson", "q", &answers, &grade(1))
            .await
            .expect("record");
        // Read once (now kept in memory), then answer again: the page must show the new grade.
        assert_eq!(
            store.latest_grades("a").await.expect("grades")["lesson/q"],
            grade(1)
        );
        store
            .record_quiz("a", "lesson", "q", &answers, &grade(3))
            .await
            .expect("record");
        store
            .record_quiz("a", "other", "q", &answers, &grade(2))
            .await
            .expect("record");
        let grades = store.latest_grades("a").await.expect("grades");
        assert_eq!(
            (grades["lesson/q"].correct, grades["other/q"].correct),
            (3, 2)
        );
        // What the database says agrees with what was kept.
        drop(store);
        let (reopened, _) = open(&url).await.expect("reopen");
        assert_eq!(reopened.latest_grades("a").await.expect("grades"), grades);
    }
}
