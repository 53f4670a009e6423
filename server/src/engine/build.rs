//! Building a learner's context with the classic builder: limits, labels, the live log, and
//! every way a build can fail turned into words a learner can act on.

use super::cgroup::BuildCgroup;
use super::context::BuildContext;
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
        }
    }
}

/// One build to run.
pub struct BuildJob<'a> {
    pub build_id: &'a str,
    pub context: &'a BuildContext,
    /// `repository:tag` for the result.
    pub tag: String,
    /// Labels for the image; each becomes a hidden `LABEL` step at the end.
    pub labels: HashMap<String, String>,
    /// Whether `RUN` steps get a network (off unless the exercise needs one).
    pub network: bool,
    pub limits: &'a BuildLimits,
    /// The course's base images: what the build policy lets a `FROM` name.
    pub base_images: &'a [String],
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

/// A finished build.
#[derive(Clone, Debug, PartialEq)]
pub struct Built {
    pub image_id: String,
    /// Every image id the builder printed (` ---> 1a2b…`), including earlier stages.
    pub intermediate_ids: Vec<String>,
    /// Every step the learner wrote, in order, and whether it came from the cache.
    pub steps: Vec<StepRecord>,
}

/// One `Step n/m : …` of a build.
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    /// The header as shown, e.g. `Step 3/5 : COPY app.sh .`.
    pub header: String,
    /// `FROM`, `RUN`, … in upper case.
    pub keyword: String,
    pub cached: bool,
}

impl Built {
    /// `FROM` steps: the number of stages.
    pub fn stages(&self) -> usize {
        self.steps.iter().filter(|s| s.keyword == "FROM").count()
    }

    /// Steps that do filesystem work (`RUN`, `COPY`, `ADD`) and missed the cache. Metadata
    /// steps after a miss (`CMD`, `ENV`, …) miss too but cost nothing, so they do not count.
    pub fn rebuilt_steps(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|s| !s.cached && matches!(s.keyword.as_str(), "RUN" | "COPY" | "ADD"))
            .map(|s| s.header.clone())
            .collect()
    }
}

