//! A learner's run container is alone on its network: written as a learner's attacks on the
//! real engine and a real server process. A TCP listener on the host (0.0.0.0) stands for a
//! classroom server, sshd or a database and records every connection; the learner's web
//! exercise and playground runs try it through every address the host has, the engine's
//! bridge gateways and the cloud metadata address, and try a second learner's running web
//! container by address and name. Nothing connects, the host saw nothing, the build still
//! grades, the probe still reaches the learner's own server, and the engine is left clean.

use crate::support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{exercise_files, http, poll_build, ServerProcess, TestDb, LOCAL_ENGINE};

struct Learner {
    base: String,
    cookie: String,
}

impl Learner {
    async fn new(server: &ServerProcess) -> Self {
        Learner {
            base: server.base_url.clone(),
            cookie: support::start_learner(&server.base_url).await,
        }
    }

    async fn submit(&self, exercise: Option<&str>, files: &[(&str, &str)]) -> String {
        let files: serde_json::Map<String, Value> = files
            .iter()
            .map(|(p, c)| (p.to_string(), json!(c)))
            .collect();
        let (status, _, body) = http(
            "POST",
            &format!("{}/api/v1/builds", self.base),
            Some(&self.cookie),
            Some(&json!({"exercise": exercise, "files": files})),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        serde_json::from_str::<Value>(&body).expect("json")["id"]
            .as_str()
            .expect("id")
            .to_string()
    }

    async fn finish(&self, id: &str) -> Value {
        poll_build(&self.base, &self.cookie, id, &["succeeded", "failed"]).await
    }

    async fn build(&self, exercise: Option<&str>, files: &[(&str, &str)]) -> Value {
        let id = self.submit(exercise, files).await;
        self.finish(&id).await
    }
}

/// A service on the host listening on every address, noting who connects.
struct HostService {
    port: u16,
    accepted: Arc<Mutex<Vec<String>>>,
}

impl HostService {
    fn start() -> Self {
        let listener = TcpListener::bind("0.0.0.0:0").expect("bind 0.0.0.0");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let log = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let peer = stream
                    .peer_addr()
                    .map_or("?".to_string(), |a| a.to_string());
                log.lock().expect("log").push(peer);
                use std::io::Write;
                let mut stream = stream;
                let _ = stream
                    .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 18\r\n\r\nhost-secret-42xyz\n");
            }
        });
        HostService { port, accepted }
    }

    fn accepted(&self) -> Vec<String> {
        self.accepted.lock().expect("log").clone()
    }

    fn forget(&self) {
        self.accepted.lock().expect("log").clear();
    }
}

/// Every IPv4 address of the host's interfaces (`ip -4 -o addr`), loopback included.
fn host_ipv4_addresses() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .expect("ip runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let addresses: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == "inet")?;
            Some(words.next()?.split('/').next()?.to_string())
        })
        .collect();
    assert!(
        addresses.iter().any(|a| a != "127.0.0.1"),
        "the host has an address besides loopback: {text}"
    );
    addresses
}

