//! The docker console's policy proxy, driven by the real docker CLI (`docker -H unix://…`)
//! against the real engine: each learner sees and reaches only their own containers, and
//! every call the policy does not forward is refused with words the CLI prints.

use crate::registry::Cli;
use crate::support::LOCAL_ENGINE;
use layerlab_server::console::proxy::Proxy;
use layerlab_server::policy::api::Scope;
use layerlab_server::policy::container::ContainerLimits;
use std::sync::Arc;

/// A container of `owner`'s as the console would make it (labelled with the owner), which
/// printed `said` and exited; its id. Removed by [`Containers`] when the test ends.
fn container_of(owner: &str, name: &str, said: &str) -> String {
    made_with(owner, name, said, true)
}

/// A container labelled as `owner`'s, by the console (`console`) or not (as a build's run
/// and check containers are); its id.
fn made_with(owner: &str, name: &str, said: &str, console: bool) -> String {
    let out = std::process::Command::new("docker")
        .args(["run", "--name", name, "--label"])
        .arg(format!("org.layerlab.owner={owner}"))
        .args([
            "--label",
            if console {
                "org.layerlab.console=true"
            } else {
                "org.layerlab.build=x"
            },
        ])
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

/// A proxy for `owner` on a socket at `path`, with small limits.
fn proxy_at(path: &std::path::Path, owner: &str) -> anyhow::Result<Proxy> {
    let engine = Arc::new(layerlab_server::engine::Engine::new(Some(LOCAL_ENGINE)));
    Proxy::start(
        path,
        Scope {
            owner: owner.to_string(),
            instance: "console-test".into(),
            base_images: vec!["busybox:latest".into()],
            registry: None,
            built: Default::default(),
        },
        engine,
        ContainerLimits {
            memory_bytes: 64 << 20,
            cpus: 0.25,
            pids: 32,
            log_max: "1m".into(),
            max_running: 3,
            max_containers: 10,
            max_disk_bytes: 512 << 20,
        },
        None,
        None,
        None,
    )
}

/// A proxy for `owner` on a socket in `dir`.
fn proxy_for(owner: &str, dir: &tempfile::TempDir) -> Proxy {
    proxy_at(&dir.path().join(format!("{owner}.sock")), owner).expect("the proxy starts")
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
    // One of Alice's that a build made (it carries her label, but is layerlab's).
    let graders = format!("check-a-{nonce}");
    let grader_id = made_with(&alice, &graders, "a build's", false);
    let _cleanup = Containers(vec![alices.clone(), bobs.clone(), graders.clone()]);
    let dir = tempfile::tempdir().expect("a folder");
    let proxy = proxy_for(&alice, &dir);
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
    assert!(
        !listed.contains(&graders),
        "a build's containers are not listed: {listed}"
    );
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
    for his in [
        bobs.as_str(),
        bob_id.as_str(),
        &bob_id[..12],
        graders.as_str(),
        grader_id.as_str(),
    ] {
        let said = refused(&["logs", his]);
        assert!(said.contains("No such container"), "{said}");
        let said = refused(&["inspect", "--type", "container", his]);
        assert!(said.contains("No such container"), "{his}: {said}");
    }
    // Images: the course's base images (here busybox:latest) and hers (she has none);
    // nothing else the engine holds.
    let images = ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), "busybox:latest", "{images}");
    // What the console does not forward yet, refused with the policy's words.
    for args in [
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
    // A socket in a folder others may write to (where a link could take its place) is
    // refused.
    use std::os::unix::fs::PermissionsExt;
    let shared = tempfile::tempdir().expect("a folder");
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let refused = proxy_at(&shared.path().join("x.sock"), &alice);
    assert!(refused.is_err());
}

