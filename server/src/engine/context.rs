//! A learner's files become a build context: checked against the limits and path rules, then
//! packed as an in-memory tar for the engine.

use std::collections::BTreeMap;

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
    files: BTreeMap<String, String>,
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
        Ok(BuildContext { files })
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
    pub fn to_tar(&self) -> std::io::Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in &self.files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            let executable = path.ends_with(".sh") || content.starts_with("#!");
            header.set_mode(if executable { 0o755 } else { 0o644 });
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, content.as_bytes())?;
        }
        builder.into_inner()
    }
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
