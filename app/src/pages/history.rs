//! The attempt chart: image size (left axis) and layer count (right axis) for each attempt at
//! an exercise that built an image, drawn as SVG from [`attempt_chart`].

use crate::dto::{
    attempt_chart, human_size, plural, AttemptPair, AttemptSide, AttemptSummary, DiffKind,
};
use leptos::prelude::*;
use leptos_meta::Title;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;

/// Nothing when no attempt built an image. `link`: where a dot leads, given the attempt id.
#[component]
pub(crate) fn AttemptChartView(
    attempts: Vec<AttemptSummary>,
    #[prop(optional)] link: Option<fn(&str) -> String>,
) -> impl IntoView {
    let Some(chart) = attempt_chart(&attempts, WIDTH, HEIGHT) else {
        return ().into_any();
    };
    let (left, right, top, bottom) = (64.0, WIDTH - 40.0, 16.0, HEIGHT - 16.0);
    let first = chart.points.first().map(|p| (p.number, p.size_bytes));
    let last = chart.points.last().map(|p| (p.number, p.size_bytes));
    let summary = match (first, last) {
        (Some((a, from)), Some((b, to))) if a != b => format!(
            "Attempt {a} → {b}: {} → {} ({})",
            human_size(from),
            human_size(to),
            if to < from {
                format!("{} smaller", human_size(from - to))
            } else if to > from {
                format!("{} bigger", human_size(to - from))
            } else {
                "the same".to_string()
            }
        ),
        _ => "One attempt built an image so far.".to_string(),
    };
    let skipped = (chart.without_image > 0).then(|| {
        format!(
            " {} attempt{} without an image (the build failed) {} left out.",
            chart.without_image,
            if chart.without_image == 1 { "" } else { "s" },
            if chart.without_image == 1 {
                "is"
            } else {
                "are"
            }
        )
    });
    let compare = match (chart.points.first(), chart.points.last()) {
        (Some(a), Some(b)) if a.attempt != b.attempt => Some(view! {
            <a class="compare-link" href=format!("/compare/{}/{}", a.attempt, b.attempt)>
                {format!("Compare attempt {} with {}", a.number, b.number)}
            </a>
        }),
        _ => None,
    };
    // At most about twenty numbers under the axis, so they never run into each other.
    let label_every = chart.points.len().div_ceil(20).max(1);
    let last_index = chart.points.len().saturating_sub(1);
    let dots = chart
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let labelled = i % label_every == 0 || i == last_index;
            let title = format!(
                "Attempt {} ({}): {}, {} layer{}{}",
                p.number,
                p.at,
                human_size(p.size_bytes),
                p.layers,
                if p.layers == 1 { "" } else { "s" },
                if p.passed { ", passed" } else { "" }
            );
            let dot = view! {
                <circle class="size-dot" class:passed=p.passed cx=p.x cy=p.size_y r="5">
                    <title>{title.clone()}</title>
                </circle>
                <rect class="layers-dot" x=p.x - 4.0 y=p.layers_y - 4.0 width="8" height="8">
                    <title>{title}</title>
                </rect>
                {labelled.then(|| view! {
                    <text class="x-label" x=p.x y=HEIGHT - 1.0 text-anchor="middle">{format!("#{}", p.number)}</text>
                })}
            };
            match link {
                Some(link) => view! {
                    <a href=link(&p.attempt) class="point" data-attempt=p.attempt.clone()>{dot}</a>
                }
                .into_any(),
                None => view! { <g class="point" data-attempt=p.attempt.clone()>{dot}</g> }.into_any(),
            }
        })
        .collect_view();
    view! {
        <figure class="attempt-chart" data-points=chart.points.len() data-size-change=chart.size_change>
            <div class="chart-scroll">
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label="Image size and layer count of each attempt, oldest on the left"
            >
                <line class="axis" x1=left y1=top x2=left y2=bottom/>
                <line class="axis" x1=right y1=top x2=right y2=bottom/>
                <line class="axis" x1=left y1=bottom x2=right y2=bottom/>
                <text class="axis-label size" x=left - 6.0 y=top + 4.0 text-anchor="end">{human_size(chart.size_top)}</text>
                <text class="axis-label size" x=left - 6.0 y=bottom text-anchor="end">"0"</text>
                <text class="axis-label layers" x=right + 6.0 y=top + 4.0>{chart.layers_top}</text>
                <text class="axis-label layers" x=right + 6.0 y=bottom>"0"</text>
                <polyline class="size-line" points=chart.size_line.clone()/>
                <polyline class="layers-line" points=chart.layers_line.clone()/>
                {dots}
            </svg>
            </div>
            <figcaption>
                {compare}
                <span class="legend size">"● image size (left)"</span>
                <span class="legend layers">"■ layers (right)"</span>
                <span class="chart-summary">{summary}{skipped}</span>
            </figcaption>
        </figure>
    }
    .into_any()
}

