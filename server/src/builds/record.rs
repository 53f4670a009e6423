//! One build as its followers see it: the view, a log bounded in lines and bytes kept as
//! shared chunks, and the events every change publishes.

use super::*;

/// What subscribers of a build hear.
#[derive(Clone, Debug)]
pub enum BuildEvent {
    Log(LogLine),
    Status(StatusUpdate),
    Done(Box<BuildView>),
}

/// One build and its audience.
pub struct BuildRecord {
    pub(super) owner: String,
    /// Who sent it, as the admission layer counts addresses: at most half the queue may wait
    /// for one address.
    pub(super) client: String,
    /// Bytes of the files it holds while it waits (counted against the queue's budget).
    pub(super) context_bytes: usize,
    pub(super) state: Mutex<RecordState>,
    pub(super) events: broadcast::Sender<BuildEvent>,
    /// Set when the learner submits again: the build stops and cleans up.
    pub(super) cancel: watch::Sender<bool>,
    /// Set once the build and its clean-up are over (the next build of its learner waits).
    pub(super) done: watch::Sender<bool>,
}

pub(super) struct RecordState {
    pub(super) view: BuildView,
    pub(super) created_at: i64,
    pub(super) log: SharedLog,
    /// Image ids the build's log named, as they came: only candidates (a step's output is
    /// in the same stream); the engine's facts decide which are this build's.
    pub(super) intermediate_ids: Vec<String>,
    /// This attempt's stage images, checked against the engine.
    pub(super) stage_images: Vec<String>,
}

/// Lines the build record keeps from the build and the run together; past it one line says
/// so. The engine's byte cap alone let a step of empty lines make hundreds of thousands.
pub const MAX_LOG_LINES: usize = 5_000;
/// Bytes (text plus one per line) the record keeps from the build and the run together.
pub const MAX_LOG_BYTES: usize = 512 * 1024;
/// Lines of layerlab's own (a few per build) kept past the cap, so the end is still told.
pub(super) const SERVER_LINES_PAST_CAP: usize = 200;
/// Lines per shared chunk of the log.
pub(super) const LOG_CHUNK: usize = 256;

/// A build's log, bounded in lines and bytes, kept as chunks that event streams share: a
/// subscriber takes the chunks (reference counts), not a copy of every line.
#[derive(Default)]
pub(super) struct SharedLog {
    pub(super) sealed: Vec<Arc<[LogLine]>>,
    pub(super) open: Vec<LogLine>,
    pub(super) lines: usize,
    pub(super) bytes: usize,
    /// Set once the cap was reached (and said).
    pub(super) capped: bool,
}

/// What [`SharedLog::push`] did with a line.
#[derive(Debug, PartialEq)]
pub(super) enum Kept {
    Yes,
    /// Not kept, and the line saying the log was cut was kept in its place.
    CapReached(LogLine),
    No,
}

impl SharedLog {
    pub(super) fn push(&mut self, line: LogLine) -> Kept {
        let size = line.text.len() + 1;
        let learners = line.phase != LogPhase::Server;
        if self.capped {
            let room = self.lines < MAX_LOG_LINES + SERVER_LINES_PAST_CAP;
            if learners || !room {
                return Kept::No;
            }
        } else if learners && (self.lines + 1 > MAX_LOG_LINES || self.bytes + size > MAX_LOG_BYTES)
        {
            self.capped = true;
            let notice = LogLine {
                phase: LogPhase::Server,
                text: format!(
                    "[the log passed {MAX_LOG_LINES} lines or {} KiB; later lines of the build and the run are not shown]",
                    MAX_LOG_BYTES / 1024
                ),
            };
            self.keep(notice.clone());
            return Kept::CapReached(notice);
        }
        self.keep(line);
        Kept::Yes
    }

    pub(super) fn keep(&mut self, line: LogLine) {
        self.lines += 1;
        self.bytes += line.text.len() + 1;
        self.open.push(line);
        if self.open.len() >= LOG_CHUNK {
            self.seal();
        }
    }

    pub(super) fn seal(&mut self) {
        if !self.open.is_empty() {
            let chunk: Arc<[LogLine]> = std::mem::take(&mut self.open).into();
            self.sealed.push(chunk);
        }
    }

    /// Every line so far, shared: the open tail is sealed into a chunk of its own.
    pub(super) fn chunks(&mut self) -> Vec<Arc<[LogLine]>> {
        self.seal();
        self.sealed.clone()
    }

