//! Cleaning up after builds the normal path could not finish: at start-up, attempts a stopped
//! server left unfinished are marked interrupted and their containers and images removed; then,
//! every few minutes, any container of ours that no running build owns is removed, and so are
//! the stage images of superseded attempts (multi-stage builds leave their earlier stages as
//! untagged images).

use crate::builds::Builds;
use crate::engine::build::{BUILD_LABEL, INSTANCE_LABEL};
use crate::engine::Engine;
use crate::store::Store;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How often the periodic sweep runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// What one sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub containers: usize,
    pub images: usize,
}

/// Remove every container this installation made (`instance`) whose build is not in
/// `active`. Returns how many.
pub async fn sweep_containers(
    docker: &bollard::Docker,
    instance: &str,
    active: &[String],
) -> usize {
    let labels = vec![
        BUILD_LABEL.to_string(),
        format!("{INSTANCE_LABEL}={instance}"),
    ];
    remove_containers(docker, labels, active).await
}

/// Remove the run and check containers of one build, running or not.
pub async fn remove_build_containers(docker: &bollard::Docker, build: &str) -> usize {
    remove_containers(docker, vec![format!("{BUILD_LABEL}={build}")], &[]).await
}

/// Remove the containers carrying all of `labels`, except those of the builds in `spare`.
async fn remove_containers(
    docker: &bollard::Docker,
    labels: Vec<String>,
    spare: &[String],
) -> usize {
    let filters = HashMap::from([("label".to_string(), labels)]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let Ok(containers) = docker.list_containers(Some(options)).await else {
        return 0;
    };
    let mut removed = 0;
    for container in containers {
        let build = container
            .labels
            .as_ref()
            .and_then(|l| l.get(BUILD_LABEL))
            .cloned()
            .unwrap_or_default();
        if spare.contains(&build) {
            continue;
        }
        let Some(id) = container.id else { continue };
        let force = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        if docker.remove_container(&id, Some(force)).await.is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Remove those of `images` that are dangling (no tag). An image that is still the parent of
/// another refuses removal, which is what we want. Returns how many went.
pub async fn remove_dangling(docker: &bollard::Docker, images: &[String]) -> usize {
    let mut removed = 0;
    for image in images {
        let dangling = docker
            .inspect_image(image)
            .await
            .is_ok_and(|i| i.repo_tags.unwrap_or_default().is_empty());
        if dangling
            && docker
                .remove_image(
                    image,
                    None::<bollard::query_parameters::RemoveImageOptions>,
                    None,
                )
                .await
                .is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Remove the stage images of attempts a newer attempt superseded, and forget them.
pub async fn sweep_stage_images(docker: &bollard::Docker, store: &Store) -> usize {
    let Ok(superseded) = store.superseded_stage_images().await else {
        return 0;
    };
    let mut removed = 0;
    for (attempt, images) in superseded {
        removed += remove_dangling(docker, &images).await;
        let _ = store.clear_stage_images(&attempt).await;
    }
    removed
}

/// Remove the images tagged for these builds (`layerlab/<exercise>:<build>`).
pub async fn remove_build_images(docker: &bollard::Docker, builds: &[String]) -> usize {
    if builds.is_empty() {
        return 0;
    }
    let filters = HashMap::from([("reference".to_string(), vec!["layerlab/*".to_string()])]);
    let options = ListImagesOptionsBuilder::new().filters(&filters).build();
    let Ok(images) = docker.list_images(Some(options)).await else {
        return 0;
    };
    let mut removed = 0;
    for image in images {
        for tag in &image.repo_tags {
            let build = tag.rsplit_once(':').map_or("", |(_, b)| b);
            if builds.iter().any(|b| b == build) {
                let options = RemoveImageOptionsBuilder::new().force(true).build();
                if docker.remove_image(tag, Some(options), None).await.is_ok() {
                    removed += 1;
                }
            }
        }
    }
    removed
}

/// At start-up: mark what a stopped server left unfinished as interrupted, and once the
/// engine answers remove those builds' images and every container of ours (none can be
/// running yet). Then sweep every [`SWEEP_EVERY`]. Runs in the background: an engine that
/// is down does not stop the server from starting.
pub async fn start(store: Store, engine: Arc<Engine>, builds: Arc<Builds>) -> anyhow::Result<()> {
    let interrupted = store.mark_interrupted().await?;
    if !interrupted.is_empty() {
        tracing::info!(
            "{} build(s) were cut off by the last stop and are marked interrupted",
            interrupted.len()
        );
    }
    let store = store.clone();
    tokio::spawn(async move {
        let mut pending = interrupted;
        loop {
            if let Ok(docker) = engine.client().await {
                let active = builds.active_ids();
                let swept = Swept {
                    containers: sweep_containers(&docker, &store.instance, &active).await,
                    images: remove_build_images(&docker, &pending).await
                        + sweep_stage_images(&docker, &store).await,
                };
                pending.clear();
                crate::engine::BuildCgroup::sweep_stale(builds.settings().build.timeout * 2);
                if swept != Swept::default() {
                    tracing::info!(?swept, "janitor removed leftovers");
                }
            }
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    });
    Ok(())
}
