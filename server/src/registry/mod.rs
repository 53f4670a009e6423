//! The class registry, where learners' images go to be shared and pulled back: by default the
//! CNCF distribution registry (Debian's `docker-registry`), started by layerlab as a child
//! process with its own configuration and data folder, listening on loopback only, and stopped
//! with it; or an existing registry the operator names; or none.
//!
//! The engine pushes to and pulls from the registry by its address (`127.0.0.1:5100/…`): the
//! engine treats a loopback registry as plain HTTP without any setting of its own. The
//! registry layerlab starts takes only tokens layerlab issued ([`token`]): each learner may
//! push and pull in their own namespace, and the registry itself refuses the rest.

mod reads;
mod storage;
mod supervise;
pub mod token;
pub use reads::{ReadError, RepositoryFacts, TagFacts};
pub use storage::{Collected, DeleteError};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `iss` of layerlab's tokens and the `service` (audience) the registry is.
const TOKEN_ISSUER: &str = "layerlab";
const TOKEN_SERVICE: &str = "layerlab-registry";

/// Who reads namespaces besides their owners: given an instructor's handle
/// ([`instructor_handle`]), their credential version (a password reset raises it, which
/// changes their registry password too) and the namespaces of the learners in their cohorts;
/// `None` for no such instructor. The token issuer asks at each token an instructor asks for,
/// so a learner who joins or leaves a cohort counts from the next token on.
pub type Readers = Arc<
    dyn Fn(String) -> futures::future::BoxFuture<'static, anyhow::Result<Option<Reader>>>
        + Send
        + Sync,
>;

/// An instructor as the token issuer knows them.
pub struct Reader {
    pub credential_version: i64,
    pub namespaces: Vec<String>,
}

/// Readers for a server with no instructors: no one reads another's namespace.
pub fn no_readers() -> Readers {
    Arc::new(|_| Box::pin(async { Ok(None) }))
}

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
        /// The most one learner's namespace may hold (0: no limit).
        quota_bytes: u64,
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
    #[error("the registry's token signer cannot be made: {0}")]
    Token(String),
    #[error("the registry layerlab starts listens on loopback only (the engine speaks plain HTTP only to a loopback registry, and tokens would cross the network in the clear), not on {0}; give --registry-addr 127.0.0.1:PORT")]
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
    /// Where learners' registry passwords come from (the embedded registry's); `None` for an
    /// external registry or none, which layerlab does not hand out credentials for.
    secret: Option<Arc<[u8; 32]>>,
    /// The token issuer's HTTP server (the registry's `realm`); stopped when this is dropped.
    realm: Option<tokio::task::AbortHandle>,
    /// The embedded registry's token issuer: layerlab's own reads (a learner's tags, a
    /// cohort's namespaces) are made with tokens it signs for just what they need.
    issuer: Option<Arc<token::Issuer>>,
    /// The embedded registry's program, configuration and storage: tags are deleted and
    /// garbage collected there (`storage`).
    files: Option<storage::Files>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(realm) = &self.realm {
            realm.abort();
        }
    }
}

/// What a learner types for `docker login` (and what the engine is given to push for them).
#[derive(Clone, serde::Serialize, PartialEq, Eq)]
pub struct Credentials {
    /// `127.0.0.1:5100`
    pub registry: String,
    /// The learner's handle, which is also their namespace: `<registry>/<username>/<name>`.
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &"(hidden)")
            .finish()
    }
}

impl Registry {
    /// No registry.
    pub fn off() -> Self {
        Registry {
            mode: "off",
            address: None,
            child: Mutex::new(None),
            secret: None,
            realm: None,
            issuer: None,
            files: None,
        }
    }

    /// Start (or find) the registry the settings name. An embedded one answers before this
    /// returns.
    pub async fn start(
        settings: &RegistrySettings,
        readers: Readers,
    ) -> Result<Self, RegistryError> {
        match settings {
            RegistrySettings::Off => Ok(Registry::off()),
            RegistrySettings::External { address } => Ok(Registry {
                mode: "external",
                address: Some(address_of(address)?),
                child: Mutex::new(None),
                secret: None,
                realm: None,
                issuer: None,
                files: None,
            }),
            RegistrySettings::Embedded {
                program,
                dir,
                addr,
                quota_bytes,
            } => start_embedded(program, dir, *addr, *quota_bytes, readers).await,
        }
    }

