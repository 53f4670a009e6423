//! The course's exercises and their files, as the tests submit them.

use super::*;

/// The course's exercises as the server loads them.
pub fn exercises() -> layerlab_server::exercise::Exercises {
    let root = repo_root();
    let course = layerlab_server::course::Course::load(&root.join("content"))
        .unwrap_or_else(|e| panic!("the course: {e}"));
    layerlab_server::exercise::Exercises::load(&root.join("exercises"), &course)
        .unwrap_or_else(|e| panic!("the exercises: {e:#}"))
}

/// An exercise's files as a learner would submit them: the starter, or the starter with
/// the solution's files over it (`solution/` holds only what changes).
pub fn exercise_files(id: &str, solution: bool) -> Vec<(String, String)> {
    let all = exercises();
    let exercise = all.get(id).unwrap_or_else(|| panic!("no exercise {id}"));
    let files = if solution {
        &exercise.solution
    } else {
        &exercise.starter
    };
    files.clone().into_iter().collect()
}

/// A copy of the course's exercises in a folder of its own, for a test to change one
/// exercise's `exercise.toml`: the folder (removed when dropped) and its `exercises/`.
pub fn exercises_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let copied = std::process::Command::new("cp")
        .args(["-a", &repo_root().join("exercises").display().to_string()])
        .arg(dir.path())
        .status()
        .expect("cp");
    assert!(copied.success());
    let exercises = dir.path().join("exercises");
    (dir, exercises)
}

/// Rewrite `<exercises>/<id>/exercise.toml` as `edit` makes it from its text.
pub fn edit_exercise_toml(exercises: &std::path::Path, id: &str, edit: impl Fn(&str) -> String) {
    let toml = exercises.join(id).join("exercise.toml");
    let text = std::fs::read_to_string(&toml).expect("exercise.toml");
    std::fs::write(&toml, edit(&text)).expect("write");
}
