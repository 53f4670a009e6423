//! A process-count limit for builds. The engine's build API has no pids limit, but it does
//! accept a parent cgroup (`cgroupparent`); the classic builder starts every `RUN` container
//! under it. We make one parent per build with `pids.max` set, so a fork bomb in a `RUN` step
//! stops at the limit. This needs the engine on this host (a unix socket) and a writable
//! `/sys/fs/cgroup`; elsewhere the build runs without it and the log says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A parent cgroup that exists for one build.
#[derive(Debug)]
pub struct BuildCgroup {
    name: String,
}

impl BuildCgroup {
    /// The cgroup a build with this id runs in.
    pub fn of_build(build_id: &str) -> Self {
        BuildCgroup {
            name: format!("layerlab-build-{build_id}"),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Create `/<name>` with `pids.max = max_pids` on cgroup v1 (the `pids` hierarchy) or v2.
    pub fn create(name: &str, max_pids: i64) -> Result<Self, String> {
        let root = Path::new(CGROUP_ROOT);
        let pids_dir = if root.join("cgroup.controllers").exists() {
            root.join(name)
        } else if root.join("pids").is_dir() {
            root.join("pids").join(name)
        } else {
            return Err("this host has no pids cgroup controller".into());
        };
        std::fs::create_dir_all(&pids_dir)
            .map_err(|e| format!("cannot create {}: {e}", pids_dir.display()))?;
        let group = BuildCgroup {
            name: name.to_string(),
        };
        std::fs::write(pids_dir.join("pids.max"), max_pids.to_string())
            .map_err(|e| format!("cannot set {}/pids.max: {e}", pids_dir.display()))?;
        Ok(group)
    }

    /// The value for the engine's `cgroupparent` build parameter.
    pub fn parent(&self) -> String {
        format!("/{}", self.name)
    }

    /// Remove the directories the engine made under every controller. The engine removes a
    /// container's own cgroup a moment after the container, so retry briefly.
    pub async fn remove(self) {
        self.remove_within(Duration::from_secs(1)).await;
    }

    /// [`remove`](Self::remove), waiting up to `wait` for the engine to empty it (a cancelled
    /// build's step container is killed a moment after the request is dropped).
    pub async fn remove_within(self, wait: Duration) {
        let tries = (wait.as_millis() / 50).max(1);
        for attempt in 0..tries {
            let left: Vec<PathBuf> = self.dirs().into_iter().filter(|d| d.exists()).collect();
            let mut failed = false;
            for dir in &left {
                if std::fs::remove_dir(dir).is_err() {
                    failed = true;
                }
            }
            if !failed {
                return;
            }
            if attempt + 1 == tries {
                tracing::warn!(cgroup = %self.name, "build cgroup still busy; leaving it");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Remove build cgroups left by a server that died mid-build: empty ones older than
    /// `max_age` (younger ones may belong to another server's running build). Returns how
    /// many went.
    pub fn sweep_stale(max_age: Duration) -> usize {
        sweep_stale_in(Path::new(CGROUP_ROOT), max_age)
    }

    /// The containers the engine runs in this build now (a `RUN` step's, while it runs): the
    /// engine makes one cgroup per container under ours, named by the container's id. Only
    /// this build's containers can be here, so this is the engine's own word on which
    /// containers are ours, whatever the build prints.
    pub fn container_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .dirs()
            .iter()
            .filter_map(|dir| std::fs::read_dir(dir).ok())
            .flat_map(|entries| entries.flatten())
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let id = name
                    .strip_prefix("docker-")
                    .and_then(|n| n.strip_suffix(".scope"))
                    .unwrap_or(&name)
                    .to_string();
                (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Wait (up to `wait`) until the engine has removed every container it ran in this build.
    pub async fn wait_for_containers(&self, docker: &bollard::Docker, wait: Duration) {
        let until = std::time::Instant::now() + wait;
        loop {
            let mut left = false;
            for id in self.container_ids() {
                let gone = matches!(
                    docker.inspect_container(&id, None).await,
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    })
                );
                left |= !gone;
            }
            if !left || std::time::Instant::now() >= until {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn dirs(&self) -> Vec<PathBuf> {
        let root = Path::new(CGROUP_ROOT);
        let mut dirs = vec![root.join(&self.name)];
        if let Ok(entries) = std::fs::read_dir(root) {
            for entry in entries.flatten() {
                let candidate = entry.path().join(&self.name);
                if candidate.is_dir() {
                    dirs.push(candidate);
                }
            }
        }
        dirs
    }
}

fn sweep_stale_in(root: &Path, max_age: Duration) -> usize {
    let mut candidates = Vec::new();
    let mut visit = |dir: &Path| {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let old_enough = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= max_age);
                if name.to_string_lossy().starts_with("layerlab-build-") && old_enough {
                    candidates.push(entry.path());
                }
            }
        }
    };
    visit(root);
    if let Ok(controllers) = std::fs::read_dir(root) {
        for controller in controllers.flatten() {
            visit(&controller.path());
        }
    }
    // A cgroup still in use refuses removal, which is what we want.
    candidates
        .into_iter()
        .filter(|dir| std::fs::remove_dir(dir).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_build_cgroups_are_swept() {
        let root = tempfile::tempdir().expect("tempdir");
        let old = root.path().join("pids/layerlab-build-old");
        let young = root.path().join("pids/layerlab-build-young");
        let other = root.path().join("pids/system.slice");
        for dir in [&old, &young, &other] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        for dir in [&old, &other] {
            std::fs::File::open(dir)
                .and_then(|f| f.set_modified(an_hour_ago))
                .expect("set the time");
        }
        assert_eq!(sweep_stale_in(root.path(), Duration::from_secs(600)), 1);
        assert!(!old.exists());
        assert!(young.exists(), "a young one may belong to a running build");
        assert!(other.exists(), "only ours");
    }
}