fn docker_out(args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes the test's own network, also when an assertion fails.
struct RemoveNetwork(String);

impl Drop for RemoveNetwork {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}

fn network_names() -> BTreeSet<String> {
    docker_out(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Containers carrying one of these builds' label (run, check and probe-helper containers).
fn containers_of(builds: &[&str]) -> Vec<String> {
    builds
        .iter()
        .flat_map(|b| {
            docker_out(&[
                "ps",
                "-aq",
                "--filter",
                &format!("label=org.layerlab.build={b}"),
            ])
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
        })
        .collect()
}

/// A shell script that tries every `host:port` and prints `REACHED` or `blocked` for each
/// (busybox `nc HOST PORT -e true` exits 0 only once connected), then the same with `wget`.
fn attack_script(targets: &[(String, u16)], then: &str) -> String {
    let mut script = String::from("#!/bin/sh\n");
    for (host, port) in targets {
        script.push_str(&format!(
            "if nc -w 2 {host} {port} -e true </dev/null 2>/tmp/err; then echo \"REACHED nc {host}:{port}\"; else echo \"blocked nc {host}:{port}: $(cat /tmp/err)\"; fi\n"
        ));
        script.push_str(&format!(
            "if timeout 3 wget -q -O - http://{host}:{port}/ >/tmp/body 2>/tmp/err; then echo \"REACHED wget {host}:{port} $(cat /tmp/body)\"; else echo \"blocked wget {host}:{port}: $(cat /tmp/err)\"; fi\n"
        ));
    }
    script.push_str("echo attack-finished\n");
    script.push_str(then);
    script.push('\n');
    script
}

/// Every target was tried and none was reached.
fn assert_all_blocked(output: &str, targets: &[(String, u16)], what: &str) {
    assert!(
        output.contains("attack-finished"),
        "{what}: the attack ran to its end:\n{output}"
    );
    assert!(
        !output.contains("REACHED"),
        "{what}: the run reached something:\n{output}"
    );
    for (host, port) in targets {
        for tool in ["nc", "wget"] {
            assert!(
                output.contains(&format!("blocked {tool} {host}:{port}")),
                "{what}: {tool} {host}:{port} was tried:\n{output}"
            );
        }
    }
}

const FIRST_IMAGE_PAGE: &str = "<h1>Welcome to layerlab</h1>\n";

/// The first-image exercise's solution, with the attack run before the server starts.
fn web_attack_files(script: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "Dockerfile",
            "FROM busybox:latest\nCOPY index.html /srv/www/index.html\nCOPY attack.sh /attack.sh\nCMD [\"sh\", \"/attack.sh\"]\n"
                .to_string(),
        ),
        ("index.html", FIRST_IMAGE_PAGE.to_string()),
        ("attack.sh", script.to_string()),
    ]
}

fn borrowed<'a>(files: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    files.iter().map(|(p, c)| (*p, c.as_str())).collect()
}

