#![recursion_limit = "256"]
//! layerlab's user interface: pages rendered on the server, the interactive islands in them
//! (quiz, workbench, layer explorer, live dashboard) hydrated in the browser, the server
//! functions they call, and the data they exchange.

pub mod ansi;
pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod dockerfile;
#[cfg(feature = "ssr")]
pub mod document;
pub mod dto;
pub mod error;
pub mod lint;
pub mod markup;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

/// The Content-Security-Policy of every page: scripts only from this server or carrying this
/// response's nonce (Leptos puts it on its inline hydration scripts), WebAssembly allowed,
/// no framing, forms and connections only back to us.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(value) = http::HeaderValue::from_str(&content_security_policy(&nonce)) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options islands=true/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="layerlab-css" href="/style/layerlab.css"/>
        <Title formatter=|page: String| {
            if page.is_empty() { "layerlab".to_string() } else { format!("{page} · layerlab") }
        }/>
        <Router>
            <SiteHeaderAtLocation/>
            <pages::EngineBanner/>
            <main id="main">
                <Routes fallback=pages::NotFound>
                    // Async: the server sends finished HTML, so pages work with JavaScript off.
                    <Route path=path!("/") view=pages::CourseMapPage ssr=SsrMode::Async/>
                    // `/learn/:lesson` is rendered in one pass by the server (document.rs).
                    <Route path=path!("/exercises/:id") view=pages::ExercisePage ssr=SsrMode::Async/>
                    <Route path=path!("/playground") view=pages::PlaygroundPage ssr=SsrMode::Async/>
                    <Route path=path!("/console") view=pages::ConsolePage ssr=SsrMode::Async/>
                    <Route path=path!("/me") view=pages::ProfilePage ssr=SsrMode::Async/>
                    <Route path=path!("/registry") view=pages::RegistryPageView ssr=SsrMode::Async/>
                    <Route path=path!("/resume/:code") view=pages::ResumePage ssr=SsrMode::Async/>
                    <Route path=path!("/instructor/login") view=pages::LoginPageView ssr=SsrMode::Async/>
                    <Route path=path!("/instructor") view=pages::InstructorHomePage ssr=SsrMode::Async/>
                    <Route path=path!("/instructor/cohorts/:id") view=pages::DashboardPage ssr=SsrMode::Async/>
                    <Route path=path!("/instructor/cohorts/:id/learners/:learner") view=pages::LearnerPage ssr=SsrMode::Async/>
                    <Route path=path!("/instructor/attempts/:id") view=pages::AttemptPage ssr=SsrMode::Async/>
                    <Route path=path!("/compare/:left/:right") view=pages::ComparePage ssr=SsrMode::Async/>
                </Routes>
            </main>
            <SiteFooter/>
        </Router>
    }
}

/// The header at the router's current location.
#[component]
fn SiteHeaderAtLocation() -> impl IntoView {
    let path = leptos_router::hooks::use_location()
        .pathname
        .get_untracked();
    view! { <SiteHeader path/> }
}

/// The top bar of every page; the section `path` belongs to is marked current.
#[component]
pub(crate) fn SiteHeader(path: String) -> impl IntoView {
    let link = |href: &'static str, label: &'static str, current: bool| {
        view! { <a href=href aria-current=current.then_some("page")>{label}</a> }
    };
    view! {
        <header class="site-header">
            <a href="/" class="brand">
                <span class="brand-mark" aria-hidden="true">"▤"</span>
                <span class="brand-name">"layerlab"</span>
            </a>
            <nav>
                {link("/", "Course", path == "/" || path.starts_with("/learn/"))}
                {link("/playground", "Playground", path == "/playground")}
                {link("/console", "Console", path == "/console")}
                {link("/me", "Your progress", path == "/me")}
            </nav>
        </header>
    }
}

#[component]
pub(crate) fn SiteFooter() -> impl IntoView {
    view! {
        <footer class="site-footer">
            "layerlab — learn Docker by building real images."
        </footer>
    }
}

/// The browser's entry point: hydrate every island (the rest of the page is plain server
/// HTML), then say so on `<body>` once the work they queued has run: tests wait for it, and
/// the CSS can reveal controls that need JavaScript.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    set_timeout(
        || {
            if let Some(body) = document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}
