//! A build a learner's docker CLI asks for in their console (`docker build -t web .`): the
//! workbench's build policy, limits, builders, queue and rate, with its log streamed back to
//! the CLI. No attempt is kept: the image is the learner's, on the engine, under the name
//! the console gives it.

use super::Builds;
use crate::engine::builder::{self as engine_build, BuildJob, BuildProgress, ConsoleOwner};
use crate::engine::cleanup::remove_dangling;
use crate::engine::context::BuildContext;
use crate::engine::image::made_since;
use crate::engine::Client;
use crate::policy::api::BuiltHere;
use app::dto::BuildFailure;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What a learner's `docker build` asked for, as the console's policy let it through.
pub struct ConsoleBuild<'a> {
    /// The learner.
    pub owner: &'a str,
    pub context: &'a BuildContext,
    /// The engine's name for the result (`learner-…/web:latest`).
    pub tag: String,
    /// The learner's `--label`s (none in layerlab's own names).
    pub labels: HashMap<String, String>,
    /// The images their console built here: theirs to build on. The image built is added.
    pub built: BuiltHere,
    /// The learner's `--build-arg`s: the policy reads the Dockerfile with them.
    pub build_args: Vec<(String, String)>,
    pub no_cache: bool,
    /// The prefix of the learner's image names in the console (`learner-…-…/`): a `FROM`
    /// that names one of their images by it may build on it.
    pub console_prefix: Option<String>,
}

/// The most of a learner's images a console build takes its cache from.
const MAX_CACHE_FROM: usize = 64;

/// What a console's images carry as their attempt: `<learner>/console`.
pub const CONSOLE_ATTEMPT: &str = "console";

