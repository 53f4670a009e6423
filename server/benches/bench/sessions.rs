//! Sessions: the server's resident memory with many learner sessions. A fresh
//! server; then `LAYERLAB_SESSIONS` (200 unless set) learners each open the course map, read a
//! lesson and answer its quiz, 20 at a time, and keep their sessions. Memory is read from
//! /proc (VmRSS now, VmHWM the peak) before and after; three rounds, each on its own server,
//! give min / median / max. Goal (issue 8): ≤ 100 MB with 200 sessions.

use crate::support::{http, ServerProcess, TestDb, LOCAL_ENGINE};
use crate::table::{Figure, Goal};
use std::sync::Arc;

const ROUNDS: usize = 3;

fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// One round: (RSS idle, RSS after, peak), in KiB.
async fn round(sessions: usize) -> (u64, u64, u64) {
    // Every learner comes from 127.0.0.1: lift the limit on new learners per address (100
    // an hour by default), which this measurement would otherwise meet at learner 101.
    let server = Arc::new(ServerProcess::start_with(
        LOCAL_ENGINE,
        Arc::new(TestDb::new()),
        &["--new-learners-per-address=0"],
    ));
    // Warm up: the first pages load the course and fill caches every learner shares.
    let _ = http(
        "GET",
        &server.url("/learn/anatomy-of-a-dockerfile"),
        None,
        None,
    )
    .await;
    let idle = server.rss_kib();
    let mut cookies = Vec::with_capacity(sessions);
    for batch in (0..sessions).collect::<Vec<_>>().chunks(20) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|i| {
                let server = server.clone();
                let i = *i;
                tokio::spawn(async move {
                    // Looking starts nobody: a learner (and their session) starts with
                    // their first form, as in a browser.
                    let (status, _, _) = http("GET", &server.url("/"), None, None).await;
                    assert!(status.is_success(), "learner {i}: {status}");
                    let cookie = crate::support::start_learner(&server.base_url).await;
                    let (status, _, _) = http(
                        "GET",
                        &server.url("/learn/multi-stage-builds"),
                        Some(&cookie),
                        None,
                    )
                    .await;
                    assert!(status.is_success(), "learner {i}: {status}");
                    let (status, body) =
                        crate::support::classroom::answer_quiz(&server, &cookie).await;
                    assert!(status.is_success(), "learner {i}: {body}");
                    cookie
                })
            })
            .collect();
        for task in tasks {
            cookies.push(task.await.expect("a learner"));
        }
    }
    // Every session is still good: one more page each.
    for cookie in &cookies {
        let (status, _, _) = http("GET", &server.url("/me"), Some(cookie), None).await;
        assert!(status.is_success());
    }
    let pid = server.pid();
    (idle, memory_kib(pid, "VmRSS:"), memory_kib(pid, "VmHWM:"))
}

pub async fn run() -> Vec<Figure> {
    let sessions: usize = std::env::var("LAYERLAB_SESSIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        rounds.push(round(sessions).await);
    }
    let mib = |f: fn(&(u64, u64, u64)) -> u64| rounds.iter().map(move |r| f(r) as f64 / 1024.0);
    vec![
        Figure::new("sessions", "server RSS before any learner", " MiB").samples(mib(|r| r.0)),
        Figure::new(
            "sessions",
            format!("server RSS with {sessions} learner sessions"),
            " MiB",
        )
        .goal(Goal::AtMost(100.0))
        .samples(mib(|r| r.1)),
        Figure::new("sessions", "server peak RSS (VmHWM) during them", " MiB")
            .goal(Goal::AtMost(100.0))
            .samples(mib(|r| r.2)),
    ]
}
