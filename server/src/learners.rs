//! Learners: who the learner of a session is (made on first use, or only looked up where a
//! request only reads), their profile with totals, and what a resume code continues.

use crate::auth::LEARNER_KEY;
use crate::course::Course;
use crate::exercise::Exercises;
use crate::failure::OrInternal;
use crate::progress::progress_of;
use crate::progress::ProgressSender;
use crate::store::{Learner, Store};
use app::backend::BackendError;
use app::dto::{Notice, Profile, QuizGrade, ResumeOffer};
use std::collections::HashMap;
use std::sync::Arc;
use tower_sessions::Session;

/// The learner behind this session: made (row and session entry) on first use, and marked as
/// seen now.
pub async fn learner(store: &Store, session: &Session) -> Result<Learner, BackendError> {
    let id = session_learner(session).await?;
    store
        .touch_learner(&id)
        .await
        .or_internal("loading your progress")
}

/// The learner id kept in the session, made up (and kept) on first use.
async fn session_learner(session: &Session) -> Result<String, BackendError> {
    if let Some(id) = session
        .get::<String>(LEARNER_KEY)
        .await
        .or_internal("reading your session")?
    {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    crate::auth::mark_born(session)
        .await
        .or_internal("starting your session")?;
    session
        .insert(LEARNER_KEY, id.clone())
        .await
        .or_internal("starting your session")?;
    Ok(id)
}

/// The learner of this session, if it has one (their row made again if it went missing, and
/// marked as seen). What only reads uses this: a page view, a poll or a crawler starts no
/// learner and no session, so it costs nothing and counts against no address's allowance.
pub async fn known_learner_id(
    store: &Store,
    session: &Session,
) -> Result<Option<String>, BackendError> {
    let Some(id) = session
        .get::<String>(LEARNER_KEY)
        .await
        .or_internal("reading your session")?
    else {
        return Ok(None);
    };
    store
        .ensure_learner(&id)
        .await
        .or_internal("loading your progress")?;
    Ok(Some(id))
}

/// The learner of this session, to read their build `build` with: a session that never
/// started a learner has no builds.
pub async fn build_owner(
    store: &Store,
    session: &Session,
    build: &str,
) -> Result<String, BackendError> {
    known_learner_id(store, session)
        .await?
        .ok_or_else(|| crate::failure::no_such_build(build))
}

/// Just the learner's id (see [`learner`]); reads no row.
pub async fn learner_id(store: &Store, session: &Session) -> Result<String, BackendError> {
    let id = session_learner(session).await?;
    store
        .ensure_learner(&id)
        .await
        .or_internal("loading your progress")?;
    Ok(id)
}

/// `"<lesson>/<quiz>"` → the learner's latest grade.
pub async fn grades(
    store: &Store,
    learner: &str,
) -> Result<Arc<HashMap<String, QuizGrade>>, BackendError> {
    store
        .latest_grades(learner)
        .await
        .or_internal("loading your answers")
}

pub async fn profile(
    store: &Store,
    course: &Course,
    exercises: &Exercises,
    session: &Session,
) -> Result<Profile, BackendError> {
    let quizzes_total: usize = course
        .lessons
        .iter()
        .map(|l| course.quiz_ids(&l.slug).len())
        .sum();
    let mut profile = Profile {
        display_name: None,
        resume_code: None,
        cohort: None,
        exercises_passed: 0,
        exercises_total: exercises.iter().count() as u32,
        quizzes_done: 0,
        quizzes_total: quizzes_total as u32,
        exercises: course
            .modules
            .iter()
            .flat_map(|m| &m.exercises)
            .filter_map(|id| exercises.get(id).map(|e| e.link()))
            .collect(),
        csrf: crate::auth::page_csrf(session).await?,
        notice: crate::auth::take_notice(session).await,
    };
    // Looking at this page starts nobody: the first answer, build or form sent does.
    let Some(id) = crate::learners::known_learner_id(store, session).await? else {
        return Ok(profile);
    };
    let failed = "loading your progress";
    let learner = store.touch_learner(&id).await.or_internal(failed)?;
    profile.cohort = match &learner.cohort_id {
        Some(id) => store.cohort(id).await.or_internal(failed)?.map(|c| c.name),
        None => None,
    };
    let tallies = store
        .exercise_tallies(&learner.id)
        .await
        .or_internal(failed)?;
    let grades = crate::learners::grades(store, &learner.id).await?;
    profile.exercises_passed = tallies.values().filter(|t| t.passed).count() as u32;
    for exercise in &mut profile.exercises {
        let tally = tallies.get(&exercise.id).cloned().unwrap_or_default();
        exercise.done = tally.passed;
        exercise.progress = progress_of(&tally);
    }
    profile.quizzes_done = grades.values().filter(|g| g.correct == g.total).count() as u32;
    profile.display_name = learner.display_name;
    profile.resume_code = Some(learner.resume_code);
    Ok(profile)
}

pub async fn resume_offer(
    store: &Store,
    session: &Session,
    code: &str,
) -> Result<ResumeOffer, BackendError> {
    let failed = "looking up the code";
    let found = store
        .learner_by_resume_code(code)
        .await
        .or_internal(failed)?;
    let passed = match &found {
        Some(l) => store
            .exercise_tallies(&l.id)
            .await
            .or_internal(failed)?
            .values()
            .filter(|t| t.passed)
            .count() as u32,
        None => 0,
    };
    Ok(ResumeOffer {
        code: crate::store::normalize_code(code),
        learner_name: found.as_ref().map(display_name),
        exercises_passed: passed,
        csrf: crate::auth::page_csrf(session).await?,
    })
}

/// The name an instructor sees: the display name, or "Learner" and the id's start.
pub fn display_name(learner: &Learner) -> String {
    match learner.display_name.as_deref() {
        Some(name) if !name.trim().is_empty() => name.to_string(),
        _ => format!("Learner {}", &learner.id[..learner.id.len().min(6)]),
    }
}

/// Why layerlab gives no `docker login` for its registry, if it gives none: there is no
/// registry, or layerlab does not run it (`Invalid`, with the words to show).
pub fn registry_offered(registry: &crate::registry::Registry) -> Result<(), BackendError> {
    let Some(address) = registry.address() else {
        return Err(BackendError::Invalid(
            "This workshop runs without a registry, so there is nothing to log in to.".into(),
        ));
    };
    if !registry.hands_out_logins() {
        return Err(BackendError::Invalid(format!(
            "The registry at {address} is not run by this workshop, so it hands out no logins for it; ask the workshop's operator how to log in there."
        )));
    }
    Ok(())
}

/// The learner's login to the class registry (`docker login`), or why there is none.
pub async fn registry_login(
    store: &Store,
    registry: &crate::registry::Registry,
    session: &Session,
) -> Result<crate::registry::Credentials, BackendError> {
    registry_offered(registry)?;
    // Asking makes no learner (a visitor's request costs nothing): the login comes with the
    // learner, at their first answer, build or form.
    let id = known_learner_id(store, session).await?.ok_or_else(|| {
        BackendError::NotFound(
            "You have no registry login yet: it comes with your first answer or build.".into(),
        )
    })?;
    registry
        .credentials(&crate::registry::handle_of(&id))
        .ok_or_else(|| crate::failure::internal("giving your registry login", "no credentials"))
}

/// Longest display name or cohort name accepted.
pub const MAX_NAME_CHARS: usize = 60;

/// A name as people type it: trimmed, inner whitespace collapsed, no control characters.
pub fn clean_name(raw: &str) -> Result<Option<String>, String> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.chars().any(char::is_control) {
        return Err("A name cannot contain control characters.".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "A name can have at most {MAX_NAME_CHARS} characters."
        ));
    }
    Ok((!name.is_empty()).then_some(name))
}

