//! `/exercises/<id>` and `/playground`: the statement, file tabs, a highlighting editor, and
//! Build & run — with the live log, the verdict, the image's layers and history, the run, and
//! the checks. The browser talks to the same public API scripts use: `POST /api/v1/builds`,
//! then the build's Server-Sent Events; drafts go to `PUT /api/v1/drafts/<exercise>` as the
//! learner types.
//!
//! - `editor`: file tabs and the editor (the island's interactive parts);
//! - `log`: the bounded, following build log;
//! - `panels`: what the server renders and the island swaps in as HTML;
//! - `client` (browser only): submitting, following a build, saving drafts.

mod editor;
mod log;
mod panels;

#[cfg(feature = "hydrate")]
mod client;

pub(crate) use editor::LintList;
pub(crate) use log::LogLines;
pub(crate) use panels::{
    CheckList, ExerciseRecord, FailureBox, HintList, ImagePanel, Results, RunPanel, Verdict,
};

use crate::api::exercise;
use crate::dto::{
    BuildStatus, ExerciseView, LessonLink, LogLine, ResultsHtml, StatusUpdate, WorkbenchFile,
    PLAYGROUND,
};
use crate::pages::{error_text, MissingPanel};
use editor::{Editor, FileTabs};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use log::{BuildLog, LogView};

#[component]
pub fn ExercisePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    view! { <WorkbenchLoader id=Signal::derive(id)/> }
}

#[component]
pub fn PlaygroundPage() -> impl IntoView {
    view! { <WorkbenchLoader id=Signal::derive(|| PLAYGROUND.to_string())/> }
}

