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

/// Whether a registry answers its API at `address` now (200, or 401 asking for a token).
fn answers(address: &str) -> bool {
    std::process::Command::new("curl")
        .args([
            "-g",
            "-s",
            "-o",
            "/dev/null",
            "-m",
            "2",
            "-w",
            "%{http_code}",
        ])
        .arg(format!("http://{address}/v2/"))
        .output()
        .is_ok_and(|o| matches!(&*String::from_utf8_lossy(&o.stdout), "200" | "401"))
}

/// A learner's docker CLI: their own credentials store (`--config`), as on their laptop.
struct Cli {
    config: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Cli {
            config: tempfile::tempdir().expect("a folder"),
        }
    }

    /// `docker --config … args`: whether it succeeded, and what it printed (both streams).
    fn run(&self, args: &[&str]) -> (bool, String) {
        let out = std::process::Command::new("docker")
            .arg("--config")
            .arg(self.config.path())
            .args(args)
            .output()
            .expect("the docker CLI runs");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), said)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, said) = self.run(args);
        assert!(ok, "docker {args:?}: {said}");
        said
    }

    /// `docker login` with what layerlab gives the learner.
    fn log_in(&self, login: &serde_json::Value) {
        let (registry, user, password) = (
            login["registry"].as_str().expect("registry"),
            login["username"].as_str().expect("username"),
            login["password"].as_str().expect("password"),
        );
        self.ok(&["login", registry, "-u", user, "-p", password]);
    }
}

