//! The layer reader on archives made here, in both formats the engine exports.
use super::*;
use std::io::Write;

/// One entry of a synthetic layer.
enum Item<'a> {
    Dir(&'a str),
    File(&'a str, usize),
    Link(&'a str, &'a str),
    Hard(&'a str, &'a str),
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(0);
    h
}

/// A layer tar as the engine writes it: `./`-less relative paths, dirs with a slash.
fn layer(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for item in items {
        match item {
            Item::Dir(path) => {
                let mut h = header(tar::EntryType::Directory, 0);
                b.append_data(&mut h, format!("{path}/"), io::empty())
                    .expect("dir");
            }
            Item::File(path, size) => {
                let mut h = header(tar::EntryType::Regular, *size as u64);
                b.append_data(&mut h, path, vec![b'x'; *size].as_slice())
                    .expect("file");
            }
            Item::Link(path, target) => {
                let mut h = header(tar::EntryType::Symlink, 0);
                b.append_link(&mut h, path, target).expect("symlink");
            }
            Item::Hard(path, target) => {
                let mut h = header(tar::EntryType::Link, 0);
                b.append_link(&mut h, path, target).expect("hard link");
            }
        }
    }
    b.into_inner().expect("layer tar")
}

/// What Docker writes for a layer with no changes: two zero blocks.
fn empty_layer() -> Vec<u8> {
    vec![0u8; 1024]
}

fn hex(n: usize) -> String {
    format!("{n:064x}")
}

fn add_file(b: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]) {
    let mut h = header(tar::EntryType::Regular, bytes.len() as u64);
    b.append_data(&mut h, path, bytes).expect("append");
}

fn config(history: &[(&str, bool)], layers: usize) -> Vec<u8> {
    let history: Vec<serde_json::Value> = history
        .iter()
        .map(|(created_by, empty)| {
            if *empty {
                serde_json::json!({"created_by": created_by, "empty_layer": true})
            } else {
                serde_json::json!({"created_by": created_by})
            }
        })
        .collect();
    let diff_ids: Vec<String> = (0..layers)
        .map(|i| format!("sha256:{}", hex(100 + i)))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "history": history,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("config JSON")
}

/// The legacy format, in Docker 20.10's order: layer directories, config, manifest.
/// `same_as[i] = Some(j)` makes layer i a symlink to layer j's tar, as Docker does for
/// identical layers.
fn legacy(layers: &[Vec<u8>], history: &[(&str, bool)], same_as: &[Option<usize>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut paths = Vec::new();
    for (i, bytes) in layers.iter().enumerate() {
        let dir = hex(i + 1);
        let mut h = header(tar::EntryType::Directory, 0);
        b.append_data(&mut h, format!("{dir}/"), io::empty())
            .expect("dir");
        add_file(&mut b, &format!("{dir}/VERSION"), b"1.0");
        add_file(&mut b, &format!("{dir}/json"), b"{\"id\":\"x\"}");
        match same_as.get(i).copied().flatten() {
            Some(j) => {
                let mut h = header(tar::EntryType::Symlink, 0);
                b.append_link(
                    &mut h,
                    format!("{dir}/layer.tar"),
                    format!("../{}/layer.tar", hex(j + 1)),
                )
                .expect("link");
            }
            None => add_file(&mut b, &format!("{dir}/layer.tar"), bytes),
        }
        paths.push(format!("{dir}/layer.tar"));
    }
    let config_name = format!("{}.json", hex(999));
    add_file(&mut b, &config_name, &config(history, layers.len()));
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["layerlab-test/x:latest"],
        "Layers": paths,
    }]);
    add_file(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("manifest"),
    );
    add_file(&mut b, "repositories", b"{}");
    b.into_inner().expect("export")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// The OCI layout newer engines write. Blobs are named by made-up digests (nothing here
