//! A learner's work on a console exercise: their slice of the engine read as it is now,
//! judged by the exercise's checks, and kept as an attempt like a build's (no files; its log
//! says what was read), so their record, hints, the course map and their instructor's cohort
//! see it as any other.

use crate::console::{ConsoleError, Consoles};
use crate::exercise::console::{repository_and_tag, ConsoleContainer, ConsoleFacts, RegistryFact};
use crate::exercise::Exercise;
use crate::progress::ProgressSender;
use crate::store::{Attempt, Store};
use app::dto::{BuildStatus, BuildView, LogLine, LogPhase};
use std::collections::BTreeMap;

/// The session key under which a refused Check or Set up form leaves its reason for the
/// page it returns to.
pub const FORM_PROBLEM_KEY: &str = "console_form_problem";

/// Characters of an answer kept.
pub const MAX_ANSWER: usize = 200;

/// The right answers each learner's console exercises were set up with: (learner,
/// exercise) → check id → answers. Kept in memory: after a restart, a learner sets the
/// exercise up again (and gets new answers).
#[derive(Default)]
pub struct SetUps(std::sync::Mutex<AnswersBy>);

/// (learner, exercise) → check id → the right answers.
type AnswersBy = std::collections::HashMap<(String, String), BTreeMap<String, Vec<String>>>;

impl SetUps {
    fn lock(&self) -> std::sync::MutexGuard<'_, AnswersBy> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Make what exercise `id` starts from in `learner`'s slice (its `setup.sh`), out of their
/// sight: again from the start if they made it before. Its questions' answers are read from
/// what it made, then and there, and kept for the learner's checks.
pub async fn set_up(
    exercises: &crate::exercise::Exercises,
    consoles: &Consoles,
    set_ups: &SetUps,
    learner: &str,
    id: &str,
) -> Result<(), CheckError> {
    let exercise = exercises
        .get(id)
        .ok_or_else(|| CheckError::UnknownExercise(id.to_string()))?;
    let Some(console) = &exercise.console else {
        return Err(CheckError::NotConsole(id.to_string()));
    };
    let key = (learner.to_string(), id.to_string());
    // The old answers go first: a setup that fails leaves none to be judged against.
    set_ups.lock().remove(&key);
    let truths = consoles
        .set_up(
            learner,
            &console.setup,
            &console.listening_asked(),
            console.reads(),
            |facts| console.truths(facts),
        )
        .await?;
    set_ups.lock().insert(key, truths);
    Ok(())
}

/// Why a check of console work was not made.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("There is no exercise called “{0}”.")]
    UnknownExercise(String),
    #[error("“{0}” is done in the workbench: build it with Build & run (POST /api/v1/builds).")]
    NotConsole(String),
    #[error(transparent)]
    Console(#[from] ConsoleError),
}

/// What a check of console work reads and writes.
pub struct Checker<'a> {
    pub store: &'a Store,
    /// The class registry (what `pushed` and `pulled-back` checks read).
    pub registry: &'a crate::registry::Registry,
    pub exercises: &'a crate::exercise::Exercises,
    pub consoles: &'a Consoles,
    pub set_ups: &'a SetUps,
    pub progress: &'a ProgressSender,
}

/// Judge `learner`'s console against exercise `id`, keep the attempt, and say what it came
/// to.
pub async fn check(
    with: &Checker<'_>,
    learner: &str,
    id: &str,
    answered: BTreeMap<String, String>,
) -> Result<BuildView, CheckError> {
    let Checker {
        store,
        registry,
        exercises,
        consoles,
        set_ups,
        progress,
    } = *with;
    let exercise = exercises
        .get(id)
        .ok_or_else(|| CheckError::UnknownExercise(id.to_string()))?;
    let Some(console) = &exercise.console else {
        return Err(CheckError::NotConsole(id.to_string()));
    };
    let created_at = crate::store::now_ms();
    // (Questions are answered against what the setup fixed; nothing is read for them now.)
    let (mut facts, _turn) = consoles
        .facts(learner, &console.paths(), console.reads())
        .await?;
    facts.registry = registry_facts(store, registry, learner, &console.registry_images()).await;
    let run_from: Vec<String> = console
        .run_images()
        .iter()
        .map(|image| facts.named(image))
        .collect();
    facts.image_ids = consoles.image_ids(learner, &run_from).await;
    facts.truths = set_ups
        .lock()
        .get(&(learner.to_string(), id.to_string()))
        .cloned()
        .unwrap_or_default();
    // Only the questions the exercise asks, each answer bounded.
    facts.answered = answered
        .into_iter()
        .filter(|(id, _)| {
            console
                .checks
                .iter()
                .any(|c| c.id == *id && c.check.question().is_some())
        })
        .map(|(id, answer)| (id, answer.trim().chars().take(MAX_ANSWER).collect()))
        .collect();
    let mut view = BuildView::queued(&uuid::Uuid::new_v4().to_string(), id);
    view.status = BuildStatus::Succeeded;
    view.checks = Some(console.judge(&facts, exercise.lesson.as_deref()));
    let mut attempt = Attempt {
        id: view.id.clone(),
        learner_id: learner.to_string(),
        exercise: id.to_string(),
        view,
        files: Default::default(),
        log: what_was_read(&facts),
        stage_images: Vec::new(),
        created_at,
        finished_at: crate::store::now_ms(),
        details_kept: true,
    };
    keep(store, exercise, &mut attempt).await;
    progress.publish(learner);
    Ok(attempt.view)
}

