//! What a console exercise's checks read: the learner's slice of the engine at one moment
//! (their containers, what those printed and serve, their images), in the learner's own
//! names. Read on the engine by labels, never from what the console printed.

use super::{publish, ConsoleError, Consoles};
use crate::engine::console_state::Reads;
use crate::exercise::console::{Answer, ConsoleContainer, ConsoleFacts, ConsoleImage};
use crate::policy::api::Scope;
use std::collections::HashSet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes of a page read for a check.
const MAX_PAGE: usize = 64 * 1024;
/// How long a check asks pages on published ports, all of them together.
const PAGES_WITHIN: std::time::Duration = std::time::Duration::from_secs(12);
/// Pages a check asks at once.
const PAGES_AT_ONCE: usize = 4;
/// How long a published port has to answer a check's request.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);
/// The ids of what an exercise's setup made in a learner's slice.
#[derive(Clone, Debug, Default)]
pub(super) struct Fixtures {
    pub(super) containers: HashSet<String>,
    pub(super) images: HashSet<String>,
}

/// Ends every process the learner left in their toolbox (background jobs too, which the
/// toolbox's init adopts), sparing the init, the toolbox's own first process (the oldest of
/// the init's children) and this shell.
const ENDS_LEFTOVERS: &str = r#"main=$(ps -o pid= --ppid 1 | sort -n | head -n 1 | tr -d " "); for p in $(ps -e -o pid=); do [ "$p" = 1 ] || [ "$p" = "$main" ] || [ "$p" = "$$" ] || kill -KILL "$p" 2>/dev/null; done; true"#;
/// How long a setup's containers have to show what is asked about (a log line, a listener).
const SETTLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

/// A setup under way in a console: its typed commands are refused until it ends (and one
/// cannot begin while a command runs).
struct SettingUp<'a>(&'a super::Console);

impl<'a> SettingUp<'a> {
    fn begin(console: &'a super::Console) -> Result<Self, ConsoleError> {
        let mut inner = super::lock(&console.inner);
        if inner.running.is_some() {
            return Err(ConsoleError::SettingUp(
                "A command is running in your console: stop it (Ctrl-C) or let it end, then set the exercise up.".into(),
            ));
        }
        inner.setting_up = true;
        Ok(SettingUp(console))
    }
}

impl Drop for SettingUp<'_> {
    fn drop(&mut self) {
        super::lock(&self.0.inner).setting_up = false;
    }
}

/// A learner's checks and setups start at least this far apart (and one at a time).
pub const CHECK_GAP: std::time::Duration = std::time::Duration::from_secs(1);
/// At most this many of a learner's checks and setups start in any minute (each is kept as
/// an attempt, and reads all their containers).
pub const CHECKS_PER_MINUTE: usize = 20;

/// A learner's checks and setups: when the last one ended (or that one is under way), and
/// when the recent ones began.
#[derive(Debug, Default)]
pub(super) struct Turns {
    last: Option<std::time::Instant>,
    recent: std::collections::VecDeque<std::time::Instant>,
}

impl Turns {
    /// One more begins `now`, unless it is too soon after the last or too many began in the
    /// last minute; it is under way until [`Turns::end`].
    fn begin(&mut self, now: std::time::Instant, most: usize) -> Result<(), ConsoleError> {
        let minute = std::time::Duration::from_secs(60);
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < CHECK_GAP)
        {
            return Err(ConsoleError::TooSoon);
        }
        while self
            .recent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= minute)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= most {
            let oldest = self.recent.front().copied().unwrap_or(now);
            let wait = minute.saturating_sub(now.duration_since(oldest)).as_secs() + 1;
            return Err(ConsoleError::TooMany { most, wait });
        }
        self.recent.push_back(now);
        // Under way: no other until it ends (then the gap counts from its end).
        self.last = Some(now + std::time::Duration::from_secs(3600));
        Ok(())
    }

    fn end(&mut self, now: std::time::Instant) {
        self.last = Some(now);
    }
}

/// A check under way: while it is held, the learner's next one waits its turn; once it is
/// dropped, the next may start [`CHECK_GAP`] after it ended.
pub struct CheckTurn<'a> {
    consoles: &'a Consoles,
    owner: String,
}