/// checks them); `layer_blobs[i]` is the blob index of layer i so blobs can be shared.
fn oci(
    blobs: &[Vec<u8>],
    layer_blobs: &[usize],
    history: &[(&str, bool)],
    with_manifest_json: bool,
) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    add_file(&mut b, "oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}");
    let mut h = header(tar::EntryType::Directory, 0);
    b.append_data(&mut h, "blobs/", io::empty()).expect("dir");
    let mut h = header(tar::EntryType::Directory, 0);
    b.append_data(&mut h, "blobs/sha256/", io::empty())
        .expect("dir");
    for (i, blob) in blobs.iter().enumerate() {
        add_file(&mut b, &format!("blobs/sha256/{}", hex(i + 1)), blob);
    }
    let config_digest = format!("sha256:{}", hex(500));
    add_file(
        &mut b,
        &format!("blobs/sha256/{}", hex(500)),
        &config(history, layer_blobs.len()),
    );
    let layers: Vec<serde_json::Value> = layer_blobs
        .iter()
        .map(|i| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": format!("sha256:{}", hex(i + 1)),
                "size": blobs[*i].len(),
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": 1},
        "layers": layers,
    });
    add_file(
        &mut b,
        &format!("blobs/sha256/{}", hex(600)),
        &serde_json::to_vec(&manifest).expect("manifest"),
    );
    // A multi-platform index in front, as containerd-backed engines write.
    let inner_index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", hex(777)), "size": 1},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", hex(600)), "size": 1},
        ],
    });
    add_file(
        &mut b,
        &format!("blobs/sha256/{}", hex(700)),
        &serde_json::to_vec(&inner_index).expect("index"),
    );
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": format!("sha256:{}", hex(700)), "size": 1}],
    });
    add_file(
        &mut b,
        "index.json",
        &serde_json::to_vec(&index).expect("index"),
    );
    if with_manifest_json {
        let paths: Vec<String> = layer_blobs
            .iter()
            .map(|i| format!("blobs/sha256/{}", hex(i + 1)))
            .collect();
        let legacy = serde_json::json!([{
            "Config": format!("blobs/sha256/{}", hex(500)),
            "RepoTags": [],
            "Layers": paths,
        }]);
        add_file(
            &mut b,
            "manifest.json",
            &serde_json::to_vec(&legacy).expect("manifest"),
        );
    }
    b.into_inner().expect("export")
}

fn read(export: &[u8]) -> LayerReport {
    read_export(export, &LayerLimits::default()).expect("the export reads")
}

fn kinds(entry: &LayerEntry) -> Vec<(&str, FileChange, u64)> {
    entry
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.kind, f.size_bytes))
        .collect()
}

const HISTORY: &[(&str, bool)] = &[
    ("/bin/sh -c #(nop) ADD file:abc in / ", false),
    ("/bin/sh -c #(nop)  ENV A=b", true),
    (
        "/bin/sh -c rm -rf /big /opt/* && echo more > /etc/a.conf",
        false,
    ),
];

fn base_layer() -> Vec<u8> {
    layer(&[
        Item::Dir("etc"),
        Item::File("etc/a.conf", 100),
        Item::Dir("opt"),
        Item::File("opt/x", 50),
        Item::Dir("opt/sub"),
        Item::File("opt/sub/y", 30),
        Item::File("big", 1000),
        Item::File("keep", 10),
        Item::Link("link", "/keep"),
        Item::Hard("keep2", "keep"),
        Item::Dir("dirfile"),
        Item::File("dirfile/inner", 7),
    ])
}

fn second_layer() -> Vec<u8> {
    layer(&[
        Item::File(".wh.big", 0),
        Item::Dir("etc"),
        Item::File("etc/a.conf", 120),
        Item::Dir("opt"),
        Item::File("opt/.wh..wh..opq", 0),
        Item::File("opt/new", 5),
        Item::File("dirfile", 3),
        Item::File(".wh..wh.plnk", 0),
        Item::File(".wh.never-existed", 0),
    ])
}

