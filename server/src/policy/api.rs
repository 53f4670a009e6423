//! The Docker API as a learner's docker CLI speaks it to layerlab's policy proxy (the docker
//! console's door to the engine): which calls go through, each scoped to the learner's own
//! objects, and the words of every refusal, which the CLI prints as the daemon's.
//!
//! This is the table; [`crate::console::proxy`] applies it on the wire. A call not in it is
//! refused. So far the table holds `docker version`, `ps`, `images`; `inspect`, `logs`,
//! `top`, `start`, `stop`, `kill`, `wait` and `rm` of the learner's own containers; and
//! creating one (`run -d`) as [`crate::policy::container`] allows. Attaching, exec, building
//! and pushing come with the console's toolbox.

/// Whose slice of the engine a proxy shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The learner's id: their containers and images carry it as
    /// [`crate::engine::builder::OWNER_LABEL`].
    pub owner: String,
    /// The installation (its janitor cleans what carries it).
    pub instance: String,
    /// The course's base images (`busybox:1.35`), which any learner may run.
    pub base_images: Vec<String>,
    /// The class registry's address (`127.0.0.1:5100`), where the learner's namespace is
    /// `<address>/<handle>/`; `None` when there is none.
    pub registry: Option<String>,
    /// The images the learner's console built here.
    pub built: BuiltHere,
}

/// The ids of the images a learner's console built here, as the database keeps them (their
/// images carry no labels of layerlab's): read when the console opens, and added to by each
/// build of theirs. Every copy of a [`Scope`] shares one.
#[derive(Clone, Debug, Default)]
pub struct BuiltHere(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl BuiltHere {
    pub fn new(ids: impl IntoIterator<Item = String>) -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(
            ids.into_iter().collect(),
        )))
    }

    /// Whether the learner's console built the image `id` (`sha256:…`).
    pub fn contains(&self, id: &str) -> bool {
        crate::sync::lock(&self.0).contains(id)
    }

    pub fn insert(&self, id: &str) {
        crate::sync::lock(&self.0).insert(id.to_string());
    }

    pub fn ids(&self) -> Vec<String> {
        crate::sync::lock(&self.0).iter().cloned().collect()
    }
}

impl PartialEq for BuiltHere {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
            || *crate::sync::lock(&self.0) == *crate::sync::lock(&other.0)
    }
}

impl Eq for BuiltHere {}

impl Scope {
    /// What the engine calls the learner's container `name`: names are the engine's, so each
    /// learner's get a prefix of their own (two learners can both have a `web`).
    pub fn engine_name(&self, name: &str) -> String {
        format!("{}-{name}", crate::registry::handle_of(&self.owner))
    }

    /// `text` (an engine's error, a build's log) with the learner's names as they typed them:
    /// without the prefixes the engine knows their containers and images by.
    pub fn unprefixed(&self, text: &str) -> String {
        let containers = self.engine_name("");
        text.replace(&self.image_prefix(), "")
            .replace(&format!("/{containers}"), "/")
            .replace(&containers, "")
    }

    /// What every image name the learner gives starts with on the engine (`learner-…/`):
    /// two learners can both have a `web:latest`.
    /// The installation's mark is in it, so that what one installation's consoles leave can
    /// be told from another's on a shared engine (an image of the course's can carry the
    /// names of learners of both).
    pub fn image_prefix(&self) -> String {
        format!(
            "{}-{}/",
            crate::registry::handle_of(&self.owner),
            instance_mark(&self.instance)
        )
    }

    /// Whether `name` (`busybox`, `busybox:1.35`) is one of the course's base images.
    pub fn is_base_image(&self, name: &str) -> bool {
        let full = if has_tag(name) {
            name.to_string()
        } else {
            format!("{name}:latest")
        };
        self.base_images.contains(&full)
    }

    /// The learner's namespace in the class registry (`127.0.0.1:5100/learner-…/`), if
    /// there is a class registry.
    pub fn namespace(&self) -> Option<String> {
        Some(format!(
            "{}/{}/",
            self.registry.as_deref()?,
            crate::registry::handle_of(&self.owner)
        ))
    }

