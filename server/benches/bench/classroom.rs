//! A classroom (40 learners unless `LAYERLAB_LEARNERS` says otherwise) who all at once open
//! a lesson, answer a quiz and submit a build, then reload the course map until their result
//! arrives (`tests/support/classroom.rs`, which the load test runs with 8). Three rounds, each
//! on a fresh server.

use crate::support::classroom;
use crate::table::{Figure, Goal};

const ROUNDS: usize = 3;

pub async fn run() -> Vec<Figure> {
    let learners: usize = std::env::var("LAYERLAB_LEARNERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let mut reports = Vec::new();
    for _ in 0..ROUNDS {
        reports.push(classroom::run(learners, &[]).await);
    }
    let each = |f: fn(&classroom::Report) -> f64| reports.iter().map(f).collect::<Vec<_>>();
    let n = learners as f64;
    vec![
        Figure::new(
            "classroom",
            format!("builds completed of {learners} submitted"),
            "",
        )
        .goal(Goal::AtLeast(n))
        .samples(each(|r| (r.succeeded + r.failed) as f64)),
        Figure::new("classroom", "results that passed every check", "")
            .goal(Goal::AtLeast(n))
            .samples(each(|r| r.passed as f64)),
        Figure::new("classroom", "attempts stored, distinct", "")
            .goal(Goal::AtLeast(n))
            .samples(each(|r| r.distinct_ids.min(r.stored_attempts) as f64)),
        Figure::new("classroom", "page p50 while building", " ms")
            .samples(each(|r| r.percentile(50.0) as f64)),
        Figure::new("classroom", "page p95 while building", " ms")
            .samples(each(|r| r.percentile(95.0) as f64)),
        Figure::new("classroom", "server peak RSS", " MiB")
            .samples(each(|r| r.peak_rss_kib as f64 / 1024.0)),
        Figure::new("classroom", "wall time, first request to last result", " s")
            .samples(each(|r| r.wall.as_secs_f64())),
    ]
}
