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
pub(crate) struct Cli {
    config: tempfile::TempDir,
}

impl Cli {
    pub(crate) fn new() -> Self {
        Cli {
            config: tempfile::tempdir().expect("a folder"),
        }
    }

    /// `docker --config … args`: whether it succeeded, and what it printed (both streams).
    pub(crate) fn run(&self, args: &[&str]) -> (bool, String) {
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

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let (ok, said) = self.run(args);
        assert!(ok, "docker {args:?}: {said}");
        said
    }

    /// `docker login` with what layerlab gives the learner.
    pub(crate) fn log_in(&self, login: &serde_json::Value) {
        let (registry, user, password) = (
            login["registry"].as_str().expect("registry"),
            login["username"].as_str().expect("username"),
            login["password"].as_str().expect("password"),
        );
        self.ok(&["login", registry, "-u", user, "-p", password]);
    }
}

/// A docker CLI logged in as `learner` (of an in-process server), and their namespace
/// (`<registry>/<handle>`).
async fn logged_in_cli(learner: &mut TestClient) -> (Cli, String) {
    let login = learner.get("/api/v1/registry/login").await.json();
    let cli = Cli::new();
    cli.log_in(&login);
    let namespace = format!(
        "{}/{}",
        login["registry"].as_str().expect("registry"),
        login["username"].as_str().expect("handle")
    );
    (cli, namespace)
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

/// The verdict of check `id` in a build's or a push's view.
fn check_in(view: &serde_json::Value, id: &str) -> serde_json::Value {
    view["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("check {id} is judged: {view:#}"))
}

/// Follow a push's events to `done`: the lines seen, and the result.
async fn finish_push(client: &mut TestClient, events: &str) -> (Vec<String>, serde_json::Value) {
    let mut stream = client.events(events).await;
    let mut lines = Vec::new();
    while let Some((name, data)) = stream.next().await {
        match name.as_str() {
            "line" => lines.push(data.as_str().expect("a line").to_string()),
            "done" => return (lines, data),
            other => panic!("an unexpected event {other}: {data}"),
        }
    }
    panic!("the push's events ended without `done`: {lines:#?}");
}

/// Tag & push from the workbench: the engine pushes the build's own image into the learner's
/// namespace, the learner follows it line by line, and the result is what the registry holds
/// (read back from it, and pulled back by the docker CLI with the learner's login). A second
/// tag of the same build points at the same digest and sends no layer again.
// Several threads: the docker CLI, run here and waited for, asks this server's token issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_is_pushed_from_the_workbench_and_the_registry_holds_that_very_image() {
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    let dockerfile =
        "FROM busybox\nRUN echo pushed-from-layerlab > /hello\nCMD [\"cat\", \"/hello\"]\n";
    let (build, _) = learner.build(None, &[("Dockerfile", dockerfile)]).await;
    assert_eq!(build["status"], "succeeded", "{build}");
    let build_id = build["id"].as_str().expect("id").to_string();
    let image_id = build["image"]["id"].as_str().expect("image").to_string();
    let login = learner.get("/api/v1/registry/login").await.json();
    let (address, handle) = (
        login["registry"].as_str().expect("registry").to_string(),
        login["username"].as_str().expect("handle").to_string(),
    );

    let push = |tag: &str| serde_json::json!({ "tag": tag });
    let answer = learner
        .post_json(
            &format!("/api/v1/builds/{build_id}/push"),
            &push("my-app:1.0.0"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let accepted = answer.json();
    let push_id = accepted["id"].as_str().expect("id").to_string();
    assert_eq!(
        accepted["events"],
        format!("/api/v1/pushes/{push_id}/events")
    );
    let (lines, done) =
        finish_push(&mut learner, &format!("/api/v1/pushes/{push_id}/events")).await;
    let reference = format!("{address}/{handle}/my-app:1.0.0");
    assert_eq!(done["status"], "pushed", "{done} {lines:#?}");
    assert_eq!(done["reference"], reference.as_str());
    assert_eq!(done["build"], build_id.as_str());
    let digest = done["digest"].as_str().expect("a digest").to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert!(done["size_bytes"].as_u64().expect("size") > 1000, "{done}");
    assert_eq!(
        done["pull"],
        format!("docker pull {address}/{handle}/my-app@{digest}").as_str()
    );
    assert_eq!(
        lines.first().map(String::as_str),
        Some(format!("The push refers to repository [{address}/{handle}/my-app]").as_str()),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.ends_with(": pushed")),
        "each layer sent is told: {lines:#?}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with(&format!("1.0.0: digest: {digest} size: "))),
        "{lines:#?}"
    );
    let shown = learner.get(&format!("/api/v1/pushes/{push_id}")).await;
    assert_eq!(shown.json(), done, "GET gives what `done` carried");
    // The engine keeps no name in the registry's: its images go by layerlab's names.
    let cli = Cli::new();
    let (kept, _) = cli.run(&["image", "inspect", &reference]);
    assert!(!kept, "the pushed name was taken off the engine");

    // The registry holds that very image: the learner pulls it with their own login, and the
    // engine knows it as the build's image, under the pushed digest.
    cli.log_in(&login);
    cli.ok(&["pull", &reference]);
    let pulled = cli.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{json .RepoDigests}}",
        &reference,
    ]);
    assert!(pulled.starts_with(&image_id), "{pulled} is {image_id}");
    assert!(
        pulled.contains(&format!("{address}/{handle}/my-app@{digest}")),
        "{pulled}"
    );
    cli.ok(&["rmi", &reference]);

    // Promoted to a second tag: the same digest, and no layer sent again.
    let answer = learner
        .post_json(
            &format!("/api/v1/builds/{build_id}/push"),
            &push("my-app:1"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let events = answer.json()["events"]
        .as_str()
        .expect("events")
        .to_string();
    let (lines, done) = finish_push(&mut learner, &events).await;
    assert_eq!(done["status"], "pushed", "{done}");
    assert_eq!(done["digest"], digest.as_str(), "one image, one digest");
    assert!(
        !lines.iter().any(|l| l.ends_with(": pushed")),
        "nothing sent again: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(": already in the registry")),
        "{lines:#?}"
    );

    // The learner's registry: both tags, their digest and size, when they were pushed, and
    // how to pull them.
    let view = learner.get("/api/v1/registry").await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.body);
    let view = view.json();
    assert_eq!(view["registry"], address.as_str());
    assert_eq!(view["namespace"], handle.as_str());
    let repositories = view["repositories"].as_array().expect("repositories");
    assert_eq!(repositories.len(), 1, "{view}");
    assert_eq!(repositories[0]["name"], format!("{handle}/my-app").as_str());
    let tags = repositories[0]["tags"].as_array().expect("tags");
    let names: Vec<&str> = tags.iter().filter_map(|t| t["tag"].as_str()).collect();
    assert_eq!(names, ["1", "1.0.0"], "{view}");
    for tag in tags {
        assert_eq!(tag["digest"], digest.as_str(), "{tag}");
        assert!(tag["pushed_at"].as_i64().is_some(), "{tag}");
        assert_eq!(
            tag["pull"],
            format!(
                "docker pull {address}/{handle}/my-app:{}",
                tag["tag"].as_str().unwrap()
            )
            .as_str()
        );
    }
}

/// A push is refused, before the engine is asked, with what to do: a tag that is no tag or
/// names another namespace, a build that made no image, someone else's build, a server
/// without a registry.
#[tokio::test]
async fn pushes_that_cannot_be_made_are_refused_with_what_to_do() {
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    let (build, _) = learner
        .build(None, &[("Dockerfile", "FROM busybox\nCMD [\"true\"]\n")])
        .await;
    let id = build["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/builds/{id}/push");
    for (tag, says) in [
        ("My-App:1", "cannot be an image name"),
        ("app:-1", "cannot be a tag"),
        ("docker.io/library/app:1", "into your namespace"),
        ("learner-someone/app:1", "without a namespace"),
    ] {
        let answer = learner
            .post_json(&path, &serde_json::json!({ "tag": tag }))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{tag}: {}",
            answer.body
        );
        let error = answer.json();
        assert_eq!(error["error"]["code"], "bad_tag", "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(says),
            "{tag}: {error}"
        );
    }
    let answer = learner.post_json(&path, &serde_json::json!({})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);

    // Someone else's build is no build of theirs.
    let mut other = learner.another();
    other.start_learning().await;
    let answer = other
        .post_json(&path, &serde_json::json!({ "tag": "app:1" }))
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);

    // A build that failed made no image.
    let (failed, _) = learner
        .build(None, &[("Dockerfile", "FROM busybox\nRUN false\n")])
        .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let failed = failed["id"].as_str().expect("id");
    let answer = learner
        .post_json(
            &format!("/api/v1/builds/{failed}/push"),
            &serde_json::json!({ "tag": "app:1" }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], "no_image");

    // Without a registry, pushing is unavailable, and said so.
    let mut alone = TestClient::with_args(LOCAL_ENGINE, &["--no-registry"]).await;
    let (build, _) = alone
        .build(None, &[("Dockerfile", "FROM busybox\nCMD [\"true\"]\n")])
        .await;
    let id = build["id"].as_str().expect("id");
    let answer = alone
        .post_json(
            &format!("/api/v1/builds/{id}/push"),
            &serde_json::json!({ "tag": "app:1" }),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.json()["error"]["code"], "registry_unavailable");
    assert!(
        answer.body.contains("without a registry"),
        "{}",
        answer.body
    );
}

