//! Learners, cohorts and instructors: what the profile page, the login page and the
//! instructor's dashboard show.

use super::{BuildView, LogLine, ProgressStatus};
use serde::{Deserialize, Serialize};

/// `/me`: who the learner is to layerlab and how to continue elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub display_name: Option<String>,
    /// Typed on another browser (or used in the resume link) to continue there; none until
    /// the visitor does something (a page view starts no learner).
    pub resume_code: Option<String>,
    /// The cohort's name, when the learner joined one.
    pub cohort: Option<String>,
    pub exercises_passed: u32,
    pub exercises_total: u32,
    pub quizzes_done: u32,
    pub quizzes_total: u32,
    /// Every exercise in course order, with this learner's progress on it.
    #[serde(default)]
    pub exercises: Vec<super::ExerciseLink>,
    /// For the forms on the page.
    pub csrf: String,
    /// The outcome of the last form sent (e.g. "You joined …" or what was wrong).
    pub notice: Option<Notice>,
}

/// A one-time message after a form post.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub ok: bool,
    pub text: String,
}

impl Notice {
    /// What was asked was done.
    pub fn done(text: impl Into<String>) -> Self {
        Notice {
            ok: true,
            text: text.into(),
        }
    }

    /// What was asked was not done, and why.
    pub fn refused(text: impl Into<String>) -> Self {
        Notice {
            ok: false,
            text: text.into(),
        }
    }
}

/// `/resume/<code>`: whose work the code continues, before the learner confirms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResumeOffer {
    pub code: String,
    /// `None` when no learner has this code.
    pub learner_name: Option<String>,
    pub exercises_passed: u32,
    pub csrf: String,
}

/// `/instructor/login`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoginPage {
    pub csrf: String,
    pub notice: Option<Notice>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CohortSummary {
    pub id: String,
    pub name: String,
    pub join_code: String,
    pub learners: u32,
}

/// `/instructor`: the instructor's cohorts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstructorHome {
    pub name: String,
    pub cohorts: Vec<CohortSummary>,
    pub csrf: String,
    pub notice: Option<Notice>,
    /// `docker login <registry> -u <username>` for the class registry, where layerlab runs
    /// it: the instructor pulls their learners' pushes with it.
    #[serde(default)]
    pub registry_login: Option<String>,
}

/// A column of the dashboard: one exercise or one quiz, in course order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardColumn {
    /// `exercise:<id>` or `quiz:<lesson>/<quiz>`.
    pub key: String,
    pub title: String,
    /// Short heading for the narrow column.
    pub short: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardCell {
    pub status: ProgressStatus,
    /// Builds, or quiz submissions.
    pub attempts: u32,
    /// The best image size (exercises) or the latest score (quizzes), for the tooltip.
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardRow {
    pub learner_id: String,
    pub name: String,
    pub last_seen: String,
    pub cells: Vec<DashboardCell>,
}

/// `/instructor/cohorts/<id>`: learners × exercises and quizzes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub cohort: CohortSummary,
    pub columns: Vec<DashboardColumn>,
    pub rows: Vec<DashboardRow>,
    /// E.g. "Cohort created", right after the form that made it.
    #[serde(default)]
    pub notice: Option<Notice>,
}

/// One attempt in a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptSummary {
    pub id: String,
    pub exercise: String,
    pub status: String,
    pub passed: bool,
    pub checks_passed: u32,
    pub checks_total: u32,
    pub size_bytes: Option<u64>,
    pub layers: Option<u32>,
    pub at: String,
}

impl AttemptSummary {
    /// What the attempt came to, in the words the workbench's verdict uses: *passed* (every
    /// check), *built* (with how many checks pass), *not built*; or why it ended early.
    pub fn outcome(&self) -> String {
        match self.status.as_str() {
            _ if self.passed && self.checks_total == 1 => "passed: the check".into(),
            _ if self.passed => format!("passed: all {} checks", self.checks_total),
            // A console exercise's check made no image: it was checked, not built.
            "succeeded" if self.size_bytes.is_none() => format!(
                "checked, {} of {} checks pass",
                self.checks_passed, self.checks_total
            ),
            "succeeded" => format!(
                "built, {} of {} checks pass",
                self.checks_passed, self.checks_total
            ),
            "failed" => "not built".into(),
            "interrupted" => "interrupted (server restart)".into(),
            "cancelled" => "cancelled (a newer build replaced it)".into(),
            other => other.to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExerciseAttempts {
    pub id: String,
    pub title: String,
    pub attempts: Vec<AttemptSummary>,
}

/// One quiz submission, with what the learner answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuizRecord {
    pub lesson: String,
    pub quiz: String,
    pub title: String,
    pub correct: usize,
    pub total: usize,
    pub answers: Vec<AnsweredQuestion>,
    pub at: String,
}

/// One answer of a quiz submission, in the words the learner saw (not the options' ids).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnsweredQuestion {
    pub id: String,
    /// Sanitized inline HTML.
    pub prompt_html: String,
    pub correct: bool,
    /// The chosen options' text or the typed answer, as sanitized inline HTML; empty when
    /// nothing was given.
    pub given_html: Vec<String>,
    /// The right answer (sanitized inline HTML), when the learner's was wrong.
    pub right_html: Option<String>,
}

/// `/instructor/cohorts/<id>/learners/<learner>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnerRecord {
    pub cohort: CohortSummary,
    pub learner_id: String,
    pub name: String,
    pub exercises: Vec<ExerciseAttempts>,
    pub quizzes: Vec<QuizRecord>,
    /// What the learner's namespace in the class registry holds (where layerlab runs it).
    #[serde(default)]
    pub registry: Option<crate::dto::RegistryView>,
    /// Why it cannot be shown, when it cannot.
    #[serde(default)]
    pub registry_problem: Option<String>,
}

/// `/instructor/attempts/<id>`: everything the learner saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub cohort_id: String,
    pub learner_id: String,
    pub learner_name: String,
    pub exercise_title: String,
    pub summary: AttemptSummary,
    pub files: Vec<(String, String)>,
    pub log: Vec<LogLine>,
    pub view: BuildView,
}

#[cfg(test)]
mod outcome_tests {
    use super::AttemptSummary;

    fn attempt(status: &str, passed: bool, checks_passed: u32) -> AttemptSummary {
        AttemptSummary {
            id: "a".into(),
            exercise: "e".into(),
            status: status.into(),
            passed,
            checks_passed,
            checks_total: 3,
            size_bytes: (status == "succeeded").then_some(1024),
            layers: None,
            at: String::new(),
        }
    }

    #[test]
    fn an_attempt_reads_in_the_verdicts_words() {
        assert_eq!(
            attempt("succeeded", true, 3).outcome(),
            "passed: all 3 checks"
        );
        assert_eq!(
            attempt("succeeded", false, 1).outcome(),
            "built, 1 of 3 checks pass"
        );
        assert_eq!(attempt("failed", false, 0).outcome(), "not built");
        // A console exercise's check makes no image.
        let checked = AttemptSummary {
            size_bytes: None,
            ..attempt("succeeded", false, 2)
        };
        assert_eq!(checked.outcome(), "checked, 2 of 3 checks pass");
        let one = AttemptSummary {
            checks_total: 1,
            ..attempt("succeeded", true, 1)
        };
        assert_eq!(one.outcome(), "passed: the check");
    }
}