    /// The engine's name for the image name `typed` the learner gives a build or a tag
    /// (`web`, `web:1`, `team/web:1`), `:latest` added; or why it cannot be one of theirs.
    /// A name in their namespace of the class registry is the engine's name as it is (it is
    /// theirs alone, and a push needs it so).
    pub fn engine_image(&self, typed: &str) -> Result<String, String> {
        let (name, tag) = match typed.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, tag),
            _ => (typed, "latest"),
        };
        let mut components: Vec<&str> = name.split('/').collect();
        let first = components.first().copied().unwrap_or_default();
        let host_like = !first.starts_with('.')
            && first
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c));
        let mut in_namespace = false;
        if components.len() > 1
            && host_like
            && (first.contains('.') || first.contains(':') || first == "localhost")
        {
            let namespace = self.namespace();
            let own = namespace
                .as_deref()
                .is_some_and(|ns| format!("{name}/").starts_with(ns) && name.len() > ns.len());
            match namespace {
                Some(_) if own => {
                    // (The registry and the handle are layerlab's: the rest is checked below.)
                    components.drain(..2);
                    in_namespace = true;
                }
                Some(ns) if Some(first) == self.registry.as_deref() => {
                    return Err(format!(
                        "layerlab: “{typed}” is in another namespace of the class registry; yours is {ns} (docker tag web {ns}web:1)."
                    ))
                }
                Some(ns) => {
                    return Err(format!(
                        "layerlab: “{typed}” names the registry {first}; the one registry here is the class registry, where your namespace is {ns} (docker tag web {ns}web:1)."
                    ))
                }
                None => {
                    return Err(format!(
                        "layerlab: “{typed}” names the registry {first}; this console's images are named without one (docker build -t web ., docker tag web web:2)."
                    ))
                }
            }
        }
        let tag_ok = crate::registry::is_tag(tag);
        let name_ok = name.len() <= 128
            && components
                .iter()
                .all(|c| crate::registry::is_path_component(c));
        if !name_ok || !tag_ok {
            return Err(format!(
                "invalid reference format: “{typed}” (layerlab: an image name is lowercase letters, digits and . _ - in parts split by /, then :tag)"
            ));
        }
        if in_namespace {
            return Ok(format!("{name}:{tag}"));
        }
        if first == UNTAGGED_REPOSITORY {
            return Err(format!(
                "layerlab: “{UNTAGGED_REPOSITORY}” is a name layerlab keeps for images built without -t; give yours another."
            ));
        }
        if self.is_base_image(&format!("{name}:{tag}")) {
            return Err(format!(
                "layerlab: {name}:{tag} is one of the course's base images ({}); give your image another name.",
                self.base_images.join(", ")
            ));
        }
        Ok(format!("{}{name}:{tag}", self.image_prefix()))
    }

    /// `dockerfile` with the images it names literally (`FROM web:1`, `COPY --from=web …`)
    /// that are neither a stage, `scratch`, a base image nor in a registry, named as the
    /// engine knows the learner's (`FROM learner-…/web:1`): the build policy then judges,
    /// and the engine builds, the very same text. A name with a variable in it is left as it
    /// is (the policy judges it as written), but the default of a global `ARG` that a `FROM`
    /// names whole (`ARG BASE=web:1` … `FROM $BASE`) is rewritten the same way.
    pub fn with_own_names(&self, dockerfile: &str) -> String {
        let mut stages: Vec<String> = Vec::new();
        let mut lines: Vec<String> = dockerfile.lines().map(str::to_string).collect();
        let instructions = app::dockerfile::instructions(dockerfile);
        let (from_args, every_stage) = from_args_and_stages(&instructions);
        let mut global = true;
        let own = |reference: &str, stages: &[String]| -> Option<String> {
            let lower = reference.to_ascii_lowercase();
            let plain = !reference.contains('$')
                && lower != "scratch"
                && !stages.contains(&lower)
                && !reference.bytes().all(|b| b.is_ascii_digit())
                && !self.is_base_image(reference);
            plain
                .then(|| self.engine_image(reference).ok())
                .flatten()
                .filter(|name| !self.in_namespace(name))
        };
        for instruction in instructions {
            let Some(line) = (instruction.line as usize)
                .checked_sub(1)
                .and_then(|i| lines.get_mut(i))
            else {
                continue;
            };
            // (Only an instruction on one line of its own is rewritten.)
            if line.trim_end().ends_with('\\') {
                continue;
            }
            match instruction.keyword.to_ascii_uppercase().as_str() {
                "ARG" if global => {
                    let Some((name, value)) = instruction.args.trim().split_once('=') else {
                        continue;
                    };
                    let plain = !value.is_empty()
                        && !value.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'');
                    if plain && from_args.iter().any(|a| a == name) {
                        if let Some(own) = own(value, &every_stage) {
                            *line = line.replacen(&format!("={value}"), &format!("={own}"), 1);
                        }
                    }
                }
                "FROM" => {
                    global = false;
                    let words: Vec<&str> = instruction.args.split_whitespace().collect();
                    let Some(reference) = words.iter().find(|w| !w.starts_with("--")) else {
                        continue;
                    };
                    if let Some(i) = words.iter().position(|w| w.eq_ignore_ascii_case("as")) {
                        if let Some(name) = words.get(i + 1) {
                            stages.push(name.to_ascii_lowercase());
                        }
                    }
                    let reference = reference.to_string();
                    if let Some(name) = own(&reference, &stages) {
                        *line = replace_word(line, &reference, &name);
                    }
                }
                "COPY" => {
                    let Some(from) = instruction
                        .args
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("--from="))
                    else {
                        continue;
                    };
                    let from = from.to_string();
                    if let Some(name) = own(&from, &stages) {
                        *line =
                            line.replacen(&format!("--from={from}"), &format!("--from={name}"), 1);
                    }
                }
                _ => {}
            }
        }
        let mut text = lines.join("\n");
        if dockerfile.ends_with('\n') {
            text.push('\n');
        }
        text
    }

    /// `--build-arg NAME=web:1` for a global `ARG` that a `FROM` names whole: the learner's
    /// own image, named as the engine knows it (as [`Scope::with_own_names`] does for the
    /// `ARG`'s default). Other build arguments are left as they are.
    pub fn with_own_build_args(
        &self,
        dockerfile: &str,
        args: Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        let (from_args, stages) = from_args_and_stages(&app::dockerfile::instructions(dockerfile));
        args.into_iter()
            .map(|(name, value)| {
                let lower = value.to_ascii_lowercase();
                let own = (from_args.contains(&name)
                    && !value.contains('$')
                    && lower != "scratch"
                    && !stages.contains(&lower)
                    && !self.is_base_image(&value))
                .then(|| self.engine_image(&value).ok())
                .flatten()
                .filter(|n| !self.in_namespace(n));
                (name, own.unwrap_or(value))
            })
            .collect()
    }

    /// Whether the engine's image name `name` is one the learner gave: under their prefix,
    /// or in their namespace of the class registry.
    pub fn is_own_name(&self, name: &str) -> bool {
        name.starts_with(&self.image_prefix()) || self.in_namespace(name)
    }

    /// Whether the image `id`, named `tags` on the engine, is the learner's by their
    /// console's account: built (or pulled back) there, and not since left to others — it
    /// bears one of their names, or no name at all (their `<none>`). Two learners whose
    /// builds take the same steps end on one image: once one has taken off their last name,
    /// it is the other's alone.
    pub fn built_own<'a>(&self, id: &str, tags: impl Iterator<Item = &'a str>) -> bool {
        if !self.built.contains(id) {
            return false;
        }
        let mut named = false;
        for tag in tags.filter(|t| *t != "<none>:<none>") {
            if self.is_own_name(tag) {
                return true;
            }
            named = true;
        }
        !named
    }

    /// Whether `name` is in the learner's namespace of the class registry.
    pub fn in_namespace(&self, name: &str) -> bool {
        self.namespace()
            .is_some_and(|ns| name.starts_with(&ns) && name.len() > ns.len())
    }

    /// The names, most likely first, under which the engine may hold the image `typed` names
    /// for the learner (a base image, one of their own names, an id or another of their
    /// images' names): each must still be checked to be theirs to use.
    pub fn image_candidates(&self, typed: &str) -> Vec<String> {
        if !plausible_reference(typed) {
            return Vec::new();
        }
        if self.is_base_image(typed) {
            return vec![typed.to_string()];
        }
        match self.engine_image(typed) {
            Ok(own) if self.in_namespace(&own) => vec![own],
            Ok(own) => vec![own, typed.to_string()],
            Err(_) => vec![typed.to_string()],
        }
    }

    /// The engine's image name `engine` as the learner sees it: their own without the prefix;
    /// `None` for a name that is not theirs to see (another learner's, or the one an image
    /// built without -t is kept under).
    pub fn shown_image(&self, engine: &str, own_image: bool) -> Option<String> {
        let prefix = self.image_prefix();
        if let Some(short) = engine.strip_prefix(&prefix) {
            return (!short.starts_with(&format!("{UNTAGGED_REPOSITORY}:")))
                .then(|| short.to_string());
        }
        if self.in_namespace(engine) {
            return Some(engine.to_string());
        }
        if self.base_images.iter().any(|b| b == engine) || engine == "<none>:<none>" {
            return Some(engine.to_string());
        }
        // (The workbench's names of the learner's attempts.)
        (own_image && engine.starts_with("layerlab/")).then(|| engine.to_string())
    }
}

/// The part of the installation's id in its learners' image names (8 letters or digits).
pub fn instance_mark(instance: &str) -> String {
    instance
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(8)
        .collect()
}

/// The repository (under the learner's prefix) an image built without `-t` is kept under:
/// the learner sees it untagged, as on a laptop.
pub const UNTAGGED_REPOSITORY: &str = "layerlab-untagged";

/// Whether `typed` could name an image (a reference or an id) at all: asked of the engine,
/// nothing else could mean another call (`..`, `?`, `#` in a path).
pub fn plausible_reference(typed: &str) -> bool {
    !typed.is_empty()
        && typed.len() <= 256
        && !typed.starts_with(['/', '.', '-'])
        && !typed.contains("..")
        && !typed.contains("//")
        && typed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/@-".contains(c))
}

/// The names of the `ARG`s a `FROM` names whole (`FROM $BASE`, `FROM ${BASE} AS b`) and
/// that no stage declares again (there its value would reach the image: `RUN echo $BASE`,
/// with the engine's name of the learner's image in it), and every stage's name (`AS …`, in
/// lower case).
fn from_args_and_stages(
    instructions: &[app::dockerfile::Instruction],
) -> (Vec<String>, Vec<String>) {
    let mut args = Vec::new();
    let mut stages = Vec::new();
    let mut in_stages = Vec::new();
    let mut stage_begun = false;
    for instruction in instructions {
        if instruction.keyword.eq_ignore_ascii_case("arg") && stage_begun {
            let name = instruction.args.trim();
            let name = name.split(['=', ' ', '\t']).next().unwrap_or(name);
            in_stages.push(name.to_string());
        }
        if !instruction.keyword.eq_ignore_ascii_case("from") {
            continue;
        }
        stage_begun = true;
        let words: Vec<&str> = instruction.args.split_whitespace().collect();
        if let Some(reference) = words.iter().find(|w| !w.starts_with("--")) {
            let name = reference
                .strip_prefix("${")
                .and_then(|r| r.strip_suffix('}'))
                .or_else(|| reference.strip_prefix('$'));
            if let Some(name) = name.filter(|n| {
                !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }) {
                args.push(name.to_string());
            }
        }
        if let Some(i) = words.iter().position(|w| w.eq_ignore_ascii_case("as")) {
            if let Some(name) = words.get(i + 1) {
                stages.push(name.to_ascii_lowercase());
            }
        }
    }
    args.retain(|a| !in_stages.contains(a));
    (args, stages)
}

/// `line` with its first whole word `word` replaced by `with`.
fn replace_word(line: &str, word: &str, with: &str) -> String {
    let mut start = 0;
    while let Some(found) = line[start..].find(word) {
        let at = start + found;
        let end = at + word.len();
        let before = line[..at].chars().last().is_none_or(char::is_whitespace);
        let after = line[end..].chars().next().is_none_or(char::is_whitespace);
        if before && after {
            return format!("{}{with}{}", &line[..at], &line[end..]);
        }
        start = end;
    }
    line.to_string()
}

/// Whether an image name ends in a `:tag` (a `:` after the last `/`).
fn has_tag(name: &str) -> bool {
    name.rsplit_once(':')
        .is_some_and(|(_, tag)| !tag.contains('/'))
}