/// Build `job` and report progress through `on`. The engine removes its `RUN` containers
/// whatever happens (`forcerm`); dropping the future cancels the build.
pub async fn build(
    docker: &Docker,
    host: &str,
    job: BuildJob<'_>,
    on: &mut (dyn FnMut(BuildProgress) + Send),
) -> Result<Built, BuildFailure> {
    let dockerfile_text = job.context.dockerfile();
    let approved = crate::policy::check(docker, host, &job).await?;
    let instructions = dockerfile::instructions(dockerfile_text);
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
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(&job.tag)
        .rm(true)
        .forcerm(true)
        .memory(clamp_i32(job.limits.memory_bytes))
        .memswap(clamp_i32(job.limits.memory_bytes))
        .cpuperiod(cpu_period)
        .cpuquota(clamp_i32((job.limits.cpus * f64::from(cpu_period)) as i64))
        .labels(&job.labels)
        .networkmode(if job.network { "default" } else { "none" })
        .build();

    let tar = bytes::Bytes::from(tar);
    let mut log = LogState::new(job.limits.max_log_bytes, job.labels.len());
    let outcome = tokio::time::timeout(job.limits.timeout, async {
        let mut retries = 0;
        loop {
            let stream = client.build_image(
                options.clone(),
                None,
                Some(bollard::body_full(tar.clone())),
            );
            match follow(stream, host, &mut log, &instructions, &job, on).await {
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
        group.remove().await;
    }
    match outcome {
        Ok(Ok(image_id)) => {
            crate::policy::verify_built(docker, host, &approved, &image_id, &job.tag).await?;
            Ok(Built {
                image_id,
                intermediate_ids: log.image_ids,
                steps: log.steps,
            })
        }
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
    image_id.ok_or_else(|| BuildFailure {
        code: "build_failed".into(),
        message: "The engine finished without naming an image; see the log above.".into(),
        line: None,
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
pub async fn local_base_images(docker: &Docker) -> Vec<String> {
    let options = ListImagesOptionsBuilder::new().all(false).build();
    let Ok(images) = docker.list_images(Some(options)).await else {
        return Vec::new();
    };
    let mut names: Vec<String> = images
        .into_iter()
        .filter(|image| !image.labels.contains_key(ATTEMPT_LABEL))
        .flat_map(|image| image.repo_tags)
        .filter(|tag| tag != "<none>:<none>")
        .collect();
    names.sort();
    names.dedup();
    names
}

pub(crate) fn engine_unavailable(host: &str, e: &bollard::errors::Error) -> BuildFailure {
    BuildFailure {
        code: "engine_unavailable".into(),
        message: format!(
            "The Docker engine stopped answering, so the build could not finish: {}. Try again in a minute; if it keeps happening, tell your instructor.",
            describe(host, e)
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
                "The base image “{reference}” is not on this engine, and this machine cannot download images. Ask the operator to add it with `layerlab images seed`."
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
    (lower.contains("unable to find image") || lower.contains("no such image"))
        && lower.contains("sha256:")
}

/// The build log as it streams: complete lines, the current step, the last lines of output.
struct LogState {
    partial: String,
    bytes: usize,
    max_bytes: usize,
    truncated: bool,
    step: Option<StepProgress>,
    /// Steps the builder adds at the end for our labels: not shown.
    hidden_steps: u32,
    hiding: bool,
    /// The current step's instruction text after `FROM`/`RUN` etc.
    step_instruction: Option<String>,
    /// The current step's last lines of command output.
    step_tail: VecDeque<String>,
    image_ids: Vec<String>,
    steps: Vec<StepRecord>,
}

const TAIL_LINES: usize = 12;

impl LogState {
    fn new(max_bytes: usize, hidden_steps: usize) -> Self {
        LogState {
            hidden_steps: u32::try_from(hidden_steps).unwrap_or(0),
            hiding: false,
            partial: String::new(),
            bytes: 0,
            max_bytes,
            truncated: false,
            step: None,
            step_instruction: None,
            step_tail: VecDeque::new(),
            image_ids: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// Forget the steps of a run that is being started again; what was sent stays sent (and
    /// counts towards the log's cap).
    fn restart(&mut self) {
        self.partial.clear();
        self.hiding = false;
        self.step = None;
        self.step_instruction = None;
        self.step_tail.clear();
        self.image_ids.clear();
        self.steps.clear();
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

    fn line(&mut self, line: &str, on: &mut (dyn FnMut(BuildProgress) + Send)) {
        let plain = strip_ansi(line);
        let step = parse_step(&plain).map(|mut step| {
            step.total = step.total.saturating_sub(self.hidden_steps);
            self.hiding = step.current > step.total;
            step
        });
        if self.hiding {
            return;
        }
        if let Some(step) = step {
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
            let keyword = plain
                .split_once(" : ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("")
                .to_ascii_uppercase();
            self.steps.push(StepRecord {
                header: shown.clone(),
                keyword,
                cached: false,
            });
            self.emit(&shown, on);
            return;
        } else if plain.trim() == "---> Using cache" {
            if let Some(step) = self.steps.last_mut() {
                step.cached = true;
            }
        } else if let Some(id) = plain.strip_prefix(" ---> ") {
            let id = id.trim();
            if id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                self.image_ids.push(id.to_string());
                on(BuildProgress::Image(id.to_string()));
            }
        } else if !plain.starts_with("Removing intermediate container") && !plain.trim().is_empty()
        {
            if self.step_tail.len() == TAIL_LINES {
                self.step_tail.pop_front();
            }
            self.step_tail.push_back(plain.clone());
        }
        self.emit(line, on);
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

    #[test]
    fn log_lines_are_split_steps_found_and_the_cap_respected() {
        let mut log = LogState::new(70, 0);
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
        assert_eq!(log.image_ids, ["0123456789ab"]);
        let keywords: Vec<(&str, bool)> = log
            .steps
            .iter()
            .map(|s| (s.keyword.as_str(), s.cached))
            .collect();
        assert_eq!(keywords, [("FROM", false), ("RUN", false)]);
        assert_eq!(log.step_tail, ["warn", "more text that goes past the cap"]);
        assert_eq!(log.step_instruction.as_deref(), Some("echo hi"));
    }

    #[test]
    fn the_label_step_the_builder_adds_is_hidden() {
        let mut log = LogState::new(10_000, 1);
        let mut seen = Vec::new();
        let mut on = |p: BuildProgress| seen.push(p);
        log.push_text("Step 1/2 : FROM busybox\n ---> 0123456789ab\nStep 2/2 : LABEL org.layerlab.attempt=a/b\n ---> Using cache\n", &mut on);
        assert_eq!(
            seen,
            [
                BuildProgress::Step(StepProgress {
                    current: 1,
                    total: 1
                }),
                BuildProgress::Line("Step 1/1 : FROM busybox".into()),
                BuildProgress::Image("0123456789ab".into()),
                BuildProgress::Line(" ---> 0123456789ab".into()),
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
        // A reference the learner wrote is a missing base image, not a race.
        assert!(!lost_cached_image("No such image: nosuch:latest"));
        assert!(!lost_cached_image(
            "pull access denied for nosuch, repository does not exist"
        ));
    }

    #[test]
    fn a_restarted_build_forgets_the_steps_of_its_first_run() {
        let mut log = LogState::new(1 << 20, 1);
        let mut seen = Vec::new();
        let mut on = |p: BuildProgress| seen.push(p);
        log.push_text(
            "Step 1/3 : FROM busybox\n ---> 0123456789ab\nStep 2/3 : RUN true\n",
            &mut on,
        );
        log.restart();
        log.push_text("Step 1/3 : FROM busybox\n ---> 0123456789ab\n", &mut on);
        assert_eq!(log.steps.len(), 1);
        assert_eq!(log.image_ids, vec!["0123456789ab".to_string()]);
        assert_eq!(log.step.map(|s| s.current), Some(1));
    }
}
