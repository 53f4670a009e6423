//! The build policy against the real engine: each attack as a learner would write it, in
//! several spellings. Every refusal must come with its code, line and a message that says
//! why and what to do; the victim (a service on the host, another learner) must see nothing;
//! the engine must be left as it was (the build never reached it). The legitimate forms —
//! base images, earlier stages by name and number, scratch, one's own earlier image, a
//! small honest tar — still build.

use crate::support;

use layerlab_server::policy;
use serde_json::Value;
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{TestClient, LOCAL_ENGINE};

/// A TCP service on the host that counts the connections it accepts (and answers each with a
/// secret, as a metadata service or an admin port would).
struct HostService {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl HostService {
    fn start(address: &str) -> Self {
        let listener = TcpListener::bind((address, 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut stream = stream;
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let _ = std::io::Write::write_all(
                    &mut stream,
                    b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nHOST-SECRET\n",
                );
            }
        });
        HostService { port, accepted }
    }
}

/// The host's first non-loopback IPv4 address (what `0.0.0.0` listeners are reached on).
fn host_address() -> String {
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    out.split_whitespace()
        .find(|a| a.contains('.') && !a.starts_with("127."))
        .unwrap_or("172.17.0.1")
        .to_string()
}

fn code(view: &Value) -> &str {
    view["error"]["code"].as_str().unwrap_or("")
}

/// A refused build: its code, and proof that nothing of it reached the engine — no step
/// was logged, no image got its tag, no container carries its id.
fn assert_never_reached_the_engine(view: &Value, log: &[String]) {
    let id = view["id"].as_str().expect("id");
    assert!(
        !log.iter().any(|l| l.starts_with("Step ")),
        "the engine ran steps: {log:#?}"
    );
    assert!(view.get("image").is_none_or(Value::is_null), "{view:#}");
    let tag = format!("layerlab/playground:{id}");
    let inspected = std::process::Command::new("docker")
        .args(["image", "inspect", &tag])
        .output()
        .expect("docker");
    assert!(!inspected.status.success(), "{tag} exists");
    let containers = support::docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=org.layerlab.build={id}"),
    ]);
    assert!(
        containers.trim().is_empty(),
        "containers left: {containers}"
    );
}

/// The failure's message is in the learner's log too, as other build errors are.
fn assert_logged(view: &Value, log: &[String]) {
    let message = view["error"]["message"].as_str().expect("message");
    assert!(
        log.iter().any(|l| l == message),
        "the log says why: {log:#?}"
    );
}

