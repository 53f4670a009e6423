//! A learner's images through their console's proxy: `docker build` (built as the workbench
//! builds, its log streamed back as the daemon streams it), `docker tag` and `docker rmi`,
//! all under the learner's own names.

use super::door::{refusal, usable_image, Door};
use crate::builds::console::{ConsoleBuild, HeldForPull};
use crate::engine::builder::BuildProgress;
use crate::engine::context::BuildContext;
use crate::engine::image::EngineImage;
use crate::policy::api::{Scope, UNTAGGED_REPOSITORY};
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// The most image names one learner may keep (their builds' tags and `docker tag`'s).
pub const MAX_IMAGE_NAMES: usize = 30;

type Refused = (u16, String);

fn unreachable(e: impl std::fmt::Display) -> Refused {
    (
        503,
        format!("layerlab: the Docker engine cannot be reached: {e}"),
    )
}

/// The learner's names among `images` (as the engine knows them), in their namespace of the
/// class registry too.
fn own_names<'a>(scope: &Scope, images: &'a [EngineImage]) -> Vec<&'a str> {
    let prefix = scope.image_prefix();
    images
        .iter()
        .flat_map(|i| i.tags.iter())
        .filter(|t| t.starts_with(&prefix) || scope.in_namespace(t))
        .map(String::as_str)
        .collect()
}

/// Whether the learner may have the names `new` too: their names (but the one an untagged
/// build is kept under) and those of `new` they do not have come to at most
/// [`MAX_IMAGE_NAMES`].
fn room_for_names(scope: &Scope, images: &[EngineImage], new: &[&str]) -> Result<(), Refused> {
    let names = own_names(scope, images);
    let kept = names
        .iter()
        .filter(|n| !n.contains(&format!("/{UNTAGGED_REPOSITORY}:")))
        .count();
    let mut added: Vec<&str> = new.iter().copied().filter(|n| !names.contains(n)).collect();
    added.sort_unstable();
    added.dedup();
    if kept + added.len() <= MAX_IMAGE_NAMES {
        return Ok(());
    }
    Err((
        403,
        format!(
            "layerlab: you have {kept} image names, and one learner may keep {MAX_IMAGE_NAMES}; remove some first (docker images lists them, docker rmi NAME removes one)"
        ),
    ))
}