fn assert_whiteouts_opaque_and_overwrites(report: &LayerReport) {
    assert_eq!(report.layers.len(), 2);
    let base = &report.layers[0];
    assert_eq!(base.instruction, "ADD file:abc in /");
    assert_eq!(base.size_bytes, 1197);
    assert_eq!(base.removed_bytes, 0);
    assert!(base.files.iter().all(|f| f.kind == FileChange::Added));
    let link = base.files.iter().find(|f| f.path == "/link").expect("link");
    assert_eq!(link.link.as_deref(), Some("/keep"));
    let hard = base
        .files
        .iter()
        .find(|f| f.path == "/keep2")
        .expect("hard");
    assert_eq!(hard.link.as_deref(), Some("/keep"));
    assert_eq!(hard.size_bytes, 0);

    let top = &report.layers[1];
    assert_eq!(
        top.instruction,
        "RUN rm -rf /big /opt/* && echo more > /etc/a.conf"
    );
    assert_eq!(
        kinds(top),
        [
            ("/big", FileChange::Deleted, 1000),
            ("/dirfile", FileChange::Changed, 3),
            ("/dirfile/inner", FileChange::Deleted, 7),
            ("/etc", FileChange::Changed, 0),
            ("/etc/a.conf", FileChange::Changed, 120),
            ("/never-existed", FileChange::Deleted, 0),
            ("/opt", FileChange::Changed, 0),
            ("/opt/new", FileChange::Added, 5),
            ("/opt/sub", FileChange::Deleted, 0),
            ("/opt/sub/y", FileChange::Deleted, 30),
            ("/opt/x", FileChange::Deleted, 50),
        ]
    );
    let dirfile = top
        .files
        .iter()
        .find(|f| f.path == "/dirfile")
        .expect("dirfile");
    assert!(!dirfile.is_dir, "a directory replaced by a file");
    assert!(top.files.iter().any(|f| f.path == "/opt/sub" && f.is_dir));
    assert_eq!(top.size_bytes, 128);
    assert_eq!(top.removed_bytes, 1187);
    assert_eq!(top.files_total, 11);
    assert!(!top.files_truncated);

    assert_eq!(report.total_bytes, 1325);
    assert_eq!(report.wasted_bytes, 1000 + 100 + 50 + 30 + 7);
    assert!((report.efficiency - (1.0 - 1187.0 / 1325.0)).abs() < 1e-12);
    let wasted: Vec<(&str, u64, usize, usize)> = report
        .wasted
        .iter()
        .map(|w| (w.path.as_str(), w.size_bytes, w.added_in, w.removed_in))
        .collect();
    assert_eq!(
        wasted,
        [
            ("/big", 1000, 0, 1),
            ("/etc/a.conf", 100, 0, 1),
            ("/opt/x", 50, 0, 1),
            ("/opt/sub/y", 30, 0, 1),
            ("/dirfile/inner", 7, 0, 1),
        ]
    );
    assert_eq!(report.wasted_total, 5);
    assert!(!report.wasted_truncated);
    assert_eq!(
        report.steps,
        [
            HistoryStep {
                instruction: "ADD file:abc in /".into(),
                layer: Some(0)
            },
            HistoryStep {
                instruction: "ENV A=b".into(),
                layer: None
            },
            HistoryStep {
                instruction: "RUN rm -rf /big /opt/* && echo more > /etc/a.conf".into(),
                layer: Some(1)
            },
        ]
    );
}

#[test]
fn legacy_export_with_whiteouts_an_opaque_dir_and_overwrites() {
    let export = legacy(&[base_layer(), second_layer()], HISTORY, &[]);
    let report = read(&export);
    assert_whiteouts_opaque_and_overwrites(&report);
    assert_eq!(report.image_id, format!("sha256:{}", hex(999)));
    assert_eq!(report.layers[0].digest, format!("sha256:{}", hex(100)));
    assert_eq!(report.layers[1].id, hex(101)[..12]);
}

