//! The docker console as the app runs it (`/api/v1/console…`): each learner's toolbox with the
//! real docker CLI behind their own proxy, commands on a pseudo-terminal streamed as rows,
//! typing to a running command, Ctrl-C, the caps, idle stop and removal, and what a killed
//! server leaves (nothing, once the next one starts). Real engine, real CLI.

use crate::support::{cookie_pair, http, ServerProcess, TestClient, TestDb, LOCAL_ENGINE};
use axum::http::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The console's toolbox image, made once from Debian's packages if missing.
pub fn seeded_toolbox() {
    static SEEDED: std::sync::Once = std::sync::Once::new();
    SEEDED.call_once(|| {
        let seeded = std::process::Command::new(env!("CARGO_BIN_EXE_layerlab"))
            .args(["images", "seed", "layerlab/toolbox:1"])
            .current_dir(crate::support::repo_root())
            .output()
            .expect("layerlab images seed");
        assert!(
            seeded.status.success(),
            "the toolbox is made from Debian's packages: {}",
            String::from_utf8_lossy(&seeded.stderr)
        );
    });
}

/// One learner at the console: their client and its event stream. Their toolbox and
/// containers are removed when the test is done with them.
pub(crate) struct Learner {
    pub(crate) client: TestClient,
    events: crate::support::EventStream,
    pub(crate) handle: String,
}

impl Drop for Learner {
    fn drop(&mut self) {
        crate::support::remove_console_of(&self.handle);
    }
}

/// What a command printed, and how it ended.
#[derive(Debug)]
pub(crate) struct Ran {
    pub(crate) exit: Option<i64>,
    note: String,
    pub(crate) text: String,
}

impl Learner {
    pub(crate) async fn open(mut client: TestClient) -> Self {
        let before = crate::support::console_folders(&client.console_dir());
        let opened = client
            .post_json("/api/v1/console", &serde_json::Value::Null)
            .await;
        assert_eq!(opened.status, StatusCode::NO_CONTENT, "{}", opened.body);
        let handle = crate::support::console_folders(&client.console_dir())
            .into_iter()
            .find(|f| !before.contains(f))
            .expect("the learner's console folder");
        let events = client.events("/api/v1/console/events").await;
        Learner {
            client,
            events,
            handle,
        }
    }

    /// Start `line`; its id.
    async fn start(&mut self, line: &str) -> u64 {
        let started = self
            .client
            .post_json("/api/v1/console/commands", &json!({ "line": line }))
            .await;
        assert_eq!(
            started.status,
            StatusCode::ACCEPTED,
            "{line}: {}",
            started.body
        );
        started.json()["id"].as_u64().expect("an id")
    }

    /// Read events until command `id` printed `wanted` (or ended); what it printed so far.
    async fn until(&mut self, id: u64, wanted: Option<&str>) -> Ran {
        let mut rows: BTreeMap<u64, String> = BTreeMap::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(Instant::now() < deadline, "command {id}: {rows:?}");
            let (name, event) = self.events.next().await.expect("the stream goes on");
            assert_eq!(name, "console");
            let of_this = event["id"].as_u64() == Some(id);
            match event["kind"].as_str() {
                Some("rows") if of_this => {
                    for row in event["rows"].as_array().expect("rows") {
                        let text: String = row[1]
                            .as_array()
                            .expect("spans")
                            .iter()
                            .map(|span| span[1].as_str().unwrap_or_default())
                            .collect();
                        rows.insert(row[0].as_u64().expect("a row number"), text);
                    }
                }
                Some("done") if of_this => {
                    return Ran {
                        exit: event["exit"].as_i64(),
                        note: event["note"].as_str().unwrap_or_default().to_string(),
                        text: rows.into_values().collect::<Vec<_>>().join("\n"),
                    }
                }
                _ => {}
            }
            let text = rows.values().cloned().collect::<Vec<_>>().join("\n");
            if wanted.is_some_and(|w| text.contains(w)) {
                return Ran {
                    exit: None,
                    note: String::new(),
                    text,
                };
            }
        }
    }

    /// The `rows` events of command `id`, until it ends.
    async fn rows_of(&mut self, id: u64) -> Vec<serde_json::Value> {
        let mut rows = Vec::new();
        loop {
            let (_, event) = self.events.next().await.expect("the stream goes on");
            if event["id"].as_u64() != Some(id) {
                continue;
            }
            match event["kind"].as_str() {
                Some("rows") => rows.push(event),
                Some("done") => return rows,
                _ => {}
            }
        }
    }

    /// Run `line` to its end.
    pub(crate) async fn run(&mut self, line: &str) -> Ran {
        let id = self.start(line).await;
        self.until(id, None).await
    }
}

/// What the engine says of container `name` (`docker inspect --format`), or `None`.
pub(crate) fn inspect(name: &str, format: &str) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", format, name])
        .output()
        .expect("docker inspect");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A POST of `body` to `path` on `server` as the learner with `cookie`.
async fn post(
    server: &ServerProcess,
    cookie: &str,
    path: &str,
    body: serde_json::Value,
) -> (StatusCode, Option<String>, String) {
    http("POST", &server.url(path), Some(cookie), Some(&body)).await
}

