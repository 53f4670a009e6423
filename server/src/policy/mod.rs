//! The build policy: what a learner's Dockerfile may make the engine fetch, read or unpack.
//! One place, applied before anything reaches the engine and checked again on what comes
//! back. The engine itself would download `ADD <url>` from the server's own network, read any
//! image on it by a short id prefix, and unpack any archive in full, so the policy reads the
//! Dockerfile exactly as this engine will ([`dockerfile`], [`expand`]) and allows only:
//! - images that are an earlier stage, `scratch`, a base image of the course, one of this
//!   learner's own images by its tag (checked by its labels on the engine), or one of their
//!   own pushes in their namespace of the class registry, by tag or digest (pulled with their
//!   login) — never an id, another digest or registry address, or another learner's image
//!   or namespace, wherever the Dockerfile names
//!   it (`FROM`, `COPY --from`, `RUN --mount=from=`, `ONBUILD`, and the `ONBUILD` triggers a
//!   named image carries);
//! - sources from the learner's own files, never a URL or a git address;
//! - archives whose headers declare no more than the build may make, with safe paths
//!   ([`archive`]).
//!
//! After the build, the image's layers must start with those of the image its last stage
//! was approved to start from.

pub mod api;
pub mod archive;
pub mod container;
pub mod dockerfile;
pub mod expand;

use crate::engine::builder::{BuildJob, ATTEMPT_LABEL, INSTANCE_LABEL};
use crate::engine::push::{PullError, RegistryLogin};
use crate::engine::Client;
use app::dto::BuildFailure;
use dockerfile::Node;
use std::collections::HashMap;

/// A source the engine would fetch from a network (`ADD http://…`, git).
pub const REMOTE_SOURCE_REFUSED: &str = "remote_source_refused";
/// An image the build may not use: an id or digest, another learner's, not offered here.
pub const IMAGE_NOT_ALLOWED: &str = "image_not_allowed";
/// An archive `ADD` would unpack that is too big once unpacked, or has unsafe entries.
pub const ARCHIVE_REFUSED: &str = "archive_refused";
/// A `LABEL` in layerlab's own names (`org.layerlab.…`): who owns an image or container is
/// layerlab's to say, and every step's image and container would carry it.
pub const LABEL_REFUSED: &str = "label_refused";
/// A `VOLUME`: every later step (and every check's container) would get an anonymous volume
/// on the engine's disk, which no limit of a build or image counts.
pub const VOLUME_REFUSED: &str = "volume_refused";

pub use crate::engine::image::ImageInfo;

/// Where the policy looks images up: the engine, or a table in unit tests.
pub trait Images {
    /// The image `reference` names, `None` when the engine has none by that name.
    fn inspect(
        &self,
        reference: &str,
    ) -> impl std::future::Future<Output = Result<Option<ImageInfo>, BuildFailure>> + Send;

    /// Fetch `repository` at `tag_or_digest` from the class registry with the learner's
    /// `login`, then inspect it; `None` when the registry holds no such image.
    fn pull_own(
        &self,
        repository: &str,
        tag_or_digest: &str,
        login: &RegistryLogin,
    ) -> impl std::future::Future<Output = Result<Option<ImageInfo>, BuildFailure>> + Send;

    /// Take the name of a pulled image off again (the build it was pulled for will not run).
    fn release(&self, reference: &str) -> impl std::future::Future<Output = ()> + Send;
}

/// What one build may use.
#[derive(Clone, Debug)]
pub struct Rules<'a> {
    /// The course's base images (`course.toml` and every exercise's `base_images`).
    pub base_images: &'a [String],
    /// The learner whose images (labelled `org.layerlab.attempt=<learner>/…`) may be used.
    pub learner: Option<&'a str>,
    /// This installation: a learner's image must carry its `org.layerlab.instance` label.
    pub instance: Option<&'a str>,
    /// Most bytes the archives `ADD` unpacks may declare, together.
    pub max_unpacked_bytes: u64,
    /// Whether `RUN` steps have a network (changes what a refusal advises).
    pub network: bool,
    /// The build's `--build-arg`s: they win over an `ARG`'s default, as in the engine.
    pub build_args: &'a [(String, String)],
    /// The learner's login to the class registry: their own pushes may be named (and are
    /// pulled with it); `None`, none may.
    pub registry: Option<&'a RegistryLogin>,
    /// A docker console's build: the prefix of the learner's image names there
    /// (`learner-…-…/`), under which an image they may use (one they built here, or one of
    /// the course's base images they named) may be named.
    pub console_prefix: Option<&'a str>,
    /// The ids of the images the learner's console built here (the database's account; they
    /// carry no labels of layerlab's).
    pub console_images: &'a [String],
}

/// A build the policy allowed, and what to check on its result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Approved {
    /// The image the last stage starts from; `None` for `FROM scratch`.
    pub final_base: Option<(String, ImageInfo)>,
    /// Every image the build may read: (reference as named, id).
    pub images: Vec<(String, String)>,
    /// The learner's own pushes pulled for this build, by the names the engine now holds
    /// them under: taken off the engine after the build.
    pub pulled: Vec<String>,
}

