//! What checks need beyond the image and its run, gathered on the engine: paths, commands,
//! runs with other inputs, every layer's files, a rebuild after a change, a build that fills
//! the cache first, the base images under the image, and the files an exercise provides.

use super::*;
use app::dto::CheckOutcome;

/// At most this many root filesystem archives are kept in memory.
const MAX_KEPT_EXPORTS: usize = 4;

/// At most this many paths of one layer are kept for a check (a Debian with Python has
/// ~20,000 in all).
const MAX_CHECKED_PATHS_PER_LAYER: usize = 200_000;

impl Builds {
    /// What some checks need beyond the build and the run: paths looked up in the image,
    /// extra commands run in it, and a second build after a change (for cache checks).
    pub(super) async fn check_facts(
        &self,
        docker: &Client,
        record: &BuildRecord,
        exercise: &Exercise,
        context: &BuildContext,
        built: &engine_build::Built,
        labels: &HashMap<String, String>,
    ) -> ExtraFacts {
        let mut extra = ExtraFacts::default();
        let checks = || exercise.checks.iter().map(|c| &c.check);
        extra.registry = self.registry_facts(record, exercise).await;
        let paths: Vec<String> = checks()
            .filter_map(|c| c.path().map(str::to_string))
            .collect();
        if !paths.is_empty() {
            match image_paths_exist(docker, &built.image_id, &paths).await {
                Ok(found) => extra.paths = found,
                Err(e) => tracing::warn!("looking up paths in the image: {e}"),
            }
        }
        for command in checks().filter_map(|c| c.command()) {
            record.log(
                LogPhase::Server,
                format!("Check: running `{}` in the image…", command.join(" ")),
            );
            let entrypoint = command.first().map(|c| vec![c.clone()]);
            let args = command.get(1..).map(<[String]>::to_vec);
            let job = self.check_job(&built.image_id, entrypoint, args, Vec::new(), labels);
            if let Some(run) = self.run_quietly(docker, job).await {
                extra.commands.push((command.to_vec(), run));
            }
        }
        for variant in checks().filter_map(|c| c.variant()) {
            let given = variant
                .env
                .iter()
                .cloned()
                .chain(variant.args.iter().map(|a| a.join(" ")))
                .collect::<Vec<_>>()
                .join(", ");
            let with = if given.is_empty() {
                String::new()
            } else {
                format!(" with {given}")
            };
            record.log(
                LogPhase::Server,
                match variant.watch_health {
                    Some(within) if variant.freeze => format!(
                        "Check: starting the container{with}, freezing its main process once the engine calls it healthy, and watching the health status (at most {} s)…",
                        within.as_secs()
                    ),
                    Some(within) => format!(
                        "Check: starting the container{with} and watching the engine's health status (at most {} s)…",
                        within.as_secs()
                    ),
                    None => format!("Check: running the image's own command{with}…"),
                },
            );
            let mut job = self.check_job(
                &built.image_id,
                None,
                variant.args.clone(),
                variant.env.clone(),
                labels,
            );
            job.watch_health = variant.watch_health;
            job.freeze_when_healthy = variant.freeze;
            let health_limits;
            if let Some(within) = variant.watch_health {
                // The wait the check allows, not the exercise's run time limit.
                health_limits = RunLimits {
                    timeout: within + std::time::Duration::from_secs(1),
                    ..self.settings.run.clone()
                };
                job.limits = &health_limits;
            }
            if let Some(run) = self.run_quietly(docker, job).await {
                extra.variants.push((variant, run));
            }
        }
        if checks().any(|c| c.needs_bases()) {
            extra.bases_under = crate::engine::image::bases_under(
                docker,
                &built.image_id,
                &self.settings.base_images,
            )
            .await;
        }
        if checks().any(|c| c.needs_layers()) {
            record.log(
                LogPhase::Server,
                "Check: reading every layer of the image…".into(),
            );
            // Every path of every layer: a check cannot judge from the biggest few (the
            // entries and their path bytes stay bounded).
            // (Bounded: past this many a layer's list is cut short, and a check that needs
            // it fails as not proven.)
            let limits = crate::engine::layers::LayerLimits {
                max_files_per_layer: MAX_CHECKED_PATHS_PER_LAYER,
                ..crate::engine::layers::LayerLimits::default()
            };
            let mut texts: Vec<String> = Vec::new();
            for text in checks().filter_map(|c| c.text_in_layers()) {
                if !texts.iter().any(|t| t == text) {
                    texts.push(text.to_string());
                }
            }
            // Shared with the layer explorer: at most two exports read at once on this
            // server, and none for longer than a build may take.
            let read = async {
                let _permit = self.explore_permits.acquire().await.ok();
                tokio::time::timeout(
                    self.settings.build.timeout,
                    crate::engine::layers::explore_finding(
                        docker,
                        &built.image_id,
                        &limits,
                        &texts,
                    ),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(crate::engine::layers::LayersError::Task(
                        "reading the layers took longer than a build may".into(),
                    ))
                })
            };
            match read.await {
                Ok((report, found)) => {
                    let mut in_layers = crate::exercise::check::TextsInLayers::default();
                    for f in found {
                        in_layers
                            .found
                            .entry(texts[f.text].clone())
                            .or_default()
                            .push((f.layer, f.path));
                    }
                    extra.texts = Some(in_layers);
                    let mut found = crate::exercise::check::LayerPaths::default();
                    for layer in &report.layers {
                        found.truncated |= layer.files_truncated;
                        for file in &layer.files {
                            if file.kind != app::dto::FileChange::Deleted {
                                found
                                    .paths
                                    .entry(file.path.trim_matches('/').to_string())
                                    .or_insert(layer.index + 1);
                            }
                        }
                    }
                    extra.layer_paths = Some(found);
                }
                Err(e) => tracing::warn!("reading the layers for a check: {e}"),
            }
        }
        if let Some(change) = checks().find_map(|c| c.rebuild_change()) {
            extra.rebuild = Some(
                self.rebuild_after_change(docker, record, exercise, context, built, change)
                    .await,
            );
        }
        extra
    }

    /// `context` with the files `exercise` provides beside the learner's (exported once per
    /// image and kept).
    pub(super) async fn with_provided_files(
        &self,
        docker: &Client,
        exercise: Option<&Exercise>,
        context: &BuildContext,
        labels: &HashMap<String, String>,
    ) -> Result<BuildContext, BuildFailure> {
        let provided = exercise.map(|e| e.provided.as_slice()).unwrap_or_default();
        if provided.is_empty() {
            return Ok(context.clone());
        }
        let unavailable = |path: &str, why: String| {
            BuildFailure {
            code: "provided_file_unavailable".into(),
            message: format!(
                "The exercise's file “{path}” could not be made on this engine: {why}. Your instructor has been told; try again later."
            ),
            line: None,
        }
        };
        let mut files = Vec::with_capacity(provided.len());
        for p in provided {
            let Some(id) = crate::engine::image::image_id(docker, &p.export).await else {
                tracing::error!(image = %p.export, "a provided file's image is missing");
                return Err(unavailable(
                    &p.path,
                    format!("the image {} is not on this engine", p.export),
                ));
            };
            // One export at a time, each image only once, and none for longer than a build.
            let mut kept = self.root_filesystems.lock().await;
            let bytes = match kept.get(&id) {
                Some(bytes) => bytes.clone(),
                None => {
                    let export = crate::engine::image::root_filesystem(docker, &id, labels.clone());
                    let exported = tokio::time::timeout(self.settings.build.timeout, export)
                        .await
                        .unwrap_or_else(|_| {
                            Err(anyhow::anyhow!("the export took longer than a build may"))
                        });
                    let bytes: Arc<[u8]> = exported
                        .map_err(|e| {
                            tracing::error!(image = %p.export, "exporting a provided file: {e:#}");
                            unavailable(&p.path, format!("{e:#}"))
                        })?
                        .into();
                    // A re-seeded image has a new ID: its old export is of no more use.
                    if kept.len() >= MAX_KEPT_EXPORTS {
                        kept.clear();
                    }
                    kept.insert(id, bytes.clone());
                    bytes
                }
            };
            files.push((p.path.clone(), bytes));
        }
        context.with_provided(files).map_err(|e| BuildFailure {
            code: e.code().into(),
            message: e.to_string(),
            line: None,
        })
    }

    /// A run of the built image for a check: the run limits, no probe, nothing to stop.
    pub(super) fn check_job<'a>(
        &'a self,
        image: &'a str,
        entrypoint: Option<Vec<String>>,
        command: Option<Vec<String>>,
        env: Vec<String>,
        labels: &HashMap<String, String>,
    ) -> RunJob<'a> {
        RunJob {
            image,
            entrypoint,
            command,
            env,
            labels: labels.clone(),
            probe: None,
            stop: None,
            watch_health: None,
            freeze_when_healthy: false,
            limits: &self.settings.run,
        }
    }

    /// Run `job` without showing its output (the check that asked for it judges that).
    pub(super) async fn run_quietly(
        &self,
        docker: &Client,
        job: RunJob<'_>,
    ) -> Option<app::dto::RunFacts> {
        let mut quiet = |_line: String| {};
        engine_run::run(docker, job, &mut quiet).await.ok()
    }

    pub(super) async fn rebuild_after_change(
        &self,
        docker: &Client,
        record: &BuildRecord,
        exercise: &Exercise,
        context: &BuildContext,
        first: &engine_build::Built,
        change: &str,
    ) -> RebuildFacts {
        let mut facts = RebuildFacts {
            changed: change.to_string(),
            rebuilt: Vec::new(),
            error: None,
        };
        let Some(changed) =
            context.with_appended(change, "\n# changed by layerlab's cache check\n")
        else {
            facts.error = Some(format!("there is no file called {change}"));
            return facts;
        };
        record.log(
            LogPhase::Server,
            format!(
                "Check: changing {change} and building again to see which steps the cache saves…"
            ),
        );
        let id = format!("{}-rebuild", record.view().id);
        let attempt = format!("{}/{}", record.owner, exercise.id);
        let tag = format!("layerlab/{}:{id}", exercise.id);
        let job = BuildJob {
            build_id: &id,
            context: &changed,
            tag: tag.clone(),
            labels: self.image_labels(&attempt),
            network: exercise.build_network,
            build_args: exercise.build_args.clone(),
            // Judged against the first build's own chain, whatever other learners built.
            cache_from: vec![first.image_id.clone()],
            no_cache: false,
            limits: &self.settings.build,
            base_images: &self.settings.base_images,
            registry: self.registry_login(&record.owner),
            console_prefix: None,
            console_owner: None,
        };
        let mut on_progress = steps_only(record);
        match self
            .build_within_policy(docker, job, &mut on_progress)
            .await
        {
            Ok(rebuilt) => {
                facts.rebuilt = rebuilt_steps(docker, first, &rebuilt).await;
                let _ = docker.remove_image(&tag).await;
                // The rebuild's own new stage images are not kept.
                let stages = crate::engine::image::made_since(
                    docker,
                    &rebuilt.stage_images(),
                    rebuilt.started,
                )
                .await;
                crate::engine::cleanup::remove_dangling(docker, &stages).await;
            }
            Err(failure) => facts.error = Some(failure.message),
        }
        facts
    }

    /// Build `context` once as usual (tag `<id>-fill`), so that the cache holds every step
    /// before the learner's build runs.
    pub(super) async fn fill_cache(
        &self,
        docker: &Client,
        record: &BuildRecord,
        exercise: &Exercise,
        context: &BuildContext,
    ) -> Result<engine_build::Built, String> {
        record.log(
            LogPhase::Server,
            "Check: building your files once as usual first, so that the cache holds every step (as an earlier build would have left it)…".into(),
        );
        let id = format!("{}-fill", record.view().id);
        let attempt = format!("{}/{}", record.owner, exercise.id);
        let job = BuildJob {
            build_id: &id,
            context,
            tag: format!("layerlab/{}:{id}", exercise.id),
            labels: self.image_labels(&attempt),
            network: exercise.build_network,
            build_args: exercise.build_args.clone(),
            cache_from: Vec::new(),
            no_cache: false,
            limits: &self.settings.build,
            base_images: &self.settings.base_images,
            registry: self.registry_login(&record.owner),
            console_prefix: None,
            console_owner: None,
        };
        // Its step images are noted with the build's own, so that a cancelled or failed
        // build removes them too.
        let mut made = Vec::new();
        let started = std::time::SystemTime::now();
        let mut log_steps = steps_only(record);
        let mut on_progress = |progress: BuildProgress| match progress {
            BuildProgress::Image(image) => {
                let mut state = lock(&record.state);
                if state.intermediate_ids.len() < MAX_PRINTED_IMAGES {
                    state.intermediate_ids.push(image.clone());
                }
                made.push(image);
            }
            other => log_steps(other),
        };
        let outcome = self
            .build_within_policy(docker, job, &mut on_progress)
            .await;
        if outcome.is_err() {
            let own = crate::engine::image::made_since(docker, &made, started).await;
            crate::engine::cleanup::remove_dangling(docker, &own).await;
        }
        outcome.map_err(|failure| failure.message)
    }

    /// Remove the image [`Self::fill_cache`] made (its steps go with it unless the learner's
    /// build took them from the cache, which keeps them).
    pub(super) async fn remove_fill_build(
        &self,
        docker: &Client,
        record: &BuildRecord,
        exercise: Option<&Exercise>,
    ) {
        let Some(exercise) = exercise else { return };
        let tag = format!("layerlab/{}:{}-fill", exercise.id, record.view().id);
        let _ = docker.remove_image(&tag).await;
    }
}

