use crate::{
    api::lesson,
    dto::{LessonBlock, LessonLink, LessonView},
    pages::{quiz::QuizForm, MissingPanel},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// `/learn/<lesson>`: one lesson, its quizzes, and the way to the next one.
#[component]
pub fn LessonPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("lesson").unwrap_or_default();
    let page = Resource::new(slug, lesson);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading the lesson…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(view) => view! { <LessonArticle lesson=view/> }.into_any(),
                    Err(e) => view! { <MissingPanel title="Lesson not found" error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn LessonArticle(lesson: LessonView) -> impl IntoView {
    let slug = lesson.slug.clone();
    let blocks = lesson
        .blocks
        .into_iter()
        .map(|block| match block {
            LessonBlock::Prose(html) => {
                view! { <div class="prose" inner_html=html></div> }.into_any()
            }
            LessonBlock::Quiz(quiz) => view! { <QuizForm lesson=slug.clone() quiz/> }.into_any(),
        })
        .collect_view();
    view! {
        <Title text=lesson.title.clone()/>
        <article class="lesson" data-lesson=lesson.slug.clone()>
            <p class="breadcrumb"><a href="/">"Course"</a>" / "{lesson.module_title}</p>
            <h1>{lesson.title}</h1>
            {blocks}
            <nav class="lesson-nav">
                <NeighbourLink link=lesson.previous rel="prev" label="Previous"/>
                <NeighbourLink link=lesson.next rel="next" label="Next"/>
            </nav>
        </article>
    }
}

#[component]
fn NeighbourLink(
    link: Option<LessonLink>,
    rel: &'static str,
    label: &'static str,
) -> impl IntoView {
    link.map(|l| {
        view! {
            <a class=format!("lesson-nav-{rel}") rel=rel href=format!("/learn/{}", l.slug)>
                <span class="lesson-nav-label">{label}</span>
                <span class="lesson-nav-title">{l.title}</span>
            </a>
        }
    })
}
