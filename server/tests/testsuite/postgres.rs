//! PostgreSQL by URL: the store gives the same answers on a Postgres database as on a SQLite
//! file, a whole server runs on Postgres and keeps people's work across a kill, and a bad or
//! unreachable database URL stops the server with a message that names it (and hides the
//! password). Needs the Postgres server `./x test` starts (`LAYERLAB_TEST_POSTGRES`); the
//! `http` and `people` suites also run again on Postgres there.

use crate::support;

use app::dto::{BuildStatus, BuildView, CheckOutcome, ImageFacts, QuizAnswers, QuizGrade};
use layerlab_server::store::{self, Attempt, Database};
use std::collections::BTreeMap;
use support::TestDb;

fn grade(quiz: &str, correct: usize) -> QuizGrade {
    QuizGrade {
        quiz: quiz.into(),
        correct,
        total: 4,
        questions: Vec::new(),
    }
}

fn attempt(id: &str, learner: &str, exercise: &str, at: i64, passed: Option<bool>) -> Attempt {
    let mut view = BuildView::queued(id, exercise);
    if let Some(passed) = passed {
        view.status = BuildStatus::Succeeded;
        view.image = Some(ImageFacts {
            id: format!("sha256:{id}"),
            size_bytes: 5_000_000_000 + at as u64,
            layers: 3,
            history: Vec::new(),
        });
        view.checks = Some(vec![CheckOutcome {
            id: "user".into(),
            passed,
            message: "runs as a user".into(),
            learn_more: None,
        }]);
    }
    Attempt {
        id: id.into(),
        learner_id: learner.into(),
        exercise: exercise.into(),
        view,
        files: BTreeMap::from([("Dockerfile".to_string(), "FROM busybox:1.36\n".to_string())]),
        log: Vec::new(),
        stage_images: vec![format!("stage-{id}")],
        created_at: at,
        finished_at: at + 5,
        details_kept: true,
    }
}

