//! The one state every handler and server function shares, and how it answers the UI.

use crate::builds::Builds;
use crate::course::quiz::{describe_answer, SubmissionError};
use crate::course::Course;
use crate::engine::Engine;
use crate::exercise::{playground_view, Exercises, PLAYGROUND};
use crate::progress::{progress_of, ProgressSender};
use crate::store::{Cohort, Instructor, Learner, Store};
use app::backend::{Backend, BackendError};
use app::dto::{
    AttemptPair, AttemptRecord, AttemptSide, AttemptSummary, Dashboard, ExerciseAttempts,
    InstructorHome, LastAttempt, LearnerRecord, LoginPage, Notice, Profile, QuizRecord,
    ResumeOffer,
};
use app::dto::{
    BuildView, CourseMap, EngineStatus, ExerciseView, LessonView, QuizAnswers, QuizGrade,
};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::collections::HashMap;
use std::sync::Arc;
use tower_sessions::Session;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub course: Arc<Course>,
    pub engine: Arc<Engine>,
    pub exercises: Arc<Exercises>,
    pub builds: Arc<Builds>,
    pub store: Store,
    pub progress: ProgressSender,
    /// Lesson pages as rendered, shared by learners who see the same (`http::lesson_pages`).
    pub lesson_pages: Arc<crate::http::lesson_pages::LessonPages>,
    /// Limits per client address and per person at the HTTP edge (`http::admission`).
    pub edge: Arc<crate::http::admission::Edge>,
    /// How often each learner's drafts may be saved.
    pub drafts: Arc<crate::workbench::DraftGate>,
}

pub use crate::auth::LEARNER_KEY;

/// The learner behind this session: made (row and session entry) on first use, and marked as
/// seen now.
pub async fn learner(store: &Store, session: &Session) -> Result<Learner, BackendError> {
    let id = session_learner(session).await?;
    store
        .touch_learner(&id)
        .await
        .map_err(|e| internal("loading your progress", e))
}

