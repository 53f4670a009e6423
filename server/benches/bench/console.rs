//! The docker console: the real docker CLI through a learner's policy proxy beside the same
//! CLI straight to the engine (`docker ps`, `docker run --rm busybox true`, `docker build`); a command typed
//! in the console to its first output row on the event stream, beside `docker exec` of the
//! same command in the same toolbox; the memory an idle console costs (the server's share and
//! its toolbox's); and 40 learners running a command at once.

use crate::api::Learner;
use crate::support::{ServerProcess, TestDb, LOCAL_ENGINE};
use crate::table::{Figure, Goal};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

const RUNS: usize = 7;
const CLASS: usize = 40;

/// Seconds `docker <args>` takes (it must succeed), with `host` as its engine if given.
fn timed_cli(host: Option<&str>, args: &[&str]) -> f64 {
    let mut command = Command::new("docker");
    // (The classic builder on both sides, as the console builds.)
    command.env("DOCKER_BUILDKIT", "0");
    if let Some(host) = host {
        command.args(["-H", host]);
    }
    let started = Instant::now();
    let out = command.args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed().as_secs_f64()
}

/// Open `learner`'s console and follow it.
async fn open(learner: &mut Learner) -> crate::api::Events {
    let (status, body) = learner
        .post_json("/api/v1/console", &serde_json::Value::Null)
        .await;
    assert_eq!(status, 204, "the console opens: {body}");
    learner.events("/api/v1/console/events").await
}

/// Run `line`; the seconds to its first row, and to its end.
async fn command(learner: &mut Learner, events: &mut crate::api::Events, line: &str) -> (f64, f64) {
    let started = Instant::now();
    let (status, body) = learner
        .post_json(
            "/api/v1/console/commands",
            &serde_json::json!({ "line": line }),
        )
        .await;
    assert_eq!(status, 202, "{line}: {body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).expect("JSON")["id"].as_u64();
    let mut first = None;
    while let Some(event) = events.next().await {
        if event.data["id"].as_u64() != id {
            continue;
        }
        match event.data["kind"].as_str() {
            Some("rows") if first.is_none() => first = Some(started.elapsed().as_secs_f64()),
            Some("done") => {
                let end = started.elapsed().as_secs_f64();
                return (first.unwrap_or(end), end);
            }
            _ => {}
        }
    }
    panic!("the console's events ended");
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The memory the engine counts for containers whose names contain `part`, in MiB each.
fn containers_mib(part: &str) -> Vec<f64> {
    let out = Command::new("docker")
        .args([
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.MemUsage}}",
        ])
        .output()
        .expect("docker stats");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(part))
        .filter_map(|l| {
            let used = l.split_whitespace().nth(1)?;
            let (number, unit) = used.split_at(used.find(|c: char| c.is_alphabetic())?);
            let n: f64 = number.parse().ok()?;
            Some(match unit {
                "KiB" => n / 1024.0,
                "MiB" => n,
                "GiB" => n * 1024.0,
                _ => n / 1024.0 / 1024.0,
            })
        })
        .collect()
}

