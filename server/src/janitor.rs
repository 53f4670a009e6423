//! Cleaning up after builds the normal path could not finish: at start-up, attempts a stopped
//! server left unfinished are marked interrupted and their containers and images removed; then,
//! every few minutes, any container of ours that no running build owns is removed, and so are
//! the stage images of superseded attempts (multi-stage builds leave their earlier stages as
//! untagged images). Several servers may share the database: each has a heartbeat (see
//! [`watch_servers`]), and only the builds of one that is gone are marked and removed; the
//! sweeps spare every build the database holds unfinished. (What a server holds only in
//! memory — pushes, pulls and pull-backs under way — another server's sweep does not know.)

use crate::builds::Builds;
use crate::engine::builder::{ATTEMPT_LABEL, INSTANCE_LABEL};
use crate::engine::cleanup::{
    remove_build_containers, remove_build_images, remove_dangling, remove_old_probe_network,
    sweep_containers,
};
use crate::engine::{Client, Engine};
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How often the periodic sweep runs.
pub use crate::builds::SWEEP_EVERY;

/// What one sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub containers: usize,
    pub images: usize,
}

/// Remove the stage images of attempts a newer attempt superseded, and forget them.
pub async fn sweep_stage_images(docker: &Client, store: &Store) -> usize {
    let Ok(superseded) = store.superseded_stage_images().await else {
        return 0;
    };
    let mut removed = 0;
    for (attempt, images) in superseded {
        removed += remove_dangling(docker, &images).await;
        let _ = store.clear_stage_images(&attempt).await;
    }
    removed
}

/// Remove learners' images that no attempt needs, then keep the rest within `budget` bytes.
/// Of this installation's tagged images (`layerlab/<exercise>:<build>`), each learner and
/// exercise keeps only the newest stored attempt's; tags of unknown or older builds (a crash
/// between tagging and clean-up, a cache check's rebuild) go. If the images kept still take
/// more than `budget` bytes of their own (bytes no other image shares), the oldest go first.
/// Builds in `active` are never touched. Returns how many images or tags were removed.
pub async fn sweep_images(
    docker: &Client,
    host: &str,
    store: &Store,
    active: &[String],
    budget: u64,
) -> usize {
    let images = match crate::engine::usage::image_usage(host).await {
        Ok(images) => images,
        Err(e) => {
            tracing::warn!("janitor: {e}");
            return 0;
        }
    };
    let ours: Vec<_> = images
        .into_iter()
        .filter(|i| i.label(INSTANCE_LABEL) == Some(store.instance.as_str()))
        .collect();
    let build_of = |tag: &str| -> Option<String> {
        let (repo, build) = tag.rsplit_once(':')?;
        repo.starts_with("layerlab/").then(|| build.to_string())
    };
    let builds: Vec<String> = ours
        .iter()
        .flat_map(|i| i.tags().iter().filter_map(|t| build_of(t)))
        .collect();
    let Ok(times) = store.attempt_times(&builds).await else {
        return 0;
    };
    // learner/exercise → the newest stored build with an image.
    let mut newest: HashMap<&str, (i64, &str)> = HashMap::new();
    for image in &ours {
        let group = image.label(ATTEMPT_LABEL).unwrap_or("");
        for tag in image.tags() {
            let Some(build) = build_of(tag) else { continue };
            if let Some((id, &at)) = times.get_key_value(&build) {
                let entry = newest.entry(group).or_insert((at, id.as_str()));
                if at > entry.0 {
                    *entry = (at, id.as_str());
                }
            }
        }
    }
    let mut removed = 0;
    let mut kept = Vec::new();
    for image in &ours {
        let group = image.label(ATTEMPT_LABEL).unwrap_or("");
        let mut needed_at = None;
        for tag in image.tags() {
            let Some(build) = build_of(tag) else { continue };
            let newest_here = newest.get(group).is_some_and(|(_, id)| *id == build);
            // A running build's own check builds (`<id>-fill`, `<id>-rebuild`) are its.
            let of_active = active.iter().any(|a| {
                build == *a
                    || build
                        .strip_prefix(a.as_str())
                        .is_some_and(|rest| rest == "-fill" || rest == "-rebuild")
            });
            if of_active || newest_here {
                needed_at = needed_at.max(Some(times.get(&build).copied().unwrap_or(i64::MAX)));
                continue;
            }
            // Untag; the image goes with its last tag.
            if docker.untag(tag).await.is_ok() {
                removed += 1;
            }
        }
        if let Some(at) = needed_at {
            kept.push((at, image));
        }
    }
    let mut total: u64 = kept.iter().map(|(_, i)| i.unique_bytes()).sum();
    if total > budget {
        kept.sort_by_key(|(at, _)| *at);
        for (at, image) in kept {
            if total <= budget {
                break;
            }
            if at == i64::MAX {
                continue; // a running build's
            }
            if docker.holds_any(image.tags()) {
                continue; // being pushed, or the base of a build
            }
            if docker.remove_image(&image.id).await.is_ok() {
                tracing::info!(image = %image.id, "janitor: over the kept-images budget, removed the oldest");
                total = total.saturating_sub(image.unique_bytes());
                removed += 1;
            }
        }
    }
    removed
}

