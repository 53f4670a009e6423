//! Console exercises, end to end on the real engine with the real docker CLI: each one's
//! `solution.sh`, typed line by line into a fresh learner's console, passes every check; each
//! `wrong/<name>.sh` fails the check it names; before anything is typed every check fails and
//! says why. The attempts land in the learner's record like builds do.

use crate::console_app::{seeded_toolbox, Learner};
use crate::support::{self, TestClient, LOCAL_ENGINE};
use axum::http::StatusCode;
use layerlab_server::exercise::console::ConsoleExercise;
use serde_json::json;
use std::collections::BTreeMap;

/// `POST /api/v1/exercises/{id}/check` as `learner`, with `answers` to its questions: the
/// checks.
async fn check(
    learner: &mut Learner,
    id: &str,
    answers: &BTreeMap<String, String>,
) -> Vec<serde_json::Value> {
    let path = format!("/api/v1/exercises/{id}/check");
    let body = json!({ "answers": answers });
    let answer = patiently(learner, &path, &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{id}: {}", answer.body);
    let view = answer.json();
    assert_eq!(view["status"], "succeeded", "{view:#}");
    assert_eq!(view["exercise"], id, "{view:#}");
    let checks = view["checks"].as_array().cloned().unwrap_or_default();
    assert!(!checks.is_empty(), "{id}: {view:#}");
    for c in &checks {
        assert!(!c["message"].as_str().unwrap_or("").is_empty(), "{c:#}");
        if c["passed"] == false {
            assert!(
                c["learn_more"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("/learn/"),
                "a failed check links to its lesson: {c:#}"
            );
        }
    }
    checks
}

/// POST `body` to `path`, waiting out `429 rate_limited` as a client would (a learner's
/// checks and setups are a second apart).
async fn patiently(
    learner: &mut Learner,
    path: &str,
    body: &serde_json::Value,
) -> crate::support::TestResponse {
    for _ in 0..10 {
        let answer = learner.client.post_json(path, body).await;
        if answer.status != StatusCode::TOO_MANY_REQUESTS {
            return answer;
        }
        assert_eq!(answer.header("retry-after"), Some("1"), "{}", answer.body);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    panic!("{path} was refused as too soon ten times");
}

/// Make what exercise `id` starts from in the learner's slice (nothing when it has no setup).
async fn set_up(learner: &mut Learner, id: &str, exercise: &ConsoleExercise) {
    if !exercise.setup.is_empty() {
        set_up_by_id(learner, id).await;
    }
}

/// Set exercise `id` up in the learner's slice: `204`.
async fn set_up_by_id(learner: &mut Learner, id: &str) {
    let done = patiently(
        learner,
        &format!("/api/v1/exercises/{id}/setup"),
        &json!(null),
    )
    .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{id}: {}", done.body);
}

/// The answers the commands in `asked` print (the last line each printed), typed into the
/// learner's console.
async fn answers_of(
    learner: &mut Learner,
    asked: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut answers = BTreeMap::new();
    for (check, line) in asked {
        let ran = learner.run(line).await;
        assert_eq!(ran.exit, Some(0), "`{line}`: {ran:?}");
        let printed = ran
            .text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        answers.insert(check.clone(), printed.trim().to_string());
    }
    answers
}

/// Type `commands` as the learner would, one line at a time; each ends (a wrong answer's
/// may fail, the solution's must not).
async fn type_in(learner: &mut Learner, id: &str, commands: &[String], must_succeed: bool) {
    for line in commands {
        let ran = learner.run(line).await;
        if must_succeed {
            assert_eq!(ran.exit, Some(0), "{id}: `{line}` failed: {ran:?}");
        }
    }
}

/// One test per console exercise, so the harness runs them side by side: its solution
/// passes and each wrong answer fails the check it names. [`every_console_exercise_is_self_tested`]
/// fails when an exercise is added without its line here.
macro_rules! self_tests {
    ($($test:ident => $id:literal),* $(,)?) => {
        /// The console exercises that have a self-test below.
        const SELF_TESTED: &[&str] = &[$($id),*];
        /// The self-tests, one per console exercise.
        mod solved {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::passes_with_its_solution_and_fails_each_wrong_answer($id).await;
                }
            )*
        }
    };
}

self_tests! {
    count_the_layers => "count-the-layers",
    find_the_line => "find-the-line",
    health_that_tells_the_truth => "health-that-tells-the-truth",
    push_and_pull_back => "push-and-pull-back",
    say_it_differently => "say-it-differently",
    serve_from_the_console => "serve-from-the-console",
    sidecar_port => "sidecar-port",
    who_runs_it => "who-runs-it",
}

#[test]
fn every_console_exercise_is_self_tested() {
    let exercises = support::exercises();
    let console: Vec<&str> = exercises
        .iter()
        .filter(|e| e.console.is_some())
        .map(|e| e.id.as_str())
        .collect();
    assert!(console.len() >= 4, "console exercises: {console:?}");
    let missing: Vec<_> = console
        .iter()
        .filter(|id| !SELF_TESTED.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "console exercises without a self-test (add them to `self_tests!`): {missing:?}"
    );
    let gone: Vec<_> = SELF_TESTED
        .iter()
        .filter(|id| !console.contains(id))
        .collect();
    assert!(
        gone.is_empty(),
        "self-tests of no console exercise: {gone:?}"
    );
}

/// Console exercise `id`: before anything is typed every check fails; its solution, typed
/// into a fresh learner's console, passes every check and is kept as the learner's record;
/// each wrong answer, typed into another fresh console, fails the check it names.
async fn passes_with_its_solution_and_fails_each_wrong_answer(id: &str) {
    seeded_toolbox();
    let exercises = support::exercises();
    let exercise = exercises
        .iter()
        .find(|e| e.id == id)
        .and_then(|e| e.console.clone())
        .unwrap_or_else(|| panic!("{id} is not a console exercise of the course"));
    let exercise = &exercise;
    let client = TestClient::new(LOCAL_ENGINE).await;
    let mut missed = Vec::new();
    {
        let mut learner = Learner::open(client.another()).await;
        set_up(&mut learner, id, exercise).await;
        // Nothing done yet: every check fails.
        let before = check(&mut learner, id, &BTreeMap::new()).await;
        // Checks are a second apart: one right after is refused, saying so.
        let again = learner
            .client
            .post_json(&format!("/api/v1/exercises/{id}/check"), &json!(null))
            .await;
        assert_eq!(
            again.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            again.body
        );
        assert_eq!(again.json()["error"]["code"], "rate_limited");
        assert!(
            before.iter().all(|c| c["passed"] == false),
            "{id}: {before:#?}"
        );
        type_in(&mut learner, id, &exercise.solution, true).await;
        let answers = answers_of(&mut learner, &exercise.answers).await;
        let after = check(&mut learner, id, &answers).await;
        assert!(
            after.iter().all(|c| c["passed"] == true),
            "{id}: the solution passes: {after:#?}"
        );
        // The learner's record: two attempts, the last passed, one hint opened by the miss.
        let page = learner
            .client
            .post_json("/fn/exercise", &json!({ "id": id }))
            .await
            .json();
        assert_eq!(page["console"], true, "{page:#}");
        assert_eq!(
            page["attempts"].as_array().map(Vec::len),
            Some(2),
            "{page:#}"
        );
        assert_eq!(page["progress"]["status"], "passed", "{page:#}");
        assert_eq!(page["hints"].as_array().map(Vec::len), Some(1), "{page:#}");
        let log: Vec<&str> = page["last"]["log"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["text"].as_str())
            .collect();
        assert!(
            log.iter()
                .any(|l| l.starts_with("container ") || l.starts_with("image ")),
            "the attempt says what was read: {log:?}"
        );
        drop(learner);
        for wrong in &exercise.wrong {
            let mut learner = Learner::open(client.another()).await;
            set_up(&mut learner, id, exercise).await;
            type_in(&mut learner, id, &wrong.commands, false).await;
            let answers = answers_of(&mut learner, &wrong.answers).await;
            let checks = check(&mut learner, id, &answers).await;
            match checks.iter().find(|c| c["id"] == wrong.fails.as_str()) {
                // An answer its commands failed to print proves nothing about the check.
                Some(c)
                    if c["message"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("Not answered") =>
                {
                    missed.push(format!("{id}/wrong/{}.sh gave no answer: {c}", wrong.name))
                }
                Some(c) if c["passed"] == false => {}
                other => missed.push(format!(
                    "{id}/wrong/{}.sh ({}) passes `{}`: {other:?}",
                    wrong.name, wrong.why, wrong.fails
                )),
            }
        }
    }
    assert!(
        missed.is_empty(),
        "wrong answers that pass:\n{}",
        missed.join("\n")
    );
}

/// Checks and setups together: a second apart, and at most so many begun in a minute (20
/// unless the operator says otherwise; 4 here, so that a loaded machine still fits them in a
/// minute); past that, `429` with the seconds to wait, said in words, and the learner's
/// record keeps only the checks that ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_and_setups_past_so_many_a_minute_are_refused_saying_when_to_try_again() {
    seeded_toolbox();
    let client = TestClient::with_args(LOCAL_ENGINE, &["--console-checks-per-minute=4"]).await;
    let mut learner = Learner::open(client.another()).await;
    let id = "find-the-line";
    let began = std::time::Instant::now();
    // A setup counts as one: then 3 checks.
    set_up_by_id(&mut learner, "push-and-pull-back").await;
    for _ in 0..3 {
        check(&mut learner, id, &BTreeMap::new()).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let path = format!("/api/v1/exercises/{id}/check");
    let refused = learner.client.post_json(&path, &json!(null)).await;
    assert!(
        began.elapsed() < std::time::Duration::from_secs(55),
        "4 turns took a minute: nothing was tested"
    );
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    let view = refused.json();
    assert_eq!(view["error"]["code"], "rate_limited", "{view:#}");
    let message = view["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("4 times in the last minute"), "{message}");
    let wait: u64 = refused
        .header("retry-after")
        .and_then(|w| w.parse().ok())
        .expect("Retry-After in seconds");
    assert!((2..=61).contains(&wait), "wait {wait} s");
    assert!(message.contains(&format!("{wait} s")), "{message}");
    // A setup is refused the same way.
    let setup = learner
        .client
        .post_json("/api/v1/exercises/push-and-pull-back/setup", &json!(null))
        .await;
    assert_eq!(
        setup.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        setup.body
    );
    // The record: the 3 checks, none of the refused ones.
    let page = learner
        .client
        .post_json("/fn/exercise", &json!({ "id": id }))
        .await
        .json();
    assert_eq!(
        page["attempts"].as_array().map(Vec::len),
        Some(3),
        "{page:#}"
    );
}

/// A console exercise is not built, a build exercise is not checked on a console, and an
/// unknown one is neither: each refusal says so.
#[tokio::test]
async fn console_and_workbench_exercises_refuse_each_others_way() {
    let mut client = TestClient::new(LOCAL_ENGINE).await;
    let built = client
        .post_json(
            "/api/v1/builds",
            &json!({ "exercise": "serve-from-the-console", "files": { "Dockerfile": "FROM busybox:1.35\n" } }),
        )
        .await;
    assert_eq!(built.status, StatusCode::CONFLICT, "{}", built.body);
    assert_eq!(built.json()["error"]["code"], "not_a_workbench_exercise");
    assert!(built.body.contains("docker console"), "{}", built.body);
    let checked = client
        .post_json("/api/v1/exercises/first-image/check", &json!(null))
        .await;
    assert_eq!(checked.status, StatusCode::CONFLICT, "{}", checked.body);
    assert_eq!(checked.json()["error"]["code"], "not_a_console_exercise");
    let unknown = client
        .post_json("/api/v1/exercises/no-such-thing/check", &json!(null))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    // The course map tells the two kinds apart.
    let map = client.get("/").await.body;
    let badge = |id: &str| {
        let at = map
            .find(&format!("data-exercise=\"{id}\""))
            .unwrap_or_else(|| panic!("{id} on the course map"));
        let rest = &map[at..];
        let start = rest.find("exercise-badge\">").expect("a badge") + "exercise-badge\">".len();
        rest[start..start + rest[start..].find('<').expect("the badge's end")].to_string()
    };
    assert_eq!(badge("find-the-line"), "Console");
    assert_eq!(badge("first-image"), "Build");
    // The page's form needs the session's token.
    let form = client
        .post_form("/exercises/serve-from-the-console/check", "csrf=forged")
        .await;
    assert_eq!(form.status, StatusCode::FORBIDDEN, "{}", form.body);
}

/// The instructor sees a console exercise's attempt in the cohort like a build's: its
/// outcome in words, its checks, and what the check read in the learner's console (no files).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instructor_reads_a_console_attempt_and_what_the_check_read() {
    seeded_toolbox();
    let (mut teacher, learner, cohort) =
        crate::people::class_of_one("lin", "console-watcher", "Console class").await;
    let mut learner = Learner::open(learner).await;
    let ran = learner
        .run("docker run -d --name web busybox:1.35 sh -c 'mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8080 -h /www'")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    let answer = patiently(
        &mut learner,
        "/api/v1/exercises/serve-from-the-console/check",
        &json!(null),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let view = answer.json();
    let serves = view["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["id"] == "serves-the-page")
        .expect("the check");
    assert_eq!(serves["passed"], false, "no port is published: {serves:#}");
    let attempt = view["id"].as_str().expect("the attempt's id").to_string();
    let dashboard = teacher.get(&format!("/instructor/cohorts/{cohort}")).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
    assert!(dashboard.body.contains("1 attempt"), "{}", dashboard.body);
    let page = teacher
        .get(&format!("/instructor/attempts/{attempt}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for wanted in [
        "checked, 0 of 2 checks pass",
        "What the check read in the learner",
        "container web from busybox:1.35: running",
        "serves-the-page",
    ] {
        assert!(page.body.contains(wanted), "{wanted}: {}", page.body);
    }
    assert!(!page.body.contains(">Files<"), "{}", page.body);
}

/// A learner who races the setup loses: what they left running in their toolbox (a
/// background job waiting to put a chatty of their own in place) is ended when the setup
/// begins, what they type while it runs is refused, and the answer is the one fixed from the
/// setup's own container, whatever they make afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_cannot_race_or_replace_what_the_setup_made() {
    seeded_toolbox();
    let client = TestClient::new(LOCAL_ENGINE).await;
    let mut learner = Learner::open(client.another()).await;
    let forge = "docker run -d --name chatty busybox:1.35 sh -c 'echo \"the code is 222222\"; exec sleep 600'";
    let ran = learner
        .run(&format!(
            "(sleep 6; docker rm -f chatty; {forge}) >/dev/null 2>&1 &"
        ))
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    // The setup, and a command typed while it runs.
    let mut typist = learner.client.same_browser();
    let typed = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        typist
            .post_json("/api/v1/console/commands", &json!({ "line": "docker ps" }))
            .await
    });
    let done = patiently(
        &mut learner,
        "/api/v1/exercises/find-the-line/setup",
        &json!(null),
    )
    .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    let typed = typed.await.expect("the typist");
    assert_eq!(typed.status, StatusCode::CONFLICT, "{}", typed.body);
    assert_eq!(
        typed.json()["error"]["code"],
        "setting_up",
        "{}",
        typed.body
    );
    // The background job was ended: after its 6 s, chatty is still the setup's.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let shown = learner
        .run("docker logs chatty | grep -c 'the code is 222222'")
        .await;
    assert!(
        shown.text.trim().ends_with('0'),
        "the forger ran: {shown:?}"
    );
    // Replaced by hand afterwards, the forged code still does not count; the real one does.
    let real = learner
        .run("docker logs chatty | grep -o 'the code is [0-9]*' | cut -d' ' -f4")
        .await
        .text
        .trim()
        .to_string();
    assert_eq!(real.len(), 6, "{real}");
    learner.run("docker rm -f chatty").await;
    learner.run(forge).await;
    let forged = BTreeMap::from([("found-the-code".to_string(), "222222".to_string())]);
    let checks = check(&mut learner, "find-the-line", &forged).await;
    assert_eq!(checks[0]["passed"], false, "{checks:#?}");
    let right = BTreeMap::from([("found-the-code".to_string(), real)]);
    let checks = check(&mut learner, "find-the-line", &right).await;
    assert_eq!(checks[0]["passed"], true, "{checks:#?}");
}

/// sidecar-port's `quiet` really has nothing in it: a second after it starts, not even the
/// binary it runs is left to `docker exec`; a sidecar sharing its namespaces still finds the
/// port, and that answer passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minimal_container_leaves_nothing_to_exec_but_a_sidecar_finds_its_port() {
    seeded_toolbox();
    let client = TestClient::new(LOCAL_ENGINE).await;
    let mut learner = Learner::open(client.another()).await;
    set_up_by_id(&mut learner, "sidecar-port").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    for inside in [
        "docker exec quiet /busybox netstat -ltn",
        "docker exec quiet /busybox cat /port",
        "docker exec quiet sh -c 'echo in'",
    ] {
        let ran = learner.run(inside).await;
        assert_ne!(
            ran.exit,
            Some(0),
            "`{inside}` found a tool in quiet: {ran:?}"
        );
    }
    let port = learner
        .run("docker run --rm --net=container:quiet busybox:1.35 netstat -ltn | awk '/LISTEN/ { n = split($4, a, \":\"); print a[n] }' | head -n 1")
        .await;
    let port = port
        .text
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(port.parse::<u16>().is_ok_and(|p| p >= 20000), "{port}");
    let answered = BTreeMap::from([("found-the-port".to_string(), port)]);
    let checks = check(&mut learner, "sidecar-port", &answered).await;
    assert_eq!(checks[0]["passed"], true, "{checks:#?}");
}

/// What the registry lesson says of pulling back, on the real engine and registry: a pull
/// while a copy is still held fetches nothing and does not count as pulled back; removing
/// every name deletes the image, and a pull then fetches it again (busybox's layer
/// "Already exists") and counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_counts_as_pulled_back_only_when_it_brings_the_image_back() {
    seeded_toolbox();
    let client = TestClient::new(LOCAL_ENGINE).await;
    let mut learner = Learner::open(client.another()).await;
    let id = "push-and-pull-back";
    set_up_by_id(&mut learner, id).await;
    let pulled_back = |checks: &[serde_json::Value]| {
        checks
            .iter()
            .find(|c| c["id"] == "pulled-back")
            .cloned()
            .expect("the pulled-back check")
    };
    let ran = learner
        .run("docker tag greeter:1.0 $REGISTRY/greeter:1.0 && docker push $REGISTRY/greeter:1.0")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    let ran = learner
        .run("docker rmi $REGISTRY/greeter:1.0 && docker pull $REGISTRY/greeter:1.0")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(!ran.text.contains("Pull complete"), "{}", ran.text);
    let checks = check(&mut learner, id, &BTreeMap::new()).await;
    let c = pulled_back(&checks);
    assert_eq!(c["passed"], false, "{c:#}");
    assert!(
        c["message"].as_str().unwrap_or("").contains("still held"),
        "{c:#}"
    );
    let ran = learner
        .run("docker rmi greeter:1.0 $REGISTRY/greeter:1.0")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    assert!(ran.text.contains("Deleted: sha256:"), "{}", ran.text);
    let ran = learner.run("docker pull $REGISTRY/greeter:1.0").await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    // (Its own layer may be on the engine already, from another learner's identical build.)
    for said in ["Already exists", "Downloaded newer image"] {
        assert!(ran.text.contains(said), "{said}: {}", ran.text);
    }
    let checks = check(&mut learner, id, &BTreeMap::new()).await;
    let c = pulled_back(&checks);
    assert_eq!(c["passed"], true, "{c:#}");
    // Run by the name it was pulled by, as on a laptop `docker ps` and inspect show that name
    // (the console makes it from the image's id).
    let ran = learner
        .run("docker run --name back $REGISTRY/greeter:1.0 && docker ps -a --format '{{.Names}} {{.Image}}' && docker inspect -f '{{.Config.Image}}' back && echo \"as typed: $REGISTRY/greeter:1.0\"")
        .await;
    assert_eq!(ran.exit, Some(0), "{ran:?}");
    let typed = ran
        .text
        .lines()
        .find_map(|l| l.trim().strip_prefix("as typed: "))
        .expect("the name as typed")
        .to_string();
    assert!(
        ran.text.contains(&format!("back {typed}")),
        "docker ps: {}",
        ran.text
    );
    assert!(
        ran.text.lines().any(|l| l.trim() == typed),
        "docker inspect: {}",
        ran.text
    );
    // Another learner's check of the same exercise reads their own namespace: nothing there.
    let mut other = Learner::open(client.another()).await;
    let checks = check(&mut other, id, &BTreeMap::new()).await;
    assert!(checks.iter().all(|c| c["passed"] == false), "{checks:#?}");
}

