//! Builds: the same build context built through layerlab's public API (a real server
//! process) and through the docker CLI, cold and cached, alternating, on the same engine.
//! Each pair gives a ratio layerlab ÷ CLI.
//!
//! - **cold**: a nonce on the second line makes every step after `FROM` miss the cache.
//! - **cached**: the same context again; every step hits the cache.
//! - API time is `POST /api/v1/builds` until the `status` event that follows the image's
//!   inspection (size, layers, history are ready); CLI time is `docker build` until it exits.
//!   Both build with the classic builder, the same memory/CPU limits, no network and the two
//!   labels layerlab puts on learner images (which the builder runs as steps).
//! - "build + run" adds running the image: the API's `done` vs `docker build` + `docker run --rm`.

use crate::api::Learner;
use crate::support::{ServerProcess, TestDb, LOCAL_ENGINE};
use crate::table::{Figure, Goal};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUNS: usize = 5;
const LABEL: &str = "org.layerlab.attempt";
const INSTANCE_LABEL: &str = "org.layerlab.instance";

fn dockerfile(nonce: &str) -> String {
    format!(
        "FROM busybox:latest\n\
         RUN echo {nonce} > /nonce\n\
         WORKDIR /app\n\
         COPY . .\n\
         RUN for i in $(seq 1 300); do echo \"line $i of the benchmark\"; done > lines.txt && wc -l lines.txt\n\
         RUN sha256sum lines.txt data.txt > sums.txt\n\
         ENV MODE=bench\n\
         CMD [\"sh\", \"-c\", \"cat sums.txt\"]\n"
    )
}

fn files(nonce: &str) -> Vec<(String, String)> {
    vec![
        ("Dockerfile".into(), dockerfile(nonce)),
        ("app.sh".into(), "#!/bin/sh\necho \"mode $MODE\"\n".into()),
        (
            "data.txt".into(),
            (0..800)
                .map(|i| format!("row {i}: some data for the layer\n"))
                .collect(),
        ),
    ]
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Build with the CLI; returns (build, build + run).
fn cli_build(dir: &std::path::Path, nonce: &str, label: &str) -> (Duration, Duration) {
    // The classic builder's COPY cache key includes file times: rewrite only what changed.
    for (path, content) in files(nonce) {
        let path = dir.join(path);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            std::fs::write(path, content).expect("write context");
        }
    }
    cli_build_context(dir, "layerlab-bench-cli:latest", label)
}

/// `docker build` then `docker run` of the context in `dir`, with the limits and the two
/// labels layerlab's builds carry (the builder runs them as a step); returns (build,
/// build + run).
pub fn cli_build_context(dir: &std::path::Path, tag: &str, label: &str) -> (Duration, Duration) {
    let label_arg = format!("{LABEL}={label}");
    let instance_arg = format!("{INSTANCE_LABEL}=cli-bench");
    let started = Instant::now();
    docker(&[
        "build",
        "-q",
        "--rm",
        "--force-rm",
        "--memory=512m",
        "--memory-swap=512m",
        "--cpu-period=100000",
        "--cpu-quota=100000",
        "--network=none",
        "--label",
        &label_arg,
        "--label",
        &instance_arg,
        "-t",
        tag,
        &dir.display().to_string(),
    ]);
    let built = started.elapsed();
    docker(&[
        "run",
        "--rm",
        "--network=none",
        "--memory=128m",
        "--memory-swap=128m",
        "--pids-limit=64",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        "--read-only",
        tag,
    ]);
    (built, started.elapsed())
}