/// The ids of every container of `owner`'s on the engine, as the docker CLI lists them.
fn containers_of(owner: &str) -> String {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=org.layerlab.owner={owner}"),
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the engine says of a container, by `docker inspect --format`.
fn engine_says(container: &str, format: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["inspect", "--format", format, container])
        .output()
        .expect("docker inspect");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `docker run -d` through the proxy makes a container with layerlab's limits, labels and no
/// network, named in the learner's own namespace of names; two learners can both have a
/// `web`; each starts, stops and removes only their own; what reaches past the container is
/// refused with the reason, and a refused run leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_through_the_proxy_gets_layerlabs_limits_and_stays_the_learners() {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let (alice, bob) = (
        format!("alice{}", &nonce[..12]),
        format!("bob{}", &nonce[..12]),
    );
    let dir = tempfile::tempdir().expect("a folder");
    let (for_alice, for_bob) = (proxy_for(&alice, &dir), proxy_for(&bob, &dir));
    let cli = Cli::new();
    let as_alice = |args: &[&str]| through(&for_alice, &cli, args);
    let as_bob = |args: &[&str]| through(&for_bob, &cli, args);
    let alices_web = format!("{}-web", layerlab_server::registry::handle_of(&alice));
    let bobs_web = format!("{}-web", layerlab_server::registry::handle_of(&bob));
    let _cleanup = Containers(vec![alices_web.clone(), bobs_web.clone()]);

    let (ok, said) = as_alice(&[
        "run",
        "-d",
        "--name",
        "web",
        "busybox:latest",
        "sleep",
        "60",
    ]);
    assert!(ok, "{said}");
    let (ok, said) = as_bob(&["run", "-d", "--name", "web", "busybox", "sleep", "60"]);
    assert!(ok, "both may call theirs web: {said}");
    // On the engine: limits, labels, isolation.
    assert_eq!(
        engine_says(&alices_web, "{{.HostConfig.Memory}}"),
        (64 << 20).to_string()
    );
    assert_eq!(
        engine_says(&alices_web, "{{.HostConfig.NanoCpus}}"),
        "250000000"
    );
    assert_eq!(engine_says(&alices_web, "{{.HostConfig.PidsLimit}}"), "32");
    assert_eq!(
        engine_says(&alices_web, "{{.HostConfig.NetworkMode}}"),
        "none"
    );
    assert_eq!(
        engine_says(&alices_web, "{{.HostConfig.Privileged}}"),
        "false"
    );
    assert_eq!(
        engine_says(
            &alices_web,
            "{{index .Config.Labels \"org.layerlab.owner\"}}"
        ),
        alice
    );
    assert_eq!(engine_says(&alices_web, "{{.State.Running}}"), "true");

    // In the foreground, as on a laptop: the output comes back through the proxy, and the
    // exit code with it.
    let (ok, said) = as_alice(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo hello through the proxy",
    ]);
    assert!(ok, "{said}");
    assert!(said.contains("hello through the proxy"), "{said}");
    let (ok, said) = as_alice(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert!(
        !ok && !said.contains("layerlab"),
        "the exit code comes back: {said}"
    );

    // A command in her running container; never privileged; never in his.
    let (ok, said) = as_alice(&["exec", "web", "sh", "-c", "echo inside; id -u"]);
    assert!(ok, "{said}");
    assert!(said.contains("inside"), "{said}");
    let (ok, said) = as_alice(&["exec", "--privileged", "web", "true"]);
    assert!(!ok && said.contains("layerlab: "), "{said}");
    let (ok, said) = as_alice(&["exec", &bobs_web, "true"]);
    assert!(!ok && said.contains("No such container"), "{said}");
    let (ok, said) = as_bob(&["exec", "-d", "web", "sleep", "1"]);
    assert!(ok, "{said}");

    // Each sees their own names, and none of the host's paths.
    let (ok, listed) = as_alice(&["ps", "--format", "{{.Names}}"]);
    assert!(ok, "{listed}");
    assert_eq!(listed.trim(), "web", "{listed}");
    let (ok, said) = as_alice(&[
        "inspect",
        "--format",
        "{{.Name}}|{{.LogPath}}|{{.HostsPath}}",
        "web",
    ]);
    assert!(ok, "{said}");
    assert_eq!(said.trim(), "/web||", "{said}");
    let (ok, said) = as_alice(&["inspect", "web"]);
    assert!(ok && !said.contains("/var/lib/docker"), "{said}");

    // Each reaches only their own web.
    let (ok, _) = as_alice(&["stop", "-t", "1", "web"]);
    assert!(ok);
    assert_eq!(engine_says(&alices_web, "{{.State.Running}}"), "false");
    assert_eq!(
        engine_says(&bobs_web, "{{.State.Running}}"),
        "true",
        "bob's still runs"
    );
    let (ok, said) = as_alice(&["stop", &bobs_web]);
    assert!(!ok && said.contains("No such container"), "{said}");
    // (`rm -f` of a container the engine does not have succeeds quietly, as on a laptop.)
    let (_, said) = as_alice(&["rm", "-f", &bobs_web]);
    assert!(said.contains("No such container"), "{said}");
    assert_eq!(engine_says(&bobs_web, "{{.State.Running}}"), "true");
    let (ok, said) = as_alice(&["start", "web"]);
    assert!(ok, "{said}");

    // Sharing namespaces: with her own container only.
    let (ok, said) = as_alice(&[
        "run",
        "-d",
        "--name",
        "side",
        "--pid",
        "container:web",
        "--network",
        "container:web",
        "busybox",
        "sleep",
        "5",
    ]);
    assert!(ok, "{said}");
    let side = format!("{}-side", layerlab_server::registry::handle_of(&alice));
    let _cleanup_side = Containers(vec![side.clone()]);
    let web_id = engine_says(&alices_web, "{{.Id}}");
    assert_eq!(
        engine_says(&side, "{{.HostConfig.PidMode}}"),
        format!("container:{web_id}")
    );
    let (ok, said) = as_bob(&[
        "run",
        "-d",
        "--pid",
        &format!("container:{alices_web}"),
        "busybox",
        "true",
    ]);
    assert!(!ok && said.contains("No such container"), "{said}");

    // Refused, with the reason, and nothing made.
    let before = containers_of(&alice);
    for (args, words) in [
        (vec!["--privileged"], "--privileged"),
        (vec!["-v", "/:/host"], "a mount"),
        (vec!["--mount", "type=bind,source=/,target=/h"], "a mount"),
        (vec!["--pid", "host"], "--pid host"),
        (vec!["--network", "host"], "--network host"),
        (vec!["--cap-add", "SYS_ADMIN"], "--cap-add SYS_ADMIN"),
        (vec!["--device", "/dev/kmsg"], "a device"),
        (vec!["--security-opt", "seccomp=unconfined"], "SecurityOpt"),
        (
            vec!["-p", "10.1.2.3:8080:80"],
            "never on the host's addresses",
        ),
        (vec!["-P"], "publishing every port"),
        (vec!["--oom-score-adj", "-1000"], "--oom-score-adj -1000"),
        (
            vec!["--health-cmd", "true", "--health-interval", "1ms"],
            "more often than every 5 s",
        ),
        (vec!["--restart", "always"], "--restart always"),
        (vec!["--label", "org.layerlab.owner=someone"], ""),
    ] {
        let mut all = vec!["run", "-d"];
        all.extend(args.iter().copied());
        all.extend(["busybox", "true"]);
        let (ok, said) = as_alice(&all);
        if words.is_empty() {
            // Allowed, but the label is layerlab's to set.
            assert!(ok, "{said}");
            let id = said.trim();
            let _gone = Containers(vec![id.to_string()]);
            assert_eq!(
                engine_says(id, "{{index .Config.Labels \"org.layerlab.owner\"}}"),
                alice
            );
            continue;
        }
        assert!(!ok, "docker run {args:?} is refused: {said}");
        assert!(
            said.contains("layerlab: ") && said.contains(words),
            "{args:?}: {said}"
        );
    }
    // An image that is neither the course's nor hers.
    let (ok, said) = as_alice(&["run", "-d", "debian:bookworm", "true"]);
    assert!(!ok && said.contains("No such image"), "{said}");
    let after = containers_of(&alice);
    assert_eq!(before, after, "refused runs left no container");

    // Removing: hers goes.
    let (ok, said) = as_alice(&["rm", "-f", "web", "side"]);
    assert!(ok, "{said}");
    let (gone, _) = Cli::new().run(&["inspect", &alices_web]);
    assert!(!gone);
}

