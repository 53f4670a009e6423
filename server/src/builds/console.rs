//! A build a learner's docker CLI asks for in their console (`docker build -t web .`): the
//! workbench's build policy, limits, builders, queue and rate, with its log streamed back to
//! the CLI. No attempt is kept: the image is the learner's, on the engine, under the name
//! the console gives it.

use super::Builds;
use crate::engine::builder::{self as engine_build, BuildJob, BuildProgress};
use crate::engine::cleanup::remove_dangling;
use crate::engine::context::BuildContext;
use crate::engine::image::made_since;
use app::dto::BuildFailure;
use std::collections::HashMap;

/// What a learner's `docker build` asked for, as the console's policy let it through.
pub struct ConsoleBuild<'a> {
    /// The learner.
    pub owner: &'a str,
    pub context: &'a BuildContext,
    /// The engine's name for the result (`learner-…/web:latest`).
    pub tag: String,
    /// The learner's `--label`s (none in layerlab's own names).
    pub labels: HashMap<String, String>,
    /// The learner's `--build-arg`s: the policy reads the Dockerfile with them.
    pub build_args: Vec<(String, String)>,
    pub no_cache: bool,
}

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
        let mut labels = asked.labels;
        // (layerlab's own labels win.)
        labels.extend(self.image_labels(&format!("{owner}/{CONSOLE_ATTEMPT}")));
        let id = uuid::Uuid::new_v4().simple().to_string();
        let job = BuildJob {
            build_id: &id,
            context: asked.context,
            tag: asked.tag.clone(),
            labels,
            network: false,
            build_args: asked.build_args,
            cache_from: Vec::new(),
            no_cache: asked.no_cache,
            limits: &self.settings.build,
            base_images: &self.settings.base_images,
            registry: self.registry_login(owner),
        };
        let built = self.build_within_policy(&docker, job, on).await?;
        // The earlier stages' images this build made go now: nothing names them, and the
        // janitor keeps no account of a console's.
        let stages = made_since(&docker, &built.stage_images(), built.started).await;
        remove_dangling(&docker, &stages).await;
        let size = docker.image_size(&built.image_id).await.unwrap_or(0);
        let most = self.settings.build.max_image_bytes;
        if size <= most {
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
