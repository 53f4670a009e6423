//! The docker console: a learner types real docker commands, and the engine they reach shows
//! and accepts only that learner's own things. Each learner who opens it gets a toolbox (a
//! container with the docker CLI, [`crate::engine::toolbox`]) whose engine is their own
//! policy proxy ([`proxy`]); each command runs in the toolbox on a pseudo-terminal, and what
//! it prints becomes rows the page shows ([`screen`]), sent live to every page the learner has
//! open. Idle consoles stop, then go; what a server killed with consoles open left is
//! removed when the next one starts.

mod door;
mod facts;
pub use facts::CHECKS_PER_MINUTE;
mod images;
mod ports;
pub mod proxy;
pub mod screen;

use crate::engine::image::EngineImage;
use crate::engine::toolbox::ToolboxSpec;
use crate::engine::Engine;
use crate::policy::api::Scope;
use crate::policy::container::ContainerLimits;
use app::dto::{ConsoleEvent, ToolboxState};
use futures::StreamExt;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::{broadcast, mpsc};

/// What the operator sets (`layerlab serve --console-…`).
#[derive(Clone, Debug)]
pub struct ConsoleSettings {
    /// Where the learners' proxy sockets are made (a private folder).
    pub dir: PathBuf,
    pub toolbox_image: String,
    /// A console untouched this long is stopped: its toolbox and the learner's containers.
    pub idle_stop: Duration,
    /// … and this long, removed, with what it printed.
    pub idle_remove: Duration,
    /// Consoles open at once on this server.
    pub max_open: usize,
    /// What each of a learner's containers gets, and how many may run.
    pub limits: ContainerLimits,
    pub toolbox_memory_bytes: i64,
    /// Checks and setups one learner may begin in a minute.
    pub checks_per_minute: usize,
}

/// Commands kept per console, and rows of output across them; older ones are forgotten.
const KEPT_COMMANDS: usize = 50;
const KEPT_ROWS: usize = 3000;
/// The longest command line, and the most text typed to a command at once.
pub const MAX_LINE: usize = app::dto::MAX_CONSOLE_LINE;
/// The pseudo-terminal's size.
const COLUMNS: u16 = 120;
const ROWS: u16 = 30;
/// A second Ctrl-C within this long ends the command and everything it started.
const SECOND_INTERRUPT: Duration = Duration::from_secs(3);
/// Changed rows are sent at most this often (a redrawing progress line, a flood of output).
const SEND_EVERY: Duration = Duration::from_millis(40);
/// The most rows (as JSON) a command's output is sent as in a second.
const SENT_PER_SECOND: usize = 256 * 1024;
/// The most of a command's output read in a second.
const OUTPUT_PER_SECOND: usize = 256 * 1024;
/// How often what the learners' containers wrote is measured.
const DISK_EVERY: Duration = Duration::from_secs(5);
/// Rows per event when a stream begins with what a console already shows.
const ROWS_PER_EVENT: usize = 200;

/// What a console not started says.
const FIRST_COMMAND: &str = "Your toolbox starts with your first command.";

/// Why a console call did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("{0}")]
    Unavailable(String),
    #[error("A command is still running: what you type goes to it. Press Ctrl-C to stop it (twice to end it at once).")]
    Busy,
    #[error("No command is running.")]
    Idle,
    #[error("{0}")]
    BadInput(String),
    #[error("This server already runs {0} consoles, the most it runs at once. Try again in a few minutes.")]
    Full(usize),
    #[error("Your console is not open: open it first (POST /api/v1/console).")]
    NotOpen,
    #[error("None of your running containers publishes port {0} (docker run -p {0}:80 … publishes one).")]
    NoSuchPort(u16),
    #[error("Your work was checked (or set up) a moment ago; try again in a second.")]
    TooSoon,
    #[error("Your work was checked or set up {most} times in the last minute, the most allowed: try again in {wait} s.")]
    TooMany { most: usize, wait: u64 },
    #[error("{0}")]
    SettingUp(String),
    #[error("Your console is open on another of this workshop's servers, which keeps it until it is put away for good ({0} without a command) or that server stops: carry on there (your instructor can say how), or open it here after that.")]
    Elsewhere(String),
}

/// The script each command line runs in: in the folder the previous command left, with the
/// line as typed (`$1`), remembering its process group (for a second Ctrl-C) and where it
/// ended up (for the next `cd`).
const WRAPPER: &str = r#"printf '%s' "$$" > "/tmp/.layerlab-command-$2"
cd -- "$(cat "$HOME/.layerlab-cwd" 2>/dev/null || printf '%s' "$HOME")" 2>/dev/null || cd
eval "$1"
status=$?
pwd > "$HOME/.layerlab-cwd" 2>/dev/null
exit $status"#;

/// How long a starting server waits for the sweep of what an earlier one left before it
/// answers anyone.
const LEFTOVERS_WITHIN: Duration = Duration::from_secs(20);

pub struct Consoles {
    engine: Arc<Engine>,
    /// Where the consoles' `docker build` builds, and the pushes under way that their
    /// `docker push` joins (`None`: both are refused).
    images: Option<(Arc<crate::builds::Builds>, Arc<crate::pushes::Pushes>)>,
    settings: ConsoleSettings,
    instance: String,
    base_images: Vec<String>,
    open: Mutex<HashMap<String, Arc<Console>>>,
    /// Why this server runs no consoles, if it does not.
    off: Option<String>,
    /// The learners whose toolbox is being started (they count against `max_open`).
    starting: Mutex<std::collections::HashSet<String>>,
    /// When each learner's last check or setup began (one at a time, [`facts::CHECK_GAP`]
    /// apart: each reads all their containers).
    checking: Mutex<HashMap<String, facts::Turns>>,

    /// The `uid:gid` toolboxes run as (never root) and, when this server is root, who gets
    /// the proxy sockets.
    user: (u32, u32),
    /// The database's list of server processes, and this one's id there: another live
    /// server's consoles on the same engine are not this one's to sweep. (`None`: no
    /// database, every console of the installation is this server's.)
    servers: Option<crate::store::Store>,
}