/// What becomes of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send it to the engine with this path and query.
    Forward(String),
    /// Send it once `container` (a name, an id or an id's start, as typed) names one of the
    /// learner's own containers: `before` + its full id + `after` is the path to send.
    OwnContainer {
        container: String,
        before: String,
        after: String,
    },
    /// A call on a command run in a container (`docker exec`): sent once `exec` is of one of
    /// the learner's own containers; `before` + `exec` + `after` is the path to send.
    OwnExec {
        exec: String,
        before: String,
        after: String,
    },
    /// A call on an image (`docker image inspect`, `docker history`): sent once `image` (a
    /// name, an id or an id's start) names one of the course's base images or one of the
    /// learner's own; `before` + its id + `after` is the path to send.
    OwnImage {
        image: String,
        before: String,
        after: String,
    },
    /// Create a container: the body goes through [`crate::policy::container::create`], the
    /// name (if any) gets the learner's prefix, and `path` is where to send it.
    Create { path: String, name: Option<String> },
    /// `docker build`: the context is built as the workbench builds (the build policy, its
    /// limits, a turn among the builders); `query` holds the CLI's options.
    Build { query: String },
    /// `docker tag`: once `image` is one the learner may use, it gets the name `query` asks
    /// for (`repo`, `tag`), under the learner's prefix.
    TagImage { image: String, query: String },
    /// `docker rmi`: once `image` names one of the learner's own images (by one of their
    /// names, or an id none but theirs name), it is untagged or removed.
    RemoveImage { image: String, query: String },
    /// `docker push`: `image` (with `query`'s tag) must be in the learner's namespace of the
    /// class registry; it is pushed with their own login, whatever the CLI sent.
    Push { image: String, query: String },
    /// `docker pull`: only from the learner's namespace of the class registry, with their
    /// own login.
    Pull { query: String },
    /// `docker login`: the class registry's answer is that the learner is logged in (the
    /// proxy logs in for them); any other registry is refused.
    Login,
    /// Answer `status` with `message` (`{"message": …}`, which the CLI prints).
    Refuse { status: u16, message: String },
}

/// The API version prefix a client may put first (`/v1.41`), if any, and the rest.
fn without_version(path: &str) -> (&str, &str) {
    if let Some(rest) = path.strip_prefix("/v") {
        let end = rest.find('/').unwrap_or(rest.len());
        let version = &rest[..end];
        let numeric = !version.is_empty()
            && version.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && version.contains('.');
        if numeric {
            return (&path[..end + 2], &path[end + 2..]);
        }
    }
    ("", path)
}

/// The decision for `method` on `path_and_query` (`/v1.41/containers/json?all=1`) in `scope`.
pub fn decide(method: &str, path_and_query: &str, scope: &Scope) -> Decision {
    let (path, query) = path_and_query
        .split_once('?')
        .map_or((path_and_query, ""), |(p, q)| (p, q));
    let (version, rest) = without_version(path);
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let reads = method == "GET" || method == "HEAD";
    match segments.as_slice() {
        ["_ping"] if reads => Decision::Forward(path_and_query.to_string()),
        ["version"] if reads => Decision::Forward(path_and_query.to_string()),
        ["images", "json"] if reads => match image_filters(query, scope) {
            Ok(query) => Decision::Forward(format!("{path}?{query}")),
            Err(message) => Decision::Refuse {
                status: 400,
                message,
            },
        },
        ["build"] if method == "POST" => Decision::Build {
            query: query.to_string(),
        },
        ["session"] => Decision::Refuse {
            status: 403,
            message: "layerlab: this console builds with the classic builder, not BuildKit: leave DOCKER_BUILDKIT unset (or set it to 0).".into(),
        },
        ["images", name @ .., "push"] if method == "POST" && !name.is_empty() => {
            Decision::Push {
                image: percent_decoded(&name.join("/")),
                query: query.to_string(),
            }
        }
        ["images", "create"] if method == "POST" => Decision::Pull {
            query: query.to_string(),
        },
        ["auth"] if method == "POST" => Decision::Login,
        ["images", name @ .., "tag"] if method == "POST" && !name.is_empty() => {
            Decision::TagImage {
                image: percent_decoded(&name.join("/")),
                query: query.to_string(),
            }
        }
        ["images", name @ ..] if method == "DELETE" && !name.is_empty() => {
            Decision::RemoveImage {
                image: percent_decoded(&name.join("/")),
                query: query.to_string(),
            }
        }
        ["containers", "json"] if reads => {
            // (`size` would have the engine walk every container's files: not for a listing.)
            match with_owner_filter(query, &scope.owner, true) {
                Ok(query) => Decision::Forward(format!("{path}?{query}")),
                Err(message) => Decision::Refuse {
                    status: 400,
                    message,
                },
            }
        }
        ["containers", container, "top"] if reads => {
            // `ps_args` goes to a `ps` the engine runs on the host: options only.
            let args_ok = form_urlencoded::parse(query.as_bytes())
                .filter(|(k, _)| k == "ps_args")
                .all(|(_, v)| {
                    // (No `=`: a column renamed `PID` would make the engine pick the
                    // container's processes out by another column, the host's with them.)
                    v.len() <= 64
                        && v
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || " ,-".contains(c))
                });
            if !args_ok {
                return Decision::Refuse {
                    status: 400,
                    message: "layerlab: docker top takes ps options here (letters, digits, spaces, commas and -; columns keep their names)".into(),
                };
            }
            own_container(version, container, "/top", query)
        }
        ["containers", container, what @ ("json" | "logs")] if reads => {
            own_container(version, container, &format!("/{what}"), query)
        }
        ["containers", "create"] if method == "POST" => {
            let name = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "name")
                .map(|(_, v)| v.into_owned())
                .filter(|n| !n.is_empty());
            if let Some(name) = &name {
                let valid = name.len() <= 64
                    && name.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
                if !valid {
                    return Decision::Refuse {
                        status: 400,
                        message: format!("layerlab: “{name}” is not a container name (letters, digits, _ . -, at most 64)"),
                    };
                }
            }
            Decision::Create {
                path: format!("{version}/containers/create"),
                name,
            }
        }
        ["containers", container, what @ ("start" | "stop" | "kill" | "restart" | "wait" | "pause" | "unpause" | "attach" | "resize")]
            if method == "POST" =>
        {
            own_container(version, container, &format!("/{what}"), query)
        }
        ["containers", container, "exec"] if method == "POST" => {
            own_container(version, container, "/exec", query)
        }
        // An exec's id is the engine's: letters and digits only (nothing a path could hide in).
        ["exec", exec, ..] if !exec.bytes().all(|b| b.is_ascii_alphanumeric()) || exec.is_empty() => {
            Decision::Refuse {
                status: 404,
                message: format!("No such exec instance: {exec}"),
            }
        }
        ["exec", exec, what @ ("start" | "resize")] if method == "POST" => Decision::OwnExec {
            exec: exec.to_string(),
            before: format!("{version}/exec/"),
            after: with_query(&format!("/{what}"), query),
        },
        ["exec", exec, "json"] if reads => Decision::OwnExec {
            exec: exec.to_string(),
            before: format!("{version}/exec/"),
            after: with_query("/json", query),
        },
        ["containers", container] if method == "DELETE" => {
            own_container(version, container, "", query)
        }
        // An image's name may hold slashes (`layerlab/hello:1`): all but the last segment.
        ["images", name @ .., what @ ("json" | "history")] if reads && !name.is_empty() => {
            Decision::OwnImage {
                image: percent_decoded(&name.join("/")),
                before: format!("{version}/images/"),
                after: with_query(&format!("/{what}"), query),
            }
        }
        _ => Decision::Refuse {
            status: 403,
            message: format!(
                "layerlab: this workshop's console does not forward {method} {rest} to the engine. It answers docker version, ps, run, start, stop, kill, rm, attach, exec, inspect, logs and top of your own containers; docker build, images, tag, rmi, push and pull of your own images (push and pull to your namespace of the class registry); and image inspect and history of the course's images and yours."
            ),
        },
    }
}