/// Start `line` in the console of the learner with `cookie` on `server` (202, or the test fails).
async fn command_on(server: &ServerProcess, cookie: &str, line: &str) {
    let (status, _, body) = post(
        server,
        cookie,
        "/api/v1/console/commands",
        json!({ "line": line }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{line}: {body}");
}

/// The one learner folder in a server's console folder: the learner's handle.
pub(crate) fn handle_in(dir: &std::path::Path) -> String {
    let names: Vec<String> = std::fs::read_dir(dir)
        .expect("the console folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    names[0].clone()
}

// Several threads: commands stream while the test reads and posts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_learner_types_real_docker_commands_into_a_toolbox_of_their_own() {
    seeded_toolbox();
    let client = TestClient::with_args(
        LOCAL_ENGINE,
        &["--console-max-running=2", "--console-max-open=2"],
    )
    .await;
    let other = client.another();
    let third = client.another();
    // A stream asked for without a console (no session, or never opened) opens nothing and
    // holds no place: the cap (here 2) is on toolboxes started.
    for _ in 0..3 {
        let mut visitor = client.another();
        let refused = visitor.get("/api/v1/console/events").await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
        assert_eq!(refused.json()["error"]["code"], "console_not_open");
        // Typing or Ctrl-C without a console: nothing runs, nothing is made.
        let idle = visitor
            .post_json("/api/v1/console/interrupt", &serde_json::Value::Null)
            .await;
        assert_eq!(idle.status, StatusCode::CONFLICT, "{}", idle.body);
        assert_eq!(idle.json()["error"]["code"], "no_command_running");
    }
    let mut ann = Learner::open(client).await;

    // The real CLI, its output as rows; the container is the learner's, named as typed.
    let ran = ann
        .run("docker run --name web busybox echo hello from the console && docker ps -a --format '{{.Names}} {{.Image}}' && id -u && pwd")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("hello from the console"), "{}", ran.text);
    assert!(ran.text.contains("web busybox"), "{}", ran.text);
    assert!(ran.text.contains("/home/learner"), "{}", ran.text);
    assert!(
        !ran.text.lines().any(|l| l.trim() == "0"),
        "a toolbox's commands never run as root: {}",
        ran.text
    );
    // A name already taken reads as the learner typed it, not as the engine knows it.
    let ran = ann.run("docker run --name web busybox true").await;
    assert_eq!(ran.exit, Some(125), "{ran:?}");
    assert!(ran.text.contains("\"/web\""), "{}", ran.text);
    assert!(!ran.text.contains("learner-"), "{}", ran.text);

    // The toolbox on the engine: layerlab's limits, no network, no capabilities, not root.
    let handle = handle_in(&ann.client.console_dir());
    let toolbox = format!("layerlab-console-{handle}");
    let facts = inspect(
        &toolbox,
        "{{.Config.User}} {{.HostConfig.NetworkMode}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.SecurityOpt}}",
    )
    .expect("the toolbox is on the engine");
    assert_eq!(
        facts,
        format!(
            "65532:65532 none true [ALL] {} 256 [no-new-privileges]",
            256 << 20
        )
    );
    assert!(
        inspect(&toolbox, "{{index .Config.Labels \"org.layerlab.owner\"}}")
            .is_some_and(|owner| owner.is_empty()),
        "the learner's docker commands cannot list or touch their toolbox"
    );
    let ran = ann
        .run(&format!(
            "docker ps -a --format '{{{{.Names}}}}' | grep -c console; docker rm -f {toolbox}"
        ))
        .await;
    assert!(ran.text.starts_with('0'), "{}", ran.text);
    assert!(ran.text.contains("No such container"), "{}", ran.text);
    assert_eq!(
        inspect(&toolbox, "{{.State.Running}}").as_deref(),
        Some("true")
    );

    // Another learner: their own toolbox, their own `web`, none of Ann's.
    let mut bob = Learner::open(other).await;
    // A third is one past the cap: told to wait, and nothing starts for them.
    let mut third = third;
    let full = third
        .post_json("/api/v1/console", &serde_json::Value::Null)
        .await;
    assert_eq!(
        full.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        full.body
    );
    assert_eq!(full.json()["error"]["code"], "consoles_full");
    assert!(full.header("retry-after").is_some());
    let ran = bob
        .run("docker ps -a --format '{{.Names}}'; docker logs web; docker run --name web busybox echo bob")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("No such container: web"), "{}", ran.text);
    assert!(ran.text.contains("bob"), "{}", ran.text);
    assert!(!ran.text.contains("hello from the console"), "{}", ran.text);

    // `cd` lasts from one command to the next, as in a shell.
    ann.run("mkdir -p app && cd app").await;
    let ran = ann.run("pwd").await;
    assert!(ran.text.contains("/home/learner/app"), "{}", ran.text);

    // Typing to a running command: it reads a line, as on a terminal (echoed).
    let id = ann.start("read -r answer && echo \"got: $answer\"").await;
    let busy = ann
        .client
        .post_json(
            "/api/v1/console/commands",
            &json!({"line": "echo too soon"}),
        )
        .await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "{}", busy.body);
    assert_eq!(busy.json()["error"]["code"], "command_running");
    let typed = ann
        .client
        .post_json("/api/v1/console/input", &json!({"text": "forty-two\r"}))
        .await;
    assert_eq!(typed.status, StatusCode::NO_CONTENT, "{}", typed.body);
    let ran = ann.until(id, None).await;
    assert!(ran.text.contains("got: forty-two"), "{ran:?}");

    // Ctrl-C interrupts; a second one ends a command that ignores it.
    let id = ann.start("echo waiting; sleep 600").await;
    ann.until(id, Some("waiting")).await;
    let stop = ann
        .client
        .post_json("/api/v1/console/interrupt", &serde_json::Value::Null)
        .await;
    assert_eq!(stop.status, StatusCode::NO_CONTENT, "{}", stop.body);
    let ran = ann.until(id, None).await;
    assert_eq!(
        (ran.exit, ran.note.as_str()),
        (Some(130), "interrupted (Ctrl-C)")
    );
    let id = ann.start("trap '' INT; echo deaf; sleep 600").await;
    ann.until(id, Some("deaf")).await;
    for _ in 0..2 {
        let stop = ann
            .client
            .post_json("/api/v1/console/interrupt", &serde_json::Value::Null)
            .await;
        assert_eq!(stop.status, StatusCode::NO_CONTENT, "{}", stop.body);
    }
    let ran = ann.until(id, None).await;
    assert_eq!(ran.exit, Some(137), "{ran:?}");
    let idle = ann
        .client
        .post_json("/api/v1/console/interrupt", &serde_json::Value::Null)
        .await;
    assert_eq!(idle.json()["error"]["code"], "no_command_running");

    // Containers running at once are capped per learner (here 2), with words that help.
    let ran = ann
        .run("for n in 1 2 3; do docker run -d --name s$n busybox sleep 600 >/dev/null || break; done; docker ps --format '{{.Names}}' | sort")
        .await;
    assert!(
        ran.text
            .contains("you have 2 containers running, the most one learner may"),
        "{}",
        ran.text
    );
    assert!(ran.text.contains("s1\ns2"), "{}", ran.text);
    let ran = ann.run("docker stop s1 >/dev/null && docker start s3 && docker ps --format '{{.Names}}' | sort").await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("s2\ns3"), "{}", ran.text);

    // Starting many at once cannot slip past the cap either.
    let ran = ann
        .run("docker rm -f s1 s2 s3 >/dev/null; for n in 1 2 3 4 5 6; do docker run -d --name p$n busybox sleep 600 >/dev/null 2>&1 & done; wait; docker ps -q | wc -l")
        .await;
    assert_eq!(ran.text.trim(), "2", "{ran:?}");

    // Lines that are not one command are refused, saying why.
    for (body, code) in [
        (json!({"line": "docker ps\ndocker images"}), "bad_command"),
        (json!({"line": "   "}), "bad_command"),
        (json!({"line": "x".repeat(5000)}), "bad_command"),
        (json!({"command": "docker ps"}), "bad_request"),
    ] {
        let refused = ann
            .client
            .post_json("/api/v1/console/commands", &body)
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert_eq!(refused.json()["error"]["code"], code, "{}", refused.body);
    }

    // A page that opens later (a reload) is shown the console as it is.
    let mut again = ann.client.events("/api/v1/console/events").await;
    let mut seen = String::new();
    let shown = tokio::time::timeout(Duration::from_secs(20), async {
        while !(seen.contains("got: forty-two") && seen.contains("hello from the console")) {
            let (_, event) = again.next().await.expect("the stream goes on");
            seen.push_str(&event.to_string());
        }
    })
    .await;
    assert!(shown.is_ok(), "{seen}");
}

/// The names the engine gives images of the learner with `handle` (`<handle>-…/web:1`).
fn image_names_of(handle: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()
        .expect("docker images");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|name| {
            name.starts_with(&format!("{handle}-")) || name.contains(&format!("/{handle}/"))
        })
        .map(str::to_string)
        .collect()
}

