//! The layer explorer's engine part: what each layer of an image adds, changes and deletes,
//! read from the image as `docker save` exports it, and how many bytes later layers hide.
//!
//! The export is read as a stream, once, and never held in memory or on disk: the engine's
//! chunks go through a small channel to a blocking task that walks the outer tar and, inside
//! it, each layer's tar, keeping only every layer's list of entries. The image's files are
//! not kept. The manifest comes last in the legacy format, so the layers are matched to it
//! (and to the config's history) once the whole export has gone by.
//!
//! Both export formats are understood: the legacy one Docker 20.10 writes
//! (`manifest.json` → `<id>/layer.tar`, config `<hex>.json`, identical layers as symlinks)
//! and the OCI layout newer engines write (`index.json`, `blobs/sha256/…`, usually with a
//! `manifest.json` too). Layer blobs may be gzip-compressed there (engines that keep images
//! in containerd export the registry's compressed blobs); zstd is reported as unsupported.

use super::Client;
use app::dto::{
    clean_instruction, layer_efficiency, short_digest, FileChange, HistoryStep, LayerEntry,
    LayerFile, LayerReport, WastedFile,
};
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};

/// How much of an image the explorer reads and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerLimits {
    /// At most this many changes listed per layer (the biggest are kept).
    pub max_files_per_layer: usize,
    /// Give up when the export is bigger than this.
    pub max_export_bytes: u64,
    /// At most this many entries in [`LayerReport::wasted`] (the biggest are kept).
    pub max_wasted_files: usize,
    /// Give up when the layers hold more tar entries than this in all: every entry's path is
    /// kept while reading, so this bounds memory for images made of countless tiny files.
    pub max_entries: usize,
    /// Give up when the paths of all those entries add up to more bytes than this (long
    /// names cost memory too, and empty files cost the image nothing).
    pub max_path_bytes: usize,
}

impl Default for LayerLimits {
    fn default() -> Self {
        LayerLimits {
            max_files_per_layer: 2000,
            max_export_bytes: 2 << 30,
            max_wasted_files: 200,
            max_entries: 1_000_000,
            max_path_bytes: 64 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LayersError {
    #[error("there is no image {0}")]
    NotFound(String),
    #[error("the image is bigger than the {limit}-byte limit for exploring layers")]
    TooLarge { limit: u64 },
    #[error("the image has more than {limit} files in its layers, too many to explore")]
    TooManyFiles { limit: usize },
    #[error(
        "the paths in the image's layers add up to more than {limit} bytes, too many to explore"
    )]
    PathsTooLong { limit: usize },
    #[error("the Docker engine failed: {0}")]
    Engine(String),
    #[error("the exported image cannot be read: {0}")]
    Format(String),
    #[error("reading the exported image failed: {0}")]
    Io(#[from] io::Error),
    #[error("the export reader stopped: {0}")]
    Task(String),
}

/// How many export chunks may wait for the reader; chunks are a few KiB to a few hundred.
const CHANNEL_CHUNKS: usize = 16;

/// JSON files (manifest, index, config) bigger than this are skipped.
const MAX_JSON_BYTES: u64 = 16 << 20;

/// Export `image` from the engine and read its layers.
pub async fn explore(
    client: &Client,
    image: &str,
    limits: &LayerLimits,
) -> Result<LayerReport, LayersError> {
    explore_finding(client, image, limits, &[])
        .await
        .map(|(report, _)| report)
}

/// Where a searched text was found: a file of one layer that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextFound {
    /// Which of the searched texts (its index in the list given).
    pub text: usize,
    /// The layer that holds the file, 1 for the bottom (base) layer.
    pub layer: usize,
    /// Absolute: `/app/token.txt`.
    pub path: String,
}

/// At most this many texts are searched in one read of the layers.
pub const MAX_TEXTS: usize = 32;

/// [`explore`], also reading every regular file of every layer for `texts` (at most
/// [`MAX_TEXTS`], each non-empty): a file a later layer deletes is still found, in the layer
/// that added it. Compressed files are not opened.
pub async fn explore_finding(
    client: &Client,
    image: &str,
    limits: &LayerLimits,
    texts: &[String],
) -> Result<(LayerReport, Vec<TextFound>), LayersError> {
    let docker = &client.docker;
    let inspect = docker.inspect_image(image).await.map_err(|e| match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        } => LayersError::NotFound(image.to_string()),
        e => LayersError::Engine(e.to_string()),
    })?;
    let id = inspect
        .id
        .ok_or_else(|| LayersError::Format(format!("the engine gave no ID for {image}")))?;
    // The uncompressed size of the layers: the export is a little bigger (tar headers), so
    // this only saves downloading what is certainly too big; the stream is counted too.
    if inspect
        .size
        .and_then(|s| u64::try_from(s).ok())
        .is_some_and(|size| size > limits.max_export_bytes)
    {
        return Err(LayersError::TooLarge {
            limit: limits.max_export_bytes,
        });
    }

    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let reader_limits = limits.clone();
    let reader_texts = texts.to_vec();
    let reader = tokio::task::spawn_blocking(move || {
        read_export_finding(
            ChannelReader {
                rx,
                current: Bytes::new(),
            },
            &reader_limits,
            &reader_texts,
        )
    });
    // Exported by ID, so a tag moved meanwhile cannot mix two images.
    let mut stream = docker.export_image(&id);
    let mut received: u64 = 0;
    let mut feed_error = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                received = received.saturating_add(bytes.len() as u64);
                if received > limits.max_export_bytes {
                    feed_error = Some(LayersError::TooLarge {
                        limit: limits.max_export_bytes,
                    });
                    break;
                }
                if tx.send(bytes).await.is_err() {
                    // The reader is done (the archive ended, or it failed and says why).
                    break;
                }
            }
            Err(e) => {
                feed_error = Some(LayersError::Engine(e.to_string()));
                break;
            }
        }
    }
    // The reader sees the end of the stream and finishes.
    drop(tx);
    drop(stream);
    let read = reader.await.map_err(|e| LayersError::Task(e.to_string()))?;
    if let Some(e) = feed_error {
        return Err(e);
    }
    let (mut report, found) = read?;
    report.image_id = id;
    Ok((report, found))
}