impl Drop for CheckTurn<'_> {
    fn drop(&mut self) {
        if let Some(turns) = super::lock(&self.consoles.checking).get_mut(&self.owner) {
            turns.end(std::time::Instant::now());
        }
    }
}

/// How long one line of an exercise's setup may take.
const SETUP_LINE_WITHIN: std::time::Duration = std::time::Duration::from_secs(120);
/// At most this many of the learner's images are read for a check.
const MAX_IMAGES: usize = 40;

impl Consoles {
    /// The learner's slice as checks see it, with what `reads` asks for. Every published
    /// port of a running container is asked for each of `paths`; then their toolbox is
    /// started if it is not (the ports are served through it). With the learner's turn,
    /// which the caller holds until the whole check (what else it reads, what it keeps) is
    /// done.
    pub async fn facts(
        &self,
        owner: &str,
        paths: &[String],
        reads: Reads,
    ) -> Result<(ConsoleFacts, CheckTurn<'_>), ConsoleError> {
        let turn = self.check_turn(owner)?;
        if !paths.is_empty() {
            self.open(owner).await?;
        }
        let facts = self
            .read_facts(owner, paths, &[], reads, &Fixtures::default())
            .await?;
        Ok((facts, turn))
    }

    /// The ids of the images `names` (as the learner names them) on the engine now, as the
    /// console would run them; a name it would not run is left out.
    pub async fn image_ids(&self, owner: &str, names: &[String]) -> Vec<(String, String)> {
        let Ok(client) = self.engine.client().await else {
            return Vec::new();
        };
        let Ok(scope) = self.scope_with_images(owner).await else {
            return Vec::new();
        };
        let mut ids = Vec::new();
        for name in names {
            if let Ok(Some((id, _))) = super::door::usable_image(&client, &scope, name).await {
                ids.push((name.clone(), id));
            }
        }
        ids
    }

    /// The learner's slice as it is; what `fixtures` names is marked as made by a setup.
    async fn read_facts(
        &self,
        owner: &str,
        paths: &[String],
        listening_of: &[String],
        reads: Reads,
        fixtures: &Fixtures,
    ) -> Result<ConsoleFacts, ConsoleError> {
        let client = self.engine.client().await.map_err(|e| {
            ConsoleError::Unavailable(format!(
                "The Docker engine cannot be reached to check your work: {e}"
            ))
        })?;
        let scope = self.scope_of(owner);
        let containers = client
            .console_containers(owner, &self.instance, reads)
            .await
            .map_err(|e| {
                ConsoleError::Unavailable(format!("Your containers could not be read: {e}"))
            })?;
        let own = scope.engine_name("");
        let mut read = Vec::with_capacity(containers.len());
        for c in containers {
            let name = c.name.strip_prefix(&own).unwrap_or(&c.name).to_string();
            let listening = if c.running && listening_of.contains(&name) {
                client
                    .listening_ports(&c.id, &self.instance)
                    .await
                    .map_err(|e| {
                        ConsoleError::Unavailable(format!(
                            "What {name} listens on could not be read: {e}"
                        ))
                    })?
            } else {
                Vec::new()
            };
            read.push((name, listening, c));
        }
        let containers: Vec<ConsoleContainer> = read
            .into_iter()
            .map(|(name, listening, c)| ConsoleContainer {
                name,
                listening,
                fixture: fixtures.containers.contains(&c.id),
                image: scope.unprefixed(&c.image),
                image_id: c.image_id.clone(),
                running: c.running,
                ports: c.ports.iter().map(|p| (p.host, p.container)).collect(),
                logs: scope.unprefixed(&c.logs),
                main_process: c
                    .main_process
                    .map(|(user, line)| (user, scope.unprefixed(&line))),
                config_user: c.user,
                health: c.health,
                health_basis: c.health_basis,
                created_ms: c.created_ms,
            })
            .collect();
        let published: Vec<u16> = containers
            .iter()
            .filter(|c| c.running)
            .flat_map(|c| c.ports.iter().map(|p| p.0).collect::<Vec<u16>>())
            .collect();
        // A few at a time, all within one deadline: a learner publishing many ports that
        // never answer holds their check for seconds, not minutes.
        let deadline = tokio::time::Instant::now() + PAGES_WITHIN;
        let asked: Vec<(u16, String)> = published
            .iter()
            .flat_map(|port| paths.iter().map(move |path| (*port, path.clone())))
            .collect();
        let answers: Vec<(u16, String, Result<Answer, String>)> =
            futures::StreamExt::collect(futures::StreamExt::buffered(
                futures::stream::iter(asked.into_iter().map(|(port, path)| async move {
                    let answer = tokio::time::timeout_at(deadline, self.ask(owner, port, &path))
                        .await
                        .unwrap_or_else(|_| {
                            Err(format!(
                                "not asked: the check asks pages for {} s at most",
                                PAGES_WITHIN.as_secs()
                            ))
                        });
                    (port, path, answer)
                })),
                PAGES_AT_ONCE,
            ))
            .await;
        Ok(ConsoleFacts {
            containers,
            images: if reads.images {
                own_images(&client, &scope, &fixtures.images).await?
            } else {
                Vec::new()
            },
            answers,
            answered: Default::default(),
            truths: Default::default(),
            namespace: scope.namespace(),
            registry: Vec::new(),
            image_ids: Vec::new(),
        })
    }

