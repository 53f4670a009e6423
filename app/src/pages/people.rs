//! The learner's own page (`/me`): name, cohort, how to continue on another device; and the
//! page a resume link opens (`/resume/<code>`). Forms post to the server and come back here,
//! so they work without JavaScript.

use crate::api::{load_profile, load_resume_offer};
use crate::dto::{Notice, Profile, ResumeOffer};
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
    view! {
        <section class="panel profile">
            <h1>"Your progress"</h1>
            <NoticeBox notice=p.notice.clone()/>
            <p class="totals">
                <span data-total="exercises">{format!("{} of {} exercises passed", p.exercises_passed, p.exercises_total)}</span>
                " · "
                <span data-total="quizzes">{format!("{} of {} quizzes fully right", p.quizzes_done, p.quizzes_total)}</span>
            </p>
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
                            <code id="resume-code">{code}</code>
                            " · "
                            <a id="resume-link" href=link.clone()>{link.clone()}</a>
                        </p>
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
                <p>{format!("This code belongs to {name} ({} exercises passed). Continue as them in this browser? Whatever this browser did before stays with its own code.", o.exercises_passed)}</p>
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
