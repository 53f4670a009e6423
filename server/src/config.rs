//! Command line and environment: every setting has a flag, an environment variable and a
//! default that works from the repository root.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "layerlab",
    version,
    about = "A Docker workshop in the browser: lessons, quizzes, and real builds on a real engine.",
    args_conflicts_with_subcommands = true,
    args_override_self = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings for `serve`, which is what runs when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeConfig,
}

// Parsed once per process: the size of the serve variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the workshop (the default). A flag given twice takes its last value (so a
    /// wrapper's defaults can be overridden).
    #[command(args_override_self = true)]
    Serve(ServeConfig),
    /// Base images for a classroom without a registry.
    Images {
        #[command(subcommand)]
        action: ImagesCommand,
    },
    /// Instructor accounts (they log in at /instructor).
    Instructor {
        #[command(subcommand)]
        action: InstructorCommand,
    },
    /// Check the course and its exercises and report the first problem.
    CheckCourse {
        #[arg(long, env = "LAYERLAB_CONTENT_DIR", default_value = "content")]
        content_dir: PathBuf,
        #[arg(long, env = "LAYERLAB_EXERCISES_DIR", default_value = "exercises")]
        exercises_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Create the base images the course needs from the host (busybox from busybox-static),
    /// and the docker console's toolbox.
    Seed(SeedArgs),
}

#[derive(Debug, Subcommand)]
pub enum InstructorCommand {
    /// Add an instructor; the password is asked for twice on a terminal, or read as the first
    /// line of standard input (`echo "$PW" | layerlab instructor add alice`).
    Add(InstructorArgs),
}

#[derive(Debug, Args)]
pub struct InstructorArgs {
    /// The login name.
    pub name: String,
    /// Give an existing instructor a new password instead of refusing.
    #[arg(long)]
    pub reset: bool,
    #[arg(
        long,
        env = "LAYERLAB_DATABASE_URL",
        default_value = "sqlite://layerlab.db"
    )]
    pub database_url: String,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Images to create; by default every `base_images` entry of the course and its exercises,
    /// and the console's toolbox (`layerlab/toolbox:1`).
    pub images: Vec<String>,
    /// Re-create images that are already present.
    #[arg(long)]
    pub force: bool,
    /// Copy the host's CA bundle into Debian images (for networks that intercept TLS).
    #[arg(long)]
    pub trust_host_ca: bool,
    /// The static busybox binary to build busybox images from.
    #[arg(long, default_value = crate::engine::seed::HOST_BUSYBOX)]
    pub busybox: PathBuf,
    #[arg(long, env = "LAYERLAB_CONTENT_DIR", default_value = "content")]
    pub content_dir: PathBuf,
    #[arg(long, env = "LAYERLAB_EXERCISES_DIR", default_value = "exercises")]
    pub exercises_dir: PathBuf,
    #[arg(long, env = "DOCKER_HOST", default_value = crate::engine::DEFAULT_DOCKER_HOST)]
    pub docker_host: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, env = "LAYERLAB_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Database for sessions and progress: a SQLite file by default (created if missing).
    #[arg(
        long,
        env = "LAYERLAB_DATABASE_URL",
        default_value = "sqlite://layerlab.db"
    )]
    pub database_url: String,
    /// Directory holding `course.toml` and `lessons/`.
    #[arg(long, env = "LAYERLAB_CONTENT_DIR", default_value = "content")]
    pub content_dir: PathBuf,
    /// Directory with the built browser bundle in `pkg/` (made by `./x wasm`).
    #[arg(long, env = "LAYERLAB_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Directory with the stylesheets.
    #[arg(long, env = "LAYERLAB_STYLE_DIR", default_value = "style")]
    pub style_dir: PathBuf,
    /// Docker engine to build on: unix:///path.sock, tcp://host:port or http://host:port.
    #[arg(long, env = "DOCKER_HOST", default_value = crate::engine::DEFAULT_DOCKER_HOST)]
    pub docker_host: String,
    /// Mark the session cookie `Secure` (set this when serving over HTTPS).
    #[arg(long, env = "LAYERLAB_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Directory with one folder per exercise.
    #[arg(long, env = "LAYERLAB_EXERCISES_DIR", default_value = "exercises")]
    pub exercises_dir: PathBuf,
    /// Lesson pages kept as rendered, shared by learners who would see the same page, in MiB
    /// of HTML (0: render every page afresh).
    #[arg(long, env = "LAYERLAB_PAGE_MEMO_MB", default_value_t = 16)]
    pub page_memo_mb: usize,
    /// Serve exercises with `build_network = true`, whose RUN steps get the engine's default
    /// bridge: from there they reach the host and everything it can reach.
    #[arg(long, env = "LAYERLAB_ALLOW_BUILD_NETWORK")]
    pub allow_build_network: bool,
    /// Finished attempts per learner and exercise whose files and build log are kept (the
    /// newest; the best passing one is kept too). Older attempts keep their result and
    /// summary, which is all tallies and exports count.
    #[arg(long, env = "LAYERLAB_KEEP_ATTEMPT_DETAILS", default_value_t = crate::store::DEFAULT_KEEP_ATTEMPT_DETAILS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub keep_attempt_details: usize,
    /// Free disk the SQLite database's file system must keep, in MiB: below it new builds are
    /// refused with `database_disk_full` (0: not checked; never checked for PostgreSQL).
    #[arg(
        long,
        env = "LAYERLAB_MIN_FREE_DATABASE_DISK_MB",
        default_value_t = 256
    )]
    pub min_free_database_disk_mb: u64,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub edge: EdgeArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// The docker console: each learner's toolbox, their containers, and how long they last.