    /// An exercise's setup: `lines` run in `owner`'s toolbox, out of their sight (nothing
    /// shows in their console), through their own proxy, so what they make is the learner's,
    /// under the same policy as what they type; stops at the first line that fails, saying
    /// which. While it runs the learner's console takes no command, and whatever they left
    /// running in their toolbox is ended first: what is new when it ends is the setup's
    /// alone. Then `truths` is asked of the slice (what the setup made marked so) until it
    /// has every answer (a log still being written, a server not listening yet) or
    /// [`SETTLE_WITHIN`] passed: what it gives is the exercise's answers for this learner,
    /// fixed now, whatever the learner changes later.
    pub async fn set_up<T>(
        &self,
        owner: &str,
        lines: &[String],
        listening_of: &[String],
        reads: Reads,
        truths: impl Fn(&ConsoleFacts) -> Result<T, String>,
    ) -> Result<T, ConsoleError> {
        let _turn = self.check_turn(owner)?;
        let console = self.console_of(owner)?;
        let toolbox = self.started(&console).await?;
        let client = self.engine.client().await.map_err(|e| {
            ConsoleError::Unavailable(format!("The Docker engine cannot be reached: {e}"))
        })?;
        let fixtures = {
            let _quiet = SettingUp::begin(&console)?;
            self.run_lines(&client, &toolbox, &[ENDS_LEFTOVERS.to_string()])
                .await?;
            let before = self.made_by(&client, owner).await?;
            self.run_lines(&client, &toolbox, lines).await?;
            let after = self.made_by(&client, owner).await?;
            Fixtures {
                containers: after
                    .containers
                    .difference(&before.containers)
                    .cloned()
                    .collect(),
                images: after.images.difference(&before.images).cloned().collect(),
            }
        };
        publish(&self.engine, &self.instance, &console).await;
        let settle = std::time::Instant::now() + SETTLE_WITHIN;
        loop {
            let facts = self
                .read_facts(owner, &[], listening_of, reads, &fixtures)
                .await?;
            match truths(&facts) {
                Ok(found) => return Ok(found),
                Err(why) if std::time::Instant::now() > settle => {
                    tracing::warn!("an exercise's setup made nothing to ask about: {why}");
                    return Err(ConsoleError::Unavailable(format!(
                        "The exercise was set up, but what it asks about is not there: {why}"
                    )));
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(400)).await,
            }
        }
    }

    /// The ids of `owner`'s console containers and images.
    async fn made_by(
        &self,
        client: &crate::engine::Client,
        owner: &str,
    ) -> Result<Fixtures, ConsoleError> {
        let unreadable = |e: String| {
            ConsoleError::Unavailable(format!("Your containers could not be read: {e}"))
        };
        let containers = client
            .console_containers(owner, &self.instance, Reads::default())
            .await
            .map_err(unreadable)?
            .into_iter()
            .map(|c| c.id)
            .collect();
        let prefix = self.scope_of(owner).image_prefix();
        let images = client
            .all_images()
            .await
            .map_err(unreadable)?
            .into_iter()
            .filter(|i| i.tags.iter().any(|t| t.starts_with(&prefix)))
            .map(|i| i.id)
            .collect();
        Ok(Fixtures { containers, images })
    }

