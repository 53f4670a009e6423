//! The policy's judgement on a table of images, each attack in several spellings. The same
//! attacks run against the real engine in `tests/policy.rs`.

use super::*;

const LEARNER: &str = "aaaa1111";
const OTHER: &str = "bbbb2222";
const INSTANCE: &str = "inst";
const VICTIM_ID: &str = "sha256:b904353a1ca3ab73f652f4872a0290adb957b9838a26015b6e34014ad9e0f2ef";

/// A few images: the base, one of ours, one of another learner's, one with triggers.
struct Table(Vec<(&'static str, ImageInfo)>);

impl Images for Table {
    async fn inspect(&self, reference: &str) -> Result<Option<ImageInfo>, BuildFailure> {
        Ok(self
            .0
            .iter()
            .find(|(name, _)| *name == reference)
            .map(|(_, info)| info.clone()))
    }

    /// The class registry of the table: the entries named by a registry reference.
    async fn pull_own(
        &self,
        repository: &str,
        tag_or_digest: &str,
        login: &RegistryLogin,
    ) -> Result<Option<ImageInfo>, BuildFailure> {
        assert_eq!(
            login.username, HANDLE,
            "pulled with the learner's own login"
        );
        self.inspect(&own_reference(repository, tag_or_digest))
            .await
    }

    async fn release(&self, _reference: &str) {}
}

/// The class registry and the learner's namespace in it.
const REGISTRY: &str = "127.0.0.1:5100";
const HANDLE: &str = "learner-aaaa1111";
const PUSHED_DIGEST: &str =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn image(tag: &str, id: &str, owner: Option<&str>) -> ImageInfo {
    let mut labels = HashMap::new();
    if let Some(owner) = owner {
        let exercise = tag
            .strip_prefix("layerlab/")
            .and_then(|t| t.split(':').next())
            .unwrap_or("x");
        labels.insert(ATTEMPT_LABEL.to_string(), format!("{owner}/{exercise}"));
        labels.insert(INSTANCE_LABEL.to_string(), INSTANCE.to_string());
    }
    ImageInfo {
        id: id.into(),
        tags: vec![tag.into()],
        env: vec!["PATH=/bin".into()],
        on_build: Vec::new(),
        cmd: Vec::new(),
        labels,
        layers: vec![format!("layer-of-{tag}")],
    }
}

fn table() -> Table {
    let mut trigger = image("busybox:triggers", "sha256:5555", None);
    trigger.on_build = vec![format!("COPY --from={} /secret /s", &VICTIM_ID[7..19])];
    let mut url_trigger = image("layerlab/second:ours2", "sha256:6666", Some(LEARNER));
    url_trigger.on_build = vec!["add http://169.254.169.254/latest/meta-data/ /m".into()];
    let mut env_url = image("layerlab/third:ours3", "sha256:7777", Some(LEARNER));
    env_url
        .env
        .push("U=http://127.0.0.1:2375/containers/json".into());
    Table(vec![
        (
            "busybox:latest",
            image("busybox:latest", "sha256:1111", None),
        ),
        ("gcc:12", image("gcc:12", "sha256:2222", None)),
        ("busybox:triggers", trigger),
        (
            "layerlab/first:ours",
            image("layerlab/first:ours", "sha256:3333", Some(LEARNER)),
        ),
        ("layerlab/second:ours2", url_trigger),
        (
            "127.0.0.1:5100/learner-aaaa1111/app:1.0",
            image("127.0.0.1:5100/learner-aaaa1111/app:1.0", "sha256:8888", Some(LEARNER)),
        ),
        (
            "127.0.0.1:5100/learner-aaaa1111/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            image("127.0.0.1:5100/learner-aaaa1111/app:1.0", "sha256:8888", Some(LEARNER)),
        ),
        (
            "127.0.0.1:5100/learner-bbbb2222/app:1.0",
            image("127.0.0.1:5100/learner-bbbb2222/app:1.0", "sha256:9999", Some(OTHER)),
        ),
        ("layerlab/third:ours3", env_url),
        (
            "layerlab/first:victim",
            image("layerlab/first:victim", VICTIM_ID, Some(OTHER)),
        ),
    ])
}

const BASES: &[&str] = &[
    "busybox:latest",
    "gcc:12",
    "busybox:triggers",
    "python:3.11-slim",
];

async fn judge_with(text: &str, files: &[(&str, &[u8])]) -> Result<Approved, BuildFailure> {
    judge_with_args(text, files, &[]).await
}

async fn judge_with_args(
    text: &str,
    files: &[(&str, &[u8])],
    build_args: &[(String, String)],
) -> Result<Approved, BuildFailure> {
    let bases: Vec<String> = BASES.iter().map(|s| s.to_string()).collect();
    let login = RegistryLogin {
        server: REGISTRY.into(),
        username: HANDLE.into(),
        password: "secret".into(),
    };
    let rules = Rules {
        console_prefix: None,
        console_images: &[],
        base_images: &bases,
        learner: Some(LEARNER),
        instance: Some(INSTANCE),
        max_unpacked_bytes: 1 << 30,
        network: false,
        build_args,
        registry: Some(&login),
    };
    let mut all: Vec<(&str, &[u8])> = vec![("Dockerfile", text.as_bytes())];
    all.extend(files.iter().map(|(p, b)| (*p, &b[..])));
    judge(&table(), &rules, text, &all).await
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// The refusal's code, line and message, or a panic saying the attack got through.
fn refused(text: &str) -> (String, Option<u32>, String) {
    match run(judge_with(text, &[])) {
        Ok(approved) => panic!("allowed: {text:?} → {approved:?}"),
        Err(f) => (f.code, f.line, f.message),
    }
}

fn allowed(text: &str) -> Approved {
    match run(judge_with(text, &[])) {
        Ok(a) => a,
        Err(f) => panic!("refused {text:?}: {f:?}"),
    }
}

#[test]
fn urls_are_refused_in_every_spelling() {
    let cases = [
        "FROM busybox\nADD http://127.0.0.1:8080/x /x\n",
        "FROM busybox\nadd HTTP://127.0.0.1/x /x\n",
        "FROM busybox\nAdd https://10.0.0.1/x /x\n",
        "FROM busybox\nADD [\"http://127.0.0.1/\", \"/x\"]\n",
        "FROM busybox\nADD [\"\\u0068ttp://127.0.0.1/\", \"/x\"] trailing\n",
        "FROM busybox\nENV U=http://169.254.169.254/latest\nADD $U /x\n",
        "FROM busybox\nENV U http://169.254.169.254/latest\nADD ${U} /x\n",
        "FROM busybox\nARG U=http://127.0.0.1/\nADD ${U} /x\n",
        "ARG U=http://127.0.0.1/\nFROM busybox\nARG U\nADD $U /x\n",
        "FROM busybox\nENV S=:\nADD http${S}//127.0.0.1/ /x\n",
        "FROM busybox\nADD ${NOPE:-http://127.0.0.1/} /x\n",
        "FROM busybox\nENV A=1\nADD ${A:+http://127.0.0.1/} /x\n",
        "FROM busybox\nADD \"http://127.0.0.1/\" /x\n",
        "FROM busybox\nADD h\\ttp://127.0.0.1/ /x\n",
        "FROM busybox\nADD ht\\\n  tp://127.0.0.1/ /x\n",
        "# escape=`\nFROM busybox\nADD http://127.0.0.1/ `\n  /x\n",
        "FROM busybox\nADD git@github.com:a/b.git /src\n",
        "FROM busybox\nADD git://10.0.0.1/repo.git /src\n",
        "FROM busybox\nADD ftp://10.0.0.1/f /f\n",
        "FROM busybox\nCOPY http://127.0.0.1/ /x\n",
        "FROM busybox\nADD --chown=1:1 http://127.0.0.1/ /x\n",
        "FROM busybox\nONBUILD ADD http://127.0.0.1/ /x\n",
        "FROM layerlab/second:ours2\n",
        "FROM layerlab/third:ours3\nADD $U /x\n",
        // A heredoc is not one to this engine: its body is instructions.
        "FROM busybox\nRUN <<EOF\nADD http://127.0.0.1/ /x\nEOF\n",
    ];
    for text in cases {
        let (code, line, message) = refused(text);
        assert_eq!(code, REMOTE_SOURCE_REFUSED, "{text:?}: {message}");
        assert!(line.is_some(), "{text:?}");
        assert!(message.contains("COPY"), "says what to do: {message}");
        assert!(message.contains("download"), "says why: {message}");
    }
    let (_, line, message) = refused("FROM busybox\n\nADD http://127.0.0.1:8080/x /x\n");
    assert_eq!(line, Some(3));
    assert!(message.starts_with("Line 3: ADD"), "{message}");
    assert!(message.contains("http://127.0.0.1:8080/x"), "{message}");
    let (_, line, message) = refused("FROM layerlab/second:ours2\n");
    assert_eq!(line, Some(1));
    assert!(message.contains("build trigger"), "{message}");
}

#[test]
fn ids_digests_and_other_learners_images_are_refused() {
    let p8 = &VICTIM_ID[7..15];
    let p12 = &VICTIM_ID[7..19];
    let p64 = &VICTIM_ID[7..];
    let cases = [
        format!("FROM busybox\nCOPY --from={p8} /secret /s\n"),
        format!("FROM busybox\nCOPY --from={p12} /secret /s\n"),
        format!("FROM busybox\nCOPY --from={p64} /secret /s\n"),
        format!("FROM busybox\nCOPY --from={VICTIM_ID} /secret /s\n"),
        format!("FROM busybox\nCOPY --from=SHA256:{p8} /secret /s\n"),
        format!("FROM busybox\ncopy --FROM={p8} /secret /s\n"),
        format!(
            "FROM busybox\nCOPY --From={} /secret /s\n",
            p8.to_uppercase()
        ),
        format!("FROM busybox\nCOPY --from=\"{p8}\" /secret /s\n"),
        format!("FROM busybox\nCOPY --fr\\\nom={p8} /secret /s\n"),
        format!("FROM busybox\nCOPY --chown=0à--from={p8} /secret /s\n"),
        format!("FROM busybox\nADD --from={p8} /secret /s\n"),
        format!("FROM {p8}\n"),
        format!("FROM sha256:{p12}\n"),
        format!("FROM {p64}\n"),
        format!("from {p8} AS x\n"),
        format!("ARG B={p8}\nFROM $B\n"),
        format!("ARG B={p8}\nFROM ${{B}}\n"),
        format!("ARG A=sha256\nARG B=${{A}}:{p8}\nFROM ${{B}}\n"),
        format!("ARG B\nFROM ${{B:-{p8}}}\n"),
        format!("FROM busybox\nARG V={p8}\nCOPY --from=$V /secret /s\n"),
        format!("FROM busybox\nENV V={p8}\nCOPY --from=${{V}} /secret /s\n"),
        format!("FROM busybox\nRUN --mount=from={p8},target=/m cat /m/secret\n"),
        format!("FROM busybox\nRUN --mount=type=bind,FROM={p8},target=/m cat /m/secret\n"),
        format!("FROM busybox\nONBUILD COPY --from={p8} /secret /s\n"),
        format!("FROM busybox AS {p8}\nCOPY --from={p8} /secret /s\n"),
        format!("FROM layerlab/first@{VICTIM_ID}\n"),
        format!("FROM busybox@{VICTIM_ID}\n"),
        "FROM layerlab/first:victim\n".to_string(),
        "FROM docker.io/layerlab/first:victim\n".to_string(),
        "FROM busybox\nCOPY --from=layerlab/first:victim /secret /s\n".to_string(),
        "FROM busybox\nCOPY --from=layerlab/first:nosuch /secret /s\n".to_string(),
        "FROM busybox\nCOPY --from=127.0.0.1:5000/evil /a /a\n".to_string(),
        "FROM busybox:triggers\n".to_string(),
        "FROM busybox\nCOPY --from=3 /a /a\n".to_string(),
        "FROM busybox\nCOPY --from=0 /a /a\n".to_string(),
    ];
    for text in &cases {
        let (code, line, message) = refused(text);
        assert_eq!(code, IMAGE_NOT_ALLOWED, "{text:?}: {message}");
        assert!(line.is_some(), "{text:?}");
        assert!(!message.contains("TOPSECRET"), "{message}");
    }
    let (_, line, message) = refused(&format!("FROM busybox\n\nCOPY --from={p8} /secret /s\n"));
    assert_eq!(line, Some(3));
    assert!(message.contains("image id"), "{message}");
    assert!(
        message.contains("busybox:latest"),
        "names what may be used: {message}"
    );
    let (_, _, message) = refused("FROM layerlab/first:victim\n");
    assert!(message.contains("not one of your images"), "{message}");
    // Another learner's image and a tag that exists nowhere get the same answer.
    let (_, _, nosuch) = refused("FROM layerlab/first:nosuch\n");
    assert_eq!(
        message.replace("victim", "X"),
        nosuch.replace("first:nosuch", "first:X")
    );
    let (_, _, message) =
        refused("FROM busybox AS build\nFROM busybox\nARG S=build\nCOPY --from=$S /a /a\n");
    assert!(
        message.contains("without filling in variables"),
        "{message}"
    );
}

#[test]
fn names_the_course_does_not_offer_are_missing_base_images() {
    for text in [
        "FROM alpine:3.19\n",
        "FROM 127.0.0.1:5000/evil:1\n",
        "FROM SCRATCH\n",
        "FROM Busybox\n",
        "ARG B=alpine\nFROM $B\n",
    ] {
        let (code, line, message) = refused(text);
        assert_eq!(code, "missing_base_image", "{text:?}: {message}");
        assert_eq!(line, Some(text.matches('\n').count() as u32), "{text:?}");
        assert!(message.contains("busybox:latest"), "{message}");
        assert!(
            !message.contains("layerlab images seed"),
            "a learner is never told to run an operator's command: {message}"
        );
    }
    // Offered by the course but not on this engine.
    let (code, _, message) = refused("FROM python:3.11-slim\n");
    assert_eq!(code, "missing_base_image");
    assert!(message.contains("not on this engine"), "{message}");
    assert!(
        message.contains("busybox:latest"),
        "names what is there: {message}"
    );
}

#[test]
fn legitimate_builds_are_allowed_and_the_final_base_is_known() {
    let a = allowed("FROM busybox:latest\nRUN echo hi\n");
    assert_eq!(
        a.final_base.as_ref().map(|(r, _)| r.as_str()),
        Some("busybox:latest")
    );
    for text in [
        "FROM busybox\n",
        "FROM docker.io/library/busybox:latest\n",
        "FROM index.docker.io/library/busybox\n",
        "ARG BASE=busybox:latest\nFROM $BASE\n",
        "ARG V=latest\nFROM busybox:${V}\n",
        "ARG B\nFROM ${B:-busybox}\n",
        "FROM gcc:12 AS Build\nRUN echo\nFROM busybox\nCOPY --from=build /a /a\nCOPY --from=BUILD /a /b\nCOPY --from=0 /a /c\n",
        "FROM busybox AS tools\nFROM tools\nRUN true\n",
        "FROM busybox AS tools\nFROM scratch\nCOPY --from=tools /bin/busybox /busybox\n",
        "FROM layerlab/first:ours\nRUN true\n",
        "FROM busybox\nCOPY --from=layerlab/first:ours /a /a\n",
        "FROM busybox\nADD app.tar /app/\nADD local.txt /x\n",
        "FROM busybox\nCOPY [\"a b\", \"/x/\"]\nADD a:b /c\n",
        "FROM busybox\nONBUILD COPY app /app\n",
        "FROM busybox\nRUN --mount=type=cache,target=/root/.cache true\n",
    ] {
        allowed(text);
    }
    let a = allowed("FROM busybox AS tools\nFROM scratch\nCOPY --from=tools /a /a\n");
    assert_eq!(a.final_base, None);
    let a = allowed("FROM layerlab/first:ours AS a\nFROM a\n");
    assert_eq!(
        a.final_base.as_ref().map(|(_, i)| i.id.as_str()),
        Some("sha256:3333")
    );
    // A stage's own ONBUILD lines run when a later stage starts FROM it, and are judged there.
    let (code, line, _) = refused(
        "FROM busybox AS a\nONBUILD COPY --from=tools /a /a\nFROM busybox AS tools\nFROM a\n",
    );
    assert_eq!((code.as_str(), line), (IMAGE_NOT_ALLOWED, Some(2)));
}

#[test]
fn archives_add_would_unpack_are_checked() {
    use archive::tests::{header, tar};
    let honest = tar(&[(header("hello.txt", b'0', 6, ""), b"hello\n".to_vec())]);
    let big = (2u64 << 30).to_string();
    let mut body = Vec::new();
    for (k, v) in [
        ("GNU.sparse.major", "1"),
        ("GNU.sparse.realsize", big.as_str()),
    ] {
        let content = format!(" {k}={v}\n");
        let mut len = content.len() + 1;
        while len.to_string().len() + content.len() != len {
            len = len.to_string().len() + content.len();
        }
        body.extend_from_slice(format!("{len}{content}").as_bytes());
    }
    let sparse = tar(&[
        (header("PaxHeaders/big", b'x', body.len() as u64, ""), body),
        (header("big", b'0', 512, ""), vec![0u8; 512]),
    ]);
    let escaping = tar(&[(header("../../etc/cron.d/x", b'0', 0, ""), vec![])]);
    let ok = run(judge_with(
        "FROM busybox\nADD app.tar /app/\n",
        &[("app.tar", &honest)],
    ));
    assert!(ok.is_ok(), "{ok:?}");
    for (text, file, why) in [
        (
            "FROM busybox\nADD big.tar /x/\n",
            &sparse,
            "declare 2.00 GiB",
        ),
        (
            "FROM busybox\nADD ./sub/../big.tar /x/\n",
            &sparse,
            "declare",
        ),
        ("FROM busybox\nADD b*.tar /x/\n", &sparse, "declare"),
        (
            "FROM busybox\nADD [\"/big.tar\", \"/x/\"]\n",
            &sparse,
            "declare",
        ),
        (
            "FROM busybox\nENV F=big.tar\nADD $F /x/\n",
            &sparse,
            "declare",
        ),
        ("FROM busybox\nADD big.tar /x/\n", &escaping, "climb out"),
    ] {
        let got = run(judge_with(text, &[("big.tar", file)]));
        let failure = got.expect_err(text);
        assert_eq!(failure.code, ARCHIVE_REFUSED, "{text:?}: {failure:?}");
        assert_eq!(failure.line, Some(text.matches('\n').count() as u32));
        assert!(failure.message.contains(why), "{}", failure.message);
        assert!(failure.message.contains("big.tar"), "{}", failure.message);
    }
    // COPY never unpacks, and an archive in a folder ADDed whole is copied as it is.
    for text in [
        "FROM busybox\nCOPY big.tar /x/\n",
        "FROM busybox\nADD . /x/\n",
    ] {
        let got = run(judge_with(text, &[("big.tar", &sparse)]));
        assert!(got.is_ok(), "{text:?}: {got:?}");
    }
    // Two ADDs of one archive unpack it twice: the sizes add up.
    let half = (600u64 << 20).to_string();
    let mut body = Vec::new();
    let content = format!(" GNU.sparse.realsize={half}\n");
    let mut len = content.len() + 1;
    while len.to_string().len() + content.len() != len {
        len = len.to_string().len() + content.len();
    }
    body.extend_from_slice(format!("{len}{content}").as_bytes());
    let medium = tar(&[
        (header("PaxHeaders/m", b'x', body.len() as u64, ""), body),
        (header("m", b'0', 0, ""), vec![]),
    ]);
    assert!(run(judge_with(
        "FROM busybox\nADD m.tar /a/\n",
        &[("m.tar", &medium)]
    ))
    .is_ok());
    let twice = run(judge_with(
        "FROM busybox\nADD m.tar /a/\nADD m.tar /b/\n",
        &[("m.tar", &medium)],
    ));
    assert_eq!(
        twice.map_err(|f| (f.code, f.line)),
        Err((ARCHIVE_REFUSED.to_string(), Some(3)))
    );
}

#[test]
fn reference_forms_normalize_like_the_engine() {
    assert_eq!(
        normalize("busybox").as_deref(),
        Some("docker.io/library/busybox:latest")
    );
    assert_eq!(
        normalize("localhost:5000/app").as_deref(),
        Some("localhost:5000/app:latest")
    );
    assert_eq!(normalize("Busybox"), None);
    assert_eq!(normalize("a/b:"), None);
    assert!(looks_like_id("b904353a"));
    assert!(looks_like_id("sha256:zz"));
    assert!(!looks_like_id("busybox"));
    assert!(is_stage_index("+0") && is_stage_index("-1") && !is_stage_index("1a"));
    assert!(is_remote("GIT@host:repo") && is_remote("s3://b/k") && !is_remote("a:b/c"));
}

#[test]
fn build_arguments_win_over_arg_defaults_as_in_the_engine() {
    let args = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let judge = |text: &str, given: &[(String, String)]| run(judge_with_args(text, &[], given));
    // A default the policy allows, replaced at build time by one it must refuse.
    let victim = args(&[("BASE", "layerlab/first:victim")]);
    for text in [
        "ARG BASE=busybox:latest\nFROM $BASE\n",
        "ARG BASE\nFROM ${BASE}\n",
        "ARG BASE=busybox:latest\nFROM busybox:latest\nARG BASE\nCOPY --from=$BASE /secret /s\n",
        "FROM busybox:latest\nARG BASE=busybox:latest\nCOPY --from=${BASE} /secret /s\n",
    ] {
        let refused = judge(text, &victim).expect_err(text);
        assert!(!refused.message.is_empty(), "{text:?}");
    }
    judge("ARG BASE=busybox:latest\nFROM $BASE\n", &[]).expect("the default is allowed");
    // And the other way: an argument naming an allowed image makes a refused default fine.
    let fine = args(&[("BASE", "busybox:latest")]);
    assert!(judge("ARG BASE=layerlab/first:victim\nFROM $BASE\n", &[]).is_err());
    judge("ARG BASE=layerlab/first:victim\nFROM $BASE\n", &fine).expect("the argument wins");
}

#[test]
fn an_exported_root_filesystem_passes_the_archive_check_once_tidied() {
    // As `docker export` writes it: links to absolute paths, which the check refuses.
    let mut export = ::tar::Builder::new(Vec::new());
    let mut entry = |path: &str, kind: ::tar::EntryType, link: Option<&str>| {
        let mut h = ::tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o755);
        h.set_size(0);
        match link {
            Some(l) => export.append_link(&mut h, path, l).expect("link"),
            None => export.append_data(&mut h, path, &[][..]).expect("entry"),
        }
    };
    entry("bin/", ::tar::EntryType::Directory, None);
    entry("bin/busybox", ::tar::EntryType::Regular, None);
    entry("bin/sh", ::tar::EntryType::Symlink, Some("/bin/busybox"));
    entry(
        "usr/bin/env",
        ::tar::EntryType::Symlink,
        Some("/bin/busybox"),
    );
    entry(".dockerenv", ::tar::EntryType::Regular, None);
    let export = export.into_inner().expect("tar");
    assert!(
        matches!(archive::inspect(&export), archive::Kind::Refused(_)),
        "absolute links are refused as they come"
    );
    let tidy = crate::engine::image::tidy_root_filesystem(&export).expect("tidy");
    assert!(
        matches!(archive::inspect(&tidy), archive::Kind::Tar(_)),
        "the tidied archive is taken"
    );
}

#[test]
fn a_learners_own_pushes_may_be_built_on_by_tag_or_digest_and_no_one_elses() {
    let by_tag = allowed("FROM 127.0.0.1:5100/learner-aaaa1111/app:1.0\nRUN true\n");
    assert_eq!(
        by_tag.pulled,
        ["127.0.0.1:5100/learner-aaaa1111/app:1.0"],
        "pulled, to be taken off the engine after the build"
    );
    assert_eq!(
        by_tag.final_base.as_ref().map(|(_, info)| info.id.as_str()),
        Some("sha256:8888")
    );
    let pinned = allowed(&format!(
        "FROM 127.0.0.1:5100/learner-aaaa1111/app@{PUSHED_DIGEST}\n"
    ));
    assert_eq!(pinned.images[0].1, "sha256:8888");
    // As a stage to copy from, too.
    allowed("FROM busybox\nCOPY --from=127.0.0.1:5100/learner-aaaa1111/app:1.0 /bin/sh /sh\n");
    for (attack, says) in [
        // Another learner's namespace: refused before anything is pulled.
        ("FROM 127.0.0.1:5100/learner-bbbb2222/app:1.0\n", "another namespace"),
        ("FROM busybox\nCOPY --from=127.0.0.1:5100/learner-bbbb2222/app:1.0 / /x\n", "another namespace"),
        ("FROM 127.0.0.1:5100/learner-aaaa11110/app:1.0\n", "another namespace"),
        ("FROM 127.0.0.1:5100/app:1.0\n", "another namespace"),
        // Not pushed (or not that tag).
        ("FROM 127.0.0.1:5100/learner-aaaa1111/app:2.0\n", "does not hold"),
        ("FROM 127.0.0.1:5100/learner-aaaa1111/other\n", "does not hold"),
        // Malformed: path tricks, case, a tag with a digest, a short digest.
        ("FROM 127.0.0.1:5100/learner-aaaa1111/../learner-bbbb2222/app:1.0\n", "no image reference"),
        ("FROM 127.0.0.1:5100/learner-aaaa1111/App:1.0\n", "no image reference"),
        ("FROM 127.0.0.1:5100/learner-aaaa1111/app:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", "no image reference"),
        ("FROM 127.0.0.1:5100/learner-aaaa1111/app@sha256:0123\n", "no image reference"),
        ("FROM 127.0.0.1:5100/learner-aaaa1111//app:1.0\n", "no image reference"),
    ] {
        let (code, _, message) = refused(attack);
        assert_eq!(code, IMAGE_NOT_ALLOWED, "{attack}: {message}");
        assert!(message.contains(says), "{attack}: {message}");
    }
    // Another registry is no way around it: this machine pulls from no other.
    let (code, _, _) = refused("FROM 127.0.0.1:5101/learner-aaaa1111/app:1.0\n");
    assert_eq!(code, "missing_base_image");
}

#[test]
fn layerlabs_own_labels_cannot_be_set_by_a_dockerfile() {
    for text in [
        "FROM busybox\nLABEL org.layerlab.owner=someone-else\n",
        "FROM busybox\nLABEL \"org.layerlab.attempt\"=\"x/y\" tier=web\n",
        "FROM busybox\nLABEL tier=web ORG.LAYERLAB.instance=i\n",
        "FROM busybox\nARG K=org.layerlab.owner\nLABEL $K=someone\n",
        "FROM busybox\nONBUILD LABEL org.layerlab.owner=someone\n",
    ] {
        let (code, line, message) = refused(text);
        assert_eq!(code, super::LABEL_REFUSED, "{text}");
        assert!(line.is_some(), "{text}");
        assert!(message.contains("org.layerlab."), "{message}");
    }
    allowed("FROM busybox\nLABEL org.opencontainers.image.version=1.5.0 com.example.tier=web\n");
}