/// The whole door: the real docker CLI, Debian's, in the console's toolbox container (made
/// by `layerlab images seed`), with the learner's proxy socket as its engine. What it
/// lists, runs and refuses is the learner's slice only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_cli_in_the_toolbox_reaches_only_the_learners_slice() {
    let toolbox = "layerlab/toolbox:1";
    crate::console_app::seeded_toolbox();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let (carol, dave) = (
        format!("carol{}", &nonce[..12]),
        format!("dave{}", &nonce[..12]),
    );
    let daves = format!("web-d-{}", &nonce[..8]);
    container_of(&dave, &daves, "dave's");
    let _cleanup = Containers(vec![daves.clone()]);
    let dir = tempfile::tempdir().expect("a folder");
    let proxy = proxy_for(&carol, &dir);
    // The toolbox as the console runs it: the proxy's socket is its engine.
    let in_toolbox = |script: &str| {
        let out = std::process::Command::new("docker")
            .args(["run", "--rm", "--network", "none", "-v"])
            .arg(format!("{}:/var/run/docker.sock", proxy.path().display()))
            .args([toolbox, "sh", "-c", script])
            .output()
            .expect("docker run");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, said) =
        in_toolbox("docker version --format '{{.Client.Version}} {{.Server.Version}}'");
    assert!(ok, "{said}");
    let (ok, said) = in_toolbox(
        "docker run --name hello busybox echo hello from the toolbox && docker ps -a --format '{{.Names}}' && docker rm hello",
    );
    assert!(ok, "{said}");
    assert!(said.contains("hello from the toolbox"), "{said}");
    assert!(said.contains("hello") && !said.contains(&daves), "{said}");
    let (ok, said) = in_toolbox(&format!("docker logs {daves}"));
    assert!(!ok && said.contains("No such container"), "{said}");
    let (ok, said) = in_toolbox("docker run --privileged busybox true");
    assert!(!ok && said.contains("layerlab: "), "{said}");
    let (ok, said) = in_toolbox("docker run -v /:/host busybox true");
    assert!(!ok && said.contains("a mount"), "{said}");
}

