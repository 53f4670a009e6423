//! Lesson pages: requests per second from layerlab (a returning learner's lesson page,
//! rendered per request with their progress and quiz answers) vs nginx serving the very bytes
//! layerlab sent, both on loopback, both loaded by the same wrk command, alternating rounds.

use crate::api::Learner;
use crate::support::{ServerProcess, TestDb, LOCAL_ENGINE};
use crate::table::{Figure, Goal};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

const ROUNDS: usize = 3;
const LESSON: &str = "/learn/multi-stage-builds";
/// wrk: 2 threads (the machine's cores), 16 connections, 5 s per round.
const WRK: [&str; 3] = ["-t2", "-c16", "-d5s"];

/// An nginx of our own: its own prefix, config and port, serving one file as `LESSON`.
struct Nginx {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn serve(page: &[u8]) -> Nginx {
        let dir = tempfile::tempdir().expect("nginx dir");
        let root = dir.path().join("www");
        let file = root.join(LESSON.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().expect("lesson folder")).expect("www");
        std::fs::write(&file, page).expect("the page");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let p = dir.path().display();
        let config = format!(
            "daemon off;\nuser root;\nworker_processes auto;\npid {p}/nginx.pid;\n\
             error_log {p}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
               fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
               default_type text/html;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 100000;\n\
               server {{ listen 127.0.0.1:{port}; root {}; }}\n}}\n",
            root.display()
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).expect("nginx.conf");
        let mut child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx (./x bench installs nginx-light)");
        let url = format!("http://127.0.0.1:{port}{LESSON}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Nginx {
                    child,
                    url,
                    _dir: dir,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "nginx did not listen on {port}: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers (SIGKILL would orphan them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Requests per second wrk reached; panics on errors or non-2xx answers.
fn wrk(url: &str, cookie: Option<&str>) -> f64 {
    let mut command = Command::new("wrk");
    command.args(WRK);
    if let Some(cookie) = cookie {
        command.args(["-H", &format!("Cookie: {cookie}")]);
    }
    let out = command
        .arg(url)
        .output()
        .expect("wrk (./x bench installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "wrk saw failures against {url}:\n{text}"
    );
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"))
}

/// A server, and the cookie of a returning learner on it: a session, one quiz answered.
async fn returning_learner(args: &[&str]) -> (ServerProcess, String, bytes::Bytes) {
    let server = ServerProcess::start_with(LOCAL_ENGINE, Arc::new(TestDb::new()), args);
    let mut learner = Learner::new(&server.base_url);
    learner.page("/").await;
    let (status, body) = learner
        .post_json(
            "/fn/submit_quiz",
            &serde_json::json!({"lesson": "multi-stage-builds", "quiz": "multi-stage",
                                "answers": [["which-image", ["last"]], ["ships", ["tool"]], ["static", ["libc"]], ["target", ["--target build"]]]}),
        )
        .await;
    assert_eq!(status, 200, "the quiz answer was refused: {body}");
    let page = learner.page(LESSON).await;
    let cookie = learner.cookie.clone().expect("a session cookie");
    assert!(
        page.len() > 10_000,
        "the lesson page is {} bytes: not the page",
        page.len()
    );
    (server, cookie, page)
}

pub async fn run() -> Vec<Figure> {
    // As shipped, and with the lesson-page memo off (every page rendered for its request).
    let (server, cookie, page) = returning_learner(&[]).await;
    let (fresh_server, fresh_cookie, _) = returning_learner(&["--page-memo-mb", "0"]).await;
    let nginx = Nginx::serve(&page);
    let ours = (server.url(LESSON), cookie);
    let fresh = (fresh_server.url(LESSON), fresh_cookie);
    let rounds = tokio::task::spawn_blocking(move || {
        // Warm all three (caches, connections), then alternate.
        wrk(&nginx.url, None);
        wrk(&ours.0, Some(&ours.1));
        wrk(&fresh.0, Some(&fresh.1));
        (0..ROUNDS)
            .map(|_| {
                (
                    wrk(&nginx.url, None),
                    wrk(&ours.0, Some(&ours.1)),
                    wrk(&fresh.0, Some(&fresh.1)),
                )
            })
            .collect::<Vec<_>>()
    })
    .await
    .expect("wrk rounds");
    let (mut theirs, mut kept, mut rendered) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ratios, mut fresh_ratios) = (Vec::new(), Vec::new());
    for (n, k, r) in rounds {
        theirs.push(n);
        kept.push(k);
        rendered.push(r);
        ratios.push(k / n);
        fresh_ratios.push(r / n);
    }
    drop((server, fresh_server));
    let kib = page.len() as f64 / 1024.0;
    vec![
        Figure::new(
            "pages",
            format!("lesson page ({kib:.0} KiB), layerlab"),
            " req/s",
        )
        .samples(kept),
        Figure::new("pages", "the same bytes, nginx", " req/s").samples(theirs),
        Figure::new("pages", "ratio layerlab ÷ nginx", "×")
            .goal(Goal::AtLeast(0.5))
            .samples(ratios),
        Figure::new(
            "pages",
            "lesson page rendered for every request (--page-memo-mb 0)",
            " req/s",
        )
        .samples(rendered),
        Figure::new("pages", "ratio of that ÷ nginx", "×").samples(fresh_ratios),
    ]
}
