//! A container a learner's docker CLI asks the engine to create (`POST /containers/create`),
//! as the policy lets it be made: what the CLI sent, field by field against a list of what
//! may pass, with layerlab's limits, labels and isolation put in whatever was asked.
//!
//! The CLI sends every field, most of them empty (`"Privileged": false`, `"Binds": null`):
//! an empty field is the engine's default and is dropped; any other field must be one this
//! module knows and accepts, or the whole request is refused with the reason. So a field the
//! engine learns in a later version is refused until it is looked at here.

use serde_json::{Map, Value};

/// What every console container gets, whatever was asked.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerLimits {
    pub memory_bytes: i64,
    pub cpus: f64,
    pub pids: i64,
    /// The most the container's log keeps (json-file `max-size`).
    pub log_max: String,
    /// The most of one learner's containers running at once; starting one more is refused.
    pub max_running: usize,
    /// The most containers one learner may have, running or not; making one more is refused.
    pub max_containers: usize,
    /// The most their containers may write (their writable layers together), in bytes:
    /// past it the console removes the biggest.
    pub max_disk_bytes: u64,
}

/// Capabilities a learner may add: none beyond the engine's defaults, which adding again
/// changes nothing (`docker run --cap-add CHOWN` works as on a laptop).
const DEFAULT_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Top-level fields that pass as they are (the container's own configuration).
const PLAIN_CONFIG: &[&str] = &[
    "Hostname",
    "Domainname",
    "User",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "Env",
    "Cmd",
    "Entrypoint",
    "Image",
    "WorkingDir",
    "StopSignal",
    "StopTimeout",
    "ExposedPorts",
    "ArgsEscaped",
    "NetworkDisabled",
    "Shell",
    "OnBuild",
];

/// HostConfig fields that pass as they are: they change only the container itself.
const PLAIN_HOST: &[&str] = &[
    "AutoRemove",
    "Init",
    "ReadonlyRootfs",
    "ConsoleSize",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "CapDrop",
    // -1 (the kernel's default) unless asked; it weighs only this container's own pages.
    "MemorySwappiness",
];

/// A container-create request the policy reads: the body to send, and the containers it
/// names in `--pid`/`--network container:<name>`, which must be the learner's own (the
/// proxy resolves them and puts their full ids in the body).
#[derive(Debug, PartialEq)]
pub struct Create {
    pub body: Value,
    /// (`PidMode` or `NetworkMode`, the container as typed).
    pub joins: Vec<(&'static str, String)>,
    /// The ports it publishes (`-p 8080:80`): served through layerlab, never bound on the
    /// host; the container carries them as [`PORTS_LABEL`].
    pub ports: Vec<Published>,
}

/// The shortest time between two health checks of a console container.
const MIN_HEALTH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// The most ports one container may publish.
const MAX_PUBLISHED: usize = 8;

/// `PortBindings` (`{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`) as published ports.
fn published(value: &Value) -> Result<Vec<Published>, String> {
    let publishing = "publishing a port";
    let Value::Object(bindings) = value else {
        return Err(format!(
            "layerlab: {publishing}: PortBindings must be an object"
        ));
    };
    let mut ports = Vec::new();
    for (exposed, hosts) in bindings {
        let (port, protocol) = exposed.split_once('/').unwrap_or((exposed, "tcp"));
        if protocol != "tcp" {
            return Err(refused(
                &format!("publishing {exposed}"),
                "the console serves TCP ports only",
            ));
        }
        let container: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("layerlab: {exposed} is not a port"))?;
        for binding in hosts.as_array().into_iter().flatten() {
            let ip = binding["HostIp"].as_str().unwrap_or_default();
            if !matches!(ip, "" | "0.0.0.0" | "127.0.0.1" | "::" | "localhost") {
                return Err(refused(
                    &format!("publishing on the address {ip}"),
                    "a published port is served in your console (localhost) and through layerlab's page, never on the host's addresses",
                ));
            }
            let host: u16 = binding["HostPort"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    refused(
                        &format!("publishing {port} without a port of your own"),
                        &format!("say which one, as in -p 8080:{port}"),
                    )
                })?;
            if ports.iter().any(|p: &Published| p.host == host) {
                return Err(format!("layerlab: port {host} is published twice"));
            }
            ports.push(Published { host, container });
        }
    }
    if ports.len() > MAX_PUBLISHED {
        return Err(format!(
            "layerlab: a container may publish at most {MAX_PUBLISHED} ports"
        ));
    }
    Ok(ports)
}