/// The same story told to a store; what it answers along the way, with the random parts (codes,
/// ids the store makes) replaced by what they stand for.
async fn story(url: &str) -> Vec<String> {
    let (store, _sessions) = store::open(url).await.expect("open");
    let mut said = Vec::new();
    store.ensure_learner("ada").await.expect("learner");
    store.ensure_learner("bob").await.expect("learner");
    store
        .ensure_learner("ada")
        .await
        .expect("again: no second row");
    store
        .set_display_name("ada", Some("Ada Lovelace"))
        .await
        .expect("name");
    let ada = store.learner("ada").await.expect("read").expect("ada");
    let by_code = store
        .learner_by_resume_code(&ada.resume_code.to_lowercase())
        .await
        .expect("by code")
        .map(|l| l.id);
    said.push(format!(
        "ada: {:?}, found by resume code: {by_code:?}",
        ada.display_name
    ));

    store
        .put_instructor("grace", "hash-1", false)
        .await
        .expect("instructor");
    assert!(store
        .put_instructor("grace", "hash-2", false)
        .await
        .is_err());
    store
        .put_instructor("grace", "hash-2", true)
        .await
        .expect("reset");
    let grace = store
        .instructor_by_name("grace")
        .await
        .expect("read")
        .expect("grace");
    said.push(format!("instructor password: {}", grace.password_hash));
    let cohort = store
        .create_cohort(&grace.id, "Monday")
        .await
        .expect("cohort");
    let joined = store
        .join_cohort("ada", &cohort.join_code)
        .await
        .expect("join")
        .map(|c| c.name);
    let nowhere = store.join_cohort("bob", "NOPE-NOPE").await.expect("join");
    store
        .join_cohort("bob", &cohort.join_code)
        .await
        .expect("join");
    let cohorts: Vec<(String, u32)> = store
        .cohorts_of(&grace.id)
        .await
        .expect("cohorts")
        .into_iter()
        .map(|(c, n)| (c.name, n))
        .collect();
    let members: Vec<String> = store
        .cohort_learners(&cohort.id)
        .await
        .expect("members")
        .into_iter()
        .map(|l| l.id)
        .collect();
    said.push(format!(
        "joined {joined:?}, bad code {nowhere:?}; cohorts {cohorts:?}; members in order {members:?}"
    ));

    // Answers sent back to back (within a millisecond): the last one is the latest grade.
    let answers = QuizAnswers::default();
    for correct in [1, 4, 2] {
        store
            .record_quiz("ada", "layers", "q", &answers, &grade("q", correct))
            .await
            .expect("answer");
    }
    store
        .record_quiz("ada", "semver", "tags", &answers, &grade("tags", 3))
        .await
        .expect("answer");
    let grades = store.latest_grades("ada").await.expect("grades");
    let mut latest: Vec<(String, usize)> =
        grades.iter().map(|(k, g)| (k.clone(), g.correct)).collect();
    latest.sort();
    said.push(format!("latest grades {latest:?}"));
    let rows: Vec<(String, usize)> = store
        .quiz_answers(&["ada".to_string(), "bob".to_string()])
        .await
        .expect("answers")
        .into_iter()
        .map(|a| (a.quiz, a.grade.correct))
        .collect();
    said.push(format!("answers oldest first {rows:?}"));

    // Attempts: two finished ones, then one a stopped server left queued.
    store
        .save_attempt(&attempt("a1", "ada", "non-root", 1_000, None))
        .await
        .expect("queued");
    store
        .save_attempt(&attempt("a1", "ada", "non-root", 1_000, Some(false)))
        .await
        .expect("finished");
    store
        .save_attempt(&attempt("a2", "ada", "non-root", 2_000, Some(true)))
        .await
        .expect("finished");
    store
        .save_attempt(&attempt("a3", "ada", "non-root", 3_000, None))
        .await
        .expect("queued");
    // The server that took a3 never said it was alive (a killed one's row, or none): the
    // next server marks it interrupted; its own unfinished attempts it leaves.
    let mine = store.mark_interrupted(true).await.expect("none");
    said.push(format!("the taker marks none of its own: {mine:?}"));
    let next = store::open(url).await.expect("open again").0;
    let interrupted = next.mark_interrupted(true).await.expect("interrupted");
    let a3 = store.attempt("a3", "ada").await.expect("read").expect("a3");
    said.push(format!(
        "interrupted {interrupted:?}: {:?} {:?}",
        a3.view.status,
        a3.view.error.map(|e| e.code)
    ));
    let not_bobs = store.attempt("a2", "bob").await.expect("read").is_none();
    let a2 = store.attempt("a2", "ada").await.expect("read").expect("a2");
    said.push(format!(
        "a2 is ada's only: {not_bobs}; size {:?}, files {:?}",
        a2.view.image.map(|i| i.size_bytes),
        a2.files
    ));
    let latest = store
        .latest_attempt("ada", "non-root")
        .await
        .expect("latest")
        .map(|a| a.id);
    let rows: Vec<String> = store
        .attempt_rows(&["ada".to_string()])
        .await
        .expect("rows")
        .into_iter()
        .map(|r| {
            format!(
                "{} {} passed={} {}/{} size={:?} layers={:?}",
                r.id, r.status, r.passed, r.checks_passed, r.checks_total, r.size_bytes, r.layers
            )
        })
        .collect();
    let tally = store
        .exercise_tallies("ada")
        .await
        .expect("tallies")
        .remove("non-root")
        .expect("a tally");
    said.push(format!("latest {latest:?}; rows {rows:?}; tally {tally:?}"));
    let mut superseded = store.superseded_stage_images().await.expect("stages");
    superseded.sort();
    let mut besides = store
        .stage_images_besides("ada", "non-root", "a3")
        .await
        .expect("stages");
    besides.sort();
    store.clear_stage_images("a1").await.expect("clear");
    let mut after = store.superseded_stage_images().await.expect("stages");
    after.sort();
    let times = store
        .attempt_times(&["a1".into(), "a2".into(), "nope".into()])
        .await
        .expect("times");
    let mut times: Vec<(String, i64)> = times.into_iter().collect();
    times.sort();
    said.push(format!(
        "superseded stages {superseded:?}, besides a3 {besides:?}, after clearing a1 {after:?}; times {times:?}"
    ));
    // What consoles built: once per learner and image, however often built again.
    for (learner, image) in [
        ("ada", "sha256:1"),
        ("bob", "sha256:1"),
        ("ada", "sha256:2"),
    ] {
        store
            .record_console_image(learner, image)
            .await
            .expect("kept");
    }
    store
        .record_console_image("ada", "sha256:1")
        .await
        .expect("again");
    let ada = store.console_images("ada").await.expect("read");
    store
        .forget_console_image("ada", "sha256:1")
        .await
        .expect("forgotten");
    let all = store.all_console_images().await.expect("read");
    said.push(format!(
        "console images: ada {ada:?}; after forgetting one {all:?}"
    ));
    said
}

