//! Base images without a registry: make them from what the host has, and import them through
//! the engine's image-create endpoint.
//! - `busybox:*` from Debian's busybox-static (one static binary plus its applet links, a
//!   passwd and group file, and a world-writable /tmp): instant, 2 MB.
//! - `debian:bookworm` (also `debian:12`, `debian:stable`, `debian:latest`) from `debootstrap
//!   --variant=minbase` against the host's Debian mirror, with apt lists and docs dropped:
//!   about a minute and 100 MB, for exercises that need apt, users, or a real libc.
//! - `gcc:12` and `python:3.11-slim` on top of that Debian: a build that runs `apt-get install`
//!   against the same mirror (containers reach it over HTTP). Same names as on Docker Hub, so
//!   Dockerfiles stay ordinary; see [`DERIVED`] for how they differ from Hub's images.

use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptions};
use bollard::Docker;
use futures::StreamExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's busybox-static installs its binary.
pub const HOST_BUSYBOX: &str = "/bin/busybox";

/// Label on every image we seed, saying what it was made from.
pub const SEEDED_LABEL: &str = "org.layerlab.seeded-from";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("no recipe for `{0}`: layerlab can make busybox:*, debian:bookworm, gcc:12, python:3.11-slim and layerlab/toolbox:1 from the host; pull or build `{0}` yourself")]
    NoRecipe(String),
    #[error(
        "{path} is not a static busybox ({why}); install Debian's busybox-static (`apt-get install busybox-static`)"
    )]
    NoBusybox { path: PathBuf, why: String },
    #[error("the engine refused the import of `{reference}`: {message}")]
    Import { reference: String, message: String },
    #[error("`{reference}` names busybox {wanted}, but the host's busybox is {found}: a version tag must say what is inside; use a tag of {found} (or latest)")]
    WrongVersion {
        reference: String,
        wanted: String,
        found: String,
    },
    #[error("debootstrap is not installed; install it with `apt-get install debootstrap`")]
    NoDebootstrap,
    #[error("debootstrap of {suite} from {mirror} failed: {message}")]
    Debootstrap {
        suite: String,
        mirror: String,
        message: String,
    },
    #[error("building `{reference}` on top of {base} failed: {message}")]
    Derive {
        reference: String,
        base: &'static str,
        message: String,
    },
    #[error("cannot prepare the root filesystem: {0}")]
    Rootfs(#[from] std::io::Error),
}

/// Which way a base image is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipe {
    Busybox,
    /// A Debian suite, e.g. `bookworm`.
    Debian(&'static str),
    /// Packages installed on top of a Debian base.
    Derived(&'static Derived),
}

/// An image made by installing Debian packages on a seeded Debian base.
#[derive(Debug, PartialEq, Eq)]
pub struct Derived {
    /// Repository name, as on Docker Hub.
    pub repository: &'static str,
    /// Tags this recipe answers to (a prefix match on the tag).
    pub tags: &'static [&'static str],
    /// The seeded image it starts from.
    pub base: &'static str,
    pub packages: &'static [&'static str],
    /// Shell commands run after the install.
    pub finish: &'static str,
    pub cmd: &'static str,
}

/// The derived recipes. Differences from Docker Hub's images of the same name:
/// - `gcc:12` is Debian's gcc 12 in /usr/bin (Hub builds it into /usr/local); `gcc -static`
///   works on both.
/// - `python:3.11-slim` is Debian's Python 3.11 with pip, venv, setuptools and wheel, plus
///   Flask and gunicorn from Debian, because builds here cannot reach PyPI. Debian's "externally
///   managed" marker is removed and `python` links to `python3`, so `pip install` behaves as on
///   Hub. On a machine that can pull, use Hub's image and `pip install flask gunicorn`.
pub const DERIVED: &[Derived] = &[
    Derived {
        repository: "gcc",
        tags: &["12"],
        base: "debian:bookworm",
        packages: &["gcc", "libc6-dev", "make"],
        finish: "gcc --version | head -n 1",
        cmd: "bash",
    },
    Derived {
        repository: "python",
        tags: &["3.11"],
        base: "debian:bookworm",
        packages: &[
            "python3",
            "python3-pip",
            "python3-venv",
            "python3-setuptools",
            "python3-wheel",
            "python3-flask",
            "gunicorn",
        ],
        finish: "rm -f /usr/lib/python3*/EXTERNALLY-MANAGED && ln -s /usr/bin/python3 /usr/local/bin/python && python --version",
        cmd: "python3",
    },
    // The docker console's toolbox: the real docker CLI (Debian ships it only inside
    // docker.io, whose daemon, containerd and runc are removed in the same step, so the image
    // holds the client alone) with curl, ps, ss and netstat. Its DOCKER_HOST is a learner's
    // policy proxy, never the engine.
    Derived {
        repository: TOOLBOX_REPOSITORY,
        tags: &["1"],
        base: "debian:bookworm",
        packages: &["docker.io", "curl", "procps", "iproute2", "net-tools"],
        finish: "rm -f /usr/sbin/dockerd /usr/sbin/docker-proxy /usr/sbin/docker-init /usr/sbin/runc /usr/bin/runc /usr/bin/containerd /usr/bin/containerd-shim* /usr/bin/ctr /usr/bin/containerd-stress && docker --version",
        cmd: "bash",
    },
];

