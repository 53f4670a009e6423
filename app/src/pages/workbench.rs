//! `/exercises/<id>` and `/playground`: the statement, file tabs, a highlighting editor, and
//! Build & run — with the live log, the image's layers and history, the run, and the checks.
//! The browser talks to the same public API scripts use: `POST /api/v1/builds`, then the
//! build's Server-Sent Events.

use crate::ansi;
use crate::api::exercise;
use crate::dockerfile::highlight;
use crate::dto::{
    human_size, seconds, BuildFailure, BuildStatus, BuildView, CheckOutcome, ExerciseView,
    ImageFacts, LogLine, LogPhase, ResultsHtml, RunFacts, StatusUpdate, WorkbenchFile, PLAYGROUND,
};
use crate::pages::layers::LayerExplorer;
use crate::pages::{error_text, MissingPanel};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

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
                    Ok(view) => view! { <WorkbenchPage exercise=view/> }.into_any(),
                    Err(e) => view! { <MissingPanel title="Exercise not found" message=error_text(&e)/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The exercise page as the server renders it: the statement's static part, and the
/// workbench island around it with what the learner saw last time.
#[component]
fn WorkbenchPage(exercise: ExerciseView) -> impl IntoView {
    let record = (exercise.id != PLAYGROUND).then(|| {
        let p = exercise.progress.clone();
        let at = exercise.last.as_ref().map(|l| l.at.clone());
        view! {
            <p class="record" data-status=p.status.as_str() data-attempts=p.attempts.to_string()>
                <span class=format!("status-pill {}", p.status.as_str())>{p.status.label()}</span>
                {(p.attempts > 0).then(|| format!(
                    " · {} attempt{}", p.attempts, if p.attempts == 1 { "" } else { "s" }
                ))}
                {p.best_size_bytes.map(|b| format!(" · best image {}", human_size(b)))}
                {at.map(|at| view! { <span class="restored">{format!(" · showing your attempt from {at}")}</span> })}
            </p>
        }
    });
    // Coming back: the last attempt's files (already in `files`), log and result.
    let last = exercise.last.as_ref();
    let outcome = last.map(|l| crate::markup::build_outcome(&l.view, Some(&exercise)));
    let idle_checks = crate::markup::checks(&exercise.checks, None);
    let (checks, chart) = match &outcome {
        Some(o) => (o.checks_html.clone(), o.chart_html.clone()),
        None => (
            idle_checks.clone(),
            crate::markup::chart(&exercise.attempts),
        ),
    };
    let log = last.map(|l| l.log.clone()).unwrap_or_default();
    let error_line = outcome.as_ref().and_then(|o| o.error_line);
    let results = outcome.and_then(|o| o.results);
    view! {
        <Title text=exercise.title.clone()/>
        <Workbench
            exercise=exercise.id.clone()
            files=exercise.files.clone()
            starter=exercise.starter.clone()
            log
            results
            checks
            idle_checks
            chart
            error_line
        >
            <p class="breadcrumb">
                <a href="/">"Course"</a>
                {exercise.lesson.clone().map(|l| view! {
                    " / " <a href=format!("/learn/{}", l.slug)>{l.title}</a>
                })}
            </p>
            <h1>{exercise.title.clone()}</h1>
            {record}
            <div class="prose" inner_html=exercise.statement_html.clone()></div>
            {exercise.run_summary.clone().map(|s| view! { <p class="run-summary">{s}</p> })}
        </Workbench>
    }
}

/// Everything the workbench shows about the current build.
#[derive(Clone, Copy)]
struct BuildState {
    status: RwSignal<Option<StatusUpdate>>,
    log: RwSignal<Vec<LogLine>>,
    results: RwSignal<Option<ResultsHtml>>,
    /// The check list (as HTML) with the last result's verdicts.
    checks: RwSignal<String>,
    /// The attempt chart (as HTML); a finished build joins it.
    chart: RwSignal<String>,
    error_line: RwSignal<Option<u32>>,
    /// The request was refused (4xx/5xx) or the connection broke.
    problem: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
}

/// The interactive workbench: file tabs, the editor with lint as you type, Build & run, the
/// live log and progress; result panels, checks and chart arrive as server-rendered HTML.
/// `children`: the statement above the checks, rendered by the server only.
#[island]
fn Workbench(
    children: Children,
    exercise: String,
    files: Vec<WorkbenchFile>,
    starter: Vec<WorkbenchFile>,
    log: Vec<LogLine>,
    results: Option<ResultsHtml>,
    checks: String,
    /// The check list before any build, shown again while a new one runs.
    idle_checks: String,
    chart: String,
    error_line: Option<u32>,
) -> impl IntoView {
    let files = RwSignal::new(files);
    let active = RwSignal::new(0usize);
    let has_checks = !idle_checks.is_empty();
    let idle_checks = StoredValue::new(idle_checks);
    let state = BuildState {
        status: RwSignal::new(None),
        log: RwSignal::new(log),
        results: RwSignal::new(results),
        checks: RwSignal::new(checks),
        chart: RwSignal::new(chart),
        error_line: RwSignal::new(error_line),
        problem: RwSignal::new(None),
        busy: RwSignal::new(false),
    };
    let clear = move || {
        state.results.set(None);
        state.log.set(Vec::new());
        state.problem.set(None);
        state.error_line.set(None);
        state.checks.set(idle_checks.get_value());
    };
    let start_over = move |_| {
        files.set(starter.clone());
        active.set(0);
        clear();
    };
    let exercise_id = exercise.clone();
    let start = move |_| {
        if state.busy.get_untracked() {
            return;
        }
        state.busy.set(true);
        clear();
        state.status.set(None);
        let request = crate::dto::BuildRequest {
            exercise: Some(exercise_id.clone()),
            files: files
                .get_untracked()
                .into_iter()
                .map(|f| (f.path, f.content))
                .collect(),
        };
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(client::run_build(request, state));
        #[cfg(not(feature = "hydrate"))]
        let _ = request;
    };
    view! {
        <div class="workbench" data-exercise=exercise>
            <section class="statement panel">
                {children()}
                {has_checks.then(|| view! { <section class="checks" inner_html=move || state.checks.get()></section> })}
                <div class="html-slot" inner_html=move || state.chart.get()></div>
            </section>
            <section class="bench panel">
                <FileTabs files active/>
                <Editor files active error_line=state.error_line/>
                <div class="bench-actions">
                    <button
                        id="build"
                        class="button primary"
                        on:click=start
                        disabled=move || state.busy.get()
                    >
                        {move || if state.busy.get() { "Building…" } else { "Build & run" }}
                    </button>
                    <button
                        id="start-over"
                        class="button"
                        title="Put the starter files back (your attempts stay in your history)"
                        on:click=start_over
                        disabled=move || state.busy.get()
                    >
                        "Start over"
                    </button>
                    <Progress state/>
                    <noscript>
                        <span class="hint">
                            "Building from this page needs JavaScript. Scripts can use POST /api/v1/builds."
                        </span>
                    </noscript>
                </div>
                {move || state.problem.get().map(|p| view! { <p class="error-box" role="alert">{p}</p> })}
                <BuildLog log=state.log/>
                {move || state.results.get().map(|results| view! { <Results results/> })}
            </section>
        </div>
    }
}

#[component]
fn FileTabs(files: RwSignal<Vec<WorkbenchFile>>, active: RwSignal<usize>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let message = RwSignal::new(None::<String>);
    let valid = move |path: &str| -> Result<(), String> {
        let path = path.trim();
        if path.is_empty() {
            return Err("Type a file name first.".into());
        }
        if path.starts_with('/')
            || path
                .split('/')
                .any(|p| p == ".." || p == "." || p.is_empty())
        {
            return Err("Use a relative path like app/main.sh (no leading /, no ..).".into());
        }
        if files.with(|f| f.iter().any(|f| f.path == path)) {
            return Err(format!("There is already a file called {path}."));
        }
        Ok(())
    };
    let add = move |_| {
        let path = name.get_untracked().trim().to_string();
        match valid(&path) {
            Err(e) => message.set(Some(e)),
            Ok(()) => {
                files.update(|f| {
                    f.push(WorkbenchFile {
                        path,
                        content: String::new(),
                    })
                });
                active.set(files.with_untracked(|f| f.len() - 1));
                name.set(String::new());
                message.set(None);
            }
        }
    };
    let rename = move |_| {
        let path = name.get_untracked().trim().to_string();
        match valid(&path) {
            Err(e) => message.set(Some(e)),
            Ok(()) => {
                let index = active.get_untracked();
                files.update(|f| {
                    if let Some(file) = f.get_mut(index) {
                        file.path = path;
                    }
                });
                name.set(String::new());
                message.set(None);
            }
        }
    };
    let delete = move |_| {
        let index = active.get_untracked();
        files.update(|f| {
            if index < f.len() && f.len() > 1 {
                f.remove(index);
            }
        });
        active.set(index.saturating_sub(1));
        message.set(None);
    };
    view! {
        <div class="file-tabs" role="tablist">
            {move || {
                files
                    .get()
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| {
                        view! {
                            <button
                                role="tab"
                                class="file-tab"
                                class:active=move || active.get() == i
                                aria-selected=move || (active.get() == i).to_string()
                                data-path=f.path.clone()
                                on:click=move |_| active.set(i)
                            >
                                {f.path.clone()}
                            </button>
                        }
                    })
                    .collect_view()
            }}
        </div>
        <div class="file-actions">
            <input
                class="file-name"
                placeholder="new-file.sh or app/main.sh"
                aria-label="File name"
                prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <button class="button small" on:click=add>"Add file"</button>
            <button class="button small" on:click=rename>"Rename current"</button>
            <button
                class="button small danger"
                on:click=delete
                disabled=move || files.with(|f| f.len() <= 1)
            >
                "Delete current"
            </button>
            {move || message.get().map(|m| view! { <span class="hint error-text">{m}</span> })}
        </div>
    }
}