impl Builds {
    /// Build `asked` as the workbench would (policy first, the same limits, a turn among the
    /// builders), reporting through `on`. The image is the result; one bigger (with the
    /// stages it was built from) than a build may make is removed and the build fails.
    pub async fn console_build(
        &self,
        asked: ConsoleBuild<'_>,
        on: &mut (dyn FnMut(BuildProgress) + Send),
    ) -> Result<engine_build::Built, BuildFailure> {
        let owner = asked.owner;
        self.check_rate(owner).map_err(|refused| BuildFailure {
            code: "rate_limited".into(),
            message: refused.to_string(),
            line: None,
        })?;
        let docker = self.connect().await?;
        let entry = self.turns.enter(&format!("console:{owner}"));
        if !entry.at_once() {
            on(BuildProgress::Line(format!(
                "Waiting for a free builder ({} ahead of you)…",
                entry.ahead()
            )));
        }
        let _turn = entry.wait().await;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let job = BuildJob {
            build_id: &id,
            context: asked.context,
            tag: asked.tag.clone(),
            // (Only the learner's: whose the image is goes in the database.)
            labels: asked.labels,
            network: false,
            build_args: asked.build_args,
            // The learner's own build cache, as on their laptop: a cached step only from the
            // chains of their own images (and the course's base images, so the list is never
            // empty, which would mean every image's). Two learners' builds of the same steps
            // then make two images: one learner's removing theirs takes it off the engine
            // (a pull brings it back), and no one learns from a cache hit what another built.
            cache_from: {
                let mut from = asked.built.ids();
                from.truncate(MAX_CACHE_FROM);
                from.extend(self.settings.base_images.iter().cloned());
                from
            },
            no_cache: asked.no_cache,
            limits: &self.settings.build,
            base_images: &self.settings.base_images,
            registry: self.registry_login(owner),
            console_prefix: asked.console_prefix.clone(),
            console_owner: Some(ConsoleOwner {
                learner: owner.to_string(),
                instance: self.store.instance.clone(),
                images: asked.built.ids(),
            }),
        };
        // The images the builder commits (each step's) are removed after, however the build
        // ends (failed, stopped, or its CLI gone): those nothing names or builds on any more
        // go, an earlier stage's included. The janitor keeps no account of a console's.
        let leftovers = StepImages {
            client: docker.clone(),
            ids: Arc::default(),
            since: std::time::SystemTime::now(),
        };
        let ids = leftovers.ids.clone();
        let mut noting = |progress: BuildProgress| {
            if let BuildProgress::Image(id) = &progress {
                let mut ids = crate::sync::lock(&ids);
                if ids.len() < super::MAX_PRINTED_IMAGES && !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            on(progress);
        };
        let built = self.build_within_policy(&docker, job, &mut noting).await?;
        let size = docker.image_size(&built.image_id).await.unwrap_or(0);
        let most = self.settings.build.max_image_bytes;
        if size <= most {
            self.keep_console_image(&docker, owner, &built.image_id, &asked.built)
                .await
                .inspect_err(|_| {
                    // (Nobody's: not left for the janitor to guess about.)
                    let (docker, tag) = (docker.clone(), asked.tag.clone());
                    tokio::spawn(async move { docker.remove_image(&tag).await });
                })?;
            return Ok(built);
        }
        let _ = docker.remove_image(&asked.tag).await;
        Err(BuildFailure {
            code: "image_too_large".into(),
            message: format!(
                "The image is {}, more than the {} an image may be here, so it was removed. Leave out build tools and files the program does not need (a multi-stage build helps).",
                app::dto::human_size(size),
                app::dto::human_size(most)
            ),
            line: None,
        })
    }
}

impl Builds {
    /// Keep `image_id`, which `owner`'s console built, as theirs: in the database (for every
    /// server) and in their console's `built`. An image the build did not make (a `FROM` of
    /// one of the course's base images and nothing else ends on the base image itself) is
    /// not theirs to keep.
    async fn keep_console_image(
        &self,
        docker: &Client,
        owner: &str,
        image_id: &str,
        built: &BuiltHere,
    ) -> Result<(), BuildFailure> {
        if self.is_base_image(docker, image_id).await? {
            return Ok(());
        }
        self.store
            .record_console_image(owner, image_id)
            .await
            .map_err(|e| BuildFailure {
                code: "build_failed".into(),
                message: format!(
                    "The image was built, but it could not be noted as yours (the database did not answer: {e}), so it was removed. Build again in a moment."
                ),
                line: None,
            })?;
        built.insert(image_id);
        Ok(())
    }

    /// Whether the image `id` is one of the course's base images (by one of its names).
    async fn is_base_image(&self, docker: &Client, id: &str) -> Result<bool, BuildFailure> {
        Ok(match docker.image_info(id).await? {
            Some(info) => info
                .tags
                .iter()
                .any(|t| self.settings.base_images.contains(t)),
            None => false,
        })
    }

    /// The ids of the images `owner`'s console built here (some may be gone from the engine).
    pub async fn console_images(&self, owner: &str) -> crate::store::Result<Vec<String>> {
        self.store.console_images(owner).await
    }

