//! The docker console's policy proxy, driven by the real docker CLI (`docker -H unix://…`)
//! against the real engine: each learner sees and reaches only their own containers, and
//! every call the policy does not forward is refused with words the CLI prints.

use crate::registry::Cli;
use crate::support::LOCAL_ENGINE;
use layerlab_server::console::proxy::Proxy;
use layerlab_server::policy::api::Scope;
use std::sync::Arc;

/// A container of `owner`'s as the console would make it (labelled with the owner), which
/// printed `said` and exited; its id. Removed by [`Containers`] when the test ends.
fn container_of(owner: &str, name: &str, said: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["run", "--name", name, "--label"])
        .arg(format!("org.layerlab.owner={owner}"))
        .args(["busybox:latest", "echo", said])
        .output()
        .expect("docker run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{.Id}}", name])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Containers removed when dropped.
struct Containers(Vec<String>);

impl Drop for Containers {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f"])
            .args(&self.0)
            .output();
    }
}

/// The docker CLI talking to `proxy`.
fn through(proxy: &Proxy, cli: &Cli, args: &[&str]) -> (bool, String) {
    let host = format!("unix://{}", proxy.path().display());
    let mut all = vec!["-H", host.as_str()];
    all.extend_from_slice(args);
    cli.run(&all)
}

// Several threads: the docker CLI, run here and waited for, talks to this test's proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_learner_sees_and_reaches_only_their_own_containers_through_the_proxy() {
    let nonce = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let (alice, bob) = (format!("alice-{nonce}"), format!("bob-{nonce}"));
    let (alices, bobs) = (format!("web-a-{nonce}"), format!("web-b-{nonce}"));
    let alice_id = container_of(&alice, &alices, "hello from alice");
    let bob_id = container_of(&bob, &bobs, "hello from bob");
    let _cleanup = Containers(vec![alices.clone(), bobs.clone()]);
    let engine = Arc::new(layerlab_server::engine::Engine::new(Some(LOCAL_ENGINE)));
    let dir = tempfile::tempdir().expect("a folder");
    let proxy = Proxy::start(
        &dir.path().join("alice.sock"),
        Scope {
            owner: alice.clone(),
        },
        engine,
    )
    .expect("the proxy starts");
    let cli = Cli::new();
    let ok = |args: &[&str]| {
        let (ok, said) = through(&proxy, &cli, args);
        assert!(ok, "docker {args:?}: {said}");
        said
    };
    let refused = |args: &[&str]| {
        let (ok, said) = through(&proxy, &cli, args);
        assert!(!ok, "docker {args:?} is refused: {said}");
        said
    };

    // The engine answers as itself.
    assert!(
        ok(&["version", "--format", "{{.Server.Version}}"])
            .trim()
            .len()
            >= 4
    );
    // Listing shows hers only, however she filters.
    let listed = ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(listed.contains(&alices), "{listed}");
    assert!(!listed.contains(&bobs), "{listed}");
    let widened = ok(&[
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        &format!("label=org.layerlab.owner={bob}"),
    ]);
    assert!(widened.trim().is_empty(), "no one else's: {widened}");
    let by_name = ok(&[
        "ps",
        "-a",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("name={bobs}"),
    ]);
    assert!(by_name.trim().is_empty(), "{by_name}");
    // Hers by name, by id and by the id's start; his by none of them.
    assert!(ok(&["logs", &alices]).contains("hello from alice"));
    let inspected = ok(&["inspect", "--format", "{{.Id}}", &alice_id[..12]]);
    assert_eq!(inspected.trim(), alice_id);
    for his in [bobs.as_str(), bob_id.as_str(), &bob_id[..12]] {
        let said = refused(&["logs", his]);
        assert!(said.contains("No such container"), "{said}");
        let said = refused(&["inspect", "--type", "container", his]);
        assert!(said.contains("No such container"), "{his}: {said}");
    }
    // Images: only hers (she has none; the engine's base images are not hers).
    let images = ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!images.contains("busybox"), "{images}");
    // What the console does not forward yet, refused with the policy's words.
    for args in [
        vec!["rm", "-f", alices.as_str()],
        vec!["run", "--rm", "busybox:latest", "true"],
        vec!["exec", alices.as_str(), "true"],
        vec!["info"],
        vec!["volume", "ls"],
        vec!["pull", "busybox:latest"],
    ] {
        let said = refused(&args);
        assert!(said.contains("layerlab: "), "docker {args:?}: {said}");
    }
    // Nothing it refused happened: her container is still there.
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{.Id}}", &alices])
        .output()
        .expect("docker inspect");
    assert!(out.status.success());

    // The socket goes with the proxy.
    let path = proxy.path().to_path_buf();
    drop(proxy);
    assert!(!path.exists());
}
