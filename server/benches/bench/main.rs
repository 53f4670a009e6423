//! `./x bench` — layerlab's whole performance table in one run (issue 8; BENCHMARKS.md).
//!
//! Each part measures several times and adds figures (min / median / max) to one table:
//! - `builds`: a build through the API vs `docker build` on the same context, cold and cached;
//! - `sse`: a build log line from the moment the container writes it to the browser-facing
//!   SSE event, beside the docker CLI reading the same kind of line off the engine;
//! - `pages`: lesson page requests/s from layerlab vs nginx serving the same bytes (wrk);
//! - `bundle`: the hydrate bundle, raw and gzip;
//! - `sessions`: server memory with 200 learner sessions;
//! - `classroom`: 40 learners who read, answer a quiz and build at once;
//! - `browser`: what a person sees in Chromium: Build → first log line and → verdict (beside
//!   the CLI), and the longest main-thread task while a 200,000-line log streams;
//! - `registry`: Tag & push beside `docker push` of the same size, the embedded registry's
//!   start-up, a namespace's disk before and after deleting its tags and collecting;
//! - `console`: the docker CLI through a learner's policy proxy beside straight to the engine,
//!   a console command to its first output row, an idle console's memory, 40 learners at once.
//!
//! `cargo bench -p layerlab-server --bench bench -- [part ...]` runs some parts only; a run of
//! every part rewrites the generated section of BENCHMARKS.md.

#[path = "../../tests/testsuite/support/mod.rs"]
#[allow(dead_code, unused_imports)] // the bench uses part of what the tests share
mod support;
use support::browser as web;

mod api;
mod browser;
mod builds;
mod bundle;
mod classroom;
mod console;
mod pages;
mod registry;
mod sessions;
mod sse;
mod table;

use table::Figure;

const PARTS: [&str; 9] = [
    "builds",
    "sse",
    "pages",
    "bundle",
    "sessions",
    "classroom",
    "browser",
    "registry",
    "console",
];

fn main() {
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if let Some(unknown) = chosen.iter().find(|p| !PARTS.contains(&p.as_str())) {
        eprintln!(
            "unknown part {unknown:?}; the parts are {}",
            PARTS.join(", ")
        );
        std::process::exit(2);
    }
    let parts: Vec<&str> = PARTS
        .into_iter()
        .filter(|p| chosen.is_empty() || chosen.iter().any(|c| c == p))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = std::time::Instant::now();
    let mut figures: Vec<Figure> = Vec::new();
    for part in &parts {
        eprintln!("==> bench part {part}");
        let part_started = std::time::Instant::now();
        let measured = match *part {
            "builds" => runtime.block_on(builds::run()),
            "sse" => runtime.block_on(sse::run()),
            "pages" => runtime.block_on(pages::run()),
            "bundle" => bundle::run(),
            "sessions" => runtime.block_on(sessions::run()),
            "classroom" => runtime.block_on(classroom::run()),
            "browser" => runtime.block_on(browser::run()),
            "registry" => runtime.block_on(registry::run()),
            "console" => runtime.block_on(console::run()),
            _ => unreachable!("checked above"),
        };
        eprint!("{}", table::markdown(&measured));
        eprintln!(
            "    ({part}: {:.0} s)",
            part_started.elapsed().as_secs_f64()
        );
        figures.extend(measured);
    }
    let table = table::markdown(&figures);
    let machine = table::machine();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!(
        "\nlayerlab benchmark, {date}, {:.0} s\n",
        started.elapsed().as_secs_f64()
    );
    println!("{table}");
    println!("{machine}");
    if parts.len() == PARTS.len() {
        let section = format!(
            "Latest full run: {date}, {:.0} minutes.\n\n{table}\nOn:\n\n{machine}\n",
            started.elapsed().as_secs_f64() / 60.0
        );
        let path = support::repo_root().join("BENCHMARKS.md");
        match table::rewrite_benchmarks_md(&path, &section) {
            Ok(()) => eprintln!("==> wrote the table into {}", path.display()),
            Err(e) => eprintln!("==> BENCHMARKS.md not updated: {e}"),
        }
    }
    let missed: Vec<&str> = figures
        .iter()
        .filter(|f| f.verdict() == "MISSED")
        .map(|f| f.name.as_str())
        .collect();
    if !missed.is_empty() {
        eprintln!("==> goals missed: {}", missed.join("; "));
    }
}