/// For a check's own build: only its step headers and cache hits go to the learner's log.
pub(super) fn steps_only(record: &BuildRecord) -> impl FnMut(BuildProgress) + Send + '_ {
    move |progress| {
        if let BuildProgress::Line(text) = progress {
            if text.starts_with("Step ") || text.contains("Using cache") {
                record.log(LogPhase::Server, format!("  {text}"));
            }
        }
    }
}

/// What a learner's build (`built`) took from the cache that the build before it (`warmed`)
/// filled: its `RUN`/`COPY`/`ADD` steps the builder said it took from the cache (` --->
/// Using cache`, which only the builder's own framing can say), or whose image the engine
/// made before this build started (from whichever earlier build).
pub(super) async fn cache_taken(
    docker: &Client,
    built: &engine_build::Built,
    warmed: &Result<engine_build::Built, String>,
) -> crate::exercise::check::CacheFacts {
    let steps: Vec<_> = built
        .steps
        .iter()
        .filter(|s| !s.header.is_empty() && matches!(s.keyword.as_str(), "RUN" | "COPY" | "ADD"))
        .collect();
    let images: Vec<String> = steps.iter().map(|s| s.image.clone()).collect();
    let made_now = crate::engine::image::made_since(docker, &images, built.started).await;
    crate::exercise::check::CacheFacts {
        steps: steps.len(),
        cached: steps
            .iter()
            .filter(|s| {
                s.cached
                    || !made_now
                        .iter()
                        .any(|m| crate::engine::image::same_image(m, &s.image))
            })
            .map(|s| s.header.clone())
            .collect(),
        error: warmed.as_ref().err().cloned(),
    }
}

