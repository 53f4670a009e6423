//! An exercise's attempts as a chart: image size and layer count per attempt, so a move to a
//! multi-stage build shows up as a drop. Pure geometry, drawn as SVG by the page.

use super::AttemptSummary;
use serde::{Deserialize, Serialize};

/// Room kept around the plot for the axis labels, in SVG units.
const PAD_LEFT: f64 = 64.0;
const PAD_RIGHT: f64 = 40.0;
const PAD_Y: f64 = 16.0;

/// The short form of a result the page just received (the server stores the same).
pub fn summary_of(view: &super::BuildView, at: &str) -> AttemptSummary {
    let checks = view.checks.as_deref().unwrap_or_default();
    let passed_checks = checks.iter().filter(|c| c.passed).count();
    AttemptSummary {
        id: view.id.clone(),
        exercise: view.exercise.clone().unwrap_or_default(),
        status: view.status.as_str().to_string(),
        passed: view.status == super::BuildStatus::Succeeded
            && !checks.is_empty()
            && passed_checks == checks.len(),
        checks_passed: u32::try_from(passed_checks).unwrap_or(u32::MAX),
        checks_total: u32::try_from(checks.len()).unwrap_or(u32::MAX),
        size_bytes: view.image.as_ref().map(|i| i.size_bytes),
        layers: view
            .image
            .as_ref()
            .map(|i| u32::try_from(i.layers).unwrap_or(u32::MAX)),
        at: at.to_string(),
    }
}

/// One attempt that made an image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChartPoint {
    pub attempt: String,
    /// 1-based position among all the learner's attempts at the exercise.
    pub number: usize,
    pub at: String,
    pub passed: bool,
    pub size_bytes: u64,
    pub layers: u32,
    pub x: f64,
    /// Where the size dot goes (SVG y grows downwards).
    pub size_y: f64,
    pub layers_y: f64,
}

/// Everything the page needs to draw the chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptChart {
    pub width: f64,
    pub height: f64,
    pub points: Vec<ChartPoint>,
    /// The size the top of the plot stands for (the left axis).
    pub size_top: u64,
    /// The layer count the top of the plot stands for (the right axis).
    pub layers_top: u32,
    /// `points` attributes for the two polylines.
    pub size_line: String,
    pub layers_line: String,
    /// Attempts without an image (failed builds), left out of the lines.
    pub without_image: usize,
    /// Change from the first plotted attempt to the last, in bytes (negative: smaller).
    pub size_change: i64,
}

