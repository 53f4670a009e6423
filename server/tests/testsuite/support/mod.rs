//! Shared by the integration tests: configuration pointing at the repository's content and a
//! fresh database, an in-process client that keeps the session cookie, and a real server
//! process for browser tests.

pub mod browser;
pub mod classroom;
mod client;
mod course;
mod db;
mod engine;
mod events;
mod process;
mod wire;

pub use client::*;
pub use course::*;
pub use db::*;
pub use engine::*;
pub use events::*;
pub use process::*;
pub use wire::*;

use clap::Parser;
use layerlab_server::config::{Cli, ServeConfig};
use std::path::PathBuf;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `./x wasm` puts the browser bundle (overridable for odd layouts).
pub fn site_root() -> PathBuf {
    std::env::var_os("LAYERLAB_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/site"))
}

/// A configuration with the repository's course, the database `db`, and the given engine.
pub fn config(db: &TestDb, docker_host: &str) -> ServeConfig {
    config_with(db, docker_host, &[])
}

/// [`config`] plus extra command-line flags (e.g. tighter limits).
pub fn config_with(db: &TestDb, docker_host: &str, extra: &[&str]) -> ServeConfig {
    let root = repo_root();
    let mut args = vec![
        "layerlab".to_string(),
        "--addr=127.0.0.1:0".into(),
        format!("--database-url={}", db.url()),
        format!("--content-dir={}", root.join("content").display()),
        format!("--site-root={}", site_root().display()),
        format!("--style-dir={}", root.join("style").display()),
        format!("--docker-host={docker_host}"),
        format!("--exercises-dir={}", root.join("exercises").display()),
    ];
    // Tests build back to back as one learner; the rate-limit test sets its own limit.
    if !extra
        .iter()
        .any(|a| a.starts_with("--build-rate-per-minute"))
    {
        args.push("--build-rate-per-minute=0".into());
    }
    args.extend(per_server_args(db, extra));
    args.extend(extra.iter().map(|a| a.to_string()));
    Cli::try_parse_from(args)
        .expect("test configuration parses")
        .serve
}

pub const LOCAL_ENGINE: &str = "unix:///var/run/docker.sock";

/// A test server starts its own registry, as `layerlab` does by default: in the database's
/// folder, on a free loopback port. Unless the test says otherwise (`--registry-url`,
/// `--no-registry`, or a folder or address of its own). Its consoles' sockets are in the
/// database's folder too (a server removes what it finds in that folder when it starts).
pub fn per_server_args(db: &TestDb, extra: &[&str]) -> Vec<String> {
    let own = |flag: &str| extra.iter().any(|a| a.starts_with(flag));
    let mut args = Vec::new();
    if !own("--console-dir") {
        args.push(format!("--console-dir={}", db.console_dir().display()));
    }
    if own("--registry-url") || own("--no-registry") {
        return args;
    }
    if !own("--registry-dir") {
        args.push(format!("--registry-dir={}", db.registry_dir().display()));
    }
    if !own("--registry-addr") {
        args.push("--registry-addr=127.0.0.1:0".into());
    }
    args
}