#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// Where each learner's proxy socket is made (a folder only this server's user can open).
    #[arg(
        long,
        env = "LAYERLAB_CONSOLE_DIR",
        default_value = "layerlab-consoles"
    )]
    pub console_dir: PathBuf,
    /// The toolbox image the console's commands run in (`layerlab images seed` makes it).
    #[arg(
        long,
        env = "LAYERLAB_CONSOLE_TOOLBOX",
        default_value = crate::engine::seed::TOOLBOX_IMAGE
    )]
    pub console_toolbox: String,
    /// Seconds without a command after which a learner's toolbox and containers are stopped
    /// (their next command starts the toolbox again).
    #[arg(long, env = "LAYERLAB_CONSOLE_IDLE_STOP", default_value_t = 1800)]
    pub console_idle_stop: u64,
    /// Seconds without a command after which they are removed, with what the console showed.
    #[arg(long, env = "LAYERLAB_CONSOLE_IDLE_REMOVE", default_value_t = 86400)]
    pub console_idle_remove: u64,
    /// Consoles open at once on this server.
    #[arg(long, env = "LAYERLAB_CONSOLE_MAX_OPEN", default_value_t = 64)]
    pub console_max_open: usize,
    /// Containers one learner may have running at once in the console.
    #[arg(long, env = "LAYERLAB_CONSOLE_MAX_RUNNING", default_value_t = 3)]
    pub console_max_running: usize,
    /// Containers one learner may have in the console, running or not.
    #[arg(long, env = "LAYERLAB_CONSOLE_MAX_CONTAINERS", default_value_t = 10)]
    pub console_max_containers: usize,
    /// What one learner's console containers may write together (their writable layers), in
    /// MiB; past it the biggest are removed, checked every few seconds.
    #[arg(long, env = "LAYERLAB_CONSOLE_DISK_MB", default_value_t = 512)]
    pub console_disk_mb: u64,
    /// Memory for each container a learner runs in the console, in MiB.
    #[arg(long, env = "LAYERLAB_CONSOLE_MEMORY_MB", default_value_t = 128)]
    pub console_memory_mb: i64,
    /// Memory for each learner's toolbox (the docker CLI and the learner's shell), in MiB.
    #[arg(
        long,
        env = "LAYERLAB_CONSOLE_TOOLBOX_MEMORY_MB",
        default_value_t = 256
    )]
    pub console_toolbox_memory_mb: i64,
    /// Console exercises' checks and setups one learner may begin in a minute (each reads
    /// all their containers, and is kept as an attempt); they are a second apart whatever
    /// this says.
    #[arg(
        long,
        env = "LAYERLAB_CONSOLE_CHECKS_PER_MINUTE",
        default_value_t = crate::console::CHECKS_PER_MINUTE
    )]
    pub console_checks_per_minute: usize,
}

