//! The build API against the real Docker engine: results compared with what the docker CLI
//! reports, every failure's message, run limits, the HTTP probe, live events, clean-up, and
//! every exercise's solution (passes) and starter (fails). Needs the engine and
//! `busybox:latest` (`./x test` seeds it); a missing engine fails these tests.

use crate::support;

use axum::http::StatusCode;
use serde_json::Value;
use support::{docker, remove_image, TestClient, LOCAL_ENGINE};

/// A word no other test run uses, to find leftovers of this one.
fn marker(tag: &str) -> String {
    format!("layerlab-test-{tag}-{}-{}", std::process::id(), uuid_like())
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Containers (running or not) whose command mentions `word`.
fn containers_mentioning(word: &str) -> Vec<String> {
    docker(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"])
        .lines()
        .filter(|l| l.contains(word))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_build_reports_size_layers_and_history_exactly_as_docker_does() {
    let mut client = TestClient::new(LOCAL_ENGINE).await;
    let word = marker("facts");
    let dockerfile = format!(
        "FROM busybox:latest\nWORKDIR /app\nENV GREETING=hello\nCOPY hello.sh .\nRUN echo {word} > /app/data.txt\nCMD [\"sh\", \"hello.sh\"]\n"
    );
    let (result, log) = client
        .build(
            None,
            &[
                ("Dockerfile", &dockerfile),
                ("hello.sh", "echo \"$GREETING from $(cat data.txt)\"\n"),
            ],
        )
        .await;
    assert_eq!(result["status"], "succeeded", "{result:#}\n{log:#?}");
    assert!(
        log.iter().any(|l| l.starts_with("Step 5/6 : RUN echo")),
        "{log:#?}"
    );
    assert!(!log.iter().any(|l| l.contains("org.layerlab")), "{log:#?}");

    let image = &result["image"];
    let id = image["id"].as_str().expect("image id");
    let inspect: Value =
        serde_json::from_str(&docker(&["image", "inspect", "--format", "{{json .}}", id]))
            .expect("inspect JSON");
    assert_eq!(image["size_bytes"], inspect["Size"]);
    let layers = inspect["RootFS"]["Layers"]
        .as_array()
        .expect("layers")
        .len();
    assert_eq!(image["layers"], layers);
    let build_id = result["id"].as_str().expect("build id");
    assert_eq!(
        inspect["RepoTags"],
        serde_json::json!([format!("layerlab/playground:{build_id}")]),
        "the tag names the build"
    );
    let attempt = inspect["Config"]["Labels"]["org.layerlab.attempt"]
        .as_str()
        .unwrap_or("");
    assert!(
        attempt.ends_with("/playground"),
        "the label names learner and exercise: {attempt}"
    );

    // History: oldest first, the same entries as `docker history`, one per instruction.
    let cli_history: Vec<String> = docker(&[
        "history",
        "--no-trunc",
        "--format",
        "entry:{{.CreatedBy}}",
        id,
    ])
    .lines()
    .rev()
    .map(|l| l.trim_start_matches("entry:"))
    // (layerlab's own labels: whose attempt, which installation, whose image.)
    .filter(|l| !l.contains("LABEL org.layerlab."))
    .map(str::to_string)
    .collect();
    assert_eq!(
        log.iter().filter(|l| l.starts_with("Step ")).count(),
        6,
        "the builder's extra LABEL steps are not shown: {log:#?}"
    );
    let history = image["history"].as_array().expect("history");
    let created_by: Vec<&str> = history
        .iter()
        .map(|h| h["created_by"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(created_by, cli_history);
    // Base image entry + WORKDIR, ENV, COPY, RUN, CMD.
    assert_eq!(history.len(), 6, "{history:#?}");
    let empty: Vec<bool> = history.iter().map(|h| h["empty_layer"] == true).collect();
    assert_eq!(
        empty,
        [false, false, true, false, false, true],
        "{history:#?}"
    );
    let non_empty = empty.iter().filter(|e| !**e).count();
    assert_eq!(
        non_empty, layers,
        "every layer is one non-empty history entry"
    );

    // The container ran the image's CMD, with the ENV from the image.
    let run = &result["run"];
    assert_eq!(run["exit_code"], 0, "{run:#}");
    assert_eq!(run["output"], format!("hello from {word}\n"));
    assert_eq!(run["timed_out"], false);
    assert_eq!(run["oom_killed"], false);
    assert!(
        containers_mentioning(&word).is_empty(),
        "build containers are removed"
    );
    assert_eq!(
        docker(&[
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!(
                "label=org.layerlab.build={}",
                result["id"].as_str().unwrap_or("")
            )
        ]),
        "",
        "the run container is removed"
    );
    remove_image(image);
}

#[tokio::test]
async fn a_multi_stage_build_reports_only_the_final_stage() {
    let mut client = TestClient::new(LOCAL_ENGINE).await;
    let word = marker("stages");
    let dockerfile = format!(
        "FROM busybox:latest AS build\nRUN dd if=/dev/zero of=/big bs=1M count=4 && echo {word} > /small\n\nFROM busybox:latest\nCOPY --from=build /small /small\n"
    );
    let (result, log) = client.build(None, &[("Dockerfile", &dockerfile)]).await;
    assert_eq!(result["status"], "succeeded", "{result:#}\n{log:#?}");
    let image = &result["image"];
    let id = image["id"].as_str().expect("id");
    let base_layers: usize = docker(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        "busybox:latest",
    ])
    .parse()
    .expect("number");
    let base_size: u64 = docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Size}}",
        "busybox:latest",
    ])
    .parse()
    .expect("number");
    assert_eq!(
        image["layers"],
        base_layers + 1,
        "only the COPY adds a layer"
    );
    assert_eq!(
        image["layers"].as_u64(),
        docker(&["image", "inspect", "--format", "{{len .RootFS.Layers}}", id])
            .parse()
            .ok()
    );
    let size = image["size_bytes"].as_u64().expect("size");
    assert_eq!(
        Some(size),
        docker(&["image", "inspect", "--format", "{{.Size}}", id])
            .parse()
            .ok()
    );
    assert!(
        size < base_size + 1024 * 1024,
        "the 4 MiB file stayed in the build stage: {size}"
    );
    let history = image["history"].as_array().expect("history");
    assert!(
        history
            .iter()
            .all(|h| !h["created_by"].as_str().unwrap_or("").contains("dd if=")),
        "the build stage's RUN is not in the final history: {history:#?}"
    );
    assert!(history
        .last()
        .and_then(|h| h["created_by"].as_str())
        .unwrap_or("")
        .contains("COPY"));
    // busybox's inherited `CMD ["sh"]` runs and exits at once.
    assert_eq!(result["run"]["exit_code"], 0, "{result:#}");
    remove_image(image);
}

