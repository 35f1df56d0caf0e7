//! Per-task, system-wide locks: `locks/<NAME>.lock` in the state directory.
//!
//! Two tasks of the same name never run at once on a machine. The lock is
//! an exclusive `flock` on a file that is never deleted, so it is released
//! by the kernel however its holder dies.
//!
//! A task that calls a task of its own name would wait for itself forever.
//! Every holder therefore exports the names it holds in [`HELD_VAR`], and a
//! descendant asking for one of them fails at once instead.

mod cli;

pub use cli::{Args, command, run};

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use tr_common::state::StateError;
use tr_common::{StateDir, TaskName};

/// Names of the locks held by the ancestors of a process, as `/a/b/`.
/// `/` cannot occur in a task name, so it separates them unambiguously.
pub const HELD_VAR: &str = "_taskrunner_held_locks";

/// A held task lock; dropping it releases the lock.
#[derive(Debug)]
pub struct TaskLock {
    file: File,
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// An ancestor of this process holds the lock.
    #[error(
        "task `{0}` calls itself (directly or through other tasks) and would wait for itself forever"
    )]
    Recursive(String),
    /// The locks directory is unusable.
    #[error(transparent)]
    State(#[from] StateError),
    /// The lock file could not be opened or locked.
    #[error("cannot lock `{path}`")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
}

impl TaskLock {
    /// Takes the lock of task `name`, calling `on_wait` once first if
    /// another process holds it.
    pub fn acquire(
        state: &StateDir,
        name: &TaskName,
        on_wait: impl FnOnce(),
    ) -> Result<TaskLock, LockError> {
        if is_held_by_ancestor(std::env::var_os(HELD_VAR).as_deref(), name) {
            return Err(LockError::Recursive(name.to_string()));
        }
        let path = state.dir("locks")?.join(format!("{name}.lock"));
        let io_err = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                on_wait();
                file.lock().map_err(io_err)?;
            }
            Err(TryLockError::Error(e)) => return Err(io_err(e)),
        }
        Ok(TaskLock { file })
    }

    /// Lets the lock's descriptor survive `exec`, so that the next program
    /// run by this process holds the lock.
    pub fn inherit(&self) -> io::Result<()> {
        use std::os::fd::AsRawFd;

        let fd = self.file.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own, with integer arguments only.
        let ok = unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            flags >= 0 && libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) >= 0
        };
        if ok {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// The value of [`HELD_VAR`] for the children of a holder of `name`.
pub fn held_var_with(name: &TaskName) -> OsString {
    let mut value = std::env::var_os(HELD_VAR).unwrap_or_else(|| OsString::from("/"));
    if !value.as_bytes().ends_with(b"/") {
        value.push("/");
    }
    value.push(name.as_str());
    value.push("/");
    value
}

fn is_held_by_ancestor(held: Option<&OsStr>, name: &TaskName) -> bool {
    held.is_some_and(|held| {
        held.as_bytes()
            .split(|&b| b == b'/')
            .any(|part| part == name.as_str().as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> TaskName {
        TaskName::new(OsStr::new(s)).unwrap()
    }

    #[test]
    fn ancestors_are_matched_by_whole_name() {
        let held = Some(OsStr::new("/build/test all/"));
        assert!(is_held_by_ancestor(held, &name("build")));
        assert!(is_held_by_ancestor(held, &name("test all")));
        assert!(!is_held_by_ancestor(held, &name("test")));
        assert!(!is_held_by_ancestor(None, &name("build")));
    }

    #[test]
    fn a_second_holder_waits() {
        let dir = std::env::temp_dir().join(format!("tr-lock-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = StateDir::open(dir).unwrap();
        let first = TaskLock::acquire(&state, &name("x"), || panic!("no wait expected")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn({
            let state = state.clone();
            move || {
                let lock = TaskLock::acquire(&state, &name("x"), || tx.send(()).unwrap());
                lock.map(drop).is_ok()
            }
        });
        rx.recv().unwrap();
        drop(first);
        assert!(waiter.join().unwrap());
    }
}
