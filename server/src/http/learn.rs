//! The lesson page, and learner actions that must work without JavaScript: a quiz form posts
//! here, is graded, and the learner is sent back to the lesson, which shows the result.

use super::lesson_pages::PageKey;
use super::state::AppState;
use super::AppError;
use crate::course::quiz::SubmissionError;
use app::backend::{Backend, BackendError};
use app::document::{self, banner_text, Loaded};
use app::dto::{LessonBlock, QuizAnswers, UngradedAnswers, ANSWER_FIELD_PREFIX};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use leptos::nonce::Nonce;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/learn/{lesson}", get(lesson_page))
        .route("/learn/{lesson}/quiz/{quiz}", post(submit_quiz_form))
}

/// `/learn/<lesson>`: the lesson with this learner's last answers. Rendered in one pass, and
/// only when no learner has been sent the same page yet (see [`super::lesson_pages`]); every
/// response has its own CSP nonce either way.
async fn lesson_page(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
) -> Response {
    let (status, grades) = tokio::join!(
        state.engine_status(),
        crate::lessons::lesson_grades(&state.store, &state.course, &session, &slug)
    );
    let banner = banner_text(status);
    let path = format!("/learn/{slug}");
    let nonce = Nonce::new().to_string();
    let rendered = match grades {
        Ok(grades) => {
            let key = PageKey {
                slug,
                banner: banner.clone(),
                grades,
            };
            match state.lesson_pages.get(&key) {
                Some(page) => Ok(page.with_nonce(&nonce)),
                None => render_and_keep(&state, key, path.clone(), &nonce).await,
            }
        }
        Err(e) => Err(e),
    };
    let (code, html) = match rendered {
        Ok(html) => (StatusCode::OK, html),
        Err(e) => {
            let (code, title) = match e {
                BackendError::NotFound(_) => (StatusCode::NOT_FOUND, "Lesson not found"),
                _ => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The lesson could not be loaded",
                ),
            };
            let missing = Loaded::Missing(title, e.to_string());
            let options = &state.leptos_options;
            (
                code,
                document::lesson(options, path, banner, &nonce, missing).await,
            )
        }
    };
    page_response(code, html, &nonce)
}

/// A rendered page with the content security policy that lets its own `nonce` run.
fn page_response(code: StatusCode, html: String, nonce: &str) -> Response {
    let mut response = (code, Html(html)).into_response();
    if let Ok(csp) = HeaderValue::from_str(&app::content_security_policy(nonce)) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// Render the page `key` describes with `nonce`, and keep it for the next learner who sees
/// the same.
async fn render_and_keep(
    state: &AppState,
    key: PageKey,
    path: String,
    nonce: &str,
) -> Result<String, BackendError> {
    let lesson = Loaded::Found(crate::lessons::lesson_view(
        &state.course,
        &key.slug,
        &key.grades,
    )?);
    let banner = key.banner.clone();
    let html = document::lesson(&state.leptos_options, path, banner, nonce, lesson).await;
    state.lesson_pages.keep(key, &html, nonce);
    Ok(html)
}

async fn submit_quiz_form(
    State(state): State<AppState>,
    session: Session,
    Path((lesson, quiz)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let answers = group_answers(fields);
    // A submission with blanks is not graded: the lesson comes back with what was given and
    // the blank questions marked, and nothing is stored.
    if let Some(Err(SubmissionError::Unanswered { questions, .. })) =
        state.course.quiz(&lesson, &quiz).map(|q| q.grade(&answers))
    {
        let ungraded = UngradedAnswers {
            given: answers,
            missing: questions,
        };
        return unanswered_page(&state, &session, &lesson, &quiz, ungraded).await;
    }
    state.submit_quiz(&session, &lesson, &quiz, answers).await?;
    Ok(Redirect::to(&format!("/learn/{lesson}#quiz-{quiz}")).into_response())
}

/// The lesson with `quiz` showing an ungraded submission (`422`): rendered for this response
/// alone, never kept for others.
async fn unanswered_page(
    state: &AppState,
    session: &Session,
    lesson: &str,
    quiz: &str,
    ungraded: UngradedAnswers,
) -> Result<Response, AppError> {
    let (status, grades) = tokio::join!(
        state.engine_status(),
        crate::lessons::lesson_grades(&state.store, &state.course, session, lesson)
    );
    let mut view = crate::lessons::lesson_view(&state.course, lesson, &grades?)?;
    for block in &mut view.blocks {
        if let LessonBlock::Quiz(q) = block {
            if q.id == quiz {
                q.ungraded = Some(ungraded.clone());
            }
        }
    }
    let nonce = Nonce::new().to_string();
    let path = format!("/learn/{lesson}");
    let html = document::lesson(
        &state.leptos_options,
        path,
        banner_text(status),
        &nonce,
        Loaded::Found(view),
    )
    .await;
    Ok(page_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        html,
        &nonce,
    ))
}

/// `q.<id>=value` pairs (repeated for checkboxes) → answers per question, first-seen order.
fn group_answers(fields: Vec<(String, String)>) -> QuizAnswers {
    let mut answers: QuizAnswers = Vec::new();
    for (name, value) in fields {
        let Some(question) = name.strip_prefix(ANSWER_FIELD_PREFIX) else {
            continue;
        };
        match answers.iter_mut().find(|(q, _)| q == question) {
            Some((_, values)) => values.push(value),
            None => answers.push((question.to_string(), vec![value])),
        }
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_group_and_others_are_ignored() {
        let fields = vec![
            ("q.layers".to_string(), "run".to_string()),
            ("csrf".to_string(), "x".to_string()),
            ("q.version".to_string(), "1.2.3".to_string()),
            ("q.layers".to_string(), "copy".to_string()),
        ];
        assert_eq!(
            group_answers(fields),
            vec![
                (
                    "layers".to_string(),
                    vec!["run".to_string(), "copy".to_string()]
                ),
                ("version".to_string(), vec!["1.2.3".to_string()]),
            ]
        );
    }
}
