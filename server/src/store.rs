//! The database: one SQLite file by default (WAL, busy timeout), holding learner sessions.

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;
use tower_sessions_sqlx_store::SqliteStore;

/// Open (creating if needed) the database and the session table.
pub async fn open(database_url: &str) -> anyhow::Result<(SqlitePool, SqliteStore)> {
    if !database_url.starts_with("sqlite:") {
        anyhow::bail!("unsupported database URL `{database_url}`: use sqlite://FILE (Postgres support is planned)");
    }
    let options = SqliteConnectOptions::from_str(database_url)
        .with_context(|| format!("bad database URL `{database_url}`"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database at `{database_url}`"))?;
    let sessions = SqliteStore::new(pool.clone());
    sessions
        .migrate()
        .await
        .context("cannot create the session table")?;
    Ok((pool, sessions))
}