/// The bytes the learner's images take (their console's builds, and whatever carries one of
/// their names but the course's base images): what each holds that no other image shares (a
/// base image's layers are not theirs to count), by the engine's count of at most `age` ago
/// (an image newer than it counts whole), and `true`; or, when the engine cannot count, each
/// with all its layers, and `false`.
async fn image_bytes(
    engine: &crate::engine::Engine,
    scope: &Scope,
    images: &[EngineImage],
    age: std::time::Duration,
) -> (u64, bool) {
    let prefix = scope.image_prefix();
    let theirs: Vec<&EngineImage> = images
        .iter()
        .filter(|i| {
            let built = scope.built_own(&i.id, i.tags.iter().map(String::as_str))
                || crate::console::built_by(i, &scope.instance).as_deref() == Some(&scope.owner);
            let named = i
                .tags
                .iter()
                .any(|t| t.starts_with(&prefix) || scope.in_namespace(t));
            let base = i.tags.iter().any(|t| scope.base_images.contains(t));
            built || (named && !base)
        })
        .collect();
    let mut age = age;
    let mut retried = false;
    loop {
        let unique: std::collections::HashMap<String, u64> =
            match crate::engine::usage::image_usage_within(engine.host(), age).await {
                Ok(usage) => usage
                    .iter()
                    .map(|i| (i.id.clone(), i.unique_bytes()))
                    .collect(),
                // (The count can fail while a build removes a step's layer: a count that must
                // be made now is asked once more, a moment later.)
                Err(_) if age.is_zero() && !retried => {
                    retried = true;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                Err(e) => {
                    // Then each image counts whole, its base's layers too.
                    tracing::warn!(
                        "counting a learner's images without the engine's disk usage: {e}"
                    );
                    let whole = theirs.iter().map(|i| i.size).sum();
                    return (whole, false);
                }
            };
        // (An image newer than the count it was given is counted afresh.)
        if !age.is_zero() && theirs.iter().any(|i| !unique.contains_key(&i.id)) {
            age = std::time::Duration::ZERO;
            continue;
        }
        let used = theirs
            .iter()
            .map(|i| unique.get(&i.id).copied().unwrap_or(i.size))
            .sum();
        return (used, true);
    }
}

/// What a learner whose images take `used` bytes, their budget or more, is told.
fn over_budget(used: u64) -> String {
    format!(
        "layerlab: your images take {}, the most one learner's may; remove some first (docker images lists them, docker rmi NAME removes one)",
        app::dto::human_size(used)
    )
}

/// `docker build`: the files sent (a tar of the folder built) are built as the workbench
/// builds them, under the learner's names; the log streams back as the daemon's would.
pub(super) async fn build(door: &Door, request: Request, query: &str) -> Response {
    let Some(builds) = door.builds.clone() else {
        return refusal(
            403,
            "layerlab: this console does not build images (docker build is not offered here)."
                .into(),
        );
    };
    let scope = door.scope.clone();
    let limits = builds.settings().context.clone();
    // The files, their tar headers and padding, and the archive's end. Read before any
    // answer (the CLI sends them all before it reads one).
    let most = limits.max_total_bytes + (limits.max_files + 16) * 1536 + 10240;
    let sent = read_all(request.into_body(), most).await;
    let options = match crate::policy::api::build_options(query, &scope) {
        Ok(options) => options,
        Err(message) => return refusal(400, message),
    };
    let Ok(building) = door.building.clone().try_lock_owned() else {
        return refusal(
            409,
            "layerlab: another of your builds is running; wait for it to end (Ctrl-C in the console stops it).".into(),
        );
    };
    let Some(sent) = sent else {
        return refusal(
            413,
            format!(
                "layerlab: the files sent to build are more than the {} a build here may hold: build a folder with only what the image needs (or list the rest in .dockerignore).",
                app::dto::human_size(limits.max_total_bytes as u64)
            ),
        );
    };
    if sent.starts_with(&[0x1f, 0x8b]) {
        return refusal(
            400,
            "layerlab: send the files uncompressed (leave out --compress).".into(),
        );
    }
    let context = match BuildContext::from_archive(&sent, &options.dockerfile, &limits) {
        Ok(context) => context,
        Err(e) => {
            let status = if e.is_too_large() { 413 } else { 400 };
            return refusal(status, format!("layerlab: {e}"));
        }
    };
    drop(sent);
    // `--target`: up to the end of that stage.
    let dockerfile = match &options.target {
        Some(target) => {
            match crate::policy::dockerfile::up_to_stage(context.dockerfile(), target) {
                Ok(cut) => cut,
                Err(message) => return refusal(400, message),
            }
        }
        None => context.dockerfile().to_string(),
    };
    // `FROM web:1` builds on the learner's own `web:1`.
    let context = context.with_dockerfile(scope.with_own_names(&dockerfile));
    let client = match door.engine.client().await {
        Ok(client) => client,
        Err(e) => return refusal(503, unreachable(e).1),
    };
    let images = match client.all_images().await {
        Ok(images) => images,
        Err(e) => return refusal(503, unreachable(e).1),
    };
    let names: Vec<&str> = options.tags.iter().map(|(_, e)| e.as_str()).collect();
    if let Err((status, message)) = room_for_names(&scope, &images, &names) {
        return refusal(status, message);
    }
    let budget = door.limits.max_disk_bytes;
    let tag = match options.tags.first() {
        Some((_, engine)) => engine.clone(),
        None => format!(
            "{}{UNTAGGED_REPOSITORY}:{}",
            scope.image_prefix(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<bytes::Bytes>();
    let engine = door.engine.clone();
    let task = tokio::spawn(async move {
        let _one_at_a_time = building;
        let say = |message: serde_json::Value| {
            let mut line = message.to_string();
            line.push('\n');
            let _ = tx.send(line.into());
        };
        let stream = |text: String| say(serde_json::json!({ "stream": text }));
        for note in &options.notes {
            stream(format!("{note}\n"));
        }
        let quiet = options.quiet;
        let most_log = builds.settings().build.max_log_bytes;
        let mut on = |progress: BuildProgress| match progress {
            BuildProgress::Line(text) if !quiet => stream(format!("{}\n", scope.unprefixed(&text))),
            BuildProgress::Restarted(why) if !quiet => stream(format!("{why}\n")),
            BuildProgress::LogTruncated if !quiet => stream(format!(
                "[layerlab: the log passed {} KiB; later lines are not shown]\n",
                most_log / 1024
            )),
            _ => {}
        };
        let asked = ConsoleBuild {
            owner: &scope.owner,
            context: &context,
            tag: tag.clone(),
            labels: options.labels.clone(),
            built: scope.built.clone(),
            build_args: scope.with_own_build_args(context.dockerfile(), options.build_args.clone()),
            no_cache: options.no_cache,
            console_prefix: Some(scope.image_prefix()),
        };
        // What the learner's images take is counted while the build runs (the engine's count
        // takes a second or more): past the budget, the build is refused — stopped if it is
        // still running, its image removed if it has ended. (Only on the engine's own count:
        // without it, the count after the build decides.)
        let over = |used: u64| {
            let message = over_budget(used);
            say(serde_json::json!({ "errorDetail": { "message": message }, "error": message }));
        };
        let mut counted = std::pin::pin!(async {
            match image_bytes(&engine, &scope, &images, Duration::from_secs(10)).await {
                (used, true) if used >= budget => Err(used),
                (used, true) => Ok(used),
                (_, false) => Ok(budget),
            }
        });
        let mut building = std::pin::pin!(builds.console_build(asked, &mut on));
        let (used, built) = tokio::select! {
            used = &mut counted => match used {
                // (The build, not ended, is dropped: stopped.)
                Err(used) => return over(used),
                Ok(used) => (used, building.await),
            },
            built = &mut building => match (counted.await, built) {
                (Err(used), Ok(built)) => {
                    // (Its name only if it still names this image.)
                    let named = crate::engine::image::image_id(&client, &tag).await;
                    if named.as_deref() == Some(built.image_id.as_str()) {
                        let _ = client.remove_image(&tag).await;
                    }
                    return over(used);
                }
                (used, built) => (used.unwrap_or(budget), built),
            },
        };
        let built = match built {
            Ok(built) => built,
            Err(failure) => {
                let mut message = scope.unprefixed(&failure.message);
                if let Some(line) = failure.line.filter(|_| !message.starts_with("Line ")) {
                    message = format!("{message} (Dockerfile line {line})");
                }
                say(serde_json::json!({ "errorDetail": { "message": message }, "error": message }));
                return;
            }
        };
        // One build cannot take the learner past their images' budget either: counted again
        // only when it could (what the new image holds of its own is at most its whole size).
        let whole = client.image_size(&built.image_id).await.unwrap_or(u64::MAX);
        let near = used.saturating_add(whole) > budget;
        if let Some(images) = near.then_some(()).and(client.all_images().await.ok()) {
            let (used, _) = image_bytes(&engine, &scope, &images, Duration::ZERO).await;
            if used > budget {
                let _ = client.remove_image(&tag).await;
                let message = format!(
                    "layerlab: with this image your images would take {}, more than the {} one learner's may, so it was removed; remove some first (docker images lists them, docker rmi NAME removes one)",
                    app::dto::human_size(used),
                    app::dto::human_size(budget)
                );
                say(serde_json::json!({ "errorDetail": { "message": message }, "error": message }));
                return;
            }
        }
        for (shown, name) in options.tags.iter().skip(1) {
            if let Err(e) = client.tag(&built.image_id, name).await {
                let message = format!(
                    "layerlab: the image was built but could not be named {shown}: {}",
                    scope.unprefixed(&e)
                );
                say(serde_json::json!({ "errorDetail": { "message": message }, "error": message }));
                return;
            }
        }
        say(serde_json::json!({ "aux": { "ID": built.image_id } }));
        if quiet {
            stream(format!("{}\n", built.image_id));
            return;
        }
        let short: String = built
            .image_id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect();
        stream(format!("Successfully built {short}\n"));
        for (shown, _) in &options.tags {
            stream(format!("Successfully tagged {shown}\n"));
        }
    });
    // The CLI going away (Ctrl-C) drops the answer, and with it the build.
    let guard = AbortOnDrop(task.abort_handle());
    let body = futures::stream::unfold((rx, guard), |(mut rx, guard)| async move {
        let bytes = rx.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(bytes), (rx, guard)))
    });
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

/// The most read of files sent to build that are too many to build: more is not read (the
/// CLI is then told of a broken connection rather than of the limit).
const MOST_DRAINED: usize = 256 << 20;

/// `body` whole if it is at most `most` bytes; `None` if it is more (read to its end, up to
/// [`MOST_DRAINED`], so the sender is done sending when it is told so).
async fn read_all(body: Body, most: usize) -> Option<bytes::Bytes> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        total += chunk.len();
        if total <= most {
            kept.extend_from_slice(&chunk);
        } else if total > MOST_DRAINED {
            break;
        }
    }
    (total <= most).then(|| kept.into())
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `docker tag IMAGE NAME`: an image the learner may use gets one of their names.
pub(super) async fn tag(
    door: &Door,
    client: &crate::engine::Client,
    image: &str,
    query: &str,
) -> Result<Response, Refused> {
    let asked = |key: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (repository, tag) = (asked("repo"), asked("tag"));
    if repository.is_empty() {
        return Err((
            400,
            "layerlab: docker tag needs a new name (docker tag web web:2)".into(),
        ));
    }
    let typed = if tag.is_empty() {
        repository
    } else {
        format!("{repository}:{tag}")
    };
    let scope = &door.scope;
    let name = scope
        .engine_image(&typed)
        .map_err(|message| (400, message))?;
    let Some((id, _)) = usable_image(client, scope, image)
        .await
        .map_err(unreachable)?
    else {
        return Err((404, format!("No such image: {image}")));
    };
    // (Counted and named one at a time: parallel tags cannot slip past the count.)
    let _one_at_a_time = door.starting.lock().await;
    let images = client.all_images().await.map_err(unreachable)?;
    room_for_names(scope, &images, &[&name])?;
    client
        .tag(&id, &name)
        .await
        .map_err(|e| (500, scope.unprefixed(&e)))?;
    Ok((http::StatusCode::CREATED, "").into_response())
}

/// What `docker rmi` may remove for the name `typed`, as the engine knows it: one of the
/// learner's own names (the image goes with its last name), or by id (or another name) an
/// image of their own that only their console names. The course's base images stay, and an
/// image the workbench keeps for an attempt goes with the attempt.
pub(super) async fn removable(
    scope: &Scope,
    client: &crate::engine::Client,
    typed: &str,
) -> Result<String, Refused> {
    let missing = || (404, format!("Error: No such image: {typed}"));
    if !crate::policy::api::plausible_reference(typed) {
        return Err(missing());
    }
    let found = |reference: String| async move {
        client
            .image_info(&reference)
            .await
            .map_err(|f| unreachable(f.message))
    };
    if let Ok(own) = scope.engine_image(typed) {
        if found(own.clone()).await?.is_some() {
            return Ok(own);
        }
    }
    let info = found(typed.to_string()).await?.ok_or_else(missing)?;
    if info.tags.iter().any(|t| scope.base_images.contains(t)) {
        return Err((
            409,
            format!("layerlab: {typed} is one of the course's base images, which stay here."),
        ));
    }
    // (Anyone else's name is no name at all, whatever image it names.)
    let by_id = {
        let hex = typed.strip_prefix("sha256:").unwrap_or(typed);
        !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
    };
    if !super::door::is_own(scope, &info) || !(by_id || typed.starts_with("layerlab/")) {
        return Err(missing());
    }
    if info.tags.iter().any(|t| t.starts_with("layerlab/")) {
        return Err((
            409,
            format!(
                "layerlab: {typed} is the image the workbench keeps for one of your attempts; it goes with the attempt."
            ),
        ));
    }
    let prefix = scope.image_prefix();
    if info.tags.iter().any(|t| !t.starts_with(&prefix)) {
        // (As the engine says of an image several repositories name: another of the
        // learner's in their registry namespace, or another learner's for the same image.)
        let short: String = info
            .id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect();
        return Err((
            409,
            format!(
                "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories; docker rmi the names you gave it (docker images lists them)"
            ),
        ));
    }
    Ok(info.id)
}

/// The learner's login to the class registry as the engine reads it (`X-Registry-Auth`),
/// or why there is none.
fn registry_auth(door: &Door) -> Result<http::HeaderValue, Refused> {
    use base64::Engine as _;
    let login = door
        .builds
        .as_ref()
        .and_then(|b| b.registry_login(&door.scope.owner))
        .ok_or_else(|| {
            (
                403,
                "layerlab: this workshop runs without a class registry: there is nowhere to push or pull.".to_string(),
            )
        })?;
    let auth = serde_json::json!({
        "username": login.username,
        "password": login.password,
        "serveraddress": login.server,
    });
    let encoded = base64::engine::general_purpose::URL_SAFE.encode(auth.to_string());
    http::HeaderValue::from_str(&encoded)
        .map_err(|_| (500, "layerlab: a login that cannot be sent".into()))
}

/// Why `name` is not one the learner may push to or pull from: their namespace only.
fn outside_namespace(scope: &Scope, name: &str) -> Refused {
    match scope.namespace() {
        Some(ns) => (
            403,
            format!(
                "layerlab: {name} is not in your namespace of the class registry: you push and pull {ns}… only (docker tag web {ns}web:1, then docker push {ns}web:1)."
            ),
        ),
        None => (
            403,
            "layerlab: this workshop runs without a class registry: there is nowhere to push or pull.".into(),
        ),
    }
}

/// `docker push NAME[:TAG]`: the path to send (the engine pushes with the learner's login),
/// once the name is in their namespace and names an image they may use.
/// A push the proxy lets through: where to send it, with which login, and what to note
/// once it has gone (the repository in the namespace, the tag, the image pushed).
pub(super) struct PushAsked {
    pub path: String,
    pub auth: http::HeaderValue,
    pub pushed: Option<(String, String, String)>,
}

pub(super) async fn push(
    door: &Door,
    client: &crate::engine::Client,
    image: &str,
    query: &str,
) -> Result<PushAsked, Refused> {
    let scope = &door.scope;
    let tag = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "tag")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let typed = if tag.is_empty() {
        image.to_string()
    } else {
        format!("{image}:{tag}")
    };
    let name = scope
        .engine_image(&typed)
        .ok()
        .filter(|name| scope.in_namespace(name))
        .ok_or_else(|| outside_namespace(scope, &typed))?;
    let auth = registry_auth(door)?;
    // (`docker push -a` names no tag: every tag of the repository, all in the namespace.)
    let mut pushed = None;
    if !tag.is_empty() {
        let Some((id, _)) = usable_image(client, scope, &name)
            .await
            .map_err(unreachable)?
        else {
            return Err((
                404,
                format!("An image does not exist locally with the tag: {image}"),
            ));
        };
        let repository = image
            .split_once('/')
            .map_or(image, |(_, path)| path)
            .to_string();
        pushed = Some((repository, tag.clone(), id));
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("tag", &tag)
        .finish();
    Ok(PushAsked {
        path: format!("/images/{image}/push?{query}"),
        auth,
        pushed,
    })
}

/// `docker pull NAME[:TAG|@DIGEST]`: the path to send (the engine pulls with the learner's
/// login), once the name is in their namespace.
pub(super) async fn pull(
    door: &Door,
    client: &crate::engine::Client,
    query: &str,
) -> Result<PullAsked, Refused> {
    let scope = &door.scope;
    let asked: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let value = |key: &str| {
        asked
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if !value("fromSrc").is_empty() || !value("repo").is_empty() {
        return Err((403, "layerlab: docker import is not offered here: build FROM one of the course's images instead.".into()));
    }
    let (from, tag) = (value("fromImage"), value("tag"));
    if tag.is_empty() {
        return Err((
            400,
            "layerlab: pull one tag at a time here (docker pull NAME:TAG), not every tag (-a)."
                .into(),
        ));
    }
    let digest = tag.starts_with("sha256:");
    let typed = if tag.is_empty() || digest {
        from.clone()
    } else {
        format!("{from}:{tag}")
    };
    let name = scope
        .engine_image(&typed)
        .map_err(|message| (400, message))?;
    if !scope.in_namespace(&name) {
        return Err(outside_namespace(scope, &typed));
    }
    if digest {
        let hex = &tag["sha256:".len()..];
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err((400, format!("invalid reference format: {from}@{tag}")));
        }
    }
    let auth = registry_auth(door)?;
    let images = client.all_images().await.map_err(unreachable)?;
    if !digest {
        room_for_names(scope, &images, &[&name])?;
    }
    // (Pulls bring back only what was pushed from here, each within a build's limits, but
    // many of them would pass the learner's budget: none while it is reached.)
    let budget = door.limits.max_disk_bytes;
    if let (used, true) = image_bytes(&door.engine, scope, &images, Duration::from_secs(10)).await {
        if used >= budget {
            return Err((403, over_budget(used)));
        }
    }
    let (repository, pin) = match name.rsplit_once(':') {
        Some((repository, _)) if digest => (repository.to_string(), tag),
        Some((repository, pin)) => (repository.to_string(), pin.to_string()),
        None => (name.clone(), tag),
    };
    // Only what was pushed from here: anything else in the namespace (pushed with the
    // learner's login from elsewhere) could unpack to far more than any build may make.
    let in_namespace = repository.split_once('/').map_or("", |(_, path)| path);
    let mut pulled = None;
    // (What the engine is asked for: the digest just read when there is one, so a tag moved
    // in between, by the learner's login from elsewhere, brings nothing foreign in.)
    let mut asked_for = pin.clone();
    if let Some(builds) = &door.builds {
        let held = builds
            .held_for_pull(&scope.owner, in_namespace, &pin)
            .await
            .map_err(|e| {
                (
                    503,
                    format!("layerlab: the class registry cannot be read: {e}"),
                )
            })?;
        match held {
            HeldForPull::Foreign => return Err((
                403,
                format!(
                    "layerlab: {typed} was not pushed from this workshop (a console or Tag & push), so it is not pulled here."
                ),
            )),
            // (Refused here, not asked of the engine: something pushed meanwhile from
            // elsewhere would come in unread.)
            HeldForPull::Nothing => return Err((
                404,
                format!(
                    "manifest for {typed} not found: manifest unknown (layerlab: your namespace of the class registry holds no such image; docker push it first)"
                ),
            )),
            HeldForPull::PushedHere(held) => {
                // (Whether the engine holds that image already, under any name: then the
                // pull only names it, nothing comes back.)
                // (The engine's id is the config digest with the classic image store, the
                // manifest digest with containerd's.)
                let mut had = crate::engine::image::image_id(client, &held.digest)
                    .await
                    .is_some();
                if let (false, Some(id)) = (had, &held.image_id) {
                    had = crate::engine::image::image_id(client, id).await.is_some();
                }
                let separator = if digest { '@' } else { ':' };
                asked_for = held.digest.clone();
                pulled = Some(Pulled {
                    repository: in_namespace.to_string(),
                    reference: pin.clone(),
                    engine_name: format!("{repository}{separator}{pin}"),
                    by_digest: format!("{repository}@{}", held.digest),
                    named: !digest,
                    held,
                    fresh: !had,
                    built: scope.built.clone(),
                });
            }
        }
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("fromImage", &repository)
        .append_pair("tag", &asked_for)
        .finish();
    Ok(PullAsked {
        path: format!("/images/create?{query}"),
        auth,
        pulled,
    })
}

/// A pull the proxy lets through: where to send it, with which login, and what to note once
/// it has ended (when it is of an image pushed from here).
pub(super) struct PullAsked {
    pub path: String,
    pub auth: http::HeaderValue,
    pub pulled: Option<Pulled>,
}

/// A pull from the learner's namespace, to be noted once it has ended.
pub(super) struct Pulled {
    /// `learner-…/web`.
    pub repository: String,
    /// The tag or digest asked for.
    pub reference: String,
    /// What the engine calls the image once pulled (and named as asked).
    pub engine_name: String,
    /// `repository@sha256:…`: what the engine is asked to pull.
    pub by_digest: String,
    /// Asked by tag: once pulled by its digest, the image is given that tag.
    pub named: bool,
    /// What the registry held there when the pull began.
    pub held: crate::registry::TagFacts,
    /// The engine held no such image before the pull.
    pub fresh: bool,
    /// The images the learner's console built (or pulled back) here: the image pulled joins.
    pub built: crate::policy::api::BuiltHere,
}

impl Pulled {
    /// The pull's answer as the learner's CLI reads it, as if pulled by the tag asked for;
    /// the pull is read to its end even when the CLI has gone (a CLI that leaves at the last
    /// line loses nothing), holding one of the learner's places for pulls, unless the
    /// console closes first (then the engine is left to stop it). Then, before the answer
    /// ends, the image gets the tag asked for and the pull is noted.
    pub fn answer(
        self,
        body: Body,
        client: crate::engine::Client,
        owner: String,
        builds: std::sync::Arc<crate::builds::Builds>,
        (place, mut open): (
            tokio::sync::OwnedSemaphorePermit,
            tokio::sync::watch::Receiver<()>,
        ),
    ) -> impl futures::Stream<Item = Result<bytes::Bytes, axum::Error>> + Send + 'static {
        use futures::StreamExt;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let _place = place;
            let mut engine = body.into_data_stream();
            let mut lines = PullLines::new(&self);
            let mut listening = true;
            loop {
                let chunk = tokio::select! {
                    chunk = engine.next() => chunk,
                    // (The console closed: its door, and this, are gone.)
                    _ = open.changed() => return,
                };
                let Some(chunk) = chunk else { break };
                let shown = match chunk {
                    Ok(bytes) => Ok(lines.shown(&bytes)),
                    Err(e) => Err(e),
                };
                if listening && tx.send(shown).await.is_err() {
                    listening = false;
                }
            }
            let mut rest = lines.rest().to_vec();
            if self.named && client.image_size(&self.by_digest).await.is_some() {
                if let Err(e) = client.tag(&self.by_digest, &self.engine_name).await {
                    tracing::warn!(image = %self.by_digest, error = %e, "a pulled image could not be tagged as asked");
                    // (The CLI prints an error line and fails.)
                    let said = format!(
                        "layerlab: the image was pulled but could not be named {}: {e}",
                        lines.tag
                    );
                    rest.extend_from_slice(
                        format!(
                            "{}\r\n",
                            serde_json::json!({"errorDetail": {"message": said}, "error": said})
                        )
                        .as_bytes(),
                    );
                }
            }
            self.note(&client, &owner, &builds).await;
            if listening && !rest.is_empty() {
                let _ = tx.send(Ok(rest.into())).await;
            }
        });
        futures::stream::unfold(rx, |mut rx| async move {
            let item = rx.recv().await?;
            Some((item, rx))
        })
    }

    /// Note the pull as the learner's, if it left the registry's image in the engine.
    pub async fn note(
        self,
        client: &crate::engine::Client,
        owner: &str,
        builds: &crate::builds::Builds,
    ) {
        let image_id = crate::engine::image::image_id(client, &self.engine_name).await;
        let kept = builds
            .record_console_pull(
                owner,
                &self.repository,
                &self.reference,
                &self.held,
                image_id,
                self.fresh,
            )
            .await;
        if let Some(id) = kept {
            self.built.insert(&id);
        }
    }
}

