//! What a built image is made of, as the engine reports it: size, layers (`RootFS.Layers`),
//! and the history with, for each instruction, whether it added a layer.

use super::Client;
use app::dto::{BuildFailure, HistoryEntry, ImageFacts};
use bollard::query_parameters::{
    ListImagesOptionsBuilder, RemoveImageOptions, RemoveImageOptionsBuilder,
};
use bollard::Docker;
use std::collections::HashMap;

/// Inspect `image` and its history. History comes newest first from the engine; we give it
/// oldest first, the order the Dockerfile was written in.
///
/// `Size` 0 does not mean "no layer" (a `WORKDIR` can add an empty one), so whether an entry
/// added a layer is measured: for every history entry the engine still has as an image (the
/// classic builder keeps one per step), compare its layer count with the entry before it.
pub async fn image_facts(
    client: &Client,
    image: &str,
) -> Result<(ImageFacts, ImageConfigFacts), BuildFailure> {
    facts_of(&client.docker, image)
        .await
        .map_err(|e| super::builder::engine_unavailable(client.host(), &e))
}

async fn facts_of(
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
        if item
            .created_by
            .contains(super::builder::INTERNAL_LABEL_STEP)
        {
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
    client: &Client,
    image: &str,
    paths: &[String],
) -> Result<std::collections::BTreeMap<String, bool>, String> {
    paths_in(&client.docker, image, paths)
        .await
        .map_err(|e| e.to_string())
}

async fn paths_in(
    docker: &Docker,
    image: &str,
    paths: &[String],
) -> Result<std::collections::BTreeMap<String, bool>, bollard::errors::Error> {
    use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
    use futures::StreamExt;
    let id = never_started(docker, image, None).await?;
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
                let _ = remove_unstarted(docker, &id).await;
                return Err(e);
            }
        };
        found.insert(path.clone(), exists);
    }
    remove_unstarted(docker, &id).await?;
    Ok(found)
}

/// When the engine made `image`, if it still has it.
pub async fn created(client: &Client, image: &str) -> Option<std::time::SystemTime> {
    let docker = &client.docker;
    let inspect = docker.inspect_image(image).await.ok()?;
    parse_rfc3339(inspect.created.as_deref()?)
}