/// The images interrupted builds committed before the server stopped: their logs' image ids
/// were stored as they came; those the engine made after the build was submitted and that
/// carry no tag are the build's own.
async fn remove_interrupted_steps(docker: &Client, store: &Store, builds: &[String]) -> usize {
    let mut removed = 0;
    for build in builds {
        let Ok(Some(attempt)) = store.attempt_any(build).await else {
            continue;
        };
        if attempt.stage_images.is_empty() {
            continue;
        }
        let since = std::time::UNIX_EPOCH
            + Duration::from_millis(u64::try_from(attempt.created_at).unwrap_or(0));
        let own = crate::engine::image::made_since(docker, &attempt.stage_images, since).await;
        removed += remove_dangling(docker, &own).await;
        let _ = store.clear_stage_images(build).await;
    }
    removed
}

/// A name in a learner's namespace of a registry (`127.0.0.1:5100/learner-…/app:1`), as
/// pushes and pulls of layerlab's put on images.
fn is_registry_name(name: &str) -> bool {
    let mut parts = name.splitn(3, '/');
    let host = parts.next().unwrap_or_default();
    let namespace = parts.next().unwrap_or_default();
    (host.contains(':') || host.contains('.') || host == "localhost")
        && namespace.starts_with("learner-")
        && parts.next().is_some()
}

/// Take off the registry names this installation's images carry that no push or pull of
/// this run holds: a push or a pull names an image so until it ends, so any other was left
/// by a run stopped mid-way. Its images are those labelled so, and those its consoles built
/// (which the database knows, with whose they are: another installation on the same engine
/// may have built the same image, so only its own learners' names come off those).
async fn untag_registry_names(docker: &crate::engine::Client, store: &Store) -> usize {
    let mut built: HashMap<String, Vec<String>> = HashMap::new();
    match store.all_console_images().await {
        Ok(rows) => {
            for (learner, id) in rows {
                built
                    .entry(id)
                    .or_default()
                    .push(crate::registry::handle_of(&learner));
            }
        }
        Err(e) => tracing::warn!("janitor: the consoles' images could not be read: {e}"),
    }
    let Ok(images) = docker.all_images().await else {
        return 0;
    };
    let mut untagged = 0;
    for image in images {
        let labelled = image.labels.get(INSTANCE_LABEL) == Some(&store.instance);
        let builders = built.get(&image.id);
        if !labelled && builders.is_none() {
            continue;
        }
        for tag in image.tags.iter().filter(|t| {
            is_registry_name(t)
                && !docker.holds_any(std::slice::from_ref(*t))
                && (labelled
                    || builders.is_some_and(|handles| {
                        handles
                            .iter()
                            .any(|h| t.split('/').nth(1) == Some(h.as_str()))
                    }))
        }) {
            if docker.untag(tag).await.is_ok() {
                untagged += 1;
            }
        }
    }
    untagged
}

/// Remove what the interrupted `builds` left on the engine: their containers, the images
/// tagged for them and the step images they committed.
pub async fn remove_interrupted(docker: &Client, store: &Store, builds: &[String]) -> Swept {
    let mut containers = 0;
    for build in builds {
        containers += remove_build_containers(docker, build).await;
    }
    Swept {
        containers,
        images: remove_build_images(docker, builds).await
            + remove_interrupted_steps(docker, store, builds).await,
    }
}

/// The builds no one may sweep: this process's running ones, and those the database holds
/// unfinished (another live server's; a gone one's are marked interrupted first).
/// `None` when the database cannot say: then nothing is swept (it could be a live build).
async fn builds_in_hand(store: &Store, builds: &Builds) -> Option<Vec<String>> {
    let mut active = builds.active_ids();
    match store.unfinished_attempts().await {
        Ok(unfinished) => active.extend(unfinished),
        Err(e) => {
            tracing::warn!("janitor: cannot read the builds under way, so sweeps none: {e}");
            return None;
        }
    }
    Some(active)
}