/// The export stream as a blocking reader, for the tar crate.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(bytes) => self.current = bytes,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// Read a `docker save` archive (either format) from `export`, front to back, once.
/// [`LayerReport::image_id`] is the config's digest. `max_export_bytes` is not checked here
/// ([`explore`] counts the stream).
pub fn read_export<R: Read>(export: R, limits: &LayerLimits) -> Result<LayerReport, LayersError> {
    read_export_finding(export, limits, &[]).map(|(report, _)| report)
}

/// [`read_export`], also searching every regular file for `texts` (see [`explore_finding`]).
pub fn read_export_finding<R: Read>(
    export: R,
    limits: &LayerLimits,
    texts: &[String],
) -> Result<(LayerReport, Vec<TextFound>), LayersError> {
    if texts.len() > MAX_TEXTS || texts.iter().any(String::is_empty) {
        return Err(LayersError::Format(format!(
            "at most {MAX_TEXTS} non-empty texts can be searched at once"
        )));
    }
    let search = TextSearch::new(texts);
    let scan = scan_export(export, limits, &search)?;
    let (config_path, layer_paths) = scan.resolve_manifest()?;
    let config_bytes = scan
        .json
        .get(&config_path)
        .ok_or_else(|| LayersError::Format(format!("the image config {config_path} is missing")))?;
    let config: ImageConfig = serde_json::from_slice(config_bytes)
        .map_err(|e| LayersError::Format(format!("the image config is not valid: {e}")))?;
    let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();

    let mut inputs = Vec::with_capacity(layer_paths.len());
    let mut found = Vec::new();
    for (index, path) in layer_paths.iter().enumerate() {
        let entries = scan.layer(path)?;
        let digest = diff_ids
            .get(index)
            .cloned()
            .unwrap_or_else(|| digest_from_path(path));
        for entry in entries.iter().filter(|e| e.holds != 0) {
            for text in (0..texts.len()).filter(|i| entry.holds & (1 << i) != 0) {
                found.push(TextFound {
                    text,
                    layer: index + 1,
                    path: format!("/{}", entry.path),
                });
            }
        }
        inputs.push(LayerInput { digest, entries });
    }
    let mut report = analyze(&inputs, &config.history, limits);
    report.image_id = image_id_from_config_path(&config_path);
    Ok((report, found))
}

