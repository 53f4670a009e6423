//! The layer explorer under a build's result: on request, each layer of the image with the
//! instruction that made it, its size and its files as a tree (added / changed / deleted),
//! plus the bytes later layers waste. The server renders the report (`…/layers?format=html`).

use crate::dto::{file_tree, human_size, LayerEntry, LayerReport, TreeNode};
use leptos::either::Either;
use leptos::prelude::*;

/// A button that loads the report from `url` (as server-rendered HTML), then the report: the
/// trees open and close as `<details>`, without code.
#[island]
pub(crate) fn LayerExplorer(url: String) -> impl IntoView {
    let report: RwSignal<Option<Result<String, String>>> = RwSignal::new(None);
    let loading = RwSignal::new(false);
    let load = move |_| {
        if loading.get_untracked() {
            return;
        }
        loading.set(true);
        #[cfg(feature = "hydrate")]
        {
            let url = format!("{url}?format=html");
            leptos::task::spawn_local(async move {
                report.set(Some(fetch(&url).await));
                loading.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &url;
    };
    view! {
        <section class="layer-explorer">
            {move || report.with(|r| r.is_none()).then(|| view! {
                <button class="button explore-layers" on:click=load.clone() disabled=move || loading.get()>
                    {move || if loading.get() { "Reading the image…" } else { "Explore the layers" }}
                </button>
            })}
            {move || report.get().map(|r| match r {
                Ok(html) => Either::Left(view! { <div class="html-slot" inner_html=html></div> }),
                Err(problem) => Either::Right(view! { <p class="error-box layers-problem" role="alert">{problem}</p> }),
            })}
        </section>
    }
}

#[cfg(feature = "hydrate")]
async fn fetch(url: &str) -> Result<String, String> {
    let response = gloo_net::http::Request::get(url)
        .send()
        .await
        .map_err(|e| format!("The server could not be reached: {e}"))?;
    if response.status() != 200 {
        return Err(super::refusal(response, "The layers could not be read.").await);
    }
    response.text().await.map_err(|e| e.to_string())
}

/// The report: totals, where the waste is, and each layer's files as a tree.
#[component]
pub(crate) fn LayerReportView(report: LayerReport) -> impl IntoView {
    let efficiency = format!("{:.1} %", report.efficiency * 100.0);
    let wasted = report.wasted.clone();
    view! {
        <h2 class="section-title">"Layers and their files"</h2>
        <dl class="facts layer-summary">
            <dt>"Stored in layers"</dt>
            <dd class="layers-total" data-bytes=report.total_bytes>{human_size(report.total_bytes)}</dd>
            <dt>"Wasted"</dt>
            <dd class="layers-wasted" data-bytes=report.wasted_bytes>
                {human_size(report.wasted_bytes)}
                <span class="muted">" in files a later layer deletes or replaces"</span>
            </dd>
            <dt>"Efficiency"</dt>
            <dd class="layers-efficiency">{efficiency}</dd>
        </dl>
        {(!wasted.is_empty()).then(|| view! {
            <table class="wasted-files">
                <caption>"Where the waste is: stored in one layer, gone from the next"</caption>
                <thead><tr><th>"File"</th><th>"Size"</th><th>"Stored by"</th><th>"Removed by"</th></tr></thead>
                <tbody>
                    {wasted.into_iter().map(|w| view! {
                        <tr>
                            <td><code>{w.path}</code></td>
                            <td class="num">{human_size(w.size_bytes)}</td>
                            <td class="num">{format!("layer {}", w.added_in + 1)}</td>
                            <td class="num">{format!("layer {}", w.removed_in + 1)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
        <ol class="layer-list">
            {report.layers.into_iter().map(|layer| view! { <Layer layer/> }).collect_view()}
        </ol>
    }
}

#[component]
fn Layer(layer: LayerEntry) -> impl IntoView {
    let tree = file_tree(&layer.files);
    let counts = format!(
        "{} change{}",
        layer.files_total,
        if layer.files_total == 1 { "" } else { "s" }
    );
    let note = layer.files_truncated.then(|| {
        view! {
            <p class="muted">{format!(
                "Showing the {} biggest of {} changes.",
                layer.files.len(),
                layer.files_total
            )}</p>
        }
    });
    view! {
        <li class="layer" data-layer=layer.index>
            <details>
                <summary>
                    <span class="layer-number">{format!("{}", layer.index + 1)}</span>
                    <code class="layer-instruction">{layer.instruction.clone()}</code>
                    <span class="layer-size num">{human_size(layer.size_bytes)}</span>
                    <span class="layer-changes muted">{counts}</span>
                    {(layer.removed_bytes > 0).then(|| view! {
                        <span class="layer-removes">{format!("removes {}", human_size(layer.removed_bytes))}</span>
                    })}
                </summary>
                {note}
                <ul class="file-tree">
                    {tree.into_iter().map(|node| view! { <Node node/> }).collect_view()}
                </ul>
            </details>
        </li>
    }
}

/// One file or directory; directories open and close.
#[component]
fn Node(node: TreeNode) -> AnyView {
    let kind = node.kind.map_or("within", |k| k.as_str());
    let size = if node.deleted_bytes > 0 && node.size_bytes == 0 {
        format!("−{}", human_size(node.deleted_bytes))
    } else if node.size_bytes > 0 {
        human_size(node.size_bytes)
    } else {
        String::new()
    };
    let label = view! {
        <span class="file-name">{node.name.clone()}{node.is_dir.then_some("/")}</span>
        {node.link.clone().map(|l| view! { <span class="file-link muted">{format!(" → {l}")}</span> })}
        <span class="file-size num">{size}</span>
        {node.kind.map(|k| view! { <span class=format!("file-kind {}", k.as_str())>{k.as_str()}</span> })}
    };
    if node.children.is_empty() {
        view! { <li class=format!("file {kind}") data-path=node.path.clone()>{label}</li> }
            .into_any()
    } else {
        let children = node.children;
        view! {
            <li class=format!("dir {kind}") data-path=node.path.clone()>
                <details>
                    <summary>{label}</summary>
                    <ul>{children.into_iter().map(|node| view! { <Node node/> }).collect_view()}</ul>
                </details>
            </li>
        }
        .into_any()
    }
}