/// What the console at `events` (its event stream's address) shows the learner with
/// `cookie`, as its stream gives it in 3 s (for a failing test's message).
fn console_said(events: &str, cookie: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-N", "--max-time", "3", "-b", cookie, events])
        .output();
    match out {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => format!("(curl: {e})"),
    }
}

/// The id of the image without a name on the engine whose last step's command holds `step`.
fn dangling_made_by(step: &str) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(["images", "-q", "--no-trunc", "--filter", "dangling=true"])
        .output()
        .expect("docker images");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|id| {
            inspect(id, "{{json .ContainerConfig.Cmd}}").is_some_and(|cmd| cmd.contains(step))
        })
        .map(str::to_string)
}

/// `docker build`, `images`, `tag`, `rmi`, `history` and `image inspect` in the console: built
/// by the workbench's build policy within its limits, under the learner's own names, with
/// nothing of anyone else's to see or touch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_learner_builds_tags_and_removes_images_of_their_own() {
    seeded_toolbox();
    let client = TestClient::with_args(
        LOCAL_ENGINE,
        &[
            "--build-memory-mb=96",
            "--build-timeout=30",
            "--build-rate-per-minute=60",
        ],
    )
    .await;
    let other = client.another();
    let mut ann = Learner::open(client).await;

    // A build as on a laptop: the CLI's own output, the learner's names, the workbench's
    // memory limit on each step.
    let ran = ann
        .run("mkdir -p app && cd app && printf 'FROM busybox:latest\\nRUN echo built > /built && (cat /sys/fs/cgroup/memory/memory.limit_in_bytes || cat /sys/fs/cgroup/memory.max)\\nCOPY . /app/\\nCMD [\"cat\", \"/built\"]\\n' > Dockerfile && echo hi > note.txt && docker build --no-cache -t web:1 . && docker run --rm web:1")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    // (The CLI's own "Sending build context …" line may be overwritten on a terminal when
    // the answer comes at once, as straight to an engine: not asked for.)
    for wanted in [
        "Step 2/4 : RUN echo built",
        &(96u64 << 20).to_string(),
        "Successfully tagged web:1",
        "\nbuilt",
    ] {
        assert!(ran.text.contains(wanted), "{wanted}: {}", ran.text);
    }
    assert!(!ran.text.contains("learner-"), "{}", ran.text);
    let names = image_names_of(&ann.handle);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with("/web:1"), "{names:?}");
    // On the engine: the Dockerfile's four steps and nothing of layerlab's (whose the image
    // is, the database keeps: a label would be one more step, a container made and
    // committed, on every build).
    let labels = inspect(&names[0], "{{json .Config.Labels}}").expect("the image's labels");
    for layerlabs in [
        "org.layerlab.owner",
        "org.layerlab.attempt",
        "org.layerlab.instance",
    ] {
        assert!(!labels.contains(layerlabs), "{labels}");
    }
    let steps = |image: &str| {
        let out = std::process::Command::new("docker")
            .args(["history", "-q", image])
            .output()
            .expect("docker history");
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert_eq!(
        steps(&names[0]),
        steps("busybox:latest") + 3,
        "RUN, COPY, CMD"
    );

    // The listing: the course's base images and the learner's own, named as they typed;
    // history without layerlab's label steps; the files sent, as the CLI sent them.
    let ran = ann
        .run("docker images --format '{{.Repository}}:{{.Tag}}' && docker history --format '{{.CreatedBy}}' web:1 && docker run --rm web:1 cat /app/note.txt && docker image inspect -f '{{.RepoTags}}' web:1")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("web:1\n"), "{}", ran.text);
    assert!(ran.text.contains("busybox:latest\n"), "{}", ran.text);
    assert!(!ran.text.contains("toolbox"), "{}", ran.text);
    assert!(!ran.text.contains("org.layerlab"), "{}", ran.text);
    assert!(ran.text.contains("echo built > /built"), "{}", ran.text);
    assert!(ran.text.contains("\nhi\n"), "{}", ran.text);
    assert!(ran.text.contains("[web:1]"), "{}", ran.text);

    // The build policy and its limits, as for the workbench, in words the CLI prints.
    for (line, said) in [
        (
            "printf 'FROM alpine:3\\n' | docker build -",
            "FROM names “alpine:3”",
        ),
        (
            "printf 'FROM busybox:latest\\nADD http://example.com/x /x\\n' | docker build -",
            "does not allow URLs",
        ),
        (
            "printf 'FROM busybox:latest\\nLABEL org.layerlab.owner=someone\\n' | docker build -",
            "org.layerlab",
        ),
        (
            "docker build --label org.layerlab.owner=x .",
            "layerlab's own",
        ),
        ("docker build --network host .", "without a network"),
        (
            "docker build -t busybox:latest .",
            "one of the course's base images",
        ),
        ("docker build -t localhost:5000/web .", "names the registry"),
        (
            "ln -sf Dockerfile link && docker build .; rm -f link",
            "symbolic link",
        ),
        (
            "head -c 3000000 /dev/zero > big && docker build .; rm -f big",
            "a build here may hold",
        ),
        (
            "printf 'FROM busybox:latest\\nRUN sleep 600\\n' | docker build -",
            "took longer than 30 seconds",
        ),
    ] {
        let ran = ann.run(&format!("cd ~/app && {line}")).await;
        assert!(ran.text.contains(said), "{line}: {}", ran.text);
        assert!(
            !ran.text.contains("Successfully built"),
            "{line}: {}",
            ran.text
        );
    }
    assert_eq!(
        image_names_of(&ann.handle).len(),
        1,
        "nothing else was made"
    );

    // A build FROM the learner's own image, by the name they gave it (COPY --from too).
    let ran = ann
        .run("printf 'FROM web:1\\nCOPY --from=web:1 /built /again\\nCMD cat /again\\n' | docker build -t child - && docker run --rm child && docker rmi child")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("Step 1/3 : FROM web:1\n"), "{}", ran.text);
    assert!(ran.text.contains("\nbuilt\n"), "{}", ran.text);

    // Through a global ARG too, as its default or as a --build-arg.
    let ran = ann
        .run("printf 'ARG BASE=busybox:latest\\nFROM $BASE\\nCMD [\"cat\", \"/built\"]\\n' > ~/app/Argued && cd ~/app && sed 's/busybox:latest/web:1/' Argued | docker build -t argued - && docker run --rm argued && docker build --build-arg BASE=web:1 -f Argued -t argued . && docker run --rm argued && docker rmi argued")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert_eq!(ran.text.matches("\nbuilt\n").count(), 2, "{}", ran.text);
    assert!(!ran.text.contains("learner-"), "{}", ran.text);

    // `--target`: the stages up to that one are built, and nothing after it is read (a later
    // stage FROM an image not offered here is no matter).
    let ran = ann
        .run("cd ~/app && printf 'FROM busybox:latest AS tools\\nRUN echo from-tools > /made\\nFROM alpine:3\\nRUN false\\n' > Staged && docker build --target tools -f Staged -t tools . && docker run --rm tools cat /made && docker rmi tools")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    for said in ["Successfully tagged tools:latest", "\nfrom-tools\n"] {
        assert!(ran.text.contains(said), "{said}: {}", ran.text);
    }
    assert!(!ran.text.contains("RUN false"), "{}", ran.text);
    let ran = ann
        .run("cd ~/app && docker build --target nope -f Staged -t tools .")
        .await;
    assert_ne!(ran.exit, Some(0), "{ran:?}");
    assert!(
        ran.text
            .contains("failed to reach build target nope in Dockerfile"),
        "{}",
        ran.text
    );

    // Another learner sees none of it, by name, by the engine's name or by id.
    let mut bob = Learner::open(other).await;
    let id = inspect(&names[0], "{{.Id}}").expect("the image's id");
    let short = &id["sha256:".len().."sha256:".len() + 12];
    for line in [
        "docker run --rm web:1".to_string(),
        "docker image inspect web:1".into(),
        "docker history web:1".into(),
        "docker rmi web:1".into(),
        "docker tag web:1 mine".into(),
        format!("docker run --rm {}", names[0]),
        format!("docker rmi -f {short}"),
        format!("docker tag {short} mine"),
        format!("docker image inspect {id}"),
    ] {
        let ran = bob.run(&line).await;
        // (`rmi -f` says so, and ends well, as the CLI does for a missing image.)
        if !line.contains("rmi -f") {
            assert_ne!(ran.exit, Some(0), "{line}: {ran:?}");
        }
        assert!(ran.text.contains("No such image"), "{line}: {}", ran.text);
    }
    for line in [
        "printf 'FROM web:1\\n' | docker build -".to_string(),
        format!("printf 'FROM {}\\n' | docker build -", names[0]),
        format!(
            "printf 'FROM busybox:latest\\nCOPY --from={} /built /b\\n' | docker build -",
            names[0]
        ),
    ] {
        let ran = bob.run(&line).await;
        assert!(
            ran.text.contains("not one of your images"),
            "{line}: {}",
            ran.text
        );
        assert!(!ran.text.contains("Successfully"), "{line}: {}", ran.text);
    }
    let ran = bob
        .run("docker images --format '{{.Repository}}:{{.Tag}}'")
        .await;
    assert!(ran.text.contains("busybox:latest"), "{}", ran.text);
    assert!(!ran.text.contains("web"), "{}", ran.text);
    // Bob's own `web:1` is his, beside Ann's.
    let ran = bob
        .run("printf 'FROM busybox:latest\\nCMD [\"echo\", \"bob\"]\\n' | docker build -q -t web:1 - && docker run --rm web:1")
        .await;
    assert!(ran.text.contains("\nbob"), "{}", ran.text);
    let ran = ann.run("docker run --rm web:1").await;
    assert!(ran.text.contains("built"), "{}", ran.text);

    // Each learner's build cache is their own, as on a laptop: the same steps built by two
    // learners make two images, the second taking nothing from the first's (a cache hit
    // would tell one what another built), and a rebuild takes from the learner's own.
    let same = format!(
        "printf 'FROM busybox:latest\\nLABEL run={}\\nCMD [\"echo\", \"same\"]\\n' | docker build -t same - && docker image inspect -f 'id={{{{.Id}}}}' same",
        ann.handle
    );
    let id_of = |ran: &Ran| {
        ran.text
            .lines()
            .find_map(|l| l.trim().strip_prefix("id="))
            .expect("the image's id")
            .to_string()
    };
    let ann_same = ann.run(&same).await;
    let bob_same = bob.run(&same).await;
    assert_eq!(bob_same.exit, Some(0), "{bob_same:?}");
    assert!(!bob_same.text.contains("Using cache"), "{}", bob_same.text);
    assert_ne!(id_of(&ann_same), id_of(&bob_same));
    let again = ann.run(&same).await;
    assert!(again.text.contains("Using cache"), "{}", again.text);
    assert_eq!(id_of(&again), id_of(&ann_same));
    // Removing theirs takes it off the engine; the other's stays.
    let ran = bob.run("docker rmi same").await;
    assert!(ran.text.contains("Deleted: sha256:"), "{}", ran.text);
    // By id, an image several names name answers as the engine does.
    let same_id = id_of(&ann_same);
    let short = &same_id["sha256:".len().."sha256:".len() + 12];
    let ran = ann
        .run(&format!(
            "docker tag same $REGISTRY/same:1 && docker rmi {short}"
        ))
        .await;
    assert!(
        ran.text.contains("referenced in multiple repositories"),
        "{}",
        ran.text
    );
    let ran = ann
        .run("docker run --rm same && docker rmi same $REGISTRY/same:1")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.starts_with("same\n"), "{}", ran.text);

    // Built again under the same name: the earlier image is the learner's `<none>`, which
    // only they see, run and remove.
    let ran = ann
        .run(&format!("printf 'FROM busybox:latest\\nRUN echo first > /v # {}\\n' | docker build -q -t twice - && printf 'FROM busybox:latest\\nRUN echo second > /v\\n' | docker build -q -t twice - >/dev/null && docker images --format '{{{{.Repository}}}}:{{{{.Tag}}}} {{{{.ID}}}}'", ann.handle))
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    let first = ran
        .text
        .lines()
        .next()
        .expect("the first build's id")
        .trim()
        .to_string();
    let short = &first["sha256:".len().."sha256:".len() + 12];
    assert!(
        ran.text.contains(&format!("<none>:<none> {short}")),
        "{}",
        ran.text
    );
    let ran = bob
        .run("docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}'")
        .await;
    assert!(!ran.text.contains(short), "{}", ran.text);
    let ran = bob.run(&format!("docker run --rm {short} cat /v")).await;
    assert!(ran.text.contains("No such image"), "{}", ran.text);
    let ran = ann
        .run(&format!(
            "docker run --rm {short} cat /v && docker rmi {short} twice"
        ))
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.starts_with("first\n"), "{}", ran.text);
    assert!(inspect(&first, "{{.Id}}").is_none(), "{first} was removed");

    // tag and rmi: names of the learner's own; the base images stay.
    let ran = ann
        .run("docker tag web:1 web:2 && docker tag busybox:latest mybox && docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}' && docker rmi mybox web:2 && docker rmi busybox:latest; docker images --format '{{.Repository}}:{{.Tag}}'")
        .await;
    assert!(ran.text.contains("web:2 "), "{}", ran.text);
    assert!(ran.text.contains("mybox:latest "), "{}", ran.text);
    assert!(ran.text.contains("Untagged: mybox:latest"), "{}", ran.text);
    assert!(ran.text.contains("Untagged: web:2"), "{}", ran.text);
    assert!(ran.text.contains("base images, which stay"), "{}", ran.text);
    assert!(!ran.text.contains("learner-"), "{}", ran.text);
    assert!(
        inspect("busybox:latest", "{{.Id}}").is_some(),
        "the base image is still there"
    );
    // push and pull: the learner's namespace of the class registry, with their own login
    // (whatever `docker login` was given); no one else's.
    let ran = ann
        .run("docker login -u someone -p guess ${REGISTRY%%/*} && docker tag web:1 $REGISTRY/web:1 && docker push $REGISTRY/web:1 && docker rmi $REGISTRY/web:1 && docker pull $REGISTRY/web:1 && docker run --rm $REGISTRY/web:1 && docker images --format '{{.Repository}}:{{.Tag}}' && echo ns=$REGISTRY")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("Login Succeeded"), "{}", ran.text);
    assert!(ran.text.contains(": Pushed"), "{}", ran.text);
    assert!(ran.text.contains("Downloaded newer image"), "{}", ran.text);
    let namespace = ran
        .text
        .lines()
        .find_map(|l| l.strip_prefix("ns="))
        .expect("the namespace")
        .to_string();
    assert!(
        namespace.ends_with(&format!("/{}", ann.handle)),
        "{namespace}"
    );
    assert!(
        ran.text.contains(&format!("{namespace}/web:1\n")),
        "{}",
        ran.text
    );
    assert!(ran.text.contains("\nbuilt"), "{}", ran.text);
    // Pulled by the digest the registry held when asked, shown as a pull by its tag is.
    assert!(
        ran.text
            .contains(&format!("Downloaded newer image for {namespace}/web:1")),
        "{}",
        ran.text
    );
    assert!(
        !ran.text
            .lines()
            .any(|l| (l.contains("Pulling from") || l.starts_with("Status:"))
                && l.contains("sha256:")),
        "{}",
        ran.text
    );
    let registry = namespace.split('/').next().expect("an address").to_string();
    for (line, said) in [
        (
            format!("docker pull {namespace}/web:1"),
            "another namespace",
        ),
        (
            format!("docker tag busybox:latest {namespace}/mine:1"),
            "another namespace",
        ),
        (
            format!("docker push {namespace}/web:1"),
            "not in your namespace",
        ),
        (
            "docker push $REGISTRY/nothing:1".to_string(),
            "An image does not exist locally",
        ),
        (
            "docker pull $REGISTRY/nothing:1".to_string(),
            "holds no such image; docker push it first",
        ),
        (
            "docker push busybox:latest".to_string(),
            "not in your namespace",
        ),
        ("docker pull alpine".to_string(), "not in your namespace"),
        (
            "docker login -u x -p y example.com".to_string(),
            "the one registry here is the class registry",
        ),
    ] {
        let ran = bob.run(&line).await;
        assert_ne!(ran.exit, Some(0), "{line}: {ran:?}");
        assert!(ran.text.contains(said), "{line}: {}", ran.text);
    }
    let ran = bob.run(&format!("docker login -u x -p y {registry}")).await;
    assert!(ran.text.contains("Login Succeeded"), "{}", ran.text);

    // Pushed, gone from the engine under every name, and pulled back: still the learner's.
    let ran = ann
        .run("printf 'FROM busybox:latest\\nRUN echo away > /v\\n' | docker build -q -t away - && docker tag away $REGISTRY/away:1 && docker push -q $REGISTRY/away:1 && docker rmi away $REGISTRY/away:1 && docker pull -q $REGISTRY/away:1 && docker run --rm $REGISTRY/away:1 cat /v && docker rmi $REGISTRY/away:1")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("\naway\n"), "{}", ran.text);

    // Something in the learner's namespace that was not pushed from here (with their own
    // login, from outside) is not pulled: it could unpack to anything.
    let login = ann.client.get("/api/v1/registry/login").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let login = login.json();
    let outside = format!("{namespace}/outside:1");
    let config = tempfile::tempdir().expect("a docker config folder");
    let docker = |args: &[&str]| {
        let out = std::process::Command::new("docker")
            .env("DOCKER_CONFIG", config.path())
            .args(args)
            .output()
            .expect("docker");
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    docker(&[
        "login",
        "-u",
        login["username"].as_str().expect("a username"),
        "-p",
        login["password"].as_str().expect("a password"),
        &registry,
    ]);
    docker(&["tag", "busybox:latest", &outside]);
    docker(&["push", &outside]);
    docker(&["rmi", &outside]);
    let ran = ann.run(&format!("docker pull {outside}")).await;
    assert!(
        ran.text.contains("was not pushed from this workshop"),
        "{}",
        ran.text
    );
    assert!(inspect(&outside, "{{.Id}}").is_none(), "nothing was pulled");

    // Two Dockerfiles in one archive (the engine would build the one unpacked last): refused
    // before anything is built, whichever is checked.
    let ran = ann
        .run("mkdir -p ~/twice/b && cd ~/twice && printf 'FROM busybox:latest\\n' > Dockerfile && printf 'FROM learner-other/x\\n' > b/Dockerfile && tar cf ctx.tar Dockerfile && tar rf ctx.tar -C b Dockerfile && curl -s --unix-socket ${DOCKER_HOST#unix://} -X POST -H 'Content-Type: application/x-tar' --data-binary @ctx.tar 'http://docker/v1.41/build?t=twice'")
        .await;
    assert!(ran.text.contains("in the archive twice"), "{}", ran.text);
    assert!(!ran.text.contains("Successfully"), "{}", ran.text);

    // A build that fails leaves none of the images its steps made.
    let ran = ann
        .run("printf 'FROM busybox:latest\\nRUN echo made > /made\\nRUN false\\n' | docker build -")
        .await;
    assert_ne!(ran.exit, Some(0), "{ran:?}");
    let step = ran
        .text
        .lines()
        .skip_while(|l| !l.contains("RUN echo made"))
        .find_map(|l| {
            l.trim()
                .strip_prefix("---> ")
                .filter(|id| id.len() == 12 && !id.contains(' '))
        })
        .expect("the step's image")
        .to_string();
    let gone = Instant::now() + Duration::from_secs(20);
    while inspect(&step, "{{.Id}}").is_some() {
        assert!(
            Instant::now() < gone,
            "{step} is still on the engine: {}",
            ran.text
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // Names are counted (those in the registry namespace too), one past the most refused.
    let ran = ann
        .run("for n in $(seq 1 40); do docker tag busybox:latest n$n 2>&1 || break; done | tail -1; docker images --format '{{.Repository}}' | grep -c '^n[0-9]'")
        .await;
    assert!(ran.text.contains("one learner may keep 30"), "{}", ran.text);
    let kept: usize = ran
        .text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("a count");
    assert!(kept <= 30, "{}", ran.text);
    ann.run("docker rmi $(docker images --format '{{.Repository}}' | grep '^n[0-9]') >/dev/null")
        .await;

    // A build without -t: an untagged image, run by its id, removed by it.
    let ran = ann
        .run("cd ~/app && id=$(docker build -q .) && docker images --format '{{.Repository}}:{{.Tag}}' | grep -c '<none>' ; docker run --rm $id && docker rmi web:1")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("Untagged: web:1"), "{}", ran.text);
    // Ctrl-C stops a build: its step ends, and the next build starts at once.
    let id = ann
        .start("printf 'FROM busybox:latest\\nRUN echo slow && sleep 600\\n' | docker build -")
        .await;
    ann.until(id, Some("slow")).await;
    ann.client
        .post_json("/api/v1/console/interrupt", &serde_json::Value::Null)
        .await;
    let ran = ann.until(id, None).await;
    assert_eq!(ran.exit, Some(130), "{ran:?}");
    let ran = ann
        .run("printf 'FROM busybox:latest\\nRUN echo quick\\n' | docker build -t quick - && docker rmi quick")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("Untagged: quick:latest"), "{}", ran.text);
}