/// The RUN/COPY/ADD steps of `rebuilt` that the engine really built again: their image is
/// none of `first`'s and was made after the rebuild started. Both are the engine's facts
/// (ids and creation times), so no printed line can make a step look cached.
pub(super) async fn rebuilt_steps(
    docker: &Client,
    first: &engine_build::Built,
    rebuilt: &engine_build::Built,
) -> Vec<String> {
    let mut out = Vec::new();
    for step in &rebuilt.steps {
        if step.header.is_empty() || !matches!(step.keyword.as_str(), "RUN" | "COPY" | "ADD") {
            continue;
        }
        // A step of the first build's own chain was cached.
        if first
            .steps
            .iter()
            .any(|s| crate::engine::image::same_image(&s.image, &step.image))
        {
            continue;
        }
        // Otherwise: made by this rebuild, or taken from the cache another way (restored
        // from the first build's history under `--cache-from`, which makes a new image ID
        // with the history's old creation time).
        let made_now = match crate::engine::image::created(docker, &step.image).await {
            Some(created) => created >= rebuilt.started,
            // An image the engine no longer has cannot be judged cached.
            None => true,
        };
        if made_now {
            out.push(step.header.clone());
        }
    }
    out
}

impl Builds {
    /// What the learner's namespace in the registry holds for the tags the exercise's
    /// `pushed` checks name (`None` when none does, or it cannot be read: said in the log).
    pub(super) async fn registry_facts(
        &self,
        record: &BuildRecord,
        exercise: &Exercise,
    ) -> Option<crate::exercise::check::RegistryHeld> {
        let read = registry_read(&self.registry, &record.owner, exercise).await?;
        match read {
            Ok(held) => Some(held),
            Err(e) => {
                record.log(
                    LogPhase::Server,
                    format!("Check: your registry could not be read ({e})."),
                );
                None
            }
        }
    }
}

