//! The store on a fresh SQLite file: codes, tallies, grades, attempts and their details.

use super::*;

#[test]
fn codes_are_grouped_unambiguous_and_typed_loosely() {
    let code = random_code(3);
    assert_eq!(code.len(), 14, "{code}");
    assert!(code
        .chars()
        .all(|c| c == '-' || CODE_ALPHABET.contains(&(c as u8))));
    assert_ne!(random_code(3), code, "codes are random");
    assert_eq!(normalize_code(" k7qx m2pd-9tra "), "K7QX-M2PD-9TRA");
    assert_eq!(normalize_code(&code.to_lowercase()), code);
}

fn row(exercise: &str, passed: bool, size: Option<u64>, at: i64) -> AttemptRow {
    AttemptRow {
        id: format!("{exercise}{at}"),
        learner_id: "a".into(),
        exercise: exercise.into(),
        status: if size.is_some() {
            "succeeded"
        } else {
            "failed"
        }
        .into(),
        passed,
        checks_passed: 0,
        checks_total: 1,
        size_bytes: size,
        layers: None,
        created_at: at,
    }
}

#[test]
fn tallies_count_attempts_and_keep_the_best_size() {
    let rows = [
        row("non-root", false, None, 1),
        row("non-root", false, Some(5000), 2),
        row("non-root", true, Some(3000), 3),
        row("non-root", false, Some(4000), 4),
        row("playground", true, Some(10), 5),
    ];
    let all = tally(&rows);
    let t = &all["a"]["non-root"];
    assert_eq!(
        (
            t.attempts,
            t.missed_checks,
            t.passed,
            t.best_size_bytes,
            t.last_at
        ),
        // The failed build never reached the checks: no miss, no hint.
        (4, 2, true, Some(3000), 4)
    );
    assert!(!all["a"].contains_key("playground"));
}

fn grade(correct: usize) -> QuizGrade {
    QuizGrade {
        quiz: "q".into(),
        correct,
        total: 3,
        questions: Vec::new(),
    }
}

/// A finished attempt at `exercise` with these files, passing or not, made at `at`.
fn finished(id: &str, files: &[(&str, &str)], passed: bool, size: u64, at: i64) -> Attempt {
    let mut view = BuildView::queued(id, "non-root");
    view.status = app::dto::BuildStatus::Succeeded;
    view.image = Some(app::dto::ImageFacts {
        id: format!("sha256:{id}"),
        size_bytes: size,
        layers: 2,
        history: Vec::new(),
    });
    view.checks = Some(vec![app::dto::CheckOutcome {
        id: "user".into(),
        passed,
        message: "runs as a user".into(),
        learn_more: None,
    }]);
    Attempt {
        id: id.into(),
        learner_id: "a".into(),
        exercise: "non-root".into(),
        view,
        files: files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect(),
        log: vec![LogLine {
            phase: app::dto::LogPhase::Build,
            text: format!("step of {id}"),
        }],
        stage_images: Vec::new(),
        created_at: at,
        finished_at: at + 1,
        details_kept: true,
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&store.pool)
        .await
        .expect(sql)
}

async fn temp_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    open(&url).await.expect("open").0
}

