//! A classroom against a real server process: N learners who all at once open a lesson,
//! answer its quiz and submit the `hello-container` solution, then wait for their result
//! while reloading the course map. Shared by the load test (small N) and the classroom
//! benchmark (N = 40), which prints the figures.

use super::{http, ServerProcess, LOCAL_ENGINE};
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a classroom run measured.
#[derive(Debug)]
pub struct Report {
    pub learners: usize,
    pub submitted: usize,
    /// Builds whose result arrived, by status.
    pub succeeded: usize,
    pub failed: usize,
    /// Results whose every exercise check passed.
    pub passed: usize,
    /// Distinct build ids among the results (a duplicate or a swap would lower it).
    pub distinct_ids: usize,
    /// Attempts the database holds afterwards.
    pub stored_attempts: usize,
    /// Page loads (course map, lesson) while builds ran, in milliseconds, sorted.
    pub page_ms: Vec<u64>,
    pub peak_rss_kib: u64,
    pub wall: Duration,
}

impl Report {
    pub fn percentile(&self, p: f64) -> u64 {
        if self.page_ms.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * (self.page_ms.len() - 1) as f64).round() as usize;
        self.page_ms[rank.min(self.page_ms.len() - 1)]
    }
}

async fn timed_get(url: &str, cookie: &str, samples: &Mutex<Vec<u64>>) -> StatusCode {
    let started = Instant::now();
    let (status, _, _) = http("GET", url, Some(cookie), None).await;
    samples
        .lock()
        .expect("samples")
        .push(started.elapsed().as_millis() as u64);
    status
}

/// Run a classroom of `learners` against a fresh server with `extra` flags.
pub async fn run(learners: usize, extra: &[&str]) -> Report {
    let db = Arc::new(super::TestDb::new());
    let server = Arc::new(ServerProcess::start_with(LOCAL_ENGINE, db.clone(), extra));
    let root = super::repo_root().join("exercises/hello-container");
    let dockerfile = std::fs::read_to_string(root.join("solution/Dockerfile")).expect("solution");
    let greet = std::fs::read_to_string(root.join("starter/greet.sh")).expect("starter");
    let samples = Arc::new(Mutex::new(Vec::new()));

    // Peak memory of the server process, sampled every 100 ms.
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(server.rss_kib()));
    let sampler = {
        let (done, peak, server) = (done.clone(), peak.clone(), server.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(server.rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let started = Instant::now();
    let tasks: Vec<_> = (0..learners)
        .map(|i| {
            let server = server.clone();
            let samples = samples.clone();
            let (dockerfile, greet) = (dockerfile.clone(), greet.clone());
            tokio::spawn(async move {
                let cookie = super::start_learner(&server.base_url).await;
                let lesson = server.url("/learn/anatomy-of-a-dockerfile");
                assert_eq!(timed_get(&lesson, &cookie, &samples).await, StatusCode::OK);
                let (status, body) = answer_quiz(&server, &cookie).await;
                assert_eq!(status, StatusCode::OK, "learner {i}: {body}");
                let (status, _, body) = http(
                    "POST",
                    &server.url("/api/v1/builds"),
                    Some(&cookie),
                    Some(&json!({"exercise": "hello-container",
                                 "files": {"Dockerfile": dockerfile, "greet.sh": greet}})),
                )
                .await;
                assert_eq!(status, StatusCode::ACCEPTED, "learner {i}: {body}");
                let id = serde_json::from_str::<Value>(&body).expect("json")["id"]
                    .as_str()
                    .expect("id")
                    .to_string();
                let map = server.url("/");
                let deadline = Instant::now() + Duration::from_secs(600);
                loop {
                    assert_eq!(timed_get(&map, &cookie, &samples).await, StatusCode::OK);
                    let (_, _, body) = http(
                        "GET",
                        &server.url(&format!("/api/v1/builds/{id}")),
                        Some(&cookie),
                        None,
                    )
                    .await;
                    let view: Value = serde_json::from_str(&body).expect("json");
                    let status = view["status"].as_str().unwrap_or("").to_string();
                    if status == "succeeded" || status == "failed" {
                        return (id, view);
                    }
                    assert!(Instant::now() < deadline, "learner {i} waited 10 minutes");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("a learner"));
    }
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.await;

    let (store, _) = layerlab_server::store::open(&db.url())
        .await
        .expect("the database");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attempts")
        .fetch_one(&store.pool)
        .await
        .expect("count");
    let mut ids: Vec<&String> = results.iter().map(|(id, _)| id).collect();
    ids.sort();
    ids.dedup();
    for (_, view) in &results {
        super::remove_image(&view["image"]);
    }
    let mut page_ms = samples.lock().expect("samples").clone();
    page_ms.sort_unstable();
    Report {
        learners,
        submitted: results.len(),
        succeeded: results
            .iter()
            .filter(|(_, v)| v["status"] == "succeeded")
            .count(),
        failed: results
            .iter()
            .filter(|(_, v)| v["status"] == "failed")
            .count(),
        passed: results
            .iter()
            .filter(|(_, v)| {
                v["checks"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["passed"] == true))
            })
            .count(),
        distinct_ids: ids.len(),
        stored_attempts: stored as usize,
        page_ms,
        peak_rss_kib: peak.load(Ordering::Relaxed),
        wall,
    }
}

/// Answer the multi-stage lesson's quiz (rightly) as `cookie`'s learner: status and body.
pub async fn answer_quiz(server: &ServerProcess, cookie: &str) -> (StatusCode, String) {
    let (status, _, body) = http(
        "POST",
        &server.url("/fn/submit_quiz"),
        Some(cookie),
        Some(
            &json!({"lesson": "multi-stage-builds", "quiz": "multi-stage",
                     "answers": [["which-image", ["last"]], ["ships", ["tool"]], ["static", ["libc"]], ["target", ["--target build"]]]}),
        ),
    )
    .await;
    (status, body)
}
