//! A learner's files become a build context: checked against the limits and path rules, then
//! packed as an in-memory tar for the engine.

use std::collections::BTreeMap;
use std::sync::Arc;

/// How much a single build context may hold.
#[derive(Clone, Debug)]
pub struct ContextLimits {
    pub max_files: usize,
    pub max_file_bytes: usize,
    pub max_total_bytes: usize,
}

impl Default for ContextLimits {
    fn default() -> Self {
        ContextLimits {
            max_files: 64,
            max_file_bytes: 256 * 1024,
            max_total_bytes: 1024 * 1024,
        }
    }
}

/// Why a set of files cannot be built; each says what to change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContextError {
    #[error("There is no file called Dockerfile; add one at the top level.")]
    NoDockerfile,
    #[error("{count} files is too many; a build may have at most {max}.")]
    TooManyFiles { count: usize, max: usize },
    #[error("“{path}” is {size} bytes; a file may be at most {max} bytes.")]
    FileTooLarge {
        path: String,
        size: usize,
        max: usize,
    },
    #[error("The files add up to {size} bytes; a build may hold at most {max} bytes.")]
    ContextTooLarge { size: usize, max: usize },
    #[error("“{path}” is not a usable file name: {why}.")]
    BadPath { path: String, why: &'static str },
    #[error("“{path}” is a file this exercise provides; give yours another name.")]
    ProvidedName { path: String },
    #[error("“{path}” is {what}; a build here takes regular files and folders only (copy the file itself into the folder you build).")]
    NotAFile { path: String, what: &'static str },
    #[error("The files sent to build could not be read as a tar archive: {0}.")]
    Unreadable(String),
    #[error("There is no “{0}” among the files sent to build (the Dockerfile named by -f).")]
    NoNamedDockerfile(String),
}

impl ContextError {
    /// The API's error code.
    pub fn code(&self) -> &'static str {
        match self {
            ContextError::NoDockerfile => "no_dockerfile",
            ContextError::TooManyFiles { .. } => "too_many_files",
            ContextError::FileTooLarge { .. } => "file_too_large",
            ContextError::ContextTooLarge { .. } => "context_too_large",
            ContextError::BadPath { .. } => "bad_path",
            ContextError::ProvidedName { .. } => "provided_name",
            ContextError::NotAFile { .. } => "not_a_file",
            ContextError::Unreadable(_) => "unreadable_context",
            ContextError::NoNamedDockerfile(_) => "no_dockerfile",
        }
    }

    /// Size problems are 413, the rest 400.
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            ContextError::FileTooLarge { .. } | ContextError::ContextTooLarge { .. }
        )
    }
}

/// Files that passed every rule; only this type can be turned into a tar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildContext {
    /// The learner's files.
    files: BTreeMap<String, String>,
    /// Files the exercise provides beside them, any bytes (a root filesystem archive, say):
    /// read-only, not the learner's, never stored with an attempt. (A console build's files
    /// that are not text are kept here too: they are counted by [`BuildContext::from_archive`].)
    provided: BTreeMap<String, Arc<[u8]>>,
    /// Files sent executable whatever their name or first line (a console build's, as the
    /// learner's folder has them).
    executable: std::collections::BTreeSet<String>,
}

impl BuildContext {
    pub fn new(
        files: BTreeMap<String, String>,
        limits: &ContextLimits,
    ) -> Result<Self, ContextError> {
        if files.len() > limits.max_files {
            return Err(ContextError::TooManyFiles {
                count: files.len(),
                max: limits.max_files,
            });
        }
        let mut total = 0;
        for (path, content) in &files {
            check_path(path)?;
            if content.len() > limits.max_file_bytes {
                return Err(ContextError::FileTooLarge {
                    path: path.clone(),
                    size: content.len(),
                    max: limits.max_file_bytes,
                });
            }
            total += content.len();
        }
        if total > limits.max_total_bytes {
            return Err(ContextError::ContextTooLarge {
                size: total,
                max: limits.max_total_bytes,
            });
        }
        // A file inside a directory that is also a file would make the tar ambiguous.
        for path in files.keys() {
            let mut prefix = path.as_str();
            while let Some((parent, _)) = prefix.rsplit_once('/') {
                if files.contains_key(parent) {
                    return Err(ContextError::BadPath {
                        path: path.clone(),
                        why: "its folder is also a file",
                    });
                }
                prefix = parent;
            }
        }
        if !files.contains_key("Dockerfile") {
            return Err(ContextError::NoDockerfile);
        }
        Ok(BuildContext {
            files,
            provided: BTreeMap::new(),
            executable: Default::default(),
        })
    }

