use crate::{
    dto::{LessonBlock, LessonLink, LessonView},
    pages::quiz::QuizForm,
};
use leptos::prelude::*;

/// `/learn/<lesson>`: one lesson, its quizzes, and the way to the next one. The server loads
/// the lesson first and renders the page in one pass (`document::lesson`).
#[component]
pub(crate) fn LessonArticle(lesson: LessonView) -> impl IntoView {
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
        <article class="lesson" data-lesson=lesson.slug.clone()>
            <p class="breadcrumb"><a href="/">"Course"</a>" / "{lesson.module_title}</p>
            <h1>{lesson.title}</h1>
            {blocks}
            <nav class="lesson-nav">
                <NeighbourLink link=lesson.previous rel="prev" label="Previous"/>
                <NeighbourLink link=lesson.next rel="next" label="Next"/>
            </nav>
            <crate::pages::ConsoleDock/>
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
