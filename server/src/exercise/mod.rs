//! Exercises as data: `exercises/<id>/exercise.toml` (title, lesson, run step, checks),
//! `README.md` (the statement), `starter/` (what the learner starts from) and `solution/` (only
//! the files the solution changes or adds; the rest comes from `starter/`).
//! Loading refuses every mistake it can find and says how to fix it.

pub mod check;
pub mod console;

use crate::course::{markdown, Course};
use crate::engine::run::{ProbeSpec, StopSpec};
use anyhow::{bail, Context};
use app::dto::CheckOutcome;
use app::dto::{CheckDescription, ExerciseLink, ExerciseView, WorkbenchFile};
use check::{ExerciseCheck, Facts};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

/// The id builds use when they belong to no exercise.
pub use app::dto::PLAYGROUND;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExerciseFile {
    title: String,
    /// The lesson this exercise practises; shown as a link.
    lesson: Option<String>,
    /// Base images the starter and solution build from; `images seed` makes them.
    #[serde(default)]
    base_images: Vec<String>,
    /// Whether `RUN` steps may use the network (off by default).
    #[serde(default)]
    build_network: bool,
    /// Build arguments every build passes (`--build-arg NAME=value`); the value
    /// [`FRESH_VERSION`] is a new version number for each build. Checks write `{arg.NAME}`
    /// for the value a build used.
    #[serde(default)]
    build_args: BTreeMap<String, String>,
    run: Option<RunFile>,
    #[serde(default)]
    checks: Vec<toml::Table>,
    /// Shown one at a time, one more after each attempt that does not pass (markdown).
    #[serde(default)]
    hints: Vec<String>,
    /// Known wrong answers: each is `wrong/<name>/` laid over the starter, and must fail the
    /// check it names (the course's self-test builds them all).
    #[serde(default)]
    wrong: Vec<WrongFile>,
    /// Files the exercise puts beside the learner's in every build, read-only.
    #[serde(default)]
    provided: Vec<ProvidedFile>,
    /// How the solution is built, when the skill is in the build command, not the files.
    #[serde(default)]
    solution: SolutionFile,
}

/// `[solution]`: how the solution is built.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SolutionFile {
    /// Built with `--no-cache` (then `solution/` may hold nothing: the starter's files,
    /// built that way, are the solution).
    #[serde(default)]
    no_cache: bool,
}

/// `[[provided]]`: a file every build of the exercise gets beside the learner's own.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProvidedFile {
    /// Its name at the top of the build context (`rootfs.tar`).
    pub path: String,
    /// Made as `docker export` writes this base image's filesystem: a root filesystem
    /// archive (the image must be one of the exercise's `base_images`).
    pub export: String,
    /// What it is, for the learner (one sentence).
    pub about: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WrongFile {
    /// The folder under `wrong/`.
    name: String,
    /// The id of the check this answer must fail.
    fails: String,
    /// What the answer gets wrong, for the author reading a failure.
    why: String,
}