/// One learner's console.
pub struct Console {
    owner: String,
    inner: Mutex<Inner>,
    /// The toolbox and its proxy, while started; held while starting or stopping.
    toolbox: tokio::sync::Mutex<Option<Toolbox>>,
    events: broadcast::Sender<ConsoleEvent>,
    /// The started toolbox's container (also while `toolbox` is held).
    toolbox_id: Mutex<Option<String>>,
    /// The ports the learner's containers publish, being served; changed one at a time.
    forwards: Mutex<HashMap<u16, ports::Forward>>,
    publishing: tokio::sync::Mutex<()>,
    /// The ports the pages were last told of.
    told: Mutex<Vec<(u16, u16)>>,
}

struct Toolbox {
    id: String,
    _proxy: proxy::Proxy,
}

struct Inner {
    state: ToolboxState,
    message: String,
    commands: VecDeque<Command>,
    next: u64,
    last_used: Instant,
    running: Option<Running>,
    /// An exercise's setup is running: typed commands wait.
    setting_up: bool,
}

struct Command {
    id: u64,
    line: String,
    screen: screen::Screen,
    done: Option<(Option<i64>, String)>,
}

struct Running {
    id: u64,
    input: mpsc::Sender<Vec<u8>>,
    interrupted: Option<Instant>,
    started: Instant,
}

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub stopped: usize,
    pub removed: usize,
    pub orphans: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Consoles {
    /// Consoles for this server. They are off (each call says why) when the engine is not on
    /// this host's Unix socket or `settings.dir` cannot be a private folder.
    pub fn new(
        engine: Arc<Engine>,
        settings: ConsoleSettings,
        instance: String,
        base_images: Vec<String>,
        images: Option<(Arc<crate::builds::Builds>, Arc<crate::pushes::Pushes>)>,
        servers: Option<crate::store::Store>,
    ) -> Arc<Self> {
        // SAFETY: geteuid and getegid have no preconditions and cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        // Never root in a toolbox: a root server's toolboxes run as a user of their own.
        let user = if uid == 0 { (65532, 65532) } else { (uid, gid) };
        let off = if crate::engine::relay::socket_of(engine.host()).is_none() {
            Some(format!(
                "The docker console needs the Docker engine on this host's Unix socket; this server uses {}.",
                engine.host()
            ))
        } else {
            prepare_folder(&settings.dir).err().map(|e| {
                format!(
                    "The docker console is off: its folder {} cannot be used ({e}).",
                    settings.dir.display()
                )
            })
        };
        if let Some(off) = &off {
            tracing::warn!("{off}");
        }
        Arc::new(Consoles {
            engine,
            images,
            settings,
            instance,
            base_images,
            open: Mutex::default(),
            off,
            starting: Mutex::default(),
            checking: Mutex::default(),
            user,
            servers,
        })
    }

    /// This server's id among those on the database ([`SERVER_LABEL`] of its toolboxes).
    fn server_id(&self) -> &str {
        self.servers.as_ref().map_or("", |s| s.server.as_str())
    }

    /// The learners (owners) whose toolbox another server that is not gone runs: their
    /// consoles are that server's. When the database cannot say, every toolbox another
    /// server labelled is taken for live.
    async fn others_consoles(
        &self,
        objects: &[crate::engine::toolbox::ConsoleObject],
    ) -> std::collections::HashSet<String> {
        let Some(store) = &self.servers else {
            return Default::default();
        };
        let live: Option<std::collections::HashSet<String>> =
            store.servers().await.ok().map(|rows| {
                let now = crate::store::now_ms();
                rows.into_iter()
                    .filter(|s| !s.is_gone(now))
                    .map(|s| s.id)
                    .collect()
            });
        objects
            .iter()
            .filter(|o| {
                o.toolbox
                    && o.server.as_deref().is_some_and(|s| {
                        s != store.server && live.as_ref().is_none_or(|live| live.contains(s))
                    })
            })
            .map(|o| o.owner.clone())
            .collect()
    }

    /// Make `owner`'s toolbox this server's to start: one server runs a learner's console at
    /// a time. A toolbox another server runs that is not gone is that server's (refused:
    /// [`ConsoleError::Elsewhere`]); one a gone server left is removed, to be made anew with
    /// this server's label. One without a label (made before servers were) is taken as it
    /// is; so is everything when this server keeps no account of servers.
    async fn claim_toolbox(&self, owner: &str) -> Result<(), ConsoleError> {
        let Some(store) = &self.servers else {
            return Ok(());
        };
        let Ok(client) = self.engine.client().await else {
            // (Starting the toolbox says what is wrong.)
            return Ok(());
        };
        let (id, server) = match client.toolbox_server(&toolbox_name(owner)).await {
            Ok(Some(found)) => found,
            Ok(None) | Err(_) => return Ok(()),
        };
        if server.is_empty() || server == store.server {
            return Ok(());
        }
        let elsewhere =
            || ConsoleError::Elsewhere(crate::when::duration_words(self.settings.idle_remove));
        let rows = store.servers().await.map_err(|e| {
            tracing::warn!("whose console {id} is cannot be read: {e}");
            ConsoleError::Unavailable(
                "Whose your console is cannot be read right now; try again in a minute.".into(),
            )
        })?;
        let now = crate::store::now_ms();
        if rows.iter().any(|row| row.id == server && !row.is_gone(now)) {
            return Err(elsewhere());
        }
        tracing::info!(toolbox = %id, %server, "taking over a console its gone server left");
        if client.remove_containers(std::slice::from_ref(&id)).await == 0 {
            // (Already gone: a sweep took it.)
            if let Ok(Some(_)) = client.toolbox_server(&toolbox_name(owner)).await {
                return Err(ConsoleError::Unavailable(
                    "Your console's toolbox, left by a server that stopped, could not be removed; try again in a minute.".into(),
                ));
            }
        }
        Ok(())
    }

    /// The console of `owner`, made (not started) if they have none.
    fn console_of(&self, owner: &str) -> Result<Arc<Console>, ConsoleError> {
        if let Some(off) = &self.off {
            return Err(ConsoleError::Unavailable(off.clone()));
        }
        let mut open = lock(&self.open);
        if let Some(console) = open.get(owner) {
            return Ok(console.clone());
        }
        let console = Arc::new(Console {
            owner: owner.to_string(),
            inner: Mutex::new(Inner {
                state: ToolboxState::Stopped,
                message: FIRST_COMMAND.into(),
                commands: VecDeque::new(),
                next: 1,
                last_used: Instant::now(),
                running: None,
                setting_up: false,
            }),
            toolbox: tokio::sync::Mutex::new(None),
            events: broadcast::channel(64).0,
            toolbox_id: Mutex::default(),
            forwards: Mutex::default(),
            publishing: tokio::sync::Mutex::default(),
            told: Mutex::default(),
        });
        open.insert(owner.to_string(), console.clone());
        Ok(console)
    }

    /// The console `owner` opened, if they did: a call that only acts on one (typing, Ctrl-C, a
    /// stream, a port) makes none.
    fn existing(&self, owner: &str) -> Result<Arc<Console>, ConsoleError> {
        if let Some(off) = &self.off {
            return Err(ConsoleError::Unavailable(off.clone()));
        }
        lock(&self.open)
            .get(owner)
            .cloned()
            .ok_or(ConsoleError::NotOpen)
    }

    /// Open `owner`'s console: its toolbox started (so the first command answers at once).
    pub async fn open(&self, owner: &str) -> Result<(), ConsoleError> {
        let console = self.console_of(owner)?;
        self.started(&console).await.map(|_| ())
    }

    /// The console as it is now (as events), and its events from here on.
    pub fn subscribe(
        &self,
        owner: &str,
    ) -> Result<(Vec<ConsoleEvent>, broadcast::Receiver<ConsoleEvent>), ConsoleError> {
        let console = self.existing(owner)?;
        let inner = lock(&console.inner);
        let mut events = vec![ConsoleEvent::State {
            state: inner.state,
            message: inner.message.clone(),
        }];
        for command in &inner.commands {
            events.push(ConsoleEvent::Command {
                id: command.id,
                line: command.line.clone(),
            });
            let rows = command.screen.all_rows();
            for chunk in rows.chunks(ROWS_PER_EVENT) {
                events.push(ConsoleEvent::Rows {
                    id: command.id,
                    rows: chunk.to_vec(),
                });
            }
            if let Some((exit, note)) = &command.done {
                events.push(ConsoleEvent::Done {
                    id: command.id,
                    exit: *exit,
                    note: note.clone(),
                });
            }
        }
        events.push(ConsoleEvent::Ports {
            ports: lock(&console.told).clone(),
        });
        // Subscribed under the same lock: nothing happens between the two.
        Ok((events, console.events.subscribe()))
    }

    /// Run `line` in `owner`'s toolbox (starting it if need be); the command's id.
    pub async fn run(&self, owner: &str, line: &str) -> Result<u64, ConsoleError> {
        let line = checked_line(line)?;
        let console = self.console_of(owner)?;
        let client = self.engine.client().await.map_err(|e| {
            ConsoleError::Unavailable(format!("The Docker engine cannot be reached: {e}"))
        })?;
        let (tx, rx) = mpsc::channel(64);
        // The command's id, taken before it starts so the wrapper can name its process group.
        let id = {
            let mut inner = lock(&console.inner);
            if inner.running.is_some() {
                return Err(ConsoleError::Busy);
            }
            if inner.setting_up {
                return Err(ConsoleError::SettingUp(
                    "The exercise is being set up in your console; type again in a moment.".into(),
                ));
            }
            inner.last_used = Instant::now();
            let id = inner.next;
            inner.next += 1;
            inner.running = Some(Running {
                id,
                input: tx,
                interrupted: None,
                started: Instant::now(),
            });
            id
        };
        let io = match self.start_command(&console, &client, &line, id).await {
            Ok(io) => io,
            Err(e) => {
                lock(&console.inner).running = None;
                return Err(e);
            }
        };
        {
            let mut inner = lock(&console.inner);
            inner.commands.push_back(Command {
                id,
                line: line.clone(),
                screen: screen::Screen::new(usize::from(ROWS)),
                done: None,
            });
            let _ = console.events.send(ConsoleEvent::Command { id, line });
        }
        tokio::spawn(drive(console, client, io, rx, id));
        Ok(id)
    }

    /// Start command `id` in the console's toolbox; once again in a new toolbox if the
    /// one it had is gone (removed on the engine, or stopped).
    async fn start_command(
        &self,
        console: &Arc<Console>,
        client: &crate::engine::Client,
        line: &str,
        id: u64,
    ) -> Result<crate::engine::toolbox::CommandIo, ConsoleError> {
        let id = id.to_string();
        let mut last = String::new();
        for _ in 0..2 {
            let toolbox = self.started(console).await?;
            match client
                .toolbox_command(&toolbox, WRAPPER, &[line, &id], (COLUMNS, ROWS))
                .await
            {
                Ok(io) => return Ok(io),
                Err(e) => {
                    last = e;
                    // Gone from under us: forget it, and start it again.
                    console.toolbox.lock().await.take();
                    lock(&console.toolbox_id).take();
                    lock(&console.forwards).clear();
                    console.set_state(ToolboxState::Stopped, FIRST_COMMAND);
                }
            }
        }
        Err(ConsoleError::Unavailable(format!(
            "The console could not run the command: {last}"
        )))
    }

    /// The console's toolbox, started if it was not: its container's id.
    async fn started(&self, console: &Arc<Console>) -> Result<String, ConsoleError> {
        let mut toolbox = console.toolbox.lock().await;
        if let Some(toolbox) = toolbox.as_ref() {
            return Ok(toolbox.id.clone());
        }
        // The cap is on toolboxes started (what costs): a console idle and stopped frees its
        // place.
        {
            let mut starting = lock(&self.starting);
            let running = self.running_toolboxes() + starting.len();
            if running >= self.settings.max_open {
                return Err(ConsoleError::Full(running));
            }
            starting.insert(console.owner.clone());
        }
        if let Err(refused) = self.claim_toolbox(&console.owner).await {
            lock(&self.starting).remove(&console.owner);
            // (Not this server's console: its sweeps must not put the learner's things away.)
            let mut open = lock(&self.open);
            if open
                .get(&console.owner)
                .is_some_and(|c| Arc::ptr_eq(c, console))
            {
                open.remove(&console.owner);
            }
            return Err(refused);
        }
        console.set_state(ToolboxState::Starting, "Starting your toolbox…");
        let started = self.start_toolbox(console).await;
        if let Ok(started) = &started {
            *lock(&console.toolbox_id) = Some(started.id.clone());
        }
        lock(&self.starting).remove(&console.owner);
        match started {
            Ok(started) => {
                let id = started.id.clone();
                *toolbox = Some(started);
                drop(toolbox);
                publish(&self.engine, &self.instance, console).await;
                console.set_state(
                    ToolboxState::Ready,
                    "Ready. The docker CLI here sees only your own containers and images.",
                );
                Ok(id)
            }
            Err(problem) => {
                // The operator's words (paths, the command that would fix it) go to the log;
                // the learner is told that it failed, not the server's insides.
                tracing::warn!("a console's toolbox did not start: {problem}");
                let message = "Your toolbox did not start: the server's log says why. Try again in a few minutes, or tell your instructor.";
                console.set_state(ToolboxState::Unavailable, message);
                Err(ConsoleError::Unavailable(message.into()))
            }
        }
    }

    async fn start_toolbox(&self, console: &Arc<Console>) -> Result<Toolbox, String> {
        let owner = console.owner.as_str();
        let handle = crate::registry::handle_of(owner);
        let folder = self.settings.dir.join(&handle);
        learner_folder(&folder).map_err(|e| {
            format!(
                "The console's folder {} cannot be made: {e}",
                folder.display()
            )
        })?;
        let root = {
            // SAFETY: geteuid has no preconditions and cannot fail.
            unsafe { libc::geteuid() == 0 }
        };
        let scope = self.scope_with_images(owner).await?;
        let proxy = proxy::Proxy::start(
            &folder.join("docker.sock"),
            scope,
            self.engine.clone(),
            self.settings.limits.clone(),
            root.then_some(self.user),
            Some(self.publishing_hook(console)),
            self.images.clone(),
        )
        .map_err(|e| format!("The console's proxy did not start: {e}"))?;
        let client = self
            .engine
            .client()
            .await
            .map_err(|e| format!("The Docker engine cannot be reached: {e}"))?;
        let user = format!("{}:{}", self.user.0, self.user.1);
        let name = toolbox_name(owner);
        let id = client
            .start_toolbox(&ToolboxSpec {
                name: &name,
                image: &self.settings.toolbox_image,
                owner,
                instance: &self.instance,
                server: self.server_id(),
                folder: &folder,
                user: &user,
                memory_bytes: self.settings.toolbox_memory_bytes,
                cpus: 1.0,
                pids: 256,
                // `docker tag web $REGISTRY/web:1 && docker push $REGISTRY/web:1`
                env: self
                    .registry_address()
                    .map(|r| format!("REGISTRY={r}/{}", crate::registry::handle_of(owner)))
                    .into_iter()
                    .collect(),
            })
            .await?;
        Ok(Toolbox { id, _proxy: proxy })
    }

    /// What `owner` may see and touch through their console (without the images it built:
    /// [`Self::scope_with_images`]).
    fn scope_of(&self, owner: &str) -> Scope {
        Scope {
            owner: owner.to_string(),
            instance: self.instance.clone(),
            base_images: self.base_images.clone(),
            registry: self.registry_address(),
            built: Default::default(),
        }
    }

    /// [`Self::scope_of`] with the images `owner`'s console built here, as the database
    /// keeps them.
    async fn scope_with_images(&self, owner: &str) -> Result<Scope, String> {
        let mut scope = self.scope_of(owner);
        if let Some((builds, _)) = &self.images {
            let ids = builds
                .console_images(owner)
                .await
                .map_err(|e| format!("Your images could not be read from the database: {e}"))?;
            scope.built = crate::policy::api::BuiltHere::new(ids);
        }
        Ok(scope)
    }

    /// The class registry's address, where each learner's console pushes and pulls.
    fn registry_address(&self) -> Option<String> {
        self.images.as_ref()?.0.registry_address()
    }

    /// How many consoles have their toolbox started.
    fn running_toolboxes(&self) -> usize {
        let consoles: Vec<Arc<Console>> = lock(&self.open).values().cloned().collect();
        consoles
            .iter()
            .filter(|c| lock(&c.toolbox_id).is_some())
            .count()
    }

    /// What the proxy calls after one of the learner's containers started or stopped.
    fn publishing_hook(&self, console: &Arc<Console>) -> proxy::Hook {
        let console = Arc::downgrade(console);
        let (engine, instance) = (self.engine.clone(), self.instance.clone());
        Arc::new(move || {
            let (console, engine, instance) = (console.clone(), engine.clone(), instance.clone());
            Box::pin(async move {
                if let Some(console) = console.upgrade() {
                    publish(&engine, &instance, &console).await;
                }
            })
        })
    }

    /// A connection to the port `port` of `owner`'s console publishes (`-p port:…`).
    pub async fn reach(
        &self,
        owner: &str,
        port: u16,
    ) -> Result<tokio::net::TcpStream, ConsoleError> {
        let console = self
            .existing(owner)
            .map_err(|_| ConsoleError::NoSuchPort(port))?;
        let (reach, target) = {
            let forwards = lock(&console.forwards);
            forwards
                .get(&port)
                .ok_or(ConsoleError::NoSuchPort(port))?
                .reach()
        };
        reach.connect(target).await.map_err(|e| {
            ConsoleError::Unavailable(format!(
                "Your container publishing port {port} does not answer on its port {target}: {e}"
            ))
        })
    }

    /// Send `text` to `owner`'s running command, as typed.
    pub async fn input(&self, owner: &str, text: &str) -> Result<(), ConsoleError> {
        if text.len() > MAX_LINE {
            return Err(ConsoleError::BadInput(format!(
                "At most {MAX_LINE} bytes may be typed at once."
            )));
        }
        let console = self.existing(owner).map_err(|_| ConsoleError::Idle)?;
        let input = {
            let mut inner = lock(&console.inner);
            inner.last_used = Instant::now();
            inner
                .running
                .as_ref()
                .map(|r| r.input.clone())
                .ok_or(ConsoleError::Idle)?
        };
        input
            .send(text.as_bytes().to_vec())
            .await
            .map_err(|_| ConsoleError::Idle)
    }

    /// Ctrl-C: interrupt `owner`'s running command; a second one soon after ends it and
    /// everything it started at once.
    pub async fn interrupt(&self, owner: &str) -> Result<(), ConsoleError> {
        let console = self.existing(owner).map_err(|_| ConsoleError::Idle)?;
        let (input, id, again) = {
            let mut inner = lock(&console.inner);
            inner.last_used = Instant::now();
            let running = inner.running.as_mut().ok_or(ConsoleError::Idle)?;
            let again = running
                .interrupted
                .is_some_and(|at| at.elapsed() < SECOND_INTERRUPT);
            running.interrupted = Some(Instant::now());
            (running.input.clone(), running.id, again)
        };
        if !again {
            return input.send(vec![3]).await.map_err(|_| ConsoleError::Idle);
        }
        let toolbox = console.toolbox.lock().await.as_ref().map(|t| t.id.clone());
        let (Some(toolbox), Ok(client)) = (toolbox, self.engine.client().await) else {
            return Err(ConsoleError::Idle);
        };
        let kill = format!("kill -KILL -- -\"$(cat /tmp/.layerlab-command-{id})\"");
        client
            .toolbox_command(&toolbox, &kill, &[], (COLUMNS, ROWS))
            .await
            .map(|_| ())
            .map_err(ConsoleError::Unavailable)
    }

    /// Stop the consoles idle for `idle_stop`, remove those idle for `idle_remove`, and
    /// remove toolboxes and containers no open console owns.
    pub async fn sweep(&self) -> Swept {
        let mut swept = Swept::default();
        let consoles: Vec<Arc<Console>> = lock(&self.open).values().cloned().collect();
        for console in consoles {
            let idle = {
                let inner = lock(&console.inner);
                // (A running command keeps its console, printing or not, but not for longer
                // than the removal time: a loop left running holds no place for days.)
                match &inner.running {
                    Some(r) if r.started.elapsed() >= self.settings.idle_remove => {
                        r.started.elapsed()
                    }
                    Some(_) => Duration::ZERO,
                    None => inner.last_used.elapsed(),
                }
            };
            if idle >= self.settings.idle_remove {
                lock(&self.open).remove(&console.owner);
                self.put_away(&console, true).await;
                swept.removed += 1;
            } else if idle >= self.settings.idle_stop && console.toolbox.lock().await.is_some() {
                self.put_away(&console, false).await;
                swept.stopped += 1;
            } else {
                // (A container that stopped by itself no longer serves its ports.)
                publish(&self.engine, &self.instance, &console).await;
            }
        }
        let Ok(client) = self.engine.client().await else {
            return swept;
        };
        let Ok(objects) = client.console_objects(&self.instance).await else {
            return swept;
        };
        // (Listed first, compared after: a console opened meanwhile is in `open` by now. A
        // check's helper at work belongs to no one, and goes when the check ends. Another
        // live server's consoles are its own.)
        let others = self.others_consoles(&objects).await;
        let orphans: Vec<String> = {
            let open = lock(&self.open);
            objects
                .into_iter()
                .filter(|o| {
                    !open.contains_key(&o.owner) && !others.contains(&o.owner) && !o.fresh_helper
                })
                .map(|o| o.id)
                .collect()
        };
        swept.orphans = client.remove_containers(&orphans).await;
        let open: std::collections::HashSet<String> = lock(&self.open)
            .keys()
            .chain(others.iter())
            .map(|o| crate::registry::handle_of(o))
            .collect();
        // (Not the names in learners' registry namespaces: a console's go when it is removed
        // or at the next start, and one an instructor pulled by hand on this host stays.)
        swept.orphans += self
            .remove_console_images(&client, None, |h| !open.contains(h))
            .await;
        swept
    }

    /// Remove the biggest containers of each learner whose console containers wrote more than
    /// they may, until they are under it; say so in their console. How many went.
    pub async fn disk_sweep(&self) -> usize {
        let most = self.settings.limits.max_disk_bytes;
        // (Containers of a console no longer open go in the sweep.)
        if lock(&self.open).is_empty() {
            return 0;
        }
        let Ok(client) = self.engine.client().await else {
            return 0;
        };
        let Ok(mut written) = client.console_disk(&self.instance).await else {
            return 0;
        };
        // Biggest first, per learner.
        written.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)));
        let mut totals: HashMap<String, u64> = HashMap::new();
        for (owner, _, size) in &written {
            *totals.entry(owner.clone()).or_default() += size;
        }
        let mut removed = 0;
        for (owner, total) in totals.into_iter().filter(|(_, t)| *t > most) {
            let mut left = total;
            let mut gone = Vec::new();
            for (_, id, size) in written.iter().filter(|w| w.0 == owner) {
                if left <= most {
                    break;
                }
                gone.push(id.clone());
                left = left.saturating_sub(*size);
            }
            removed += client.remove_containers(&gone).await;
            let console = lock(&self.open).get(&owner).cloned();
            if let Some(console) = console {
                publish(&self.engine, &self.instance, &console).await;
                console.set_state(
                    ToolboxState::Ready,
                    &format!(
                        "Your containers wrote {} MiB, more than the {} MiB they may: layerlab removed the biggest ({}).",
                        total >> 20,
                        most >> 20,
                        gone.iter().map(|id| &id[..12.min(id.len())]).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        removed
    }

    /// Stop (or, with `remove`, remove) a console's toolbox and the learner's containers —
    /// unless another server has taken the console over since (its toolbox names that
    /// server): then only this server's account of it goes.
    async fn put_away(&self, console: &Console, remove: bool) {
        let mut toolbox = console.toolbox.lock().await;
        let had = toolbox.take();
        lock(&console.toolbox_id).take();
        lock(&console.forwards).clear();
        console.tell_ports();
        let client = match self.engine.client().await {
            Ok(client) => match client.toolbox_server(&toolbox_name(&console.owner)).await {
                Ok(Some((_, server)))
                    if !server.is_empty()
                        && !self.server_id().is_empty()
                        && server != self.server_id() =>
                {
                    None
                }
                _ => Some(client),
            },
            Err(_) => None,
        };
        if let Some(client) = client {
            let theirs: Vec<String> = client
                .console_objects(&self.instance)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|o| o.owner == console.owner && (remove || o.running))
                .map(|o| o.id)
                .collect();
            if remove {
                client.remove_containers(&theirs).await;
                let handle = crate::registry::handle_of(&console.owner);
                self.remove_console_images(&client, self.registry_address().as_deref(), |h| {
                    h == handle
                })
                .await;
            } else {
                client.stop_containers(&theirs).await;
            }
        }
        drop(had);
        console.set_state(
            ToolboxState::Stopped,
            &format!(
                "Stopped after {} without a command, with your containers; your next command starts the toolbox again (docker start NAME starts a container).",
                crate::when::duration_words(self.settings.idle_stop)
            ),
        );
        let _ = std::fs::remove_dir_all(
            self.settings
                .dir
                .join(crate::registry::handle_of(&console.owner)),
        );
    }

    /// Remove every toolbox and container consoles of this installation left (a server
    /// stopped or killed with consoles open), and their sockets' folders. How many. (Should it
    /// run beside the first requests, what belongs to a learner whose console this server
    /// has opened meanwhile is theirs now, and stays.)
    pub async fn remove_leftovers(&self) -> Result<usize, String> {
        if self.off.is_some() {
            return Ok(0);
        }
        let engine = async {
            let client = self.engine.client().await?;
            let objects = client.console_objects(&self.instance).await?;
            Ok::<_, String>((client, objects))
        }
        .await;
        // (Another live server's consoles — on the same engine, their sockets perhaps in the
        // same folder — are its own. With the engine down, no console works anyway: the
        // folders go, as they always did.)
        let others: std::collections::HashSet<String> = match &engine {
            Ok((_, objects)) => self
                .others_consoles(objects)
                .await
                .iter()
                .map(|owner| crate::registry::handle_of(owner))
                .collect(),
            Err(_) => Default::default(),
        };
        let opened_here = || -> std::collections::HashSet<String> {
            lock(&self.open)
                .keys()
                .map(|owner| crate::registry::handle_of(owner))
                .chain(others.iter().cloned())
                .collect()
        };
        if let Ok(entries) = std::fs::read_dir(&self.settings.dir) {
            let opened = opened_here();
            for entry in entries.flatten() {
                if !opened.contains(entry.file_name().to_string_lossy().as_ref()) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let (client, objects) = engine?;
        let opened = opened_here();
        // (A check's helper at work belongs to no one: another live server's check may be
        // using it; one left behind goes in a later sweep.)
        let ids: Vec<String> = objects
            .into_iter()
            .filter(|o| !opened.contains(&crate::registry::handle_of(&o.owner)) && !o.fresh_helper)
            .map(|o| o.id)
            .collect();
        let containers = client.remove_containers(&ids).await;
        // (Names in learners' registry namespaces a killed server left are the janitor's,
        // which takes them off before this server answers anyone: a name made by hand then
        // is not a console's.)
        let images = self
            .remove_console_images(&client, None, |handle| !opened_here().contains(handle))
            .await;
        Ok(containers + images)
    }

    /// Remove what an earlier server left, then sweep now and then (every quarter of the idle
    /// time, at most a minute apart).
    pub async fn start(self: &Arc<Self>) {
        if self.off.is_some() {
            return;
        }
        // Before anyone is answered (a console opened during the sweep would look like one
        // left behind), unless the engine takes too long: then beside the first requests,
        // which [`Consoles::remove_leftovers`] leaves alone.
        let consoles = self.clone();
        let sweep = tokio::spawn(async move {
            match consoles.remove_leftovers().await {
                Ok(0) => {}
                Ok(n) => tracing::info!("removed {n} console containers an earlier server left"),
                Err(e) => tracing::warn!(
                    "could not look for console containers an earlier server left: {e}"
                ),
            }
        });
        if tokio::time::timeout(LEFTOVERS_WITHIN, sweep).await.is_err() {
            tracing::warn!(
                "the sweep of what an earlier server's consoles left goes on beside the first requests"
            );
        }
        let consoles = self.clone();
        tokio::spawn(async move {
            let every = (consoles.settings.idle_stop / 4)
                .clamp(Duration::from_secs(1), Duration::from_secs(60));
            let mut ticks = tokio::time::interval(DISK_EVERY.min(every));
            ticks.tick().await;
            let mut swept_at = tokio::time::Instant::now();
            loop {
                ticks.tick().await;
                let removed = consoles.disk_sweep().await;
                if removed > 0 {
                    tracing::info!("consoles: removed {removed} containers that wrote past their learner's disk budget");
                }
                if swept_at.elapsed() < every {
                    continue;
                }
                swept_at = tokio::time::Instant::now();
                let swept = consoles.sweep().await;
                if swept != Swept::default() {
                    tracing::info!(
                        "consoles: {} stopped, {} removed after idling, {} leftover containers removed",
                        swept.stopped,
                        swept.removed,
                        swept.orphans
                    );
                }
            }
        });
    }

    pub fn settings(&self) -> &ConsoleSettings {
        &self.settings
    }

    /// Why consoles are off on this server, if they are.
    pub fn off(&self) -> Option<&str> {
        self.off.as_deref()
    }
}

impl Console {
    /// Tell the pages which ports are served, if that changed.
    fn tell_ports(&self) {
        let mut now: Vec<(u16, u16)> = lock(&self.forwards)
            .iter()
            .map(|(port, f)| (*port, f.target().1))
            .collect();
        now.sort();
        let _inner = lock(&self.inner);
        let mut told = lock(&self.told);
        if *told != now {
            *told = now.clone();
            let _ = self.events.send(ConsoleEvent::Ports { ports: now });
        }
    }

    fn set_state(&self, state: ToolboxState, message: &str) {
        let mut inner = lock(&self.inner);
        inner.state = state;
        inner.message = message.to_string();
        let _ = self.events.send(ConsoleEvent::State {
            state,
            message: message.to_string(),
        });
    }

    /// Take in what command `id` printed.
    fn printed(&self, id: u64, bytes: &[u8]) {
        let mut inner = lock(&self.inner);
        // (A command that prints is not idle: a build's steps, a push's layers.)
        inner.last_used = Instant::now();
        if let Some(command) = inner.commands.iter_mut().find(|c| c.id == id) {
            command.screen.feed(bytes);
        }
    }

    /// Send the rows command `id` changed since last sent; about how many bytes they weigh.
    fn send_rows(&self, id: u64) -> usize {
        let mut inner = lock(&self.inner);
        let Some(command) = inner.commands.iter_mut().find(|c| c.id == id) else {
            return 0;
        };
        let rows = command.screen.take_changed();
        let weight = screen::weight(&rows);
        if !rows.is_empty() {
            let _ = self.events.send(ConsoleEvent::Rows { id, rows });
        }
        weight
    }

    /// Command `id` ended; forget the oldest commands past what is kept.
    fn ended(&self, id: u64, exit: Option<i64>, note: String) {
        let mut inner = lock(&self.inner);
        inner.last_used = Instant::now();
        if inner.running.as_ref().is_some_and(|r| r.id == id) {
            inner.running = None;
        }
        if let Some(command) = inner.commands.iter_mut().find(|c| c.id == id) {
            command.done = Some((exit, note.clone()));
        }
        let _ = self.events.send(ConsoleEvent::Done { id, exit, note });
        let mut forgot = false;
        while inner.commands.len() > 1
            && (inner.commands.len() > KEPT_COMMANDS
                || inner.commands.iter().map(|c| c.screen.len()).sum::<usize>() > KEPT_ROWS)
        {
            inner.commands.pop_front();
            forgot = true;
        }
        if forgot {
            if let Some(first) = inner.commands.front() {
                let _ = self.events.send(ConsoleEvent::Forgot { before: first.id });
            }
        }
    }
}

/// Serve the ports the learner's running containers publish, and no others; tell the pages
/// when they changed.
async fn publish(engine: &Engine, instance: &str, console: &Console) {
    let _one_at_a_time = console.publishing.lock().await;
    serve_published(engine, instance, console).await;
    console.tell_ports();
}

async fn serve_published(engine: &Engine, instance: &str, console: &Console) {
    let toolbox = lock(&console.toolbox_id).clone();
    let Some(toolbox) = toolbox else {
        lock(&console.forwards).clear();
        return;
    };
    let Ok(client) = engine.client().await else {
        return;
    };
    let Ok(serving) = client.serving(&console.owner, instance).await else {
        return;
    };
    let wanted = ports::wanted(serving);
    let missing: Vec<(u16, (String, u16))> = {
        let mut forwards = lock(&console.forwards);
        forwards.retain(|port, forward| wanted.get(port) == Some(&forward.target()));
        wanted
            .into_iter()
            .filter(|(port, _)| !forwards.contains_key(port))
            .collect()
    };
    if missing.is_empty() {
        return;
    }
    let toolbox = match client.namespace_of(&toolbox).await {
        Ok(namespace) => namespace,
        Err(e) => {
            tracing::warn!("a console's published ports cannot be served: {e}");
            return;
        }
    };
    for (port, (container, target)) in missing {
        match ports::forward(&client, &toolbox, port, &container, target).await {
            Ok(forward) => {
                lock(&console.forwards).insert(port, forward);
            }
            Err(e) => tracing::info!("port {port} of a console is not served: {e}"),
        }
    }
}

/// Carry one command's output to the console and what is typed to it, until it ends.
async fn drive(
    console: Arc<Console>,
    client: crate::engine::Client,
    io: crate::engine::toolbox::CommandIo,
    mut typed: mpsc::Receiver<Vec<u8>>,
    id: u64,
) {
    let crate::engine::toolbox::CommandIo {
        exec,
        mut output,
        mut input,
    } = io;
    // Whatever happens below, the console does not stay busy with a command no one follows.
    let mut ending = Ending {
        console: console.clone(),
        id,
        ended: false,
    };
    let mut broke = None;
    // Rows go out at once, but at most every SEND_EVERY and SENT_PER_SECOND (rows that change
    // meanwhile go once, in the next batch); a command printing more than
    // OUTPUT_PER_SECOND is read no faster (its terminal then makes it wait).
    let mut next_send = tokio::time::Instant::now();
    let mut unsent = false;
    let (mut window, mut read, mut sent) = (tokio::time::Instant::now(), 0usize, 0usize);
    let send = |sent: &mut usize, window: &mut tokio::time::Instant| {
        let now = tokio::time::Instant::now();
        if window.elapsed() >= Duration::from_secs(1) {
            (*window, *sent) = (now, 0);
        }
        *sent += console.send_rows(id);
        if *sent > SENT_PER_SECOND {
            *window + Duration::from_secs(1)
        } else {
            now + SEND_EVERY
        }
    };
    loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                Some(Ok(bytes)) => {
                    console.printed(id, &bytes);
                    if tokio::time::Instant::now() >= next_send {
                        next_send = send(&mut sent, &mut window);
                    } else {
                        unsent = true;
                    }
                    read += bytes.len();
                    if read > OUTPUT_PER_SECOND {
                        tokio::time::sleep_until(window + Duration::from_secs(1)).await;
                    }
                    if window.elapsed() >= Duration::from_secs(1) {
                        (window, read, sent) = (tokio::time::Instant::now(), 0, 0);
                    }
                }
                Some(Err(e)) => {
                    broke = Some(e);
                    break;
                }
                None => break,
            },
            _ = tokio::time::sleep_until(next_send), if unsent => {
                next_send = send(&mut sent, &mut window);
                unsent = false;
            }
            Some(bytes) = typed.recv() => {
                if input.write_all(&bytes).await.is_err() || input.flush().await.is_err() {
                    // The command no longer reads; its output says the rest.
                }
            }
        }
    }
    console.send_rows(id);
    // The engine may take a moment to see the command ended.
    let mut exit = None;
    for _ in 0..20 {
        exit = client.command_exit(&exec).await;
        if exit.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let note = match (&broke, exit) {
        (Some(e), _) => format!("the connection to the command broke: {e}"),
        (None, Some(0)) => String::new(),
        (None, Some(130)) => "interrupted (Ctrl-C)".into(),
        (None, Some(137)) => "ended (killed)".into(),
        (None, Some(code)) => format!("exit status {code}"),
        (None, None) => "ended (the toolbox stopped)".into(),
    };
    console.ended(id, exit, note);
    ending.ended = true;
}

/// Ends a command when its driver is gone without ending it (a panic).
struct Ending {
    console: Arc<Console>,
    id: u64,
    ended: bool,
}

impl Drop for Ending {
    fn drop(&mut self) {
        if !self.ended {
            self.console
                .ended(self.id, None, "ended (layerlab lost track of it)".into());
        }
    }
}

/// A command line as run: one line of printable text, at most [`MAX_LINE`] bytes.
fn checked_line(line: &str) -> Result<String, ConsoleError> {
    let line = line.trim();
    if line.is_empty() {
        return Err(ConsoleError::BadInput("Type a command to run.".into()));
    }
    if line.len() > MAX_LINE {
        return Err(ConsoleError::BadInput(format!(
            "A command line may be at most {MAX_LINE} bytes."
        )));
    }
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ConsoleError::BadInput(
            "A command is one line of text: run several one after another, or join them with && or ;.".into(),
        ));
    }
    Ok(line.to_string())
}