/// A textarea over a highlighted copy of its text, with line numbers beside it.
#[component]
fn Editor(
    files: RwSignal<Vec<WorkbenchFile>>,
    active: RwSignal<usize>,
    error_line: RwSignal<Option<u32>>,
) -> impl IntoView {
    let current = move || files.with(|f| f.get(active.get()).cloned());
    let content = move || current().map(|f| f.content).unwrap_or_default();
    let is_dockerfile = move || {
        current()
            .map(|f| {
                f.path
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .contains("Dockerfile")
            })
            .unwrap_or(false)
    };
    let line_count = move || content().split('\n').count();
    // Findings as the learner types (the same linter the server runs at submit).
    let findings = Memo::new(move |_| {
        if is_dockerfile() {
            crate::lint::lint(&content())
        } else {
            Vec::new()
        }
    });
    let lint_class = move |line: u32| {
        findings.with(|f| {
            f.iter()
                .filter(|f| f.line == line)
                .map(|f| f.severity)
                .min_by_key(|s| *s as u8)
                .map(|s| format!("lint-{}", s.as_str()))
                .unwrap_or_default()
        })
    };
    view! {
        <div class="editor">
            <div class="gutter" aria-hidden="true">
                {move || {
                    let bad = if is_dockerfile() { error_line.get() } else { None };
                    (1..=line_count())
                        .map(|n| {
                            let mark = bad == Some(n as u32);
                            view! {
                                <span class=format!("line-number {}", lint_class(n as u32)) class:error-line=mark>{n}</span>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <div class="code">
                <pre class="highlight" aria-hidden="true">
                    {move || {
                        let text = content();
                        let bad = if is_dockerfile() { error_line.get() } else { None };
                        let lines: Vec<Vec<(&'static str, String)>> = if is_dockerfile() {
                            highlight(&text)
                                .into_iter()
                                .map(|l| l.into_iter().map(|(k, s)| (k.class(), s)).collect())
                                .collect()
                        } else {
                            text.split('\n').map(|l| vec![("tok", l.to_string())]).collect()
                        };
                        lines
                            .into_iter()
                            .enumerate()
                            .map(|(i, tokens)| {
                                let mark = bad == Some(i as u32 + 1);
                                view! {
                                    <span class=format!("code-line {}", lint_class(i as u32 + 1)) class:error-line=mark>
                                        {tokens
                                            .into_iter()
                                            .map(|(class, s)| view! { <span class=class>{s}</span> })
                                            .collect_view()}
                                        "\n"
                                    </span>
                                }
                            })
                            .collect_view()
                    }}
                </pre>
                <textarea
                    class="editor-input"
                    spellcheck="false"
                    autocapitalize="off"
                    autocomplete="off"
                    aria-label=move || current().map(|f| format!("Contents of {}", f.path)).unwrap_or_default()
                    prop:value=content
                    on:input=move |ev| {
                        let value = event_target_value(&ev);
                        let index = active.get_untracked();
                        files.update(|f| {
                            if let Some(file) = f.get_mut(index) {
                                file.content = value;
                            }
                        });
                    }
                    on:keydown=move |ev| {
                        // Tab inserts two spaces instead of leaving the editor.
                        if ev.key() == "Tab" && !ev.shift_key() {
                            ev.prevent_default();
                            insert_at_cursor(&ev, "  ");
                        }
                    }
                ></textarea>
            </div>
        </div>
        <LintList findings=Signal::derive(move || findings.get()) live=true/>
    }
}

/// Text with `backticked` parts shown as code.
fn with_code_spans(text: &str) -> impl IntoView {
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                Either::Left(view! { <code>{part.to_string()}</code> })
            } else {
                Either::Right(part.to_string())
            }
        })
        .collect_view()
}

/// Lint findings, each with its line, rule and a link to the lesson paragraph that explains
/// it. `live`: the editor's list (says when all is clean); otherwise a build result's.
#[component]
pub(crate) fn LintList(
    findings: Signal<Vec<crate::lint::LintFinding>>,
    live: bool,
) -> impl IntoView {
    move || {
        let findings = findings.get();
        if findings.is_empty() {
            return Either::Left(live.then(|| {
                view! { <p class="lint-summary lint-clean" data-lint="0">"✓ No lint findings"</p> }
            }));
        }
        let title = format!(
            "{} lint finding{}{}",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            if live {
                ""
            } else {
                " in the Dockerfile as built"
            }
        );
        Either::Right(view! {
            <p class="lint-summary" data-lint=findings.len()>{title}</p>
            <ul class="lint-list">
                {findings
                    .into_iter()
                    .map(|f| view! {
                        <li class=f.severity.as_str() data-rule=f.rule.clone() data-line=f.line.to_string()>
                            <span class="lint-where">{format!("line {}", f.line)}</span>
                            <span class="lint-message">{with_code_spans(&capitalize(&f.message))}</span>
                            <span class="lint-rule">{f.rule.clone()}</span>
                            <a class="lint-lesson" href=f.lesson>"why?"</a>
                        </li>
                    })
                    .collect_view()}
            </ul>
        })
    }
}

fn insert_at_cursor(ev: &leptos::ev::KeyboardEvent, text: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(area) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
        {
            let _ = area.set_range_text_with_start_and_end_and_mode(
                text,
                area.selection_start().ok().flatten().unwrap_or(0),
                area.selection_end().ok().flatten().unwrap_or(0),
                "end",
            );
            if let Ok(event) = web_sys::Event::new("input") {
                let _ = area.dispatch_event(&event);
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, text);
}

#[component]
fn Progress(state: BuildState) -> impl IntoView {
    move || {
        state.status.get().map(|s| {
            let (value, max) = s
                .step
                .map(|step| (step.current, step.total))
                .unwrap_or((0, 1));
            let label = match (s.status, s.step, s.queue_position) {
                (BuildStatus::Queued, _, Some(n)) => format!("Waiting for a builder: {n} ahead"),
                (BuildStatus::Building, Some(step), _) => {
                    format!("Step {}/{}", step.current, step.total)
                }
                (other, _, _) => capitalize(other.label()),
            };
            view! {
                <span class="progress" data-status=format!("{:?}", s.status).to_lowercase()>
                    <progress max=max value=value></progress>
                    <span class="progress-label">{label}</span>
                </span>
            }
        })
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[component]
pub(crate) fn BuildLog(log: RwSignal<Vec<LogLine>>) -> impl IntoView {
    view! {
        <Show when=move || !log.with(Vec::is_empty)>
            <h2 class="section-title">"Build log"</h2>
            <pre class="build-log" aria-live="polite">
                <For
                    each=move || log.get().into_iter().enumerate()
                    key=|(i, _)| *i
                    children=|(_, line)| {
                        let phase = match line.phase {
                            LogPhase::Build => "log-build",
                            LogPhase::Run => "log-run",
                            LogPhase::Server => "log-server",
                        };
                        view! {
                            <span class=format!("log-line {phase}")>
                                {ansi::spans(&line.text)
                                    .into_iter()
                                    .map(|s| view! { <span class=s.classes>{s.text}</span> })
                                    .collect_view()}
                                "\n"
                            </span>
                        }
                    }
                />
            </pre>
        </Show>
    }
}

/// A build's result panels (server-rendered HTML) around the layer explorer.
#[component]
pub(crate) fn Results(results: ResultsHtml) -> impl IntoView {
    view! {
        <div class="results" data-build=results.build data-status=results.status.as_str()>
            <div class="html-slot" inner_html=results.head_html></div>
            {results.layers_url.map(|url| view! { <LayerExplorer url/> })}
            <div class="html-slot" inner_html=results.run_html></div>
        </div>
    }
}

#[component]
pub(crate) fn FailureBox(failure: BuildFailure) -> impl IntoView {
    view! {
        <div class="error-box build-error" role="alert" data-code=failure.code.clone()>
            <strong>
                {match failure.line {
                    Some(line) => format!("The build failed at line {line}"),
                    None => "The build failed".to_string(),
                }}
            </strong>
            <p class="error-message">{failure.message}</p>
        </div>
    }
}

#[component]
pub(crate) fn ImagePanel(image: ImageFacts) -> impl IntoView {
    let short_id = image
        .id
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect::<String>();
    let rows = image
        .history
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let instruction = h.instruction();
            let instruction = if instruction.is_empty() {
                "(base image)".to_string()
            } else {
                instruction
            };
            view! {
                <tr class:empty-layer=h.empty_layer>
                    <td class="num">{i + 1}</td>
                    <td><code>{instruction}</code></td>
                    <td class="num">{human_size(h.size_bytes)}</td>
                    <td class="layer-flag">{if h.empty_layer { "—" } else { "layer" }}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="image-facts">
            <h2 class="section-title">"The image"</h2>
            <dl class="facts">
                <dt>"Size"</dt>
                <dd class="image-size" data-bytes=image.size_bytes>
                    {human_size(image.size_bytes)}
                    <span class="muted">{format!(" ({} bytes)", image.size_bytes)}</span>
                </dd>
                <dt>"Layers"</dt>
                <dd class="layer-count">{image.layers}</dd>
                <dt>"Image id"</dt>
                <dd><code>{short_id}</code></dd>
            </dl>
            <table class="history">
                <caption>"History, oldest first: only some instructions add a filesystem layer"</caption>
                <thead>
                    <tr><th>"#"</th><th>"Instruction"</th><th>"Size"</th><th>"Layer?"</th></tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

#[component]
pub(crate) fn RunPanel(run: RunFacts) -> impl IntoView {
    let killed_on_stop = run.stop.as_ref().is_some_and(|s| s.exited_in_ms.is_none());
    let verdict = if run.oom_killed {
        "Killed: it used more memory than allowed".to_string()
    } else if run.timed_out {
        "Stopped: it ran past the time limit".to_string()
    } else {
        match (&run.stop, run.exit_code) {
            (Some(stop), _) if stop.exited_in_ms.is_none() => format!(
                "Asked to stop with {} after {}, it ignored the signal and was killed with SIGKILL {} later",
                stop.signal,
                seconds(stop.after_ms),
                seconds(stop.grace_ms)
            ),
            (Some(stop), Some(code)) => format!(
                "Asked to stop with {} after {}, it exited {} later with code {code}",
                stop.signal,
                seconds(stop.after_ms),
                seconds(stop.exited_in_ms.unwrap_or_default())
            ),
            (None, Some(code)) => format!("Exited with code {code}"),
            _ => "Stopped after the web check".to_string(),
        }
    };
    view! {
        <section class="run-facts">
            <h2 class="section-title">"The container"</h2>
            <p class="run-verdict" class:bad=run.oom_killed || run.timed_out || killed_on_stop || run.exit_code.is_some_and(|c| c != 0)>
                {verdict}
            </p>
            {run.probe.map(|p| view! {
                <div class="probe">
                    <p>
                        <code>{format!("GET {} on port {}", p.path, p.port)}</code>
                        " → "
                        <strong class="probe-status">
                            {p.status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into())}
                        </strong>
                    </p>
                    {p.error.map(|e| view! { <p class="hint">{e}</p> })}
                    {(!p.body.is_empty()).then(|| view! { <pre class="probe-body">{p.body.chars().take(2000).collect::<String>()}</pre> })}
                </div>
            })}
            <pre class="run-output">
                {if run.output.is_empty() { "(no output)".to_string() } else { run.output.clone() }}
            </pre>
            {run.output_truncated.then(|| view! { <p class="hint">"The output was longer than layerlab keeps; the end is cut."</p> })}
        </section>
    }
}

/// The exercise's checks, each with its verdict in `result` (○ before any), then the hints
/// unlocked so far.
#[component]
pub(crate) fn CheckList(
    planned: Vec<crate::dto::CheckDescription>,
    result: Option<BuildView>,
) -> impl IntoView {
    let (outcomes, hints) = result
        .map(|r| (r.checks.unwrap_or_default(), r.hints))
        .unwrap_or_default();
    let items = planned
        .into_iter()
        .map(|c| {
            let outcome: Option<CheckOutcome> = outcomes.iter().find(|o| o.id == c.id).cloned();
            let passed = outcome
                .as_ref()
                .map(|o| o.passed.to_string())
                .unwrap_or_default();
            let mark = match &outcome {
                Some(o) if o.passed => "✓",
                Some(_) => "✗",
                None => "○",
            };
            view! {
                <li
                    class="check"
                    data-check=c.id.clone()
                    data-passed=passed
                >
                    <span class="check-mark" aria-hidden="true">{mark}</span>
                    <span class="check-text">
                        {c.description}
                        {outcome.map(|o| view! {
                            <span class="check-message">
                                {o.message}
                                {o.learn_more.map(|href| view! {
                                    " " <a class="learn-more" href=href>"Why? Read the lesson"</a>
                                })}
                            </span>
                        })}
                    </span>
                </li>
            }
        })
        .collect_view();
    view! {
        <h2 class="section-title">"Checks"</h2>
        <ul class="check-list">{items}</ul>
        {(!hints.is_empty()).then(|| view! {
            <div class="hints">
                <h3>"Hints"</h3>
                <ol class="hint-list">
                    {hints.into_iter().map(|h| view! { <li class="hint-item" inner_html=h></li> }).collect_view()}
                </ol>
            </div>
        })}
    }
}

#[cfg(feature = "hydrate")]
mod client {
    //! The browser side of a build: submit, follow the events, then ask the server for the
    //! result as HTML.

    use super::BuildState;
    use crate::dto::{BuildAccepted, BuildOutcome, BuildRequest, LogLine, StatusUpdate};
    use futures::StreamExt;
    use leptos::prelude::*;

    pub async fn run_build(request: BuildRequest, state: BuildState) {
        if let Err(problem) = follow(request, state).await {
            // The step shown last is no longer true; the message says what happened.
            state.status.set(None);
            state.problem.set(Some(problem));
        }
        state.busy.set(false);
    }

    async fn follow(request: BuildRequest, state: BuildState) -> Result<(), String> {
        let response = gloo_net::http::Request::post("/api/v1/builds")
            .json(&request)
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(|e| format!("The server could not be reached: {e}"))?;
        if response.status() != 202 {
            return Err(crate::pages::refusal(response, "The build was refused.").await);
        }
        let accepted: BuildAccepted = response.json().await.map_err(|e| e.to_string())?;
        // A dropped stream (a network blip) is reopened: the server replays the whole log,
        // so the lines shown so far are cleared first.
        for _attempt in 0..3 {
            listen(&accepted.events, state).await;
            match crate::api::load_build_outcome(accepted.id.clone()).await {
                Ok(outcome) if outcome.status.is_finished() => {
                    finish(state, outcome);
                    return Ok(());
                }
                Ok(_) => state.log.set(Vec::new()),
                Err(ServerFnError::Request(_)) => {
                    return Err("Lost the connection to the server. Check that it is running, then build again.".into())
                }
                Err(e) => return Err(crate::pages::error_text(&e)),
            }
        }
        Err("The connection to the build keeps breaking. Reload the page to see whether it finished.".into())
    }

    /// Follow the build's events until `done` arrives or the stream breaks. Any `error` ends
    /// the attempt: the browser's own reconnecting would otherwise retry a vanished server
    /// forever while the page waits.
    async fn listen(url: &str, state: BuildState) {
        use wasm_bindgen::{closure::Closure, JsCast};
        let Ok(source) = web_sys::EventSource::new(url) else {
            return;
        };
        let (sender, mut events) = futures::channel::mpsc::unbounded::<(&'static str, String)>();
        let mut listeners = Vec::new();
        for name in ["status", "log", "done"] {
            let sender = sender.clone();
            let listener = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |event: web_sys::MessageEvent| {
                    let data = event.data().as_string().unwrap_or_default();
                    let _ = sender.unbounded_send((name, data));
                },
            );
            let _ =
                source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
            listeners.push(listener);
        }
        let on_error = {
            let sender = sender.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
                let _ = sender.unbounded_send(("error", String::new()));
            })
        };
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        drop(sender);
        while let Some((name, data)) = events.next().await {
            match name {
                "status" => {
                    if let Ok(update) = serde_json::from_str::<StatusUpdate>(&data) {
                        state.status.set(Some(update));
                    }
                }
                "log" => {
                    if let Ok(line) = serde_json::from_str::<LogLine>(&data) {
                        state.log.update(|l| l.push(line));
                    }
                }
                _ => break,
            }
        }
        source.close();
        // The listeners live until the source is closed.
        drop((listeners, on_error));
    }

    fn finish(state: BuildState, outcome: BuildOutcome) {
        state.status.set(Some(StatusUpdate {
            status: outcome.status,
            step: outcome.step,
            queue_position: None,
        }));
        state.error_line.set(outcome.error_line);
        state.checks.set(outcome.checks_html);
        state.chart.set(outcome.chart_html);
        state.results.set(outcome.results);
    }
}
