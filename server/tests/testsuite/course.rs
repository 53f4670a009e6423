//! The course as data, checked like `layerlab check-course` does: the real course and its
//! exercises load, and authoring mistakes are reported with the file and the fix.

use crate::support;

use std::path::Path;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A writable copy of the repository's course and exercises.
fn scratch_course() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = dir.path().join("content");
    let exercises = dir.path().join("exercises");
    copy_tree(&support::repo_root().join("content"), &content);
    copy_tree(&support::repo_root().join("exercises"), &exercises);
    (dir, content, exercises)
}

/// Replace `from` by `to` in `path`; the text must be there, or the test would test nothing.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(
        text.contains(from),
        "{} no longer contains {from:?}",
        path.display()
    );
    std::fs::write(path, text.replace(from, to)).expect("write");
}

#[test]
fn the_real_course_and_every_exercise_load() {
    let root = support::repo_root();
    let summary = layerlab_server::check_course(&root.join("content"), &root.join("exercises"))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let folders = std::fs::read_dir(root.join("exercises"))
        .expect("exercises")
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert!(
        summary.ends_with(&format!("{folders} exercises")),
        "{summary}"
    );
}

#[test]
fn a_module_naming_a_missing_exercise_is_refused() {
    let (_dir, content, exercises) = scratch_course();
    edit(
        &content.join("course.toml"),
        "\"tag-semver\"",
        "\"tag-semverr\"",
    );
    let err = layerlab_server::check_course(&content, &exercises).expect_err("broken link");
    let message = format!("{err:#}");
    assert!(
        message.contains("exercises/tag-semverr/exercise.toml"),
        "{message}"
    );
}

#[test]
fn an_unknown_check_type_names_the_exercise_and_the_type() {
    let (_dir, content, exercises) = scratch_course();
    edit(
        &exercises.join("first-image/exercise.toml"),
        "type = \"http-responds\"",
        "type = \"http-respond\"",
    );
    let err = layerlab_server::check_course(&content, &exercises).expect_err("bad check");
    let message = format!("{err:#}");
    assert!(message.contains("first-image"), "{message}");
    assert!(message.contains("http-respond"), "{message}");
}

#[test]
fn a_solution_that_changes_nothing_is_reported() {
    let (_dir, content, exercises) = scratch_course();
    // A copy of a starter file says nothing about the solution.
    std::fs::copy(
        exercises.join("non-root/starter/app.sh"),
        exercises.join("non-root/solution/app.sh"),
    )
    .expect("copy");
    let err = layerlab_server::check_course(&content, &exercises).expect_err("copied file");
    let message = format!("{err:#}");
    assert!(
        message.contains("non-root") && message.contains("solution/app.sh is the same"),
        "{message}"
    );

    // An empty solution/ is no solution.
    std::fs::remove_file(exercises.join("non-root/solution/app.sh")).expect("remove");
    std::fs::remove_file(exercises.join("non-root/solution/Dockerfile")).expect("remove");
    let err = layerlab_server::check_course(&content, &exercises).expect_err("no solution");
    let message = format!("{err:#}");
    assert!(
        message.contains("non-root") && message.contains("solution/ is empty"),
        "{message}"
    );
}

#[test]
fn a_check_explained_in_a_missing_heading_is_refused() {
    let (_dir, content, exercises) = scratch_course();
    edit(
        &exercises.join("tag-semver/exercise.toml"),
        "tags-and-semver#major-minor-patch",
        "tags-and-semver#no-such-heading",
    );
    let err = layerlab_server::check_course(&content, &exercises).expect_err("bad anchor");
    let message = format!("{err:#}");
    assert!(
        message.contains("tags-and-semver#no-such-heading")
            && message.contains("names no lesson heading"),
        "{message}"
    );
}

#[test]
fn a_pulled_back_check_without_run_checks_to_judge_by_is_refused() {
    let (_dir, content, exercises) = scratch_course();
    // Without the run check, the pulled-back image's run would prove nothing.
    let toml = exercises.join("share-your-image/exercise.toml");
    let text = std::fs::read_to_string(&toml).expect("read");
    let without_run_check =
        text.replace("type = \"run-output\"\ncontains", "type = \"label\"\nname");
    assert_ne!(
        text, without_run_check,
        "the exercise has a run-output check"
    );
    std::fs::write(&toml, &without_run_check).expect("write");
    let err = layerlab_server::check_course(&content, &exercises).expect_err("nothing to judge by");
    let message = format!("{err:#}");
    assert!(
        message.contains("pulled-back")
            && message.contains("a check judged on the running container"),
        "{message}"
    );
    // Two of them in one exercise.
    let twice = format!(
        "{text}\n[[checks]]\nid = \"again\"\ntype = \"runs-when-pulled-back\"\nrepository = \"my-app\"\ntag = \"latest\"\n"
    );
    std::fs::write(&toml, twice).expect("write");
    let err = layerlab_server::check_course(&content, &exercises).expect_err("two");
    assert!(
        format!("{err:#}").contains("one runs-when-pulled-back check per exercise"),
        "{err:#}"
    );
}