/// Of `candidates` (ids a build's log named), the images this build made: untagged, and
/// created by the engine at `since` or later. A step's output could name any image; the
/// engine's own facts decide which are ours to remove. Full ids, newest first.
pub async fn made_since(
    client: &Client,
    candidates: &[String],
    since: std::time::SystemTime,
) -> Vec<String> {
    let docker = &client.docker;
    let mut found: Vec<(std::time::SystemTime, String)> = Vec::new();
    for candidate in candidates {
        let Ok(image) = docker.inspect_image(candidate).await else {
            continue;
        };
        let untagged = image.repo_tags.as_ref().is_none_or(|t| t.is_empty());
        let created = image.created.as_deref().and_then(parse_rfc3339);
        if let (true, Some(created), Some(id)) = (untagged, created, image.id) {
            if created >= since && !found.iter().any(|(_, f)| *f == id) {
                found.push((created, id));
            }
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found.into_iter().map(|(_, id)| id).collect()
}

/// Whether two image ids name the same image: full (`sha256:…`) or short (12 hex) alike.
pub fn same_image(a: &str, b: &str) -> bool {
    let a = a.strip_prefix("sha256:").unwrap_or(a);
    let b = b.strip_prefix("sha256:").unwrap_or(b);
    let n = a.len().min(b.len());
    n >= 12 && a[..n].eq_ignore_ascii_case(&b[..n])
}

/// `2026-12-02T16:40:01.123456789Z` (what the engine writes, always UTC) as a time.
pub(super) fn parse_rfc3339(text: &str) -> Option<std::time::SystemTime> {
    let (date, rest) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let rest = rest.strip_suffix('Z')?;
    let (clock, fraction) = rest.split_once('.').unwrap_or((rest, "0"));
    let mut c = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (c.next()??, c.next()??, c.next()??);
    let digits: String = fraction.chars().take(9).collect();
    let nanos: u32 = format!("{digits:0<9}").parse().ok()?;
    // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos))
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn engine_times_parse_to_the_nanosecond() {
        let t = parse_rfc3339("2026-12-02T16:40:01.123456789Z").expect("parses");
        let since = t.duration_since(std::time::UNIX_EPOCH).expect("after 1970");
        assert_eq!(since.as_secs(), 1_796_229_601);
        assert_eq!(since.subsec_nanos(), 123_456_789);
        let short = parse_rfc3339("2000-02-29T00:00:00.5Z").expect("parses");
        let since = short
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970");
        assert_eq!(
            (since.as_secs(), since.subsec_nanos()),
            (951_782_400, 500_000_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert!(same_image("sha256:0123456789abcdef", "0123456789ab"));
        assert!(!same_image("0123456789ab", "0123456789ac"));
        assert!(!same_image("0123", "0123"), "too short to mean one image");
    }
}

/// The most bytes a root filesystem archive of a course image may take ([`root_filesystem`]).
pub const MAX_ROOT_FILESYSTEM_BYTES: usize = 64 << 20;

/// `image`'s filesystem as one tar archive, as `docker export` writes it for a container made
/// from it (never started: nothing of a run is in it). The container (with `labels`, for the
/// janitor should this server die meanwhile) is removed again.
pub async fn root_filesystem(
    client: &Client,
    image: &str,
    labels: std::collections::HashMap<String, String>,
) -> anyhow::Result<Vec<u8>> {
    let docker = &client.docker;
    use anyhow::Context;
    use futures::StreamExt;
    let created = never_started(docker, image, Some(labels))
        .await
        .with_context(|| format!("cannot make a container of {image}"))?;
    let mut bytes = Vec::new();
    let mut stream = docker.export_container(&created);
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) if bytes.len() + chunk.len() <= MAX_ROOT_FILESYSTEM_BYTES => {
                bytes.extend_from_slice(&chunk)
            }
            Ok(_) => {
                failed = Some(anyhow::anyhow!(
                    "{image}'s filesystem is bigger than {} MiB",
                    MAX_ROOT_FILESYSTEM_BYTES >> 20
                ));
                break;
            }
            Err(e) => {
                failed = Some(anyhow::Error::new(e).context(format!("exporting {image}")));
                break;
            }
        }
    }
    drop(stream);
    if let Err(e) = remove_unstarted(docker, &created).await {
        tracing::warn!(container = %created, "could not remove an export container: {e}");
    }
    match failed {
        Some(e) => Err(e),
        None => tidy_root_filesystem(&bytes).context("rewriting the exported filesystem"),
    }
}

/// What the engine adds to every container's filesystem (its "init layer": mount points for
/// the files and devices it binds in at run time), which belongs to no image.
const ENGINE_MOUNT_POINTS: &[&str] = &[
    ".dockerenv",
    "dev/console",
    "dev/pts",
    "dev/shm",
    "etc/hostname",
    "etc/hosts",
    "etc/mtab",
    "etc/resolv.conf",
];

/// An exported filesystem as a root filesystem archive anyone could have made: without the
/// engine's mount points, every time 0 (equal inputs, equal bytes: the build cache can hit),
/// and each absolute symbolic link made relative (`bin/sh -> /bin/busybox` becomes
/// `-> busybox`), which points at the same file once unpacked at `/` and keeps every link
/// inside the archive, as the build policy asks of what `ADD` unpacks.
pub fn tidy_root_filesystem(export: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Archive::new(export);
    let mut out = tar::Builder::new(Vec::new());
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let bare = path.trim_start_matches("./").trim_end_matches('/');
        if ENGINE_MOUNT_POINTS
            .iter()
            .any(|m| bare == *m || bare.starts_with(&format!("{m}/")))
        {
            continue;
        }
        let mut header = entry.header().clone();
        header.set_mtime(0);
        let link = entry.link_name()?.map(|l| l.to_string_lossy().into_owned());
        match (header.entry_type(), link) {
            (tar::EntryType::Symlink, Some(target)) if target.starts_with('/') => {
                let relative = relative_link(bare, &target);
                out.append_link(&mut header, bare, relative)?;
            }
            (tar::EntryType::Symlink | tar::EntryType::Link, Some(target)) => {
                out.append_link(&mut header, bare, target)?;
            }
            _ => {
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut data)?;
                out.append_data(&mut header, bare, &data[..])?;
            }
        }
    }
    out.into_inner()
}

