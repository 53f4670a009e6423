//! Render one lesson page N times in-process, as a learner who answered one question sees it,
//! and print the CPU time per page: the part of a page view the lesson-page memo saves, with no
//! network, session or database around it. For profiling, e.g.
//! `RUSTFLAGS="-C force-frame-pointers=yes" cargo build --profile bench --example render_lesson`
//! then `perf record -g target/release/examples/render_lesson 50000` (from the project root).
//! `DUMP=page.html` also writes the page.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use app::document::{self, Loaded};
use layerlab_server::course::Course;
use leptos::config::LeptosOptions;
use std::time::Instant;

const LESSON: &str = "multi-stage-builds";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let course = Course::load(std::path::Path::new("content")).expect("the course in content/");
    let grade = course
        .quiz(LESSON, "multi-stage")
        .expect("the lesson's quiz")
        .grade(&vec![("which-image".into(), vec!["last".into()])])
        .expect("a grade");
    let options = LeptosOptions::builder().output_name("layerlab").build();
    let render = || async {
        let view = course
            .lesson_view(LESSON, |q| (q == "multi-stage").then(|| grade.clone()))
            .expect("the lesson");
        let path = format!("/learn/{LESSON}");
        let nonce = leptos::nonce::Nonce::new().to_string();
        document::lesson(&options, path, None, &nonce, Loaded::Found(view)).await
    };
    if let Ok(file) = std::env::var("DUMP") {
        std::fs::write(file, render().await).expect("DUMP written");
    }
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        bytes = render().await.len();
    }
    let micros = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("{bytes} bytes, {micros:.1} µs per page ({n} renders)");
}
