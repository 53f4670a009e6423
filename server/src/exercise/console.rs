//! Exercises done in the docker console (`kind = "console"` in `exercise.toml`): the learner
//! types real docker commands, then asks for a check, which reads what their slice of the
//! engine holds at that moment — their containers, what those print and serve, their images —
//! never the commands they typed. `solution.sh` (the commands that solve it, one per line) and
//! `wrong/<name>.sh` (known wrong answers, each failing the check it names) are run in a real
//! toolbox by the course's self-test.

use super::check::ok_status;
mod registry;
use anyhow::{bail, Context};
use app::dto::CheckOutcome;
pub use registry::{repository_and_tag, RegistryFact};
use serde::Deserialize;
use std::path::Path;

/// `exercise.toml` of a console exercise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsoleExerciseFile {
    /// `"console"`.
    pub kind: String,
    pub title: String,
    pub lesson: Option<String>,
    #[serde(default)]
    pub hints: Vec<String>,
    #[serde(default)]
    pub checks: Vec<toml::Table>,
    #[serde(default)]
    pub wrong: Vec<ConsoleWrongFile>,
    /// For each `answer` check, a command line whose output (trimmed) is the solution's
    /// answer: the self-test runs it in the learner's console after `solution.sh`.
    #[serde(default)]
    pub answers: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsoleWrongFile {
    /// `wrong/<name>.sh`.
    pub name: String,
    pub fails: String,
    pub why: String,
    /// Answers this wrong answer gives (check id → command line printing it).
    #[serde(default)]
    pub answers: std::collections::BTreeMap<String, String>,
}

/// What a console exercise adds to an [`super::Exercise`].
#[derive(Clone, Debug)]
pub struct ConsoleExercise {
    pub checks: Vec<ConsoleExerciseCheck>,
    /// The commands that solve it, one per line (comments and blank lines dropped).
    pub solution: Vec<String>,
    /// The solution's answers: check id → a command line printing it.
    pub answers: std::collections::BTreeMap<String, String>,
    pub wrong: Vec<ConsoleWrong>,
    /// `setup.sh`: what is made in the learner's slice before they start (hidden from them,
    /// through their own proxy, so under the same policy), one command per line.
    pub setup: Vec<String>,
}

/// A known wrong answer: commands, and the check they must fail.
#[derive(Clone, Debug)]
pub struct ConsoleWrong {
    pub name: String,
    pub fails: String,
    pub why: String,
    pub commands: Vec<String>,
    pub answers: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConsoleExerciseCheck {
    pub id: String,
    pub check: ConsoleCheck,
    pub explained_in: Option<String>,
}

/// What a console exercise can ask of the learner's slice of the engine.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ConsoleCheck {
    /// A running container of the learner's publishes a port, and a request for `path` on it
    /// answers `status` with a body holding `body_contains`.
    Serves {
        #[serde(default = "root_path")]
        path: String,
        #[serde(default = "ok_status")]
        status: u16,
        body_contains: Option<String>,
    },
    /// A running container of the learner's has `command` as its main process (PID 1 inside
    /// it), running as `user` (a name or a uid) when given.
    MainProcess {
        command: String,
        user: Option<String>,
        /// Only the containers that publish a port that answered count (the server the
        /// exercise asks for, not another container beside it).
        #[serde(default)]
        publishing: bool,
    },
    /// A container of the learner's made from `image` printed a line holding `contains`
    /// (`$REGISTRY/` in `image` stands for the learner's namespace of the class registry).
    Said { image: String, contains: String },
    /// The learner's namespace of the class registry holds `image` (`greeter:1.0`), pushed
    /// from this workshop.
    Pushed { image: String },
    /// `image` in the learner's namespace was pulled back from the registry into their
    /// engine when it no longer held that image.
    PulledBack { image: String },
    /// A running container of the learner's made from `image` has a health check whose
    /// state is `status` (`healthy` or `unhealthy`); with `same_check_as`, a running
    /// container made from that image has the very same health check.
    Health {
        image: String,
        status: String,
        same_check_as: Option<String>,
    },
    /// The learner's image `image` still has this configuration: it sets `env`
    /// (`NAME=value`), and its `CMD` (words joined by spaces; a shell form is
    /// `/bin/sh -c …`) is `cmd`.
    ImageConfig {
        image: String,
        env: Option<String>,
        cmd: Option<String>,
    },
    /// The learner answers `question` with what they found out; the right answer is read
    /// from the engine at check time (so it may differ for every learner): what
    /// `pattern`'s `{}` stands for in the log of the container `logs_of`, or the user running the main
    /// process of `main_user_of`, or the number of layers of the image `layers_of`, or a
    /// TCP port the container `listening_port_of` listens on.
    Answer {
        question: String,
        logs_of: Option<String>,
        pattern: Option<String>,
        main_user_of: Option<String>,
        layers_of: Option<String>,
        /// The TCP port(s) the container of that name listens on.
        listening_port_of: Option<String>,
    },
}

fn root_path() -> String {
    "/".into()
}

/// One of the learner's containers as a check sees it; names are the learner's own words.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsoleContainer {
    pub name: String,
    /// The image as the learner named it (`greeter`, `busybox:1.35`), or its id.
    pub image: String,
    /// The id of the image it was made from.
    pub image_id: String,
    pub running: bool,
    /// `(published, container port)` pairs.
    pub ports: Vec<(u16, u16)>,
    /// The last lines it printed (bounded).
    pub logs: String,
    /// PID 1 inside it (`docker top`'s first process): user and command line.
    pub main_process: Option<(String, String)>,
    /// The user it was started as (`Config.User`), when one was named.
    pub config_user: Option<String>,
    /// The TCP ports it listens on inside its network namespace (read only for the
    /// containers a question asks about).
    pub listening: Vec<u16>,
    /// Made by the exercise's setup (a question asks about that one, not a look-alike).
    pub fixture: bool,
    /// Its health state (`starting`, `healthy`, `unhealthy`), when it has a health check.
    pub health: Option<String>,
    /// What its health check runs as and with (the check, environment, user, command…):
    /// equal for two containers running the same check the same way.
    pub health_basis: String,
    /// When it was made (ms since the epoch).
    pub created_ms: i64,
}

/// One of the learner's images.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsoleImage {
    /// The names the learner gave it (`greeter:latest`).
    pub names: Vec<String>,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    /// `RootFS.Layers`: the filesystem layers it is made of.
    pub layers: usize,
    /// Made by the exercise's setup.
    pub fixture: bool,
}