/// The learner's `docker login` from a real server, as their session gets it.
async fn registry_login(server: &ServerProcess, cookie: &str) -> serde_json::Value {
    let (status, _, body) = support::http(
        "GET",
        &server.url("/api/v1/registry/login"),
        Some(cookie),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

/// Push busybox as `<address>/<path>:1.0.0`, remove it from the engine, and pull it back:
/// the digest the push reported is the one the pull gives.
fn push_and_pull_back(cli: &Cli, address: &str, path: &str) {
    let reference = format!("{address}/{path}:1.0.0");
    cli.ok(&["tag", "busybox:latest", &reference]);
    let pushed = cli.ok(&["push", &reference]);
    let digest = pushed
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("the push names its digest: {pushed}"))
        .to_string();
    cli.ok(&["rmi", &reference]);
    cli.ok(&["pull", &reference]);
    let pulled = cli.ok(&[
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
    cli.ok(&["rmi", &reference]);
}

/// A token from the registry's realm with `login`'s credentials for `scope`, as a client gets
/// it after the registry's 401.
fn token_for(address: &str, login: &serde_json::Value, scope: &str) -> String {
    let (_, challenge) = registry_get(address, "/v2/", None);
    let realm = challenge
        .split("realm=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("the registry names its realm: {challenge}"))
        .to_string();
    let out = std::process::Command::new("curl")
        .args(["-g", "-s", "-m", "5", "-u"])
        .arg(format!(
            "{}:{}",
            login["username"].as_str().expect("user"),
            login["password"].as_str().expect("password")
        ))
        .arg(format!(
            "{realm}?service=layerlab-registry&scope={}",
            scope
                .replace(':', "%3A")
                .replace('/', "%2F")
                .replace(',', "%2C")
        ))
        .output()
        .expect("curl");
    let body: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the realm answers JSON");
    body["token"].as_str().expect("a token").to_string()
}

/// `GET http://<address><path>` (with a bearer token): the status, and the
/// `WWW-Authenticate` header.
fn registry_get(address: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut curl = std::process::Command::new("curl");
    curl.args(["-g", "-s", "-o", "/dev/null", "-m", "5", "-D", "-"]);
    if let Some(token) = token {
        curl.arg("-H").arg(format!("Authorization: Bearer {token}"));
    }
    let out = curl
        .arg(format!("http://{address}{path}"))
        .output()
        .expect("curl");
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let challenge = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .unwrap_or("")
        .to_string();
    (status, challenge)
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
    let cookie = support::start_learner(&server.base_url).await;
    let login = registry_login(&server, &cookie).await;
    assert_eq!(login["registry"], address.as_str(), "{login}");
    let handle = login["username"].as_str().expect("a handle").to_string();
    let cli = Cli::new();
    cli.log_in(&login);
    push_and_pull_back(&cli, &address, &format!("{handle}/hello"));
    // What was pushed lives in the registry's own folder, with its configuration and log.
    let folder = server.db.registry_dir();
    let repository = format!("data/docker/registry/v2/repositories/{handle}/hello");
    for kept in ["config.yml", "registry.log", repository.as_str()] {
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

/// Each learner pushes to their own namespace only, and it is the registry that refuses the
/// rest: with no token, with a token for another namespace, with a wrong password.
#[tokio::test]
async fn a_learner_pushes_to_their_own_namespace_and_the_registry_refuses_the_rest() {
    let server = ServerProcess::start(LOCAL_ENGINE);
    let (alice, bob) = (
        support::start_learner(&server.base_url).await,
        support::start_learner(&server.base_url).await,
    );
    let (alice, bob) = (
        registry_login(&server, &alice).await,
        registry_login(&server, &bob).await,
    );
    let address = alice["registry"].as_str().expect("registry").to_string();
    let bob_handle = bob["username"].as_str().expect("handle").to_string();
    assert_ne!(alice["username"], bob["username"]);
    assert_ne!(alice["password"], bob["password"]);

    // Not logged in: the registry asks for a token, and there are no credentials to get one.
    let anonymous = Cli::new();
    let bobs = format!("{address}/{bob_handle}/app:1");
    anonymous.ok(&["tag", "busybox:latest", &bobs]);
    let (pushed, said) = anonymous.run(&["push", &bobs]);
    assert!(!pushed, "an anonymous push is refused: {said}");

    // Alice, logged in, cannot push into Bob's namespace: the registry refuses.
    let cli = Cli::new();
    cli.log_in(&alice);
    let (pushed, said) = cli.run(&["push", &bobs]);
    assert!(!pushed, "a push to another namespace is refused: {said}");
    assert!(
        said.contains("denied") || said.contains("unauthorized"),
        "{said}"
    );
    // …because her token holds nothing for it, and the registry checks every token.
    let scope = format!("repository:{bob_handle}/app:push,pull");
    let token = token_for(&address, &alice, &scope);
    let tags = format!("/v2/{bob_handle}/app/tags/list");
    assert_eq!(registry_get(&address, &tags, Some(&token)).0, 401);
    assert_eq!(registry_get(&address, "/v2/_catalog", Some(&token)).0, 401);
    assert_eq!(registry_get(&address, &tags, Some("made.up.token")).0, 401);

    // A wrong password gets no login at all.
    let (logged_in, said) = Cli::new().run(&[
        "login",
        &address,
        "-u",
        alice["username"].as_str().expect("handle"),
        "-p",
        &"0".repeat(32),
    ]);
    assert!(!logged_in, "a wrong password is refused: {said}");

    // Bob pushes to his own namespace, and may read it back through the registry's API.
    let cli = Cli::new();
    cli.log_in(&bob);
    cli.ok(&["push", &bobs]);
    let token = token_for(&address, &bob, &scope);
    assert_eq!(registry_get(&address, &tags, Some(&token)).0, 200);
    cli.ok(&["rmi", &bobs]);
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
    let refused = off.get("/api/v1/registry/login").await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.body
    );
    assert_eq!(refused.json()["error"]["code"], "registry_unavailable");
    // An external registry is not layerlab's to hand out logins for.
    let (status, _, body) =
        support::http("GET", &user.url("/api/v1/registry/login"), None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("not run by this workshop"), "{body}");
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

/// The registry takes nothing from layerlab's environment: distribution lets `REGISTRY_*`
/// variables override its configuration, which would move it off loopback or swap its trust
/// root. And it runs on IPv6's loopback as well.
#[tokio::test]
async fn the_registry_ignores_the_environment_and_runs_on_ipv6_loopback_too() {
    // A free port, let go again: the environment will name it.
    let elsewhere = std::net::TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let server = ServerProcess::start_with_env(
        LOCAL_ENGINE,
        std::sync::Arc::new(TestDb::new()),
        &["--registry-addr=[::1]:0"],
        &[
            ("REGISTRY_HTTP_ADDR", &format!("0.0.0.0:{elsewhere}")),
            ("REGISTRY_AUTH", "none"),
        ],
    );
    let registry = public_registry(&server).await;
    assert_eq!(registry["available"], true, "{registry}");
    let address = registry["address"].as_str().expect("address").to_string();
    assert!(address.starts_with("[::1]:"), "{address}");
    let (status, challenge) = registry_get(&address, "/v2/", None);
    assert_eq!(status, 401, "still asks for a token: {challenge}");
    let listening = std::process::Command::new("ss")
        .args(["-ltnH"])
        .output()
        .expect("ss");
    let listening = String::from_utf8_lossy(&listening.stdout);
    assert!(
        !listening.contains(&format!(":{elsewhere} ")),
        "nothing listens on the address the environment named: {listening}"
    );
}

/// The registry's folder is layerlab's alone: made 0700, its secret and configuration 0600,
/// and one that others could read or write, or a link in place of a file, stops the start.
#[tokio::test]
async fn the_registry_folder_is_private_and_a_tampered_one_stops_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::new();
    let config = support::config_with(&db, LOCAL_ENGINE, &[]);
    let router = layerlab_server::build(&config).await.expect("starts");
    drop(router);
    let dir = db.registry_dir();
    let mode = |p: &std::path::Path| {
        std::fs::symlink_metadata(p)
            .expect("there")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&dir), 0o700);
    for file in [
        "learner-secret",
        "config.yml",
        "token-signer.pem",
        "registry.log",
    ] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    let secret = dir.join("learner-secret");

    // Readable by others: refused, not used.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let error = match layerlab_server::build(&config).await {
        Ok(_) => panic!("a readable secret was used"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("chmod go-rwx"), "{error}");

    // A link in its place: refused, not followed.
    std::fs::remove_file(&secret).expect("rm");
    let elsewhere = dir.join("elsewhere");
    std::fs::write(&elsewhere, [0u8; 32]).expect("write");
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::os::unix::fs::symlink(&elsewhere, &secret).expect("link");
    let error = match layerlab_server::build(&config).await {
        Ok(_) => panic!("a linked secret was used"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("not a regular file"), "{error}");

    // The wrong size: refused, not silently replaced (every password would change).
    std::fs::remove_file(&secret).expect("rm");
    std::fs::write(&secret, b"short").expect("write");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let error = match layerlab_server::build(&config).await {
        Ok(_) => panic!("a short secret was used"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("not a 32-byte secret"), "{error}");
    assert_eq!(std::fs::read(&secret).expect("kept"), b"short");
}

/// Asking for a login makes no learner: a visitor with no session is told the login comes
/// with their first answer or build, and nothing is stored.
#[tokio::test]
async fn a_visitor_gets_no_login_and_makes_no_learner() {
    let mut visitor = TestClient::new(LOCAL_ENGINE).await;
    let answer = visitor.get("/api/v1/registry/login").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    assert!(
        answer.body.contains("first answer or build"),
        "{}",
        answer.body
    );
    assert!(!visitor.has_session(), "no session was started");
    visitor.start_learning().await;
    let answer = visitor.get("/api/v1/registry/login").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let login = answer.json();
    assert!(
        login["username"]
            .as_str()
            .is_some_and(|u| u.starts_with("learner-")),
        "{login}"
    );
}

/// The registry cannot say which port it took, so layerlab chooses a free one first; another
/// program may take it before the registry binds it (many servers start at once in a class's
/// tests). A registry that exits at once is started again on another port, a few times, and
/// one that always exits stops the server with what it said.
#[tokio::test]
async fn a_registry_that_loses_its_chosen_port_is_started_again_on_another() {
    use std::os::unix::fs::PermissionsExt;
    let folder = tempfile::tempdir().expect("a folder");
    let script = |name: &str, body: &str| {
        let path = folder.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    };
    // Fails as a registry whose port was taken does, twice; then the real one.
    let tries = folder.path().join("tries");
    let flaky = script(
        "flaky-registry",
        &format!(
            "echo x >> {tries}\n\
             if [ \"$(wc -l < {tries})\" -le 2 ]; then\n\
               echo 'listen tcp: bind: address already in use'; exit 1\n\
             fi\n\
             exec /usr/bin/docker-registry \"$@\"",
            tries = tries.display()
        ),
    );
    let db = TestDb::new();
    let program = format!("--registry-program={}", flaky.display());
    let config = support::config_with(&db, LOCAL_ENGINE, &[program.as_str()]);
    let router = layerlab_server::build(&config)
        .await
        .expect("starts on the third try");
    let started = std::fs::read_to_string(&tries)
        .expect("tries")
        .lines()
        .count();
    assert_eq!(started, 3, "started three times");
    drop(router);

    // Never starts: the server stops, with the registry's last words.
    let broken = script(
        "broken-registry",
        "echo 'listen tcp: bind: address already in use'; exit 1",
    );
    let db = TestDb::new();
    let program = format!("--registry-program={}", broken.display());
    let config = support::config_with(&db, LOCAL_ENGINE, &[program.as_str()]);
    let error = match layerlab_server::build(&config).await {
        Ok(_) => panic!("a registry that always exits started"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("did not answer"), "{error}");
    assert!(error.contains("address already in use"), "{error}");

    // A port the operator gave is tried once: the registry's own words, not a new port.
    let tries_given = folder.path().join("tries-given");
    let counted = script(
        "counted-registry",
        &format!(
            "echo x >> {}; echo 'listen tcp: bind: address already in use'; exit 1",
            tries_given.display()
        ),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port");
    let db = TestDb::new();
    let program = format!("--registry-program={}", counted.display());
    let addr = format!("--registry-addr={port}");
    let config = support::config_with(&db, LOCAL_ENGINE, &[program.as_str(), addr.as_str()]);
    assert!(layerlab_server::build(&config).await.is_err());
    let started = std::fs::read_to_string(&tries_given)
        .expect("tries")
        .lines()
        .count();
    assert_eq!(started, 1, "a given port is not changed");
}
