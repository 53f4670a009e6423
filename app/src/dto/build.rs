//! Builds and exercises as the public API and the workbench see them. The JSON shapes here
//! are the ones README.md documents for `POST /api/v1/builds` and friends.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /api/v1/builds`: the files of a build context, path → UTF-8 text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildRequest {
    /// The exercise this attempt is for; `null` for the free playground.
    #[serde(default)]
    pub exercise: Option<String>,
    pub files: BTreeMap<String, String>,
    /// Build every step anew, as `docker build --no-cache` does: no step is taken from the
    /// engine's build cache.
    #[serde(default)]
    pub no_cache: bool,
}

/// The answer to an accepted build: where to follow it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildAccepted {
    pub id: String,
    pub events: String,
}

/// The exercise id of free builds: the playground.
pub const PLAYGROUND: &str = "playground";

pub fn build_url(id: &str) -> String {
    format!("/api/v1/builds/{id}")
}

pub fn build_events_url(id: &str) -> String {
    format!("/api/v1/builds/{id}/events")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildStatus {
    Queued,
    Building,
    Running,
    Succeeded,
    Failed,
    /// The server stopped before the build finished (found at the next start).
    Interrupted,
    /// The learner submitted again before it finished: it was stopped and cleaned up.
    Cancelled,
}

impl BuildStatus {
    /// The wire name: `queued`, `building`, `running`, `succeeded`, `failed`, `interrupted`,
    /// `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Queued => "queued",
            BuildStatus::Building => "building",
            BuildStatus::Running => "running",
            BuildStatus::Succeeded => "succeeded",
            BuildStatus::Failed => "failed",
            BuildStatus::Interrupted => "interrupted",
            BuildStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            BuildStatus::Succeeded
                | BuildStatus::Failed
                | BuildStatus::Interrupted
                | BuildStatus::Cancelled
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            BuildStatus::Queued => "waiting for a free builder",
            BuildStatus::Building => "building",
            BuildStatus::Running => "running the container",
            BuildStatus::Succeeded => "succeeded",
            BuildStatus::Failed => "failed",
            BuildStatus::Interrupted => "interrupted by a server restart",
            BuildStatus::Cancelled => "stopped: you submitted a newer version",
        }
    }
}

/// `Step 3/7`, as the builder counts its instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    pub current: u32,
    pub total: u32,
}

/// Everything known about one build; fields not reached yet are absent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildView {
    pub id: String,
    pub exercise: Option<String>,
    pub status: BuildStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepProgress>,
    /// Builds ahead of this one while it is queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageFacts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunFacts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<CheckOutcome>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<BuildFailure>,
    /// The build log was longer than the server keeps; the end was dropped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub log_truncated: bool,
    /// The exercise's hints unlocked so far: one more after each attempt that did not pass
    /// (sanitized inline HTML).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
    /// What the linter noticed in the Dockerfile as submitted (known from the start).
    #[serde(default)]
    pub lint: Vec<crate::lint::LintFinding>,
    /// Built with `--no-cache`, as the learner asked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_cache: bool,
}

impl BuildView {
    /// A build just submitted: nothing known yet but its id and exercise.
    pub fn queued(id: &str, exercise: &str) -> Self {
        BuildView {
            id: id.to_string(),
            exercise: Some(exercise.to_string()),
            status: BuildStatus::Queued,
            step: None,
            queue_position: None,
            image: None,
            run: None,
            checks: None,
            error: None,
            log_truncated: false,
            hints: Vec::new(),
            lint: Vec::new(),
            no_cache: false,
        }
    }
}

/// The built image, as the engine reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageFacts {
    /// The engine's image id (`sha256:…`).
    pub id: String,
    pub size_bytes: u64,
    /// Number of filesystem layers (`RootFS.Layers`).
    pub layers: usize,
    /// Oldest first: the base image's entries, then one per instruction.
    pub history: Vec<HistoryEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub created_by: String,
    pub size_bytes: u64,
    /// True when the instruction changed only metadata and added no filesystem layer.
    pub empty_layer: bool,
}

impl HistoryEntry {
    /// The instruction as a learner wrote it: `#(nop)` and the shell prefix removed.
    pub fn instruction(&self) -> String {
        let text = self.created_by.trim();
        if let Some(rest) = text.strip_prefix("/bin/sh -c #(nop) ") {
            return rest.trim().to_string();
        }
        if let Some(rest) = text.strip_prefix("/bin/sh -c ") {
            return format!("RUN {}", rest.trim());
        }
        text.to_string()
    }
}

/// What the container did when it ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunFacts {
    /// `None` when the container was stopped by us (a timeout, or after a web probe).
    pub exit_code: Option<i64>,
    pub output: String,
    #[serde(default)]
    pub output_truncated: bool,
    pub oom_killed: bool,
    pub timed_out: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeFacts>,
    /// How the container took being stopped, when the exercise stops it (`[run]
    /// stop_after_secs`) and it was still running then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopFacts>,
    /// What the engine said of the container's health, when a check watched it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthFacts>,
    /// The container's processes while it ran, as `docker top` shows them from the host
    /// (host PIDs, users as the host names them); empty when it was not seen running.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessFacts>,
}

