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

mod attempts;
mod cohorts;
mod drafts;
mod images;
mod learners;
mod pushes;
pub use pushes::{PullRow, PushRow};
mod quizzes;
mod servers;
mod sessions;
pub use attempts::tally;
pub use servers::{ProcessMark, ServerRow};
pub use sessions::Sessions;

/// What went wrong in the database, as the domain modules see it (they log it and tell the
/// person only that it failed on our side).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused a query or could not be reached.
    #[error("the database: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored JSON value that cannot be read back (written by another version, or damaged).
    #[error("a stored value cannot be read: {0}")]
    Unreadable(serde_json::Error),
    /// A value that cannot be written as JSON: nothing is stored rather than a value that
    /// could never be read back.
    #[error("a value cannot be stored: {0}")]
    Unwritable(serde_json::Error),
}

impl StoreError {
    fn unreadable(e: serde_json::Error) -> Self {
        StoreError::Unreadable(e)
    }

    fn unwritable(e: serde_json::Error) -> Self {
        StoreError::Unwritable(e)
    }
}

/// What every store method returns.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Database {
    Sqlite,
    Postgres,
}

impl Database {
    pub fn of(database_url: &str) -> anyhow::Result<Database> {
        if database_url.starts_with("sqlite:") {
            Ok(Database::Sqlite)
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            Ok(Database::Postgres)
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
    let database = Database::of(database_url)?;
    let shown = redact(database_url);
    sqlx::any::install_default_drivers();
    let (pool, sessions) = match database {
        Database::Sqlite => {
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
        Database::Postgres => {
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
    let instance = meta_value(&pool, "instance", new_id())
        .await
        .context("cannot read this installation's id")?;
    let form_key = meta_value(&pool, "form_key", format!("{}{}", new_id(), new_id()))
        .await
        .context("cannot read the key form tokens are signed with")?;
    move_inline_files(&pool)
        .await
        .context("cannot move the files of earlier attempts to the file store")?;
    let database_dir = match database {
        Database::Sqlite => SqliteConnectOptions::from_str(database_url)
            .ok()
            .and_then(|o| o.get_filename().parent().map(std::path::Path::to_path_buf))
            .map(|dir| {
                if dir.as_os_str().is_empty() {
                    ".".into()
                } else {
                    dir
                }
            }),
        Database::Postgres => None,
    };
    let store = Store {
        pool,
        database,
        instance,
        form_key,
        server: new_id(),
        touched: Default::default(),
        grades: Default::default(),
        last_stamp: Default::default(),
        keep_details: DEFAULT_KEEP_ATTEMPT_DETAILS,
        min_free_bytes: 0,
        database_dir,
    };
    Ok((store, sessions))
}

/// A value of the `meta` table (the installation's id, the form tokens' key), `made` on first
/// start; every server on the database reads the same.
async fn meta_value(pool: &AnyPool, key: &str, made: String) -> sqlx::Result<String> {
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(key)
        .bind(made)
        .execute(pool)
        .await?;
    sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
        .bind(key)
        .fetch_one(pool)
        .await
}

/// Attempts before migration 0005 held their files inline: store each set once in `file_sets`
/// and point the attempt at it (a few hundred rows at a time; nothing is dropped).
async fn move_inline_files(pool: &AnyPool) -> Result<()> {
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
                serde_json::from_str(&files).map_err(StoreError::unreadable)?;
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
async fn put_file_set<'c, E>(executor: E, files: &BTreeMap<String, String>) -> Result<String>
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
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(StoreError::unwritable)
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
    pub database: Database,
    /// This installation's id: labels the containers its builds make.
    pub instance: String,
    /// The key form tokens are signed with (see `auth`): the same for every server on the
    /// database, so a form one showed is taken by another.
    pub form_key: String,
    /// This process's id among those serving from the database (`servers`): the attempts it
    /// takes name it.
    pub server: String,
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
    /// The one row `sql` finds with `value` for its `$1`, made into a `T` by `from`.
    async fn one<T>(
        &self,
        sql: &str,
        value: impl AsRef<str>,
        from: fn(&AnyRow) -> T,
    ) -> Result<Option<T>> {
        Ok(sqlx::query(sql)
            .bind(value.as_ref().to_string())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(from))
    }

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
}

#[cfg(test)]
mod tests;
