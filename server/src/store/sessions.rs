//! Where sessions are kept: tower-sessions' table in the same database as everything else,
//! SQLite or Postgres, behind one type the session layer can hold. Expired sessions are
//! deleted every hour, so the table does not grow with every visitor who never came back.

use async_trait::async_trait;
use std::time::Duration;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// How often expired sessions are deleted.
pub const DELETE_EXPIRED_EVERY: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Sessions {
    pub fn sqlite(pool: sqlx::SqlitePool) -> Self {
        Sessions::Sqlite(SqliteStore::new(pool))
    }

    pub fn postgres(pool: sqlx::PgPool) -> Self {
        Sessions::Postgres(PostgresStore::new(pool))
    }

    /// Create the session table if it is not there.
    pub async fn migrate(&self) -> sqlx::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.migrate().await,
            Sessions::Postgres(store) => store.migrate().await,
        }
    }

    /// Delete expired sessions now and then every [`DELETE_EXPIRED_EVERY`], in the background.
    pub fn delete_expired_in_background(&self) {
        let sessions = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = sessions.delete_expired().await {
                    tracing::warn!("could not delete expired sessions: {e}");
                }
                tokio::time::sleep(DELETE_EXPIRED_EVERY).await;
            }
        });
    }
}

#[async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.delete_expired().await,
            Sessions::Postgres(store) => store.delete_expired().await,
        }
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.create(record).await,
            Sessions::Postgres(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.save(record).await,
            Sessions::Postgres(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Sessions::Sqlite(store) => store.load(id).await,
            Sessions::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Sessions::Sqlite(store) => store.delete(id).await,
            Sessions::Postgres(store) => store.delete(id).await,
        }
    }
}