#[test]
fn every_lint_rule_links_to_a_heading_of_a_rendered_lesson() {
    use app::dto::LessonBlock;
    let root = support::repo_root();
    let course = layerlab_server::course::Course::load(&root.join("content"))
        .unwrap_or_else(|e| panic!("{e}"));
    for rule in app::lint::RULES {
        let (slug, anchor) = rule
            .lesson
            .strip_prefix("/learn/")
            .and_then(|link| link.split_once('#'))
            .unwrap_or_else(|| panic!("{}: `{}` is not /learn/<slug>#<id>", rule.id, rule.lesson));
        let view = course
            .lesson_view(slug, |_| None)
            .unwrap_or_else(|| panic!("{}: there is no lesson `{slug}`", rule.id));
        let html: String = view
            .blocks
            .iter()
            .filter_map(|block| match block {
                LessonBlock::Prose(html) => Some(html.as_str()),
                LessonBlock::Quiz(_) => None,
            })
            .collect();
        assert!(
            html.contains(&format!("id=\"{anchor}\"")),
            "{}: lesson `{slug}` has no heading with id `{anchor}`",
            rule.id
        );
    }
}

#[test]
fn a_wrong_answer_must_name_a_check_and_have_its_folder() {
    let (_dir, content, exercises) = scratch_course();
    edit(
        &exercises.join("hello-container/exercise.toml"),
        "fails = \"runs-the-script\"",
        "fails = \"runs-the-scrip\"",
    );
    let err = layerlab_server::check_course(&content, &exercises).expect_err("bad check id");
    let message = format!("{err:#}");
    assert!(
        message.contains("hello-container") && message.contains("names no check"),
        "{message}"
    );

    let (_dir, content, exercises) = scratch_course();
    std::fs::create_dir_all(exercises.join("hello-container/wrong/undeclared")).expect("mkdir");
    std::fs::write(
        exercises.join("hello-container/wrong/undeclared/Dockerfile"),
        "FROM busybox:1.35\n",
    )
    .expect("write");
    let err = layerlab_server::check_course(&content, &exercises).expect_err("stray folder");
    let message = format!("{err:#}");
    assert!(
        message.contains("wrong/undeclared/ is not declared"),
        "{message}"
    );
}

#[test]
fn a_starter_folder_called_dot_git_is_the_learners_git_folder() {
    let exercises = support::exercises();
    let starter = &exercises.get("dockerignore").expect("dockerignore").starter;
    assert!(starter.contains_key(".git/config"), "{:?}", starter.keys());
    assert!(!starter.keys().any(|p| p.contains("dot.git")));
}

#[test]
fn build_arguments_and_their_placeholders_are_checked_at_load_time() {
    // A check naming an argument the exercise does not pass.
    let (_dir, content, exercises) = scratch_course();
    edit(
        &exercises.join("build-args/exercise.toml"),
        "contains = \"release {arg.RELEASE}\"",
        "contains = \"release {arg.RELEAS}\"",
    );
    let err = layerlab_server::check_course(&content, &exercises).expect_err("unknown arg");
    let message = format!("{err:#}");
    assert!(
        message.contains("build-args") && message.contains("app-reports-it"),
        "{message}"
    );

    // A health check that would hold a run slot too long.
    let (_dir, content, exercises) = scratch_course();
    edit(
        &exercises.join("healthcheck/exercise.toml"),
        "within_secs = 25",
        "within_secs = 300",
    );
    let err = layerlab_server::check_course(&content, &exercises).expect_err("too long");
    assert!(
        format!("{err:#}").contains("within_secs must be 1 to 30"),
        "{err:#}"
    );

    // Each build draws its own version; the checks are judged with it.
    let root = support::repo_root();
    let course = layerlab_server::course::Course::load(&root.join("content")).expect("course");
    let all = layerlab_server::exercise::Exercises::load(&root.join("exercises"), &course)
        .expect("exercises");
    let exercise = all.get("build-args").expect("build-args").clone();
    let first = exercise.args_for_a_build();
    let second = exercise.args_for_a_build();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, "RELEASE");
    assert!(
        first[0].1.split('.').count() == 3
            && first[0].1.split('.').all(|n| n.parse::<u32>().is_ok()),
        "{first:?}"
    );
    let draws: std::collections::HashSet<String> = (0..20)
        .map(|_| exercise.args_for_a_build()[0].1.clone())
        .collect();
    assert!(
        draws.len() > 10,
        "versions repeat: {draws:?} (and {second:?})"
    );
    let judged = exercise.clone().with_build_args(&first);
    assert_eq!(judged.build_args, first);
    let label = judged
        .checks
        .iter()
        .find(|c| c.id == "label-version")
        .expect("label check");
    assert!(
        format!("{:?}", label.check).contains(&format!("\"{}\"", first[0].1)),
        "{:?}",
        label.check
    );
}

