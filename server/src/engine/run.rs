//! Running a built image once, locked down: no capabilities, no privilege gain, read-only root
//! with a small `/tmp`, memory without swap, CPU and process caps, a wall-clock limit, an
//! output cap, and no network: every run has its own network namespace with loopback only, so
//! it reaches neither the host nor another learner's container. A web exercise's HTTP probe
//! connects from inside that namespace ([`super::netns`]) or, where it cannot enter it, from a
//! helper container sharing it. The container is always removed.

use super::builder::BUILD_LABEL;
use super::netns::{NetNs, NetnsError};
use super::strip_ansi;
use super::Client;
use app::dto::{
    BuildFailure, CopyStopFacts, HealthFacts, ProbeFacts, ProcessFacts, RunFacts, StopFacts,
};
use bollard::models::{ContainerCreateBody, HealthConfig, HostConfig, HostConfigLogConfig};
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

/// The shared `internal` network older versions ran web exercises on. Its gateway was the
/// host, so it is no longer used; the janitor removes it at start-up when nothing is on it.
pub const OLD_PROBE_NETWORK: &str = "layerlab-probe";

/// The image of the helper container that probes a web exercise from inside its network
/// namespace when the server cannot enter it itself (`busybox` `nc`; a course base image).
pub const PROBE_HELPER_IMAGE: &str = "busybox:latest";

/// How the probe reaches a web exercise's port (`--probe-via`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeVia {
    /// Enter the container's network namespace when the engine is on this host and the
    /// server may (root); otherwise use a helper container.
    #[default]
    Auto,
    /// Only by entering the namespace; a build says why when that is not possible.
    Namespace,
    /// Always through a helper container sharing the run's namespace (any engine, no root).
    Helper,
}

#[derive(Clone, Debug)]
pub struct RunLimits {
    pub memory_bytes: i64,
    pub cpus: f64,
    pub pids: i64,
    pub timeout: Duration,
    pub max_output_bytes: usize,
    pub probe_via: ProbeVia,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            memory_bytes: 128 * 1024 * 1024,
            cpus: 0.5,
            pids: 64,
            timeout: Duration::from_secs(10),
            max_output_bytes: 64 * 1024,
            probe_via: ProbeVia::Auto,
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
    /// `NAME=value` pairs added to the image's environment.
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    pub probe: Option<ProbeSpec>,
    /// Ask it to stop after a while and see how it takes it (no probe then).
    pub stop: Option<StopSpec>,
    /// Watch the engine's health status of the container (its image's `HEALTHCHECK`) and end
    /// the run as soon as the engine calls it healthy or unhealthy, or after this long (no
    /// probe, no stop then).
    pub watch_health: Option<Duration>,
    /// With `watch_health`: once the engine calls the container healthy, freeze its main
    /// process (SIGSTOP from outside, which even PID 1 cannot ignore: a hung server) and go
    /// on watching, for the health check to notice.
    pub freeze_when_healthy: bool,
    pub limits: &'a RunLimits,
}

/// The fastest a learner's `HEALTHCHECK` may run: each check is an exec the engine, containerd
/// and runc pay for outside the container's CPU limit.
const MIN_HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// The health checking a run gets: none, unless a check watches it; then the image's own,
/// slowed to [`MIN_HEALTH_INTERVAL`] if it asks for less (the engine fills in the rest from
/// the image).
async fn health_config(docker: &Docker, job: &RunJob<'_>) -> Option<HealthConfig> {
    if job.watch_health.is_none() {
        return Some(HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        });
    }
    let floor = i64::try_from(MIN_HEALTH_INTERVAL.as_nanos()).unwrap_or(i64::MAX);
    let declared = docker
        .inspect_image(job.image)
        .await
        .ok()
        .and_then(|i| i.config)
        .and_then(|c| c.healthcheck);
    let too_fast = |v: Option<i64>| v.is_some_and(|ns| ns > 0 && ns < floor);
    match declared {
        Some(h) if too_fast(h.interval) || too_fast(h.start_interval) => Some(HealthConfig {
            interval: too_fast(h.interval).then_some(floor),
            start_interval: too_fast(h.start_interval).then_some(floor),
            ..Default::default()
        }),
        _ => None,
    }
}

/// How long a container must stay healthy before a watched run calls it so: three checks at
/// the fastest interval allowed.
const HEALTHY_FOR: Duration = Duration::from_secs(3);

