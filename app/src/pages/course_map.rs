use crate::{api::load_course_map, dto::CourseMap, pages::error_text};
use leptos::prelude::*;
use leptos_meta::Title;

/// `/`: every module and its lessons, in course order.
#[component]
pub fn CourseMapPage() -> impl IntoView {
    let course = Resource::new(|| (), |_| load_course_map());
    view! {
        <Title text="Course map"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading the course…"</p> }>
            {move || Suspend::new(async move {
                match course.await {
                    Ok(map) => view! { <CourseMapView map/> }.into_any(),
                    Err(e) => view! { <p class="error-box">{error_text(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CourseMapView(map: CourseMap) -> impl IntoView {
    let mut number = 0;
    let modules = map
        .modules
        .into_iter()
        .enumerate()
        .map(|(m, module)| {
            let lessons = module
                .lessons
                .into_iter()
                .map(|lesson| {
                    number += 1;
                    view! {
                        <li class="lesson-card" class:done=lesson.done>
                            <a
                                href=format!("/learn/{}", lesson.slug)
                                data-lesson=lesson.slug.clone()
                                data-done=lesson.done.to_string()
                            >
                                <span class="lesson-number">{number}</span>
                                <span class="lesson-text">
                                    <span class="lesson-title">{lesson.title}</span>
                                    <span class="lesson-summary">{lesson.summary}</span>
                                </span>
                                {lesson.done.then(|| view! { <span class="done-mark" title="Every quiz answered right">"✓ done"</span> })}
                            </a>
                        </li>
                    }
                })
                .collect_view();
            let exercises = (!module.exercises.is_empty()).then(|| {
                let items = module
                    .exercises
                    .into_iter()
                    .map(|e| {
                        view! {
                            <li class="exercise-card" class:done=e.done>
                                <a
                                    href=format!("/exercises/{}", e.id)
                                    data-exercise=e.id.clone()
                                    data-done=e.done.to_string()
                                    data-status=e.progress.status.as_str()
                                >
                                    <span class="exercise-badge">{if e.console { "Console" } else { "Build" }}</span>
                                    <span class="lesson-title">{e.title}</span>
                                    <ExerciseRecord progress=e.progress.clone()/>
                                    {e.done.then(|| view! { <span class="done-mark" title="Every check passed">"✓ done"</span> })}
                                </a>
                            </li>
                        }
                    })
                    .collect_view();
                view! { <ul class="exercises">{items}</ul> }
            });
            view! {
                <section class="module" data-module=module.id>
                    <h2><span class="module-number">{format!("Module {}", m + 1)}</span>{module.title}</h2>
                    <ol class="lessons">{lessons}</ol>
                    {exercises}
                </section>
            }
        })
        .collect_view();
    view! {
        <section class="hero">
            <h1>{map.title}</h1>
            <p>"Read a lesson, check yourself with its quiz, then build real images on a real Docker engine."</p>
        </section>
        <div class="course-map">{modules}</div>
    }
}

/// "tried · 3 attempts · best 2.1 MiB" under an exercise on the map.
#[component]
fn ExerciseRecord(progress: crate::dto::ExerciseProgress) -> impl IntoView {
    (progress.attempts > 0).then(|| {
        let attempts = format!(
            "{} attempt{}",
            progress.attempts,
            if progress.attempts == 1 { "" } else { "s" }
        );
        let best = progress
            .best_size_bytes
            .map(|b| format!(" · best {}", crate::dto::human_size(b)));
        view! {
            <span class="exercise-record">
                <span class=format!("status-pill {}", progress.status.as_str())>{progress.status.label()}</span>
                " " {attempts} {best}
            </span>
        }
    })
}