    pub(super) fn to_vec(&self) -> Vec<LogLine> {
        let mut all = Vec::with_capacity(self.lines);
        for chunk in &self.sealed {
            all.extend_from_slice(chunk);
        }
        all.extend_from_slice(&self.open);
        all
    }
}

impl BuildRecord {
    pub fn view(&self) -> BuildView {
        lock(&self.state).view.clone()
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Every line kept so far.
    pub fn log_lines(&self) -> Vec<LogLine> {
        lock(&self.state).log.to_vec()
    }

    /// Everything so far, plus a receiver for what comes next: nothing is missed or repeated
    /// because both are taken under the same lock the publisher holds. The log comes as
    /// shared chunks: many subscribers of a long log hold one copy of it.
    pub fn subscribe(
        &self,
    ) -> (
        BuildView,
        Vec<Arc<[LogLine]>>,
        broadcast::Receiver<BuildEvent>,
    ) {
        let mut state = lock(&self.state);
        (
            state.view.clone(),
            state.log.chunks(),
            self.events.subscribe(),
        )
    }

    /// Change the view; subscribers hear a `status` event only when status, step or queue
    /// position changed.
    pub(super) fn update(&self, change: impl FnOnce(&mut BuildView)) {
        let mut state = lock(&self.state);
        let before = status_of(&state.view);
        change(&mut state.view);
        let after = status_of(&state.view);
        if after != before {
            let _ = self.events.send(BuildEvent::Status(after));
        }
    }

    /// Keep a line and tell subscribers, within the log's caps (past them one line says so,
    /// and the view is marked `log_truncated`).
    pub(super) fn log(&self, phase: LogPhase, text: String) {
        let mut state = lock(&self.state);
        let line = LogLine { phase, text };
        match state.log.push(line.clone()) {
            Kept::Yes => {
                let _ = self.events.send(BuildEvent::Log(line));
            }
            Kept::CapReached(notice) => {
                state.view.log_truncated = true;
                let _ = self.events.send(BuildEvent::Log(notice));
            }
            Kept::No => {}
        }
    }

    pub(super) fn finish(&self, view: BuildView) {
        let mut state = lock(&self.state);
        state.view = view;
        let _ = self
            .events
            .send(BuildEvent::Done(Box::new(state.view.clone())));
    }
}

/// The part of a view a `status` event carries.
pub fn status_of(view: &BuildView) -> StatusUpdate {
    StatusUpdate {
        status: view.status,
        step: view.step,
        queue_position: view.queue_position,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(phase: LogPhase, text: &str) -> LogLine {
        LogLine {
            phase,
            text: text.into(),
        }
    }

    #[test]
    fn the_log_is_capped_in_lines_says_so_once_and_still_tells_the_end() {
        let mut log = SharedLog::default();
        let mut capped = 0;
        for _ in 0..500_000 {
            match log.push(line(LogPhase::Build, "")) {
                Kept::CapReached(notice) => {
                    capped += 1;
                    assert!(notice.text.contains("5000 lines"), "{}", notice.text);
                }
                Kept::Yes | Kept::No => {}
            }
        }
        assert_eq!(capped, 1, "said once");
        assert_eq!(log.lines, MAX_LOG_LINES + 1, "the lines and the notice");
        assert_eq!(
            log.push(line(LogPhase::Run, "more")),
            Kept::No,
            "the run is cut too"
        );
        assert_eq!(
            log.push(line(LogPhase::Server, "the step failed")),
            Kept::Yes
        );
        let all = log.to_vec();
        assert_eq!(all.len(), MAX_LOG_LINES + 2);
        assert_eq!(all.last().map(|l| l.text.as_str()), Some("the step failed"));
        for _ in 0..10_000 {
            log.push(line(LogPhase::Server, "x"));
        }
        assert!(log.lines <= MAX_LOG_LINES + SERVER_LINES_PAST_CAP);
    }

    #[test]
    fn the_log_is_capped_in_bytes_and_subscribers_share_its_chunks() {
        let mut log = SharedLog::default();
        let long = "x".repeat(1023);
        for _ in 0..1000 {
            log.push(line(LogPhase::Build, &long));
        }
        assert!(log.bytes <= MAX_LOG_BYTES + 200, "{}", log.bytes);
        assert!(log.capped);
        let first = log.chunks();
        let second = log.chunks();
        assert_eq!(first.len(), second.len());
        assert!(first.iter().zip(&second).all(|(a, b)| Arc::ptr_eq(a, b)));
        let lines: usize = first.iter().map(|c| c.len()).sum();
        assert_eq!(lines, log.lines);
    }
}
