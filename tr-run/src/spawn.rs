//! Starting the task's process with `posix_spawn`.
//!
//! The standard library forks whenever the child needs work done before
//! exec, and the task needs one thing: the signal mask the runner had
//! before it blocked the cancel signals. A fork copies the runner's page
//! tables, and every page the runner writes afterwards faults once more;
//! on a virtual machine that costs about a millisecond per task. glibc's
//! `posix_spawn` sets the mask, the process group and the standard streams
//! in a child that borrows the runner's memory until it execs (vfork).
//!
//! The [`Command`] is still where the task's program, arguments and
//! environment changes are put together; this module reads them back.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use nix::errno::Errno;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

/// Where the task's standard streams come from.
#[derive(Debug, Clone, Copy)]
pub struct Streams<'a> {
    /// The task's stdin.
    pub stdin: BorrowedFd<'a>,
    /// The task's stdout.
    pub stdout: BorrowedFd<'a>,
    /// The task's stderr.
    pub stderr: BorrowedFd<'a>,
}

/// A started task process.
#[derive(Debug)]
pub struct Process {
    pid: Pid,
}

impl Process {
    /// The process id, which is also its process group's.
    pub fn id(&self) -> Pid {
        self.pid
    }

    /// The exit status if the process has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let mut status = 0;
        // SAFETY: waitpid only writes the status through a valid pointer.
        let rc = unsafe { libc::waitpid(self.pid.as_raw(), &mut status, libc::WNOHANG) };
        match rc {
            0 => Ok(None),
            -1 => Err(io::Error::last_os_error()),
            _ => Ok(Some(ExitStatus::from_raw(status))),
        }
    }
}

/// Starts `command` in a process group of its own with the signal mask
/// `mask` and the standard streams `streams`. Descriptors without
/// close-on-exec are inherited, as with exec. A program name without a
/// slash is looked up in the `PATH` the task gets, and a file that is not
/// a binary is run by `/bin/sh`, as `execvp` does.
pub fn spawn(command: &Command, streams: Streams<'_>, mask: &SigSet) -> io::Result<Process> {
    let env = environment(command)?;
    let program = resolve(command.get_program(), &env)?;
    let mut args = vec![cstring(command.get_program())?];
    for arg in command.get_args() {
        args.push(cstring(arg)?);
    }

    let mut actions = PosixSpawnFileActions::init()?;
    actions.add_dup2(streams.stdin.as_raw_fd(), libc::STDIN_FILENO)?;
    actions.add_dup2(streams.stdout.as_raw_fd(), libc::STDOUT_FILENO)?;
    actions.add_dup2(streams.stderr.as_raw_fd(), libc::STDERR_FILENO)?;
    let mut attr = PosixSpawnAttr::init()?;
    attr.set_pgroup(Pid::from_raw(0))?;
    attr.set_sigmask(mask)?;
    // The Rust runtime ignores SIGPIPE; the task must not inherit that.
    let mut default = SigSet::empty();
    default.add(Signal::SIGPIPE);
    attr.set_sigdefault(&default)?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETPGROUP
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )?;

    let pid = match posix_spawn(program.as_path(), &actions, &attr, &args, &env) {
        Err(Errno::ENOEXEC) => {
            let mut sh_args = vec![c"/bin/sh".to_owned(), cstring(program.as_os_str())?];
            sh_args.extend(args.into_iter().skip(1));
            posix_spawn(Path::new("/bin/sh"), &actions, &attr, &sh_args, &env)?
        }
        spawned => spawned?,
    };
    Ok(Process { pid })
}

/// The task's environment: the runner's, with `command`'s changes.
fn environment(command: &Command) -> io::Result<Vec<CString>> {
    let changes: HashMap<&OsStr, Option<&OsStr>> = command.get_envs().collect();
    let mut env = Vec::new();
    for (key, value) in std::env::vars_os() {
        if !changes.contains_key(key.as_os_str()) {
            env.push(pair(&key, &value)?);
        }
    }
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            env.push(pair(key, value)?);
        }
    }
    Ok(env)
}

fn pair(key: &OsStr, value: &OsStr) -> io::Result<CString> {
    let mut bytes = Vec::with_capacity(key.len() + value.len() + 1);
    bytes.extend_from_slice(key.as_bytes());
    bytes.push(b'=');
    bytes.extend_from_slice(value.as_bytes());
    CString::new(bytes).map_err(|_| nul_error(key))
}

fn cstring(text: &OsStr) -> io::Result<CString> {
    CString::new(text.as_bytes()).map_err(|_| nul_error(text))
}

fn nul_error(text: &OsStr) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{:?} contains a NUL byte", text),
    )
}

/// The file `program` names: itself when it holds a slash, otherwise the
/// first executable file of that name in the task's `PATH` (glibc's
/// default when it has none). A match that cannot be executed (or a
/// directory) is passed over for a later one, and reported as permission
/// denied if none follows.
fn resolve(program: &OsStr, env: &[CString]) -> io::Result<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    if program.is_empty() {
        return Err(Errno::ENOENT.into());
    }
    let path = env
        .iter()
        .find_map(|pair| pair.as_bytes().strip_prefix(b"PATH="))
        .unwrap_or(b"/bin:/usr/bin");
    let mut denied = false;
    for dir in path.split(|&b| b == b':') {
        let dir = if dir.is_empty() { b"." } else { dir };
        let candidate = Path::new(OsStr::from_bytes(dir)).join(program);
        let Ok(meta) = candidate.metadata() else {
            continue;
        };
        if meta.is_file() && nix::unistd::access(&candidate, nix::unistd::AccessFlags::X_OK).is_ok()
        {
            return Ok(candidate);
        }
        denied = true;
    }
    Err(if denied { Errno::EACCES } else { Errno::ENOENT }.into())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    fn env_with_path(path: &str) -> Vec<CString> {
        vec![CString::new(format!("PATH={path}")).unwrap()]
    }

    #[test]
    fn programs_are_found_in_the_tasks_path() {
        let found = resolve(OsStr::new("sh"), &env_with_path("/nonexistent:/bin")).unwrap();
        assert_eq!(found, Path::new("/bin/sh"));
        let as_given = resolve(OsStr::new("./x"), &env_with_path("/bin")).unwrap();
        assert_eq!(as_given, Path::new("./x"));
        let missing = resolve(OsStr::new("no-such-tool"), &env_with_path("/bin")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        // A directory of that name is passed over, then reported.
        let dir = resolve(OsStr::new("bin"), &env_with_path("/")).unwrap_err();
        assert_eq!(dir.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn the_environment_carries_the_commands_changes() {
        let mut command = Command::new("true");
        command.env("TR_SPAWN_TEST", "a=b").env_remove("PATH");
        let env = environment(&command).unwrap();
        let has = |pair: &[u8]| env.iter().any(|e| e.as_bytes() == pair);
        assert!(has(b"TR_SPAWN_TEST=a=b"));
        assert!(!env.iter().any(|e| e.as_bytes().starts_with(b"PATH=")));
    }

    #[test]
    fn a_nul_in_an_argument_is_an_error_not_a_panic() {
        let err = cstring(&OsString::from_vec(b"a\0b".to_vec())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
