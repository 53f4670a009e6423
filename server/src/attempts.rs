//! A learner's work on an exercise: the exercise page with their attempts, draft and last
//! result; one of their builds, running or stored; and two attempts side by side (their own,
//! or for their instructor, a learner's of their cohorts).

use crate::builds::Builds;
use crate::course::Course;
use crate::exercise::{playground_view, Exercises, PLAYGROUND};
use crate::failure::OrInternal;
use crate::progress::progress_of;
use crate::store::Store;
use app::backend::BackendError;
use app::dto::{
    AttemptPair, AttemptRecord, AttemptSide, AttemptSummary, BuildView, ExerciseView, LastAttempt,
};
use tower_sessions::Session;

pub async fn exercise_view(
    store: &Store,
    course: &Course,
    exercises: &Exercises,
    builds: &Builds,
    session: &Session,
    id: &str,
) -> Result<ExerciseView, BackendError> {
    let mut view = if id == PLAYGROUND {
        playground_view()
    } else {
        let exercise = exercises.get(id).ok_or_else(|| {
            BackendError::NotFound(format!("There is no exercise called “{id}”."))
        })?;
        let mut view = exercise.view(course);
        view.next = course
            .next_exercise(id)
            .and_then(|next| exercises.get(next))
            .map(crate::exercise::Exercise::link);
        view
    };
    if view.console {
        view.csrf = Some(
            crate::auth::csrf_token(session)
                .await
                .or_internal("making the page's form token")?,
        );
        view.problem = session
            .remove::<String>(crate::console_work::FORM_PROBLEM_KEY)
            .await
            .ok()
            .flatten();
    }
    // Someone who never did anything sees the exercise as it starts.
    let Some(learner) = crate::learners::known_learner_id(store, session).await? else {
        return Ok(view);
    };
    add_learners_work(store, exercises, builds, &mut view, &learner).await?;
    Ok(view)
}

/// What the learner did on the exercise (or the playground): their record, attempts and
/// last result; the files of a build still running (followed again), else of their draft
/// when it is newer than their last build, else of that build.
async fn add_learners_work(
    store: &Store,
    exercises: &Exercises,
    builds: &Builds,
    view: &mut ExerciseView,
    learner: &str,
) -> Result<(), BackendError> {
    let id = view.id.clone();
    let failed = "loading your attempts";
    if id != PLAYGROUND {
        let rows = store
            .attempt_rows(&[learner.to_string()])
            .await
            .or_internal(failed)?;
        let tallies = crate::store::tally(&rows)
            .remove(learner)
            .unwrap_or_default();
        let tally = tallies.get(&id).cloned().unwrap_or_default();
        view.progress = progress_of(&tally);
        view.attempts = rows
            .iter()
            .filter(|r| r.exercise == id && r.status != "cancelled")
            .map(crate::cohort::attempt_summary)
            .collect();
        if let Some(exercise) = exercises.get(&id) {
            // The misses are counted above: no second read of the attempts.
            view.hints =
                crate::workbench::open_hints(store, exercise, learner, tally.missed_checks)
                    .await
                    .or_internal("loading your hints")?;
        }
    }
    if let Some(build) = builds.running_for(learner, &id) {
        if let Some(attempt) = store.attempt(&build, learner).await.or_internal(failed)? {
            view.files = crate::exercise::files_view(&attempt.files);
        }
        view.running = Some(build);
        return Ok(());
    }
    let last = if id == PLAYGROUND {
        None
    } else {
        store
            .latest_attempt(learner, &id)
            .await
            .or_internal(failed)?
    };
    let built_at = last.as_ref().map_or(i64::MIN, |l| l.created_at);
    if let Some(last) = last {
        view.files = crate::exercise::files_view(&last.files);
        view.last = Some(LastAttempt {
            at: crate::cohort::format_time(last.created_at),
            view: last.view,
            log: last.log,
        });
    }
    let draft = store
        .draft(learner, &id)
        .await
        .or_internal("loading your draft")?;
    if let Some((files, at)) = draft.filter(|(_, at)| *at > built_at) {
        view.files = crate::exercise::files_view(&files);
        view.draft_at = Some(crate::cohort::format_time(at));
    }
    Ok(())
}

/// One of the learner's builds: running (kept in memory) or stored.
pub async fn learner_build(
    store: &Store,
    builds: &Builds,
    id: &str,
    learner: &str,
) -> Result<BuildView, BackendError> {
    if let Some(record) = builds.get(id, learner) {
        return Ok(record.view());
    }
    Ok(stored_attempt(store, id, learner).await?.view)
}

