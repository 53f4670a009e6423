//! What the workbench keeps for a learner besides builds: the draft of each exercise as they
//! type (so leaving the page, a reload or another device loses nothing) and the hints they
//! have unlocked — one per build that reached the checks and missed some, or one each time
//! they ask.

use crate::engine::context::{BuildContext, ContextError, ContextLimits};
use crate::exercise::{Exercise, Exercises, PLAYGROUND};
use crate::store::Store;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a draft or a hint was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkbenchError {
    #[error("There is no exercise called “{0}”.")]
    UnknownExercise(String),
    #[error("{0}")]
    Files(ContextError),
    #[error("Drafts are saved at most every {} ms; this one came too soon.", MIN_DRAFT_GAP.as_millis())]
    TooSoon,
    #[error("The server's disk is nearly full, so your draft was not saved; your work is still in this page.")]
    DiskFull,
    #[error("This exercise has no hints.")]
    NoHints,
    #[error("the database: {0}")]
    Store(#[from] sqlx::Error),
}

/// A learner's drafts come at most this often (the page sends one a second while they type).
pub const MIN_DRAFT_GAP: Duration = Duration::from_millis(250);

/// When each learner last saved a draft, so that a script cannot keep the database writing.
#[derive(Default)]
pub struct DraftGate {
    last: Mutex<HashMap<String, Instant>>,
}

impl DraftGate {
    fn admit(&self, learner: &str) -> bool {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        if last.len() > 10_000 {
            last.retain(|_, at| now.duration_since(*at) < MIN_DRAFT_GAP);
        }
        match last.get(learner) {
            Some(at) if now.duration_since(*at) < MIN_DRAFT_GAP => false,
            _ => {
                last.insert(learner.to_string(), now);
                true
            }
        }
    }
}

/// Keep `files` as the learner's draft of `exercise` (the playground too). The files obey the
/// same limits as a build's, except that a draft need not have a Dockerfile yet.
pub async fn save_draft(
    store: &Store,
    exercises: &Exercises,
    gate: &DraftGate,
    limits: &ContextLimits,
    learner: &str,
    exercise: &str,
    files: BTreeMap<String, String>,
) -> Result<(), WorkbenchError> {
    if exercise != PLAYGROUND && exercises.get(exercise).is_none() {
        return Err(WorkbenchError::UnknownExercise(exercise.to_string()));
    }
    match BuildContext::new(files.clone(), limits) {
        Ok(_) | Err(ContextError::NoDockerfile) => {}
        Err(e) => return Err(WorkbenchError::Files(e)),
    }
    if store.disk_too_full().is_some() {
        return Err(WorkbenchError::DiskFull);
    }
    if !gate.admit(learner) {
        return Err(WorkbenchError::TooSoon);
    }
    store
        .save_draft(learner, exercise, &files, crate::store::now_ms())
        .await?;
    Ok(())
}

/// The hints of `exercise` the learner has unlocked: one per build that reached the checks
/// and did not pass them all (`pending`: such builds not stored yet), plus one per hint they
/// asked for.
pub async fn unlocked_hints(
    store: &Store,
    exercise: &Exercise,
    learner: &str,
    pending: u32,
) -> Result<Vec<String>, WorkbenchError> {
    let missed = pending
        + store
            .exercise_tallies(learner)
            .await?
            .get(&exercise.id)
            .map_or(0, |t| t.missed_checks);
    let asked = store.hints_requested(learner, &exercise.id).await?;
    let open = missed.saturating_add(asked) as usize;
    Ok(exercise.hints.iter().take(open).cloned().collect())
}

/// One more hint, on the learner's request; returns every hint now unlocked.
pub async fn reveal_hint(
    store: &Store,
    exercises: &Exercises,
    learner: &str,
    exercise: &str,
) -> Result<Vec<String>, WorkbenchError> {
    let exercise = exercises
        .get(exercise)
        .ok_or_else(|| WorkbenchError::UnknownExercise(exercise.to_string()))?;
    if exercise.hints.is_empty() {
        return Err(WorkbenchError::NoHints);
    }
    let total = u32::try_from(exercise.hints.len()).unwrap_or(u32::MAX);
    store.request_hint(learner, &exercise.id, total).await?;
    unlocked_hints(store, exercise, learner, 0).await
}
