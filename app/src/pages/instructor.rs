//! The instructor's side: log in, cohorts, the live progress matrix, and the drill-down into a
//! learner's attempts and quiz answers. The server refuses all of it without a login; these
//! pages only show what it sends.

use crate::api::{
    load_attempt_record, load_dashboard, load_instructor_home, load_learner_record, load_login_page,
};
use crate::dto::{
    human_size, AttemptRecord, AttemptSummary, Dashboard, InstructorHome, LearnerRecord, LoginPage,
};
use crate::pages::people::NoticeBox;
use crate::pages::workbench::{LogLines, Results};
use crate::pages::{error_text, loaded, MissingPanel};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn LoginPageView() -> impl IntoView {
    let page = Resource::new(|| (), |_| load_login_page());
    let query = use_query_map();
    let next = move || {
        query
            .read()
            .get("next")
            .unwrap_or_else(|| "/instructor".into())
    };
    loaded(
        "Instructor login",
        page,
        move |LoginPage { csrf, notice }| {
            view! {
                            <section class="panel login">
                                <h1>"Instructor login"</h1>
                                <NoticeBox notice/>
                                <form method="post" action="/instructor/login" class="stacked-form">
                                    <input type="hidden" name="csrf" value=csrf/>
                                    <input type="hidden" name="next" value=next()/>
                                    <label for="login-name">"Name"</label>
                                    <input id="login-name" name="name" required autocomplete="username"/>
                                    <label for="login-password">"Password"</label>
                                    <input id="login-password" name="password" type="password" required autocomplete="current-password"/>
                                    <button id="login" class="button primary" type="submit">"Log in"</button>
                                </form>
                                <p class="hint">"Accounts are made by the operator: " <code>"layerlab instructor add <name>"</code></p>
                            </section>
            }
        },
    )
}

#[component]
pub fn InstructorHomePage() -> impl IntoView {
    let home = Resource::new(|| (), |_| load_instructor_home());
    loaded("Your cohorts", home, |home| view! { <HomeView home/> })
}

#[component]
fn LogoutForm(csrf: String) -> impl IntoView {
    view! {
        <form method="post" action="/instructor/logout" class="logout">
            <input type="hidden" name="csrf" value=csrf/>
            <button class="button" type="submit">"Log out"</button>
        </form>
    }
}

