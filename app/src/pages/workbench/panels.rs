//! The read-only parts of the workbench, rendered on the server (`crate::markup`) and swapped
//! in by the island as HTML: the verdict, the learner's record, result panels, checks and
//! hints. The browser bundle carries no code for them.

use crate::dto::{
    human_size, seconds, BuildFailure, BuildStatus, BuildView, CheckOutcome, ExerciseView,
    ImageFacts, ResultsHtml, RunFacts,
};
use crate::pages::layers::LayerExplorer;
use leptos::either::Either;
use leptos::prelude::*;

/// A build's result panels (server-rendered HTML) around the layer explorer.
#[component]
pub(crate) fn Results(results: ResultsHtml) -> impl IntoView {
    view! {
        <div class="results" data-build=results.build data-status=results.status.as_str()>
            <div class="html-slot" inner_html=results.head_html></div>
            {results.layers_url.map(|url| view! { <LayerExplorer url/> })}
            <div class="html-slot" inner_html=results.run_html></div>
            <div class="html-slot push-slot" inner_html=results.push_html on:submit=crate::pages::push_submitted></div>
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
            {(!run.processes.is_empty()).then(|| view! {
                <table class="history processes">
                    <caption>"Its processes while it ran, as " <code>"docker top"</code> " shows them from the host (PIDs as the host numbers them; the main process is its PID 1 inside)"</caption>
                    <thead><tr><th scope="col">"User"</th><th scope="col" class="num">"PID"</th><th scope="col">"Command"</th></tr></thead>
                    <tbody>
                        {run.processes.iter().map(|p| view! {
                            <tr>
                                <td class:bad=p.user == "root" || p.user == "0">{p.user.clone()}</td>
                                <td class="num">{p.pid.clone()}{p.main.then(|| view! { <span class="main-pid">" (PID 1)"</span> })}</td>
                                <td><code>{p.command.clone()}</code></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            <pre class="run-output">
                {if run.output.is_empty() { "(no output)".to_string() } else { run.output.clone() }}
            </pre>
            {run.output_truncated.then(|| view! { <p class="hint">"The output was longer than layerlab keeps; the end is cut."</p> })}
        </section>
    }
}

/// The exercise's checks, each with its verdict in `result` (○ before any).
#[component]
pub(crate) fn CheckList(
    planned: Vec<crate::dto::CheckDescription>,
    result: Option<BuildView>,
) -> impl IntoView {
    let outcomes = result.and_then(|r| r.checks).unwrap_or_default();
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
                        {with_code_spans(&c.description)}
                        {outcome.map(|o| view! {
                            <span class="check-message">
                                {with_code_spans(&o.message)}
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
    }
}

/// Text with `backticked` parts shown as code.
pub(crate) fn with_code_spans(text: &str) -> impl IntoView {
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

/// What a finished build came to, in one line where the learner looks (under Build): built
/// or not, how many checks pass, and what next. One vocabulary: a build is *built* (the
/// engine made an image) or *failed*; an exercise is *passed* when every check passes.
#[component]
pub(crate) fn Verdict(view: BuildView, exercise: Option<ExerciseView>) -> impl IntoView {
    let checks = view.checks.clone().unwrap_or_default();
    let passing = checks.iter().filter(|c| c.passed).count();
    let total = checks.len();
    let (kind, text): (&str, String) = match view.status {
        BuildStatus::Failed => (
            "failed",
            match view.error.as_ref().and_then(|e| e.line) {
                Some(line) => {
                    format!("✗ Not built: the build failed at line {line} (the error is below).")
                }
                None => "✗ Not built: the build failed (the error is below).".to_string(),
            },
        ),
        BuildStatus::Interrupted => (
            "failed",
            "The server restarted during this build, so it did not finish. Build again.".into(),
        ),
        BuildStatus::Cancelled => ("failed", "Stopped: you started a newer build.".into()),
        BuildStatus::Succeeded if total == 0 => ("built", "✓ Built and ran.".into()),
        BuildStatus::Succeeded if passing == total && total == 1 => {
            ("passed", "✓ Passed: the check passes.".to_string())
        }
        BuildStatus::Succeeded if passing == total => {
            ("passed", format!("✓ Passed: all {total} checks pass."))
        }
        BuildStatus::Succeeded if exercise.as_ref().is_some_and(|e| e.console) => (
            "missed",
            format!("Not passed yet: {passing} of {total} checks pass."),
        ),
        BuildStatus::Succeeded => (
            "missed",
            format!("Built, but not passed yet: {passing} of {total} checks pass."),
        ),
        _ => ("running", String::new()),
    };
    let first_miss = checks
        .iter()
        .find(|c| !c.passed)
        .filter(|_| view.status == BuildStatus::Succeeded)
        .and_then(|miss| {
            exercise
                .as_ref()
                .and_then(|e| e.checks.iter().find(|c| c.id == miss.id))
                .map(|c| c.description.clone())
        });
    let next = (kind == "passed")
        .then(|| exercise.as_ref().map(|e| e.next.clone()))
        .flatten();
    view! {
        <p class="verdict-line" data-verdict=kind data-passing=passing data-total=total>
            <strong>{text}</strong>
            {first_miss.map(|d| view! {
                " " <span class="verdict-miss">"Next to fix: " {with_code_spans(&d)} " — " <a href="#checks">"see the checks"</a></span>
            })}
            {next.map(|next| match next {
                Some(link) => Either::Left(view! {
                    " " <a class="next-exercise" href=format!("/exercises/{}", link.id)>{format!("Next exercise: {} →", link.title)}</a>
                }),
                None => Either::Right(view! {
                    " " <a class="next-exercise" href="/me">"That was the last exercise: see your progress →"</a>
                }),
            })}
        </p>
    }
}

/// The learner's record on an exercise: status pill, attempts, best image.
#[component]
pub(crate) fn ExerciseRecord(exercise: ExerciseView) -> impl IntoView {
    let p = exercise.progress.clone();
    view! {
        <p class="record" data-status=p.status.as_str() data-attempts=p.attempts.to_string()>
            <span class=format!("status-pill {}", p.status.as_str())>{p.status.label()}</span>
            {(p.attempts > 0).then(|| format!(
                " · {} attempt{}", p.attempts, if p.attempts == 1 { "" } else { "s" }
            ))}
            {p.best_size_bytes.map(|b| format!(" · smallest image {}", human_size(b)))}
        </p>
    }
}

/// The hints unlocked so far, of `total`.
#[component]
pub(crate) fn HintList(hints: Vec<String>, total: usize) -> impl IntoView {
    (!hints.is_empty()).then(|| {
        let shown = hints.len();
        view! {
            <div class="hints" data-hints=shown>
                <h3>{format!("Hints ({shown} of {total})")}</h3>
                <ol class="hint-list">
                    {hints.into_iter().map(|h| view! { <li class="hint-item" inner_html=h></li> }).collect_view()}
                </ol>
            </div>
        }
    })
}