/// An image built here with `labels`, tagged `name`; removed with its tag at the end.
fn image_with(name: &str, labels: &[String]) -> String {
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM busybox:latest\nLABEL tag={name}\n"),
    )
    .expect("a Dockerfile");
    let mut build = std::process::Command::new("docker");
    build.args(["build", "-q", "-t", name]);
    for label in labels {
        build.args(["--label", label]);
    }
    let out = build.arg(dir.path()).output().expect("docker build");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `docker image inspect` and `docker history`: the course's base images and the learner's
/// own, by name, id or id's start; anyone else's (or any other image) is "No such image";
/// nothing of the host's paths shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_read_only_when_they_are_the_courses_or_the_learners() {
    let nonce = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let (erin, frank) = (format!("erin-{nonce}"), format!("frank-{nonce}"));
    let (hers, his) = (
        format!("erin-img-{nonce}:1"),
        format!("frank-img-{nonce}:1"),
    );
    let label = |owner: &str| {
        vec![
            format!("org.layerlab.owner={owner}"),
            "org.layerlab.instance=console-test".to_string(),
        ]
    };
    let her_id = image_with(&hers, &label(&erin));
    let his_id = image_with(&his, &label(&frank));
    let _cleanup = Images(vec![hers.clone(), his.clone()]);
    let dir = tempfile::tempdir().expect("a folder");
    let proxy = proxy_for(&erin, &dir);
    let cli = Cli::new();
    for (args, shows) in [
        (
            vec!["history", "--format", "{{.CreatedBy}}", &hers],
            "LABEL tag=",
        ),
        (
            vec!["image", "inspect", "--format", "{{.Id}}", &her_id[7..19]],
            her_id.as_str(),
        ),
        (vec!["history", "-q", "busybox"], ""),
        (
            vec![
                "image",
                "inspect",
                "--format",
                "{{len .RootFS.Layers}} {{json .GraphDriver}}",
                "busybox:latest",
            ],
            "1 {\"Data\":null",
        ),
        (
            vec![
                "inspect",
                "--type",
                "image",
                "--format",
                "{{.Config.Labels}}",
                &hers,
            ],
            "owner",
        ),
    ] {
        let (ok, said) = through(&proxy, &cli, &args);
        assert!(ok, "docker {args:?}: {said}");
        assert!(said.contains(shows), "docker {args:?}: {said}");
    }
    for theirs in [
        his.as_str(),
        &his_id[7..19],
        his_id.as_str(),
        "debian:bookworm",
    ] {
        for args in [vec!["history", theirs], vec!["image", "inspect", theirs]] {
            let (ok, said) = through(&proxy, &cli, &args);
            assert!(!ok, "docker {args:?} is refused: {said}");
            assert!(said.contains("No such image"), "docker {args:?}: {said}");
        }
    }
}

/// Images removed when dropped.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f"])
            .args(&self.0)
            .output();
    }
}