/// The chart of `attempts` (oldest first) in a `width` × `height` box, or `None` when no
/// attempt made an image. Both axes start at zero, so the drop is shown at its real scale.
pub fn attempt_chart(attempts: &[AttemptSummary], width: f64, height: f64) -> Option<AttemptChart> {
    let plotted: Vec<(usize, &AttemptSummary, u64, u32)> = attempts
        .iter()
        .enumerate()
        .filter_map(|(i, a)| Some((i + 1, a, a.size_bytes?, a.layers?)))
        .collect();
    if plotted.is_empty() {
        return None;
    }
    let size_top = nice_ceiling(plotted.iter().map(|p| p.2).max().unwrap_or(0));
    let layers_top = plotted.iter().map(|p| p.3).max().unwrap_or(0).max(1) + 1;
    let inner_width = (width - PAD_LEFT - PAD_RIGHT).max(1.0);
    let inner_height = (height - 2.0 * PAD_Y).max(1.0);
    let x_of = |index: usize| {
        if plotted.len() == 1 {
            PAD_LEFT + inner_width / 2.0
        } else {
            PAD_LEFT + inner_width * index as f64 / (plotted.len() - 1) as f64
        }
    };
    let y_of = |value: f64, top: f64| PAD_Y + inner_height * (1.0 - value / top);
    let points: Vec<ChartPoint> = plotted
        .iter()
        .enumerate()
        .map(|(index, (number, a, size, layers))| ChartPoint {
            attempt: a.id.clone(),
            number: *number,
            at: a.at.clone(),
            passed: a.passed,
            size_bytes: *size,
            layers: *layers,
            x: round(x_of(index)),
            size_y: round(y_of(*size as f64, size_top as f64)),
            layers_y: round(y_of(f64::from(*layers), f64::from(layers_top))),
        })
        .collect();
    let line = |y: fn(&ChartPoint) -> f64| {
        points
            .iter()
            .map(|p| format!("{},{}", p.x, y(p)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let first = plotted.first().map_or(0, |p| p.2);
    let last = plotted.last().map_or(0, |p| p.2);
    Some(AttemptChart {
        width,
        height,
        size_line: line(|p| p.size_y),
        layers_line: line(|p| p.layers_y),
        points,
        size_top,
        layers_top,
        without_image: attempts.len() - plotted.len(),
        size_change: i64::try_from(last).unwrap_or(i64::MAX)
            - i64::try_from(first).unwrap_or(i64::MAX),
    })
}

/// The smallest 1, 2 or 5 × 10ⁿ bytes at or above `value` (at least 1): a round axis top.
fn nice_ceiling(value: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let candidate = step.saturating_mul(m);
            if candidate >= value || candidate == u64::MAX {
                return candidate.max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(id: &str, size: Option<u64>, layers: Option<u32>, passed: bool) -> AttemptSummary {
        AttemptSummary {
            id: id.into(),
            exercise: "multi-stage".into(),
            status: if size.is_some() {
                "succeeded"
            } else {
                "failed"
            }
            .into(),
            passed,
            checks_passed: 0,
            checks_total: 4,
            size_bytes: size,
            layers,
            at: format!("at {id}"),
        }
    }

    #[test]
    fn a_move_to_multi_stage_shows_as_a_drop() {
        const MB: u64 = 1_000_000;
        let attempts = [
            attempt("a", Some(380 * MB), Some(6), false),
            attempt("b", None, None, false),
            attempt("c", Some(381 * MB), Some(7), false),
            attempt("d", Some(2 * MB), Some(2), true),
        ];
        let chart = attempt_chart(&attempts, 600.0, 200.0).expect("a chart");
        assert_eq!(
            chart.points.len(),
            3,
            "the failed build has no image to plot"
        );
        assert_eq!(chart.without_image, 1);
        let numbers: Vec<usize> = chart.points.iter().map(|p| p.number).collect();
        assert_eq!(numbers, [1, 3, 4], "points keep their attempt numbers");
        assert_eq!(chart.size_top, 500 * MB);
        assert_eq!(chart.layers_top, 8);
        // Evenly spread from the left edge of the plot to the right edge.
        let xs: Vec<f64> = chart.points.iter().map(|p| p.x).collect();
        assert_eq!(xs, [64.0, 312.0, 560.0]);
        // Bigger is higher (smaller y); the last one drops towards the bottom (y = 184).
        let [a, c, d] = [&chart.points[0], &chart.points[1], &chart.points[2]];
        assert!(c.size_y < a.size_y && d.size_y > a.size_y, "{chart:#?}");
        assert_eq!(a.size_y, round(16.0 + 168.0 * (1.0 - 380.0 / 500.0)));
        assert!((d.size_y - 184.0).abs() < 1.0, "{}", d.size_y);
        assert!(d.layers_y > c.layers_y);
        assert_eq!(chart.size_change, 2 * MB as i64 - 380 * MB as i64);
        assert_eq!(
            chart.size_line,
            format!("64,{} 312,{} 560,{}", a.size_y, c.size_y, d.size_y)
        );
        assert!(d.passed && !a.passed);
    }

    #[test]
    fn one_attempt_sits_in_the_middle_and_empty_images_give_no_nan() {
        let chart =
            attempt_chart(&[attempt("a", Some(0), Some(0), true)], 600.0, 200.0).expect("a chart");
        let p = &chart.points[0];
        assert_eq!(p.x, 312.0);
        assert!(p.size_y.is_finite() && p.layers_y.is_finite(), "{p:?}");
        assert_eq!(p.size_y, 184.0, "zero bytes sit on the axis");
        assert_eq!(chart.size_top, 1);
        assert_eq!(chart.size_change, 0);
        assert!(attempt_chart(&[attempt("x", None, None, false)], 600.0, 200.0).is_none());
        assert!(attempt_chart(&[], 600.0, 200.0).is_none());
    }

    #[test]
    fn a_fresh_result_summarises_like_a_stored_one() {
        let mut view = crate::dto::BuildView::queued("b9", "multi-stage");
        view.status = crate::dto::BuildStatus::Succeeded;
        view.checks = Some(vec![
            crate::dto::CheckOutcome {
                id: "a".into(),
                passed: true,
                message: String::new(),
                learn_more: None,
            },
            crate::dto::CheckOutcome {
                id: "b".into(),
                passed: false,
                message: String::new(),
                learn_more: None,
            },
        ]);
        let s = summary_of(&view, "just now");
        assert_eq!((s.passed, s.checks_passed, s.checks_total), (false, 1, 2));
        assert_eq!((s.size_bytes, s.layers), (None, None));
        view.checks.as_mut().expect("checks")[1].passed = true;
        assert!(summary_of(&view, "just now").passed);
    }

    #[test]
    fn axis_tops_are_round_numbers() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(1_985_590), 2_000_000);
        assert_eq!(nice_ceiling(2_000_001), 5_000_000);
        assert_eq!(nice_ceiling(u64::MAX), u64::MAX);
    }
}

/// Two attempts side by side: their Dockerfiles as a line diff and their layer tables.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptPair {
    pub exercise_title: String,
    /// Where "back" goes: the exercise for a learner, the learner's record for an instructor.
    pub back: String,
    pub left: AttemptSide,
    pub right: AttemptSide,
    pub diff: Vec<DiffLine>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptSide {
    pub summary: AttemptSummary,
    /// Its number on the attempt chart (oldest is 1); none for a cancelled build.
    #[serde(default)]
    pub number: Option<usize>,
    pub image: Option<super::ImageFacts>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffKind {
    Same,
    Removed,
    Added,
}

impl DiffKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DiffKind::Same => "same",
            DiffKind::Removed => "removed",
            DiffKind::Added => "added",
        }
    }
}