/// The learner id kept in the session, made up (and kept) on first use.
async fn session_learner(session: &Session) -> Result<String, BackendError> {
    if let Some(id) = session
        .get::<String>(LEARNER_KEY)
        .await
        .map_err(|e| internal("reading your session", e))?
    {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    session
        .insert(LEARNER_KEY, id.clone())
        .await
        .map_err(|e| internal("starting your session", e))?;
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
        .map_err(|e| internal("reading your session", e))?
    else {
        return Ok(None);
    };
    store
        .ensure_learner(&id)
        .await
        .map_err(|e| internal("loading your progress", e))?;
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
        .ok_or_else(|| no_such_build(build))
}

/// Just the learner's id (see [`learner`]); reads no row.
pub async fn learner_id(store: &Store, session: &Session) -> Result<String, BackendError> {
    let id = session_learner(session).await?;
    store
        .ensure_learner(&id)
        .await
        .map_err(|e| internal("loading your progress", e))?;
    Ok(id)
}

fn no_such_build(id: &str) -> BackendError {
    BackendError::NotFound(format!("There is no build “{id}” of yours."))
}

fn no_such_lesson(slug: &str) -> BackendError {
    BackendError::NotFound(format!("There is no lesson called “{slug}”."))
}

fn internal(doing: &str, e: impl std::fmt::Display) -> BackendError {
    tracing::error!("{doing}: {e}");
    BackendError::Internal(format!(
        "Something went wrong on our side while {doing}; please try again."
    ))
}

impl AppState {
    /// What the learner did on the exercise (or the playground): their record, attempts and
    /// last result; the files of a build still running (followed again), else of their draft
    /// when it is newer than their last build, else of that build.
    async fn add_learners_work(
        &self,
        view: &mut ExerciseView,
        learner: &str,
    ) -> Result<(), BackendError> {
        let id = view.id.clone();
        let failed = |e| internal("loading your attempts", e);
        if id != PLAYGROUND {
            let rows = self
                .store
                .attempt_rows(&[learner.to_string()])
                .await
                .map_err(failed)?;
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
            if let Some(exercise) = self.exercises.get(&id) {
                // The misses are counted above: no second read of the attempts.
                view.hints = crate::workbench::open_hints(
                    &self.store,
                    exercise,
                    learner,
                    tally.missed_checks,
                )
                .await
                .map_err(|e| internal("loading your hints", e))?;
            }
        }
        if let Some(build) = self.builds.running_for(learner, &id) {
            if let Some(attempt) = self.store.attempt(&build, learner).await.map_err(failed)? {
                view.files = crate::exercise::files_view(&attempt.files);
            }
            view.running = Some(build);
            return Ok(());
        }
        let last = if id == PLAYGROUND {
            None
        } else {
            self.store
                .latest_attempt(learner, &id)
                .await
                .map_err(failed)?
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
        let draft = self
            .store
            .draft(learner, &id)
            .await
            .map_err(|e| internal("loading your draft", e))?;
        if let Some((files, at)) = draft.filter(|(_, at)| *at > built_at) {
            view.files = crate::exercise::files_view(&files);
            view.draft_at = Some(crate::cohort::format_time(at));
        }
        Ok(())
    }

    /// One of the learner's builds: running (kept in memory) or stored.
    pub async fn learner_build(&self, id: &str, learner: &str) -> Result<BuildView, BackendError> {
        if let Some(record) = self.builds.get(id, learner) {
            return Ok(record.view());
        }
        Ok(self.stored_attempt(id, learner).await?.view)
    }

    /// One of the learner's stored attempts (a build that ended, maybe before a restart).
    pub async fn stored_attempt(
        &self,
        id: &str,
        learner: &str,
    ) -> Result<crate::store::Attempt, BackendError> {
        self.store
            .attempt(id, learner)
            .await
            .map_err(|e| internal("reading your build history", e))?
            .ok_or_else(|| no_such_build(id))
    }

    /// The course's base images and every exercise's, without repeats.
    pub fn base_images(&self) -> Vec<String> {
        self.exercises.base_images(&self.course)
    }

    /// `"<lesson>/<quiz>"` → the learner's latest grade.
    async fn grades(&self, learner: &str) -> Result<Arc<HashMap<String, QuizGrade>>, BackendError> {
        self.store
            .latest_grades(learner)
            .await
            .map_err(|e| internal("loading your answers", e))
    }

    /// The learner's last grade on each quiz of the lesson `slug`, in the lesson's order:
    /// with the lesson and the engine banner, all a lesson page shows.
    pub async fn lesson_grades(
        &self,
        session: &Session,
        slug: &str,
    ) -> Result<Vec<(String, Option<QuizGrade>)>, BackendError> {
        if self.course.lesson(slug).is_none() {
            return Err(no_such_lesson(slug));
        }
        let grades = match known_learner_id(&self.store, session).await? {
            Some(learner) => self.grades(&learner).await?,
            None => Arc::default(),
        };
        Ok(self
            .course
            .quiz_ids(slug)
            .into_iter()
            .map(|quiz| {
                let grade = grades.get(&format!("{slug}/{quiz}")).cloned();
                (quiz, grade)
            })
            .collect())
    }

    /// The lesson `slug` as a learner with these `grades` sees it.
    pub fn lesson_view(
        &self,
        slug: &str,
        grades: &[(String, Option<QuizGrade>)],
    ) -> Result<LessonView, BackendError> {
        self.course
            .lesson_view(slug, |quiz| {
                grades
                    .iter()
                    .find(|(id, _)| id == quiz)
                    .and_then(|(_, g)| g.clone())
            })
            .ok_or_else(|| no_such_lesson(slug))
    }
}

#[async_trait::async_trait]
impl Backend for AppState {
    async fn course_map(&self, session: &Session) -> Result<CourseMap, BackendError> {
        let (grades, tallies) = match known_learner_id(&self.store, session).await? {
            Some(learner) => (
                self.grades(&learner).await?,
                self.store
                    .exercise_tallies(&learner)
                    .await
                    .map_err(|e| internal("loading your progress", e))?,
            ),
            None => Default::default(),
        };
        let mut map = self
            .course
            .map(|id| self.exercises.get(id).map(|e| e.link()));
        for module in &mut map.modules {
            for lesson in &mut module.lessons {
                let quizzes = self.course.quiz_ids(&lesson.slug);
                lesson.done = !quizzes.is_empty()
                    && quizzes.iter().all(|q| {
                        grades
                            .get(&format!("{}/{q}", lesson.slug))
                            .is_some_and(|g| g.correct == g.total)
                    });
            }
            for exercise in &mut module.exercises {
                let tally = tallies.get(&exercise.id).cloned().unwrap_or_default();
                exercise.done = tally.passed;
                exercise.progress = progress_of(&tally);
            }
        }
        Ok(map)
    }

    async fn submit_quiz(
        &self,
        session: &Session,
        lesson: &str,
        quiz: &str,
        answers: QuizAnswers,
    ) -> Result<QuizGrade, BackendError> {
        let spec = self.course.quiz(lesson, quiz).ok_or_else(|| {
            BackendError::NotFound(format!("Lesson “{lesson}” has no quiz called “{quiz}”."))
        })?;
        let grade = spec.grade(&answers).map_err(|e| match e {
            SubmissionError::Unanswered { .. } => BackendError::Invalid(e.to_string()),
            _ => BackendError::Invalid(format!("This answer cannot be graded: {e}.")),
        })?;
        let learner = learner_id(&self.store, session).await?;
        self.store
            .record_quiz(&learner, lesson, quiz, &answers, &grade)
            .await
            .map_err(|e| internal("saving your answers", e))?;
        self.progress.publish(&learner);
        Ok(grade)
    }

    async fn engine_status(&self) -> EngineStatus {
        self.engine.recent_status(&self.base_images()).await
    }

    async fn exercise(&self, session: &Session, id: &str) -> Result<ExerciseView, BackendError> {
        let mut view = if id == PLAYGROUND {
            playground_view()
        } else {
            let exercise = self.exercises.get(id).ok_or_else(|| {
                BackendError::NotFound(format!("There is no exercise called “{id}”."))
            })?;
            let mut view = exercise.view(&self.course);
            view.next = self
                .course
                .next_exercise(id)
                .and_then(|next| self.exercises.get(next))
                .map(crate::exercise::Exercise::link);
            view
        };
        // Someone who never did anything sees the exercise as it starts.
        let Some(learner) = known_learner_id(&self.store, session).await? else {
            return Ok(view);
        };
        self.add_learners_work(&mut view, &learner).await?;
        Ok(view)
    }

    async fn build(&self, session: &Session, id: &str) -> Result<BuildView, BackendError> {
        let learner = build_owner(&self.store, session, id).await?;
        self.learner_build(id, &learner).await
    }

    async fn profile(&self, session: &Session) -> Result<Profile, BackendError> {
        let quizzes_total: usize = self
            .course
            .lessons
            .iter()
            .map(|l| self.course.quiz_ids(&l.slug).len())
            .sum();
        let mut profile = Profile {
            display_name: None,
            resume_code: None,
            cohort: None,
            exercises_passed: 0,
            exercises_total: self.exercises.iter().count() as u32,
            quizzes_done: 0,
            quizzes_total: quizzes_total as u32,
            exercises: self
                .course
                .modules
                .iter()
                .flat_map(|m| &m.exercises)
                .filter_map(|id| self.exercises.get(id).map(|e| e.link()))
                .collect(),
            csrf: csrf(session).await?,
            notice: take_notice(session).await,
        };
        // Looking at this page starts nobody: the first answer, build or form sent does.
        let Some(id) = known_learner_id(&self.store, session).await? else {
            return Ok(profile);
        };
        let failed = |e| internal("loading your progress", e);
        let learner = self.store.touch_learner(&id).await.map_err(failed)?;
        profile.cohort = match &learner.cohort_id {
            Some(id) => self.store.cohort(id).await.map_err(failed)?.map(|c| c.name),
            None => None,
        };
        let tallies = self
            .store
            .exercise_tallies(&learner.id)
            .await
            .map_err(failed)?;
        let grades = self.grades(&learner.id).await?;
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

    async fn resume_offer(
        &self,
        session: &Session,
        code: &str,
    ) -> Result<ResumeOffer, BackendError> {
        let failed = |e| internal("looking up the code", e);
        let found = self
            .store
            .learner_by_resume_code(code)
            .await
            .map_err(failed)?;
        let passed = match &found {
            Some(l) => self
                .store
                .exercise_tallies(&l.id)
                .await
                .map_err(failed)?
                .values()
                .filter(|t| t.passed)
                .count() as u32,
            None => 0,
        };
        Ok(ResumeOffer {
            code: crate::store::normalize_code(code),
            learner_name: found.as_ref().map(crate::cohort::display_name),
            exercises_passed: passed,
            csrf: csrf(session).await?,
        })
    }

    async fn login_page(&self, session: &Session) -> Result<LoginPage, BackendError> {
        Ok(LoginPage {
            csrf: csrf(session).await?,
            notice: take_notice(session).await,
        })
    }

    async fn instructor_home(&self, session: &Session) -> Result<InstructorHome, BackendError> {
        let instructor = self.instructor(session).await?;
        let cohorts = self
            .store
            .cohorts_of(&instructor.id)
            .await
            .map_err(|e| internal("loading your cohorts", e))?;
        Ok(InstructorHome {
            name: instructor.name,
            cohorts: cohorts
                .iter()
                .map(|(c, n)| crate::cohort::summary(c, *n))
                .collect(),
            csrf: csrf(session).await?,
            notice: take_notice(session).await,
        })
    }

    async fn dashboard(&self, session: &Session, cohort: &str) -> Result<Dashboard, BackendError> {
        let cohort = self.own_cohort(session, cohort).await?;
        let mut dashboard =
            crate::cohort::dashboard(&self.store, &self.course, &self.exercises, &cohort)
                .await
                .map_err(|e| internal("loading the cohort's progress", e))?;
        dashboard.notice = take_notice(session).await;
        Ok(dashboard)
    }

    async fn learner_record(
        &self,
        session: &Session,
        cohort: &str,
        learner: &str,
    ) -> Result<LearnerRecord, BackendError> {
        let cohort = self.own_cohort(session, cohort).await?;
        let failed = |e| internal("loading the learner's work", e);
        let learners = self
            .store
            .cohort_learners(&cohort.id)
            .await
            .map_err(failed)?;
        let person = learners
            .iter()
            .find(|l| l.id == learner)
            .ok_or_else(|| BackendError::NotFound("This learner is not in this cohort.".into()))?;
        let ids = [person.id.clone()];
        let rows = self.store.attempt_rows(&ids).await.map_err(failed)?;
        let exercises = crate::cohort::columns(&self.course, &self.exercises)
            .into_iter()
            .filter_map(|(_, item)| match item {
                crate::cohort::Item::Exercise(id) => Some(id),
                crate::cohort::Item::Quiz { .. } => None,
            })
            .map(|id| ExerciseAttempts {
                title: self
                    .exercises
                    .get(&id)
                    .map(|e| e.title.clone())
                    .unwrap_or_default(),
                // Oldest first, and only those the dashboard counts: attempt #n is the same
                // on the chart, in the table and on the dashboard.
                attempts: rows
                    .iter()
                    .filter(|r| r.exercise == id && r.status != "cancelled")
                    .map(crate::cohort::attempt_summary)
                    .collect(),
                id,
            })
            .collect();
        let quizzes = self
            .store
            .quiz_answers(&ids)
            .await
            .map_err(failed)?
            .into_iter()
            .rev()
            .map(|a| QuizRecord {
                title: match (
                    self.course.quiz(&a.lesson, &a.quiz),
                    self.course.lesson(&a.lesson),
                ) {
                    (Some(quiz), Some((_, lesson))) => format!("{} ({})", quiz.title, lesson.title),
                    _ => a.lesson.clone(),
                },
                correct: a.grade.correct,
                total: a.grade.total,
                answers: a
                    .grade
                    .questions
                    .iter()
                    .map(|q| describe_answer(self.course.quiz(&a.lesson, &a.quiz), q))
                    .collect(),
                at: crate::cohort::format_time(a.created_at),
                lesson: a.lesson,
                quiz: a.quiz,
            })
            .collect();
        Ok(LearnerRecord {
            cohort: crate::cohort::summary(&cohort, learners.len() as u32),
            learner_id: person.id.clone(),
            name: crate::cohort::display_name(person),
            exercises,
            quizzes,
        })
    }

    async fn attempt_pair(
        &self,
        session: &Session,
        left: &str,
        right: &str,
    ) -> Result<AttemptPair, BackendError> {
        let failed = |e| internal("loading the attempts", e);
        let own = match known_learner_id(&self.store, session).await? {
            Some(learner) => (
                self.store.attempt(left, &learner).await.map_err(failed)?,
                self.store.attempt(right, &learner).await.map_err(failed)?,
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
                let (a, owner, cohort) = self.cohort_attempt(session, left).await?;
                let (b, _, _) = self.cohort_attempt(session, right).await?;
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
        let rows = self
            .store
            .attempt_rows(std::slice::from_ref(&a.learner_id))
            .await
            .map_err(failed)?;
        // Numbered as on the chart: oldest first, among the attempts the dashboard counts.
        let counted: Vec<&crate::store::AttemptRow> = rows
            .iter()
            .filter(|r| r.exercise == a.exercise && r.status != "cancelled")
            .collect();
        let position =
            |attempt: &crate::store::Attempt| rows.iter().position(|r| r.id == attempt.id);
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
            exercise_title: self
                .exercises
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
                    text: self.store.details_not_kept(),
                }]
            },
            left: side(&a)?,
            right: side(&b)?,
        })
    }

    async fn attempt_record(
        &self,
        session: &Session,
        attempt: &str,
    ) -> Result<AttemptRecord, BackendError> {
        let (found, learner, cohort_id) = self.cohort_attempt(session, attempt).await?;
        let failed = |e| internal("loading the attempt", e);
        let missing = || BackendError::NotFound("There is no such attempt in your cohorts.".into());
        let rows = self
            .store
            .attempt_rows(std::slice::from_ref(&learner.id))
            .await
            .map_err(failed)?;
        let summary = rows
            .iter()
            .find(|r| r.id == found.id)
            .map(crate::cohort::attempt_summary)
            .ok_or_else(missing)?;
        Ok(AttemptRecord {
            cohort_id,
            learner_id: learner.id.clone(),
            learner_name: crate::cohort::display_name(&learner),
            exercise_title: self
                .exercises
                .get(&found.exercise)
                .map_or_else(|| found.exercise.clone(), |e| e.title.clone()),
            summary,
            files: found.files.into_iter().collect(),
            log: found.log,
            view: found.view,
        })
    }
}

