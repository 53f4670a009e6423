//! The layer explorer against the real Docker engine: images built here with the docker CLI
//! (classic builder) are exported and read back. Needs the engine and `busybox:latest`
//! (`./x test` seeds it). Every image made here is removed again, even when a test fails.

use app::dto::{FileChange, LayerEntry, LayerReport};
use layerlab_server::engine::layers::{explore, LayerLimits, LayersError};
use layerlab_server::engine::Engine;
use std::process::Command;

/// A tag no other run uses.
fn unique_tag(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("layerlab-test/layers:{name}-{}-{nanos}", std::process::id())
}

/// Removes the image (and the classic builder's untagged parents) when dropped.
struct ImageGuard(String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.0])
            .output();
    }
}

/// Build `files` (a `Dockerfile` among them) with the classic builder as `tag`.
fn build(tag: &str, files: &[(&str, &str)]) -> ImageGuard {
    let guard = ImageGuard(tag.to_string());
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write context file");
    }
    let out = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--force-rm", "-q", "-t", tag])
        .arg(dir.path())
        .output()
        .expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "docker build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    guard
}

async fn client() -> layerlab_server::engine::Client {
    Engine::new(None)
        .client()
        .await
        .unwrap_or_else(|e| panic!("these tests need the Docker engine: {e}"))
}

async fn report_for(tag: &str) -> LayerReport {
    explore(&client().await, tag, &LayerLimits::default())
        .await
        .unwrap_or_else(|e| panic!("exploring {tag}: {e}"))
}

fn file<'a>(layer: &'a LayerEntry, path: &str) -> &'a app::dto::LayerFile {
    layer
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} is not in layer {}: {:#?}", layer.index, layer.files))
}

fn inspect_layers(tag: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{range .RootFS.Layers}}{{println .}}{{end}}",
            tag,
        ])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

const NOTE: &str = "a small note\n";
const OVERWRITE: &str = "overwritten, longer than the note was\n";

#[tokio::test]
async fn layers_of_a_busybox_image_show_files_instructions_and_waste() {
    let tag = unique_tag("waste");
    let dockerfile = format!(
        "FROM busybox:latest\n\
         RUN dd if=/dev/zero of=/big.bin bs=1024 count=1024\n\
         ENV STAGE=two\n\
         RUN rm /big.bin\n\
         COPY note.txt /app/note.txt\n\
         RUN printf '{}' > /app/note.txt\n\
         LABEL org.layerlab.test=\"{tag}\"\n",
        OVERWRITE.trim_end()
    );
    let _guard = build(&tag, &[("Dockerfile", &dockerfile), ("note.txt", NOTE)]);
    let base_layers = inspect_layers("busybox:latest").len();
    let report = report_for(&tag).await;

    // Layers: the base's, then four (ENV and LABEL make none).
    let digests: Vec<String> = report.layers.iter().map(|l| l.digest.clone()).collect();
    assert_eq!(
        digests,
        inspect_layers(&tag),
        "layers as the engine lists them"
    );
    assert_eq!(report.layers.len(), base_layers + 4);
    let [dd, rm, copy, overwrite] = &report.layers[base_layers..] else {
        panic!("four layers on top of the base");
    };
    for (i, layer) in report.layers.iter().enumerate() {
        assert_eq!(layer.index, i);
        assert_eq!(layer.id, layer.digest["sha256:".len()..][..12]);
    }

    assert_eq!(
        dd.instruction,
        "RUN dd if=/dev/zero of=/big.bin bs=1024 count=1024"
    );
    let big = file(dd, "/big.bin");
    assert_eq!(
        (big.kind, big.size_bytes, big.is_dir),
        (FileChange::Added, 1 << 20, false)
    );
    assert!(dd.size_bytes >= 1 << 20);

    assert_eq!(rm.instruction, "RUN rm /big.bin");
    let gone = file(rm, "/big.bin");
    assert_eq!((gone.kind, gone.size_bytes), (FileChange::Deleted, 1 << 20));
    assert_eq!(rm.size_bytes, 0);
    assert_eq!(rm.removed_bytes, 1 << 20);

    assert!(
        copy.instruction.starts_with("COPY file:")
            && copy.instruction.ends_with(" in /app/note.txt"),
        "{}",
        copy.instruction
    );
    let files: Vec<(&str, FileChange, u64, bool)> = copy
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.kind, f.size_bytes, f.is_dir))
        .collect();
    assert_eq!(
        files,
        [
            ("/app", FileChange::Added, 0, true),
            ("/app/note.txt", FileChange::Added, NOTE.len() as u64, false),
        ]
    );
    assert_eq!(copy.size_bytes, NOTE.len() as u64);

    assert!(
        overwrite.instruction.starts_with("RUN printf 'overwritten"),
        "{}",
        overwrite.instruction
    );
    let note = file(overwrite, "/app/note.txt");
    let written = OVERWRITE.trim_end().len() as u64;
    assert_eq!((note.kind, note.size_bytes), (FileChange::Changed, written));
    assert_eq!(file(overwrite, "/app").kind, FileChange::Changed);

    // Waste: the deleted megabyte and the overwritten note, biggest first.
    let waste: Vec<(&str, u64, usize, usize)> = report
        .wasted
        .iter()
        .map(|w| (w.path.as_str(), w.size_bytes, w.added_in, w.removed_in))
        .collect();
    assert_eq!(
        waste,
        [
            ("/big.bin", 1 << 20, dd.index, rm.index),
            (
                "/app/note.txt",
                NOTE.len() as u64,
                copy.index,
                overwrite.index
            ),
        ]
    );
    assert_eq!(report.wasted_bytes, (1 << 20) + NOTE.len() as u64);
    let total: u64 = report.layers.iter().map(|l| l.size_bytes).sum();
    assert_eq!(report.total_bytes, total);
    let expected = 1.0 - report.wasted_bytes as f64 / report.total_bytes as f64;
    assert!((report.efficiency - expected).abs() < 1e-12);
    assert!(
        report.efficiency > 0.0 && report.efficiency < 1.0,
        "{}",
        report.efficiency
    );

    // Metadata steps are listed without a layer.
    let env = report
        .steps
        .iter()
        .find(|s| s.instruction == "ENV STAGE=two")
        .expect("the ENV step");
    assert_eq!(env.layer, None);
    let label = report
        .steps
        .iter()
        .find(|s| s.instruction.starts_with("LABEL org.layerlab.test="))
        .expect("the LABEL step");
    assert_eq!(label.layer, None);
    let with_layers: Vec<Option<usize>> = report
        .steps
        .iter()
        .filter_map(|s| s.layer.map(Some))
        .collect();
    assert_eq!(with_layers.len(), report.layers.len());

    let id = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &tag])
        .output()
        .expect("inspect");
    assert_eq!(report.image_id, String::from_utf8_lossy(&id.stdout).trim());
}

