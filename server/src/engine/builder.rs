//! Building a learner's context with the classic builder: limits, labels, the live log, and
//! every way a build can fail turned into words a learner can act on.

use super::cgroup::BuildCgroup;
use super::context::BuildContext;
use super::Client;
use super::{describe, strip_ansi};
use app::dockerfile;
use app::dto::{BuildFailure, StepProgress};
use bollard::query_parameters::{BuildImageOptionsBuilder, ListImagesOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Label on every image a learner builds: `<learner>/<exercise>`. The classic builder adds
/// each build label as an extra `LABEL` step, so image labels must be constant for a learner
/// and exercise (this one and [`INSTANCE_LABEL`]), or a rebuild would miss the cache. The
/// build id is in the image's tag.
pub const ATTEMPT_LABEL: &str = "org.layerlab.attempt";
/// Label on run containers: the build's id.
pub const BUILD_LABEL: &str = "org.layerlab.build";
/// Label on run containers: the learner who owns it.
pub const OWNER_LABEL: &str = "org.layerlab.owner";
/// Label on run containers and learners' images: the installation (database) whose server
/// made them; its janitor removes only these.
pub const INSTANCE_LABEL: &str = "org.layerlab.instance";
/// Label on run containers: the exercise (`playground` for free builds).
pub const EXERCISE_LABEL: &str = "org.layerlab.exercise";

/// The history text of the step the builder adds for our labels; hidden from learners.
pub const INTERNAL_LABEL_STEP: &str = "LABEL org.layerlab.";

/// What one build may use.
#[derive(Clone, Debug)]
pub struct BuildLimits {
    /// Memory and memory+swap for each `RUN` container (equal: no swap).
    pub memory_bytes: i64,
    /// CPUs for each `RUN` container, e.g. `1.0`.
    pub cpus: f64,
    /// Processes at once across the build, through a parent cgroup.
    pub pids: i64,
    /// Wall-clock time for the whole build.
    pub timeout: Duration,
    /// Log bytes kept and streamed; later lines are dropped (the build goes on).
    pub max_log_bytes: usize,
    /// Largest image kept; a bigger one is removed and the build fails (`image_too_large`).
    pub max_image_bytes: u64,
    /// Free disk the engine must keep while a step runs (0 = not watched); below it the
    /// build is stopped (`engine_disk_full`).
    pub min_free_disk_bytes: u64,
}

impl Default for BuildLimits {
    fn default() -> Self {
        BuildLimits {
            memory_bytes: 512 * 1024 * 1024,
            cpus: 1.0,
            pids: 256,
            timeout: Duration::from_secs(300),
            max_log_bytes: 256 * 1024,
            max_image_bytes: 1024 * 1024 * 1024,
            min_free_disk_bytes: 0,
        }
    }
}

/// One build to run.
pub struct BuildJob<'a> {
    pub build_id: &'a str,
    pub context: &'a BuildContext,
    /// `repository:tag` for the result.
    pub tag: String,
    /// Labels for the image; each becomes a `LABEL` step at the end, hidden from the log
    /// unless the build is a console's (whose labels are the learner's own `--label`s).
    pub labels: HashMap<String, String>,
    /// Whether `RUN` steps get a network (off unless the exercise needs one).
    pub network: bool,
    /// `--build-arg NAME=value` pairs (the exercise's, never the learner's).
    pub build_args: Vec<(String, String)>,
    /// `--cache-from`: when set, a cached step is taken only from these images' chains,
    /// never from an equal step another build made meanwhile (the builder otherwise picks
    /// the newest, which may lead away from the chain this build's next steps are cached in).
    pub cache_from: Vec<String>,
    /// Take no step from the build cache (`docker build --no-cache`).
    pub no_cache: bool,
    pub limits: &'a BuildLimits,
    /// The course's base images: what the build policy lets a `FROM` name.
    pub base_images: &'a [String],
    /// The learner's login to the class registry: a `FROM` may name their own pushes, which
    /// the policy pulls with it (`None`: no registry layerlab runs, or no learner).
    pub registry: Option<crate::engine::push::RegistryLogin>,
    /// A docker console's build: the prefix of the learner's image names there, under which
    /// a `FROM` may name their images (see `policy`).
    pub console_prefix: Option<String>,
    /// A docker console's build: whose it is. Its image carries none of layerlab's labels
    /// (each would be one more step, a container made and committed): the database keeps
    /// whose it is.
    pub console_owner: Option<ConsoleOwner>,
}

/// Whose a console's build is, for the build policy.
#[derive(Clone, Debug, Default)]
pub struct ConsoleOwner {
    /// The learner's id.
    pub learner: String,
    /// The installation.
    pub instance: String,
    /// The ids of the images their console built here: theirs to build on.
    pub images: Vec<String>,
}

/// What the build reports as it goes.
#[derive(Clone, Debug, PartialEq)]
pub enum BuildProgress {
    Line(String),
    Step(StepProgress),
    /// The log reached its cap; nothing more will be sent.
    LogTruncated,
    /// The builder committed a step as this image (an earlier stage's or a cache entry).
    Image(String),
    /// The build starts again from its first step, for the reason given: the engine lost a
    /// cached step the build was using ([`CACHE_RACE`]). Step numbers start again too.
    Restarted(String),
}

/// The code of a build that failed because an image it had taken from the engine's cache
/// vanished under it. The classic builder holds no reference to the cache entries it reuses:
/// removing any image (a superseded attempt, the janitor, another installation, an operator)
/// also removes its untagged parents that have no other children, and a build that has just
/// picked one of them as the parent of its next step (or as an earlier stage) then fails with
/// "unable to find image". Such a build is run again ([`CACHE_RACE_RETRIES`] times at most):
/// the second run builds the lost step afresh.
pub const CACHE_RACE: &str = "engine_cache_race";
/// How many times a build that lost a cached step is started again before it is reported.
pub const CACHE_RACE_RETRIES: u32 = 2;