/// Wait until the run container of `build` is up; its inspection.
async fn running_container(build: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let id = docker_out(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=org.layerlab.build={build}"),
            "--filter",
            "status=running",
        ]);
        if let Some(id) = id.lines().next() {
            let text = docker_out(&["inspect", id]);
            let all: Value = serde_json::from_str(&text).expect("inspect json");
            return all[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the run container of {build} never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_learners_run_reaches_neither_the_host_nor_another_learners_container() {
    let networks_before = network_names();
    // An internal bridge like the one older versions ran web exercises on: its gateway is
    // the host.
    let old_style = format!("layerlab-nettest-{}", std::process::id());
    docker_out(&["network", "create", "--internal", &old_style]);
    let _network = RemoveNetwork(old_style.clone());
    let old_gateway = docker_out(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        &old_style,
    ]);
    assert!(!old_gateway.is_empty(), "the test network has a gateway");

    let host = HostService::start();
    let mut host_targets: Vec<String> = host_ipv4_addresses();
    for extra in [
        "172.17.0.1",
        old_gateway.as_str(),
        "169.254.169.254",
        "host.docker.internal",
    ] {
        if !host_targets.iter().any(|t| t == extra) {
            host_targets.push(extra.to_string());
        }
    }

    // Control: a container that has the default bridge reaches the host service, so the
    // listener and the attack's detection work.
    let control = docker_out(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "busybox:latest",
        "sh",
        "-c",
        &format!("nc -w 2 172.17.0.1 {} -e true && echo REACHED", host.port),
    ]);
    assert_eq!(control, "REACHED", "a bridged container reaches the host");
    assert!(!host.accepted().is_empty(), "the host service noted it");
    host.forget();

    let server = ServerProcess::start_with(
        LOCAL_ENGINE,
        Arc::new(TestDb::new()),
        &["--build-concurrency=3"],
    );
    let victim = Learner::new(&server).await;
    let attacker = Learner::new(&server).await;

    // Learner B's web exercise: a secret on 9090 for 15 s, then the page the probe wants.
    let victim_dockerfile = "FROM python:3.11-slim\nRUN mkdir /srv/b && echo secret-of-learner-b > /srv/b/index.html\nWORKDIR /srv/b\nCMD [\"sh\", \"-c\", \"python3 -m http.server 9090 & sleep 15; exec python3 -m http.server 8000\"]\n";
    let victim_build = victim
        .submit(
            Some("production-python"),
            &[("Dockerfile", victim_dockerfile)],
        )
        .await;
    let victim_container = running_container(&victim_build, Duration::from_secs(120)).await;
    let mut victim_targets: Vec<String> = vec![
        victim_container["Name"]
            .as_str()
            .expect("name")
            .trim_start_matches('/')
            .to_string(),
        victim_container["Config"]["Hostname"]
            .as_str()
            .expect("hostname")
            .to_string(),
    ];
    if let Some(networks) = victim_container["NetworkSettings"]["Networks"].as_object() {
        for (_, network) in networks {
            if let Some(ip) = network["IPAddress"].as_str().filter(|ip| !ip.is_empty()) {
                victim_targets.push(ip.to_string());
            }
        }
    }
    // Where a bridged neighbour would be.
    victim_targets.extend(["172.17.0.2", "172.17.0.3"].map(String::from));

    let mut targets: Vec<(String, u16)> = host_targets
        .iter()
        .map(|h| (h.clone(), host.port))
        .collect();
    // 127.0.0.1 inside is the container's own loopback, never the host's.
    if !targets.iter().any(|(h, _)| h == "127.0.0.1") {
        targets.push(("127.0.0.1".into(), host.port));
    }
    for t in &victim_targets {
        targets.push((t.clone(), 9090));
        targets.push((t.clone(), 8000));
    }

    // A web exercise: the attack, then the page; the probe must still reach it.
    let web_started = Instant::now();
    let script = attack_script(&targets, "exec httpd -f -p 8080 -h /srv/www");
    let files = web_attack_files(&script);
    let web = attacker.build(Some("first-image"), &borrowed(&files)).await;
    let web_took = web_started.elapsed();
    assert_eq!(web["status"], "succeeded", "{web:#}");
    let output = web["run"]["output"].as_str().unwrap_or_default();
    eprintln!("web exercise run, {web_took:?}:\n{output}");
    assert_all_blocked(output, &targets, "web exercise run");
    assert!(
        !output.contains("host-secret-42xyz") && !output.contains("secret-of-learner-b"),
        "{output}"
    );
    let probe = &web["run"]["probe"];
    assert_eq!(
        probe["status"], 200,
        "the probe reached its own server: {probe:#}"
    );
    let checks = web["checks"].as_array().expect("checks");
    assert!(
        checks.iter().all(|c| c["passed"] == true),
        "the attack's build still grades: {checks:#?}"
    );
    // Learner B's container was up the whole time.
    let still = docker_out(&[
        "inspect",
        "-f",
        "{{.State.Running}}",
        victim_container["Id"].as_str().expect("id"),
    ]);
    assert_eq!(
        still, "true",
        "the victim's server ran throughout (the attack took {web_took:?})"
    );

    // The same from the playground (a run with no probe).
    let script = attack_script(&targets, "true");
    let playground = attacker
        .build(
            None,
            &[
                (
                    "Dockerfile",
                    "FROM busybox:latest\nCOPY attack.sh /attack.sh\nCMD [\"sh\", \"/attack.sh\"]\n",
                ),
                ("attack.sh", &script),
            ],
        )
        .await;
    assert_eq!(playground["status"], "succeeded", "{playground:#}");
    let output = playground["run"]["output"].as_str().unwrap_or_default();
    assert_all_blocked(output, &targets, "playground run");

    // The victim's own probe reached its server in its own namespace.
    let victim_view = victim.finish(&victim_build).await;
    assert_eq!(victim_view["status"], "succeeded", "{victim_view:#}");
    assert_eq!(
        victim_view["run"]["probe"]["status"], 200,
        "{:#}",
        victim_view["run"]
    );
    assert!(victim_view["run"]["probe"]["body"]
        .as_str()
        .unwrap_or_default()
        .contains("secret-of-learner-b"));

    assert_eq!(
        host.accepted(),
        Vec::<String>::new(),
        "the host service saw no connection"
    );

    // Clean: no container of these builds, no network the server made.
    let builds = [
        victim_build.clone(),
        web["id"].as_str().expect("id").to_string(),
        playground["id"].as_str().expect("id").to_string(),
    ];
    assert_no_containers_of(&builds).await;
    drop(_network);
    let mut made: BTreeSet<String> = network_names()
        .difference(&networks_before)
        .cloned()
        .collect();
    // Older versions' shared network may come and go with other servers on this engine.
    made.remove("layerlab-probe");
    assert_eq!(made, BTreeSet::new(), "no network left behind");
    for view in [&web, &playground, &victim_view] {
        support::remove_image(&view["image"]);
    }
}

