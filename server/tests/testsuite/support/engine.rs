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