#[tokio::test]
async fn the_store_gives_the_same_answers_on_postgres_as_on_sqlite() {
    let sqlite = TestDb::sqlite();
    let postgres = TestDb::postgres();
    assert_eq!(
        Database::of(&sqlite.url()).expect("sqlite"),
        Database::Sqlite
    );
    assert_eq!(
        Database::of(&postgres.url()).expect("postgres"),
        Database::Postgres
    );
    let on_sqlite = story(&sqlite.url()).await;
    let on_postgres = story(&postgres.url()).await;
    assert_eq!(on_postgres, on_sqlite);
    // And what they both say is right.
    let said = on_postgres.join("\n");
    for expected in [
        "ada: Some(\"Ada Lovelace\"), found by resume code: Some(\"ada\")",
        "instructor password: hash-2",
        "joined Some(\"Monday\"), bad code None; cohorts [(\"Monday\", 2)]; members in order [\"ada\", \"bob\"]",
        "latest grades [(\"layers/q\", 2), (\"semver/tags\", 3)]",
        "answers oldest first [(\"q\", 1), (\"q\", 4), (\"q\", 2), (\"tags\", 3)]",
        "interrupted [\"a3\"]: Interrupted Some(\"interrupted\")",
        "a2 is ada's only: true; size Some(5000002000)",
        "latest Some(\"a3\"); rows [\"a1 succeeded passed=false 0/1 size=Some(5000001000) layers=Some(3)\", \"a2 succeeded passed=true 1/1 size=Some(5000002000) layers=Some(3)\", \"a3 interrupted passed=false 0/0 size=None layers=None\"]",
        "superseded stages [(\"a1\", [\"stage-a1\"]), (\"a2\", [\"stage-a2\"])], besides a3 [(\"a1\", [\"stage-a1\"]), (\"a2\", [\"stage-a2\"])], after clearing a1 [(\"a2\", [\"stage-a2\"])]; times [(\"a1\", 1000), (\"a2\", 2000)]",
        "console images: ada [\"sha256:1\", \"sha256:2\"]; after forgetting one [(\"ada\", \"sha256:2\"), (\"bob\", \"sha256:1\")]",
    ] {
        assert!(said.contains(expected), "expected {expected}\nin:\n{said}");
    }
    // Opening again finds everything where it was, and the same installation id.
    let (first, _) = store::open(&postgres.url()).await.expect("open");
    let (second, _) = store::open(&postgres.url()).await.expect("reopen");
    assert_eq!(first.instance, second.instance);
    assert_eq!(second.database, Database::Postgres);
    assert_eq!(
        second
            .latest_grades("ada")
            .await
            .expect("grades")
            .get("layers/q")
            .map(|g| g.correct),
        Some(2)
    );
}

#[tokio::test]
async fn a_database_that_cannot_be_used_stops_the_server_with_a_message_naming_it() {
    let bad_scheme = run_serve("mysql://root:hunter2@localhost/layerlab");
    assert!(
        bad_scheme.contains("unsupported database URL `mysql://root:***@localhost/layerlab`"),
        "{bad_scheme}"
    );
    // Nothing listens on port 1.
    let unreachable = run_serve("postgres://layerlab:hunter2@127.0.0.1:1/layerlab");
    assert!(
        unreachable.contains(
            "cannot connect to the database at `postgres://layerlab:***@127.0.0.1:1/layerlab`"
        ),
        "{unreachable}"
    );
    assert!(unreachable.contains("Connection refused"), "{unreachable}");
    let missing = run_serve(&support::postgres_url("layerlab_no_such_database"));
    assert!(
        missing.contains("database \"layerlab_no_such_database\" does not exist"),
        "{missing}"
    );
    for message in [&bad_scheme, &unreachable] {
        assert!(
            !message.contains("hunter2"),
            "the password is hidden: {message}"
        );
    }
}

/// Run `layerlab serve` on `database_url`; it must fail: what it printed.
fn run_serve(database_url: &str) -> String {
    let root = support::repo_root();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_layerlab"))
        .args([
            "serve",
            "--addr=127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .arg(format!("--content-dir={}", root.join("content").display()))
        .arg(format!(
            "--exercises-dir={}",
            root.join("exercises").display()
        ))
        .arg(format!("--site-root={}", support::site_root().display()))
        .output()
        .expect("run layerlab");
    assert!(
        !out.status.success(),
        "layerlab must not start on {database_url}"
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
