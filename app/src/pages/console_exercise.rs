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
                <h2 id="checks-title">"Checks"</h2>
                <p class="muted">"Judged on what your containers and images are when you press Check, never on the commands you typed."</p>
                <section id="checks" class="checks" aria-labelledby="checks-title" inner_html=checks></section>
                <div class="html-slot" role="status" inner_html=verdict></div>
                <form class="check-form" method="post" action=action>
                    <input type="hidden" name="csrf" value=exercise.csrf.clone().unwrap_or_default()/>
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
                <Console docked=false/>
            </section>
        </div>
    }
}
