//! Exercise checks, judged on what the engine reports about the built image and its run —
//! never on the Dockerfile's text.

use crate::engine::image::ImageConfigFacts;
use anyhow::{bail, Context};
use app::dto::{human_size, seconds, CheckOutcome, ImageFacts, RunFacts};
use serde::Deserialize;

/// One thing an exercise asks of the learner's image. In `exercise.toml`:
/// `[[checks]]` with an `id`, a `type` and the type's fields.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Check {
    /// The image builds.
    BuildSucceeds,
    /// At most `max` filesystem layers (`RootFS.Layers`), base image included.
    MaxLayers { max: usize },
    /// At most `max_bytes` in total.
    MaxSize { max_bytes: u64 },
    /// The image's `USER` is exactly `name`.
    User { name: String },
    /// The image's `USER` is set and is neither `root` nor `0`.
    NonRootUser,
    /// The image's working directory.
    Workdir { path: String },
    /// An environment variable is set (to `value`, when given).
    EnvHas { name: String, value: Option<String> },
    /// The container's output contains `contains`.
    RunOutput { contains: String },
    /// The container exits with `code`.
    ExitCode { code: i64 },
    /// Asked to stop as `docker stop` does (`[run] stop_after_secs`), the container exits
    /// within `within_secs` of its stop signal, not killed after the grace period.
    StopsOnSignal { within_secs: u64 },
    /// The container answers the probe with `status`, its body containing `body_contains`.
    HttpResponds {
        #[serde(default = "ok_status")]
        status: u16,
        body_contains: Option<String>,
    },
    /// `path` exists in the final image's filesystem.
    FilePresent { path: String },
    /// `path` does not exist in the final image's filesystem.
    FileAbsent { path: String },
    /// Running `command` in the image (as its user) prints something containing `contains`.
    CommandOutput {
        command: Vec<String>,
        contains: String,
    },
    /// The image has label `name` (equal to `equals`, when given).
    Label {
        name: String,
        equals: Option<String>,
    },
    /// `value` appears nowhere in the image's configuration or history (ENV, labels, CMD,
    /// ENTRYPOINT, the commands that built it).
    NoSecret { value: String },
    /// The Dockerfile has at least `min` stages (`FROM`s the builder ran).
    Stages { min: usize },
    /// After appending a line to `change` and building again, at most `rebuilt_at_most`
    /// `RUN`/`COPY`/`ADD` steps miss the cache.
    CacheHitOnRebuild {
        change: String,
        rebuilt_at_most: usize,
    },
    /// The image's own command (its ENTRYPOINT and CMD), run with the environment variables
    /// `env` added and, when given, `args` in place of CMD, prints something containing
    /// `contains`. Proves that the program the image runs is the one that reads them: a fixed
    /// `echo` of the expected text cannot pass.
    RunWith {
        #[serde(default)]
        env: std::collections::BTreeMap<String, String>,
        args: Option<Vec<String>>,
        contains: String,
    },
    /// No layer of the final image adds `path` or anything under it. A file a later step
    /// deletes is still in the layer that added it, for anyone who has the image. `path` may
    /// be a list (none of them), and `**/name` is that name in any folder.
    NeverInLayers {
        #[serde(deserialize_with = "one_or_more")]
        path: Vec<String>,
    },
    /// The running container's main process (its PID 1, which the engine signals and whose
    /// end ends the container) is the program `command`: the first word of its command line,
    /// without its folder (a shell whose `-c` script merely mentions it does not count).
    MainProcess { command: String },
    /// Every process of the running container runs as a user other than root, as
    /// `docker top` lists them from the host (which is what the kernel checks).
    ProcessesNotRoot,
    /// Started with its own command (and the environment variables `env` added), the
    /// container is reported `status` (`healthy` or `unhealthy`) by the engine's own health
    /// checking (the image's `HEALTHCHECK`) within `within_secs`.
    Health {
        status: HealthWanted,
        within_secs: u64,
        #[serde(default)]
        env: std::collections::BTreeMap<String, String>,
        /// Once the engine calls it healthy, freeze the container's main process (SIGSTOP,
        /// like a hung server) and judge the status after that: a health check that does not
        /// really ask the service stays healthy.
        #[serde(default)]
        freeze: bool,
    },
    /// No file in any layer of the final image holds `text` (so no copy of what holds it
    /// reached the image, not even one a later step deleted). `what` names that thing for
    /// the learner: "the project's source (its pyproject.toml)".
    NoFileContains { text: String, what: String },
    /// The same files were first built once with the cache, as an earlier build would have
    /// left it; then in this build no `RUN`/`COPY`/`ADD` step came from that cache (what
    /// `docker build --no-cache` does, and nothing in the files can).
    NoStepFromCache,
    /// The image's first filesystem layer was made by this instruction (`ADD`, `COPY`…), as
    /// the engine's history of the image records it.
    FirstLayerBy { instruction: String },
    /// The final image starts with no base image: none of the course's base images' layers
    /// begin its layers (as the engine lists them), which is what `FROM scratch` makes.
    FromScratch,
    /// The learner's namespace in the class registry holds `repository:tag`, and it is this
    /// very build's image (the manifest's config digest is the image id the engine gave the
    /// build), as the registry itself says. Judged again after each push of the build.
    Pushed { repository: String, tag: String },
    /// Like `pushed`, the learner's namespace holds `repository:tag` as this build's image;
    /// and that image, pulled back from the registry onto the engine by its digest with the
    /// learner's own login, runs as the exercise's `[run]` says and passes every check of the
    /// exercise judged on the run. Judged after each push of the build.
    RunsWhenPulledBack { repository: String, tag: String },
    /// The last stage starts FROM the learner's own push `repository`, as the build policy
    /// approved it: by `tag`, or (`pinned`) by the digest their registry holds under `tag`
    /// now.
    FromOwnPush {
        repository: String,
        tag: String,
        #[serde(default)]
        pinned: bool,
    },
}

/// The health status a `health` check waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthWanted {
    Healthy,
    Unhealthy,
}

impl HealthWanted {
    fn as_str(self) -> &'static str {
        match self {
            HealthWanted::Healthy => "healthy",
            HealthWanted::Unhealthy => "unhealthy",
        }
    }
}

/// The longest a `health` check may wait: runs hold a slot of the engine meanwhile.
pub const MAX_HEALTH_WAIT_SECS: u64 = 30;

/// A run of the image's own command with other inputs (a `run-with` or `health` check).
#[derive(Clone, Debug, PartialEq)]
pub struct RunVariant {
    /// `NAME=value` pairs added to the container's environment.
    pub env: Vec<String>,
    /// Replaces the image's CMD when set.
    pub args: Option<Vec<String>>,
    /// Watch the engine's health status for at most this long (a `health` check).
    pub watch_health: Option<std::time::Duration>,
    /// Freeze the main process once healthy (a `health` check with `freeze`).
    pub freeze: bool,
}

/// What the build before a learner's (`no-step-from-cache`) left in the cache, and what the
/// learner's build took from it.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheFacts {
    /// `RUN`/`COPY`/`ADD` steps of the learner's build.
    pub steps: usize,
    /// Those that came from the earlier build's cache, as `Step n/m : …` headers.
    pub cached: Vec<String>,
    /// Set when the earlier build failed.
    pub error: Option<String>,
}

/// What the second build of a cache check found.
#[derive(Clone, Debug, PartialEq)]
pub struct RebuildFacts {
    pub changed: String,
    /// `RUN`/`COPY`/`ADD` steps that missed the cache, as `Step n/m : …` headers.
    pub rebuilt: Vec<String>,
    /// Set when the second build failed.
    pub error: Option<String>,
}

/// The stop verdict once the container left `ms` after its signal, in time: its copy, asked
/// at another moment, must have waited for its own signal and left as promptly.
fn copy_verdict(
    ms: u64,
    copy: &app::dto::CopyStopFacts,
    stop: &app::dto::StopFacts,
    within_secs: u64,
) -> (bool, String) {
    let signal = &stop.signal;
    let later = seconds(copy.after_ms.saturating_sub(stop.after_ms));
    match (copy.ended_early, copy.exited_in_ms) {
        (Some(code), _) => (
            false,
            format!(
                "It exited {} after {signal}, but a copy of it, started beside it and asked to stop {later} later, had ended by itself before that (code {code}): it ends on its own clock, whatever it is told. A service keeps working until the signal comes, then stops because of it.",
                seconds(ms)
            ),
        ),
        (None, None) => (
            false,
            format!(
                "It exited {} after {signal}, but a copy of it, asked {later} later, ignored its {signal} for {}: leaving right after the first signal was luck, not the signal.",
                seconds(ms),
                seconds(stop.grace_ms)
            ),
        ),
        (None, Some(copy_ms)) if copy_ms > within_secs * 1000 => (
            false,
            format!(
                "It exited {} after {signal}, but a copy of it, asked {later} later, took {}; the goal is at most {within_secs} s each time.",
                seconds(ms),
                seconds(copy_ms)
            ),
        ),
        (None, Some(copy_ms)) => (
            true,
            format!(
                "It exited {} after {signal}; a copy asked {later} later exited {} after its own.",
                seconds(ms),
                seconds(copy_ms)
            ),
        ),
    }
}