/// Idle consoles stop (toolbox and containers), start again with the next command, and go
/// after the longer idle time; a server killed with consoles open leaves nothing once the
/// next one has started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_consoles_stop_then_go_and_a_killed_server_leaves_nothing_behind() {
    seeded_toolbox();
    let db = std::sync::Arc::new(TestDb::new());
    // (A command running counts as idle: a build under a loaded run may take longer than a
    // few seconds, so stopped at 10 s and removed at 30 s.)
    let flags = ["--console-idle-stop=10", "--console-idle-remove=30"];
    let server = ServerProcess::start_with(LOCAL_ENGINE, db.clone(), &flags);
    // (Opening the console is the learner's first request: it starts their session.)
    let (status, set_cookie, body) = http(
        "POST",
        &server.url("/api/v1/console"),
        None,
        Some(&json!(null)),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let cookie = cookie_pair(set_cookie);
    let handle = handle_in(&db.console_dir());
    let (toolbox, web) = (
        format!("layerlab-console-{handle}"),
        format!("{handle}-web"),
    );
    let running = |name: &str| inspect(name, "{{.State.Running}}");
    let url = server.url("/api/v1/console/events");
    let wait_for = |what: &str, check: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(90);
        while !check() {
            assert!(
                Instant::now() < deadline,
                "waited 90 s for {what}; the console says:\n{}",
                console_said(&url, &cookie)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    // (`kept` built twice: the first is left without a name, the learner's `<none>`.)
    command_on(
        &server,
        &cookie,
        &format!("printf 'FROM busybox:latest\\nRUN echo {handle}\\n' | docker build -t kept - && printf 'FROM busybox:latest\\nRUN true\\n' | docker build -t kept - && docker tag busybox:latest mybox && docker tag kept $REGISTRY/kept:1 && docker run -d --name web busybox sleep 600"),
    )
    .await;
    wait_for("web to run", &|| running(&web).as_deref() == Some("true"));
    assert_eq!(
        image_names_of(&handle).len(),
        3,
        "the learner's kept:latest, mybox:latest and <registry>/<handle>/kept:1"
    );
    let unnamed = dangling_made_by(&format!("echo {handle}")).expect("the first kept");

    // Idle: stopped, both, with the folder of its socket (taken once both have stopped).
    wait_for("the idle console to stop", &|| {
        running(&toolbox).as_deref() == Some("false")
            && running(&web).as_deref() == Some("false")
            && !db.console_dir().join(&handle).exists()
    });
    // The next command starts the toolbox again; the learner's container is still theirs.
    // (Started again, the console knows the images it built from the database: `kept`.)
    command_on(
        &server,
        &cookie,
        "docker start web && docker run -d --name again kept sleep 600",
    )
    .await;
    let again = format!("{handle}-again");
    wait_for("web to run again, and a container of kept", &|| {
        running(&web).as_deref() == Some("true") && running(&again).as_deref() == Some("true")
    });
    assert_eq!(running(&toolbox).as_deref(), Some("true"));

    // Killed with the console open: everything is still there …
    let db = server.kill();
    assert_eq!(running(&toolbox).as_deref(), Some("true"));
    // … until the next server starts.
    let server = ServerProcess::start_with(LOCAL_ENGINE, db.clone(), &flags);
    let left = || {
        [
            running(&toolbox).map(|_| toolbox.clone()),
            running(&web).map(|_| web.clone()),
            running(&again).map(|_| again.clone()),
            inspect(&unnamed, "{{.Id}}"),
        ]
        .into_iter()
        .flatten()
        .chain(image_names_of(&handle))
        .collect::<Vec<String>>()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !left().is_empty() {
        assert!(
            Instant::now() < deadline,
            "still there after a minute: {:?}",
            left()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(!db.console_dir().join(&handle).exists());
    assert!(
        inspect("busybox:latest", "{{.Id}}").is_some(),
        "the base image stays"
    );

    // Idle for the longer time: removed, not just stopped; a command left printing keeps
    // its console no longer than that.
    command_on(
        &server,
        &cookie,
        "docker tag busybox:latest mybox && docker run -d --name web busybox sleep 600 && while true; do echo tick; sleep 1; done",
    )
    .await;
    wait_for("web to run", &|| running(&web).as_deref() == Some("true"));
    wait_for("the idle console to go", &|| {
        running(&toolbox).is_none() && running(&web).is_none() && image_names_of(&handle).is_empty()
    });

    // A name in a learner's registry namespace made by hand on the engine's host (an
    // instructor pulling a push) is not the sweep's, however often it runs.
    let (status, _, login) = http(
        "GET",
        &server.url("/api/v1/registry/login"),
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let login: serde_json::Value = serde_json::from_str(&login).expect("JSON");
    let by_hand = format!(
        "{}/learner-000000000000/by-hand:1",
        login["registry"].as_str().expect("the registry")
    );
    let tagged = std::process::Command::new("docker")
        .args(["tag", "busybox:latest", &by_hand])
        .output()
        .expect("docker tag");
    assert!(tagged.status.success());
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        inspect(&by_hand, "{{.Id}}").is_some(),
        "{by_hand} was taken off"
    );
    let _ = std::process::Command::new("docker")
        .args(["rmi", &by_hand])
        .output();
}

/// A command that floods its terminal is read no faster than the console's limit (its
/// terminal makes it wait), the page gets its rows in batches, and only the newest rows are
/// kept: the server's work and memory stay bounded whatever a learner prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_output_is_slowed_batched_and_kept_bounded() {
    seeded_toolbox();
    let client = TestClient::new(LOCAL_ENGINE).await;
    let mut ann = Learner::open(client).await;
    let started = Instant::now();
    // 1.5 MB of short lines, then a word: at 256 KiB a second, more than 5 s.
    let id = ann.start("yes 'y' | head -c 1500000; echo the end").await;
    let batches = ann.rows_of(id).await.len();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(5),
        "read faster than the limit: {took:?}"
    );
    // At most one batch per 40 ms (and the last), far fewer than the 750,000 lines printed.
    let most = took.as_millis() / 40 + 2;
    assert!(batches as u128 <= most, "{batches} batches in {took:?}");
    // A page that opens now is sent only the newest rows.
    let mut again = ann.client.events("/api/v1/console/events").await;
    let mut rows = Vec::new();
    let shown = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let (_, event) = again.next().await.expect("the stream goes on");
            if event["kind"] == "rows" && event["id"].as_u64() == Some(id) {
                for row in event["rows"].as_array().expect("rows") {
                    rows.push(row[0].as_u64().expect("a row number"));
                }
            }
            if event["kind"] == "done" && event["id"].as_u64() == Some(id) {
                break;
            }
        }
    })
    .await;
    assert!(shown.is_ok());
    assert_eq!(
        rows.len(),
        layerlab_server::console::screen::MAX_ROWS,
        "{}",
        rows.len()
    );
    assert!(
        rows[0] > 700_000,
        "the oldest rows are dropped: first kept {}",
        rows[0]
    );

    // A row that changes colour at every character, drawn again and again in place: each
    // time it is sent as a few runs, and all of it weighs far less than its colours would.
    let id = ann
        .start("for i in $(seq 60); do printf '\\e[31mx\\e[32my%.0s' $(seq 1000); printf '\\r'; done; echo; echo flood over")
        .await;
    let (mut weight, mut most_runs) = (0usize, 0usize);
    for event in ann.rows_of(id).await {
        weight += event.to_string().len();
        for row in event["rows"].as_array().expect("rows") {
            most_runs = most_runs.max(row[1].as_array().map_or(0, Vec::len));
        }
    }
    assert!(most_runs <= 64, "{most_runs} runs in a row");
    assert!(
        weight < 1 << 20,
        "{weight} bytes of rows for 600 kB of colours"
    );
    // The server lost nothing meanwhile: the next command runs at once.
    let ran = ann.run("echo still here").await;
    assert!(ran.text.contains("still here"), "{ran:?}");
}

