//! The browser side of the workbench: submit a build (or follow one again after a reload),
//! take its events in batches so a huge log never blocks the page, then ask the server for
//! the result as HTML; keep the learner's draft on the server as they type; unlock a hint.

use super::BuildState;
use crate::dto::{BuildAccepted, BuildOutcome, BuildRequest, LogLine, StatusUpdate, WorkbenchFile};
use futures::StreamExt;
use leptos::prelude::*;
use std::time::Duration;

/// How long lines gather before they are drawn together.
const BATCH: Duration = Duration::from_millis(50);

pub async fn run_build(request: BuildRequest, state: BuildState) {
    if let Err(problem) = submit(request, state).await {
        failed(state, problem);
    }
    state.busy.set(false);
}

/// Follow a build that was already running when the page loaded.
pub async fn rejoin(id: String, state: BuildState) {
    if let Err(problem) = follow(&id, &crate::dto::build_events_url(&id), state).await {
        failed(state, problem);
    }
    state.busy.set(false);
}

fn failed(state: BuildState, problem: String) {
    // The step shown last is no longer true; the message says what happened.
    state.status.set(None);
    state.problem.set(Some(problem));
}

async fn submit(request: BuildRequest, state: BuildState) -> Result<(), String> {
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
    state.log.build.set(Some(accepted.id.clone()));
    follow(&accepted.id, &accepted.events, state).await
}

async fn follow(id: &str, events: &str, state: BuildState) -> Result<(), String> {
    // A dropped stream (a network blip) is reopened: the server replays the whole log, so the
    // lines shown so far are cleared first.
    for _attempt in 0..3 {
        listen(events, state).await;
        match crate::api::load_build_outcome(id.to_string()).await {
            Ok(outcome) if outcome.status.is_finished() => {
                finish(state, outcome);
                return Ok(());
            }
            Ok(_) => state.log.clear(Some(id.to_string())),
            Err(crate::error::BackendError::Unreachable(_)) => return Err(
                "Lost the connection to the server. Check that it is running, then build again."
                    .into(),
            ),
            Err(e) => return Err(crate::pages::error_text(&e)),
        }
    }
    Err(
        "The connection to the build keeps breaking. Reload the page to see whether it finished."
            .into(),
    )
}

/// Wait `time` without blocking the page.
async fn pause(time: Duration) {
    let (done, wait) = futures::channel::oneshot::channel::<()>();
    set_timeout(
        move || {
            let _ = done.send(());
        },
        time,
    );
    let _ = wait.await;
}

/// Follow the build's events until `done` arrives or the stream breaks. Lines are drawn in
/// batches (one change of the page per [`BATCH`]), however fast they come. Any `error` ends
/// the attempt: the browser's own reconnecting would otherwise retry a vanished server
/// forever while the page waits.
async fn listen(url: &str, state: BuildState) {
    let (sender, mut events) = futures::channel::mpsc::unbounded::<(&'static str, String)>();
    let Some(source) = crate::pages::EventFeed::open(url, &["status", "log", "done"], &sender)
    else {
        return;
    };
    drop(sender);
    'stream: while let Some(first) = events.next().await {
        // Let more arrive, then take everything that did in one go.
        pause(BATCH).await;
        let mut batch = vec![first];
        while let Ok(more) = events.try_recv() {
            batch.push(more);
        }
        let mut lines: Vec<LogLine> = Vec::new();
        let mut status: Option<StatusUpdate> = None;
        let mut end = false;
        for (name, data) in batch {
            match name {
                "status" => {
                    if let Ok(update) = serde_json::from_str::<StatusUpdate>(&data) {
                        status = Some(update);
                    }
                }
                "log" => {
                    if let Ok(line) = serde_json::from_str::<LogLine>(&data) {
                        lines.push(line);
                    }
                }
                _ => {
                    end = true;
                    break;
                }
            }
        }
        state.log.append(lines);
        if let Some(update) = status {
            state.status.set(Some(update));
        }
        if end {
            break 'stream;
        }
    }
    source.close();
}

