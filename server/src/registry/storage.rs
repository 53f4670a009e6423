//! The embedded registry's storage: deleting one tag, and collecting the garbage (blobs and
//! manifests no tag reaches any more) with the registry program's own `garbage-collect`.
//!
//! Distribution 2.8's API deletes a manifest (with every tag on it), never one tag, so a tag
//! is deleted where the registry keeps it: the link under the repository's
//! `_manifests/tags/<tag>` in its storage folder, which the registry reads on each request
//! (no tag cache is configured). The collection then removes what nothing tags.

use super::Registry;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the embedded registry keeps what the storage functions touch.
#[derive(Debug)]
pub struct Files {
    pub program: PathBuf,
    pub config: PathBuf,
    /// Where its output goes.
    pub log: PathBuf,
    /// Its token realm: a restarted registry must answer with it to be ours.
    pub realm: String,
    /// The storage root (`rootdirectory`).
    pub data: PathBuf,
    /// Held while a collection runs: one at a time.
    pub collecting: Arc<tokio::sync::Mutex<()>>,
    pub quota: Quota,
}

/// How much one learner's namespace may hold, and where to measure it.
#[derive(Clone, Debug)]
pub struct Quota {
    /// The storage root.
    pub data: PathBuf,
    /// 0: no limit.
    pub bytes: u64,
    /// Usage measured lately, by handle: a token request does not walk the folder each time.
    pub recent: Arc<std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, u64)>>>,
}

/// How long a measured usage is taken as current for a token.
const USAGE_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(3);

impl Quota {
    /// Whether `handle`'s namespace holds its quota or more (measured at most a few seconds
    /// ago).
    pub async fn reached(&self, handle: &str) -> bool {
        if self.bytes == 0 {
            return false;
        }
        let known = crate::sync::lock(&self.recent)
            .get(handle)
            .filter(|(at, _)| at.elapsed() < USAGE_MAX_AGE)
            .map(|(_, used)| *used);
        let used = match known {
            Some(used) => used,
            None => {
                let used = namespace_bytes(&self.data, handle).await;
                let mut recent = crate::sync::lock(&self.recent);
                recent.retain(|_, (at, _)| at.elapsed() < USAGE_MAX_AGE);
                recent.insert(handle.to_string(), (std::time::Instant::now(), used));
                used
            }
        };
        used >= self.bytes
    }
}

/// The bytes `handle`'s namespace holds: each distinct blob (layer or config) its
/// repositories link to, once, as the registry stores it.
pub async fn namespace_bytes(data: &Path, handle: &str) -> u64 {
    if !super::is_handle(handle) {
        return 0;
    }
    let v2 = data.join("docker/registry/v2");
    let namespace = v2.join("repositories").join(handle);
    tokio::task::spawn_blocking(move || {
        let mut digests = std::collections::BTreeSet::new();
        let mut uploading = 0u64;
        let mut stack = vec![namespace];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                // `<repository>/_layers/sha256/<hex>/link`: a blob the repository uses;
                // `_manifests/revisions/sha256/<hex>`: a manifest it holds.
                if path.ends_with("_layers/sha256") || path.ends_with("revisions/sha256") {
                    for blob in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                        let hex = blob.file_name().to_string_lossy().into_owned();
                        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                            digests.insert(hex);
                        }
                    }
                } else if path.ends_with("_uploads") {
                    // Uploads not (yet) made into blobs count too: their data files.
                    uploading = uploading.saturating_add(tree_bytes(&path));
                } else if !path.ends_with("_manifests/tags") {
                    stack.push(path);
                }
            }
        }
        digests
            .iter()
            .filter_map(|hex| {
                std::fs::symlink_metadata(
                    v2.join("blobs/sha256")
                        .join(&hex[..2])
                        .join(hex)
                        .join("data"),
                )
                .ok()
            })
            .map(|meta| meta.len())
            .fold(uploading, u64::saturating_add)
    })
    .await
    .unwrap_or(0)
}

/// Why a tag was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("this workshop's registry is not one it runs, so it deletes nothing there")]
    NotOurs,
    #[error("the registry holds no such tag")]
    NoSuchTag,
    #[error("the tag could not be deleted: {0}")]
    Failed(String),
}

/// What a collection did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collected {
    /// Bytes the storage folder held before and after.
    pub before_bytes: u64,
    pub after_bytes: u64,
}

impl Registry {
    /// Delete `repository:tag` (`learner-1/app`, already checked to be the caller's).
    pub async fn delete_tag(&self, repository: &str, tag: &str) -> Result<(), DeleteError> {
        let files = self.files.as_ref().ok_or(DeleteError::NotOurs)?;
        let valid = repository.split('/').all(super::is_path_component)
            && !tag.is_empty()
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && !tag.starts_with(['.', '-']);
        if !valid {
            return Err(DeleteError::NoSuchTag);
        }
        let link = files
            .data
            .join("docker/registry/v2/repositories")
            .join(repository)
            .join("_manifests/tags")
            .join(tag);
        let path = link.clone();
        tokio::task::spawn_blocking(move || remove_tag_folder(&path))
            .await
            .map_err(|e| DeleteError::Failed(e.to_string()))?
    }

    /// Forget what `handle`'s namespace was last measured at (a push or a deletion changed
    /// it): the next token asks again.
    pub fn forget_usage(&self, handle: &str) {
        if let Some(files) = &self.files {
            crate::sync::lock(&files.quota.recent).remove(handle);
        }
    }

    /// What `handle`'s namespace holds and may hold (bytes; a limit of 0 is none), where
    /// layerlab runs the registry.
    pub async fn usage(&self, handle: &str) -> Option<(u64, u64)> {
        let files = self.files.as_ref()?;
        Some((
            namespace_bytes(&files.data, handle).await,
            files.quota.bytes,
        ))
    }

    /// Run the registry's garbage collection (`garbage-collect --delete-untagged`): manifests
    /// no tag names and blobs no manifest uses are removed. The caller makes sure no push
    /// of layerlab's is in flight; `None` when this registry is not one layerlab runs.
    pub async fn collect_garbage(&self) -> Option<Result<Collected, String>> {
        let files = self.files.as_ref()?;
        let _one = files.collecting.lock().await;
        let before_bytes = folder_bytes(&files.data).await;
        let output = tokio::process::Command::new(&files.program)
            .env_clear()
            .arg("garbage-collect")
            .arg("--delete-untagged")
            .arg(&files.config)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await;
        let result = match output {
            Err(e) => Err(format!("{} could not be run: {e}", files.program.display())),
            Ok(out) if !out.status.success() => Err(format!(
                "garbage-collect ended with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .rev()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" / ")
            )),
            Ok(_) => Ok(Collected {
                before_bytes,
                after_bytes: folder_bytes(&files.data).await,
            }),
        };
        Some(result)
    }
}

/// Remove a tag's folder, which must be a real folder under the storage root (not a link).
fn remove_tag_folder(path: &Path) -> Result<(), DeleteError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path)
            .map_err(|e| DeleteError::Failed(format!("{}: {e}", path.display()))),
        Ok(_) => Err(DeleteError::Failed(format!(
            "{} is not a folder",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DeleteError::NoSuchTag),
        Err(e) => Err(DeleteError::Failed(format!("{}: {e}", path.display()))),
    }
}

/// The bytes of the files under `dir` (links not followed).
pub async fn folder_bytes(dir: &Path) -> u64 {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || tree_bytes(&dir))
        .await
        .unwrap_or(0)
}

/// The bytes of the files under `dir`, read here (links not followed).
fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                total = total.saturating_add(meta.len());
            }
        }
    }
    total
}