/// The texts a read of the layers looks for in every regular file.
struct TextSearch {
    finders: Vec<memchr::memmem::Finder<'static>>,
    /// The longest text's length: a match may straddle two reads.
    longest: usize,
}

impl TextSearch {
    fn new(texts: &[String]) -> Self {
        TextSearch {
            finders: texts
                .iter()
                .map(|t| memchr::memmem::Finder::new(t.as_bytes()).into_owned())
                .collect(),
            longest: texts.iter().map(String::len).max().unwrap_or(0),
        }
    }

    /// Which texts `file` holds, as a bit set; reads until all are found or the file ends.
    fn holds(&self, file: &mut impl Read, buffer: &mut Vec<u8>) -> io::Result<u32> {
        const CHUNK: usize = 64 << 10;
        let all: u32 = if self.finders.len() >= 32 {
            u32::MAX
        } else {
            (1u32 << self.finders.len()) - 1
        };
        let overlap = self.longest.saturating_sub(1);
        buffer.resize(CHUNK + overlap, 0);
        let mut kept = 0usize;
        let mut holds = 0u32;
        loop {
            let n = file.read(&mut buffer[kept..])?;
            if n == 0 {
                return Ok(holds);
            }
            let filled = kept + n;
            for (i, finder) in self.finders.iter().enumerate() {
                if holds & (1 << i) == 0 && finder.find(&buffer[..filled]).is_some() {
                    holds |= 1 << i;
                }
            }
            if holds == all {
                return Ok(holds);
            }
            kept = overlap.min(filled);
            buffer.copy_within(filled - kept..filled, 0);
        }
    }
}

/// What the outer archive held: every layer's entries, the small JSON files, and links.
#[derive(Default)]
struct Scan {
    /// Archive path → the layer's entries, or why it could not be read (which only matters
    /// if the manifest names it).
    layers: HashMap<String, Result<Vec<RawEntry>, String>>,
    json: HashMap<String, Vec<u8>>,
    /// Archive path → the archive path it links to.
    links: HashMap<String, String>,
}

fn scan_export<R: Read>(
    export: R,
    limits: &LayerLimits,
    search: &TextSearch,
) -> Result<Scan, LayersError> {
    let mut scan = Scan::default();
    let mut budget = ReadBudget {
        entries: 0,
        path_bytes: 0,
        max_entries: limits.max_entries,
        max_path_bytes: limits.max_path_bytes,
    };
    let mut archive = tar::Archive::new(export);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = normalize(&entry.path()?.to_string_lossy());
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            if let Some(target) = entry.link_name()? {
                let target = target.to_string_lossy();
                let resolved = if kind.is_symlink() && !target.starts_with('/') {
                    normalize(&format!("{}/{target}", parent(&path)))
                } else {
                    normalize(&target)
                };
                scan.links.insert(path, resolved);
            }
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            continue;
        }
        let size = entry.size();
        let mut head = Vec::with_capacity(512);
        (&mut entry).take(512).read_to_end(&mut head)?;
        let looks_like_layer = path.ends_with("layer.tar") || path.starts_with("blobs/");
        let sniffed = sniff(&head);
        if sniffed == Sniffed::Json || (path.ends_with(".json") && !looks_like_layer) {
            if size <= MAX_JSON_BYTES {
                let mut bytes = head;
                entry.read_to_end(&mut bytes)?;
                scan.json.insert(path, bytes);
            }
            continue;
        }
        if !looks_like_layer {
            continue;
        }
        let body = io::Cursor::new(head).chain(entry);
        let parsed = match sniffed {
            Sniffed::Zstd => Err("it is zstd-compressed, which is not supported".to_string()),
            Sniffed::Gzip => read_layer(flate2::read::GzDecoder::new(body), &mut budget, search),
            Sniffed::Json | Sniffed::Tar => read_layer(body, &mut budget, search),
        };
        if budget.entries > limits.max_entries {
            return Err(LayersError::TooManyFiles {
                limit: limits.max_entries,
            });
        }
        if budget.path_bytes > limits.max_path_bytes {
            return Err(LayersError::PathsTooLong {
                limit: limits.max_path_bytes,
            });
        }
        scan.layers.insert(path, parsed);
    }
    Ok(scan)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sniffed {
    Gzip,
    Zstd,
    Json,
    /// Anything else: a tar, an empty one (all zeros), or garbage the tar reader rejects.
    Tar,
}

