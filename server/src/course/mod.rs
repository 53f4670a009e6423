//! The course: `content/course.toml` gives the order of modules and lessons; each lesson is
//! `content/lessons/<slug>.md` with a `+++` TOML header, prose, and ```` ```quiz ```` blocks.
//! Loading checks everything an author can get wrong and says how to fix it.

pub mod markdown;
pub mod quiz;

use app::dto::{
    CourseMap, ExerciseLink, LessonBlock, LessonLink, LessonView, ModuleEntry, QuizGrade,
};
use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag};
use quiz::Quiz;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CourseError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// `course.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CourseFile {
    title: String,
    /// Images the exercises build `FROM`; the status page says whether the engine has them.
    #[serde(default)]
    base_images: Vec<String>,
    #[serde(rename = "module")]
    modules: Vec<ModuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleFile {
    id: String,
    title: String,
    lessons: Vec<String>,
    /// Exercise ids (folders in `exercises/`) practised in this module, in order.
    #[serde(default)]
    exercises: Vec<String>,
}

/// The `+++` header of a lesson.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: String,
    summary: String,
}

#[derive(Debug)]
pub struct Course {
    pub title: String,
    pub base_images: Vec<String>,
    pub modules: Vec<Module>,
    /// Every lesson in course order.
    pub lessons: Vec<Lesson>,
}

#[derive(Debug)]
pub struct Module {
    pub id: String,
    pub title: String,
    pub exercises: Vec<String>,
}

#[derive(Debug)]
pub struct Lesson {
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// Index into `Course::modules`.
    pub module: usize,
    pub blocks: Vec<Block>,
}

#[derive(Debug)]
pub enum Block {
    Prose(String),
    Quiz(Quiz),
}

impl Course {
    pub fn load(dir: &Path) -> Result<Self, CourseError> {
        let course_path = dir.join("course.toml");
        let file: CourseFile =
            toml::from_str(&read(&course_path)?).map_err(|e| CourseError::Invalid {
                path: course_path.clone(),
                message: e.to_string(),
            })?;
        let invalid = |message: String| CourseError::Invalid {
            path: course_path.clone(),
            message,
        };

        let mut modules = Vec::new();
        let mut lessons = Vec::new();
        let mut module_ids = HashSet::new();
        let mut slugs = HashSet::new();
        for (index, m) in file.modules.into_iter().enumerate() {
            if !module_ids.insert(m.id.clone()) {
                return Err(invalid(format!("module id `{}` is used twice", m.id)));
            }
            if m.lessons.is_empty() {
                return Err(invalid(format!("module `{}` lists no lessons", m.id)));
            }
            for slug in m.lessons {
                if !is_slug(&slug) {
                    return Err(invalid(format!(
                        "lesson `{slug}` in module `{}`: use lowercase letters, digits and dashes",
                        m.id
                    )));
                }
                if !slugs.insert(slug.clone()) {
                    return Err(invalid(format!("lesson `{slug}` is listed twice")));
                }
                lessons.push(load_lesson(dir, &slug, index)?);
            }
            modules.push(Module {
                id: m.id,
                title: m.title,
                exercises: m.exercises,
            });
        }
        if lessons.is_empty() {
            return Err(invalid(
                "the course has no lessons: add a [[module]] with lessons".into(),
            ));
        }
        check_every_file_is_listed(dir, &slugs)?;
        Ok(Course {
            title: file.title,
            base_images: file.base_images,
            modules,
            lessons,
        })
    }

    pub fn lesson(&self, slug: &str) -> Option<(usize, &Lesson)> {
        self.lessons
            .iter()
            .enumerate()
            .find(|(_, l)| l.slug == slug)
    }

    pub fn quiz(&self, lesson: &str, quiz: &str) -> Option<&Quiz> {
        self.lesson(lesson)?.1.blocks.iter().find_map(|b| match b {
            Block::Quiz(q) if q.id == quiz => Some(q),
            _ => None,
        })
    }