#[component]
fn HomeView(home: InstructorHome) -> impl IntoView {
    let cohorts = home
        .cohorts
        .into_iter()
        .map(|c| {
            view! {
                <li class="cohort-card">
                    <a href=format!("/instructor/cohorts/{}", c.id) data-cohort=c.id.clone()>
                        <span class="lesson-title">{c.name}</span>
                        <span class="lesson-summary">
                            {format!("join code {} · {} learner{}", c.join_code, c.learners, if c.learners == 1 { "" } else { "s" })}
                        </span>
                    </a>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1>{format!("Cohorts of {}", home.name)}</h1>
                <LogoutForm csrf=home.csrf.clone()/>
            </div>
            <NoticeBox notice=home.notice/>
            <ul class="cohorts">{cohorts}</ul>
            <h2>"New cohort"</h2>
            <form method="post" action="/instructor/cohorts" class="inline-form">
                <input type="hidden" name="csrf" value=home.csrf/>
                <label for="cohort-name">"Name"</label>
                <input id="cohort-name" name="name" required maxlength="60" placeholder="e.g. Tuesday evening class"/>
                <button id="create-cohort" class="button primary" type="submit">"Create"</button>
            </form>
            <p class="hint">"Each cohort gets a join code. Learners enter it on their “Your progress” page."</p>
            {home.registry_login.map(|login| view! {
                <details class="registry-login">
                    <summary>"Pull your learners’ images with the docker CLI"</summary>
                    <p><code>{login}</code></p>
                    <p class="muted">
                        "The password is in " <a href="/api/v1/instructor/registry/login">"your registry login"</a>
                        ". It pulls from the namespaces of your cohorts’ learners and pushes nowhere; each learner’s page lists their tags with the command to pull each."
                    </p>
                </details>
            })}
        </section>
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let params = use_params_map();
    let dashboard = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        load_dashboard,
    );
    loaded("Cohort dashboard", dashboard, |d| {
        view! {
            <LiveDashboard
                cohort=d.cohort.id.clone()
                name=d.cohort.name.clone()
                body=crate::markup::dashboard(&d)
            />
        }
    })
}

/// The cohort's dashboard, kept live: `body` (the matrix and the rest under the heading, as
/// server-rendered HTML) is fetched again whenever the cohort's event stream says a learner
/// did something.
#[island]
fn LiveDashboard(cohort: String, name: String, body: String) -> impl IntoView {
    let body = RwSignal::new(body);
    let live = RwSignal::new(false);
    // The server refused the event stream (the browser does not retry that by itself).
    let refused = RwSignal::new(false);
    // Why the matrix below is older than the last change, when a reload failed.
    let stale = RwSignal::new(None::<String>);
    #[cfg(feature = "hydrate")]
    {
        let cohort = cohort.clone();
        let signals = live_client::Signals {
            body,
            live,
            refused,
            stale,
        };
        Effect::new(move |_| live_client::follow(cohort.clone(), signals));
    }
    view! {
        <section class="panel dashboard" data-cohort=cohort>
            <p class="breadcrumb"><a href="/instructor">"Cohorts"</a></p>
            <div class="panel-head">
                <h1>{name}</h1>
                <span class="live" data-live=move || live.get().to_string()>
                    {move || match (live.get(), refused.get()) {
                        (true, _) => "● live",
                        (false, true) => "○ offline",
                        (false, false) => "○ connecting…",
                    }}
                </span>
            </div>
            {move || stale.get().map(|problem| view! {
                <p class="error-box dashboard-stale" role="alert">{problem}</p>
            })}
            <div class="html-slot" inner_html=move || body.get()></div>
        </section>
    }
}

/// Everything on the dashboard under its heading: notice, join code, the matrix, the legend.
#[component]
pub(crate) fn DashboardBody(d: Dashboard) -> impl IntoView {
    let cohort_id = d.cohort.id.clone();
    let heads = d
        .columns
        .iter()
        .map(|c| view! { <th scope="col" title=c.title.clone()><span class="col-head">{c.short.clone()}</span></th> })
        .collect_view();
    let rows = d
        .rows
        .iter()
        .map(|row| {
            let href = format!("/instructor/cohorts/{}/learners/{}", cohort_id, row.learner_id);
            let cells = d
                .columns
                .iter()
                .zip(&row.cells)
                .map(|(column, cell)| {
                    let mark = match cell.status {
                        crate::dto::ProgressStatus::Passed => "✓",
                        crate::dto::ProgressStatus::Tried => "✗",
                        crate::dto::ProgressStatus::NotStarted => "",
                    };
                    let title = format!(
                        "{} — {}{}{}",
                        column.title,
                        cell.status.label(),
                        if cell.attempts > 0 { format!(", {}", crate::dto::plural(cell.attempts as usize, "attempt")) } else { String::new() },
                        cell.detail.as_ref().map(|d| format!(", {d}")).unwrap_or_default()
                    );
                    view! {
                        <td
                            class=format!("cell {}", cell.status.as_str())
                            data-learner=row.learner_id.clone()
                            data-item=column.key.clone()
                            data-status=cell.status.as_str()
                            title=title
                        >
                            <a href=format!("{href}#{}", column.key.replace([':', '/'], "-"))>
                                {mark}
                                {(cell.attempts > 0).then(|| view! { <small>{cell.attempts}</small> })}
                            </a>
                        </td>
                    }
                })
                .collect_view();
            view! {
                <tr data-learner=row.learner_id.clone()>
                    <th scope="row"><a href=href.clone()>{row.name.clone()}</a><small class="seen">{row.last_seen.clone()}</small></th>
                    {cells}
                </tr>
            }
        })
        .collect_view();
    let empty = d.rows.is_empty().then(|| {
        view! {
            <p class="hint">{format!(
                "No learners yet. They join on their “Your progress” page with the code {}.",
                d.cohort.join_code
            )}</p>
        }
    });
    view! {
        <NoticeBox notice=d.notice.clone()/>
        <p class="cohort-facts">
            {format!("Join code {} · {} learner{} · ", d.cohort.join_code, d.cohort.learners, if d.cohort.learners == 1 { "" } else { "s" })}
            <a href=format!("/instructor/cohorts/{}/export.csv", d.cohort.id) download="">"Export CSV"</a>
        </p>
        {empty}
        <div class="matrix-wrap">
            <table class="matrix">
                <thead><tr><th scope="col">"Learner"</th>{heads}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <p class="legend">
            <span class="cell passed">"✓"</span>" passed · "
            <span class="cell tried">"✗"</span>" tried · small number: attempts"
        </p>
    }
}

#[cfg(feature = "hydrate")]
mod live_client {
    use crate::pages::EventFeed;
    use futures::StreamExt;
    use leptos::prelude::*;
    use std::time::Duration;

    /// What the dashboard shows about its stream.
    #[derive(Clone, Copy)]
    pub struct Signals {
        pub body: RwSignal<String>,
        pub live: RwSignal<bool>,
        pub refused: RwSignal<bool>,
        pub stale: RwSignal<Option<String>>,
    }

    /// Longest wait between two tries after the server refused the stream.
    const MAX_RETRY_SECS: u64 = 60;

    /// Follow the cohort's event stream until the page goes away: `ready` marks the page
    /// live, `progress` reloads the matrix, `error` marks it offline while the browser
    /// reconnects by itself (and reloads once it is back, for what it missed). A stream the
    /// server refused (say, after a logout) the browser gives up on for good: then the page
    /// says so and tries again itself, waiting twice as long each time. A reload that fails
    /// says so in `stale` (the matrix keeps its last state) until one succeeds.
    pub fn follow(cohort: String, s: Signals) {
        let url = format!("/api/v1/instructor/cohorts/{cohort}/events");
        let (sender, mut events) = futures::channel::mpsc::unbounded::<(&'static str, String)>();
        let Some(mut stream) = open(&url, &sender) else {
            return;
        };
        let stop = sender.clone();
        on_cleanup(move || {
            let _ = stop.unbounded_send(("stop", String::new()));
        });
        leptos::task::spawn_local(async move {
            let mut was_live = false;
            let mut retry_secs = 2;
            let mut retry_pending = false;
            while let Some((name, _)) = events.next().await {
                let reload = match name {
                    "ready" => {
                        // Back after a break or a refusal: reload for what was missed (which
                        // also clears the alert a refusal left).
                        let missed =
                            std::mem::replace(&mut was_live, true) || s.refused.get_untracked();
                        s.live.set(true);
                        s.refused.set(false);
                        retry_secs = 2;
                        missed
                    }
                    "progress" => true,
                    "error" => {
                        s.live.set(false);
                        if stream.refused() && !retry_pending {
                            retry_pending = true;
                            s.refused.set(true);
                            s.stale.set(Some(format!(
                                "Live updates stopped: the server refused this cohort's event \
                                 stream (are you still logged in as its instructor?). Trying \
                                 again in {retry_secs} s; reloading the page also reconnects."
                            )));
                            let retry = sender.clone();
                            set_timeout(
                                move || {
                                    let _ = retry.unbounded_send(("retry", String::new()));
                                },
                                Duration::from_secs(retry_secs),
                            );
                            retry_secs = (retry_secs * 2).min(MAX_RETRY_SECS);
                        }
                        false
                    }
                    "retry" => {
                        retry_pending = false;
                        stream.close();
                        match open(&url, &sender) {
                            Some(next) => stream = next,
                            None => break,
                        }
                        false
                    }
                    _ => break,
                };
                // One reload at a time; events arriving meanwhile wait in the channel.
                if reload {
                    match crate::api::dashboard_html(cohort.clone()).await {
                        Ok(html) => {
                            s.body.set(html);
                            s.stale.set(None);
                        }
                        Err(e) => s.stale.set(Some(format!(
                            "The matrix could not be brought up to date: {} It shows the cohort \
                             as it was before; reload the page to try again.",
                            crate::pages::error_text(&e)
                        ))),
                    }
                }
            }
            stream.close();
        });
    }

    /// The cohort's events: `ready` and `progress` (their data is not needed).
    fn open(url: &str, sender: &crate::pages::events::Sender) -> Option<EventFeed> {
        EventFeed::open(url, &["ready", "progress"], sender)
    }
}

#[component]
pub fn LearnerPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        let p = params.read();
        (
            p.get("id").unwrap_or_default(),
            p.get("learner").unwrap_or_default(),
        )
    };
    let record = Resource::new(key, |(cohort, learner)| {
        load_learner_record(cohort, learner)
    });
    view! {
        <Title text="Learner"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match record.await {
                    Ok(r) => view! { <LearnerView r/> }.into_any(),
                    Err(e) => view! { <MissingPanel title="Learner" message=error_text(&e)/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Attempt `number` (oldest is 1, as on the chart).
fn attempt_row(number: usize, a: AttemptSummary) -> impl IntoView {
    view! {
        <tr class=if a.passed { "passed" } else { "tried" } data-attempt=a.id.clone() data-number=number>
            <td class="num">{format!("#{number}")}</td>
            <td><a href=format!("/instructor/attempts/{}", a.id)>{a.at.clone()}</a></td>
            <td>{a.outcome()}</td>
            <td>{a.size_bytes.map(human_size).unwrap_or_else(|| "—".into())}</td>
            <td>{a.layers.map(|l| l.to_string()).unwrap_or_else(|| "—".into())}</td>
        </tr>
    }
}

#[component]
fn LearnerView(r: LearnerRecord) -> impl IntoView {
    let exercises = r
        .exercises
        .into_iter()
        .map(|e| {
            let anchor = format!("exercise-{}", e.id);
            let body = if e.attempts.is_empty() {
                view! { <p class="hint">"Not started."</p> }.into_any()
            } else {
                let chart = e.attempts.clone();
                let link: fn(&str) -> String = |id| format!("/instructor/attempts/{id}");
                // Oldest first on the chart; the table puts the newest on top.
                let rows = e
                    .attempts
                    .into_iter()
                    .enumerate()
                    .rev()
                    .map(|(i, a)| attempt_row(i + 1, a))
                    .collect_view();
                view! {
                    <super::history::AttemptChartView
                        attempts=chart
                        link
                    />
                    <div class="table-scroll">
                        <table class="attempts">
                            <thead><tr><th>"#"</th><th>"When"</th><th>"Result"</th><th>"Image"</th><th>"Layers"</th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                }
                .into_any()
            };
            view! { <section id=anchor class="learner-exercise"><h3>{e.title}</h3>{body}</section> }
        })
        .collect_view();
    let quizzes = if r.quizzes.is_empty() {
        view! { <p class="hint">"No quiz answered yet."</p> }.into_any()
    } else {
        r.quizzes
            .into_iter()
            .map(|q| {
                let answers = q
                    .answers
                    .into_iter()
                    .map(|a| {
                        let given = if a.given_html.is_empty() {
                            "(no answer)".to_string()
                        } else {
                            a.given_html.join(", ")
                        };
                        view! {
                            <li class=if a.correct { "right" } else { "wrong" } data-question=a.id>
                                <span class="answer-prompt" inner_html=a.prompt_html></span>
                                <span class="answer-given">
                                    {if a.correct { "✓ " } else { "✗ " }}
                                    <span inner_html=given></span>
                                </span>
                                {a.right_html.map(|r| view! {
                                    <span class="answer-right">"Right answer: "<span inner_html=r></span></span>
                                })}
                            </li>
                        }
                    })
                    .collect_view();
                view! {
                    <section id=format!("quiz-{}-{}", q.lesson, q.quiz) class="learner-quiz">
                        <h3>{format!("{} — {}/{} · {}", q.title, q.correct, q.total, q.at)}</h3>
                        <ul class="quiz-answers">{answers}</ul>
                    </section>
                }
            })
            .collect_view()
            .into_any()
    };
    let registry = (r.registry.is_some() || r.registry_problem.is_some()).then(|| {
        let body = match (r.registry, r.registry_problem) {
            (Some(view), _) if view.repositories.iter().any(|r| !r.tags.is_empty()) => view
                .repositories
                .into_iter()
                .filter(|repo| !repo.tags.is_empty())
                .map(|repository| {
                    view! {
                        <crate::pages::Repository
                            repository
                            registry=view.registry.clone()
                            namespace=view.namespace.clone()
                            csrf=None
                        />
                    }
                })
                .collect_view()
                .into_any(),
            (Some(view), _) => view! {
                <p class="hint">{format!("Nothing pushed to {}/{}/ yet.", view.registry, view.namespace)}</p>
            }
            .into_any(),
            (None, problem) => view! { <p class="hint">{problem.unwrap_or_default()}</p> }.into_any(),
        };
        view! { <section class="learner-registry"><h2>"Registry"</h2>{body}</section> }
    });
    view! {
        <section class="panel learner">
            <p class="breadcrumb">
                <a href="/instructor">"Cohorts"</a>" / "
                <a href=format!("/instructor/cohorts/{}", r.cohort.id)>{r.cohort.name.clone()}</a>
            </p>
            <h1>{r.name}</h1>
            <h2>"Exercises"</h2>
            {exercises}
            <h2>"Quiz answers (newest first)"</h2>
            {quizzes}
            {registry}
        </section>
    }
}

#[component]
pub fn AttemptPage() -> impl IntoView {
    let params = use_params_map();
    let record = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        load_attempt_record,
    );
    loaded("Attempt", record, |r| view! { <AttemptView r/> })
}

#[component]
fn AttemptView(r: AttemptRecord) -> impl IntoView {
    // A console exercise's attempt has no files: its log says what the check read.
    let console = r.files.is_empty() && r.summary.size_bytes.is_none();
    let files = r
        .files
        .into_iter()
        .map(|(path, text)| {
            view! {
                <figure class="attempt-file">
                    <figcaption><code>{path}</code></figcaption>
                    <pre class="code">{text}</pre>
                </figure>
            }
        })
        .collect_view();
    let checks = r.view.checks.clone().unwrap_or_default();
    let checks = (!checks.is_empty()).then(|| {
        let items = checks
            .into_iter()
            .map(|c| {
                let id = c.id.clone();
                view! {
                    <li class=if c.passed { "check passed" } else { "check failed" } data-check=id>
                        {if c.passed { "✓ " } else { "✗ " }}<code>{c.id}</code>": " {c.message}
                    </li>
                }
            })
            .collect_view();
        view! { <h2>"Checks"</h2><ul class="check-list">{items}</ul> }
    });
    let log = crate::dto::without_repeated_failure(
        r.log,
        r.view.error.as_ref().map(|e| e.message.as_str()),
    );
    let results = crate::markup::results(&r.view, "/api/v1/instructor/attempts");
    view! {
        <section class="panel attempt" data-attempt=r.summary.id.clone()>
            <p class="breadcrumb">
                <a href="/instructor">"Cohorts"</a>" / "
                <a href=format!("/instructor/cohorts/{}/learners/{}", r.cohort_id, r.learner_id)>{r.learner_name.clone()}</a>
            </p>
            <h1>{format!("{} — {}", r.exercise_title, r.summary.at)}</h1>
            <p class="attempt-outcome">{r.summary.outcome()}</p>
            {checks}
            {(!console).then(|| view! { <h2>"Files"</h2> })}
            {files}
            <h2>{if console { "What the check read in the learner's console" } else { "What the learner saw" }}</h2>
            <LogLines lines=log/>
            <Results results/>
        </section>
    }
}
