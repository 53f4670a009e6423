//! The layerlab processes serving from this database (`servers`), each with a heartbeat: what
//! a process left unfinished is marked interrupted by another only once that process is gone
//! — its heartbeat older than the time allowed, it said it stopped, or, on the same machine,
//! its process no longer runs.

use super::{now_ms, Result, Store};
use sqlx::Row;
use std::time::Duration;

/// Who this process is, for others on the same machine to check it still runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessMark {
    /// The machine, its boot and the process-id namespace (`hostname/boot id/pid ns`): after
    /// a reboot no earlier process runs, and a pid means the same process only to another in
    /// the same namespace (two containers may share a hostname and a kernel).
    pub host: String,
    pub pid: i64,
    /// When the process started, in the kernel's ticks since boot (a pid used again by a
    /// later process has another).
    pub started: i64,
}

impl ProcessMark {
    /// This process.
    pub fn this_one() -> Self {
        let pid = i64::from(std::process::id());
        ProcessMark {
            host: this_host(),
            pid,
            started: process_started(pid).unwrap_or_default(),
        }
    }

    /// Does the process this marks still run? Known only on its own machine and in its pid
    /// namespace, and when its start was read (`None` otherwise).
    pub fn runs(&self) -> Option<bool> {
        (self.started != 0 && self.host == this_host())
            .then(|| process_started(self.pid) == Some(self.started))
    }
}

fn this_host() -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let namespace = std::fs::read_link("/proc/self/ns/pid")
        .map(|link| link.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        "{}/{}/{namespace}",
        read("/proc/sys/kernel/hostname"),
        read("/proc/sys/kernel/random/boot_id")
    )
}

/// Field 22 of `/proc/<pid>/stat` (after the command's closing parenthesis, the 20th).
fn process_started(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    after.split_whitespace().nth(19)?.parse().ok()
}

/// A process's row, as another reads it.
#[derive(Clone, Debug)]
pub struct ServerRow {
    pub id: String,
    pub mark: ProcessMark,
    pub started_at: i64,
    pub heartbeat_at: i64,
    /// How long without a heartbeat means it is gone (its own `--server-dead-after`).
    pub dead_after_ms: i64,
    pub stopped_at: Option<i64>,
}

impl ServerRow {
    /// Gone: said it stopped; or, on this machine, its process no longer runs (one that runs
    /// is alive, however late its heartbeat); elsewhere, no heartbeat within its own
    /// `dead_after` (by this machine's clock: the servers' clocks must agree, as NTP keeps
    /// them).
    pub fn is_gone(&self, now_ms: i64) -> bool {
        if self.stopped_at.is_some() {
            return true;
        }
        match self.mark.runs() {
            Some(runs) => !runs,
            None => now_ms - self.heartbeat_at > self.dead_after_ms,
        }
    }
}

impl Store {
    /// This process begins serving: its row, heartbeat now; with no heartbeat for
    /// `dead_after` others take it for gone (it beats more often than that).
    pub async fn register_server(&self, mark: &ProcessMark, dead_after: Duration) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO servers (id, host, pid, process_started, started_at, heartbeat_at, \
             dead_after_ms) VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(&self.server)
        .bind(&mark.host)
        .bind(mark.pid)
        .bind(mark.started)
        .bind(now)
        .bind(dead_after.as_millis() as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// This process is alive. Its row is made again if it went (forgotten after a day
    /// without a heartbeat: a machine suspended that long).
    pub async fn heartbeat(&self, mark: &ProcessMark, dead_after: Duration) -> Result<()> {
        let done = sqlx::query("UPDATE servers SET heartbeat_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(&self.server)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            self.register_server(mark, dead_after).await?;
        }
        Ok(())
    }

    /// This process stops serving (its unfinished work is anyone's to mark at once).
    pub async fn server_stopped(&self) -> Result<()> {
        sqlx::query("UPDATE servers SET stopped_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(&self.server)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every process that ever served from this database and has not been forgotten.
    pub async fn servers(&self) -> Result<Vec<ServerRow>> {
        let rows = sqlx::query(
            "SELECT id, host, pid, process_started, started_at, heartbeat_at, dead_after_ms, \
             stopped_at FROM servers ORDER BY started_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| ServerRow {
                id: row.get("id"),
                mark: ProcessMark {
                    host: row.get("host"),
                    pid: row.get("pid"),
                    started: row.get("process_started"),
                },
                started_at: row.get("started_at"),
                heartbeat_at: row.get("heartbeat_at"),
                dead_after_ms: row.get("dead_after_ms"),
                stopped_at: row.get("stopped_at"),
            })
            .collect())
    }

    /// Forget the rows of processes silent for a day (a missing row reads as gone too); how
    /// many.
    pub async fn forget_old_servers(&self) -> Result<u64> {
        let day_ago = now_ms() - 24 * 3600 * 1000;
        let done = sqlx::query("DELETE FROM servers WHERE heartbeat_at < $1")
            .bind(day_ago)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
