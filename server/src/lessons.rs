//! Lessons as a learner meets them: the course map with their progress, a lesson page with
//! their last grades, and answering a quiz.

use crate::course::quiz::SubmissionError;
use crate::course::Course;
use crate::exercise::Exercises;
use crate::failure::OrInternal;
use crate::progress::{progress_of, ProgressSender};
use crate::store::Store;
use app::backend::BackendError;
use app::dto::{CourseMap, LessonView, QuizAnswers, QuizGrade};
use std::sync::Arc;
use tower_sessions::Session;

/// The learner's last grade on each quiz of the lesson `slug`, in the lesson's order:
/// with the lesson and the engine banner, all a lesson page shows.
pub async fn lesson_grades(
    store: &Store,
    course: &Course,
    session: &Session,
    slug: &str,
) -> Result<Vec<(String, Option<QuizGrade>)>, BackendError> {
    if course.lesson(slug).is_none() {
        return Err(crate::failure::no_such_lesson(slug));
    }
    let grades = match crate::learners::known_learner_id(store, session).await? {
        Some(learner) => crate::learners::grades(store, &learner).await?,
        None => Arc::default(),
    };
    Ok(course
        .quiz_ids(slug)
        .into_iter()
        .map(|quiz| {
            let grade = grades.get(&format!("{slug}/{quiz}")).cloned();
            (quiz, grade)
        })
        .collect())
}

/// The lesson `slug` as a learner with these `grades` sees it.
pub fn lesson_view(
    course: &Course,
    slug: &str,
    grades: &[(String, Option<QuizGrade>)],
) -> Result<LessonView, BackendError> {
    course
        .lesson_view(slug, |quiz| {
            grades
                .iter()
                .find(|(id, _)| id == quiz)
                .and_then(|(_, g)| g.clone())
        })
        .ok_or_else(|| crate::failure::no_such_lesson(slug))
}

pub async fn course_map(
    store: &Store,
    course: &Course,
    exercises: &Exercises,
    session: &Session,
) -> Result<CourseMap, BackendError> {
    let (grades, tallies) = match crate::learners::known_learner_id(store, session).await? {
        Some(learner) => (
            crate::learners::grades(store, &learner).await?,
            store
                .exercise_tallies(&learner)
                .await
                .or_internal("loading your progress")?,
        ),
        None => Default::default(),
    };
    let mut map = course.map(|id| exercises.get(id).map(|e| e.link()));
    for module in &mut map.modules {
        for lesson in &mut module.lessons {
            let quizzes = course.quiz_ids(&lesson.slug);
            lesson.done = !quizzes.is_empty()
                && quizzes.iter().all(|q| {
                    grades
                        .get(&format!("{}/{q}", lesson.slug))
                        .is_some_and(|g| g.correct == g.total)
                });
        }
        for exercise in &mut module.exercises {
            let tally = tallies.get(&exercise.id).cloned().unwrap_or_default();
            exercise.done = tally.passed;
            exercise.progress = progress_of(&tally);
        }
    }
    Ok(map)
}

pub async fn submit_quiz(
    store: &Store,
    course: &Course,
    progress: &ProgressSender,
    session: &Session,
    lesson: &str,
    quiz: &str,
    answers: QuizAnswers,
) -> Result<QuizGrade, BackendError> {
    let spec = course.quiz(lesson, quiz).ok_or_else(|| {
        BackendError::NotFound(format!("Lesson “{lesson}” has no quiz called “{quiz}”."))
    })?;
    let grade = spec.grade(&answers).map_err(|e| match e {
        SubmissionError::Unanswered { .. } => BackendError::Invalid(e.to_string()),
        _ => BackendError::Invalid(format!("This answer cannot be graded: {e}.")),
    })?;
    let learner = crate::learners::learner_id(store, session).await?;
    store
        .record_quiz(&learner, lesson, quiz, &answers, &grade)
        .await
        .or_internal("saving your answers")?;
    progress.publish(&learner);
    Ok(grade)
}