/// One process of a running container, as `docker top <container> -o pid,user,args` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessFacts {
    pub pid: String,
    /// The user as the host knows it: a name from the host's `/etc/passwd`, else the uid.
    pub user: String,
    pub command: String,
    /// The container's main process: PID 1 inside it (the engine's `State.Pid` outside).
    #[serde(default)]
    pub main: bool,
}

/// The engine's health status of a container (from its image's `HEALTHCHECK`), as a check
/// that watched it last saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthFacts {
    /// `starting`, `healthy`, `unhealthy`, or `none` when the image declares no health check.
    pub status: String,
    /// How long after the start it was read.
    pub after_ms: u64,
    /// How many health checks the engine had run (it keeps the last five).
    pub checks_run: usize,
    /// What the last health check printed, trimmed.
    pub last_output: String,
    pub last_exit_code: Option<i64>,
    /// When the run froze the main process (SIGSTOP, like a hung server) once it was
    /// healthy, how long after the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_after_ms: Option<u64>,
}

/// A running container asked to stop, as `docker stop` does: its stop signal, then SIGKILL if
/// it is still there after the grace period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StopFacts {
    /// The signal sent first (the image's `STOPSIGNAL`, else `SIGTERM`).
    pub signal: String,
    /// How long it ran before being asked to stop.
    pub after_ms: u64,
    /// How long it took to exit after the signal; `None` when it did not, and was killed.
    pub exited_in_ms: Option<u64>,
    /// How long it was given before SIGKILL.
    pub grace_ms: u64,
    /// A copy of the container, started with it and asked to stop at another moment, later
    /// (when this one left when asked): a container that merely ends on its own clock cannot
    /// leave promptly after both signals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<CopyStopFacts>,
}

/// How the copy of a stopped container took its own, later stop signal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CopyStopFacts {
    /// How long after the container's start the copy was asked.
    pub after_ms: u64,
    /// It had ended by itself before it was asked, with this exit code.
    pub ended_early: Option<i64>,
    /// How long it took to exit after its signal; `None` when it did not within the grace
    /// period (or ended early).
    pub exited_in_ms: Option<u64>,
}

/// An HTTP request made to the running container's port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeFacts {
    pub port: u16,
    pub path: String,
    pub status: Option<u16>,
    pub body: String,
    /// Why no answer came, when none did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One exercise check judged on the build's facts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub id: String,
    pub passed: bool,
    pub message: String,
    /// For a failed check: the lesson paragraph that explains it (`/learn/<slug>#<heading>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learn_more: Option<String>,
}

/// Why a build failed, in the learner's language.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildFailure {
    /// Stable, for scripts: `dockerfile_syntax`, `run_failed`, `missing_base_image`,
    /// `copy_source_missing`, `build_timeout`, `engine_unavailable`, `engine_cache_race`,
    /// `build_failed`, …
    pub code: String,
    pub message: String,
    /// The Dockerfile line to highlight, when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// One SSE `log` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub phase: LogPhase,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogPhase {
    Build,
    Run,
    /// Lines from layerlab itself (queueing, limits, clean-up).
    Server,
}

/// One SSE `status` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub status: BuildStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepProgress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<usize>,
}

/// An exercise as the workbench shows it: statement, starter files, what will be checked.
/// (`Default` is the learner's side empty: no progress, attempts, draft or hints yet.)
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExerciseView {
    pub id: String,
    pub title: String,
    /// Sanitized HTML of the exercise's README.md.
    pub statement_html: String,
    pub lesson: Option<super::LessonLink>,
    pub files: Vec<WorkbenchFile>,
    pub checks: Vec<CheckDescription>,
    /// What happens after a successful build, in a sentence.
    pub run_summary: Option<String>,
    /// Files the exercise puts beside the learner's in every build (read-only, not shown in
    /// the editor).
    #[serde(default)]
    pub provided: Vec<ProvidedFileView>,
    /// The files the exercise starts from (`files` may be the learner's last attempt instead).
    #[serde(default)]
    pub starter: Vec<WorkbenchFile>,
    /// The learner's record on this exercise.
    #[serde(default)]
    pub progress: ExerciseProgress,
    /// The learner's latest attempt, shown again when they come back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<LastAttempt>,
    /// Every attempt at it so far, oldest first (for the size and layers chart).
    #[serde(default)]
    pub attempts: Vec<super::AttemptSummary>,
    /// The learner's build of it that is still queued or running: the page follows it again
    /// (its files are in `files`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<String>,
    /// The exercise after this one in the course, offered once this one passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<ExerciseLink>,
    /// The files as the learner left them without building (newer than `last`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_at: Option<String>,
    /// The hints the learner has unlocked (sanitized inline HTML), of `hint_count`.
    #[serde(default)]
    pub hints: Vec<String>,
    #[serde(default)]
    pub hint_count: usize,
    /// Done in the docker console: the learner types commands, then asks for a check of what
    /// their containers and images are (`POST /api/v1/exercises/<id>/check`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub console: bool,
    /// A console exercise's questions (`id`, the question): the learner answers what they
    /// found out, and the check compares it with what the engine holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<CheckDescription>,
    /// A console exercise that makes containers or images for the learner first (Set up the
    /// exercise: `POST /api/v1/exercises/<id>/setup`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub set_up: bool,
    /// The session's form token, for the page's Check form (console exercises only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// Why the page's last Check or Set up form was refused (said once, then forgotten).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The latest attempt: its result and log, as the learner saw them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastAttempt {
    /// When it was built, e.g. `2026-11-23 19:56 UTC`.
    pub at: String,
    pub view: BuildView,
    pub log: Vec<LogLine>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkbenchFile {
    pub path: String,
    pub content: String,
}

/// A file an exercise provides beside the learner's own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProvidedFileView {
    pub path: String,
    /// What it is, in a sentence (sanitized inline HTML).
    pub about_html: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckDescription {
    pub id: String,
    pub description: String,
}

/// Enough about an exercise to link to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExerciseLink {
    pub id: String,
    pub title: String,
    /// The learner has a build that passed every check (on the course map).
    #[serde(default)]
    pub done: bool,
    /// Attempts so far and the smallest image (on the course map).
    #[serde(default)]
    pub progress: ExerciseProgress,
    /// Done in the docker console rather than built in the workbench.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub console: bool,
}

