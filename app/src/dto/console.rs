//! The docker console: what its event stream says to the page.

use serde::{Deserialize, Serialize};

/// One row of a command's output: runs of text, each with the classes of its colours.
pub type ConsoleRow = Vec<(String, String)>;

/// Where a learner's toolbox is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolboxState {
    /// Not started yet, or stopped after an idle while (a command starts it again).
    Stopped,
    Starting,
    Ready,
    /// It cannot start: the message says why.
    Unavailable,
}

/// One event of `GET /api/v1/console/events`. A stream begins with the console as it is
/// (its state, then every kept command with its rows), then follows it live.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConsoleEvent {
    State {
        state: ToolboxState,
        message: String,
    },
    /// A command began (`id` counts up per console).
    Command { id: u64, line: String },
    /// Rows of command `id`'s output, new or redrawn, by row number.
    Rows {
        id: u64,
        rows: Vec<(u64, ConsoleRow)>,
    },
    /// Command `id` ended: its exit code when it has one, and a word about how it ended.
    Done {
        id: u64,
        exit: Option<i64>,
        note: String,
    },
    /// Older commands were dropped from the console (only the newest are kept).
    Forgot { before: u64 },
    /// The ports the learner's running containers publish: (port in the console, the
    /// container's port), each served at `/console/ports/<port>/`.
    Ports { ports: Vec<(u16, u16)> },
}

/// The longest command line the console takes, and the most text typed to a command at once.
pub const MAX_CONSOLE_LINE: usize = 4096;

/// `POST /api/v1/console/commands`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleLine {
    pub line: String,
}

/// `POST /api/v1/console/input`: text typed to the running command (a line ends with `\r`
/// as the Enter key sends it; `\u{3}` is Ctrl-C, `\u{4}` Ctrl-D).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleInput {
    pub text: String,
}

/// `POST /api/v1/console/commands` accepted: the command's id in the event stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleStarted {
    pub id: u64,
}