/// The rules for `job`: the learner from its attempt label, its installation, its limits.
pub fn rules_of<'a>(job: &'a BuildJob<'_>) -> Rules<'a> {
    Rules {
        base_images: job.base_images,
        learner: match &job.console_owner {
            Some(owner) => Some(owner.learner.as_str()),
            None => job
                .labels
                .get(ATTEMPT_LABEL)
                .and_then(|a| a.rsplit_once('/'))
                .map(|(learner, _)| learner),
        },
        instance: match &job.console_owner {
            Some(owner) => Some(owner.instance.as_str()),
            None => job.labels.get(INSTANCE_LABEL).map(String::as_str),
        },
        max_unpacked_bytes: job.limits.max_image_bytes,
        network: job.network,
        build_args: &job.build_args,
        registry: job.registry.as_ref(),
        console_prefix: job.console_prefix.as_deref(),
        console_images: job
            .console_owner
            .as_ref()
            .map_or(&[][..], |owner| &owner.images[..]),
    }
}

/// The policy for a build on the engine; a refusal is the build's failure.
pub async fn check(images: &impl Images, job: &BuildJob<'_>) -> Result<Approved, BuildFailure> {
    judge(
        images,
        &rules_of(job),
        job.context.dockerfile(),
        &job.context.sources(),
    )
    .await
}

/// Check what the build made against what was approved: its layers must start with those of
/// the image its last stage named. A mismatch removes the image and fails the build.
pub async fn verify_built(
    engine: &Client,
    approved: &Approved,
    image_id: &str,
    tag: &str,
) -> Result<(), BuildFailure> {
    let Some((reference, base)) = &approved.final_base else {
        return Ok(());
    };
    let built = engine.image_info(image_id).await?;
    let starts_right = built
        .as_ref()
        .is_some_and(|b| b.layers.starts_with(&base.layers));
    if starts_right {
        return Ok(());
    }
    let _ = engine.remove_image(tag).await;
    Err(BuildFailure {
        code: IMAGE_NOT_ALLOWED.into(),
        message: format!(
            "The image this build made does not start from “{reference}”, the image its last stage was allowed to start from (the engine may have changed an image while the build ran), so it was removed. Submit again."
        ),
        line: None,
    })
}

impl Images for Client {
    async fn inspect(&self, reference: &str) -> Result<Option<ImageInfo>, BuildFailure> {
        self.image_info(reference).await
    }

    async fn pull_own(
        &self,
        repository: &str,
        tag_or_digest: &str,
        login: &RegistryLogin,
    ) -> Result<Option<ImageInfo>, BuildFailure> {
        match self.pull_as(repository, tag_or_digest, login).await {
            Ok(()) => self.image_info(&own_reference(repository, tag_or_digest)).await,
            Err(PullError::Missing) => Ok(None),
            Err(PullError::TooSlow) => Err(BuildFailure {
                code: "registry_unavailable".into(),
                message: format!(
                    "Your image could not be pulled from the class registry within {} s. Try again in a moment; if it keeps failing, tell your instructor.",
                    crate::engine::push::PULL_TIMEOUT.as_secs()
                ),
                line: None,
            }),
            Err(PullError::Failed(said)) => Err(BuildFailure {
                code: "registry_unavailable".into(),
                message: format!(
                    "Your image could not be pulled from the class registry: {said}. Try again in a moment; if it keeps failing, tell your instructor."
                ),
                line: None,
            }),
        }
    }

    async fn release(&self, reference: &str) {
        if let Err(e) = self.untag(reference).await {
            tracing::debug!(%reference, "a pulled image's name could not be taken off: {e}");
        }
    }
}

/// `repository:tag`, or `repository@sha256:…` for a digest.
fn own_reference(repository: &str, tag_or_digest: &str) -> String {
    if tag_or_digest.starts_with("sha256:") {
        format!("{repository}@{tag_or_digest}")
    } else {
        format!("{repository}:{tag_or_digest}")
    }
}

/// Where `name` sits in the class registry `login` is for: not there (`None`); the learner's
/// own `(repository, tag or digest)`; or refused, with why.
fn in_class_registry(
    name: &str,
    login: &RegistryLogin,
) -> Option<Result<(String, String), String>> {
    let rest = name.strip_prefix(&format!("{}/", login.server))?;
    let own = format!("{}/{}", login.server, login.username);
    let Some(path) = rest.strip_prefix(&format!("{}/", login.username)) else {
        return Some(Err(format!(
            ", which is in another namespace of the class registry: other learners' images are theirs alone. Your own pushes are under {own}/."
        )));
    };
    let (repository, pin) = match path.split_once('@') {
        Some((repository, digest)) => {
            let hex = digest.strip_prefix("sha256:").unwrap_or_default();
            let digest_ok = hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if repository.contains(':') || !digest_ok {
                return Some(Err(
                    ", which is no image reference: pin a digest as name@sha256:<64 hex digits>, without a tag.".into(),
                ));
            }
            (repository, digest)
        }
        None => match path.rsplit_once(':') {
            Some((repository, tag)) => (repository, tag),
            None => (path, "latest"),
        },
    };
    let tag_ok = pin.starts_with("sha256:") || crate::registry::is_tag(pin);
    if !repository
        .split('/')
        .all(crate::registry::is_path_component)
        || !tag_ok
    {
        return Some(Err(
            ", which is no image reference in your namespace (lowercase names, and a tag or a digest).".into(),
        ));
    }
    Some(Ok((format!("{own}/{repository}"), pin.to_string())))
}

