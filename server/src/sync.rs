//! Locks shared by request handlers and background tasks.

use std::sync::{Mutex, MutexGuard};

/// Lock `mutex`, even if a thread panicked while holding it. Every value layerlab keeps
/// behind a mutex is replaced or updated whole under the lock (a status, a queue, a map of
/// counters), so a panic elsewhere cannot leave it half-written, and refusing every later
/// request because of one panic would turn a bug into an outage.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_poisoned_lock_still_gives_its_value() {
        let shared = std::sync::Arc::new(std::sync::Mutex::new(41));
        let other = shared.clone();
        let _ = std::thread::spawn(move || {
            let _guard = other.lock().expect("lock");
            panic!("a handler panics while holding the lock");
        })
        .join();
        assert!(shared.is_poisoned());
        *super::lock(&shared) += 1;
        assert_eq!(*super::lock(&shared), 42);
    }
}