    /// Run each of `lines` in `toolbox`, stopping at the first that fails.
    async fn run_lines(
        &self,
        client: &crate::engine::Client,
        toolbox: &str,
        lines: &[String],
    ) -> Result<(), ConsoleError> {
        for line in lines {
            let io = client
                .toolbox_command(toolbox, "exec 2>&1; eval \"$1\"", &[line], (120, 40))
                .await
                .map_err(ConsoleError::Unavailable)?;
            let mut output = io.output;
            let mut said = Vec::new();
            let drained = tokio::time::timeout(SETUP_LINE_WITHIN, async {
                while let Some(Ok(chunk)) = futures::StreamExt::next(&mut output).await {
                    said.extend_from_slice(&chunk);
                    if said.len() > MAX_PAGE {
                        said.drain(..said.len() - MAX_PAGE);
                    }
                }
            })
            .await;
            let exit = match drained {
                Ok(()) => client.command_exit(&io.exec).await,
                Err(_) => {
                    // Out of time: the line's processes go (they would run on unseen).
                    self.end_leftovers(client, toolbox).await;
                    None
                }
            };
            if exit != Some(0) {
                let text = crate::engine::strip_ansi(&String::from_utf8_lossy(&said));
                let last = text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                tracing::warn!(line = %line, output = %text, "an exercise's setup failed");
                return Err(ConsoleError::Unavailable(format!(
                    "The exercise could not be set up: {}",
                    if exit.is_none() {
                        "it took too long".to_string()
                    } else {
                        last.trim().to_string()
                    }
                )));
            }
        }
        Ok(())
    }

    /// End whatever runs in `toolbox` but its init and first process (best effort, bounded).
    async fn end_leftovers(&self, client: &crate::engine::Client, toolbox: &str) {
        let Ok(io) = client
            .toolbox_command(
                toolbox,
                "exec 2>&1; eval \"$1\"",
                &[ENDS_LEFTOVERS],
                (120, 40),
            )
            .await
        else {
            return;
        };
        let mut output = io.output;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while futures::StreamExt::next(&mut output).await.is_some() {}
        })
        .await;
    }

    /// `owner`'s turn to check or set up: refused while another runs or within
    /// [`CHECK_GAP`] of the last one's end. Held until the check ends.
    fn check_turn(&self, owner: &str) -> Result<CheckTurn<'_>, ConsoleError> {
        let mut checking = super::lock(&self.checking);
        let now = std::time::Instant::now();
        checking.retain(|_, turns| {
            turns
                .last
                .is_some_and(|last| now.duration_since(last) < std::time::Duration::from_secs(600))
        });
        checking
            .entry(owner.to_string())
            .or_default()
            .begin(now, self.settings.checks_per_minute)?;
        Ok(CheckTurn {
            consoles: self,
            owner: owner.to_string(),
        })
    }

    /// What a `GET path` on the learner's published `port` answers, as their browser would
    /// get it through layerlab.
    async fn ask(&self, owner: &str, port: u16, path: &str) -> Result<Answer, String> {
        let exchange = async {
            let mut stream = self.reach(owner, port).await.map_err(|e| e.to_string())?;
            let request = format!("GET {path} HTTP/1.0\r\nHost: localhost:{port}\r\nUser-Agent: layerlab-check\r\nConnection: close\r\n\r\n");
            stream
                .write_all(request.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let mut got = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
                if n == 0 || got.len() >= MAX_PAGE {
                    break;
                }
                got.extend_from_slice(&chunk[..n]);
            }
            parse_answer(&got)
        };
        tokio::time::timeout(ANSWER_WITHIN, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", ANSWER_WITHIN.as_secs())))
    }
}

