//! The Docker engine, through bollard: connecting and telling in plain words whether it can
//! build right now ([`Engine::status`]), packing a learner's files ([`context`]), building
//! them ([`builder`]), reading what was built ([`image`]), running it ([`run`]), and making base
//! images where no registry is reachable ([`seed`]).

pub mod builder;
mod cgroup;
pub mod cleanup;
pub mod console_state;
pub mod usage;
pub use cgroup::BuildCgroup;
pub mod context;
pub mod disk;
pub mod image;
pub mod layers;
mod netns;
pub mod push;
pub mod relay;
pub mod run;
pub mod seed;
pub mod toolbox;

use app::dto::{BaseImageStatus, EngineStatus};
use bollard::Docker;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The engine address used when neither `--docker-host` nor `DOCKER_HOST` says otherwise.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// How long a status probe waits for the engine before calling it unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a page may show an engine status before the engine is asked again. Every page
/// carries the engine banner; asking on each render cost five engine requests per page.
const STATUS_MAX_AGE: Duration = Duration::from_secs(2);

/// A status probe is a version request and an inspection per base image, each bounded by
/// `PROBE_TIMEOUT`; a refresh claimed longer ago than this is taken over.
const REFRESH_CLAIM_LIMIT: Duration = Duration::from_secs(30);

/// Held by the page refreshing the engine status; released when dropped.
struct RefreshClaim<'a>(&'a std::sync::Mutex<Option<Instant>>);

impl Drop for RefreshClaim<'_> {
    fn drop(&mut self) {
        *lock(self.0) = None;
    }
}

use crate::sync::lock;

/// A connection to the engine that speaks its API version: what the rest of the server holds
/// to build, inspect, run, list and remove. Only `engine/` sees the bollard client inside, so
/// every call to the engine is written here, in this module's own words and types.
#[derive(Clone)]
pub struct Client {
    docker: Docker,
    host: std::sync::Arc<str>,
    held: HeldNames,
}

