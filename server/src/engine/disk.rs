//! Room left on the engine's disk. Build steps and images land in the engine's data root;
//! when it fills up every learner's build fails in confusing ways (and the host suffers), so
//! new builds are refused below a floor with a message that says why. This needs the engine
//! on this host (its data root is a local path); elsewhere the floor is not checked.

use super::Client;
use std::path::{Path, PathBuf};

/// Where the engine keeps images and containers (`DockerRootDir`), when it is on this host.
pub async fn engine_root(client: &Client) -> Option<PathBuf> {
    let docker = &client.docker;
    let host = client.host();
    if !host.starts_with("unix://") {
        return None;
    }
    let root = PathBuf::from(docker.info().await.ok()?.docker_root_dir?);
    root.is_dir().then_some(root)
}

/// Bytes free for an unprivileged writer on the file system holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: c_path is a valid NUL-terminated string and stats points to writable memory
    // of the right type; statvfs only writes into it.
    let result = unsafe { libc::statvfs(c_path.as_ptr(), stats.as_mut_ptr()) };
    if result != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let stats = unsafe { stats.assume_init() };
    #[allow(clippy::useless_conversion)] // the field types differ between platforms
    Some(u64::from(stats.f_bavail).saturating_mul(u64::from(stats.f_frsize)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_measured_where_it_can_be() {
        let free = free_bytes(Path::new("/")).expect("statvfs on /");
        assert!(free > 0);
        assert_eq!(free_bytes(Path::new("/no/such/dir")), None);
    }
}
