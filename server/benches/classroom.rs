//! Benchmark (not a test): a classroom of learners (40 unless `LAYERLAB_LEARNERS` says
//! otherwise) who all at once open a lesson, answer a quiz and submit a build, then reload the
//! course map until their result arrives. Prints builds completed / submitted, page latency
//! while the builds run (p50, p95, max), the server's peak memory and the wall time.
//! `./x bench` runs it after the build benchmark.

#[path = "../tests/support/mod.rs"]
mod support;

fn main() {
    let learners: usize = std::env::var("LAYERLAB_LEARNERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("classroom: {learners} learners at once, default limits, {cores} cores");
    let report = runtime.block_on(support::classroom::run(learners, &[]));
    println!(
        "| builds completed / submitted | {} / {} ({} passed every check, {} failed) |",
        report.succeeded + report.failed,
        report.submitted,
        report.passed,
        report.failed
    );
    println!(
        "| attempts stored / distinct ids | {} / {} |",
        report.stored_attempts, report.distinct_ids
    );
    println!(
        "| page latency while building (n = {}) | p50 {} ms, p95 {} ms, max {} ms |",
        report.page_ms.len(),
        report.percentile(50.0),
        report.percentile(95.0),
        report.page_ms.last().copied().unwrap_or(0)
    );
    println!(
        "| server peak RSS | {:.1} MiB |",
        report.peak_rss_kib as f64 / 1024.0
    );
    println!(
        "| wall time, first request to last result | {:.1} s |",
        report.wall.as_secs_f64()
    );
}
