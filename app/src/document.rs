//! Pages the server renders in one pass: it loads their data first, then renders the whole
//! document once, with no router, resources or `<Suspense>` (which render a page's body
//! twice on the server: once to find its resources, once to write it). Learners read lessons
//! far more than anything else, so the lesson page goes this way; the islands in it hydrate
//! exactly as on the other pages.

use crate::dto::LessonView;
/// What the engine banner says about a status: the `banner` of [`lesson`].
pub use crate::pages::banner_text;
use crate::pages::{LessonArticle, MissingSection};
use crate::{SiteFooter, SiteHeader};
use futures::StreamExt;
use hydration_context::{SharedContext, SsrSharedContext};
use leptos::prelude::*;
use std::sync::Arc;

/// What a page about one thing shows: the thing, or why it is missing (`title`, message).
pub enum Loaded<T> {
    Found(T),
    Missing(&'static str, String),
}

/// The lesson page: `path` is the request's path (for the header), `banner` what the engine
/// banner says ([`banner_text`]), `nonce` the one the response's CSP allows (its inline
/// scripts carry it).
pub async fn lesson(
    options: &LeptosOptions,
    path: String,
    banner: Option<String>,
    nonce: &str,
    lesson: Loaded<LessonView>,
) -> String {
    let title = match &lesson {
        Loaded::Found(l) => l.title.clone(),
        Loaded::Missing(title, _) => title.to_string(),
    };
    page(options, title, path, banner, nonce, move || match lesson {
        Loaded::Found(lesson) => view! { <LessonArticle lesson/> }.into_any(),
        Loaded::Missing(title, message) => view! { <MissingSection title message/> }.into_any(),
    })
    .await
}

/// The whole document around `main`, as the app's shell and header draw it for every page.
async fn page(
    options: &LeptosOptions,
    title: String,
    path: String,
    banner: Option<String>,
    nonce: &str,
    main: impl FnOnce() -> AnyView,
) -> String {
    let context = Arc::new(SsrSharedContext::new());
    let owner = Owner::new_root(Some(context.clone() as Arc<dyn SharedContext + Send + Sync>));
    let mut html = owner.with(|| {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
        let title = if title.is_empty() {
            "layerlab".to_string()
        } else {
            format!("{title} · layerlab")
        };
        let options = options.clone();
        let head = view! {
            <meta charset="utf-8"/>
            <meta name="viewport" content="width=device-width, initial-scale=1"/>
            <HydrationScripts options islands=true/>
            <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
            <link id="layerlab-css" rel="stylesheet" href="/style/layerlab.css"/>
            <title>{title}</title>
        }
        .to_html();
        let body = view! {
            <SiteHeader path/>
            <crate::pages::EngineBannerBox text=banner/>
            <main id="main">{main()}</main>
            <SiteFooter/>
        }
        .to_html();
        format!("<!DOCTYPE html><html lang=\"en\"><head>{head}</head><body>{body}")
    });
    // The data the islands' hydration reads (Leptos's own scripts, empty on these pages).
    if let Some(chunks) = context.pending_data() {
        for chunk in chunks.collect::<Vec<_>>().await {
            html.push_str(&format!("<script nonce=\"{nonce}\">{chunk}</script>"));
        }
    }
    html.push_str("</body></html>");
    drop(owner);
    html
}