/// A known wrong answer to an exercise and the check that must catch it.
#[derive(Clone, Debug)]
pub struct WrongAnswer {
    pub name: String,
    pub fails: String,
    pub why: String,
    /// The starter with `wrong/<name>/`'s files laid over it.
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunFile {
    /// Replaces the image's CMD.
    command: Option<Vec<String>>,
    timeout_secs: Option<u64>,
    probe: Option<ProbeFile>,
    /// Ask the container to stop after this long, as `docker stop` does.
    stop_after_secs: Option<u64>,
    /// How long it then has before SIGKILL (default [`DEFAULT_STOP_GRACE_SECS`]).
    stop_grace_secs: Option<u64>,
}

/// `docker stop` waits 10 s; a workshop need not.
pub const DEFAULT_STOP_GRACE_SECS: u64 = 3;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeFile {
    port: u16,
    #[serde(default = "root_path")]
    path: String,
}

fn root_path() -> String {
    "/".into()
}

/// What happens after a successful build.
#[derive(Clone, Debug, PartialEq)]
pub struct RunStep {
    pub command: Option<Vec<String>>,
    pub timeout: Option<Duration>,
    pub probe: Option<ProbeSpec>,
    pub stop: Option<StopSpec>,
}

#[derive(Clone, Debug)]
pub struct Exercise {
    pub id: String,
    pub title: String,
    pub lesson: Option<String>,
    pub base_images: Vec<String>,
    pub build_network: bool,
    /// `--build-arg`s as declared (see [`Exercise::args_for_a_build`]).
    pub build_args: Vec<(String, String)>,
    pub run: Option<RunStep>,
    pub checks: Vec<ExerciseCheck>,
    /// Sanitized inline HTML, in the order they unlock.
    pub hints: Vec<String>,
    pub statement_html: String,
    pub starter: BTreeMap<String, String>,
    pub solution: BTreeMap<String, String>,
    /// Known wrong answers, each with the check that must fail it.
    pub wrong: Vec<WrongAnswer>,
    /// Files every build gets beside the learner's.
    pub provided: Vec<ProvidedFile>,
    /// The solution is built with `--no-cache`.
    pub solution_no_cache: bool,
    /// Done in the docker console, not the workbench (`kind = "console"`): the build fields
    /// above are empty, and these are its checks, solution and wrong answers.
    pub console: Option<console::ConsoleExercise>,
}

/// A build argument value that becomes a new version number (`3.17.42`) for every build, so
/// that an image can only show it by really reading the argument.
pub const FRESH_VERSION: &str = "{fresh-version}";

impl Exercise {
    /// The `--build-arg`s for one build: the declared ones, each [`FRESH_VERSION`] drawn anew.
    pub fn args_for_a_build(&self) -> Vec<(String, String)> {
        self.build_args
            .iter()
            .map(|(name, value)| {
                let value = if value == FRESH_VERSION {
                    let bytes = *uuid::Uuid::new_v4().as_bytes();
                    format!(
                        "{}.{}.{}",
                        2 + bytes[0] % 7,
                        10 + bytes[1] % 80,
                        1 + bytes[2] % 90
                    )
                } else {
                    value.clone()
                };
                (name.clone(), value)
            })
            .collect()
    }

    /// This exercise as one build runs and judges it: `args` (from
    /// [`Self::args_for_a_build`]) are its build arguments, and its checks have them filled
    /// in (loading proved they parse so).
    pub fn with_build_args(mut self, args: &[(String, String)]) -> Exercise {
        if args.is_empty() {
            return self;
        }
        self.build_args = args.to_vec();
        self.checks = self
            .checks
            .iter()
            .map(|c| {
                c.with_args(args).unwrap_or_else(|e| {
                    tracing::error!(check = %c.id, "filling in build arguments: {e:#}");
                    c.clone()
                })
            })
            .collect();
        self
    }

    /// A check's goal as the learner reads it before building: a build argument's value is
    /// not known yet, so it is named (`<RELEASE>`).
    fn described(&self, check: &ExerciseCheck) -> String {
        if self.build_args.is_empty() {
            return check.check.describe();
        }
        let named: Vec<(String, String)> = self
            .build_args
            .iter()
            .map(|(name, _)| (name.clone(), format!("<{name}>")))
            .collect();
        check
            .with_args(&named)
            .map(|c| c.check.describe())
            .unwrap_or_else(|_| check.check.describe())
    }
}

/// Every exercise, in folder-name order.
#[derive(Debug, Default)]
pub struct Exercises {
    list: Vec<Exercise>,
}

impl Exercises {
    /// Load `dir/<id>/` for every folder in `dir`, checking lesson links against `course`.
    pub fn load(dir: &Path, course: &Course) -> anyhow::Result<Self> {
        let mut ids: Vec<String> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the exercises folder {}", dir.display()))?
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        let mut list = Vec::with_capacity(ids.len());
        for id in ids {
            let exercise = load_one(&dir.join(&id), &id, course)
                .with_context(|| format!("exercise `{id}` ({})", dir.join(&id).display()))?;
            list.push(exercise);
        }
        Ok(Exercises { list })
    }

    /// Every exercise's id, in folder-name order.
    pub fn ids(&self) -> Vec<&str> {
        self.list.iter().map(|e| e.id.as_str()).collect()
    }

    pub fn get(&self, id: &str) -> Option<&Exercise> {
        self.list.iter().find(|e| e.id == id)
    }