fn finish(state: BuildState, outcome: BuildOutcome) {
    // The buttons work again as soon as the verdict shows.
    state.busy.set(false);
    state.status.set(Some(StatusUpdate {
        status: outcome.status,
        step: outcome.step,
        queue_position: None,
    }));
    state.error_line.set(outcome.error_line);
    if let Some(failure) = outcome.failure.as_deref() {
        // The result shows the failure; the log need not end with it again.
        let ends_with_it = state.log.lines.with_untracked(|l| {
            l.last()
                .is_some_and(|x| x.phase == crate::dto::LogPhase::Server && x.text == failure)
        });
        if ends_with_it {
            state.log.lines.update(|l| {
                l.pop();
            });
        }
    }
    state.checks.set(outcome.checks_html);
    state.chart.set(outcome.chart_html);
    state.verdict.set(outcome.verdict_html);
    if !outcome.record_html.is_empty() {
        state.record.set(outcome.record_html);
    }
    if !outcome.hints_html.is_empty() {
        state.hints.set(outcome.hints_html);
    }
    state.results.set(outcome.results);
}

/// A second after the learner stops typing (and when they leave the page), their files go to
/// the server as the exercise's draft. Returns a short status to show ("Draft saved").
pub fn keep_drafts(
    exercise: String,
    files: RwSignal<Vec<WorkbenchFile>>,
) -> RwSignal<Option<String>> {
    let status = RwSignal::new(None::<String>);
    let saved = StoredValue::new(files.get_untracked());
    let generation = StoredValue::new(0u64);
    let url = StoredValue::new(format!("/api/v1/drafts/{}", exercise));
    let body = move || {
        let draft = Draft {
            files: files
                .get_untracked()
                .into_iter()
                .map(|f| (f.path, f.content))
                .collect(),
        };
        serde_json::to_string(&draft).unwrap_or_default()
    };
    let save = move || {
        let current = files.get_untracked();
        if saved.with_value(|s| *s == current) {
            return;
        }
        let text = body();
        status.set(Some("Saving your draft…".into()));
        leptos::task::spawn_local(async move {
            let sent = gloo_net::http::Request::put(&url.get_value())
                .header("Content-Type", "application/json")
                .body(text);
            let answer = match sent {
                Ok(request) => request.send().await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match answer {
                Ok(response) if response.ok() => {
                    saved.set_value(current);
                    status.set(Some("Draft saved".into()));
                }
                Ok(response) => {
                    let why = crate::pages::refusal(response, "The draft was refused.").await;
                    status.set(Some(format!("Draft not saved: {why}")));
                }
                Err(e) => status.set(Some(format!(
                    "Draft not saved (the server could not be reached: {e})"
                ))),
            }
        });
    };
    Effect::new(move |first: Option<()>| {
        files.track();
        if first.is_none() {
            return;
        }
        let mine = generation.get_value() + 1;
        generation.set_value(mine);
        set_timeout(
            move || {
                if generation.get_value() == mine {
                    save();
                }
            },
            Duration::from_millis(800),
        );
    });
    // Leaving by a link, closing the tab or switching away: send what is not saved yet with
    // a beacon, which the browser delivers even as the page goes.
    let leave = move || {
        let current = files.get_untracked();
        if saved.with_value(|s| *s == current) {
            return;
        }
        if let Some(window) = web_sys::window() {
            if window
                .navigator()
                .send_beacon_with_opt_str(&url.get_value(), Some(&body()))
                .unwrap_or(false)
            {
                saved.set_value(current);
            }
        }
    };
    let on_hide = window_event_listener(leptos::ev::pagehide, move |_| leave());
    let on_hidden = window_event_listener(leptos::ev::visibilitychange, move |_| {
        if document().visibility_state() == web_sys::VisibilityState::Hidden {
            leave();
        }
    });
    on_cleanup(move || {
        on_hide.remove();
        on_hidden.remove();
    });
    status
}

/// `PUT /api/v1/drafts/<exercise>`.
#[derive(serde::Serialize)]
struct Draft {
    files: std::collections::BTreeMap<String, String>,
}

/// The answer to `POST /api/v1/exercises/<id>/hints` (the part the page uses).
#[derive(serde::Deserialize)]
struct Hints {
    hints_html: String,
}

/// Ask for one more hint and show every hint now unlocked.
pub async fn reveal_hint(exercise: String, state: BuildState) {
    let url = format!("/api/v1/exercises/{exercise}/hints");
    let answer = match gloo_net::http::Request::post(&url).send().await {
        Ok(response) if response.ok() => response.json::<Hints>().await.map_err(|e| e.to_string()),
        Ok(response) => Err(crate::pages::refusal(response, "No hint could be shown.").await),
        Err(e) => Err(format!("The server could not be reached: {e}")),
    };
    match answer {
        Ok(answer) => state.hints.set(answer.hints_html),
        Err(problem) => state.problem.set(Some(problem)),
    }
}
