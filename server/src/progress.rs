//! What learners did, as the rest of the server hears of it: a bus that says "learner X
//! changed something" (the instructor dashboard listens), and an exercise's progress as the
//! pages show it, from the tally of its attempts.

use crate::store::ExerciseTally;
use app::dto::{ExerciseProgress, ProgressStatus};
use tokio::sync::broadcast;

/// "Learner X did something": a finished attempt, a quiz answer, a new name or cohort. The
/// instructor dashboard listens and refreshes the rows of its cohort.
#[derive(Clone)]
pub struct ProgressSender(broadcast::Sender<String>);

impl Default for ProgressSender {
    fn default() -> Self {
        ProgressSender(broadcast::channel(1024).0)
    }
}

impl ProgressSender {
    pub fn publish(&self, learner: &str) {
        let _ = self.0.send(learner.to_string());
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.0.subscribe()
    }
}

/// What the course map and the exercise page show about one exercise.
pub fn progress_of(tally: &ExerciseTally) -> ExerciseProgress {
    ExerciseProgress {
        status: if tally.passed {
            ProgressStatus::Passed
        } else if tally.attempts > 0 {
            ProgressStatus::Tried
        } else {
            ProgressStatus::NotStarted
        },
        attempts: tally.attempts,
        best_size_bytes: tally.best_size_bytes,
    }
}
