//! The pages of the learner's side and the pieces they share.

mod console;
mod console_exercise;
mod course_map;
mod engine_banner;
#[cfg(feature = "hydrate")]
pub(crate) mod events;
#[cfg(feature = "hydrate")]
pub(crate) use events::EventFeed;
mod history;
mod instructor;
mod layers;
#[cfg(feature = "ssr")]
mod lesson;
mod people;
mod push;
mod quiz;
mod registry;
mod workbench;

pub(crate) use console::ConsoleDock;
pub use console::ConsolePage;
pub use course_map::CourseMapPage;
pub use engine_banner::EngineBanner;
#[cfg(feature = "ssr")]
pub use engine_banner::{banner_text, EngineBannerBox};
pub(crate) use history::AttemptChartView;
pub use history::ComparePage;
pub(crate) use instructor::DashboardBody;
pub use instructor::{AttemptPage, DashboardPage, InstructorHomePage, LearnerPage, LoginPageView};
pub(crate) use layers::LayerReportView;
#[cfg(feature = "ssr")]
pub(crate) use lesson::LessonArticle;
pub(crate) use people::NoticeBox;
pub use people::{ProfilePage, ResumePage};
pub(crate) use push::{on_submit as push_submitted, PushForm, PushResult};
pub use registry::RegistryPageView;
pub(crate) use registry::Repository;
pub(crate) use workbench::{
    CheckList, ExerciseRecord, FailureBox, HintList, ImagePanel, LintList, RunPanel, Verdict,
};
pub use workbench::{ExercisePage, PlaygroundPage};

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <section class="panel not-found">
            <h1>"Nothing here"</h1>
            <p>"This page does not exist. The " <a href="/">"course map"</a> " lists every lesson."</p>
        </section>
    }
}

/// What a page shows when the thing it loads does not exist (or could not be loaded).
#[component]
pub(crate) fn MissingPanel(title: &'static str, message: String) -> impl IntoView {
    view! {
        <Title text=title/>
        <MissingSection title message/>
    }
}

/// The body of [`MissingPanel`], for pages that set their title themselves.
#[component]
pub(crate) fn MissingSection(title: &'static str, message: String) -> impl IntoView {
    view! {
        <section class="panel not-found">
            <h1>{title}</h1>
            <p class="error-box">{message}</p>
            <p><a href="/">"Back to the course map"</a></p>
        </section>
    }
}

/// A page's data, loaded on the server before the HTML goes out: `render` shows it, or the
/// page shows `title` and what went wrong.
pub(crate) fn loaded<T, V>(
    title: &'static str,
    resource: Resource<Result<T, crate::error::BackendError>>,
    render: impl Fn(T) -> V + Copy + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    V: IntoView + 'static,
{
    view! {
        <Title text=title/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match resource.await {
                    Ok(data) => render(data).into_any(),
                    Err(error) => view! { <MissingPanel title message=error_text(&error)/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A server function error as a short, readable message.
pub(crate) fn error_text(err: &crate::error::BackendError) -> String {
    err.to_string()
}

/// The message of a refused API request (`{"error": {"message": …}}`), or `fallback`.
#[cfg(feature = "hydrate")]
pub(crate) async fn refusal(response: gloo_net::http::Response, fallback: &str) -> String {
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    body["error"]["message"]
        .as_str()
        .unwrap_or(fallback)
        .to_string()
}