#[tokio::test]
async fn add_urls_never_reach_a_service_on_the_host() {
    let loopback = HostService::start("127.0.0.1");
    let everywhere = HostService::start("0.0.0.0");
    let (l, e) = (loopback.port, everywhere.port);
    let host = host_address();
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    let attacks = [
        format!("FROM busybox:latest\nADD http://127.0.0.1:{l}/x /x\nRUN cat /x\n"),
        format!("FROM busybox:latest\nadd http://{host}:{e}/x /x\n"),
        format!("FROM busybox:latest\nAdd HTTP://127.0.0.1:{l}/x /x\n"),
        format!("FROM busybox:latest\nADD [\"http://127.0.0.1:{l}/j\", \"/j\"]\n"),
        format!("FROM busybox:latest\nENV U=http://127.0.0.1:{l}/env\nADD $U /u\n"),
        format!("FROM busybox:latest\nENV U http://{host}:{e}/old-env\nADD ${{U}} /u\n"),
        format!("FROM busybox:latest\nARG U=http://127.0.0.1:{l}/arg\nADD ${{U}} /u\n"),
        format!("ARG U=http://127.0.0.1:{l}/meta\nFROM busybox:latest\nARG U\nADD $U /u\n"),
        format!("FROM busybox:latest\nADD ${{NOPE:-http://127.0.0.1:{l}/default}} /u\n"),
        format!("FROM busybox:latest\nENV S=:\nADD http${{S}}//127.0.0.1:{l}/split /u\n"),
        format!("FROM busybox:latest\nADD \"http://127.0.0.1:{l}/quoted\" /u\n"),
        format!("FROM busybox:latest\nADD ht\\\n  tp://127.0.0.1:{l}/continued /u\n"),
        format!("# escape=`\nFROM busybox:latest\nADD http://127.0.0.1:{l}/tick `\n  /u\n"),
        format!("FROM busybox:latest\nADD --chown=1:1 http://127.0.0.1:{l}/flag /u\n"),
        format!("FROM busybox:latest\nRUN <<EOF\nADD http://127.0.0.1:{l}/heredoc /u\nEOF\n"),
        format!("FROM busybox:latest\nONBUILD ADD http://127.0.0.1:{l}/later /u\n"),
        "FROM busybox:latest\nADD http://169.254.169.254/latest/meta-data/ /m\n".to_string(),
        "FROM busybox:latest\nADD git@github.com:someone/repo.git /src\n".to_string(),
        format!("FROM busybox:latest\nADD git://127.0.0.1:{l}/repo.git /src\n"),
    ];
    for dockerfile in &attacks {
        let (view, log) = learner.build(None, &[("Dockerfile", dockerfile)]).await;
        assert_eq!(
            code(&view),
            policy::REMOTE_SOURCE_REFUSED,
            "{dockerfile}\n{view:#}"
        );
        let line = view["error"]["line"].as_u64().expect("a line");
        let message = view["error"]["message"].as_str().unwrap_or("");
        assert!(message.starts_with(&format!("Line {line}: ")), "{message}");
        assert!(message.contains("download"), "says why: {message}");
        assert!(message.contains("COPY it"), "says what instead: {message}");
        assert!(
            message.contains("no network"),
            "knows this exercise: {message}"
        );
        assert!(!log.iter().any(|l| l.contains("HOST-SECRET")), "{log:#?}");
        assert_logged(&view, &log);
        assert_never_reached_the_engine(&view, &log);
    }
    // The daemon would have connected by now; give a stray connection time to show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        loopback.accepted.load(Ordering::SeqCst),
        0,
        "127.0.0.1 was reached"
    );
    assert_eq!(
        everywhere.accepted.load(Ordering::SeqCst),
        0,
        "0.0.0.0 was reached"
    );
}