/// The last non-empty line of a run's output (what a message quotes).
fn last_line(output: &str) -> String {
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// The program a command line runs: its first word, without the folder
/// (`/usr/sbin/httpd -f` → `httpd`).
fn program_of(command_line: &str) -> &str {
    let first = command_line.split_whitespace().next().unwrap_or("");
    first.rsplit('/').next().unwrap_or(first)
}

/// Judge what the engine said of a container's health against what a check wants.
fn health_verdict(
    wanted: HealthWanted,
    run: &RunFacts,
    health: &app::dto::HealthFacts,
) -> (bool, String) {
    let when = seconds(health.after_ms);
    let last = if health.last_output.is_empty() {
        String::new()
    } else {
        format!(
            " Its last check (exit code {}) printed “{}”.",
            health
                .last_exit_code
                .map_or_else(|| "?".to_string(), |c| c.to_string()),
            last_line(&health.last_output)
        )
    };
    match health.status.as_str() {
        "none" => (
            false,
            "The image declares no HEALTHCHECK, so the engine has no health to report.".into(),
        ),
        "healthy" if wanted == HealthWanted::Healthy => (
            true,
            format!("The engine reported it healthy, and still healthy {when} after the start.{last}"),
        ),
        status if status == wanted.as_str() => (
            true,
            format!("The engine reported it {status} after {when}.{last}"),
        ),
        "starting" => match run.exit_code {
            Some(code) => (
                false,
                format!("The container exited (code {code}) after {when}, before the engine decided on its health."),
            ),
            None => (
                false,
                format!(
                    "After {when} the engine still reported “starting”: {} health check{} had run. The first check comes one --interval after the start (30 s unless you set it), and it takes --retries failures in a row to be unhealthy.{last}",
                    health.checks_run,
                    if health.checks_run == 1 { "" } else { "s" }
                ),
            ),
        },
        status => (
            false,
            format!(
                "The engine reported it {status} after {when}; the goal is {}.{last}",
                wanted.as_str()
            ),
        ),
    }
}

/// Judge a run whose main process was frozen once healthy: the status wanted must come
/// after the freeze.
fn frozen_verdict(
    wanted: HealthWanted,
    run: &RunFacts,
    health: &app::dto::HealthFacts,
) -> (bool, String) {
    let Some(frozen) = health.frozen_after_ms else {
        let (_, why) = health_verdict(HealthWanted::Healthy, run, health);
        return (
            false,
            format!("It was never healthy long enough to be frozen. {why}"),
        );
    };
    let when = seconds(health.after_ms);
    let at = seconds(frozen);
    if health.status == wanted.as_str() {
        let (_, said) = health_verdict(wanted, run, health);
        return (true, format!("Frozen at {at}, like a hung server. {said}"));
    }
    (
        false,
        format!(
            "Frozen at {at}, like a hung server, it was still reported {} at {when}: the health check does not notice a service that no longer answers (or gives up too late: see --timeout and --retries).",
            health.status
        ),
    )
}

pub(super) fn ok_status() -> u16 {
    200
}

/// A check as an exercise lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct ExerciseCheck {
    /// Stable: progress and results are keyed by it.
    pub id: String,
    pub check: Check,
    /// `lesson-slug#heading-id` (or just `lesson-slug`): where a failure is explained.
    pub explained_in: Option<String>,
    /// The table as written, to fill in a build's arguments (`{arg.NAME}`).
    pub source: toml::Table,
}

impl ExerciseCheck {
    /// This check with every `{arg.NAME}` in its strings replaced by the value `args` gives
    /// NAME (what one build passed as `--build-arg NAME=value`).
    pub fn with_args(&self, args: &[(String, String)]) -> anyhow::Result<ExerciseCheck> {
        let mut table = self.source.clone();
        for (_, value) in table.iter_mut() {
            fill_args(value, args);
        }
        parse(table)
    }
}

/// `{arg.NAME}` → the value of NAME in `args`, in every string of `value`.
fn fill_args(value: &mut toml::Value, args: &[(String, String)]) {
    match value {
        toml::Value::String(text) => {
            for (name, arg) in args {
                *text = text.replace(&format!("{{arg.{name}}}"), arg);
            }
        }
        toml::Value::Array(items) => items.iter_mut().for_each(|v| fill_args(v, args)),
        toml::Value::Table(table) => table.iter_mut().for_each(|(_, v)| fill_args(v, args)),
        _ => {}
    }
}

/// Take a `[[checks]]` table apart: its `id` and `explained_in`, then the rest as a [`Check`].
pub fn parse(mut table: toml::Table) -> anyhow::Result<ExerciseCheck> {
    let source = table.clone();
    let id = match table.remove("id") {
        Some(toml::Value::String(id)) if !id.is_empty() => id,
        Some(_) => bail!("`id` must be a non-empty string"),
        None => bail!("add an `id` (a short name that stays the same when the wording changes)"),
    };
    let explained_in = match table.remove("explained_in") {
        Some(toml::Value::String(link)) => Some(link),
        Some(_) => {
            bail!("check `{id}`: `explained_in` must be a string like \"lesson-slug#heading\"")
        }
        None => None,
    };
    let check =
        Check::deserialize(toml::Value::Table(table)).with_context(|| format!("check `{id}`"))?;
    Ok(ExerciseCheck {
        id,
        check,
        explained_in,
        source,
    })
}

/// What a check can look at.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts<'a> {
    pub image: Option<&'a ImageFacts>,
    pub config: Option<&'a ImageConfigFacts>,
    pub run: Option<&'a RunFacts>,
    /// Paths looked up in the image: path → exists.
    pub paths: Option<&'a std::collections::BTreeMap<String, bool>>,
    /// Extra commands run in the image, with what they did.
    pub commands: &'a [(Vec<String>, RunFacts)],
    /// `FROM` steps the builder ran.
    pub stages: Option<usize>,
    pub rebuild: Option<&'a RebuildFacts>,
    /// Runs of the image's own command with other inputs (`run-with` checks).
    pub variants: &'a [(RunVariant, RunFacts)],
    /// The paths each layer of the final image adds or changes, and whether any layer's list
    /// was cut short (then absence cannot be proven).
    pub layer_paths: Option<&'a LayerPaths>,
    /// The files of the layers that hold the texts checks search for; `None` when the layers
    /// could not be read.
    pub texts: Option<&'a TextsInLayers>,
    /// The course's base images whose layers begin the image's; `None` when not compared.
    pub bases_under: Option<&'a [String]>,
    /// The cache a build before this one filled, and what this one took from it.
    pub cache: Option<&'a CacheFacts>,
    /// What the learner's namespace in the registry holds for the tags `pushed` checks name;
    /// `None` when it was not (or could not be) read.
    pub registry: Option<&'a RegistryHeld>,
    /// The learner's own push the last stage started FROM, as the policy approved it.
    pub own_base: Option<&'a str>,
    /// The pushed image pulled back from the registry and run (`runs-when-pulled-back`);
    /// `None` when it was not (no push of this build yet).
    pub pulled_back: Option<&'a PulledBack>,
}

/// A push pulled back from the class registry onto the engine and run.
#[derive(Clone, Debug, PartialEq)]
pub struct PulledBack {
    /// `repository:tag` as the check names it.
    pub name: String,
    /// What the engine pulled: `<registry>/<handle>/<repository>@sha256:…`.
    pub reference: String,
    /// The exercise's checks judged on the pulled image's run, or why it could not be
    /// pulled or run.
    pub outcome: Result<Vec<CheckOutcome>, String>,
}

/// For each `name:tag` a check asks about, what the registry holds under it in the
/// learner's namespace, or `None` when it holds no such tag (see `Registry::tags_of`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegistryHeld {
    pub tags: std::collections::BTreeMap<String, Option<crate::registry::TagFacts>>,
}

/// What the learner's registry holds under `name` if it is the image `image_id`, or the
/// verdict of a check that needs it to be.
fn held_as_this_build<'a>(
    facts: Facts<'a>,
    image_id: &str,
    name: &str,
) -> Result<&'a crate::registry::TagFacts, (bool, String)> {
    match facts.registry.map(|held| held.tags.get(name)) {
        None | Some(None) => Err((
            false,
            "Not checked: your registry was not read (it could not be reached, or the build stopped first).".into(),
        )),
        Some(Some(None)) => Err((
            false,
            format!("Your registry holds no `{name}` yet: push this build as `{name}` with Tag & push under its result."),
        )),
        Some(Some(Some(held))) if held.is(image_id) => Ok(held),
        Some(Some(Some(held))) => Err((
            false,
            format!(
                "`{name}` in your registry is another image (digest {}), not this build's: push this build as `{name}`.",
                held.digest
            ),
        )),
    }
}

/// For each text searched in an image's layers, the files that hold it: (layer, path), the
/// bottom layer being 1. A text found nowhere has no entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextsInLayers {
    pub found: std::collections::BTreeMap<String, Vec<(usize, String)>>,
}

impl TextsInLayers {
    /// "/app/token.txt (layer 3)", for the first few files that hold `text`.
    fn files_holding(&self, text: &str) -> Option<String> {
        let files = self.found.get(text).filter(|f| !f.is_empty())?;
        let mut named: Vec<String> = files
            .iter()
            .take(3)
            .map(|(layer, path)| format!("{path} (layer {layer})"))
            .collect();
        if files.len() > 3 {
            named.push(format!("{} more", files.len() - 3));
        }
        Some(named.join(", "))
    }
}

/// Every path added or changed by some layer of an image (no leading `/`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerPaths {
    pub paths: std::collections::BTreeMap<String, usize>,
    pub truncated: bool,
}

impl Check {
    pub fn needs_run(&self) -> bool {
        matches!(
            self,
            Check::RunOutput { .. }
                | Check::ExitCode { .. }
                | Check::HttpResponds { .. }
                | Check::StopsOnSignal { .. }
                | Check::ProcessesNotRoot
                | Check::MainProcess { .. }
        )
    }

    /// Whether the check needs the container seen running (a probe or a stop keeps it up).
    pub fn needs_running_container(&self) -> bool {
        matches!(self, Check::ProcessesNotRoot | Check::MainProcess { .. })
    }

    pub fn needs_stop(&self) -> bool {
        matches!(self, Check::StopsOnSignal { .. })
    }

    pub fn needs_probe(&self) -> bool {
        matches!(self, Check::HttpResponds { .. })
    }

    /// A path this check needs looked up in the image.
    pub fn path(&self) -> Option<&str> {
        match self {
            Check::FilePresent { path } | Check::FileAbsent { path } => Some(path),
            _ => None,
        }
    }

    /// A command this check needs run in the image.
    pub fn command(&self) -> Option<&[String]> {
        match self {
            Check::CommandOutput { command, .. } => Some(command),
            _ => None,
        }
    }

    /// The run of the image's own command a `run-with` check needs.
    pub fn variant(&self) -> Option<RunVariant> {
        match self {
            Check::RunWith { env, args, .. } => Some(RunVariant {
                env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                args: args.clone(),
                watch_health: None,
                freeze: false,
            }),
            Check::Health {
                env,
                within_secs,
                freeze,
                ..
            } => Some(RunVariant {
                env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                args: None,
                watch_health: Some(std::time::Duration::from_secs(
                    (*within_secs).min(MAX_HEALTH_WAIT_SECS),
                )),
                freeze: *freeze,
            }),
            _ => None,
        }
    }

    /// Whether the files are built once with the cache before the learner's build.
    pub fn needs_warm_cache(&self) -> bool {
        matches!(self, Check::NoStepFromCache)
    }

    /// Whether judging this check compares the image's layers with the base images'.
    pub fn needs_bases(&self) -> bool {
        matches!(self, Check::FromScratch)
    }