    /// Exercises whose `RUN` steps get a network (`build_network = true`).
    pub fn needing_build_network(&self) -> Vec<&str> {
        self.list
            .iter()
            .filter(|e| e.build_network)
            .map(|e| e.id.as_str())
            .collect()
    }

    /// Refuse to serve exercises with `build_network = true` unless the operator allowed it:
    /// their builds run on the engine's default bridge, which reaches the host's own services
    /// and everything the host can reach.
    pub fn check_build_network(&self, allowed: bool) -> anyhow::Result<()> {
        let needing = self.needing_build_network();
        if allowed || needing.is_empty() {
            return Ok(());
        }
        anyhow::bail!(
            "exercise{} {} set{} `build_network = true`: {} RUN steps would run on the engine's default bridge, where a learner's command reaches this host's own services (anything listening on 0.0.0.0, such as this server, sshd or a database), the local network and the cloud metadata address. Start layerlab with --allow-build-network (LAYERLAB_ALLOW_BUILD_NETWORK=true) if you accept that, or remove the option from the exercise",
            if needing.len() == 1 { "" } else { "s" },
            needing.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", "),
            if needing.len() == 1 { "s" } else { "" },
            if needing.len() == 1 { "its" } else { "their" },
        )
    }

    pub fn iter(&self) -> impl Iterator<Item = &Exercise> {
        self.list.iter()
    }

    /// The course's base images, then every exercise's, without repeats: what
    /// `images seed` makes and the status endpoint reports.
    pub fn base_images(&self, course: &Course) -> Vec<String> {
        let mut all = course.base_images.clone();
        for image in self.list.iter().flat_map(|e| e.base_images.iter()) {
            if !all.contains(image) {
                all.push(image.clone());
            }
        }
        all
    }
}