impl ConsoleArgs {
    pub fn settings(&self) -> crate::console::ConsoleSettings {
        use std::time::Duration;
        let stop = Duration::from_secs(self.console_idle_stop.max(1));
        crate::console::ConsoleSettings {
            dir: self.console_dir.clone(),
            toolbox_image: self.console_toolbox.clone(),
            idle_stop: stop,
            idle_remove: Duration::from_secs(self.console_idle_remove).max(stop),
            max_open: self.console_max_open,
            limits: crate::policy::container::ContainerLimits {
                memory_bytes: self.console_memory_mb.max(16) << 20,
                cpus: 0.5,
                pids: 64,
                log_max: "1m".into(),
                max_running: self.console_max_running,
                max_containers: self.console_max_containers.max(1),
                max_disk_bytes: self.console_disk_mb << 20,
            },
            toolbox_memory_bytes: self.console_toolbox_memory_mb.max(64) << 20,
            checks_per_minute: self.console_checks_per_minute.max(1),
        }
    }
}

/// The class registry learners push to: by default one layerlab starts itself.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Use the registry that runs at this address (`host:port` or `http://host:port`, a
    /// distribution or zot registry) instead of starting one.
    #[arg(long, env = "LAYERLAB_REGISTRY_URL", conflicts_with = "no_registry")]
    pub registry_url: Option<String>,
    /// Run without a registry: pushing is unavailable, and the pages say why.
    #[arg(long, env = "LAYERLAB_NO_REGISTRY")]
    pub no_registry: bool,
    /// Where the registry layerlab starts keeps its configuration, log and images.
    #[arg(
        long,
        env = "LAYERLAB_REGISTRY_DIR",
        default_value = "layerlab-registry"
    )]
    pub registry_dir: PathBuf,
    /// Where it listens: a loopback address (the engine then speaks plain HTTP to it with no
    /// setting of its own); port 0 picks a free one. Image references name this address, so
    /// keep it the same from one start to the next.
    #[arg(long, env = "LAYERLAB_REGISTRY_ADDR", default_value = "127.0.0.1:5100")]
    pub registry_addr: SocketAddr,
    /// The registry program (Debian's docker-registry; `./x` installs it).
    #[arg(
        long,
        env = "LAYERLAB_REGISTRY_PROGRAM",
        default_value = "docker-registry"
    )]
    pub registry_program: PathBuf,
    /// The most each learner's namespace may hold, in MiB (its distinct layers and configs);
    /// past it the registry refuses their pushes (0: no limit).
    #[arg(long, env = "LAYERLAB_REGISTRY_QUOTA_MB", default_value_t = 500)]
    pub registry_quota_mb: u64,
}

impl RegistryArgs {
    pub fn settings(&self) -> crate::registry::RegistrySettings {
        use crate::registry::RegistrySettings;
        if self.no_registry {
            RegistrySettings::Off
        } else if let Some(address) = &self.registry_url {
            RegistrySettings::External {
                address: address.clone(),
            }
        } else {
            RegistrySettings::Embedded {
                program: self.registry_program.clone(),
                dir: self.registry_dir.clone(),
                addr: self.registry_addr,
                quota_bytes: self.registry_quota_mb.saturating_mul(1024 * 1024),
            }
        }
    }
}