    /// `host:port`, as image references name the registry; `None` when there is none.
    pub fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// Whether layerlab hands out logins for this registry (it runs it).
    pub fn hands_out_logins(&self) -> bool {
        self.address.is_some() && self.secret.is_some()
    }

    /// The credentials of the learner whose handle is `handle` on the embedded registry;
    /// `None` when layerlab does not run the registry (it has no say there).
    pub fn credentials(&self, handle: &str) -> Option<Credentials> {
        Some(Credentials {
            registry: self.address.clone()?,
            username: handle.to_string(),
            password: password_of(self.secret.as_deref()?, handle),
        })
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
fn config_text(
    data: &Path,
    addr: std::net::SocketAddr,
    secret: &str,
    realm: &str,
    certificates: &Path,
) -> String {
    let quoted = |path: &Path| serde_json::to_string(&path.to_string_lossy()).unwrap_or_default();
    format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
         http:\n  addr: \"{addr}\"\n  secret: {secret}\n  headers:\n    X-Content-Type-Options: [nosniff]\n\
         auth:\n  token:\n    realm: {realm}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {certificates}\n",
        data = quoted(data),
        certificates = quoted(certificates),
    )
}

async fn start_embedded(
    program: &Path,
    dir: &Path,
    addr: std::net::SocketAddr,
    quota_bytes: u64,
    readers: Readers,
) -> Result<Registry, RegistryError> {
    if !addr.ip().is_loopback() {
        return Err(RegistryError::NotLoopback(addr));
    }
    let folder = |cause| RegistryError::Folder {
        dir: dir.to_path_buf(),
        cause,
    };
    private_folder(dir).map_err(folder)?;
    let data = dir.join("data");
    private_folder(&data).map_err(folder)?;
    let data = data.canonicalize().map_err(folder)?;
    let http_secret = uuid::Uuid::new_v4().simple().to_string();
    // The token issuer: a new key each start, its certificate the registry's trust root.
    let issuer = token::Issuer::new(TOKEN_ISSUER, TOKEN_SERVICE)
        .map_err(|e| RegistryError::Token(e.to_string()))?;
    let certificates = dir.join("token-signer.pem");
    write_private(&certificates, issuer.certificate_pem.as_bytes()).map_err(folder)?;
    let certificates = certificates.canonicalize().map_err(folder)?;
    let secret = Arc::new(learner_secret(dir).map_err(folder)?);
    let issuer = Arc::new(issuer);
    let quota = storage::Quota {
        data: data.clone(),
        bytes: quota_bytes,
        recent: Arc::default(),
    };
    let (realm, realm_task) = serve_realm(issuer.clone(), secret.clone(), quota.clone(), readers)
        .await
        .map_err(folder)?;
    // Until the registry answers, the realm is stopped on every way out.
    let realm_task = StopUnlessKept(Some(realm_task));
    let config = dir.join("config.yml");
    let log_path = dir.join("registry.log");
    // A port we chose (port 0) was free when we looked; another program may take it before
    // the registry binds it (many servers start at once in a class's tests): then choose
    // again. A port the operator gave is tried once.
    let tries = if addr.port() == 0 { 5 } else { 1 };
    for attempt in 1..=tries {
        // The registry cannot report the port it took, so it is chosen here. A given port
        // must be free: a registry already there would answer in place of ours.
        let port = std::net::TcpListener::bind(addr)
            .and_then(|l| l.local_addr())
            .map_err(|cause| RegistryError::PortTaken { addr, cause })?;
        let text = config_text(&data, port, &http_secret, &realm, &certificates);
        write_private(&config, text.as_bytes()).map_err(folder)?;
        let child = spawn(program, &config, &log_path).map_err(|e| match e {
            Spawn::Folder(cause) => folder(cause),
            Spawn::Program(cause) => RegistryError::Program {
                program: program.display().to_string(),
                cause,
            },
        })?;
        let mut registry = Registry {
            mode: "embedded",
            address: Some(port.to_string()),
            child: Mutex::new(Some(child)),
            secret: Some(secret.clone()),
            realm: None,
            issuer: Some(issuer.clone()),
            files: Some(storage::Files {
                program: program.to_path_buf(),
                config: config.canonicalize().unwrap_or_else(|_| config.clone()),
                log: log_path.clone(),
                realm: realm.clone(),
                data: data.clone(),
                collecting: Arc::default(),
                quota: quota.clone(),
            }),
        };
        match registry.answers_as(&realm).await {
            Answer::Ours => {
                tracing::info!(address = %port, folder = %dir.display(), "the class registry runs");
                registry.realm = realm_task.keep();
                return Ok(registry);
            }
            Answer::Exited if attempt < tries => {
                tracing::info!(address = %port, "the class registry could not take its port; choosing another");
            }
            Answer::Exited | Answer::Silent => {
                return Err(RegistryError::NoAnswer {
                    address: port.to_string(),
                    log: std::fs::read_to_string(&log_path).unwrap_or_default(),
                });
            }
        }
    }
    unreachable!("the last try returns")
}

/// A task aborted when this is dropped, unless [`StopUnlessKept::keep`] took it.
struct StopUnlessKept(Option<tokio::task::AbortHandle>);

impl StopUnlessKept {
    fn keep(mut self) -> Option<tokio::task::AbortHandle> {
        self.0.take()
    }
}

impl Drop for StopUnlessKept {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

enum Spawn {
    Folder(std::io::Error),
    Program(std::io::Error),
}

/// Start the registry program on `config`, its output to `log_path`.
fn spawn(program: &Path, config: &Path, log_path: &Path) -> Result<tokio::process::Child, Spawn> {
    let log = open_private(log_path).map_err(Spawn::Folder)?;
    let mut command = tokio::process::Command::new(program);
    // Nothing of layerlab's environment reaches it: the registry lets `REGISTRY_*` variables
    // override its configuration (its address, its trust root).
    command
        .env_clear()
        .arg("serve")
        .arg(config)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(Spawn::Folder)?)
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
    command.spawn().map_err(Spawn::Program)
}

/// How a registry just started turned out.
enum Answer {
    /// It answers with our realm.
    Ours,
    /// Its process ended (its port was taken, say).
    Exited,
    /// No answer of ours within [`START_TIMEOUT`].
    Silent,
}

impl Registry {
    /// Wait for the registry to answer with `realm`: another program that took the port
    /// would not (and must not get learners' passwords).
    async fn answers_as(&self, realm: &str) -> Answer {
        let Some(address) = self.address.as_deref() else {
            return Answer::Silent;
        };
        let expected = format!("realm=\"{realm}\"");
        let started = std::time::Instant::now();
        loop {
            if self.exited().is_some() {
                return Answer::Exited;
            }
            if started.elapsed() > START_TIMEOUT {
                return Answer::Silent;
            }
            if challenge(address)
                .await
                .is_some_and(|c| c.contains(&expected))
            {
                return Answer::Ours;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The key learners' registry passwords are made with, kept in the registry's folder so that
/// passwords stay the same from one start to the next. A secret file that anyone else could
/// have read or written, or that is not 32 bytes, stops the start rather than being used or
/// silently replaced (which would change every learner's password).
fn learner_secret(dir: &Path) -> std::io::Result<[u8; 32]> {
    use std::io::Read;
    let path = dir.join("learner-secret");
    match std::fs::symlink_metadata(&path) {
        Ok(meta) => {
            check_private(&path, &meta)?;
            let mut bytes = Vec::new();
            open_nofollow(&path)?.read_to_end(&mut bytes)?;
            <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                std::io::Error::other(format!(
                    "{} is not a 32-byte secret; remove it to make a new one (every learner's registry password changes)",
                    path.display()
                ))
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
                .map_err(|_| std::io::Error::other("no random numbers"))?;
            write_private(&path, &secret)?;
            Ok(secret)
        }
        Err(e) => Err(e),
    }
}

/// A folder only this user may enter: made so, or refused when it is someone else's or
/// others may write in it.
fn private_folder(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is not a folder (a link?)",
            dir.display()
        )));
    }
    check_owner_and_mode(dir, &meta, 0o022)
}

/// `path` is a regular file of ours that no one else may read or write.
fn check_private(path: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    if !meta.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file (a link?)",
            path.display()
        )));
    }
    check_owner_and_mode(path, meta, 0o077)
}