    /// The files of a tar archive as the docker CLI sends them to build (the folder built,
    /// `.dockerignore` applied), with the Dockerfile the build names (`-f`) as `Dockerfile`:
    /// regular files and folders only, within `limits` and the path rules. Text files are the
    /// learner's, other bytes are kept as they are; each keeps whether it is executable.
    pub fn from_archive(
        archive: &[u8],
        dockerfile: &str,
        limits: &ContextLimits,
    ) -> Result<Self, ContextError> {
        let unreadable = |e: std::io::Error| ContextError::Unreadable(e.to_string());
        let mut texts = BTreeMap::new();
        let mut bytes: BTreeMap<String, Arc<[u8]>> = BTreeMap::new();
        let mut executable = std::collections::BTreeSet::new();
        let mut total = 0usize;
        let mut reader = tar::Archive::new(archive);
        for entry in reader.entries().map_err(unreadable)? {
            let mut entry = entry.map_err(unreadable)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let path = raw
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_string();
            let what = match entry.header().entry_type() {
                tar::EntryType::Directory => continue,
                tar::EntryType::Regular | tar::EntryType::Continuous => None,
                tar::EntryType::Symlink => Some("a symbolic link"),
                tar::EntryType::Link => Some("a hard link"),
                _ => Some("not a regular file (a device, a pipe or a socket)"),
            };
            if path.is_empty() {
                continue;
            }
            check_path(&path)?;
            // (Twice in one archive, the engine would build from the copy unpacked last,
            // which need not be the one checked.)
            if texts.contains_key(&path) || bytes.contains_key(&path) {
                return Err(ContextError::BadPath {
                    path,
                    why: "it is in the archive twice",
                });
            }
            if let Some(what) = what {
                return Err(ContextError::NotAFile { path, what });
            }
            if texts.len() + bytes.len() >= limits.max_files {
                return Err(ContextError::TooManyFiles {
                    count: texts.len() + bytes.len() + 1,
                    max: limits.max_files,
                });
            }
            let size = usize::try_from(entry.size()).unwrap_or(usize::MAX);
            if size > limits.max_file_bytes {
                return Err(ContextError::FileTooLarge {
                    path,
                    size,
                    max: limits.max_file_bytes,
                });
            }
            total = total.saturating_add(size);
            if total > limits.max_total_bytes {
                return Err(ContextError::ContextTooLarge {
                    size: total,
                    max: limits.max_total_bytes,
                });
            }
            let mut content = Vec::with_capacity(size);
            std::io::Read::read_to_end(&mut entry, &mut content).map_err(unreadable)?;
            if entry.header().mode().is_ok_and(|m| m & 0o111 != 0) {
                executable.insert(path.clone());
            }
            match String::from_utf8(content) {
                Ok(text) => {
                    texts.insert(path, text);
                }
                Err(e) => {
                    bytes.insert(path, e.into_bytes().into());
                }
            }
        }
        let named = dockerfile.trim_start_matches("./");
        if bytes.contains_key(named) {
            return Err(ContextError::BadPath {
                path: named.to_string(),
                why: "a Dockerfile must be text (UTF-8)",
            });
        }
        if named != "Dockerfile" {
            let text = texts
                .remove(named)
                .ok_or_else(|| ContextError::NoNamedDockerfile(named.to_string()))?;
            // (It takes the name the engine builds from; a file of that name stays out.)
            bytes.remove("Dockerfile");
            texts.insert("Dockerfile".into(), text);
        }
        let mut context = BuildContext::new(texts, limits)?;
        for path in bytes.keys() {
            let clash = context.files.keys().any(|text| {
                path.strip_prefix(text.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
                    || text
                        .strip_prefix(path.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            });
            if clash {
                return Err(ContextError::BadPath {
                    path: path.clone(),
                    why: "its folder is also a file",
                });
            }
        }
        context.provided = bytes;
        context.executable = executable;
        Ok(context)
    }

    /// The same files with those the exercise provides beside them (top-level names; the
    /// course's own, so no learner's limit counts them). A learner's file may not take one of
    /// their names, nor sit in a folder of that name.
    pub fn with_provided(
        &self,
        provided: impl IntoIterator<Item = (String, Arc<[u8]>)>,
    ) -> Result<BuildContext, ContextError> {
        let mut with = self.clone();
        for (path, bytes) in provided {
            let clash = self.files.keys().any(|mine| {
                mine == &path
                    || mine
                        .strip_prefix(path.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            });
            if clash {
                return Err(ContextError::ProvidedName { path });
            }
            with.provided.insert(path, bytes);
        }
        Ok(with)
    }

    /// The same files with `text` appended to `path`, or `None` when there is no such file.
    pub fn with_appended(&self, path: &str, text: &str) -> Option<BuildContext> {
        let mut with = self.clone();
        with.files.get_mut(path)?.push_str(text);
        Some(with)
    }

    /// The same files with `text` as the Dockerfile.
    pub fn with_dockerfile(&self, text: String) -> BuildContext {
        let mut with = self.clone();
        with.files.insert("Dockerfile".into(), text);
        with
    }

    /// Every file the build is sent, the learner's and the provided ones, as bytes.
    pub fn sources(&self) -> Vec<(&str, &[u8])> {
        let mut all: Vec<(&str, &[u8])> = self
            .files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_bytes()))
            .chain(self.provided.iter().map(|(p, b)| (p.as_str(), &b[..])))
            .collect();
        all.sort_by_key(|(p, _)| *p);
        all
    }

    pub fn dockerfile(&self) -> &str {
        self.files
            .get("Dockerfile")
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.files
    }

    /// A tar of the files, with fixed owners and times so equal inputs give equal bytes (and
    /// the engine's build cache can hit). Scripts (`.sh` or a `#!` first line) are executable.
    /// Like the docker CLI, we apply `.dockerignore` here: the engine itself does not.
    pub fn to_tar(&self) -> std::io::Result<Vec<u8>> {
        let ignore = self
            .files
            .get(".dockerignore")
            .map(|text| DockerIgnore::parse(text))
            .unwrap_or_default();
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in self.sources() {
            let always_sent = path == "Dockerfile" || path == ".dockerignore";
            if !always_sent && ignore.excludes(path) {
                continue;
            }
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            let executable = self.executable.contains(path)
                || path.ends_with(".sh")
                || content.starts_with(b"#!");
            header.set_mode(if executable { 0o755 } else { 0o644 });
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, content)?;
        }
        builder.into_inner()
    }
}

