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
    /// read-only, not the learner's, never stored with an attempt.
    provided: BTreeMap<String, Arc<[u8]>>,
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
        })
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
            let executable = path.ends_with(".sh") || content.starts_with(b"#!");
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
}