fn empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn refused(what: &str, why: &str) -> String {
    format!("layerlab: {what} is not allowed in this workshop's console: {why}")
}

/// The create request `body` of the learner `owner` (installation `instance`), as the engine
/// will get it, or why it is refused.
pub fn create(
    body: &[u8],
    owner: &str,
    instance: &str,
    limits: &ContainerLimits,
) -> Result<Create, String> {
    let Value::Object(asked) = serde_json::from_slice(body)
        .map_err(|e| format!("layerlab: the container's configuration is not JSON: {e}"))?
    else {
        return Err("layerlab: the container's configuration must be a JSON object".into());
    };
    let mut config = Map::new();
    let mut joins = Vec::new();
    let mut ports = Vec::new();
    let mut host = Map::new();
    for (key, value) in asked {
        if empty(&value) {
            continue;
        }
        match key.as_str() {
            "Healthcheck" => {
                // Each check is a process the engine starts: not more often than every few
                // seconds.
                let most_often = i64::try_from(MIN_HEALTH_INTERVAL.as_nanos()).unwrap_or(i64::MAX);
                for field in ["Interval", "StartInterval"] {
                    let every = value.get(field).and_then(Value::as_i64).unwrap_or(0);
                    if every != 0 && every < most_often {
                        return Err(refused(
                            "a health check more often than every 5 s",
                            "each check starts a process on the engine",
                        ));
                    }
                }
                config.insert(key, value);
            }
            k if PLAIN_CONFIG.contains(&k) => {
                config.insert(key, value);
            }
            "Labels" => {
                // Learners' own labels, but none of layerlab's: ownership is not theirs to say.
                let Value::Object(labels) = value else {
                    return Err("layerlab: labels must be an object".into());
                };
                let own: Map<String, Value> = labels
                    .into_iter()
                    .filter(|(k, _)| !k.starts_with("org.layerlab."))
                    .collect();
                config.insert(key, Value::Object(own));
            }
            "Volumes" => {
                return Err(refused(
                    "a volume (VOLUME or -v /path)",
                    "it would take the engine's disk outside every limit",
                ))
            }
            "HostConfig" => {
                let Value::Object(asked_host) = value else {
                    return Err("layerlab: HostConfig must be an object".into());
                };
                host = host_config(asked_host, &mut joins, &mut ports)?;
            }
            "NetworkingConfig" => {
                // The CLI names the network it already named in NetworkMode; any other is
                // joining a network.
                let endpoints = value.get("EndpointsConfig").and_then(Value::as_object);
                let only_default = endpoints.is_some_and(|e| {
                    e.keys()
                        .all(|k| matches!(k.as_str(), "default" | "bridge" | "none"))
                });
                if !only_default {
                    return Err(refused(
                        "joining a network",
                        "a console container has its own network namespace, or shares one of yours with --network container:<name>",
                    ));
                }
            }
            "MacAddress" => {}
            other => {
                return Err(refused(
                    &format!("the field {other}"),
                    "layerlab does not know what it does, so it does not pass it on",
                ))
            }
        }
    }
    // What every container gets.
    let labels = config
        .entry("Labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(labels) = labels {
        labels.insert(
            crate::engine::builder::OWNER_LABEL.into(),
            Value::String(owner.into()),
        );
        labels.insert(
            crate::engine::builder::INSTANCE_LABEL.into(),
            Value::String(instance.into()),
        );
        labels.insert(CONSOLE_LABEL.into(), Value::String("true".into()));
        if !ports.is_empty() {
            let label: Vec<String> = ports
                .iter()
                .map(|p| format!("{}:{}", p.host, p.container))
                .collect();
            labels.insert(PORTS_LABEL.into(), Value::String(label.join(",")));
        }
    }
    let cap = |asked: Option<&Value>, ours: i64| -> i64 {
        match asked.and_then(Value::as_i64) {
            Some(n) if n > 0 && n < ours => n,
            _ => ours,
        }
    };
    let memory = cap(host.get("Memory"), limits.memory_bytes);
    host.insert("Memory".into(), memory.into());
    host.insert("MemorySwap".into(), memory.into());
    let nano_cpus = (limits.cpus * 1e9) as i64;
    host.insert(
        "NanoCpus".into(),
        cap(host.get("NanoCpus"), nano_cpus).into(),
    );
    host.insert(
        "PidsLimit".into(),
        cap(host.get("PidsLimit"), limits.pids).into(),
    );
    host.insert(
        "SecurityOpt".into(),
        serde_json::json!(["no-new-privileges"]),
    );
    host.insert(
        "LogConfig".into(),
        serde_json::json!({"Type": "json-file", "Config": {"max-size": limits.log_max}}),
    );
    host.entry("NetworkMode")
        .or_insert_with(|| Value::String("none".into()));
    config.insert("HostConfig".into(), Value::Object(host));
    Ok(Create {
        body: Value::Object(config),
        joins,
        ports,
    })
}