/// Who may ask how much, at the HTTP edge: limits per client address and per person, and the
/// build queue's bounds.
#[derive(Debug, Clone, Args)]
pub struct EdgeArgs {
    /// Reverse proxies in front of layerlab that append the client's address to
    /// X-Forwarded-For (0: ignore the header and use the connection's address).
    #[arg(long, env = "LAYERLAB_TRUSTED_PROXIES", default_value_t = 0)]
    pub trusted_proxies: usize,
    /// New learners (browsers without a session) one address may start per hour (0: no limit).
    #[arg(long, env = "LAYERLAB_NEW_LEARNERS_PER_ADDRESS", default_value_t = 100)]
    pub new_learners_per_address: u32,
    /// Builds one address may start per minute, all its learners together (0: no limit).
    #[arg(long, env = "LAYERLAB_BUILDS_PER_ADDRESS", default_value_t = 240)]
    pub builds_per_address: u32,
    /// Builds that may wait for a builder; more get "queue full, try again".
    #[arg(long, env = "LAYERLAB_MAX_QUEUED_BUILDS", default_value_t = 100)]
    pub max_queued_builds: usize,
    /// Memory the files of waiting builds may take together, in MiB.
    #[arg(long, env = "LAYERLAB_QUEUED_CONTEXT_MB", default_value_t = 64)]
    pub queued_context_mb: usize,
    /// Build and dashboard event streams one person may keep open at once.
    #[arg(long, env = "LAYERLAB_EVENT_STREAMS_PER_PERSON", default_value_t = 8)]
    pub event_streams_per_person: usize,
}

impl EdgeArgs {
    pub fn settings(&self) -> crate::http::admission::EdgeSettings {
        crate::http::admission::EdgeSettings {
            trusted_proxies: self.trusted_proxies,
            new_learners_per_hour: self.new_learners_per_address,
            builds_per_minute: self.builds_per_address,
            streams_per_person: self.event_streams_per_person.max(1),
        }
    }
}

/// What each learner's build and run may use. Sizes are in MiB, times in seconds.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Builds running on the engine at once (default: one per CPU core); the rest wait in line.
    #[arg(long, env = "LAYERLAB_BUILD_CONCURRENCY", default_value_t = default_concurrency())]
    pub build_concurrency: usize,
    /// Builds one learner may start per minute (0: no limit); more get "try again in N s".
    #[arg(long, env = "LAYERLAB_BUILD_RATE", default_value_t = 12)]
    pub build_rate_per_minute: usize,
    /// Memory (and memory+swap) for each RUN step of a build, in MiB.
    #[arg(long, env = "LAYERLAB_BUILD_MEMORY_MB", default_value_t = 512)]
    pub build_memory_mb: i64,
    /// CPUs for each RUN step of a build.
    #[arg(long, env = "LAYERLAB_BUILD_CPUS", default_value_t = 1.0)]
    pub build_cpus: f64,
    /// Processes at once during a build (needs the engine on this host).
    #[arg(long, env = "LAYERLAB_BUILD_PIDS", default_value_t = 256)]
    pub build_pids: i64,
    /// Largest image a build may produce, in MiB; bigger ones are removed and the build fails.
    #[arg(long, env = "LAYERLAB_MAX_IMAGE_MB", default_value_t = 1024)]
    pub max_image_mb: u64,
    /// Disk the images learners keep may take together, in MiB; the janitor removes the
    /// oldest kept images beyond it (their attempts stay, without an image to explore).
    #[arg(long, env = "LAYERLAB_MAX_KEPT_IMAGES_MB", default_value_t = 10240)]
    pub max_kept_images_mb: u64,
    /// Seconds between the janitor's sweeps.
    #[arg(long, env = "LAYERLAB_JANITOR_EVERY", default_value_t = 300)]
    pub janitor_every: u64,
    /// Seconds without a heartbeat after which another server on the same database counts as
    /// gone: its unfinished builds are marked interrupted and their containers removed. (On
    /// the same machine a server whose process has ended counts as gone at once.)
    #[arg(long, env = "LAYERLAB_SERVER_DEAD_AFTER", default_value_t = 30)]
    pub server_dead_after: u64,
    /// Free disk the engine must keep, in MiB: below it new builds are refused with a clear
    /// message (0: not checked; needs the engine on this host).
    #[arg(long, env = "LAYERLAB_MIN_FREE_DISK_MB", default_value_t = 2048)]
    pub min_free_disk_mb: u64,
    /// Wall-clock limit for one build, in seconds.
    #[arg(long, env = "LAYERLAB_BUILD_TIMEOUT", default_value_t = 300)]
    pub build_timeout: u64,
    /// Memory for the container a build runs, in MiB.
    #[arg(long, env = "LAYERLAB_RUN_MEMORY_MB", default_value_t = 128)]
    pub run_memory_mb: i64,
    /// CPUs for the container a build runs.
    #[arg(long, env = "LAYERLAB_RUN_CPUS", default_value_t = 0.5)]
    pub run_cpus: f64,
    /// Processes at once in the container a build runs.
    #[arg(long, env = "LAYERLAB_RUN_PIDS", default_value_t = 64)]
    pub run_pids: i64,
    /// Wall-clock limit for a run, in seconds (an exercise may set its own).
    #[arg(long, env = "LAYERLAB_RUN_TIMEOUT", default_value_t = 10)]
    pub run_timeout: u64,
    /// How the HTTP probe reaches a web exercise's container, which has no network: `auto`
    /// (from inside its network namespace when root on the engine's host, else a helper
    /// container), `namespace` or `helper`.
    #[arg(long, env = "LAYERLAB_PROBE_VIA", value_enum, default_value_t)]
    pub probe_via: crate::engine::run::ProbeVia,
}