/// What the engine answers, as the learner sees it: their containers under their own names
/// (`web`, not the engine's `learner-…-web`), and none of the host's paths an inspection
/// shows (where the engine keeps the container's files and logs). `Some` when the answer to
/// the call `path` (as sent to the engine) is rewritten so.
pub fn as_shown(
    path: &str,
    answer: &serde_json::Value,
    scope: &Scope,
) -> Option<serde_json::Value> {
    let call = shown_call(path)?;
    let prefix = format!("/{}", scope.engine_name(""));
    let own_name = |name: &str| -> String {
        match name.strip_prefix(&prefix) {
            Some(short) if !short.is_empty() => format!("/{short}"),
            _ => name.to_string(),
        }
    };
    let mut shown = answer.clone();
    match call {
        ShownCall::Listing => {
            for container in shown.as_array_mut()? {
                // Published ports as the engine would list them (layerlab serves them).
                let published = container
                    .pointer(&format!(
                        "/Labels/{}",
                        crate::policy::container::PORTS_LABEL.replace('/', "~1")
                    ))
                    .and_then(|l| l.as_str())
                    .map(crate::policy::container::ports_of_label)
                    .unwrap_or_default();
                if !published.is_empty() {
                    let ports: Vec<serde_json::Value> = published
                        .iter()
                        .map(|p| {
                            serde_json::json!({"IP": "0.0.0.0", "PrivatePort": p.container, "PublicPort": p.host, "Type": "tcp"})
                        })
                        .collect();
                    container["Ports"] = serde_json::Value::Array(ports);
                }
                let typed = container
                    .pointer(&format!(
                        "/Labels/{}",
                        crate::policy::container::IMAGE_LABEL.replace('/', "~1")
                    ))
                    .and_then(|l| l.as_str())
                    .map(str::to_string);
                if let Some(image) = container.get("Image").and_then(|i| i.as_str()) {
                    let image = image.strip_prefix(&scope.image_prefix()).unwrap_or(image);
                    container["Image"] =
                        serde_json::Value::String(typed.unwrap_or_else(|| image.to_string()));
                }
                if let Some(names) = container.get_mut("Names").and_then(|n| n.as_array_mut()) {
                    for name in names {
                        if let Some(text) = name.as_str() {
                            *name = serde_json::Value::String(own_name(text));
                        }
                    }
                }
            }
        }
        ShownCall::ImageInspection => {
            // Where the engine keeps the layers' files, on the host.
            let image = shown.as_object_mut()?;
            image.remove("GraphDriver");
            let labels = image.get("Config").and_then(|c| c.get("Labels")).cloned();
            let own = scope.owns_image(image, labels.as_ref());
            scope.show_image_names(image, own);
        }
        ShownCall::History => {
            // The steps layerlab adds for its own labels (each a `LABEL org.layerlab.…`, no
            // layer) are not the learner's: the image's own id and names go on the step below.
            let rows = shown.as_array_mut()?;
            let top = rows.first().cloned();
            let internal = |row: &serde_json::Value| {
                row.get("CreatedBy")
                    .and_then(|c| c.as_str())
                    // (One step per label, `LABEL org.layerlab.…`, or all in one line,
                    // `LABEL "org.layerlab.…"=…`: a learner's own LABEL cannot name ours.)
                    .is_some_and(|c| c.contains(" LABEL ") && c.contains("org.layerlab."))
            };
            let before = rows.len();
            rows.retain(|row| !internal(row));
            let dropped = rows.len() < before;
            if let (Some(top), Some(first)) = (top.filter(|_| dropped), rows.first_mut()) {
                first["Id"] = top["Id"].clone();
                first["Tags"] = top["Tags"].clone();
            }
            for row in rows.iter_mut() {
                if let Some(tags) = row.get_mut("Tags").and_then(|t| t.as_array_mut()) {
                    let shown: Vec<serde_json::Value> = tags
                        .iter()
                        .filter_map(|t| t.as_str())
                        .filter_map(|t| scope.shown_image(t, true))
                        .map(serde_json::Value::String)
                        .collect();
                    *tags = shown;
                }
            }
        }
        ShownCall::ImageListing => {
            let listed = std::mem::take(shown.as_array_mut()?);
            let mut kept = Vec::new();
            for mut image in listed {
                let Some(fields) = image.as_object_mut() else {
                    continue;
                };
                let own = scope.owns_image(fields, fields.get("Labels"));
                let base = fields
                    .get("RepoTags")
                    .and_then(|t| t.as_array())
                    .is_some_and(|tags| {
                        tags.iter()
                            .filter_map(|t| t.as_str())
                            .any(|t| scope.base_images.iter().any(|b| b == t))
                    });
                if own || base {
                    scope.show_image_names(fields, own);
                    kept.push(image);
                }
            }
            shown = serde_json::Value::Array(kept);
        }
        ShownCall::Inspection => {
            let container = shown.as_object_mut()?;
            if let Some(name) = container.get("Name").and_then(|n| n.as_str()) {
                let name = own_name(name);
                container.insert("Name".into(), name.into());
            }
            for host_path in ["LogPath", "ResolvConfPath", "HostnamePath", "HostsPath"] {
                if container.contains_key(host_path) {
                    container.insert(host_path.into(), "".into());
                }
            }
            container.remove("GraphDriver");
            if let Some(config) = container.get_mut("Config").and_then(|c| c.as_object_mut()) {
                let typed = config
                    .get("Labels")
                    .and_then(|l| l.get(crate::policy::container::IMAGE_LABEL))
                    .and_then(|l| l.as_str())
                    .map(str::to_string);
                if let Some(image) = config.get("Image").and_then(|i| i.as_str()) {
                    let image = image
                        .strip_prefix(&scope.image_prefix())
                        .unwrap_or(image)
                        .to_string();
                    config.insert("Image".into(), typed.unwrap_or(image).into());
                }
            }
            let published = container
                .get("Config")
                .and_then(|c| c.get("Labels"))
                .and_then(|l| l.get(crate::policy::container::PORTS_LABEL))
                .and_then(|l| l.as_str())
                .map(crate::policy::container::ports_of_label)
                .unwrap_or_default();
            if !published.is_empty() {
                let bindings: serde_json::Map<String, serde_json::Value> = published
                    .iter()
                    .map(|p| {
                        (
                            format!("{}/tcp", p.container),
                            serde_json::json!([{"HostIp": "0.0.0.0", "HostPort": p.host.to_string()}]),
                        )
                    })
                    .collect();
                let running = container
                    .get("State")
                    .and_then(|s| s.get("Running"))
                    .and_then(|r| r.as_bool())
                    .unwrap_or(false);
                if let Some(host) = container
                    .get_mut("HostConfig")
                    .and_then(|h| h.as_object_mut())
                {
                    host.insert("PortBindings".into(), bindings.clone().into());
                }
                if running {
                    if let Some(network) = container
                        .get_mut("NetworkSettings")
                        .and_then(|n| n.as_object_mut())
                    {
                        network.insert("Ports".into(), bindings.into());
                    }
                }
            }
        }
    }
    Some(shown)
}

/// The calls whose answers [`as_shown`] rewrites.
enum ShownCall {
    History,
    Listing,
    Inspection,
    ImageListing,
    ImageInspection,
}

impl Scope {
    /// Whether `image` (its `Id` and `RepoTags`) with these labels (`Labels` of a listing,
    /// `Config.Labels` of an inspection) is one of the learner's own, made here: labelled
    /// theirs (the workbench's builds, and a console's before migration 0011), or their
    /// console's ([`Scope::built_own`]).
    fn owns_image(
        &self,
        image: &serde_json::Map<String, serde_json::Value>,
        labels: Option<&serde_json::Value>,
    ) -> bool {
        use crate::engine::builder::{INSTANCE_LABEL, OWNER_LABEL};
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(|v| v.as_str());
        let labelled = label(OWNER_LABEL) == Some(self.owner.as_str())
            && label(INSTANCE_LABEL) == Some(self.instance.as_str());
        let tags = image
            .get("RepoTags")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str());
        labelled
            || image
                .get("Id")
                .and_then(|i| i.as_str())
                .is_some_and(|id| self.built_own(id, tags))
    }

    /// An image's `RepoTags` and `RepoDigests` as the learner sees them ([`Scope::shown_image`]).
    fn show_image_names(&self, image: &mut serde_json::Map<String, serde_json::Value>, own: bool) {
        for field in ["RepoTags", "RepoDigests"] {
            if let Some(names) = image.get_mut(field).and_then(|n| n.as_array_mut()) {
                let shown: Vec<serde_json::Value> = names
                    .iter()
                    .filter_map(|n| n.as_str())
                    .filter_map(|n| match field {
                        "RepoTags" => self.shown_image(n, own),
                        // (Digests name where an image was pushed: the learner's own images',
                        // in their own namespace; `<none>@<none>` is what an image without
                        // a name has.)
                        _ => (own && (self.in_namespace(n) || n == "<none>@<none>"))
                            .then(|| n.to_string()),
                    })
                    .map(serde_json::Value::String)
                    .collect();
                *names = shown;
            }
        }
    }
}

/// The parts of the path of a call as sent to the engine, after its API version.
fn segments_of(path: &str) -> Vec<&str> {
    let path = path.split('?').next().unwrap_or(path);
    let (_, rest) = without_version(path);
    rest.trim_start_matches('/').split('/').collect()
}