fn sniff(head: &[u8]) -> Sniffed {
    if head.starts_with(&[0x1f, 0x8b]) {
        return Sniffed::Gzip;
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Sniffed::Zstd;
    }
    if head.get(257..262) == Some(b"ustar".as_slice()) {
        return Sniffed::Tar;
    }
    match head.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | Some(b'[') => Sniffed::Json,
        _ => Sniffed::Tar,
    }
}

impl Scan {
    /// The config's archive path and the layers' archive paths, bottom first.
    fn resolve_manifest(&self) -> Result<(String, Vec<String>), LayersError> {
        if let Some(bytes) = self.json.get("manifest.json") {
            let manifest: Vec<LegacyManifest> = serde_json::from_slice(bytes)
                .map_err(|e| LayersError::Format(format!("manifest.json is not valid: {e}")))?;
            let first = manifest
                .into_iter()
                .next()
                .ok_or_else(|| LayersError::Format("manifest.json lists no image".into()))?;
            let layers = first.layers.iter().map(|l| normalize(l)).collect();
            return Ok((normalize(&first.config), layers));
        }
        if let Some(bytes) = self.json.get("index.json") {
            let manifest = self.find_oci_manifest(bytes, 0)?;
            let layers = manifest
                .layers
                .iter()
                .map(|l| blob_path(&l.digest))
                .collect();
            return Ok((blob_path(&manifest.config.digest), layers));
        }
        Err(LayersError::Format(
            "neither manifest.json nor index.json is in the export".into(),
        ))
    }

    /// The first image manifest an OCI index leads to whose config is in the export.
    fn find_oci_manifest(&self, index: &[u8], depth: usize) -> Result<OciManifest, LayersError> {
        let index: OciIndex = serde_json::from_slice(index)
            .map_err(|e| LayersError::Format(format!("an OCI index is not valid: {e}")))?;
        for descriptor in &index.manifests {
            let Some(bytes) = self.json.get(&blob_path(&descriptor.digest)) else {
                continue;
            };
            let is_index = descriptor.media_type.contains("index")
                || descriptor.media_type.contains("manifest.list");
            if is_index {
                if depth < 4 {
                    if let Ok(found) = self.find_oci_manifest(bytes, depth + 1) {
                        return Ok(found);
                    }
                }
                continue;
            }
            let Ok(manifest) = serde_json::from_slice::<OciManifest>(bytes) else {
                continue;
            };
            if self.json.contains_key(&blob_path(&manifest.config.digest)) {
                return Ok(manifest);
            }
        }
        Err(LayersError::Format(
            "index.json leads to no image manifest in the export".into(),
        ))
    }

    /// A layer's entries, following the links the legacy format makes for identical layers.
    fn layer(&self, path: &str) -> Result<&[RawEntry], LayersError> {
        let mut current = path.to_string();
        for _ in 0..16 {
            if let Some(found) = self.layers.get(&current) {
                return found
                    .as_deref()
                    .map_err(|why| LayersError::Format(format!("layer {path}: {why}")));
            }
            match self.links.get(&current) {
                Some(target) => current = target.clone(),
                None => break,
            }
        }
        Err(LayersError::Format(format!(
            "the layer {path} is missing from the export"
        )))
    }
}

