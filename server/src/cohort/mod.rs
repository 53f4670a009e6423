//! A cohort's progress, assembled from the store: the dashboard matrix (learners × the
//! course's exercises and quizzes, in course order), its CSV export, and the summaries the
//! drill-down pages list.

pub mod instructors;
pub mod record;

use crate::course::Course;
use crate::exercise::Exercises;
use crate::store::{tally, AttemptRow, QuizAnswerRow, Store};
use app::dto::{
    human_size, AttemptSummary, CohortSummary, Dashboard, DashboardCell, DashboardColumn,
    DashboardRow, ProgressStatus,
};
use std::collections::HashMap;

/// One thing a learner can do: build an exercise, or answer a quiz.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Exercise(String),
    Quiz { lesson: String, quiz: String },
}

/// Every exercise and quiz, module by module: the lessons' quizzes, then the exercises.
pub fn columns(course: &Course, exercises: &Exercises) -> Vec<(DashboardColumn, Item)> {
    let mut out = Vec::new();
    for (m, module) in course.modules.iter().enumerate() {
        for lesson in course.lessons.iter().filter(|l| l.module == m) {
            for quiz in course.quiz_ids(&lesson.slug) {
                let quiz_title = course
                    .quiz(&lesson.slug, &quiz)
                    .map_or_else(|| quiz.clone(), |q| q.title.clone());
                // Headings are titles for both kinds; quizzes go by their lesson, since their
                // own titles all start alike ("Check yourself: …").
                out.push((
                    DashboardColumn {
                        key: format!("quiz:{}/{quiz}", lesson.slug),
                        title: format!("Quiz · {} — {quiz_title}", lesson.title),
                        short: format!("Quiz · {}", short_title(&lesson.title)),
                    },
                    Item::Quiz {
                        lesson: lesson.slug.clone(),
                        quiz,
                    },
                ));
            }
        }
        for id in &module.exercises {
            if let Some(exercise) = exercises.get(id) {
                out.push((
                    DashboardColumn {
                        key: format!("exercise:{id}"),
                        title: format!("Exercise · {}", exercise.title),
                        short: short_title(&exercise.title),
                    },
                    Item::Exercise(id.clone()),
                ));
            }
        }
    }
    out
}