/// An answer to a request on a published port.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// What the checks of a console exercise read: the learner's slice at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsoleFacts {
    pub containers: Vec<ConsoleContainer>,
    pub images: Vec<ConsoleImage>,
    /// For each published port and path asked, what a request got (or why it got nothing).
    pub answers: Vec<(u16, String, Result<Answer, String>)>,
    /// What the learner answered, by check id.
    pub answered: std::collections::BTreeMap<String, String>,
    /// The right answers, by check id, fixed when the exercise was set up for this learner
    /// (see [`ConsoleExercise::truths`]); a question without one was not set up.
    pub truths: std::collections::BTreeMap<String, Vec<String>>,
    /// The learner's namespace of the class registry, as the console names it
    /// (`127.0.0.1:5100/learner-…/`): what `$REGISTRY/` stands for.
    pub namespace: Option<String>,
    /// What the registry holds and layerlab noted of the images the registry checks ask about.
    pub registry: Vec<RegistryFact>,
    /// The ids of the images `said` and `health` checks ask about, by the name they give (`$REGISTRY/`
    /// made the namespace), as the learner's engine holds them now: a container made from
    /// that image counts, whatever name it was run by (the console runs some by id).
    pub image_ids: Vec<(String, String)>,
}

impl ConsoleFacts {
    /// The learner's containers made from `image` (by the name they were run with, or the
    /// id the name has now: the console runs some by id).
    fn made_from(&self, image: &str) -> Vec<&ConsoleContainer> {
        let named = self.named(image);
        let id = self
            .image_ids
            .iter()
            .find(|(name, _)| *name == named)
            .map(|(_, id)| id.as_str());
        self.containers
            .iter()
            .filter(|c| same_image(&c.image, &named) || Some(c.image_id.as_str()) == id)
            .collect()
    }

    /// `image` as the console names it: `$REGISTRY/` made the learner's namespace.
    pub fn named(&self, image: &str) -> String {
        match (image.strip_prefix("$REGISTRY/"), &self.namespace) {
            (Some(rest), Some(namespace)) => format!("{namespace}{rest}"),
            _ => image.to_string(),
        }
    }
}

impl ConsoleCheck {
    /// The paths `serves` checks request.
    pub fn path(&self) -> Option<&str> {
        match self {
            ConsoleCheck::Serves { path, .. } => Some(path),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ConsoleCheck::Serves {
                path,
                status,
                body_contains,
            } => {
                let body = body_contains
                    .as_ref()
                    .map(|b| format!(" with a page holding “{b}”"))
                    .unwrap_or_default();
                format!("A running container of yours publishes a port that answers {path} with {status}{body}.")
            }
            ConsoleCheck::MainProcess {
                command,
                user,
                publishing,
            } => {
                let user = user
                    .as_ref()
                    .map(|u| format!(", as user {u}"))
                    .unwrap_or_default();
                let which = if *publishing {
                    "The running container of yours that serves on its published port"
                } else {
                    "A running container of yours"
                };
                format!("{which} has `{command}` as its main process (PID 1){user}.")
            }
            ConsoleCheck::Said { image, contains } => {
                format!("A container of yours made from `{image}` printed “{contains}”.")
            }
            ConsoleCheck::Health { image, status, same_check_as } => {
                let same = same_check_as
                    .as_ref()
                    .map(|other| format!(", with the same health check as your `{other}`"))
                    .unwrap_or_default();
                format!("A running container of yours made from `{image}` is {status}{same}.")
            }
            ConsoleCheck::Pushed { image } => format!(
                "Your namespace of the class registry holds `$REGISTRY/{image}`, pushed from this workshop."
            ),
            ConsoleCheck::PulledBack { image } => format!(
                "`$REGISTRY/{image}` came back from the class registry: pulled into your engine when it no longer held that image."
            ),
            ConsoleCheck::ImageConfig { image, env, cmd } => {
                let mut wanted = Vec::new();
                if let Some(env) = env {
                    wanted.push(format!("sets {env}"));
                }
                if let Some(cmd) = cmd {
                    wanted.push(format!("runs `{cmd}` by default"));
                }
                format!(
                    "Your image `{image}` is as it was built: it still {}.",
                    wanted.join(" and ")
                )
            }
            ConsoleCheck::Answer { question, .. } => format!("You answer: {question}"),
        }
    }

    /// The image in the learner's namespace of the class registry a `pushed` or
    /// `pulled-back` check asks about.
    pub fn registry_image(&self) -> Option<&str> {
        match self {
            ConsoleCheck::Pushed { image } | ConsoleCheck::PulledBack { image } => Some(image),
            _ => None,
        }
    }

    /// The question an `answer` check asks.
    pub fn question(&self) -> Option<&str> {
        match self {
            ConsoleCheck::Answer { question, .. } => Some(question),
            _ => None,
        }
    }

