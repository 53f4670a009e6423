//! The class registry: a push through layerlab's Tag & push (the engine pushing with the
//! learner's login, then the registry read back) beside the docker CLI pushing an image of
//! the same size to the same registry as the same learner; the embedded registry's start-up;
//! and what a learner's namespace holds once every tag is deleted and the garbage collected.
//!
//! Each push sends a fresh layer (16 MB of noise made by a build), so neither side finds the
//! registry already holding it.

use crate::api::Learner;
use crate::support::{ServerProcess, TestDb, LOCAL_ENGINE};
use crate::table::{Figure, Goal};
use std::process::Command;
use std::time::Instant;

const RUNS: usize = 5;

/// A fresh image through the API: its id.
async fn fresh_image(learner: &mut Learner, nonce: usize) -> String {
    let dockerfile = format!(
        "FROM busybox:latest\nRUN echo {nonce} > /nonce && head -c 16000000 /dev/urandom > /noise\n"
    );
    let mut events = learner
        .submit(&[("Dockerfile".to_string(), dockerfile)])
        .await;
    while let Some(event) = events.next().await {
        if event.name == "done" {
            assert_eq!(event.data["status"], "succeeded", "{:#}", event.data);
            return event.data["id"].as_str().expect("id").to_string();
        }
    }
    panic!("the build's events ended without `done`");
}

/// Build `dockerfile` through the API; the seconds until its `done` (which must succeed).
async fn timed_build(learner: &mut Learner, dockerfile: String) -> f64 {
    let started = Instant::now();
    let mut events = learner
        .submit(&[("Dockerfile".to_string(), dockerfile)])
        .await;
    while let Some(event) = events.next().await {
        if event.name == "done" {
            assert_eq!(event.data["status"], "succeeded", "{:#}", event.data);
            return started.elapsed().as_secs_f64();
        }
    }
    panic!("the build's events ended without `done`");
}

