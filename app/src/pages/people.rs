//! The learner's own page (`/me`): name, cohort, how to continue on another device; and the
//! page a resume link opens (`/resume/<code>`). Forms post to the server and come back here,
//! so they work without JavaScript.

use crate::api::{load_profile, load_resume_offer};
use crate::dto::{plural, Notice, Profile, ResumeOffer};
use crate::pages::loaded;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// A form's outcome, shown once at the top of the page.
#[component]
pub(crate) fn NoticeBox(notice: Option<Notice>) -> impl IntoView {
    notice.map(|n| {
        let class = if n.ok {
            "notice ok"
        } else {
            "notice error-box"
        };
        view! { <p class=class role="status">{n.text}</p> }
    })
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    let profile = Resource::new(|| (), |_| load_profile());
    loaded("Your progress", profile, |p| view! { <ProfileView p/> })
}

#[component]
fn ProfileView(p: Profile) -> impl IntoView {
    let exercises = p
        .exercises
        .iter()
        .map(|e| {
            let status = e.progress.status;
            let best = e
                .progress
                .best_size_bytes
                .map(|b| format!(" · best image {}", crate::dto::human_size(b)));
            view! {
                <li data-exercise=e.id.clone()>
                    <a href=format!("/exercises/{}", e.id)>
                        <span class="lesson-title">{e.title.clone()}</span>
                        <span class=format!("status-pill {}", status.as_str())>{status.label()}</span>
                        <span class="exercise-facts">{plural(e.progress.attempts as usize, "attempt")}{best}</span>
                    </a>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="panel profile">
            <h1>"Your progress"</h1>
            <NoticeBox notice=p.notice.clone()/>
            <p class="totals">
                <span data-total="exercises">{format!("{} of {} passed", p.exercises_passed, plural(p.exercises_total as usize, "exercise"))}</span>
                " · "
                <span data-total="quizzes">{format!("{} of {} fully right", p.quizzes_done, plural(p.quizzes_total as usize, "quiz"))}</span>
            </p>
            <h2>"Your exercises"</h2>
            <ul class="my-exercises">{exercises}</ul>
            <p class="registry-link">"The images you pushed are in " <a href="/registry">"your registry"</a> "."</p>
            <p>"layerlab keeps your answers and every build you make. Nothing to sign up for: this browser remembers you."</p>

            <h2>"Your name"</h2>
            <form method="post" action="/me/name" class="inline-form">
                <input type="hidden" name="csrf" value=p.csrf.clone()/>
                <label for="display-name">"Shown to your instructor"</label>
                <input id="display-name" name="name" maxlength="60" autocomplete="name"
                    value=p.display_name.clone().unwrap_or_default() placeholder="e.g. Ada"/>
                <button class="button" type="submit">"Save"</button>
            </form>

            <h2>"Your class"</h2>
            {match p.cohort.clone() {
                Some(name) => view! { <p class="cohort-name">"You are in " <strong>{name}</strong> "."</p> }.into_any(),
                None => view! { <p>"Studying alone. If your instructor gave you a join code, enter it here."</p> }.into_any(),
            }}
            <form method="post" action="/me/join" class="inline-form">
                <input type="hidden" name="csrf" value=p.csrf.clone()/>
                <label for="join-code">"Join code"</label>
                <input id="join-code" name="code" required autocomplete="off" placeholder="ABCD-EFGH"/>
                <button class="button" type="submit">"Join"</button>
            </form>

            <h2>"Continue on another device"</h2>
            {match p.resume_code.clone() {
                Some(code) => {
                    let link = format!("/resume/{code}");
                    view! {
                        <p>"Open this link on the other browser, or type the code there. Keep it to yourself: whoever has it can continue your work."</p>
                        <p class="resume">
                            "Your code: "<code id="resume-code">{code}</code>
                            " · "
                            <a id="resume-link" href=link.clone()>"open the link"</a>
                        </p>
                        <CopyField id="resume-url".to_string() label="Your resume link".to_string() path=link/>
                    }
                    .into_any()
                }
                None => view! {
                    <p id="no-resume-code">"You get a code to continue elsewhere as soon as you start: answer a quiz, build an exercise, or save your name or class above."</p>
                }
                .into_any(),
            }}
            <form method="post" action="/resume" class="inline-form">
                <input type="hidden" name="csrf" value=p.csrf.clone()/>
                <label for="resume-input">"Have a code from another browser?"</label>
                <input id="resume-input" name="code" required autocomplete="off" placeholder="XXXX-XXXX-XXXX"/>
                <button class="button" type="submit">"Continue that work here"</button>
            </form>
        </section>
    }
}

#[component]
pub fn ResumePage() -> impl IntoView {
    let params = use_params_map();
    let offer = Resource::new(
        move || params.read().get("code").unwrap_or_default(),
        load_resume_offer,
    );
    loaded("Continue your work", offer, |o| view! { <ResumeView o/> })
}

#[component]
fn ResumeView(o: ResumeOffer) -> impl IntoView {
    match o.learner_name {
        None => view! {
            <section class="panel">
                <h1>"Unknown code"</h1>
                <p class="error-box">{format!("No learner has the resume code “{}”. Check it on the browser you came from, under “Your progress”.", o.code)}</p>
                <p><a href="/me">"Your progress"</a></p>
            </section>
        }
        .into_any(),
        Some(name) => view! {
            <section class="panel">
                <h1>"Continue your work"</h1>
                <p>{format!("This code belongs to {name} ({} passed). Continue as them in this browser? Whatever this browser did before stays with its own code.", plural(o.exercises_passed as usize, "exercise"))}</p>
                <form method="post" action="/resume">
                    <input type="hidden" name="csrf" value=o.csrf/>
                    <input type="hidden" name="code" value=o.code/>
                    <button id="confirm-resume" class="button primary" type="submit">"Continue here"</button>
                </form>
            </section>
        }
        .into_any(),
    }
}

/// A link to copy: a read-only field holding it (select it and copy by hand, with or without
/// JavaScript) and, once the page runs, a button that copies it. `path` is on this site; the
/// browser fills in the address it is reached at.
#[island]
fn CopyField(id: String, label: String, path: String) -> impl IntoView {
    let value = RwSignal::new(path.clone());
    let ready = RwSignal::new(false);
    let said = RwSignal::new("");
    let field = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Ok(origin) = window().location().origin() {
            value.set(format!("{origin}{path}"));
        }
        ready.set(true);
    });
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            use leptos::wasm_bindgen::JsCast;
            let Some(input) = field.get_untracked() else {
                return;
            };
            input.select();
            let copied = document()
                .dyn_into::<web_sys::HtmlDocument>()
                .ok()
                .and_then(|d| d.exec_command("copy").ok())
                .unwrap_or(false);
            said.set(if copied {
                "Copied."
            } else {
                "Selected: press Ctrl+C (⌘C) to copy."
            });
        }
    };
    view! {
        <div class="resume-share">
            <label class="visually-hidden" for=id.clone()>{label}</label>
            <input id=id node_ref=field readonly prop:value=move || value.get() value=value.get_untracked()
                on:focus=move |_| { if let Some(f) = field.get_untracked() { f.select(); } }/>
            <button type="button" class="button copy-button" hidden=move || !ready.get() on:click=copy>"Copy link"</button>
            <span class="copy-state" role="status">{move || said.get()}</span>
        </div>
    }
}
