//! `/exercises/<id>` of an exercise done in the docker console: the statement, the checks
//! with the last verdict, and the console itself. "Check my work" is a plain form (it works
//! without JavaScript and costs the bundle nothing): the server reads the learner's
//! containers and images, keeps the attempt, and sends the page back with the verdict.

use super::console::Console;
use crate::dto::ExerciseView;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub(crate) fn ConsoleExercisePage(exercise: ExerciseView) -> impl IntoView {
    let record = crate::markup::record(&exercise);
    let last = exercise.last.as_ref();
    let checks = crate::markup::checks(&exercise.checks, last.map(|l| &l.view));
    let verdict = last
        .map(|l| crate::markup::verdict(&l.view, Some(&exercise)))
        .unwrap_or_default();
    let checked_at = last.map(|l| format!("Last checked {}.", l.at));
    let hints = crate::markup::hints(&exercise.hints, exercise.hint_count);
    let action = format!("/exercises/{}/check", exercise.id);
    let setup_action = format!("/exercises/{}/setup", exercise.id);
    let csrf = exercise.csrf.clone().unwrap_or_default();
    // What the learner answered last time, from the attempt's log ("answered <id>: …").
    let answered = |id: &str| {
        let said = format!("answered {id}: ");
        last.and_then(|l| {
            l.log
                .iter()
                .find_map(|line| line.text.strip_prefix(&said).map(str::to_string))
        })
        .unwrap_or_default()
    };
    let questions: Vec<(String, String, String)> = exercise
        .questions
        .iter()
        .map(|q| (q.id.clone(), q.description.clone(), answered(&q.id)))
        .collect();
    let set_up_done = leptos_router::hooks::use_query_map()
        .read_untracked()
        .get("set-up")
        .is_some();
    // `?try=…`: a "Try it" link of the statement, typed into this page's console.
    let line = leptos_router::hooks::use_query_map()
        .read_untracked()
        .get("try")
        .filter(|l| !l.is_empty() && l.len() <= 4096);
    let set_up = exercise.set_up.then(|| {
        view! {
            <form class="setup-form" method="post" action=setup_action>
                <input type="hidden" name="csrf" value=csrf.clone()/>
                <button id="set-up" class="button" type="submit">"Set up the exercise"</button>
                <span class="muted">
                    {if set_up_done {
                        "Done: what the exercise starts from is in your console now."
                    } else {
                        "Makes the containers this exercise starts from (again from the start if you did before)."
                    }}
                </span>
            </form>
        }
    });
    view! {
        <Title text=exercise.title.clone()/>
        <div class="console-exercise">
            <section class="statement panel">
                <p class="breadcrumb">
                    <a href="/">"Course"</a>
                    {exercise.lesson.clone().map(|l| view! {
                        " / " <a href=format!("/learn/{}", l.slug)>{l.title}</a>
                    })}
                </p>
                <h1>{exercise.title.clone()}</h1>
                <div class="html-slot" inner_html=record></div>
                <div class="prose" inner_html=exercise.statement_html.clone()></div>
                {set_up}
                <section id="checks" class="checks" inner_html=checks></section>
                <p class="muted">"Judged on what your containers and images are when you press Check, never on the commands you typed."</p>
                {exercise.problem.clone().map(|p| view! { <p class="error-box" role="alert">{p}</p> })}
                <div class="html-slot" role="status" inner_html=verdict></div>
                <form class="check-form" method="post" action=action>
                    <input type="hidden" name="csrf" value=csrf.clone()/>
                    {questions.into_iter().map(|(id, question, given)| {
                        let field = format!("answer-{id}");
                        view! {
                            <p class="answer-field">
                                <label for=field.clone()>{question}</label>
                                <input id=field type="text" name=format!("answer.{id}") value=given
                                    autocomplete="off" spellcheck="false" maxlength="200"/>
                            </p>
                        }
                    }).collect_view()}
                    <button id="check-work" class="button primary" type="submit">"Check my work"</button>
                    {checked_at.map(|at| view! { <span class="muted">" " {at}</span> })}
                </form>
                <div class="html-slot" inner_html=hints></div>
                {(exercise.hint_count > 0).then(|| view! {
                    <p class="hint">"A hint opens after each check that does not pass."</p>
                })}
            </section>
            <section class="panel console-page">
                <h2>"Docker console"</h2>
                <Console docked=false line/>
            </section>
        </div>
    }
}