fn check_owner_and_mode(
    path: &Path,
    meta: &std::fs::Metadata,
    forbidden: u32,
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(std::io::Error::other(format!(
            "{} belongs to another user (uid {})",
            path.display(),
            meta.uid()
        )));
    }
    if meta.mode() & forbidden != 0 {
        return Err(std::io::Error::other(format!(
            "{} may be {} by others (mode {:o}); chmod go-rwx it",
            path.display(),
            if forbidden == 0o022 {
                "written"
            } else {
                "read or written"
            },
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

fn open_nofollow(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Open `path` for writing from the start, mode 0600, never through a link.
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    check_private(path, &file.metadata()?)?;
    Ok(file)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    open_private(path)?.write_all(bytes)
}

/// A learner's registry password: a MAC of their handle, so that nothing is stored per
/// learner and only layerlab can hand one out.
fn password_of(secret: &[u8; 32], handle: &str) -> String {
    use hmac::Mac;
    password_mac(secret, handle).finalize().into_bytes()[..PASSWORD_BYTES]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bytes of the MAC a password shows (in hex).
const PASSWORD_BYTES: usize = 16;

fn password_mac(secret: &[u8; 32], handle: &str) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(format!("layerlab registry password|{handle}").as_bytes());
    mac
}

/// Whether `password` is `handle`'s, compared in constant time.
fn password_ok(secret: &[u8; 32], handle: &str, password: &str) -> bool {
    use hmac::Mac;
    let given: Option<Vec<u8>> = (password.len() == 2 * PASSWORD_BYTES)
        .then(|| {
            (0..PASSWORD_BYTES)
                .map(|i| u8::from_str_radix(password.get(2 * i..2 * i + 2)?, 16).ok())
                .collect()
        })
        .flatten();
    given.is_some_and(|given| {
        password_mac(secret, handle)
            .verify_truncated_left(&given)
            .is_ok()
    })
}

/// The learner's handle in the class registry, which is also their namespace there
/// (`<registry>/<handle>/<name>:<tag>`): made from their id, so it never changes.
pub fn handle_of(learner_id: &str) -> String {
    let id: String = learner_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(12)
        .collect();
    format!("learner-{id}")
}

/// An instructor's username in the class registry: made from their id like a learner's
/// handle, under another prefix, so that it can never be a learner's namespace. It reads
/// (pulls) in the namespaces of the learners of the instructor's cohorts and pushes nowhere.
pub fn instructor_handle(instructor_id: &str) -> String {
    handle_of(instructor_id).replacen("learner-", INSTRUCTOR_PREFIX, 1)
}

const INSTRUCTOR_PREFIX: &str = "instructor-";

/// The id prefix (12 letters or digits) of an instructor's registry username; `None` for
/// anyone else's.
pub fn instructor_id_prefix(username: &str) -> Option<&str> {
    username
        .strip_prefix(INSTRUCTOR_PREFIX)
        .filter(|rest| !rest.is_empty())
}

impl Registry {
    /// The `docker login` of the instructor whose id is `instructor_id`, at their
    /// `credential_version`: it pulls from their cohorts' namespaces only, until their
    /// password is reset. `None` when layerlab does not run the registry.
    pub fn instructor_credentials(
        &self,
        instructor_id: &str,
        credential_version: i64,
    ) -> Option<Credentials> {
        let handle = instructor_handle(instructor_id);
        Some(Credentials {
            registry: self.address.clone()?,
            password: password_of(
                self.secret.as_deref()?,
                &versioned(&handle, credential_version),
            ),
            username: handle,
        })
    }
}

/// What an instructor's registry password is made from: their handle and credential version.
fn versioned(handle: &str, credential_version: i64) -> String {
    format!("{handle}|v{credential_version}")
}

/// Whether `c` is one component of a repository path as registries accept it: lowercase
/// letters and digits in runs joined by one `.`, one or two `_`, or any number of `-`
/// (distribution's `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`).
/// Whether `tag` may be an image's tag: up to 128 letters, digits, `.`, `_` and `-`, not
/// starting with `.` or `-`.
pub fn is_tag(tag: &str) -> bool {
    tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub fn is_path_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &c[start..i];
        let allowed = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !allowed {
            return false;
        }
    }
    true
}

/// Whether `handle` can be a namespace: what layerlab makes (lowercase letters and digits,
/// with inner dashes), so a token can never name another path.
pub fn is_handle(handle: &str) -> bool {
    !handle.is_empty()
        && handle.len() <= 40
        && handle
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !handle.starts_with('-')
        && !handle.ends_with('-')
}

/// Serve the token issuer on a free loopback port: the registry's `realm`. Its URL, and the
/// task to stop it with.
async fn serve_realm(
    issuer: Arc<token::Issuer>,
    secret: Arc<[u8; 32]>,
    quota: storage::Quota,
    readers: Readers,
) -> std::io::Result<(String, tokio::task::AbortHandle)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let realm = format!("http://{}/token", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/token",
        axum::routing::get(
            // Pairs, not a map: a client may ask for several `scope`s.
            move |headers: http::HeaderMap,
                  axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>| {
                let (issuer, secret, quota, readers) =
                    (issuer.clone(), secret.clone(), quota.clone(), readers.clone());
                async move {
                    let Some((handle, password)) = basic_login(&headers) else {
                        return refused_login();
                    };
                    let may = if instructor_id_prefix(&handle).is_some() {
                        let reader = match readers(handle.clone()).await {
                            Ok(reader) => reader,
                            Err(e) => {
                                tracing::error!("finding the namespaces {handle} reads: {e}");
                                None
                            }
                        };
                        match reader {
                            Some(reader)
                                if password_ok(
                                    &secret,
                                    &versioned(&handle, reader.credential_version),
                                    &password,
                                ) =>
                            {
                                May::Read(reader.namespaces)
                            }
                            _ => return refused_login(),
                        }
                    } else if password_ok(&secret, &handle, &password) {
                        // A namespace at its quota gets no push: the registry then refuses it.
                        May::Own {
                            full: quota.reached(&handle).await,
                        }
                    } else {
                        return refused_login();
                    };
                    issue(&issuer, &handle, &query, may)
                }
            },
        ),
    );
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("the registry's token issuer stopped: {e}");
        }
    });
    Ok((realm, task.abort_handle()))
}

