//! Data shared by the server and the browser: what pages show, never answer keys.

use serde::{Deserialize, Serialize};

mod build;
mod console;
mod history;
mod layers;
mod people;
mod registry;
pub use build::*;
pub use console::*;
pub use history::*;
pub use layers::*;
pub use people::*;
pub use registry::*;

/// The course map: modules in order, each with its lessons in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CourseMap {
    pub title: String,
    pub modules: Vec<ModuleEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModuleEntry {
    pub id: String,
    pub title: String,
    pub lessons: Vec<LessonLink>,
    pub exercises: Vec<ExerciseLink>,
}

/// Enough about a lesson to link to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LessonLink {
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// Every quiz of the lesson answered fully right (on the course map; false elsewhere).
    #[serde(default)]
    pub done: bool,
}

/// One lesson as the learner reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LessonView {
    pub slug: String,
    pub title: String,
    pub module_title: String,
    pub blocks: Vec<LessonBlock>,
    pub previous: Option<LessonLink>,
    pub next: Option<LessonLink>,
}

/// A lesson is prose interleaved with quizzes, in the order the author wrote them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LessonBlock {
    /// Sanitized HTML rendered from the lesson's markdown.
    Prose(String),
    Quiz(QuizView),
}

/// A quiz without its answer key, plus the learner's last graded submission if any.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuizView {
    pub id: String,
    pub title: String,
    pub questions: Vec<QuestionView>,
    pub last_grade: Option<QuizGrade>,
    /// A submission just refused because some questions had no answer (the form post without
    /// JavaScript): shown again, ungraded, with those questions marked.
    #[serde(default)]
    pub ungraded: Option<UngradedAnswers>,
}

/// What the learner gave in a submission that was not graded, and which questions it left
/// blank.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UngradedAnswers {
    pub given: QuizAnswers,
    pub missing: Vec<String>,
}

/// `1 exercise`, `3 exercises`, `2 quizzes`: a count with its noun in the right number.
pub fn plural(count: usize, noun: &str) -> String {
    let nouns = match noun {
        "quiz" => "quizzes".to_string(),
        _ => format!("{noun}s"),
    };
    format!("{count} {}", if count == 1 { noun } else { &nouns })
}

/// What a learner is told when questions (1-based `numbers`) still need an answer.
pub fn unanswered_message(numbers: &[usize]) -> String {
    let list = match numbers {
        [] => return String::new(),
        [one] => return format!("Answer every question first: question {one} has no answer yet."),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(usize::to_string).collect();
            format!("{} and {last}", init.join(", "))
        }
    };
    format!("Answer every question first: questions {list} have no answer yet.")
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuestionView {
    pub id: String,
    /// Sanitized inline HTML.
    pub prompt_html: String,
    pub kind: QuestionKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum QuestionKind {
    /// Pick exactly one option.
    Single { options: Vec<ChoiceOption> },
    /// Pick every option that applies.
    Multiple { options: Vec<ChoiceOption> },
    /// Type a short answer (a version, a number, a command).
    Typed { placeholder: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChoiceOption {
    pub id: String,
    /// Sanitized inline HTML.
    pub label_html: String,
}

/// Quiz form fields are named this prefix + the question id.
pub const ANSWER_FIELD_PREFIX: &str = "q.";

/// The form field name that carries the answer to question `question_id`.
pub fn answer_field(question_id: &str) -> String {
    format!("{ANSWER_FIELD_PREFIX}{question_id}")
}

/// The URL a quiz form posts to when JavaScript is off.
pub fn quiz_form_action(lesson: &str, quiz: &str) -> String {
    format!("/learn/{lesson}/quiz/{quiz}")
}

/// The answers a learner submitted for one quiz: question id → chosen option ids or typed text.
pub type QuizAnswers = Vec<(String, Vec<String>)>;

/// The server's verdict on one quiz submission.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuizGrade {
    pub quiz: String,
    pub correct: usize,
    pub total: usize,
    pub questions: Vec<QuestionGrade>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuestionGrade {
    pub id: String,
    pub correct: bool,
    /// What the learner gave, so the form can show it again.
    pub given: Vec<String>,
    /// Sanitized HTML explaining the right answer.
    pub explanation_html: String,
}

impl QuizGrade {
    pub fn question(&self, id: &str) -> Option<&QuestionGrade> {
        self.questions.iter().find(|q| q.id == id)
    }
}

/// Whether learners can build right now, and why not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineStatus {
    /// Where the server looks for the engine (e.g. `unix:///var/run/docker.sock`).
    pub docker_host: String,
    pub reachable: bool,
    /// Engine version, e.g. `20.10.24+dfsg1`.
    pub version: Option<String>,
    pub api_version: Option<String>,
    /// Why the engine is not usable, in words a learner can act on.
    pub problem: Option<String>,
    /// The base images the course needs, and whether the engine has each.
    pub base_images: Vec<BaseImageStatus>,
    /// Every tagged image on the engine a learner could build `FROM` (build results left
    /// out); filled by `GET /api/v1/status` only.
    #[serde(default)]
    pub images: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaseImageStatus {
    pub name: String,
    pub present: bool,
}

impl EngineStatus {
    /// Builds can run: the engine answers and every base image is there.
    pub fn builds_available(&self) -> bool {
        self.reachable && self.base_images.iter().all(|b| b.present)
    }
}