impl AppState {
    /// An attempt by a learner in one of this instructor's cohorts, with the learner and the
    /// cohort id; anything else is "not found".
    pub async fn cohort_attempt(
        &self,
        session: &Session,
        attempt: &str,
    ) -> Result<(crate::store::Attempt, crate::store::Learner, String), BackendError> {
        let instructor = self.instructor(session).await?;
        let failed = |e| internal("loading the attempt", e);
        let missing = || BackendError::NotFound("There is no such attempt in your cohorts.".into());
        let found = self
            .store
            .attempt_any(attempt)
            .await
            .map_err(failed)?
            .ok_or_else(missing)?;
        let learner = self
            .store
            .learner(&found.learner_id)
            .await
            .map_err(failed)?
            .ok_or_else(missing)?;
        let cohort_id = learner.cohort_id.clone().ok_or_else(missing)?;
        self.store
            .cohort_of(&cohort_id, &instructor.id)
            .await
            .map_err(failed)?
            .ok_or_else(missing)?;
        Ok((found, learner, cohort_id))
    }
}

/// Session key: a message for the next page (the outcome of a form post).
pub const NOTICE_KEY: &str = "notice";

/// Leave a message for the next page this session loads.
pub async fn set_notice(session: &Session, ok: bool, text: impl Into<String>) {
    let notice = Notice {
        ok,
        text: text.into(),
    };
    if let Err(e) = session.insert(NOTICE_KEY, notice).await {
        tracing::warn!("could not keep a notice: {e}");
    }
}