#[component]
fn WorkbenchLoader(id: Signal<String>) -> impl IntoView {
    let page = Resource::new(move || id.get(), exercise);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the workbench…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(view) if view.console => view! { <super::console_exercise::ConsoleExercisePage exercise=view/> }.into_any(),
                    Ok(view) => view! { <WorkbenchPage exercise=view/> }.into_any(),
                    Err(e) => view! { <MissingPanel title="Exercise not found" message=error_text(&e)/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The exercise page as the server renders it: the statement's static part, and the
/// workbench island around it with what the learner saw last time (or the build still
/// running, which the page follows again).
#[component]
fn WorkbenchPage(exercise: ExerciseView) -> impl IntoView {
    let record = crate::markup::record(&exercise);
    // Coming back: the last attempt's files (already in `files`), log and result.
    let last = exercise
        .last
        .as_ref()
        .filter(|_| exercise.running.is_none());
    let outcome = last.map(|l| crate::markup::build_outcome(&l.view, Some(&exercise)));
    let idle_checks = crate::markup::checks(&exercise.checks, None);
    let (checks, chart, verdict) = match &outcome {
        Some(o) => (
            o.checks_html.clone(),
            o.chart_html.clone(),
            o.verdict_html.clone(),
        ),
        None => (
            idle_checks.clone(),
            crate::markup::chart(&exercise.attempts),
            String::new(),
        ),
    };
    let log = last
        .map(|l| {
            let failure = l.view.error.as_ref().map(|e| e.message.as_str());
            crate::dto::without_repeated_failure(l.log.clone(), failure)
        })
        .unwrap_or_default();
    let built = last.map(|l| (l.at.clone(), l.view.id.clone()));
    let error_line = outcome.as_ref().and_then(|o| o.error_line);
    let results = outcome.and_then(|o| o.results);
    let hints = crate::markup::hints(&exercise.hints, exercise.hint_count);
    // The island carries only the newest lines of a long log.
    let skipped = log.len().saturating_sub(log::DRAWN_LINES);
    let log = log[skipped..].to_vec();
    let lint = first_lint(&exercise.files);
    view! {
        <Title text=exercise.title.clone()/>
        <Workbench
            exercise=exercise.id.clone()
            title=exercise.title.clone()
            lesson=exercise.lesson.clone()
            record
            files=exercise.files.clone()
            starter=exercise.starter.clone()
            log
            skipped
            built
            draft_at=exercise.draft_at.clone()
            running=exercise.running.clone()
            results
            verdict
            checks
            idle_checks
            hints
            hint_count=exercise.hint_count
            chart
            error_line
            lint
        >
            <div class="prose" inner_html=exercise.statement_html.clone()></div>
            {(!exercise.provided.is_empty()).then(|| provided_files(&exercise.provided))}
            {exercise.run_summary.clone().map(|s| view! { <p class="run-summary">{s}</p> })}
        </Workbench>
        <super::ConsoleDock/>
    }
}

/// The files the exercise sends with every build beside the learner's: named, said what they
/// are, not editable (they are not among the editor's tabs).
fn provided_files(provided: &[crate::dto::ProvidedFileView]) -> impl IntoView {
    view! {
        <section class="provided" aria-labelledby="provided-title">
            <h2 id="provided-title">"Sent with every build"</h2>
            <p>"Beside your files, each build of this exercise gets these (read-only):"</p>
            <ul>
                {provided
                    .iter()
                    .map(|p| {
                        view! {
                            <li>
                                <code>{p.path.clone()}</code>
                                " — "
                                <span inner_html=p.about_html.clone()></span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// The linter's findings on the file the editor opens with (the first), when it is a
/// Dockerfile.
fn first_lint(files: &[WorkbenchFile]) -> Vec<crate::lint::LintFinding> {
    #[cfg(feature = "ssr")]
    if let Some(first) = files.first().filter(|f| editor::is_dockerfile(&f.path)) {
        return crate::lint::lint_as_you_type(&first.content);
    }
    let _ = files;
    Vec::new()
}

/// What "Start over" or "Delete current" replaced, kept until the next such action or build.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Undo {
    pub what: String,
    pub files: Vec<WorkbenchFile>,
    pub active: usize,
}

/// Everything the workbench shows about the current build.
#[derive(Clone, Copy)]
struct BuildState {
    status: RwSignal<Option<StatusUpdate>>,
    log: LogView,
    results: RwSignal<Option<ResultsHtml>>,
    /// The sentence under Build saying what the last build came to (as HTML).
    verdict: RwSignal<String>,
    /// The learner's record on the exercise: status pill and attempts (as HTML).
    record: RwSignal<String>,
    /// The check list (as HTML) with the last result's verdicts.
    checks: RwSignal<String>,
    /// The hints unlocked so far (as HTML).
    hints: RwSignal<String>,
    /// The attempt chart (as HTML); a finished build joins it.
    chart: RwSignal<String>,
    error_line: RwSignal<Option<u32>>,
    /// The request was refused (4xx/5xx) or the connection broke.
    problem: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
    /// The files the shown result was built from, and when (to say so once they change).
    built: RwSignal<Option<(String, Vec<WorkbenchFile>)>>,
}

/// The interactive workbench: file tabs, the editor with lint as you type, Build & run, the
/// live log and progress; verdict, result panels, checks, hints and chart arrive as
/// server-rendered HTML. `children`: the statement, rendered by the server only.
#[island]
fn Workbench(
    children: Children,
    exercise: String,
    title: String,
    lesson: Option<LessonLink>,
    record: String,
    files: Vec<WorkbenchFile>,
    starter: Vec<WorkbenchFile>,
    log: Vec<LogLine>,
    /// Lines of the last log before those in `log`.
    skipped: usize,
    /// When the shown result was built, and its build id.
    built: Option<(String, String)>,
    /// When the files shown were saved as a draft (newer than the last build).
    draft_at: Option<String>,
    /// A build of the learner's still queued or running: followed again.
    running: Option<String>,
    results: Option<ResultsHtml>,
    verdict: String,
    checks: String,
    /// The check list before any build, shown again while a new one runs.
    idle_checks: String,
    hints: String,
    hint_count: usize,
    chart: String,
    error_line: Option<u32>,
    /// The linter's findings on the first file as the page opens (later ones come as the
    /// learner types).
    lint: Vec<crate::lint::LintFinding>,
) -> impl IntoView {
    let lint = RwSignal::new(lint);
    let files = RwSignal::new(files);
    let active = RwSignal::new(0usize);
    let undo = RwSignal::new(None::<Undo>);
    let has_checks = !idle_checks.is_empty();
    let idle_checks = StoredValue::new(idle_checks);
    // Everything below starts the same on the server and in the browser (hydration expects
    // the page it finds): a build still running shows as such from the first paint.
    let log_view = LogView::new(
        log,
        running
            .clone()
            .or_else(|| built.as_ref().map(|(_, id)| id.clone())),
    );
    log_view.skipped.set(skipped);
    let state = BuildState {
        status: RwSignal::new(None),
        log: log_view,
        results: RwSignal::new(results),
        verdict: RwSignal::new(verdict),
        record: RwSignal::new(record),
        checks: RwSignal::new(checks),
        hints: RwSignal::new(hints),
        chart: RwSignal::new(chart),
        error_line: RwSignal::new(error_line),
        problem: RwSignal::new(None),
        busy: RwSignal::new(running.is_some()),
        built: RwSignal::new(
            built
                .filter(|_| draft_at.is_none())
                .map(|(at, _)| (at, files.get_untracked())),
        ),
    };
    let draft_note =
        RwSignal::new(draft_at.map(|at| format!("Your draft from {at}, not built yet.")));
    let clear = move |build: Option<String>| {
        state.results.set(None);
        state.log.clear(build);
        state.problem.set(None);
        state.error_line.set(None);
        state.verdict.set(String::new());
        state.checks.set(idle_checks.get_value());
    };
    let start_over = move |_| {
        undo.set(Some(Undo {
            what: "Put the starter files back.".into(),
            files: files.get_untracked(),
            active: active.get_untracked(),
        }));
        files.set(starter.clone());
        active.set(0);
    };
    let undo_it = move |_| {
        if let Some(u) = undo.get_untracked() {
            files.set(u.files);
            active.set(u.active);
            undo.set(None);
        }
    };
    let exercise_id = StoredValue::new(exercise.clone());
    // `docker build --no-cache`, for this page's builds until it is unticked.
    let no_cache = RwSignal::new(false);
    let start = move || {
        if state.busy.get_untracked() {
            return;
        }
        state.busy.set(true);
        undo.set(None);
        draft_note.set(None);
        clear(None);
        state.status.set(None);
        let sent = files.get_untracked();
        state.built.set(Some(("just now".into(), sent.clone())));
        let request = crate::dto::BuildRequest {
            exercise: Some(exercise_id.get_value()),
            files: sent.into_iter().map(|f| (f.path, f.content)).collect(),
            no_cache: no_cache.get_untracked(),
        };
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(client::run_build(request, state));
        #[cfg(not(feature = "hydrate"))]
        let _ = request;
    };
    // Coming back to a build still running: follow it again.
    #[cfg(feature = "hydrate")]
    if let Some(id) = running {
        leptos::task::spawn_local(client::rejoin(id, state));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = running;
    #[cfg(feature = "hydrate")]
    let draft_status = client::keep_drafts(exercise.clone(), files);
    #[cfg(not(feature = "hydrate"))]
    let draft_status = RwSignal::new(None::<String>);
    let reveal = move |_| {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(client::reveal_hint(exercise_id.get_value(), state));
    };
    let hints_left = move || {
        let shown = state
            .hints
            .with(|h| h.matches("class=\"hint-item\"").count());
        hint_count.saturating_sub(shown)
    };
    // The result on screen no longer matches the files: say so.
    let stale = move || {
        state.built.with(|b| {
            b.as_ref()
                .filter(|(_, sent)| files.with(|f| f != sent))
                .map(|(at, _)| at.clone())
        })
    };
    let on_keys = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
            ev.prevent_default();
            start();
        }
    };
    view! {
        <div class="workbench" data-exercise=exercise on:keydown=on_keys>
            <section class="statement panel">
                <p class="breadcrumb">
                    <a href="/">"Course"</a>
                    {lesson.map(|l| view! {
                        " / " <a href=format!("/learn/{}", l.slug)>{l.title}</a>
                    })}
                </p>
                <h1>{title}</h1>
                <div class="html-slot" inner_html=move || state.record.get()></div>
                {children()}
                {has_checks.then(|| view! { <section id="checks" class="checks" inner_html=move || state.checks.get()></section> })}
                <div class="html-slot" inner_html=move || state.hints.get()></div>
                {(hint_count > 0).then(|| view! {
                    <p class="hint-request">
                        <button
                            id="reveal-hint"
                            class="button small"
                            on:click=reveal
                            disabled=move || hints_left() == 0
                        >
                            {move || match hints_left() {
                                0 => "Every hint is shown".to_string(),
                                n if n == hint_count => format!("Show a hint ({n} available)"),
                                n => format!("Show another hint ({n} left)"),
                            }}
                        </button>
                        <span class="hint">" A hint also opens after each build that reaches the checks without passing."</span>
                    </p>
                })}
                <div class="html-slot" inner_html=move || state.chart.get()></div>
            </section>
            <section class="bench panel">
                <FileTabs files active undo/>
                <Editor files active error_line=state.error_line findings=lint/>
                <p id="editor-keys" class="editor-keys hint">
                    "Tab indents · Esc then Tab leaves the editor · Ctrl+Enter builds"
                    {move || draft_status.get().map(|s| view! { <span class="draft-status">{format!(" · {s}")}</span> })}
                </p>
                {move || undo.get().map(|u| view! {
                    <p class="undo-bar" role="status">
                        {u.what} " "
                        <button id="undo" class="button small" on:click=undo_it>"Undo"</button>
                    </p>
                })}
                <div class="bench-actions">
                    <button
                        id="build"
                        class="button primary"
                        on:click=move |_| start()
                        disabled=move || state.busy.get()
                        title="Build & run (Ctrl+Enter)"
                    >
                        {move || if state.busy.get() { "Building…" } else { "Build & run" }}
                    </button>
                    <button
                        id="start-over"
                        class="button"
                        title="Put the starter files back (Undo brings yours back; your attempts stay in your history)"
                        on:click=start_over
                        disabled=move || state.busy.get()
                    >
                        "Start over"
                    </button>
                    <label class="no-cache" title="Build every step anew, as docker build --no-cache does">
                        <input
                            type="checkbox"
                            id="no-cache"
                            prop:checked=move || no_cache.get()
                            on:change=move |ev| no_cache.set(event_target_checked(&ev))
                        />
                        " Ignore the cache "
                        <code>"--no-cache"</code>
                    </label>
                    <Progress state/>
                    <noscript>
                        <span class="hint">
                            "Building from this page needs JavaScript. Scripts can use POST /api/v1/builds."
                        </span>
                    </noscript>
                </div>
                <div class="build-verdict" role="status" inner_html=move || state.verdict.get()></div>
                {move || draft_note.get().map(|n| view! { <p class="hint draft-note">{n}</p> })}
                {move || state.problem.get().map(|p| view! { <p class="error-box" role="alert">{p}</p> })}
                {move || stale().filter(|_| state.results.with(Option::is_some) || !state.log.lines.with(Vec::is_empty)).map(|at| view! {
                    <p class="stale-note">{format!(
                        "The result below is from your build {}; you have changed the files since. Build again to see theirs.",
                        if at == "just now" { "just now".to_string() } else { format!("at {at}") }
                    )}</p>
                })}
                <BuildLog log=state.log/>
                {move || state.results.get().map(|results| view! { <Results results/> })}
            </section>
        </div>
    }
}

/// Where the build is, as a short live status (screen readers hear this, not the log).
#[component]
fn Progress(state: BuildState) -> impl IntoView {
    view! {
        <span class="progress-wrap" role="status">
            {move || {
                state.status.get().filter(|s| !s.status.is_finished()).map(|s| {
                    let (value, max) = s
                        .step
                        .map(|step| (step.current, step.total))
                        .unwrap_or((0, 1));
                    let label = match (s.status, s.step, s.queue_position) {
                        (BuildStatus::Queued, _, Some(n)) => {
                            format!("Waiting for a builder: {n} ahead")
                        }
                        (BuildStatus::Building, Some(step), _) => {
                            format!("Step {}/{}", step.current, step.total)
                        }
                        (other, _, _) => capitalize(other.label()),
                    };
                    view! {
                        <span class="progress" data-status=s.status.as_str()>
                            <progress max=max value=value></progress>
                            <span class="progress-label">{label}</span>
                        </span>
                    }
                })
            }}
        </span>
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