    /// Every exercise a module lists is among `exercises` (their ids), and every one is
    /// listed exactly once.
    pub fn check_exercise_links(&self, exercises: &[&str]) -> Result<(), CourseError> {
        let invalid = |message: String| CourseError::Invalid {
            path: PathBuf::from("course.toml"),
            message,
        };
        let mut listed = HashSet::new();
        for module in &self.modules {
            for id in &module.exercises {
                if !exercises.contains(&id.as_str()) {
                    return Err(invalid(format!(
                        "module `{}` lists exercise `{id}`, but there is no exercises/{id}/exercise.toml",
                        module.id
                    )));
                }
                if !listed.insert(id.as_str()) {
                    return Err(invalid(format!("exercise `{id}` is listed twice")));
                }
            }
        }
        if let Some(unlisted) = exercises.iter().find(|id| !listed.contains(*id)) {
            return Err(invalid(format!(
                "exercise `{unlisted}` is in no module; add it to a module's `exercises` list"
            )));
        }
        Ok(())
    }

    /// Whether `lesson` exists and, when `anchor` is not empty, has a heading with that id.
    pub fn has_anchor(&self, lesson: &str, anchor: &str) -> bool {
        let Some((_, l)) = self.lesson(lesson) else {
            return false;
        };
        anchor.is_empty()
            || l.blocks.iter().any(|b| match b {
                Block::Prose(html) => html.contains(&format!("id=\"{anchor}\"")),
                Block::Quiz(_) => false,
            })
    }

