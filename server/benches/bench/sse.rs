//! Log latency: a `RUN` step prints a line carrying the wall-clock time (microseconds, from
//! busybox `adjtimex`, which reads the kernel clock the host shares) every 100 ms; the figure
//! is the time from that moment until the line arrives as an SSE `log` event at a client of
//! layerlab. Beside it, the same step built with the docker CLI, whose output lines are
//! timestamped as they arrive: what the engine's own path costs, which layerlab cannot beat.

use crate::api::Learner;
use crate::support::{ServerProcess, TestDb, LOCAL_ENGINE};
use crate::table::{Figure, Goal};
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

const ROUNDS: usize = 3;
const TICKS: usize = 30;

fn dockerfile(nonce: &str) -> String {
    format!(
        "FROM busybox:latest\n\
         RUN echo {nonce}; i=0; while [ $i -lt {TICKS} ]; do \
         adjtimex | awk '/tv_sec/ {{s=$2}} /tv_usec/ {{u=$2}} END {{printf \"tick %s %06d\\n\", s, u}}'; \
         i=$((i+1)); sleep 0.1; done\n"
    )
}

/// The time a `tick <sec> <usec>` line was written, if `text` is one.
fn tick_time(text: &str) -> Option<f64> {
    let mut fields = text.trim().strip_prefix("tick ")?.split_whitespace();
    let seconds: f64 = fields.next()?.parse().ok()?;
    let micros: f64 = fields.next()?.parse().ok()?;
    Some(seconds + micros / 1e6)
}

fn seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Latencies (ms) of one build through layerlab.
async fn through_layerlab(learner: &mut Learner, nonce: &str) -> Vec<f64> {
    let mut events = learner
        .submit(&[("Dockerfile".to_string(), dockerfile(nonce))])
        .await;
    let mut latencies = Vec::new();
    while let Some(event) = events.next().await {
        if event.name == "log" {
            if let Some(written) = event.data["text"].as_str().and_then(tick_time) {
                latencies.push((seconds(event.arrived) - written) * 1000.0);
            }
        }
        if event.name == "done" {
            assert_eq!(event.data["status"], "succeeded", "{:#}", event.data);
            break;
        }
    }
    assert_eq!(
        latencies.len(),
        TICKS,
        "every tick line arrived as an event"
    );
    latencies
}

/// Latencies (ms) of the same kind of build through the docker CLI (classic builder, like
/// layerlab), lines timestamped as the CLI prints them.
fn through_cli(nonce: &str) -> Vec<f64> {
    let tag = format!("layerlab-bench-sse:{nonce}");
    let mut child = Command::new("docker")
        .args(["build", "--no-cache", "--network=none", "-t", &tag, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker build");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(dockerfile(nonce).as_bytes())
        .expect("send the Dockerfile");
    let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut latencies = Vec::new();
    for line in stdout.lines() {
        let line = line.expect("CLI output");
        let arrived = seconds(SystemTime::now());
        if let Some(written) = tick_time(&line) {
            latencies.push((arrived - written) * 1000.0);
        }
    }
    assert!(
        child.wait().expect("docker build").success(),
        "the CLI build failed"
    );
    let _ = Command::new("docker")
        .args(["image", "rm", "-f", &tag])
        .output();
    assert_eq!(
        latencies.len(),
        TICKS,
        "every tick line came out of the CLI"
    );
    latencies
}

pub async fn run() -> Vec<Figure> {
    let server = ServerProcess::start_with(LOCAL_ENGINE, Arc::new(TestDb::new()), &[]);
    let mut learner = Learner::new(&server.base_url);
    let id = std::process::id();
    let (mut ours, mut cli) = (Vec::new(), Vec::new());
    // A warm-up build: the session, the engine connection.
    through_layerlab(&mut learner, &format!("warm-{id}")).await;
    for round in 0..ROUNDS {
        ours.extend(through_layerlab(&mut learner, &format!("api-{id}-{round}")).await);
        let nonce = format!("cli-{id}-{round}");
        cli.extend(
            tokio::task::spawn_blocking(move || through_cli(&nonce))
                .await
                .expect("CLI round"),
        );
    }
    vec![
        Figure::new(
            "log latency",
            "log line → SSE event at the client, layerlab",
            " ms",
        )
        .goal(Goal::AtMost(50.0))
        .samples(ours),
        Figure::new("log latency", "log line → output of the docker CLI", " ms").samples(cli),
    ]
}
