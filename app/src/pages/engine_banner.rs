use crate::api::check_engine;
use crate::dto::EngineStatus;
use leptos::prelude::*;

/// Tells the learner, on every page, when builds cannot run and why; silent when all is well.
#[component]
pub fn EngineBanner() -> impl IntoView {
    let status = Resource::new(|| (), |_| check_engine());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let text = match status.await {
                    Ok(s) => banner_text(s),
                    Err(e) => Some(format!("Cannot tell whether builds work: {e}")),
                };
                view! { <EngineBannerBox text/> }
            })}
        </Suspense>
    }
}

/// The banner for a status the page already has: nothing when builds work.
#[component]
pub fn EngineBannerBox(text: Option<String>) -> impl IntoView {
    text.map(|text| {
        view! {
            <div class="engine-banner" role="status" id="engine-banner">
                <strong>"Heads up. "</strong>
                {text}
            </div>
        }
    })
}

/// What the banner says about `status`, or `None` when builds can run.
pub fn banner_text(status: EngineStatus) -> Option<String> {
    if status.builds_available() {
        return None;
    }
    if !status.reachable {
        // Why, and where the engine is, is for instructors (`/api/v1/status`), not every
        // visitor.
        return Some(
            "Builds are unavailable: the Docker engine does not answer. \
             Lessons and quizzes still work; your instructor can see why."
                .to_string(),
        );
    }
    let missing: Vec<String> = status
        .base_images
        .into_iter()
        .filter(|b| !b.present)
        .map(|b| b.name)
        .collect();
    Some(format!(
        "Builds are limited: the engine lacks the base image{} {}. \
         An operator can create {} with `layerlab images seed`.",
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", "),
        if missing.len() == 1 { "it" } else { "them" },
    ))
}