/// Names that a push or a pull of layerlab's put on the engine and that layerlab has not
/// taken off yet: the image under such a name is in use (being pushed, or the base of a
/// build) and clean-ups leave it alone. A name is held from the moment it is put on until
/// [`Client::untag`] takes it off.
#[derive(Clone, Default)]
struct HeldNames(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl Client {
    /// The engine's address, as the operator gave it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Hold `name` until [`Client::untag`] takes it off.
    fn hold(&self, name: &str) {
        lock(&self.held.0).insert(name.to_string());
    }

    /// Whether one of `names` is held by a push or pull in flight.
    pub fn holds_any(&self, names: &[String]) -> bool {
        let held = lock(&self.held.0);
        names.iter().any(|n| held.contains(n))
    }

    fn release(&self, name: &str) {
        lock(&self.held.0).remove(name);
    }
}

pub struct Engine {
    host: String,
    client: Result<Docker, String>,
    /// bollard defaults to a newer API than Debian's engine speaks; negotiate once it answers.
    negotiated: AtomicBool,
    /// The last status [`Engine::recent_status`] asked for, and when. No lock is held while
    /// asking: a page's render may be set aside unpolled, and a lock it held would stall
    /// every other page.
    recent: std::sync::Mutex<Option<(Instant, EngineStatus)>>,
    recent_max_age: Duration,
    /// When the one refresh under way began; meanwhile other pages show the previous status.
    refreshing: std::sync::Mutex<Option<Instant>>,
    /// Names pushes and pulls hold on the engine (shared by every client of this engine).
    held: HeldNames,
    /// Status probes sent to the engine (each one a version request plus an inspection per
    /// base image).
    probes: AtomicU64,
}

impl Engine {
    /// Set up the client; this does not touch the engine, so it works while it is down.
    pub fn new(host: Option<&str>) -> Self {
        let host = host
            .filter(|h| !h.is_empty())
            .unwrap_or(DEFAULT_DOCKER_HOST)
            .to_string();
        let client = Docker::connect_with_host(&host).map_err(|e| describe(&host, &e));
        Engine {
            host,
            client,
            negotiated: AtomicBool::new(false),
            recent: std::sync::Mutex::new(None),
            recent_max_age: STATUS_MAX_AGE,
            refreshing: std::sync::Mutex::new(None),
            probes: AtomicU64::new(0),
            held: HeldNames::default(),
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// A client that speaks the engine's API version, or why there is none.
    pub async fn client(&self) -> Result<Client, String> {
        Ok(Client {
            docker: self.docker().await?,
            host: self.host.as_str().into(),
            held: self.held.clone(),
        })
    }

    async fn docker(&self) -> Result<Docker, String> {
        let docker = self.client.clone()?;
        if !self.negotiated.load(Ordering::Acquire) {
            // bollard shares the negotiated version with every clone of the client.
            let _negotiated =
                tokio::time::timeout(PROBE_TIMEOUT, docker.clone().negotiate_version())
                    .await
                    .map_err(|_| format!("no answer within {} s", PROBE_TIMEOUT.as_secs()))?
                    .map_err(|e| describe(&self.host, &e))?;
            self.negotiated.store(true, Ordering::Release);
        }
        Ok(docker)
    }

    /// A client, after checking that the engine answers right now (a ping): used before
    /// accepting a build, so an engine that went away is reported at once.
    pub async fn check(&self) -> Result<Client, String> {
        let client = self.client().await?;
        match tokio::time::timeout(PROBE_TIMEOUT, client.docker.ping()).await {
            Ok(Ok(_)) => Ok(client),
            Ok(Err(e)) => Err(describe(&self.host, &e)),
            Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
        }
    }

    /// [`Engine::status`] as of at most two seconds ago (for the banner on every page);
    /// `/api/v1/status` asks the engine afresh.
    /// When the status is old, one page asks again and the others keep the old one meanwhile
    /// (only the very first pages, with nothing known yet, all ask).
    pub async fn recent_status(&self, base_images: &[String]) -> EngineStatus {
        let known = lock(&self.recent).clone();
        let _refresh = match known {
            Some((at, status)) if at.elapsed() < self.recent_max_age => return status,
            Some((_, old)) => match self.claim_refresh() {
                Some(claim) => Some(claim),
                None => return old,
            },
            None => None,
        };
        let status = self.status(base_images).await;
        *lock(&self.recent) = Some((Instant::now(), status.clone()));
        status
    }

    /// The right to refresh the status, unless another page holds it. A claim ends when it is
    /// dropped, or, should its holder never be polled again, after `REFRESH_CLAIM_LIMIT`.
    fn claim_refresh(&self) -> Option<RefreshClaim<'_>> {
        let mut refreshing = lock(&self.refreshing);
        if refreshing.is_some_and(|since| since.elapsed() < REFRESH_CLAIM_LIMIT) {
            return None;
        }
        *refreshing = Some(Instant::now());
        Some(RefreshClaim(&self.refreshing))
    }

    /// Whether the engine answers, its version, and which of `base_images` it has.
    pub async fn status(&self, base_images: &[String]) -> EngineStatus {
        self.probes.fetch_add(1, Ordering::Relaxed);
        let mut status = EngineStatus {
            docker_host: self.host.clone(),
            reachable: false,
            version: None,
            api_version: None,
            problem: None,
            base_images: base_images
                .iter()
                .map(|b| BaseImageStatus {
                    name: b.clone(),
                    present: false,
                })
                .collect(),
            images: Vec::new(),
        };
        let docker = match self.docker().await {
            Ok(d) => d,
            Err(problem) => {
                status.problem = Some(problem);
                return status;
            }
        };
        match tokio::time::timeout(PROBE_TIMEOUT, docker.version()).await {
            Ok(Ok(v)) => {
                status.reachable = true;
                status.version = v.version;
                status.api_version = v.api_version;
            }
            Ok(Err(e)) => {
                status.problem = Some(describe(&self.host, &e));
                return status;
            }
            Err(_) => {
                status.problem = Some(format!("no answer within {} s", PROBE_TIMEOUT.as_secs()));
                return status;
            }
        }
        for image in &mut status.base_images {
            image.present = docker.inspect_image(&image.name).await.is_ok();
        }
        status
    }
}

/// What the engine does to keep a build's or run's processes from the host, read from its
/// `/info`: user namespaces (`userns-remap`), rootless mode, the seccomp profile, AppArmor or
/// SELinux, and the cgroup version. Without user namespaces or rootless mode, root in a
/// build step is root on the host, held back only by capabilities, seccomp and cgroups.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Isolation {
    /// Container root is mapped to an unprivileged host user (`userns-remap`).
    pub user_namespaces: bool,
    /// The engine itself runs as an unprivileged user.
    pub rootless: bool,
    /// The seccomp profile containers get (`default`, `builtin`, a file), if seccomp is on.
    pub seccomp: Option<String>,
    pub apparmor: bool,
    pub selinux: bool,
    /// `1` or `2`.
    pub cgroup_version: Option<String>,
    pub cgroup_driver: Option<String>,
    /// The engine's own words (`SecurityOptions`), e.g. `name=seccomp,profile=default`.
    pub security_options: Vec<String>,
    /// No user namespace and not rootless: a build's root is the host's root.
    pub builds_run_as_host_root: bool,
    /// One line for people: what the engine offers.
    pub summary: String,
    /// What an operator should know, when something is missing.
    pub warning: Option<String>,
}

impl Isolation {
    pub fn from_info(info: &bollard::models::SystemInfo) -> Self {
        let options = info.security_options.clone().unwrap_or_default();
        // Each entry is `name=X[,key=value…]`.
        let entry = |wanted: &str| {
            options.iter().find_map(|o| {
                let mut fields = o.split(',');
                (fields.next()? == format!("name={wanted}")).then(|| fields.collect::<Vec<_>>())
            })
        };
        let user_namespaces = entry("userns").is_some();
        let rootless = entry("rootless").is_some();
        let seccomp = entry("seccomp").map(|fields| {
            fields
                .iter()
                .find_map(|f| f.strip_prefix("profile="))
                .unwrap_or("default")
                .to_string()
        });
        let apparmor = entry("apparmor").is_some();
        let selinux = entry("selinux").is_some();
        let text = |v: Option<String>| v.filter(|v| !v.is_empty());
        let cgroup_version = text(info.cgroup_version.map(|v| v.to_string()));
        let cgroup_driver = text(info.cgroup_driver.map(|v| v.to_string()));
        let builds_run_as_host_root = !user_namespaces && !rootless;
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let summary = format!(
            "user namespaces (userns-remap): {}; rootless: {}; seccomp: {}; AppArmor: {}; SELinux: {}; cgroup v{} ({})",
            yes_no(user_namespaces),
            yes_no(rootless),
            seccomp.as_deref().map_or("off".to_string(), |p| format!("on, profile {p}")),
            yes_no(apparmor),
            yes_no(selinux),
            cgroup_version.as_deref().unwrap_or("?"),
            cgroup_driver.as_deref().unwrap_or("driver unknown"),
        );
        let mut missing = Vec::new();
        if builds_run_as_host_root {
            missing.push(
                "builds and runs execute as the host's real root (no user-namespace remapping, not rootless): a learner who escaped a container would be root on this host. Run a dedicated engine with \"userns-remap\": \"default\" (see the README's operator notes)",
            );
        }
        if seccomp.as_deref().is_none_or(|p| p == "unconfined") {
            missing.push("containers run without a seccomp profile");
        }
        let warning = (!missing.is_empty()).then(|| missing.join("; "));
        Isolation {
            user_namespaces,
            rootless,
            seccomp,
            apparmor,
            selinux,
            cgroup_version,
            cgroup_driver,
            security_options: options,
            builds_run_as_host_root,
            summary,
            warning,
        }
    }
}

impl Engine {
    /// How the engine isolates containers (its `/info`), or why it cannot tell.
    pub async fn isolation(&self) -> Result<Isolation, String> {
        let docker = self.docker().await?;
        match tokio::time::timeout(PROBE_TIMEOUT, docker.info()).await {
            Ok(Ok(info)) => Ok(Isolation::from_info(&info)),
            Ok(Err(e)) => Err(describe(&self.host, &e)),
            Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
        }
    }
}

/// What `seed_base_image` did.
#[derive(Debug, PartialEq, Eq)]
pub enum SeedOutcome {
    AlreadyPresent,
    Created,
}

impl Engine {
    /// Make `reference` on the engine from the host (see [`seed`]), unless it is already there
    /// and `force` is off.
    pub async fn seed_base_image(
        &self,
        reference: &str,
        force: bool,
        busybox: &std::path::Path,
        trust_host_ca: bool,
    ) -> anyhow::Result<SeedOutcome> {
        let recipe = seed::Recipe::for_reference(reference)?;
        let docker = self
            .docker()
            .await
            .map_err(|e| anyhow::anyhow!("the Docker engine is unavailable: {e}"))?;
        if !force && docker.inspect_image(reference).await.is_ok() {
            return Ok(SeedOutcome::AlreadyPresent);
        }
        match recipe {
            seed::Recipe::Busybox => seed::seed_busybox(&docker, reference, busybox).await?,
            seed::Recipe::Debian(suite) => {
                seed::seed_debian(&docker, reference, suite, trust_host_ca).await?
            }
            seed::Recipe::Derived(recipe) => {
                if docker.inspect_image(recipe.base).await.is_err() {
                    let suite = match seed::Recipe::for_reference(recipe.base)? {
                        seed::Recipe::Debian(suite) => suite,
                        other => anyhow::bail!("{} is not a Debian base: {other:?}", recipe.base),
                    };
                    seed::seed_debian(&docker, recipe.base, suite, trust_host_ca).await?;
                }
                seed::seed_derived(&docker, reference, recipe).await?
            }
        }
        Ok(SeedOutcome::Created)
    }
}

/// Say what a connection failure means for someone who has to fix it.
fn describe(host: &str, err: &bollard::errors::Error) -> String {
    use bollard::errors::Error as E;
    if let E::SocketNotFoundError(path) = err {
        return format!(
            "there is no socket at {path}; is the Docker engine installed and running?"
        );
    }
    if let E::DockerResponseServerError {
        status_code,
        message,
    } = err
    {
        return format!("the engine answered {status_code}: {message}");
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            return match io.kind() {
                K::NotFound => format!("there is no socket at {}; is the Docker engine installed and running?", socket_path(host)),
                K::ConnectionRefused => format!("{host} refused the connection; is dockerd running?"),
                K::PermissionDenied => format!("permission denied on {host}; run layerlab as root or as a member of the docker group"),
                _ => format!("cannot reach {host}: {io}"),
            };
        }
        source = e.source();
    }
    format!("cannot reach {host}: {err}")
}