/// For each of `images` (`greeter:1.0`) in `learner`'s namespace of the class registry: what
/// the registry holds there, and whether that was pushed from here and pulled back.
async fn registry_facts(
    store: &Store,
    registry: &crate::registry::Registry,
    learner: &str,
    images: &[String],
) -> Vec<RegistryFact> {
    let handle = crate::registry::handle_of(learner);
    let mut facts = Vec::new();
    for image in images {
        let Some((name, tag)) = repository_and_tag(image) else {
            continue;
        };
        let repository = format!("{handle}/{name}");
        let mut fact = RegistryFact {
            image: image.clone(),
            ..Default::default()
        };
        let held = match registry.tag(&repository, tag).await {
            Ok(Some(held)) => held,
            Ok(None) => {
                fact.held = Ok(None);
                facts.push(fact);
                continue;
            }
            Err(e) => {
                fact.held = Err(e.to_string());
                facts.push(fact);
                continue;
            }
        };
        fact.held = Ok(Some(held.digest.clone()));
        let (pushes, pulls) = match (
            store.pushes(learner).await,
            store.pulls(learner, &repository).await,
        ) {
            (Ok(pushes), Ok(pulls)) => (pushes, pulls),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!("reading pushes and pulls for a check: {e}");
                fact.held = Err("what you pushed and pulled could not be read on our side".into());
                facts.push(fact);
                continue;
            }
        };
        fact.pushed_here = pushes
            .iter()
            .any(|p| p.repository == repository && held.is(&p.image_id));
        let of_it = pulls
            .iter()
            .filter(|p| p.digest == held.digest && held.is(&p.image_id));
        for pull in of_it {
            fact.pulled_back |= pull.fresh;
            fact.pulled_over_a_copy |= !pull.fresh;
            if pull.fresh {
                fact.pulled_back_at = fact.pulled_back_at.max(Some(pull.pulled_at));
            }
        }
        facts.push(fact);
    }
    facts
}

/// Store the attempt with the hints it unlocks; a store that fails loses the record, not the
/// verdict the learner sees.
async fn keep(store: &Store, exercise: &Exercise, attempt: &mut Attempt) {
    let pending = u32::from(attempt.missed());
    match crate::workbench::unlocked_hints(store, exercise, &attempt.learner_id, pending).await {
        Ok(hints) => attempt.view.hints = hints,
        Err(e) => tracing::error!("reading attempts for hints: {e}"),
    }
    if let Err(e) = store.save_attempt(attempt).await {
        tracing::error!("could not store console attempt {}: {e}", attempt.id);
    }
}

/// The attempt's log: what the check found, a line per container and image, so that the
/// learner and their instructor see what was judged.
fn what_was_read(facts: &ConsoleFacts) -> Vec<LogLine> {
    let line = |text: String| LogLine {
        phase: LogPhase::Server,
        text,
    };
    let mut log = vec![line(format!(
        "Checked your console: {} container(s), {} image(s) of yours.",
        facts.containers.len(),
        facts.images.len()
    ))];
    log.extend(facts.containers.iter().map(|c| line(container_line(c))));
    for image in &facts.images {
        log.push(line(format!(
            "image {}: {} layer(s)",
            image.names.join(", "),
            image.layers
        )));
    }
    for fact in &facts.registry {
        log.push(line(match &fact.held {
            Ok(Some(digest)) => format!(
                "registry $REGISTRY/{}: {digest}{}{}",
                fact.image,
                if fact.pushed_here {
                    ", pushed from here"
                } else {
                    ", not pushed from here"
                },
                if fact.pulled_back {
                    ", pulled back"
                } else if fact.pulled_over_a_copy {
                    ", pulled while the engine still held it"
                } else {
                    ", not pulled back"
                }
            ),
            Ok(None) => format!("registry $REGISTRY/{}: nothing there", fact.image),
            Err(e) => format!("registry $REGISTRY/{}: could not be read ({e})", fact.image),
        }));
    }
    for (id, answer) in &facts.answered {
        log.push(line(format!("answered {id}: {answer}")));
    }
    for (port, path, answer) in &facts.answers {
        log.push(line(match answer {
            Ok(a) => format!(
                "GET {path} on port {port}: {} ({} bytes)",
                a.status,
                a.body.len()
            ),
            Err(e) => format!("GET {path} on port {port}: no answer ({e})"),
        }));
    }
    log
}

fn container_line(c: &ConsoleContainer) -> String {
    let ports: Vec<String> = c.ports.iter().map(|(p, t)| format!("{p}->{t}")).collect();
    let main = c
        .main_process
        .as_ref()
        .map(|(user, line)| format!(", PID 1 `{line}` as {user}"))
        .unwrap_or_default();
    format!(
        "container {} from {}: {}{}{}",
        c.name,
        c.image,
        if c.running { "running" } else { "not running" },
        if ports.is_empty() {
            String::new()
        } else {
            format!(", publishes {}", ports.join(" "))
        },
        main
    )
}