#[test]
fn texts_are_found_in_the_layer_that_added_them_even_across_reads_and_after_deletion() {
    let secret = "tok_live_51c0ffee2b1d";
    // The secret straddles the 64 KiB read boundary of the search.
    let mut straddling = vec![b'.'; (64 << 10) - 5];
    straddling.extend_from_slice(secret.as_bytes());
    straddling.extend_from_slice(b"tail");
    let mut first = tar::Builder::new(Vec::new());
    add_file(
        &mut first,
        "app/token.txt",
        format!("token={secret}\n").as_bytes(),
    );
    add_file(&mut first, "app/big.bin", &straddling);
    add_file(
        &mut first,
        "app/clean.txt",
        b"nothing to see: tok_live_ alone",
    );
    let first = first.into_inner().expect("layer");
    let mut second = tar::Builder::new(Vec::new());
    add_file(&mut second, "app/.wh.token.txt", b"");
    add_file(&mut second, "etc/pantry.toml", b"name = \"pantry\"");
    let second = second.into_inner().expect("layer");
    let export = legacy(&[first, second], HISTORY, &[]);
    let texts = vec![
        secret.to_string(),
        "name = \"pantry\"".to_string(),
        "absent".into(),
    ];
    let (report, found) =
        read_export_finding(export.as_slice(), &LayerLimits::default(), &texts).expect("reads");
    assert_eq!(report.layers.len(), 2);
    let mut found: Vec<(usize, usize, &str)> = found
        .iter()
        .map(|f| (f.text, f.layer, f.path.as_str()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (0, 1, "/app/big.bin"),
            (0, 1, "/app/token.txt"),
            (1, 2, "/etc/pantry.toml")
        ]
    );
    // Nothing searched: nothing found, and the report is the same.
    let (plain, none) =
        read_export_finding(export.as_slice(), &LayerLimits::default(), &[]).expect("reads");
    assert!(none.is_empty());
    assert_eq!(plain, report);
    let refused = read_export_finding(export.as_slice(), &LayerLimits::default(), &[String::new()]);
    assert!(
        matches!(refused, Err(LayersError::Format(_))),
        "{refused:?}"
    );
}

#[test]
fn oci_export_with_gzip_layers_reads_the_same() {
    let export = oci(
        &[gzip(&base_layer()), second_layer()],
        &[0, 1],
        HISTORY,
        true,
    );
    let report = read(&export);
    assert_whiteouts_opaque_and_overwrites(&report);
    assert_eq!(report.image_id, format!("sha256:{}", hex(500)));
}

#[test]
fn oci_export_without_manifest_json_goes_through_index_json() {
    let export = oci(
        &[base_layer(), gzip(&second_layer())],
        &[0, 1],
        HISTORY,
        false,
    );
    let report = read(&export);
    assert_whiteouts_opaque_and_overwrites(&report);
}

#[test]
fn identical_layers_shared_by_a_symlink_or_one_blob_are_read_twice() {
    let history = &[
        ("/bin/sh -c #(nop) COPY file:a in / ", false),
        ("/bin/sh -c #(nop) WORKDIR /", false),
        ("/bin/sh -c #(nop) WORKDIR /", false),
    ];
    let first = layer(&[Item::File("a", 4)]);
    let legacy_export = legacy(
        &[first.clone(), empty_layer(), empty_layer()],
        history,
        &[None, None, Some(1)],
    );
    let oci_export = oci(&[first, empty_layer()], &[0, 1, 1], history, true);
    for export in [legacy_export, oci_export] {
        let report = read(&export);
        assert_eq!(report.layers.len(), 3);
        assert_eq!(kinds(&report.layers[0]), [("/a", FileChange::Added, 4)]);
        assert!(report.layers[1].files.is_empty());
        assert!(report.layers[2].files.is_empty());
        assert_eq!(report.layers[2].instruction, "WORKDIR /");
        assert_eq!(report.total_bytes, 4);
        assert_eq!(report.efficiency, 1.0);
    }
}

#[test]
fn a_scratch_image_with_one_empty_file_has_no_bytes_and_full_efficiency() {
    let history = &[("/bin/sh -c #(nop) COPY file:e in / ", false)];
    let report = read(&legacy(&[layer(&[Item::File("empty", 0)])], history, &[]));
    assert_eq!(report.layers.len(), 1);
    assert_eq!(kinds(&report.layers[0]), [("/empty", FileChange::Added, 0)]);
    assert_eq!(report.total_bytes, 0);
    assert_eq!(report.wasted_bytes, 0);
    assert_eq!(report.efficiency, 1.0);
    assert!(report.wasted.is_empty());
}