async fn take_notice(session: &Session) -> Option<Notice> {
    session.remove::<Notice>(NOTICE_KEY).await.ok().flatten()
}

async fn csrf(session: &Session) -> Result<String, BackendError> {
    crate::auth::csrf_token(session)
        .await
        .map_err(|e| internal("starting your session", e))
}

impl AppState {
    /// The instructor logged in with this session, or Unauthorized. A session from before the
    /// instructor's last password reset is logged out here.
    pub async fn instructor(&self, session: &Session) -> Result<Instructor, BackendError> {
        let refused = || BackendError::Unauthorized("Log in as an instructor first.".into());
        let id = crate::auth::instructor_id(session)
            .await
            .ok_or_else(refused)?;
        let instructor = self
            .store
            .instructor(&id)
            .await
            .map_err(|e| internal("checking your login", e))?
            .ok_or_else(refused)?;
        if instructor.credential_version != crate::auth::credential_version(session).await {
            let _ = session.remove::<String>(crate::auth::INSTRUCTOR_KEY).await;
            return Err(BackendError::Unauthorized(
                "Your password was changed since you logged in; log in again with the new one."
                    .into(),
            ));
        }
        Ok(instructor)
    }

    /// The cohort if the logged-in instructor runs it; anyone else's is "not found".
    pub async fn own_cohort(&self, session: &Session, id: &str) -> Result<Cohort, BackendError> {
        let instructor = self.instructor(session).await?;
        self.store
            .cohort_of(id, &instructor.id)
            .await
            .map_err(|e| internal("loading the cohort", e))?
            .ok_or_else(|| BackendError::NotFound("You have no cohort with this id.".into()))
    }
}