#[tokio::test]
async fn a_learner_rebuilding_for_hours_leaves_only_the_newest_details() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = temp_store(&dir).await;
    store.keep_details = 5;
    store.ensure_learner("a").await.expect("learner");
    // 40 builds, each with different files; the 3rd passes with the smallest image.
    for i in 0..40 {
        let body = format!("FROM busybox:1.36\nRUN echo {i}\n");
        let big = "x".repeat(10_000);
        let attempt = finished(
            &format!("t{i:02}"),
            &[("Dockerfile", &body), ("junk.txt", &big)],
            i == 3 || i == 20,
            if i == 3 { 1_000 } else { 5_000 + i as u64 },
            1_000 + i,
        );
        store.save_attempt(&attempt).await.expect("save");
    }
    let rows = store.attempt_rows(&["a".to_string()]).await.expect("rows");
    assert_eq!(rows.len(), 40, "every attempt keeps its summary row");
    let t = &store.exercise_tallies("a").await.expect("tallies")["non-root"];
    assert_eq!(
        (
            t.attempts,
            t.missed_checks,
            t.passed,
            t.best_size_bytes,
            t.last_at
        ),
        (40, 38, true, Some(1_000), 1_039),
        "tallies count every attempt, dropped details or not"
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM attempts WHERE details_kept = 1"
        )
        .await,
        6,
        "the newest 5 and the best passing one"
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM file_sets").await,
        6,
        "the file sets of dropped attempts are deleted"
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM attempts WHERE details_kept = 0 \
             AND (log <> '[]' OR files <> '' OR files_hash IS NOT NULL)"
        )
        .await,
        0,
        "dropped attempts hold no files or log"
    );
    let best = store.attempt("t03", "a").await.expect("read").expect("t03");
    assert!(best.details_kept && best.files["Dockerfile"].contains("echo 3"));
    assert_eq!(best.log[0].text, "step of t03");
    let newest = store.latest_attempt("a", "non-root").await.expect("read");
    assert!(newest.expect("latest").files["Dockerfile"].contains("echo 39"));
    // An older one (even one that passed) says plainly that its details were not kept.
    for old in ["t00", "t20", "t34"] {
        let gone = store.attempt(old, "a").await.expect("read").expect("row");
        assert!(!gone.details_kept && gone.files.is_empty(), "{old}");
        assert_eq!(gone.log.len(), 1);
        assert!(gone.log[0].text.contains("were not kept"), "{:?}", gone.log);
        assert!(gone.log[0].text.contains("newest 5 attempts"));
        assert_eq!(
            gone.view.image.expect("result kept").size_bytes,
            5_000 + old[1..].parse::<u64>().unwrap()
        );
    }
    assert!(
        store
            .attempt("t35", "a")
            .await
            .expect("read")
            .expect("row")
            .details_kept
    );
    // Saving a dropped attempt again (e.g. marked interrupted) brings back no log.
    let mut again = store.attempt_any("t00").await.expect("read").expect("row");
    again.log.push(LogLine {
        phase: app::dto::LogPhase::Server,
        text: "more".into(),
    });
    store.save_attempt(&again).await.expect("save");
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM attempts WHERE details_kept = 1"
        )
        .await,
        6
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM attempts WHERE id = 't00' AND log = '[]'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn identical_file_sets_are_stored_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = temp_store(&dir).await;
    store.ensure_learner("a").await.expect("learner");
    let files = [
        ("Dockerfile", "FROM busybox:1.36\n"),
        ("app.sh", "echo hi\n"),
    ];
    for (i, id) in ["d1", "d2", "d3"].iter().enumerate() {
        store
            .save_attempt(&finished(id, &files, false, 10, i as i64))
            .await
            .expect("save");
    }
    store
        .save_attempt(&finished(
            "d4",
            &[("Dockerfile", "FROM alpine\n")],
            false,
            10,
            9,
        ))
        .await
        .expect("save");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM file_sets").await, 2);
    assert_eq!(
        count(&store, "SELECT COUNT(DISTINCT files_hash) FROM attempts").await,
        2
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM attempts WHERE files <> ''").await,
        0
    );
    for id in ["d1", "d2", "d3"] {
        let read = store.attempt(id, "a").await.expect("read").expect("row");
        assert_eq!(read.files["app.sh"], "echo hi\n");
    }
    let hash: String = sqlx::query_scalar("SELECT files_hash FROM attempts WHERE id = 'd4'")
        .fetch_one(&store.pool)
        .await
        .expect("hash");
    assert_eq!(hash, file_set_hash(r#"{"Dockerfile":"FROM alpine\n"}"#));
}

#[tokio::test]
async fn attempts_stored_before_migration_5_keep_their_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    {
        sqlx::any::install_default_drivers();
        let options = SqliteConnectOptions::from_str(&url)
            .expect("url")
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .expect("pool");
        let mut old = sqlx::migrate!("./migrations");
        old.migrations = old
            .migrations
            .iter()
            .filter(|m| m.version <= 4)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        old.run(&pool).await.expect("migrations 1-4");
        sqlx::query("INSERT INTO learners (id, resume_code, created_at, last_seen_at) VALUES ('a', 'R', 1, 1)")
            .execute(&pool)
            .await
            .expect("learner");
        for (id, dockerfile) in [
            ("o1", "FROM busybox\n"),
            ("o2", "FROM busybox\n"),
            ("o3", "FROM alpine\n"),
        ] {
            let view = serde_json::to_string(&finished(id, &[], false, 7, 1).view).expect("json");
            let files =
                serde_json::to_string(&BTreeMap::from([("Dockerfile", dockerfile)])).expect("json");
            sqlx::query(
                "INSERT INTO attempts (id, learner_id, exercise, status, passed, checks_passed, checks_total, \
                 size_bytes, layers, files, log, result, created_at, finished_at) \
                 VALUES ($1, 'a', 'non-root', 'succeeded', 0, 0, 1, 7, 2, $2, '[{\"phase\":\"build\",\"text\":\"old\"}]', $3, 1, 2)",
            )
            .bind(id)
            .bind(files)
            .bind(view)
            .execute(&pool)
            .await
            .expect("attempt");
        }
    }
    let (store, _) = open(&url).await.expect("migrate");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM file_sets").await, 2);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM attempts WHERE files = '' AND files_hash IS NOT NULL AND details_kept = 1").await,
        3
    );
    for (id, dockerfile) in [
        ("o1", "FROM busybox\n"),
        ("o2", "FROM busybox\n"),
        ("o3", "FROM alpine\n"),
    ] {
        let read = store.attempt(id, "a").await.expect("read").expect("row");
        assert_eq!(read.files["Dockerfile"], dockerfile);
        assert_eq!(read.log[0].text, "old");
    }
    drop(store);
    // A second start finds nothing more to move and changes nothing.
    let (store, _) = open(&url).await.expect("reopen");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM file_sets").await, 2);
}