/// At most 24 characters, cut at a word, for a narrow column heading.
fn short_title(title: &str) -> String {
    let mut out = String::new();
    for word in title.split_whitespace() {
        if out.chars().count() + word.chars().count() + 1 > 24 {
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

pub use crate::learners::display_name;

pub fn summary(cohort: &crate::store::Cohort, learners: u32) -> CohortSummary {
    CohortSummary {
        id: cohort.id.clone(),
        name: cohort.name.clone(),
        join_code: cohort.join_code.clone(),
        learners,
    }
}

pub use crate::when::{format_time, format_time_to_second};

pub fn attempt_summary(row: &AttemptRow) -> AttemptSummary {
    AttemptSummary {
        id: row.id.clone(),
        exercise: row.exercise.clone(),
        status: row.status.clone(),
        passed: row.passed,
        checks_passed: row.checks_passed,
        checks_total: row.checks_total,
        size_bytes: row.size_bytes,
        layers: row.layers,
        at: format_time(row.created_at),
    }
}

/// The latest grade, the submission count and the time of the last one, per learner and quiz.
type QuizTally = HashMap<(String, String), (u32, usize, usize, i64)>;

fn quiz_tally(rows: &[QuizAnswerRow]) -> QuizTally {
    let mut out: QuizTally = HashMap::new();
    for row in rows {
        let entry = out
            .entry((
                row.learner_id.clone(),
                format!("{}/{}", row.lesson, row.quiz),
            ))
            .or_default();
        entry.0 += 1;
        entry.1 = row.grade.correct;
        entry.2 = row.grade.total;
        entry.3 = entry.3.max(row.created_at);
    }
    out
}

/// The matrix for a cohort.
pub async fn dashboard(
    store: &Store,
    course: &Course,
    exercises: &Exercises,
    cohort: &crate::store::Cohort,
) -> crate::store::Result<Dashboard> {
    let learners = store.cohort_learners(&cohort.id).await?;
    let ids: Vec<String> = learners.iter().map(|l| l.id.clone()).collect();
    let attempts = tally(&store.attempt_rows(&ids).await?);
    let quizzes = quiz_tally(&store.quiz_answers(&ids).await?);
    let columns = columns(course, exercises);
    let rows = learners
        .iter()
        .map(|learner| {
            let mut last = learner.last_seen_at;
            let cells = columns
                .iter()
                .map(|(_, item)| match item {
                    Item::Exercise(id) => {
                        let t = attempts
                            .get(&learner.id)
                            .and_then(|m| m.get(id))
                            .cloned()
                            .unwrap_or_default();
                        last = last.max(t.last_at);
                        DashboardCell {
                            status: crate::progress::progress_of(&t).status,
                            attempts: t.attempts,
                            detail: t
                                .best_size_bytes
                                .map(|b| format!("best image {}", human_size(b))),
                        }
                    }
                    Item::Quiz { lesson, quiz } => {
                        match quizzes.get(&(learner.id.clone(), format!("{lesson}/{quiz}"))) {
                            None => DashboardCell {
                                status: ProgressStatus::NotStarted,
                                attempts: 0,
                                detail: None,
                            },
                            Some(&(count, correct, total, at)) => {
                                last = last.max(at);
                                DashboardCell {
                                    status: if correct == total {
                                        ProgressStatus::Passed
                                    } else {
                                        ProgressStatus::Tried
                                    },
                                    attempts: count,
                                    detail: Some(format!("latest {correct}/{total}")),
                                }
                            }
                        }
                    }
                })
                .collect();
            DashboardRow {
                learner_id: learner.id.clone(),
                name: display_name(learner),
                last_seen: format_time(last),
                cells,
            }
        })
        .collect();
    Ok(Dashboard {
        cohort: summary(cohort, learners.len() as u32),
        columns: columns.into_iter().map(|(c, _)| c).collect(),
        rows,
        notice: None,
    })
}

/// One CSV row per learner and item: `learner_id, learner, kind, item, title, status,
/// attempts, detail, last_seen`. Every field is quoted, and text that a spreadsheet would run
/// as a formula is prefixed with `'` (see [`csv_field`]).
pub fn csv(dashboard: &Dashboard) -> String {
    let header = [
        "learner_id",
        "learner",
        "kind",
        "item",
        "title",
        "status",
        "attempts",
        "detail",
        "last_seen",
    ];
    let mut out = csv_line(&header);
    for row in &dashboard.rows {
        for (column, cell) in dashboard.columns.iter().zip(&row.cells) {
            let (kind, item) = column.key.split_once(':').unwrap_or(("", &column.key));
            let fields = [
                row.learner_id.as_str(),
                row.name.as_str(),
                kind,
                item,
                column.title.as_str(),
                cell.status.as_str(),
                &cell.attempts.to_string(),
                cell.detail.as_deref().unwrap_or(""),
                row.last_seen.as_str(),
            ];
            out.push_str(&csv_line(&fields));
        }
    }
    out
}

fn csv_line(fields: &[&str]) -> String {
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// Characters a spreadsheet takes as the start of a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One field, always in quotes (inner quotes doubled). A `'` goes before a formula start at
/// the beginning of the text and after every `;`, `,`, tab or line break inside it: a
/// spreadsheet in a `;` locale, or a reader that ignores quotes, splits cells there, and the
/// piece after the split must not become a formula either.
fn csv_field(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    out.push('"');
    let mut at_cell_start = true;
    for c in text.chars() {
        if at_cell_start && FORMULA_START.contains(&c) {
            out.push('\'');
        }
        if c == '"' {
            out.push('"');
        }
        out.push(c);
        at_cell_start = matches!(c, ';' | ',' | '\t' | '\n' | '\r');
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_795_463_796_000), "2026-11-23 19:56 UTC");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(
            format_time_to_second(1_795_463_796_000),
            "2026-11-23 19:56:36 UTC"
        );
    }

    #[test]
    fn column_headings_are_cut_at_a_word() {
        assert_eq!(short_title("FROM scratch"), "FROM scratch");
        assert_eq!(
            short_title("Packaging a Python web app for production"),
            "Packaging a Python web…"
        );
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "\"plain\"");
        assert_eq!(csv_field(""), "\"\"");
        assert_eq!(csv_field("Smith, Ann"), "\"Smith, Ann\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "\"'-1\"");
        assert_eq!(csv_field("a;=1+1"), "\"a;'=1+1\"");
        assert_eq!(csv_field("line\n@SUM(A1)"), "\"line\n'@SUM(A1)\"");
        assert_eq!(csv_field("\tcmd"), "\"'\tcmd\"");
        assert_eq!(csv_field("3"), "\"3\"");
    }

    /// Cells as a spreadsheet splitting on `separator` reads them: a cell that starts with a
    /// quote is quoted up to a lone quote (`""` is one quote), what follows it is kept as it
    /// is; with `quotes` off, quotes are ordinary characters (the crudest reader).
    fn read_cells(text: &str, separator: char, quotes: bool) -> Vec<String> {
        let mut cells = Vec::new();
        let mut cell = String::new();
        let (mut quoted, mut at_start) = (false, true);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if quotes && c == '"' && (at_start || quoted) {
                if at_start {
                    quoted = true;
                } else if chars.peek() == Some(&'"') {
                    chars.next();
                    cell.push('"');
                } else {
                    quoted = false;
                }
                at_start = false;
                continue;
            }
            if !quoted && (c == separator || c == '\n') {
                cells.push(std::mem::take(&mut cell).trim_end_matches('\r').to_string());
                at_start = true;
                continue;
            }
            at_start = false;
            cell.push(c);
        }
        cells.push(cell);
        cells
    }

    #[test]
    fn no_reader_of_the_export_sees_a_formula_in_a_learners_name() {
        let names = [
            "=1+1",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1:A9)",
            "\t=1",
            "Ann;=HYPERLINK(\"http://evil.example\")",
            "Ann,=1",
            "Ann\";=1",
            "two\nlines\n=1",
            "quote \" inside",
        ];
        let fields: Vec<String> = names.iter().map(|n| csv_field(n)).collect();
        let line = format!("{}\r\n", fields.join(","));
        for (separator, quotes) in [(',', true), (';', true), (';', false), (',', false)] {
            for cell in read_cells(&line, separator, quotes) {
                assert!(
                    !cell.starts_with(FORMULA_START),
                    "a reader splitting on {separator:?} (quotes {quotes}) sees a formula: {cell:?} in {line:?}"
                );
            }
        }
        // The RFC 4180 reading (`,`, quotes) gives each name back whole, after its `'`s.
        let back = read_cells(&line, ',', true);
        assert_eq!(back.len(), names.len() + 1, "{back:?}");
        for (cell, name) in back.iter().zip(names) {
            assert_eq!(cell.replace('\'', ""), name.replace('\'', ""));
        }
    }
}