/// `docker run -p 8080:80` binds nothing on the host: the port answers in the learner's
/// console (`curl localhost:8080`) and through layerlab's page for that learner only, until
/// the container stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_port_answers_in_the_console_and_on_the_page_for_its_owner_only() {
    seeded_toolbox();
    let client = TestClient::new(LOCAL_ENGINE).await;
    let other = client.another();
    let mut ann = Learner::open(client).await;
    let ran = ann
        .run("docker run -d --name web -p 8080:80 busybox sh -c 'mkdir -p /www && echo hello from web > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null && for i in 1 2 3 4 5 6 7 8 9 10; do curl -sf localhost:8080 && break; sleep 0.5; done")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("hello from web"), "{}", ran.text);
    // Nothing is bound on the host for it: the engine publishes no port.
    let web = format!("{}-web", handle_in(&ann.client.console_dir()));
    let bound = inspect(
        &web,
        "{{json .HostConfig.PortBindings}} {{json .NetworkSettings.Ports}}",
    )
    .expect("Ann's web is on the engine");
    assert!(
        bound.split(' ').all(|b| b == "null" || b == "{}"),
        "{bound}"
    );

    // Listed and inspected as a laptop's engine shows them; one container per port.
    let ran = ann
        .run("docker ps --format '{{.Names}} {{.Ports}}'; docker port web; docker run -d --name web2 -p 8080:80 busybox sleep 60")
        .await;
    assert!(
        ran.text.contains("web 0.0.0.0:8080->80/tcp"),
        "{}",
        ran.text
    );
    assert!(ran.text.contains("80/tcp -> 0.0.0.0:8080"), "{}", ran.text);
    assert!(
        ran.text.contains("port is already allocated"),
        "{}",
        ran.text
    );

    // The page's route: the owner sees the page, sandboxed, without cookies.
    let page = ann.client.get("/console/ports/8080/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("hello from web"), "{}", page.body);
    assert!(
        page.header("content-security-policy")
            .is_some_and(|csp| csp.starts_with("sandbox")),
        "{:?}",
        page.headers
    );
    let bare = ann.client.get("/console/ports/8080").await;
    assert_eq!(bare.status, StatusCode::PERMANENT_REDIRECT);
    // Anyone else: no such port, console open or not.
    let mut bob = Learner::open(other).await;
    let theirs = bob.client.get("/console/ports/8080/").await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.body);
    assert!(!theirs.body.contains("hello from web"));
    let ran = bob.run("curl -s -m 2 localhost:8080; echo status $?").await;
    assert!(!ran.text.contains("hello from web"), "{}", ran.text);
    assert!(
        ran.text.contains("status 7"),
        "nothing listens in Bob's console: {}",
        ran.text
    );

    // Stopped: the port goes with it.
    let ran = ann
        .run("docker stop -t 1 web >/dev/null; curl -s -m 2 localhost:8080; echo status $?")
        .await;
    assert!(ran.text.contains("status 7"), "{}", ran.text);
    let gone = ann.client.get("/console/ports/8080/").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    // Published on an address of the host's, or without a port of one's own: refused.
    let ran = ann
        .run("docker run -d -p 10.0.0.1:8081:80 busybox true; docker run -d -p 80 busybox true")
        .await;
    assert!(
        ran.text.contains("never on the host's addresses"),
        "{}",
        ran.text
    );
    assert!(ran.text.contains("-p 8080:80"), "{}", ran.text);
}