impl Builds {
    /// After a push of the learner's build `id` (as `pushed`, `name:tag` in their namespace):
    /// its exercise's `pushed` checks judged again on what the registry holds now, the attempt kept with the new verdicts, and whoever
    /// follows the learner told. The checks as they now stand, or `None` when the exercise
    /// has no such check (or the attempt or the registry cannot be read: logged).
    pub async fn rejudge_pushed(
        &self,
        learner: &str,
        id: &str,
        pushed: &str,
        log: &(dyn Fn(String) + Send + Sync),
    ) -> Option<Vec<CheckOutcome>> {
        let mut attempt = match self.store.attempt(id, learner).await {
            Ok(Some(attempt)) => attempt,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!("reading attempt {id} to judge it again: {e}");
                return None;
            }
        };
        let exercise = self.exercises.get(&attempt.exercise)?;
        let held = match registry_read(&self.registry, learner, exercise).await? {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!("reading the registry to judge attempt {id} again: {e}");
                return None;
            }
        };
        // The push pulled back and run, where a check asks for it and the registry holds
        // this build under its name.
        let mut pulled_back = None;
        if let Some(image) = attempt.view.image.as_ref() {
            let wanted = exercise.checks.iter().find_map(|c| c.check.pulled_back());
            if let Some((name, Some(Some(tag)))) = wanted.map(|n| {
                let tag = held.tags.get(&n).cloned();
                (n, tag)
            }) {
                if tag.is(&image.id) {
                    let may_run = name == pushed;
                    pulled_back = self
                        .pull_back_and_run(learner, id, exercise, &name, &tag, may_run, log)
                        .await;
                }
            }
        }
        let judged = exercise.judge(Facts {
            image: attempt.view.image.as_ref(),
            registry: Some(&held),
            pulled_back: pulled_back.as_ref(),
            ..Facts::default()
        });
        // Only what a push changes: whether the registry holds this build (a `FROM` pin
        // was judged on the build itself).
        let registry_checks: Vec<&str> = exercise
            .checks
            .iter()
            .filter(|c| c.check.judged_again_after_a_push())
            .map(|c| c.id.as_str())
            .collect();
        let mut checks = attempt.view.checks.clone().unwrap_or_default();
        for outcome in judged
            .into_iter()
            .filter(|o| registry_checks.contains(&o.id.as_str()))
        {
            match checks.iter_mut().find(|c| c.id == outcome.id) {
                Some(old) => *old = outcome,
                None => checks.push(outcome),
            }
        }
        attempt.view.checks = Some(checks.clone());
        if let Err(e) = self.store.save_attempt(&attempt).await {
            tracing::error!("keeping attempt {id} judged again: {e}");
            return None;
        }
        if let Some(record) = self.get(id, learner) {
            record.update(|v| v.checks = Some(checks.clone()));
        }
        self.progress.publish(learner);
        Some(checks)
    }
}