/// The digest a push's answer says the registry took (`1: digest: sha256:… size: 942`),
/// read from its chunks as they pass, however they are cut.
#[derive(Default)]
pub(super) struct PushedDigest {
    /// The end of what was read so far (a line cut between chunks).
    tail: Vec<u8>,
    found: Option<String>,
}

impl PushedDigest {
    const SAID: &'static [u8] = b": digest: sha256:";

    pub(super) fn feed(&mut self, chunk: &[u8]) {
        self.tail.extend_from_slice(chunk);
        let text = &self.tail;
        let mut at = 0;
        while let Some(found) = text[at..]
            .windows(Self::SAID.len())
            .position(|w| w == Self::SAID)
        {
            let start = at + found + Self::SAID.len() - "sha256:".len();
            let hex = &text[start + "sha256:".len()..];
            if hex.len() >= 64 {
                if hex[..64].iter().all(u8::is_ascii_hexdigit) {
                    self.found =
                        Some(String::from_utf8_lossy(&text[start..start + 71]).into_owned());
                }
                at = start + 71;
            } else {
                // (Cut inside the digest: kept whole for the next chunk.)
                let keep = text[at + found..].to_vec();
                self.tail = keep;
                return;
            }
        }
        // Only what could begin the words, for the next chunk.
        let keep = self.tail.len().saturating_sub(Self::SAID.len());
        self.tail.drain(..keep);
    }