/// Where a learner stands with one exercise or quiz.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressStatus {
    #[default]
    NotStarted,
    Tried,
    Passed,
}

impl ProgressStatus {
    /// The wire name, also used as a CSS class and in CSV exports.
    pub fn as_str(self) -> &'static str {
        match self {
            ProgressStatus::NotStarted => "not_started",
            ProgressStatus::Tried => "tried",
            ProgressStatus::Passed => "passed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ProgressStatus::NotStarted => "not started",
            ProgressStatus::Tried => "tried",
            ProgressStatus::Passed => "passed",
        }
    }
}

/// A learner's record on one exercise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExerciseProgress {
    pub status: ProgressStatus,
    pub attempts: u32,
    /// The smallest image among the learner's successful builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_size_bytes: Option<u64>,
}

/// `1234` ms → `1.2 s`.
pub fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// `1536` → `1.5 KiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    if value < 10.0 {
        format!("{value:.2} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

/// A finished (or still running) build as the workbench shows it, rendered by the server so
/// the browser bundle carries no code for result panels, check lists or charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildOutcome {
    pub status: BuildStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepProgress>,
    /// The Dockerfile line the failure is blamed on, marked in the editor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<ResultsHtml>,
    /// The exercise's check list with this build's verdicts and unlocked hints (empty when
    /// the exercise has no checks).
    pub checks_html: String,
    /// The attempt chart, this build included (empty: no chart).
    pub chart_html: String,
    /// What the build came to, in a sentence, where the learner looks (under Build): built or
    /// not, how many checks pass, what to do next.
    #[serde(default)]
    pub verdict_html: String,
    /// The learner's record on the exercise with this build counted (status pill, attempts),
    /// empty for the playground.
    #[serde(default)]
    pub record_html: String,
    /// The hints unlocked so far, with this build counted (empty: none yet).
    #[serde(default)]
    pub hints_html: String,
    /// The failure's message, which the log also ends with: the workbench shows it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The log without its last line when that line only repeats the failure shown beside it.
pub fn without_repeated_failure(mut log: Vec<LogLine>, failure: Option<&str>) -> Vec<LogLine> {
    if let (Some(last), Some(failure)) = (log.last(), failure) {
        if last.phase == LogPhase::Server && last.text == failure {
            log.pop();
        }
    }
    log
}

/// A build's result panels as HTML, split around the layer explorer (which is interactive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultsHtml {
    pub build: String,
    pub status: BuildStatus,
    /// The failure, lint findings and image facts.
    pub head_html: String,
    /// Where the layer explorer reads the image's layers, when there is an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers_url: Option<String>,
    /// What the container did.
    pub run_html: String,
    /// The Tag & push panel: only under the learner's own successful builds (else empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub push_html: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_person_wrote_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.50 KiB");
        assert_eq!(human_size(2_076_672), "1.98 MiB");
        assert_eq!(human_size(110 * 1024 * 1024), "110.0 MiB");
    }

    #[test]
    fn history_shows_instructions_as_written() {
        let entry = |created_by: &str| HistoryEntry {
            created_by: created_by.into(),
            size_bytes: 0,
            empty_layer: true,
        };
        assert_eq!(
            entry("/bin/sh -c #(nop)  CMD [\"sh\"]").instruction(),
            "CMD [\"sh\"]"
        );
        assert_eq!(entry("/bin/sh -c echo hi").instruction(), "RUN echo hi");
        assert_eq!(entry("Imported from -").instruction(), "Imported from -");
    }

    #[test]
    fn absent_fields_stay_out_of_the_json() {
        let view = BuildView::queued("b1", "playground");
        let json = serde_json::to_value(&view).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"id": "b1", "exercise": "playground", "status": "queued", "lint": []}),
            "absent fields are left out; `lint` is always there, empty or not"
        );
    }
}