async fn build_exercise(learner: &Learner, id: &str, solution: bool) -> Value {
    let files = exercise_files(id, solution);
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    learner.build(Some(id), &borrowed).await
}

fn all_checks_pass(view: &Value) -> bool {
    view["checks"]
        .as_array()
        .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["passed"] == true))
}

/// Both web exercises grade through this server's probe: the solution passes (the probe got
/// the page), the starter fails. Returns the builds' ids.
async fn web_exercises_grade(learner: &Learner, what: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for (id, page) in [
        ("first-image", "Welcome to layerlab"),
        ("production-python", "served by gunicorn"),
    ] {
        let solution = build_exercise(learner, id, true).await;
        let probe = &solution["run"]["probe"];
        assert_eq!(probe["status"], 200, "{what}, {id}: {:#}", solution["run"]);
        assert!(
            probe["body"].as_str().unwrap_or_default().contains(page),
            "{what}, {id}: {probe:#}"
        );
        assert!(all_checks_pass(&solution), "{what}, {id}: {solution:#}");
        let starter = build_exercise(learner, id, false).await;
        assert!(
            !all_checks_pass(&starter),
            "{what}, {id} starter: {starter:#}"
        );
        for view in [&solution, &starter] {
            ids.push(view["id"].as_str().expect("id").to_string());
            support::remove_image(&view["image"]);
        }
    }
    ids
}

async fn assert_no_containers_of(builds: &[String]) {
    let builds: Vec<&str> = builds.iter().map(String::as_str).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !containers_of(&builds).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        containers_of(&builds),
        Vec::<String>::new(),
        "no run, check or probe-helper container left"
    );
}

#[tokio::test]
async fn the_probe_reaches_the_web_exercises_from_inside_and_through_a_helper() {
    // As root on the engine's host: from inside the namespace.
    let server = ServerProcess::start(LOCAL_ENGINE);
    let learner = Learner::new(&server).await;
    let ids = web_exercises_grade(&learner, "namespace").await;
    assert_no_containers_of(&ids).await;
    drop(server);

    // Through a helper container, as for an engine on another host.
    let server = ServerProcess::start_with(
        LOCAL_ENGINE,
        Arc::new(TestDb::new()),
        &["--probe-via=helper"],
    );
    let learner = Learner::new(&server).await;
    let files = exercise_files("first-image", true);
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let view = learner.build(Some("first-image"), &borrowed).await;
    assert_eq!(view["run"]["probe"]["status"], 200, "{:#}", view["run"]);
    assert!(all_checks_pass(&view), "{view:#}");
    assert_no_containers_of(&[view["id"].as_str().expect("id").to_string()]).await;
    support::remove_image(&view["image"]);
}

/// A `layerlab serve` run as `nobody` (with the docker group, so it can use the engine but
/// not open the engine's namespaces nor enter them).
struct UnprivilegedServer {
    child: std::process::Child,
    base_url: String,
    _dir: tempfile::TempDir,
}

