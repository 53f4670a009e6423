//! Running a built image once, locked down: no capabilities, no privilege gain, read-only root
//! with a small `/tmp`, memory without swap, CPU and process caps, a wall-clock limit, an
//! output cap, and no network unless an HTTP probe needs to reach a port. The container is
//! always removed.

use super::build::BUILD_LABEL;
use super::strip_ansi;
use app::dto::{BuildFailure, ProbeFacts, RunFacts, StopFacts};
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The engine network web exercises run on: `internal`, so the container can answer our
/// probe but reach nothing else.
pub const PROBE_NETWORK: &str = "layerlab-probe";

#[derive(Clone, Debug)]
pub struct RunLimits {
    pub memory_bytes: i64,
    pub cpus: f64,
    pub pids: i64,
    pub timeout: Duration,
    pub max_output_bytes: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            memory_bytes: 128 * 1024 * 1024,
            cpus: 0.5,
            pids: 64,
            timeout: Duration::from_secs(10),
            max_output_bytes: 64 * 1024,
        }
    }
}

/// An HTTP request to make once the container listens.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeSpec {
    pub port: u16,
    pub path: String,
}

/// Stop a container that is still running after a while, as `docker stop` would.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopSpec {
    /// How long it runs before it is asked to stop.
    pub after: Duration,
    /// How long it has to exit after its stop signal before SIGKILL.
    pub grace: Duration,
}

pub struct RunJob<'a> {
    pub image: &'a str,
    /// Replaces the image's `CMD` when set.
    pub command: Option<Vec<String>>,
    /// Replaces the image's `ENTRYPOINT` when set (checks run their command this way, so an
    /// entrypoint cannot swallow it as arguments).
    pub entrypoint: Option<Vec<String>>,
    pub labels: HashMap<String, String>,
    pub probe: Option<ProbeSpec>,
    /// Ask it to stop after a while and see how it takes it (no probe then).
    pub stop: Option<StopSpec>,
    pub limits: &'a RunLimits,
}