    /// The `name:tag` this check asks the registry about, in the learner's namespace.
    pub fn registry_tag(&self) -> Option<String> {
        match self {
            Check::Pushed { repository, tag } | Check::RunsWhenPulledBack { repository, tag } => {
                Some(format!("{repository}:{tag}"))
            }
            Check::FromOwnPush {
                repository,
                tag,
                pinned: true,
            } => Some(format!("{repository}:{tag}")),
            _ => None,
        }
    }

    /// Whether a push of the build can change this check's verdict (it is judged again).
    pub fn judged_again_after_a_push(&self) -> bool {
        matches!(
            self,
            Check::Pushed { .. } | Check::RunsWhenPulledBack { .. }
        )
    }

    /// The `name:tag` whose image is pulled back from the registry and run, for this check.
    pub fn pulled_back(&self) -> Option<String> {
        match self {
            Check::RunsWhenPulledBack { repository, tag } => Some(format!("{repository}:{tag}")),
            _ => None,
        }
    }

    /// Whether judging this check reads the image's layers.
    pub fn needs_layers(&self) -> bool {
        matches!(
            self,
            Check::NeverInLayers { .. } | Check::NoSecret { .. } | Check::NoFileContains { .. }
        )
    }

    /// A text this check looks for in every file of every layer.
    pub fn text_in_layers(&self) -> Option<&str> {
        match self {
            Check::NoSecret { value } => Some(value),
            Check::NoFileContains { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The file a cache check changes before rebuilding.
    pub fn rebuild_change(&self) -> Option<&str> {
        match self {
            Check::CacheHitOnRebuild { change, .. } => Some(change),
            _ => None,
        }
    }

    /// The goal, as the learner reads it before building.
    pub fn describe(&self) -> String {
        match self {
            Check::BuildSucceeds => "The image builds without errors.".into(),
            Check::MaxLayers { max } => format!("The image has at most {max} layers."),
            Check::MaxSize { max_bytes } => {
                format!("The image is at most {}.", human_size(*max_bytes))
            }
            Check::User { name } => format!("The container runs as user “{name}”."),
            Check::NonRootUser => "The container does not run as root.".into(),
            Check::Workdir { path } => format!("The working directory is {path}."),
            Check::EnvHas { name, value: None } => format!("The environment sets {name}."),
            Check::EnvHas {
                name,
                value: Some(v),
            } => format!("The environment sets {name}={v}."),
            Check::RunOutput { contains } => format!("The container prints “{contains}”."),
            Check::ExitCode { code } => format!("The container exits with code {code}."),
            Check::StopsOnSignal { within_secs } => format!(
                "Asked to stop (as `docker stop` does), the container exits within {within_secs} s."
            ),
            Check::HttpResponds {
                status,
                body_contains,
            } => match body_contains {
                Some(text) => {
                    format!("The web server answers {status} with a page containing “{text}”.")
                }
                None => format!("The web server answers with status {status}."),
            },
            Check::FilePresent { path } => format!("The image contains {path}."),
            Check::FileAbsent { path } => format!("The image does not contain {path}."),
            Check::CommandOutput { command, contains } => {
                format!(
                    "Running `{}` in the image prints “{contains}”.",
                    command.join(" ")
                )
            }
            Check::Label {
                name,
                equals: Some(v),
            } => format!("The image is labelled {name}={v}."),
            Check::Label { name, equals: None } => format!("The image has the label {name}."),
            Check::NoSecret { .. } => {
                "The secret token appears nowhere in the image: not in its configuration, its history or any file of any layer.".into()
            }
            Check::Stages { min } => format!("The Dockerfile has at least {min} stages."),
            Check::NoStepFromCache => {
                "Although the cache holds every step (the same files are built once first), no step comes from it: each runs anew.".into()
            }
            Check::FirstLayerBy { instruction } => {
                format!("The image's first layer is made by {instruction}.")
            }
            Check::FromScratch => {
                "The image starts from nothing (FROM scratch): no base image's layers are under its own.".into()
            }
            Check::Pushed { repository, tag } => format!(
                "Your namespace in the class registry holds `{repository}:{tag}`, and it is this build's image (Tag & push it)."
            ),
            Check::RunsWhenPulledBack { repository, tag } => format!(
                "Pulled back from your registry by its digest, your pushed `{repository}:{tag}` runs and passes this exercise's checks on the running container, as a teammate would pull and run it."
            ),
            Check::FromOwnPush {
                repository,
                tag,
                pinned: false,
            } => format!(
                "The last stage starts FROM your own pushed `{repository}:{tag}`, by its full name in your namespace."
            ),
            Check::FromOwnPush {
                repository, tag, ..
            } => format!(
                "The last stage starts FROM your own `{repository}:{tag}`, pinned by the digest your registry holds for it (`{repository}@sha256:…`)."
            ),
            Check::CacheHitOnRebuild {
                change,
                rebuilt_at_most,
            } => format!(
                "After a change to {change}, a rebuild redoes at most {rebuilt_at_most} RUN/COPY/ADD step{}.",
                if *rebuilt_at_most == 1 { "" } else { "s" }
            ),
            Check::RunWith { env, args, contains } => {
                let mut given: Vec<String> =
                    env.iter().map(|(k, v)| format!("`{k}={v}`")).collect();
                if let Some(args) = args {
                    given.push(format!("the arguments `{}`", args.join(" ")));
                }
                format!(
                    "Run with {}, the container prints “{contains}” (the image's own program reads them).",
                    given.join(" and ")
                )
            }
            Check::NeverInLayers { path } => {
                format!(
                    "No layer of the image holds {}, not even one a later step deleted it from.",
                    path.join(" or ")
                )
            }
            Check::NoFileContains { what, .. } => {
                format!("No layer of the image holds {what}, not even one a later step deleted it from.")
            }
            Check::MainProcess { command } => {
                format!("While it runs, the container's main process (PID 1) is `{command}`.")
            }
            Check::ProcessesNotRoot => {
                "While it runs, none of the container's processes runs as root (as `docker top` shows them).".into()
            }
            Check::Health {
                status,
                within_secs,
                env,
                freeze: true,
            } if env.is_empty() => format!(
                "Once it is healthy, its main process is frozen (like a hung server): the engine then reports the container {} within {within_secs} s of the start (its own HEALTHCHECK decides).",
                status.as_str()
            ),
            Check::Health {
                status,
                within_secs,
                env,
                ..
            } => {
                let given = if env.is_empty() {
                    String::new()
                } else {
                    format!(
                        "Run with {}, ",
                        env.iter()
                            .map(|(k, v)| format!("`{k}={v}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    )
                };
                let subject = if given.is_empty() { "The" } else { "the" };
                format!(
                    "{given}{subject} engine reports the container {} within {within_secs} s (its own HEALTHCHECK decides).",
                    status.as_str()
                )
            }
        }
    }

    /// Judge the check. A check whose facts were never reached (the build failed, nothing ran)
    /// fails and says why.
    pub fn judge(&self, id: &str, facts: Facts<'_>) -> CheckOutcome {
        let (passed, message) = self.verdict(facts);
        CheckOutcome {
            id: id.to_string(),
            passed,
            message,
            learn_more: None,
        }
    }

    fn verdict(&self, facts: Facts<'_>) -> (bool, String) {
        let Some(image) = facts.image else {
            return (false, "Not checked: the image did not build.".into());
        };
        let config = facts.config.cloned().unwrap_or_default();
        let needs_run_message = || (false, "Not checked: the container did not run.".to_string());
        match self {
            Check::BuildSucceeds => (true, "The image built.".into()),
            Check::MaxLayers { max } => (
                image.layers <= *max,
                format!("The image has {} layers; the goal is at most {max}.", image.layers),
            ),
            Check::MaxSize { max_bytes } => (
                image.size_bytes <= *max_bytes,
                format!(
                    "The image is {}; the goal is at most {}.",
                    human_size(image.size_bytes),
                    human_size(*max_bytes)
                ),
            ),
            Check::User { name } => {
                let user = config.user_or_root();
                (
                    user == name,
                    format!("The container runs as “{user}”; the goal is “{name}”."),
                )
            }
            Check::NonRootUser => {
                let user = config.user_or_root();
                let name = user.split(':').next().unwrap_or(user);
                // `0`, `00`, … are all uid 0.
                let root = name == "root" || name.parse::<u64>().is_ok_and(|uid| uid == 0);
                let message = if root {
                    format!("The container runs as “{user}”, which is root. Add a USER.")
                } else {
                    format!("The container runs as “{user}”, not root.")
                };
                (!root, message)
            }
            Check::Workdir { path } => {
                let actual = if config.workdir.is_empty() {
                    "/ (not set)".to_string()
                } else {
                    config.workdir.clone()
                };
                (
                    config.workdir.trim_end_matches('/') == path.trim_end_matches('/'),
                    format!("The working directory is {actual}; the goal is {path}."),
                )
            }
            Check::EnvHas { name, value } => {
                let found = config.env_value(name);
                match (found, value) {
                    (None, _) => (false, format!("{name} is not set in the image.")),
                    (Some(v), Some(want)) if v != want => {
                        (false, format!("{name} is “{v}”; the goal is “{want}”."))
                    }
                    (Some(v), _) => (true, format!("{name} is set to “{v}”.")),
                }
            }
            Check::RunOutput { contains } => match facts.run {
                None => needs_run_message(),
                Some(run) => {
                    if run.output.contains(contains.as_str()) {
                        (true, format!("The output contains “{contains}”."))
                    } else if run.output.trim().is_empty() {
                        (false, format!("The container printed nothing; the goal is “{contains}”."))
                    } else {
                        (false, format!("The output does not contain “{contains}”."))
                    }
                }
            },
            Check::ExitCode { code } => match facts.run {
                None => needs_run_message(),
                Some(run) => match run.exit_code {
                    Some(actual) => (
                        actual == *code,
                        format!("The container exited with code {actual}; the goal is {code}."),
                    ),
                    None => match &run.stop {
                        Some(stop) => (
                            false,
                            format!(
                                "The container was killed: it did not exit within {} after {}.",
                                seconds(stop.grace_ms),
                                stop.signal
                            ),
                        ),
                        None => (
                            false,
                            "The container did not exit on its own before the time limit.".into(),
                        ),
                    },
                },
            },
            Check::StopsOnSignal { within_secs } => match facts.run {
                None => needs_run_message(),
                Some(run) => match (&run.stop, run.exit_code) {
                    (None, Some(code)) => (
                        false,
                        format!(
                            "The container exited by itself (code {code}) before it was asked to stop; a service keeps running until it is stopped."
                        ),
                    ),
                    (None, None) => (false, "The container was not asked to stop.".into()),
                    (Some(stop), _) => match (stop.exited_in_ms, &stop.copy) {
                        (Some(ms), _) if ms > within_secs * 1000 => (
                            false,
                            format!(
                                "It took {} to exit after {}; the goal is at most {within_secs} s.",
                                seconds(ms),
                                stop.signal
                            ),
                        ),
                        (Some(_), None) => (
                            false,
                            "Not proven: the copy of the container, asked to stop at another moment, could not be watched.".into(),
                        ),
                        (Some(ms), Some(copy)) => copy_verdict(ms, copy, stop, *within_secs),
                        (None, _) => (
                            false,
                            format!(
                                "It ignored {}: {} later it was still running and was killed with SIGKILL. As PID 1 a process gets no default handling of {}; it must handle the signal itself.",
                                stop.signal,
                                seconds(stop.grace_ms),
                                stop.signal
                            ),
                        ),
                    },
                },
            },
            Check::HttpResponds {
                status,
                body_contains,
            } => match facts.run.and_then(|r| r.probe.as_ref()) {
                None => needs_run_message(),
                Some(probe) => match probe.status {
                    None => {
                        let error = probe.error.as_deref().unwrap_or("nothing listened");
                        // Still running but unreachable: the usual cause is the address.
                        let why = if error.starts_with("the container stopped") {
                            ""
                        } else {
                            " The check connects to the container's own address, as a port mapping (`docker run -p`) does: a server listening only on 127.0.0.1 (localhost) cannot be reached that way; it must listen on 0.0.0.0."
                        };
                        (
                            false,
                            format!("No answer on port {}: {error}.{why}", probe.port),
                        )
                    }
                    Some(actual) if actual != *status => (
                        false,
                        format!("The server answered {actual}; the goal is {status}."),
                    ),
                    Some(actual) => match body_contains {
                        Some(text) if !probe.body.contains(text.as_str()) => (
                            false,
                            format!("The server answered {actual}, but the page does not contain “{text}”."),
                        ),
                        _ => (true, format!("The server answered {actual} on port {}.", probe.port)),
                    },
                },
            },
            Check::FilePresent { path } | Check::FileAbsent { path } => {
                let want = matches!(self, Check::FilePresent { .. });
                match facts.paths.and_then(|p| p.get(path)) {
                    None => (false, format!("Not checked: {path} could not be looked up.")),
                    Some(true) if want => (true, format!("{path} is in the image.")),
                    Some(false) if !want => (true, format!("{path} is not in the image.")),
                    Some(true) => (false, format!("{path} is in the image, but should not be.")),
                    Some(false) => (false, format!("{path} is missing from the image.")),
                }
            }
            Check::CommandOutput { command, contains } => {
                let shown = command.join(" ");
                match facts.commands.iter().find(|(c, _)| c == command) {
                    None => (false, format!("Not checked: `{shown}` did not run.")),
                    Some((_, run)) if run.output.contains(contains.as_str()) => {
                        (true, format!("`{shown}` printed “{}”.", run.output.trim()))
                    }
                    Some((_, run)) => (
                        false,
                        format!(
                            "`{shown}` printed “{}”; the goal is “{contains}”.",
                            run.output.trim()
                        ),
                    ),
                }
            }
            Check::Label { name, equals } => match (config.labels.get(name), equals) {
                (None, _) => (false, format!("The image has no label {name}.")),
                (Some(v), Some(want)) if v != want => {
                    (false, format!("{name} is “{v}”; the goal is “{want}”."))
                }
                (Some(v), _) => (true, format!("{name} is “{v}”.")),
            },
            Check::NoSecret { value } => {
                let mut found = Vec::new();
                if config.env.iter().any(|e| e.contains(value.as_str())) {
                    found.push("an ENV variable");
                }
                if config.labels.values().any(|v| v.contains(value.as_str())) {
                    found.push("a LABEL");
                }
                let in_command = |c: &Option<Vec<String>>| {
                    c.as_ref().is_some_and(|c| c.iter().any(|a| a.contains(value.as_str())))
                };
                if in_command(&config.cmd) || in_command(&config.entrypoint) {
                    found.push("CMD or ENTRYPOINT");
                }
                if image.history.iter().any(|h| h.created_by.contains(value.as_str())) {
                    found.push("the build history (a RUN or ARG)");
                }
                let files = facts.texts.map(|t| t.files_holding(value));
                match (found.is_empty(), files) {
                    (false, _) => (
                        false,
                        format!(
                            "The token can be read from {} with `docker inspect` or `docker history`.",
                            found.join(", ")
                        ),
                    ),
                    (true, Some(Some(files))) => (
                        false,
                        format!(
                            "The token is in the file {files}: whoever has the image can read it, even if a later step deletes it."
                        ),
                    ),
                    (true, None) => (
                        false,
                        "Not checked: the image's layers could not be read, so a file may still hold the token.".into(),
                    ),
                    (true, Some(None)) => (
                        true,
                        "The token is nowhere in the image: not in its configuration, its history or its files.".into(),
                    ),
                }
            }
            Check::RunWith { contains, .. } => {
                let variant = self.variant();
                match facts.variants.iter().find(|(v, _)| Some(v) == variant.as_ref()) {
                    None => (false, "Not checked: the container did not run.".into()),
                    Some((_, run)) if run.output.contains(contains.as_str()) => {
                        (true, format!("It printed “{}”.", last_line(&run.output)))
                    }
                    Some((_, run)) if run.output.trim().is_empty() => (
                        false,
                        format!("It printed nothing; the goal is “{contains}”."),
                    ),
                    Some((_, run)) => (
                        false,
                        format!(
                            "It printed “{}”, not “{contains}”: the program the image runs does not use what it was given.",
                            last_line(&run.output)
                        ),
                    ),
                }
            }
            Check::NeverInLayers { path } => match facts.layer_paths {
                None => (false, "Not checked: the image's layers could not be read.".into()),
                Some(layers) => {
                    let found = layers
                        .paths
                        .iter()
                        .find(|(p, _)| path.iter().any(|wanted| path_matches(wanted, p)));
                    match found {
                        Some((p, layer)) => (
                            false,
                            format!(
                                "Layer {layer} holds /{p}: whoever has the image can read it, even if a later step deletes it."
                            ),
                        ),
                        None if layers.truncated => (
                            false,
                            format!(
                                "Not proven: a layer changes too many files to list, so {} may be among them.",
                                path.join(" or ")
                            ),
                        ),
                        None => (true, format!("No layer holds {}.", path.join(" or "))),
                    }
                }
            },
            Check::MainProcess { command } => match facts.run {
                None => needs_run_message(),
                Some(run) => match run.processes.iter().find(|p| p.main) {
                    None => (
                        false,
                        "Not checked: the container was not seen running, so its main process is unknown.".into(),
                    ),
                    Some(main) if program_of(&main.command) == command => (
                        true,
                        format!("PID 1 is `{}`.", main.command),
                    ),
                    Some(main) => (
                        false,
                        format!(
                            "PID 1 is `{}`, not {command}: the engine's stop signal goes to it, and the container lives exactly as long as it does. `exec` replaces a start script by the program it starts.",
                            main.command
                        ),
                    ),
                },
            },
            Check::ProcessesNotRoot => match facts.run {
                None => needs_run_message(),
                Some(run) if run.processes.is_empty() => (
                    false,
                    "Not checked: the container was not seen running, so `docker top` listed nothing.".into(),
                ),
                Some(run) => {
                    let root: Vec<String> = run
                        .processes
                        .iter()
                        .filter(|p| p.user == "root" || p.user == "0")
                        .map(|p| format!("`{}` (PID {})", p.command, p.pid))
                        .collect();
                    let users: std::collections::BTreeSet<&str> =
                        run.processes.iter().map(|p| p.user.as_str()).collect();
                    if root.is_empty() {
                        (
                            true,
                            format!(
                                "{} process{} ran as {}, none as root.",
                                run.processes.len(),
                                if run.processes.len() == 1 { "" } else { "es" },
                                users.into_iter().collect::<Vec<_>>().join(", ")
                            ),
                        )
                    } else {
                        (
                            false,
                            format!(
                                "{} ran as root — root on the host, too, unless the engine remaps users.",
                                root.join(", ")
                            ),
                        )
                    }
                }
            },
            Check::Health { status, freeze, .. } => {
                let variant = self.variant();
                let run = facts
                    .variants
                    .iter()
                    .find(|(v, _)| Some(v) == variant.as_ref())
                    .map(|(_, run)| run);
                match run.and_then(|r| r.health.as_ref().map(|h| (r, h))) {
                    None => needs_run_message(),
                    Some((run, health)) if *freeze => frozen_verdict(*status, run, health),
                    Some((run, health)) => health_verdict(*status, run, health),
                }
            }
            Check::NoFileContains { text, what } => match facts.texts {
                None => (false, "Not checked: the image's layers could not be read.".into()),
                Some(texts) => match texts.files_holding(text) {
                    Some(files) => (
                        false,
                        format!(
                            "The image holds {what}: {files}. Whoever has the image can read it, even if a later step deletes it."
                        ),
                    ),
                    None => (true, format!("No layer holds {what}.")),
                },
            },
            Check::NoStepFromCache => match facts.cache {
                None => (false, "Not checked: the cache was not filled first.".into()),
                Some(CacheFacts { error: Some(e), .. }) => (
                    false,
                    format!("Not checked: the build that fills the cache failed: {e}"),
                ),
                Some(CacheFacts { steps: 0, .. }) => (
                    false,
                    "There is no RUN, COPY or ADD step: nothing the cache could hold.".into(),
                ),
                Some(CacheFacts { steps, cached, .. }) if cached.is_empty() => (
                    true,
                    format!(
                        "All {steps} RUN/COPY/ADD steps ran anew, although the cache held them."
                    ),
                ),
                Some(CacheFacts { cached, .. }) => (
                    false,
                    format!(
                        "{} came from the cache (“Using cache” in the log): the engine reused what an earlier build of the same files made instead of running it. Changing the files cannot avoid that; the build has to be told.",
                        cached.join("; ")
                    ),
                ),
            },
            Check::FirstLayerBy { instruction } => {
                match image.history.iter().find(|h| !h.empty_layer) {
                    None => (false, "The image has no layer at all.".into()),
                    Some(first) => {
                        let made_by = first.instruction();
                        let keyword = made_by.split_whitespace().next().unwrap_or("");
                        let shown: String = made_by.chars().take(60).collect();
                        if keyword.eq_ignore_ascii_case(instruction) {
                            (true, format!("Its first layer was made by `{shown}`."))
                        } else {
                            (
                                false,
                                format!("Its first layer was made by `{shown}`, not by {instruction}: the files come from somewhere else than what {instruction} would put there."),
                            )
                        }
                    }
                }
            }
            Check::Pushed { repository, tag } => {
                let name = format!("{repository}:{tag}");
                match held_as_this_build(facts, &image.id, &name) {
                    Ok(held) => (
                        true,
                        format!("`{name}` in your registry is this build's image (digest {}).", held.digest),
                    ),
                    Err(verdict) => verdict,
                }
            }
            Check::RunsWhenPulledBack { repository, tag } => {
                let name = format!("{repository}:{tag}");
                if let Err(verdict) = held_as_this_build(facts, &image.id, &name) {
                    return verdict;
                }
                match facts.pulled_back.filter(|p| p.name == name) {
                    None => (
                        false,
                        format!("Not checked yet: after you push this build as `{name}`, it is pulled back from your registry and run."),
                    ),
                    Some(PulledBack { outcome: Err(why), .. }) => (
                        false,
                        format!("`{name}` could not be pulled back from your registry and run: {why}"),
                    ),
                    Some(PulledBack { reference, outcome: Ok(checks), .. }) => {
                        let failed: Vec<String> = checks
                            .iter()
                            .filter(|c| !c.passed)
                            .map(|c| format!("{} ({})", c.id, c.message))
                            .collect();
                        if failed.is_empty() {
                            let ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
                            (
                                true,
                                format!("Pulled back as `{reference}`, it ran and passed every check on the running container ({}).", ids.join(", ")),
                            )
                        } else {
                            (
                                false,
                                format!("Pulled back as `{reference}`, it ran but failed {}.", failed.join("; ")),
                            )
                        }
                    }
                }
            }
            Check::FromOwnPush {
                repository,
                tag,
                pinned,
            } => {
                let named = format!("{repository}:{tag}");
                // The policy approved it in the learner's namespace: `<registry>/<handle>/…`.
                let Some(rest) = facts
                    .own_base
                    .and_then(|r| r.splitn(3, '/').nth(2))
                else {
                    return (
                        false,
                        format!("The last stage does not start FROM one of your pushes: start it FROM your namespace's `{named}` (its full name is on your registry page)."),
                    );
                };
                if !pinned {
                    return if rest == named {
                        (true, format!("It starts FROM your own `{named}`."))
                    } else {
                        (false, format!("It starts FROM your `{rest}`, not your `{named}`."))
                    };
                }
                let Some(digest) = rest.strip_prefix(&format!("{repository}@")) else {
                    return (
                        false,
                        format!("It starts FROM your `{rest}`: pin `{repository}` by its digest instead (`{repository}@sha256:…`, as your registry page shows it for `{tag}`), so that a moved tag cannot change it."),
                    );
                };
                match facts.registry.and_then(|held| held.tags.get(&named)) {
                    None => (false, "Not checked: your registry was not read.".into()),
                    Some(None) => (false, format!("Your registry holds no `{named}` to pin: push it first.")),
                    Some(Some(held)) if held.digest == digest => (
                        true,
                        format!("It starts FROM your `{named}`, pinned by its digest {digest}."),
                    ),
                    Some(Some(held)) => (
                        false,
                        format!("It is pinned to {digest}, but your `{named}` is {} now: pin the digest your registry shows for it.", held.digest),
                    ),
                }
            }
            Check::FromScratch => match facts.bases_under {
                None => (false, "Not checked: the image's layers could not be compared with the base images'.".into()),
                Some([]) => (
                    true,
                    "No base image is under it: its first layer is its own.".into(),
                ),
                Some(bases) => (
                    false,
                    format!(
                        "Its first layers are those of {}: the final stage starts FROM that image, not FROM scratch.",
                        bases.join(" and ")
                    ),
                ),
            },
            Check::Stages { min } => match facts.stages {
                None => (false, "Not checked: the stages are unknown.".into()),
                Some(n) => (
                    n >= *min,
                    format!("The build ran {n} stage{}; the goal is at least {min}.", if n == 1 { "" } else { "s" }),
                ),
            },
            Check::CacheHitOnRebuild {
                change,
                rebuilt_at_most,
            } => match facts.rebuild {
                None => (false, format!("Not checked: the rebuild after changing {change} did not run.")),
                Some(RebuildFacts { error: Some(e), .. }) => {
                    (false, format!("The rebuild after changing {change} failed: {e}"))
                }
                Some(r) if r.rebuilt.len() <= *rebuilt_at_most => (
                    true,
                    format!(
                        "After changing {change}, only {} step{} ran again.",
                        r.rebuilt.len(),
                        if r.rebuilt.len() == 1 { "" } else { "s" }
                    ),
                ),
                Some(r) => (
                    false,
                    format!(
                        "After changing {change}, {} steps ran again, starting with “{}”; the goal is at most {rebuilt_at_most}. Copy {change} after the slow steps.",
                        r.rebuilt.len(),
                        r.rebuilt.first().map(String::as_str).unwrap_or("")
                    ),
                ),
            },
        }
    }
}

/// Whether `path` (a layer's path, without its leading `/`) is `wanted` or under it; a
/// `wanted` of `**/name` is that name in any folder, matched without regard to (ASCII) case,
/// where `*` in `name` stands for any characters (`**/pantry-*.tgz`). Called for every path
/// of every layer, so it allocates nothing for a one-segment name.
fn path_matches(wanted: &str, path: &str) -> bool {
    match wanted.strip_prefix("**/") {
        None => {
            let wanted = wanted.trim_matches('/');
            path.strip_prefix(wanted)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }
        Some(name) => {
            let name = name.trim_matches('/');
            if !name.contains('/') {
                return path.split('/').any(|segment| glob_matches(name, segment));
            }
            // A name of several segments: any run of whole segments, at any depth.
            let segments: Vec<&str> = path.split('/').collect();
            let wanted: Vec<&str> = name.split('/').collect();
            segments.windows(wanted.len()).any(|run| {
                run.iter()
                    .zip(&wanted)
                    .all(|(segment, w)| glob_matches(w, segment))
            })
        }
    }
}

/// `*` in `pattern` matches any run of characters within `text` (one path segment); letters
/// match in either case.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let mut parts = pattern.split(|b| *b == b'*');
    let first = parts.next().unwrap_or_default();
    let Some(last) = parts.next_back() else {
        return text.eq_ignore_ascii_case(pattern);
    };
    if text.len() < first.len() + last.len()
        || !text[..first.len()].eq_ignore_ascii_case(first)
        || !text[text.len() - last.len()..].eq_ignore_ascii_case(last)
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in parts.filter(|m| !m.is_empty()) {
        match rest
            .windows(middle.len())
            .position(|w| w.eq_ignore_ascii_case(middle))
        {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// A string, or a list of them.
fn one_or_more<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMore {
        One(String),
        More(Vec<String>),
    }
    Ok(match OneOrMore::deserialize(d)? {
        OneOrMore::One(one) => vec![one],
        OneOrMore::More(more) => more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::dto::{ProbeFacts, StopFacts};

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("toml")
    }

    #[test]
    fn checks_parse_with_ids_and_refuse_unknown_fields() {
        let parsed = parse(table(
            "id = \"small\"\ntype = \"max-size\"\nmax_bytes = 5000000\nexplained_in = \"layers#size\"",
        ))
        .expect("parses");
        assert_eq!(parsed.id, "small");
        assert_eq!(
            parsed.check,
            Check::MaxSize {
                max_bytes: 5_000_000
            }
        );
        assert_eq!(parsed.explained_in.as_deref(), Some("layers#size"));
        let err = parse(table(
            "id = \"x\"\ntype = \"max-layers\"\nmax = 3\nmaxx = 4",
        ))
        .expect_err("unknown field");
        assert!(format!("{err:#}").contains("maxx"), "{err:#}");
        let err = parse(table("type = \"build-succeeds\"")).expect_err("no id");
        assert!(err.to_string().contains("add an `id`"), "{err}");
        let err = parse(table("id = \"x\"\ntype = \"made-up\"")).expect_err("unknown type");
        assert!(format!("{err:#}").contains("made-up"), "{err:#}");
    }

    fn image(layers: usize, size_bytes: u64) -> ImageFacts {
        ImageFacts {
            id: "sha256:x".into(),
            size_bytes,
            layers,
            history: Vec::new(),
        }
    }

    #[test]
    fn a_pushed_check_passes_only_on_this_builds_image_under_that_tag() {
        let parsed = parse(table(
            "id = \"shared\"\ntype = \"pushed\"\nrepository = \"my-app\"\ntag = \"devel\"",
        ))
        .expect("parses");
        let check = parsed.check;
        assert_eq!(check.registry_tag().as_deref(), Some("my-app:devel"));
        let img = image(2, 1000);
        let held = |image_id: Option<&str>| RegistryHeld {
            tags: [(
                "my-app:devel".to_string(),
                image_id.map(|id| crate::registry::TagFacts {
                    tag: "devel".into(),
                    digest: "sha256:m".into(),
                    image_id: Some(id.into()),
                    size_bytes: 1,
                }),
            )]
            .into(),
        };
        let judge = |registry: Option<&RegistryHeld>| {
            check.judge(
                "shared",
                Facts {
                    image: Some(&img),
                    registry,
                    ..Facts::default()
                },
            )
        };
        let ours = held(Some("sha256:x"));
        let outcome = judge(Some(&ours));
        assert!(outcome.passed, "{}", outcome.message);
        assert!(outcome.message.contains("sha256:m"), "{}", outcome.message);
        let other = held(Some("sha256:other"));
        let outcome = judge(Some(&other));
        assert!(!outcome.passed);
        assert!(
            outcome.message.contains("another image"),
            "{}",
            outcome.message
        );
        let missing = held(None);
        let outcome = judge(Some(&missing));
        assert!(!outcome.passed);
        assert!(
            outcome.message.contains("holds no `my-app:devel` yet"),
            "{}",
            outcome.message
        );
        let outcome = judge(None);
        assert!(!outcome.passed);
        assert!(
            outcome.message.starts_with("Not checked"),
            "{}",
            outcome.message
        );
        let unasked = RegistryHeld::default();
        assert!(!judge(Some(&unasked)).passed);
    }

    #[test]
    fn a_pulled_back_check_passes_only_when_this_builds_push_ran_and_passed_the_run_checks() {
        let check = parse(table(
            "id = \"pulled-back\"\ntype = \"runs-when-pulled-back\"\nrepository = \"my-app\"\ntag = \"devel\"",
        ))
        .expect("parses")
        .check;
        assert_eq!(check.registry_tag().as_deref(), Some("my-app:devel"));
        assert_eq!(check.pulled_back().as_deref(), Some("my-app:devel"));
        assert!(check.judged_again_after_a_push());
        assert!(
            !check.needs_run(),
            "it is not one of the run checks it judges by"
        );
        let img = image(2, 1000);
        let held = |image_id: &str| RegistryHeld {
            tags: [(
                "my-app:devel".to_string(),
                Some(crate::registry::TagFacts {
                    tag: "devel".into(),
                    digest: "sha256:m".into(),
                    image_id: Some(image_id.into()),
                    size_bytes: 1,
                }),
            )]
            .into(),
        };
        let outcome = |id: &str, passed: bool| CheckOutcome {
            id: id.into(),
            passed,
            message: format!("{id} said so"),
            learn_more: None,
        };
        let pulled = |outcome: Result<Vec<CheckOutcome>, String>| PulledBack {
            name: "my-app:devel".into(),
            reference: "127.0.0.1:5000/learner-1/my-app@sha256:m".into(),
            outcome,
        };
        let judge = |registry: &RegistryHeld, pulled_back: Option<&PulledBack>| {
            check.judge(
                "pulled-back",
                Facts {
                    image: Some(&img),
                    registry: Some(registry),
                    pulled_back,
                    ..Facts::default()
                },
            )
        };
        let ours = held("sha256:x");
        let ran = pulled(Ok(vec![outcome("runs", true), outcome("serves", true)]));
        let verdict = judge(&ours, Some(&ran));
        assert!(verdict.passed, "{}", verdict.message);
        assert!(
            verdict.message.contains("learner-1/my-app@sha256:m")
                && verdict.message.contains("runs, serves"),
            "{}",
            verdict.message
        );
        // Another image under the tag: whatever ran, it is not this build.
        let verdict = judge(&held("sha256:other"), Some(&ran));
        assert!(!verdict.passed);
        assert!(
            verdict.message.contains("another image"),
            "{}",
            verdict.message
        );
        // Not pulled back yet, or for another name.
        let verdict = judge(&ours, None);
        assert!(!verdict.passed);
        assert!(
            verdict.message.starts_with("Not checked yet"),
            "{}",
            verdict.message
        );
        let elsewhere = PulledBack {
            name: "my-app:latest".into(),
            ..ran.clone()
        };
        assert!(!judge(&ours, Some(&elsewhere)).passed);
        // A run check failing on the pulled image fails it, naming that check and why.
        let failing = pulled(Ok(vec![outcome("runs", false), outcome("serves", true)]));
        let verdict = judge(&ours, Some(&failing));
        assert!(!verdict.passed);
        assert!(
            verdict.message.contains("failed runs (runs said so)"),
            "{}",
            verdict.message
        );
        // The pull or the run could not be made.
        let broken = pulled(Err(
            "the pull failed: the registry holds no such image".into()
        ));
        let verdict = judge(&ours, Some(&broken));
        assert!(!verdict.passed);
        assert!(
            verdict.message.contains("no such image"),
            "{}",
            verdict.message
        );
    }

    #[test]
    fn a_from_own_push_check_wants_that_push_by_tag_or_by_its_current_digest() {
        let pinned = parse(table(
            "id = \"pinned\"\ntype = \"from-own-push\"\nrepository = \"my-app\"\ntag = \"devel\"\npinned = true",
        ))
        .expect("parses")
        .check;
        assert_eq!(pinned.registry_tag().as_deref(), Some("my-app:devel"));
        assert!(!pinned.judged_again_after_a_push());
        let by_tag = Check::FromOwnPush {
            repository: "my-app".into(),
            tag: "devel".into(),
            pinned: false,
        };
        assert_eq!(by_tag.registry_tag(), None, "nothing to read for a tag");
        let img = image(2, 1000);
        let digest = format!("sha256:{}", "a".repeat(64));
        let held = RegistryHeld {
            tags: [(
                "my-app:devel".to_string(),
                Some(crate::registry::TagFacts {
                    tag: "devel".into(),
                    digest: digest.clone(),
                    image_id: Some("sha256:c".into()),
                    size_bytes: 1,
                }),
            )]
            .into(),
        };
        let judge = |check: &Check, own_base: Option<&str>| {
            check.judge(
                "c",
                Facts {
                    image: Some(&img),
                    registry: Some(&held),
                    own_base,
                    ..Facts::default()
                },
            )
        };
        let tagged = "127.0.0.1:5100/learner-a/my-app:devel";
        let pin = format!("127.0.0.1:5100/learner-a/my-app@{digest}");
        let stale = format!("127.0.0.1:5100/learner-a/my-app@sha256:{}", "b".repeat(64));
        assert!(judge(&by_tag, Some(tagged)).passed);
        assert!(judge(&by_tag, Some(&pin))
            .message
            .contains("not your `my-app:devel`"));
        assert!(judge(&pinned, Some(&pin)).passed);
        let outcome = judge(&pinned, Some(tagged));
        assert!(
            !outcome.passed && outcome.message.contains("pin `my-app` by its digest"),
            "{}",
            outcome.message
        );
        let outcome = judge(&pinned, Some(&stale));
        assert!(
            !outcome.passed && outcome.message.contains("is sha256:aaaa"),
            "{}",
            outcome.message
        );
        let outcome = judge(&pinned, None);
        assert!(
            !outcome.passed
                && outcome
                    .message
                    .contains("does not start FROM one of your pushes"),
            "{}",
            outcome.message
        );
        let other = "127.0.0.1:5100/learner-a/other:devel";
        assert!(!judge(&by_tag, Some(other)).passed);
    }

    #[test]
    fn verdicts_use_the_facts_and_say_the_numbers() {
        let img = image(4, 3 * 1024 * 1024);
        let config = ImageConfigFacts {
            user: "app".into(),
            workdir: "/srv".into(),
            env: vec!["MODE=prod".into(), "PATH=/bin".into()],
            ..Default::default()
        };
        let facts = Facts {
            image: Some(&img),
            config: Some(&config),
            ..Facts::default()
        };
        let outcome = Check::MaxLayers { max: 3 }.judge("few", facts);
        assert!(!outcome.passed);
        assert_eq!(
            outcome.message,
            "The image has 4 layers; the goal is at most 3."
        );
        assert!(
            Check::MaxSize {
                max_bytes: 4 * 1024 * 1024
            }
            .judge("s", facts)
            .passed
        );
        assert!(Check::User { name: "app".into() }.judge("u", facts).passed);
        assert!(Check::NonRootUser.judge("u", facts).passed);
        for root in ["root", "0", "00", "0:0", "000:1000"] {
            let config = ImageConfigFacts {
                user: root.into(),
                ..Default::default()
            };
            let verdict = Check::NonRootUser.judge(
                "u",
                Facts {
                    config: Some(&config),
                    ..facts
                },
            );
            assert!(!verdict.passed, "USER {root} is root: {}", verdict.message);
        }
        assert!(
            Check::Workdir {
                path: "/srv/".into()
            }
            .judge("w", facts)
            .passed
        );
        let env = Check::EnvHas {
            name: "MODE".into(),
            value: Some("dev".into()),
        }
        .judge("e", facts);
        assert_eq!(
            (env.passed, env.message.as_str()),
            (false, "MODE is “prod”; the goal is “dev”.")
        );
        let not_run = Check::RunOutput {
            contains: "hi".into(),
        }
        .judge("r", facts);
        assert_eq!(not_run.message, "Not checked: the container did not run.");

        let root = ImageConfigFacts::default();
        let as_root = Check::NonRootUser.judge(
            "u",
            Facts {
                config: Some(&root),
                ..facts
            },
        );
        assert!(!as_root.passed);
        assert!(as_root.message.contains("root"), "{}", as_root.message);
        let failed = Check::BuildSucceeds.judge("b", Facts::default());
        assert!(!failed.passed);
    }

    #[test]
    fn run_and_probe_verdicts() {
        let img = image(1, 1);
        let run = RunFacts {
            output: "listening\n".into(),
            probe: Some(ProbeFacts {
                port: 8080,
                path: "/".into(),
                status: Some(200),
                body: "<h1>Hello</h1>".into(),
                error: None,
            }),
            ..RunFacts::default()
        };
        let facts = Facts {
            image: Some(&img),
            run: Some(&run),
            ..Facts::default()
        };
        let web = Check::HttpResponds {
            status: 200,
            body_contains: Some("Hello".into()),
        };
        assert!(web.judge("w", facts).passed);
        let wrong = Check::HttpResponds {
            status: 200,
            body_contains: Some("Bye".into()),
        }
        .judge("w", facts);
        assert!(!wrong.passed);
        assert!(
            wrong.message.contains("does not contain “Bye”"),
            "{}",
            wrong.message
        );
        let exit = Check::ExitCode { code: 0 }.judge("x", facts);
        assert!(!exit.passed);
        assert!(
            Check::RunOutput {
                contains: "listen".into()
            }
            .judge("o", facts)
            .passed
        );
    }

    #[test]
    fn stop_verdicts_tell_exited_slow_killed_and_never_asked_apart() {
        let img = image(1, 1);
        let copy = |ended_early: Option<i64>, exited_in_ms: Option<u64>| {
            Some(app::dto::CopyStopFacts {
                after_ms: 6200,
                ended_early,
                exited_in_ms,
            })
        };
        let stopped = |exited_in_ms: Option<u64>, exit_code: Option<i64>| RunFacts {
            exit_code,
            stop: Some(StopFacts {
                signal: "SIGTERM".into(),
                after_ms: 2000,
                exited_in_ms,
                grace_ms: 3000,
                copy: copy(None, Some(90)),
            }),
            ..RunFacts::default()
        };
        let check = Check::StopsOnSignal { within_secs: 2 };
        let judge = |run: &RunFacts| {
            check.judge(
                "s",
                Facts {
                    image: Some(&img),
                    run: Some(run),
                    ..Facts::default()
                },
            )
        };
        let quick = judge(&stopped(Some(140), Some(0)));
        assert!(quick.passed, "{}", quick.message);
        assert_eq!(
            quick.message,
            "It exited 0.1 s after SIGTERM; a copy asked 4.2 s later exited 0.1 s after its own."
        );
        let with_copy = |c| {
            let mut run = stopped(Some(300), Some(0));
            if let Some(stop) = &mut run.stop {
                stop.copy = c;
            }
            judge(&run)
        };
        let clock = with_copy(copy(Some(0), None));
        assert!(!clock.passed);
        assert!(
            clock
                .message
                .contains("had ended by itself before that (code 0)"),
            "{}",
            clock.message
        );
        let lucky = with_copy(copy(None, None));
        assert!(!lucky.passed);
        assert!(lucky.message.contains("was luck"), "{}", lucky.message);
        let slow_copy = with_copy(copy(None, Some(2500)));
        assert!(!slow_copy.passed);
        assert!(
            slow_copy.message.contains("took 2.5 s"),
            "{}",
            slow_copy.message
        );
        let unwatched = with_copy(None);
        assert!(!unwatched.passed);
        assert!(unwatched.message.starts_with("Not proven"));
        let slow = judge(&stopped(Some(2600), Some(0)));
        assert!(!slow.passed);
        assert!(slow.message.contains("took 2.6 s"), "{}", slow.message);
        let killed = stopped(None, None);
        let ignored = judge(&killed);
        assert!(!ignored.passed);
        assert!(
            ignored.message.contains("ignored SIGTERM: 3.0 s later"),
            "{}",
            ignored.message
        );
        let exit = Check::ExitCode { code: 0 }.judge(
            "x",
            Facts {
                image: Some(&img),
                run: Some(&killed),
                ..Facts::default()
            },
        );
        assert!(exit.message.contains("was killed"), "{}", exit.message);
        let mut left = stopped(None, Some(0));
        left.stop = None;
        let early = judge(&left);
        assert!(!early.passed);
        assert!(
            early.message.contains("exited by itself"),
            "{}",
            early.message
        );
    }

    #[test]
    fn filesystem_secret_stage_and_cache_verdicts() {
        let mut img = image(2, 10);
        img.history.push(app::dto::HistoryEntry {
            created_by: "/bin/sh -c echo tok_123 > /key".into(),
            size_bytes: 8,
            empty_layer: false,
        });
        let config = ImageConfigFacts {
            labels: [(
                "org.opencontainers.image.version".to_string(),
                "1.5.0".to_string(),
            )]
            .into(),
            ..Default::default()
        };
        let paths = [
            ("/app/.env".to_string(), true),
            ("/app/app.sh".to_string(), true),
        ]
        .into();
        let rebuild = RebuildFacts {
            changed: "app.sh".into(),
            rebuilt: vec!["Step 3/5 : COPY . .".into(), "Step 4/5 : RUN make".into()],
            error: None,
        };
        let facts = Facts {
            image: Some(&img),
            config: Some(&config),
            paths: Some(&paths),
            stages: Some(1),
            rebuild: Some(&rebuild),
            ..Facts::default()
        };
        let absent = Check::FileAbsent {
            path: "/app/.env".into(),
        }
        .judge("f", facts);
        assert_eq!(
            (absent.passed, absent.message.as_str()),
            (false, "/app/.env is in the image, but should not be.")
        );
        assert!(
            Check::FilePresent {
                path: "/app/app.sh".into()
            }
            .judge("f", facts)
            .passed
        );
        let secret = Check::NoSecret {
            value: "tok_123".into(),
        }
        .judge("s", facts);
        assert!(!secret.passed);
        assert!(
            secret.message.contains("build history"),
            "{}",
            secret.message
        );
        assert!(
            Check::Label {
                name: "org.opencontainers.image.version".into(),
                equals: Some("1.5.0".into())
            }
            .judge("l", facts)
            .passed
        );
        assert!(!Check::Stages { min: 2 }.judge("m", facts).passed);
        let cache = Check::CacheHitOnRebuild {
            change: "app.sh".into(),
            rebuilt_at_most: 1,
        }
        .judge("c", facts);
        assert!(!cache.passed);
        assert!(
            cache
                .message
                .contains("starting with “Step 3/5 : COPY . .”"),
            "{}",
            cache.message
        );
        let unlooked = Check::FilePresent {
            path: "/other".into(),
        }
        .judge("f", facts);
        assert!(
            unlooked.message.starts_with("Not checked"),
            "{}",
            unlooked.message
        );
    }

    #[test]
    fn secrets_and_texts_in_layer_files_fail_and_unread_layers_prove_nothing() {
        let img = image(2, 10);
        let config = ImageConfigFacts::default();
        let secret = Check::NoSecret {
            value: "tok_123".into(),
        };
        let source = Check::NoFileContains {
            text: "name = \"pantry\"".into(),
            what: "the project's source".into(),
        };
        assert_eq!(secret.text_in_layers(), Some("tok_123"));
        assert!(secret.needs_layers() && source.needs_layers());
        let unread = Facts {
            image: Some(&img),
            config: Some(&config),
            ..Facts::default()
        };
        for check in [&secret, &source] {
            let verdict = check.judge("x", unread);
            assert!(
                !verdict.passed,
                "{check:?} passed without reading the layers"
            );
            assert!(
                verdict.message.starts_with("Not checked"),
                "{}",
                verdict.message
            );
        }
        let mut found = TextsInLayers::default();
        found
            .found
            .insert("tok_123".into(), vec![(3, "/app/token.txt".into())]);
        let read = Facts {
            texts: Some(&found),
            ..unread
        };
        let verdict = secret.judge("s", read);
        assert!(!verdict.passed);
        assert!(
            verdict.message.contains("/app/token.txt (layer 3)"),
            "{}",
            verdict.message
        );
        assert!(source.judge("p", read).passed);
        found.found.insert(
            "name = \"pantry\"".into(),
            (1..=5)
                .map(|i| (4, format!("/src/{i}/pyproject.toml")))
                .collect(),
        );
        let read = Facts {
            texts: Some(&found),
            ..unread
        };
        let verdict = source.judge("p", read);
        assert!(!verdict.passed);
        assert!(
            verdict
                .message
                .contains("the project's source: /src/1/pyproject.toml (layer 4)"),
            "{}",
            verdict.message
        );
        assert!(verdict.message.contains("2 more"), "{}", verdict.message);
        let clean = TextsInLayers::default();
        let verdict = secret.judge(
            "s",
            Facts {
                texts: Some(&clean),
                ..unread
            },
        );
        assert!(verdict.passed, "{}", verdict.message);
    }

    #[test]
    fn never_in_layers_finds_a_path_under_it_and_a_name_in_any_folder() {
        let img = image(3, 1);
        let layers = |paths: &[(&str, usize)], truncated| LayerPaths {
            paths: paths.iter().map(|(p, l)| (p.to_string(), *l)).collect(),
            truncated,
        };
        let judge = |path: &str, layers: &LayerPaths| {
            Check::NeverInLayers {
                path: vec![path.into()],
            }
            .judge(
                "n",
                Facts {
                    image: Some(&img),
                    layer_paths: Some(layers),
                    ..Facts::default()
                },
            )
        };
        let held = layers(
            &[
                ("etc/os-release", 1),
                ("src/app/pyproject.toml", 3),
                ("build/out/x", 2),
            ],
            false,
        );
        let under = judge("/build", &held);
        assert!(!under.passed);
        assert_eq!(
            under.message,
            "Layer 2 holds /build/out/x: whoever has the image can read it, even if a later step deletes it."
        );
        assert!(!judge("build/out/x", &held).passed);
        // Not a prefix of a longer name.
        assert!(judge("/buil", &held).passed);
        assert!(judge("/pyproject.toml", &held).passed);
        let anywhere = judge("**/pyproject.toml", &held);
        assert!(!anywhere.passed);
        assert!(anywhere
            .message
            .contains("Layer 3 holds /src/app/pyproject.toml"));
        assert!(!judge("**/app", &held).passed, "a folder of that name");
        assert!(
            judge("**/toml", &held).passed,
            "the whole name, not its end"
        );
        assert!(!judge("**/os-release", &held).passed);
        let unread = judge("**/pyproject.toml", &layers(&[("etc/os-release", 1)], true));
        assert!(!unread.passed, "too many files to list proves nothing");
        assert!(unread.message.starts_with("Not proven"));
        assert!(
            judge(
                "**/pyproject.toml",
                &layers(&[("etc/os-release", 1)], false)
            )
            .passed
        );
        // Names in any folder ignore case and take `*`.
        let archives = layers(
            &[
                ("dist/Pantry-1.0.TGZ", 2),
                (
                    "usr/lib/python3/dist-packages/pantry-1.0.0.dist-info/RECORD",
                    3,
                ),
            ],
            false,
        );
        assert!(!judge("**/pantry-*.tgz", &archives).passed);
        assert!(
            judge("**/pantry-*.tar*", &archives).passed,
            "the dist-info is no archive"
        );
        assert!(
            !judge("**/pantry-*.dist-info", &archives).passed,
            "a folder, at depth"
        );
        assert!(!judge("**/DIST", &archives).passed);
        assert!(judge("**/pan*x", &archives).passed);
        let either = Check::NeverInLayers {
            path: vec!["**/setup.py".into(), "**/pyproject.toml".into()],
        }
        .judge(
            "n",
            Facts {
                image: Some(&img),
                layer_paths: Some(&held),
                ..Facts::default()
            },
        );
        assert!(!either.passed, "any of the listed paths");
        let listed = parse(table(
            "id = \"n\"\ntype = \"never-in-layers\"\npath = [\"/a\", \"**/b\"]",
        ))
        .expect("a list of paths");
        assert_eq!(
            listed.check,
            Check::NeverInLayers {
                path: vec!["/a".into(), "**/b".into()]
            }
        );
    }

    #[test]
    fn no_step_from_cache_needs_a_filled_cache_and_steps_that_ran() {
        let img = image(2, 1);
        let judge = |cache: Option<&CacheFacts>| {
            Check::NoStepFromCache.judge(
                "c",
                Facts {
                    image: Some(&img),
                    cache,
                    ..Facts::default()
                },
            )
        };
        let facts = |steps, cached: &[&str], error: Option<&str>| CacheFacts {
            steps,
            cached: cached.iter().map(|s| s.to_string()).collect(),
            error: error.map(str::to_string),
        };
        let fresh = judge(Some(&facts(2, &[], None)));
        assert!(fresh.passed, "{}", fresh.message);
        assert_eq!(
            fresh.message,
            "All 2 RUN/COPY/ADD steps ran anew, although the cache held them."
        );
        let cached = judge(Some(&facts(2, &["Step 2/3 : RUN date > /d"], None)));
        assert!(!cached.passed);
        assert!(cached
            .message
            .starts_with("Step 2/3 : RUN date > /d came from the cache"));
        assert!(
            !judge(Some(&facts(0, &[], None))).passed,
            "no step proves nothing"
        );
        let unfilled = judge(Some(&facts(2, &[], Some("the engine is down"))));
        assert!(!unfilled.passed);
        assert!(unfilled.message.contains("the engine is down"));
        assert!(!judge(None).passed);
    }

    #[test]
    fn first_layer_by_reads_the_engines_history() {
        let entry = |created_by: &str, empty_layer| app::dto::HistoryEntry {
            created_by: created_by.into(),
            size_bytes: 0,
            empty_layer,
        };
        let mut img = image(1, 1);
        let check = Check::FirstLayerBy {
            instruction: "ADD".into(),
        };
        let judge = |img: &ImageFacts| {
            check.judge(
                "f",
                Facts {
                    image: Some(img),
                    ..Facts::default()
                },
            )
        };
        img.history = vec![
            entry("/bin/sh -c #(nop) ADD file:8e4d46 in / ", false),
            entry("/bin/sh -c #(nop)  CMD [\"sh\"]", true),
        ];
        let added = judge(&img);
        assert!(added.passed, "{}", added.message);
        img.history[0] = entry("/bin/sh -c #(nop) COPY dir:5f1c in / ", false);
        let copied = judge(&img);
        assert!(!copied.passed);
        assert!(
            copied.message.contains("`COPY dir:5f1c in /`, not by ADD"),
            "{}",
            copied.message
        );
        // Metadata-only entries before it do not count.
        img.history
            .insert(0, entry("/bin/sh -c #(nop) ADD nothing", true));
        assert!(!judge(&img).passed);
        img.history.clear();
        assert!(!judge(&img).passed, "no layer");
    }

    #[test]
    fn globs_match_whole_segments_in_either_case() {
        assert!(glob_matches("pantry-*.tgz", "Pantry-1.0.TGZ"));
        assert!(glob_matches("pantry-*.tar.*", "pantry-1.0.tar.gz"));
        assert!(!glob_matches("pantry-*.tar.*", "pantry-1.0.tar"));
        assert!(glob_matches("p*1*z", "pantry-1.0.tgz"));
        assert!(!glob_matches("p*9*z", "pantry-1.0.tgz"));
        assert!(glob_matches("a**b", "ab"), "an empty run between stars");
        assert!(!glob_matches("ab*ba", "aba"), "the ends may not overlap");
        assert!(glob_matches("setup.cfg", "SETUP.CFG"));
        assert!(!glob_matches("setup.cfg", "setup.cfg.bak"));
        assert!(path_matches(
            "**/src/pyproject.toml",
            "app/src/pyproject.toml"
        ));
        assert!(!path_matches(
            "**/src/pyproject.toml",
            "app/src/x/pyproject.toml"
        ));
    }

    #[test]
    fn from_scratch_fails_on_the_base_found_under_the_image() {
        let img = image(1, 1);
        let judge = |bases: Option<&[String]>| {
            Check::FromScratch.judge(
                "s",
                Facts {
                    image: Some(&img),
                    bases_under: bases,
                    ..Facts::default()
                },
            )
        };
        assert!(judge(Some(&[])).passed);
        let on_busybox = judge(Some(&["busybox:1.35".to_string()]));
        assert!(!on_busybox.passed);
        assert!(
            on_busybox.message.contains("those of busybox:1.35"),
            "{}",
            on_busybox.message
        );
        let unknown = judge(None);
        assert!(!unknown.passed, "not compared proves nothing");
        assert!(unknown.message.starts_with("Not checked"));
    }

    #[test]
    fn health_verdicts_follow_the_engine_and_explain_starting() {
        let img = image(1, 1);
        let check = Check::Health {
            status: HealthWanted::Unhealthy,
            within_secs: 15,
            env: [("SIMULATE_FAILURE".to_string(), "1".to_string())].into(),
            freeze: false,
        };
        let variant = check.variant().expect("a health check runs a variant");
        assert_eq!(variant.env, vec!["SIMULATE_FAILURE=1".to_string()]);
        assert_eq!(
            variant.watch_health,
            Some(std::time::Duration::from_secs(15))
        );
        let run = |status: &str, exit_code: Option<i64>| RunFacts {
            exit_code,
            health: Some(app::dto::HealthFacts {
                status: status.into(),
                after_ms: 3200,
                checks_run: 3,
                last_output: "wget: server returned error: HTTP/1.1 404 Not Found".into(),
                last_exit_code: Some(1),
                frozen_after_ms: None,
            }),
            ..RunFacts::default()
        };
        let judge = |facts_run: RunFacts| {
            let variants = vec![(variant.clone(), facts_run)];
            check.judge(
                "h",
                Facts {
                    image: Some(&img),
                    variants: &variants,
                    ..Facts::default()
                },
            )
        };
        let passed = judge(run("unhealthy", None));
        assert!(passed.passed, "{}", passed.message);
        assert!(
            passed.message.contains("404 Not Found"),
            "{}",
            passed.message
        );
        let healthy = judge(run("healthy", None));
        assert!(!healthy.passed);
        assert!(
            healthy.message.contains("the goal is unhealthy"),
            "{}",
            healthy.message
        );
        let none = judge(run("none", None));
        assert!(
            !none.passed && none.message.contains("no HEALTHCHECK"),
            "{}",
            none.message
        );
        let starting = judge(run("starting", None));
        assert!(
            !starting.passed && starting.message.contains("--interval"),
            "{}",
            starting.message
        );
        let exited = judge(run("starting", Some(0)));
        assert!(
            !exited.passed && exited.message.contains("exited (code 0)"),
            "{}",
            exited.message
        );
        let not_run = check.judge(
            "h",
            Facts {
                image: Some(&img),
                ..Facts::default()
            },
        );
        assert!(
            !not_run.passed && not_run.message.starts_with("Not checked"),
            "{}",
            not_run.message
        );
    }

    #[test]
    fn processes_not_root_reads_what_docker_top_listed() {
        let img = image(1, 1);
        let with = |users: &[&str]| RunFacts {
            processes: users
                .iter()
                .enumerate()
                .map(|(i, u)| app::dto::ProcessFacts {
                    pid: (4000 + i).to_string(),
                    user: u.to_string(),
                    command: format!("gunicorn worker {i}"),
                    main: i == 0,
                })
                .collect(),
            ..RunFacts::default()
        };
        let judge = |run: &RunFacts| {
            Check::ProcessesNotRoot.judge(
                "p",
                Facts {
                    image: Some(&img),
                    run: Some(run),
                    ..Facts::default()
                },
            )
        };
        let fine = judge(&with(&["10001", "10001"]));
        assert!(fine.passed, "{}", fine.message);
        assert!(
            fine.message.contains("2 processes ran as 10001"),
            "{}",
            fine.message
        );
        let master = judge(&with(&["root", "10001"]));
        assert!(!master.passed);
        assert!(
            master.message.contains("`gunicorn worker 0` (PID 4000)"),
            "{}",
            master.message
        );
        assert!(!judge(&with(&["0"])).passed, "uid 0 is root too");
        let unseen = judge(&with(&[]));
        assert!(
            !unseen.passed && unseen.message.starts_with("Not checked"),
            "{}",
            unseen.message
        );
    }

    #[test]
    fn the_main_process_is_the_one_the_engine_started() {
        let img = image(1, 1);
        let run = |main: &str, other: &str| RunFacts {
            processes: vec![
                app::dto::ProcessFacts {
                    pid: "700".into(),
                    user: "root".into(),
                    command: main.into(),
                    main: true,
                },
                app::dto::ProcessFacts {
                    pid: "701".into(),
                    user: "root".into(),
                    command: other.into(),
                    main: false,
                },
            ],
            ..RunFacts::default()
        };
        let check = Check::MainProcess {
            command: "httpd".into(),
        };
        let judge = |r: &RunFacts| {
            check.judge(
                "m",
                Facts {
                    image: Some(&img),
                    run: Some(r),
                    ..Facts::default()
                },
            )
        };
        assert!(judge(&run("httpd -f -p 8080", "")).passed);
        assert!(judge(&run("/bin/httpd -f", "")).passed);
        // A shell whose script names httpd is still a shell.
        let wrapped = judge(&run("sh -c httpd -p 8080; while sleep 5; do :; done", ""));
        assert!(!wrapped.passed, "{}", wrapped.message);
        assert!(!judge(&run("httpd-wrapper.sh", "")).passed);
        let script = judge(&run("sh /start.sh", "httpd -p 8080"));
        assert!(!script.passed);
        assert!(
            script.message.contains("PID 1 is `sh /start.sh`"),
            "{}",
            script.message
        );
    }

    #[test]
    fn a_frozen_server_must_turn_unhealthy_after_the_freeze() {
        let img = image(1, 1);
        let check = Check::Health {
            status: HealthWanted::Unhealthy,
            within_secs: 25,
            env: Default::default(),
            freeze: true,
        };
        let variant = check.variant().expect("variant");
        assert!(variant.freeze);
        let run = |status: &str, frozen: Option<u64>| RunFacts {
            health: Some(app::dto::HealthFacts {
                status: status.into(),
                after_ms: 14_000,
                checks_run: 5,
                last_output: "Health check exceeded timeout (2s)".into(),
                last_exit_code: Some(-1),
                frozen_after_ms: frozen,
            }),
            ..RunFacts::default()
        };
        let judge = |r: RunFacts| {
            let variants = vec![(variant.clone(), r)];
            check.judge(
                "h",
                Facts {
                    image: Some(&img),
                    variants: &variants,
                    ..Facts::default()
                },
            )
        };
        let noticed = judge(run("unhealthy", Some(4200)));
        assert!(noticed.passed, "{}", noticed.message);
        assert!(
            noticed.message.starts_with("Frozen at 4.2 s"),
            "{}",
            noticed.message
        );
        let blind = judge(run("healthy", Some(4200)));
        assert!(!blind.passed);
        assert!(
            blind.message.contains("does not notice"),
            "{}",
            blind.message
        );
        // Unhealthy before anything was frozen is a broken check, not a noticed hang.
        let never = judge(run("unhealthy", None));
        assert!(!never.passed);
        assert!(
            never.message.starts_with("It was never healthy"),
            "{}",
            never.message
        );
    }
}