/// The body of `POST /containers/{id}/exec` (`docker exec`) as the engine will get it: a
/// command in the learner's own container, as any user of it, never privileged.
pub fn exec(body: &[u8]) -> Result<Value, String> {
    let Value::Object(asked) = serde_json::from_slice(body)
        .map_err(|e| format!("layerlab: the command's configuration is not JSON: {e}"))?
    else {
        return Err("layerlab: the command's configuration must be a JSON object".into());
    };
    let mut exec = Map::new();
    for (key, value) in asked {
        if empty(&value) {
            continue;
        }
        match key.as_str() {
            "AttachStdin" | "AttachStdout" | "AttachStderr" | "Detach" | "DetachKeys" | "Tty"
            | "Env" | "Cmd" | "WorkingDir" | "User" | "ConsoleSize" => {
                exec.insert(key, value);
            }
            "Privileged" => {
                return Err(refused(
                    "docker exec --privileged",
                    "it would give the command the whole host",
                ))
            }
            other => {
                return Err(refused(
                    &format!("the field {other}"),
                    "layerlab does not know what it does, so it does not pass it on",
                ))
            }
        }
    }
    Ok(Value::Object(exec))
}

pub use crate::engine::toolbox::{
    ports_of_label, Published, CONSOLE_LABEL, IMAGE_LABEL, PORTS_LABEL,
};