#[tokio::test]
async fn the_database_disk_floor_is_checked_only_when_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = temp_store(&dir).await;
    assert_eq!(store.database_dir.as_deref(), Some(dir.path()));
    assert_eq!(store.disk_too_full(), None, "no floor: no check");
    store.min_free_bytes = 1;
    assert_eq!(
        store.disk_too_full(),
        None,
        "there is more than a byte free"
    );
    store.min_free_bytes = u64::MAX;
    let (free, floor) = store.disk_too_full().expect("below an impossible floor");
    assert!(free > 0 && floor == u64::MAX);
}

#[tokio::test]
async fn latest_grades_follow_every_answer_and_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("grades.db").display());
    let (store, _) = open(&url).await.expect("open");
    store.ensure_learner("a").await.expect("learner");
    assert!(store.latest_grades("a").await.expect("grades").is_empty());
    let answers = QuizAnswers::default();
    store
        .record_quiz("a", "lesson", "q", &answers, &grade(1))
        .await
        .expect("record");
    // Read once (now kept in memory), then answer again: the page must show the new grade.
    assert_eq!(
        store.latest_grades("a").await.expect("grades")["lesson/q"],
        grade(1)
    );
    store
        .record_quiz("a", "lesson", "q", &answers, &grade(3))
        .await
        .expect("record");
    store
        .record_quiz("a", "other", "q", &answers, &grade(2))
        .await
        .expect("record");
    let grades = store.latest_grades("a").await.expect("grades");
    assert_eq!(
        (grades["lesson/q"].correct, grades["other/q"].correct),
        (3, 2)
    );
    // What the database says agrees with what was kept.
    drop(store);
    let (reopened, _) = open(&url).await.expect("reopen");
    assert_eq!(reopened.latest_grades("a").await.expect("grades"), grades);
}

#[tokio::test]
async fn pulls_are_kept_per_learner_and_repository_newest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = temp_store(&dir).await;
    for learner in ["a", "b"] {
        store.ensure_learner(learner).await.expect("learner");
    }
    let pull = |id: &str, repository: &str, fresh: bool, at: i64| PullRow {
        id: id.into(),
        repository: repository.into(),
        reference: "1.0".into(),
        digest: format!("sha256:{id}"),
        image_id: format!("sha256:image-{id}"),
        fresh,
        pulled_at: at,
    };
    store
        .record_pull("a", &pull("p1", "learner-a/greeter", false, 10))
        .await
        .expect("kept");
    store
        .record_pull("a", &pull("p2", "learner-a/greeter", true, 20))
        .await
        .expect("kept");
    store
        .record_pull("a", &pull("p3", "learner-a/other", true, 30))
        .await
        .expect("kept");
    store
        .record_pull("b", &pull("p4", "learner-a/greeter", true, 40))
        .await
        .expect("kept");
    // The same image pulled again (over a copy, a moment later): one row, the latest.
    store
        .record_pull("a", &pull("p0", "learner-a/greeter", false, 5))
        .await
        .expect("kept");
    let again = PullRow {
        digest: "sha256:p0".into(),
        ..pull("p5", "learner-a/greeter", false, 15)
    };
    store.record_pull("a", &again).await.expect("kept");
    let pulls = store.pulls("a", "learner-a/greeter").await.expect("read");
    let same: Vec<&PullRow> = pulls.iter().filter(|p| p.digest == "sha256:p0").collect();
    assert_eq!(same, vec![&again], "{pulls:?}");
    let pulls: Vec<PullRow> = pulls
        .into_iter()
        .filter(|p| p.digest != "sha256:p0")
        .collect();
    assert_eq!(
        pulls,
        vec![
            pull("p2", "learner-a/greeter", true, 20),
            pull("p1", "learner-a/greeter", false, 10)
        ]
    );
    // (A reopened store reads the same: the flag survives as stored.)
    drop(store);
    let store = temp_store(&dir).await;
    assert_eq!(
        store.pulls("a", "learner-a/greeter").await.expect("read")[0],
        pull("p2", "learner-a/greeter", true, 20)
    );
    assert!(store
        .pulls("b", "learner-b/greeter")
        .await
        .expect("read")
        .is_empty());
}