/// Where a Dockerfile names an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Site {
    From,
    CopyFrom,
    Mount,
}

/// What a name turned out to be.
#[derive(Clone, Debug)]
enum Resolved {
    Stage(usize),
    Scratch,
    Image(String, Box<ImageInfo>),
}

/// Where an instruction came from, for the message and its line.
#[derive(Clone, Debug)]
enum Origin {
    /// A line of the learner's Dockerfile.
    Line(u32),
    /// An `ONBUILD` line of the learner's Dockerfile.
    OnBuild(u32),
    /// A trigger of the image (or stage) a `FROM` on this line names.
    Trigger { line: u32, from: String },
}

impl Origin {
    fn line(&self) -> u32 {
        match self {
            Origin::Line(l) | Origin::OnBuild(l) | Origin::Trigger { line: l, .. } => *l,
        }
    }

    /// How a message names the instruction: "Line 3: ADD" or "Line 1: the ONBUILD trigger …".
    fn lead(&self, keyword: &str) -> String {
        // `copy --from` → `COPY --from`: the instruction in capitals, its flag as written.
        let keyword = match keyword.split_once(' ') {
            Some((k, flag)) => format!("{} {flag}", k.to_ascii_uppercase()),
            None => keyword.to_ascii_uppercase(),
        };
        match self {
            Origin::Line(l) => format!("Line {l}: {keyword}"),
            Origin::OnBuild(l) => format!("Line {l}: ONBUILD {keyword}"),
            Origin::Trigger { line, from } => format!(
                "Line {line}: “{from}” carries a build trigger (ONBUILD {keyword} …) that runs in this build, and that {keyword}"
            ),
        }
    }
}

#[derive(Clone, Debug)]
struct Stage {
    name: Option<String>,
    env: Vec<(String, String)>,
    args: Vec<(String, String)>,
    /// `ONBUILD` lines of this stage: they run when a later stage starts `FROM` it.
    triggers: Vec<String>,
    /// The image at the bottom of this stage's chain; `None` for scratch.
    root: Option<(String, ImageInfo)>,
}

impl Stage {
    fn empty() -> Self {
        Stage {
            name: None,
            env: Vec::new(),
            args: Vec::new(),
            triggers: Vec::new(),
            root: None,
        }
    }

    /// What `ADD`/`COPY` and `ENV` expand with: the stage's environment, then its `ARG`s.
    fn scope(&self) -> Vec<(String, String)> {
        let mut scope = self.env.clone();
        for (k, v) in &self.args {
            if !self.env.iter().any(|(e, _)| e == k) {
                scope.push((k.clone(), v.clone()));
            }
        }
        scope
    }
}

/// An `ADD` that runs in this build, with its sources as the engine will see them.
struct AddUse {
    origin: Origin,
    sources: Vec<String>,
}

struct Judge<'a, I> {
    images: &'a I,
    rules: &'a Rules<'a>,
    bases: Vec<String>,
    meta: Vec<(String, String)>,
    stages: Vec<Stage>,
    current: Stage,
    cache: HashMap<String, Option<ImageInfo>>,
    adds: Vec<AddUse>,
    approved: Approved,
}

/// Judge a Dockerfile and its files; `Ok` says what the build may use.
pub async fn judge<I: Images>(
    images: &I,
    rules: &Rules<'_>,
    dockerfile_text: &str,
    files: &[(&str, &[u8])],
) -> Result<Approved, BuildFailure> {
    let parsed = dockerfile::parse(dockerfile_text);
    let mut judge = Judge {
        images,
        rules,
        bases: rules
            .base_images
            .iter()
            .filter_map(|b| normalize(b))
            .collect(),
        meta: Vec::new(),
        stages: Vec::new(),
        current: Stage::empty(),
        cache: HashMap::new(),
        adds: Vec::new(),
        approved: Approved::default(),
    };
    let judged = judge.every_line(&parsed, files).await;
    if let Err(refused) = judged {
        // What was pulled for a build that will not run leaves the engine now.
        for pulled in &judge.approved.pulled {
            images.release(pulled).await;
        }
        return Err(refused);
    }
    Ok(judge.approved)
}

