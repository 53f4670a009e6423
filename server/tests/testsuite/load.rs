//! A small classroom at once on the real engine (the benchmark runs 40): every learner's
//! build gets its own result, none is lost or duplicated, and pages keep loading meanwhile.

use crate::support;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_classroom_submitting_at_once_gets_every_result_exactly_once() {
    let learners = 8;
    let report = support::classroom::run(learners, &["--build-concurrency=2"]).await;
    println!(
        "{report:#?}\npages: median {} ms, p95 {} ms, in {:?}",
        report.percentile(50.0),
        report.percentile(95.0),
        report.wall
    );
    assert_eq!(report.learners, learners);
    assert_eq!(report.submitted, learners);
    assert_eq!(report.failed, 0, "no build failed: {report:#?}");
    assert!(report.peak_rss_kib > 0, "the server's memory was read");
    assert_eq!(report.succeeded, learners, "{report:#?}");
    assert_eq!(
        report.passed, learners,
        "every solution passes: {report:#?}"
    );
    assert_eq!(
        report.distinct_ids, learners,
        "no result is duplicated or swapped"
    );
    assert_eq!(
        report.stored_attempts, learners,
        "every attempt is stored once"
    );
    assert!(
        report.page_ms.len() >= 2 * learners,
        "pages were loaded while building"
    );
}