/// `text` (a [`describe`] of a connection failure) without where the engine is: what a
/// learner reads. Its address is for the operator and instructors (`/api/v1/status`).
pub fn without_address(host: &str, text: &str) -> String {
    text.replace(host, "the engine")
        .replace(socket_path(host), "the engine's address")
}

/// Remove terminal colour and cursor codes (`ESC [ … letter`): the engine wraps stderr in them.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn socket_path(host: &str) -> &str {
    host.strip_prefix("unix://").unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker(args: &[&str]) -> std::process::Output {
        std::process::Command::new("docker")
            .args(args)
            .output()
            .expect("the docker CLI runs")
    }

    /// Run `script` with `sh -c` in a seeded image (no network), read its seed label, remove
    /// the image; the script's output and the label.
    fn run_and_remove(reference: &str, script: &str) -> (String, String) {
        let run = docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            reference,
            "sh",
            "-c",
            script,
        ]);
        let label = docker(&[
            "image",
            "inspect",
            "--format",
            &format!("{{{{ index .Config.Labels \"{}\" }}}}", seed::SEEDED_LABEL),
            reference,
        ]);
        let _ = docker(&["image", "rm", "-f", reference]);
        assert!(
            run.status.success(),
            "{reference}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        (
            String::from_utf8_lossy(&run.stdout).into_owned(),
            String::from_utf8_lossy(&label.stdout).trim().to_string(),
        )
    }

    /// Real engine: seed a uniquely named busybox, run a container from it, remove it.
    #[tokio::test]
    async fn seeded_busybox_runs_a_shell_as_root_with_a_sticky_tmp() {
        let engine = Engine::new(None);
        let reference = format!("busybox:layerlab-test-{}", std::process::id());
        let outcome = engine
            .seed_base_image(
                &reference,
                false,
                std::path::Path::new(seed::HOST_BUSYBOX),
                false,
            )
            .await
            .unwrap_or_else(|e| panic!("seeding needs the engine and busybox-static: {e:#}"));
        assert_eq!(outcome, SeedOutcome::Created);
        let again = engine
            .seed_base_image(
                &reference,
                false,
                std::path::Path::new(seed::HOST_BUSYBOX),
                false,
            )
            .await;
        assert_eq!(
            again.ok(),
            Some(SeedOutcome::AlreadyPresent),
            "seeding twice keeps the image"
        );

        let (out, label) = run_and_remove(
            &reference,
            "echo hello from busybox; id -u; stat -c %a /tmp; grep -c . /etc/passwd; wget --help >/dev/null 2>&1 && echo wget",
        );
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["hello from busybox", "0", "1777", "2", "wget"]
        );
        assert_eq!(label, "busybox-static");
    }

    /// Real engine and the host's Debian mirror: debootstrap a minimal bookworm, check it has
    /// apt and useradd (what busybox lacks), and remove it. Takes about a minute.
    #[tokio::test]
    async fn a_debian_base_is_made_with_debootstrap() {
        let engine = Engine::new(None);
        let reference = format!("debian:bookworm-layerlab-test-{}", std::process::id());
        engine
            .seed_base_image(
                &reference,
                false,
                std::path::Path::new(seed::HOST_BUSYBOX),
                true,
            )
            .await
            .unwrap_or_else(|e| panic!("seeding Debian needs debootstrap and the mirror: {e:#}"));
        let (out, label) = run_and_remove(
            &reference,
            "cat /etc/debian_version; useradd -m app && id -u app; apt-get --version >/dev/null && echo apt; test -s /etc/ssl/certs/ca-certificates.crt && echo ca",
        );
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.first().is_some_and(|v| v.starts_with("12.")), "{out}");
        assert_eq!(lines[1..], ["1000", "apt", "ca"]);
        assert_eq!(label, "debootstrap");
    }

    fn info(options: &[&str], cgroup: &str) -> bollard::models::SystemInfo {
        serde_json::from_value(serde_json::json!({
            "SecurityOptions": options,
            "CgroupVersion": cgroup,
            "CgroupDriver": "cgroupfs",
        }))
        .expect("an info")
    }

    #[test]
    fn isolation_is_read_from_the_engines_security_options() {
        let plain = Isolation::from_info(&info(&["name=seccomp,profile=default"], "1"));
        assert!(!plain.user_namespaces && !plain.rootless);
        assert!(plain.builds_run_as_host_root);
        assert_eq!(plain.seccomp.as_deref(), Some("default"));
        assert_eq!(plain.cgroup_version.as_deref(), Some("1"));
        assert!(plain
            .warning
            .as_deref()
            .is_some_and(|w| w.contains("real root") && w.contains("userns-remap")));
        let remapped = Isolation::from_info(&info(
            &[
                "name=apparmor",
                "name=seccomp,profile=builtin",
                "name=userns",
                "name=cgroupns",
            ],
            "2",
        ));
        assert!(remapped.user_namespaces && !remapped.builds_run_as_host_root);
        assert!(remapped.apparmor);
        assert_eq!(remapped.seccomp.as_deref(), Some("builtin"));
        assert_eq!(remapped.warning, None);
        assert!(
            remapped.summary.contains("cgroup v2"),
            "{}",
            remapped.summary
        );
        let rootless = Isolation::from_info(&info(
            &["name=rootless", "name=seccomp,profile=unconfined"],
            "2",
        ));
        assert!(rootless.rootless && !rootless.builds_run_as_host_root);
        assert!(rootless
            .warning
            .as_deref()
            .is_some_and(|w| w.contains("seccomp")));
    }

    #[tokio::test]
    async fn this_engines_isolation_matches_docker_info() {
        let isolation = Engine::new(None)
            .isolation()
            .await
            .expect("the engine answers");
        let cli = docker(&[
            "info",
            "--format",
            "{{json .SecurityOptions}} {{.CgroupVersion}}",
        ]);
        let cli = String::from_utf8_lossy(&cli.stdout);
        let (options, cgroup) = cli.trim().rsplit_once(' ').expect("two fields");
        let options: Vec<String> = serde_json::from_str(options).expect("json");
        assert_eq!(isolation.security_options, options);
        assert_eq!(isolation.cgroup_version.as_deref(), Some(cgroup));
        assert_eq!(
            isolation.builds_run_as_host_root,
            !options
                .iter()
                .any(|o| o == "name=userns" || o == "name=rootless")
        );
    }

    #[test]
    fn colour_codes_are_stripped() {
        assert_eq!(strip_ansi("\u{1b}[91mboom\u{1b}[0m done"), "boom done");
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[tokio::test]
    async fn a_missing_socket_is_reported_not_fatal() {
        let engine = Engine::new(Some("unix:///nonexistent/layerlab-test.sock"));
        let status = engine.status(&["busybox:latest".to_string()]).await;
        assert!(!status.reachable);
        assert!(!status.builds_available());
        let problem = status.problem.expect("a reason");
        assert!(
            problem.contains("/nonexistent/layerlab-test.sock"),
            "{problem}"
        );
        assert!(problem.contains("running"), "{problem}");
        assert_eq!(
            status.base_images,
            vec![BaseImageStatus {
                name: "busybox:latest".into(),
                present: false
            }]
        );
    }

    #[tokio::test]
    async fn pages_share_a_recent_status_and_ask_again_when_it_is_old() {
        let mut engine = Engine::new(None);
        engine.recent_max_age = Duration::from_millis(300);
        let engine = std::sync::Arc::new(engine);
        let base = vec!["busybox:latest".to_string()];
        let burst = |engine: &std::sync::Arc<Engine>| {
            (0..20)
                .map(|_| {
                    let (engine, base) = (engine.clone(), base.clone());
                    tokio::spawn(async move { engine.recent_status(&base).await })
                })
                .collect::<Vec<_>>()
        };
        assert!(engine.recent_status(&base).await.reachable);
        for page in burst(&engine) {
            assert!(page.await.expect("a page").reachable);
        }
        assert_eq!(
            engine.probes.load(Ordering::Relaxed),
            1,
            "21 pages, one probe"
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        for page in burst(&engine) {
            assert!(page.await.expect("a page").reachable);
        }
        assert_eq!(
            engine.probes.load(Ordering::Relaxed),
            2,
            "an old status is renewed once for a burst of 20 pages"
        );
        // A refresh whose page is never polled again does not hold the others back.
        tokio::time::sleep(Duration::from_millis(350)).await;
        let mut stalled = Box::pin(engine.recent_status(&base));
        assert!(
            futures::poll!(stalled.as_mut()).is_pending(),
            "asks the engine"
        );
        let answer = tokio::time::timeout(Duration::from_secs(5), engine.recent_status(&base));
        assert!(
            answer
                .await
                .expect("an answer while another page stalls")
                .reachable
        );
        drop(stalled);
        assert!(
            lock(&engine.refreshing).is_none(),
            "the claim ends with its page"
        );
    }

    #[test]
    fn learners_read_failures_without_the_engines_address() {
        let unix = "unix:///run/secret/docker.sock";
        assert_eq!(
            without_address(
                unix,
                "there is no socket at /run/secret/docker.sock; is it running?"
            ),
            "there is no socket at the engine's address; is it running?"
        );
        let tcp = "tcp://10.1.2.3:2375";
        let text = without_address(tcp, &format!("{tcp} refused the connection"));
        assert_eq!(text, "the engine refused the connection");
        assert!(!text.contains("10.1.2.3"));
    }

    #[tokio::test]
    async fn a_closed_tcp_port_is_reported() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let host = format!("tcp://127.0.0.1:{port}");
        let status = Engine::new(Some(&host)).status(&[]).await;
        assert!(!status.reachable);
        let problem = status.problem.expect("a reason");
        assert!(
            problem.contains("refused") && problem.contains(&host),
            "{problem}"
        );
    }
}