/// The toolbox image's repository (`layerlab/toolbox:1`).
pub const TOOLBOX_REPOSITORY: &str = "layerlab/toolbox";
/// The toolbox image the console runs by default.
pub const TOOLBOX_IMAGE: &str = "layerlab/toolbox:1";

impl Recipe {
    pub fn for_reference(reference: &str) -> Result<Self, SeedError> {
        let repo = reference.split([':', '@']).next().unwrap_or(reference);
        match repo
            .trim_start_matches("docker.io/")
            .trim_start_matches("library/")
        {
            "busybox" => Ok(Recipe::Busybox),
            "debian" => match split_reference(reference).1 {
                "12" | "stable" | "latest" => Ok(Recipe::Debian("bookworm")),
                tag if tag.starts_with("bookworm") => Ok(Recipe::Debian("bookworm")),
                _ => Err(SeedError::NoRecipe(reference.to_string())),
            },
            repo => {
                let tag = split_reference(reference).1;
                DERIVED
                    .iter()
                    .find(|d| {
                        d.repository == repo
                            && d.tags.iter().any(|t| {
                                tag == *t
                                    || tag
                                        .strip_prefix(t)
                                        .is_some_and(|rest| rest.starts_with('-'))
                            })
                    })
                    .map(Recipe::Derived)
                    .ok_or_else(|| SeedError::NoRecipe(reference.to_string()))
            }
        }
    }
}

/// `busybox:latest` → (`busybox`, `latest`); no tag means `latest`.
fn split_reference(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (reference, "latest"),
    }
}

/// Create `reference` on the engine from the host's static busybox.
pub async fn seed_busybox(
    docker: &Docker,
    reference: &str,
    busybox: &Path,
) -> Result<(), SeedError> {
    let tag = split_reference(reference).1;
    if tag.starts_with(|c: char| c.is_ascii_digit()) {
        let found = busybox_version(busybox)?;
        if !version_matches(&found, tag) {
            return Err(SeedError::WrongVersion {
                reference: reference.to_string(),
                wanted: tag.to_string(),
                found,
            });
        }
    }
    let rootfs = busybox_rootfs(busybox)?;
    import(docker, reference, rootfs, "busybox-static", "sh").await
}