/// `/compare/<left>/<right>`: two attempts' Dockerfiles as a diff, and their layer tables.
#[component]
pub fn ComparePage() -> impl IntoView {
    use leptos_router::hooks::use_params_map;
    let params = use_params_map();
    let pair = Resource::new(
        move || {
            let p = params.read();
            (
                p.get("left").unwrap_or_default(),
                p.get("right").unwrap_or_default(),
            )
        },
        |(left, right)| crate::api::load_attempt_pair(left, right),
    );
    super::loaded("Compare attempts", pair, |p| view! { <CompareView p/> })
}

#[component]
fn CompareView(p: AttemptPair) -> impl IntoView {
    let rows = p
        .diff
        .into_iter()
        .map(|d| {
            let mark = match d.kind {
                DiffKind::Same => " ",
                DiffKind::Removed => "−",
                DiffKind::Added => "+",
            };
            view! {
                <tr class=format!("diff-line {}", d.kind.as_str())>
                    <td class="num">{d.left}</td>
                    <td class="num">{d.right}</td>
                    <td class="diff-mark">{mark}</td>
                    <td><code>{d.text}</code></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <Title text=format!("Compare attempts: {}", p.exercise_title)/>
        <p class="breadcrumb"><a href=p.back.clone()>"← Back"</a></p>
        <h1>{format!("Compare attempts: {}", p.exercise_title)}</h1>
        <div class="compare-sides">
            <Side side=p.left label="Before"/>
            <Side side=p.right label="After"/>
        </div>
        <h2 class="section-title">"Dockerfile"</h2>
        <div class="table-scroll">
            <table class="diff">
                <thead><tr><th>"Before"</th><th>"After"</th><th></th><th></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn Side(side: AttemptSide, label: &'static str) -> impl IntoView {
    let s = side.summary;
    let layers = side.image.map(|image| {
        let rows = image
            .history
            .into_iter()
            .map(|h| {
                let instruction = h.instruction();
                view! {
                    <tr class:empty-layer=h.empty_layer>
                        <td><code>{if instruction.is_empty() { "(base image)".to_string() } else { instruction }}</code></td>
                        <td class="num">{if h.empty_layer { "—".to_string() } else { human_size(h.size_bytes) }}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-scroll">
                <table class="history">
                    <thead><tr><th>"Instruction"</th><th>"Layer size"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
    });
    view! {
        <section class="compare-side panel" data-attempt=s.id.clone()>
            <h2 class="section-title">
                {match side.number {
                    Some(n) => format!("{label}: attempt #{n}"),
                    None => format!("{label}: a cancelled build"),
                }}
            </h2>
            <p class="attempt-time"><time>{s.at.clone()}</time></p>
            <p>
                <span class=format!("status-pill {}", if s.passed { "passed" } else { "tried" })>
                    {if s.passed { "passed" } else { "not passed" }}
                </span>
                {format!(" · {}", s.outcome())}
                {s.size_bytes.map(|b| format!(" · {}", human_size(b)))}
                {s.layers.map(|l| format!(" · {}", plural(l as usize, "layer")))}
            </p>
            {layers}
        </section>
    }
}