fn shown_call(path: &str) -> Option<ShownCall> {
    match segments_of(path).as_slice() {
        ["containers", "json"] => Some(ShownCall::Listing),
        ["containers", _, "json"] => Some(ShownCall::Inspection),
        ["images", "json"] => Some(ShownCall::ImageListing),
        ["images", _, "history"] => Some(ShownCall::History),
        ["images", _, "json"] => Some(ShownCall::ImageInspection),
        _ => None,
    }
}

/// Whether the call `path` (as sent to the engine) attaches to a container: its connection
/// then carries the container's input and output both ways.
pub fn is_attach(path: &str) -> bool {
    matches!(
        segments_of(path).as_slice(),
        ["containers", _, "attach"] | ["exec", _, "start"]
    )
}

/// Whether the answer to the call `path` (as sent to the engine) is rewritten by
/// [`as_shown`] before the learner gets it.
pub fn is_shown(path: &str) -> bool {
    shown_call(path).is_some()
}

/// A call on one of the learner's containers: `<version>/containers/<its id><after>?<query>`.
fn own_container(version: &str, container: &str, after: &str, query: &str) -> Decision {
    Decision::OwnContainer {
        container: percent_decoded(container),
        before: format!("{version}/containers/"),
        after: with_query(after, query),
    }
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// Whether the call `path` (as sent to the engine) creates a command to run in a container
/// (`docker exec`): its body is checked by [`crate::policy::container::exec`].
pub fn is_exec_create(path: &str) -> bool {
    matches!(segments_of(path).as_slice(), ["containers", _, "exec"])
}

/// `query` with the learner's owner label added to its `filters` (the engine then lists only
/// what carries it), whatever else it filters on; or why the filters cannot be read.
fn with_owner_filter(query: &str, owner: &str, console_only: bool) -> Result<String, String> {
    let owner_label = format!("{}={owner}", crate::engine::builder::OWNER_LABEL);
    refiltered(query, |filters| {
        let labels = filters
            .entry("label")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let serde_json::Value::Object(labels) = labels {
            labels.insert(owner_label, serde_json::Value::Bool(true));
            // (Containers a build made carry the learner's label too, but are layerlab's.)
            if console_only {
                labels.insert(
                    crate::policy::container::CONSOLE_LABEL.to_string(),
                    serde_json::Value::Bool(true),
                );
            }
        }
    })
}

/// `query` of an image listing with the names it filters on (`docker images web`) as the
/// engine knows the learner's (`learner-…/web`) as well as the course's base images. Whose
/// images the engine lists is picked out of its answer ([`as_shown`]): the base images are
/// everyone's.
fn image_filters(query: &str, scope: &Scope) -> Result<String, String> {
    refiltered(query, |filters| {
        // (Their errors would say whether a name or id exists anywhere on the engine.)
        filters.remove("since");
        filters.remove("before");
        if let Some(serde_json::Value::Object(references)) = filters.get_mut("reference") {
            let typed: Vec<String> = references.keys().cloned().collect();
            for name in typed {
                references.insert(
                    format!("{}{name}", scope.image_prefix()),
                    serde_json::Value::Bool(true),
                );
            }
        }
    })
}

/// `query` with its `filters` read, changed by `change` and written back in the form the
/// engine reads first (`{"name": {"web": true}}`; a list is the older form, and the two
/// cannot be mixed in one request), as the only `filters` (the engine reads the first of
/// several); `size` left out (the engine would walk every container's files for it).
fn refiltered(
    query: &str,
    change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> Result<String, String> {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "size")
        .collect();
    let mut filters = serde_json::Map::new();
    if let Some(given) = pairs.iter().find(|(k, _)| k == "filters") {
        let parsed: serde_json::Value = serde_json::from_str(&given.1)
            .map_err(|e| format!("layerlab: the filters are not JSON: {e}"))?;
        let serde_json::Value::Object(map) = parsed else {
            return Err("layerlab: the filters must be a JSON object".into());
        };
        filters = map;
    }
    let mut normal = serde_json::Map::new();
    for (key, value) in filters {
        let values: serde_json::Map<String, serde_json::Value> = match value {
            serde_json::Value::Array(list) => list
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(v) => Ok((v, serde_json::Value::Bool(true))),
                    _ => Err(format!("layerlab: the {key} filter must hold text")),
                })
                .collect::<Result<_, _>>()?,
            serde_json::Value::Object(map) => map,
            _ => return Err(format!("layerlab: the {key} filter must be a list")),
        };
        normal.insert(key, serde_json::Value::Object(values));
    }
    change(&mut normal);
    pairs.retain(|(k, _)| k != "filters");
    pairs.push((
        "filters".into(),
        serde_json::Value::Object(normal).to_string(),
    ));
    Ok(form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish())
}

/// What a learner's `docker build` asks for, as the console lets it: the engine's names
/// for its tags, which Dockerfile, the learner's build arguments and labels, whether to use
/// the cache. The limits, the network and the cgroup are layerlab's, whatever was asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// (name as typed, `:latest` added; the engine's name).
    pub tags: Vec<(String, String)>,
    /// The Dockerfile's path among the files sent (`-f`).
    pub dockerfile: String,
    pub build_args: Vec<(String, String)>,
    pub labels: std::collections::HashMap<String, String>,
    pub no_cache: bool,
    /// `-q`: only the image's id is printed.
    pub quiet: bool,
    /// Lines to print first: what was asked and is not done here.
    pub notes: Vec<String>,
    /// `--target`: the stage to build last.
    pub target: Option<String>,
}

/// The most names (`-t`) one console build takes.
pub const MAX_BUILD_TAGS: usize = 8;
/// The most `--label`s one console build takes (each is a step of the build).
pub const MAX_BUILD_LABELS: usize = 16;
/// The most `--build-arg`s one console build takes.
pub const MAX_BUILD_ARGS: usize = 32;
/// The most bytes a console build's labels, or its build arguments, take together.
pub const MAX_BUILD_OPTION_BYTES: usize = 8 * 1024;

