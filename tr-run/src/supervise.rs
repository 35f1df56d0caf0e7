//! Running the task's process: one thread polls its output pipes, its
//! command pipe, and the signals sent to the runner, until the task has
//! exited and closed its output.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, killpg, signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use tr_log::{Level, LineSplitter, Stream};

use crate::output::TaskOutput;
use crate::spawn::Process;

/// Requests longer than this are cut, and then refused as invalid.
const REQUEST_LIMIT: usize = 1 << 20;

/// The signals that cancel a task.
const CANCEL_SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// Signals held back from their default action and read from a
/// descriptor instead, while a task runs. Dropping it restores the mask,
/// so that after the task a Ctrl-C stops the runner at once.
#[derive(Debug)]
pub struct Signals {
    fd: SignalFd,
    old_mask: SigSet,
}

impl Signals {
    /// Starts catching the cancel signals and `SIGCHLD`. Call before the
    /// task is spawned so that none is missed, and spawn it with
    /// [`Signals::old_mask`].
    ///
    /// A cancel signal this process was started with ignored (`nohup`, or
    /// SIGINT for a background job of a script) stays ignored: the task
    /// inherits the same, and the runner does not act on it either.
    pub fn catch() -> nix::Result<Signals> {
        // An inherited SIGCHLD ignore makes the kernel reap children
        // itself, and the task's exit status would be lost.
        // SAFETY: restoring the default action installs no handler.
        unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }?;
        let mut set = SigSet::empty();
        for sig in CANCEL_SIGNALS {
            if !is_ignored(sig)? {
                set.add(sig);
            }
        }
        set.add(Signal::SIGCHLD);
        let mut old_mask = SigSet::empty();
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old_mask))?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Signals { fd, old_mask })
    }
}

impl Signals {
    /// The signal mask this process had before [`Signals::catch`], for
    /// the task to start with: a blocked SIGTERM would otherwise reach the
    /// task only when it unblocks it, that is never.
    pub fn old_mask(&self) -> &SigSet {
        &self.old_mask
    }
}

fn is_ignored(sig: Signal) -> nix::Result<bool> {
    // SAFETY: a zeroed sigaction is a valid out-parameter, and a null new
    // action only reads the current one.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above; both pointers are valid for the call.
    let rc = unsafe { libc::sigaction(sig as libc::c_int, std::ptr::null(), &mut current) };
    nix::errno::Errno::result(rc)?;
    Ok(current.sa_sigaction == libc::SIG_IGN)
}

impl Drop for Signals {
    fn drop(&mut self) {
        let _ = self.old_mask.thread_set_mask();
    }
}

/// The runner's ends of a spawned task's pipes.
#[derive(Debug)]
pub struct TaskPipes {
    /// The task's stdout.
    pub stdout: File,
    /// The task's stderr.
    pub stderr: File,
    /// Requests from the `snapshot` function.
    pub requests: File,
    /// Answers to the `snapshot` function.
    pub responses: File,
}

/// How the task ended.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// The task's exit status.
    pub status: ExitStatus,
    /// The first cancel signal the runner received, if any.
    pub cancelled_by: Option<Signal>,
}

/// What the loop needs beyond the process.
pub struct Limits {
    /// Wait this long for the pipes after the task exits.
    pub stream_timeout: Duration,
    /// After a cancel signal, kill the task's group after this long.
    pub kill_timeout: Duration,
}

struct OpenStream {
    file: File,
    stream: Stream,
    lines: LineSplitter,
}

enum Source {
    Signal,
    Stream(usize),
    Requests,
}

