//! The docker CLI beside layerlab: what Docker itself says.

/// The docker CLI, for checking what layerlab reports against what Docker itself says.
pub fn docker(args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether the engine no longer has `image` within `seconds`. Clean-up after a build runs
/// right after the learner is told the result, so a test gives it a moment.
pub async fn image_gone_within(image: &str, seconds: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let present = std::process::Command::new("docker")
            .args(["image", "inspect", "--format", "{{.Id}}", image])
            .output()
            .expect("the docker CLI runs")
            .status
            .success();
        if !present {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Remove the image a build result names (`result["image"]`), if any.
pub fn remove_image(image: &serde_json::Value) {
    if let Some(id) = image["id"].as_str() {
        let _ = std::process::Command::new("docker")
            .args(["image", "rm", "-f", id])
            .output();
    }
}

/// Remove the toolbox and containers of the learner with `handle` from the engine (a test's
/// server does not outlive it to do so).
pub fn remove_console_of(handle: &str) {
    let listed = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("name={handle}"))
        .output()
        .expect("docker ps");
    let ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f"])
            .args(&ids)
            .output();
    }
    // Their images' names (`<handle>-<installation>/…`); an image goes with its last.
    let listed = std::process::Command::new("docker")
        .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()
        .expect("docker images");
    let names: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|name| name.starts_with(&format!("{handle}-")))
        .map(str::to_string)
        .collect();
    if !names.is_empty() {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f"])
            .args(&names)
            .output();
    }
}

/// The learners' folders in a server's console folder (named by their handles).
pub fn console_folders(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// After a test with a server of its own: remove what its consoles left on the engine.
pub fn remove_consoles_in(dir: &std::path::Path) {
    for handle in console_folders(dir) {
        remove_console_of(&handle);
    }
}