/// A learner's containers may be kept up to a number, and may write up to a budget: past it
/// the biggest is removed within seconds, and their console says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_kept_and_what_they_write_are_bounded_per_learner() {
    seeded_toolbox();
    let client = TestClient::with_args(
        LOCAL_ENGINE,
        &["--console-max-containers=3", "--console-disk-mb=20"],
    )
    .await;
    let mut ann = Learner::open(client).await;
    let ran = ann
        .run("for n in 1 2 3 4; do docker create --name c$n busybox true >/dev/null || break; done; docker ps -aq | wc -l")
        .await;
    assert!(
        ran.text
            .contains("you have 3 containers, the most one learner may keep"),
        "{}",
        ran.text
    );
    assert!(ran.text.trim_end().ends_with('3'), "{}", ran.text);
    let handle = handle_in(&ann.client.console_dir());
    // 40 MiB written against 20: removed, and said.
    let ran = ann
        .run("docker rm c1 c2 c3 >/dev/null; docker run -d --name big busybox sh -c 'dd if=/dev/zero of=/big bs=1M count=40 2>/dev/null; sleep 600'")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    let big = format!("{handle}-big");
    let deadline = Instant::now() + Duration::from_secs(60);
    while inspect(&big, "{{.Id}}").is_some() {
        assert!(
            Instant::now() < deadline,
            "the big container is still there"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let said = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let (_, event) = ann.events.next().await.expect("the stream goes on");
            if event["kind"] == "state" {
                let message = event["message"].as_str().unwrap_or_default().to_string();
                if message.contains("more than the 20 MiB") {
                    return message;
                }
            }
        }
    })
    .await
    .expect("the console says why");
    assert!(said.contains("removed the biggest"), "{said}");
}