#[tokio::test]
async fn layers_of_scratch_images_have_sane_numbers() {
    let tag = unique_tag("scratch");
    let _guard = build(
        &tag,
        &[
            ("Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n"),
            ("hello.txt", "hello\n"),
        ],
    );
    let report = report_for(&tag).await;
    assert_eq!(report.layers.len(), 1);
    let layer = &report.layers[0];
    assert_eq!(layer.files.len(), 1, "{:#?}", layer.files);
    assert_eq!(layer.files[0].path, "/hello.txt");
    assert_eq!(layer.files[0].kind, FileChange::Added);
    assert_eq!(layer.size_bytes, 6);
    assert_eq!(report.total_bytes, 6);
    assert_eq!(report.wasted_bytes, 0);
    assert!(report.wasted.is_empty());
    assert_eq!(report.efficiency, 1.0);

    // Nothing but an empty file: no bytes at all, and no division by zero.
    let empty_tag = unique_tag("scratch-empty");
    let _empty_guard = build(
        &empty_tag,
        &[
            ("Dockerfile", "FROM scratch\nCOPY empty /empty\n"),
            ("empty", ""),
        ],
    );
    let report = report_for(&empty_tag).await;
    assert_eq!(report.layers.len(), 1);
    assert_eq!(report.total_bytes, 0);
    assert_eq!(report.efficiency, 1.0);
    assert!(!report.efficiency.is_nan());
}

#[tokio::test]
async fn layers_of_a_missing_image_or_one_too_big_are_refused() {
    let docker = client().await;
    let missing = unique_tag("missing");
    let err = explore(&docker, &missing, &LayerLimits::default())
        .await
        .expect_err("no such image");
    assert!(
        matches!(err, LayersError::NotFound(ref name) if *name == missing),
        "{err}"
    );

    let limits = LayerLimits {
        max_export_bytes: 1000,
        ..LayerLimits::default()
    };
    let err = explore(&docker, "busybox:latest", &limits)
        .await
        .expect_err("too big");
    assert!(
        matches!(err, LayersError::TooLarge { limit: 1000 }),
        "{err}"
    );

    // Just above the image's size passes the first check; the export (tar headers and
    // padding, config, manifest) is bigger, so the stream is cut off while it is read.
    let size = docker
        .image_size("busybox:latest")
        .await
        .expect("busybox:latest is on the engine, with a size");
    let limits = LayerLimits {
        max_export_bytes: size + 1,
        ..LayerLimits::default()
    };
    let err = explore(&docker, "busybox:latest", &limits)
        .await
        .expect_err("the export is bigger than the image");
    assert!(matches!(err, LayersError::TooLarge { .. }), "{err}");
}
