//! The build log: drawn in bounded windows so that a build printing hundreds of thousands of
//! lines never freezes the page, following the newest line unless the learner scrolled up,
//! and downloadable whole. Not a live region: screen readers hear the progress and the
//! verdict instead of every line.

use crate::ansi;
use crate::dto::{LogLine, LogPhase};
use leptos::prelude::*;

/// Lines drawn at most; older ones leave the page (the download has them all).
pub const DRAWN_LINES: usize = 1_000;

/// The log as the island keeps it: the newest lines drawn, and how many came before them.
#[derive(Clone, Copy)]
pub struct LogView {
    pub lines: RwSignal<Vec<LogLine>>,
    /// Lines no longer drawn (before the first one in `lines`).
    pub skipped: RwSignal<usize>,
    /// The build the log belongs to (for the download link).
    pub build: RwSignal<Option<String>>,
    /// Follow new lines (the learner has not scrolled up).
    pub following: RwSignal<bool>,
}

impl LogView {
    /// A log of `lines` (only the newest [`DRAWN_LINES`] are kept) from `build`.
    pub fn new(mut lines: Vec<LogLine>, build: Option<String>) -> Self {
        let skipped = lines.len().saturating_sub(DRAWN_LINES);
        lines.drain(..skipped);
        LogView {
            lines: RwSignal::new(lines),
            skipped: RwSignal::new(skipped),
            build: RwSignal::new(build),
            following: RwSignal::new(true),
        }
    }

    pub fn clear(&self, build: Option<String>) {
        self.lines.set(Vec::new());
        self.skipped.set(0);
        self.build.set(build);
        self.following.set(true);
    }

    /// Add a batch of lines in one change of the page.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub fn append(&self, batch: Vec<LogLine>) {
        if batch.is_empty() {
            return;
        }
        let have = self.lines.with_untracked(Vec::len);
        let cut = (have + batch.len()).saturating_sub(DRAWN_LINES);
        self.lines.update(|lines| {
            lines.extend(batch);
            lines.drain(..cut.min(lines.len()));
        });
        if cut > 0 {
            self.skipped.update(|s| *s += cut);
        }
    }
}

/// One line with its colours as classes (never HTML).
fn line_view(line: LogLine) -> impl IntoView {
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

/// The workbench's live log.
#[component]
pub(crate) fn BuildLog(log: LogView) -> impl IntoView {
    let area = NodeRef::<leptos::html::Pre>::new();
    // After each change, keep the newest line in view unless the learner scrolled up.
    Effect::new(move |_| {
        log.lines.track();
        if log.following.get_untracked() {
            request_animation_frame(move || {
                if let Some(pre) = area.get_untracked() {
                    pre.set_scroll_top(pre.scroll_height());
                }
            });
        }
    });
    let on_scroll = move |_| {
        if let Some(pre) = area.get_untracked() {
            let bottom = pre.scroll_top() + pre.client_height() >= pre.scroll_height() - 8;
            if log.following.get_untracked() != bottom {
                log.following.set(bottom);
            }
        }
    };
    let empty = move || log.lines.with(Vec::is_empty);
    view! {
        <div class="log-wrap" hidden=empty>
            <div class="log-head">
                <h2 class="section-title">"Build log"</h2>
                {move || log.build.get().map(|id| view! {
                    <a class="log-download" href=format!("/api/v1/builds/{id}/log") download="">"Download the whole log"</a>
                })}
            </div>
            {move || {
                let skipped = log.skipped.get();
                (skipped > 0).then(|| view! {
                    <p class="log-skipped hint">{format!(
                        "{skipped} earlier line{} not shown here (the page draws the newest {DRAWN_LINES}); the download has them all.",
                        if skipped == 1 { " is" } else { "s are" }
                    )}</p>
                })
            }}
            <pre class="build-log" node_ref=area on:scroll=on_scroll tabindex="0" aria-label="Build log">
                <For
                    each=move || {
                        let skipped = log.skipped.get();
                        log.lines.get().into_iter().enumerate().map(move |(i, l)| (skipped + i, l))
                    }
                    key=|(i, _)| *i
                    children=|(_, line)| line_view(line)
                />
            </pre>
            {move || (!log.following.get()).then(|| view! {
                <button class="button small log-follow" on:click=move |_| {
                    log.following.set(true);
                    if let Some(pre) = area.get_untracked() {
                        pre.set_scroll_top(pre.scroll_height());
                    }
                }>"↓ Follow the newest lines"</button>
            })}
        </div>
    }
}

/// A log shown once, as it was (the instructor's view of an attempt).
#[component]
pub(crate) fn LogLines(lines: Vec<LogLine>) -> impl IntoView {
    (!lines.is_empty()).then(|| {
        view! {
            <h2 class="section-title">"Build log"</h2>
            <pre class="build-log">{lines.into_iter().map(line_view).collect_view()}</pre>
        }
    })
}