fn load_one(dir: &Path, id: &str, course: &Course) -> anyhow::Result<Exercise> {
    if !id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || id == PLAYGROUND
    {
        bail!(
            "the folder name must be lowercase letters, digits and dashes (and not `{PLAYGROUND}`)"
        );
    }
    let toml_path = dir.join("exercise.toml");
    let text = std::fs::read_to_string(&toml_path)
        .with_context(|| format!("cannot read {}", toml_path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid", toml_path.display()))?;
    if table.contains_key("kind") {
        return load_console(dir, id, course, &text)
            .with_context(|| format!("{} (a console exercise)", toml_path.display()));
    }
    let file: ExerciseFile =
        toml::from_str(&text).with_context(|| format!("{} is not valid", toml_path.display()))?;
    if let Some(lesson) = &file.lesson {
        if course.lesson(lesson).is_none() {
            bail!("`lesson = \"{lesson}\"` names no lesson in course.toml");
        }
    }
    let mut checks = Vec::with_capacity(file.checks.len());
    let mut seen = HashSet::new();
    for (index, table) in file.checks.into_iter().enumerate() {
        let parsed = check::parse(table)
            .with_context(|| format!("check number {} in exercise.toml", index + 1))?;
        if !seen.insert(parsed.id.clone()) {
            bail!("two checks have the id `{}`; ids must differ", parsed.id);
        }
        if let Some(link) = &parsed.explained_in {
            let (slug, anchor) = link.split_once('#').unwrap_or((link, ""));
            if !course.has_anchor(slug, anchor) {
                bail!(
                    "check `{}`: `explained_in = \"{link}\"` names no lesson heading (use a lesson slug, then # and a heading id from the rendered page)",
                    parsed.id
                );
            }
        }
        checks.push(parsed);
    }
    if checks.is_empty() {
        bail!("exercise.toml has no [[checks]]; add at least one");
    }
    let run = match file.run {
        Some(r) => {
            if r.stop_after_secs.is_some() && r.probe.is_some() {
                bail!("[run] either probes a web server or stops the container (stop_after_secs), not both");
            }
            if r.stop_grace_secs.is_some() && r.stop_after_secs.is_none() {
                bail!("[run] stop_grace_secs needs stop_after_secs");
            }
            if let (Some(after), Some(timeout)) = (r.stop_after_secs, r.timeout_secs) {
                if after >= timeout {
                    bail!("[run] stop_after_secs ({after}) must be less than timeout_secs ({timeout})");
                }
            }
            Some(RunStep {
                command: r.command,
                timeout: r.timeout_secs.map(Duration::from_secs),
                probe: r.probe.map(|p| ProbeSpec {
                    port: p.port,
                    path: p.path,
                }),
                stop: r.stop_after_secs.map(|after| StopSpec {
                    after: Duration::from_secs(after),
                    grace: Duration::from_secs(
                        r.stop_grace_secs.unwrap_or(DEFAULT_STOP_GRACE_SECS),
                    ),
                }),
            })
        }
        None => None,
    };
    let pulled_back: Vec<&str> = checks
        .iter()
        .filter(|c| c.check.pulled_back().is_some())
        .map(|c| c.id.as_str())
        .collect();
    if pulled_back.len() > 1 {
        bail!(
            "checks {} each pull an image back: one runs-when-pulled-back check per exercise",
            pulled_back.join(", ")
        );
    }
    if let Some(id) = pulled_back.first() {
        if run.is_none() || !checks.iter().any(|c| c.check.needs_run()) {
            bail!("check `{id}` runs the image pulled back from the registry: exercise.toml needs [run] and a check judged on the running container");
        }
    }
    for ExerciseCheck { id, check, .. } in &checks {
        if check.needs_run() && run.is_none() {
            bail!("check `{id}` looks at the running container, but exercise.toml has no [run]");
        }
        if check.command().is_some_and(<[String]>::is_empty) {
            bail!("check `{id}` has an empty `command`; give the program and its arguments");
        }
        if check.needs_running_container()
            && run
                .as_ref()
                .is_some_and(|r| r.probe.is_none() && r.stop.is_none())
        {
            bail!("check `{id}` reads `docker top` of the running container; give [run] a probe or stop_after_secs so that it is seen running");
        }
        if check.needs_probe() && run.as_ref().and_then(|r| r.probe.as_ref()).is_none() {
            bail!("check `{id}` needs an HTTP answer; add [run.probe] with the port");
        }
        if check.needs_stop() && run.as_ref().and_then(|r| r.stop).is_none() {
            bail!("check `{id}` looks at how the container stops; add stop_after_secs to [run]");
        }
        if let check::Check::Health { within_secs, .. } = check {
            if !(1..=check::MAX_HEALTH_WAIT_SECS).contains(within_secs) {
                bail!(
                    "check `{id}`: within_secs must be 1 to {} (the container holds a run slot while the engine decides)",
                    check::MAX_HEALTH_WAIT_SECS
                );
            }
        }
        if check.text_in_layers() == Some("") {
            bail!("check `{id}`: the text to look for in the layers is empty");
        }
        if let check::Check::NeverInLayers { path } = check {
            for p in path {
                let name = p.strip_prefix("**/").unwrap_or(p);
                let bare = name.trim_matches('/');
                if bare.is_empty()
                    || bare
                        .split('/')
                        .any(|s| s.is_empty() || s == "." || s == ".." || s == "**")
                {
                    bail!("check `{id}`: `{p}` is not a path a layer could hold (write /folder/file, or **/name for a name in any folder)");
                }
            }
        }
        if let check::Check::NoFileContains { text, what } = check {
            if text.is_empty() || what.trim().is_empty() {
                bail!("check `{id}`: give the `text` to look for and `what` it stands for (\"the project's source\")");
            }
        }
    }
    for name in file.build_args.keys() {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("build_args: `{name}` is not a build argument name (letters, digits, _)");
        }
    }
    let sample: Vec<(String, String)> = file
        .build_args
        .keys()
        .map(|k| (k.clone(), "1.2.3".to_string()))
        .collect();
    for c in &checks {
        let filled = c
            .with_args(&sample)
            .with_context(|| format!("check `{}` with its build arguments filled in", c.id))?;
        if format!("{:?}", filled.check).contains("{arg.") {
            bail!(
                "check `{}` names `{{arg.…}}` of a build argument that build_args does not declare",
                c.id
            );
        }
    }
    let texts = checks
        .iter()
        .filter_map(|c| c.check.text_in_layers())
        .count();
    if texts > crate::engine::layers::MAX_TEXTS {
        bail!(
            "{texts} checks search the layers for a text; at most {} can",
            crate::engine::layers::MAX_TEXTS
        );
    }
    let statement = read_statement(dir)?;
    let starter = read_tree(&dir.join("starter"))?;
    let solution_dir = dir.join("solution");
    let changes = if file.solution.no_cache && !solution_dir.exists() {
        BTreeMap::new()
    } else {
        read_tree(&solution_dir)?
    };
    if !starter.contains_key("Dockerfile") {
        bail!("starter/Dockerfile is missing");
    }
    if changes.is_empty() && !file.solution.no_cache {
        bail!("solution/ is empty; put the files the solution changes or adds there");
    }
    if let Some(same) = changes.iter().find(|(p, t)| starter.get(*p) == Some(t)) {
        bail!(
            "solution/{} is the same as starter/{}; solution/ holds only what the solution changes",
            same.0,
            same.0
        );
    }
    let mut provided_names = HashSet::new();
    for p in &file.provided {
        if !provided_names.insert(p.path.as_str()) {
            bail!("[[provided]] `{}` is given twice", p.path);
        }
        let usable = !p.path.is_empty()
            && !p.path.contains('/')
            && p.path != "Dockerfile"
            && p.path != ".dockerignore"
            && !p.path.starts_with('.');
        if !usable {
            bail!("[[provided]] `{}`: give a plain file name at the top of the build context (not Dockerfile, .dockerignore or a hidden file)", p.path);
        }
        if !file.base_images.contains(&p.export) {
            bail!(
                "[[provided]] `{}` exports `{}`, which is not among base_images; add it there so that `images seed` makes it",
                p.path,
                p.export
            );
        }
        if p.about.trim().is_empty() {
            bail!("[[provided]] `{}`: say in `about` what the file is", p.path);
        }
        if starter.contains_key(&p.path) || changes.contains_key(&p.path) {
            bail!(
                "[[provided]] `{}` is also a file of starter/ or solution/; a provided file is the exercise's, not the learner's",
                p.path
            );
        }
    }
    // The solution is the starter with solution/'s files laid over it.
    let mut solution = starter.clone();
    solution.extend(changes);
    let wrong = load_wrong(dir, &file.wrong, &checks, &starter)?;
    Ok(Exercise {
        id: id.to_string(),
        title: file.title,
        lesson: file.lesson,
        base_images: file.base_images,
        build_network: file.build_network,
        build_args: file.build_args.into_iter().collect(),
        run,
        checks,
        hints: file
            .hints
            .iter()
            .map(|h| markdown::render_inline(h))
            .collect(),
        statement_html: markdown::render_block(without_title(&statement)),
        starter,
        solution,
        wrong,
        provided: file.provided,
        solution_no_cache: file.solution.no_cache,
        console: None,
    })
}

/// A console exercise: its statement and hints as any exercise's, the rest from
/// [`console::load`].
fn load_console(dir: &Path, id: &str, course: &Course, text: &str) -> anyhow::Result<Exercise> {
    let file: console::ConsoleExerciseFile = toml::from_str(text)?;
    if let Some(lesson) = &file.lesson {
        if course.lesson(lesson).is_none() {
            bail!("`lesson = \"{lesson}\"` names no lesson in course.toml");
        }
    }
    let exercise = console::load(dir, &file, |slug, anchor| course.has_anchor(slug, anchor))?;
    let statement = read_statement(dir)?;
    Ok(Exercise {
        id: id.to_string(),
        title: file.title,
        lesson: file.lesson,
        base_images: Vec::new(),
        build_network: false,
        build_args: Vec::new(),
        run: None,
        checks: Vec::new(),
        hints: file
            .hints
            .iter()
            .map(|h| markdown::render_inline(h))
            .collect(),
        statement_html: markdown::render_block_trying_at(
            without_title(&statement),
            &format!("/exercises/{id}"),
        ),
        starter: BTreeMap::new(),
        solution: BTreeMap::new(),
        wrong: Vec::new(),
        provided: Vec::new(),
        solution_no_cache: false,
        console: Some(exercise),
    })
}

/// `README.md`, the statement every exercise has.
fn read_statement(dir: &Path) -> anyhow::Result<String> {
    let readme = dir.join("README.md");
    std::fs::read_to_string(&readme).with_context(|| {
        format!(
            "cannot read {}; every exercise needs a statement",
            readme.display()
        )
    })
}

/// The `[[wrong]]` answers: each names a folder under `wrong/` (and every folder there is
/// named) and a check of the exercise.
fn load_wrong(
    dir: &Path,
    declared: &[WrongFile],
    checks: &[ExerciseCheck],
    starter: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<WrongAnswer>> {
    let root = dir.join("wrong");
    let mut folders: HashSet<String> = HashSet::new();
    if root.is_dir() {
        for entry in
            std::fs::read_dir(&root).with_context(|| format!("cannot read {}", root.display()))?
        {
            let entry = entry?;
            if entry.path().is_dir() {
                folders.insert(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::with_capacity(declared.len());
    for case in declared {
        if !checks.iter().any(|c| c.id == case.fails) {
            bail!(
                "[[wrong]] `{}`: `fails = \"{}\"` names no check of this exercise",
                case.name,
                case.fails
            );
        }
        if !folders.remove(&case.name) {
            bail!(
                "[[wrong]] `{}`: there is no folder wrong/{}/ with its files",
                case.name,
                case.name
            );
        }
        let changes = read_tree(&root.join(&case.name))?;
        if changes.is_empty() {
            bail!(
                "wrong/{}/ is empty; put the files of the wrong answer there",
                case.name
            );
        }
        let mut files = starter.clone();
        files.extend(changes);
        out.push(WrongAnswer {
            name: case.name.clone(),
            fails: case.fails.clone(),
            why: case.why.clone(),
            files,
        });
    }
    if let Some(stray) = folders.into_iter().next() {
        bail!("wrong/{stray}/ is not declared: add a [[wrong]] with name = \"{stray}\", the check it fails and why");
    }
    Ok(out)
}

/// The statement without its leading `# Title` line: the page shows the title already.
fn without_title(statement: &str) -> &str {
    let trimmed = statement.trim_start();
    match trimmed.strip_prefix("# ") {
        Some(rest) => rest.split_once('\n').map_or("", |(_, body)| body),
        None => trimmed,
    }
}

/// What an exercise folder calls a `.git` folder of its starter: git refuses to store one,
/// so `dot.git/` in the repository is `.git/` in the learner's files.
pub const GIT_FOLDER_STAND_IN: &str = "dot.git";

/// Every file under `dir`, path relative to it with `/` separators (`dot.git` read as
/// `.git`).
fn read_tree(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("cannot read {}", current.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(dir)
                .context("a file outside its folder")?
                .components()
                .map(|c| match c.as_os_str().to_string_lossy() {
                    // Git cannot keep a folder called `.git` inside a repository.
                    name if name == GIT_FOLDER_STAND_IN => ".git".to_string(),
                    name => name.into_owned(),
                })
                .collect::<Vec<_>>()
                .join("/");
            let content = std::fs::read_to_string(&path)
                .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
            files.insert(relative, content);
        }
    }
    Ok(files)
}

impl Exercise {
    pub fn link(&self) -> ExerciseLink {
        ExerciseLink {
            id: self.id.clone(),
            title: self.title.clone(),
            done: false,
            progress: Default::default(),
            console: self.console.is_some(),
        }
    }

    pub fn view(&self, course: &Course) -> ExerciseView {
        ExerciseView {
            id: self.id.clone(),
            title: self.title.clone(),
            statement_html: self.statement_html.clone(),
            lesson: self
                .lesson
                .as_deref()
                .and_then(|slug| course.lesson(slug))
                .map(|(_, l)| app::dto::LessonLink {
                    slug: l.slug.clone(),
                    title: l.title.clone(),
                    summary: l.summary.clone(),
                    done: false,
                }),
            files: files_view(&self.starter),
            checks: match &self.console {
                Some(console) => console
                    .checks
                    .iter()
                    .map(|c| CheckDescription {
                        id: c.id.clone(),
                        description: c.check.describe(),
                    })
                    .collect(),
                None => self
                    .checks
                    .iter()
                    .map(|c| CheckDescription {
                        id: c.id.clone(),
                        description: self.described(c),
                    })
                    .collect(),
            },
            console: self.console.is_some(),
            questions: self
                .console
                .iter()
                .flat_map(|c| c.checks.iter())
                .filter_map(|c| {
                    Some(CheckDescription {
                        id: c.id.clone(),
                        description: c.check.question()?.to_string(),
                    })
                })
                .collect(),
            set_up: self.console.as_ref().is_some_and(|c| !c.setup.is_empty()),
            run_summary: self.run.as_ref().map(RunStep::summary),
            provided: self
                .provided
                .iter()
                .map(|p| app::dto::ProvidedFileView {
                    path: p.path.clone(),
                    about_html: markdown::render_inline(&p.about),
                })
                .collect(),
            starter: files_view(&self.starter),
            hint_count: self.hints.len(),
            ..ExerciseView::default()
        }
    }
}

impl Exercise {
    /// Judge every check; a failed one links to where its lesson explains it (the check's
    /// `explained_in`, else the exercise's lesson).
    pub fn judge(&self, facts: Facts<'_>) -> Vec<CheckOutcome> {
        self.checks
            .iter()
            .map(|c| {
                let mut outcome = c.check.judge(&c.id, facts);
                if !outcome.passed {
                    outcome.learn_more = c
                        .explained_in
                        .clone()
                        .or_else(|| self.lesson.clone())
                        .map(|link| format!("/learn/{link}"));
                }
                outcome
            })
            .collect()
    }
}

impl RunStep {
    fn summary(&self) -> String {
        let start = match &self.command {
            Some(command) => format!("runs `{}`", command.join(" ")),
            None => "runs the image's CMD".into(),
        };
        if let Some(stop) = &self.stop {
            return format!(
                "After a successful build, layerlab {start}, and after {} s stops the container as `docker stop` does: its stop signal, then SIGKILL {} s later if it is still running.",
                stop.after.as_secs(),
                stop.grace.as_secs()
            );
        }
        match &self.probe {
            Some(p) => format!(
                "After a successful build, layerlab {start} and requests http://container:{}{}.",
                p.port, p.path
            ),
            None => {
                format!("After a successful build, layerlab {start} and shows what it printed.")
            }
        }
    }
}

/// Dockerfile first, then the rest by path: the order file tabs appear in.
pub fn files_view(files: &BTreeMap<String, String>) -> Vec<WorkbenchFile> {
    let mut out: Vec<WorkbenchFile> = files
        .iter()
        .map(|(path, content)| WorkbenchFile {
            path: path.clone(),
            content: content.clone(),
        })
        .collect();
    out.sort_by_key(|f| (f.path != "Dockerfile", f.path.clone()));
    out
}

/// What the playground starts with.
pub fn playground_view() -> ExerciseView {
    let starter = BTreeMap::from([
        (
            "Dockerfile".to_string(),
            "FROM busybox:1.35\nWORKDIR /app\nCOPY hello.sh .\nCMD [\"sh\", \"hello.sh\"]\n"
                .to_string(),
        ),
        (
            "hello.sh".to_string(),
            "echo \"Hello from $(hostname), running as $(id -un)\"\n".to_string(),
        ),
    ]);
    ExerciseView {
        id: PLAYGROUND.into(),
        title: "Playground".into(),
        statement_html: markdown::render_block(
            "Build anything you like: any Dockerfile, any files next to it. Nothing is graded \
             here; you see the build log, the image's layers and size, and what it printed.",
        ),
        lesson: None,
        files: files_view(&starter),
        checks: Vec::new(),
        run_summary: Some(
            "After a successful build, layerlab runs the image's CMD once, with no network.".into(),
        ),
        starter: files_view(&starter),
        ..ExerciseView::default()
    }
}

#[cfg(test)]
mod tests {
    use super::without_title;

    #[test]
    fn the_readme_title_is_not_repeated() {
        assert_eq!(without_title("# Title\n\nBody text\n"), "\nBody text\n");
        assert_eq!(without_title("Body only\n"), "Body only\n");
        assert_eq!(without_title("## Section\nText"), "## Section\nText");
    }
}