/// The relative form of the absolute link `target` for a link at `path` (both within one
/// root): up to the root from the link's folder, then down to the target.
fn relative_link(path: &str, target: &str) -> String {
    let from: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let from = &from[..from.len().saturating_sub(1)];
    // The target resolved first (`..` stops at the root, as it does in a real root).
    let mut to: Vec<&str> = Vec::new();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                to.pop();
            }
            name => to.push(name),
        }
    }
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_links_become_relative_ones_to_the_same_place() {
        assert_eq!(relative_link("bin/sh", "/bin/busybox"), "busybox");
        assert_eq!(
            relative_link("usr/bin/env", "/bin/busybox"),
            "../../bin/busybox"
        );
        assert_eq!(relative_link("etc/mtab", "/proc/mounts"), "../proc/mounts");
        assert_eq!(relative_link("lib64", "/usr/lib64"), "usr/lib64");
        assert_eq!(relative_link("usr/lib/x", "/usr/lib"), ".");
        assert_eq!(relative_link("a/b/c", "/"), "../..");
        // `..` and `//` in the target are resolved first, never above the root.
        assert_eq!(relative_link("etc/x", "/../etc//passwd"), "passwd");
        assert_eq!(relative_link("x", "/usr/../../bin/./sh"), "bin/sh");
    }

    #[test]
    fn a_tidied_export_has_no_engine_mount_points_no_times_and_no_absolute_links() {
        let mut export = tar::Builder::new(Vec::new());
        let mut add = |path: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(0o755);
            h.set_mtime(1_700_000_000);
            h.set_size(data.len() as u64);
            match link {
                Some(l) => export.append_link(&mut h, path, l).unwrap(),
                None => export.append_data(&mut h, path, data).unwrap(),
            }
        };
        add(".dockerenv", tar::EntryType::Regular, None, b"");
        add("bin/", tar::EntryType::Directory, None, b"");
        add("bin/busybox", tar::EntryType::Regular, None, b"\x7fELF...");
        add("bin/sh", tar::EntryType::Symlink, Some("/bin/busybox"), b"");
        add("bin/ls", tar::EntryType::Link, Some("bin/busybox"), b"");
        add("dev/", tar::EntryType::Directory, None, b"");
        add("dev/console", tar::EntryType::Regular, None, b"");
        add("dev/pts/", tar::EntryType::Directory, None, b"");
        add("etc/hosts", tar::EntryType::Regular, None, b"");
        add(
            "etc/passwd",
            tar::EntryType::Regular,
            None,
            b"root:x:0:0::/root:/bin/sh\n",
        );
        let export = export.into_inner().unwrap();
        let tidy = tidy_root_filesystem(&export).expect("tidies");
        let mut seen = Vec::new();
        for entry in tar::Archive::new(&tidy[..]).entries().unwrap() {
            let entry = entry.unwrap();
            assert_eq!(entry.header().mtime().unwrap(), 0);
            let link = entry
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned());
            seen.push((entry.path().unwrap().to_string_lossy().into_owned(), link));
        }
        let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "bin",
                "bin/busybox",
                "bin/sh",
                "bin/ls",
                "dev",
                "etc/passwd"
            ]
        );
        assert_eq!(seen[2].1.as_deref(), Some("busybox"));
        assert_eq!(seen[3].1.as_deref(), Some("bin/busybox"), "hard links stay");
        assert_eq!(
            tidy,
            tidy_root_filesystem(&export).unwrap(),
            "deterministic"
        );
        // (The policy's archive check takes it: policy::tests.)
    }
}

/// Which of `bases` have their layers at the bottom of `image`'s (`None` when `image`
/// cannot be inspected; a base the engine lacks is under nothing).
pub async fn bases_under(client: &Client, image: &str, bases: &[String]) -> Option<Vec<String>> {
    let docker = &client.docker;
    let layers = |inspect: bollard::models::ImageInspect| {
        inspect.root_fs.and_then(|fs| fs.layers).unwrap_or_default()
    };
    let own = layers(docker.inspect_image(image).await.ok()?);
    let mut under = Vec::new();
    for base in bases {
        if let Ok(inspect) = docker.inspect_image(base).await {
            let theirs = layers(inspect);
            if !theirs.is_empty() && own.starts_with(&theirs) {
                under.push(base.clone());
            }
        }
    }
    Some(under)
}

/// The ID of `image` on the engine, if it has it.
pub async fn image_id(client: &Client, image: &str) -> Option<String> {
    let docker = &client.docker;
    docker.inspect_image(image).await.ok().and_then(|i| i.id)
}

/// One image as a listing shows it: its full ID and its tags.
#[derive(Clone, Debug)]
pub struct ListedImage {
    pub id: String,
    pub tags: Vec<String>,
}

/// One image as the engine lists it: its full id, its names, its labels, its size.
#[derive(Clone, Debug, Default)]
pub struct EngineImage {
    pub id: String,
    pub tags: Vec<String>,
    pub labels: HashMap<String, String>,
    /// Bytes with its layers (shared ones too).
    pub size: u64,
}

