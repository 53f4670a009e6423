//! Removing what builds and runs leave on the engine, by label or by build: containers, the
//! images tagged for a build, dangling stage images, an older version's network. What to
//! remove and when is the janitor's and the builds' business; how is this module's.

use super::builder::{BUILD_LABEL, INSTANCE_LABEL};
use super::Client;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use std::collections::HashMap;

/// Remove every container this installation made (`instance`) whose build is not in
/// `active`. Returns how many.
pub async fn sweep_containers(client: &Client, instance: &str, active: &[String]) -> usize {
    let docker = &client.docker;
    let labels = vec![
        BUILD_LABEL.to_string(),
        format!("{INSTANCE_LABEL}={instance}"),
    ];
    remove_containers(docker, labels, active).await
}

/// Remove the run and check containers of one build, running or not.
pub async fn remove_build_containers(client: &Client, build: &str) -> usize {
    let docker = &client.docker;
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
pub async fn remove_dangling(client: &Client, images: &[String]) -> usize {
    let docker = &client.docker;
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

/// Remove the images tagged for these builds (`layerlab/<exercise>:<build>`).
pub async fn remove_build_images(client: &Client, builds: &[String]) -> usize {
    let docker = &client.docker;
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

/// Remove the shared probe network older versions made (its gateway was the host), unless a
/// container is still on it (an older server's run); the engine refuses that, so it stays.
pub async fn remove_old_probe_network(client: &Client) -> bool {
    let docker = &client.docker;
    use crate::engine::run::OLD_PROBE_NETWORK;
    match docker.remove_network(OLD_PROBE_NETWORK).await {
        Ok(()) => {
            tracing::info!("removed the network {OLD_PROBE_NETWORK} older versions used");
            true
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => false,
        Err(e) => {
            tracing::warn!("left the network {OLD_PROBE_NETWORK} of an older version: {e}");
            false
        }
    }
}