/// The `pushed` check of an exercise (here `hello-container` with one added) is judged on
/// what the registry holds: not yet pushed → fails and says how; pushed as the wrong tag →
/// still fails; pushed as asked → the push judges it again and the attempt passes, as the
/// stored attempt and the exercise page say; a later build's image under the same tag is
/// another image, so an earlier build's push does not count for it.
#[tokio::test]
async fn a_pushed_check_is_judged_on_what_the_registry_holds_and_again_after_a_push() {
    let (_dir, exercises) = support::exercises_copy();
    support::edit_exercise_toml(&exercises, "hello-container", |text| {
        format!("{text}\n[[checks]]\nid = \"shared\"\ntype = \"pushed\"\nrepository = \"greeter\"\ntag = \"devel\"\n")
    });
    let flag = format!("--exercises-dir={}", exercises.display());
    let mut learner = TestClient::with_args(LOCAL_ENGINE, &[&flag]).await;
    let files = support::exercise_files("hello-container", true);
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let check_of = |view: &serde_json::Value| check_in(view, "shared");
    let (build, _) = learner.build(Some("hello-container"), &files).await;
    assert_eq!(build["status"], "succeeded", "{build}");
    let check = check_of(&build);
    assert_eq!(check["passed"], false, "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap_or("")
            .contains("holds no `greeter:devel` yet"),
        "{check}"
    );
    let id = build["id"].as_str().expect("id").to_string();

    // The wrong tag: pushed, but the check still fails.
    let done = push_build(&mut learner, &id, "greeter:latest").await;
    assert_eq!(done["status"], "pushed", "{done}");
    assert_eq!(check_of(&done)["passed"], false, "{done}");

    // The asked tag: the push judges the check again; the attempt passes.
    let done = push_build(&mut learner, &id, "greeter:devel").await;
    let check = check_of(&done);
    assert_eq!(check["passed"], true, "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap_or("")
            .contains(done["digest"].as_str().expect("digest")),
        "{check}"
    );
    let stored = learner.get(&format!("/api/v1/builds/{id}")).await.json();
    assert_eq!(check_of(&stored)["passed"], true, "kept: {stored:#}");
    assert!(
        stored["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .all(|c| c["passed"] == true),
        "{stored:#}"
    );
    let page = learner.get("/exercises/hello-container").await;
    assert!(
        page.body.contains("data-status=\"passed\""),
        "the exercise is passed now"
    );

    // A later build (another image: a changed greeting) is not what the registry holds.
    let changed: Vec<(&str, String)> = files
        .iter()
        .map(|(p, c)| {
            if *p == "greet.sh" {
                (*p, format!("{c}\necho and once more\n"))
            } else {
                (*p, c.to_string())
            }
        })
        .collect();
    let changed: Vec<(&str, &str)> = changed.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let (later, _) = learner.build(Some("hello-container"), &changed).await;
    assert_eq!(later["status"], "succeeded", "{later}");
    let check = check_of(&later);
    assert_eq!(check["passed"], false, "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap_or("")
            .contains("is another image"),
        "{check}"
    );
}

/// A learner builds `FROM` their own earlier push, by tag and pinned by digest: the engine
/// pulls it from the class registry with their login, and keeps no registry name afterwards
/// (also when the build is refused after the pull). Another learner naming it is refused
/// before anything is pulled, and so is an image the learner pushed with their own CLI (it
/// could be anything).
// Several threads: the docker CLI, run here and waited for, asks this server's token issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_starts_from_the_learners_own_push_by_tag_or_digest_and_no_one_elses() {
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    let (base, _) = learner
        .build(
            None,
            &[(
                "Dockerfile",
                "FROM busybox\nRUN echo from-my-own-base > /base.txt\n",
            )],
        )
        .await;
    assert_eq!(base["status"], "succeeded", "{base}");
    let base_id = base["id"].as_str().expect("id").to_string();
    let pushed = push_build(&mut learner, &base_id, "base:1").await;
    assert_eq!(pushed["status"], "pushed", "{pushed}");
    let digest = pushed["digest"].as_str().expect("digest").to_string();
    let by_tag = pushed["reference"].as_str().expect("reference").to_string();
    let repository = by_tag.trim_end_matches(":1").to_string();

    for from in [by_tag.clone(), format!("{repository}@{digest}")] {
        let dockerfile = format!("FROM {from}\nCMD [\"cat\", \"/base.txt\"]\n");
        let (built, log) = learner.build(None, &[("Dockerfile", &dockerfile)]).await;
        assert_eq!(
            built["status"], "succeeded",
            "FROM {from}: {built:#}\n{log:#?}"
        );
        assert!(
            built["run"]["output"]
                .as_str()
                .unwrap_or("")
                .contains("from-my-own-base"),
            "{built:#}"
        );
        // The engine holds the pulled image by no registry name afterwards.
        let cli = Cli::new();
        let (kept, said) = cli.run(&["image", "inspect", &from]);
        assert!(!kept, "the pulled name was taken off the engine: {said}");
    }

    // Another learner of the same class: refused, with the reason, before any pull.
    let mut other = learner.another();
    other.start_learning().await;
    let dockerfile = format!("FROM {by_tag}\n");
    let (refused, _) = other.build(None, &[("Dockerfile", &dockerfile)]).await;
    assert_eq!(refused["status"], "failed", "{refused:#}");
    assert_eq!(refused["error"]["code"], "image_not_allowed", "{refused:#}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("another namespace"),
        "{refused:#}"
    );
    // Refused after the pull (a VOLUME): the pulled name goes all the same.
    let dockerfile = format!("FROM {by_tag}\nVOLUME /data\n");
    let (refused, _) = learner.build(None, &[("Dockerfile", &dockerfile)]).await;
    assert_eq!(refused["error"]["code"], "volume_refused", "{refused:#}");
    let (kept, said) = Cli::new().run(&["image", "inspect", &by_tag]);
    assert!(
        !kept,
        "the pulled name was taken off after the refusal: {said}"
    );

    // Pushed from the learner's own CLI, not built here: not pulled.
    let (cli, namespace) = logged_in_cli(&mut learner).await;
    let foreign = format!("{namespace}/from-cli:1");
    cli.ok(&["tag", "busybox:latest", &foreign]);
    cli.ok(&["push", &foreign]);
    cli.ok(&["rmi", &foreign]);
    let dockerfile = format!("FROM {foreign}\n");
    let (refused, _) = learner.build(None, &[("Dockerfile", &dockerfile)]).await;
    assert_eq!(refused["error"]["code"], "image_not_allowed", "{refused:#}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not an image you built here"),
        "{refused:#}"
    );
    let (kept, _) = Cli::new().run(&["image", "inspect", &foreign]);
    assert!(!kept, "nothing was pulled");

    // A tag never pushed: said so.
    let dockerfile = format!("FROM {repository}:never-pushed\n");
    let (missing, _) = learner.build(None, &[("Dockerfile", &dockerfile)]).await;
    assert_eq!(missing["status"], "failed", "{missing:#}");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("does not hold"),
        "{missing:#}"
    );
}

