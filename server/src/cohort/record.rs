//! One learner's record for their instructor: every counted attempt per exercise, oldest
//! first, and every quiz answer.

use super::instructors::own_cohort;
use crate::course::quiz::describe_answer;
use crate::course::Course;
use crate::exercise::Exercises;
use crate::failure::OrInternal;
use crate::store::Store;
use app::backend::BackendError;
use app::dto::{ExerciseAttempts, LearnerRecord, QuizRecord};
use tower_sessions::Session;

pub async fn learner_record(
    store: &Store,
    course: &Course,
    exercises: &Exercises,
    registry: &crate::registry::Registry,
    session: &Session,
    cohort: &str,
    learner: &str,
) -> Result<LearnerRecord, BackendError> {
    let cohort = own_cohort(store, session, cohort).await?;
    let failed = "loading the learner's work";
    let learners = store
        .cohort_learners(&cohort.id)
        .await
        .or_internal(failed)?;
    let person = learners
        .iter()
        .find(|l| l.id == learner)
        .ok_or_else(|| BackendError::NotFound("This learner is not in this cohort.".into()))?;
    let ids = [person.id.clone()];
    let rows = store.attempt_rows(&ids).await.or_internal(failed)?;
    let exercises = crate::cohort::columns(course, exercises)
        .into_iter()
        .filter_map(|(_, item)| match item {
            crate::cohort::Item::Exercise(id) => Some(id),
            crate::cohort::Item::Quiz { .. } => None,
        })
        .map(|id| ExerciseAttempts {
            title: exercises
                .get(&id)
                .map(|e| e.title.clone())
                .unwrap_or_default(),
            // Oldest first, and only those the dashboard counts: attempt #n is the same
            // on the chart, in the table and on the dashboard.
            attempts: rows
                .iter()
                .filter(|r| r.exercise == id && r.status != "cancelled")
                .map(crate::cohort::attempt_summary)
                .collect(),
            id,
        })
        .collect();
    // Their namespace in the class registry, as the registry holds it.
    let (registry, registry_problem) = if registry.hands_out_logins() {
        match crate::pushes::namespace_view(store, registry, &person.id).await {
            Ok(view) => (Some(view), None),
            Err(problem) => (None, Some(problem)),
        }
    } else {
        (None, None)
    };
    let quizzes = store
        .quiz_answers(&ids)
        .await
        .or_internal(failed)?
        .into_iter()
        .rev()
        .map(|a| QuizRecord {
            title: match (course.quiz(&a.lesson, &a.quiz), course.lesson(&a.lesson)) {
                (Some(quiz), Some((_, lesson))) => format!("{} ({})", quiz.title, lesson.title),
                _ => a.lesson.clone(),
            },
            correct: a.grade.correct,
            total: a.grade.total,
            answers: a
                .grade
                .questions
                .iter()
                .map(|q| describe_answer(course.quiz(&a.lesson, &a.quiz), q))
                .collect(),
            at: crate::cohort::format_time(a.created_at),
            lesson: a.lesson,
            quiz: a.quiz,
        })
        .collect();
    Ok(LearnerRecord {
        cohort: crate::cohort::summary(&cohort, learners.len() as u32),
        learner_id: person.id.clone(),
        name: crate::cohort::display_name(person),
        exercises,
        quizzes,
        registry,
        registry_problem,
    })
}
