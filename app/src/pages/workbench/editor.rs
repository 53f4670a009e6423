//! Editing the build's files: tabs (add, rename, delete with undo), and the editor — a
//! textarea over a highlighted copy of its text, linted as the learner types. Tab indents;
//! Esc then Tab leaves the editor; Ctrl+Enter (⌘+Enter) builds (handled by the workbench).

use super::{capitalize, Undo};
use crate::dockerfile::highlight;
use crate::dto::WorkbenchFile;
use crate::pages::workbench::panels::with_code_spans;
use leptos::either::Either;
use leptos::prelude::*;

#[component]
pub(super) fn FileTabs(
    files: RwSignal<Vec<WorkbenchFile>>,
    active: RwSignal<usize>,
    undo: RwSignal<Option<Undo>>,
) -> impl IntoView {
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
        if files.with_untracked(|f| f.len() <= 1) {
            return;
        }
        let path = files.with_untracked(|f| f.get(index).map(|f| f.path.clone()));
        undo.set(Some(Undo {
            what: format!("Deleted {}.", path.unwrap_or_default()),
            files: files.get_untracked(),
            active: index,
        }));
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

/// One class string per line (a `class:` directive beside a changing `class` string is lost
/// when the line is redrawn).
fn line_class(kind: &str, lint: String, error: bool) -> String {
    let mut class = format!("{kind} {lint}");
    if error {
        class.push_str(" error-line");
    }
    class
}

/// Files the editor highlights and lints as Dockerfiles.
pub(super) fn is_dockerfile(path: &str) -> bool {
    path.rsplit('/').next().unwrap_or("").contains("Dockerfile")
}

/// A textarea over a highlighted copy of its text, with line numbers beside it.
#[component]
pub(super) fn Editor(
    files: RwSignal<Vec<WorkbenchFile>>,
    active: RwSignal<usize>,
    error_line: RwSignal<Option<u32>>,
    /// The linter's findings on the Dockerfile shown (the server's, as of the last pause).
    findings: RwSignal<Vec<crate::lint::LintFinding>>,
) -> impl IntoView {
    let current = move || files.with(|f| f.get(active.get()).cloned());
    let content = move || current().map(|f| f.content).unwrap_or_default();
    let is_dockerfile = move || current().is_some_and(|f| is_dockerfile(&f.path));
    let line_count = move || content().split('\n').count();
    let escaped = StoredValue::new(false);
    let blank = move || is_dockerfile() && content().trim().is_empty();
    // Findings as the learner types: the server lints a quarter second after the last key.
    #[cfg(feature = "hydrate")]
    {
        let generation = StoredValue::new(0u64);
        Effect::new(move |first: Option<()>| {
            let text = content();
            let dockerfile = is_dockerfile();
            if first.is_none() {
                return;
            }
            let mine = generation.get_value() + 1;
            generation.set_value(mine);
            if !dockerfile {
                findings.set(Vec::new());
                return;
            }
            set_timeout(
                move || {
                    if generation.get_value() != mine {
                        return;
                    }
                    leptos::task::spawn_local(async move {
                        if let Ok(found) = crate::api::lint_dockerfile(text).await {
                            if generation.get_value() == mine {
                                findings.set(found);
                            }
                        }
                    });
                },
                std::time::Duration::from_millis(250),
            );
        });
    }
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
                                <span class=line_class("line-number", lint_class(n as u32), mark)>{n}</span>
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
                                    <span class=line_class("code-line", lint_class(i as u32 + 1), mark)>
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
                    aria-describedby="editor-keys"
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
                        // Tab inserts two spaces, unless Esc came just before: then it leaves
                        // the editor, as Shift+Tab always does.
                        let key = ev.key();
                        if key == "Tab" && !ev.shift_key() && !escaped.get_value() {
                            ev.prevent_default();
                            insert_at_cursor(&ev, "  ");
                        }
                        escaped.set_value(key == "Escape");
                    }
                ></textarea>
            </div>
        </div>
        {move || if blank() {
            Either::Left(view! {
                <p class="lint-summary" data-lint="empty">"The Dockerfile is empty: it starts with a " <code>"FROM"</code> " line naming the base image."</p>
            })
        } else {
            Either::Right(view! { <LintList findings=Signal::derive(move || findings.get()) live=true/> })
        }}
    }
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