/// The learner who built `image` in their console, if this installation's console did.
pub(crate) fn built_by(image: &EngineImage, instance: &str) -> Option<String> {
    use crate::engine::builder::{ATTEMPT_LABEL, INSTANCE_LABEL};
    if image.labels.get(INSTANCE_LABEL)? != instance {
        return None;
    }
    let (owner, made_by) = image.labels.get(ATTEMPT_LABEL)?.rsplit_once('/')?;
    (made_by == crate::builds::console::CONSOLE_ATTEMPT).then(|| owner.to_string())
}

impl Consoles {
    /// Remove the images this installation's consoles built, and take off the names they gave
    /// images, for the learners (by handle) `gone` picks. How many images and names went.
    /// An image goes only when all who built it and every name it has are theirs (two
    /// learners' builds of the same steps end on one image); the database forgets what it no
    /// longer needs to know.
    async fn remove_console_images(
        &self,
        client: &crate::engine::Client,
        registry: Option<&str>,
        gone: impl Fn(&str) -> bool,
    ) -> usize {
        let instance = self.instance.as_str();
        // (Read before the engine's images: an image built after is not in that list, and
        // its row must not be taken for one whose image went.)
        let store = self.images.as_ref().map(|(builds, _)| builds.store());
        let recorded = match store {
            Some(store) => match store.all_console_images().await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!("the consoles' images could not be read from the database: {e}");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let Ok(images) = client.all_images().await else {
            return 0;
        };
        let mut built: std::collections::HashMap<&str, Vec<&str>> = Default::default();
        for (learner, id) in &recorded {
            built.entry(id.as_str()).or_default().push(learner.as_str());
        }
        let mark = format!("-{}/", crate::policy::api::instance_mark(instance));
        let registry = registry.map(|r| format!("{r}/"));
        // Whose name `tag` is (by handle): `<handle>-<installation>/…`, or `<class
        // registry>/<handle>/…` (a push or a pull, unless the workbench holds it for one of
        // its own).
        let named_by = |tag: &String| -> Option<String> {
            let in_registry = registry
                .as_deref()
                .and_then(|r| tag.strip_prefix(r))
                .and_then(|rest| rest.split_once('/'));
            let handle = match in_registry {
                Some((handle, _)) => {
                    Some(handle).filter(|_| !client.holds_any(std::slice::from_ref(tag)))
                }
                None => tag.split_once(&mark).map(|(handle, _)| handle),
            }?;
            (handle.starts_with("learner-") && !handle.contains('/')).then(|| handle.to_string())
        };
        let mut removed = 0;
        for image in &images {
            let builders: Vec<String> = built_by(image, instance)
                .into_iter()
                .chain(
                    built
                        .get(image.id.as_str())
                        .into_iter()
                        .flatten()
                        .map(|l| l.to_string()),
                )
                .map(|owner| crate::registry::handle_of(&owner))
                .collect();
            let all_theirs = image
                .tags
                .iter()
                .all(|t| named_by(t).is_some_and(|h| gone(&h)));
            if !builders.is_empty() && builders.iter().all(|h| gone(h)) && all_theirs {
                removed += usize::from(client.remove_image(&image.id).await.is_ok());
                continue;
            }
            for tag in &image.tags {
                if named_by(tag).is_some_and(|h| gone(&h)) {
                    removed += usize::from(client.untag(tag).await.is_ok());
                }
            }
        }
        // A row goes with its image, or with its learner once the image bears none of their
        // names (a name in their registry namespace left for the janitor keeps it: the
        // janitor finds the images it takes such names off by these rows).
        if let Some(store) = store {
            for (learner, id) in &recorded {
                let handle = crate::registry::handle_of(learner);
                let keep = match images.iter().find(|i| i.id == *id) {
                    // (Not listed: gone, or an unnamed image another is built on.)
                    None => !matches!(client.image_info(id).await, Ok(None)),
                    Some(_) if !gone(&handle) => true,
                    Some(image) => image.tags.iter().any(|t| {
                        t.starts_with(&format!("{handle}-")) || t.contains(&format!("/{handle}/"))
                    }),
                };
                if !keep {
                    let _ = store.forget_console_image(learner, id).await;
                }
            }
        }
        removed
    }
}

/// The toolbox container's name for `owner` (learners' own names all begin with their
/// handle, `learner-…`, so none can take it).
pub fn toolbox_name(owner: &str) -> String {
    format!("layerlab-console-{}", crate::registry::handle_of(owner))
}

/// Make (or check) the folder of every console's socket folder: this user's, mode 0700.
fn prepare_folder(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != me {
        return Err(std::io::Error::other(
            "it must be a folder of this server's user",
        ));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// One learner's socket folder: this user's, others may pass through (the toolbox's user
/// reaches the socket in it) but not list or write. Only the 0700 folder above leads here.
fn learner_folder(folder: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match std::fs::DirBuilder::new().mode(0o711).create(folder) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o711))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_one_line_of_bounded_text() {
        assert_eq!(checked_line("  docker ps -a ").unwrap(), "docker ps -a");
        assert!(matches!(
            checked_line("   "),
            Err(ConsoleError::BadInput(_))
        ));
        assert!(matches!(
            checked_line("docker ps\ndocker images"),
            Err(ConsoleError::BadInput(m)) if m.contains("one line")
        ));
        assert!(matches!(
            checked_line("echo \u{1b}[2J"),
            Err(ConsoleError::BadInput(_))
        ));
        assert!(checked_line(&"x".repeat(MAX_LINE + 1)).is_err());
        assert!(checked_line("printf 'a\tb'").is_ok());
    }

    #[test]
    fn toolbox_names_cannot_be_a_learners_container_name() {
        let owner = "0f3c2a9e-1111-2222-3333-444455556666";
        let scope = Scope {
            owner: owner.into(),
            instance: "i".into(),
            base_images: vec![],
            registry: None,
            built: Default::default(),
        };
        // Every name a learner gives becomes `<handle>-<name>`; the toolbox's does not begin so.
        assert!(!toolbox_name(owner).starts_with(&scope.engine_name("")));
    }
}