impl<I: Images> Judge<'_, I> {
    async fn every_line(
        &mut self,
        parsed: &dockerfile::Parsed,
        files: &[(&str, &[u8])],
    ) -> Result<(), BuildFailure> {
        let escape = parsed.escape;
        let mut in_stage = false;
        for node in &parsed.nodes {
            if node.keyword == "from" {
                if in_stage {
                    let done = std::mem::replace(&mut self.current, Stage::empty());
                    self.stages.push(done);
                }
                in_stage = true;
                self.from(node, escape).await?;
            } else if !in_stage && node.keyword == "arg" {
                self.meta_arg(node, escape)?;
            } else {
                self.instruction(node, escape, Origin::Line(node.line))
                    .await?;
            }
        }
        self.approved.final_base = self.current.root.clone();
        self.archives(files)
    }
}

fn syntax(line: u32, what: &str) -> BuildFailure {
    BuildFailure {
        code: "dockerfile_syntax".into(),
        message: format!("Line {line}: {what}."),
        line: Some(line),
    }
}

impl<I: Images> Judge<'_, I> {
    fn expand(
        &self,
        word: &str,
        escape: char,
        scope: &expand::Env,
        line: u32,
    ) -> Result<String, BuildFailure> {
        expand::expand(word, escape, scope)
            .map_err(|e| syntax(line, &format!("“{word}” cannot be expanded: {e}")))
    }

    /// The value the build passes for `name` (`--build-arg`), if any.
    fn build_arg(&self, name: &str) -> Option<String> {
        self.rules
            .build_args
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// `ARG` before the first `FROM`: a default `FROM` lines expand with.
    fn meta_arg(&mut self, node: &Node, escape: char) -> Result<(), BuildFailure> {
        for (name, value) in dockerfile::arg_entries(&node.rest, escape) {
            let value = match (self.build_arg(&name), value) {
                (Some(given), _) => given,
                (None, Some(value)) => self.expand(&value, escape, &self.meta, node.line)?,
                (None, None) => continue,
            };
            self.meta.retain(|(k, _)| *k != name);
            self.meta.push((name, value));
        }
        Ok(())
    }

    async fn from(&mut self, node: &Node, escape: char) -> Result<(), BuildFailure> {
        let words = dockerfile::fields(&node.rest);
        let Some(written) = words.first() else {
            return Err(syntax(node.line, "FROM needs an image"));
        };
        let name = match words.as_slice() {
            [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => Some(name.to_lowercase()),
            _ => None,
        };
        let meta = self.meta.clone();
        let expanded = self.expand(written, escape, &meta, node.line)?;
        if expanded.is_empty() {
            return Err(syntax(
                node.line,
                &format!("FROM {written} names no image once its ARGs are filled in"),
            ));
        }
        let origin = Origin::Line(node.line);
        let resolved = self
            .resolve(Site::From, &expanded, written, &origin, "from")
            .await?;
        let (stage, triggers) = match resolved {
            Resolved::Stage(i) => {
                let earlier = &self.stages[i];
                let stage = Stage {
                    name: name.clone(),
                    env: earlier.env.clone(),
                    args: Vec::new(),
                    triggers: Vec::new(),
                    root: earlier.root.clone(),
                };
                (stage, earlier.triggers.clone())
            }
            Resolved::Scratch => (
                Stage {
                    name: name.clone(),
                    ..Stage::empty()
                },
                Vec::new(),
            ),
            Resolved::Image(reference, info) => {
                let env = info
                    .env
                    .iter()
                    .map(|e| match e.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (e.clone(), String::new()),
                    })
                    .collect();
                let triggers = info.on_build.clone();
                (
                    Stage {
                        name: name.clone(),
                        env,
                        args: Vec::new(),
                        triggers: Vec::new(),
                        root: Some((reference, *info)),
                    },
                    triggers,
                )
            }
        };
        self.current = stage;
        // The engine runs the named image's triggers right after FROM, parsed afresh.
        for trigger in triggers {
            let parsed = dockerfile::parse(&trigger);
            for inner in &parsed.nodes {
                let origin = Origin::Trigger {
                    line: node.line,
                    from: expanded.clone(),
                };
                if inner.keyword == "from" {
                    let words = dockerfile::fields(&inner.rest);
                    if let Some(image) = words.first() {
                        self.resolve(Site::From, image, image, &origin, "from")
                            .await?;
                    }
                    continue;
                }
                self.instruction(inner, parsed.escape, origin).await?;
            }
        }
        Ok(())
    }

    async fn instruction(
        &mut self,
        node: &Node,
        escape: char,
        origin: Origin,
    ) -> Result<(), BuildFailure> {
        let line = origin.line();
        let scope = self.current.scope();
        match node.keyword.as_str() {
            "arg" => {
                for (name, value) in dockerfile::arg_entries(&node.rest, escape) {
                    let value = match (self.build_arg(&name), value) {
                        (Some(given), _) => given,
                        (None, Some(v)) => self.expand(&v, escape, &scope, line)?,
                        (None, None) => self
                            .meta
                            .iter()
                            .find(|(k, _)| *k == name)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default(),
                    };
                    self.current.args.retain(|(k, _)| *k != name);
                    self.current.args.push((name, value));
                }
            }
            "env" => {
                for (name, value) in dockerfile::env_pairs(&node.rest, escape) {
                    let name = self.expand(&name, escape, &scope, line)?;
                    let value = self.expand(&value, escape, &scope, line)?;
                    self.current.env.retain(|(k, _)| *k != name);
                    self.current.env.push((name, value));
                }
            }
            "add" | "copy" => {
                for (flag, value) in flag_values(&node.flags) {
                    if flag == "from" {
                        let keyword = format!("{} --from", node.keyword);
                        self.name_in_flag(
                            Site::CopyFrom,
                            &value,
                            escape,
                            &scope,
                            &origin,
                            &keyword,
                        )
                        .await?;
                    }
                }
                let args = dockerfile::json_or_fields(&node.rest);
                let sources = match args.split_last() {
                    Some((_, sources)) if !sources.is_empty() => sources,
                    _ => &args[..],
                };
                let mut expanded_sources = Vec::new();
                for source in sources {
                    let expanded = self.expand(source, escape, &scope, line)?;
                    for candidate in [source, &expanded] {
                        if is_remote(candidate) {
                            return Err(self.remote(&origin, &node.keyword, source, &expanded));
                        }
                    }
                    expanded_sources.push(expanded);
                }
                if node.keyword == "add" && !matches!(origin, Origin::OnBuild(_)) {
                    self.adds.push(AddUse {
                        origin: origin.clone(),
                        sources: expanded_sources,
                    });
                }
            }
            "run" => {
                for (flag, value) in flag_values(&node.flags) {
                    if flag != "mount" {
                        continue;
                    }
                    for field in value.split(',') {
                        let field: String =
                            field.chars().filter(|c| !matches!(c, '"' | '\'')).collect();
                        if let Some((key, from)) = field.split_once('=') {
                            if key.trim().eq_ignore_ascii_case("from") {
                                self.name_in_flag(
                                    Site::Mount,
                                    from.trim(),
                                    escape,
                                    &scope,
                                    &origin,
                                    "run --mount=from",
                                )
                                .await?;
                            }
                        }
                    }
                }
            }
            "onbuild" => {
                if let Some(inner) = &node.inner {
                    // Judged here in this stage's context, and again wherever it fires.
                    let saved = self.current.clone();
                    let adds = self.adds.len();
                    if inner.keyword == "from" {
                        let words = dockerfile::fields(&inner.rest);
                        if let Some(image) = words.first() {
                            self.resolve(Site::From, image, image, &Origin::OnBuild(line), "from")
                                .await?;
                        }
                    } else if inner.keyword != "onbuild" {
                        Box::pin(self.instruction(inner, escape, Origin::OnBuild(line))).await?;
                    }
                    self.current = saved;
                    self.adds.truncate(adds);
                }
                self.current.triggers.push(node.trigger.clone());
            }
            "label" => {
                let expanded = self.expand(&node.rest, escape, &scope, line)?;
                for text in [node.rest.as_str(), expanded.as_str()] {
                    if text.to_ascii_lowercase().contains("org.layerlab.") {
                        return Err(BuildFailure {
                            code: LABEL_REFUSED.into(),
                            message: format!(
                                "{}: labels named org.layerlab.… are this workshop's own (they say whose an image or a container is), so a Dockerfile may not set them. Name yours another way (com.example.…).",
                                origin.lead("label")
                            ),
                            line: Some(line),
                        });
                    }
                }
            }
            "volume" => {
                return Err(BuildFailure {
                    code: VOLUME_REFUSED.into(),
                    message: format!(
                        "{}: a volume is kept by the engine outside the image, on its own disk, where no limit of this workshop counts what a step writes into it, so VOLUME is not allowed here. Leave it out: the files stay in the image (on your own machine, mount a volume when you run it: docker run -v).",
                        origin.lead("volume")
                    ),
                    line: Some(line),
                });
            }
            "from" => {
                // Only reached for a FROM inside a trigger; judged as a name.
                let words = dockerfile::fields(&node.rest);
                if let Some(image) = words.first() {
                    self.resolve(Site::From, image, image, &origin, "from")
                        .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `--from=` and `--mount=…,from=`: the engine uses the value as written (it does not
    /// expand variables there), but the expanded value is judged too, in case it would.
    async fn name_in_flag(
        &mut self,
        site: Site,
        value: &str,
        escape: char,
        scope: &expand::Env,
        origin: &Origin,
        keyword: &str,
    ) -> Result<(), BuildFailure> {
        if value.contains('$') {
            let expanded = expand::expand(value, escape, scope).unwrap_or_default();
            if !expanded.is_empty() && expanded != value {
                self.resolve(site, &expanded, value, origin, keyword)
                    .await?;
            }
            let what = match site {
                Site::Mount => "RUN --mount=from=",
                _ => "--from=",
            };
            return Err(BuildFailure {
                code: IMAGE_NOT_ALLOWED.into(),
                message: format!(
                    "{} names “{value}”: this engine reads {what} as written, without filling in variables, so it would look for an image called “{value}”. Write the stage's name (its AS name or number) there instead.",
                    origin.lead(keyword)
                ),
                line: Some(origin.line()),
            });
        }
        self.resolve(site, value, value, origin, keyword).await?;
        Ok(())
    }

    /// Decide what `name` is and whether this build may use it.
    async fn resolve(
        &mut self,
        site: Site,
        name: &str,
        written: &str,
        origin: &Origin,
        keyword: &str,
    ) -> Result<Resolved, BuildFailure> {
        let lower = name.to_lowercase();
        if let Some(i) = self
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Ok(Resolved::Stage(i));
        }
        let lead = origin.lead(keyword);
        let named = if written == name {
            format!("“{name}”")
        } else {
            format!("“{written}” (that is, “{name}”)")
        };
        let refuse = |why: String| BuildFailure {
            code: IMAGE_NOT_ALLOWED.into(),
            message: format!("{lead} names {named}{why}"),
            line: Some(origin.line()),
        };
        if site != Site::From && is_stage_index(name) {
            return match name
                .parse::<i64>()
                .ok()
                .and_then(|n| usize::try_from(n).ok())
            {
                Some(i) if i < self.stages.len() => Ok(Resolved::Stage(i)),
                _ => Err(refuse(format!(
                    ", but this Dockerfile has {} stage(s) before this one, numbered from 0.",
                    self.stages.len()
                ))),
            };
        }
        if site == Site::From && name == "scratch" {
            return Ok(Resolved::Scratch);
        }
        if let Some(place) = self
            .rules
            .registry
            .and_then(|login| in_class_registry(name, login).map(|p| (p, login)))
        {
            let ((repository, pin), login) = match place {
                (Ok(own), login) => (own, login),
                (Err(why), _) => return Err(refuse(why)),
            };
            let reference = own_reference(&repository, &pin);
            let found = match self.cache.get(&reference) {
                Some(found) => found.clone(),
                None => {
                    let found = self.images.pull_own(&repository, &pin, login).await?;
                    self.cache.insert(reference.clone(), found.clone());
                    if found.is_some() {
                        self.approved.pulled.push(reference.clone());
                    }
                    found
                }
            };
            return match found {
                Some(info) => {
                    self.approved
                        .images
                        .push((reference.clone(), info.id.clone()));
                    Ok(Resolved::Image(reference, Box::new(info)))
                }
                None => Err(refuse(
                    ", which your namespace of the class registry does not hold: push that image first (Tag & push under a build's result), and check the name and tag on your registry page.".into(),
                )),
            };
        }
        let offered = self.offered();
        if name.contains('@') {
            return Err(refuse(format!(
                ", an image by its digest. This workshop builds only on an earlier stage, its base images ({offered}) or your own images, by name — never by a digest or an id, which could be anyone's image."
            )));
        }
        if looks_like_id(name) {
            return Err(refuse(format!(
                ", which the engine would take as an image id (or the start of one), and that could be any image on the engine, another learner's included. Use an earlier stage, one of the base images ({offered}) or one of your own images, by name."
            )));
        }
        let normalized = normalize(name);
        if let Some(full) = normalized
            .as_deref()
            .filter(|n| self.bases.iter().any(|b| b == n))
        {
            let declared = self
                .rules
                .base_images
                .iter()
                .find(|b| normalize(b).as_deref() == Some(full))
                .cloned()
                .unwrap_or_else(|| name.to_string());
            return match self.lookup(&declared).await? {
                Some(info)
                    if info
                        .tags
                        .iter()
                        .any(|t| normalize(t).as_deref() == Some(full)) =>
                {
                    self.approved
                        .images
                        .push((declared.clone(), info.id.clone()));
                    Ok(Resolved::Image(declared, Box::new(info)))
                }
                _ => Err(self.missing_base(&declared, origin).await),
            };
        }
        let console_name = self.rules.console_prefix.and_then(|prefix| {
            let full = normalized.as_deref()?.strip_prefix("docker.io/")?;
            full.starts_with(prefix).then(|| full.to_string())
        });
        if let Some(reference) = console_name {
            let usable = match self.lookup(&reference).await? {
                Some(info) if self.is_console_own(&info, &reference) => Some(info),
                _ => None,
            };
            return match usable {
                Some(info) => {
                    self.approved.images.push((reference.clone(), info.id.clone()));
                    Ok(Resolved::Image(reference, Box::new(info)))
                }
                None => Err(refuse(format!(
                    ", which is not one of your images here (docker images lists them). Build FROM one of the base images ({offered}) or one of your own."
                ))),
            };
        }
        if let Some((exercise, tag)) = normalized.as_deref().and_then(own_image_parts) {
            let reference = format!("layerlab/{exercise}:{tag}");
            let mine = match self.lookup(&reference).await? {
                Some(info) if self.is_own(&info, &reference, exercise) => Some(info),
                _ => None,
            };
            return match mine {
                Some(info) => {
                    self.approved.images.push((reference.clone(), info.id.clone()));
                    Ok(Resolved::Image(reference, Box::new(info)))
                }
                None => Err(refuse(
                    ", which is not one of your images. You can build on an image you made yourself by its tag (layerlab/<exercise>:<build id>, as your build's result shows it); other learners' images are theirs alone.".into(),
                )),
            };
        }
        if site == Site::From {
            return Err(BuildFailure {
                code: "missing_base_image".into(),
                message: format!(
                    "{lead} names {named}, which is not available in this workshop: this machine cannot download images. The images you can build FROM here: {offered}. Use one of those (your instructor can ask for others to be added to the course)."
                ),
                line: Some(origin.line()),
            });
        }
        Err(refuse(format!(
            ", which is neither an earlier stage of this Dockerfile nor one of this workshop's base images ({offered}). Name an earlier stage (its AS name, or its number from 0) or one of those images."
        )))
    }

    fn offered(&self) -> String {
        if self.rules.base_images.is_empty() {
            "none".into()
        } else {
            self.rules.base_images.join(", ")
        }
    }

    /// Whether `info`, named `reference` under the learner's console prefix, is theirs to
    /// build on: one they built here (in the console or the workbench), or one of the
    /// course's base images they gave a name of their own.
    fn is_console_own(&self, info: &ImageInfo, reference: &str) -> bool {
        let Some(learner) = self.rules.learner else {
            return false;
        };
        let labelled = info
            .labels
            .get(ATTEMPT_LABEL)
            .and_then(|a| a.split_once('/'))
            .is_some_and(|(owner, _)| owner == learner)
            && info.labels.get(INSTANCE_LABEL).map(String::as_str) == self.rules.instance;
        let built = labelled || self.rules.console_images.contains(&info.id);
        let base = info.tags.iter().any(|t| self.rules.base_images.contains(t));
        info.tags.iter().any(|t| t == reference) && (built || base)
    }

    fn is_own(&self, info: &ImageInfo, reference: &str, exercise: &str) -> bool {
        let Some(learner) = self.rules.learner else {
            return false;
        };
        info.tags.iter().any(|t| t == reference)
            && info.labels.get(ATTEMPT_LABEL).map(String::as_str)
                == Some(format!("{learner}/{exercise}").as_str())
            && info.labels.get(INSTANCE_LABEL).map(String::as_str) == self.rules.instance
    }

    async fn lookup(&mut self, reference: &str) -> Result<Option<ImageInfo>, BuildFailure> {
        if let Some(found) = self.cache.get(reference) {
            return Ok(found.clone());
        }
        let found = self.images.inspect(reference).await?;
        self.cache.insert(reference.to_string(), found.clone());
        Ok(found)
    }

    /// A base image the course offers that the engine does not have.
    async fn missing_base(&mut self, reference: &str, origin: &Origin) -> BuildFailure {
        let mut present = Vec::new();
        let bases: &[String] = self.rules.base_images;
        for base in bases {
            if base != reference && matches!(self.lookup(base).await, Ok(Some(_))) {
                present.push(base.clone());
            }
        }
        let choices = if present.is_empty() {
            "This engine has none of the course's base images yet.".to_string()
        } else {
            format!("Images on this engine: {}.", present.join(", "))
        };
        // The operator can fix this; the learner can only choose another image.
        tracing::warn!(
            "the course's base image {reference} is not on the engine: create it with `layerlab images seed {reference}`"
        );
        BuildFailure {
            code: "missing_base_image".into(),
            message: format!(
                "The base image “{reference}” belongs to this course but is not on this engine right now, and this machine cannot download images. {choices} Use one of those in FROM for now; your instructor has been told."
            ),
            line: Some(origin.line()),
        }
    }

    fn remote(&self, origin: &Origin, keyword: &str, source: &str, expanded: &str) -> BuildFailure {
        let named = if source == expanded {
            format!("“{source}”")
        } else {
            format!("“{source}” (that is, “{expanded}”)")
        };
        let instead = if self.rules.network {
            "Put the file among your files and COPY it, or fetch it in a RUN step (RUN steps of this exercise have a network)."
        } else {
            "Put the file among your files and COPY it instead (RUN steps of this exercise have no network)."
        };
        BuildFailure {
            code: REMOTE_SOURCE_REFUSED.into(),
            message: format!(
                "{} would make the engine download {named} itself, from the server's own network and outside your build's limits, so this workshop does not allow URLs or git addresses as sources. {instead}",
                origin.lead(keyword)
            ),
            line: Some(origin.line()),
        }
    }

    /// The archives the build's `ADD`s would unpack: their declared sizes together, and
    /// their entries.
    fn archives(&self, files: &[(&str, &[u8])]) -> Result<(), BuildFailure> {
        if self.adds.is_empty() {
            return Ok(());
        }
        let kinds: Vec<(&str, archive::Kind)> = files
            .iter()
            .map(|(path, content)| (*path, archive::inspect(content)))
            .filter(|(_, kind)| *kind != archive::Kind::Plain)
            .collect();
        if kinds.is_empty() {
            return Ok(());
        }
        let limit = self.rules.max_unpacked_bytes;
        let mut total: u64 = 0;
        for add in &self.adds {
            for source in &add.sources {
                let wildcard = has_wildcard(source);
                let wanted = clean_path(source);
                for (path, kind) in kinds.iter().filter(|(p, _)| wildcard || **p == wanted) {
                    let refuse = |why: String| BuildFailure {
                        code: ARCHIVE_REFUSED.into(),
                        message: format!(
                            "{} would unpack “{path}”, but {why}",
                            add.origin.lead("add")
                        ),
                        line: Some(add.origin.line()),
                    };
                    match kind {
                        archive::Kind::Tar(summary) => {
                            total = total.saturating_add(summary.declared_bytes);
                            if total > limit {
                                return Err(refuse(format!(
                                    "its entries declare {} of files ({} entries; a sparse file counts at its full size, which is what unpacking writes), and what ADD unpacks in this build would pass the {} a build may make. Make the archive smaller, or COPY it and unpack only what you need in a RUN step.",
                                    app::dto::human_size(summary.declared_bytes),
                                    summary.entries,
                                    app::dto::human_size(limit)
                                )));
                            }
                        }
                        archive::Kind::Compressed(what) => {
                            return Err(refuse(format!(
                                "it is {what}-compressed, and this workshop unpacks only plain tar archives it can check first. ADD a plain .tar, or COPY the file and unpack it in a RUN step."
                            )));
                        }
                        archive::Kind::Refused(why) => {
                            return Err(refuse(format!(
                                "{why}. Fix the archive, or COPY it and unpack it in a RUN step."
                            )));
                        }
                        archive::Kind::Plain => {}
                    }
                }
            }
        }
        Ok(())
    }
}

/// `--name=value` flags, names in lower case (the engine only knows the lower-case ones, but
/// judging every spelling costs nothing).
fn flag_values(flags: &[String]) -> Vec<(String, String)> {
    flags
        .iter()
        .filter_map(|f| f.strip_prefix("--"))
        .map(|f| match f.split_once('=') {
            Some((n, v)) => (n.to_ascii_lowercase(), v.to_string()),
            None => (f.to_ascii_lowercase(), String::new()),
        })
        .collect()
}

/// Whether the engine (or a newer builder) would fetch this source from a network: any URL
/// scheme, in any case, and git's `user@host:path`.
fn is_remote(source: &str) -> bool {
    let lower = source.trim().to_ascii_lowercase();
    if lower.contains("://") || lower.starts_with("git@") {
        return true;
    }
    // scp-like `user@host:path`, before any `/`.
    match (lower.find('@'), lower.find(':'), lower.find('/')) {
        (Some(at), Some(colon), slash) => at < colon && slash.is_none_or(|s| colon < s) && at > 0,
        _ => false,
    }
}

/// Go's `strconv.ParseInt(s, 10, 0)` accepts these; the engine then takes a stage number.
fn is_stage_index(name: &str) -> bool {
    let digits = name.strip_prefix(['+', '-']).unwrap_or(name);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Hex the engine would search image ids with: bare (a prefix of 1 to 64), or `sha256:…`.
fn looks_like_id(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("sha256:") {
        return true;
    }
    !lower.is_empty() && lower.len() <= 64 && lower.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A reference in the engine's full form: `docker.io/library/busybox:latest`; `None` when
/// the engine would not accept it as a name.
pub fn normalize(reference: &str) -> Option<String> {
    let (name, tag) = match reference.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (reference, "latest"),
    };
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        && !tag.starts_with(['.', '-']);
    if !tag_ok || name.is_empty() {
        return None;
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io".to_string()
    } else {
        domain
    };
    let path = if domain == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
    };
    if !path.split('/').all(component_ok) {
        return None;
    }
    Some(format!("{domain}/{path}:{tag}"))
}

/// `docker.io/layerlab/<exercise>:<tag>` → (exercise, tag).
fn own_image_parts(normalized: &str) -> Option<(&str, &str)> {
    let rest = normalized.strip_prefix("docker.io/layerlab/")?;
    let (exercise, tag) = rest.rsplit_once(':')?;
    (!exercise.contains('/')).then_some((exercise, tag))
}

/// Go's `containsWildcards`: `*`, `?` or `[` not escaped with `\`.
fn has_wildcard(path: &str) -> bool {
    let mut bytes = path.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => {
                bytes.next();
            }
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
    }
    false
}

/// A source as a path in the context: leading `/` and `./` gone, `.` and `..` resolved (the
/// context's top is as high as `..` goes).
fn clean_path(source: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests;