/// What `learner`'s namespace holds for the tags `exercise`'s `pushed` checks name; `None`
/// when no check names one.
pub async fn registry_read(
    registry: &crate::registry::Registry,
    learner: &str,
    exercise: &Exercise,
) -> Option<Result<crate::exercise::check::RegistryHeld, crate::registry::ReadError>> {
    let wanted: Vec<String> = exercise
        .checks
        .iter()
        .filter_map(|c| c.check.registry_tag())
        .collect();
    if wanted.is_empty() {
        return None;
    }
    let handle = crate::registry::handle_of(learner);
    Some(
        registry
            .tags_of(&handle, &wanted)
            .await
            .map(|tags| crate::exercise::check::RegistryHeld { tags }),
    )
}

/// Facts only some checks need.
#[derive(Default)]
pub(super) struct ExtraFacts {
    pub(super) paths: std::collections::BTreeMap<String, bool>,
    pub(super) commands: Vec<(Vec<String>, app::dto::RunFacts)>,
    pub(super) rebuild: Option<RebuildFacts>,
    pub(super) variants: Vec<(crate::exercise::check::RunVariant, app::dto::RunFacts)>,
    pub(super) layer_paths: Option<crate::exercise::check::LayerPaths>,
    pub(super) texts: Option<crate::exercise::check::TextsInLayers>,
    pub(super) bases_under: Option<Vec<String>>,
    pub(super) cache: Option<crate::exercise::check::CacheFacts>,
    pub(super) registry: Option<crate::exercise::check::RegistryHeld>,
}