/// At most this much later than the exercise says, a container (and again its copy) is asked
/// to stop.
const STOP_JITTER: Duration = Duration::from_millis(1500);

/// The copy of a stopped container is asked at least this long after the first one's grace
/// period would have ended.
const COPY_GAP: Duration = Duration::from_millis(500);

/// How often the engine's health status is read while it is watched.
const HEALTH_POLL: Duration = Duration::from_millis(200);

/// Run `job` to the end (or to its probe's answer, or to the time limit), sending each output
/// line to `on` as it arrives.
pub async fn run(
    client: &Client,
    job: RunJob<'_>,
    on: &mut (dyn FnMut(String) + Send),
) -> Result<RunFacts, BuildFailure> {
    let docker = &client.docker;
    let host = client.host();
    let healthcheck = health_config(docker, &job).await;
    let config = ContainerCreateBody {
        image: Some(job.image.to_string()),
        healthcheck,
        cmd: job.command.clone(),
        entrypoint: job.entrypoint.clone(),
        env: (!job.env.is_empty()).then(|| job.env.clone()),
        labels: Some(job.labels.clone()),
        network_disabled: Some(job.probe.is_none()),
        host_config: Some(HostConfig {
            memory: Some(job.limits.memory_bytes),
            memory_swap: Some(job.limits.memory_bytes),
            nano_cpus: Some((job.limits.cpus * 1e9) as i64),
            pids_limit: Some(job.limits.pids),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            // Its own namespace with loopback only, web exercises included (a server on
            // 0.0.0.0 listens on that loopback, where the probe connects).
            network_mode: Some("none".into()),
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
    // A run that asks the container to stop also starts an identical copy, asked to stop
    // later at a moment of its own: a container that merely ends on its own clock cannot end
    // just after both signals, and cannot tell which of the two it is.
    let copy = match job.stop {
        Some(_) => {
            let mut options = CreateContainerOptionsBuilder::new();
            if let Some(name) = &name {
                options = options.name(&format!("{name}-copy"));
            }
            let created = docker
                .create_container(Some(options.build()), config.clone())
                .await
                .map_err(|e| run_failure(host, &e))?;
            Some(created.id)
        }
        None => None,
    };
    let created = docker
        .create_container(Some(options.build()), config)
        .await
        .map_err(|e| run_failure(host, &e));
    let outcome = match created {
        Ok(created) => {
            let outcome = run_created(docker, host, &created.id, copy.as_deref(), &job, on).await;
            remove(docker, &created.id).await;
            outcome
        }
        Err(e) => Err(e),
    };
    if let Some(copy) = &copy {
        remove(docker, copy).await;
    }
    outcome
}

async fn remove(docker: &Docker, id: &str) {
    let remove = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    if let Err(e) = docker.remove_container(id, Some(remove)).await {
        tracing::warn!(container = %id, "could not remove a run container: {e}");
    }
}

/// A random delay below `max` (the stop moments a container cannot predict).
fn jitter(max: Duration) -> Duration {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    let draw = u64::from(u16::from_le_bytes([bytes[0], bytes[1]]));
    max.mul_f64(draw as f64 / 65_536.0)
}

/// Ask the copy of a stopped container to stop in its turn (at `at`), as `docker stop`
/// does: had it ended already, how long it took, or that it did not within `grace` (then
/// it is left to the removal). `None` when the engine cannot say.
async fn stop_the_copy(
    docker: &Docker,
    id: &str,
    started: Instant,
    at: Instant,
    grace: Duration,
) -> Option<CopyStopFacts> {
    tokio::time::sleep_until(at).await;
    let after_ms = at.duration_since(started).as_millis() as u64;
    let state = inspect(docker, id).await.and_then(|c| c.state)?;
    if state.running != Some(true) {
        return Some(CopyStopFacts {
            after_ms,
            ended_early: Some(state.exit_code?),
            exited_in_ms: None,
        });
    }
    let mut wait =
        docker.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
    let sent = Instant::now();
    send_stop_signal(docker, id).await;
    let exited = tokio::time::timeout(grace, wait.next()).await.is_ok();
    Some(CopyStopFacts {
        after_ms,
        ended_early: None,
        exited_in_ms: exited.then(|| sent.elapsed().as_millis() as u64),
    })
}

async fn run_created(
    docker: &Docker,
    host: &str,
    id: &str,
    copy: Option<&str>,
    job: &RunJob<'_>,
    on: &mut (dyn FnMut(String) + Send),
) -> Result<RunFacts, BuildFailure> {
    for id in std::iter::once(id).chain(copy) {
        docker
            .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
            .await
            .map_err(|e| run_failure(host, &e))?;
    }
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
    let mut health_facts = None;
    let mut processes = Vec::new();
    let mut unavailable = None;
    match &job.probe {
        None => {
            let started = Instant::now();
            let mut wait =
                docker.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
            // Asked at a moment it cannot predict; its copy later, at another.
            let stop_at = job.stop.map(|s| started + s.after + jitter(STOP_JITTER));
            let mut stop_sent: Option<(Instant, StopSpec, String)> = None;
            let health_until = job
                .watch_health
                .map(|within| (started + within).min(deadline));
            let sleep = tokio::time::sleep_until(stop_at.or(health_until).unwrap_or(deadline));
            tokio::pin!(sleep);
            let mut health_poll = tokio::time::interval(HEALTH_POLL);
            let mut healthy_since: Option<Instant> = None;
            let mut frozen_after: Option<Duration> = None;
            let mut lines_open = true;
            loop {
                tokio::select! {
                    line = lines.recv(), if lines_open => match line {
                        Some(line) => on(line),
                        None => lines_open = false,
                    },
                    _ = health_poll.tick(), if job.watch_health.is_some() => {
                        let facts = read_health(docker, id, started, frozen_after).await;
                        // Unhealthy (or no health check) is final; healthy must last a
                        // moment, or a check that passes once and then fails would count.
                        let steady = facts.status == "healthy"
                            && healthy_since.get_or_insert_with(Instant::now).elapsed() >= HEALTHY_FOR;
                        let decided = match facts.status.as_str() {
                            "unhealthy" | "none" => true,
                            // Frozen: wait for the health check to notice, up to the limit.
                            _ if frozen_after.is_some() => false,
                            "healthy" if steady && job.freeze_when_healthy => {
                                let kill = KillContainerOptionsBuilder::new().signal("STOP").build();
                                if docker.kill_container(id, Some(kill)).await.is_ok() {
                                    frozen_after = Some(started.elapsed());
                                }
                                false
                            }
                            "healthy" => steady,
                            _ => false,
                        };
                        health_facts = Some(HealthFacts {
                            frozen_after_ms: millis(frozen_after),
                            ..facts
                        });
                        if decided {
                            break;
                        }
                    }
                    _ = wait.next() => {
                        if let Some((sent, spec, signal)) = stop_sent.take() {
                            let mut facts = stop_outcome(started, sent, spec, signal, true);
                            if let Some(copy) = copy {
                                // Later than this one could have taken to leave when asked,
                                // so that no single moment of its own ends both in time.
                                let at = sent + spec.grace + COPY_GAP + jitter(STOP_JITTER);
                                facts.copy =
                                    stop_the_copy(docker, copy, started, at, spec.grace).await;
                            }
                            stop_facts = Some(facts);
                        }
                        if job.watch_health.is_some() {
                            health_facts = Some(read_health(docker, id, started, frozen_after).await);
                        }
                        break;
                    }
                    _ = &mut sleep => match (job.stop, stop_sent.take()) {
                        _ if job.watch_health.is_some() => {
                            // Undecided when the wait ends: say what it was last.
                            health_facts = Some(read_health(docker, id, started, frozen_after).await);
                            break;
                        }
                        (Some(spec), None) => {
                            // What runs, as the host sees it, before it is asked to stop.
                            processes = top(docker, id).await;
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
            let mut wait =
                docker.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
            let probe = async {
                let route =
                    Route::choose(docker, host, id, &job.labels, job.limits.probe_via).await?;
                probe_until(route, spec, deadline).await
            };
            tokio::pin!(probe);
            let mut lines_open = true;
            let outcome = loop {
                tokio::select! {
                    line = lines.recv(), if lines_open => match line {
                        Some(line) => on(line),
                        None => lines_open = false,
                    },
                    outcome = &mut probe => break outcome,
                    // Nothing can answer once it has ended.
                    _ = wait.next() => break Ok(ended_before_answering(spec)),
                }
            };
            match outcome {
                Ok(facts) => {
                    timed_out = facts.status.is_none() && Instant::now() >= deadline;
                    probe_facts = Some(facts);
                }
                // Out of reach because it ended meanwhile, or really out of reach.
                Err(why) => match inspect(docker, id).await.and_then(|c| c.state) {
                    Some(state) if state.running != Some(true) => {
                        probe_facts = Some(ended_before_answering(spec));
                    }
                    _ => unavailable = Some(why),
                },
            }
        }
    }

    let state = inspect(docker, id).await.and_then(|c| c.state);
    let still_running = state.as_ref().and_then(|s| s.running).unwrap_or(false);
    // (A watched health run's processes are read by nobody.)
    if still_running && processes.is_empty() && job.watch_health.is_none() {
        processes = top(docker, id).await;
    }
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
    let mut oom_killed = state.as_ref().and_then(|s| s.oom_killed).unwrap_or(false);
    // The engine can report a container's exit before the kernel's OOM event reaches it
    // (seen here: exit code 137 with OOMKilled false, true a moment later); look again.
    let killed = state.as_ref().and_then(|s| s.exit_code) == Some(137);
    if killed && !oom_killed && !stopped_by_us {
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            oom_killed = inspect(docker, id)
                .await
                .and_then(|c| c.state)
                .and_then(|s| s.oom_killed)
                .unwrap_or(false);
            if oom_killed {
                break;
            }
        }
    }
    if let Some(why) = unavailable {
        return Err(probe_unavailable(&why));
    }
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
        health: health_facts,
        processes,
    })
}

/// At most this many processes are kept from `docker top`.
const MAX_PROCESSES: usize = 20;

/// The container's processes as `docker top <id> -o pid,user,args` lists them (empty when
/// the engine cannot list them, e.g. the container has just ended).
pub(super) async fn top(docker: &Docker, id: &str) -> Vec<ProcessFacts> {
    let options = bollard::query_parameters::TopOptionsBuilder::new()
        .ps_args("-o pid,user,args")
        .build();
    let Ok(listed) = docker.top_processes(id, Some(options)).await else {
        return Vec::new();
    };
    let titles = listed.titles.unwrap_or_default();
    let column = |name: &str| titles.iter().position(|t| t == name);
    let (Some(pid), Some(user)) = (column("PID"), column("USER")) else {
        return Vec::new();
    };
    // The main process, by its PID as the host sees it.
    let main_pid = inspect(docker, id)
        .await
        .and_then(|c| c.state)
        .and_then(|s| s.pid)
        .map(|p| p.to_string());
    let command = column("COMMAND")
        .or_else(|| column("ARGS"))
        .or_else(|| column("CMD"));
    listed
        .processes
        .unwrap_or_default()
        .into_iter()
        .take(MAX_PROCESSES)
        .map(|row| {
            let cell = |i: Option<usize>| i.and_then(|i| row.get(i)).cloned().unwrap_or_default();
            let pid = cell(Some(pid));
            ProcessFacts {
                main: main_pid.as_deref() == Some(pid.as_str()),
                pid,
                user: cell(Some(user)),
                command: strip_ansi(&cell(command)).chars().take(200).collect(),
            }
        })
        .collect()
}

fn millis(d: Option<Duration>) -> Option<u64> {
    d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The engine's health status of a container and the output of its last health check;
/// `frozen_after` says when the run froze it, if it did.
async fn read_health(
    docker: &Docker,
    id: &str,
    started: Instant,
    frozen_after: Option<Duration>,
) -> HealthFacts {
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let health = inspect(docker, id)
        .await
        .and_then(|c| c.state)
        .and_then(|s| s.health);
    let Some(health) = health else {
        return HealthFacts {
            status: "none".into(),
            after_ms: elapsed_ms,
            checks_run: 0,
            last_output: String::new(),
            last_exit_code: None,
            frozen_after_ms: millis(frozen_after),
        };
    };
    let status = match health.status {
        Some(bollard::models::HealthStatusEnum::HEALTHY) => "healthy",
        Some(bollard::models::HealthStatusEnum::UNHEALTHY) => "unhealthy",
        Some(bollard::models::HealthStatusEnum::STARTING) => "starting",
        // `EMPTY` or `NONE`: the image declares no health check.
        _ => "none",
    };
    let log = health.log.unwrap_or_default();
    let last = log.last();
    HealthFacts {
        status: status.into(),
        after_ms: elapsed_ms,
        checks_run: log.len(),
        last_output: last
            .and_then(|l| l.output.clone())
            .map(|o| strip_ansi(o.trim()).chars().take(500).collect())
            .unwrap_or_default(),
        last_exit_code: last.and_then(|l| l.exit_code),
        frozen_after_ms: millis(frozen_after),
    }
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
        copy: None,
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

fn ended_before_answering(spec: &ProbeSpec) -> ProbeFacts {
    ProbeFacts {
        port: spec.port,
        path: spec.path.clone(),
        status: None,
        body: String::new(),
        error: Some(format!(
            "the container stopped before anything answered on port {} (its main process must keep running, in the foreground)",
            spec.port
        )),
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// One try at the probe's request that got no answer.
enum Miss {
    /// Nothing answered (yet): try again until the time limit.
    NoAnswer(String),
    /// This way of reaching the port does not work here at all.
    Unreachable(String),
}

/// How the probe gets to the container's port: from inside its network namespace when it
/// has it open, else through a helper container that shares the namespace.
struct Route<'a> {
    namespace: Option<NetNs>,
    /// Where in the namespace to connect ([`super::netns::probe_address`]).
    address: std::net::Ipv4Addr,
    /// Whether a namespace that will not let us in may give way to the helper.
    fall_back: bool,
    helper: Helper<'a>,
}

impl<'a> Route<'a> {
    /// The route `via` asks for; `Err` says why none can be had.
    async fn choose(
        docker: &'a Docker,
        host: &str,
        target: &'a str,
        labels: &'a HashMap<String, String>,
        via: ProbeVia,
    ) -> Result<Route<'a>, String> {
        let address = super::netns::probe_address();
        let helper = Helper {
            docker,
            target,
            labels,
            address,
        };
        let namespace = match via {
            ProbeVia::Helper => None,
            ProbeVia::Namespace => Some(open_namespace(docker, host, target).await?),
            ProbeVia::Auto => match open_namespace(docker, host, target).await {
                Ok(ns) => Some(ns),
                Err(why) => {
                    tracing::debug!("probing through a helper container: {why}");
                    None
                }
            },
        };
        Ok(Route {
            namespace,
            address,
            fall_back: via == ProbeVia::Auto,
            helper,
        })
    }

    async fn get(&mut self, spec: &ProbeSpec) -> Result<(u16, String), Miss> {
        if let Some(ns) = &self.namespace {
            match ns.connect(self.address, spec.port).await {
                Ok(stream) => return http_get(stream, spec).await.map_err(Miss::NoAnswer),
                Err(e @ NetnsError::Connect { .. }) => return Err(Miss::NoAnswer(e.to_string())),
                // Opened, but this server may not enter it (not root).
                Err(e) if self.fall_back => {
                    tracing::warn!("probing through a helper container: {e}");
                    self.namespace = None;
                }
                Err(e) => return Err(Miss::Unreachable(e.to_string())),
            }
        }
        self.helper.get(spec).await
    }
}

/// The container's network namespace, by the path the engine gives (`SandboxKey`), which
/// only a server on the engine's host can open.
pub(super) async fn open_namespace(docker: &Docker, host: &str, id: &str) -> Result<NetNs, String> {
    if !host.starts_with("unix://") {
        return Err(format!(
            "the engine ({host}) is not on this host, so its containers' network namespaces are out of reach"
        ));
    }
    let key = inspect(docker, id)
        .await
        .and_then(|c| c.network_settings)
        .and_then(|n| n.sandbox_key)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            "the engine did not say where the container's network namespace is".to_string()
        })?;
    NetNs::open(std::path::Path::new(&key)).map_err(|e| e.to_string())
}

/// Ask `GET path` until the container answers or time runs out. `Err` says why the port
/// cannot be reached at all (the server's setup, not the learner's image).
async fn probe_until(
    mut route: Route<'_>,
    spec: &ProbeSpec,
    deadline: Instant,
) -> Result<ProbeFacts, String> {
    let mut facts = ProbeFacts {
        port: spec.port,
        path: spec.path.clone(),
        status: None,
        body: String::new(),
        error: None,
    };
    loop {
        match tokio::time::timeout_at(deadline, route.get(spec)).await {
            Ok(Ok((status, body))) => {
                facts.status = Some(status);
                facts.body = body;
                facts.error = None;
                return Ok(facts);
            }
            Ok(Err(Miss::NoAnswer(e))) => facts.error = Some(e),
            Ok(Err(Miss::Unreachable(why))) => return Err(why),
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
            return Ok(facts);
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// A container that joins the run's network namespace (`network_mode: container:<id>`) and
/// sends the request with busybox `nc`; what it prints is the raw answer. It runs our image,
/// never the learner's, so the learner's image cannot forge the answer.
struct Helper<'a> {
    docker: &'a Docker,
    target: &'a str,
    labels: &'a HashMap<String, String>,
    address: std::net::Ipv4Addr,
}

/// How long one helper's `nc` may wait for the answer.
const HELPER_TIMEOUT_SECS: u64 = 5;

impl Helper<'_> {
    async fn get(&self, spec: &ProbeSpec) -> Result<(u16, String), Miss> {
        let outcome = self
            .run(
                vec![
                    "sh".into(),
                    "-c".into(),
                    format!(
                        "printf '%s' \"$PROBE_REQUEST\" | timeout {HELPER_TIMEOUT_SECS} nc {} \"$PROBE_PORT\"",
                        self.address
                    ),
                ],
                vec![
                    format!("PROBE_REQUEST={}", request_text(spec)),
                    format!("PROBE_PORT={}", spec.port),
                ],
            )
            .await?;
        match outcome {
            (0, answer, _) => parse_answer(&answer).map_err(Miss::NoAnswer),
            (_, _, complaint) => Err(Miss::NoAnswer(format!(
                "cannot connect to port {}: {}",
                spec.port,
                complaint
                    .lines()
                    .map(str::trim)
                    .rfind(|l| !l.is_empty())
                    .unwrap_or("the connection failed")
            ))),
        }
    }

    /// Run `cmd` in a helper in the target's network namespace, then remove it: (exit code,
    /// stdout, stderr).
    async fn run(
        &self,
        cmd: Vec<String>,
        env: Vec<String>,
    ) -> Result<(i64, Vec<u8>, String), Miss> {
        let config = ContainerCreateBody {
            image: Some(PROBE_HELPER_IMAGE.into()),
            cmd: Some(cmd),
            env: Some(env),
            labels: Some(self.labels.clone()),
            host_config: Some(HostConfig {
                network_mode: Some(format!("container:{}", self.target)),
                memory: Some(32 * 1024 * 1024),
                memory_swap: Some(32 * 1024 * 1024),
                pids_limit: Some(16),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                readonly_rootfs: Some(true),
                log_config: Some(HostConfigLogConfig {
                    typ: Some("json-file".into()),
                    config: Some(HashMap::from([("max-size".to_string(), "1m".to_string())])),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                config,
            )
            .await
            .map_err(helper_unavailable)?;
        let outcome = self.exchange(&created.id).await;
        let remove = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        if let Err(e) = self
            .docker
            .remove_container(&created.id, Some(remove))
            .await
        {
            tracing::warn!(container = %created.id, "could not remove a probe helper: {e}");
        }
        outcome.map_err(helper_unavailable)
    }

    /// Start the helper, wait for it and read what it printed: (exit code, stdout, stderr).
    async fn exchange(&self, id: &str) -> Result<(i64, Vec<u8>, String), bollard::errors::Error> {
        self.docker
            .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
            .await?;
        let mut wait = self
            .docker
            .wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
        let code =
            match tokio::time::timeout(Duration::from_secs(HELPER_TIMEOUT_SECS + 2), wait.next())
                .await
            {
                Ok(Some(Ok(exit))) => exit.status_code,
                // bollard reports a non-zero exit as an error carrying the code.
                Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError {
                    code, ..
                }))) => code,
                Ok(Some(Err(e))) => return Err(e),
                Ok(None) | Err(_) => -1,
            };
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(options));
        let (mut out, mut err) = (Vec::new(), String::new());
        while let Some(chunk) = logs.next().await {
            match chunk? {
                bollard::container::LogOutput::StdOut { message } => {
                    if out.len() < MAX_PROBE_BODY + 8192 {
                        out.extend_from_slice(&message);
                    }
                }
                other => err.push_str(&other.to_string()),
            }
        }
        Ok((code, out, err))
    }
}

/// The TCP ports container `target` listens on (any address, IPv4 or IPv6), read from its
/// network namespace's `/proc/net/tcp*` by a helper of ours that joins it: what a sidecar's
/// `netstat -ltn` shows, whatever the target's image holds. The helper carries `labels`.
pub(crate) async fn listening_ports(
    docker: &Docker,
    target: &str,
    labels: &HashMap<String, String>,
) -> Result<Vec<u16>, String> {
    let helper = Helper {
        docker,
        target,
        labels,
        address: std::net::Ipv4Addr::LOCALHOST,
    };
    let cmd = vec![
        "cat".into(),
        "/proc/net/tcp".into(),
        "/proc/net/tcp6".into(),
    ];
    let (code, listed, complaint) = helper.run(cmd, Vec::new()).await.map_err(|m| match m {
        Miss::Unreachable(why) | Miss::NoAnswer(why) => why,
    })?;
    // An empty list from a helper that failed would say "listens on nothing".
    if code != 0 {
        return Err(format!(
            "the helper that reads its sockets failed ({code}): {}",
            complaint.trim()
        ));
    }
    Ok(listening_in(&String::from_utf8_lossy(&listed)))
}

/// The local ports of the sockets in state LISTEN (`0A`) in `/proc/net/tcp` text, sorted.
fn listening_in(table: &str) -> Vec<u16> {
    let mut ports: Vec<u16> = table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(3) == Some(&"0A")).then_some(())?;
            let (_, port) = fields.get(1)?.rsplit_once(':')?;
            u16::from_str_radix(port, 16).ok()
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Why the helper cannot probe at all, in words the operator can act on.
fn helper_unavailable(e: bollard::errors::Error) -> Miss {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        } if message.contains("image") => Miss::Unreachable(format!(
            "the probe's helper image {PROBE_HELPER_IMAGE} is not on the engine (`layerlab images seed {PROBE_HELPER_IMAGE}` makes it)"
        )),
        other => Miss::Unreachable(format!(
            "the probe's helper container could not start: {}",
            strip_ansi(&other.to_string())
        )),
    }
}

const MAX_PROBE_BODY: usize = 64 * 1024;

/// The probe's request: one `GET`, closing after the answer.
fn request_text(spec: &ProbeSpec) -> String {
    format!(
        "GET {} HTTP/1.0\r\nHost: localhost:{}\r\nUser-Agent: layerlab-probe\r\nConnection: close\r\n\r\n",
        spec.path, spec.port
    )
}

async fn http_get(
    mut stream: tokio::net::TcpStream,
    spec: &ProbeSpec,
) -> Result<(u16, String), String> {
    stream
        .write_all(request_text(spec).as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut response = Vec::new();
    let mut limited = (&mut stream).take((MAX_PROBE_BODY + 8192) as u64);
    limited
        .read_to_end(&mut response)
        .await
        .map_err(|e| format!("the answer broke off: {e}"))?;
    parse_answer(&response)
}

/// The status and (capped) body of a raw HTTP answer.
fn parse_answer(response: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            if head.trim().is_empty() {
                "the connection closed without an answer".to_string()
            } else {
                format!(
                    "the answer is not HTTP: {}",
                    strip_ansi(&head.chars().take(80).collect::<String>())
                )
            }
        })?;
    let cut = floor_char_boundary(body, MAX_PROBE_BODY);
    Ok((status, body[..cut].to_string()))
}

/// The probe could not reach the port at all: the workshop's setup, not the learner's image.
fn probe_unavailable(why: &str) -> BuildFailure {
    tracing::warn!("web exercise probe unavailable: {why}");
    BuildFailure {
        code: "probe_unavailable".into(),
        message: format!(
            "The image built and its container started, but layerlab cannot reach the container's port to test it: {why}. This is the workshop's setup, not your Dockerfile: please tell the workshop's operator (the README's “Web exercises” note says what to set up)."
        ),
        line: None,
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
        other => super::builder::engine_unavailable(host, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_ports_are_read_from_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:8235 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 1 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1\n  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(
            listening_in(table),
            vec![80, 0x8235],
            "LISTEN sockets only, v4 and v6"
        );
        assert!(listening_in("").is_empty());
    }
}