    /// The right answer(s) to an `answer` check, from the facts; `Err` says why there is none.
    fn truth(&self, facts: &ConsoleFacts) -> Result<Vec<String>, String> {
        let ConsoleCheck::Answer {
            logs_of,
            pattern,
            main_user_of,
            layers_of,
            listening_port_of,
            ..
        } = self
        else {
            return Err("not a question".into());
        };
        // The one the setup made, not one the learner made under its name.
        let container = |name: &str| {
            let found = facts
                .containers
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| format!("You have no container called {name} (anymore): press Set up the exercise to make it again."))?;
            if !found.fixture {
                return Err(format!("This {name} is not the one Set up the exercise made (it was made again since, or the server restarted): press Set up the exercise, then find the answer in the new one."));
            }
            Ok(found)
        };
        if let (Some(name), Some(pattern)) = (logs_of, pattern) {
            let c = container(name)?;
            return found_in(&c.logs, pattern)
                .map(|found| vec![found])
                .ok_or_else(|| format!("The log of {name} no longer holds what the question asks about: press Set up the exercise to start again."));
        }
        if let Some(name) = main_user_of {
            let c = container(name)?;
            let (user, _) = c.main_process.as_ref().ok_or_else(|| {
                format!("{name} is not running, so who runs its main process cannot be read: press Set up the exercise to start again.")
            })?;
            return Ok(std::iter::once(user.clone())
                .chain(c.config_user.clone())
                .collect());
        }
        if let Some(name) = layers_of {
            let image = facts
                .images
                .iter()
                .find(|i| i.names.iter().any(|n| same_image(n, name)))
                .ok_or_else(|| format!("You have no image called `{name}`: press Set up the exercise to make it again."))?;
            if !image.fixture {
                return Err(format!("This `{name}` is not the image Set up the exercise made (it was built again since, or the server restarted): press Set up the exercise, then count the new one."));
            }
            return Ok(vec![image.layers.to_string()]);
        }
        if let Some(name) = listening_port_of {
            let c = container(name)?;
            if !c.running {
                return Err(format!("{name} is not running, so what it listens on cannot be read: press Set up the exercise to start again."));
            }
            return Ok(c.listening.iter().map(u16::to_string).collect());
        }
        Err("this question has no answer to compare with".into())
    }

    pub fn judge(&self, id: &str, facts: &ConsoleFacts) -> CheckOutcome {
        let (passed, message) = match self {
            ConsoleCheck::Answer { .. } => answer_verdict(
                facts.answered.get(id).map(String::as_str),
                facts.truths.get(id),
            ),
            _ => self.verdict(facts),
        };
        CheckOutcome {
            id: id.to_string(),
            passed,
            message,
            learn_more: None,
        }
    }

    fn verdict(&self, facts: &ConsoleFacts) -> (bool, String) {
        let running: Vec<&ConsoleContainer> =
            facts.containers.iter().filter(|c| c.running).collect();
        match self {
            ConsoleCheck::Serves {
                path,
                status,
                body_contains,
            } => {
                let published: Vec<(&ConsoleContainer, u16)> = running
                    .iter()
                    .flat_map(|c| c.ports.iter().map(move |(p, _)| (*c, *p)))
                    .collect();
                if published.is_empty() {
                    let stopped = facts
                        .containers
                        .iter()
                        .find(|c| !c.running && !c.ports.is_empty());
                    return (false, match stopped {
                        Some(c) => format!("Your container {} publishes a port but is not running: `docker ps -a` shows how it ended, `docker logs {}` what it said.", c.name, c.name),
                        None if running.is_empty() => "None of your containers is running: start one detached (`docker run -d …`) so that it keeps serving.".into(),
                        None => "None of your running containers publishes a port: `docker run -p <port>:<container port> …` does.".into(),
                    });
                }
                let mut misses = Vec::new();
                for (container, port) in &published {
                    let answer = facts
                        .answers
                        .iter()
                        .find(|(p, asked, _)| p == port && asked == path)
                        .map(|(_, _, a)| a);
                    match answer {
                        Some(Ok(a))
                            if a.status == *status
                                && body_contains
                                    .as_ref()
                                    .is_none_or(|b| a.body.contains(b.as_str())) =>
                        {
                            return (
                                true,
                                format!(
                                    "Port {port} of {} answers {path} with {}.",
                                    container.name, a.status
                                ),
                            );
                        }
                        Some(Ok(a)) if a.status != *status => misses.push(format!(
                            "port {port} ({}) answered {}",
                            container.name, a.status
                        )),
                        Some(Ok(_)) => misses.push(format!(
                            "port {port} ({}) answered, but its page does not hold “{}”",
                            container.name,
                            body_contains.as_deref().unwrap_or_default()
                        )),
                        Some(Err(e)) => misses.push(format!(
                            "port {port} ({}) did not answer: {e}",
                            container.name
                        )),
                        None => {
                            misses.push(format!("port {port} ({}) was not asked", container.name))
                        }
                    }
                }
                (
                    false,
                    format!(
                        "No published port answers {path} as asked: {}.",
                        misses.join("; ")
                    ),
                )
            }
            ConsoleCheck::MainProcess {
                command,
                user,
                publishing,
            } => {
                if running.is_empty() {
                    return (false, "None of your containers is running: the main process is read from a running one (`docker run -d …`).".into());
                }
                // A container whose published port answered (anything): the one serving.
                let serves = |c: &ConsoleContainer| {
                    c.ports.iter().any(|(port, _)| {
                        facts.answers.iter().any(|(p, _, a)| p == port && a.is_ok())
                    })
                };
                let judged: Vec<&&ConsoleContainer> = running
                    .iter()
                    .filter(|c| !*publishing || serves(c))
                    .collect();
                if judged.is_empty() {
                    return (false, "None of your running containers serves on a published port yet: its main process is the one asked about.".into());
                }
                let mut seen = Vec::new();
                for c in judged {
                    let Some((who, line)) = &c.main_process else {
                        continue;
                    };
                    let program = line.split_whitespace().next().unwrap_or("");
                    let named =
                        program == command || program.rsplit('/').next() == Some(command.as_str());
                    let as_user = user
                        .as_ref()
                        .is_none_or(|u| who == u || c.config_user.as_deref() == Some(u.as_str()));
                    if named && as_user {
                        return (
                            true,
                            format!("In {}, PID 1 is `{line}`, run by {who}.", c.name),
                        );
                    }
                    seen.push(format!("{}: PID 1 is `{line}` run by {who}", c.name));
                }
                if seen.is_empty() {
                    return (
                        false,
                        "The processes of your running containers could not be read.".into(),
                    );
                }
                (
                    false,
                    format!(
                        "No running container of yours has `{command}` as PID 1{}: {}.",
                        user.as_ref()
                            .map(|u| format!(" as {u}"))
                            .unwrap_or_default(),
                        seen.join("; ")
                    ),
                )
            }
            ConsoleCheck::Pushed { .. } | ConsoleCheck::PulledBack { .. } => {
                registry::verdict(self, facts)
            }
            ConsoleCheck::Health {
                image,
                status,
                same_check_as,
            } => health_verdict(facts, image, status, same_check_as.as_deref()),
            ConsoleCheck::Said { image, contains } => {
                let mut from = facts.made_from(image);
                if from.is_empty() {
                    return (false, format!("None of your containers is made from `{image}` (`docker ps -a` lists them, with their image)."));
                }
                // (An image pulled back: only what ran it since counts, give or take the
                // engine's clock against ours.)
                if let Some(pulled) = facts.pulled_back_at(image) {
                    from.retain(|c| c.created_ms + 250 >= pulled);
                    if from.is_empty() {
                        return (false, format!("Your containers made from `{image}` were all made before you pulled it back: run the pulled image."));
                    }
                }
                if let Some(c) = from.iter().find(|c| c.logs.contains(contains.as_str())) {
                    return (true, format!("{} printed “{contains}”.", c.name));
                }
                let last = from
                    .iter()
                    .filter_map(|c| {
                        let line = c.logs.lines().rev().find(|l| !l.trim().is_empty())?;
                        Some(format!(
                            "{} last printed “{}”",
                            c.name,
                            clipped(line.trim())
                        ))
                    })
                    .collect::<Vec<_>>();
                let said = if last.is_empty() {
                    "they printed nothing".to_string()
                } else {
                    last.join("; ")
                };
                (
                    false,
                    format!(
                        "No container of yours made from `{image}` printed “{contains}”: {said}."
                    ),
                )
            }
            ConsoleCheck::ImageConfig { image, env, cmd } => {
                let Some(found) = facts
                    .images
                    .iter()
                    .find(|i| i.names.iter().any(|n| same_image(n, image)))
                else {
                    return (
                        false,
                        format!(
                            "You have no image called `{image}` (`docker images` lists yours)."
                        ),
                    );
                };
                if let Some(env) = env.as_ref().filter(|env| !found.env.contains(env)) {
                    let name = env.split('=').next().unwrap_or(env);
                    let has = found
                        .env
                        .iter()
                        .find(|e| e.split('=').next() == Some(name))
                        .map(|e| format!("it sets {e}"))
                        .unwrap_or_else(|| format!("it does not set {name}"));
                    return (false, format!("Your image `{image}` should still set {env}, but {has}: the exercise is done without building it again."));
                }
                let has_cmd = found.cmd.join(" ");
                if let Some(cmd) = cmd.as_ref().filter(|cmd| **cmd != has_cmd) {
                    return (false, format!("Your image `{image}` should still run `{cmd}` by default, but it runs `{has_cmd}`: the exercise is done without building it again."));
                }
                (true, format!("`{image}` is as it was built."))
            }
            // (Judged by `judge`, with the learner's answer.)
            ConsoleCheck::Answer { .. } => answer_verdict(None, None),
        }
    }
}