/// What a logged-in username may be granted.
enum May {
    /// A learner: pull and push in their own namespace (no push when it is `full`).
    Own { full: bool },
    /// An instructor: pull in these namespaces.
    Read(Vec<String>),
}

/// 401 for a request without a known username and its password.
fn refused_login() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        http::StatusCode::UNAUTHORIZED,
        [(http::header::WWW_AUTHENTICATE, "Basic realm=\"layerlab registry\"")],
        axum::Json(serde_json::json!({"errors": [{"code": "UNAUTHORIZED", "message": "a registry username and password from layerlab are needed (GET /api/v1/registry/login gives a learner theirs, GET /api/v1/instructor/registry/login an instructor theirs)"}]})),
    )
        .into_response()
}

/// `GET /token?service=…&scope=…` for the logged-in `handle`: a token with what they may do
/// of what they asked (a learner: nothing outside their namespace; an instructor: pulls in
/// their cohorts' namespaces only).
fn issue(
    issuer: &token::Issuer,
    handle: &str,
    query: &[(String, String)],
    may: May,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let grant = |asked: token::Access| match &may {
        May::Own { full } => token::granted(handle, &asked).and_then(|mut granted| {
            if *full {
                granted.actions.retain(|a| a != "push");
            }
            (!granted.actions.is_empty()).then_some(granted)
        }),
        May::Read(namespaces) => token::granted_to_reader(namespaces, &asked),
    };
    let mut access = Vec::new();
    let mut service_ok = true;
    for (key, value) in query {
        match key.as_str() {
            "scope" => access.extend(
                value
                    .split(' ')
                    .filter_map(token::parse_scope)
                    .filter_map(grant),
            ),
            "service" => service_ok &= *value == issuer.service,
            _ => {}
        }
    }
    if !service_ok {
        return (http::StatusCode::BAD_REQUEST, "a token for another service").into_response();
    }
    match issuer.token(handle, &access, std::time::SystemTime::now()) {
        Ok(token) => axum::Json(serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": token::TOKEN_LIFETIME.as_secs(),
        }))
        .into_response(),
        Err(e) => {
            tracing::error!("issuing a registry token: {e}");
            http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The username (a handle) and password of a request's Basic credentials.
fn basic_login(headers: &http::HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    is_handle(user).then(|| (user.to_string(), password.to_string()))
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

/// The `WWW-Authenticate` challenge `GET /v2/` answers with, if any.
async fn challenge(address: &str) -> Option<String> {
    let url = format!("http://{address}/v2/");
    let (_, headers) = tokio::time::timeout(PROBE_TIMEOUT, get(&url))
        .await
        .ok()?
        .ok()?;
    Some(
        headers
            .get(http::header::WWW_AUTHENTICATE)?
            .to_str()
            .ok()?
            .to_string(),
    )
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
            "http://127.0.0.1:41000/token",
            Path::new("/var/lib/layerlab registry/token-signer.pem"),
        );
        assert!(
            text.contains("realm: http://127.0.0.1:41000/token"),
            "{text}"
        );
        assert!(
            text.contains("rootcertbundle: \"/var/lib/layerlab registry/token-signer.pem\""),
            "{text}"
        );
        assert!(text.contains("addr: \"127.0.0.1:5100\""), "{text}");
        assert!(
            text.contains("rootdirectory: \"/var/lib/layerlab registry/data\""),
            "{text}"
        );
        assert!(text.contains("delete:\n    enabled: true"), "{text}");
    }

    #[test]
    fn only_the_handles_password_opens_its_namespace() {
        use base64::Engine;
        let secret = [7u8; 32];
        let basic = |user: &str, password: &str| {
            let mut headers = http::HeaderMap::new();
            let value =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            headers.insert(
                http::header::AUTHORIZATION,
                format!("Basic {value}").parse().expect("header"),
            );
            headers
        };
        // A learner's login: the password is the MAC of their handle.
        let learner = |headers: &http::HeaderMap, secret: &[u8; 32]| {
            basic_login(headers)
                .filter(|(user, password)| password_ok(secret, user, password))
                .map(|(user, _)| user)
        };
        let alice = password_of(&secret, "alice");
        assert_eq!(alice.len(), 32);
        assert_eq!(
            learner(&basic("alice", &alice), &secret).as_deref(),
            Some("alice")
        );
        assert_eq!(learner(&basic("bob", &alice), &secret), None);
        assert_eq!(learner(&basic("alice", "guess"), &secret), None);
        assert_eq!(learner(&basic("alice", &alice), &[8u8; 32]), None);
        // A name that is no handle is refused before any password is compared.
        let dotted = password_of(&secret, "../bob");
        assert_eq!(basic_login(&basic("../bob", &dotted)), None);
        assert_eq!(basic_login(&http::HeaderMap::new()), None);
        // An instructor's: the MAC of their handle at their credential version, so a reset
        // of their password changes it; it is never the bare handle's.
        let teacher = "instructor-0123456789ab";
        let at_one = password_of(&secret, &versioned(teacher, 1));
        assert!(password_ok(&secret, &versioned(teacher, 1), &at_one));
        assert!(!password_ok(&secret, &versioned(teacher, 2), &at_one));
        assert!(!password_ok(&secret, teacher, &at_one));
        assert_ne!(at_one, password_of(&secret, teacher));
    }

    #[test]
    fn path_components_follow_the_registrys_grammar() {
        for good in [
            "app", "my-app", "my--app", "my_app", "my__app", "my.app", "a1.b2-c3",
        ] {
            assert!(is_path_component(good), "{good}");
        }
        for bad in [
            "", "App", "-app", "app-", ".app", "a..b", "a___b", "a._b", "a_.b", "a-_b", "a_-b",
            "a.-b", "a/b", "a b",
        ] {
            assert!(!is_path_component(bad), "{bad:?}");
        }
    }

    #[test]
    fn handles_are_lowercase_words() {
        for good in ["alice", "l3f9a2", "ada-lovelace"] {
            assert!(is_handle(good), "{good}");
        }
        for bad in [
            "",
            "Alice",
            "a/b",
            "-a",
            "a-",
            "a.b",
            "a_b",
            &"x".repeat(41),
        ] {
            assert!(!is_handle(bad), "{bad:?}");
        }
    }
}
