//! Benchmark (not a test): the same build context built through layerlab's public API and
//! through the docker CLI, cold and cached, on the same engine in one run. Prints medians and
//! the ratios layerlab ÷ CLI. Run it with `./x bench` (README, "Benchmarks").
//!
//! - **cold**: a nonce on the second line makes every step after `FROM` miss the cache.
//! - **cached**: the same context again; every step hits the cache.
//! - API time is `POST /api/v1/builds` until the `status` event that follows the image's
//!   inspection (size, layers, history are ready); CLI time is `docker build` until it exits.
//!   Both build with the classic builder, the same memory/CPU limits, no network and the one
//!   two labels layerlab puts on learner images (which the builder runs as steps).
//! - "build + run" adds running the image: the API's `done` vs `docker build` + `docker run --rm`.

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::process::Command;
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

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<bytes::Bytes>>;

struct Api {
    client: HttpClient,
    base: String,
    cookie: Option<String>,
    learner: Option<String>,
}

impl Api {
    /// Build through the API; returns (until the image facts, until done).
    async fn build(&mut self, nonce: &str) -> (Duration, Duration) {
        let files: serde_json::Map<String, serde_json::Value> = files(nonce)
            .into_iter()
            .map(|(p, c)| (p, serde_json::Value::String(c)))
            .collect();
        let body = serde_json::json!({"exercise": null, "files": files}).to_string();
        let started = Instant::now();
        let mut request = http::Request::post(format!("{}/api/v1/builds", self.base))
            .header("content-type", "application/json");
        if let Some(c) = &self.cookie {
            request = request.header("cookie", c);
        }
        let response = self
            .client
            .request(request.body(Full::from(body)).expect("request"))
            .await
            .expect("POST /api/v1/builds");
        if let Some(set) = response.headers().get("set-cookie") {
            self.cookie = set
                .to_str()
                .ok()
                .and_then(|s| s.split(';').next())
                .map(str::to_string);
        }
        assert_eq!(response.status(), 202, "the build was refused");
        let accepted: serde_json::Value = serde_json::from_slice(
            &response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes(),
        )
        .expect("JSON");
        let events = accepted["events"].as_str().expect("events URL");
        let mut request = http::Request::get(format!("{}{events}", self.base));
        if let Some(c) = &self.cookie {
            request = request.header("cookie", c);
        }
        let mut body = self
            .client
            .request(request.body(Full::default()).expect("request"))
            .await
            .expect("GET events")
            .into_body();
        let mut buffer = String::new();
        let mut image_ready = None;
        loop {
            let frame = body.frame().await.expect("stream open").expect("frame");
            if let Ok(data) = frame.into_data() {
                buffer.push_str(&String::from_utf8_lossy(&data));
            }
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let name = block
                    .lines()
                    .find_map(|l| l.strip_prefix("event:"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let data = block
                    .lines()
                    .find_map(|l| l.strip_prefix("data:"))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                if name == "status" && data.contains("\"running\"") && image_ready.is_none() {
                    image_ready = Some(started.elapsed());
                }
                if name == "done" {
                    let done = started.elapsed();
                    let view: serde_json::Value = serde_json::from_str(&data).expect("done JSON");
                    assert_eq!(view["status"], "succeeded", "{view:#}");
                    if self.learner.is_none() {
                        let id = view["image"]["id"].as_str().unwrap_or("");
                        let label = docker(&[
                            "image",
                            "inspect",
                            "--format",
                            &format!("{{{{index .Config.Labels \"{LABEL}\"}}}}"),
                            id,
                        ]);
                        self.learner = Some(label);
                    }
                    return (image_ready.unwrap_or(done), done);
                }
            }
        }
    }
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
    let tag = "layerlab-bench-cli:latest";
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

/// One kind of run (cold or cached): build-only and build+run times for both paths.
struct Timings {
    kind: &'static str,
    api_build: Vec<Duration>,
    cli_build: Vec<Duration>,
    api_all: Vec<Duration>,
    cli_all: Vec<Duration>,
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let db = tempfile::tempdir().expect("tempdir");
    let config = {
        use clap::Parser;
        layerlab_server::config::Cli::try_parse_from([
            "layerlab".to_string(),
            format!(
                "--database-url=sqlite://{}",
                db.path().join("bench.db").display()
            ),
            format!("--content-dir={}", root.join("content").display()),
            format!("--exercises-dir={}", root.join("exercises").display()),
            format!("--style-dir={}", root.join("style").display()),
            // One simulated learner builds back to back here; the rate limit is for people.
            "--build-rate-per-minute=0".to_string(),
        ])
        .expect("config")
        .serve
    };
    let router = layerlab_server::build(&config)
        .await
        .expect("server builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mut api = Api {
        client: Client::builder(TokioExecutor::new()).build_http(),
        base: format!("http://{addr}"),
        cookie: None,
        learner: None,
    };
    let context_dir = tempfile::tempdir().expect("context dir");
    let bench_id = std::process::id();

    // Warm up both paths once (first-use costs: the session, the engine connection).
    api.build(&format!("warm-{bench_id}")).await;
    // The same label steps as layerlab's, with other values: layerlab removes a learner's
    // superseded images by their label, and must not remove the CLI's cache.
    let label = format!("cli-{}", api.learner.clone().unwrap_or_default());
    cli_build(context_dir.path(), &format!("warm-{bench_id}"), &label);

    let mut rows: Vec<Timings> = Vec::new();
    for (kind, fresh) in [("cold", true), ("cached", false)] {
        let (mut api_build, mut api_all, mut cli_b, mut cli_all) = (vec![], vec![], vec![], vec![]);
        for run in 0..RUNS {
            // Cold runs use different nonces for the two paths: the engine's cache is shared.
            let nonce = |path: &str| {
                if fresh {
                    format!("{kind}-{path}-{bench_id}-{run}")
                } else {
                    format!("warm-{bench_id}")
                }
            };
            let (b, all) = api.build(&nonce("api")).await;
            api_build.push(b);
            api_all.push(all);
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
            cli_b.push(b);
            cli_all.push(all);
        }
        rows.push(Timings {
            kind,
            api_build,
            cli_build: cli_b,
            api_all,
            cli_all,
        });
    }

    println!(
        "\nbuilds: layerlab API vs docker CLI (classic builder), median of {RUNS} runs each\n"
    );
    println!(
        "{:<28} {:>12} {:>12} {:>8} {:>8}",
        "", "layerlab", "docker CLI", "ratio", "goal"
    );
    for Timings {
        kind,
        api_build: api_b,
        cli_build: cli_b,
        api_all,
        cli_all,
    } in rows
    {
        let goal = if kind == "cold" { 1.05 } else { 1.25 };
        for (what, a, c, goal) in [
            (
                format!("{kind} build → result"),
                median(api_b),
                median(cli_b),
                Some(goal),
            ),
            (
                format!("{kind} build + run"),
                median(api_all),
                median(cli_all),
                None,
            ),
        ] {
            let ratio = a.as_secs_f64() / c.as_secs_f64();
            let verdict = goal
                .map(|g| format!("≤ {g:.2}{}", if ratio <= g { " ok" } else { " MISSED" }))
                .unwrap_or_default();
            println!(
                "{what:<28} {:>10.3} s {:>10.3} s {:>7.2}× {verdict}",
                a.as_secs_f64(),
                c.as_secs_f64(),
                ratio
            );
        }
    }
    let _ = Command::new("docker")
        .args(["image", "rm", "-f", "layerlab-bench-cli:latest"])
        .output();
}