/// Every command a lesson offers to try in the console (```` ```try ```` blocks) works there:
/// run in order, lesson by lesson, none is refused by the console's policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_the_lessons_offer_to_try_runs_in_the_console() {
    seeded_toolbox();
    let lessons = crate::support::repo_root().join("content/lessons");
    let mut tried = 0;
    let mut files: Vec<_> = std::fs::read_dir(&lessons)
        .expect("the lessons")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for lesson in files {
        let text = std::fs::read_to_string(&lesson).expect("a lesson");
        let mut lines = Vec::new();
        let mut inside = false;
        for line in text.lines() {
            if line.trim() == "```try" {
                inside = true;
            } else if inside && line.trim() == "```" {
                inside = false;
            } else if inside && !line.trim().is_empty() {
                lines.push(line.trim().to_string());
            }
        }
        if lines.is_empty() {
            continue;
        }
        // Each lesson in a console of its own, as a learner coming to it would have.
        let mut learner = Learner::open(TestClient::new(LOCAL_ENGINE).await).await;
        for line in lines {
            let ran = learner.run(&line).await;
            assert!(
                !ran.text.contains("layerlab: "),
                "{}: `{line}` is refused by the console: {}",
                lesson.display(),
                ran.text
            );
            tried += 1;
        }
    }
    assert!(tried >= 6, "the lessons offer {tried} commands to try");
}

