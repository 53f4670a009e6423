//! A real `layerlab` process on a free port, and its command line.

use super::*;

/// A real `layerlab` process on a free port; killed when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    pub base_url: String,
    pub db: std::sync::Arc<TestDb>,
}

impl ServerProcess {
    pub fn start(docker_host: &str) -> Self {
        Self::start_on(docker_host, std::sync::Arc::new(TestDb::new()))
    }

    /// Start on an existing database folder (e.g. the one a killed server used).
    pub fn start_on(docker_host: &str, db: std::sync::Arc<TestDb>) -> Self {
        Self::start_with(docker_host, db, &[])
    }

    /// Start with extra command-line flags (e.g. tighter limits).
    pub fn start_with(docker_host: &str, db: std::sync::Arc<TestDb>, extra: &[&str]) -> Self {
        Self::start_logging(docker_host, db, extra, std::process::Stdio::inherit())
    }

    /// [`ServerProcess::start_with`], its log (standard error) going to `stderr`.
    pub fn start_logging(
        docker_host: &str,
        db: std::sync::Arc<TestDb>,
        extra: &[&str],
        stderr: std::process::Stdio,
    ) -> Self {
        Self::start_in(docker_host, db, extra, stderr, &[])
    }

    /// [`ServerProcess::start_with`] with these environment variables besides the tests' own.
    pub fn start_with_env(
        docker_host: &str,
        db: std::sync::Arc<TestDb>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_in(docker_host, db, extra, std::process::Stdio::inherit(), env)
    }

    fn start_in(
        docker_host: &str,
        db: std::sync::Arc<TestDb>,
        extra: &[&str],
        stderr: std::process::Stdio,
        env: &[(&str, &str)],
    ) -> Self {
        use std::io::BufRead;
        let config = config(&db, docker_host);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_layerlab"))
            .envs(env.iter().copied())
            .arg("serve")
            .args(
                (!extra.iter().any(|a| a.starts_with("--addr")))
                    .then(|| format!("--addr={}", config.addr)),
            )
            .arg(format!("--database-url={}", config.database_url))
            .arg(format!("--content-dir={}", config.content_dir.display()))
            .arg(format!(
                "--exercises-dir={}",
                config.exercises_dir.display()
            ))
            .arg(format!("--site-root={}", config.site_root.display()))
            .arg(format!("--style-dir={}", config.style_dir.display()))
            .arg(format!("--docker-host={}", config.docker_host))
            .arg("--build-rate-per-minute=0")
            .args(super::per_server_args(&db, extra))
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start the layerlab binary");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let base_url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("layerlab is serving on ") {
                        break url.trim().to_string();
                    }
                }
                _ => {
                    let status = child.wait().ok();
                    panic!("layerlab exited before serving: {status:?}");
                }
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        ServerProcess {
            child,
            base_url,
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The server's process id.
    #[allow(dead_code)] // the bench reads the server's memory by its pid
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

impl ServerProcess {
    /// Kill the server (SIGKILL) and start it again on the same address and database, so
    /// pages open in a browser reconnect to it.
    pub fn restart(self, docker_host: &str) -> Self {
        let addr = self
            .base_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let db = self.kill();
        Self::start_with(docker_host, db, &[&format!("--addr={addr}")])
    }

    /// Kill the process without warning (SIGKILL), as a crash would.
    pub fn kill(mut self) -> std::sync::Arc<TestDb> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.db.clone()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `layerlab instructor add NAME` (with `--reset` to give a new password) on `database_url`,
/// the password on standard input, as an operator runs it; panics unless it succeeds.
pub fn add_instructor_with(database_url: &str, name: &str, password: &str, reset: bool) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_layerlab"))
        .args(["instructor", "add", name, "--database-url", database_url])
        .args(reset.then_some("--reset"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run layerlab instructor add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write the password");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "instructor add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