/// The code of a build whose output imitated the builder's own lines (`Step 3/5 : …`,
/// ` ---> 1a2b…`, ` ---> Using cache`). The classic builder sends its lines and a `RUN` step's
/// output in one stream; a forged line is found when the builder's real one follows it, and
/// the build is stopped, so nothing a step prints is taken for the engine's word.
pub const IMITATED_OUTPUT: &str = "imitated_builder_output";

/// A finished build.
#[derive(Clone, Debug, PartialEq)]
pub struct Built {
    /// The image the engine tagged (its full id, as the engine reports for the tag).
    pub image_id: String,
    /// Every step in order, with the image the builder committed for it.
    pub steps: Vec<StepImage>,
    /// When the build was sent to the engine: images created since are this build's.
    pub started: std::time::SystemTime,
    /// The learner's own push the last stage starts FROM, as the build policy approved and
    /// pulled it (`<registry>/<handle>/<name>:<tag>` or `…@sha256:…`); `None` otherwise.
    pub own_base: Option<String>,
}

/// One step of a build and the image the builder committed for it (the short id the builder
/// names; the engine resolves it). The log is read against the Dockerfile and the builder's
/// framing, so a step's output cannot add, hide or rename steps (see [`IMITATED_OUTPUT`]).
#[derive(Clone, Debug, PartialEq)]
pub struct StepImage {
    /// The header as shown, e.g. `Step 3/5 : COPY app.sh .`.
    pub header: String,
    /// `FROM`, `RUN`, … in upper case.
    pub keyword: String,
    /// Which stage the step is in (0 = the first `FROM`).
    pub stage: usize,
    /// The image committed for the step (for `FROM`, the stage's base).
    pub image: String,
    /// The builder said ` ---> Using cache` for it: taken from the cache, not run.
    pub cached: bool,
}

impl Built {
    /// How many stages (`FROM`s) the build had.
    pub fn stages(&self) -> usize {
        self.steps.iter().filter(|s| s.keyword == "FROM").count()
    }

    /// The last image of every stage but the final one: what a multi-stage build leaves
    /// behind as untagged images.
    pub fn stage_images(&self) -> Vec<String> {
        let last_stage = self.steps.last().map_or(0, |s| s.stage);
        let mut out: Vec<String> = Vec::new();
        for stage in 0..last_stage {
            if let Some(step) = self
                .steps
                .iter()
                .rev()
                .find(|s| s.stage == stage && s.keyword != "FROM" && !s.image.is_empty())
            {
                out.push(step.image.clone());
            }
        }
        out
    }
}

/// Build `job` and report progress through `on`. The engine removes its `RUN` containers
/// whatever happens (`forcerm`); dropping the future cancels the build.
pub async fn build(
    engine: &Client,
    job: BuildJob<'_>,
    on: &mut (dyn FnMut(BuildProgress) + Send),
) -> Result<Built, BuildFailure> {
    let docker = &engine.docker;
    let host = engine.host();
    let dockerfile_text = job.context.dockerfile();
    let instructions = dockerfile::instructions(dockerfile_text);
    // (The engine makes a step of each label it is given: layerlab's are not shown.)
    let labels = &job.labels;
    let hidden_steps = if job.console_owner.is_some() {
        0
    } else {
        job.labels.len()
    };
    let tar = job.context.to_tar().map_err(|e| BuildFailure {
        code: "build_failed".into(),
        message: format!("The files could not be packed for the engine: {e}"),
        line: None,
    })?;

    let cgroup =
        match BuildCgroup::create(BuildCgroup::of_build(job.build_id).name(), job.limits.pids) {
            Ok(group) if host.starts_with("unix://") => Some(group),
            Ok(group) => {
                group.remove().await;
                None
            }
            Err(why) => {
                tracing::warn!("builds run without a pids limit: {why}");
                None
            }
        };
    let client = match &cgroup {
        Some(group) => with_cgroup_parent(docker.clone(), group.parent()),
        None => docker.clone(),
    };
    let cpu_period = 100_000;
    let mut options = BuildImageOptionsBuilder::new();
    if !job.cache_from.is_empty() {
        options = options.cachefrom(&job.cache_from);
    }
    let options = options
        .nocache(job.no_cache)
        .dockerfile("Dockerfile")
        .t(&job.tag)
        .rm(true)
        .forcerm(true)
        .memory(clamp_i32(job.limits.memory_bytes))
        .memswap(clamp_i32(job.limits.memory_bytes))
        .cpuperiod(cpu_period)
        .cpuquota(clamp_i32((job.limits.cpus * f64::from(cpu_period)) as i64))
        .labels(labels)
        .buildargs(
            &job.build_args
                .iter()
                .cloned()
                .collect::<HashMap<String, String>>(),
        )
        .networkmode(if job.network { "default" } else { "none" })
        .build();

    // Where the engine writes, to watch its free space while steps run (anything a step
    // writes that no container size counts still lands there).
    let disk_root = if job.limits.min_free_disk_bytes > 0 && cgroup.is_some() {
        super::disk::engine_root(engine).await
    } else {
        None
    };
    let tar = bytes::Bytes::from(tar);
    let mut log = LogState::new(job.limits.max_log_bytes, hidden_steps, &instructions);
    // (A console's labels are the learner's `--label`s: steps shown, one each.)
    if job.console_owner.is_some() {
        log.shown_label_steps = u32::try_from(job.labels.len()).unwrap_or(0);
    }
    let started = std::time::SystemTime::now();
    let outcome = tokio::time::timeout(job.limits.timeout, async {
        let mut retries = 0;
        loop {
            let stream = client.build_image(
                options.clone(),
                None,
                Some(bollard::body_full(tar.clone())),
            );
            let watch = async {
                match &cgroup {
                    Some(group) => watch_step_disk(docker, group, job.limits, disk_root.as_deref()).await,
                    None => std::future::pending().await,
                }
            };
            let outcome = tokio::select! {
                outcome = follow(stream, docker, host, &mut log, &instructions, &job, on) => outcome,
                over = watch => Err(match over {
                    DiskWatch::StepTooLarge(size) => step_too_large(size, &log, &instructions, job.limits),
                    DiskWatch::DiskLow(free) => disk_low_during(free, &log, &instructions, job.limits),
                }),
            };
            match outcome {
                Err(failure) if failure.code == CACHE_RACE && retries < CACHE_RACE_RETRIES => {
                    retries += 1;
                    tracing::info!(build = job.build_id, "{}", failure.message);
                    on(BuildProgress::Restarted(
                        "A step this build took from the engine's cache was removed while the build ran (another build's clean-up); building again…"
                            .into(),
                    ));
                    log.restart();
                }
                outcome => return outcome,
            }
        }
    })
    .await;
    if let Some(group) = cgroup {
        // A stopped build's step container is killed and removed by the engine a moment
        // later; wait for that, so what it was made from can be cleaned up.
        if !matches!(outcome, Ok(Ok(_))) {
            group
                .wait_for_containers(docker, Duration::from_secs(15))
                .await;
        }
        group.remove().await;
    }
    match outcome {
        Ok(Ok(image_id)) => Ok(Built {
            image_id,
            steps: log.steps,
            started,
            own_base: None,
        }),
        Ok(Err(failure)) => Err(failure),
        Err(_elapsed) => Err(BuildFailure {
            code: "build_timeout".into(),
            message: format!(
                "The build took longer than {} seconds and was stopped{}. Look for a step that waits or loops forever.",
                job.limits.timeout.as_secs(),
                log.step
                    .map(|s| format!(" during step {}/{}", s.current, s.total))
                    .unwrap_or_default()
            ),
            line: log
                .step
                .and_then(|s| step_line(&instructions, s.current)),
        }),
    }
}