/// `.dockerignore` rules: one pattern per line, `#` comments, `!` to bring a path back; `*`
/// and `?` within a name, `**` across folders. A pattern that matches a folder excludes what
/// is inside it. The last matching rule wins, as in the docker CLI.
#[derive(Debug, Default)]
struct DockerIgnore {
    rules: Vec<(bool, Vec<String>)>,
}

impl DockerIgnore {
    fn parse(text: &str) -> Self {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| {
                let (keep, pattern) = match line.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                let segments = pattern
                    .trim_start_matches("./")
                    .trim_matches('/')
                    .split('/')
                    .filter(|s| !s.is_empty() && *s != ".")
                    .map(str::to_string)
                    .collect();
                (keep, segments)
            })
            .collect();
        DockerIgnore { rules }
    }

    fn excludes(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        let mut excluded = false;
        for (keep, pattern) in &self.rules {
            // The path itself, or any folder above it.
            let hit = (1..=parts.len()).any(|n| segments_match(pattern, &parts[..n]));
            if hit {
                excluded = !keep;
            }
        }
        excluded
    }
}

fn segments_match(pattern: &[String], parts: &[&str]) -> bool {
    match pattern.split_first() {
        None => parts.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=parts.len()).any(|skip| segments_match(rest, &parts[skip..]))
        }
        Some((first, rest)) => match parts.split_first() {
            Some((part, remaining)) => name_matches(first, part) && segments_match(rest, remaining),
            None => false,
        },
    }
}