    /// The digest, once said.
    pub(super) fn digest(&self) -> Option<String> {
        self.found.clone()
    }
}

/// A pull's answer, line by line (the engine's JSON messages), with the digest it was asked
/// for shown as the tag the learner asked for: `Pulling from …` under `1.0`, and `Status:
/// Downloaded newer image for …/greeter:1.0`, as a pull by tag says.
struct PullLines {
    /// (`"id":"sha256:…"`, `"id":"1.0"`) and (`@sha256:…`, `:1.0`); none when asked by digest.
    shown_as: Vec<(String, String)>,
    /// The start of a line not yet ended.
    partial: Vec<u8>,
    /// The tag (or digest) asked for.
    tag: String,
}

impl PullLines {
    fn new(pulled: &Pulled) -> Self {
        let digest = &pulled.held.digest;
        let tag = &pulled.reference;
        let shown_as = if pulled.named {
            vec![
                (format!("\"id\":\"{digest}\""), format!("\"id\":\"{tag}\"")),
                (format!("@{digest}"), format!(":{tag}")),
            ]
        } else {
            Vec::new()
        };
        PullLines {
            shown_as,
            partial: Vec::new(),
            tag: tag.clone(),
        }
    }

    /// The whole lines `chunk` ends (with any begun before), as shown.
    fn shown(&mut self, chunk: &[u8]) -> bytes::Bytes {
        self.partial.extend_from_slice(chunk);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return bytes::Bytes::new();
        };
        let whole: Vec<u8> = self.partial.drain(..=end).collect();
        self.as_shown(whole)
    }

    /// What is left once the answer has ended, as shown.
    fn rest(&mut self) -> bytes::Bytes {
        let rest = std::mem::take(&mut self.partial);
        self.as_shown(rest)
    }

    fn as_shown(&self, text: Vec<u8>) -> bytes::Bytes {
        if self.shown_as.is_empty() {
            return text.into();
        }
        let mut text = String::from_utf8_lossy(&text).into_owned();
        for (engine, learner) in &self.shown_as {
            text = text.replace(engine, learner);
        }
        text.into()
    }
}