/// `docker build` (the classic builder, as layerlab's) of `dockerfile` given on stdin, tagged
/// `tag`.
fn cli_build(config: &std::path::Path, dockerfile: &str, tag: &str) {
    use std::io::Write;
    let mut child = Command::new("docker")
        .arg("--config")
        .arg(config)
        .args(["build", "-q", "-t", tag, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("docker build");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(dockerfile.as_bytes())
        .expect("the Dockerfile");
    assert!(
        child.wait().expect("docker build").success(),
        "docker build"
    );
}

/// Push build `build` as `typed` through the API; the seconds until its `done`.
async fn api_push(learner: &mut Learner, build: &str, typed: &str) -> f64 {
    let started = Instant::now();
    let (status, body) = learner
        .post_json(
            &format!("/api/v1/builds/{build}/push"),
            &serde_json::json!({ "tag": typed }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let accepted: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let mut events = learner
        .events(accepted["events"].as_str().expect("events"))
        .await;
    while let Some(event) = events.next().await {
        if event.name == "done" {
            assert_eq!(event.data["status"], "pushed", "{:#}", event.data);
            return started.elapsed().as_secs_f64();
        }
    }
    panic!("the push's events ended without `done`");
}

fn docker(config: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("docker")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub async fn run() -> Vec<Figure> {
    // Start-up: the embedded registry until it answers as ours (a fresh folder each time).
    let mut startup = Vec::new();
    for _ in 0..RUNS {
        let db = TestDb::new();
        let settings = layerlab_server::registry::RegistrySettings::Embedded {
            program: "docker-registry".into(),
            dir: db.registry_dir(),
            addr: "127.0.0.1:0".parse().expect("address"),
            quota_bytes: 0,
        };
        let started = Instant::now();
        let registry = layerlab_server::registry::Registry::start(
            &settings,
            layerlab_server::registry::no_readers(),
        )
        .await
        .expect("the registry starts");
        startup.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(registry);
    }

    let server = ServerProcess::start(LOCAL_ENGINE);
    let mut learner = Learner::new(&server.base_url);
    let login: serde_json::Value = {
        learner.page("/me").await;
        // A learner exists from the first build on.
        let _ = fresh_image(&mut learner, 0).await;
        serde_json::from_slice(&learner.page("/api/v1/registry/login").await).expect("JSON")
    };
    let (address, handle, password) = (
        login["registry"].as_str().expect("registry").to_string(),
        login["username"].as_str().expect("handle").to_string(),
        login["password"].as_str().expect("password").to_string(),
    );
    let config = tempfile::tempdir().expect("a docker config folder");
    docker(
        config.path(),
        &["login", &address, "-u", &handle, "-p", &password],
    );

    let mut ratios = Vec::new();
    let mut api_secs = Vec::new();
    let mut cli_secs = Vec::new();
    for run in 1..=RUNS {
        // Two fresh images of the same size, one for each side, each pushed before the next
        // build (a learner's newer build replaces their older image on the engine).
        let ours = fresh_image(&mut learner, run * 2).await;
        let api = api_push(&mut learner, &ours, &format!("bench:api-{run}")).await;
        let theirs = fresh_image(&mut learner, run * 2 + 1).await;
        let theirs_view: serde_json::Value =
            serde_json::from_slice(&learner.page(&format!("/api/v1/builds/{theirs}")).await)
                .expect("JSON");
        let theirs_image = theirs_view["image"]["id"]
            .as_str()
            .expect("image")
            .to_string();
        let reference = format!("{address}/{handle}/bench:cli-{run}");
        docker(config.path(), &["tag", &theirs_image, &reference]);
        let started = Instant::now();
        docker(config.path(), &["push", "-q", &reference]);
        let cli = started.elapsed().as_secs_f64();
        docker(config.path(), &["rmi", &reference]);
        api_secs.push(api * 1000.0);
        cli_secs.push(cli * 1000.0);
        ratios.push(api / cli);
    }

    // Pull back: a build FROM each push, which the engine pulls from the registry with the
    // learner's login (a newer build has removed the image from the engine), beside the
    // docker CLI pulling the other push of the run, then building and running the same.
    let _ = fresh_image(&mut learner, 999).await;
    let mut pull_ratios = Vec::new();
    let mut pull_api = Vec::new();
    let mut pull_cli = Vec::new();
    let mut pull_only = Vec::new();
    let mut pull_only_api = Vec::new();
    let mut pull_only_cli = Vec::new();
    for run in 1..=RUNS {
        // The same workbench build from a base image the engine has: everything but the pull.
        let baseline = timed_build(
            &mut learner,
            format!("FROM busybox:latest\nCMD [\"true\", \"{run}\"]\n"),
        )
        .await;
        let ours = format!("{address}/{handle}/bench:api-{run}");
        let api = timed_build(&mut learner, format!("FROM {ours}\nCMD [\"true\"]\n")).await;
        let theirs = format!("{address}/{handle}/bench:cli-{run}");
        let dockerfile = format!("FROM {theirs}\nCMD [\"true\"]\n");
        let tag = format!("bench-pulled:{run}");
        let started = Instant::now();
        docker(config.path(), &["pull", "-q", &theirs]);
        let cli_pull = started.elapsed().as_secs_f64();
        cli_build(config.path(), &dockerfile, &tag);
        docker(config.path(), &["run", "--rm", &tag]);
        let cli = started.elapsed().as_secs_f64();
        docker(config.path(), &["rmi", &tag, &theirs]);
        pull_api.push(api * 1000.0);
        pull_cli.push(cli * 1000.0);
        pull_ratios.push(api / cli);
        let api_pull = (api - baseline).max(0.0);
        pull_only_api.push(api_pull * 1000.0);
        pull_only_cli.push(cli_pull * 1000.0);
        pull_only.push(api_pull / cli_pull);
    }

    // Every tag deleted, then the garbage collected: what the namespace still holds.
    let view: serde_json::Value =
        serde_json::from_slice(&learner.page("/api/v1/registry").await).expect("JSON");
    let before = view["used_bytes"].as_u64().unwrap_or(0) as f64 / 1024.0 / 1024.0;
    for repository in view["repositories"].as_array().into_iter().flatten() {
        let name = repository["name"].as_str().expect("name");
        let short = name.split_once('/').map_or(name, |(_, n)| n);
        for tag in repository["tags"].as_array().into_iter().flatten() {
            let tag = tag["tag"].as_str().expect("tag");
            let (status, body) = learner
                .delete(&format!("/api/v1/registry/tag?name={short}:{tag}"))
                .await;
            assert_eq!(status, 200, "{body}");
        }
    }
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let after = loop {
        let view: serde_json::Value =
            serde_json::from_slice(&learner.page("/api/v1/registry").await).expect("JSON");
        let used = view["used_bytes"].as_u64().unwrap_or(u64::MAX);
        if used < 1024 * 1024 || Instant::now() > deadline {
            break used as f64 / 1024.0;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };

    vec![
        Figure::new(
            "registry",
            "push of a fresh 16 MB layer, Tag & push ÷ docker push",
            "×",
        )
        .samples(ratios)
        .goal(Goal::AtMost(1.1)),
        Figure::new("registry", "push through layerlab (until done)", " ms").samples(api_secs),
        Figure::new("registry", "push with the docker CLI", " ms").samples(cli_secs),
        Figure::new(
            "registry",
            "build FROM an own push not on the engine (pull, build, run): layerlab ÷ docker pull + build + run",
            "×",
        )
        .samples(pull_ratios),
        Figure::new("registry", "pull, build and run through layerlab (until done)", " ms")
            .samples(pull_api),
        Figure::new(
            "registry",
            "the pull alone: layerlab (that build − the same build FROM a local base) ÷ docker pull",
            "×",
        )
        .samples(pull_only)
        .goal(Goal::AtMost(1.1)),
        Figure::new("registry", "the pull alone through layerlab (difference)", " ms")
            .samples(pull_only_api),
        Figure::new("registry", "docker pull alone", " ms").samples(pull_only_cli),
        Figure::new("registry", "docker pull, docker build, docker run --rm", " ms")
            .samples(pull_cli),
        Figure::new("registry", "embedded registry start-up", " ms").samples(startup),
        Figure::new(
            "registry",
            format!(
                "a namespace of {} pushes: before deleting its tags",
                2 * RUNS
            ),
            " MiB",
        )
        .samples([before]),
        Figure::new(
            "registry",
            "the same after deleting every tag and GC",
            " KiB",
        )
        .samples([after]),
    ]
}