/// The options of `POST /build` (`query`) as the console lets them through, or the refusal.
pub fn build_options(query: &str, scope: &Scope) -> Result<BuildOptions, String> {
    let truthy = |v: &str| v == "1" || v.eq_ignore_ascii_case("true");
    let mut options = BuildOptions {
        dockerfile: "Dockerfile".into(),
        ..BuildOptions::default()
    };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.as_ref();
        match key.as_ref() {
            "t" if options.tags.len() >= MAX_BUILD_TAGS => {
                return Err(format!(
                    "layerlab: a build here takes at most {MAX_BUILD_TAGS} names (-t)."
                ))
            }
            "t" if !value.is_empty() => {
                let engine = scope.engine_image(value)?;
                let shown = engine
                    .strip_prefix(&scope.image_prefix())
                    .unwrap_or(&engine)
                    .to_string();
                if !options.tags.iter().any(|(_, e)| *e == engine) {
                    options.tags.push((shown, engine));
                }
            }
            "dockerfile" if !value.is_empty() => options.dockerfile = value.to_string(),
            "nocache" => options.no_cache = truthy(value),
            "q" => options.quiet = truthy(value),
            "buildargs" if !value.is_empty() => {
                let asked: std::collections::BTreeMap<String, Option<String>> =
                    serde_json::from_str(value)
                        .map_err(|e| format!("layerlab: the build arguments are not JSON: {e}"))?;
                let bytes: usize = asked
                    .iter()
                    .map(|(k, v)| k.len() + v.as_ref().map_or(0, String::len))
                    .sum();
                if asked.len() > MAX_BUILD_ARGS || bytes > MAX_BUILD_OPTION_BYTES {
                    return Err(format!(
                        "layerlab: a build here takes at most {MAX_BUILD_ARGS} build arguments, {MAX_BUILD_OPTION_BYTES} bytes in all."
                    ));
                }
                for (name, value) in asked {
                    let name_ok = name
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !name_ok || name.len() > 128 {
                        return Err(format!(
                            "layerlab: “{name}” is not a build argument's name (letters, digits and _)"
                        ));
                    }
                    // (`--build-arg NAME` with no value and none in the CLI's environment.)
                    if let Some(value) = value {
                        options.build_args.push((name, value));
                    }
                }
            }
            "labels" if !value.is_empty() => {
                let asked: std::collections::HashMap<String, String> = serde_json::from_str(value)
                    .map_err(|e| format!("layerlab: the labels are not JSON: {e}"))?;
                if let Some(ours) = asked.keys().find(|k| k.starts_with("org.layerlab.")) {
                    return Err(format!(
                        "layerlab: the label {ours} is layerlab's own (org.layerlab.…): pick a name of your own."
                    ));
                }
                let bytes: usize = asked.iter().map(|(k, v)| k.len() + v.len()).sum();
                if asked.len() > MAX_BUILD_LABELS || bytes > MAX_BUILD_OPTION_BYTES {
                    return Err(format!(
                        "layerlab: a build here takes at most {MAX_BUILD_LABELS} labels, {MAX_BUILD_OPTION_BYTES} bytes in all."
                    ));
                }
                options.labels = asked;
            }
            "pull" if truthy(value) => options.notes.push(
                "layerlab: --pull has nothing to fetch here: the course's base images are already on the engine.".into(),
            ),
            "remote" if !value.is_empty() => {
                return Err(
                    "layerlab: this console builds a folder of yours (docker build -t web .), not a URL or a git address.".into(),
                )
            }
            "target" if !value.is_empty() => {
                if value.len() > 128 || value.chars().any(|c| c.is_control()) {
                    return Err(format!("layerlab: “{value}” is not a stage's name"));
                }
                options.target = Some(value.to_string());
            }
            "version" if value == "2" => {
                return Err(
                    "layerlab: this console builds with the classic builder, not BuildKit: leave DOCKER_BUILDKIT unset (or set it to 0).".into(),
                )
            }
            "networkmode" if !matches!(value, "" | "default" | "none" | "bridge") => {
                return Err(format!(
                    "layerlab: builds here run their steps without a network; --network {value} is not offered."
                ))
            }
            "extrahosts" if !value.is_empty() => {
                return Err("layerlab: --add-host is not offered here (builds have no network).".into())
            }
            "squash" if truthy(value) => {
                return Err("layerlab: --squash is not offered here: each step stays a layer.".into())
            }
            "cgroupparent" if !value.is_empty() => {
                return Err("layerlab: --cgroup-parent is layerlab's to set.".into())
            }
            "isolation" if !matches!(value, "" | "default") => {
                return Err(format!("layerlab: --isolation {value} is not offered here."))
            }
            "platform" if !value.is_empty() && !value.starts_with("linux") => {
                return Err(format!(
                    "layerlab: this engine builds for Linux only, not {value}."
                ))
            }
            "outputs" if !value.is_empty() && value != "[]" => {
                return Err("layerlab: --output is BuildKit's, which this console does not use.".into())
            }
            // The memory, CPU, shared-memory and ulimit options, the cache sources and the
            // removal of step containers are the workbench's limits, whatever was asked.
            _ => {}
        }
    }
    Ok(options)
}

