//! The class registry, where learners' images go to be shared and pulled back: by default the
//! CNCF distribution registry (Debian's `docker-registry`), started by layerlab as a child
//! process with its own configuration and data folder, listening on loopback only, and stopped
//! with it; or an existing registry the operator names; or none.
//!
//! The engine pushes to and pulls from the registry by its address (`127.0.0.1:5100/…`): the
//! engine treats a loopback registry as plain HTTP without any setting of its own.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How long a status probe waits for the registry.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the embedded registry may take to answer after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// What the operator chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistrySettings {
    /// Start `program` with its configuration and data under `dir`, on `addr` (loopback).
    Embedded {
        program: PathBuf,
        dir: PathBuf,
        addr: std::net::SocketAddr,
    },
    /// A registry that runs already, at `address` (`host:port`).
    External { address: String },
    /// No registry: pushing is unavailable, and the pages say so.
    Off,
}

/// Why the registry could not start.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the registry's folder {dir} cannot be prepared: {cause}")]
    Folder { dir: PathBuf, cause: std::io::Error },
    #[error("the registry program `{program}` cannot be started ({cause}); install Debian's docker-registry (`./x` does), point --registry-url at a registry, or pass --no-registry")]
    Program {
        program: String,
        cause: std::io::Error,
    },
    #[error("the registry did not answer on {address} within {} s{}", START_TIMEOUT.as_secs(), last_words(.log))]
    NoAnswer { address: String, log: String },
    #[error("--registry-url {0:?} is not host:port or http://host:port")]
    BadUrl(String),
    #[error("{addr} is taken by another program ({cause}): give the registry another --registry-addr, or use the registry there with --registry-url")]
    PortTaken {
        addr: std::net::SocketAddr,
        cause: std::io::Error,
    },
    #[error("the registry layerlab starts listens on loopback only (it asks no one for credentials yet), not on {0}; give --registry-addr 127.0.0.1:PORT")]
    NotLoopback(std::net::SocketAddr),
}

fn last_words(log: &str) -> String {
    let tail: Vec<&str> = log.lines().rev().take(3).collect();
    if tail.is_empty() {
        String::new()
    } else {
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("; it said: {}", tail.join(" / "))
    }
}

/// The registry as this server sees it (on `/api/v1/status`).
#[derive(Clone, Debug, serde::Serialize, PartialEq, Eq)]
pub struct RegistryStatus {
    /// `embedded`, `external` or `off`.
    pub mode: &'static str,
    /// `127.0.0.1:5100`: what image references start with; `None` when off.
    pub address: Option<String>,
    pub reachable: bool,
    /// Why not, in words for the operator.
    pub problem: Option<String>,
}

/// The class registry of this server.
pub struct Registry {
    mode: &'static str,
    address: Option<String>,
    /// The embedded registry's process; killed when this is dropped.
    child: Mutex<Option<tokio::process::Child>>,
}

impl Registry {
    /// No registry.
    pub fn off() -> Self {
        Registry {
            mode: "off",
            address: None,
            child: Mutex::new(None),
        }
    }

    /// Start (or find) the registry the settings name. An embedded one answers before this
    /// returns.
    pub async fn start(settings: &RegistrySettings) -> Result<Self, RegistryError> {
        match settings {
            RegistrySettings::Off => Ok(Registry::off()),
            RegistrySettings::External { address } => Ok(Registry {
                mode: "external",
                address: Some(address_of(address)?),
                child: Mutex::new(None),
            }),
            RegistrySettings::Embedded { program, dir, addr } => {
                start_embedded(program, dir, *addr).await
            }
        }
    }

    /// `host:port`, as image references name the registry; `None` when there is none.
    pub fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// Whether the registry answers its API now, and as what.
    pub async fn status(&self) -> RegistryStatus {
        let mut status = RegistryStatus {
            mode: self.mode,
            address: self.address.clone(),
            reachable: false,
            problem: None,
        };
        let Some(address) = &self.address else {
            status.problem = Some("this server runs without a registry (--no-registry)".into());
            return status;
        };
        if let Some(exit) = self.exited() {
            status.problem = Some(format!("the embedded registry stopped: {exit}"));
            return status;
        }
        match api_version(address).await {
            Ok(()) => status.reachable = true,
            Err(problem) => status.problem = Some(problem),
        }
        status
    }