/// `*` (any run of characters) and `?` (one character) within one name.
fn name_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn check_path(path: &str) -> Result<(), ContextError> {
    let bad = |why| {
        Err(ContextError::BadPath {
            path: path.to_string(),
            why,
        })
    };
    if path.is_empty() {
        return bad("it is empty");
    }
    if path.len() > 200 {
        return bad("it is longer than 200 characters");
    }
    if path.starts_with('/') {
        return bad("absolute paths are not allowed; name it relative to the build folder");
    }
    if path.contains('\\') {
        return bad("use / between folders, not \\");
    }
    if path.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    for part in path.split('/') {
        match part {
            "" => return bad("it has an empty folder name (// or a trailing /)"),
            "." | ".." => return bad("“.” and “..” are not allowed in paths"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect()
    }

    fn check(pairs: &[(&str, &str)]) -> Result<BuildContext, ContextError> {
        BuildContext::new(files(pairs), &ContextLimits::default())
    }

    #[test]
    fn each_path_rule_names_the_file_and_the_fix() {
        for (path, expected) in [
            ("/etc/passwd", "absolute paths"),
            ("../up", "“..”"),
            ("a/./b", "“.”"),
            ("a//b", "empty folder"),
            ("dir/", "empty folder"),
            ("a\\b", "use /"),
            ("", "empty"),
        ] {
            let err = check(&[("Dockerfile", "FROM busybox"), (path, "x")]).expect_err(path);
            assert_eq!(err.code(), "bad_path", "{path}");
            let message = err.to_string();
            assert!(message.contains(expected), "{path}: {message}");
        }
        let err = check(&[("Dockerfile", "FROM busybox"), ("a", "x"), ("a/b", "y")])
            .expect_err("file and folder");
        assert!(err.to_string().contains("“a/b”"), "{err}");
    }

    #[test]
    fn sizes_and_counts_are_limited() {
        let limits = ContextLimits {
            max_files: 2,
            max_file_bytes: 10,
            max_total_bytes: 15,
        };
        let too_many = BuildContext::new(
            files(&[("Dockerfile", "x"), ("a", "x"), ("b", "x")]),
            &limits,
        );
        assert_eq!(
            too_many,
            Err(ContextError::TooManyFiles { count: 3, max: 2 })
        );
        let too_big =
            BuildContext::new(files(&[("Dockerfile", "12345678901")]), &limits).expect_err("file");
        assert!(too_big.is_too_large());
        assert_eq!(
            too_big.to_string(),
            "“Dockerfile” is 11 bytes; a file may be at most 10 bytes."
        );
        let total = BuildContext::new(
            files(&[("Dockerfile", "1234567890"), ("b", "123456")]),
            &limits,
        )
        .expect_err("total");
        assert_eq!(total.code(), "context_too_large");
        assert_eq!(
            check(&[("app.sh", "echo")]),
            Err(ContextError::NoDockerfile)
        );
    }

    #[test]
    fn dockerignore_rules_match_like_the_docker_cli() {
        let ignore = DockerIgnore::parse(
            "# junk\n.git\n*.log\nbuild/\n**/*.tmp\ndocs/*\n!docs/keep.md\n./.env\n",
        );
        for (path, excluded) in [
            (".git/HEAD", true),
            (".git", true),
            ("debug.log", true),
            ("app/debug.log", false),
            ("build/out/app.o", true),
            ("a/b/c.tmp", true),
            ("c.tmp", true),
            ("docs/guide.md", true),
            ("docs/keep.md", false),
            (".env", true),
            ("app.sh", false),
            ("builder.sh", false),
        ] {
            assert_eq!(ignore.excludes(path), excluded, "{path}");
        }
        let context = check(&[
            ("Dockerfile", "FROM busybox"),
            (".dockerignore", "Dockerfile\n.dockerignore\nsecret.txt\n"),
            ("secret.txt", "x"),
            ("app.sh", "echo"),
        ])
        .expect("valid");
        let bytes = context.to_tar().expect("tar");
        let mut names: Vec<String> = tar::Archive::new(bytes.as_slice())
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        names.sort();
        assert_eq!(names, [".dockerignore", "Dockerfile", "app.sh"]);
    }

    #[test]
    fn provided_files_go_in_the_tar_but_never_take_a_learners_name() {
        let context = check(&[("Dockerfile", "FROM scratch\nADD rootfs.tar /\n")]).expect("valid");
        let binary: Arc<[u8]> = Arc::from(&b"\0\x7fELF\xff"[..]);
        let with = context
            .with_provided([("rootfs.tar".to_string(), binary.clone())])
            .expect("no clash");
        assert_eq!(
            with.files(),
            context.files(),
            "the learner's files stay theirs"
        );
        assert_eq!(
            with.sources(),
            [
                ("Dockerfile", "FROM scratch\nADD rootfs.tar /\n".as_bytes()),
                ("rootfs.tar", &binary[..]),
            ]
        );
        let bytes = with.to_tar().expect("tar");
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut found = None;
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            if entry.path().expect("path").to_str() == Some("rootfs.tar") {
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut data).expect("read");
                found = Some(data);
            }
        }
        assert_eq!(found.as_deref(), Some(&binary[..]), "sent byte for byte");
        // Appending to a learner's file (the cache check's rebuild) keeps what is provided.
        let rebuilt = with
            .with_appended("Dockerfile", "CMD [\"sh\"]\n")
            .expect("has it");
        assert_eq!(rebuilt.sources().len(), 2);
        for mine in ["rootfs.tar", "rootfs.tar/inside.txt"] {
            let clash = check(&[("Dockerfile", "FROM scratch\n"), (mine, "x")])
                .expect("valid alone")
                .with_provided([("rootfs.tar".to_string(), binary.clone())]);
            assert_eq!(
                clash,
                Err(ContextError::ProvidedName {
                    path: "rootfs.tar".into()
                }),
                "{mine}"
            );
        }
        let near = check(&[("Dockerfile", "FROM scratch\n"), ("rootfs.tar.bak", "x")])
            .expect("valid")
            .with_provided([("rootfs.tar".to_string(), binary)]);
        assert!(near.is_ok(), "a longer name is another file");
    }

    #[test]
    fn the_tar_holds_every_file_with_scripts_executable() {
        let context = check(&[
            ("Dockerfile", "FROM busybox\n"),
            ("app/run.sh", "echo hi\n"),
            ("notes.txt", "#!/bin/sh\n"),
            ("data.txt", "plain"),
        ])
        .expect("valid");
        let bytes = context.to_tar().expect("tar");
        assert_eq!(bytes, context.to_tar().expect("tar"), "deterministic");
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            let path = entry.path().expect("path").display().to_string();
            let mode = entry.header().mode().expect("mode");
            seen.push((path, mode));
        }
        assert_eq!(
            seen,
            [
                ("Dockerfile".to_string(), 0o644),
                ("app/run.sh".to_string(), 0o755),
                ("data.txt".to_string(), 0o644),
                ("notes.txt".to_string(), 0o755),
            ]
        );
    }

    /// A tar as the docker CLI sends one: (path, kind, mode, bytes or link target).
    fn cli_tar(entries: &[(&str, tar::EntryType, u32, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, mode, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(*mode);
            match kind {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    header.set_size(0);
                    builder
                        .append_link(&mut header, path, std::str::from_utf8(data).unwrap())
                        .unwrap();
                }
                _ if path.starts_with('/') => {
                    // (The tar crate writes no absolute path; a hostile sender would.)
                    header.set_size(data.len() as u64);
                    header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
                    header.set_cksum();
                    builder.append(&header, *data).unwrap();
                }
                _ => {
                    header.set_size(data.len() as u64);
                    builder.append_data(&mut header, path, *data).unwrap();
                }
            }
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn a_clis_archive_becomes_a_context_with_its_bytes_and_modes() {
        use tar::EntryType::{Directory, Regular, Symlink};
        let binary: &[u8] = &[0x7f, b'E', b'L', b'F', 0xff, 0x00];
        let archive = cli_tar(&[
            ("app", Directory, 0o755, b""),
            ("app/run", Regular, 0o755, b"echo hi\n"),
            ("app/tool", Regular, 0o755, binary),
            ("Dockerfile.dev", Regular, 0o644, b"FROM busybox:latest\n"),
            ("notes.txt", Regular, 0o644, b"plain"),
        ]);
        let context =
            BuildContext::from_archive(&archive, "Dockerfile.dev", &ContextLimits::default())
                .expect("a context");
        assert_eq!(context.dockerfile(), "FROM busybox:latest\n");
        let sources: Vec<(&str, &[u8])> = context.sources();
        assert!(sources.contains(&("app/tool", binary)), "{sources:?}");
        let tar = context.to_tar().unwrap();
        let modes: Vec<(String, u32)> = tar::Archive::new(&tar[..])
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            modes,
            vec![
                ("Dockerfile".to_string(), 0o644),
                ("app/run".to_string(), 0o755),
                ("app/tool".to_string(), 0o755),
                ("notes.txt".to_string(), 0o644),
            ]
        );

        // What a build here does not take, each said.
        let refused = |archive: Vec<u8>, dockerfile: &str, limits: &ContextLimits| {
            BuildContext::from_archive(&archive, dockerfile, limits).expect_err("refused")
        };
        let small = ContextLimits {
            max_files: 2,
            max_file_bytes: 10,
            max_total_bytes: 15,
        };
        let dockerfile = ("Dockerfile", Regular, 0o644, &b"FROM x\n"[..]);
        assert_eq!(
            refused(
                cli_tar(&[dockerfile, ("link", Symlink, 0o777, b"/etc/passwd")]),
                "Dockerfile",
                &small
            )
            .code(),
            "not_a_file"
        );
        assert!(refused(
            cli_tar(&[
                dockerfile,
                ("a", Regular, 0o644, b"1"),
                ("b", Regular, 0o644, b"2")
            ]),
            "Dockerfile",
            &small
        )
        .to_string()
        .contains("at most 2"));
        assert_eq!(
            refused(
                cli_tar(&[dockerfile, ("a", Regular, 0o644, &[0u8; 11])]),
                "Dockerfile",
                &small
            )
            .code(),
            "file_too_large"
        );
        assert_eq!(
            refused(
                cli_tar(&[dockerfile, ("a", Regular, 0o644, &[0u8; 9])]),
                "Dockerfile",
                &small
            )
            .code(),
            "context_too_large"
        );
        assert_eq!(
            refused(cli_tar(&[dockerfile]), "other", &small).code(),
            "no_dockerfile"
        );
        assert_eq!(
            refused(
                cli_tar(&[("a", Regular, 0o644, b"x")]),
                "Dockerfile",
                &small
            )
            .code(),
            "no_dockerfile"
        );
        assert_eq!(
            refused(b"not a tar at all, no".repeat(40), "Dockerfile", &small).code(),
            "unreadable_context"
        );
        assert_eq!(
            refused(
                cli_tar(&[dockerfile, ("/etc/x", Regular, 0o644, b"x")]),
                "Dockerfile",
                &small
            )
            .code(),
            "bad_path"
        );
        // A second Dockerfile (the engine would build the one unpacked last), whatever its
        // bytes; a Dockerfile that is not text.
        let big = ContextLimits::default();
        for second in [&b"FROM other\n"[..], &[0xff, b'\n'][..]] {
            let said = refused(
                cli_tar(&[dockerfile, ("Dockerfile", Regular, 0o644, second)]),
                "Dockerfile",
                &big,
            );
            assert!(said.to_string().contains("twice"), "{said}");
        }
        let said = refused(
            cli_tar(&[("Dockerfile", Regular, 0o644, &[0xff, b'\n'][..])]),
            "Dockerfile",
            &big,
        );
        assert!(said.to_string().contains("must be text"), "{said}");
        // `-f other`: it becomes the Dockerfile, and a Dockerfile beside it stays out.
        let context = BuildContext::from_archive(
            &cli_tar(&[
                ("Dockerfile", Regular, 0o644, &[0xff, b'\n'][..]),
                ("other", Regular, 0o644, b"FROM busybox:latest\n"),
            ]),
            "other",
            &big,
        )
        .expect("a context");
        assert_eq!(context.sources().len(), 1, "{:?}", context.sources());
        assert_eq!(context.dockerfile(), "FROM busybox:latest\n");
    }
}
