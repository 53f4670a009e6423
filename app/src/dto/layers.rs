//! The layer explorer: for a built image, each layer with the instruction that made it and
//! the files it adds, changes and deletes, plus the bytes later layers throw away.
//!
//! The server reads these from the exported image (`docker save`); this module is only data
//! and pure helpers, so the browser can use it too.

use serde::{Deserialize, Serialize};

/// Everything the layer explorer shows about one image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerReport {
    /// The image ID (`sha256:…`).
    pub image_id: String,
    /// Layers bottom (the base) to top, in the order the Dockerfile made them.
    pub layers: Vec<LayerEntry>,
    /// Every history step, oldest first, including the ones without a layer (`ENV`, `CMD`,
    /// `LABEL`, …), each with the index of the layer it made if any.
    pub steps: Vec<HistoryStep>,
    /// Sum of the layers' [`LayerEntry::size_bytes`].
    pub total_bytes: u64,
    /// Bytes of regular files that a later layer deletes or replaces: stored in the image
    /// but never visible in a container.
    pub wasted_bytes: u64,
    /// `1 - wasted / total`, in `0.0..=1.0`; `1.0` when the image has no bytes at all.
    pub efficiency: f64,
    /// The files behind [`LayerReport::wasted_bytes`], biggest first, capped (see
    /// [`LayerReport::wasted_truncated`]).
    pub wasted: Vec<WastedFile>,
    /// How many wasted files there are in all (`wasted` may hold fewer).
    pub wasted_total: usize,
    pub wasted_truncated: bool,
}

/// One filesystem layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerEntry {
    /// Position from the bottom, starting at 0.
    pub index: usize,
    /// The layer's content digest (`sha256:…` of the uncompressed tar, the image's diff ID).
    pub digest: String,
    /// The first 12 hex digits of [`LayerEntry::digest`], the way `docker` shows IDs.
    pub id: String,
    /// The instruction that made the layer, readable: `RUN apt-get update`, `COPY file:… in /`.
    pub instruction: String,
    /// The history's `created_by` as the engine recorded it (empty when it recorded none).
    pub created_by: String,
    /// The history's comment, e.g. for imported or seeded base layers.
    pub comment: Option<String>,
    /// Bytes of the regular files this layer adds or changes.
    pub size_bytes: u64,
    /// Bytes of lower layers' files this layer deletes or replaces (waste it causes).
    pub removed_bytes: u64,
    /// The layer's changes, sorted by path. When there are more than the server's cap, the
    /// biggest are kept (see [`LayerEntry::files_truncated`]).
    pub files: Vec<LayerFile>,
    /// How many changes the layer has in all (`files` may hold fewer).
    pub files_total: usize,
    pub files_truncated: bool,
}

/// One history step of the image config, with or without a layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryStep {
    pub instruction: String,
    /// Index into [`LayerReport::layers`]; `None` for metadata-only steps.
    pub layer: Option<usize>,
}

/// What a layer does to a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileChange {
    /// The path did not exist in any lower layer.
    Added,
    /// The path existed in a lower layer and this layer writes it again (content, metadata,
    /// or a directory re-recorded because something inside it changed).
    Changed,
    /// The path existed in a lower layer and this layer removes it (a whiteout, an opaque
    /// directory, or a directory replaced by a file).
    Deleted,
}

impl FileChange {
    pub fn as_str(self) -> &'static str {
        match self {
            FileChange::Added => "added",
            FileChange::Changed => "changed",
            FileChange::Deleted => "deleted",
        }
    }
}

/// One change in a layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerFile {
    /// Absolute path in the image, e.g. `/etc/passwd`; no trailing slash.
    pub path: String,
    pub kind: FileChange,
    /// For added or changed regular files, their size; for deleted ones, the size they had.
    /// Directories, links and devices: 0.
    pub size_bytes: u64,
    pub is_dir: bool,
    /// Where a symbolic or hard link points.
    pub link: Option<String>,
}