/// A path segment as the CLI percent-encoded it.
fn percent_decoded(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            owner: "abc".into(),
            instance: "i".into(),
            base_images: vec!["busybox:latest".into()],
            registry: None,
            built: Default::default(),
        }
    }

    fn filters_of(decision: &Decision) -> serde_json::Value {
        let Decision::Forward(path) = decision else {
            panic!("forwarded: {decision:?}");
        };
        let query = path.split_once('?').expect("a query").1;
        let filters = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "filters")
            .expect("filters")
            .1;
        serde_json::from_str(&filters).expect("JSON")
    }

    #[test]
    fn an_image_is_named_whole_slashes_and_all() {
        assert_eq!(
            decide(
                "GET",
                "/v1.41/images/layerlab/hello-container:abc/history",
                &scope()
            ),
            Decision::OwnImage {
                image: "layerlab/hello-container:abc".into(),
                before: "/v1.41/images/".into(),
                after: "/history".into(),
            }
        );
        assert_eq!(
            decide("GET", "/images/busybox%3Alatest/json", &scope()),
            Decision::OwnImage {
                image: "busybox:latest".into(),
                before: "/images/".into(),
                after: "/json".into(),
            }
        );
        assert_eq!(
            decide("DELETE", "/v1.41/images/team/web:1?force=1", &scope()),
            Decision::RemoveImage {
                image: "team/web:1".into(),
                query: "force=1".into(),
            }
        );
        assert_eq!(
            decide("POST", "/images/busybox/tag?repo=x&tag=2", &scope()),
            Decision::TagImage {
                image: "busybox".into(),
                query: "repo=x&tag=2".into(),
            }
        );
        assert!(matches!(
            decide("POST", "/images/busybox/push", &scope()),
            Decision::Push { .. }
        ));
        assert!(matches!(
            decide("POST", "/images/busybox/get", &scope()),
            Decision::Refuse { .. }
        ));
    }

    #[test]
    fn a_learners_image_names_are_their_own_on_the_engine() {
        let scope = Scope {
            owner: "A1b2-c3".into(),
            instance: "F00D-cafe-1234".into(),
            base_images: vec!["busybox:latest".into(), "busybox:1.35".into()],
            registry: None,
            built: Default::default(),
        };
        let prefix = scope.image_prefix();
        assert_eq!(prefix, "learner-a1b2c3-f00dcafe/");
        assert_eq!(scope.engine_image("web"), Ok(format!("{prefix}web:latest")));
        assert_eq!(
            scope.engine_image("team/web:1.0-rc_1"),
            Ok(format!("{prefix}team/web:1.0-rc_1"))
        );
        for (bad, said) in [
            ("busybox", "base images"),
            ("busybox:1.35", "base images"),
            ("localhost:5000/web", "names the registry"),
            ("registry.example.com/web:1", "names the registry"),
            ("Web", "invalid reference format"),
            ("web:", "invalid reference format"),
            ("web:-1", "invalid reference format"),
            ("../web", "invalid reference format"),
            ("web//x", "invalid reference format"),
            ("layerlab-untagged:1", "keeps for images built without -t"),
            ("", "invalid reference format"),
        ] {
            let refused = scope.engine_image(bad).expect_err(bad);
            assert!(refused.contains(said), "{bad}: {refused}");
        }
        // Nothing that is not a name or an id is looked up at all.
        for odd in [
            "",
            "../containers/x",
            "a/../b",
            "x?y",
            "x#y",
            "/x",
            "a//b",
            "x y",
            "-x",
        ] {
            assert!(scope.image_candidates(odd).is_empty(), "{odd}");
            assert!(!plausible_reference(odd), "{odd}");
        }
        assert!(plausible_reference("sha256:3f2a"));
        assert!(plausible_reference(
            "127.0.0.1:5100/learner-a/web@sha256:00"
        ));
        // A base image is looked up as itself; anything else as the learner's first.
        assert_eq!(
            scope.image_candidates("busybox"),
            vec!["busybox".to_string()]
        );
        assert_eq!(
            scope.image_candidates("web"),
            vec![format!("{prefix}web:latest"), "web".into()]
        );
        assert_eq!(
            scope.image_candidates("3f2a"),
            vec![format!("{prefix}3f2a:latest"), "3f2a".into()]
        );
        // Shown: their own without the prefix, the base images, and nothing of anyone else's.
        assert_eq!(
            scope
                .shown_image(&format!("{prefix}web:1"), true)
                .as_deref(),
            Some("web:1")
        );
        assert_eq!(
            scope.shown_image("busybox:latest", false).as_deref(),
            Some("busybox:latest")
        );
        assert_eq!(
            scope.shown_image("learner-other-f00dcafe/web:1", false),
            None
        );
        assert_eq!(
            scope.shown_image(&format!("{prefix}{UNTAGGED_REPOSITORY}:abc"), true),
            None
        );
        assert_eq!(scope.shown_image("layerlab/hello:abc", false), None);
        assert_eq!(
            scope.shown_image("layerlab/hello:abc", true).as_deref(),
            Some("layerlab/hello:abc")
        );
        assert_eq!(
            scope.unprefixed(&format!(
                "No such image: {prefix}web:1 in /{}",
                scope.engine_name("c")
            )),
            "No such image: web:1 in /c"
        );
    }

    #[test]
    fn a_console_dockerfile_names_the_learners_images_as_the_engine_knows_them() {
        let scope = scope();
        let prefix = scope.image_prefix();
        let written = "ARG V=1\nFROM web:1 AS build\nFROM busybox:latest\nFROM --platform=linux/amd64 base\nCOPY --from=build /a /a\nCOPY --from=tools /t /t\nFROM scratch\nFROM $V\nFROM build\nFROM web:1 \\\n  AS x\n";
        let shown = scope.with_own_names(written);
        assert_eq!(
            shown,
            format!("ARG V=1\nFROM {prefix}web:1 AS build\nFROM busybox:latest\nFROM --platform=linux/amd64 {prefix}base:latest\nCOPY --from=build /a /a\nCOPY --from={prefix}tools:latest /t /t\nFROM scratch\nFROM $V\nFROM build\nFROM web:1 \\\n  AS x\n")
        );
        // The learner reads their own words back.
        assert_eq!(
            scope.unprefixed(&shown),
            written
                .replace(
                    "FROM --platform=linux/amd64 base",
                    "FROM --platform=linux/amd64 base:latest"
                )
                .replace("--from=tools ", "--from=tools:latest ")
        );
    }

    #[test]
    fn a_global_arg_a_from_names_whole_names_the_learners_image_as_the_engine_knows_it() {
        let scope = scope();
        let prefix = scope.image_prefix();
        let written = "ARG BASE=web:1\nARG TOOL=web:1\nARG N=0\nARG S=app\nARG Q=\"web:1\"\nARG AGAIN=web:1\nFROM ${BASE} AS app\nRUN echo $TOOL\nFROM $N\nFROM $S\nFROM $Q\nFROM $AGAIN\nARG AGAIN\nRUN echo $AGAIN > /seen\nFROM busybox:latest\nARG LATE=web:2\nFROM $LATE\n";
        assert_eq!(
            scope.with_own_names(written),
            written.replacen("ARG BASE=web:1", &format!("ARG BASE={prefix}web:1"), 1),
            "only BASE: TOOL is no FROM's, N a stage's number, S a stage's name, Q quoted, AGAIN declared again in a stage (its value would reach the image), LATE not global"
        );
        let args = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            scope.with_own_build_args(
                written,
                args(&[
                    ("BASE", "web:2"),
                    ("TOOL", "web:2"),
                    ("S", "app"),
                    ("N", "busybox:latest"),
                    ("AGAIN", "web:2"),
                    ("LATE", "$X")
                ])
            ),
            args(&[
                ("BASE", &format!("{prefix}web:2")),
                ("TOOL", "web:2"),
                ("S", "app"),
                ("N", "busybox:latest"),
                ("AGAIN", "web:2"),
                ("LATE", "$X")
            ])
        );
    }

    #[test]
    fn image_listings_show_the_base_images_and_the_learners_own_by_their_names() {
        let scope = scope();
        let prefix = scope.image_prefix();
        let listed = serde_json::json!([
            {"Id": "b", "RepoTags": ["busybox:latest", format!("{prefix}mybox:latest"), "learner-zz-i/theirs:1"], "RepoDigests": ["x@sha256:1"], "Labels": null},
            {"Id": "own", "RepoTags": [format!("{prefix}web:1"), format!("{prefix}{UNTAGGED_REPOSITORY}:q")], "RepoDigests": [], "Labels": {"org.layerlab.owner": "abc", "org.layerlab.instance": "i"}},
            {"Id": "other-install", "RepoTags": ["x:1"], "Labels": {"org.layerlab.owner": "abc", "org.layerlab.instance": "j"}},
            {"Id": "theirs", "RepoTags": ["learner-zz-i/web:1"], "Labels": {"org.layerlab.owner": "zz", "org.layerlab.instance": "i"}},
            {"Id": "host", "RepoTags": ["postgres:16"], "Labels": {}}
        ]);
        let shown = as_shown("/v1.41/images/json?all=0", &listed, &scope).expect("shown");
        assert_eq!(
            shown,
            serde_json::json!([
                {"Id": "b", "RepoTags": ["busybox:latest", "mybox:latest"], "RepoDigests": [], "Labels": null},
                {"Id": "own", "RepoTags": ["web:1"], "RepoDigests": [], "Labels": {"org.layerlab.owner": "abc", "org.layerlab.instance": "i"}}
            ])
        );
        // `docker images web` filters on the learner's name as the engine knows it too; the
        // filters whose errors would tell of images elsewhere on the engine are left out.
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair(
                "filters",
                r#"{"reference":["web"],"since":["theirs:1"],"before":["x"]}"#,
            )
            .finish();
        let filters = filters_of(&decide("GET", &format!("/images/json?{query}"), &scope));
        assert!(
            filters.get("since").is_none() && filters.get("before").is_none(),
            "{filters}"
        );
        let decided = decide("GET", &format!("/images/json?{query}"), &scope);
        assert_eq!(
            filters_of(&decided)["reference"],
            serde_json::json!({"web": true, format!("{prefix}web"): true})
        );
        // History: layerlab's label steps are left out, the image's own id stays on top.
        let history = serde_json::json!([
            {"Id": "sha256:top", "CreatedBy": "/bin/sh -c #(nop)  LABEL org.layerlab.owner=abc", "Tags": [format!("{prefix}web:1")]},
            {"Id": "sha256:mid", "CreatedBy": "/bin/sh -c #(nop)  LABEL org.layerlab.instance=i", "Tags": null},
            {"Id": "sha256:cmd", "CreatedBy": "/bin/sh -c #(nop)  CMD [\"cat\"]", "Tags": null},
            {"Id": "<missing>", "CreatedBy": "/bin/sh -c echo a", "Tags": null}
        ]);
        let shown = as_shown("/images/sha256:top/history", &history, &scope).expect("shown");
        assert_eq!(shown.as_array().map(Vec::len), Some(2));
        assert_eq!(shown[0]["Id"], "sha256:top");
        assert_eq!(shown[0]["Tags"], serde_json::json!(["web:1"]));
        assert_eq!(shown[1]["CreatedBy"], "/bin/sh -c echo a");
    }

    #[test]
    fn a_build_takes_the_learners_options_and_layerlabs_limits() {
        let scope = scope();
        let prefix = scope.image_prefix();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("t", "web:1")
            .append_pair("t", "web")
            .append_pair("t", "web:1")
            .append_pair("dockerfile", "sub/Dockerfile.dev")
            .append_pair("buildargs", r#"{"GREETING":"hi","UNSET":null}"#)
            .append_pair("labels", r#"{"team":"blue"}"#)
            .append_pair("nocache", "1")
            .append_pair("memory", "99999999999")
            .append_pair("cpuquota", "999999")
            .append_pair("pull", "1")
            .append_pair("networkmode", "default")
            .finish();
        let options = build_options(&query, &scope).expect("allowed");
        assert_eq!(
            options.tags,
            vec![
                ("web:1".to_string(), format!("{prefix}web:1")),
                ("web:latest".to_string(), format!("{prefix}web:latest"))
            ]
        );
        assert_eq!(options.dockerfile, "sub/Dockerfile.dev");
        assert_eq!(
            options.build_args,
            vec![("GREETING".to_string(), "hi".to_string())]
        );
        assert_eq!(options.labels.get("team").map(String::as_str), Some("blue"));
        assert!(options.no_cache && !options.quiet);
        assert_eq!(options.notes.len(), 1, "--pull is said to do nothing");
        assert_eq!(options.target, None);
        let target = build_options("target=Build", &scope).expect("--target");
        assert_eq!(target.target.as_deref(), Some("Build"));
        for (key, value, said) in [
            ("labels", r#"{"org.layerlab.owner":"x"}"#, "layerlab's own"),
            ("buildargs", r#"{"A B":"x"}"#, "not a build argument"),
            ("buildargs", "nope", "not JSON"),
            ("t", "busybox:latest", "base images"),
            ("remote", "https://example.com/x.git", "not a URL"),
            ("target", "a\nb", "not a stage's name"),
            ("version", "2", "BuildKit"),
            ("networkmode", "host", "without a network"),
            ("networkmode", "container:abc", "without a network"),
            ("extrahosts", "h:1.2.3.4", "--add-host"),
            ("squash", "1", "--squash"),
            ("cgroupparent", "/", "cgroup"),
            ("platform", "windows/amd64", "Linux only"),
        ] {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair(key, value)
                .finish();
            let refused = build_options(&query, &scope).expect_err(key);
            assert!(refused.contains(said), "{key}={value}: {refused}");
        }
        // Bounded: names, labels and build arguments.
        let many = |key: &str, n: usize, value: &dyn Fn(usize) -> String| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for i in 0..n {
                query.append_pair(key, &value(i));
            }
            build_options(&query.finish(), &scope)
        };
        assert!(many("t", MAX_BUILD_TAGS, &|i| format!("w{i}")).is_ok());
        assert!(many("t", MAX_BUILD_TAGS + 1, &|i| format!("w{i}")).is_err());
        let labels = |n: usize, size: usize| {
            let map: std::collections::HashMap<String, String> = (0..n)
                .map(|i| (format!("l{i}"), "x".repeat(size)))
                .collect();
            serde_json::to_string(&map).unwrap()
        };
        assert!(many("labels", 1, &|_| labels(MAX_BUILD_LABELS, 10)).is_ok());
        assert!(many("labels", 1, &|_| labels(MAX_BUILD_LABELS + 1, 10)).is_err());
        assert!(many("labels", 1, &|_| labels(2, MAX_BUILD_OPTION_BYTES)).is_err());
        assert!(many("buildargs", 1, &|_| labels(MAX_BUILD_ARGS + 1, 1)).is_err());
        assert!(matches!(
            decide("POST", "/v1.41/build?t=web", &scope),
            Decision::Build { .. }
        ));
        assert!(matches!(
            decide("POST", "/session", &scope),
            Decision::Refuse { status: 403, .. }
        ));
    }

    #[test]
    fn lists_carry_the_owners_label_whatever_the_cli_filters_on() {
        let owner = "org.layerlab.owner=abc";
        let console = "org.layerlab.console";
        let plain = decide("GET", "/v1.41/containers/json?all=1", &scope());
        assert_eq!(
            filters_of(&plain)["label"],
            serde_json::json!({ owner: true, console: true }),
            "only containers the console made (a build's carry the owner's label too)"
        );
        if let Decision::Forward(path) = &plain {
            assert!(path.starts_with("/v1.41/containers/json?all=1&"), "{path}");
        }
        // The learner's own label filter, and one trying to widen it: both narrow it more.
        let theirs = r#"{"label":["tier=web"],"status":["running"]}"#;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("filters", theirs)
            .finish();
        let decided = decide("GET", &format!("/containers/json?{query}"), &scope());
        let filters = filters_of(&decided);
        assert_eq!(
            filters["label"],
            serde_json::json!({"tier=web": true, owner: true, console: true})
        );
        assert_eq!(filters["status"], serde_json::json!({"running": true}));
        // The CLI's own form, and an owner label naming someone else (the engine then
        // requires both, so nothing matches).
        let older = r#"{"label":{"org.layerlab.owner=someone-else":true}}"#;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("filters", older)
            .finish();
        let decided = decide("GET", &format!("/v1.41/containers/json?{query}"), &scope());
        assert_eq!(
            filters_of(&decided)["label"],
            serde_json::json!({"org.layerlab.owner=someone-else": true, owner: true, console: true})
        );
        // Two `filters` parameters cannot smuggle one past (the engine reads the first):
        // both are replaced by ours.
        let decided = decide(
            "GET",
            "/containers/json?filters=%7B%7D&filters=%7B%7D",
            &scope(),
        );
        let Decision::Forward(path) = decided else {
            panic!("forwarded")
        };
        assert_eq!(path.matches("filters=").count(), 1, "{path}");
        for bad in [
            "filters=nope",
            "filters=%5B%5D",
            "filters=%7B%22label%22%3A1%7D",
        ] {
            assert!(
                matches!(
                    decide("GET", &format!("/containers/json?{bad}"), &scope()),
                    Decision::Refuse { status: 400, .. }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_container_is_reached_only_through_the_learners_own() {
        assert_eq!(
            decide("GET", "/v1.41/containers/web/json", &scope()),
            Decision::OwnContainer {
                container: "web".into(),
                before: "/v1.41/containers/".into(),
                after: "/json".into(),
            }
        );
        assert_eq!(
            decide("GET", "/containers/3f2a/logs?stdout=1&tail=5", &scope()),
            Decision::OwnContainer {
                container: "3f2a".into(),
                before: "/containers/".into(),
                after: "/logs?stdout=1&tail=5".into(),
            }
        );
    }

    #[test]
    fn a_command_is_reached_by_the_engines_own_id_only() {
        assert_eq!(
            decide("POST", "/v1.41/exec/3fa9/start", &scope()),
            Decision::OwnExec {
                exec: "3fa9".into(),
                before: "/v1.41/exec/".into(),
                after: "/start".into(),
            }
        );
        for sneaky in [
            "/exec/ab%2F..%2Fcontainers%2Fx/start",
            "/exec/a.b/json",
            "/exec//json",
        ] {
            assert!(
                matches!(
                    decide("POST", sneaky, &scope()),
                    Decision::Refuse { status: 404, .. }
                ) || matches!(decide("GET", sneaky, &scope()), Decision::Refuse { .. }),
                "{sneaky}"
            );
        }
        assert!(is_attach("/v1.41/exec/3fa9/start"));
        assert!(is_exec_create("/v1.41/containers/0123/exec"));
        assert!(!is_exec_create("/v1.41/containers/0123/json"));
    }

    #[test]
    fn what_the_engine_would_do_on_the_host_for_a_call_is_bounded() {
        let Decision::Forward(path) = decide("GET", "/containers/json?all=1&size=1", &scope())
        else {
            panic!("forwarded")
        };
        assert!(!path.contains("size="), "{path}");
        assert!(matches!(
            decide("GET", "/containers/web/top?ps_args=-ef", &scope()),
            Decision::OwnContainer { .. }
        ));
        assert!(matches!(
            decide(
                "GET",
                "/containers/web/top?ps_args=-o%20pid%2Cuser%2Cargs",
                &scope()
            ),
            Decision::OwnContainer { .. }
        ));
        // (A column renamed PID, `-o uid=PID,pid`, would have the engine pick processes by
        // the wrong column: the host's could show.)
        for bad in [
            "%24%28reboot%29",
            "a%3Bb",
            "x%0Ay",
            &"a".repeat(65),
            "-o%20uid%3DPID%2Cpid%2Cargs%20-e",
        ] {
            assert!(
                matches!(
                    decide(
                        "GET",
                        &format!("/containers/web/top?ps_args={bad}"),
                        &scope()
                    ),
                    Decision::Refuse { status: 400, .. }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_learner_sees_their_own_names_and_none_of_the_hosts_paths() {
        let scope = scope();
        let engine_name = format!("/{}", scope.engine_name("web"));
        let listed = serde_json::json!([{"Id": "1", "Names": [engine_name, "/other"]}]);
        let shown = as_shown("/v1.41/containers/json?all=1", &listed, &scope).expect("shown");
        assert_eq!(shown[0]["Names"], serde_json::json!(["/web", "/other"]));
        let inspected = serde_json::json!({
            "Id": "1", "Name": engine_name,
            "LogPath": "/var/lib/docker/containers/1/1-json.log",
            "HostsPath": "/var/lib/docker/containers/1/hosts",
            "GraphDriver": {"Data": {"UpperDir": "/var/lib/docker/overlay2/x/diff"}},
            "State": {"Running": true}
        });
        let shown = as_shown("/containers/1/json", &inspected, &scope).expect("shown");
        assert_eq!(shown["Name"], "/web");
        assert_eq!(shown["LogPath"], "");
        assert_eq!(shown["HostsPath"], "");
        assert!(shown.get("GraphDriver").is_none());
        assert_eq!(shown["State"]["Running"], true);
        assert!(!shown.to_string().contains("/var/lib/docker"));
        assert_eq!(as_shown("/containers/1/logs", &inspected, &scope), None);
    }

    #[test]
    fn everything_else_is_refused_with_words_the_cli_prints() {
        for (method, path) in [
            ("POST", "/v1.41/containers/web/update"),
            ("POST", "/v1.41/containers/web/rename"),
            ("POST", "/v1.41/containers/prune"),
            ("GET", "/v1.41/containers/create"),
            ("POST", "/v1.41/images/prune"),
            ("POST", "/v1.41/images/load"),
            ("GET", "/v1.41/images/get"),
            ("GET", "/v1.41/info"),
            ("GET", "/v1.41/containers/web/export"),
            ("GET", "/v1.41/containers/web/archive"),
            ("GET", "/v1.41/volumes"),
            ("POST", "/_ping"),
            ("GET", "/v1.41/containers/json/extra"),
            ("GET", "/v1.41/../containers/json"),
            ("GET", "/vX.1/containers/json"),
        ] {
            match decide(method, path, &scope()) {
                Decision::Refuse { status, message } => {
                    assert_eq!(status, 403, "{method} {path}");
                    assert!(message.starts_with("layerlab: "), "{message}");
                }
                other => panic!("{method} {path}: {other:?}"),
            }
        }
        assert_eq!(
            decide("HEAD", "/_ping", &scope()),
            Decision::Forward("/_ping".into())
        );
        assert_eq!(
            decide("GET", "/v1.41/version", &scope()),
            Decision::Forward("/v1.41/version".into())
        );
    }
}