/// Whether the containers made from `image` are in health `status` (with the same health
/// check as one made from `same_as`, when asked).
fn health_verdict(
    facts: &ConsoleFacts,
    image: &str,
    status: &str,
    same_as: Option<&str>,
) -> (bool, String) {
    let running_from = |image: &str| -> Vec<&ConsoleContainer> {
        let mut from = facts.made_from(image);
        from.retain(|c| c.running);
        from
    };
    let from = running_from(image);
    if from.is_empty() {
        return (false, format!("None of your running containers is made from `{image}` (`docker ps` lists them, with their image)."));
    }
    let checked: Vec<&&ConsoleContainer> = from.iter().filter(|c| c.health.is_some()).collect();
    if checked.is_empty() {
        return (false, format!("Your running containers made from `{image}` have no health check: `docker run --health-cmd …` gives one (or the image's HEALTHCHECK)."));
    }
    // The other image's container: another container, decided the other way, by the very
    // same check run the same way (one check telling the two apart).
    let others = same_as.map(running_from).unwrap_or_default();
    let mut seen = Vec::new();
    for c in &checked {
        let state = c.health.as_deref().unwrap_or_default();
        let same = same_as.is_none()
            || others.iter().any(|o| {
                o.name != c.name
                    && o.health
                        .as_deref()
                        .is_some_and(|s| s != state && s != "starting")
                    && o.health_basis == c.health_basis
            });
        if state == status && same {
            return (true, format!("{} is {state}.", c.name));
        }
        seen.push(if state == status {
            format!(
                "{} is {state}, but no other running container of `{}` has the very same health check (run the same way) and was found the other way",
                c.name,
                same_as.unwrap_or_default()
            )
        } else if state == "starting" {
            format!("{} is still starting (its first checks have not decided yet: wait an interval or two, then check again)", c.name)
        } else {
            format!("{} is {state}", c.name)
        });
    }
    (
        false,
        format!(
            "No running container of yours made from `{image}` is {status}: {}.",
            seen.join("; ")
        ),
    )
}

/// An answer against the right ones fixed at setup (`None`: not set up).
fn answer_verdict(given: Option<&str>, truth: Option<&Vec<String>>) -> (bool, String) {
    let Some(right) = truth else {
        return (false, "Set up the exercise first: what it asks about is made for you then (after a server restart, set it up again).".into());
    };
    let given = given.map(str::trim).unwrap_or_default();
    if given.is_empty() {
        return (
            false,
            "Not answered yet: type what you found in the box under the question.".into(),
        );
    }
    if right.iter().any(|r| r.eq_ignore_ascii_case(given)) {
        return (true, format!("Right: {given}."));
    }
    (
        false,
        format!(
            "“{}” is not it: look again with the commands the lesson shows.",
            clipped(given)
        ),
    )
}

