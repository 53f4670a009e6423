use crate::api::check_engine;
use leptos::prelude::*;

/// Tells the learner, on every page, when builds cannot run and why; silent when all is well.
#[component]
pub fn EngineBanner() -> impl IntoView {
    let status = Resource::new(|| (), |_| check_engine());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let view = match status.await {
                    Ok(s) if s.builds_available() => None,
                    Ok(s) if !s.reachable => Some(format!(
                        "Builds are unavailable: the Docker engine at {} does not answer ({}). \
                         Lessons and quizzes still work.",
                        s.docker_host,
                        s.problem.unwrap_or_else(|| "no reason given".into()),
                    )),
                    Ok(s) => {
                        let missing: Vec<String> = s
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
                    Err(e) => Some(format!("Cannot tell whether builds work: {e}")),
                };
                view.map(|text| {
                    view! {
                        <div class="engine-banner" role="status" id="engine-banner">
                            <strong>"Heads up. "</strong>
                            {text}
                        </div>
                    }
                })
            })}
        </Suspense>
    }
}
