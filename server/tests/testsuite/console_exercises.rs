//! Console exercises, end to end on the real engine with the real docker CLI: each one's
//! `solution.sh`, typed line by line into a fresh learner's console, passes every check; each
//! `wrong/<name>.sh` fails the check it names; before anything is typed every check fails and
//! says why. The attempts land in the learner's record like builds do.

use crate::console_app::{seeded_toolbox, Learner};
use crate::support::{self, TestClient, LOCAL_ENGINE};
use axum::http::StatusCode;
use serde_json::json;

/// `POST /api/v1/exercises/{id}/check` as `learner`: the checks, by id.
async fn check(learner: &mut Learner, id: &str) -> Vec<serde_json::Value> {
    let answer = learner
        .client
        .post_json(&format!("/api/v1/exercises/{id}/check"), &json!(null))
        .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_exercise_passes_with_its_solution_and_fails_each_wrong_answer() {
    seeded_toolbox();
    let exercises = support::exercises();
    let console: Vec<_> = exercises
        .iter()
        .filter_map(|e| Some((e.id.clone(), e.console.clone()?)))
        .collect();
    assert!(console.len() >= 2, "console exercises: {}", console.len());
    let client = TestClient::new(LOCAL_ENGINE).await;
    let mut missed = Vec::new();
    for (id, exercise) in &console {
        let mut learner = Learner::open(client.another()).await;
        // Nothing done yet: every check fails.
        let before = check(&mut learner, id).await;
        assert!(
            before.iter().all(|c| c["passed"] == false),
            "{id}: {before:#?}"
        );
        type_in(&mut learner, id, &exercise.solution, true).await;
        let after = check(&mut learner, id).await;
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
            log.iter().any(|l| l.starts_with("container ")),
            "the attempt says what was read: {log:?}"
        );
        drop(learner);
        for wrong in &exercise.wrong {
            let mut learner = Learner::open(client.another()).await;
            type_in(&mut learner, id, &wrong.commands, false).await;
            let checks = check(&mut learner, id).await;
            match checks.iter().find(|c| c["id"] == wrong.fails.as_str()) {
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
    // The page's form needs the session's token.
    let form = client
        .post_form("/exercises/serve-from-the-console/check", "csrf=forged")
        .await;
    assert_eq!(form.status, StatusCode::FORBIDDEN, "{}", form.body);
}
