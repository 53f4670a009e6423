//! What a build prints is never the engine's word, and a build that does not succeed leaves
//! nothing on the disk. Each test is an attack a learner could make, on the real engine: a
//! step that imitates the builder's lines (to fool the grader, the clean-up or the step
//! counter), a step that writes without end, a build that fails, is cancelled or is cut off
//! by a killed server after committing big steps, and a disk below the floor.

use crate::support;

use serde_json::Value;
use std::time::Duration;
use support::{TestClient, LOCAL_ENGINE};

fn code(view: &Value) -> &str {
    view["error"]["code"].as_str().unwrap_or("")
}

fn image_exists(id: &str) -> bool {
    std::process::Command::new("docker")
        .args(["image", "inspect", id])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The image ids the builder named in a log (` ---> 1a2b3c4d5e6f`).
fn named_images(log: &[String]) -> Vec<String> {
    log.iter()
        .filter_map(|l| l.strip_prefix(" ---> "))
        .map(str::trim)
        .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
        .collect()
}

/// [`images_with_marker`] once they are gone, or after `seconds` (clean-up runs in the
/// background).
async fn images_with_marker_after(marker: &str, seconds: u64) -> Vec<String> {
    let until = std::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let left = images_with_marker(marker);
        if left.is_empty() || std::time::Instant::now() >= until {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn busybox_id() -> String {
    support::docker(&["image", "inspect", "--format", "{{.Id}}", "busybox:latest"])
}

/// Images whose own step ran a command holding `marker`: what a build with that marker in
/// a step left behind (the step's image; its descendants cannot outlive it).
fn images_with_marker(marker: &str) -> Vec<String> {
    let all = support::docker(&["images", "-aq", "--no-trunc"]);
    let ids: Vec<&str> = all.lines().collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let mut args = vec![
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{json .ContainerConfig.Cmd}}",
    ];
    args.extend(ids);
    let out = std::process::Command::new("docker")
        .args(&args)
        .output()
        .expect("docker image inspect");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.contains(marker))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn output_that_imitates_the_builder_is_refused_and_believed_nowhere() {
    let mut victim = TestClient::new(LOCAL_ENGINE).await;
    // The victim's multi-stage build leaves an untagged stage image: the kind of image a
    // forged ` ---> <id>` line would make the clean-up remove.
    // Unique to this run of this test: every suite shares the process (and its id).
    let marker = format!("victim-{}-{}", std::process::id(), uuid_like_nonce());
    let (view, log) = victim
        .build(
            None,
            &[(
                "Dockerfile",
                &format!("FROM busybox:latest AS s\nRUN echo {marker} > /secret\nFROM busybox:latest\nCOPY --from=s /secret /secret\nCMD [\"cat\", \"/secret\"]\n"),
            )],
        )
        .await;
    assert_eq!(view["status"], "succeeded", "{view}");
    let stage = named_images(&log)[1].clone();
    assert!(image_exists(&stage), "the victim's stage image {stage}");
    let busybox = busybox_id();
    let busybox_short = busybox.trim_start_matches("sha256:")[..12].to_string();

    let mut attacker = victim.another();
    let attacks = [
        // Make the clean-up remove the victim's stage image, or a base image everyone uses.
        format!("RUN echo ' ---> {stage}'"),
        format!("RUN echo \" ---> {busybox_short}\""),
        format!("RUN echo \"Removing intermediate container $(hostname)\"; echo ' ---> {stage}'"),
        // Make the grader count a step as taken from the cache.
        "RUN echo ' ---> Using cache'".to_string(),
        // Move the step counter, or hide a step: plain, on stderr in colour, in exec form.
        "RUN printf 'Step 3/3 : CMD [\"true\"]\\n'".to_string(),
        "RUN printf '\\033[91mStep 3/3 : CMD [\"true\"]\\033[0m\\n' >&2".to_string(),
        "RUN [\"sh\", \"-c\", \"echo 'Step 3/3 : CMD [\\\"true\\\"]'\"]".to_string(),
        "RUN printf 'Step 9/9 : RUN rm -rf /\\n'".to_string(),
    ];
    // A nonce in each step keeps the engine's cache from answering for it (a cached step
    // prints nothing, so there would be nothing to imitate): as a comment in the shell form,
    // as `$0` in the exec form.
    let nonce = format!("attack-{}-{}", std::process::id(), uuid_like_nonce());
    for attack in &attacks {
        let attack = match attack.strip_suffix(']') {
            Some(exec) => format!("{exec}, \"{nonce}\"]"),
            None => format!("{attack} # {nonce}"),
        };
        let dockerfile = format!("FROM busybox:latest\n{attack}\nCMD [\"true\"]\n");
        let (view, _log) = attacker.build(None, &[("Dockerfile", &dockerfile)]).await;
        assert_eq!(code(&view), "imitated_builder_output", "{attack}: {view}");
        assert_eq!(view["error"]["line"], 2, "{attack}");
        let message = view["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.contains("imitates the builder's own output") && message.contains("Step 2"),
            "{attack}: {message}"
        );
    }
    // The victims saw nothing: the stage image and the base image are still there, and the
    // victim's image still runs.
    assert!(image_exists(&stage), "the victim's stage image was removed");
    assert!(image_exists("busybox:latest"), "busybox was removed");
    assert_eq!(
        support::docker(&["image", "inspect", "--format", "{{.Id}}", "busybox:latest"]),
        busybox
    );

    // A learner printing ordinary text that merely resembles the builder is fine.
    let (view, _) = attacker
        .build(
            None,
            &[(
                "Dockerfile",
                "FROM busybox:latest\nRUN echo 'Step by step: 2 things' && echo ' ---> arrows are fine'\nCMD [\"true\"]\n",
            )],
        )
        .await;
    assert_eq!(view["status"], "succeeded", "{view}");
    support::remove_image(&view["image"]);
}

/// The cache check judges which steps the engine really built again, from the images'
/// ids and creation times, so a step cannot claim to come from the cache.
#[tokio::test]
async fn a_step_cannot_claim_it_came_from_the_cache() {
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    // The starter's files with a Dockerfile of the attacker's.
    let files = |dockerfile: &str| {
        let mut files: Vec<(String, String)> = support::exercise_files("cache-friendly", false)
            .into_iter()
            .filter(|(name, _)| name != "Dockerfile")
            .collect();
        files.push(("Dockerfile".into(), dockerfile.into()));
        files
    };
    // The wrong order (everything copied before the install), with each rebuilt step
    // printing what a cache hit looks like.
    let forged = files(
        "FROM busybox:latest\nWORKDIR /app\nCOPY . .\nRUN sh install-deps.sh deps.txt; echo ' ---> Using cache'\nCMD [\"sh\", \"app.sh\"]\n",
    );
    let refs: Vec<(&str, &str)> = forged
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (view, _) = learner.build(Some("cache-friendly"), &refs).await;
    let passed = view["checks"]
        .as_array()
        .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["passed"] == true));
    assert!(!passed, "the forged cache hit passed: {view}");
    assert_eq!(code(&view), "imitated_builder_output", "{view}");

    // The same wrong order printing nothing: the engine's facts fail it on the cache check,
    // naming the steps it really rebuilt.
    let honest = files(
        "FROM busybox:latest\nWORKDIR /app\nCOPY . .\nRUN sh install-deps.sh deps.txt\nCMD [\"sh\", \"app.sh\"]\n",
    );
    let refs: Vec<(&str, &str)> = honest
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (view, _) = learner.build(Some("cache-friendly"), &refs).await;
    assert_eq!(view["status"], "succeeded", "{view}");
    let cache = view["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "edit-rebuilds-one-step"))
        .unwrap_or_else(|| panic!("no cache check: {view}"));
    assert_eq!(cache["passed"], false, "{cache}");
    let message = cache["message"].as_str().unwrap_or("");
    assert!(
        message.contains("2 steps ran again") && message.contains("COPY . ."),
        "{message}"
    );
    support::remove_image(&view["image"]);
}

#[tokio::test]
async fn a_step_that_writes_past_the_image_limit_is_stopped_while_it_runs() {
    let mut learner =
        TestClient::with_args(LOCAL_ENGINE, &["--max-image-mb=40", "--build-timeout=240"]).await;
    let writers = [
        // One big file, far past the limit.
        "RUN dd if=/dev/zero of=/big bs=1M count=3000",
        // A writer that never ends on its own: only the watch can stop it before the timeout.
        "RUN yes layerlab-disk-filler > /tmp/endless",
        // Many small files, in a folder.
        "RUN mkdir /many && i=0; while true; do i=$((i+1)); head -c 1048576 /dev/zero > /many/f$i; done",
        // After an honest step, so the limit counts the image below the step too.
        "RUN head -c 30000000 /dev/zero > /first\nRUN head -c 30000000 /dev/zero > /second; sleep 200",
    ];
    for writer in writers {
        let marker = format!(
            "disk-{}-{}-{}",
            std::process::id(),
            writer.len(),
            uuid_like_nonce()
        );
        let dockerfile = format!("FROM busybox:latest\nRUN echo {marker}\n{writer}\n");
        let (view, _log) = learner.build(None, &[("Dockerfile", &dockerfile)]).await;
        assert_eq!(code(&view), "step_too_large", "{writer}: {view}");
        let message = view["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.contains("40.0 MiB") && message.contains("while it ran"),
            "{message}"
        );
        // Nothing of the build is left: no step container, no committed step.
        let left = images_with_marker(&marker);
        assert!(left.is_empty(), "{writer}: images left behind: {left:?}");
    }
    let label = format!(
        "label=org.layerlab.instance={}",
        learner_instance(&learner).await
    );
    assert_eq!(support::docker(&["ps", "-aq", "--filter", &label]), "");
}

async fn learner_instance(client: &TestClient) -> String {
    let (store, _) = layerlab_server::store::open(&client.database_url())
        .await
        .expect("the database");
    store.instance.clone()
}

#[tokio::test]
async fn failed_and_cancelled_builds_leave_none_of_their_steps() {
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    // Big steps, then a failing one.
    let marker = format!("failed-{}-{}", std::process::id(), uuid_like_nonce());
    let dockerfile = format!(
        "FROM busybox:latest AS one\nRUN echo {marker} && head -c 20000000 /dev/zero > /a\nFROM busybox:latest\nRUN echo {marker} && head -c 20000000 /dev/zero > /b\nRUN false\n"
    );
    let (view, log) = learner.build(None, &[("Dockerfile", &dockerfile)]).await;
    assert_eq!(code(&view), "run_failed", "{view}");
    let named = named_images(&log);
    assert!(named.len() >= 3, "{log:#?}");
    for id in &named[..] {
        if id == &busybox_id().trim_start_matches("sha256:")[..12] {
            continue;
        }
        assert!(
            !image_exists(id),
            "the failed build's step {id} is still there"
        );
    }
    assert!(images_with_marker(&marker).is_empty());
    assert!(image_exists("busybox:latest"));

    // Cancelled after committing a big step: submitting again stops it and removes it.
    let marker = format!("cancelled-{}-{}", std::process::id(), uuid_like_nonce());
    let slow = format!(
        "FROM busybox:latest\nRUN echo {marker} && head -c 20000000 /dev/zero > /a\nRUN sleep 120\n"
    );
    let first = learner.start_build(None, &[("Dockerfile", &slow)]).await;
    let mut events = learner
        .events(&format!("/api/v1/builds/{first}/events"))
        .await;
    let mut seen = Vec::new();
    while let Some((name, data)) = events.next().await {
        if name == "log" {
            seen.push(data["text"].as_str().unwrap_or_default().to_string());
            if seen.iter().any(|l| l.starts_with("Step 3/")) {
                break;
            }
        }
    }
    assert!(
        !images_with_marker(&marker).is_empty(),
        "the step was committed"
    );
    let (view, _) = learner
        .build(
            None,
            &[("Dockerfile", "FROM busybox:latest\nCMD [\"true\"]\n")],
        )
        .await;
    assert_eq!(view["status"], "succeeded", "{view}");
    let cancelled = learner.get(&format!("/api/v1/builds/{first}")).await.json();
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let left = images_with_marker_after(&marker, 10).await;
    assert!(
        left.is_empty(),
        "the cancelled build's steps are still there: {left:?}"
    );
    support::remove_image(&view["image"]);
}

#[tokio::test]
async fn a_build_cut_off_by_a_killed_server_leaves_none_of_its_steps() {
    let server = support::ServerProcess::start(LOCAL_ENGINE);
    let cookie = support::start_learner(&server.base_url).await;
    let marker = format!("killed-{}-{}", std::process::id(), uuid_like_nonce());
    let dockerfile = format!(
        "FROM busybox:latest\nRUN echo {marker} && head -c 20000000 /dev/zero > /a\nRUN sleep 120\n"
    );
    let id = support::submit_on(&server.base_url, &cookie, &dockerfile).await;
    // Wait until the big step is committed and the next one runs.
    let mut committed = false;
    for _ in 0..120 {
        if !images_with_marker(&marker).is_empty() {
            committed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(committed, "the big step was never committed");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let db = server.kill();
    assert!(
        !images_with_marker(&marker).is_empty(),
        "the step outlived the server"
    );
    let server = support::ServerProcess::start_on(LOCAL_ENGINE, db);
    let left = images_with_marker_after(&marker, 30).await;
    assert!(
        left.is_empty(),
        "the interrupted build's steps are still there: {left:?}"
    );
    let (status, _, body) = support::http(
        "GET",
        &server.url(&format!("/api/v1/builds/{id}")),
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"interrupted\""), "{body}");
    assert!(image_exists("busybox:latest"));
}

#[tokio::test]
async fn builds_are_refused_below_the_disk_floor() {
    // A floor no disk here reaches: 100 TiB.
    let mut learner = TestClient::with_args(LOCAL_ENGINE, &["--min-free-disk-mb=104857600"]).await;
    let (view, _) = learner
        .build(
            None,
            &[("Dockerfile", "FROM busybox:latest\nRUN echo never\n")],
        )
        .await;
    assert_eq!(code(&view), "engine_disk_full", "{view}");
    let message = view["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("almost out of disk space") && message.contains("100.0 TiB"),
        "{message}"
    );
    assert!(view["image"].is_null(), "nothing was built: {view}");
}

fn volume_count() -> usize {
    support::docker(&["volume", "ls", "-q"]).lines().count()
}

/// A `VOLUME` would give every later step, and every check's container, an anonymous volume
/// on the engine's disk that no container size counts: a step could write past every limit
/// into it. Refused in every spelling, before the engine sees the build.
#[tokio::test]
async fn a_volume_cannot_carry_writes_past_the_limits() {
    let mut learner = TestClient::with_args(LOCAL_ENGINE, &["--max-image-mb=40"]).await;
    let volumes_before = volume_count();
    let attacks = [
        "FROM busybox:latest\nVOLUME /data\nRUN dd if=/dev/zero of=/data/big bs=1M count=100\n",
        "FROM busybox:latest\nvolume [\"/data\"]\nRUN dd if=/dev/zero of=/data/big bs=1M count=100\n",
        "FROM busybox:latest\nRUN mkdir /data\nVolume /data /more\nCMD [\"true\"]\n",
        "FROM busybox:latest\nONBUILD VOLUME /data\n",
        "FROM busybox:latest AS a\nVOLUME /v\nFROM busybox:latest\nCOPY --from=a /etc/passwd /p\n",
    ];
    for dockerfile in attacks {
        let (view, log) = learner.build(None, &[("Dockerfile", dockerfile)]).await;
        assert_eq!(code(&view), "volume_refused", "{dockerfile}: {view}");
        let message = view["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.contains("VOLUME is not allowed here") && message.contains("docker run -v"),
            "{message}"
        );
        assert!(view["error"]["line"].as_u64().is_some(), "{view}");
        assert!(
            !log.iter().any(|l| l.starts_with("Step ")),
            "the engine never saw it: {log:#?}"
        );
    }
    assert!(volume_count() <= volumes_before, "a volume was left behind");
}

/// Every step of a multi-stage build can stay under the image limit while the stages
/// together, kept as the next build's cache, take far more: they count with the image.
#[tokio::test]
async fn the_stages_a_build_keeps_count_with_its_image() {
    let mut learner = TestClient::with_args(LOCAL_ENGINE, &["--max-image-mb=40"]).await;
    // Unique to this run of this test: another suite's build may name "stages-<pid>" too.
    let marker = format!("stages-{}-{}", std::process::id(), uuid_like_nonce());
    let dockerfile = format!(
        "FROM busybox:latest AS a\nRUN echo {marker}-a && head -c 20000000 /dev/urandom > /blob\nFROM busybox:latest AS b\nRUN echo {marker}-b && head -c 20000000 /dev/urandom > /blob\nFROM busybox:latest\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\nCMD [\"true\"]\n"
    );
    let (view, _) = learner.build(None, &[("Dockerfile", &dockerfile)]).await;
    assert_eq!(code(&view), "image_too_large", "{view}");
    let message = view["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("earlier stages it was built from add") && message.contains("40.0 MiB"),
        "{message}"
    );
    let left = images_with_marker(&marker);
    assert!(left.is_empty(), "the stages are still there: {left:?}");
    // One stage of that size is fine: kept, with the image.
    let small = format!(
        "FROM busybox:latest AS a\nRUN echo {marker}-small && head -c 20000000 /dev/urandom > /blob\nFROM busybox:latest\nCOPY --from=a /etc/passwd /a\nCMD [\"true\"]\n"
    );
    let (view, _) = learner.build(None, &[("Dockerfile", &small)]).await;
    assert_eq!(view["status"], "succeeded", "{view}");
    support::remove_image(&view["image"]);
}

/// What a step writes where no container size counts still lands on the engine's disk: the
/// watch also stops a build when the disk falls below the floor while a step runs.
#[tokio::test]
async fn a_build_is_stopped_when_the_disk_falls_below_the_floor_while_it_runs() {
    let root = support::docker(&["info", "--format", "{{.DockerRootDir}}"]);
    let df = std::process::Command::new("df")
        .args(["--output=avail", "-B1M", &root])
        .output()
        .expect("df");
    let free_mb: u64 = String::from_utf8_lossy(&df.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("free MiB");
    // A floor 250 MiB under what is free now: a step writing 1.5 GB crosses it (and is
    // stopped long before it is done).
    let floor = format!("--min-free-disk-mb={}", free_mb.saturating_sub(250));
    let mut learner = TestClient::with_args(LOCAL_ENGINE, &[&floor, "--max-image-mb=4096"]).await;
    let marker = format!("floor-{}-{}", std::process::id(), uuid_like_nonce());
    let dockerfile = format!(
        "FROM busybox:latest\nRUN echo {marker}\nRUN dd if=/dev/zero of=/big bs=1M count=1500 && sleep 30\n"
    );
    let (view, _) = learner.build(None, &[("Dockerfile", &dockerfile)]).await;
    assert_eq!(code(&view), "engine_disk_full", "{view}");
    let message = view["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("while step 3 ran"),
        "stopped while it ran: {message}"
    );
    assert_eq!(view["error"]["line"], 3);
    assert!(images_with_marker(&marker).is_empty());
}

/// A value no earlier run of the tests used.
fn uuid_like_nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
