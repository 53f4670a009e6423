//! The one table every part of the benchmark adds its figures to, the machine it ran on, and
//! the section of BENCHMARKS.md it rewrites.

use std::fmt::Write as _;
use std::process::Command;

/// What a figure should be, judged on its median.
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    AtMost(f64),
    AtLeast(f64),
}

impl Goal {
    fn met(self, value: f64) -> bool {
        match self {
            Goal::AtMost(limit) => value <= limit,
            Goal::AtLeast(floor) => value >= floor,
        }
    }

    fn describe(self, unit: &str) -> String {
        match self {
            Goal::AtMost(limit) => format!("≤ {}{unit}", number(limit)),
            Goal::AtLeast(floor) => format!("≥ {}{unit}", number(floor)),
        }
    }
}

/// One row: a figure measured several times.
#[derive(Clone, Debug)]
pub struct Figure {
    pub part: &'static str,
    pub name: String,
    /// Printed after each number: "×", " ms", " MiB", " KiB", " req/s", "".
    pub unit: &'static str,
    pub samples: Vec<f64>,
    pub goal: Option<Goal>,
}

impl Figure {
    pub fn new(part: &'static str, name: impl Into<String>, unit: &'static str) -> Self {
        Figure {
            part,
            name: name.into(),
            unit,
            samples: Vec::new(),
            goal: None,
        }
    }

    pub fn goal(mut self, goal: Goal) -> Self {
        self.goal = Some(goal);
        self
    }

    pub fn samples(mut self, samples: impl IntoIterator<Item = f64>) -> Self {
        self.samples.extend(samples);
        self
    }

    /// (min, median, max); the median of an even count is the upper middle value.
    pub fn spread(&self) -> Option<(f64, f64, f64)> {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        let (first, last) = (sorted.first()?, sorted.last()?);
        Some((*first, sorted[sorted.len() / 2], *last))
    }

    /// "ok", "MISSED" or "" (no goal).
    pub fn verdict(&self) -> &'static str {
        match (self.goal, self.spread()) {
            (Some(goal), Some((_, median, _))) if goal.met(median) => "ok",
            (Some(_), _) => "MISSED",
            (None, _) => "",
        }
    }
}

/// A number with as many decimals as its size deserves.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The table as Markdown.
pub fn markdown(figures: &[Figure]) -> String {
    let mut out = String::from(
        "| part | figure | n | min | median | max | goal | |\n|---|---|---|---|---|---|---|---|\n",
    );
    for figure in figures {
        let cells = match figure.spread() {
            Some((min, median, max)) => {
                [min, median, max].map(|v| format!("{}{}", number(v), figure.unit))
            }
            None => ["–".to_string(), "–".to_string(), "–".to_string()],
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            figure.part,
            figure.name,
            figure.samples.len(),
            cells[0],
            cells[1],
            cells[2],
            figure
                .goal
                .map(|g| g.describe(figure.unit))
                .unwrap_or_default(),
            figure.verdict()
        );
    }
    out
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn proc_field(file: &str, field: &str) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The machine, the engine and the code the figures come from, as Markdown bullets.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory_gib = proc_field("/proc/meminfo", "MemTotal")
        .trim_end_matches("kB")
        .trim()
        .parse::<f64>()
        .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|_| "unknown".into());
    let engine = command_line(
        "docker",
        &[
            "info",
            "--format",
            "Docker {{.ServerVersion}}, storage driver {{.Driver}}, cgroup {{.CgroupVersion}}",
        ],
    );
    let dirty = !command_line("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
    format!(
        "- CPU: {} × {}\n- memory: {memory_gib}\n- kernel: {}\n- engine: {engine}\n- compiler: {}\n- code: commit {}{}\n",
        cores,
        proc_field("/proc/cpuinfo", "model name"),
        command_line("uname", &["-sr"]),
        command_line("rustc", &["--version"]),
        command_line("git", &["rev-parse", "--short", "HEAD"]),
        if dirty { " with uncommitted changes" } else { "" },
    )
}

const BEGIN: &str = "<!-- bench:begin (./x bench rewrites this part) -->";
const END: &str = "<!-- bench:end -->";

/// Replace the generated part of BENCHMARKS.md (between the markers) with `section`.
pub fn rewrite_benchmarks_md(path: &std::path::Path, section: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let (Some(start), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        return Err(std::io::Error::other(format!(
            "{} has no {BEGIN} … {END} markers",
            path.display()
        )));
    };
    let updated = format!("{}{BEGIN}\n{section}{}", &text[..start], &text[end..]);
    std::fs::write(path, updated)
}
