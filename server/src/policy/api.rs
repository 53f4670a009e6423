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
}

impl Scope {
    /// What the engine calls the learner's container `name`: names are the engine's, so each
    /// learner's get a prefix of their own (two learners can both have a `web`).
    pub fn engine_name(&self, name: &str) -> String {
        format!("{}-{name}", crate::registry::handle_of(&self.owner))
    }
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
        ["containers", "json"] | ["images", "json"] if reads => {
            // (`size` would have the engine walk every container's files: not for a listing.)
            match with_owner_filter(query, &scope.owner, segments[0] == "containers") {
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
                "layerlab: this workshop's console does not forward {method} {rest} to the engine. So far it answers docker version, ps, images, run, start, stop, kill, rm, attach, exec, inspect, logs and top of your own containers, and image inspect and history of the course's images and yours."
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
            shown.as_object_mut()?.remove("GraphDriver");
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
    Listing,
    Inspection,
    ImageInspection,
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
    // Every filter in the form the engine reads first (`{"name": {"web": true}}`; a list is
    // the older form, and the two cannot be mixed in one request), with the owner's label
    // among the labels, all of which the engine requires.
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
    let labels = normal
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
    let filters = normal;
    pairs.retain(|(k, _)| k != "filters");
    pairs.push((
        "filters".into(),
        serde_json::Value::Object(filters).to_string(),
    ));
    Ok(form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish())
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
        assert!(matches!(
            decide("DELETE", "/images/busybox", &scope()),
            Decision::Refuse { .. }
        ));
        assert!(matches!(
            decide("POST", "/images/busybox/tag?repo=x", &scope()),
            Decision::Refuse { .. }
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
        let images = decide("GET", "/v1.41/images/json", &scope());
        assert_eq!(
            filters_of(&images)["label"],
            serde_json::json!({ owner: true })
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
        let decided = decide("GET", &format!("/v1.41/images/json?{query}"), &scope());
        assert_eq!(
            filters_of(&decided)["label"],
            serde_json::json!({"org.layerlab.owner=someone-else": true, owner: true})
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
            ("POST", "/v1.41/build"),
            ("GET", "/v1.41/info"),
            ("GET", "/v1.41/containers/web/export"),
            ("GET", "/v1.41/containers/web/archive"),
            ("POST", "/v1.41/images/create"),
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