#[test]
fn provided_files_and_a_solution_built_without_cache_are_checked_at_load_time() {
    let provided = "[[provided]]\npath = \"rootfs.tar\"\nexport = \"busybox:1.35\"";
    let refusals = [
        // An image `images seed` would not make.
        (
            "export = \"busybox:1.35\"",
            "export = \"alpine:3.19\"",
            "not among base_images",
        ),
        // Not a plain top-level name.
        (
            "path = \"rootfs.tar\"",
            "path = \"img/rootfs.tar\"",
            "plain file name",
        ),
        (
            "path = \"rootfs.tar\"",
            "path = \"Dockerfile\"",
            "plain file name",
        ),
        (
            "path = \"rootfs.tar\"",
            "path = \".dockerignore\"",
            "plain file name",
        ),
    ];
    for (from, to, wanted) in refusals {
        let (_dir, content, exercises) = scratch_course();
        let toml = exercises.join("own-base-image/exercise.toml");
        edit(&toml, provided, &provided.replace(from, to));
        let err = layerlab_server::check_course(&content, &exercises).expect_err(to);
        let message = format!("{err:#}");
        assert!(
            message.contains("own-base-image") && message.contains(wanted),
            "{to}: {message}"
        );
    }
    // Two provided files of one name.
    let (_dir, content, exercises) = scratch_course();
    let toml = exercises.join("own-base-image/exercise.toml");
    let text = std::fs::read_to_string(&toml).expect("read");
    let block_start = text.find("[[provided]]").expect("a provided file");
    let block_end = text[block_start..].find("\n\n").expect("its end") + block_start;
    let twice = format!("{}\n\n{}", &text[..block_end], &text[block_start..]);
    std::fs::write(&toml, twice).expect("write");
    let err = layerlab_server::check_course(&content, &exercises).expect_err("twice");
    assert!(format!("{err:#}").contains("is given twice"), "{err:#}");

    // A learner's starter file may not be the provided one.
    let (_dir, content, exercises) = scratch_course();
    std::fs::write(
        exercises.join("own-base-image/starter/rootfs.tar"),
        "not a tar",
    )
    .expect("write");
    let err = layerlab_server::check_course(&content, &exercises).expect_err("clash");
    assert!(
        format!("{err:#}").contains("also a file of starter/ or solution/"),
        "{err:#}"
    );

    // A layer path no layer could hold is an author's mistake, said at load time.
    for bad in ["**/", "/", "**/./pyproject.toml", "/a//b"] {
        let (_dir, content, exercises) = scratch_course();
        edit(
            &exercises.join("production-python/exercise.toml"),
            "\"**/setup.cfg\"",
            &format!("\"{bad}\""),
        );
        let err = layerlab_server::check_course(&content, &exercises).expect_err(bad);
        assert!(
            format!("{err:#}").contains("is not a path a layer could hold"),
            "{bad}: {err:#}"
        );
    }

    // Without `[solution] no_cache`, a missing solution/ is a mistake again.
    let (_dir, content, exercises) = scratch_course();
    edit(
        &exercises.join("stale-cache/exercise.toml"),
        "[solution]\nno_cache = true",
        "",
    );
    let err = layerlab_server::check_course(&content, &exercises).expect_err("no solution");
    assert!(format!("{err:#}").contains("stale-cache"), "{err:#}");
    let root = support::repo_root();
    let course = layerlab_server::course::Course::load(&root.join("content")).expect("course");
    let all = layerlab_server::exercise::Exercises::load(&root.join("exercises"), &course)
        .expect("exercises");
    let stale = all.get("stale-cache").expect("stale-cache");
    assert!(stale.solution_no_cache);
    assert_eq!(
        stale.solution, stale.starter,
        "the starter, built another way"
    );
    let own = all.get("own-base-image").expect("own-base-image");
    assert_eq!(own.provided.len(), 1);
    assert_eq!(own.provided[0].export, "busybox:1.35");
}
