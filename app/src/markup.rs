//! HTML fragments the server renders for the islands to swap in: a build's result panels,
//! check list and attempt chart, the layer explorer's report and the dashboard's matrix.
//! They are the same components the pages use, rendered to a string by Leptos, which escapes
//! every text and attribute value — learner text included — so the browser bundle needs no
//! code to draw them.

use crate::dto::{
    AttemptSummary, BuildOutcome, BuildView, CheckDescription, Dashboard, ExerciseView,
    LayerReport, ResultsHtml,
};
use crate::pages::{
    AttemptChartView, CheckList, DashboardBody, ExerciseRecord, FailureBox, HintList, ImagePanel,
    LayerReportView, LintList, PushForm, PushResult, RunPanel, Verdict,
};
use leptos::prelude::*;

/// Where the learner's own builds serve their layers.
pub const LEARNER_LAYERS: &str = "/api/v1/builds";

/// Render a view, made inside its own reactive owner, to an HTML string.
pub fn render<V: IntoView>(make: impl FnOnce() -> V) -> String {
    Owner::new().with(|| make().into_view().to_html())
}

/// A build's result panels; `layers_base` is where `<id>/layers` is served for whoever looks.
pub fn results(view: &BuildView, layers_base: &str) -> ResultsHtml {
    let head_html = render(|| {
        let lint = view.lint.clone();
        view! {
            {view.error.clone().map(|failure| view! { <FailureBox failure/> })}
            {(!lint.is_empty()).then(|| view! { <LintList findings=Signal::stored(lint) live=false/> })}
            {view.image.clone().map(|image| view! { <ImagePanel image/> })}
        }
    });
    let run_html = render(|| view.run.clone().map(|run| view! { <RunPanel run/> }));
    ResultsHtml {
        build: view.id.clone(),
        status: view.status,
        head_html,
        layers_url: view
            .image
            .is_some()
            .then(|| format!("{layers_base}/{}/layers", view.id)),
        run_html,
        push_html: if layers_base == LEARNER_LAYERS
            && view.status == crate::dto::BuildStatus::Succeeded
            && view.image.is_some()
        {
            let url = format!("{LEARNER_LAYERS}/{}/push", view.id);
            render(|| view! { <PushForm url/> })
        } else {
            String::new()
        },
    }
}

/// A push's result, for the Tag & push panel to show.
pub fn push_result(push: &crate::dto::PushView) -> String {
    render(|| view! { <PushResult push=push.clone()/> })
}

/// The exercise's checks with this build's verdicts (or none yet); empty without checks.
pub fn checks(planned: &[CheckDescription], result: Option<&BuildView>) -> String {
    if planned.is_empty() {
        return String::new();
    }
    render(|| view! { <CheckList planned=planned.to_vec() result=result.cloned()/> })
}

/// The size and layers chart with its heading; empty when no attempt built an image.
pub fn chart(attempts: &[AttemptSummary]) -> String {
    if crate::dto::attempt_chart(attempts, 1.0, 1.0).is_none() {
        return String::new();
    }
    render(|| {
        view! {
            <h2 class="section-title">"Your attempts"</h2>
            <AttemptChartView attempts=attempts.to_vec()/>
        }
    })
}

/// The learner's record on an exercise (status pill, attempts); empty for the playground.
pub fn record(exercise: &ExerciseView) -> String {
    if exercise.id == crate::dto::PLAYGROUND {
        return String::new();
    }
    render(|| view! { <ExerciseRecord exercise=exercise.clone()/> })
}

/// The hints unlocked so far, of `total`; empty when none is.
pub fn hints(hints: &[String], total: usize) -> String {
    if hints.is_empty() {
        return String::new();
    }
    render(|| view! { <HintList hints=hints.to_vec() total/> })
}

/// What a finished build came to, in a sentence (empty while it runs).
pub fn verdict(view: &BuildView, exercise: Option<&ExerciseView>) -> String {
    if !view.status.is_finished() {
        return String::new();
    }
    render(|| view! { <Verdict view=view.clone() exercise=exercise.cloned()/> })
}

/// Everything the workbench shows once `view` is over. `exercise` (absent for the
/// playground) gives the planned checks and the attempts so far; a build that counts as an
/// attempt but is not stored yet joins the chart as "just now".
pub fn build_outcome(view: &BuildView, exercise: Option<&ExerciseView>) -> BuildOutcome {
    let (checks_html, chart_html) = match exercise {
        Some(exercise) => {
            let mut attempts = exercise.attempts.clone();
            let counts = view.status.is_finished()
                && view.status != crate::dto::BuildStatus::Cancelled
                && !attempts.iter().any(|a| a.id == view.id);
            if counts {
                attempts.push(crate::dto::summary_of(view, "just now"));
            }
            (checks(&exercise.checks, Some(view)), chart(&attempts))
        }
        None => (String::new(), String::new()),
    };
    BuildOutcome {
        status: view.status,
        step: view.step,
        error_line: view.error.as_ref().and_then(|e| e.line),
        results: view
            .status
            .is_finished()
            .then(|| results(view, LEARNER_LAYERS)),
        checks_html,
        chart_html,
        verdict_html: verdict(view, exercise),
        failure: view.error.as_ref().map(|e| e.message.clone()),
        record_html: exercise.map(record).unwrap_or_default(),
        hints_html: match exercise {
            Some(e) if view.status.is_finished() => {
                // The build's own unlocked hints, or more if the learner asked since.
                let unlocked = if view.hints.len() > e.hints.len() {
                    &view.hints
                } else {
                    &e.hints
                };
                hints(unlocked, e.hint_count)
            }
            _ => String::new(),
        },
    }
}

/// The layer explorer's report (`…/layers?format=html`).
pub fn layers(report: &LayerReport) -> String {
    render(|| view! { <LayerReportView report=report.clone()/> })
}

/// The dashboard under its heading: notice, join code, the matrix and its legend.
pub fn dashboard(d: &Dashboard) -> String {
    render(|| view! { <DashboardBody d=d.clone()/> })
}

// Leptos renders to HTML only with `ssr` (`cargo test --workspace` turns it on).
#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::dto::{BuildFailure, BuildStatus};

    fn failed(message: &str) -> BuildView {
        let mut view = BuildView::queued("b1", "first-image");
        view.status = BuildStatus::Failed;
        view.error = Some(BuildFailure {
            code: "run_failed".into(),
            message: message.into(),
            line: Some(3),
        });
        view
    }

    #[test]
    fn learner_text_is_escaped() {
        let html = results(
            &failed("<script>alert(1)</script> & \"more\""),
            LEARNER_LAYERS,
        );
        assert!(
            html.head_html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp;"),
            "{}",
            html.head_html
        );
        assert!(!html.head_html.contains("<script>"));
        assert_eq!(html.layers_url, None, "no image, no explorer");
    }

    #[test]
    fn an_outcome_marks_the_failing_line_and_has_no_chart_without_an_exercise() {
        let outcome = build_outcome(&failed("boom"), None);
        assert_eq!(outcome.error_line, Some(3));
        assert!(outcome.results.is_some());
        assert_eq!(
            (outcome.checks_html.as_str(), outcome.chart_html.as_str()),
            ("", "")
        );
    }
}