impl UnprivilegedServer {
    fn start(extra: &[&str]) -> Self {
        use std::io::BufRead;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let docker_gid = std::process::Command::new("getent")
            .args(["group", "docker"])
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split(':')
                    .nth(2)
                    .map(str::to_string)
            })
            .expect("a docker group owns the engine's socket");
        let root = support::repo_root();
        let mut child = std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                &format!("--groups={docker_gid}"),
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--",
                env!("CARGO_BIN_EXE_layerlab"),
                "serve",
                "--addr=127.0.0.1:0",
                &format!("--database-url=sqlite://{}/db", dir.path().display()),
                &format!("--content-dir={}", root.join("content").display()),
                &format!("--exercises-dir={}", root.join("exercises").display()),
                &format!("--site-root={}", support::site_root().display()),
                &format!("--style-dir={}", root.join("style").display()),
                &format!("--docker-host={LOCAL_ENGINE}"),
                "--build-rate-per-minute=0",
                &format!("--registry-dir={}/registry", dir.path().display()),
                "--registry-addr=127.0.0.1:0",
            ])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("setpriv runs");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let base_url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("layerlab is serving on ") {
                        break url.trim().to_string();
                    }
                }
                _ => panic!("the unprivileged server exited: {:?}", child.wait()),
            }
        };
        std::thread::spawn(move || for _ in lines {});
        UnprivilegedServer {
            child,
            base_url,
            _dir: dir,
        }
    }
}

impl Drop for UnprivilegedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_server_that_cannot_enter_the_namespace_says_so_or_uses_the_helper() {
    let files = exercise_files("first-image", true);
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let mut builds = Vec::new();
    for (via, helper_works) in [("namespace", false), ("auto", true)] {
        let server = UnprivilegedServer::start(&[&format!("--probe-via={via}")]);
        let learner = Learner {
            base: server.base_url.clone(),
            cookie: support::start_learner(&server.base_url).await,
        };
        let view = learner.build(Some("first-image"), &borrowed).await;
        builds.push(view["id"].as_str().expect("id").to_string());
        support::remove_image(&view["image"]);
        if helper_works {
            assert_eq!(view["run"]["probe"]["status"], 200, "{via}: {view:#}");
            assert!(all_checks_pass(&view), "{via}: {view:#}");
        } else {
            assert_eq!(view["status"], "failed", "{via}: {view:#}");
            assert_eq!(
                view["error"]["code"], "probe_unavailable",
                "{via}: {view:#}"
            );
            let message = view["error"]["message"].as_str().unwrap_or_default();
            for part in [
                "cannot reach the container's port",
                "network namespace",
                "Permission denied",
                "not your Dockerfile",
                "operator",
            ] {
                assert!(message.contains(part), "{via}: {part:?} in {message}");
            }
        }
    }
    assert_no_containers_of(&builds).await;
}

#[test]
fn an_exercise_with_a_build_network_is_served_only_when_the_operator_allows_it() {
    // The course's exercises, one of them asking for a network during its build.
    let root = support::repo_root();
    let (dir, exercises) = support::exercises_copy();
    support::edit_exercise_toml(&exercises, "hello-container", |text| {
        format!("build_network = true\n{text}")
    });

    let serve = |extra: &[&str]| {
        let db = dir.path().join(format!("db{}", extra.len()));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_layerlab"))
            .args([
                "serve",
                "--addr=127.0.0.1:0",
                &format!("--database-url=sqlite://{}", db.display()),
                &format!("--content-dir={}", root.join("content").display()),
                &format!("--exercises-dir={}", exercises.display()),
                &format!("--site-root={}", support::site_root().display()),
                &format!("--style-dir={}", root.join("style").display()),
                "--docker-host=unix:///nonexistent.sock",
                &format!("--registry-dir={}/registry", dir.path().display()),
                "--registry-addr=127.0.0.1:0",
            ])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start layerlab");
        use std::io::BufRead;
        let stdout = child.stdout.take().expect("stdout");
        let serving = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.starts_with("layerlab is serving on "));
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait");
        (serving, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (serving, stderr) = serve(&[]);
    assert!(!serving, "refused without the flag");
    for part in [
        "`hello-container`",
        "build_network = true",
        "reaches this host's own services",
        "--allow-build-network",
    ] {
        assert!(stderr.contains(part), "{part:?} in {stderr}");
    }
    let (serving, stderr) = serve(&["--allow-build-network"]);
    assert!(serving, "served with the flag: {stderr}");

    // check-course names it too, without refusing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_layerlab"))
        .args([
            "check-course",
            &format!("--content-dir={}", root.join("content").display()),
            &format!("--exercises-dir={}", exercises.display()),
        ])
        .output()
        .expect("check-course");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("--allow-build-network") && said.contains("hello-container"),
        "{said}"
    );
}
