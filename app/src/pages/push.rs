//! Tag & push under a successful build: the learner types a name and tag, the server pushes
//! the build's image into their namespace of the class registry, and the lines `docker push`
//! would print come in live; the result (the digest the registry holds, the command to pull
//! it) is rendered by the server (`…/pushes/<id>?format=html`). The panel is server HTML and
//! the browser's part a handler on the slot it is drawn in: a Leptos view of it cost the
//! bundle 5–7 kB gzipped (measured), against its budget.

use leptos::either::Either;
use leptos::prelude::*;

/// The panel under a successful build of the learner's, as the server renders it (no code
/// of it in the browser bundle): the form, a log for the push's lines, a place for its
/// result. `url` is where the build is pushed (`/api/v1/builds/<id>/push`); [`on_submit`],
/// on the slot around it, does the rest.
#[component]
pub(crate) fn PushForm(url: String) -> impl IntoView {
    view! {
        <section class="push-panel" aria-labelledby="push-title">
            <h2 class="section-title" id="push-title">"Tag & push"</h2>
            <p class="muted">
                "Send this image to your namespace in the class registry, as "
                <code>"docker tag"</code> " and " <code>"docker push"</code> " would. "
                <a href="/registry">"Your registry →"</a>
            </p>
            <form class="inline-form push-form" data-push-url=url>
                <label for="push-tag">"Name and tag"</label>
                <input id="push-tag" name="tag" type="text" required autocomplete="off"
                    spellcheck="false" placeholder="my-app:1.0.0"/>
                <button class="button" type="submit">"Tag & push"</button>
            </form>
            <pre class="push-log" aria-live="polite" hidden></pre>
            <div class="push-outcome"></div>
            <p class="error-box push-problem" role="alert" hidden></p>
        </section>
    }
}