/// Read one build's stream to its end: the image id, or why it failed.
async fn follow(
    mut stream: impl futures::Stream<Item = Result<bollard::models::BuildInfo, bollard::errors::Error>>
        + Unpin,
    docker: &Docker,
    host: &str,
    log: &mut LogState,
    instructions: &[dockerfile::Instruction],
    job: &BuildJob<'_>,
    on: &mut (dyn FnMut(BuildProgress) + Send),
) -> Result<String, BuildFailure> {
    let mut image_id = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = info.stream {
                    log.push_text(&text, on);
                }
                if let Some(id) = info.aux.and_then(|aux| aux.id) {
                    image_id = Some(id);
                }
                if let Some(why) = log.forged.take() {
                    return Err(imitated_output(&why, log, instructions));
                }
            }
            Err(e) => {
                log.flush(on);
                return Err(translate_error(
                    &e,
                    host,
                    log,
                    instructions,
                    job.context,
                    job.limits,
                ));
            }
        }
    }
    log.flush(on);
    if let Some(why) = log.forged.take() {
        return Err(imitated_output(&why, log, instructions));
    }
    if image_id.is_none() {
        return Err(BuildFailure {
            code: "build_failed".into(),
            message: "The engine finished without naming an image; see the log above.".into(),
            line: None,
        });
    }
    // The image is the one the engine tagged, whatever the stream said.
    match docker.inspect_image(&job.tag).await {
        Ok(image) => image.id.ok_or_else(|| BuildFailure {
            code: "build_failed".into(),
            message: "The engine tagged an image without an id; build again.".into(),
            line: None,
        }),
        Err(e) => Err(engine_unavailable(host, &e)),
    }
}

/// A failure of the step the build is on: `message` is given how to name it ("Step 3" or
/// "A step"), and the failure points at its line.
fn at_current_step(
    code: &str,
    log: &LogState,
    instructions: &[dockerfile::Instruction],
    message: impl FnOnce(&str) -> String,
) -> BuildFailure {
    let step = log.step.map(|s| s.current);
    let name = step.map_or_else(|| "A step".to_string(), |n| format!("Step {n}"));
    BuildFailure {
        code: code.into(),
        message: message(&name),
        line: step.and_then(|n| step_line(instructions, n)),
    }
}

fn imitated_output(
    why: &str,
    log: &LogState,
    instructions: &[dockerfile::Instruction],
) -> BuildFailure {
    at_current_step(IMITATED_OUTPUT, log, instructions, |step| {
        format!(
            "{step} printed a line that imitates the builder's own output ({why}). The build log mixes a step's output with the builder's lines, so layerlab stops a build whose output could be taken for the engine's. Print something else (for example with a prefix), and build again."
        )
    })
}

/// How often a running step's disk use is looked at, at least (a look that takes long makes
/// the next one wait twice as long, up to [`DISK_LOOK_MAX`]).
const DISK_LOOK_EVERY: Duration = Duration::from_millis(250);
const DISK_LOOK_MAX: Duration = Duration::from_secs(5);

/// Why the disk watch stopped a build.
enum DiskWatch {
    /// A step container held this many bytes (its image and what it wrote).
    StepTooLarge(u64),
    /// The engine's disk had only this many bytes free.
    DiskLow(u64),
}