/// One build per core: a cold build keeps about one core busy.
fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl LimitArgs {
    pub fn settings(&self) -> crate::builds::BuildSettings {
        use crate::engine::{builder::BuildLimits, run::RunLimits};
        use std::time::Duration;
        const MIB: i64 = 1024 * 1024;
        let defaults = crate::builds::BuildSettings::default();
        crate::builds::BuildSettings {
            concurrency: self.build_concurrency.max(1),
            rate_per_minute: self.build_rate_per_minute,
            max_kept_bytes: self.max_kept_images_mb * 1024 * 1024,
            janitor_every: Duration::from_secs(self.janitor_every.max(1)),
            server_dead_after: Duration::from_secs(self.server_dead_after.max(1)),
            min_free_disk_bytes: self.min_free_disk_mb * 1024 * 1024,
            build: BuildLimits {
                memory_bytes: self.build_memory_mb * MIB,
                cpus: self.build_cpus,
                pids: self.build_pids,
                timeout: Duration::from_secs(self.build_timeout),
                max_image_bytes: self.max_image_mb * 1024 * 1024,
                min_free_disk_bytes: self.min_free_disk_mb * 1024 * 1024,
                ..defaults.build
            },
            run: RunLimits {
                memory_bytes: self.run_memory_mb * MIB,
                cpus: self.run_cpus,
                pids: self.run_pids,
                timeout: Duration::from_secs(self.run_timeout),
                probe_via: self.probe_via,
                ..defaults.run
            },
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subcommand_means_serve_with_defaults() {
        let cli = Cli::try_parse_from(["layerlab"]).expect("parses");
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.content_dir, PathBuf::from("content"));
        assert!(cli.serve.database_url.starts_with("sqlite://"));
    }

    #[test]
    fn a_flag_given_twice_takes_the_last_value() {
        let cli = Cli::try_parse_from([
            "layerlab",
            "serve",
            "--build-rate-per-minute=0",
            "--build-rate-per-minute=12",
        ])
        .expect("parses");
        match cli.command {
            Some(Command::Serve(c)) => assert_eq!(c.limits.build_rate_per_minute, 12),
            other => panic!("expected serve, got {other:?}"),
        }
        let cli = Cli::try_parse_from(["layerlab", "--trusted-proxies=2", "--trusted-proxies=1"])
            .expect("parses");
        assert_eq!(cli.serve.edge.trusted_proxies, 1);
    }

    #[test]
    fn flags_override_defaults() {
        let cli = Cli::try_parse_from([
            "layerlab",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--docker-host",
            "tcp://127.0.0.1:2375",
        ])
        .expect("parses");
        match cli.command {
            Some(Command::Serve(c)) => {
                assert_eq!(c.addr.port(), 0);
                assert_eq!(c.docker_host, "tcp://127.0.0.1:2375");
            }
            other => panic!("expected serve, got {other:?}"),
        }
    }
}