/// Build through the API; returns (until the image facts, until done) and the image's
/// learner label.
async fn api_build(learner: &mut Learner, nonce: &str) -> (Duration, Duration, String) {
    let started = Instant::now();
    let mut events = learner.submit(&files(nonce)).await;
    let mut image_ready = None;
    while let Some(event) = events.next().await {
        if event.name == "status" && event.data.to_string().contains("\"running\"") {
            image_ready.get_or_insert_with(|| started.elapsed());
        }
        if event.name == "done" {
            let done = started.elapsed();
            assert_eq!(event.data["status"], "succeeded", "{:#}", event.data);
            let id = event.data["image"]["id"].as_str().unwrap_or("");
            let label = docker(&[
                "image",
                "inspect",
                "--format",
                &format!("{{{{index .Config.Labels \"{LABEL}\"}}}}"),
                id,
            ]);
            return (image_ready.unwrap_or(done), done, label);
        }
    }
    panic!("the build's event stream ended without done")
}

pub async fn run() -> Vec<Figure> {
    let server = ServerProcess::start_with(LOCAL_ENGINE, Arc::new(TestDb::new()), &[]);
    let mut learner = Learner::new(&server.base_url);
    let context_dir = tempfile::tempdir().expect("context dir");
    let bench_id = std::process::id();

    // Warm up both paths once (first-use costs: the session, the engine connection).
    let (_, _, learner_label) = api_build(&mut learner, &format!("warm-{bench_id}")).await;
    // The same label steps as layerlab's, with other values: layerlab removes a learner's
    // superseded images by their label, and must not remove the CLI's cache.
    let label = format!("cli-{learner_label}");
    cli_build(context_dir.path(), &format!("warm-{bench_id}"), &label);

    let mut figures = Vec::new();
    for (kind, fresh, goal) in [("cold", true, 1.05), ("cached", false, 1.25)] {
        let (mut api_b, mut api_all, mut cli_b, mut cli_all) = (vec![], vec![], vec![], vec![]);
        if !fresh {
            // "Cached" means the learner just built this context. The cold series replaced
            // the warm-up's image, and layerlab keeps one image per learner and exercise, so
            // build it once more, uncounted, on both paths.
            api_build(&mut learner, &format!("warm-{bench_id}")).await;
            cli_build(context_dir.path(), &format!("warm-{bench_id}"), &label);
        }
        for run in 0..RUNS {
            // Cold runs use different nonces for the two paths: the engine's cache is shared.
            let nonce = |path: &str| {
                if fresh {
                    format!("{kind}-{path}-{bench_id}-{run}")
                } else {
                    format!("warm-{bench_id}")
                }
            };
            let (b, all, _) = api_build(&mut learner, &nonce("api")).await;
            api_b.push(b.as_secs_f64());
            api_all.push(all.as_secs_f64());
            tokio::time::sleep(Duration::from_millis(300)).await;
            // A cold CLI build gets a fresh folder; a cached one reuses the warm-up's folder
            // untouched (file times are part of the classic builder's COPY cache key).
            let cold_dir = tempfile::tempdir().expect("context dir");
            let dir = if fresh {
                cold_dir.path()
            } else {
                context_dir.path()
            };
            let (b, all) = cli_build(dir, &nonce("cli"), &label);
            cli_b.push(b.as_secs_f64());
            cli_all.push(all.as_secs_f64());
        }
        let ratios = |a: &[f64], c: &[f64]| a.iter().zip(c).map(|(a, c)| a / c).collect::<Vec<_>>();
        figures.extend([
            Figure::new(
                "builds",
                format!("{kind} build → result, layerlab API"),
                " s",
            )
            .samples(api_b.clone()),
            Figure::new("builds", format!("{kind} build, docker CLI"), " s").samples(cli_b.clone()),
            Figure::new("builds", format!("{kind} build ratio API ÷ CLI"), "×")
                .goal(Goal::AtMost(goal))
                .samples(ratios(&api_b, &cli_b)),
            Figure::new("builds", format!("{kind} build + run ratio API ÷ CLI"), "×")
                .samples(ratios(&api_all, &cli_all)),
        ]);
    }
    let _ = Command::new("docker")
        .args(["image", "rm", "-f", "layerlab-bench-cli:latest"])
        .output();
    figures
}
