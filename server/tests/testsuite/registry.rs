//! The class registry: the one layerlab starts by default (Debian's docker-registry, a child
//! process on loopback), an existing one named with --registry-url, or none. The engine
//! really pushes to it and pulls back from it; the registry goes when the server goes.

use crate::support;
use axum::http::StatusCode;
use std::time::{Duration, Instant};
use support::{ServerProcess, TestClient, TestDb, LOCAL_ENGINE};

/// The public status's registry part, from a real server process.
async fn public_registry(server: &ServerProcess) -> serde_json::Value {
    let (status, _, body) = support::http("GET", &server.url("/api/v1/status"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    status["registry"].clone()
}

/// Whether a registry answers its API at `address` now.
fn answers(address: &str) -> bool {
    std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-m", "2", "-w", "%{http_code}"])
        .arg(format!("http://{address}/v2/"))
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout) == "200")
}

/// Push busybox to `address` as `path:tag` with the docker CLI, remove it from the engine,
/// and pull it back: the digest the push reported is the one the pull gives.
fn push_and_pull_back(address: &str, path: &str) {
    let reference = format!("{address}/{path}:1.0.0");
    support::docker(&["tag", "busybox:latest", &reference]);
    let pushed = support::docker(&["push", &reference]);
    let digest = pushed
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("the push names its digest: {pushed}"))
        .to_string();
    support::docker(&["rmi", &reference]);
    support::docker(&["pull", &reference]);
    let pulled = support::docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &reference,
    ]);
    assert!(
        pulled.contains(&format!("{address}/{path}@{digest}")),
        "pulled back with the pushed digest {digest}: {pulled}"
    );
    support::docker(&["rmi", &reference]);
}

#[tokio::test]
async fn the_registry_layerlab_starts_takes_pushes_and_gives_them_back() {
    let server = ServerProcess::start(LOCAL_ENGINE);
    let registry = public_registry(&server).await;
    assert_eq!(registry["available"], true, "{registry}");
    let address = registry["address"]
        .as_str()
        .expect("an address")
        .to_string();
    assert!(
        address.starts_with("127.0.0.1:"),
        "loopback only: {address}"
    );
    assert!(answers(&address));
    push_and_pull_back(&address, "ada/hello");
    // What was pushed lives in the registry's own folder, with its configuration and log.
    let folder = server.db.registry_dir();
    for kept in [
        "config.yml",
        "registry.log",
        "data/docker/registry/v2/repositories/ada/hello",
    ] {
        assert!(folder.join(kept).exists(), "{kept} in {}", folder.display());
    }

    // An instructor sees how the server runs it.
    let mut teacher = TestClient::new(LOCAL_ENGINE).await;
    teacher
        .log_in_as_new_instructor("ops", "registry-ops")
        .await;
    let status = teacher.get("/api/v1/status").await.json();
    assert_eq!(status["registry"]["mode"], "embedded", "{status}");
    assert_eq!(status["registry"]["reachable"], true, "{status}");
}

/// The registry is the server's child: it stops when the server stops, however it stops.
#[tokio::test]
async fn the_registry_goes_when_the_server_is_killed() {
    let server = ServerProcess::start(LOCAL_ENGINE);
    let address = public_registry(&server).await["address"]
        .as_str()
        .expect("an address")
        .to_string();
    assert!(answers(&address));
    let _db = server.kill(); // SIGKILL: the server cannot stop it itself
    let deadline = Instant::now() + Duration::from_secs(10);
    while answers(&address) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !answers(&address),
        "the registry on {address} stopped with the server"
    );
}

/// `--registry-url` uses a registry that runs already (here another server's); `--no-registry`
/// runs without one and says so.
#[tokio::test]
async fn an_existing_registry_is_used_as_given_and_none_is_said_plainly() {
    let owner = ServerProcess::start(LOCAL_ENGINE);
    let address = public_registry(&owner).await["address"]
        .as_str()
        .expect("an address")
        .to_string();
    let db = std::sync::Arc::new(TestDb::new());
    let url = format!("--registry-url=http://{address}/");
    let user = ServerProcess::start_with(LOCAL_ENGINE, db, &[&url]);
    let registry = public_registry(&user).await;
    assert_eq!(registry["available"], true, "{registry}");
    assert_eq!(registry["address"], address.as_str(), "{registry}");
    assert!(
        !user.db.registry_dir().exists(),
        "no registry of its own was started"
    );

    let mut off = TestClient::with_args(LOCAL_ENGINE, &["--no-registry"]).await;
    off.log_in_as_new_instructor("ops", "no-registry-here")
        .await;
    let status = off.get("/api/v1/status").await.json();
    assert_eq!(status["registry"]["mode"], "off", "{status}");
    assert_eq!(status["registry"]["reachable"], false, "{status}");
    let problem = status["registry"]["problem"].as_str().unwrap_or("");
    assert!(problem.contains("--no-registry"), "{status}");
}

/// What keeps a server from starting its registry stops the server, with what to do.
#[tokio::test]
async fn a_registry_that_cannot_start_stops_the_server_with_a_reason() {
    // A port another program holds (here a plain listener).
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let taken = format!("--registry-addr={}", taken.local_addr().expect("address"));
    let cases: [(&[&str], &str); 4] = [
        (&[taken.as_str()], "is taken by another program"),
        (
            &["--registry-program=/nonexistent/docker-registry"],
            "install Debian's docker-registry",
        ),
        (&["--registry-addr=0.0.0.0:0"], "loopback only"),
        (&["--registry-url=registry.example"], "is not host:port"),
    ];
    for (flags, says) in cases {
        let db = TestDb::new();
        let config = support::config_with(&db, LOCAL_ENGINE, flags);
        let error = match layerlab_server::build(&config).await {
            Ok(_) => panic!("{flags:?} started"),
            Err(e) => format!("{e:#}"),
        };
        assert!(error.contains(says), "{flags:?}: {error}");
    }
}