/// `docker login`: the class registry answers that the learner is logged in (their console
/// pushes and pulls with their own login, whatever they type); any other is refused.
pub(super) async fn login(door: &Door, request: Request) -> Response {
    let Ok(body) = axum::body::to_bytes(request.into_body(), 64 * 1024).await else {
        return refusal(413, "layerlab: the login is too large".into());
    };
    let asked: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let server = asked["serveraddress"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    match &door.scope.registry {
        Some(registry) if *registry == server => axum::Json(serde_json::json!({
            "Status": "Login Succeeded",
            "IdentityToken": "",
        }))
        .into_response(),
        Some(registry) => refusal(
            401,
            format!(
                "layerlab: the one registry here is the class registry, {registry}: docker login {registry} (your console then pushes to {} with your own login).",
                door.scope.namespace().unwrap_or_default()
            ),
        ),
        None => refusal(
            401,
            "layerlab: this workshop runs without a class registry.".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulled(named: bool) -> Pulled {
        let digest = format!("sha256:{}", "ab".repeat(32));
        Pulled {
            repository: "learner-ann/greeter".into(),
            reference: if named { "1.0".into() } else { digest.clone() },
            engine_name: "127.0.0.1:5000/learner-ann/greeter:1.0".into(),
            by_digest: format!("127.0.0.1:5000/learner-ann/greeter@{digest}"),
            named,
            held: crate::registry::TagFacts {
                tag: "1.0".into(),
                digest,
                image_id: None,
                size_bytes: 1,
            },
            fresh: true,
            built: Default::default(),
        }
    }

    #[test]
    fn a_pushs_digest_is_read_from_its_answer_however_it_is_cut() {
        let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
        let answer = format!(
            "{{\"status\":\"Pushed\",\"id\":\"10a9\"}}\r\n{{\"status\":\"1: digest: {digest} size: 942\"}}\r\n{{\"progressDetail\":{{}},\"aux\":{{\"Tag\":\"1\",\"Digest\":\"{digest}\",\"Size\":942}}}}\r\n"
        );
        for size in [1, 5, 17, 64, 4096] {
            let mut seen = PushedDigest::default();
            for chunk in answer.as_bytes().chunks(size) {
                seen.feed(chunk);
            }
            assert_eq!(
                seen.digest().as_deref(),
                Some(digest.as_str()),
                "chunks of {size}"
            );
        }
        // Words that only look like it say nothing.
        let mut seen = PushedDigest::default();
        seen.feed(b"{\"status\":\"1: digest: sha256:zz size: 1\"}\r\n");
        seen.feed(b"{\"status\":\"1: digest: sha256:12");
        assert_eq!(seen.digest(), None);
    }

    #[test]
    fn a_pull_by_the_digest_read_is_shown_as_the_tag_asked_for_whatever_the_chunks() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let answer = format!(
            "{{\"status\":\"Pulling from learner-ann/greeter\",\"id\":\"{digest}\"}}\r\n{{\"status\":\"Digest: {digest}\"}}\r\n{{\"status\":\"Status: Downloaded newer image for 127.0.0.1:5000/learner-ann/greeter@{digest}\"}}\r\n"
        );
        let expected = format!(
            "{{\"status\":\"Pulling from learner-ann/greeter\",\"id\":\"1.0\"}}\r\n{{\"status\":\"Digest: {digest}\"}}\r\n{{\"status\":\"Status: Downloaded newer image for 127.0.0.1:5000/learner-ann/greeter:1.0\"}}\r\n"
        );
        // Cut anywhere, even inside the digest, the learner reads the same.
        for size in [1, 7, 64, 1000] {
            let mut lines = PullLines::new(&pulled(true));
            let mut shown = Vec::new();
            for chunk in answer.as_bytes().chunks(size) {
                shown.extend_from_slice(&lines.shown(chunk));
            }
            shown.extend_from_slice(&lines.rest());
            assert_eq!(
                String::from_utf8_lossy(&shown),
                expected,
                "chunks of {size}"
            );
        }
        // A line the engine never ended still reaches the learner.
        let mut lines = PullLines::new(&pulled(true));
        assert!(lines.shown(b"{\"status\":\"cut").is_empty());
        assert_eq!(&lines.rest()[..], b"{\"status\":\"cut");
        // Asked by digest: shown as the engine says it.
        let mut lines = PullLines::new(&pulled(false));
        let shown = lines.shown(answer.as_bytes());
        assert_eq!(String::from_utf8_lossy(&shown), answer);
    }
}