/// A file that takes space in the image although no container sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WastedFile {
    pub path: String,
    pub size_bytes: u64,
    /// The layer that stored the bytes.
    pub added_in: usize,
    /// The layer that deleted or replaced them.
    pub removed_in: usize,
}

/// One node of a layer's file tree (see [`file_tree`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// The last path component.
    pub name: String,
    /// The absolute path.
    pub path: String,
    /// What the layer does to this path; `None` for a directory that only holds listed
    /// changes (the layer's list does not name it).
    pub kind: Option<FileChange>,
    pub is_dir: bool,
    pub link: Option<String>,
    /// Bytes the layer stores here: the file's size, or for a directory the sum below it.
    /// Deleted files count 0 here.
    pub size_bytes: u64,
    /// Bytes of lower layers deleted here: a deleted file's size, or for a directory the
    /// sum below it.
    pub deleted_bytes: u64,
    /// Directories first, then by name.
    pub children: Vec<TreeNode>,
}

/// Arrange a layer's flat list of changes as a tree of top-level entries. Directories the
/// list does not name but needs (e.g. `/usr` for `/usr/bin/x`) are made up with
/// `kind: None`; a path listed twice keeps its first entry.
pub fn file_tree(files: &[LayerFile]) -> Vec<TreeNode> {
    let mut root: Vec<TreeNode> = Vec::new();
    for file in files {
        let components: Vec<&str> = file
            .path
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if components.is_empty() {
            continue;
        }
        let mut level = &mut root;
        let mut path = String::new();
        let last = components.len() - 1;
        for (depth, name) in components.iter().enumerate() {
            path.push('/');
            path.push_str(name);
            let position = match level.iter().position(|n| n.name == *name) {
                Some(p) => p,
                None => {
                    level.push(TreeNode {
                        name: (*name).to_string(),
                        path: path.clone(),
                        kind: None,
                        is_dir: true,
                        link: None,
                        size_bytes: 0,
                        deleted_bytes: 0,
                        children: Vec::new(),
                    });
                    level.len() - 1
                }
            };
            let node = &mut level[position];
            if depth == last {
                if node.kind.is_none() {
                    node.kind = Some(file.kind);
                    node.is_dir = file.is_dir || !node.children.is_empty();
                    node.link = file.link.clone();
                    if file.kind == FileChange::Deleted {
                        node.deleted_bytes = file.size_bytes;
                    } else {
                        node.size_bytes = file.size_bytes;
                    }
                }
                break;
            }
            // A path below this node: it is a directory, whatever the list said.
            node.is_dir = true;
            level = &mut node.children;
        }
    }
    finish(&mut root);
    root
}

/// Sum sizes bottom-up and sort every level.
fn finish(nodes: &mut [TreeNode]) {
    for node in nodes.iter_mut() {
        if !node.children.is_empty() {
            finish(&mut node.children);
            node.size_bytes = node
                .children
                .iter()
                .fold(node.size_bytes, |sum, c| sum.saturating_add(c.size_bytes));
            node.deleted_bytes = node.children.iter().fold(node.deleted_bytes, |sum, c| {
                sum.saturating_add(c.deleted_bytes)
            });
        }
    }
    nodes.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
}