/// The version the busybox binary says it is (`1.35.0`), from the first line of its help.
fn busybox_version(busybox: &Path) -> Result<String, SeedError> {
    let no_busybox = |why: String| SeedError::NoBusybox {
        path: busybox.to_path_buf(),
        why,
    };
    let out = Command::new(busybox)
        .output()
        .map_err(|e| no_busybox(e.to_string()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.strip_prefix('v'))
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
        .ok_or_else(|| no_busybox("it does not say its version".into()))
}

/// A version tag (`1.35`, `1.35.0`) matches a version when each of its parts does.
fn version_matches(version: &str, tag: &str) -> bool {
    let have: Vec<&str> = version.split('.').collect();
    let want: Vec<&str> = tag.split('.').collect();
    want.len() <= have.len() && want.iter().zip(&have).all(|(w, h)| w == h)
}

/// The Debian mirror the host's apt uses (`deb.debian.org` when none is found), unless
/// `LAYERLAB_DEBIAN_MIRROR` says otherwise.
fn debian_mirror() -> String {
    if let Ok(mirror) = std::env::var("LAYERLAB_DEBIAN_MIRROR") {
        return mirror;
    }
    let sources = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources")
        .or_else(|_| std::fs::read_to_string("/etc/apt/sources.list"))
        .unwrap_or_default();
    sources
        .split_whitespace()
        .find(|w| w.starts_with("http") && w.trim_end_matches('/').ends_with("/debian"))
        .map(str::to_string)
        .unwrap_or_else(|| "http://deb.debian.org/debian".into())
}

/// Create `reference` with debootstrap. `trust_host_ca` copies the host's CA bundle in, for
/// networks where TLS is intercepted.
pub async fn seed_debian(
    docker: &Docker,
    reference: &str,
    suite: &str,
    trust_host_ca: bool,
) -> Result<(), SeedError> {
    let debootstrap = ["/usr/sbin/debootstrap", "/usr/bin/debootstrap"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or(SeedError::NoDebootstrap)?;
    let mirror = debian_mirror();
    let work = std::env::temp_dir().join(format!("layerlab-debootstrap-{}", std::process::id()));
    let rootfs = work.join("rootfs");
    let result = async {
        std::fs::create_dir_all(&work)?;
        let output = tokio::process::Command::new(debootstrap)
            .args(["--variant=minbase", suite])
            .arg(&rootfs)
            .arg(&mirror)
            .output()
            .await?;
        if !output.status.success() {
            let log = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            return Err(SeedError::Debootstrap {
                suite: suite.into(),
                mirror: mirror.clone(),
                message: tail.into_iter().rev().collect::<Vec<_>>().join(" / "),
            });
        }
        for dir in [
            "var/lib/apt/lists",
            "var/cache/apt",
            "usr/share/doc",
            "usr/share/man",
            "usr/share/info",
        ] {
            let path = rootfs.join(dir);
            if path.is_dir() {
                for entry in std::fs::read_dir(&path)?.flatten() {
                    let p = entry.path();
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
        }
        if trust_host_ca {
            let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
            let target = rootfs.join("etc/ssl/certs");
            std::fs::create_dir_all(&target)?;
            std::fs::copy(bundle, target.join("ca-certificates.crt"))?;
        }
        // The system tar keeps device nodes, hard links and owners exactly.
        let tar = tokio::process::Command::new("tar")
            .args(["--numeric-owner", "-C"])
            .arg(&rootfs)
            .args(["-cf", "-", "."])
            .output()
            .await?;
        if !tar.status.success() {
            return Err(SeedError::Rootfs(std::io::Error::other(
                String::from_utf8_lossy(&tar.stderr).into_owned(),
            )));
        }
        import(docker, reference, tar.stdout, "debootstrap", "bash").await
    }
    .await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Build `reference` from `recipe.base` (which must exist) by installing its packages from the
/// base's Debian mirror. Step headers go to stderr, so a long install shows progress.
pub async fn seed_derived(
    docker: &Docker,
    reference: &str,
    recipe: &Derived,
) -> Result<(), SeedError> {
    let failed = |message: String| SeedError::Derive {
        reference: reference.to_string(),
        base: recipe.base,
        message,
    };
    let dockerfile = format!(
        "FROM {base}\n\
         RUN apt-get update \\\n \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages} \\\n \
         && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* \\\n \
         && {finish}\n\
         LABEL {SEEDED_LABEL}=debootstrap+apt\n\
         CMD [\"{cmd}\"]\n",
        base = recipe.base,
        packages = recipe.packages.join(" "),
        finish = recipe.finish,
        cmd = recipe.cmd,
    );
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_data(
        &mut header(tar::EntryType::Regular, 0o644, dockerfile.len() as u64),
        "Dockerfile",
        dockerfile.as_bytes(),
    )?;
    let context = tar.into_inner()?;
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(reference)
        .rm(true)
        .forcerm(true)
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut tail: std::collections::VecDeque<String> = Default::default();
    let mut built = false;
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| {
            let last: Vec<String> = tail.iter().cloned().collect();
            failed(format!("{e}; last output: {}", last.join(" / ")))
        })?;
        if let Some(text) = info.stream {
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if line.starts_with("Step ") {
                    eprintln!("  {reference}: {line}");
                }
                if tail.len() == 5 {
                    tail.pop_front();
                }
                tail.push_back(line.to_string());
            }
        }
        built |= info.aux.and_then(|a| a.id).is_some();
    }
    if built {
        Ok(())
    } else {
        Err(failed("the engine named no image".into()))
    }
}

async fn import(
    docker: &Docker,
    reference: &str,
    rootfs: Vec<u8>,
    source: &str,
    shell: &str,
) -> Result<(), SeedError> {
    let (repo, tag) = split_reference(reference);
    let options = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo.into()),
        tag: Some(tag.into()),
        message: Some(format!("seeded by layerlab from the host ({source})")),
        changes: vec![
            format!("LABEL {SEEDED_LABEL}={source}"),
            format!("CMD [\"{shell}\"]"),
        ],
        ..Default::default()
    };
    let mut progress =
        docker.create_image(Some(options), Some(bollard::body_full(rootfs.into())), None);
    while let Some(step) = progress.next().await {
        step.map_err(|e| SeedError::Import {
            reference: reference.to_string(),
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// A tar of the root filesystem: /bin/busybox, a link per applet, /etc/passwd and /etc/group,
/// /tmp with the sticky bit, /root private.
pub fn busybox_rootfs(busybox: &Path) -> Result<Vec<u8>, SeedError> {
    let no_busybox = |why: String| SeedError::NoBusybox {
        path: busybox.to_path_buf(),
        why,
    };
    let binary = std::fs::read(busybox).map_err(|e| no_busybox(e.to_string()))?;
    let listing = Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(|e| no_busybox(e.to_string()))?;
    if !listing.status.success() {
        return Err(no_busybox("`busybox --list-full` failed".into()));
    }
    let applets: Vec<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(|l| l.trim().trim_start_matches('/').to_string())
        .filter(|l| !l.is_empty() && l != "bin/busybox" && !l.contains(".."))
        .collect();
    if !applets.iter().any(|a| a == "bin/sh") {
        return Err(no_busybox("it has no `sh` applet".into()));
    }

    let mut tar = tar::Builder::new(Vec::new());
    let io = |e: std::io::Error| no_busybox(format!("building the root filesystem: {e}"));
    for (dir, mode) in [
        ("bin", 0o755),
        ("sbin", 0o755),
        ("usr", 0o755),
        ("usr/bin", 0o755),
        ("usr/sbin", 0o755),
        ("etc", 0o755),
        ("home", 0o755),
        ("root", 0o700),
        ("tmp", 0o1777),
        ("var", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
    ] {
        tar.append_data(
            &mut header(tar::EntryType::Directory, mode, 0),
            format!("{dir}/"),
            std::io::empty(),
        )
        .map_err(io)?;
    }
    tar.append_data(
        &mut header(tar::EntryType::Regular, 0o755, binary.len() as u64),
        "bin/busybox",
        binary.as_slice(),
    )
    .map_err(io)?;
    for applet in &applets {
        tar.append_link(
            &mut header(tar::EntryType::Symlink, 0o777, 0),
            applet,
            "/bin/busybox",
        )
        .map_err(io)?;
    }
    for (path, text) in [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
    ] {
        tar.append_data(
            &mut header(tar::EntryType::Regular, 0o644, text.len() as u64),
            path,
            text.as_bytes(),
        )
        .map_err(io)?;
    }
    tar.into_inner().map_err(io)
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_by_repository() {
        assert_eq!(
            Recipe::for_reference("busybox:latest").ok(),
            Some(Recipe::Busybox)
        );
        assert_eq!(
            Recipe::for_reference("docker.io/library/busybox:1.36").ok(),
            Some(Recipe::Busybox)
        );
        let err = Recipe::for_reference("python:3.12-slim")
            .expect_err("no recipe")
            .to_string();
        assert!(err.contains("`python:3.12-slim`"), "{err}");
        assert_eq!(
            Recipe::for_reference("debian:12").ok(),
            Some(Recipe::Debian("bookworm"))
        );
        assert!(Recipe::for_reference("debian:buster").is_err());
        for (reference, repository) in [
            ("gcc:12", "gcc"),
            ("gcc:12-bookworm", "gcc"),
            ("python:3.11-slim", "python"),
            ("docker.io/library/python:3.11", "python"),
        ] {
            match Recipe::for_reference(reference) {
                Ok(Recipe::Derived(d)) => assert_eq!(d.repository, repository, "{reference}"),
                other => panic!("{reference}: {other:?}"),
            }
        }
        for no in ["gcc:13", "python:3.12-slim", "python:3.110", "gcc"] {
            assert!(Recipe::for_reference(no).is_err(), "{no}");
        }
    }

    #[test]
    fn references_split_into_repo_and_tag() {
        assert!(version_matches("1.35.0", "1.35"));
        assert!(version_matches("1.35.0", "1.35.0"));
        assert!(version_matches("1.35.0", "1"));
        assert!(!version_matches("1.35.0", "1.36"));
        assert!(!version_matches("1.35.0", "1.35.0.1"));
        assert!(!version_matches("1.35.0", "1.3"));
        assert_eq!(split_reference("busybox:latest"), ("busybox", "latest"));
        assert_eq!(split_reference("busybox"), ("busybox", "latest"));
        assert_eq!(
            split_reference("localhost:5000/busybox"),
            ("localhost:5000/busybox", "latest")
        );
    }

    #[test]
    fn a_missing_busybox_says_which_package_to_install() {
        let err = busybox_rootfs(Path::new("/nonexistent/busybox"))
            .expect_err("missing")
            .to_string();
        assert!(err.contains("busybox-static"), "{err}");
    }
}