/// A learner publishing many ports whose server never answers cannot make a check ask them
/// one after another for minutes: pages are asked a few at once within one deadline, and the
/// ports left are said to be unasked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_ports_hold_a_check_for_its_deadline_only() {
    seeded_toolbox();
    let client = TestClient::new(LOCAL_ENGINE).await;
    let mut learner = Learner::open(client.another()).await;
    // Two containers publishing 8 ports each (the most one may), nc listening and never
    // answering (each connection is handed to a `sleep`): each request waits out its time.
    for (name, first) in [("mute", 8001), ("hush", 8101)] {
        let ports: Vec<String> = (first..first + 8).map(|p| format!("-p {p}:80")).collect();
        let ran = learner
            .run(&format!(
                "docker run -d --name {name} {} busybox:1.35 nc -ll -p 80 -e sleep 600",
                ports.join(" ")
            ))
            .await;
        assert_eq!(ran.exit, Some(0), "{ran:?}");
        // (Listening before the check asks, however loaded the machine: otherwise a port
        // refuses rather than keeps silent.)
        let ran = learner
            .run(&format!(
                "(for i in $(seq 100); do docker exec {name} netstat -ltn | grep -q ':80 ' && exit 0; sleep 0.2; done; exit 1)"
            ))
            .await;
        assert_eq!(ran.exit, Some(0), "{name} never listened: {ran:?}");
    }
    let checks = check(&mut learner, "serve-from-the-console", &BTreeMap::new()).await;
    let serves = checks
        .iter()
        .find(|c| c["id"] == "serves-the-page")
        .expect("the serves check");
    let message = serves["message"].as_str().unwrap_or_default();
    assert_eq!(serves["passed"], false, "{serves:#}");
    assert!(message.contains("no answer within 5 s"), "{message}");
    assert!(
        message.contains("not asked: the check asks pages for 12 s at most"),
        "{message}"
    );
    assert_eq!(
        message.matches("(mute)").count() + message.matches("(hush)").count(),
        16,
        "every port is said: {message}"
    );
}