/// Several servers on one database: an attempt is marked interrupted only once the server
/// that took it is gone — its process ended (on this machine), its heartbeat too old
/// (elsewhere), or it said it stopped — never while it lives, and never by itself.
#[tokio::test]
async fn only_a_gone_servers_unfinished_attempts_are_marked_interrupted() {
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("tempdir");
    let watcher = temp_store(&dir).await;
    let dead_after = Duration::from_secs(30);
    watcher
        .register_server(&ProcessMark::this_one(), dead_after)
        .await
        .expect("register");
    let queued = |id: &str| {
        let mut attempt = finished(id, &[("Dockerfile", "FROM busybox:1.36\n")], false, 1, 1);
        attempt.view.status = app::dto::BuildStatus::Building;
        attempt
    };
    let here = ProcessMark::this_one();
    // (The kernel's largest pid is 4194304: this one runs nowhere.)
    let ended = ProcessMark {
        pid: 4_999_999,
        ..here.clone()
    };
    let elsewhere = ProcessMark {
        host: "another-machine/another-boot".into(),
        ..here.clone()
    };
    let mut takers = Vec::new();
    for (name, mark) in [
        ("live", &here),
        ("ended", &ended),
        ("elsewhere", &elsewhere),
    ] {
        let store = temp_store(&dir).await;
        store
            .register_server(mark, dead_after)
            .await
            .expect("register");
        store.ensure_learner("a").await.expect("learner");
        store.save_attempt(&queued(name)).await.expect("save");
        takers.push(store);
    }
    assert!(here.runs() == Some(true) && ended.runs() == Some(false));
    assert_eq!(elsewhere.runs(), None, "known only on its machine");
    assert_eq!(
        ProcessMark {
            started: 0,
            ..here.clone()
        }
        .runs(),
        None,
        "a process whose start was not read is not judged by its pid"
    );
    // An attempt no server is named on (taken by an older version): only at start-up.
    let legacy = temp_store(&dir).await;
    legacy.save_attempt(&queued("legacy")).await.expect("save");
    sqlx::query("UPDATE attempts SET server_id = NULL WHERE id = 'legacy'")
        .execute(&watcher.pool)
        .await
        .expect("unname");
    assert_eq!(
        watcher.mark_interrupted(false).await.expect("mark"),
        vec!["ended".to_string()]
    );
    assert_eq!(
        watcher.mark_interrupted(true).await.expect("mark"),
        vec!["legacy".to_string()]
    );
    // The one elsewhere stops beating: gone after its own 30 s, not before.
    let beat_at = |store: usize, at: i64| {
        sqlx::query("UPDATE servers SET heartbeat_at = $1 WHERE id = $2")
            .bind(at)
            .bind(takers[store].server.clone())
            .execute(&watcher.pool)
    };
    beat_at(2, super::now_ms() - 28_000).await.expect("age");
    assert!(watcher
        .mark_interrupted(false)
        .await
        .expect("mark")
        .is_empty());
    beat_at(2, super::now_ms() - 31_000).await.expect("age");
    assert_eq!(
        watcher.mark_interrupted(false).await.expect("mark"),
        vec!["elsewhere".to_string()]
    );
    // One whose process runs on this machine is alive, however late its heartbeat; its
    // attempt goes once it says it stopped. The taker never marks its own.
    beat_at(0, 0).await.expect("age");
    assert!(watcher
        .mark_interrupted(true)
        .await
        .expect("mark")
        .is_empty());
    assert!(takers[0]
        .mark_interrupted(true)
        .await
        .expect("mark")
        .is_empty());
    takers[0].server_stopped().await.expect("stopped");
    assert_eq!(
        watcher.mark_interrupted(false).await.expect("mark"),
        vec!["live".to_string()]
    );
    let live = watcher
        .attempt_any("live")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(live.view.status, app::dto::BuildStatus::Interrupted);
    assert_eq!(
        watcher.unfinished_attempts().await.expect("read"),
        Vec::<String>::new()
    );
    // Rows of processes silent for a day are forgotten (the one stopped long ago here); the
    // others stay. A live one whose row went makes it again at its next heartbeat.
    let before = count(&watcher, "SELECT COUNT(*) FROM servers").await;
    beat_at(0, super::now_ms() - 25 * 3600 * 1000)
        .await
        .expect("age");
    beat_at(1, super::now_ms() - 25 * 3600 * 1000)
        .await
        .expect("age");
    assert_eq!(watcher.forget_old_servers().await.expect("forget"), 2);
    assert_eq!(
        count(&watcher, "SELECT COUNT(*) FROM servers").await,
        before - 2
    );
    takers[0]
        .heartbeat(&here, dead_after)
        .await
        .expect("beat again");
    assert_eq!(
        count(&watcher, "SELECT COUNT(*) FROM servers").await,
        before - 1
    );
}
