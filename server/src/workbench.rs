//! What the workbench keeps for a learner besides builds: the draft of each exercise as they
//! type (so leaving the page, a reload or another device loses nothing) and the hints they
//! have unlocked — one per build that reached the checks and missed some, or one each time
//! they ask.

use crate::engine::context::{BuildContext, ContextError, ContextLimits};
use crate::exercise::{Exercise, Exercises, PLAYGROUND};
use crate::store::Store;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

/// Why a draft or a hint was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkbenchError {
    #[error("There is no exercise called “{0}”.")]
    UnknownExercise(String),
    #[error("{0}")]
    Files(ContextError),
    #[error("Drafts are kept up to {} KiB; build the files to keep a bigger set in your history.", MAX_DRAFT_BYTES / 1024)]
    DraftTooLarge,
    #[error("Your drafts are being saved faster than layerlab keeps them; the next one will be.")]
    TooSoon,
    #[error("Drafts from your network address are being saved faster than layerlab keeps them (everyone behind it counts together); the next one will be.")]
    AddressTooFast,
    #[error("The server's disk is nearly full, so your draft was not saved; your work is still in this page.")]
    DiskFull,
    #[error("This exercise has no hints.")]
    NoHints,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A draft's files together (a build may hold more; a draft is what someone is typing).
pub const MAX_DRAFT_BYTES: usize = 256 * 1024;
/// Saves one learner may make in a burst, and per second after it (the page sends one a
/// second while they type, and one more as the page closes).
const LEARNER_BURST: f64 = 6.0;
const LEARNER_PER_SECOND: f64 = 2.0;
/// Draft bytes one client address may write in a burst, and per second after it: a class
/// behind one address typing small files stays far below; a script writing the largest
/// drafts from many learners is held to it.
const ADDRESS_BURST_BYTES: f64 = 8.0 * 1024.0 * 1024.0;
const ADDRESS_BYTES_PER_SECOND: f64 = 1024.0 * 1024.0;

/// Token buckets: how much each learner and each address may still save, so that a script
/// cannot keep the database writing.
#[derive(Default)]
pub struct DraftGate {
    learners: Mutex<HashMap<String, (f64, Instant)>>,
    addresses: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Take `cost` from `key`'s bucket (refilled at `rate` a second up to `burst`).
fn take(
    buckets: &Mutex<HashMap<String, (f64, Instant)>>,
    key: &str,
    cost: f64,
    burst: f64,
    rate: f64,
) -> bool {
    let mut buckets = crate::sync::lock(buckets);
    let now = Instant::now();
    if buckets.len() > 10_000 {
        // Full buckets hold nothing worth keeping.
        buckets.retain(|_, (tokens, at)| {
            *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
        });
    }
    let (tokens, at) = buckets.entry(key.to_string()).or_insert((burst, now));
    *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
    *at = now;
    if *tokens >= cost {
        *tokens -= cost;
        true
    } else {
        false
    }
}

impl DraftGate {
    fn admit(&self, learner: &str, address: &str, bytes: usize) -> Result<(), WorkbenchError> {
        if !take(
            &self.learners,
            learner,
            1.0,
            LEARNER_BURST,
            LEARNER_PER_SECOND,
        ) {
            return Err(WorkbenchError::TooSoon);
        }
        let cost = bytes.max(1024) as f64;
        if !take(
            &self.addresses,
            address,
            cost,
            ADDRESS_BURST_BYTES,
            ADDRESS_BYTES_PER_SECOND,
        ) {
            return Err(WorkbenchError::AddressTooFast);
        }
        Ok(())
    }
}

/// Keep `files` as the learner's draft of `exercise` (the playground too). The files obey the
/// same rules as a build's (a draft need not have a Dockerfile yet), up to
/// [`MAX_DRAFT_BYTES`] together; an unchanged draft is not written again.
#[allow(clippy::too_many_arguments)]
pub async fn save_draft(
    store: &Store,
    exercises: &Exercises,
    gate: &DraftGate,
    limits: &ContextLimits,
    learner: &str,
    address: &str,
    exercise: &str,
    files: BTreeMap<String, String>,
) -> Result<(), WorkbenchError> {
    if exercise != PLAYGROUND && exercises.get(exercise).is_none() {
        return Err(WorkbenchError::UnknownExercise(exercise.to_string()));
    }
    let bytes: usize = files.iter().map(|(p, t)| p.len() + t.len()).sum();
    if bytes > MAX_DRAFT_BYTES {
        return Err(WorkbenchError::DraftTooLarge);
    }
    gate.admit(learner, address, bytes)?;
    match BuildContext::new(files.clone(), limits) {
        Ok(_) | Err(ContextError::NoDockerfile) => {}
        Err(e) => return Err(WorkbenchError::Files(e)),
    }
    if store.disk_too_full().is_some() {
        return Err(WorkbenchError::DiskFull);
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
    let missed = store
        .exercise_tallies(learner)
        .await?
        .get(&exercise.id)
        .map_or(0, |t| t.missed_checks);
    open_hints(store, exercise, learner, missed + pending).await
}

/// The hints open after `missed` builds that reached the checks without passing, with those
/// the learner asked for (for callers that have counted the misses already).
pub async fn open_hints(
    store: &Store,
    exercise: &Exercise,
    learner: &str,
    missed: u32,
) -> Result<Vec<String>, WorkbenchError> {
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
    // Once every hint was asked for, there is nothing to write.
    if store.hints_requested(learner, &exercise.id).await? < total {
        store.request_hint(learner, &exercise.id, total).await?;
    }
    unlocked_hints(store, exercise, learner, 0).await
}
