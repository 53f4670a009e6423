//! `runs-when-pulled-back`: a learner's push, pulled back from the class registry onto the
//! engine by its digest with the learner's own login (as another machine of their team would
//! pull it), run as the exercise's `[run]` says, and the exercise's checks on the running
//! container judged on that run.

use super::*;
use crate::exercise::check::PulledBack;
use crate::registry::TagFacts;
use app::dto::CheckOutcome;

/// Pull-backs remembered (their verdicts, a few lines each).
const KEPT_PULL_BACKS: usize = 256;

impl Builds {
    /// Pull `name` (`repository:tag`, which `learner`'s registry holds as `held`, the image
    /// of build `build` of `exercise`) back by its digest, run it, and judge the exercise's
    /// run checks on that run; or, when this very image was pulled back before, that verdict.
    /// Only a push of `name` itself (`may_run`) pulls and runs anything. What happens is told
    /// through `log`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn pull_back_and_run(
        &self,
        learner: &str,
        build: &str,
        exercise: &Exercise,
        name: &str,
        held: &TagFacts,
        may_run: bool,
        log: &(dyn Fn(String) + Send + Sync),
    ) -> Option<PulledBack> {
        let key = (build.to_string(), held.digest.clone());
        let known = lock(&self.pulled_back)
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, p)| p.clone());
        if let Some(known) = known.filter(|p| p.name == name) {
            log(format!("Check: `{}` was pulled back and run after an earlier push of this very image; judged on that run.", known.reference));
            return Some(known);
        }
        if !may_run {
            return None;
        }
        // The janitor leaves the run's container alone meanwhile.
        lock(&self.pulling_back).insert(build.to_string());
        let pulled = self
            .pull_back_uncached(learner, build, exercise, name, held, log)
            .await;
        lock(&self.pulling_back).remove(build);
        // A failure to reach the registry or the engine is tried again at the next push.
        if pulled.outcome.is_ok() {
            let mut known = lock(&self.pulled_back);
            known.push_back((key, pulled.clone()));
            while known.len() > KEPT_PULL_BACKS {
                known.pop_front();
            }
        }
        Some(pulled)
    }

    async fn pull_back_uncached(
        &self,
        learner: &str,
        build: &str,
        exercise: &Exercise,
        name: &str,
        held: &TagFacts,
        log: &(dyn Fn(String) + Send + Sync),
    ) -> PulledBack {
        let repository = name.split(':').next().unwrap_or(name);
        let handle = crate::registry::handle_of(learner);
        let address = self.registry.address().unwrap_or_default();
        let full = format!("{address}/{handle}/{repository}");
        let reference = format!("{full}@{}", held.digest);
        let outcome = self
            .pulled_run(learner, build, exercise, name, &full, held, log)
            .await;
        if let Err(why) = &outcome {
            log(format!(
                "Check: `{name}` pulled back from your registry could not be run: {why}"
            ));
        }
        PulledBack {
            name: name.to_string(),
            reference,
            outcome,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn pulled_run(
        &self,
        learner: &str,
        build: &str,
        exercise: &Exercise,
        name: &str,
        full: &str,
        held: &TagFacts,
        log: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Vec<CheckOutcome>, String> {
        let login = self
            .registry_login(learner)
            .ok_or("this workshop's registry gives no login to pull with")?;
        let run = exercise
            .run
            .clone()
            .ok_or("the exercise runs nothing (it has no [run])")?;
        let docker = self
            .engine
            .client()
            .await
            .map_err(|problem| format!("the Docker engine cannot be reached: {problem}"))?;
        // No local name of the push is left to run instead of what the registry gives back
        // (but one a build of the learner's holds now, as its base, stays theirs).
        let reference = format!("{full}@{}", held.digest);
        for local in [
            format!("{full}:{}", name.rsplit(':').next().unwrap_or("")),
            reference.clone(),
        ] {
            if !docker.holds_any(std::slice::from_ref(&local)) {
                let _ = docker.untag(&local).await;
            }
        }
        log(format!("Pulling `{reference}` back from your registry…"));
        let pulled = PulledNames {
            client: Some(docker.clone()),
            names: vec![reference.clone()],
        };
        docker
            .pull_as(full, &held.digest, &login)
            .await
            .map_err(|e| format!("the pull failed: {e}"))?;
        // The engine fetches only the layers it lacks; another machine would fetch them all:
        // the registry must hold every one.
        let missing = self
            .registry
            .missing_blobs(
                full.split_once('/').map_or(full, |(_, path)| path),
                &held.digest,
            )
            .await
            .map_err(|e| format!("the registry could not be asked for its layers: {e}"))?;
        if !missing.is_empty() {
            return Err(format!(
                "the registry lacks {} of the image's blobs ({}): another machine could not pull it",
                missing.len(),
                missing.join(", ")
            ));
        }
        let (image, config) = image_facts(&docker, &reference)
            .await
            .map_err(|failure| failure.message)?;
        // What the engine made of the registry's image must be the very one pushed.
        if !held.is(&image.id) {
            return Err(format!(
                "the engine made image {} of it, not the one the registry names ({})",
                image.id,
                held.image_id.as_deref().unwrap_or(&held.digest)
            ));
        }
        log(format!(
            "Running `{reference}` as this exercise runs your image…"
        ));
        let limits = RunLimits {
            timeout: run.timeout.unwrap_or(self.settings.run.timeout),
            ..self.settings.run.clone()
        };
        let job = RunJob {
            image: &reference,
            command: run.command,
            entrypoint: None,
            env: Vec::new(),
            labels: self.labels_for(learner, build, &exercise.id),
            probe: run.probe,
            stop: run.stop,
            watch_health: None,
            freeze_when_healthy: false,
            limits: &limits,
        };
        let mut on_line = |line: String| log(line);
        let ran = engine_run::run(&docker, job, &mut on_line)
            .await
            .map_err(|failure| failure.message);
        pulled.release().await;
        let ran = ran?;
        let facts = Facts {
            image: Some(&image),
            config: Some(&config),
            run: Some(&ran),
            ..Facts::default()
        };
        Ok(exercise
            .checks
            .iter()
            .filter(|c| c.check.needs_run())
            .map(|c| c.check.judge(&c.id, facts))
            .collect())
    }
}