#[derive(Deserialize)]
struct LegacyManifest {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciManifest {
    config: OciDescriptor,
    #[serde(default)]
    layers: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
}

#[derive(Deserialize)]
struct ImageConfig {
    #[serde(default)]
    rootfs: Option<RootFs>,
    #[serde(default)]
    history: Vec<ConfigHistory>,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// One entry of the config's `history`, oldest first; `empty_layer` marks the steps that
/// made no layer (the engine's history API does not say so before API 1.44-ish engines).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfigHistory {
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub empty_layer: bool,
}

/// `sha256:abc` → `blobs/sha256/abc`.
fn blob_path(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) => format!("blobs/{algorithm}/{hex}"),
        None => format!("blobs/{digest}"),
    }
}

/// A digest for a layer the config does not name: from `blobs/sha256/<hex>` or
/// `<hex>/layer.tar`.
fn digest_from_path(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("blobs/") {
        if let Some((algorithm, hex)) = rest.split_once('/') {
            return format!("{algorithm}:{hex}");
        }
    }
    let hex = path.strip_suffix("/layer.tar").unwrap_or(path);
    format!("sha256:{hex}")
}

/// `<hex>.json` (legacy) or `blobs/sha256/<hex>` (OCI) → `sha256:<hex>`.
fn image_id_from_config_path(path: &str) -> String {
    if path.starts_with("blobs/") {
        return digest_from_path(path);
    }
    format!("sha256:{}", path.strip_suffix(".json").unwrap_or(path))
}

/// One entry of a layer's tar.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RawEntry {
    /// Relative, normalised: `etc/passwd`.
    path: String,
    what: RawKind,
    size: u64,
    link: Option<String>,
    /// Which searched texts the file holds (a bit per text).
    holds: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RawKind {
    File,
    Dir,
    Symlink,
    HardLink,
    /// Devices, FIFOs.
    Other,
    /// `.wh.<name>`: `path` (the name) is deleted.
    Whiteout,
    /// `.wh..wh..opq`: everything lower layers have below `path` is deleted.
    Opaque,
}

/// What reading the layers may hold in memory, counted across layers and checked at every
/// entry: a layer of countless files is cut off as soon as it goes over, not after.
struct ReadBudget {
    entries: usize,
    path_bytes: usize,
    max_entries: usize,
    max_path_bytes: usize,
}

impl ReadBudget {
    fn spent(&self) -> bool {
        self.entries > self.max_entries || self.path_bytes > self.max_path_bytes
    }
}

fn read_layer<R: Read>(
    layer: R,
    budget: &mut ReadBudget,
    search: &TextSearch,
) -> Result<Vec<RawEntry>, String> {
    let mut archive = tar::Archive::new(layer);
    let mut entries = Vec::new();
    let mut buffer = Vec::new();
    let describe = |e: io::Error| format!("it is not a readable tar: {e}");
    for entry in archive.entries().map_err(describe)? {
        let mut entry = entry.map_err(describe)?;
        let path = normalize(&entry.path().map_err(describe)?.to_string_lossy());
        budget.entries += 1;
        budget.path_bytes += path.len();
        if budget.spent() {
            // The caller sees the budget spent and says which limit.
            return Err("it holds more than the explorer reads".into());
        }
        if path.is_empty() {
            continue;
        }
        let (dir, name) = match path.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None => ("", path.as_str()),
        };
        if name == ".wh..wh..opq" {
            entries.push(RawEntry {
                path: dir.to_string(),
                what: RawKind::Opaque,
                size: 0,
                link: None,
                holds: 0,
            });
            continue;
        }
        if name.starts_with(".wh..wh.") {
            // aufs bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`), not the image's files.
            continue;
        }
        if let Some(deleted) = name.strip_prefix(".wh.") {
            let path = if dir.is_empty() {
                deleted.to_string()
            } else {
                format!("{dir}/{deleted}")
            };
            entries.push(RawEntry {
                path,
                what: RawKind::Whiteout,
                size: 0,
                link: None,
                holds: 0,
            });
            continue;
        }
        let header = entry.header();
        let kind = header.entry_type();
        let what = if kind.is_dir() {
            RawKind::Dir
        } else if kind.is_symlink() {
            RawKind::Symlink
        } else if kind.is_hard_link() {
            RawKind::HardLink
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            RawKind::File
        } else {
            RawKind::Other
        };
        let link = match what {
            RawKind::Symlink => entry
                .link_name()
                .map_err(describe)?
                .map(|l| l.to_string_lossy().into_owned()),
            // Hard links name a path in the same archive.
            RawKind::HardLink => entry
                .link_name()
                .map_err(describe)?
                .map(|l| format!("/{}", normalize(&l.to_string_lossy()))),
            _ => None,
        };
        let size = if what == RawKind::File {
            entry.size()
        } else {
            0
        };
        let holds = if what == RawKind::File && size > 0 && !search.finders.is_empty() {
            search.holds(&mut entry, &mut buffer).map_err(describe)?
        } else {
            0
        };
        entries.push(RawEntry {
            path,
            what,
            size,
            link,
            holds,
        });
    }
    Ok(entries)
}