/// One line of a diff, with its number on each side it is on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    pub kind: DiffKind,
    pub left: Option<u32>,
    pub right: Option<u32>,
    pub text: String,
}

/// Beyond this many line pairs the diff is not searched: all of `left` goes, all of `right`
/// comes (a Dockerfile that big is no exercise).
const MAX_DIFF_CELLS: usize = 4_000_000;

/// The lines of `left` and `right` in order, marked kept, removed or added, keeping as many
/// lines as possible (a longest common subsequence).
pub fn line_diff(left: &str, right: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = left.lines().collect();
    let b: Vec<&str> = right.lines().collect();
    let number = |i: usize| Some(u32::try_from(i + 1).unwrap_or(u32::MAX));
    let line = |kind, l: Option<u32>, r: Option<u32>, text: &str| DiffLine {
        kind,
        left: l,
        right: r,
        text: text.to_string(),
    };
    if a.len().saturating_mul(b.len()) > MAX_DIFF_CELLS {
        let mut out: Vec<DiffLine> = a
            .iter()
            .enumerate()
            .map(|(i, t)| line(DiffKind::Removed, number(i), None, t))
            .collect();
        out.extend(
            b.iter()
                .enumerate()
                .map(|(j, t)| line(DiffKind::Added, None, number(j), t)),
        );
        return out;
    }
    // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let width = b.len() + 1;
    let mut common = vec![0u32; (a.len() + 1) * width];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i * width + j] = if a[i] == b[j] {
                common[(i + 1) * width + j + 1] + 1
            } else {
                common[(i + 1) * width + j].max(common[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(line(DiffKind::Same, number(i), number(j), a[i]));
            i += 1;
            j += 1;
        } else if i < a.len()
            && (j == b.len() || common[(i + 1) * width + j] >= common[i * width + j + 1])
        {
            out.push(line(DiffKind::Removed, number(i), None, a[i]));
            i += 1;
        } else {
            out.push(line(DiffKind::Added, None, number(j), b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod diff_tests {
    use super::*;

    fn kinds(diff: &[DiffLine]) -> Vec<(&'static str, &str)> {
        diff.iter()
            .map(|d| (d.kind.as_str(), d.text.as_str()))
            .collect()
    }

    #[test]
    fn a_move_to_multi_stage_keeps_the_shared_lines() {
        let before = "FROM gcc:12\nWORKDIR /src\nCOPY hello.c .\nRUN gcc -static -o hello hello.c\nCMD [\"./hello\"]\n";
        let after = "FROM gcc:12 AS build\nWORKDIR /src\nCOPY hello.c .\nRUN gcc -static -o hello hello.c\n\nFROM busybox:1.36\nCOPY --from=build /src/hello /hello\nCMD [\"/hello\"]\n";
        let diff = line_diff(before, after);
        assert_eq!(
            kinds(&diff),
            [
                ("removed", "FROM gcc:12"),
                ("added", "FROM gcc:12 AS build"),
                ("same", "WORKDIR /src"),
                ("same", "COPY hello.c ."),
                ("same", "RUN gcc -static -o hello hello.c"),
                ("removed", "CMD [\"./hello\"]"),
                ("added", ""),
                ("added", "FROM busybox:1.36"),
                ("added", "COPY --from=build /src/hello /hello"),
                ("added", "CMD [\"/hello\"]"),
            ]
        );
        // Line numbers follow each side.
        assert_eq!((diff[2].left, diff[2].right), (Some(2), Some(2)));
        assert_eq!((diff[0].left, diff[0].right), (Some(1), None));
        assert_eq!((diff[1].left, diff[1].right), (None, Some(1)));
        assert_eq!((diff[5].left, diff[5].right), (Some(5), None));
        assert_eq!((diff[9].left, diff[9].right), (None, Some(8)));
    }

    #[test]
    fn equal_and_empty_sides() {
        let same = line_diff("A\nB", "A\nB");
        assert!(same.iter().all(|d| d.kind == DiffKind::Same) && same.len() == 2);
        assert_eq!(kinds(&line_diff("", "X")), [("added", "X")]);
        assert_eq!(kinds(&line_diff("X", "")), [("removed", "X")]);
        assert!(line_diff("", "").is_empty());
    }
}
