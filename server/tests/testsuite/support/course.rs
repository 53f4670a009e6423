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
