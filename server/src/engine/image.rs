//! What a built image is made of, as the engine reports it: size, layers (`RootFS.Layers`),
//! and the history with, for each instruction, whether it added a layer.

use app::dto::{HistoryEntry, ImageFacts};
use bollard::Docker;

/// Inspect `image` and its history. History comes newest first from the engine; we give it
/// oldest first, the order the Dockerfile was written in.
///
/// `Size` 0 does not mean "no layer" (a `WORKDIR` can add an empty one), so whether an entry
/// added a layer is measured: for every history entry the engine still has as an image (the
/// classic builder keeps one per step), compare its layer count with the entry before it.
pub async fn image_facts(
    docker: &Docker,
    image: &str,
) -> Result<(ImageFacts, ImageConfigFacts), bollard::errors::Error> {
    let inspect = docker.inspect_image(image).await?;
    let config = inspect
        .config
        .as_ref()
        .map(|c| ImageConfigFacts {
            user: c.user.clone().unwrap_or_default(),
            workdir: c.working_dir.clone().unwrap_or_default(),
            env: c.env.clone().unwrap_or_default(),
            cmd: c.cmd.clone(),
            entrypoint: c.entrypoint.clone(),
            exposed_ports: c.exposed_ports.clone().unwrap_or_default(),
            labels: c.labels.clone().unwrap_or_default().into_iter().collect(),
        })
        .unwrap_or_default();
    let layers = inspect
        .root_fs
        .and_then(|fs| fs.layers)
        .map(|l| l.len())
        .unwrap_or(0);
    let mut history = docker.image_history(image).await?;
    history.reverse();
    let mut entries = Vec::with_capacity(history.len());
    let mut previous_layers = 0usize;
    for item in &history {
        let size_bytes = u64::try_from(item.size).unwrap_or(0);
        let known = if item.id.starts_with("sha256:") {
            layer_count(docker, &item.id).await
        } else {
            None
        };
        let empty_layer = match known {
            Some(count) => {
                let empty = count <= previous_layers;
                previous_layers = count;
                empty
            }
            None => {
                // Entries pulled from a registry have no local image; judge by what they did.
                let empty = size_bytes == 0 && item.created_by.contains("#(nop)");
                if !empty {
                    previous_layers += 1;
                }
                empty
            }
        };
        if item.created_by.contains(super::build::INTERNAL_LABEL_STEP) {
            continue;
        }
        entries.push(HistoryEntry {
            created_by: item.created_by.clone(),
            size_bytes,
            empty_layer,
        });
    }
    let facts = ImageFacts {
        id: inspect.id.unwrap_or_default(),
        size_bytes: inspect
            .size
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0),
        layers,
        history: entries,
    };
    Ok((facts, config))
}

/// The image's runtime configuration, for checks (`USER`, `WORKDIR`, `ENV`, …).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageConfigFacts {
    pub user: String,
    pub workdir: String,
    /// `NAME=value` entries.
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `8080/tcp` entries.
    pub exposed_ports: Vec<String>,
    pub labels: std::collections::BTreeMap<String, String>,
}

impl ImageConfigFacts {
    /// An unset `USER` means root.
    pub fn user_or_root(&self) -> &str {
        if self.user.is_empty() {
            "root"
        } else {
            &self.user
        }
    }

    pub fn env_value(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|e| e.strip_prefix(name)?.strip_prefix('='))
    }
}

async fn layer_count(docker: &Docker, id: &str) -> Option<usize> {
    let inspect = docker.inspect_image(id).await.ok()?;
    Some(inspect.root_fs?.layers?.len())
}

/// Whether each of `paths` exists in `image`'s filesystem. Works for any image, even one
/// with no shell (`FROM scratch`): a container is created, never started, and the engine's
/// archive endpoint is asked for each path.
pub async fn paths_exist(
    docker: &Docker,
    image: &str,
    paths: &[String],
) -> Result<std::collections::BTreeMap<String, bool>, bollard::errors::Error> {
    use bollard::query_parameters::{
        DownloadFromContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    };
    use futures::StreamExt;
    let body = bollard::models::ContainerCreateBody {
        image: Some(image.to_string()),
        // Never started; a command is only needed because scratch images have none.
        cmd: Some(vec!["/layerlab-never-started".into()]),
        network_disabled: Some(true),
        ..Default::default()
    };
    let id = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        )
        .await?
        .id;
    let mut found = std::collections::BTreeMap::new();
    for path in paths {
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        let mut stream = docker.download_from_container(&id, Some(options));
        let exists = match stream.next().await {
            Some(Ok(_)) | None => true,
            Some(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            })) => false,
            Some(Err(e)) => {
                let _ = docker
                    .remove_container(
                        &id,
                        Some(RemoveContainerOptionsBuilder::new().force(true).build()),
                    )
                    .await;
                return Err(e);
            }
        };
        found.insert(path.clone(), exists);
    }
    docker
        .remove_container(
            &id,
            Some(RemoveContainerOptionsBuilder::new().force(true).build()),
        )
        .await?;
    Ok(found)
}
