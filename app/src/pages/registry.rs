//! `/registry`: what the learner's namespace of the class registry holds — repositories, tags,
//! digests, sizes, when each was pushed from here — with the commands to log in and pull.
//! Read from the registry itself on each visit.

use crate::api::load_registry;
use crate::dto::{human_size, RegistryPage, RegistryRepository, RegistryView};
use crate::pages::loaded;
use leptos::prelude::*;

#[component]
pub fn RegistryPageView() -> impl IntoView {
    let page = Resource::new(|| (), |_| load_registry());
    loaded("Your registry", page, |page| view! { <RegistryBody page/> })
}

#[component]
fn RegistryBody(page: RegistryPage) -> impl IntoView {
    view! {
        <section class="panel registry-page">
            <h1>"Your registry"</h1>
            <crate::pages::NoticeBox notice=page.notice.clone()/>
            {page.problem.clone().map(|p| view! { <p class="notice registry-problem" role="status">{p}</p> })}
            {page.view.map(|view| view! { <Namespace view gives_login=page.gives_login csrf=page.csrf.clone()/> })}
        </section>
    }
}

#[component]
fn Namespace(view: RegistryView, gives_login: bool, csrf: String) -> impl IntoView {
    let prefix = format!("{}/{}/", view.registry, view.namespace);
    let login = format!("docker login {} -u {}", view.registry, view.namespace);
    let empty = view.repositories.iter().all(|r| r.tags.is_empty());
    let usage = view.used_bytes.map(|used| match view.quota_bytes {
        Some(quota) => format!(
            "It holds {} of the {} each learner may keep here.",
            human_size(used),
            human_size(quota)
        ),
        None => format!("It holds {}.", human_size(used)),
    });
    view! {
        <p>
            "Your namespace is " <code class="namespace">{prefix.clone()}</code>
            ": you push and pull there, and no one else can push into it. Images go there with "
            <strong>"Tag & push"</strong> " under a successful build, or from your own docker CLI."
        </p>
        {usage.map(|u| view! { <p class="registry-usage" data-used=view.used_bytes.unwrap_or_default()>{u}</p> })}
        {gives_login.then(|| view! {
            <details class="registry-login">
                <summary>"Log in with the docker CLI"</summary>
                <p><code>{login}</code></p>
                <p class="muted">
                    "Your password is in " <a href="/api/v1/registry/login">"your registry login"</a>
                    " (keep it to yourself: it opens your namespace)."
                </p>
            </details>
        })}
        {if empty {
            view! {
                <p class="registry-empty">
                    "Nothing pushed yet. Build an exercise, then type a name and tag such as "
                    <code>"my-app:1.0.0"</code> " under Tag & push."
                </p>
            }.into_any()
        } else {
            view.repositories
                .into_iter()
                .filter(|r| !r.tags.is_empty())
                .map(|repository| view! { <Repository repository registry=view.registry.clone() namespace=view.namespace.clone() csrf=Some(csrf.clone())/> })
                .collect_view()
                .into_any()
        }}
    }
}

#[component]
pub(crate) fn Repository(
    repository: RegistryRepository,
    registry: String,
    namespace: String,
    /// The form token for Delete buttons; `None`: no buttons (an instructor looking).
    csrf: Option<String>,
) -> impl IntoView {
    let full = format!("{registry}/{}", repository.name);
    // The name as the learner types it: without their namespace.
    let short = repository
        .name
        .strip_prefix(&format!("{namespace}/"))
        .unwrap_or(&repository.name)
        .to_string();
    view! {
        <section class="registry-repository" data-repository=repository.name.clone()>
            <h2><code>{full}</code></h2>
            <table class="history registry-tags">
                <caption>"Tags, each pointing at one image by its digest"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Tag"</th>
                        <th scope="col">"Digest"</th>
                        <th scope="col" class="num">"Size"</th>
                        <th scope="col">"Pushed from here"</th>
                        <th scope="col">"Pull"</th>
                        {csrf.is_some().then(|| view! { <th scope="col"><span class="visually-hidden">"Delete"</span></th> })}
                    </tr>
                </thead>
                <tbody>
                    {repository.tags.into_iter().map(|tag| {
                        let digest = tag.digest.trim_start_matches("sha256:").chars().take(12).collect::<String>();
                        let name = format!("{short}:{}", tag.tag);
                        view! {
                            <tr data-tag=tag.tag.clone() data-digest=tag.digest.clone()>
                                <th scope="row"><code>{tag.tag.clone()}</code></th>
                                <td data-label="Digest"><code title=tag.digest.clone()>{format!("sha256:{digest}…")}</code></td>
                                <td data-label="Size" class="num">{human_size(tag.size_bytes)}</td>
                                <td data-label="Pushed from here">{tag.pushed.clone().unwrap_or_else(|| "—".into())}</td>
                                <td data-label="Pull"><code class="pull-command">{tag.pull.clone()}</code></td>
                                {csrf.clone().map(|csrf| view! {
                                    <td>
                                        <form method="post" action="/registry/delete" class="delete-tag">
                                            <input type="hidden" name="csrf" value=csrf/>
                                            <input type="hidden" name="name" value=name.clone()/>
                                            <button class="button small" type="submit" aria-label=format!("Delete the tag {name}")>"Delete"</button>
                                        </form>
                                    </td>
                                })}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