#[test]
fn an_image_without_layers_is_reported_empty() {
    let report = read(&legacy(&[], &[], &[]));
    assert!(report.layers.is_empty());
    assert_eq!(report.efficiency, 1.0);
}

#[test]
fn long_file_lists_keep_the_biggest_and_say_how_many_there_were() {
    let names: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    let items: Vec<Item<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Item::File(name, (i + 1) * 10))
        .collect();
    let export = legacy(&[layer(&items)], &[("/bin/sh -c touch f", false)], &[]);
    let limits = LayerLimits {
        max_files_per_layer: 3,
        max_wasted_files: 1,
        ..LayerLimits::default()
    };
    let report = read_export(export.as_slice(), &limits).expect("reads");
    let entry = &report.layers[0];
    assert_eq!(
        kinds(entry),
        [
            ("/f7", FileChange::Added, 80),
            ("/f8", FileChange::Added, 90),
            ("/f9", FileChange::Added, 100),
        ],
        "the three biggest, by path"
    );
    assert_eq!(entry.files_total, 10);
    assert!(entry.files_truncated);
    assert_eq!(entry.size_bytes, 550, "the size counts every file");
    assert_eq!(entry.instruction, "RUN touch f");

    let cap = LayerLimits {
        max_entries: 5,
        ..LayerLimits::default()
    };
    assert!(matches!(
        read_export(export.as_slice(), &cap),
        Err(LayersError::TooManyFiles { limit: 5 })
    ));
    let long_paths = LayerLimits {
        max_path_bytes: 15,
        ..LayerLimits::default()
    };
    assert!(matches!(
        read_export(export.as_slice(), &long_paths),
        Err(LayersError::PathsTooLong { limit: 15 })
    ));
}

#[test]
fn a_layer_of_countless_files_is_cut_off_while_it_is_read() {
    // Reading stops at the entry that goes over: what is kept never grows past the
    // budget, however many entries the layer has.
    let names: Vec<String> = (0..1000).map(|i| format!("empty-{i:04}")).collect();
    let items: Vec<Item<'_>> = names.iter().map(|n| Item::File(n, 0)).collect();
    let tar = layer(&items);
    let mut budget = ReadBudget {
        entries: 0,
        path_bytes: 0,
        max_entries: 10,
        max_path_bytes: 1 << 20,
    };
    let read = read_layer(tar.as_slice(), &mut budget, &TextSearch::new(&[]));
    assert!(read.is_err(), "the layer was read whole");
    assert_eq!(
        budget.entries, 11,
        "it stopped at the first entry over the budget"
    );
}

#[test]
fn the_wasted_list_is_capped_biggest_first() {
    let first = layer(&[Item::File("a", 5), Item::File("b", 50), Item::File("c", 20)]);
    let second = layer(&[
        Item::File(".wh.a", 0),
        Item::File(".wh.b", 0),
        Item::File(".wh.c", 0),
    ]);
    let export = legacy(
        &[first, second],
        &[("/bin/sh -c x", false), ("/bin/sh -c rm a b c", false)],
        &[],
    );
    let limits = LayerLimits {
        max_wasted_files: 2,
        ..LayerLimits::default()
    };
    let report = read_export(export.as_slice(), &limits).expect("reads");
    let paths: Vec<&str> = report.wasted.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["/b", "/c"]);
    assert_eq!(report.wasted_total, 3);
    assert!(report.wasted_truncated);
    assert_eq!(report.wasted_bytes, 75, "counted in full");
    assert_eq!(report.efficiency, 0.0);
}