    /// How the embedded registry's process ended, if it has.
    fn exited(&self) -> Option<String> {
        let mut child = crate::sync::lock(&self.child);
        match child.as_mut()?.try_wait() {
            Ok(Some(exit)) => Some(exit.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }
}

/// `host:port` of `--registry-url` (`http://` may be given; https is not spoken here).
fn address_of(url: &str) -> Result<String, RegistryError> {
    let bare = url
        .strip_prefix("http://")
        .unwrap_or(url)
        .trim_end_matches('/');
    let valid = !bare.is_empty()
        && !bare.contains('/')
        && bare
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if valid {
        Ok(bare.to_string())
    } else {
        Err(RegistryError::BadUrl(url.to_string()))
    }
}

/// The configuration the embedded registry runs with: its storage under `data`, deletes
/// allowed (a learner may delete a tag; the janitor collects garbage), loopback only.
fn config_text(data: &Path, addr: std::net::SocketAddr, secret: &str) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n  secret: {secret}\n  headers:\n    X-Content-Type-Options: [nosniff]\n",
        data = serde_json::to_string(&data.to_string_lossy()).unwrap_or_default(),
    )
}

async fn start_embedded(
    program: &Path,
    dir: &Path,
    addr: std::net::SocketAddr,
) -> Result<Registry, RegistryError> {
    if !addr.ip().is_loopback() {
        return Err(RegistryError::NotLoopback(addr));
    }
    let folder = |cause| RegistryError::Folder {
        dir: dir.to_path_buf(),
        cause,
    };
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(folder)?;
    let data = data.canonicalize().map_err(folder)?;
    // Port 0: a free port now (the registry cannot report the one it took). A given port
    // must be free: a registry already there would answer in place of ours.
    let addr = std::net::TcpListener::bind(addr)
        .and_then(|l| l.local_addr())
        .map_err(|cause| RegistryError::PortTaken { addr, cause })?;
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let config = dir.join("config.yml");
    std::fs::write(&config, config_text(&data, addr, &secret)).map_err(folder)?;
    let log_path = dir.join("registry.log");
    let log = std::fs::File::create(&log_path).map_err(folder)?;
    let mut command = tokio::process::Command::new(program);
    command
        .arg("serve")
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(folder)?)
        .stderr(log)
        .kill_on_drop(true);
    // The registry goes with this server even when the server is killed: the kernel sends it
    // SIGTERM when the thread that started it ends (the runtime's, for the server's life).
    // SAFETY: prctl is async-signal-safe and touches only the new process.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().map_err(|cause| RegistryError::Program {
        program: program.display().to_string(),
        cause,
    })?;
    let registry = Registry {
        mode: "embedded",
        address: Some(addr.to_string()),
        child: Mutex::new(Some(child)),
    };
    let started = std::time::Instant::now();
    loop {
        if registry.exited().is_some() || started.elapsed() > START_TIMEOUT {
            return Err(RegistryError::NoAnswer {
                address: addr.to_string(),
                log: std::fs::read_to_string(&log_path).unwrap_or_default(),
            });
        }
        if api_version(&addr.to_string()).await.is_ok() {
            tracing::info!(address = %addr, folder = %dir.display(), "the class registry runs");
            return Ok(registry);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /v2/`: a registry speaks the distribution API if it answers 200 (or 401, asking for
/// a token) with its `Docker-Distribution-Api-Version` header.
async fn api_version(address: &str) -> Result<(), String> {
    let url = format!("http://{address}/v2/");
    let answer = tokio::time::timeout(PROBE_TIMEOUT, get(&url)).await;
    let (status, headers) = match answer {
        Err(_) => {
            return Err(format!(
                "no answer from {address} within {} s",
                PROBE_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(e)) => return Err(format!("cannot reach {address}: {e}")),
        Ok(Ok(answer)) => answer,
    };
    let speaks = headers
        .get("docker-distribution-api-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("registry/2"));
    if (status == 200 || status == 401) && speaks {
        Ok(())
    } else {
        Err(format!(
            "{address} answered {status} without speaking the registry API"
        ))
    }
}

async fn get(url: &str) -> Result<(u16, http::HeaderMap), String> {
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    let client: Client<_, Empty<bytes::Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let uri: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let response = client.get(uri).await.map_err(|e| e.to_string())?;
    Ok((response.status().as_u16(), response.headers().clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_urls_are_host_and_port() {
        assert_eq!(address_of("127.0.0.1:5000").unwrap(), "127.0.0.1:5000");
        assert_eq!(
            address_of("http://registry.lan:5000/").unwrap(),
            "registry.lan:5000"
        );
        for bad in [
            "",
            "registry.lan",
            "https://x:5000",
            "x:5000/path",
            ":5000",
            "x:port",
        ] {
            assert!(address_of(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_configuration_keeps_to_loopback_and_allows_deletes() {
        let text = config_text(
            Path::new("/var/lib/layerlab registry/data"),
            "127.0.0.1:5100".parse().unwrap(),
            "s3cret",
        );
        assert!(text.contains("addr: 127.0.0.1:5100"), "{text}");
        assert!(
            text.contains("rootdirectory: \"/var/lib/layerlab registry/data\""),
            "{text}"
        );
        assert!(text.contains("delete:\n    enabled: true"), "{text}");
    }
}