/// `1 - wasted / total`, clamped to `0.0..=1.0`; `1.0` for an image with no bytes.
pub fn layer_efficiency(total_bytes: u64, wasted_bytes: u64) -> f64 {
    if total_bytes == 0 {
        return 1.0;
    }
    let ratio = 1.0 - wasted_bytes as f64 / total_bytes as f64;
    if ratio.is_finite() {
        ratio.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// Make a history `created_by` readable: the classic builder records metadata steps as
/// `/bin/sh -c #(nop)  ENV …` and `RUN` steps as the bare shell command (with `|N A=1 …`
/// before it when build arguments were set); BuildKit adds `# buildkit`.
pub fn clean_instruction(created_by: &str) -> String {
    let mut text = created_by.trim();
    if let Some(rest) = text.strip_suffix("# buildkit") {
        text = rest.trim_end();
    }
    // Build arguments the classic builder puts before a RUN: `|2 A=1 B=2 /bin/sh -c …`.
    let args_stripped;
    if let Some(rest) = text.strip_prefix('|') {
        let mut parts = rest.splitn(2, char::is_whitespace);
        let count = parts.next().and_then(|n| n.parse::<usize>().ok());
        if let (Some(count), Some(mut remainder)) = (count, parts.next()) {
            for _ in 0..count {
                remainder = remainder.trim_start();
                remainder = match remainder.find(char::is_whitespace) {
                    Some(end) => &remainder[end..],
                    None => "",
                };
            }
            args_stripped = remainder.trim().to_string();
            text = &args_stripped;
        }
    }
    let shell_stripped = ["/bin/sh -c ", "/bin/bash -c ", "cmd /S /C "]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix));
    let (text, from_shell) = match shell_stripped {
        Some(rest) => (rest.trim(), true),
        None => (text, false),
    };
    if let Some(rest) = text.strip_prefix("#(nop)") {
        return rest.trim().to_string();
    }
    if text.is_empty() {
        return String::new();
    }
    let first = text.split_whitespace().next().unwrap_or_default();
    let is_instruction = [
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    ]
    .contains(&first);
    if is_instruction && !from_shell {
        // BuildKit's form: `RUN /bin/sh -c apt-get update`, `COPY . /app`.
        if let Some(rest) = text.strip_prefix("RUN ") {
            let command = rest.trim_start();
            let command = ["/bin/sh -c ", "/bin/bash -c "]
                .iter()
                .find_map(|prefix| command.strip_prefix(prefix))
                .unwrap_or(command);
            return format!("RUN {}", command.trim());
        }
        return text.to_string();
    }
    format!("RUN {text}")
}

