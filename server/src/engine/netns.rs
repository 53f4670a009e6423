//! Reaching a run container's port from inside its own network namespace. Run containers
//! have no network (`none`: loopback only), so they can connect to nothing — not the host, not
//! another learner — and nothing can connect to them. The probe instead makes its socket in
//! the container's namespace: `setns` moves only the calling thread, and a socket keeps the
//! namespace it was made in, so a short-lived thread enters, connects to
//! [`probe_address`]`:<port>` and hands the connected socket back to tokio. This needs the engine on this host (its
//! `SandboxKey` path must be ours to open) and root (`CAP_SYS_ADMIN`) for `setns`.

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where the probe connects inside a run's namespace: an address of its loopback network
/// (127.0.0.0/8) that is not 127.0.0.1, drawn anew for every run. A server listening on every
/// address (`0.0.0.0`, `::`) answers there, as it would behind a port mapping; one listening
/// only on 127.0.0.1 does not — as behind a port mapping, which arrives on the container's own
/// address, never on its loopback. Drawn, so that no image can listen on it in advance.
pub fn probe_address() -> Ipv4Addr {
    let bytes = *uuid::Uuid::new_v4().as_bytes();
    Ipv4Addr::new(127, 1 + bytes[0] % 254, bytes[1], 1 + bytes[2] % 254)
}

/// Connecting on loopback is answered at once (accepted or refused); this only bounds a
/// listener whose backlog is full.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("cannot open the container's network namespace {}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("{} is this server's own network namespace, not a container's", path.display())]
    NotTheContainers { path: PathBuf },
    #[error("cannot enter the container's network namespace: {0}")]
    Enter(io::Error),
    #[error("the thread that enters the namespace failed: {0}")]
    Thread(io::Error),
    /// Inside the namespace, but nothing accepted the connection (yet).
    #[error("cannot connect to port {port}: {source}")]
    Connect { port: u16, source: io::Error },
}

/// An open handle on one container's network namespace. Holding it keeps the namespace
/// alive, so it cannot be swapped for another one between two connection attempts.
pub struct NetNs {
    file: Arc<File>,
}

impl NetNs {
    /// Open the namespace file the engine names (`NetworkSettings.SandboxKey`). Refuses this
    /// server's own namespace: connecting there would reach the host's loopback.
    pub fn open(path: &Path) -> Result<Self, NetnsError> {
        let open_error = |source| NetnsError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(open_error)?;
        let theirs = file.metadata().map_err(open_error)?;
        let ours = std::fs::metadata("/proc/self/ns/net").map_err(open_error)?;
        if (theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino()) {
            return Err(NetnsError::NotTheContainers {
                path: path.to_path_buf(),
            });
        }
        Ok(NetNs {
            file: Arc::new(file),
        })
    }

    /// Connect to `address:port` inside the namespace.
    pub async fn connect(
        &self,
        address: Ipv4Addr,
        port: u16,
    ) -> Result<tokio::net::TcpStream, NetnsError> {
        let file = self.file.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("layerlab-probe".into())
            .spawn(move || {
                // The thread ends right after, still inside the namespace: nothing else ever
                // runs on it.
                let _ = tx.send(enter(&file).and_then(|()| connect_here(address, port)));
            })
            .map_err(NetnsError::Thread)?;
        let stream = rx
            .await
            .map_err(|_| NetnsError::Thread(io::Error::other("it ended without an answer")))??;
        let connect_error = |source| NetnsError::Connect { port, source };
        stream.set_nonblocking(true).map_err(connect_error)?;
        tokio::net::TcpStream::from_std(stream).map_err(connect_error)
    }
}

impl NetNs {
    /// A listener on `127.0.0.1:port` inside the namespace.
    pub async fn listen(&self, port: u16) -> Result<tokio::net::TcpListener, NetnsError> {
        let file = self.file.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("layerlab-listen".into())
            .spawn(move || {
                // As in `connect`: the thread ends right after, inside the namespace.
                let listening = enter(&file).and_then(|()| {
                    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                        .map_err(|source| NetnsError::Connect { port, source })
                });
                let _ = tx.send(listening);
            })
            .map_err(NetnsError::Thread)?;
        let listener = rx
            .await
            .map_err(|_| NetnsError::Thread(io::Error::other("it ended without an answer")))??;
        let listen_error = |source| NetnsError::Connect { port, source };
        listener.set_nonblocking(true).map_err(listen_error)?;
        tokio::net::TcpListener::from_std(listener).map_err(listen_error)
    }
}

/// Move the calling thread into the namespace `ns`.
fn enter(ns: &File) -> Result<(), NetnsError> {
    // SAFETY: setns reads a file descriptor that `ns` keeps open for the whole call and a
    // flag; it changes only the calling thread's network namespace, and that thread is one
    // we started for this and that ends after making one socket.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(NetnsError::Enter(io::Error::last_os_error()))
    }
}

fn connect_here(address: Ipv4Addr, port: u16) -> Result<std::net::TcpStream, NetnsError> {
    let address = SocketAddr::from((address, port));
    std::net::TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)
        .map_err(|source| NetnsError::Connect { port, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_namespace_is_refused() {
        // /proc/self/ns/net names the server's namespace (the host's, for a server on it).
        let outcome = NetNs::open(Path::new("/proc/self/ns/net"));
        assert!(
            matches!(outcome, Err(NetnsError::NotTheContainers { .. })),
            "{:?}",
            outcome.err()
        );
    }

    #[test]
    fn a_missing_namespace_says_which_file() {
        let err = NetNs::open(Path::new("/nonexistent/netns/abc"))
            .err()
            .expect("no such file");
        assert!(matches!(err, NetnsError::Open { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/netns/abc"), "{err}");
    }
}