#[tokio::test]
async fn each_build_failure_has_its_own_message_and_leaves_no_container() {
    let mut client = TestClient::new(LOCAL_ENGINE).await;
    let word = marker("fail");

    let (syntax, _) = client
        .build(
            None,
            &[("Dockerfile", "FROM busybox:latest\nRUNN echo hi\n")],
        )
        .await;
    assert_eq!(syntax["status"], "failed");
    assert_eq!(syntax["error"]["code"], "dockerfile_syntax", "{syntax:#}");
    assert_eq!(syntax["error"]["line"], 2);
    assert!(
        syntax["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("RUNN"),
        "{syntax:#}"
    );
    assert!(syntax.get("image").is_none());

    let failing =
        format!("FROM busybox:latest\nWORKDIR /w\n\nRUN echo {word} about to fail && exit 3\n");
    let (run_failed, log) = client.build(None, &[("Dockerfile", &failing)]).await;
    let error = &run_failed["error"];
    assert_eq!(error["code"], "run_failed", "{run_failed:#}");
    assert_eq!(error["line"], 4);
    let message = error["message"].as_str().unwrap_or("");
    assert!(message.contains("Step 3/3"), "{message}");
    assert!(message.contains("exited with code 3"), "{message}");
    assert!(
        message.contains(&format!("{word} about to fail")),
        "last output: {message}"
    );
    assert!(log.iter().any(|l| l.contains("about to fail")), "{log:#?}");

    let (missing, _) = client
        .build(
            None,
            &[("Dockerfile", "# base\nFROM alpine:3.19\nRUN true\n")],
        )
        .await;
    let error = &missing["error"];
    assert_eq!(error["code"], "missing_base_image", "{missing:#}");
    assert_eq!(error["line"], 2);
    let message = error["message"].as_str().unwrap_or("");
    assert!(message.contains("alpine:3.19"), "{message}");
    assert!(
        message.contains("busybox:latest"),
        "names what is available: {message}"
    );
    assert!(
        !message.contains("layerlab images seed") && !message.contains("operator"),
        "a learner is not told to run an operator's command: {message}"
    );

    let (copy, _) = client
        .build(
            None,
            &[
                (
                    "Dockerfile",
                    "FROM busybox:latest\nCOPY notes.txt /notes.txt\n",
                ),
                ("note.txt", "typo"),
            ],
        )
        .await;
    let error = &copy["error"];
    assert_eq!(error["code"], "copy_source_missing", "{copy:#}");
    assert_eq!(error["line"], 2);
    let message = error["message"].as_str().unwrap_or("");
    assert!(
        message.contains("notes.txt") && message.contains("note.txt"),
        "{message}"
    );

    assert!(
        containers_mentioning(&word).is_empty(),
        "failed RUN containers are removed"
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_a_specific_4xx() {
    let mut client = TestClient::new(LOCAL_ENGINE).await;
    let cases: Vec<(Value, StatusCode, &str, &str)> = vec![
        (
            serde_json::json!({"exercise": null, "files": {"Dockerfile": "FROM busybox", "../etc/x": "x"}}),
            StatusCode::BAD_REQUEST,
            "bad_path",
            "“..”",
        ),
        (
            serde_json::json!({"exercise": null, "files": {"Dockerfile": "FROM busybox", "/abs": "x"}}),
            StatusCode::BAD_REQUEST,
            "bad_path",
            "absolute",
        ),
        (
            serde_json::json!({"exercise": null, "files": {"app.sh": "echo"}}),
            StatusCode::BAD_REQUEST,
            "no_dockerfile",
            "Dockerfile",
        ),
        (
            serde_json::json!({"exercise": null, "files": {"Dockerfile": "x".repeat(300 * 1024)}}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "file_too_large",
            "at most",
        ),
        (
            serde_json::json!({"exercise": "no-such-exercise", "files": {"Dockerfile": "FROM busybox"}}),
            StatusCode::NOT_FOUND,
            "not_found",
            "no-such-exercise",
        ),
        (
            serde_json::json!({"files": "not a map"}),
            StatusCode::BAD_REQUEST,
            "bad_request",
            "JSON",
        ),
    ];
    for (body, status, code, words) in cases {
        let res = client.post_json("/api/v1/builds", &body).await;
        assert_eq!(res.status, status, "{}", res.body);
        let json = res.json();
        assert_eq!(json["error"]["code"], code, "{json:#}");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(words),
            "{json:#}"
        );
    }
    let many: serde_json::Map<String, Value> = (0..100)
        .map(|i| (format!("f{i}.txt"), Value::String("x".into())))
        .chain([(
            "Dockerfile".to_string(),
            Value::String("FROM busybox".into()),
        )])
        .collect();
    let res = client
        .post_json(
            "/api/v1/builds",
            &serde_json::json!({"exercise": null, "files": many}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"]["code"], "too_many_files");

    // Someone else's build is not found, even with its id.
    let id = client
        .start_build(None, &[("Dockerfile", "FROM busybox:latest\n")])
        .await;
    let mut stranger = TestClient::new(LOCAL_ENGINE).await;
    let res = stranger.get(&format!("/api/v1/builds/{id}")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let (done, _) = client.finish_build(&id).await;
    remove_image(&done["image"]);
}

#[tokio::test]
async fn with_the_engine_down_a_build_is_refused_with_503() {
    let mut client = TestClient::new("unix:///nonexistent/layerlab-test.sock").await;
    let res = client
        .post_json(
            "/api/v1/builds",
            &serde_json::json!({"exercise": null, "files": {"Dockerfile": "FROM busybox"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
    let json = res.json();
    assert_eq!(json["error"]["code"], "engine_unavailable");
    // Why, in words, but not where the engine is (that is for instructors: /api/v1/status).
    let message = json["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("no socket at the engine's address"),
        "{message}"
    );
    assert!(
        !message.contains("/nonexistent/layerlab-test.sock"),
        "{message}"
    );
}

#[tokio::test]
async fn runs_report_out_of_memory_and_time_limits() {
    let mut client =
        TestClient::with_args(LOCAL_ENGINE, &["--run-memory-mb=16", "--run-timeout=3"]).await;
    let hog = "FROM busybox:latest\nCMD [\"sh\", \"-c\", \"echo filling; a=xxxxxxxxxxxxxxxx; while true; do a=$a$a; done\"]\n";
    let (oom, log) = client.build(None, &[("Dockerfile", hog)]).await;
    let run = &oom["run"];
    assert_eq!(oom["status"], "succeeded", "{oom:#}");
    assert_eq!(run["oom_killed"], true, "{run:#}");
    assert_eq!(run["exit_code"], 137);
    assert_eq!(run["timed_out"], false);
    assert!(
        log.iter().any(|l| l == "filling"),
        "run output streams as log lines: {log:#?}"
    );
    remove_image(&oom["image"]);

    let word = marker("sleep");
    let sleeper = format!("FROM busybox:latest\nCMD [\"sh\", \"-c\", \"echo {word}; sleep 60\"]\n");
    let (slow, _) = client.build(None, &[("Dockerfile", &sleeper)]).await;
    let run = &slow["run"];
    assert_eq!(run["timed_out"], true, "{run:#}");
    assert!(
        run["exit_code"].is_null(),
        "stopped by layerlab, so no exit code: {run:#}"
    );
    assert_eq!(run["output"], format!("{word}\n"));
    assert!(
        containers_mentioning(&word).is_empty(),
        "the killed container is removed"
    );
    remove_image(&slow["image"]);
}

#[tokio::test]
async fn the_first_log_line_arrives_while_the_build_is_still_running() {
    let mut client = TestClient::new(LOCAL_ENGINE).await;
    let word = marker("live");
    let dockerfile = format!("FROM busybox:latest\nRUN echo {word} && sleep 4 && echo after\n");
    let id = client
        .start_build(None, &[("Dockerfile", &dockerfile)])
        .await;
    let mut events = client.events(&format!("/api/v1/builds/{id}/events")).await;
    let mut names = Vec::new();
    let mut status_when_marker_seen = None;
    while let Some((name, data)) = events.next().await {
        if name == "log" && data["text"] == word.as_str() && status_when_marker_seen.is_none() {
            let now = client.get(&format!("/api/v1/builds/{id}")).await.json();
            status_when_marker_seen = Some(now["status"].clone());
        }
        let done = name == "done";
        names.push(name);
        if done {
            break;
        }
    }
    let first_log = names.iter().position(|n| n == "log").expect("a log event");
    let done = names
        .iter()
        .position(|n| n == "done")
        .expect("a done event");
    assert!(first_log < done);
    assert_eq!(
        names[0], "status",
        "the stream starts with the current status"
    );
    assert_eq!(
        status_when_marker_seen,
        Some(Value::from("building")),
        "the RUN step's output arrived while it was still sleeping"
    );
    assert!(events.next().await.is_none(), "the stream ends after done");
    let result = client.get(&format!("/api/v1/builds/{id}")).await.json();
    remove_image(&result["image"]);
}

/// Set when the solution self-test ends (passed or not): removing an image also removes the
/// untagged parents it shares with others, which are the build cache a solution's cache check
/// rebuilds from, so the wrong-answer self-test removes its images only after that.
static SOLUTIONS_DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

struct SetWhenDropped(&'static std::sync::atomic::AtomicBool);

impl Drop for SetWhenDropped {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Whether the self-tests take this exercise: all of them, unless `LAYERLAB_ONLY_EXERCISES`
/// names some (comma-separated) for a quick run while writing one; refused under CI.
fn self_tested(id: &str) -> bool {
    let Ok(only) = std::env::var("LAYERLAB_ONLY_EXERCISES") else {
        return true;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "LAYERLAB_ONLY_EXERCISES would leave exercises untested in CI"
    );
    only.split(',').any(|o| o.trim() == id)
}

#[tokio::test]
async fn every_solution_passes_its_checks_and_every_starter_fails() {
    let _done = SetWhenDropped(&SOLUTIONS_DONE);
    let root = support::repo_root().join("exercises");
    let mut ids: Vec<String> = std::fs::read_dir(&root)
        .expect("exercises folder")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("exercise.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    assert!(ids.len() >= 2, "exercises found: {ids:?}");
    let exercises = support::exercises();
    // Console exercises are judged on a console, not built (`console_exercises`).
    ids.retain(|id| self_tested(id) && exercises.get(id).is_some_and(|e| e.console.is_none()));
    let mut client = TestClient::new(LOCAL_ENGINE).await;
    for id in &ids {
        let no_cache = exercises
            .iter()
            .find(|e| e.id == *id)
            .is_some_and(|e| e.solution_no_cache);
        // Checks judged on the registry pass only once the build is pushed as they ask.
        let pushed: Vec<(String, String)> = exercises
            .iter()
            .find(|e| e.id == *id)
            .map(|e| {
                e.checks
                    .iter()
                    .filter(|c| c.check.judged_again_after_a_push())
                    .filter_map(|c| Some((c.id.clone(), c.check.registry_tag()?)))
                    .collect()
            })
            .unwrap_or_default();
        // An exercise that builds on the learner's own push gets a learner of its own: the
        // push it needs would otherwise count for the exercise that asks for that push.
        let builds_on_a_push = exercises.iter().find(|e| e.id == *id).is_some_and(|e| {
            e.checks.iter().any(|c| {
                matches!(
                    c.check,
                    layerlab_server::exercise::check::Check::FromOwnPush { .. }
                )
            })
        });
        let mut own = builds_on_a_push.then(|| client.another());
        let learner: &mut TestClient = match own.as_mut() {
            Some(own) => own,
            None => &mut client,
        };
        for (kind, should_pass) in [("solution", true), ("starter", false)] {
            // solution/ holds only what changes; the rest comes from starter/.
            let mut files = support::exercise_files(id, kind == "solution");
            if should_pass {
                files = with_own_pushes(learner, &exercises, id, files).await;
            }
            let borrowed: Vec<(&str, &str)> = files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_str()))
                .collect();
            let (mut result, log) = learner
                .build_with(Some(id), &borrowed, no_cache && should_pass)
                .await;
            if should_pass && !pushed.is_empty() {
                result = push_as_asked(learner, id, &result, &pushed).await;
            }
            let checks = result["checks"]
                .as_array()
                .unwrap_or_else(|| panic!("{id} {kind}: no checks: {result:#}"));
            assert!(!checks.is_empty());
            let all_pass = checks.iter().all(|c| c["passed"] == true);
            assert_eq!(
                all_pass, should_pass,
                "{id} {kind}: {checks:#?}\n{result:#}\n{log:#?}"
            );
            for check in checks {
                assert!(!check["message"].as_str().unwrap_or("").is_empty());
                if check["passed"] == false {
                    let link = check["learn_more"].as_str().unwrap_or("");
                    assert!(
                        link.starts_with("/learn/"),
                        "{id}: a failed check links to its lesson: {check:#}"
                    );
                }
            }
            // Solutions are built first: the starter is this learner's first miss. (A solution
            // judged on the registry missed until its push, and its build unlocked a hint
            // then; once pushed it no longer counts as a miss.)
            let hints = result["hints"].as_array().map(Vec::len).unwrap_or(0);
            let expected = if should_pass {
                usize::from(!pushed.is_empty())
            } else {
                1
            };
            assert_eq!(hints, expected, "{id} {kind}: one hint after each miss");
            if id == "first-image" && should_pass {
                let probe = &result["run"]["probe"];
                assert_eq!(probe["status"], 200, "{probe:#}");
                assert!(probe["body"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Welcome to layerlab"));
            }
            if id == "graceful-stop" {
                // Stopped as `docker stop -t 3` would, after 2 s of work.
                let run = &result["run"];
                let stop = &run["stop"];
                assert_eq!(stop["signal"], "SIGTERM", "{run:#}");
                assert_eq!(stop["grace_ms"], 3000, "{run:#}");
                // After 2 s, and up to 1.5 s later (plus reading its processes), at a moment
                // it cannot predict.
                let after = stop["after_ms"].as_u64().expect("after_ms");
                assert!((2000..4500).contains(&after), "{run:#}");
                if should_pass {
                    let exited = stop["exited_in_ms"].as_u64().expect("it exited");
                    assert!(exited < 2000, "{run:#}");
                    // Its copy waited for its own, later signal and left as promptly.
                    let copy = &stop["copy"];
                    assert!(copy["ended_early"].is_null(), "{run:#}");
                    let copy_after = copy["after_ms"].as_u64().expect("asked");
                    assert!(copy_after >= after + 3500, "{run:#}");
                    assert!(
                        copy["exited_in_ms"].as_u64().expect("left") < 2000,
                        "{run:#}"
                    );
                    assert_eq!(run["exit_code"], 0, "{run:#}");
                    assert!(run["output"]
                        .as_str()
                        .unwrap_or("")
                        .contains("worker: stopping"));
                } else {
                    assert!(stop["exited_in_ms"].is_null(), "killed: {run:#}");
                    assert!(run["exit_code"].is_null(), "{run:#}");
                    let verdict = checks
                        .iter()
                        .find(|c| c["id"] == "stops-promptly")
                        .expect("the stop check");
                    assert!(
                        verdict["message"]
                            .as_str()
                            .unwrap_or("")
                            .contains("ignored SIGTERM"),
                        "{verdict:#}"
                    );
                }
            }
            remove_image(&result["image"]);
        }
    }
}

/// A solution that starts FROM the learner's own push names it with placeholders, since the
/// registry's address, the namespace and the digest are the learner's: `{{own:<name>:<tag>}}`
/// and `{{own-pinned:<name>:<tag>}}`. Each is pushed first, as the exercise whose `pushed`
/// check asks for it would push it (its solution), and the placeholders filled in.
async fn with_own_pushes(
    client: &mut TestClient,
    exercises: &layerlab_server::exercise::Exercises,
    id: &str,
    files: Vec<(String, String)>,
) -> Vec<(String, String)> {
    use layerlab_server::exercise::check::Check;
    let wanted: Vec<(String, String)> = exercises
        .iter()
        .find(|e| e.id == id)
        .into_iter()
        .flat_map(|e| &e.checks)
        .filter_map(|c| match &c.check {
            Check::FromOwnPush {
                repository, tag, ..
            } => Some((repository.clone(), tag.clone())),
            _ => None,
        })
        .collect();
    if wanted.is_empty() {
        return files;
    }
    let mut files = files;
    for (repository, tag) in wanted {
        let provider = exercises
            .iter()
            .find(|e| {
                e.checks.iter().any(|c| {
                    c.check
                        == Check::Pushed {
                            repository: repository.clone(),
                            tag: tag.clone(),
                        }
                })
            })
            .unwrap_or_else(|| panic!("{id}: no exercise pushes {repository}:{tag}"));
        let provided = support::exercise_files(&provider.id, true);
        let borrowed: Vec<(&str, &str)> = provided
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        let (built, _) = client.build(Some(&provider.id), &borrowed).await;
        let build = built["id"].as_str().expect("id");
        let answer = client
            .post_json(
                &format!("/api/v1/builds/{build}/push"),
                &serde_json::json!({ "tag": format!("{repository}:{tag}") }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{id}: {}", answer.body);
        let push = answer.json()["id"].as_str().expect("push").to_string();
        let mut events = client
            .events(&format!("/api/v1/pushes/{push}/events"))
            .await;
        let mut digest = None;
        while let Some((name, data)) = events.next().await {
            if name == "done" {
                assert_eq!(data["status"], "pushed", "{id}: {data:#}");
                digest = data["digest"].as_str().map(str::to_string);
                break;
            }
        }
        let digest = digest.expect("the prerequisite push's digest");
        // The learner exists from that build on.
        let login = client.get("/api/v1/registry/login").await.json();
        let namespace = format!(
            "{}/{}",
            login["registry"].as_str().expect("registry"),
            login["username"].as_str().expect("handle")
        );
        let by_tag = format!("{{{{own:{repository}:{tag}}}}}");
        let pinned = format!("{{{{own-pinned:{repository}:{tag}}}}}");
        for (_, content) in files.iter_mut() {
            *content = content
                .replace(&by_tag, &format!("{namespace}/{repository}:{tag}"))
                .replace(&pinned, &format!("{namespace}/{repository}@{digest}"));
        }
    }
    files
}

/// A solution whose exercise judges the registry: before any push, only those checks fail
/// (and say how to pass); pushed as each asks, through the learner's own Tag & push, they
/// pass. The build as it stands afterwards.
async fn push_as_asked(
    client: &mut TestClient,
    id: &str,
    built: &serde_json::Value,
    pushed: &[(String, String)],
) -> serde_json::Value {
    let failing: Vec<&str> = built["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["passed"] == false)
        .filter_map(|c| c["id"].as_str())
        .collect();
    let expected: Vec<&str> = pushed.iter().map(|(check, _)| check.as_str()).collect();
    assert_eq!(
        failing, expected,
        "{id}: before pushing, only the registry checks fail: {built:#}"
    );
    let build = built["id"].as_str().expect("id");
    // Several checks may ask for one tag: it is pushed once.
    let mut tags: Vec<&String> = pushed.iter().map(|(_, tag)| tag).collect();
    tags.dedup();
    for tag in tags {
        let answer = client
            .post_json(
                &format!("/api/v1/builds/{build}/push"),
                &serde_json::json!({ "tag": tag }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{id}: {}", answer.body);
        let push = answer.json()["id"].as_str().expect("a push").to_string();
        let mut events = client
            .events(&format!("/api/v1/pushes/{push}/events"))
            .await;
        let mut done = None;
        while let Some((name, data)) = events.next().await {
            if name == "done" {
                done = Some(data);
                break;
            }
        }
        let done = done.unwrap_or_else(|| panic!("{id}: the push of {tag} ended without `done`"));
        assert_eq!(done["status"], "pushed", "{id}: {done:#}");
    }
    client.get(&format!("/api/v1/builds/{build}")).await.json()
}

/// Known wrong answers (each exercise's `[[wrong]]`): every one fails the check it names, on
/// the real engine, so a bypass found once cannot come back.
#[tokio::test]
async fn every_known_wrong_answer_fails_the_check_it_names() {
    let exercises = support::exercises();
    let cases: Vec<_> = exercises
        .iter()
        .flat_map(|e| e.wrong.iter().map(move |w| (e.id.clone(), w.clone())))
        .collect();
    assert!(cases.len() >= 29, "wrong answers found: {}", cases.len());
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|(id, _)| self_tested(id))
        .collect();
    let mut client = TestClient::new(LOCAL_ENGINE).await;
    let mut missed = Vec::new();
    let mut built = Vec::new();
    for (id, case) in &cases {
        let files: Vec<(&str, &str)> = case
            .files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        let (result, _log) = client.build(Some(id), &files).await;
        let verdict = result["checks"]
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["id"] == case.fails.as_str()))
            .cloned();
        match verdict {
            Some(check) if check["passed"] == false => {
                let message = check["message"].as_str().unwrap_or("");
                assert!(
                    !message.is_empty(),
                    "{id}/{}: a failed check says why",
                    case.name
                );
                // A wrong answer that does not even build proves nothing about its check.
                if message.starts_with("Not checked: the image did not build") {
                    missed.push(format!(
                        "{id}/wrong/{} does not build, so `{}` is never judged: {result:#}",
                        case.name, case.fails
                    ));
                }
            }
            Some(check) => missed.push(format!(
                "{id}/wrong/{} ({}) passes `{}`: {check}",
                case.name, case.why, case.fails
            )),
            None => missed.push(format!(
                "{id}/wrong/{}: no verdict for `{}`: {result:#}",
                case.name, case.fails
            )),
        }
        built.push(result["image"].clone());
    }
    let waited = std::time::Instant::now();
    while !SOLUTIONS_DONE.load(std::sync::atomic::Ordering::SeqCst)
        && waited.elapsed() < std::time::Duration::from_secs(900)
    {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    for image in &built {
        remove_image(image);
    }
    assert!(
        missed.is_empty(),
        "wrong answers that pass:\n{}",
        missed.join("\n")
    );
}

#[tokio::test]
async fn a_build_step_cannot_start_more_processes_than_the_limit() {
    let mut client = TestClient::with_args(LOCAL_ENGINE, &["--build-pids=40"]).await;
    // 100 background sleeps: the limit stops the shell from forking past 40 processes.
    let bomb = "FROM busybox:latest\nRUN i=0; while [ $i -lt 100 ]; do sleep 2 & i=$((i+1)); done; echo started $i; wait\n";
    let (result, log) = client.build(None, &[("Dockerfile", bomb)]).await;
    assert_eq!(result["status"], "failed", "{result:#}\n{log:#?}");
    assert_eq!(result["error"]["code"], "run_failed", "{result:#}");
    let message = result["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("fork"),
        "the shell says it cannot fork: {message}"
    );
    // Other tests build at the same time: look for this build's cgroup only.
    let leftovers = build_cgroups(result["id"].as_str().unwrap_or(""));
    assert!(
        leftovers.is_empty(),
        "this build's cgroups are removed: {leftovers:?}"
    );
}

/// The cgroup directories of one build that still exist (under any controller).
fn build_cgroups(build: &str) -> Vec<String> {
    let own = format!("layerlab-build-{build}");
    let mut dirs = vec![std::path::PathBuf::from("/sys/fs/cgroup").join(&own)];
    if let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") {
        dirs.extend(controllers.flatten().map(|e| e.path().join(&own)));
    }
    dirs.into_iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect()
}

/// Poll a build until its view satisfies `ready` (60 s at most).
async fn wait_until(
    client: &mut TestClient,
    id: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut view = serde_json::Value::Null;
    for _ in 0..600 {
        view = client.get(&format!("/api/v1/builds/{id}")).await.json();
        if ready(&view) {
            return view;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("build {id} never got there: {view:#}");
}

#[tokio::test]
async fn submitting_again_while_the_container_runs_stops_and_removes_it() {
    let mut client = TestClient::new(LOCAL_ENGINE).await;
    let word = marker("cancel-run");
    let long = format!("FROM busybox:latest\nRUN echo {word} > /w\nCMD [\"sleep\", \"300\"]\n");
    let first = client.start_build(None, &[("Dockerfile", &long)]).await;
    wait_until(&mut client, &first, |v| v["status"] == "running").await;
    let label = format!("label=org.layerlab.build={first}");
    // `running` is reported as the run step starts; the container follows a moment later.
    let mut listed = String::new();
    for _ in 0..300 {
        listed = docker(&["ps", "-aq", "--filter", &label]);
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!listed.is_empty(), "the run container exists while it runs");
    let quick = format!("FROM busybox:latest\nRUN echo {word} > /w\nCMD [\"true\"]\n");
    let second = client.start_build(None, &[("Dockerfile", &quick)]).await;
    let (stopped, _) = client.finish_build(&first).await;
    assert_eq!(stopped["status"], "cancelled", "{stopped:#}");
    assert!(
        stopped["run"].is_null(),
        "no half run is reported: {stopped:#}"
    );
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &label]),
        "",
        "the cancelled build's run container is removed"
    );
    let (result, _) = client.finish_build(&second).await;
    assert_eq!(result["status"], "succeeded", "{result:#}");
    assert_eq!(result["run"]["exit_code"], 0, "{result:#}");
    // The cancelled attempt is kept, but it is no attempt that unlocks a hint or counts.
    let again = client.get(&format!("/api/v1/builds/{first}")).await.json();
    assert_eq!(again["status"], "cancelled");
    remove_image(&result["image"]);
}

#[tokio::test]
async fn a_learner_keeps_one_image_per_exercise_and_one_build_at_a_time() {
    let mut client = TestClient::new(LOCAL_ENGINE).await;
    let word = marker("supersede");
    let first = format!("FROM busybox:latest\nRUN echo {word}-one > /v\n");
    let (one, _) = client.build(None, &[("Dockerfile", &first)]).await;
    let one_id = one["image"]["id"].as_str().expect("image id").to_string();

    // Submitting again while a build runs stops it: the first ends `cancelled` (it would
    // sleep for 5 minutes otherwise), its step's container and cgroup are gone, the second runs.
    let stuck = format!("FROM busybox:latest\nRUN echo {word}-stuck && sleep 300\n");
    let stuck_id = client.start_build(None, &[("Dockerfile", &stuck)]).await;
    wait_until(&mut client, &stuck_id, |v| v["step"]["current"] == 2).await;
    let slow = format!("FROM busybox:latest\nRUN echo {word}-two > /v && sleep 3\n");
    let two = client.start_build(None, &[("Dockerfile", &slow)]).await;
    let (cancelled, log) = client.finish_build(&stuck_id).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled:#}");
    assert_eq!(cancelled["error"]["code"], "cancelled", "{cancelled:#}");
    assert!(
        log.iter().any(|l| l.contains("submitted a newer version")),
        "{log:#?}"
    );
    let mut left_over = build_cgroups(&stuck_id);
    for _ in 0..300 {
        if left_over.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left_over = build_cgroups(&stuck_id);
    }
    assert_eq!(
        left_over,
        Vec::<String>::new(),
        "the cancelled build's cgroup is removed, so nothing runs in it"
    );
    // The engine kills the step's container when the build is cancelled and removes it a
    // moment later.
    let mut left = String::new();
    for _ in 0..300 {
        left = docker(&["ps", "-a", "--no-trunc"]);
        if !left.contains(&format!("{word}-stuck")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        !left.contains(&format!("{word}-stuck")),
        "no container of the cancelled step is left: {left}"
    );

    let (done, _) = client.finish_build(&two).await;
    let two_id = done["image"]["id"].as_str().expect("image id").to_string();
    // The clean-up runs right after `done`; give it a moment, then the first image is gone.
    assert!(
        support::image_gone_within(&one_id, 30).await,
        "the superseded image {one_id} was removed"
    );
    assert!(
        docker(&["images", "-q", "--no-trunc"]).contains(&two_id),
        "the newest is kept"
    );

    // Building the newest again hits the cache: same image, and only the newest tag remains.
    let (again, _) = client.build(None, &[("Dockerfile", &slow)]).await;
    assert_eq!(
        again["image"]["id"], done["image"]["id"],
        "fully cached rebuild"
    );
    let again_tag = format!("layerlab/playground:{}", again["id"].as_str().unwrap_or(""));
    let mut tags = String::new();
    for _ in 0..50 {
        tags = docker(&[
            "image",
            "inspect",
            "--format",
            "{{json .RepoTags}}",
            &two_id,
        ]);
        if tags == format!("[\"{again_tag}\"]") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        tags,
        format!("[\"{again_tag}\"]"),
        "older tags of the same image are dropped"
    );
    remove_image(&again["image"]);
}

#[tokio::test]
async fn a_learner_who_builds_too_often_is_told_when_to_try_again() {
    let mut client = TestClient::with_args(LOCAL_ENGINE, &["--build-rate-per-minute=2"]).await;
    let mut other = client.another();
    let files = [("Dockerfile", "FROM busybox:latest\nCMD [\"true\"]\n")];
    for _ in 0..2 {
        let (result, _) = client.build(None, &files).await;
        assert_eq!(result["status"], "succeeded");
        remove_image(&result["image"]);
    }
    let res = client
        .post_json(
            "/api/v1/builds",
            &serde_json::json!({"exercise": null, "files": {"Dockerfile": files[0].1}}),
        )
        .await;
    assert_eq!(res.status, 429, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "rate_limited");
    let retry: u64 = res
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    let message = res.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains(&format!("Try again in {retry} s")),
        "{message}"
    );
    // The limit is per learner: someone else builds at once.
    let (result, _) = other.build(None, &files).await;
    assert_eq!(result["status"], "succeeded");
    remove_image(&result["image"]);
}

/// Whether `reference` (an image id or tag) exists on the engine.
fn image_exists(reference: &str) -> bool {
    std::process::Command::new("docker")
        .args(["image", "inspect", reference])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn the_janitor_keeps_the_newest_images_within_the_budget_and_drops_orphan_tags() {
    // Each learner image below holds 3 MiB of its own; the budget holds one of them.
    let mut first = TestClient::with_args(
        LOCAL_ENGINE,
        &["--janitor-every=1", "--max-kept-images-mb=5"],
    )
    .await;
    let mut second = first.another();
    let word = marker("budget");
    let dockerfile = |who: &str| {
        format!("FROM busybox:latest\nRUN head -c 3145728 /dev/urandom > /blob-{word}-{who}\nCMD [\"true\"]\n")
    };
    let (a, _) = first.build(None, &[("Dockerfile", &dockerfile("a"))]).await;
    assert_eq!(a["status"], "succeeded", "{a:#}");
    let a_image = a["image"]["id"].as_str().expect("image").to_string();
    let labels: serde_json::Value = serde_json::from_str(&docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &a_image,
    ]))
    .expect("labels");
    let instance = labels["org.layerlab.instance"]
        .as_str()
        .expect("learners' images carry the installation's label")
        .to_string();
    assert!(
        labels["org.layerlab.attempt"].as_str().is_some(),
        "{labels}"
    );

    // A tag no stored attempt explains (as a crash between tagging and clean-up leaves), and
    // an image of another installation sharing the engine.
    let orphan = format!("layerlab/playground:orphan-{word}");
    docker(&["tag", &a_image, &orphan]);
    let foreign_dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        foreign_dir.path().join("Dockerfile"),
        format!("FROM busybox:latest\nRUN echo {word} > /foreign\n"),
    )
    .expect("write");
    let foreign = format!("layerlab/playground:foreign-{word}");
    docker(&[
        "build",
        "-q",
        "--label",
        &format!("org.layerlab.instance=other-{instance}"),
        "--label",
        "org.layerlab.attempt=someone/playground",
        "-t",
        &foreign,
        &foreign_dir.path().display().to_string(),
    ]);

    // A second learner's image takes the total past the budget: the oldest (the first
    // learner's) goes, the newest stays.
    let (b, _) = second
        .build(None, &[("Dockerfile", &dockerfile("b"))])
        .await;
    assert_eq!(b["status"], "succeeded", "{b:#}");
    let b_image = b["image"]["id"].as_str().expect("image").to_string();
    let mut state = (true, true);
    for _ in 0..300 {
        state = (image_exists(&orphan), image_exists(&a_image));
        if state == (false, false) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        state,
        (false, false),
        "(orphan tag, oldest image over the budget) are removed"
    );
    assert!(image_exists(&b_image), "the newest image is kept");
    assert!(
        image_exists(&foreign),
        "another installation's image is left alone"
    );
    // The first learner's attempt is still there, without its image.
    let again = first
        .get(&format!(
            "/api/v1/builds/{}",
            a["id"].as_str().unwrap_or("")
        ))
        .await
        .json();
    assert_eq!(again["status"], "succeeded", "{again:#}");
    docker(&["rmi", "-f", &foreign]);
    remove_image(&b["image"]);
}

#[tokio::test]
async fn the_result_carries_lint_findings_linked_to_lessons() {
    let mut client = TestClient::new(LOCAL_ENGINE).await;
    let dockerfile = "FROM busybox\nMAINTAINER someone@example.com\nWORKDIR app\nCMD echo hi\n";
    let id = client
        .start_build(None, &[("Dockerfile", dockerfile)])
        .await;
    // Known from the moment the build is accepted…
    let early = client.get(&format!("/api/v1/builds/{id}")).await.json();
    let (result, _) = client.finish_build(&id).await;
    // …and kept in the result.
    assert_eq!(early["lint"], result["lint"]);
    let found: Vec<(String, u64)> = result["lint"]
        .as_array()
        .expect("a lint list")
        .iter()
        .map(|f| {
            assert!(
                f["lesson"].as_str().unwrap_or("").starts_with("/learn/"),
                "{f}"
            );
            assert!(!f["message"].as_str().unwrap_or("").is_empty(), "{f}");
            (
                f["rule"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    for expected in [
        ("from-latest", 1),
        ("maintainer", 2),
        ("workdir-relative", 3),
        ("shell-form-cmd", 4),
    ] {
        assert!(
            found.contains(&(expected.0.to_string(), expected.1)),
            "{expected:?} in {found:?}"
        );
    }
    // The lesson a finding links to is a real page with that paragraph.
    let link = result["lint"][0]["lesson"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let (page, anchor) = link.split_once('#').expect("an anchor");
    let html = client.get(page).await.body;
    assert!(html.contains(&format!("id=\"{anchor}\"")), "{link}");
    remove_image(&result["image"]);
}

#[tokio::test]
async fn a_build_whose_cached_step_vanishes_under_it_builds_again_and_succeeds() {
    // The classic builder keeps no hold on the cache entries a build reuses: when another
    // learner's image goes (here: superseded by their next attempt), its untagged parents go
    // with it, even while a build is about to start its next step on one of them. A
    // multi-stage build holds that window open for seconds: stage `base` ends on a step
    // taken from the first learner's cache, a second stage waits, and only then does the
    // last stage start `FROM base`.
    let mut first = TestClient::new(LOCAL_ENGINE).await;
    let mut second = first.another();
    let word = marker("cache-race");
    let shared = format!("FROM busybox:latest\nRUN echo {word} > /shared\n");
    let (one, _) = first.build(None, &[("Dockerfile", &shared)]).await;
    assert_eq!(one["status"], "succeeded", "{one:#}");
    let one_image = one["image"]["id"].as_str().expect("image").to_string();

    let racing = format!(
        "FROM busybox:latest AS base\nRUN echo {word} > /shared\n\n\
         FROM busybox:latest AS wait\nRUN echo {word}-wait && sleep 10\n\n\
         FROM base\nCOPY --from=wait /bin/true /\nCMD [\"cat\", \"/shared\"]\n"
    );
    let id = second.start_build(None, &[("Dockerfile", &racing)]).await;
    let waiting = wait_until(&mut second, &id, |v| v["step"]["current"] == 4).await;
    assert_eq!(waiting["status"], "building", "{waiting:#}");
    // The first learner builds something else; their first image is superseded and removed,
    // and with it the cached step the second learner's stage `base` ended on.
    let other = format!("FROM busybox:latest\nRUN echo {word}-two > /two\n");
    let (two, _) = first.build(None, &[("Dockerfile", &other)]).await;
    assert_eq!(two["status"], "succeeded", "{two:#}");
    assert!(
        support::image_gone_within(&one_image, 30).await,
        "the superseded image {one_image} was removed"
    );
    let mid = second.get(&format!("/api/v1/builds/{id}")).await.json();
    assert_eq!(
        mid["step"]["current"], 4,
        "the clean-up happened while the second build waited: {mid:#}"
    );

    let (result, log) = second.finish_build(&id).await;
    assert_eq!(result["status"], "succeeded", "{result:#}\n{log:#?}");
    assert!(
        log.iter()
            .any(|l| l.contains("was removed while the build ran") && l.contains("building again")),
        "the learner is told why the build started again: {log:#?}"
    );
    let restarts = log.iter().filter(|l| l.starts_with("Step 1/")).count();
    assert!(restarts >= 2, "the build ran again: {log:#?}");
    // What the build made is right: the last stage has the shared file.
    let image = result["image"]["id"].as_str().expect("image").to_string();
    let printed = docker(&["run", "--rm", &image]);
    assert_eq!(printed.trim(), word);
    remove_image(&result["image"]);
    remove_image(&two["image"]);
}

/// Why a cache check rebuilds with `--cache-from` the first build's image: the classic
/// builder takes, among equal cached steps, the newest one, so an equal step that another
/// learner's build made between this learner's build and its rebuild leads the rebuild
/// away from the chain its later steps are cached in. With `--cache-from`, a cached step is
/// taken only on that image's chain. Shown with the docker CLI on the real engine.
#[test]
fn the_builder_takes_the_newest_equal_step_unless_told_which_image_to_follow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let word = marker("newest");
    let write =
        |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
    // A WORKDIR of its own, so that no other test's steps are cache candidates.
    let dockerfile = format!(
        "FROM busybox:latest\nWORKDIR /{word}\nCOPY deps.txt ./\nRUN cat deps.txt > installed\nCOPY app.sh ./\n"
    );
    write("Dockerfile", &dockerfile);
    write("deps.txt", "alpha\n");
    write("app.sh", "echo one\n");
    let tag = format!("layerlab-test/{word}:first");
    let build = |extra: &[&str], context: &std::path::Path| -> String {
        let out = std::process::Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "--network", "none"])
            .args(extra)
            .arg(context)
            .output()
            .expect("docker build runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    build(&["-t", &tag], dir.path());
    // Another build makes an equal WORKDIR step, newer than ours.
    let other = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        other.path().join("Dockerfile"),
        format!("FROM busybox:latest\nWORKDIR /{word}\nRUN echo someone else\n"),
    )
    .expect("write");
    let other_tag = format!("layerlab-test/{word}:other");
    build(&["--no-cache", "-t", &other_tag], other.path());
    write("app.sh", "echo one\necho two\n");
    let cached_copy = |log: &str| {
        let after = log.split("COPY deps.txt").nth(1).unwrap_or("");
        after.lines().take(2).any(|l| l.contains("Using cache"))
    };
    let plain_tag = format!("layerlab-test/{word}:plain");
    let followed_tag = format!("layerlab-test/{word}:followed");
    let plain = build(&["-t", &plain_tag], dir.path());
    let followed = build(&["--cache-from", &tag, "-t", &followed_tag], dir.path());
    // Removing the tags removes the steps only they used.
    let _ = std::process::Command::new("docker")
        .args([
            "image",
            "rm",
            "-f",
            &followed_tag,
            &plain_tag,
            &other_tag,
            &tag,
        ])
        .output();
    assert!(
        !cached_copy(&plain),
        "the engine now keeps to one chain by itself; --cache-from may no longer be needed:\n{plain}"
    );
    assert!(
        cached_copy(&followed),
        "with --cache-from the unchanged COPY comes from the first build's chain:\n{followed}"
    );
}

/// A `HEALTHCHECK --interval=1ms` would have the engine, containerd and runc start a process
/// in the container hundreds of times a second, outside its CPU limit: a watched run slows
/// it to once a second. The check counts its own runs in /tmp and prints the count.
#[tokio::test]
async fn a_health_check_cannot_run_faster_than_once_a_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = format!("layerlab-test/{}:fast-health", marker("health"));
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM busybox:latest\nHEALTHCHECK --interval=1ms --timeout=1s --retries=100000 CMD sh -c 'echo x >> /tmp/n; wc -l < /tmp/n; exit 1'\nCMD [\"sleep\", \"30\"]\n",
    )
    .expect("write");
    let out = std::process::Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "--network", "none", "-t", &tag])
        .arg(dir.path())
        .output()
        .expect("docker build runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let engine = layerlab_server::engine::Engine::new(None)
        .client()
        .await
        .expect("the Docker engine");
    let limits = layerlab_server::engine::run::RunLimits {
        timeout: std::time::Duration::from_secs(5),
        ..Default::default()
    };
    let job = layerlab_server::engine::run::RunJob {
        image: &tag,
        command: None,
        entrypoint: None,
        env: Vec::new(),
        labels: Default::default(),
        probe: None,
        stop: None,
        watch_health: Some(std::time::Duration::from_secs(3)),
        freeze_when_healthy: false,
        limits: &limits,
    };
    let facts = layerlab_server::engine::run::run(&engine, job, &mut |_| {})
        .await
        .expect("the run");
    let _ = std::process::Command::new("docker")
        .args(["image", "rm", "-f", &tag])
        .output();
    let health = facts.health.expect("the health was watched");
    assert_eq!(health.status, "starting", "{health:?}");
    let checks: u32 = health.last_output.trim().parse().unwrap_or(0);
    assert!(
        (1..=4).contains(&checks),
        "{checks} health checks ran in 3 s: {health:?}"
    );
}

/// A check's own rebuild gets the exercise's provided files too: here `own-base-image`, whose
/// Dockerfile `ADD`s the provided `rootfs.tar`, with a cache check added that rebuilds it
/// after a change. Without the provided file the rebuild fails and so does the check.
#[tokio::test]
async fn a_checks_rebuild_gets_the_provided_files_too() {
    let (_dir, exercises) = support::exercises_copy();
    support::edit_exercise_toml(&exercises, "own-base-image", |text| {
        format!(
            "{text}\n[[checks]]\nid = \"rebuild-with-the-archive\"\ntype = \"cache-hit-on-rebuild\"\nchange = \"Dockerfile\"\nrebuilt_at_most = 9\n"
        )
    });
    let flag = format!("--exercises-dir={}", exercises.display());
    let mut client = TestClient::with_args(LOCAL_ENGINE, &[&flag]).await;
    let files = support::exercise_files("own-base-image", true);
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let (result, log) = client.build(Some("own-base-image"), &files).await;
    let check = result["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "rebuild-with-the-archive"))
        .cloned()
        .unwrap_or_else(|| panic!("the added check is judged: {result:#}"));
    assert_eq!(check["passed"], true, "{check}\n{}", log.join("\n"));
    remove_image(&result["image"]);
}