    /// The ids of the quizzes in `lesson`, in order.
    pub fn quiz_ids(&self, lesson: &str) -> Vec<String> {
        self.lesson(lesson)
            .map(|(_, l)| {
                l.blocks
                    .iter()
                    .filter_map(|b| match b {
                        Block::Quiz(q) => Some(q.id.clone()),
                        Block::Prose(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The exercise after `id` in course order (across modules), if any.
    pub fn next_exercise(&self, id: &str) -> Option<&str> {
        let mut order = self.modules.iter().flat_map(|m| m.exercises.iter());
        order.by_ref().find(|e| *e == id)?;
        order.next().map(String::as_str)
    }

    /// The course map; `exercise` gives the link of an exercise id (none for an unknown one).
    pub fn map(&self, exercise: impl Fn(&str) -> Option<ExerciseLink>) -> CourseMap {
        let modules = self
            .modules
            .iter()
            .enumerate()
            .map(|(i, m)| ModuleEntry {
                id: m.id.clone(),
                title: m.title.clone(),
                lessons: self
                    .lessons
                    .iter()
                    .filter(|l| l.module == i)
                    .map(Lesson::link)
                    .collect(),
                exercises: m.exercises.iter().filter_map(|id| exercise(id)).collect(),
            })
            .collect();
        CourseMap {
            title: self.title.clone(),
            modules,
        }
    }

    /// The lesson as the learner sees it; `last_grade` finds the learner's last grade per quiz.
    pub fn lesson_view(
        &self,
        slug: &str,
        last_grade: impl Fn(&str) -> Option<QuizGrade>,
    ) -> Option<LessonView> {
        let (index, lesson) = self.lesson(slug)?;
        let blocks = lesson
            .blocks
            .iter()
            .map(|b| match b {
                Block::Prose(html) => LessonBlock::Prose(html.clone()),
                Block::Quiz(q) => LessonBlock::Quiz(q.view(last_grade(&q.id))),
            })
            .collect();
        Some(LessonView {
            slug: lesson.slug.clone(),
            title: lesson.title.clone(),
            module_title: self.modules[lesson.module].title.clone(),
            blocks,
            previous: index
                .checked_sub(1)
                .and_then(|i| self.lessons.get(i))
                .map(Lesson::link),
            next: self.lessons.get(index + 1).map(Lesson::link),
        })
    }
}

impl Lesson {
    fn link(&self) -> LessonLink {
        LessonLink {
            slug: self.slug.clone(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            done: false,
        }
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn read(path: &Path) -> Result<String, CourseError> {
    std::fs::read_to_string(path).map_err(|source| CourseError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn lesson_path(dir: &Path, slug: &str) -> PathBuf {
    dir.join("lessons").join(format!("{slug}.md"))
}

fn load_lesson(dir: &Path, slug: &str, module: usize) -> Result<Lesson, CourseError> {
    let path = lesson_path(dir, slug);
    let src = read(&path)?;
    let invalid = |message: String| CourseError::Invalid {
        path: path.clone(),
        message,
    };
    let (header, body) = split_front_matter(&src).ok_or_else(|| {
        invalid(
            "start the file with a `+++` header holding title and summary, closed by `+++`".into(),
        )
    })?;
    let front: FrontMatter =
        toml::from_str(header).map_err(|e| invalid(format!("in the +++ header: {e}")))?;
    let blocks = split_blocks(body).map_err(invalid)?;
    Ok(Lesson {
        slug: slug.to_string(),
        title: front.title,
        summary: front.summary,
        module,
        blocks,
    })
}

fn split_front_matter(src: &str) -> Option<(&str, &str)> {
    let rest = src
        .strip_prefix("+++\n")
        .or_else(|| src.strip_prefix("+++\r\n"))?;
    let end = rest.find("\n+++")?;
    let header = &rest[..end];
    let body = rest[end + 4..].trim_start_matches(['\r', '\n']);
    Some((header, body))
}

/// Cut the lesson body at each ```` ```quiz ```` fence: prose before and after is rendered,
/// the fence's TOML becomes a quiz.
fn split_blocks(body: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut prose_start = 0;
    let mut quiz_ids = HashSet::new();
    let mut parser = Parser::new_ext(body, markdown::options()).into_offset_iter();
    while let Some((event, range)) = parser.next() {
        let Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) = &event else {
            continue;
        };
        if lang.as_ref() == "dockerfile" {
            let mut example = String::new();
            for (inner, _) in parser.by_ref() {
                match inner {
                    Event::Text(t) => example.push_str(&t),
                    Event::End(_) => break,
                    _ => {}
                }
            }
            check_dockerfile_example(&example)?;
            continue;
        }
        if lang.as_ref() != "quiz" {
            continue;
        }
        let mut toml_src = String::new();
        for (inner, _) in parser.by_ref() {
            match inner {
                Event::Text(t) => toml_src.push_str(&t),
                Event::End(_) => break,
                _ => {}
            }
        }
        push_prose(&mut blocks, &body[prose_start..range.start]);
        prose_start = range.end;
        let quiz = Quiz::parse(&toml_src).map_err(|e| format!("in a ```quiz block: {e}"))?;
        if !quiz_ids.insert(quiz.id.clone()) {
            return Err(format!("two quizzes have the id `{}`", quiz.id));
        }
        blocks.push(Block::Quiz(quiz));
    }
    push_prose(&mut blocks, &body[prose_start..]);
    Ok(blocks)
}

/// A Dockerfile example must say what the builder would read: a `#` after an instruction
/// is not a comment but part of its arguments (`WORKDIR /app  # here` names a folder
/// `/app  # here`), so a learner copying the example would get something else.
fn check_dockerfile_example(example: &str) -> Result<(), String> {
    for line in example.lines() {
        let trimmed = line.trim_start();
        let starts_instruction = trimmed
            .split_whitespace()
            .next()
            .is_some_and(|word| word.len() > 1 && word.chars().all(|c| c.is_ascii_uppercase()));
        if !starts_instruction {
            continue;
        }
        // Outside quotes, a `#` after whitespace.
        let mut quote = None;
        let mut previous = ' ';
        for c in trimmed.chars() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '#') if previous.is_whitespace() => {
                    return Err(format!(
                        "a ```dockerfile example has `#` after an instruction: `{}`. The builder reads that as part of the instruction, not as a comment; put the comment on a line of its own",
                        trimmed.trim_end()
                    ));
                }
                _ => {}
            }
            previous = c;
        }
    }
    Ok(())
}

fn push_prose(blocks: &mut Vec<Block>, src: &str) {
    if !src.trim().is_empty() {
        blocks.push(Block::Prose(markdown::render_block(src)));
    }
}

fn check_every_file_is_listed(dir: &Path, slugs: &HashSet<String>) -> Result<(), CourseError> {
    let lessons_dir = dir.join("lessons");
    let entries = std::fs::read_dir(&lessons_dir).map_err(|source| CourseError::Read {
        path: lessons_dir.clone(),
        source,
    })?;
    let mut unlisted: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".md"))
                .map(str::to_string)
        })
        .filter(|slug| !slugs.contains(slug))
        .collect();
    unlisted.sort();
    match unlisted.first() {
        None => Ok(()),
        Some(slug) => Err(CourseError::Invalid {
            path: lesson_path(dir, slug),
            message: format!("lesson `{slug}` is not listed in any module of course.toml: add it or delete the file"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_content() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../content")
    }

    #[test]
    fn the_real_course_loads_in_declared_order() {
        let course = Course::load(&real_content()).unwrap_or_else(|e| panic!("{e}"));
        let declared: toml::Value = toml::from_str(
            &std::fs::read_to_string(real_content().join("course.toml")).expect("read"),
        )
        .expect("toml");
        let expected: Vec<String> = declared["module"]
            .as_array()
            .expect("modules")
            .iter()
            .flat_map(|m| {
                m["lessons"]
                    .as_array()
                    .expect("lessons")
                    .iter()
                    .map(|l| l.as_str().expect("slug").to_string())
            })
            .collect();
        let loaded: Vec<String> = course.lessons.iter().map(|l| l.slug.clone()).collect();
        assert_eq!(loaded, expected);
        let map = course.map(|_| None);
        let from_map: Vec<String> = map
            .modules
            .iter()
            .flat_map(|m| m.lessons.iter().map(|l| l.slug.clone()))
            .collect();
        assert_eq!(from_map, expected, "the course map keeps the order");
        assert!(
            course
                .lessons
                .iter()
                .any(|l| l.blocks.iter().any(|b| matches!(b, Block::Quiz(_)))),
            "at least one quiz"
        );
    }

    /// Every question of the real course, with its lesson, for rules about all of them.
    fn every_question(course: &Course) -> Vec<(String, &quiz::Question)> {
        course
            .lessons
            .iter()
            .flat_map(|l| {
                l.blocks.iter().filter_map(move |b| match b {
                    Block::Quiz(q) => Some((l, q)),
                    Block::Prose(_) => None,
                })
            })
            .flat_map(|(l, q)| {
                q.questions.iter().map(move |question| {
                    (format!("{}/{}/{}", l.slug, q.id, question.id()), question)
                })
            })
            .collect()
    }

    #[test]
    fn every_single_choice_question_offers_three_options() {
        let course = Course::load(&real_content()).unwrap_or_else(|e| panic!("{e}"));
        let questions = every_question(&course);
        let thin: Vec<String> = questions
            .iter()
            .filter_map(|(at, q)| match q {
                quiz::Question::Single { options, .. } if options.len() < 3 => {
                    Some(format!("{at} ({} options)", options.len()))
                }
                _ => None,
            })
            .collect();
        assert!(
            thin.is_empty(),
            "single-choice questions with fewer than three options: {thin:?}"
        );
        assert!(
            questions
                .iter()
                .filter(|(_, q)| matches!(q, quiz::Question::Single { .. }))
                .count()
                >= 10,
            "the rule was checked on the course's single-choice questions"
        );
    }

    #[test]
    fn every_typed_docker_option_accepts_each_cli_spelling() {
        let course = Course::load(&real_content()).unwrap_or_else(|e| panic!("{e}"));
        let mut checked = 0;
        let mut incomplete = Vec::new();
        for (at, q) in every_question(&course) {
            let quiz::Question::Typed { accept, .. } = q else {
                continue;
            };
            if accept.iter().any(|a| quiz::cli_spellings(a).is_some()) {
                checked += 1;
            }
            let missing = quiz::missing_spellings(accept);
            if !missing.is_empty() {
                incomplete.push(format!("{at} lacks {missing:?}"));
            }
        }
        assert!(incomplete.is_empty(), "{incomplete:#?}");
        assert!(
            checked >= 2,
            "the course's option answers (-p, --target) were checked"
        );
    }

    #[test]
    fn neighbours_follow_course_order() {
        let course = Course::load(&real_content()).expect("loads");
        let first = &course.lessons[0].slug;
        let view = course.lesson_view(first, |_| None).expect("first lesson");
        assert!(view.previous.is_none());
        assert_eq!(
            view.next.map(|l| l.slug),
            course.lessons.get(1).map(|l| l.slug.clone())
        );
        let last = &course.lessons[course.lessons.len() - 1].slug;
        assert!(course
            .lesson_view(last, |_| None)
            .expect("last")
            .next
            .is_none());
    }

    fn write_course(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("lessons")).expect("mkdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        dir
    }

    const COURSE: &str = "title = \"T\"\n[[module]]\nid = \"m\"\ntitle = \"M\"\nlessons = [\"b-lesson\", \"a-lesson\"]\n";
    const LESSON: &str = "+++\ntitle = \"L\"\nsummary = \"S\"\n+++\n\nIntro.\n\n```quiz\nid = \"q\"\ntitle = \"Q\"\n[[question]]\nid = \"one\"\nkind = \"typed\"\nprompt = \"p\"\naccept = [\"x\"]\nexplanation = \"e\"\n```\n\nOutro with `code`.\n";

    #[test]
    fn order_comes_from_course_toml_not_file_names() {
        let dir = write_course(&[
            ("course.toml", COURSE),
            ("lessons/a-lesson.md", LESSON),
            ("lessons/b-lesson.md", LESSON),
        ]);
        let course = Course::load(dir.path()).expect("loads");
        let slugs: Vec<&str> = course.lessons.iter().map(|l| l.slug.as_str()).collect();
        assert_eq!(slugs, ["b-lesson", "a-lesson"]);
        let kinds: Vec<&str> = course.lessons[0]
            .blocks
            .iter()
            .map(|b| match b {
                Block::Prose(_) => "prose",
                Block::Quiz(_) => "quiz",
            })
            .collect();
        assert_eq!(kinds, ["prose", "quiz", "prose"]);
        assert!(course.quiz("a-lesson", "q").is_some());
    }

    #[test]
    fn a_comment_after_a_dockerfile_instruction_is_refused() {
        let bad = "Text.\n\n```dockerfile\nFROM busybox:1.35\nWORKDIR /app   # created here\n```\n";
        let err = split_blocks(bad).expect_err("refused");
        assert!(err.contains("WORKDIR /app   # created here"), "{err}");
        let fine = "```dockerfile\n# a comment line\nFROM busybox:1.35\nRUN echo \"a # b\" && echo 'c # d'\nRUN echo x#y\nENV A=1 \\\n    B=2\n```\n";
        split_blocks(fine)
            .expect("comments on their own line, # in quotes and # in a word are fine");
    }

    #[test]
    fn authoring_errors_name_the_file_and_the_fix() {
        let dir = write_course(&[("course.toml", COURSE), ("lessons/b-lesson.md", LESSON)]);
        let err = Course::load(dir.path())
            .expect_err("missing file")
            .to_string();
        assert!(err.contains("a-lesson.md"), "{err}");

        let dir = write_course(&[
            ("course.toml", COURSE),
            ("lessons/a-lesson.md", LESSON),
            ("lessons/b-lesson.md", LESSON),
            ("lessons/stray.md", LESSON),
        ]);
        let err = Course::load(dir.path())
            .expect_err("unlisted file")
            .to_string();
        assert!(err.contains("`stray` is not listed"), "{err}");

        let dir = write_course(&[
            ("course.toml", COURSE),
            ("lessons/a-lesson.md", "no header"),
            ("lessons/b-lesson.md", LESSON),
        ]);
        let err = Course::load(dir.path()).expect_err("no header").to_string();
        assert!(err.contains("a-lesson.md") && err.contains("+++"), "{err}");

        let broken_quiz = LESSON.replace("accept = [\"x\"]", "accept = []");
        let dir = write_course(&[
            ("course.toml", COURSE),
            ("lessons/a-lesson.md", LESSON),
            ("lessons/b-lesson.md", &broken_quiz),
        ]);
        let err = Course::load(dir.path()).expect_err("bad quiz").to_string();
        assert!(
            err.contains("b-lesson.md") && err.contains("accepts no answer"),
            "{err}"
        );
    }
}