/// One of the learner's stored attempts (a build that ended, maybe before a restart).
pub async fn stored_attempt(
    store: &Store,
    id: &str,
    learner: &str,
) -> Result<crate::store::Attempt, BackendError> {
    store
        .attempt(id, learner)
        .await
        .or_internal("reading your build history")?
        .ok_or_else(|| crate::failure::no_such_build(id))
}

pub async fn attempt_pair(
    store: &Store,
    exercises: &Exercises,
    session: &Session,
    left: &str,
    right: &str,
) -> Result<AttemptPair, BackendError> {
    let failed = "loading the attempts";
    let own = match crate::learners::known_learner_id(store, session).await? {
        Some(learner) => (
            store.attempt(left, &learner).await.or_internal(failed)?,
            store.attempt(right, &learner).await.or_internal(failed)?,
        ),
        None => (None, None),
    };
    let (a, b, back) = match own {
        (Some(a), Some(b)) => {
            let back = format!("/exercises/{}", a.exercise);
            (a, b, back)
        }
        // Not the learner's own: an instructor may compare a learner of their cohorts.
        _ => {
            let (a, owner, cohort) =
                crate::cohort::instructors::cohort_attempt(store, session, left).await?;
            let (b, _, _) =
                crate::cohort::instructors::cohort_attempt(store, session, right).await?;
            if a.learner_id != b.learner_id {
                return Err(BackendError::Invalid(
                    "Only attempts by the same learner can be compared.".into(),
                ));
            }
            let back = format!(
                "/instructor/cohorts/{cohort}/learners/{}#exercise-{}",
                owner.id, a.exercise
            );
            (a, b, back)
        }
    };
    if a.exercise != b.exercise {
        return Err(BackendError::Invalid(
            "Only attempts at the same exercise can be compared.".into(),
        ));
    }
    let rows = store
        .attempt_rows(std::slice::from_ref(&a.learner_id))
        .await
        .or_internal(failed)?;
    // Numbered as on the chart: oldest first, among the attempts the dashboard counts.
    let counted: Vec<&crate::store::AttemptRow> = rows
        .iter()
        .filter(|r| r.exercise == a.exercise && r.status != "cancelled")
        .collect();
    let position = |attempt: &crate::store::Attempt| rows.iter().position(|r| r.id == attempt.id);
    // The older attempt always goes on the left, so a fix reads as added lines.
    let (a, b) = if position(&a) > position(&b) {
        (b, a)
    } else {
        (a, b)
    };
    let side = |attempt: &crate::store::Attempt| {
        rows.iter()
            .find(|r| r.id == attempt.id)
            .map(|r| AttemptSide {
                summary: AttemptSummary {
                    at: crate::cohort::format_time_to_second(r.created_at),
                    ..crate::cohort::attempt_summary(r)
                },
                number: counted.iter().position(|c| c.id == r.id).map(|i| i + 1),
                image: attempt.view.image.clone(),
            })
            .ok_or_else(|| BackendError::NotFound("That attempt is gone.".into()))
    };
    let dockerfile = |attempt: &crate::store::Attempt| {
        attempt.files.get("Dockerfile").cloned().unwrap_or_default()
    };
    Ok(AttemptPair {
        exercise_title: exercises
            .get(&a.exercise)
            .map_or_else(|| a.exercise.clone(), |e| e.title.clone()),
        back,
        diff: if a.details_kept && b.details_kept {
            app::dto::line_diff(&dockerfile(&a), &dockerfile(&b))
        } else {
            // No diff against files that are gone: say so instead.
            vec![app::dto::DiffLine {
                kind: app::dto::DiffKind::Same,
                left: None,
                right: None,
                text: store.details_not_kept(),
            }]
        },
        left: side(&a)?,
        right: side(&b)?,
    })
}

pub async fn attempt_record(
    store: &Store,
    exercises: &Exercises,
    session: &Session,
    attempt: &str,
) -> Result<AttemptRecord, BackendError> {
    let (found, learner, cohort_id) =
        crate::cohort::instructors::cohort_attempt(store, session, attempt).await?;
    let failed = "loading the attempt";
    let missing = crate::failure::no_such_attempt;
    let rows = store
        .attempt_rows(std::slice::from_ref(&learner.id))
        .await
        .or_internal(failed)?;
    let summary = rows
        .iter()
        .find(|r| r.id == found.id)
        .map(crate::cohort::attempt_summary)
        .ok_or_else(missing)?;
    Ok(AttemptRecord {
        cohort_id,
        learner_id: learner.id.clone(),
        learner_name: crate::cohort::display_name(&learner),
        exercise_title: exercises
            .get(&found.exercise)
            .map_or_else(|| found.exercise.clone(), |e| e.title.clone()),
        summary,
        files: found.files.into_iter().collect(),
        log: found.log,
        view: found.view,
    })
}