/// The HostConfig as the engine gets it, of what was asked: only what this knows may pass.
fn host_config(
    asked: Map<String, Value>,
    joins: &mut Vec<(&'static str, String)>,
    ports: &mut Vec<Published>,
) -> Result<Map<String, Value>, String> {
    let mut host = Map::new();
    for (key, value) in asked {
        if empty(&value) {
            continue;
        }
        let text = value.as_str().unwrap_or_default().to_string();
        match key.as_str() {
            k if PLAIN_HOST.contains(&k) => {
                host.insert(key, value);
            }
            // Ours are put in afterwards; a smaller one asked for is kept.
            "Memory" | "NanoCpus" | "PidsLimit" => {
                host.insert(key, value);
            }
            "MemorySwap" | "LogConfig" => {}
            // Less likely to be killed than the rest of the host (layerlab among it): no.
            "OomScoreAdj" => match value.as_i64() {
                Some(n) if n >= 0 => {
                    host.insert(key, value);
                }
                _ => {
                    return Err(refused(
                        &format!("--oom-score-adj {value}"),
                        "a console container may be killed first when memory runs out, never last",
                    ))
                }
            },
            "RestartPolicy" => {
                let name = value.get("Name").and_then(Value::as_str).unwrap_or("");
                if !(name.is_empty() || name == "no") {
                    return Err(refused(
                        &format!("--restart {name}"),
                        "a console container is not started again by the engine",
                    ));
                }
            }
            "NetworkMode" => match text.as_str() {
                "default" | "bridge" | "none" => {
                    host.insert(key, Value::String("none".into()));
                }
                joined if joined.starts_with("container:") => {
                    joins.push(("NetworkMode", joined["container:".len()..].to_string()));
                    host.insert(key, value);
                }
                other => {
                    return Err(refused(
                        &format!("--network {other}"),
                        "a console container has its own network namespace, or shares one of yours with --network container:<name>",
                    ))
                }
            },
            "PidMode" => match text.strip_prefix("container:") {
                Some(name) => {
                    joins.push(("PidMode", name.to_string()));
                    host.insert(key, value);
                }
                None => {
                    return Err(refused(
                        &format!("--pid {text}"),
                        "only --pid container:<one of your containers> shares a process namespace",
                    ))
                }
            },
            "IpcMode" if matches!(text.as_str(), "private" | "none") => {
                host.insert(key, value);
            }
            "CapAdd" => {
                let asked: Vec<String> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|c| {
                        let c = c.to_ascii_uppercase();
                        c.strip_prefix("CAP_").unwrap_or(&c).to_string()
                    })
                    .collect();
                if let Some(extra) = asked
                    .iter()
                    .find(|c| !DEFAULT_CAPABILITIES.contains(&c.as_str()))
                {
                    return Err(refused(
                        &format!("--cap-add {extra}"),
                        "only the engine's default capabilities are given",
                    ));
                }
                host.insert(key, value);
            }
            "Privileged" => {
                return Err(refused(
                    "--privileged",
                    "it would give the container the whole host",
                ))
            }
            "Binds" | "Mounts" | "VolumesFrom" | "Tmpfs" | "VolumeDriver" => {
                return Err(refused(
                    "a mount (-v, --mount, --tmpfs, --volumes-from)",
                    "the host's files are not the console's, and a volume would take the engine's disk outside every limit",
                ))
            }
            // Nothing is bound on the host: layerlab serves them itself.
            "PortBindings" => *ports = published(&value)?,
            "PublishAllPorts" => {
                return Err(refused(
                    "publishing every port (-P)",
                    "say which, as in -p 8080:80",
                ))
            }
            "Devices" | "DeviceRequests" | "DeviceCgroupRules" => {
                return Err(refused("a device (--device, --gpus)", "devices stay the host's"))
            }
            other => {
                return Err(refused(
                    &format!("the setting {other} ({text})"),
                    "it reaches past the container (host namespaces, security options, kernel settings or cgroups), or layerlab does not know it",
                ))
            }
        }
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ContainerLimits {
        ContainerLimits {
            memory_bytes: 128 << 20,
            cpus: 0.5,
            pids: 64,
            log_max: "1m".into(),
            max_running: 3,
            max_containers: 10,
            max_disk_bytes: 512 << 20,
        }
    }

    fn made(body: Value) -> Result<Create, String> {
        create(body.to_string().as_bytes(), "alice", "inst", &limits())
    }

    /// What `docker run -d busybox sleep 60` sends (abridged: the CLI sends dozens of empty
    /// fields like these).
    fn as_the_cli_sends(host: Value) -> Value {
        let mut base = serde_json::json!({
            "Hostname": "", "User": "", "AttachStdout": false, "Tty": false,
            "Env": null, "Cmd": ["sleep", "60"], "Image": "busybox:latest",
            "Volumes": {}, "Labels": {}, "OnBuild": null,
            "HostConfig": {
                "Binds": null, "NetworkMode": "default", "PortBindings": {},
                "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                "AutoRemove": false, "CapAdd": null, "Privileged": false,
                "PublishAllPorts": false, "SecurityOpt": null, "UTSMode": "",
                "UsernsMode": "", "ShmSize": 0, "Memory": 0, "PidsLimit": null,
                "Devices": [], "MaskedPaths": null, "ReadonlyPaths": null,
                "Isolation": "", "CgroupnsMode": "", "PidMode": "", "IpcMode": ""
            },
            "NetworkingConfig": {"EndpointsConfig": {}}
        });
        if let (Value::Object(h), Value::Object(extra)) = (&mut base["HostConfig"], host) {
            h.extend(extra);
        }
        base
    }

    #[test]
    fn a_plain_run_gets_layerlabs_limits_labels_and_no_network() {
        let create = made(as_the_cli_sends(serde_json::json!({}))).expect("allowed");
        let body = &create.body;
        assert_eq!(body["Image"], "busybox:latest");
        assert_eq!(body["Cmd"], serde_json::json!(["sleep", "60"]));
        assert_eq!(body["Labels"]["org.layerlab.owner"], "alice");
        assert_eq!(body["Labels"]["org.layerlab.instance"], "inst");
        let host = &body["HostConfig"];
        assert_eq!(host["Memory"], 128 << 20);
        assert_eq!(host["MemorySwap"], 128 << 20);
        assert_eq!(host["NanoCpus"], 500_000_000);
        assert_eq!(host["PidsLimit"], 64);
        assert_eq!(host["NetworkMode"], "none");
        assert_eq!(
            host["SecurityOpt"],
            serde_json::json!(["no-new-privileges"])
        );
        assert_eq!(host["LogConfig"]["Config"]["max-size"], "1m");
        assert!(host.get("Privileged").is_none() && host.get("Binds").is_none());
        assert!(create.joins.is_empty());
    }

    #[test]
    fn published_ports_are_kept_as_a_label_and_bound_nowhere() {
        let create = made(as_the_cli_sends(serde_json::json!({
            "PortBindings": {
                "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
                "443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8443"}]
            }
        })))
        .expect("allowed");
        assert!(create.body["HostConfig"].get("PortBindings").is_none());
        let label = create.body["Labels"][PORTS_LABEL]
            .as_str()
            .expect("a label");
        let mut ports = ports_of_label(label);
        ports.sort_by_key(|p| p.host);
        assert_eq!(
            ports,
            vec![
                Published {
                    host: 8080,
                    container: 80
                },
                Published {
                    host: 8443,
                    container: 443
                }
            ]
        );
        assert_eq!(create.ports.len(), 2);
        // A learner's own label of that name is dropped like every org.layerlab one.
        let claimed = made(serde_json::json!({
            "Image": "b", "Labels": {PORTS_LABEL: "22:22"}
        }))
        .expect("allowed");
        assert!(claimed.body["Labels"].get(PORTS_LABEL).is_none());
        assert_eq!(
            ports_of_label("80:8080,x:1,0:5,7:"),
            vec![Published {
                host: 80,
                container: 8080
            }]
        );
    }

    #[test]
    fn health_checks_run_every_few_seconds_at_most() {
        let every = |ms: i64| {
            made(serde_json::json!({
                "Image": "b", "Healthcheck": {"Test": ["CMD", "true"], "Interval": ms * 1_000_000}
            }))
        };
        let refused = every(1).expect_err("1 ms is refused");
        assert!(refused.contains("more often than every 5 s"), "{refused}");
        assert!(every(4_999).is_err());
        assert!(every(5_000).is_ok() && every(30_000).is_ok());
        // The engine's default (0) is 30 s.
        assert!(
            made(serde_json::json!({"Image": "b", "Healthcheck": {"Test": ["CMD", "true"]}}))
                .is_ok()
        );
    }

    #[test]
    fn limits_only_go_down_and_ownership_cannot_be_claimed() {
        let create = made(serde_json::json!({
            "Image": "busybox:latest",
            "Labels": {"org.layerlab.owner": "bob", "org.layerlab.instance": "x", "tier": "web"},
            "HostConfig": {"Memory": 1_i64 << 40, "MemorySwap": -1, "NanoCpus": 8_000_000_000_i64, "PidsLimit": -1}
        }))
        .expect("allowed");
        let body = create.body;
        assert_eq!(body["Labels"]["org.layerlab.owner"], "alice");
        assert_eq!(body["Labels"]["org.layerlab.instance"], "inst");
        assert_eq!(body["Labels"]["tier"], "web");
        assert_eq!(body["HostConfig"]["Memory"], 128 << 20);
        assert_eq!(body["HostConfig"]["MemorySwap"], 128 << 20);
        assert_eq!(body["HostConfig"]["NanoCpus"], 500_000_000);
        assert_eq!(body["HostConfig"]["PidsLimit"], 64);
        let smaller = made(serde_json::json!({"Image": "b", "HostConfig": {"Memory": 16 << 20}}))
            .expect("allowed");
        assert_eq!(smaller.body["HostConfig"]["Memory"], 16 << 20);
    }

    #[test]
    fn what_reaches_past_the_container_is_refused_with_the_reason() {
        for (host, words) in [
            (serde_json::json!({"Privileged": true}), "--privileged"),
            (serde_json::json!({"Binds": ["/:/host"]}), "a mount"),
            (
                serde_json::json!({"Mounts": [{"Type": "bind", "Source": "/", "Target": "/h"}]}),
                "a mount",
            ),
            (
                serde_json::json!({"Tmpfs": {"/big": "size=100g"}}),
                "a mount",
            ),
            (serde_json::json!({"VolumesFrom": ["x"]}), "a mount"),
            (serde_json::json!({"NetworkMode": "host"}), "--network host"),
            (
                serde_json::json!({"NetworkMode": "some-net"}),
                "--network some-net",
            ),
            (serde_json::json!({"PidMode": "host"}), "--pid host"),
            (serde_json::json!({"IpcMode": "host"}), "IpcMode"),
            (serde_json::json!({"UTSMode": "host"}), "UTSMode"),
            (serde_json::json!({"UsernsMode": "host"}), "UsernsMode"),
            (serde_json::json!({"CgroupnsMode": "host"}), "CgroupnsMode"),
            (
                serde_json::json!({"CapAdd": ["SYS_ADMIN"]}),
                "--cap-add SYS_ADMIN",
            ),
            (
                serde_json::json!({"CapAdd": ["cap_net_admin"]}),
                "--cap-add NET_ADMIN",
            ),
            (serde_json::json!({"CapAdd": ["ALL"]}), "--cap-add ALL"),
            (
                serde_json::json!({"SecurityOpt": ["seccomp=unconfined"]}),
                "SecurityOpt",
            ),
            (
                serde_json::json!({"Devices": [{"PathOnHost": "/dev/kmsg"}]}),
                "a device",
            ),
            (
                serde_json::json!({"PortBindings": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": ""}]}}),
                "without a port of your own",
            ),
            (
                serde_json::json!({"PortBindings": {"80/tcp": [{"HostIp": "10.0.0.1", "HostPort": "80"}]}}),
                "on the address 10.0.0.1",
            ),
            (
                serde_json::json!({"PortBindings": {"53/udp": [{"HostPort": "53"}]}}),
                "TCP ports only",
            ),
            (
                serde_json::json!({"PortBindings": {"80/tcp": [{"HostPort": "8080"}], "81/tcp": [{"HostPort": "8080"}]}}),
                "published twice",
            ),
            (
                serde_json::json!({"PublishAllPorts": true}),
                "publishing every port",
            ),
            (serde_json::json!({"Sysctls": {"kernel.x": "1"}}), "Sysctls"),
            (
                serde_json::json!({"OomScoreAdj": -1000}),
                "--oom-score-adj -1000",
            ),
            (serde_json::json!({"CgroupParent": "/"}), "CgroupParent"),
            (serde_json::json!({"Runtime": "runsc"}), "Runtime"),
            (
                serde_json::json!({"OomKillDisable": true}),
                "OomKillDisable",
            ),
            (
                serde_json::json!({"Ulimits": [{"Name": "nofile"}]}),
                "Ulimits",
            ),
            (serde_json::json!({"ShmSize": 1_i64 << 40}), "ShmSize"),
            (serde_json::json!({"MaskedPaths": []}), ""),
            (
                serde_json::json!({"RestartPolicy": {"Name": "always"}}),
                "--restart always",
            ),
        ] {
            let outcome = made(as_the_cli_sends(host.clone()));
            if words.is_empty() {
                // An empty list is the engine's default (the masks stay).
                let create = outcome.expect("an empty field is dropped");
                assert!(create.body["HostConfig"].get("MaskedPaths").is_none());
                continue;
            }
            let said = outcome.expect_err(&host.to_string());
            assert!(
                said.starts_with("layerlab: ") && said.contains(words),
                "{host}: {said}"
            );
        }
        for top in [
            serde_json::json!({"Image": "b", "Volumes": {"/data": {}}}),
            serde_json::json!({"Image": "b", "NetworkingConfig": {"EndpointsConfig": {"other": {}}}}),
            serde_json::json!({"Image": "b", "SomethingNew": true}),
        ] {
            assert!(made(top.clone()).is_err(), "{top}");
        }
        assert!(create(b"not json", "a", "i", &limits()).is_err());
        assert!(create(b"[1]", "a", "i", &limits()).is_err());
    }

    #[test]
    fn a_command_in_a_container_is_never_privileged() {
        let asked = serde_json::json!({
            "User": "", "Privileged": false, "Tty": false, "AttachStdout": true,
            "Cmd": ["ps"], "Env": null, "WorkingDir": "", "DetachKeys": ""
        });
        let allowed = exec(asked.to_string().as_bytes()).expect("allowed");
        assert_eq!(allowed["Cmd"], serde_json::json!(["ps"]));
        let privileged = serde_json::json!({"Cmd": ["sh"], "Privileged": true});
        let said = exec(privileged.to_string().as_bytes()).expect_err("refused");
        assert!(said.contains("--privileged"), "{said}");
        let unknown = serde_json::json!({"Cmd": ["sh"], "Something": 1});
        assert!(exec(unknown.to_string().as_bytes()).is_err());
    }

    #[test]
    fn sharing_a_namespace_names_a_container_to_be_checked_as_the_learners() {
        let create = made(as_the_cli_sends(serde_json::json!({
            "PidMode": "container:web", "NetworkMode": "container:web"
        })))
        .expect("allowed, once web is hers");
        let mut joins = create.joins.clone();
        joins.sort();
        assert_eq!(
            joins,
            vec![
                ("NetworkMode", "web".to_string()),
                ("PidMode", "web".to_string())
            ]
        );
    }
}