#[test]
fn a_whiteout_of_a_directory_deletes_everything_below_and_a_re_added_file_is_changed() {
    let first = layer(&[
        Item::Dir("d"),
        Item::File("d/one", 1),
        Item::Dir("d/e"),
        Item::File("d/e/two", 2),
        Item::File("dx", 9),
    ]);
    let second = layer(&[Item::File(".wh.d", 0)]);
    let third = layer(&[Item::Dir("d"), Item::File("d/one", 11)]);
    let export = legacy(
        &[first, second, third],
        &[
            ("/bin/sh -c a", false),
            ("/bin/sh -c rm -r /d", false),
            ("/bin/sh -c mkdir /d && echo >/d/one", false),
        ],
        &[],
    );
    let report = read(&export);
    assert_eq!(
        kinds(&report.layers[1]),
        [
            ("/d", FileChange::Deleted, 0),
            ("/d/e", FileChange::Deleted, 0),
            ("/d/e/two", FileChange::Deleted, 2),
            ("/d/one", FileChange::Deleted, 1),
        ],
        "/dx shares the prefix but is not below /d"
    );
    assert_eq!(
        kinds(&report.layers[2]),
        [
            ("/d", FileChange::Added, 0),
            ("/d/one", FileChange::Added, 11)
        ],
        "deleted below, so added again"
    );
    assert_eq!(report.wasted_bytes, 3);
    assert_eq!(report.total_bytes, 1 + 2 + 9 + 11);
}

#[test]
fn unreadable_exports_fail_with_a_reason() {
    let zstd = vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0];
    let export = oci(&[zstd], &[0], &[("/bin/sh -c x", false)], true);
    let err = read_export(export.as_slice(), &LayerLimits::default()).expect_err("zstd");
    assert!(err.to_string().contains("zstd"), "{err}");

    let garbage = vec![7u8; 2000];
    let export = oci(&[garbage], &[0], &[("/bin/sh -c x", false)], true);
    let err = read_export(export.as_slice(), &LayerLimits::default()).expect_err("garbage");
    assert!(matches!(err, LayersError::Format(_)), "{err}");

    let mut b = tar::Builder::new(Vec::new());
    add_file(&mut b, "hello.txt", b"hi");
    let export = b.into_inner().expect("tar");
    let err = read_export(export.as_slice(), &LayerLimits::default()).expect_err("no manifest");
    assert!(err.to_string().contains("manifest.json"), "{err}");

    let err =
        read_export(&b"not a tar at all"[..], &LayerLimits::default()).expect_err("not a tar");
    assert!(
        matches!(err, LayersError::Format(_) | LayersError::Io(_)),
        "{err}"
    );
}

#[test]
fn a_missing_layer_is_named() {
    let mut export = legacy(&[layer(&[Item::File("a", 1)])], &[("x", false)], &[]);
    // Rename the layer so the manifest's path leads nowhere.
    let name = format!("{}/layer.tar", hex(1));
    let at = export
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .expect("layer name");
    export[at + name.len() - 3..at + name.len()].copy_from_slice(b"tax");
    // The header checksum covers the name: fix it.
    let block = at - at % 512;
    let mut h = tar::Header::new_old();
    h.as_mut_bytes()
        .copy_from_slice(&export[block..block + 512]);
    h.set_cksum();
    export[block..block + 512].copy_from_slice(h.as_bytes());
    let err = read_export(export.as_slice(), &LayerLimits::default()).expect_err("missing");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn paths_normalise() {
    assert_eq!(normalize("./a//b/../c/"), "a/c");
    assert_eq!(normalize("/"), "");
    assert_eq!(normalize("../x"), "x");
    assert_eq!(blob_path("sha256:ab"), "blobs/sha256/ab");
    assert_eq!(digest_from_path("blobs/sha256/ab"), "sha256:ab");
    assert_eq!(digest_from_path("ab/layer.tar"), "sha256:ab");
    assert_eq!(image_id_from_config_path("ab.json"), "sha256:ab");
}

#[test]
fn the_channel_reader_reads_across_chunks() {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.try_send(Bytes::from_static(b"hel")).expect("send");
    tx.try_send(Bytes::new()).expect("send");
    tx.try_send(Bytes::from_static(b"lo")).expect("send");
    drop(tx);
    let mut reader = ChannelReader {
        rx,
        current: Bytes::new(),
    };
    let mut out = String::new();
    reader.read_to_string(&mut out).expect("read");
    assert_eq!(out, "hello");
}