/// A toolbox that cannot start (here its image is missing) is said to the learner in plain
/// words, without the server's paths or the operator's command, which go to the log.
#[tokio::test]
async fn a_toolbox_that_cannot_start_is_said_without_the_servers_insides() {
    let mut client = TestClient::with_args(
        LOCAL_ENGINE,
        &["--console-toolbox=layerlab/no-such-toolbox:0"],
    )
    .await;
    let refused = client
        .post_json("/api/v1/console", &serde_json::Value::Null)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    assert_eq!(refused.json()["error"]["code"], "console_unavailable");
    let message = refused.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("did not start"), "{message}");
    for inside in ["images seed", "/", "no-such-toolbox"] {
        assert!(!message.contains(inside), "{inside} in: {message}");
    }
    // Nothing is left behind for it.
    assert!(crate::support::console_folders(&client.console_dir())
        .iter()
        .all(|handle| inspect(&format!("layerlab-console-{handle}"), "{{.Id}}").is_none()));
}

/// A learner's images are counted against their disk budget by what is theirs alone: a base
/// image's layers are not (a small build on busybox fits 1 MiB), a step that writes past it
/// is (the image is removed and the CLI says why).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learners_images_are_counted_by_their_own_layers() {
    seeded_toolbox();
    let client = TestClient::with_args(LOCAL_ENGINE, &["--console-disk-mb=1"]).await;
    let mut ann = Learner::open(client).await;
    let ran = ann
        .run("printf 'FROM busybox:latest\\nRUN echo small > /small\\n' | docker build -q -t small - && docker images --format '{{.Repository}}'")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("small"), "{}", ran.text);
    let ran = ann
        .run("printf 'FROM busybox:latest\\nRUN head -c 1600000 /dev/urandom > /big\\n' | docker build -t big -")
        .await;
    assert_ne!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("would take"), "{}", ran.text);
    let names = image_names_of(&ann.handle);
    assert!(names.iter().all(|n| !n.contains("/big:")), "{names:?}");
}

/// A learner whose images reach their budget (here by pulling back what they pushed, each
/// push within it) builds and pulls nothing more: the count runs beside the build, and the
/// build is refused with no image left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_at_their_budget_builds_and_pulls_nothing_more() {
    seeded_toolbox();
    let client = TestClient::with_args(LOCAL_ENGINE, &["--console-disk-mb=2"]).await;
    let mut ann = Learner::open(client).await;
    let noise = |name: &str| {
        format!("printf 'FROM busybox:latest\\nRUN head -c 1200000 /dev/urandom > /noise\\n' | docker build -q -t {name} - >/dev/null")
    };
    let ran = ann
        .run(&format!(
            "{} && docker tag one $REGISTRY/one:1 && docker push -q $REGISTRY/one:1 >/dev/null && docker rmi one $REGISTRY/one:1 >/dev/null && {} && docker pull -q $REGISTRY/one:1",
            noise("one"),
            noise("two")
        ))
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    let mut before = image_names_of(&ann.handle);
    before.sort();
    assert_eq!(before.len(), 2, "two:latest and the pull: {before:?}");
    for line in [
        "printf 'FROM busybox:latest\\nRUN echo three\\n' | docker build -t three -".to_string(),
        noise("four"),
        "docker tag two $REGISTRY/two:1 && docker push -q $REGISTRY/two:1 >/dev/null && docker rmi $REGISTRY/two:1 >/dev/null && docker pull $REGISTRY/two:1".to_string(),
    ] {
        let ran = ann.run(&line).await;
        assert_ne!(ran.exit, Some(0), "{line}: {ran:?}");
        assert!(ran.text.contains("your images take"), "{line}: {}", ran.text);
    }
    let mut after = image_names_of(&ann.handle);
    after.sort();
    assert_eq!(after, before, "nothing was added");
}

/// A pull goes on after its `docker pull` has gone, until the engine has the image (so that
/// it is tagged and kept as the learner's): a learner runs two at a time at most, and a third
/// is refused saying so, rather than pulls started and dropped without end. Once they have
/// ended, pulling works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_runs_two_pulls_at_a_time_at_most() {
    seeded_toolbox();
    let client = TestClient::with_args(LOCAL_ENGINE, &["--build-timeout=60"]).await;
    let mut ann = Learner::open(client).await;
    // Three images of their own, 24 MB of noise each (nothing shared, slow enough to pull),
    // pushed and then removed from the engine.
    let ran = ann
        .run("for n in 1 2 3; do printf 'FROM busybox:latest\\nRUN head -c 24000000 /dev/urandom > /noise-%s\\n' $n | docker build -q -t $REGISTRY/noise:$n - >/dev/null && docker push -q $REGISTRY/noise:$n >/dev/null && docker rmi $REGISTRY/noise:$n >/dev/null || exit 1; done; echo pushed")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("pushed"), "{}", ran.text);
    let ran = ann
        .run("for n in 1 2 3; do (docker pull -q $REGISTRY/noise:$n 2>&1 | sed \"s/^/pull $n: /\") & sleep 0.05; done; wait; docker images --format '{{.Repository}}:{{.Tag}}' | sed 's/^/kept: /'")
        .await;
    // (The three start together: which one comes third is the CLIs' race.)
    let refused: Vec<&str> = ran
        .text
        .lines()
        .filter(|l| l.contains("2 of your pulls are still running"))
        .collect();
    assert_eq!(refused.len(), 1, "{}", ran.text);
    let third: u32 = refused[0]
        .strip_prefix("pull ")
        .and_then(|l| l.split(':').next())
        .and_then(|n| n.parse().ok())
        .expect("which pull");
    let kept = |text: &str, n: u32| {
        text.lines()
            .any(|l| l.starts_with("kept: ") && l.ends_with(&format!("/noise:{n}")))
    };
    for n in 1..=3 {
        assert_eq!(kept(&ran.text, n), n != third, "noise:{n}: {}", ran.text);
    }
    // Both places are free again.
    let ran = ann
        .run(&format!("docker pull -q $REGISTRY/noise:{third} && docker images --format '{{{{.Repository}}}}:{{{{.Tag}}}}' | sed 's/^/kept: /'"))
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(kept(&ran.text, third), "{}", ran.text);
}