    /// Where the consoles' images are kept as their learners'.
    pub fn store(&self) -> &crate::store::Store {
        &self.store
    }
}

/// The images a console build committed, removed (those untagged, made since it started, and
/// built on by nothing) when it is dropped, by a task of their own.
struct StepImages {
    client: Client,
    ids: Arc<Mutex<Vec<String>>>,
    since: std::time::SystemTime,
}

impl Drop for StepImages {
    fn drop(&mut self) {
        let (client, since) = (self.client.clone(), self.since);
        let ids = std::mem::take(&mut *crate::sync::lock(&self.ids));
        if ids.is_empty() {
            return;
        }
        tokio::spawn(async move {
            // (Newest first: a step's image goes before the one it was built on.)
            let made = made_since(&client, &ids, since).await;
            remove_dangling(&client, &made).await;
        });
    }
}

impl Builds {
    /// Note that `owner`'s console pushed the image `image_id` to `repository:tag` of their
    /// namespace (`learner-…/web`, `1`), if the registry holds there now the very manifest
    /// the engine said it pushed (`pushed`): their registry page shows it, and builds and
    /// console pulls trust that manifest as one made here.
    pub async fn record_console_push(
        &self,
        owner: &str,
        repository: &str,
        tag: &str,
        image_id: &str,
        pushed: Option<&str>,
    ) {
        let held = match self.registry.tag(repository, tag).await {
            Ok(Some(held)) if held.is(image_id) && pushed == Some(held.digest.as_str()) => held,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!("a console push could not be read back from the registry: {e}");
                return;
            }
        };
        let row = crate::store::PushRow {
            id: uuid::Uuid::new_v4().simple().to_string(),
            build_id: CONSOLE_ATTEMPT.to_string(),
            repository: repository.to_string(),
            tag: tag.to_string(),
            digest: held.digest,
            image_id: image_id.to_string(),
            size_bytes: held.size_bytes,
            pushed_at: crate::store::now_ms(),
        };
        if let Err(e) = self.store.record_push(owner, &row).await {
            tracing::error!("recording a console push: {e}");
        }
    }

    /// What `owner`'s namespace holds at `repository` (`learner-…/web`) and `pin` (a tag or
    /// a digest), as a pull from their console sees it: nothing (the pull then fails as the
    /// engine says), an image pushed from this workshop (`Tag & push` or a console), or
    /// something else (pushed with the learner's login from elsewhere), which is not
    /// unpacked here.
    pub async fn held_for_pull(
        &self,
        owner: &str,
        repository: &str,
        pin: &str,
    ) -> Result<HeldForPull, String> {
        let held = match self.registry.tag(repository, pin).await {
            Ok(Some(held)) => held,
            Ok(None) => return Ok(HeldForPull::Nothing),
            Err(e) => return Err(e.to_string()),
        };
        let rows = self.store.pushes(owner).await.map_err(|e| e.to_string())?;
        // (The very manifest: another with the same config could hold other layers.)
        Ok(if rows.iter().any(|r| r.digest == held.digest) {
            HeldForPull::PushedHere(held)
        } else {
            HeldForPull::Foreign
        })
    }

    /// Note `owner`'s console pull of `repository` at `reference` once it has ended: kept
    /// only when the engine then holds, as `image_id`, the image the registry gave (`held`);
    /// `fresh` says the engine did not hold it before the pull. The image (one pushed from
    /// here: no other is pulled) is then theirs as one their console built is; its id is
    /// returned.
    pub async fn record_console_pull(
        &self,
        owner: &str,
        repository: &str,
        reference: &str,
        held: &crate::registry::TagFacts,
        image_id: Option<String>,
        fresh: bool,
    ) -> Option<String> {
        let image_id = image_id.filter(|id| held.is(id))?;
        let row = crate::store::PullRow {
            id: uuid::Uuid::new_v4().simple().to_string(),
            repository: repository.to_string(),
            reference: reference.to_string(),
            digest: held.digest.clone(),
            image_id,
            fresh,
            pulled_at: crate::store::now_ms(),
        };
        if let Err(e) = self.store.record_pull(owner, &row).await {
            tracing::error!("recording a console pull: {e}");
        }
        // (A base image pushed and pulled back is still everyone's.)
        let docker = self.connect().await.ok()?;
        if !matches!(self.is_base_image(&docker, &row.image_id).await, Ok(false)) {
            return None;
        }
        match self.store.record_console_image(owner, &row.image_id).await {
            Ok(()) => Some(row.image_id),
            Err(e) => {
                tracing::error!("keeping a console pull's image as the learner's: {e}");
                None
            }
        }
    }
}

/// What a learner's namespace holds where their console pulls from.
pub enum HeldForPull {
    Nothing,
    PushedHere(crate::registry::TagFacts),
    Foreign,
}
