//! The engine going away and coming back. layerlab talks to the real engine through a unix
//! socket proxy this test can cut: with it cut, a build is refused with a clear 503 and the
//! site stays up; cut during a build, the build ends with `engine_unavailable`; restored,
//! builds work again without restarting the server.

use crate::support;

use axum::http::StatusCode;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::TestClient;
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinSet;

const REAL_ENGINE: &str = "/var/run/docker.sock";

/// A unix socket that forwards every connection to the real engine until it is cut.
struct EngineProxy {
    path: PathBuf,
    connections: Option<JoinSet<()>>,
}

impl EngineProxy {
    fn new(dir: &Path) -> Self {
        EngineProxy {
            path: dir.join("engine.sock"),
            connections: None,
        }
    }

    fn url(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Start forwarding (again).
    fn open(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let listener = UnixListener::bind(&self.path).expect("bind the proxy socket");
        let mut set = JoinSet::new();
        set.spawn(async move {
            let mut pipes = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                pipes.spawn(async move {
                    if let Ok(mut engine) = UnixStream::connect(REAL_ENGINE).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                    }
                });
            }
        });
        self.connections = Some(set);
    }

    /// Stop accepting and drop every open connection, as a dead engine would.
    fn cut(&mut self) {
        if let Some(mut set) = self.connections.take() {
            set.abort_all();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

const QUICK: &str = "FROM busybox:latest\nCMD [\"echo\", \"engine is back\"]\n";

#[tokio::test]
async fn the_engine_going_away_is_reported_and_builds_resume_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut proxy = EngineProxy::new(dir.path());
    proxy.open();
    let mut client = TestClient::new(&proxy.url()).await;

    let (first, _) = client.build(None, &[("Dockerfile", QUICK)]).await;
    assert_eq!(first["status"], "succeeded", "{first}");

    // Cut: the submit is refused at once, in words, and the site itself is fine.
    proxy.cut();
    let res = client
        .post_json(
            "/api/v1/builds",
            &serde_json::json!({"exercise": null, "files": {"Dockerfile": QUICK}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "engine_unavailable");
    let message = res.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        message.contains("no socket at") || message.contains("refused"),
        "{message}"
    );
    assert_eq!(client.get("/healthz").await.status, StatusCode::OK);
    let map = client.get("/").await;
    assert_eq!(map.status, StatusCode::OK);

    // Cut during a build: the build ends with a clear failure instead of hanging.
    proxy.open();
    let id = client
        .start_build(
            None,
            &[("Dockerfile", "FROM busybox:latest\nRUN sleep 8\n")],
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = client.get(&format!("/api/v1/builds/{id}")).await.json();
        if view["status"] == "building" && view["step"]["current"].as_u64() == Some(2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the build never reached its RUN step: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.cut();
    let (cut, _) = client.finish_build(&id).await;
    assert_eq!(cut["status"], "failed", "{cut}");
    assert_eq!(cut["error"]["code"], "engine_unavailable", "{cut}");

    // Back: the same server builds again.
    proxy.open();
    let (again, _) = client.build(None, &[("Dockerfile", QUICK)]).await;
    assert_eq!(again["status"], "succeeded", "{again}");
    assert!(again["run"]["output"]
        .as_str()
        .is_some_and(|o| o.contains("engine is back")));
    support::remove_image(&again["image"]);
    support::remove_image(&first["image"]);
}
