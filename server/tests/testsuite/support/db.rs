//! A test server's database, SQLite or PostgreSQL, and what the server left on the engine
//! removed when it goes.

/// A test server's database: a SQLite file in a folder of its own, or, when the tests run with
/// `LAYERLAB_TEST_DATABASE=postgres` (or a test asks for one), a fresh database on the
/// Postgres server `./x test` starts (`LAYERLAB_TEST_POSTGRES`). When the last handle goes,
/// so does everything the server left on the engine under its installation label (kept
/// learner images, containers of a killed server), and the Postgres database.
pub struct TestDb {
    dir: tempfile::TempDir,
    /// The Postgres database's name, if this is one.
    postgres: Option<String>,
}

/// The Postgres server the tests use, as a URL without a database (see `./x test`).
pub fn postgres_server() -> String {
    std::env::var("LAYERLAB_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "LAYERLAB_TEST_POSTGRES is not set: these tests need a PostgreSQL server. \
             `./x test` starts one and sets it; to use your own, set it to a URL such as \
             postgres://USER@HOST:PORT/postgres for a user who may create databases"
        )
    })
}

/// `postgres_server()` with another database name.
pub fn postgres_url(database: &str) -> String {
    let server = postgres_server();
    let (base, query) = server.split_once('?').unwrap_or((&server, ""));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{base}/{database}{query}")
}

/// Run `body` on a runtime of its own in a thread of its own: this may be called inside a
/// test's runtime, which cannot block.
fn blocking<T: Send + 'static>(
    body: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>
        + Send
        + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(body())
    })
    .join()
    .expect("the database thread")
}

/// Run one statement on the Postgres server's maintenance database.
fn postgres_admin(statement: String) -> Result<(), String> {
    blocking(move || {
        Box::pin(async move {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&postgres_server())
                .await
                .map_err(|e| format!("cannot reach the test Postgres server: {e}"))?;
            sqlx::query(&statement)
                .execute(&mut conn)
                .await
                .map(|_| ())
                .map_err(|e| format!("{statement}: {e}"))
        })
    })
}

impl TestDb {
    /// The database the suite runs on: SQLite unless `LAYERLAB_TEST_DATABASE=postgres`.
    pub fn new() -> Self {
        match std::env::var("LAYERLAB_TEST_DATABASE").as_deref() {
            Ok("postgres") => Self::postgres(),
            Ok("sqlite") | Err(_) => Self::sqlite(),
            Ok(other) => panic!("LAYERLAB_TEST_DATABASE={other}: use sqlite or postgres"),
        }
    }

    pub fn sqlite() -> Self {
        TestDb {
            dir: tempfile::tempdir().expect("tempdir"),
            postgres: None,
        }
    }

    /// A new, empty database on the test Postgres server.
    pub fn postgres() -> Self {
        let name = format!("layerlab_test_{}", uuid::Uuid::new_v4().simple());
        postgres_admin(format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("{e}"));
        TestDb {
            dir: tempfile::tempdir().expect("tempdir"),
            postgres: Some(name),
        }
    }

    /// The database's URL, as `--database-url` takes it.
    /// Where a server on this database keeps its class registry (the one it starts).
    pub fn registry_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("registry")
    }

    /// Where a server on this database makes its consoles' sockets.
    pub fn console_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("consoles")
    }

    pub fn url(&self) -> String {
        match &self.postgres {
            Some(name) => postgres_url(name),
            None => format!("sqlite://{}", self.dir.path().join("layerlab.db").display()),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The installation id the server stored, if it started.
    fn instance(&self) -> Option<String> {
        if self.postgres.is_none() && !self.dir.path().join("layerlab.db").exists() {
            return None;
        }
        let url = self.url();
        blocking(move || {
            Box::pin(async move {
                sqlx::any::install_default_drivers();
                let pool = sqlx::AnyPool::connect(&url).await.ok()?;
                let id = sqlx::query_scalar::<_, String>(
                    "SELECT value FROM meta WHERE key = 'instance'",
                )
                .fetch_one(&pool)
                .await
                .ok();
                pool.close().await;
                id
            })
        })
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl std::ops::Deref for TestDb {
    type Target = tempfile::TempDir;
    fn deref(&self) -> &tempfile::TempDir {
        &self.dir
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(instance) = self.instance() {
            remove_engine_objects(&instance);
        }
        if let Some(name) = &self.postgres {
            let _ = postgres_admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Remove the containers and images an installation left on the engine.
fn remove_engine_objects(instance: &str) {
    let filter = format!("label=org.layerlab.instance={instance}");
    let listed = |args: &[&str]| -> Vec<String> {
        std::process::Command::new("docker")
            .args(args)
            .output()
            .map(|o| {
                let mut ids: Vec<String> = String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                ids.dedup();
                ids
            })
            .unwrap_or_default()
    };
    for (list, remove) in [
        (vec!["ps", "-aq", "--filter", &filter], vec!["rm", "-f"]),
        (vec!["images", "-q", "--filter", &filter], vec!["rmi", "-f"]),
    ] {
        let ids = listed(&list);
        if !ids.is_empty() {
            let _ = std::process::Command::new("docker")
                .args(remove)
                .args(&ids)
                .output();
        }
    }
}