/// An HTTP answer's status and body (the first [`MAX_PAGE`] bytes).
fn parse_answer(got: &[u8]) -> Result<Answer, String> {
    if got.is_empty() {
        return Err("the connection closed without an answer".into());
    }
    let text = String::from_utf8_lossy(&got[..got.len().min(MAX_PAGE)]);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .filter(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "what came back is not HTTP".to_string())?;
    Ok(Answer {
        status,
        body: body.to_string(),
    })
}

/// The learner's console images: the names they gave them and the environment each sets.
async fn own_images(
    client: &crate::engine::Client,
    scope: &Scope,
    fixtures: &HashSet<String>,
) -> Result<Vec<ConsoleImage>, ConsoleError> {
    let all = client
        .all_images()
        .await
        .map_err(|e| ConsoleError::Unavailable(format!("Your images could not be read: {e}")))?;
    let prefix = scope.image_prefix();
    let mut images = Vec::new();
    for image in all
        .iter()
        .filter(|i| i.tags.iter().any(|t| t.starts_with(&prefix)))
        .take(MAX_IMAGES)
    {
        let Ok(Some(info)) = client.image_info(&image.id).await else {
            // (Removed since it was listed.)
            continue;
        };
        let (env, cmd, layers) = (info.env, info.cmd, info.layers.len());
        images.push(ConsoleImage {
            names: image
                .tags
                .iter()
                .filter_map(|t| scope.shown_image(t, true))
                .filter(|t| !t.starts_with("layerlab/"))
                .collect(),
            env,
            cmd,
            layers,
            fixture: fixtures.contains(&image.id),
        });
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_take_turns_a_second_apart_and_at_most_twenty_a_minute() {
        let start = std::time::Instant::now();
        let at = |ms: u64| start + std::time::Duration::from_millis(ms);
        let mut turns = Turns::default();
        turns.begin(at(0), CHECKS_PER_MINUTE).expect("the first");
        // One under way: the next waits, however long it takes.
        assert!(matches!(
            turns.begin(at(5_000), CHECKS_PER_MINUTE),
            Err(ConsoleError::TooSoon)
        ));
        turns.end(at(5_000));
        assert!(matches!(
            turns.begin(at(5_500), CHECKS_PER_MINUTE),
            Err(ConsoleError::TooSoon)
        ));
        turns
            .begin(at(6_000), CHECKS_PER_MINUTE)
            .expect("a second after the end");
        turns.end(at(6_100));
        // 20 begun within a minute (a second apart): the 21st is refused until the first
        // of them is a minute old, saying how long to wait.
        let mut now = 7_100;
        for _ in 2..CHECKS_PER_MINUTE {
            turns
                .begin(at(now), CHECKS_PER_MINUTE)
                .expect("within the budget");
            turns.end(at(now));
            now += 1_000;
        }
        match turns.begin(at(now), CHECKS_PER_MINUTE) {
            Err(ConsoleError::TooMany { most, wait }) => {
                assert_eq!(most, CHECKS_PER_MINUTE);
                assert_eq!(wait, 35, "the oldest began at 0 s, it is {now} ms now");
            }
            other => panic!("the 21st in a minute: {other:?}"),
        }
        // A refused one does not count: once the oldest is a minute old, one more may begin.
        turns
            .begin(at(60_000), CHECKS_PER_MINUTE)
            .expect("the oldest is a minute old");
        turns.end(at(60_000));
        assert!(matches!(
            turns.begin(at(61_000), CHECKS_PER_MINUTE),
            Err(ConsoleError::TooMany { .. })
        ));
    }

    #[test]
    fn an_answer_is_read_for_its_status_and_body() {
        let answer = parse_answer(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>hi</h1>")
            .expect("parses");
        assert_eq!(
            answer,
            Answer {
                status: 200,
                body: "<h1>hi</h1>".into()
            }
        );
        assert_eq!(
            parse_answer(b"HTTP/1.1 404 Not Found\r\n\r\n")
                .expect("parses")
                .status,
            404
        );
        assert!(parse_answer(b"")
            .expect_err("nothing")
            .contains("without an answer"));
        assert!(parse_answer(b"SSH-2.0-OpenSSH\r\n")
            .expect_err("not http")
            .contains("not HTTP"));
    }
}