/// A learner's image holds a secret; another learner names it every way a Dockerfile can.
#[tokio::test]
async fn another_learners_image_stays_theirs_and_ones_own_is_usable() {
    let mut victim = TestClient::new(LOCAL_ENGINE).await;
    let mut attacker = victim.another();
    let secret = format!("victim-secret-{}", uuid::Uuid::new_v4().simple());
    let files = [
        (
            "Dockerfile",
            "FROM busybox:latest\nCOPY greet.sh /greet.sh\nRUN cat /greet.sh > /secret\nCMD [\"cat\", \"/secret\"]\n",
        ),
        ("greet.sh", &*format!("{secret}\n")),
    ];
    let (built, _) = victim.build(Some("hello-container"), &files).await;
    assert_eq!(built["status"], "succeeded", "{built:#}");
    let build_id = built["id"].as_str().expect("id").to_string();
    let id = built["image"]["id"].as_str().expect("image id").to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    let hex = &id[7..];
    // An id prefix of digits only is a stage number to the engine (`--from=0`): for the
    // message about ids, take the shortest prefix of 8 or more with a letter in it.
    let lettered = (8..=hex.len())
        .map(|n| &hex[..n])
        .find(|p| p.bytes().any(|b| b.is_ascii_alphabetic()))
        .unwrap_or(hex);
    let tag = format!("layerlab/hello-container:{build_id}");
    assert!(support::docker(&["image", "inspect", &tag]).contains(&id));

    let attacks = [
        format!("FROM {tag}\nRUN cat /secret\n"),
        format!("FROM docker.io/{tag}\nRUN cat /secret\n"),
        format!("FROM busybox:latest\nCOPY --from={tag} /secret /s\nRUN cat /s\n"),
        format!(
            "FROM busybox:latest\nCOPY --from={} /secret /s\nRUN cat /s\n",
            &hex[..8]
        ),
        format!(
            "FROM busybox:latest\nCOPY --from={} /secret /s\nRUN cat /s\n",
            &hex[..12]
        ),
        format!("FROM busybox:latest\nCOPY --from={hex} /secret /s\nRUN cat /s\n"),
        format!("FROM busybox:latest\nCOPY --from={id} /secret /s\nRUN cat /s\n"),
        format!(
            "FROM busybox:latest\nCOPY --from=sha256:{} /secret /s\n",
            &hex[..8]
        ),
        format!(
            "FROM busybox:latest\ncopy --FROM={} /secret /s\n",
            &hex[..8]
        ),
        format!(
            "FROM busybox:latest\nCOPY --fr\\\nom={} /secret /s\n",
            &hex[..8]
        ),
        format!("FROM {}\nRUN cat /secret\n", &hex[..8]),
        format!("from sha256:{} AS x\nRUN cat /secret\n", &hex[..12]),
        format!("FROM {hex}\nRUN cat /secret\n"),
        format!("FROM layerlab/hello-container@{id}\nRUN cat /secret\n"),
        format!("ARG B={}\nFROM $B\nRUN cat /secret\n", &hex[..8]),
        format!("ARG B\nFROM ${{B:-{tag}}}\nRUN cat /secret\n"),
        format!(
            "FROM busybox:latest\nARG V={}\nCOPY --from=$V /secret /s\n",
            &hex[..8]
        ),
        format!("FROM busybox:latest\nENV V={tag}\nCOPY --from=${{V}} /secret /s\n"),
        format!(
            "FROM busybox:latest\nRUN --mount=from={},target=/m cat /m/secret\n",
            &hex[..8]
        ),
        format!("FROM busybox:latest\nONBUILD COPY --from={tag} /secret /s\n"),
        format!(
            "FROM busybox:latest AS x{}\nCOPY --from=x{} /secret /s\n",
            &hex[..7],
            &hex[..7]
        ),
    ];
    for dockerfile in &attacks {
        let (view, log) = attacker.build(None, &[("Dockerfile", dockerfile)]).await;
        assert_eq!(
            code(&view),
            policy::IMAGE_NOT_ALLOWED,
            "{dockerfile}\n{view:#}"
        );
        let message = view["error"]["message"].as_str().unwrap_or("");
        assert!(view["error"]["line"].as_u64().is_some(), "{view:#}");
        assert!(message.contains("names"), "{message}");
        let everything = format!("{view}{}", log.join("\n"));
        assert!(
            !everything.contains(&secret),
            "the secret leaked: {dockerfile}"
        );
        assert_logged(&view, &log);
        assert_never_reached_the_engine(&view, &log);
    }
    // A quoted `--from=` is no flag to this engine but a file name: nothing is read.
    let quoted = format!(
        "FROM busybox:latest\nCOPY \"--from={}\" /secret /s\n",
        &hex[..8]
    );
    let (view, log) = attacker.build(None, &[("Dockerfile", &quoted)]).await;
    assert_eq!(code(&view), "copy_source_missing", "{view:#}");
    assert!(!format!("{view}{}", log.join("\n")).contains(&secret));
    let (view, _) = attacker
        .build(None, &[("Dockerfile", &format!("FROM {tag}\n"))])
        .await;
    let message = view["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("not one of your images"), "{message}");
    let (view, _) = attacker
        .build(
            None,
            &[(
                "Dockerfile",
                &format!("FROM busybox\nCOPY --from={lettered} /s /s\n"),
            )],
        )
        .await;
    let message = view["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("image id"), "{message}");
    assert!(
        message.contains("busybox:latest"),
        "says what may be used: {message}"
    );

    // The owner builds on the same image by its tag, and reads their own secret.
    let (own, log) = victim
        .build(
            None,
            &[("Dockerfile", &format!("FROM {tag}\nRUN cat /secret\n"))],
        )
        .await;
    assert_eq!(own["status"], "succeeded", "{own:#}");
    assert!(log.iter().any(|l| l.contains(&secret)), "{log:#?}");
    let (own, log) = victim
        .build(
            None,
            &[(
                "Dockerfile",
                &format!("FROM busybox:latest\nCOPY --from={tag} /secret /s\nRUN cat /s\n"),
            )],
        )
        .await;
    assert_eq!(own["status"], "succeeded", "{own:#}");
    assert!(log.iter().any(|l| l.contains(&secret)), "{log:#?}");
}

/// A ustar header with its checksum.
fn header(name: &str, kind: u8, size: u64, link: &str) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn pax(records: &[(&str, &str)]) -> (Vec<u8>, Vec<u8>) {
    let mut body = Vec::new();
    for (k, v) in records {
        let content = format!(" {k}={v}\n");
        let mut len = content.len() + 1;
        while len.to_string().len() + content.len() != len {
            len = len.to_string().len() + content.len();
        }
        body.extend_from_slice(format!("{len}{content}").as_bytes());
    }
    (header("PaxHeaders/f", b'x', body.len() as u64, ""), body)
}

/// A tar as text: every byte here is ASCII or NUL, as a JSON string can carry it.
fn tar(entries: &[(Vec<u8>, Vec<u8>)]) -> String {
    let mut out = Vec::new();
    for (h, d) in entries {
        out.extend_from_slice(h);
        out.extend_from_slice(d);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    String::from_utf8(out).expect("ASCII")
}

#[tokio::test]
async fn archives_are_judged_before_the_engine_unpacks_them() {
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    // GNU tar's PAX sparse format: 512 bytes of data, 3 GiB on disk once unpacked.
    let sparse = tar(&[
        pax(&[
            ("GNU.sparse.major", "1"),
            ("GNU.sparse.minor", "0"),
            ("GNU.sparse.name", "zeros"),
            ("GNU.sparse.realsize", &(3u64 << 30).to_string()),
        ]),
        (header("GNUSparseFile.0/zeros", b'0', 512, ""), {
            let mut d = b"1\n0\n0\n".to_vec();
            d.resize(512, 0);
            d
        }),
    ]);
    let declared = tar(&[
        pax(&[("size", &(2u64 << 30).to_string())]),
        (header("big", b'0', 0, ""), Vec::new()),
    ]);
    let climbing = tar(&[(
        header("../../../etc/cron.d/evil", b'0', 3, ""),
        b"hi\n".to_vec(),
    )]);
    let absolute = tar(&[(header("/etc/passwd", b'0', 3, ""), b"hi\n".to_vec())]);
    let link_out = tar(&[(header("out", b'2', 0, "../../../../etc"), Vec::new())]);
    let device = tar(&[(header("dev/host-disk", b'4', 0, ""), Vec::new())]);
    let fifo = tar(&[(header("pipe", b'6', 0, ""), Vec::new())]);
    for (name, archive, dockerfile, why) in [
        (
            "zeros.tar",
            &sparse,
            "FROM busybox:latest\nADD zeros.tar /z/\n",
            "3.00 GiB",
        ),
        (
            "zeros.tar",
            &sparse,
            "FROM busybox:latest\nENV F=zeros.tar\nadd ./$F /z/\n",
            "3.00 GiB",
        ),
        (
            "zeros.tar",
            &sparse,
            "FROM busybox:latest\nADD [\"z*.tar\", \"/z/\"]\n",
            "sparse",
        ),
        (
            "big.tar",
            &declared,
            "FROM busybox:latest\nADD big.tar /b/\n",
            "2.00 GiB",
        ),
        (
            "evil.tar",
            &climbing,
            "FROM busybox:latest\nADD evil.tar /app/\n",
            "climb out",
        ),
        (
            "evil.tar",
            &absolute,
            "FROM busybox:latest\nADD evil.tar /app/\n",
            "absolute",
        ),
        (
            "evil.tar",
            &link_out,
            "FROM busybox:latest\nADD evil.tar /app/\n",
            "outside",
        ),
        (
            "evil.tar",
            &device,
            "FROM busybox:latest\nADD evil.tar /app/\n",
            "device",
        ),
        (
            "evil.tar",
            &fifo,
            "FROM busybox:latest\nADD evil.tar /app/\n",
            "fifo",
        ),
    ] {
        let (view, log) = learner
            .build(None, &[("Dockerfile", dockerfile), (name, archive)])
            .await;
        assert_eq!(
            code(&view),
            policy::ARCHIVE_REFUSED,
            "{dockerfile}\n{view:#}"
        );
        let message = view["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(name), "{message}");
        assert!(message.contains(why), "{why}: {message}");
        assert!(message.contains("RUN"), "says what instead: {message}");
        let line = dockerfile.lines().count() as u64;
        assert_eq!(view["error"]["line"].as_u64(), Some(line), "{view:#}");
        assert_logged(&view, &log);
        assert_never_reached_the_engine(&view, &log);
    }
    // COPY does not unpack: the same archive is copied as the file it is.
    let (view, log) = learner
        .build(
            None,
            &[
                (
                    "Dockerfile",
                    &format!(
                        "FROM busybox:latest\nCOPY zeros.tar /z.tar\nRUN echo {} && wc -c < /z.tar\n",
                        uuid::Uuid::new_v4().simple()
                    ),
                ),
                ("zeros.tar", &sparse),
            ],
        )
        .await;
    assert_eq!(view["status"], "succeeded", "{view:#}");
    assert!(
        log.iter().any(|l| l.trim() == sparse.len().to_string()),
        "{log:#?}"
    );
}

#[tokio::test]
async fn the_legitimate_forms_still_build() {
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    let honest = tar(&[
        (header("app/", b'5', 0, ""), Vec::new()),
        (
            header("app/hello.txt", b'0', 15, ""),
            b"hello from tar\n".to_vec(),
        ),
        (header("app/again", b'2', 0, "hello.txt"), Vec::new()),
    ]);
    // A nonce in the RUN that prints, so a cached run of this test still shows its output.
    let nonce = uuid::Uuid::new_v4().simple();
    let dockerfile = format!(
        "ARG BASE=busybox:latest\n\
        FROM $BASE AS tools\n\
        RUN echo staged > /staged\n\
        FROM busybox AS second\n\
        COPY --from=tools /staged /by-name\n\
        COPY --from=0 /staged /by-number\n\
        ADD app.tar /srv/\n\
        RUN echo {nonce} && cat /by-name /by-number /srv/app/again\n\
        FROM scratch\n\
        COPY --from=second /srv/app/hello.txt /hello.txt\n"
    );
    let (view, log) = learner
        .build(None, &[("Dockerfile", &dockerfile), ("app.tar", &honest)])
        .await;
    assert_eq!(view["status"], "succeeded", "{view:#}\n{log:#?}");
    assert_eq!(
        log.iter().filter(|l| l.trim() == "staged").count(),
        2,
        "{log:#?}"
    );
    assert!(log.iter().any(|l| l.trim() == "hello from tar"), "{log:#?}");
    assert_eq!(view["image"]["layers"], 1, "{view:#}");
}

/// What the policy costs a build, with its look-ups on the real engine (printed for
/// BENCHMARKS.md; not a timed assertion).
#[tokio::test]
async fn the_policys_cost_per_build() {
    let engine = layerlab_server::engine::Engine::new(Some(LOCAL_ENGINE))
        .client()
        .await
        .expect("the Docker engine");
    let base_images = vec!["busybox:latest".to_string(), "gcc:12".to_string()];
    let limits = layerlab_server::engine::builder::BuildLimits::default();
    let honest = tar(&[(
        header("app/hello.txt", b'0', 15, ""),
        b"hello from tar\n".to_vec(),
    )]);
    for (name, files) in [
        (
            "one stage",
            vec![("Dockerfile", "FROM busybox:latest\nRUN echo hi\nCMD [\"sh\"]\n".to_string())],
        ),
        (
            "three stages, ARG, ADD of a tar",
            vec![
                ("Dockerfile", "ARG B=busybox:latest\nFROM $B AS a\nRUN true\nFROM gcc:12 AS b\nCOPY --from=a /bin /x\nFROM busybox\nCOPY --from=b /x /y\nADD app.tar /srv/\n".to_string()),
                ("app.tar", honest.clone()),
            ],
        ),
    ] {
        let files: std::collections::BTreeMap<String, String> =
            files.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let context = layerlab_server::engine::context::BuildContext::new(
            files,
            &layerlab_server::engine::context::ContextLimits::default(),
        )
        .expect("context");
        let job = layerlab_server::engine::builder::BuildJob {
            build_id: "policy-cost",
            context: &context,
            tag: "layerlab/playground:policy-cost".into(),
            labels: Default::default(),
            network: false,
            build_args: Vec::new(),
            cache_from: Vec::new(),
            no_cache: false,
            limits: &limits,
            base_images: &base_images,
            registry: None,
            console_prefix: None,
            console_owner: None,
        };
        let mut times = Vec::new();
        for _ in 0..50 {
            let start = Instant::now();
            policy::check(&engine, &job)
                .await
                .unwrap_or_else(|f| panic!("{name}: {f:?}"));
            times.push(start.elapsed());
        }
        times.sort();
        println!(
            "policy cost, {name}: min {:?} median {:?} max {:?} (50 runs, engine look-ups included)",
            times[0], times[25], times[49]
        );
        assert!(times[25] < Duration::from_secs(1));
    }
}

/// What comes back is checked too: an image whose layers do not start with those of the
/// image its last stage was approved to start from is removed and the build refused.
#[tokio::test]
async fn a_result_that_does_not_start_from_its_approved_base_is_removed() {
    let docker = bollard::Docker::connect_with_local_defaults()
        .expect("docker")
        .negotiate_version()
        .await
        .expect("version");
    let engine = layerlab_server::engine::Engine::new(Some(LOCAL_ENGINE))
        .client()
        .await
        .expect("the Docker engine");
    let mut learner = TestClient::new(LOCAL_ENGINE).await;
    let dockerfile = format!(
        "FROM busybox:latest\nRUN echo {} > /n\n",
        uuid::Uuid::new_v4().simple()
    );
    let (view, _) = learner.build(None, &[("Dockerfile", &dockerfile)]).await;
    assert_eq!(view["status"], "succeeded", "{view:#}");
    let image_id = view["image"]["id"].as_str().expect("image").to_string();
    let tag = format!("layerlab/playground:{}", view["id"].as_str().expect("id"));
    let busybox = docker
        .inspect_image("busybox:latest")
        .await
        .expect("busybox");
    let base = |layers: Vec<String>| policy::Approved {
        final_base: Some((
            "busybox:latest".to_string(),
            policy::ImageInfo {
                layers,
                ..Default::default()
            },
        )),
        ..Default::default()
    };
    let real = busybox.root_fs.and_then(|r| r.layers).expect("layers");
    policy::verify_built(&engine, &base(real), &image_id, &tag)
        .await
        .expect("built on busybox");
    assert!(docker.inspect_image(&tag).await.is_ok());
    let failure = policy::verify_built(&engine, &base(vec!["sha256:0000".into()]), &image_id, &tag)
        .await
        .expect_err("not built on that");
    assert_eq!(failure.code, policy::IMAGE_NOT_ALLOWED);
    assert!(
        failure.message.contains("busybox:latest"),
        "{}",
        failure.message
    );
    assert!(failure.message.contains("removed"), "{}", failure.message);
    assert!(
        docker.inspect_image(&tag).await.is_err(),
        "the image is gone"
    );
}