/// Wait until a step container of this build holds more than the image limit (its image
/// plus what it wrote), or the engine's disk falls below its floor: the engine has no disk
/// limit for build steps, so a step that writes without end is found while it runs and the
/// build is stopped (dropping it makes the engine kill the step). The containers are the
/// ones the engine made in the build's cgroup, so this is the engine's own account; the free
/// space catches what no container's size counts.
async fn watch_step_disk(
    docker: &Docker,
    group: &BuildCgroup,
    limits: &BuildLimits,
    disk_root: Option<&std::path::Path>,
) -> DiskWatch {
    let mut every = DISK_LOOK_EVERY;
    loop {
        tokio::time::sleep(every).await;
        let looked = std::time::Instant::now();
        if let Some(free) = disk_root.and_then(super::disk::free_bytes) {
            if free < limits.min_free_disk_bytes {
                return DiskWatch::DiskLow(free);
            }
        }
        for id in group.container_ids() {
            let options = bollard::query_parameters::InspectContainerOptionsBuilder::new()
                .size(true)
                .build();
            if let Ok(container) = docker.inspect_container(&id, Some(options)).await {
                let size = u64::try_from(container.size_root_fs.unwrap_or(0)).unwrap_or(0);
                if size > limits.max_image_bytes {
                    return DiskWatch::StepTooLarge(size);
                }
            }
        }
        every = (looked.elapsed() * 2).clamp(DISK_LOOK_EVERY, DISK_LOOK_MAX);
    }
}

fn disk_low_during(
    free: u64,
    log: &LogState,
    instructions: &[dockerfile::Instruction],
    limits: &BuildLimits,
) -> BuildFailure {
    at_current_step("engine_disk_full", log, instructions, |step| {
        format!(
            "The build machine ran low on disk space while {} ran ({} free, it keeps at least {}), so the build was stopped. If your step writes a lot, write less; otherwise try again in a few minutes, and tell your instructor if it keeps happening.",
            step.to_lowercase(),
            app::dto::human_size(free),
            app::dto::human_size(limits.min_free_disk_bytes)
        )
    })
}

fn step_too_large(
    size: u64,
    log: &LogState,
    instructions: &[dockerfile::Instruction],
    limits: &BuildLimits,
) -> BuildFailure {
    at_current_step("step_too_large", log, instructions, |step| {
        format!(
            "{step} wrote so much that the image would be {} while it ran, more than the {} an image may be here, so the build was stopped. Write less in that step: leave out files the image does not need, or clean up within the same RUN.",
            app::dto::human_size(size),
            app::dto::human_size(limits.max_image_bytes)
        )
    })
}

/// The engine accepts `cgroupparent` on `/build`, but bollard's options have no field for it:
/// add it to the query of build requests made with this client.
fn with_cgroup_parent(docker: Docker, parent: String) -> Docker {
    docker.with_request_modifier(move |mut request| {
        let uri = request.uri().clone();
        if uri.path().ends_with("/build") {
            let encoded: String = url_encode(&parent);
            let text = match uri.query() {
                Some(_) => format!("{uri}&cgroupparent={encoded}"),
                None => format!("{uri}?cgroupparent={encoded}"),
            };
            if let Ok(new_uri) = text.parse() {
                *request.uri_mut() = new_uri;
            }
        }
        request
    })
}

fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn clamp_i32(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Tagged images that are not build results: what a learner can put in `FROM`.
pub async fn local_base_images(client: &Client) -> Vec<String> {
    let docker = &client.docker;
    let options = ListImagesOptionsBuilder::new().all(false).build();
    let Ok(images) = docker.list_images(Some(options)).await else {
        return Vec::new();
    };
    let mut names: Vec<String> = images
        .into_iter()
        .filter(|image| !image.labels.contains_key(ATTEMPT_LABEL))
        .flat_map(|image| image.repo_tags)
        // (layerlab's own images, like the console's toolbox, are no one's base; nor are a
        // learner's, `learner-…/web:1` or `<registry>/learner-…/web:1`, which consoles
        // build without labels.)
        .filter(|tag| {
            tag != "<none>:<none>"
                && !tag.starts_with("layerlab/")
                && !tag
                    .split('/')
                    .take(2)
                    .any(|part| part.starts_with("learner-"))
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

pub(super) fn engine_unavailable(host: &str, e: &bollard::errors::Error) -> BuildFailure {
    BuildFailure {
        code: "engine_unavailable".into(),
        message: format!(
            "The Docker engine stopped answering, so the build could not finish: {}. Try again in a minute; if it keeps happening, tell your instructor.",
            super::without_address(host, &describe(host, e))
        ),
        line: None,
    }
}

/// The Dockerfile line where step `n` (1-based, as the builder counts) starts.
fn step_line(instructions: &[dockerfile::Instruction], n: u32) -> Option<u32> {
    let index = usize::try_from(n).ok()?.checked_sub(1)?;
    instructions.get(index).map(|i| i.line)
}

fn translate_error(
    e: &bollard::errors::Error,
    host: &str,
    log: &LogState,
    instructions: &[dockerfile::Instruction],
    context: &BuildContext,
    limits: &BuildLimits,
) -> BuildFailure {
    use bollard::errors::Error as E;
    let message = match e {
        E::DockerStreamError { error } => strip_ansi(error),
        E::DockerResponseServerError { message, .. } => strip_ansi(message),
        other => return engine_unavailable(host, other),
    };
    let step_line = log.step.and_then(|s| step_line(instructions, s.current));
    if lost_cached_image(&message) {
        return BuildFailure {
            code: CACHE_RACE.into(),
            message: format!(
                "The engine removed an image this build was reusing from its cache while the build ran (another build's clean-up), and building again did not help. Submit again in a moment. The engine said: {message}"
            ),
            line: None,
        };
    }
    if let Some(rest) = message.strip_prefix("dockerfile parse error line ") {
        let (number, what) = rest.split_once(':').unwrap_or((rest, ""));
        let line = number.trim().parse().ok();
        return BuildFailure {
            code: "dockerfile_syntax".into(),
            message: format!(
                "Line {}: {}. Every instruction starts with a keyword such as FROM, RUN, COPY or CMD.",
                number.trim(),
                what.trim()
            ),
            line,
        };
    }
    if let Some(code) = message
        .split("returned a non-zero code:")
        .nth(1)
        .map(|c| c.trim().to_string())
    {
        let step = log
            .step
            .map(|s| format!("Step {}/{}", s.current, s.total))
            .unwrap_or_else(|| "A RUN step".into());
        let at_line = step_line
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        let tail = log.step_tail.iter().cloned().collect::<Vec<_>>().join("\n");
        if code == "137" {
            // SIGKILL: in a build, the memory limit's OOM killer.
            return BuildFailure {
                code: "build_out_of_memory".into(),
                message: format!(
                    "{step}{at_line} was killed (exit code 137): it needed more than the {} MiB a build step may use. Make the step use less memory, or split the work.",
                    limits.memory_bytes / 1024 / 1024
                ),
                line: step_line,
            };
        }
        let output = if tail.is_empty() {
            " It printed nothing.".to_string()
        } else {
            format!(" Its last output:\n{tail}")
        };
        return BuildFailure {
            code: "run_failed".into(),
            message: format!(
                "{step}{at_line} failed: the command exited with code {code}.{output}"
            ),
            line: step_line,
        };
    }
    if message.starts_with("COPY failed") || message.starts_with("ADD failed") {
        let missing = message
            .split("stat ")
            .nth(1)
            .and_then(|s| s.split(':').next())
            .map(|s| s.trim().to_string());
        let keyword = if message.starts_with("ADD") {
            "ADD"
        } else {
            "COPY"
        };
        let files: Vec<&str> = context.files().keys().map(String::as_str).collect();
        let what = missing
            .map(|m| format!("“{m}”"))
            .unwrap_or_else(|| "a source".into());
        return BuildFailure {
            code: "copy_source_missing".into(),
            message: format!(
                "{keyword} cannot find {what} among your files. Your files are: {}. Check the spelling, and that .dockerignore does not exclude it.",
                files.join(", ")
            ),
            line: step_line,
        };
    }
    if message.contains("no such host")
        || message.contains("pull access denied")
        || message.contains("manifest unknown")
        || message.contains("repository does not exist")
    {
        let reference = log
            .step_instruction
            .as_deref()
            .and_then(|s| s.split_whitespace().find(|w| !w.starts_with("--")))
            .unwrap_or("the base image")
            .to_string();
        return BuildFailure {
            code: "missing_base_image".into(),
            message: format!(
                "The base image “{reference}” is not on this engine, and this machine cannot download images. Use one of the course's base images in FROM (the exercise's starter names one)."
            ),
            line: step_line,
        };
    }
    BuildFailure {
        code: "build_failed".into(),
        message: format!("The engine stopped the build: {message}"),
        line: step_line,
    }
}

/// Whether the engine's error says an image it was building on is gone: named by its id
/// (`sha256:…`), as a cache entry is, never by a reference a learner wrote.
fn lost_cached_image(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ((lower.contains("unable to find image") || lower.contains("no such image"))
        && lower.contains("sha256:"))
        // The image store lost the entry between the cache lookup and its use.
        || (lower.contains("failed to get digest sha256:")
            && lower.contains("no such file or directory"))
        // …or lost the parent a committed step was to be exported on.
        || lower.contains("unknown parent image id sha256:")
}

/// The build log as it streams: complete lines, the current step, the last lines of output,
/// and the image the builder committed for each step.
///
/// The classic builder's own lines and a `RUN` step's output come in one stream, so a step
/// can print `Step 4/5 : …` or ` ---> 1a2b3c4d5e6f` itself. The builder's framing is strict
/// (one header per step, numbered in order, the total fixed by the first header, which comes
/// before anything runs; one image line ending each step; ` ---> Using cache` right after a
/// header), and its real line always comes after a forged one, so a forgery always breaks
/// the framing: the build is then stopped ([`IMITATED_OUTPUT`]), never believed.
struct LogState {
    partial: String,
    bytes: usize,
    max_bytes: usize,
    truncated: bool,
    /// The current step, as shown (our label steps left out of the total).
    step: Option<StepProgress>,
    /// The current step as the builder numbers it (label steps included).
    raw_step: Option<StepProgress>,
    /// Keywords of the Dockerfile's instructions, in order: a header must name the next one.
    keywords: Vec<String>,
    /// Steps the builder adds at the end for our labels: not shown.
    hidden_steps: u32,
    hiding: bool,
    /// The current step's instruction text after `FROM`/`RUN` etc.
    step_instruction: Option<String>,
    /// The current step's last lines of command output.
    step_tail: VecDeque<String>,
    /// Lines seen since the current step's header, and whether its image line came.
    lines_in_step: usize,
    image_in_step: bool,
    stage: usize,
    steps: Vec<StepImage>,
    /// Set when a line broke the builder's framing: what it was.
    forged: Option<String>,
    /// Steps the builder adds at the end for labels that are shown (a console's).
    shown_label_steps: u32,
}

const TAIL_LINES: usize = 12;

impl LogState {
    fn new(
        max_bytes: usize,
        hidden_steps: usize,
        instructions: &[dockerfile::Instruction],
    ) -> Self {
        LogState {
            hidden_steps: u32::try_from(hidden_steps).unwrap_or(0),
            hiding: false,
            partial: String::new(),
            bytes: 0,
            max_bytes,
            truncated: false,
            step: None,
            raw_step: None,
            keywords: instructions.iter().map(|i| i.keyword.clone()).collect(),
            step_instruction: None,
            step_tail: VecDeque::new(),
            lines_in_step: 0,
            image_in_step: false,
            stage: 0,
            steps: Vec::new(),
            forged: None,
            shown_label_steps: 0,
        }
    }

    /// Forget the steps of a run that is being started again; what was sent stays sent (and
    /// counts towards the log's cap).
    fn restart(&mut self) {
        self.partial.clear();
        self.hiding = false;
        self.step = None;
        self.raw_step = None;
        self.step_instruction = None;
        self.step_tail.clear();
        self.lines_in_step = 0;
        self.image_in_step = false;
        self.stage = 0;
        self.steps.clear();
        self.forged = None;
    }

    fn push_text(&mut self, text: &str, on: &mut (dyn FnMut(BuildProgress) + Send)) {
        self.partial.push_str(text);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            self.line(line.trim_end_matches(['\n', '\r']), on);
        }
    }

    fn flush(&mut self, on: &mut (dyn FnMut(BuildProgress) + Send)) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, on);
        }
    }

    fn seen_from(&self) -> bool {
        self.steps.iter().any(|s| s.keyword == "FROM")
    }

    /// Note the first line that breaks the builder's framing.
    fn forgery(&mut self, what: String) {
        if self.forged.is_none() {
            self.forged = Some(what);
        }
    }

    /// Whether `step` (a `Step n/m : KEYWORD` header) is the one the builder sends next.
    fn is_next_header(&self, step: StepProgress, keyword: &str) -> bool {
        let in_order = match self.raw_step {
            None => step.current == 1,
            // Every step ends on its image line, except an `ARG` before the first `FROM`.
            Some(last) => {
                step.current == last.current + 1
                    && step.total == last.total
                    && (self.image_in_step || !self.seen_from())
            }
        };
        // When our count of instructions agrees with the builder's, the keyword must too.
        let expected_total =
            self.keywords.len() as u32 + self.hidden_steps + self.shown_label_steps;
        let keyword_ok = step.total != expected_total
            || match (step.current as usize)
                .checked_sub(1)
                .and_then(|i| self.keywords.get(i))
            {
                Some(expected) => expected.eq_ignore_ascii_case(keyword),
                None => keyword.eq_ignore_ascii_case("LABEL"),
            };
        in_order && keyword_ok && step.current >= 1 && step.current <= step.total
    }

    fn line(&mut self, line: &str, on: &mut (dyn FnMut(BuildProgress) + Send)) {
        let plain = strip_ansi(line);
        if let Some(raw) = parse_step(&plain) {
            let keyword = plain
                .split_once(" : ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("")
                .to_ascii_uppercase();
            if !self.is_next_header(raw, &keyword) {
                self.forgery(format!("“{}”", truncate_chars(&plain, 80)));
                return;
            }
            if keyword == "FROM" && self.seen_from() {
                self.stage += 1;
            }
            self.raw_step = Some(raw);
            self.lines_in_step = 0;
            self.image_in_step = false;
            let step = StepProgress {
                current: raw.current,
                total: raw.total.saturating_sub(self.hidden_steps),
            };
            self.hiding = step.current > step.total;
            self.steps.push(StepImage {
                header: String::new(),
                keyword,
                stage: self.stage,
                image: String::new(),
                cached: false,
            });
            if self.hiding {
                return;
            }
            self.step = Some(step);
            self.step_instruction = plain.split_once(" : ").map(|(_, rest)| {
                rest.split_once(' ')
                    .map(|(_, a)| a)
                    .unwrap_or("")
                    .to_string()
            });
            self.step_tail.clear();
            on(BuildProgress::Step(step));
            let shown = format!(
                "Step {}/{} :{}",
                step.current,
                step.total,
                plain.split_once(" :").map(|(_, r)| r).unwrap_or("")
            );
            if let Some(record) = self.steps.last_mut() {
                record.header = shown.clone();
            }
            self.emit(&shown, on);
            return;
        }
        self.lines_in_step += 1;
        if plain.trim() == "---> Using cache" {
            if self.lines_in_step != 1 {
                self.forgery("“ ---> Using cache” in the middle of a step".into());
            } else if let Some(record) = self.steps.last_mut() {
                record.cached = true;
            }
        } else if plain == " ---> "
            && self.steps.last().is_some_and(|s| s.keyword == "FROM")
            && !self.image_in_step
        {
            // `FROM scratch`: the builder names no image.
            self.image_in_step = true;
        } else if let Some(id) = plain.strip_prefix(" ---> ") {
            let id = id.trim();
            if id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                let from_step = self.steps.last().is_some_and(|s| s.keyword == "FROM");
                match self.steps.last_mut() {
                    None => self.forgery(format!("“ ---> {id}” before the first step")),
                    // A FROM whose image has ONBUILD triggers names the base, then the
                    // result; any other step names one image.
                    Some(_) if self.image_in_step && !from_step => {
                        self.forgery(format!("a second “ ---> {id}” in one step"));
                        // One of the two is the builder's: a candidate for the clean-up,
                        // which checks every candidate against the engine.
                        on(BuildProgress::Image(id.to_string()));
                    }
                    Some(record) => {
                        record.image = id.to_string();
                        self.image_in_step = true;
                        on(BuildProgress::Image(id.to_string()));
                    }
                }
            }
        } else if !plain.starts_with("Removing intermediate container") && !plain.trim().is_empty()
        {
            if self.step_tail.len() == TAIL_LINES {
                self.step_tail.pop_front();
            }
            self.step_tail.push_back(plain.clone());
        }
        if self.hiding || self.is_closing(&plain) {
            return;
        }
        self.emit(line, on);
    }

    /// Whether `line` is one the builder ends with once the last step has its image
    /// (`Successfully built …`, `Successfully tagged …`, with the engine's names): whoever
    /// runs the build says its own.
    fn is_closing(&self, line: &str) -> bool {
        let last_done = self
            .raw_step
            .is_some_and(|step| step.current == step.total && self.image_in_step);
        last_done
            && (line.starts_with("Successfully built ") || line.starts_with("Successfully tagged "))
    }

    fn emit(&mut self, line: &str, on: &mut (dyn FnMut(BuildProgress) + Send)) {
        if self.truncated {
            return;
        }
        self.bytes += line.len() + 1;
        if self.bytes > self.max_bytes {
            self.truncated = true;
            on(BuildProgress::LogTruncated);
            return;
        }
        on(BuildProgress::Line(line.to_string()));
    }
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// `Step 3/7 : RUN …` → 3 of 7.
fn parse_step(line: &str) -> Option<StepProgress> {
    let rest = line.strip_prefix("Step ")?;
    let (numbers, _) = rest.split_once(" : ")?;
    let (current, total) = numbers.split_once('/')?;
    Some(StepProgress {
        current: current.trim().parse().ok()?,
        total: total.trim().parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_for(dockerfile: &str, max_bytes: usize, hidden: usize) -> LogState {
        LogState::new(max_bytes, hidden, &dockerfile::instructions(dockerfile))
    }

    #[test]
    fn log_lines_are_split_steps_found_and_the_cap_respected() {
        let mut log = log_for("FROM busybox\nRUN echo hi\n", 70, 0);
        let mut seen = Vec::new();
        let mut on = |p: BuildProgress| seen.push(p);
        log.push_text(
            "Step 1/2 : FROM busybox\n ---> 0123456789ab\nStep 2/2 : RUN ec",
            &mut on,
        );
        log.push_text(
            "ho hi\n\u{1b}[91mwarn\u{1b}[0m\nmore text that goes past the cap\n",
            &mut on,
        );
        log.flush(&mut on);
        assert_eq!(
            seen,
            [
                BuildProgress::Step(StepProgress {
                    current: 1,
                    total: 2
                }),
                BuildProgress::Line("Step 1/2 : FROM busybox".into()),
                BuildProgress::Image("0123456789ab".into()),
                BuildProgress::Line(" ---> 0123456789ab".into()),
                BuildProgress::Step(StepProgress {
                    current: 2,
                    total: 2
                }),
                BuildProgress::Line("Step 2/2 : RUN echo hi".into()),
                BuildProgress::LogTruncated,
            ]
        );
        let keywords: Vec<(&str, &str)> = log
            .steps
            .iter()
            .map(|s| (s.keyword.as_str(), s.image.as_str()))
            .collect();
        assert_eq!(keywords, [("FROM", "0123456789ab"), ("RUN", "")]);
        assert_eq!(log.step_tail, ["warn", "more text that goes past the cap"]);
        assert_eq!(log.step_instruction.as_deref(), Some("echo hi"));
        assert_eq!(log.forged, None);
    }

    /// What the classic builder here really printed for a multi-stage build with a global
    /// ARG, `FROM scratch`, a cached step and two label steps.
    const REAL_LOG: &str = "Step 1/8 : ARG B=busybox:latest\nStep 2/8 : FROM scratch AS files\n ---> \nStep 3/8 : COPY a.txt /a\n ---> 6aaa18c97312\nStep 4/8 : FROM $B\n ---> f294194e07a7\nStep 5/8 : RUN echo hi\n ---> Using cache\n ---> 2313c0c82198\nStep 6/8 : COPY --from=files /a /a\n ---> 5338ed1c588f\nStep 7/8 : LABEL org.layerlab.attempt=x\n ---> Running in 27b70239d7c1\nRemoving intermediate container 27b70239d7c1\n ---> 4bcc22c79f2c\nStep 8/8 : LABEL org.layerlab.instance=y\n ---> Running in 0b37cd053250\nRemoving intermediate container 0b37cd053250\n ---> a9a0caef7b15\nSuccessfully built a9a0caef7b15\n";
    const REAL_DOCKERFILE: &str = "ARG B=busybox:latest\nFROM scratch AS files\nCOPY a.txt /a\nFROM $B\nRUN echo hi\nCOPY --from=files /a /a\n";

    #[test]
    fn a_real_build_log_gives_each_step_its_image_and_each_stage_its_last() {
        let mut log = log_for(REAL_DOCKERFILE, 1 << 20, 2);
        let mut seen = Vec::new();
        let mut on = |p: BuildProgress| seen.push(p);
        log.push_text(REAL_LOG, &mut on);
        log.flush(&mut on);
        assert_eq!(log.forged, None);
        let steps: Vec<(usize, &str, &str)> = log
            .steps
            .iter()
            .map(|s| (s.stage, s.keyword.as_str(), s.image.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                (0, "ARG", ""),
                (0, "FROM", ""),
                (0, "COPY", "6aaa18c97312"),
                (1, "FROM", "f294194e07a7"),
                (1, "RUN", "2313c0c82198"),
                (1, "COPY", "5338ed1c588f"),
                (1, "LABEL", "4bcc22c79f2c"),
                (1, "LABEL", "a9a0caef7b15"),
            ]
        );
        let built = Built {
            image_id: "sha256:a9a0".into(),
            steps: log.steps.clone(),
            started: std::time::SystemTime::now(),
            own_base: None,
        };
        assert_eq!(built.stage_images(), ["6aaa18c97312"]);
        // The label steps are not shown, and the total leaves them out.
        assert!(seen.contains(&BuildProgress::Step(StepProgress {
            current: 6,
            total: 6
        })));
        assert!(!seen
            .iter()
            .any(|p| matches!(p, BuildProgress::Line(l) if l.contains("LABEL"))));
    }

    #[test]
    fn a_console_build_shows_every_step_but_not_the_builders_closing_lines() {
        // (A step may print “Successfully built …” itself, as pip does: that line is shown.)
        let dockerfile = "FROM busybox\nRUN echo x\n";
        let text = "Step 1/2 : FROM busybox\n ---> f294194e07a7\nStep 2/2 : RUN echo x\n ---> Running in 27b70239d7c1\nSuccessfully built wheel\nRemoving intermediate container 27b70239d7c1\n ---> 4bcc22c79f2c\nSuccessfully built 4bcc22c79f2c\nSuccessfully tagged learner-a-i/web:latest\n";
        let mut log = log_for(dockerfile, 1 << 20, 0);
        let mut seen = Vec::new();
        let mut on = |p: BuildProgress| seen.push(p);
        log.push_text(text, &mut on);
        log.flush(&mut on);
        assert_eq!(log.forged, None);
        let lines: Vec<&str> = seen
            .iter()
            .filter_map(|p| match p {
                BuildProgress::Line(l) => Some(l.as_str()),
                _ => None,
            })
            .collect();
        assert!(lines.contains(&"Step 2/2 : RUN echo x"), "{lines:?}");
        assert!(lines.contains(&"Successfully built wheel"), "{lines:?}");
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("4bcc22c79f2c") && l.starts_with("Successfully")),
            "{lines:?}"
        );
        assert!(
            !lines.iter().any(|l| l.starts_with("Successfully tagged")),
            "{lines:?}"
        );
    }

    /// A `RUN` step's output that imitates the builder: every spelling is found when the
    /// builder's own line follows, and the build is stopped rather than believed.
    #[test]
    fn output_that_imitates_the_builder_is_caught() {
        let dockerfile = "FROM busybox\nRUN ./noisy\nCOPY app.sh .\nCMD [\"sh\"]\n";
        let head = "Step 1/4 : FROM busybox\n ---> 0123456789ab\nStep 2/4 : RUN ./noisy\n ---> Running in 5c5c5c5c5c5c\n";
        let tail = "Removing intermediate container 5c5c5c5c5c5c\n ---> 1111111111aa\nStep 3/4 : COPY app.sh .\n ---> 2222222222bb\nStep 4/4 : CMD [\"sh\"]\n ---> Running in 6d6d6d6d6d6d\nRemoving intermediate container 6d6d6d6d6d6d\n ---> 3333333333cc\n";
        let attacks = [
            // A fake image line, so the clean-up would remove someone else's image.
            " ---> f294194e07a7\n",
            // A fake cache hit, so the grader would count the step as cached.
            " ---> Using cache\n",
            // A fake next step (and its image), to move the counter or hide a step.
            "Step 3/4 : COPY app.sh .\n ---> 4444444444dd\n",
            "Step 3/4 : COPY app.sh .\n",
            // The same on stderr, wrapped in colour codes.
            "\u{1b}[91mStep 3/4 : COPY app.sh .\n\u{1b}[0m",
            // Steps out of order, another total, another keyword, number zero.
            "Step 4/4 : CMD [\"sh\"]\n",
            "Step 3/9 : COPY app.sh .\n",
            "Step 3/4 : RUN rm -rf /\n",
            "Step 0/4 : FROM x\n",
            // A fake builder sequence that ends the step early.
            "Removing intermediate container 5c5c5c5c5c5c\n ---> 9999999999ee\n",
        ];
        for attack in attacks {
            let mut log = log_for(dockerfile, 1 << 20, 0);
            let mut on = |_p: BuildProgress| {};
            log.push_text(head, &mut on);
            log.push_text(attack, &mut on);
            log.push_text(tail, &mut on);
            log.flush(&mut on);
            assert!(log.forged.is_some(), "not caught: {attack:?}");
        }
        // The honest log is not refused, and the step's own harmless output is kept.
        let mut log = log_for(dockerfile, 1 << 20, 0);
        let mut on = |_p: BuildProgress| {};
        log.push_text(head, &mut on);
        log.push_text("Step by step: 3 things to do\n ---> not an id\n", &mut on);
        log.push_text(tail, &mut on);
        assert_eq!(log.forged, None);
        let images: Vec<&str> = log.steps.iter().map(|s| s.image.as_str()).collect();
        assert_eq!(
            images,
            [
                "0123456789ab",
                "1111111111aa",
                "2222222222bb",
                "3333333333cc"
            ]
        );
    }

    #[test]
    fn step_headers_parse_and_query_values_are_encoded() {
        assert_eq!(url_encode("/layerlab-build-1"), "%2Flayerlab-build-1");
        assert_eq!(
            parse_step("Step 12/30 : COPY . ."),
            Some(StepProgress {
                current: 12,
                total: 30
            })
        );
        assert_eq!(parse_step("Stepping"), None);
    }

    #[test]
    fn only_a_vanished_image_id_counts_as_a_cache_race() {
        assert!(lost_cached_image(
            "unable to find image sha256:7a7c0d3e9b1f2a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4"
        ));
        assert!(lost_cached_image("No such image: sha256:7a7c0d3e9b1f"));
        assert!(lost_cached_image(
            "failed to export image: failed to set parent sha256:7e756009c92e: unknown parent image ID sha256:7e756009c92e"
        ));
        assert!(lost_cached_image(
            "failed to get digest sha256:29b7a78d4169: open /var/lib/docker/image/overlay2/imagedb/content/sha256/29b7a78d4169: no such file or directory"
        ));
        // A reference the learner wrote is a missing base image, not a race.
        assert!(!lost_cached_image("No such image: nosuch:latest"));
        assert!(!lost_cached_image(
            "pull access denied for nosuch, repository does not exist"
        ));
    }

    #[test]
    fn a_restarted_build_forgets_the_steps_of_its_first_run() {
        let mut log = log_for("FROM busybox\nRUN true\n", 1 << 20, 1);
        let mut seen = Vec::new();
        let mut on = |p: BuildProgress| seen.push(p);
        log.push_text(
            "Step 1/3 : FROM busybox\n ---> 0123456789ab\nStep 2/3 : RUN true\n",
            &mut on,
        );
        log.restart();
        log.push_text("Step 1/3 : FROM busybox\n ---> 0123456789ab\n", &mut on);
        assert_eq!(log.steps.len(), 1);
        assert_eq!(log.steps[0].image, "0123456789ab");
        assert_eq!(log.forged, None);
        assert_eq!(log.step.map(|s| s.current), Some(1));
    }
}