/// The first 12 hex digits of a `sha256:…` digest.
pub fn short_digest(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
    hex.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, kind: FileChange, size: u64, is_dir: bool) -> LayerFile {
        LayerFile {
            path: path.into(),
            kind,
            size_bytes: size,
            is_dir,
            link: None,
        }
    }

    #[test]
    fn layers_tree_nests_sums_and_invents_missing_directories() {
        let files = vec![
            file("/app", FileChange::Added, 0, true),
            file("/app/big.bin", FileChange::Added, 1000, false),
            file("/app/sub/small.txt", FileChange::Added, 10, false),
            file("/etc/old.conf", FileChange::Deleted, 300, false),
            file("/etc/new.conf", FileChange::Changed, 20, false),
            file("/hello", FileChange::Added, 5, false),
        ];
        let tree = file_tree(&files);
        let names: Vec<&str> = tree.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["app", "etc", "hello"], "directories first, by name");

        let app = &tree[0];
        assert_eq!(app.kind, Some(FileChange::Added));
        assert!(app.is_dir);
        assert_eq!(app.size_bytes, 1010);
        assert_eq!(app.deleted_bytes, 0);
        assert_eq!(app.children[0].name, "sub", "directories before files");
        assert_eq!(
            app.children[0].kind, None,
            "made up: the list names only its file"
        );
        assert_eq!(app.children[0].path, "/app/sub");
        assert_eq!(app.children[0].children[0].path, "/app/sub/small.txt");
        assert_eq!(app.children[1].name, "big.bin");

        let etc = &tree[1];
        assert_eq!(etc.kind, None);
        assert_eq!(etc.size_bytes, 20);
        assert_eq!(etc.deleted_bytes, 300);
        let names: Vec<&str> = etc.children.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["new.conf", "old.conf"]);

        let hello = &tree[2];
        assert!(!hello.is_dir);
        assert!(hello.children.is_empty());
        assert_eq!(hello.size_bytes, 5);
    }

    #[test]
    fn layers_tree_of_nothing_is_empty_and_odd_paths_are_tolerated() {
        assert!(file_tree(&[]).is_empty());
        let files = vec![
            file("/", FileChange::Changed, 0, true),
            file("relative/x", FileChange::Added, 1, false),
            file("/relative/x", FileChange::Deleted, 7, false),
            file("/relative/", FileChange::Changed, 0, true),
        ];
        let tree = file_tree(&files);
        assert_eq!(tree.len(), 1);
        let relative = &tree[0];
        assert_eq!(relative.path, "/relative");
        assert_eq!(
            relative.kind,
            Some(FileChange::Changed),
            "named later: kept"
        );
        assert_eq!(
            relative.children.len(),
            1,
            "a path listed twice keeps the first"
        );
        assert_eq!(relative.children[0].kind, Some(FileChange::Added));
        assert_eq!(relative.size_bytes, 1);
        assert_eq!(relative.deleted_bytes, 0);
    }

    #[test]
    fn layers_tree_treats_a_listed_file_with_children_as_a_directory() {
        let files = vec![
            file("/a/b", FileChange::Added, 3, false),
            file("/a", FileChange::Deleted, 0, false),
        ];
        let tree = file_tree(&files);
        assert!(tree[0].is_dir);
        assert_eq!(tree[0].kind, Some(FileChange::Deleted));
        assert_eq!(tree[0].size_bytes, 3);
    }

    #[test]
    fn layers_efficiency_never_divides_by_zero() {
        assert_eq!(layer_efficiency(0, 0), 1.0);
        assert_eq!(layer_efficiency(0, 5), 1.0);
        assert_eq!(layer_efficiency(100, 0), 1.0);
        assert_eq!(layer_efficiency(100, 25), 0.75);
        assert_eq!(layer_efficiency(100, 500), 0.0);
    }

    #[test]
    fn layers_instructions_are_cleaned() {
        assert_eq!(
            clean_instruction("/bin/sh -c #(nop)  ENV GREETING=hello"),
            "ENV GREETING=hello"
        );
        assert_eq!(
            clean_instruction("/bin/sh -c #(nop) COPY file:abc in /app/ "),
            "COPY file:abc in /app/"
        );
        assert_eq!(
            clean_instruction("/bin/sh -c dd if=/dev/zero of=/big bs=1k count=1024"),
            "RUN dd if=/dev/zero of=/big bs=1k count=1024"
        );
        assert_eq!(
            clean_instruction("|2 A=1 B=two /bin/sh -c echo $A $B"),
            "RUN echo $A $B"
        );
        assert_eq!(
            clean_instruction("RUN /bin/sh -c apt-get update # buildkit"),
            "RUN apt-get update"
        );
        assert_eq!(clean_instruction("COPY . /app # buildkit"), "COPY . /app");
        assert_eq!(clean_instruction("echo hi"), "RUN echo hi");
        assert_eq!(clean_instruction(""), "");
        assert_eq!(clean_instruction("   "), "");
    }

    #[test]
    fn layers_short_digest_takes_twelve_hex_digits() {
        assert_eq!(short_digest("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_digest("abc"), "abc");
    }

    #[test]
    fn layers_report_round_trips_through_json() {
        let report = LayerReport {
            image_id: "sha256:1".into(),
            layers: vec![LayerEntry {
                index: 0,
                digest: "sha256:ab".into(),
                id: "ab".into(),
                instruction: "COPY a /".into(),
                created_by: "/bin/sh -c #(nop) COPY a /".into(),
                comment: None,
                size_bytes: 1,
                removed_bytes: 0,
                files: vec![file("/a", FileChange::Added, 1, false)],
                files_total: 1,
                files_truncated: false,
            }],
            steps: vec![HistoryStep {
                instruction: "COPY a /".into(),
                layer: Some(0),
            }],
            total_bytes: 1,
            wasted_bytes: 0,
            efficiency: 1.0,
            wasted: Vec::new(),
            wasted_total: 0,
            wasted_truncated: false,
        };
        let json = serde_json::to_string(&report).expect("serialises");
        assert!(json.contains("\"kind\":\"added\""), "{json}");
        let back: LayerReport = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, report);
    }
}
