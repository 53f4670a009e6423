//! The embedded registry kept running: if its process ends (a crash, an operator's kill, the
//! out-of-memory killer), it is started again on the same address, with the same
//! configuration and storage, so that image references stay right. A registry that keeps
//! dying is left stopped, and the status says why.

use super::{spawn, Registry};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the process is looked at.
const LOOK_EVERY: Duration = Duration::from_millis(500);
/// Restarts allowed within [`RESTART_WINDOW`] before giving up.
const MAX_RESTARTS: usize = 5;
const RESTART_WINDOW: Duration = Duration::from_secs(60);

impl Registry {
    /// Watch the embedded registry and start it again when it ends (none for an external
    /// registry or none). Stops when the registry is dropped.
    pub fn supervise(self: &Arc<Self>) {
        if self.files.is_none() {
            return;
        }
        let registry = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut restarts: Vec<Instant> = Vec::new();
            loop {
                tokio::time::sleep(LOOK_EVERY).await;
                let Some(registry) = registry.upgrade() else {
                    return;
                };
                let Some(exit) = registry.exited() else {
                    continue;
                };
                restarts.retain(|t| t.elapsed() < RESTART_WINDOW);
                if restarts.len() >= MAX_RESTARTS {
                    tracing::error!(
                        "the class registry stopped ({exit}) {MAX_RESTARTS} times within a minute; it is left stopped (see its log in the registry folder)"
                    );
                    return;
                }
                restarts.push(Instant::now());
                match registry.restart().await {
                    Ok(()) => tracing::warn!("the class registry stopped ({exit}); started again"),
                    Err(e) => tracing::error!(
                        "the class registry stopped ({exit}) and could not be started again: {e}"
                    ),
                }
            }
        });
    }

    /// Start the program again on the same configuration; wait until it answers as ours.
    async fn restart(&self) -> Result<(), String> {
        let files = self.files.as_ref().ok_or("not a registry layerlab runs")?;
        let child = spawn(&files.program, &files.config, &files.log)
            .map_err(|_| format!("{} could not be started", files.program.display()))?;
        *crate::sync::lock(&self.child) = Some(child);
        // Ours answers with our realm: another program that took the port meanwhile would
        // not (and must not get learners' passwords).
        match self.answers_as(&files.realm).await {
            super::Answer::Ours => Ok(()),
            super::Answer::Exited => Err("it ended again at once".into()),
            super::Answer::Silent => Err("it did not answer as ours".into()),
        }
    }
}