/// Run `job` to the end (or to its probe's answer, or to the time limit), sending each output
/// line to `on` as it arrives.
pub async fn run(
    docker: &Docker,
    host: &str,
    job: RunJob<'_>,
    on: &mut (dyn FnMut(String) + Send),
) -> Result<RunFacts, BuildFailure> {
    if job.probe.is_some() {
        ensure_probe_network(docker)
            .await
            .map_err(|e| super::build::engine_unavailable(host, &e))?;
    }
    let config = ContainerCreateBody {
        image: Some(job.image.to_string()),
        cmd: job.command.clone(),
        entrypoint: job.entrypoint.clone(),
        labels: Some(job.labels.clone()),
        network_disabled: Some(job.probe.is_none()),
        host_config: Some(HostConfig {
            memory: Some(job.limits.memory_bytes),
            memory_swap: Some(job.limits.memory_bytes),
            nano_cpus: Some((job.limits.cpus * 1e9) as i64),
            pids_limit: Some(job.limits.pids),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            network_mode: Some(if job.probe.is_some() {
                PROBE_NETWORK.into()
            } else {
                "none".into()
            }),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([(
                "/tmp".to_string(),
                "rw,nosuid,size=16m".to_string(),
            )])),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".into()),
                config: Some(HashMap::from([("max-size".to_string(), "1m".to_string())])),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let name = job
        .labels
        .get(BUILD_LABEL)
        .map(|b| format!("layerlab-run-{b}"));
    // (Run containers carry every label: unlike build labels they cost nothing.)
    let mut options = CreateContainerOptionsBuilder::new();
    if let Some(name) = &name {
        options = options.name(name);
    }
    let created = docker
        .create_container(Some(options.build()), config)
        .await
        .map_err(|e| run_failure(host, &e))?;
    let id = created.id;
    let outcome = run_created(docker, host, &id, &job, on).await;
    let remove = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    if let Err(e) = docker.remove_container(&id, Some(remove)).await {
        tracing::warn!(container = %id, "could not remove a run container: {e}");
    }
    outcome
}

async fn run_created(
    docker: &Docker,
    host: &str,
    id: &str,
    job: &RunJob<'_>,
    on: &mut (dyn FnMut(String) + Send),
) -> Result<RunFacts, BuildFailure> {
    docker
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(|e| run_failure(host, &e))?;
    let deadline = Instant::now() + job.limits.timeout;
    let (lines_tx, mut lines) = mpsc::channel::<String>(256);
    let pump = tokio::spawn(pump_output(
        docker.clone(),
        id.to_string(),
        job.limits.max_output_bytes,
        lines_tx,
    ));

    let mut timed_out = false;
    let mut probe_facts = None;
    let mut stop_facts = None;
    match &job.probe {
        None => {
            let started = Instant::now();
            let mut wait =
                docker.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
            let stop_at = job.stop.map(|s| started + s.after);
            let mut stop_sent: Option<(Instant, StopSpec, String)> = None;
            let sleep = tokio::time::sleep_until(stop_at.unwrap_or(deadline));
            tokio::pin!(sleep);
            let mut lines_open = true;
            loop {
                tokio::select! {
                    line = lines.recv(), if lines_open => match line {
                        Some(line) => on(line),
                        None => lines_open = false,
                    },
                    _ = wait.next() => {
                        if let Some((sent, spec, signal)) = stop_sent.take() {
                            stop_facts = Some(stop_outcome(started, sent, spec, signal, true));
                        }
                        break;
                    }
                    _ = &mut sleep => match (job.stop, stop_sent.take()) {
                        (Some(spec), None) => {
                            let sent = Instant::now();
                            let signal = send_stop_signal(docker, id).await;
                            stop_sent = Some((sent, spec, signal));
                            sleep.as_mut().reset(sent + spec.grace);
                        }
                        (_, Some((sent, spec, signal))) => {
                            // It ignored the signal for the whole grace period.
                            stop_facts = Some(stop_outcome(started, sent, spec, signal, false));
                            break;
                        }
                        _ => {
                            timed_out = true;
                            break;
                        }
                    }
                }
            }
        }
        Some(spec) => {
            let ip = container_ip(docker, id).await;
            let probe = probe_until(ip, spec, deadline);
            tokio::pin!(probe);
            let mut lines_open = true;
            let facts = loop {
                tokio::select! {
                    line = lines.recv(), if lines_open => match line {
                        Some(line) => on(line),
                        None => lines_open = false,
                    },
                    facts = &mut probe => break facts,
                }
            };
            timed_out = facts.status.is_none() && Instant::now() >= deadline;
            probe_facts = Some(facts);
        }
    }

    let state = inspect(docker, id).await.and_then(|c| c.state);
    let still_running = state.as_ref().and_then(|s| s.running).unwrap_or(false);
    // A container that left when asked to stop reports its own exit code.
    let stopped_by_us = still_running
        || stop_facts
            .as_ref()
            .is_some_and(|s: &StopFacts| s.exited_in_ms.is_none());
    if still_running {
        let kill = KillContainerOptionsBuilder::new().signal("KILL").build();
        let _ = docker.kill_container(id, Some(kill)).await;
    }
    // The output pump ends when the container does; let it hand over what is left.
    let drain_until = Instant::now() + Duration::from_secs(2);
    while let Ok(Some(line)) = tokio::time::timeout_at(drain_until, lines.recv()).await {
        on(line);
    }
    let (output, output_truncated) = match tokio::time::timeout_at(drain_until, pump).await {
        Ok(Ok(collected)) => collected,
        _ => (String::new(), false),
    };
    let state = if stopped_by_us {
        inspect(docker, id).await.and_then(|c| c.state)
    } else {
        state
    };
    let oom_killed = state.as_ref().and_then(|s| s.oom_killed).unwrap_or(false);
    Ok(RunFacts {
        exit_code: if stopped_by_us {
            None
        } else {
            state.as_ref().and_then(|s| s.exit_code)
        },
        output,
        output_truncated,
        oom_killed,
        timed_out,
        probe: probe_facts,
        stop: stop_facts,
    })
}

async fn inspect(docker: &Docker, id: &str) -> Option<bollard::models::ContainerInspectResponse> {
    docker
        .inspect_container(
            id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .ok()
}

/// Send the signal `docker stop` would send first (the container's `STOPSIGNAL`, else
/// SIGTERM); returns its name.
async fn send_stop_signal(docker: &Docker, id: &str) -> String {
    let signal = inspect(docker, id)
        .await
        .and_then(|c| c.config)
        .and_then(|c| c.stop_signal)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "SIGTERM".into());
    let kill = KillContainerOptionsBuilder::new().signal(&signal).build();
    if let Err(e) = docker.kill_container(id, Some(kill)).await {
        tracing::debug!(container = %id, "could not send {signal}: {e}");
    }
    signal
}

/// What stopping looked like: `exited` when the container ended within the grace period.
fn stop_outcome(
    started: Instant,
    sent: Instant,
    spec: StopSpec,
    signal: String,
    exited: bool,
) -> StopFacts {
    StopFacts {
        signal,
        after_ms: sent.duration_since(started).as_millis() as u64,
        exited_in_ms: exited.then(|| sent.elapsed().as_millis() as u64),
        grace_ms: spec.grace.as_millis() as u64,
    }
}

/// Follow the container's stdout and stderr: send each line on, and return all of it (up to
/// `max_bytes`) when the container ends.
async fn pump_output(
    docker: Docker,
    id: String,
    max_bytes: usize,
    lines: mpsc::Sender<String>,
) -> (String, bool) {
    let options = LogsOptionsBuilder::new()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut stream = docker.logs(&id, Some(options));
    let mut output = String::new();
    let mut partial = String::new();
    let mut truncated = false;
    while let Some(item) = stream.next().await {
        let Ok(chunk) = item else { break };
        let text = chunk.to_string();
        if output.len() + text.len() > max_bytes {
            let room = max_bytes.saturating_sub(output.len());
            let cut = floor_char_boundary(&text, room);
            output.push_str(&text[..cut]);
            partial.push_str(&text[..cut]);
            truncated = true;
        } else {
            output.push_str(&text);
            partial.push_str(&text);
        }
        while let Some(end) = partial.find('\n') {
            let line: String = partial.drain(..=end).collect();
            let _ = lines
                .send(line.trim_end_matches(['\r', '\n']).to_string())
                .await;
        }
        if truncated {
            break;
        }
    }
    if !partial.is_empty() {
        let _ = lines.send(partial).await;
    }
    (output, truncated)
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

async fn container_ip(docker: &Docker, id: &str) -> Option<String> {
    let inspect = inspect(docker, id).await?;
    inspect
        .network_settings?
        .networks?
        .get(PROBE_NETWORK)?
        .ip_address
        .clone()
        .filter(|ip| !ip.is_empty())
}

/// Ask `GET path` until the container answers or time runs out.
async fn probe_until(ip: Option<String>, spec: &ProbeSpec, deadline: Instant) -> ProbeFacts {
    let mut facts = ProbeFacts {
        port: spec.port,
        path: spec.path.clone(),
        status: None,
        body: String::new(),
        error: None,
    };
    let Some(ip) = ip else {
        facts.error = Some("the container got no address on the probe network".into());
        return facts;
    };
    loop {
        match tokio::time::timeout_at(deadline, http_get(&ip, spec)).await {
            Ok(Ok((status, body))) => {
                facts.status = Some(status);
                facts.body = body;
                facts.error = None;
                return facts;
            }
            Ok(Err(e)) => facts.error = Some(e),
            Err(_) => {}
        }
        if Instant::now() + Duration::from_millis(150) >= deadline {
            let waited = facts
                .error
                .take()
                .map(|e| format!(" (last try: {e})"))
                .unwrap_or_default();
            facts.error = Some(format!(
                "nothing answered on port {} before the time limit{waited}",
                spec.port
            ));
            return facts;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

const MAX_PROBE_BODY: usize = 64 * 1024;

async fn http_get(ip: &str, spec: &ProbeSpec) -> Result<(u16, String), String> {
    let mut stream = tokio::net::TcpStream::connect((ip, spec.port))
        .await
        .map_err(|e| format!("cannot connect to port {}: {e}", spec.port))?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {ip}:{}\r\nUser-Agent: layerlab-probe\r\nConnection: close\r\n\r\n",
        spec.path, spec.port
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut response = Vec::new();
    let mut limited = (&mut stream).take((MAX_PROBE_BODY + 8192) as u64);
    limited
        .read_to_end(&mut response)
        .await
        .map_err(|e| format!("the answer broke off: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            format!(
                "the answer is not HTTP: {}",
                strip_ansi(&head.chars().take(80).collect::<String>())
            )
        })?;
    let cut = floor_char_boundary(body, MAX_PROBE_BODY);
    Ok((status, body[..cut].to_string()))
}

async fn ensure_probe_network(docker: &Docker) -> Result<(), bollard::errors::Error> {
    if docker
        .inspect_network(
            PROBE_NETWORK,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .is_ok()
    {
        return Ok(());
    }
    let request = NetworkCreateRequest {
        name: PROBE_NETWORK.into(),
        internal: Some(true),
        labels: Some(HashMap::from([(
            "org.layerlab.purpose".to_string(),
            "probe web exercises".to_string(),
        )])),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => Ok(()),
        // Another build created it at the same moment.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(()),
        Err(e) => Err(e),
    }
}

fn run_failure(host: &str, e: &bollard::errors::Error) -> BuildFailure {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => BuildFailure {
            code: "run_failed_to_start".into(),
            message: format!(
                "The image built, but its container could not start: {}. Check CMD and ENTRYPOINT.",
                strip_ansi(message)
            ),
            line: None,
        },
        other => super::build::engine_unavailable(host, other),
    }
}