pub async fn run() -> Vec<Figure> {
    let mut figures = Vec::new();
    let seeded = Command::new(env!("CARGO_BIN_EXE_layerlab"))
        .args(["images", "seed", "layerlab/toolbox:1"])
        .current_dir(crate::support::repo_root())
        .output()
        .expect("layerlab images seed");
    assert!(seeded.status.success(), "the toolbox image");

    // The proxy alone, in this process, against the CLI straight to the engine.
    let dir = tempfile::tempdir().expect("a folder");
    let engine = Arc::new(layerlab_server::engine::Engine::new(Some(LOCAL_ENGINE)));
    let proxy = layerlab_server::console::proxy::Proxy::start(
        &dir.path().join("bench.sock"),
        layerlab_server::policy::api::Scope {
            owner: format!("bench-{}", std::process::id()),
            instance: "bench".into(),
            base_images: vec!["busybox:latest".into()],
            registry: None,
            built: Default::default(),
        },
        engine,
        layerlab_server::policy::container::ContainerLimits {
            memory_bytes: 128 << 20,
            cpus: 0.5,
            pids: 64,
            log_max: "1m".into(),
            max_running: 3,
            max_containers: 10,
            max_disk_bytes: 512 << 20,
        },
        None,
        None,
        None,
    )
    .expect("the proxy");
    let host = format!("unix://{}", proxy.path().display());
    for (name, args) in [
        ("docker ps", vec!["ps", "-a"]),
        (
            "docker run --rm busybox true",
            vec!["run", "--rm", "busybox:latest", "true"],
        ),
    ] {
        let ratios: Vec<f64> = tokio::task::spawn_blocking({
            let host = host.clone();
            move || {
                (0..RUNS)
                    .map(|_| timed_cli(Some(&host), &args) / timed_cli(None, &args))
                    .collect()
            }
        })
        .await
        .expect("the CLI");
        figures.push(
            Figure::new(
                "console",
                format!("{name} through the proxy ÷ straight to the engine"),
                "×",
            )
            .goal(Goal::AtMost(1.1))
            .samples(ratios),
        );
    }
    drop(proxy);

    // The console as learners use it, on a server of its own.
    let db = Arc::new(TestDb::new());
    let server = ServerProcess::start_with(
        LOCAL_ENGINE,
        db.clone(),
        &["--console-max-open=60", "--new-learners-per-address=0"],
    );
    let mut ann = Learner::new(&server.base_url);
    let mut events = open(&mut ann).await;
    command(&mut ann, &mut events, "true").await;
    let toolbox = Command::new("docker")
        .args(["ps", "-q", "--filter", "name=layerlab-console-learner-"])
        .output()
        .expect("docker ps");
    let toolbox = String::from_utf8_lossy(&toolbox.stdout)
        .split_whitespace()
        .next()
        .expect("the toolbox")
        .to_string();
    // `docker build` through the learner's proxy (the workbench's policy, limits and
    // builders) beside the same CLI straight to the engine, each step run afresh.
    let handle = crate::support::console_folders(&db.console_dir())
        .into_iter()
        .next()
        .expect("the learner's console folder");
    let socket = format!(
        "unix://{}",
        db.console_dir().join(&handle).join("docker.sock").display()
    );
    let context = tempfile::tempdir().expect("a folder");
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM busybox:latest\nRUN echo step > /step && sleep 0.2\nCOPY . /app/\nCMD [\"cat\", \"/step\"]\n",
    )
    .expect("a Dockerfile");
    std::fs::write(context.path().join("note.txt"), "a file to send\n").expect("a file");
    let folder = context.path().display().to_string();
    let ratios: Vec<f64> = tokio::task::spawn_blocking(move || {
        let build = |host: Option<&str>, tag: &str| {
            timed_cli(host, &["build", "-q", "--no-cache", "-t", tag, &folder])
        };
        let ratios = (0..RUNS)
            .map(|_| build(Some(&socket), "bench-build") / build(None, "layerlab-bench-direct:1"))
            .collect();
        let _ = Command::new("docker")
            .args(["rmi", "-f", "layerlab-bench-direct:1"])
            .output();
        ratios
    })
    .await
    .expect("the CLI");
    figures.push(
        Figure::new(
            "console",
            "docker build --no-cache through the proxy ÷ straight to the engine",
            "×",
        )
        .goal(Goal::AtMost(1.1))
        .samples(ratios),
    );

    let mut over = Vec::new();
    for _ in 0..RUNS {
        let (first, _) = command(&mut ann, &mut events, "echo hi").await;
        let engine = tokio::task::spawn_blocking({
            let toolbox = toolbox.clone();
            move || timed_cli(None, &["exec", "-t", &toolbox, "bash", "-c", "echo hi"])
        })
        .await
        .expect("docker exec");
        over.push((first - engine) * 1000.0);
    }
    figures.push(
        Figure::new(
            "console",
            "a command to its first output row on the page's stream, over `docker exec` of it",
            " ms",
        )
        .goal(Goal::AtMost(50.0))
        .samples(over),
    );

    // Memory: ten more consoles opened, one command each, then idle.
    let before = rss_mib(server.pid());
    let mut idle = Vec::new();
    for _ in 0..10 {
        let mut learner = Learner::new(&server.base_url);
        let mut stream = open(&mut learner).await;
        command(&mut learner, &mut stream, "docker ps").await;
        idle.push((learner, stream));
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let server_share = (rss_mib(server.pid()) - before) / 10.0;
    let toolboxes = containers_mib("layerlab-console-learner-");
    figures.push(
        Figure::new("console", "an idle console: the server's share", " MiB")
            .samples([server_share]),
    );
    figures.push(
        Figure::new(
            "console",
            "an idle console: its toolbox (the engine's count)",
            " MiB",
        )
        .samples(toolboxes),
    );
    drop(idle);

    // A class: 40 learners open the console, then all run a command at once.
    let mut class = Vec::new();
    for _ in 0..CLASS {
        let mut learner = Learner::new(&server.base_url);
        let stream = open(&mut learner).await;
        class.push((learner, stream));
    }
    let started = Instant::now();
    let runs = class.into_iter().map(|(mut learner, mut stream)| {
        tokio::spawn(async move {
            command(
                &mut learner,
                &mut stream,
                "docker ps -a --format '{{.Names}}'",
            )
            .await
            .1
        })
    });
    let mut answered: Vec<f64> = Vec::new();
    for run in futures::future::join_all(runs).await {
        answered.extend(run.ok());
    }
    let wall = started.elapsed().as_secs_f64();
    figures.push(
        Figure::new(
            "console",
            format!("{CLASS} learners run docker ps at once: answered"),
            "",
        )
        .goal(Goal::AtLeast(CLASS as f64))
        .samples([answered.len() as f64]),
    );
    answered.sort_by(f64::total_cmp);
    let p95 = answered[(answered.len() * 95 / 100).min(answered.len() - 1)];
    figures.push(
        Figure::new(
            "console",
            format!("{CLASS} learners run docker ps at once: p95"),
            " ms",
        )
        .samples([p95 * 1000.0]),
    );
    figures.push(
        Figure::new(
            "console",
            format!("{CLASS} learners run docker ps at once: all done"),
            " ms",
        )
        .samples([wall * 1000.0]),
    );
    let db = server.kill();
    crate::support::remove_consoles_in(&db.console_dir());
    figures
}