/// At most 200 characters of `text` (a log line or an answer quoted in a message).
fn clipped(text: &str) -> String {
    let mut out: String = text.chars().take(200).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// In `log`, the first answer `pattern` holds: the text where its `{}` stands, up to the
/// words after it (or up to a space when nothing follows).
fn found_in(log: &str, pattern: &str) -> Option<String> {
    let (before, after) = pattern.split_once("{}")?;
    log.lines().find_map(|line| {
        let rest = &line[line.find(before)? + before.len()..];
        let found = if after.is_empty() {
            rest.split_whitespace().next()?
        } else {
            &rest[..rest.find(after)?]
        };
        Some(found.trim().to_string()).filter(|f| !f.is_empty())
    })
}

/// `greeter` and `greeter:latest` are one name.
fn same_image(shown: &str, wanted: &str) -> bool {
    fn full(name: &str) -> String {
        let last = name.rsplit('/').next().unwrap_or(name);
        if last.contains(':') || name.contains('@') {
            name.to_string()
        } else {
            format!("{name}:latest")
        }
    }
    full(shown) == full(wanted)
}

/// Take a console `[[checks]]` table apart.
fn parse_check(mut table: toml::Table) -> anyhow::Result<ConsoleExerciseCheck> {
    let id = match table.remove("id") {
        Some(toml::Value::String(id)) if !id.is_empty() => id,
        _ => bail!(
            "every check needs an `id` (a short name that stays the same when the wording changes)"
        ),
    };
    let explained_in = match table.remove("explained_in") {
        Some(toml::Value::String(link)) => Some(link),
        Some(_) => {
            bail!("check `{id}`: `explained_in` must be a string like \"lesson-slug#heading\"")
        }
        None => None,
    };
    let check = ConsoleCheck::deserialize(toml::Value::Table(table)).with_context(|| {
        format!("check `{id}` (a console exercise's checks are of type serves, main-process, said, image-config, health, pushed, pulled-back or answer)")
    })?;
    Ok(ConsoleExerciseCheck {
        id,
        check,
        explained_in,
    })
}

/// The commands of a script: one per line, without comments and blank lines.
fn commands(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if lines.is_empty() {
        bail!("{} holds no command", path.display());
    }
    if let Some(long) = lines.iter().find(|l| l.len() > app::dto::MAX_CONSOLE_LINE) {
        bail!(
            "{}: a line is longer than the console takes ({} bytes): {long:.60}…",
            path.display(),
            app::dto::MAX_CONSOLE_LINE
        );
    }
    Ok(lines)
}

/// Load a console exercise's checks, solution and wrong answers from its folder; `lesson_has`
/// says whether `slug#anchor` is a heading of a lesson.
pub(super) fn load(
    dir: &Path,
    file: &ConsoleExerciseFile,
    lesson_has: impl Fn(&str, &str) -> bool,
) -> anyhow::Result<ConsoleExercise> {
    if file.kind != "console" {
        bail!(
            "`kind` is \"console\" or left out (a build exercise), not \"{}\"",
            file.kind
        );
    }
    let mut checks: Vec<ConsoleExerciseCheck> = Vec::new();
    for (index, table) in file.checks.iter().enumerate() {
        let parsed = parse_check(table.clone())
            .with_context(|| format!("check number {} in exercise.toml", index + 1))?;
        if checks.iter().any(|c| c.id == parsed.id) {
            bail!("two checks have the id `{}`; ids must differ", parsed.id);
        }
        if let Some(link) = &parsed.explained_in {
            let (slug, anchor) = link.split_once('#').unwrap_or((link, ""));
            if !lesson_has(slug, anchor) {
                bail!(
                    "check `{}`: `explained_in = \"{link}\"` names no lesson heading",
                    parsed.id
                );
            }
        }
        if let ConsoleCheck::Answer {
            question,
            logs_of,
            pattern,
            main_user_of,
            layers_of,
            listening_port_of,
        } = &parsed.check
        {
            let sources = [
                logs_of.is_some(),
                main_user_of.is_some(),
                layers_of.is_some(),
                listening_port_of.is_some(),
            ]
            .iter()
            .filter(|s| **s)
            .count();
            if sources != 1 || logs_of.is_some() != pattern.is_some() || question.trim().is_empty()
            {
                bail!("check `{}`: an answer check asks a `question` and reads its answer from one of: `logs_of` with a `pattern`, `main_user_of`, `layers_of`, `listening_port_of`", parsed.id);
            }
            if pattern
                .as_ref()
                .is_some_and(|p| p.matches("{}").count() != 1 || p.starts_with("{}"))
            {
                bail!("check `{}`: `pattern` is the log line's words with one {{}} where the answer stands (\"the code is {{}}\")", parsed.id);
            }
            if !file.answers.contains_key(&parsed.id) {
                bail!("check `{}` asks a question: give the solution's answer in [answers] (`{} = \"a command printing it\"`)", parsed.id, parsed.id);
            }
        }
        if let ConsoleCheck::Health { status, .. } = &parsed.check {
            if status != "healthy" && status != "unhealthy" {
                bail!(
                    "check `{}`: `status` is \"healthy\" or \"unhealthy\", not \"{status}\"",
                    parsed.id
                );
            }
        }
        if let Some(image) = parsed.check.registry_image() {
            if repository_and_tag(image).is_none() {
                bail!("check `{}`: `image = \"{image}\"` must be a name and tag in the learner's namespace of the class registry, without the registry or the namespace (\"greeter:1.0\")", parsed.id);
            }
        }
        if let Some(path) = parsed.check.path() {
            if !path.starts_with('/') || path.contains(char::is_whitespace) {
                bail!(
                    "check `{}`: `path` must start with / and hold no spaces",
                    parsed.id
                );
            }
        }
        checks.push(parsed);
    }
    if checks.is_empty() {
        bail!("exercise.toml has no [[checks]]; add at least one");
    }
    let asks_pages = checks.iter().any(|c| c.check.path().is_some());
    if let Some(c) = checks.iter().find(|c| {
        matches!(
            c.check,
            ConsoleCheck::MainProcess {
                publishing: true,
                ..
            }
        )
    }) {
        if !asks_pages {
            bail!("check `{}` judges the container that serves on a published port: add a `serves` check, whose request finds it", c.id);
        }
    }
    for (id, line) in file
        .answers
        .iter()
        .chain(file.wrong.iter().flat_map(|w| w.answers.iter()))
    {
        if !checks
            .iter()
            .any(|c| c.id == *id && c.check.question().is_some())
        {
            bail!("[answers] `{id}` names no answer check of this exercise");
        }
        if line.trim().is_empty() || line.contains('\n') {
            bail!("[answers] `{id}`: give one command line that prints the answer");
        }
    }
    let setup = if dir.join("setup.sh").exists() {
        commands(&dir.join("setup.sh"))?
    } else {
        Vec::new()
    };
    let solution = commands(&dir.join("solution.sh")).context(
        "a console exercise needs solution.sh: the commands that solve it, one per line",
    )?;
    let mut wrong = Vec::new();
    let mut scripts: std::collections::BTreeSet<String> = match std::fs::read_dir(dir.join("wrong"))
    {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Default::default(),
    };
    for case in &file.wrong {
        if !checks.iter().any(|c| c.id == case.fails) {
            bail!(
                "[[wrong]] `{}`: `fails = \"{}\"` names no check of this exercise",
                case.name,
                case.fails
            );
        }
        if !scripts.remove(&format!("{}.sh", case.name)) {
            bail!(
                "[[wrong]] `{}`: there is no wrong/{}.sh with its commands",
                case.name,
                case.name
            );
        }
        wrong.push(ConsoleWrong {
            name: case.name.clone(),
            fails: case.fails.clone(),
            why: case.why.clone(),
            commands: commands(&dir.join("wrong").join(format!("{}.sh", case.name)))?,
            answers: case.answers.clone(),
        });
    }
    if let Some(stray) = scripts.into_iter().next() {
        bail!(
            "wrong/{stray} is not declared: add a [[wrong]] naming it, the check it fails and why"
        );
    }
    Ok(ConsoleExercise {
        checks,
        solution,
        answers: file.answers.clone(),
        wrong,
        setup,
    })
}

impl ConsoleExercise {
    /// Every check judged on `facts`; a failed one links to its lesson (or `lesson`).
    pub fn judge(&self, facts: &ConsoleFacts, lesson: Option<&str>) -> Vec<CheckOutcome> {
        self.checks
            .iter()
            .map(|c| {
                let mut outcome = c.check.judge(&c.id, facts);
                if !outcome.passed {
                    outcome.learn_more = c
                        .explained_in
                        .as_deref()
                        .or(lesson)
                        .map(|link| format!("/learn/{link}"));
                }
                outcome
            })
            .collect()
    }

    /// What its checks and questions read of the learner's containers and images.
    pub fn reads(&self) -> crate::engine::console_state::Reads {
        let mut reads = crate::engine::console_state::Reads::default();
        for c in &self.checks {
            match &c.check {
                ConsoleCheck::Said { .. } => reads.logs = true,
                ConsoleCheck::Health { .. } => reads.health = true,
                ConsoleCheck::MainProcess { .. } => reads.processes = true,
                ConsoleCheck::ImageConfig { .. } => reads.images = true,
                ConsoleCheck::Answer {
                    logs_of,
                    main_user_of,
                    layers_of,
                    ..
                } => {
                    reads.logs |= logs_of.is_some();
                    reads.processes |= main_user_of.is_some();
                    reads.user |= main_user_of.is_some();
                    reads.images |= layers_of.is_some();
                }
                ConsoleCheck::Serves { .. }
                | ConsoleCheck::Pushed { .. }
                | ConsoleCheck::PulledBack { .. } => {}
            }
        }
        reads
    }

    /// The images in the learner's namespace of the class registry its checks ask about.
    pub fn registry_images(&self) -> Vec<String> {
        let mut images: Vec<String> = self
            .checks
            .iter()
            .filter_map(|c| c.check.registry_image().map(str::to_string))
            .collect();
        images.sort();
        images.dedup();
        images
    }

    /// The images whose containers `said` and `health` checks judge (as written:
    /// `$REGISTRY/` left as it is).
    pub fn run_images(&self) -> Vec<String> {
        let mut images: Vec<String> = self
            .checks
            .iter()
            .flat_map(|c| match &c.check {
                ConsoleCheck::Said { image, .. } => vec![image.clone()],
                ConsoleCheck::Health {
                    image,
                    same_check_as,
                    ..
                } => std::iter::once(image.clone())
                    .chain(same_check_as.clone())
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        images.sort();
        images.dedup();
        images
    }

    /// The containers whose listening ports a question asks about.
    pub fn listening_asked(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter_map(|c| match &c.check {
                ConsoleCheck::Answer {
                    listening_port_of: Some(name),
                    ..
                } => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// The right answer to each question, from a slice just set up (what the setup made
    /// marked as such); `Err` says what is missing (not there yet, or not made).
    pub fn truths(
        &self,
        facts: &ConsoleFacts,
    ) -> Result<std::collections::BTreeMap<String, Vec<String>>, String> {
        self.checks
            .iter()
            .filter(|c| c.check.question().is_some())
            .map(|c| Ok((c.id.clone(), c.check.truth(facts)?)))
            .collect()
    }

    /// The `(path)`s the `serves` checks request on every published port.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self
            .checks
            .iter()
            .filter_map(|c| c.check.path().map(str::to_string))
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(running: bool) -> ConsoleContainer {
        ConsoleContainer {
            name: "web".into(),
            image: "busybox:1.35".into(),
            image_id: "sha256:busybox".into(),
            running,
            ports: vec![(8080, 80)],
            logs: "starting\nready on 80\n".into(),
            main_process: Some(("root".into(), "httpd -f -p 80 -h /www".into())),
            config_user: Some("0".into()),
            listening: vec![80],
            fixture: true,
            health: None,
            health_basis: String::new(),
            created_ms: 0,
        }
    }

    #[test]
    fn health_reads_the_state_and_the_check_of_running_containers_from_the_image() {
        let shop = |name: &str, image: &str, health: Option<&str>, test: &str| ConsoleContainer {
            name: name.into(),
            image: image.into(),
            health: health.map(str::to_string),
            health_basis: test.into(),
            ..web(true)
        };
        let truthful = "wget -q -O /dev/null http://127.0.0.1:8080/health";
        let unhealthy = ConsoleCheck::Health {
            image: "shop:1".into(),
            status: "unhealthy".into(),
            same_check_as: None,
        };
        let healthy_too = ConsoleCheck::Health {
            image: "shop:2".into(),
            status: "healthy".into(),
            same_check_as: Some("shop:1".into()),
        };
        let both = with_containers(vec![
            shop("one", "shop:1", Some("unhealthy"), truthful),
            shop("two", "shop:2", Some("healthy"), truthful),
        ]);
        assert!(unhealthy.judge("h", &both).passed);
        assert!(healthy_too.judge("h", &both).passed);
        // A check tailored to each (false on one, true on the other) is not the same check.
        let tailored = with_containers(vec![
            shop("one", "shop:1", Some("unhealthy"), "false"),
            shop("two", "shop:2", Some("healthy"), "true"),
        ]);
        let said = healthy_too.judge("h", &tailored);
        assert!(
            !said.passed && said.message.contains("the very same health check"),
            "{said:?}"
        );
        // A third container beside them, of the old image with the new one's check and the
        // same state: not the other way, so not a partner.
        let beside = with_containers(vec![
            shop("one", "shop:1", Some("unhealthy"), "false"),
            shop("three", "shop:1", Some("healthy"), "true"),
            shop("two", "shop:2", Some("healthy"), "true"),
        ]);
        assert!(unhealthy.judge("h", &beside).passed);
        assert!(!healthy_too.judge("h", &beside).passed);
        // shop:1 made to name shop:2's image: a container is never its own partner.
        let mut retagged = with_containers(vec![
            shop("one", "shop:2", Some("unhealthy"), "false"),
            shop("two", "shop:2", Some("healthy"), "true"),
        ]);
        retagged.image_ids = vec![("shop:1".into(), "sha256:busybox".into())];
        assert!(unhealthy.judge("h", &retagged).passed);
        assert!(!healthy_too.judge("h", &retagged).passed);
        // Starting, none, stopped, another image: each said.
        for (facts, says) in [
            (
                with_containers(vec![shop("one", "shop:1", Some("starting"), truthful)]),
                "still starting",
            ),
            (
                with_containers(vec![shop("one", "shop:1", None, truthful)]),
                "no health check",
            ),
            (
                with_containers(vec![ConsoleContainer {
                    running: false,
                    ..shop("one", "shop:1", Some("unhealthy"), truthful)
                }]),
                "None of your running containers",
            ),
            (
                with_containers(vec![shop("one", "shop:2", Some("unhealthy"), truthful)]),
                "None of your running containers",
            ),
            (
                with_containers(vec![shop("one", "shop:1", Some("healthy"), truthful)]),
                "one is healthy",
            ),
        ] {
            let said = unhealthy.judge("h", &facts);
            assert!(
                !said.passed && said.message.contains(says),
                "{says}: {said:?}"
            );
        }
    }

    fn with_containers(containers: Vec<ConsoleContainer>) -> ConsoleFacts {
        ConsoleFacts {
            containers,
            ..Default::default()
        }
    }

    fn serves(body: Option<&str>) -> ConsoleCheck {
        ConsoleCheck::Serves {
            path: "/".into(),
            status: 200,
            body_contains: body.map(str::to_string),
        }
    }

    #[test]
    fn serves_needs_a_running_published_container_whose_page_answers() {
        let answered = |status: u16, body: &str| ConsoleFacts {
            containers: vec![web(true)],
            answers: vec![(
                8080,
                "/".into(),
                Ok(Answer {
                    status,
                    body: body.into(),
                }),
            )],
            ..Default::default()
        };
        assert!(
            serves(Some("hello"))
                .judge("s", &answered(200, "<h1>hello</h1>"))
                .passed
        );
        let wrong_page = serves(Some("hello")).judge("s", &answered(200, "index of /"));
        assert!(
            !wrong_page.passed && wrong_page.message.contains("does not hold"),
            "{wrong_page:?}"
        );
        let not_found = serves(None).judge("s", &answered(404, ""));
        assert!(
            !not_found.passed && not_found.message.contains("answered 404"),
            "{not_found:?}"
        );
        let refused = ConsoleFacts {
            containers: vec![web(true)],
            answers: vec![(8080, "/".into(), Err("connection refused".into()))],
            ..Default::default()
        };
        let said = serves(None).judge("s", &refused);
        assert!(
            !said.passed && said.message.contains("connection refused"),
            "{said:?}"
        );
        // An answer on record but the container is gone from the running ones: not passed.
        let stopped = ConsoleFacts {
            containers: vec![web(false)],
            ..answered(200, "hello")
        };
        let said = serves(None).judge("s", &stopped);
        assert!(
            !said.passed && said.message.contains("not running"),
            "{said:?}"
        );
        let mut unpublished = web(true);
        unpublished.ports.clear();
        let said = serves(None).judge("s", &with_containers(vec![unpublished]));
        assert!(
            !said.passed && said.message.contains("publishes a port"),
            "{said:?}"
        );
        let said = serves(None).judge("s", &ConsoleFacts::default());
        assert!(
            !said.passed && said.message.contains("docker run -d"),
            "{said:?}"
        );
    }

    #[test]
    fn main_process_reads_pid_one_and_its_user() {
        let facts = ConsoleFacts {
            containers: vec![web(true)],
            ..Default::default()
        };
        let httpd = ConsoleCheck::MainProcess {
            command: "httpd".into(),
            user: None,
            publishing: false,
        };
        assert!(httpd.judge("m", &facts).passed);
        let as_root = ConsoleCheck::MainProcess {
            command: "httpd".into(),
            user: Some("0".into()),
            publishing: false,
        };
        assert!(as_root.judge("m", &facts).passed, "a uid matches");
        let as_nobody = ConsoleCheck::MainProcess {
            command: "httpd".into(),
            user: Some("nobody".into()),
            publishing: false,
        };
        let said = as_nobody.judge("m", &facts);
        assert!(
            !said.passed && said.message.contains("run by root"),
            "{said:?}"
        );
        let mut shell = web(true);
        shell.main_process = Some(("root".into(), "/bin/sh -c httpd -p 80; sleep 1d".into()));
        let said = httpd.judge("m", &with_containers(vec![shell]));
        assert!(
            !said.passed && said.message.contains("/bin/sh"),
            "a shell naming httpd is not httpd: {said:?}"
        );
        let said = httpd.judge("m", &with_containers(vec![web(false)]));
        assert!(!said.passed, "{said:?}");
    }

    #[test]
    fn main_process_of_the_serving_container_when_asked() {
        let serving = ConsoleCheck::MainProcess {
            command: "httpd".into(),
            user: None,
            publishing: true,
        };
        // The published one runs a shell as PID 1; httpd runs in another, unpublished one.
        let mut front = web(true);
        front.main_process = Some(("root".into(), "sh -c httpd -p 80; sleep 1d".into()));
        let mut beside = web(true);
        beside.name = "beside".into();
        beside.ports.clear();
        let answered = vec![(
            8080,
            "/".to_string(),
            Ok(Answer {
                status: 200,
                body: "hi".into(),
            }),
        )];
        let facts = ConsoleFacts {
            containers: vec![front.clone(), beside],
            answers: answered.clone(),
            ..Default::default()
        };
        let said = serving.judge("m", &facts);
        assert!(
            !said.passed && said.message.contains("sh -c httpd"),
            "{said:?}"
        );
        let facts = ConsoleFacts {
            containers: vec![web(true)],
            answers: answered,
            ..Default::default()
        };
        assert!(serving.judge("m", &facts).passed);
        let said = serving.judge("m", &with_containers(vec![web(true)]));
        assert!(
            !said.passed && said.message.contains("serves on a published port"),
            "{said:?}"
        );
    }

    #[test]
    fn said_reads_the_logs_of_containers_from_that_image() {
        let mut greeter = web(false);
        greeter.image = "greeter".into();
        greeter.logs = "Hej from the greeter\n".into();
        let check = ConsoleCheck::Said {
            image: "greeter:latest".into(),
            contains: "Hej".into(),
        };
        assert!(
            check
                .judge("s", &with_containers(vec![greeter.clone()]))
                .passed
        );
        greeter.logs = "Hello from the greeter\n".into();
        let said = check.judge("s", &with_containers(vec![greeter.clone()]));
        assert!(
            !said.passed
                && said
                    .message
                    .contains("last printed “Hello from the greeter”"),
            "{said:?}"
        );
        greeter.image = "busybox:1.35".into();
        greeter.logs = "Hej\n".into();
        let said = check.judge("s", &with_containers(vec![greeter]));
        assert!(
            !said.passed && said.message.contains("made from `greeter:latest`"),
            "another image's words do not count: {said:?}"
        );
    }

    #[test]
    fn said_reads_registry_as_the_learners_namespace() {
        let mut pulled = web(false);
        pulled.image = "127.0.0.1:5100/learner-1/greeter:1.0".into();
        pulled.logs = "Hej\n".into();
        let check = ConsoleCheck::Said {
            image: "$REGISTRY/greeter:1.0".into(),
            contains: "Hej".into(),
        };
        let mut facts = with_containers(vec![pulled.clone()]);
        facts.namespace = Some("127.0.0.1:5100/learner-1/".into());
        assert!(check.judge("s", &facts).passed);
        // Another learner's namespace, or the local name, is not it.
        facts.namespace = Some("127.0.0.1:5100/learner-2/".into());
        assert!(!check.judge("s", &facts).passed);
        // Run by id (the console runs an image named in the namespace by its id): the id the
        // name has now counts, another does not.
        let mut by_id = web(false);
        by_id.image = "sha256:1234".into();
        by_id.image_id = "sha256:1234".into();
        by_id.logs = "Hej\n".into();
        let mut facts = with_containers(vec![by_id]);
        facts.namespace = Some("127.0.0.1:5100/learner-1/".into());
        facts.image_ids = vec![(
            "127.0.0.1:5100/learner-1/greeter:1.0".into(),
            "sha256:1234".into(),
        )];
        assert!(check.judge("s", &facts).passed);
        facts.image_ids[0].1 = "sha256:5678".into();
        assert!(!check.judge("s", &facts).passed);
        // Pulled back at 10 s: a container made before then (its image force-removed, then
        // pulled again) ran what was there before, not what came back.
        facts.image_ids[0].1 = "sha256:1234".into();
        facts.registry = vec![RegistryFact {
            image: "greeter:1.0".into(),
            pulled_back: true,
            pulled_back_at: Some(10_000),
            ..Default::default()
        }];
        facts.containers[0].created_ms = 1_000;
        let said = check.judge("s", &facts);
        assert!(
            !said.passed && said.message.contains("before you pulled it back"),
            "{said:?}"
        );
        facts.containers[0].created_ms = 9_500;
        assert!(
            !check.judge("s", &facts).passed,
            "a moment before the pull ended"
        );
        facts.containers[0].created_ms = 10_500;
        assert!(check.judge("s", &facts).passed, "made after the pull");
        let mut local = pulled;
        local.image = "greeter:1.0".into();
        let mut facts = with_containers(vec![local]);
        facts.namespace = Some("127.0.0.1:5100/learner-1/".into());
        assert!(!check.judge("s", &facts).passed);
    }

    #[test]
    fn image_config_reads_the_images_own_env_and_cmd() {
        let check = ConsoleCheck::ImageConfig {
            image: "greeter".into(),
            env: Some("GREETING=Hello".into()),
            cmd: Some("/bin/sh -c echo hi".into()),
        };
        let image = |env: &str, cmd: &str| ConsoleFacts {
            images: vec![ConsoleImage {
                names: vec!["greeter:latest".into()],
                env: vec!["PATH=/bin".into(), env.into()],
                cmd: cmd.split(' ').map(str::to_string).collect(),
                layers: 2,
                fixture: false,
            }],
            ..Default::default()
        };
        assert!(
            check
                .judge("i", &image("GREETING=Hello", "/bin/sh -c echo hi"))
                .passed
        );
        let said = check.judge("i", &image("GREETING=Hej", "/bin/sh -c echo hi"));
        assert!(
            !said.passed && said.message.contains("it sets GREETING=Hej"),
            "{said:?}"
        );
        let said = check.judge("i", &image("GREETING=Hello", "/bin/sh -c echo Hej"));
        assert!(
            !said.passed && said.message.contains("runs `/bin/sh -c echo Hej`"),
            "a rebuilt CMD: {said:?}"
        );
        let said = check.judge("i", &ConsoleFacts::default());
        assert!(
            !said.passed && said.message.contains("no image called"),
            "{said:?}"
        );
    }

    #[test]
    fn an_answer_is_judged_against_the_engines_truth_for_this_learner() {
        let ask = |logs_of: Option<&str>, main_user_of: Option<&str>, layers_of: Option<&str>| {
            ConsoleCheck::Answer {
                question: "What?".into(),
                logs_of: logs_of.map(str::to_string),
                pattern: logs_of.map(|_| "the code is {}".to_string()),
                main_user_of: main_user_of.map(str::to_string),
                layers_of: layers_of.map(str::to_string),
                listening_port_of: None,
            }
        };
        let mut chatty = web(true);
        chatty.name = "chatty".into();
        chatty.logs = "tick 1\nthe old code is gone\ntick 2: the code is 482913 (keep it)\n".into();
        chatty.main_process = Some(("4321".into(), "sleep 3600".into()));
        let mut facts = ConsoleFacts {
            containers: vec![chatty],
            images: vec![ConsoleImage {
                names: vec!["mystery:latest".into()],
                layers: 3,
                fixture: true,
                ..Default::default()
            }],
            ..Default::default()
        };
        // What the setup fixed for this learner, then what they answered.
        let judged = |check: &ConsoleCheck, facts: &ConsoleFacts, given: &str| {
            let mut facts = facts.clone();
            if let Ok(truth) = check.truth(&facts) {
                facts.truths.insert("q".into(), truth);
            }
            facts.answered.insert("q".into(), given.into());
            check.judge("q", &facts)
        };
        let from_logs = ask(Some("chatty"), None, None);
        let said = judged(&from_logs, &facts, "");
        assert!(
            !said.passed && said.message.contains("Not answered"),
            "{said:?}"
        );
        for (given, right) in [
            ("482913", true),
            (" 482913\n", true),
            ("gone", false),
            ("48291", false),
        ] {
            assert_eq!(judged(&from_logs, &facts, given).passed, right, "{given:?}");
        }
        let not_set_up = from_logs.judge("q", &facts);
        assert!(
            !not_set_up.passed && not_set_up.message.contains("Set up the exercise first"),
            "{not_set_up:?}"
        );
        assert!(judged(&ask(None, Some("chatty"), None), &facts, "4321").passed);
        assert!(judged(&ask(None, None, Some("mystery")), &facts, "3").passed);
        let port = ConsoleCheck::Answer {
            question: "Which port?".into(),
            logs_of: None,
            pattern: None,
            main_user_of: None,
            layers_of: None,
            listening_port_of: Some("chatty".into()),
        };
        assert!(judged(&port, &facts, "80").passed, "a port it listens on");
        assert!(
            !judged(&port, &facts, "8080").passed,
            "the published port is not the one inside"
        );
        // A look-alike the learner made under the fixture's name gives no answer.
        facts.containers[0].fixture = false;
        let forged = ask(None, Some("chatty"), None)
            .truth(&facts)
            .expect_err("forged");
        assert!(forged.contains("not the one Set up"), "{forged}");
        facts.images[0].fixture = false;
        let rebuilt = ask(None, None, Some("mystery"))
            .truth(&facts)
            .expect_err("rebuilt");
        assert!(rebuilt.contains("not the image Set up"), "{rebuilt}");
        let gone = ask(None, Some("nobody-here"), None)
            .truth(&facts)
            .expect_err("gone");
        assert!(gone.contains("Set up the exercise"), "{gone}");
    }

    #[test]
    fn a_check_reads_only_what_its_checks_look_at() {
        let exercise = |checks: Vec<ConsoleCheck>| ConsoleExercise {
            checks: checks
                .into_iter()
                .map(|check| ConsoleExerciseCheck {
                    id: "c".into(),
                    check,
                    explained_in: None,
                })
                .collect(),
            solution: Vec::new(),
            answers: Default::default(),
            wrong: Vec::new(),
            setup: Vec::new(),
        };
        let none = crate::engine::console_state::Reads::default();
        assert_eq!(
            exercise(vec![serves(None)]).reads(),
            none,
            "a page: nothing more"
        );
        let said = ConsoleCheck::Said {
            image: "g".into(),
            contains: "x".into(),
        };
        let user = ConsoleCheck::Answer {
            question: "?".into(),
            logs_of: None,
            pattern: None,
            main_user_of: Some("svc".into()),
            layers_of: None,
            listening_port_of: None,
        };
        let reads = exercise(vec![said, user]).reads();
        assert!(
            reads.logs && reads.processes && reads.user && !reads.images,
            "{reads:?}"
        );
    }

    #[test]
    fn checks_parse_with_their_defaults_and_refuse_unknown_fields() {
        let table: toml::Table =
            toml::from_str("id = \"s\"\ntype = \"serves\"\nbody_contains = \"hi\"").expect("toml");
        let parsed = parse_check(table).expect("parses");
        assert_eq!(parsed.check, serves(Some("hi")));
        let table: toml::Table =
            toml::from_str("id = \"s\"\ntype = \"serves\"\nport = 80").expect("toml");
        assert!(format!("{:#}", parse_check(table).expect_err("unknown field")).contains("port"));
        let table: toml::Table =
            toml::from_str("id = \"s\"\ntype = \"http-responds\"").expect("toml");
        let said = format!("{:#}", parse_check(table).expect_err("a build check"));
        assert!(
            said.contains(
                "serves, main-process, said, image-config, health, pushed, pulled-back or answer"
            ),
            "{said}"
        );
    }
}