/// The page's Set up form, refused (a command is running in the console), comes back to the
/// page, which says why once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_comes_back_to_the_page_saying_why() {
    seeded_toolbox();
    let client = TestClient::new(LOCAL_ENGINE).await;
    let mut learner = Learner::open(client.another()).await;
    let started = learner
        .client
        .post_json("/api/v1/console/commands", &json!({ "line": "sleep 20" }))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let csrf = learner.client.csrf("/exercises/find-the-line").await;
    let sent = learner
        .client
        .post_form("/exercises/find-the-line/setup", &format!("csrf={csrf}"))
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    assert_eq!(
        sent.header("location"),
        Some("/exercises/find-the-line#checks")
    );
    let page = |c: &mut TestClient| {
        let mut c = c.same_browser();
        async move {
            c.post_json("/fn/exercise", &json!({ "id": "find-the-line" }))
                .await
                .json()
        }
    };
    let shown = page(&mut learner.client).await;
    let problem = shown["problem"].as_str().unwrap_or_default();
    assert!(problem.contains("A command is running"), "{shown:#}");
    let again = page(&mut learner.client).await;
    assert!(again["problem"].is_null(), "said once: {again:#}");
    let stopped = learner
        .client
        .post_json("/api/v1/console/interrupt", &json!(null))
        .await;
    assert_eq!(stopped.status, StatusCode::NO_CONTENT, "{}", stopped.body);
}