/// What the build policy reads of an image: who it is, what it sets, which layers it has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    /// `repository:tag` names, as the engine lists them.
    pub tags: Vec<String>,
    /// `NAME=value` entries: `ADD`/`COPY` sources of a stage on it expand with these.
    pub env: Vec<String>,
    /// Instructions the engine runs in a build that starts `FROM` this image.
    pub on_build: Vec<String>,
    /// Its `CMD`, as the engine keeps it (a shell form is `/bin/sh -c …`).
    pub cmd: Vec<String>,
    pub labels: HashMap<String, String>,
    /// `RootFS.Layers`, bottom first.
    pub layers: Vec<String>,
}

impl Client {
    /// Remove `reference` (a tag or an ID), even if a stopped container uses it. Removing a tag
    /// of an image that has others only untags it.
    pub async fn remove_image(&self, reference: &str) -> Result<(), String> {
        let force = RemoveImageOptionsBuilder::new().force(true).build();
        self.docker
            .remove_image(reference, Some(force), None)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Take the tag `reference` off its image; the image goes with its last tag, unless a
    /// container uses it.
    pub async fn untag(&self, reference: &str) -> Result<(), String> {
        self.release(reference);
        self.docker
            .remove_image(reference, None::<RemoveImageOptions>, None)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The images that carry `label` (`key=value`), or `None` when the engine cannot say.
    pub async fn images_labelled(&self, label: &str) -> Option<Vec<ListedImage>> {
        let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
        let options = ListImagesOptionsBuilder::new().filters(&filters).build();
        let images = self.docker.list_images(Some(options)).await.ok()?;
        Some(
            images
                .into_iter()
                .map(|i| ListedImage {
                    id: i.id,
                    tags: i.repo_tags,
                })
                .collect(),
        )
    }

    /// Every image on the engine, untagged ones too.
    pub async fn all_images(&self) -> Result<Vec<EngineImage>, String> {
        let images = self
            .docker
            .list_images(None::<bollard::query_parameters::ListImagesOptions>)
            .await
            .map_err(|e| e.to_string())?;
        Ok(images
            .into_iter()
            .map(|i| EngineImage {
                id: i.id,
                tags: i
                    .repo_tags
                    .into_iter()
                    .filter(|t| t != "<none>:<none>")
                    .collect(),
                labels: i.labels,
                size: u64::try_from(i.size).unwrap_or(0),
            })
            .collect())
    }

    /// Give `image` (a name or an id) the name `reference` (`repository:tag`).
    pub async fn tag(&self, image: &str, reference: &str) -> Result<(), String> {
        let (repository, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
        let options = bollard::query_parameters::TagImageOptionsBuilder::new()
            .repo(repository)
            .tag(tag)
            .build();
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(|e| super::push::engine_words(&e))
    }

    /// How many bytes `image` takes with its layers, if the engine has it.
    pub async fn image_size(&self, image: &str) -> Option<u64> {
        let size = self.docker.inspect_image(image).await.ok()?.size?;
        u64::try_from(size).ok()
    }

    /// What the build policy needs of `reference`: `None` when the engine has no such image.
    pub async fn image_info(&self, reference: &str) -> Result<Option<ImageInfo>, BuildFailure> {
        match self.docker.inspect_image(reference).await {
            Ok(image) => {
                let config = image.config.unwrap_or_default();
                Ok(Some(ImageInfo {
                    id: image.id.unwrap_or_default(),
                    tags: image.repo_tags.unwrap_or_default(),
                    env: config.env.unwrap_or_default(),
                    on_build: config.on_build.unwrap_or_default(),
                    cmd: config.cmd.unwrap_or_default(),
                    labels: config.labels.unwrap_or_default(),
                    layers: image.root_fs.and_then(|r| r.layers).unwrap_or_default(),
                }))
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(super::builder::engine_unavailable(self.host(), &e)),
        }
    }
}

/// A container of `image` that is made to be read (its files), never started: no network,
/// and a command only because scratch images have none. Its ID.
async fn never_started(
    docker: &Docker,
    image: &str,
    labels: Option<HashMap<String, String>>,
) -> Result<String, bollard::errors::Error> {
    let body = bollard::models::ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(vec!["/layerlab-never-started".into()]),
        network_disabled: Some(true),
        labels,
        ..Default::default()
    };
    let created = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        )
        .await?;
    Ok(created.id)
}

/// Remove a container [`never_started`] made, with its anonymous volumes.
async fn remove_unstarted(docker: &Docker, id: &str) -> Result<(), bollard::errors::Error> {
    let remove = bollard::query_parameters::RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    docker.remove_container(id, Some(remove)).await
}