/// Runs the loop until the task has exited and its output is drained.
/// `on_request` answers each command-pipe line, or returns `None` for no
/// answer.
pub fn supervise(
    mut child: Process,
    pipes: TaskPipes,
    signals: &Signals,
    limits: &Limits,
    out: &mut TaskOutput,
    mut on_request: impl FnMut(&mut TaskOutput, &[u8]) -> Option<Vec<u8>>,
) -> io::Result<Outcome> {
    let group = child.id();
    let mut streams = vec![
        Some(OpenStream {
            file: pipes.stdout,
            stream: Stream::Stdout,
            lines: LineSplitter::default(),
        }),
        Some(OpenStream {
            file: pipes.stderr,
            stream: Stream::Stderr,
            lines: LineSplitter::default(),
        }),
    ];
    let mut requests = Some((pipes.requests, LineSplitter::with_limit(REQUEST_LIMIT)));
    let mut responses = pipes.responses;
    set_nonblocking(responses.as_fd())?;

    let mut status = None;
    let mut cancelled_by = None;
    let mut kill_at: Option<Instant> = None;
    let mut streams_deadline: Option<Instant> = None;
    let mut buf = vec![0; 64 * 1024];

    loop {
        if status.is_some() && streams.iter().all(Option::is_none) {
            break;
        }
        let now = Instant::now();
        if kill_at.is_some_and(|at| now >= at) {
            let _ = killpg(group, Signal::SIGKILL);
            kill_at = None;
        }
        if streams_deadline.is_some_and(|at| now >= at) {
            warn_open_streams(&streams, limits.stream_timeout, out);
            break;
        }

        let mut sources = vec![Source::Signal];
        let mut fds = vec![PollFd::new(signals.fd.as_fd(), PollFlags::POLLIN)];
        for (i, open) in streams.iter().enumerate() {
            if let Some(open) = open {
                sources.push(Source::Stream(i));
                fds.push(PollFd::new(open.file.as_fd(), PollFlags::POLLIN));
            }
        }
        if let (Some((file, _)), None) = (&requests, status) {
            sources.push(Source::Requests);
            fds.push(PollFd::new(file.as_fd(), PollFlags::POLLIN));
        }
        let wake = [kill_at, streams_deadline].into_iter().flatten().min();
        match poll(&mut fds, timeout_until(wake, now)) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);

        for (source, _) in sources.iter().zip(ready).filter(|(_, ready)| *ready) {
            match source {
                Source::Signal => {
                    while let Ok(Some(info)) = signals.fd.read_signal() {
                        let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else {
                            continue;
                        };
                        if signal == Signal::SIGCHLD {
                            continue;
                        }
                        if cancelled_by.is_none() {
                            cancelled_by = Some(signal);
                            kill_at = Some(Instant::now() + limits.kill_timeout);
                            out.message(
                                Level::Warn,
                                &format!("received {}, stopping the task", signal.as_str()),
                            );
                        }
                        let _ = killpg(group, signal);
                    }
                    if status.is_none()
                        && let Some(exited) = child.try_wait()?
                    {
                        status = Some(exited);
                        streams_deadline = Some(Instant::now() + limits.stream_timeout);
                        if cancelled_by.is_some() {
                            // The task has had its say; what it left
                            // running (background jobs ignore SIGINT) goes.
                            let _ = killpg(group, Signal::SIGKILL);
                            kill_at = None;
                        }
                    }
                }
                Source::Stream(i) => {
                    let open = streams[*i].as_mut().expect("polled streams are open");
                    if !read_stream(open, &mut buf, out) {
                        streams[*i] = None;
                    }
                }
                Source::Requests => {
                    let (file, lines) = requests.as_mut().expect("polled requests are open");
                    let mut answers = Vec::new();
                    let open = read_lines(file, lines, &mut buf, |line| {
                        answers.extend(on_request(out, line));
                    });
                    for mut answer in answers {
                        answer.push(b'\n');
                        // The task may have stopped listening; that is its
                        // business, not a reason to block the runner.
                        let _ = responses.write_all(&answer);
                    }
                    if !open {
                        requests = None;
                    }
                }
            }
        }
    }

    // Every path out of the loop has seen the task exit.
    let status = status.expect("the loop ends only after the task exits");
    Ok(Outcome {
        status,
        cancelled_by,
    })
}

/// Reads what is available from a task stream and queues its lines;
/// returns whether the stream is still open.
fn read_stream(open: &mut OpenStream, buf: &mut [u8], out: &mut TaskOutput) -> bool {
    let n = match open.file.read(buf) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return true,
        Err(_) => 0,
    };
    let time = tr_common::clock::time_of_day();
    let stream = open.stream;
    let mut queue = |line: &[u8]| out.task_line(&time, stream, line);
    if n == 0 {
        open.lines.finish(&mut queue);
    } else {
        open.lines.push(&buf[..n], &mut queue);
    }
    out.flush();
    n > 0
}

/// Reads what is available and hands out complete lines; returns whether
/// the pipe is still open.
fn read_lines(
    file: &mut File,
    lines: &mut LineSplitter,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]),
) -> bool {
    match file.read(buf) {
        Ok(0) | Err(_) => {
            lines.finish(&mut each);
            false
        }
        Ok(n) => {
            lines.push(&buf[..n], &mut each);
            true
        }
    }
}

fn warn_open_streams(streams: &[Option<OpenStream>], timeout: Duration, out: &mut TaskOutput) {
    for open in streams.iter().flatten() {
        let name = match open.stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        let secs = timeout.as_secs();
        out.message(
            Level::Warn,
            &format!(
                "taskrunner: Task did not close {name} {secs} seconds after exiting.\n\
                 Perhaps the file descriptor was leaked to a background process?\n\
                 Build will continue despite this error, but some output may be lost."
            ),
        );
    }
}

fn timeout_until(wake: Option<Instant>, now: Instant) -> PollTimeout {
    match wake {
        None => PollTimeout::NONE,
        Some(at) => {
            // Round up so that the loop does not spin just before `at`.
            let ms = at.saturating_duration_since(now).as_micros().div_ceil(1000);
            PollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
        }
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};

    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}