/// A Tag & push form sent (the event bubbles up to the slot the panel is drawn in): push,
/// writing the lines into the panel's log as they come, then its result or the refusal.
pub(crate) fn on_submit(event: leptos::ev::SubmitEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(form) = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        let Some(url) = form.get_attribute("data-push-url") else {
            return;
        };
        event.prevent_default();
        let Some(panel) = Panel::around(&form) else {
            return;
        };
        if panel.button.disabled() {
            return;
        }
        let typed = web_sys::FormData::new_with_form(&form)
            .ok()
            .and_then(|data| data.get("tag").as_string())
            .unwrap_or_default();
        panel.start();
        leptos::task::spawn_local(async move {
            let result = push(&url, &typed, &panel).await;
            panel.end(result);
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = event;
}

/// The parts of a drawn panel the push writes into.
#[cfg(feature = "hydrate")]
struct Panel {
    button: web_sys::HtmlButtonElement,
    log: web_sys::HtmlElement,
    outcome: web_sys::Element,
    problem: web_sys::HtmlElement,
}

#[cfg(feature = "hydrate")]
impl Panel {
    fn around(form: &web_sys::HtmlFormElement) -> Option<Panel> {
        use wasm_bindgen::JsCast;
        let panel = form.parent_element()?;
        let find = |selector: &str| panel.query_selector(selector).ok().flatten();
        Some(Panel {
            button: find("button")?.dyn_into().ok()?,
            log: find(".push-log")?.dyn_into().ok()?,
            outcome: find(".push-outcome")?,
            problem: find(".push-problem")?.dyn_into().ok()?,
        })
    }

    fn start(&self) {
        self.button.set_disabled(true);
        self.button.set_text_content(Some("Pushing…"));
        self.log.set_text_content(None);
        self.log.set_hidden(true);
        self.outcome.set_inner_html("");
        self.problem.set_hidden(true);
    }

    fn line(&self, line: &str) {
        let mut text = self.log.text_content().unwrap_or_default();
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(line);
        self.log.set_text_content(Some(&text));
        self.log.set_hidden(false);
    }

    /// When the push changed the build's checks (`data-rejudged` names the build), draw the
    /// page's check list and verdict again from the server.
    fn refresh_checks(&self) {
        let Some(build) = self
            .outcome
            .query_selector("[data-rejudged]")
            .ok()
            .flatten()
            .and_then(|e| e.get_attribute("data-rejudged"))
        else {
            return;
        };
        let outcome_build = build.clone();
        leptos::task::spawn_local(async move {
            let Ok(outcome) = crate::api::load_build_outcome(build).await else {
                return;
            };
            let document = leptos::prelude::document();
            // Only while the page still shows that build (a newer one may have started).
            let shown = document
                .query_selector(".results[data-build]")
                .ok()
                .flatten()
                .and_then(|r| r.get_attribute("data-build"));
            if shown.as_deref() != Some(outcome_build.as_str()) {
                return;
            }
            let swap = |selector: &str, html: &str| {
                if let Ok(Some(slot)) = document.query_selector(selector) {
                    slot.set_inner_html(html);
                }
            };
            swap("#checks", &outcome.checks_html);
            swap(".build-verdict", &outcome.verdict_html);
        });
    }

    fn end(&self, result: Result<String, String>) {
        match result {
            // The server rendered it, escaping every text.
            Ok(html) => {
                self.outcome.set_inner_html(&html);
                self.refresh_checks();
            }
            Err(problem) => {
                self.problem.set_text_content(Some(&problem));
                self.problem.set_hidden(false);
            }
        }
        self.button.set_disabled(false);
        self.button.set_text_content(Some("Tag & push"));
    }
}

/// Start the push, follow its lines, then fetch its result as HTML.
#[cfg(feature = "hydrate")]
async fn push(url: &str, typed: &str, panel: &Panel) -> Result<String, String> {
    let request = crate::dto::PushRequest {
        tag: typed.to_string(),
    };
    let response = gloo_net::http::Request::post(url)
        .json(&request)
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|e| format!("The server could not be reached: {e}"))?;
    if response.status() != 202 {
        return Err(super::refusal(response, "The push was refused.").await);
    }
    let accepted: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    let (Some(id), Some(events)) = (accepted["id"].as_str(), accepted["events"].as_str()) else {
        return Err("The server's answer named no push.".into());
    };
    follow(events, panel).await;
    let result = gloo_net::http::Request::get(&format!("/api/v1/pushes/{id}?format=html"))
        .send()
        .await
        .map_err(|e| format!("The server could not be reached: {e}"))?;
    if result.status() != 200 {
        return Err(super::refusal(result, "The push's result could not be read.").await);
    }
    result.text().await.map_err(|e| e.to_string())
}

/// Take the push's `line` events until `done` (or the stream breaks).
#[cfg(feature = "hydrate")]
async fn follow(url: &str, panel: &Panel) {
    use futures::StreamExt;
    let (sender, mut events) = futures::channel::mpsc::unbounded::<(&'static str, String)>();
    let Some(source) = super::EventFeed::open(url, &["line", "done"], &sender) else {
        return;
    };
    drop(sender);
    while let Some(("line", data)) = events.next().await {
        if let Ok(line) = serde_json::from_str::<String>(&data) {
            panel.line(&line);
        }
    }
    source.close();
}

/// A push's result, as the server renders it: the reference, the digest the registry holds,
/// and the command to pull it; or what went wrong.
#[component]
pub(crate) fn PushResult(push: crate::dto::PushView) -> impl IntoView {
    use crate::dto::{human_size, PushStatus};
    match push.status {
        PushStatus::Pushed => Either::Left(view! {
            <div class="push-result" data-status="pushed">
                <p><strong>"✓ Pushed "</strong><code>{push.reference.clone()}</code></p>
                <dl class="facts">
                    <dt>"Digest"</dt>
                    <dd><code class="push-digest">{push.digest.clone().unwrap_or_default()}</code></dd>
                    <dt>"Size in the registry"</dt>
                    <dd>{human_size(push.size_bytes.unwrap_or_default())}</dd>
                    <dt>"Pull it anywhere"</dt>
                    <dd><code class="pull-command">{push.pull.clone().unwrap_or_default()}</code></dd>
                </dl>
                {push.checks.as_ref().map(|checks| {
                    let passing = checks.iter().filter(|c| c.passed).count();
                    view! {
                        <p class="push-rejudged" data-rejudged=push.build.clone()>
                            {format!("The exercise's checks were judged again on what your registry holds: {passing} of {} pass. ", checks.len())}
                            <a href="#checks">"See the checks"</a>
                        </p>
                    }
                })}
            </div>
        }),
        PushStatus::Failed | PushStatus::Pushing => Either::Right(view! {
            <p class="error-box push-problem" role="alert" data-status="failed">
                {push.error.clone().unwrap_or_else(|| "The push is still going.".into())}
            </p>
        }),
    }
}