/// `./a//b/../c/` → `a/c`: relative, no empty or `.` parts, `..` applied.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

struct LayerInput<'a> {
    digest: String,
    entries: &'a [RawEntry],
}

/// What a path is after the layers applied so far.
#[derive(Clone, Copy, Debug)]
struct Present {
    size: u64,
    is_dir: bool,
    regular: bool,
    layer: usize,
}

/// Take `path`'s descendants (and `path` itself when `itself`) out of `state` into `into`.
fn take_below(
    state: &mut BTreeMap<String, Present>,
    path: &str,
    itself: bool,
    into: &mut BTreeMap<String, Present>,
) {
    if itself {
        if let Some(found) = state.remove(path) {
            into.insert(path.to_string(), found);
        }
    }
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    };
    let below: Vec<String> = state
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
        .map(|(p, _)| p.clone())
        .collect();
    for p in below {
        if let Some(found) = state.remove(&p) {
            into.insert(p, found);
        }
    }
}

/// Apply the layers in order and report each one's changes and the waste.
fn analyze(
    inputs: &[LayerInput<'_>],
    history: &[ConfigHistory],
    limits: &LayerLimits,
) -> LayerReport {
    // Pair history steps with layers: the steps not marked empty made the layers, in order.
    let mut steps = Vec::with_capacity(history.len());
    let mut layer_steps: Vec<Option<&ConfigHistory>> = vec![None; inputs.len()];
    let mut next_layer = 0usize;
    for step in history {
        let instruction = instruction_of(step);
        let layer = if !step.empty_layer && next_layer < inputs.len() {
            layer_steps[next_layer] = Some(step);
            next_layer += 1;
            Some(next_layer - 1)
        } else {
            None
        };
        steps.push(HistoryStep { instruction, layer });
    }

    let mut state: BTreeMap<String, Present> = BTreeMap::new();
    let mut wasted: Vec<WastedFile> = Vec::new();
    let mut layers = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.iter().enumerate() {
        // Later entries for the same path win, as when the tar is extracted.
        let mut added: BTreeMap<&str, &RawEntry> = BTreeMap::new();
        let mut removed: BTreeMap<String, Present> = BTreeMap::new();
        let mut orphan_whiteouts: Vec<&str> = Vec::new();
        // Whiteouts and opaque directories act on the lower layers only.
        for entry in input.entries {
            match entry.what {
                RawKind::Whiteout => {
                    let before = removed.len();
                    take_below(&mut state, &entry.path, true, &mut removed);
                    if removed.len() == before && !removed.contains_key(&entry.path) {
                        orphan_whiteouts.push(&entry.path);
                    }
                }
                RawKind::Opaque => take_below(&mut state, &entry.path, false, &mut removed),
                _ => {
                    added.insert(&entry.path, entry);
                }
            }
        }
        // A directory replaced by anything else loses what was below it.
        for (path, entry) in &added {
            if entry.what != RawKind::Dir && state.get(*path).is_some_and(|p| p.is_dir) {
                take_below(&mut state, path, false, &mut removed);
            }
        }

        let mut files = Vec::with_capacity(added.len() + removed.len());
        let mut size_bytes = 0u64;
        let mut removed_bytes = 0u64;
        for (path, entry) in &added {
            let lower = removed.remove(*path).or_else(|| state.get(*path).copied());
            if let Some(lower) = lower {
                if lower.regular && lower.size > 0 {
                    removed_bytes = removed_bytes.saturating_add(lower.size);
                    wasted.push(WastedFile {
                        path: format!("/{path}"),
                        size_bytes: lower.size,
                        added_in: lower.layer,
                        removed_in: index,
                    });
                }
            }
            size_bytes = size_bytes.saturating_add(entry.size);
            files.push(LayerFile {
                path: format!("/{path}"),
                kind: if lower.is_some() {
                    FileChange::Changed
                } else {
                    FileChange::Added
                },
                size_bytes: entry.size,
                is_dir: entry.what == RawKind::Dir,
                link: entry.link.clone(),
            });
            state.insert(
                (*path).to_string(),
                Present {
                    size: entry.size,
                    is_dir: entry.what == RawKind::Dir,
                    regular: entry.what == RawKind::File,
                    layer: index,
                },
            );
        }
        for (path, lower) in removed {
            let size = if lower.regular { lower.size } else { 0 };
            if size > 0 {
                removed_bytes = removed_bytes.saturating_add(size);
                wasted.push(WastedFile {
                    path: format!("/{path}"),
                    size_bytes: size,
                    added_in: lower.layer,
                    removed_in: index,
                });
            }
            files.push(LayerFile {
                path: format!("/{path}"),
                kind: FileChange::Deleted,
                size_bytes: size,
                is_dir: lower.is_dir,
                link: None,
            });
        }
        for path in orphan_whiteouts {
            if !added.contains_key(path) {
                files.push(LayerFile {
                    path: format!("/{path}"),
                    kind: FileChange::Deleted,
                    size_bytes: 0,
                    is_dir: false,
                    link: None,
                });
            }
        }

        let files_total = files.len();
        let files_truncated = files_total > limits.max_files_per_layer;
        if files_truncated {
            files.sort_by(|a, b| {
                b.size_bytes
                    .cmp(&a.size_bytes)
                    .then_with(|| a.path.cmp(&b.path))
            });
            files.truncate(limits.max_files_per_layer);
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));

        let step = layer_steps[index];
        let created_by = step.and_then(|s| s.created_by.clone()).unwrap_or_default();
        layers.push(LayerEntry {
            index,
            digest: input.digest.clone(),
            id: short_digest(&input.digest),
            instruction: step.map(instruction_of).unwrap_or_default(),
            created_by,
            comment: step
                .and_then(|s| s.comment.clone())
                .filter(|c| !c.is_empty()),
            size_bytes,
            removed_bytes,
            files,
            files_total,
            files_truncated,
        });
    }

    let total_bytes = layers
        .iter()
        .fold(0u64, |sum, l| sum.saturating_add(l.size_bytes));
    let wasted_bytes = wasted
        .iter()
        .fold(0u64, |sum, w| sum.saturating_add(w.size_bytes));
    wasted.sort_by(|a, b| {
        b.size_bytes
            .cmp(&a.size_bytes)
            .then_with(|| a.path.cmp(&b.path))
            .then_with(|| a.added_in.cmp(&b.added_in))
    });
    let wasted_total = wasted.len();
    let wasted_truncated = wasted_total > limits.max_wasted_files;
    wasted.truncate(limits.max_wasted_files);
    LayerReport {
        image_id: String::new(),
        layers,
        steps,
        total_bytes,
        wasted_bytes,
        efficiency: layer_efficiency(total_bytes, wasted_bytes),
        wasted,
        wasted_total,
        wasted_truncated,
    }
}

/// The readable instruction of a history step; its comment when it recorded no command
/// (imported and seeded base layers).
fn instruction_of(step: &ConfigHistory) -> String {
    let cleaned = clean_instruction(step.created_by.as_deref().unwrap_or_default());
    if cleaned.is_empty() {
        step.comment.clone().unwrap_or_default()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests;