/// Show the learner to their instructor under `raw` (tidied; empty removes the name).
pub async fn rename(
    store: &Store,
    progress: &ProgressSender,
    session: &Session,
    raw: &str,
) -> Result<Notice, BackendError> {
    let me = learner(store, session).await?;
    let name = match clean_name(raw) {
        Ok(name) => name,
        Err(problem) => return Ok(Notice::refused(problem)),
    };
    store
        .set_display_name(&me.id, name.as_deref())
        .await
        .or_internal("saving your name")?;
    progress.publish(&me.id);
    Ok(Notice::done(match name {
        Some(n) => format!("Saved. Your instructor sees you as “{n}”."),
        None => "Your name was removed.".into(),
    }))
}

/// Join the cohort whose join code is `code`.
pub async fn join(
    store: &Store,
    progress: &ProgressSender,
    session: &Session,
    code: &str,
) -> Result<Notice, BackendError> {
    let me = learner(store, session).await?;
    let joined = store
        .join_cohort(&me.id, code)
        .await
        .or_internal("joining the cohort")?;
    let Some(cohort) = joined else {
        return Ok(Notice::refused(format!(
            "No cohort has the join code “{}”. Check it with your instructor; letters and digits only, dashes optional.",
            code.trim()
        )));
    };
    progress.publish(&me.id);
    Ok(Notice::done(format!(
        "You joined “{}”. Your instructor can now follow your progress.",
        cohort.name
    )))
}

/// Continue as the learner with this resume code: this session becomes theirs, under a new
/// session id (a cookie seen before is worth nothing) and a new form token.
pub async fn resume(store: &Store, session: &Session, code: &str) -> Result<Notice, BackendError> {
    let found = store
        .learner_by_resume_code(code)
        .await
        .or_internal("looking up the code")?;
    let Some(found) = found else {
        return Ok(Notice::refused(format!(
            "No learner has the resume code “{}”.",
            code.trim()
        )));
    };
    let failed = "switching your session";
    session.cycle_id().await.or_internal(failed)?;
    crate::auth::renew_csrf(session).await.or_internal(failed)?;
    session
        .insert(LEARNER_KEY, found.id.clone())
        .await
        .or_internal(failed)?;
    Ok(Notice::done(
        "Welcome back: this browser now continues your work.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_tidied_and_bounded() {
        assert_eq!(
            clean_name("  Ada   Lovelace "),
            Ok(Some("Ada Lovelace".into()))
        );
        assert_eq!(clean_name("   "), Ok(None));
        assert!(clean_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(clean_name("bell\u{7}").is_err());
    }
}