/// This process among those serving from the database: its row, a heartbeat every
/// [`HEARTBEAT_EVERY`] (or a third of `dead_after`), and at each beat the attempts of a server
/// gone meanwhile (no heartbeat for its own `dead_after`, stopped, or its process gone on this
/// machine) marked interrupted and their containers and images removed.
pub async fn watch_servers(
    store: Store,
    engine: Arc<Engine>,
    dead_after: Duration,
) -> anyhow::Result<()> {
    let mark = crate::store::ProcessMark::this_one();
    store.register_server(&mark, dead_after).await?;
    let every = HEARTBEAT_EVERY
        .min(dead_after / 3)
        .max(Duration::from_millis(200));
    // The heartbeat on its own: never late for a slow engine or a long look at the others.
    let beating = store.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = beating.heartbeat(&mark, dead_after).await {
                tracing::warn!("cannot write this server's heartbeat: {e}");
            }
        }
    });
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let interrupted = match store.mark_interrupted(false).await {
                Ok(ids) if ids.is_empty() => continue,
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!("cannot look for builds of servers that went: {e}");
                    continue;
                }
            };
            tracing::info!(
                "{} build(s) of a server that went are marked interrupted",
                interrupted.len()
            );
            // (An engine down now: the periodic sweep takes their containers later.)
            if let Ok(docker) = engine.client().await {
                let swept = remove_interrupted(&docker, &store, &interrupted).await;
                tracing::info!(?swept, "removed what they left");
            }
        }
    });
    Ok(())
}

/// How often a server writes its heartbeat (at most).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// At start-up: mark what a stopped server left unfinished as interrupted, and once the
/// engine answers remove those builds' images and every container of ours (none can be
/// running yet). Then sweep every `--janitor-every` seconds ([`SWEEP_EVERY`] by default).
/// Runs in the background: an engine that is down does not stop the server from starting.
pub async fn start(
    store: Store,
    engine: Arc<Engine>,
    builds: Arc<Builds>,
    registry: (Arc<crate::pushes::Pushes>, Arc<crate::registry::Registry>),
) -> anyhow::Result<()> {
    let dead_after = builds.settings().server_dead_after;
    watch_servers(store.clone(), engine.clone(), dead_after).await?;
    let interrupted = store.mark_interrupted(true).await?;
    if !interrupted.is_empty() {
        tracing::info!(
            "{} build(s) were cut off by the last stop and are marked interrupted",
            interrupted.len()
        );
    }
    let store = store.clone();
    tokio::spawn(async move {
        let mut pending = interrupted;
        let mut old_network_checked = false;
        let mut first_pass = true;
        loop {
            if let Ok(docker) = engine.client().await {
                if !old_network_checked {
                    remove_old_probe_network(&docker).await;
                    old_network_checked = true;
                }
                // Before any push or build of this run can name an image so.
                if std::mem::take(&mut first_pass) {
                    let untagged = untag_registry_names(&docker, &store).await;
                    if untagged > 0 {
                        tracing::info!("janitor: took off {untagged} registry name(s) an earlier run's pushes or pulls left on images");
                    }
                }
                let mut swept = remove_interrupted(&docker, &store, &pending).await;
                pending.clear();
                if let Err(e) = store.forget_old_servers().await {
                    tracing::warn!("janitor: cannot forget servers silent for a day: {e}");
                }
                swept.images += sweep_stage_images(&docker, &store).await;
                if let Some(active) = builds_in_hand(&store, &builds).await {
                    swept.containers += sweep_containers(&docker, &store.instance, &active).await;
                    swept.images += sweep_images(
                        &docker,
                        engine.host(),
                        &store,
                        &active,
                        builds.settings().max_kept_bytes,
                    )
                    .await;
                }
                crate::engine::BuildCgroup::sweep_stale(builds.settings().build.timeout * 2);
                if swept != Swept::default() {
                    tracing::info!(?swept, "janitor removed leftovers");
                }
            }
            // The registry's garbage, when a tag was deleted and its collection has not run
            // (or failed): once no push of layerlab's is in flight.
            let (pushes, registry) = &registry;
            if let Some(Err(e)) = pushes.collect_garbage(registry).await {
                tracing::warn!("collecting the registry's garbage: {e}");
            }
            tokio::time::sleep(builds.settings().janitor_every).await;
        }
    });
    Ok(())
}