/// The bytes of the files under `dir`.
fn folder_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() {
            folder_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

/// Push `typed` from `build`, following it to the end: the result.
async fn push_build(client: &mut TestClient, build: &str, typed: &str) -> serde_json::Value {
    push_followed(client, build, typed).await.1
}

/// Push `typed` from `build`, following it to the end: its lines and the result.
async fn push_followed(
    client: &mut TestClient,
    build: &str,
    typed: &str,
) -> (Vec<String>, serde_json::Value) {
    // (A push is refused as crowded for the moment the registry's garbage is collected,
    // after a deletion: that moment is waited out.)
    let mut tries = 0;
    let answer = loop {
        let answer = client
            .post_json(
                &format!("/api/v1/builds/{build}/push"),
                &serde_json::json!({ "tag": typed }),
            )
            .await;
        let crowded = answer.status == StatusCode::SERVICE_UNAVAILABLE
            && answer.body.contains("pushes_crowded");
        if !crowded || tries >= 40 {
            break answer;
        }
        tries += 1;
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    };
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let events = answer.json()["events"]
        .as_str()
        .expect("events")
        .to_string();
    finish_push(client, &events).await
}

/// A learner deletes a tag (by the API, and by the registry page's form); the registry's
/// garbage collection then frees the space its layers took, and pushing works as before.
/// A tag that is not there is said to be missing.
#[tokio::test]
async fn a_deleted_tag_is_gone_and_the_garbage_collection_frees_its_space() {
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    // 3 MB no compression can shrink: its layer is what the collection must free.
    let dockerfile = "FROM busybox\nRUN head -c 3000000 /dev/urandom > /blob\n";
    let (build, _) = learner.build(None, &[("Dockerfile", dockerfile)]).await;
    assert_eq!(build["status"], "succeeded", "{build}");
    let id = build["id"].as_str().expect("id").to_string();
    let data = learner.registry_dir().join("data");
    let empty = folder_bytes(&data);
    let pushed = push_build(&mut learner, &id, "big:1").await;
    assert_eq!(pushed["status"], "pushed", "{pushed}");
    let full = folder_bytes(&data);
    assert!(
        full > empty + 2_900_000,
        "the push stored the layer: {empty} → {full}"
    );

    let answer = learner
        .send_text(
            "DELETE",
            "/api/v1/registry/tag?name=big:1",
            "application/json",
            "",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.contains("Deleted"), "{}", answer.body);
    let view = learner.get("/api/v1/registry").await.json();
    let tags: usize = view["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| r["tags"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(tags, 0, "{view}");
    // The collection runs once no push is in flight, and frees the layer.
    let deadline = Instant::now() + Duration::from_secs(30);
    while folder_bytes(&data) > empty + 1_000_000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = folder_bytes(&data);
    assert!(
        after < empty + 1_000_000,
        "freed: {empty} → {full} → {after}"
    );

    // Not there any more: said so, nothing else happens.
    let answer = learner
        .send_text(
            "DELETE",
            "/api/v1/registry/tag?name=big:1",
            "application/json",
            "",
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert!(answer.body.contains("holds no"), "{}", answer.body);
    // Another namespace cannot even be named.
    let answer = learner
        .send_text(
            "DELETE",
            "/api/v1/registry/tag?name=learner-000000000000/big:1",
            "application/json",
            "",
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);

    // Pushing works as before (every layer sent again), and the page's Delete form too.
    let pushed = push_build(&mut learner, &id, "big:2").await;
    assert_eq!(pushed["status"], "pushed", "{pushed}");
    let page = learner.get("/registry").await;
    assert!(
        page.body.contains("Delete the tag big:2"),
        "a Delete button"
    );
    let csrf = learner.csrf("/registry").await;
    let sent = learner
        .post_form("/registry/delete", &format!("csrf={csrf}&name=big%3A2"))
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let page = learner.get("/registry").await;
    assert!(
        page.body.contains("Deleted "),
        "the page says what happened"
    );
    assert!(!page.body.contains("data-tag=\"2\""), "the tag is gone");
}

/// Each learner's namespace holds at most `--registry-quota-mb`: past it their next push is
/// refused with what to do, from the workbench and by the registry itself for their own
/// docker CLI; deleting a tag frees the space, and pushing works again.
// Several threads: the docker CLI, run here and waited for, asks this server's token issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_namespace_refuses_pushes_until_a_tag_is_deleted() {
    let mut learner = TestClient::with_args(LOCAL_ENGINE, &["--registry-quota-mb=1"]).await;
    let dockerfile = "FROM busybox\nRUN head -c 3000000 /dev/urandom > /blob\n";
    let (build, _) = learner.build(None, &[("Dockerfile", dockerfile)]).await;
    assert_eq!(build["status"], "succeeded", "{build}");
    let id = build["id"].as_str().expect("id").to_string();
    // Under the quota when it starts: this push goes through, and fills it.
    let pushed = push_build(&mut learner, &id, "big:1").await;
    assert_eq!(pushed["status"], "pushed", "{pushed}");
    let view = learner.get("/api/v1/registry").await.json();
    assert!(
        view["used_bytes"].as_u64().expect("used") > 3_000_000,
        "{view}"
    );
    assert_eq!(view["quota_bytes"], 1024 * 1024, "{view}");
    let page = learner.get("/registry").await;
    assert!(
        page.body.contains("of the 1.00 MiB each learner may keep"),
        "the page says it"
    );

    // The workbench says why, and what to do.
    let answer = learner
        .post_json(
            &format!("/api/v1/builds/{id}/push"),
            &serde_json::json!({ "tag": "big:2" }),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::INSUFFICIENT_STORAGE,
        "{}",
        answer.body
    );
    let error = answer.json();
    assert_eq!(error["error"]["code"], "quota_exceeded", "{error}");
    let message = error["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("at most 1.00 MiB") && message.contains("delete tags"),
        "{message}"
    );
    // The registry itself refuses the learner's own CLI: their token carries no push.
    let (cli, namespace) = logged_in_cli(&mut learner).await;
    let reference = format!("{namespace}/other:1");
    cli.ok(&["tag", "busybox:latest", &reference]);
    let (pushed_by_cli, said) = cli.run(&["push", &reference]);
    assert!(
        !pushed_by_cli,
        "over the quota, the registry refuses: {said}"
    );
    assert!(
        said.contains("denied") || said.contains("unauthorized"),
        "refused for want of a push grant: {said}"
    );
    cli.ok(&["rmi", &reference]);

    // A tag deleted: the space is freed, and pushing works again.
    let answer = learner
        .send_text(
            "DELETE",
            "/api/v1/registry/tag?name=big:1",
            "application/json",
            "",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = learner.get("/api/v1/registry").await.json();
        if view["used_bytes"].as_u64().unwrap_or(u64::MAX) < 1024 * 1024 {
            break;
        }
        assert!(Instant::now() < deadline, "the space was not freed: {view}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pushed = push_build(&mut learner, &id, "big:2").await;
    assert_eq!(pushed["status"], "pushed", "{pushed}");
}

/// The pid of the registry program running on `config` (its command line names it).
fn registry_pid(registry_dir: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("pgrep")
        .arg("-f")
        .arg(format!(
            "serve {}",
            registry_dir.join("config.yml").display()
        ))
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(str::to_string)
}

/// The registry killed in the middle of a push: the learner is told the push did not
/// complete, nothing is kept as pushed, the registry is started again on the same address,
/// and the next push works.
#[tokio::test]
async fn a_registry_killed_mid_push_is_told_keeps_nothing_and_comes_back() {
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    let dockerfile = "FROM busybox\nRUN head -c 2000000 /dev/urandom > /blob\n";
    let (build, _) = learner.build(None, &[("Dockerfile", dockerfile)]).await;
    assert_eq!(build["status"], "succeeded", "{build}");
    let id = build["id"].as_str().expect("id").to_string();
    let dir = learner.registry_dir();
    let first = registry_pid(&dir).expect("the registry runs");

    // Frozen first, so that the push is surely under way (waiting on it) when it dies.
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .args([name, &first])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {name}");
    };
    signal("-STOP");
    let answer = learner
        .post_json(
            &format!("/api/v1/builds/{id}/push"),
            &serde_json::json!({ "tag": "big:1" }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let accepted = answer.json();
    let push = accepted["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let going = learner.get(&format!("/api/v1/pushes/{push}")).await.json();
    assert_eq!(going["status"], "pushing", "{going:#}");
    signal("-KILL");
    let events = accepted["events"].as_str().expect("events").to_string();
    let mut stream = learner.events(&events).await;
    let mut done = None;
    while let Some((name, data)) = stream.next().await {
        if name == "done" {
            done = Some(data);
            break;
        }
    }
    let done = done.expect("the push ends with `done`");
    assert_eq!(done["status"], "failed", "{done:#}");
    let error = done["error"].as_str().unwrap_or("");
    assert!(error.contains("did not complete"), "{error}");
    assert!(error.contains("Nothing was kept"), "{error}");

    // Started again, on the same address, by another process.
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = loop {
        if let Some(pid) = registry_pid(&dir).filter(|p| *p != first) {
            if learner.get("/api/v1/registry").await.status == StatusCode::OK {
                break pid;
            }
        }
        assert!(Instant::now() < deadline, "the registry did not come back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_ne!(second, first);
    // Nothing half-recorded: no tag, no push time.
    let view = learner.get("/api/v1/registry").await.json();
    let tags: usize = view["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| r["tags"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(tags, 0, "{view}");
    // The next push works.
    let pushed = push_build(&mut learner, &id, "big:1").await;
    assert_eq!(pushed["status"], "pushed", "{pushed:#}");
    let view = learner.get("/api/v1/registry").await.json();
    assert!(
        view["repositories"][0]["tags"][0]["pushed_at"]
            .as_i64()
            .is_some(),
        "{view}"
    );
}

/// `runs-when-pulled-back` (the share-your-image exercise): after the push, layerlab pulls
/// the image back from the registry by its digest with the learner's login and runs it; the
/// exercise's checks on the running container, judged on that run, decide. The learner
/// follows it in the push's lines. A build whose program says the wrong thing fails it
/// naming the run check. Nothing of the pull or the run is left on the engine.
// Several threads: the docker CLI, run here and waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_image_pulled_back_from_the_registry_runs_and_passes_the_run_checks() {
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    let files = support::exercise_files("share-your-image", true);
    let check_of = |view: &serde_json::Value| check_in(view, "pulled-back");
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let (build, _) = learner.build(Some("share-your-image"), &borrowed).await;
    assert_eq!(build["status"], "succeeded", "{build}");
    let check = check_of(&build);
    assert_eq!(check["passed"], false, "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap_or("")
            .contains("holds no `my-app:devel`"),
        "{check}"
    );
    let id = build["id"].as_str().expect("id").to_string();

    let (lines, done) = push_followed(&mut learner, &id, "my-app:devel").await;
    assert_eq!(done["status"], "pushed", "{done:#}");
    let digest = done["digest"].as_str().expect("digest").to_string();
    let login = learner.get("/api/v1/registry/login").await.json();
    let reference = format!(
        "{}/{}/my-app@{digest}",
        login["registry"].as_str().expect("registry"),
        login["username"].as_str().expect("handle")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("Pulling `{reference}` back"))),
        "the learner sees the pull: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("my-app devel build: ready")),
        "and what the pulled image printed: {lines:#?}"
    );
    let check = check_of(&done);
    assert_eq!(check["passed"], true, "{check}");
    let message = check["message"].as_str().unwrap_or("");
    assert!(
        message.contains(&reference) && message.contains("runs"),
        "{check}"
    );
    let stored = learner.get(&format!("/api/v1/builds/{id}")).await.json();
    assert_eq!(check_of(&stored)["passed"], true, "kept: {stored:#}");
    // The pulled name and the run's container are gone.
    let cli = Cli::new();
    let (still_there, said) = cli.run(&["image", "inspect", &reference]);
    assert!(!still_there, "no name of the pulled image is left: {said}");
    let containers = cli.ok(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=org.layerlab.build={id}"),
    ]);
    assert!(
        containers.trim().is_empty(),
        "no container left: {containers}"
    );

    // Pushed again, under that name or another, the same image is not pulled and run again:
    // the verdict stands on the first run.
    for again in ["my-app:devel", "my-app:other"] {
        let (lines, done) = push_followed(&mut learner, &id, again).await;
        assert_eq!(check_of(&done)["passed"], true, "{again}: {done:#}");
        assert!(
            !lines.iter().any(|l| l.contains("Pulling `")),
            "{again}: nothing pulled again: {lines:#?}"
        );
    }

    // A build that says something else: pushed as asked, pulled back, and its run fails.
    let wrong: Vec<(&str, &str)> = borrowed
        .iter()
        .map(|(p, c)| {
            if *p == "app.sh" {
                (*p, "echo \"my-app: not ready\"\n")
            } else {
                (*p, *c)
            }
        })
        .collect();
    let (build, _) = learner.build(Some("share-your-image"), &wrong).await;
    assert_eq!(build["status"], "succeeded", "{build}");
    let id = build["id"].as_str().expect("id").to_string();
    let done = push_build(&mut learner, &id, "my-app:devel").await;
    assert_eq!(done["status"], "pushed", "{done:#}");
    let check = check_of(&done);
    assert_eq!(check["passed"], false, "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap_or("")
            .contains("it ran but failed runs"),
        "{check}"
    );
}

/// A newer build of the same exercise does not remove the image a push of an earlier build
/// is still sending (which would cut the push short): it takes off only layerlab's names,
/// and the image goes when the push ends. A registry name that nothing of layerlab's holds —
/// one a CLI put on — keeps no image from being removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_build_leaves_an_image_being_pushed_to_its_push() {
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    // A layer big enough that its push outlasts a cached build.
    let first = "FROM busybox\nRUN head -c 300000000 /dev/urandom > /noise\nCMD [\"true\"]\n";
    let (older, _) = learner.build(None, &[("Dockerfile", first)]).await;
    assert_eq!(older["status"], "succeeded", "{older}");
    let older_id = older["image"]["id"].as_str().expect("image id").to_string();
    let build = older["id"].as_str().expect("id").to_string();
    let answer = learner
        .post_json(
            &format!("/api/v1/builds/{build}/push"),
            &serde_json::json!({ "tag": "big:1" }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let push = answer.json()["id"].as_str().expect("push").to_string();
    let cli = Cli::new();

    let second = "FROM busybox\nCMD [\"true\"]\n";
    let (newer, _) = learner.build(None, &[("Dockerfile", second)]).await;
    assert_eq!(newer["status"], "succeeded", "{newer}");
    let view = learner.get(&format!("/api/v1/pushes/{push}")).await.json();
    assert_eq!(
        view["status"], "pushing",
        "the newer build ended while the push was under way (else this proves nothing): {view:#}"
    );
    let done = loop {
        let view = learner.get(&format!("/api/v1/pushes/{push}")).await.json();
        if view["status"] != "pushing" {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        done["status"], "pushed",
        "the push was not cut short: {done:#}"
    );
    // With the push's name off, the older image goes (at the next clean-up: the next build).
    let third = "FROM busybox\nCMD [\"echo\", \"third\"]\n";
    let (latest, _) = learner.build(None, &[("Dockerfile", third)]).await;
    assert_eq!(latest["status"], "succeeded", "{latest}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while cli.run(&["image", "inspect", &older_id]).0 {
        assert!(
            Instant::now() < deadline,
            "the pushed image is removed once its push ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A registry name put on by a CLI holds nothing: the image goes all the same.
    let latest_id = latest["image"]["id"]
        .as_str()
        .expect("image id")
        .to_string();
    cli.ok(&[
        "tag",
        &latest_id,
        "127.0.0.1:5999/learner-000000000000/app:1",
    ]);
    let fourth = "FROM busybox\nCMD [\"echo\", \"fourth\"]\n";
    let (_, _) = learner.build(None, &[("Dockerfile", fourth)]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while cli.run(&["image", "inspect", &latest_id]).0 {
        assert!(
            Instant::now() < deadline,
            "an image a CLI's name alone keeps is removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A server killed mid-push leaves the build's image named in the registry's name (the push
/// takes it off only when it ends). That name would keep the image from every clean-up, so
/// the next start takes it off, and only it: layerlab's own name stays.
#[tokio::test]
async fn a_name_a_killed_push_left_is_taken_off_at_the_next_start() {
    let server = ServerProcess::start(LOCAL_ENGINE);
    let cookie = support::start_learner(&server.base_url).await;
    let built = support::build_on(
        &server.base_url,
        &cookie,
        "FROM busybox\nRUN echo left-behind > /said\nCMD [\"cat\", \"/said\"]\n",
    )
    .await;
    assert_eq!(built["status"], "succeeded", "{built}");
    let image = built["image"]["id"].as_str().expect("image id").to_string();
    let left = "127.0.0.1:5999/learner-000000000000/app:1";
    let cli = Cli::new();
    cli.ok(&["tag", &image, left]);
    let server = server.restart(LOCAL_ENGINE);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tags = cli.ok(&["image", "inspect", "--format", "{{json .RepoTags}}", &image]);
        if !tags.contains(left) {
            assert!(tags.contains("layerlab/playground:"), "{tags}");
            break;
        }
        assert!(Instant::now() < deadline, "the name is still there: {tags}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(server);
}

/// What the pulled-back check asks the registry: every blob a pushed manifest names is held
/// there (the engine, which has the layers already, would not notice one missing). A layer
/// the registry lost is named.
// Several threads: the docker CLI, run here and waited for, asks this registry's issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_the_registry_lost_is_named_as_missing() {
    use layerlab_server::registry::{no_readers, Registry, RegistrySettings};
    let db = TestDb::new();
    let settings = RegistrySettings::Embedded {
        program: "docker-registry".into(),
        dir: db.registry_dir(),
        addr: "127.0.0.1:0".parse().expect("address"),
        quota_bytes: 0,
    };
    let registry = Registry::start(&settings, no_readers())
        .await
        .expect("the registry starts");
    let handle = "learner-0123456789ab";
    let login = registry.credentials(handle).expect("a login");
    let cli = Cli::new();
    cli.log_in(&serde_json::json!({
        "registry": login.registry, "username": login.username, "password": login.password,
    }));
    let reference = format!("{}/{handle}/app:1", login.registry);
    cli.ok(&["tag", "busybox:latest", &reference]);
    let pushed = cli.ok(&["push", &reference]);
    cli.ok(&["rmi", &reference]);
    let digest = pushed
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("the push names its digest: {pushed}"))
        .to_string();
    let repository = format!("{handle}/app");
    let missing = registry
        .missing_blobs(&repository, &digest)
        .await
        .expect("the registry answers");
    assert!(missing.is_empty(), "{missing:?}");

    // The layer (the largest blob) lost from the registry's storage.
    let blobs = db
        .registry_dir()
        .join("data/docker/registry/v2/blobs/sha256");
    let mut files: Vec<(u64, std::path::PathBuf)> = Vec::new();
    for prefix in std::fs::read_dir(&blobs).expect("blobs").flatten() {
        for blob in std::fs::read_dir(prefix.path())
            .expect("a prefix")
            .flatten()
        {
            let data = blob.path().join("data");
            if let Ok(meta) = std::fs::metadata(&data) {
                files.push((meta.len(), data));
            }
        }
    }
    let (_, layer) = files.into_iter().max().expect("blobs were stored");
    std::fs::remove_file(&layer).expect("lose the layer");
    let lost = layer
        .parent()
        .and_then(|p| p.file_name())
        .expect("its digest")
        .to_string_lossy()
        .into_owned();
    let missing = registry
        .missing_blobs(&repository, &digest)
        .await
        .expect("the registry answers");
    assert_eq!(missing, vec![format!("sha256:{lost}")]);
}
