//! Quizzes as data: parsed from a lesson's ```` ```quiz ```` blocks (TOML), checked for
//! authoring mistakes, shown without their answer key, and graded on the server.

use super::markdown::{render_block, render_inline};
use app::dto::{
    AnsweredQuestion, ChoiceOption, QuestionGrade, QuestionKind, QuestionView, QuizAnswers,
    QuizGrade, QuizView,
};
use serde::Deserialize;
use std::collections::HashSet;

/// Longest typed answer we accept; anything longer is not an answer to a short question.
pub const MAX_TYPED_ANSWER: usize = 200;

/// A quiz as its author writes it, answer key included.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quiz {
    /// Unique within the lesson; stable, because learners' answers are kept by it.
    pub id: String,
    pub title: String,
    #[serde(rename = "question")]
    pub questions: Vec<Question>,
    /// The questions as a learner sees them, rendered from Markdown once (rendering and
    /// sanitizing on each page view was a quarter of a lesson page's cost).
    #[serde(skip)]
    rendered: std::sync::OnceLock<Vec<QuestionView>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Question {
    /// Exactly one option is right.
    Single {
        id: String,
        prompt: String,
        options: Vec<AnswerOption>,
        answer: String,
        explanation: String,
    },
    /// Every option in `answers` must be picked, and no other.
    Multiple {
        id: String,
        prompt: String,
        options: Vec<AnswerOption>,
        answers: Vec<String>,
        explanation: String,
    },
    /// A short typed answer, right when it matches one of `accept` (ignoring case and spacing).
    Typed {
        id: String,
        prompt: String,
        accept: Vec<String>,
        #[serde(default)]
        placeholder: String,
        explanation: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerOption {
    pub id: String,
    pub text: String,
}

/// A submission the grader refuses outright (rather than marking wrong).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmissionError {
    #[error("quiz `{quiz}` has no question `{question}`")]
    UnknownQuestion { quiz: String, question: String },
    #[error("question `{question}` has no option `{option}`")]
    UnknownOption { question: String, option: String },
    #[error("the answer to question `{question}` is longer than {MAX_TYPED_ANSWER} characters")]
    TooLong { question: String },
    /// Some questions have no answer: nothing is graded, so no explanation gives an answer
    /// away. `numbers` are 1-based positions, as the form shows them.
    #[error("{}", app::dto::unanswered_message(numbers))]
    Unanswered {
        questions: Vec<String>,
        numbers: Vec<usize>,
    },
}

impl Question {
    pub fn id(&self) -> &str {
        match self {
            Self::Single { id, .. } | Self::Multiple { id, .. } | Self::Typed { id, .. } => id,
        }
    }

    fn prompt(&self) -> &str {
        match self {
            Self::Single { prompt, .. }
            | Self::Multiple { prompt, .. }
            | Self::Typed { prompt, .. } => prompt,
        }
    }

    fn explanation(&self) -> &str {
        match self {
            Self::Single { explanation, .. }
            | Self::Multiple { explanation, .. }
            | Self::Typed { explanation, .. } => explanation,
        }
    }

    fn options(&self) -> &[AnswerOption] {
        match self {
            Self::Single { options, .. } | Self::Multiple { options, .. } => options,
            Self::Typed { .. } => &[],
        }
    }

    fn is_right(&self, given: &[String]) -> bool {
        match self {
            Self::Single { answer, .. } => given.len() == 1 && given[0] == *answer,
            Self::Multiple { answers, .. } => {
                let given: HashSet<&str> = given.iter().map(String::as_str).collect();
                let wanted: HashSet<&str> = answers.iter().map(String::as_str).collect();
                given == wanted
            }
            Self::Typed { accept, .. } => match given {
                [one] => accept
                    .iter()
                    .any(|a| normalize_typed(a) == normalize_typed(one)),
                _ => false,
            },
        }
    }
}

/// A stored answer as an instructor reads it: the question's prompt and the chosen
/// options' text, and the right answer when it was wrong. An answer to a question the
/// course no longer has is shown as it was stored.
pub fn describe_answer(quiz: Option<&Quiz>, graded: &QuestionGrade) -> AnsweredQuestion {
    let escaped = |given: &[String]| given.iter().map(|g| escape_html(g)).collect();
    let Some(q) = quiz.and_then(|quiz| quiz.questions.iter().find(|q| q.id() == graded.id)) else {
        return AnsweredQuestion {
            id: graded.id.clone(),
            prompt_html: escape_html(&graded.id),
            correct: graded.correct,
            given_html: escaped(&graded.given),
            right_html: None,
        };
    };
    let label = |id: &str| {
        q.options()
            .iter()
            .find(|o| o.id == id)
            .map_or_else(|| escape_html(id), |o| render_inline(&o.text))
    };
    let (given_html, right) = match q {
        Question::Single { answer, .. } => (
            graded.given.iter().map(|g| label(g)).collect(),
            label(answer),
        ),
        Question::Multiple { answers, .. } => (
            graded.given.iter().map(|g| label(g)).collect(),
            answers
                .iter()
                .map(|a| label(a))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Question::Typed { accept, .. } => (
            escaped(&graded.given),
            accept.first().map(|a| escape_html(a)).unwrap_or_default(),
        ),
    };
    AnsweredQuestion {
        id: graded.id.clone(),
        prompt_html: render_inline(q.prompt()),
        correct: graded.correct,
        given_html,
        right_html: (!graded.correct).then_some(right),
    }
}

/// Text as HTML that shows it as typed.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Case, surrounding space and repeated inner space do not make a typed answer wrong.
fn normalize_typed(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Fewest options a single-choice question may offer: with two, a learner who rules out one
/// has the answer without knowing it.
pub const MIN_SINGLE_OPTIONS: usize = 3;

/// Short docker options that take a value and mean the same in every docker command that
/// has them, with their long names. (`-t` is `--tag` for `build` but `--time` for `stop`,
/// `-f` a file for `build` but a switch for `rm`: such letters are not listed.)
const SHORT_OPTIONS: &[(char, &str)] = &[
    ('p', "publish"),
    ('e', "env"),
    ('u', "user"),
    ('w', "workdir"),
];

/// Every spelling the docker CLI reads the same as `answer`, when `answer` is one docker
/// option with its value; `None` for any other answer. The long form is written
/// `--name value` or `--name=value`; a short option from [`SHORT_OPTIONS`] also `-x value`,
/// `-xvalue` or `-x=value`, and either name stands for the other. A port mapping
/// (`[ip:]host:container`) means the same with `/tcp` after it. The spellings come back
/// normalized, as [`normalize_typed`] compares them.
pub fn cli_spellings(answer: &str) -> Option<Vec<String>> {
    let answer = normalize_typed(answer);
    let (short, long, value) = split_option(&answer)?;
    let values = match port_mapping(value) {
        Some(mapping) => vec![mapping.to_string(), format!("{mapping}/tcp")],
        None => vec![value.to_string()],
    };
    let mut spellings = Vec::new();
    for v in &values {
        if let Some(c) = short {
            spellings.extend([format!("-{c} {v}"), format!("-{c}{v}"), format!("-{c}={v}")]);
        }
        spellings.extend([format!("--{long} {v}"), format!("--{long}={v}")]);
    }
    Some(spellings)
}

/// `(short letter, long name, value)` of an answer that is one option and its value.
fn split_option(answer: &str) -> Option<(Option<char>, &str, &str)> {
    let words: Vec<&str> = answer.split(' ').collect();
    let (flag, value) = match words[..] {
        [flag, value] if !value.starts_with('-') => (flag, value),
        [one] => match one.split_once('=') {
            Some((flag, value)) if is_flag(flag) => (flag, value),
            // `-p80:5000`: a short option with its value attached.
            _ => {
                let mut chars = one.chars();
                match (chars.next(), chars.next()) {
                    (Some('-'), Some(c)) if c.is_ascii_alphabetic() => one.split_at(2),
                    _ => return None,
                }
            }
        },
        _ => return None,
    };
    if value.is_empty() {
        return None;
    }
    if let Some(long) = flag.strip_prefix("--") {
        let is_name = !long.is_empty()
            && long
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !is_name {
            return None;
        }
        let short = SHORT_OPTIONS
            .iter()
            .find(|(_, l)| *l == long)
            .map(|(c, _)| *c);
        return Some((short, long, value));
    }
    let letter = flag.strip_prefix('-').filter(|l| l.len() == 1)?;
    SHORT_OPTIONS
        .iter()
        .find(|(c, _)| letter.starts_with(*c))
        .map(|(c, long)| (Some(*c), *long, value))
}

fn is_flag(word: &str) -> bool {
    word.starts_with("--") || (word.len() == 2 && word.starts_with('-'))
}

/// The mapping without `/tcp` when `value` is `[a.b.c.d:]host:container[/tcp]`.
fn port_mapping(value: &str) -> Option<&str> {
    let mapping = value.strip_suffix("/tcp").unwrap_or(value);
    let numbers = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = mapping.split(':').collect();
    let ports_ok = match parts[..] {
        [host, container] => numbers(host) && numbers(container),
        [ip, host, container] => {
            let octets: Vec<&str> = ip.split('.').collect();
            octets.len() == 4
                && octets.iter().all(|o| numbers(o))
                && numbers(host)
                && numbers(container)
        }
        _ => false,
    };
    ports_ok.then_some(mapping)
}

/// The spellings of the docker options in `accept` that `accept` itself lacks, in order.
pub fn missing_spellings(accept: &[String]) -> Vec<String> {
    let given: HashSet<String> = accept.iter().map(|a| normalize_typed(a)).collect();
    let mut missing: Vec<String> = Vec::new();
    for spelling in accept.iter().filter_map(|a| cli_spellings(a)).flatten() {
        if !given.contains(&spelling) && !missing.contains(&spelling) {
            missing.push(spelling);
        }
    }
    missing
}

impl Quiz {
    pub fn parse(toml_src: &str) -> Result<Self, String> {
        let quiz: Quiz = toml::from_str(toml_src).map_err(|e| e.to_string())?;
        quiz.check()?;
        Ok(quiz)
    }

    /// Authoring mistakes, phrased so the author knows what to fix.
    fn check(&self) -> Result<(), String> {
        if self.questions.is_empty() {
            return Err(format!("quiz `{}` has no [[question]]", self.id));
        }
        let mut ids = HashSet::new();
        for q in &self.questions {
            if !ids.insert(q.id()) {
                return Err(format!(
                    "quiz `{}` has two questions with id `{}`",
                    self.id,
                    q.id()
                ));
            }
            let options: HashSet<&str> = q.options().iter().map(|o| o.id.as_str()).collect();
            if options.len() != q.options().len() {
                return Err(format!("question `{}` repeats an option id", q.id()));
            }
            let key: Vec<&String> = match q {
                Question::Single { answer, .. } => vec![answer],
                Question::Multiple { answers, .. } => answers.iter().collect(),
                Question::Typed { accept, .. } => {
                    if accept.is_empty() {
                        return Err(format!("typed question `{}` accepts no answer", q.id()));
                    }
                    let missing = missing_spellings(accept);
                    if !missing.is_empty() {
                        return Err(format!(
                            "typed question `{}` accepts a docker option in some of its spellings only: add {} to `accept` (the docker CLI reads them all the same)",
                            q.id(),
                            missing
                                .iter()
                                .map(|m| format!("\"{m}\""))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    vec![]
                }
            };
            if matches!(q, Question::Single { .. }) && q.options().len() < MIN_SINGLE_OPTIONS {
                return Err(format!(
                    "single-choice question `{}` has {} options: give it at least {MIN_SINGLE_OPTIONS}, the wrong ones wrong for a reason the explanation can name",
                    q.id(),
                    q.options().len()
                ));
            }
            if matches!(q, Question::Multiple { .. }) && q.options().len() < 2 {
                return Err(format!("question `{}` needs at least two options", q.id()));
            }
            if matches!(q, Question::Multiple { answers, .. } if answers.is_empty()) {
                return Err(format!(
                    "question `{}` has no right option in `answers`",
                    q.id()
                ));
            }
            if let Some(missing) = key.iter().find(|k| !options.contains(k.as_str())) {
                return Err(format!(
                    "question `{}` names answer `{missing}`, which is not one of its options",
                    q.id()
                ));
            }
        }
        Ok(())
    }

    /// The quiz as the browser may see it: no answer key, prompts rendered.
    pub fn view(&self, last_grade: Option<QuizGrade>) -> QuizView {
        QuizView {
            id: self.id.clone(),
            title: self.title.clone(),
            questions: self.rendered.get_or_init(|| self.render()).clone(),
            last_grade,
            ungraded: None,
        }
    }

    fn render(&self) -> Vec<QuestionView> {
        self.questions
            .iter()
            .map(|q| {
                let options = || {
                    q.options()
                        .iter()
                        .map(|o| ChoiceOption {
                            id: o.id.clone(),
                            label_html: render_inline(&o.text),
                        })
                        .collect()
                };
                let kind = match q {
                    Question::Single { .. } => QuestionKind::Single { options: options() },
                    Question::Multiple { .. } => QuestionKind::Multiple { options: options() },
                    Question::Typed { placeholder, .. } => QuestionKind::Typed {
                        placeholder: placeholder.clone(),
                    },
                };
                QuestionView {
                    id: q.id().to_string(),
                    prompt_html: render_inline(q.prompt()),
                    kind,
                }
            })
            .collect()
    }

    /// Grade a submission. Answers that cannot belong to this quiz are refused, and so is a
    /// submission that leaves any question unanswered (grading it would show the explanations,
    /// which give the answers away).
    pub fn grade(&self, answers: &QuizAnswers) -> Result<QuizGrade, SubmissionError> {
        for (qid, given) in answers {
            let Some(q) = self.questions.iter().find(|q| q.id() == qid) else {
                return Err(SubmissionError::UnknownQuestion {
                    quiz: self.id.clone(),
                    question: qid.clone(),
                });
            };
            match q {
                Question::Typed { .. } => {
                    if given.iter().any(|g| g.chars().count() > MAX_TYPED_ANSWER) {
                        return Err(SubmissionError::TooLong {
                            question: qid.clone(),
                        });
                    }
                }
                _ => {
                    if let Some(bad) = given
                        .iter()
                        .find(|g| !q.options().iter().any(|o| &o.id == *g))
                    {
                        return Err(SubmissionError::UnknownOption {
                            question: qid.clone(),
                            option: bad.clone(),
                        });
                    }
                }
            }
        }
        let given_to = |q: &Question| -> Vec<String> {
            answers
                .iter()
                .filter(|(id, _)| id == q.id())
                .flat_map(|(_, g)| g.iter().map(|s| s.trim().to_string()))
                .filter(|s| !s.is_empty())
                .collect()
        };
        let (questions, numbers): (Vec<String>, Vec<usize>) = self
            .questions
            .iter()
            .enumerate()
            .filter(|(_, q)| given_to(q).is_empty())
            .map(|(i, q)| (q.id().to_string(), i + 1))
            .unzip();
        if !questions.is_empty() {
            return Err(SubmissionError::Unanswered { questions, numbers });
        }
        let questions: Vec<QuestionGrade> = self
            .questions
            .iter()
            .map(|q| {
                let given = given_to(q);
                QuestionGrade {
                    id: q.id().to_string(),
                    correct: q.is_right(&given),
                    given,
                    explanation_html: render_block(q.explanation()),
                }
            })
            .collect();
        Ok(QuizGrade {
            quiz: self.id.clone(),
            correct: questions.iter().filter(|q| q.correct).count(),
            total: questions.len(),
            questions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEMVER: &str = r#"
id = "next-version"
title = "Which version comes next?"

[[question]]
id = "refactor"
kind = "typed"
prompt = "The image is tagged `1.14.0`. You refactor the code; nothing changes for users."
accept = ["1.14.1", "v1.14.1"]
explanation = "A fix that changes no behaviour bumps PATCH."

[[question]]
id = "rename"
kind = "single"
prompt = "You rename an endpoint that clients call."
options = [{ id = "patch", text = "`1.14.1`" }, { id = "minor", text = "`1.15.0`" }, { id = "major", text = "`2.0.0`" }]
answer = "major"
explanation = "Breaking callers bumps MAJOR."

[[question]]
id = "layers"
kind = "multiple"
prompt = "Which make a layer?"
options = [{ id = "run", text = "RUN" }, { id = "env", text = "ENV" }, { id = "copy", text = "COPY" }]
answers = ["run", "copy"]
explanation = "RUN, COPY and ADD."
"#;

    fn answers(pairs: &[(&str, &[&str])]) -> QuizAnswers {
        pairs
            .iter()
            .map(|(q, a)| (q.to_string(), a.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn grades_each_kind_right_and_wrong() {
        let quiz = Quiz::parse(SEMVER).expect("valid quiz");
        let all_right = quiz
            .grade(&answers(&[
                ("refactor", &[" V1.14.1 "]),
                ("rename", &["major"]),
                ("layers", &["copy", "run"]),
            ]))
            .expect("graded");
        assert_eq!((all_right.correct, all_right.total), (3, 3));

        let all_wrong = quiz
            .grade(&answers(&[
                ("refactor", &["1.15.0"]),
                ("rename", &["minor"]),
                ("layers", &["run"]),
            ]))
            .expect("graded");
        assert_eq!(all_wrong.correct, 0);
        assert!(all_wrong.questions.iter().all(|q| !q.correct));
        assert_eq!(
            all_wrong.question("refactor").map(|q| q.given.clone()),
            Some(vec!["1.15.0".to_string()])
        );
        assert!(all_wrong
            .question("rename")
            .is_some_and(|q| q.explanation_html.contains("MAJOR")));
    }

    #[test]
    fn extra_picks_fail_multiple() {
        let quiz = Quiz::parse(SEMVER).expect("valid quiz");
        let g = quiz
            .grade(&answers(&[
                ("refactor", &["1.14.1"]),
                ("rename", &["major"]),
                ("layers", &["run", "copy", "env"]),
            ]))
            .expect("graded");
        assert_eq!((g.correct, g.total), (2, 3));
        assert!(g.question("layers").is_some_and(|q| !q.correct));
    }

    #[test]
    fn a_quiz_with_a_blank_answer_is_not_graded() {
        let quiz = Quiz::parse(SEMVER).expect("valid quiz");
        // Blank text, an empty choice list and a question left out all count as unanswered.
        let err = quiz
            .grade(&answers(&[("refactor", &["  "]), ("layers", &[])]))
            .expect_err("not graded");
        assert_eq!(
            err,
            SubmissionError::Unanswered {
                questions: vec!["refactor".into(), "rename".into(), "layers".into()],
                numbers: vec![1, 2, 3],
            }
        );
        let err = quiz
            .grade(&answers(&[("refactor", &["1.14.1"]), ("layers", &["run"])]))
            .expect_err("not graded");
        let message = err.to_string();
        assert_eq!(
            message,
            "Answer every question first: question 2 has no answer yet."
        );
        assert!(!message.contains("MAJOR"), "no explanation leaks");
        // A wrong option is still named as such, before the blanks.
        assert!(matches!(
            quiz.grade(&answers(&[("rename", &["huge"])])),
            Err(SubmissionError::UnknownOption { .. })
        ));
    }

    #[test]
    fn refuses_answers_that_cannot_belong() {
        let quiz = Quiz::parse(SEMVER).expect("valid quiz");
        assert_eq!(
            quiz.grade(&answers(&[("nope", &["x"])])),
            Err(SubmissionError::UnknownQuestion {
                quiz: "next-version".into(),
                question: "nope".into()
            })
        );
        assert_eq!(
            quiz.grade(&answers(&[("rename", &["huge"])])),
            Err(SubmissionError::UnknownOption {
                question: "rename".into(),
                option: "huge".into()
            })
        );
        let long = "1".repeat(MAX_TYPED_ANSWER + 1);
        assert_eq!(
            quiz.grade(&answers(&[("refactor", &[long.as_str()])])),
            Err(SubmissionError::TooLong {
                question: "refactor".into()
            })
        );
    }

    #[test]
    fn an_answer_is_described_in_the_words_the_learner_saw() {
        let quiz = Quiz::parse(SEMVER).expect("valid quiz");
        let g = quiz
            .grade(&answers(&[
                ("refactor", &["<b>1.14.1</b>"]),
                ("rename", &["minor"]),
                ("layers", &["copy", "run"]),
            ]))
            .expect("graded");
        let rename = describe_answer(Some(&quiz), g.question("rename").expect("graded"));
        assert_eq!(
            rename.prompt_html,
            "You rename an endpoint that clients call."
        );
        assert_eq!(rename.given_html, ["<code>1.15.0</code>"]);
        assert_eq!(rename.right_html.as_deref(), Some("<code>2.0.0</code>"));
        let layers = describe_answer(Some(&quiz), g.question("layers").expect("graded"));
        assert_eq!(
            (layers.given_html.join(", "), layers.right_html),
            ("COPY, RUN".into(), None)
        );
        let typed = describe_answer(Some(&quiz), g.question("refactor").expect("graded"));
        assert_eq!(
            typed.given_html,
            ["&lt;b&gt;1.14.1&lt;/b&gt;"],
            "typed text is escaped"
        );
        assert_eq!(typed.right_html.as_deref(), Some("1.14.1"));
    }

    #[test]
    fn the_view_carries_no_answer_key() {
        let quiz = Quiz::parse(SEMVER).expect("valid quiz");
        let json = serde_json::to_string(&quiz.view(None)).expect("serializes");
        assert!(!json.contains("v1.14.1"), "typed answers leaked: {json}");
        assert!(!json.contains("\"answer"), "choice answers leaked: {json}");
        assert!(!json.contains("\"accept"), "typed answers leaked: {json}");
        assert!(
            !json.contains("Breaking callers"),
            "explanations are sent only after grading: {json}"
        );
        assert!(json.contains("<code>1.14.0</code>"));
    }

    #[test]
    fn docker_option_answers_have_every_cli_spelling() {
        let publish = cli_spellings("-p 80:5000").expect("an option with a value");
        for spelling in [
            "-p 80:5000",
            "-p80:5000",
            "-p=80:5000",
            "--publish 80:5000",
            "--publish=80:5000",
            "-p 80:5000/tcp",
            "--publish=80:5000/tcp",
        ] {
            assert!(
                publish.contains(&spelling.to_string()),
                "{spelling}: {publish:?}"
            );
        }
        assert_eq!(publish.len(), 10);
        // Any spelling leads to the same set.
        let mut from_long = cli_spellings(" --PUBLISH=80:5000/tcp ").expect("option");
        let mut sorted = publish.clone();
        from_long.sort();
        sorted.sort();
        assert_eq!(from_long, sorted);
        assert_eq!(
            cli_spellings("--target build"),
            Some(vec!["--target build".into(), "--target=build".into()])
        );
        assert!(cli_spellings("-eMODE=prod")
            .expect("short option, value attached")
            .contains(&"--env=mode=prod".to_string()));
        let with_ip = cli_spellings("-p 0.0.0.0:80:5000").expect("option");
        assert!(with_ip.contains(&"--publish=0.0.0.0:80:5000/tcp".to_string()));
        // Not one option with a value: no rule applies.
        for other in [
            "1.14.1",
            "id -u",
            "id --user",
            "ping -c 3 example.org",
            "shop.web:app",
            "-t app",
            "/srv/www",
        ] {
            assert_eq!(cli_spellings(other), None, "{other}");
        }
        // A UDP mapping is not the TCP one.
        assert!(!cli_spellings("-p 53:53/udp")
            .expect("option")
            .iter()
            .any(|s| s.ends_with("/tcp")));
    }

    #[test]
    fn a_typed_docker_option_must_accept_every_spelling() {
        let one_spelling = SEMVER.replace(
            "accept = [\"1.14.1\", \"v1.14.1\"]",
            "accept = [\"-p 80:5000\", \"--publish 80:5000\"]",
        );
        let err = Quiz::parse(&one_spelling).expect_err("spellings missing");
        assert!(
            err.contains("`refactor`")
                && err.contains("\"--publish=80:5000\"")
                && err.contains("\"-p 80:5000/tcp\"")
                && !err.contains("\"--publish 80:5000\","),
            "{err}"
        );
        let all: Vec<String> = cli_spellings("-p 80:5000").expect("option");
        let complete = SEMVER.replace(
            "accept = [\"1.14.1\", \"v1.14.1\"]",
            &format!("accept = {all:?}"),
        );
        Quiz::parse(&complete).expect("every spelling listed");
    }

    #[test]
    fn a_single_choice_question_needs_three_options() {
        let two = SEMVER
            .replace(", { id = \"major\", text = \"`2.0.0`\" }]", "]")
            .replace("answer = \"major\"", "answer = \"minor\"");
        let err = Quiz::parse(&two).expect_err("two options");
        assert!(
            err.contains("single-choice question `rename` has 2 options")
                && err.contains("at least 3"),
            "{err}"
        );
        // Multiple choice keeps its own minimum of two.
        let multiple_two = SEMVER
            .replace(", { id = \"copy\", text = \"COPY\" }]", "]")
            .replace("answers = [\"run\", \"copy\"]", "answers = [\"run\"]");
        Quiz::parse(&multiple_two).expect("two options are enough for multiple choice");
    }

    #[test]
    fn authoring_mistakes_are_named() {
        let bad_answer = SEMVER.replace("answer = \"major\"", "answer = \"mayor\"");
        let err = Quiz::parse(&bad_answer).expect_err("must fail");
        assert!(err.contains("`rename`") && err.contains("`mayor`"), "{err}");

        let dup = SEMVER.replace("id = \"rename\"", "id = \"refactor\"");
        assert!(Quiz::parse(&dup)
            .expect_err("must fail")
            .contains("two questions with id `refactor`"));

        let unknown_field = SEMVER.replace(
            "explanation = \"RUN, COPY and ADD.\"",
            "explanation = \"x\"\nhint = \"y\"",
        );
        assert!(Quiz::parse(&unknown_field)
            .expect_err("must fail")
            .contains("hint"));
    }
}
