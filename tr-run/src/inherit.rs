//! Descriptors handed from runner to task through the environment: the
//! top level's output streams and the command pipe of the enclosing task.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::stat::{SFlag, fstat};

/// The top level's duplicated stdout.
pub const TOPLEVEL_STDOUT_VAR: &str = "_taskrunner_toplevel_stdout";
/// The top level's duplicated stderr.
pub const TOPLEVEL_STDERR_VAR: &str = "_taskrunner_toplevel_stderr";
/// The write end of a task's command pipe.
pub const REQUEST_PIPE_VAR: &str = "_taskrunner_request_pipe";
/// The read end of a task's answer pipe.
pub const RESPONSE_PIPE_VAR: &str = "_taskrunner_response_pipe";

/// Where every task of the build shows its lines.
#[derive(Debug)]
pub struct Toplevel {
    /// The runner's own handle on the shared stdout.
    pub stdout: OwnedFd,
    /// The runner's own handle on the shared stderr.
    pub stderr: OwnedFd,
    /// Variables a top-level runner exports so that nested runners write
    /// to the same streams.
    pub exports: Vec<(&'static str, OsString)>,
}

impl Toplevel {
    /// A top-level runner duplicates its own stdout and stderr, and the
    /// duplicates are inherited by everything the build starts. A nested
    /// runner takes the inherited ones, or its own streams if they are
    /// gone (a task may close descriptors it does not know about).
    pub fn streams(is_toplevel: bool) -> io::Result<Toplevel> {
        if is_toplevel {
            let stdout = dup_inheritable(io::stdout().as_fd())?;
            let stderr = dup_inheritable(io::stderr().as_fd())?;
            let exports = vec![
                (TOPLEVEL_STDOUT_VAR, stdout.as_raw_fd().to_string().into()),
                (TOPLEVEL_STDERR_VAR, stderr.as_raw_fd().to_string().into()),
            ];
            return Ok(Toplevel {
                stdout,
                stderr,
                exports,
            });
        }
        Ok(Toplevel {
            stdout: inherited(TOPLEVEL_STDOUT_VAR, io::stdout().as_fd())?,
            stderr: inherited(TOPLEVEL_STDERR_VAR, io::stderr().as_fd())?,
            exports: Vec::new(),
        })
    }
}

fn inherited(var: &str, fallback: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let fd = tr_common::env::fd(var).ok().flatten().and_then(borrow_open);
    fd.unwrap_or(fallback).try_clone_to_owned()
}

/// The enclosing task's command pipe, through which a nested runner
/// writes debug lines into its parent's log.
#[derive(Debug, Default)]
pub struct ParentPipe {
    pipe: Option<File>,
}

impl ParentPipe {
    /// Takes the parent's command pipe from the environment, and keeps
    /// the parent's pipe descriptors from leaking into this runner's task,
    /// which gets pipes of its own.
    pub fn from_env() -> ParentPipe {
        if let Some(fd) = tr_common::env::fd(RESPONSE_PIPE_VAR)
            .ok()
            .flatten()
            .and_then(borrow_open)
        {
            let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
        }
        let Some(fd) = tr_common::env::fd(REQUEST_PIPE_VAR)
            .ok()
            .flatten()
            .and_then(borrow_open)
        else {
            return ParentPipe::default();
        };
        let is_pipe = fstat(fd).is_ok_and(|st| {
            SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFIFO
        });
        let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
        ParentPipe {
            pipe: is_pipe
                .then(|| fd.try_clone_to_owned().ok())
                .flatten()
                .map(File::from),
        }
    }

    /// Sends debug lines for the parent task's log, in one write, so that
    /// the parent wakes up once for all of them.
    pub fn debug(&self, messages: &[&str]) {
        if let Some(mut pipe) = self.pipe.as_ref() {
            let mut lines = Vec::new();
            for message in messages {
                lines.extend(crate::protocol::encode(&["debug", message]));
                lines.push(b'\n');
            }
            // One write: lines from parallel subtasks must not mix. If the
            // parent is gone, there is nobody to tell.
            let _ = pipe.write_all(&lines);
        }
    }
}

/// A borrowed descriptor, if `fd` is open in this process.
fn borrow_open(fd: RawFd) -> Option<BorrowedFd<'static>> {
    // SAFETY: the descriptor is only used while this process runs, and
    // fcntl(F_GETFD) has just shown it is open; it is never closed through
    // this handle.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    fcntl(fd, FcntlArg::F_GETFD).is_ok().then_some(fd)
}

/// Duplicates `fd` without close-on-exec, so that children inherit it.
/// A closed stream (`tr-run ... >&-`) becomes `/dev/null`.
fn dup_inheritable(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let raw = match fcntl(fd, FcntlArg::F_DUPFD(3)) {
        Ok(raw) => raw,
        Err(nix::errno::Errno::EBADF) => {
            let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
            fcntl(null.as_fd(), FcntlArg::F_DUPFD(3))?
        }
        Err(e) => return Err(e.into()),
    };
    // SAFETY: F_DUPFD returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}
