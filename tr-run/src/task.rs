//! One task: its process, its command pipe, and what the runner
//! remembers about it between `snapshot` and its end.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Command;

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use tr_common::{StateDir, TaskName, diag, exit};
use tr_lock::HELD_VAR;
use tr_log::Level;
use tr_log::timeline::{self, Outcome, PARENT_VAR, Phase, Recorder};

use crate::build::{self, Build};
use crate::inherit::{REQUEST_PIPE_VAR, RESPONSE_PIPE_VAR};
use crate::output::TaskOutput;
use crate::settings::Settings;
use crate::snapshot::{self, SnapshotArgs};
use crate::spawn;
use crate::supervise::{self, Limits, Signals, TaskPipes};
use crate::{Args, protocol};

/// One task being run.
pub(crate) struct Task<'a> {
    pub(crate) name: &'a TaskName,
    pub(crate) state: &'a StateDir,
    pub(crate) settings: &'a Settings,
    pub(crate) build: &'a Build,
    pub(crate) args: &'a Args,
    /// A request on the command pipe was refused: the task fails even if
    /// it ignores the answer.
    pub(crate) failed_request: bool,
    /// What `snapshot` decided, if it was called.
    pub(crate) snapshot: Option<Decided>,
    /// The task was stopped by a signal to the runner.
    pub(crate) cancelled: bool,
    /// Reports commit statuses, made when first needed.
    pub(crate) reporter: Lazy<tr_check::Reporter>,
    /// The output cache, made when first needed.
    pub(crate) cache: Lazy<tr_cache::Cache>,
    /// Records the task's phases for the build's timeline.
    pub(crate) trace: Recorder,
}

/// What `snapshot` declared and decided.
pub(crate) struct Decided {
    pub(crate) args: SnapshotArgs,
    /// The task need not run (unchanged inputs, restored from a cache,
    /// prime cache mode).
    pub(crate) skipped: bool,
    /// The task's outputs came from the cache.
    pub(crate) restored: bool,
    /// A fuzzy cache was unpacked before the task ran.
    pub(crate) fuzzy_restored: bool,
    /// The inputs' hash, saved if the task succeeds.
    pub(crate) to_save: Option<tr_hash::Computed>,
    /// The main branch's commit, saved with the hash.
    pub(crate) main_branch_commit: Option<String>,
}

/// A value made on first use; `Failed` when it could not be, or is off.
pub(crate) enum Lazy<T> {
    Unmade,
    Made(T),
    Failed,
}

impl<T> Lazy<T> {
    /// The value, made by `make` on the first call.
    pub(crate) fn get(&mut self, make: impl FnOnce() -> Option<T>) -> Option<&T> {
        if let Lazy::Unmade = self {
            *self = make().map_or(Lazy::Failed, Lazy::Made);
        }
        match self {
            Lazy::Made(value) => Some(value),
            _ => None,
        }
    }
}

impl<'a> Task<'a> {
    pub(crate) fn new(
        name: &'a TaskName,
        state: &'a StateDir,
        settings: &'a Settings,
        build: &'a Build,
        args: &'a Args,
        trace: Recorder,
    ) -> Task<'a> {
        Task {
            name,
            state,
            settings,
            build,
            args,
            failed_request: false,
            snapshot: None,
            cancelled: false,
            reporter: Lazy::Unmade,
            cache: Lazy::Unmade,
            trace,
        }
    }

    /// How the task ended, for its timeline, given its final exit code.
    pub(crate) fn outcome(&self, code: i32) -> Outcome {
        let decided = self.snapshot.as_ref();
        if self.cancelled {
            Outcome::Cancelled(code - exit::SIGNAL_BASE)
        } else if code != exit::SUCCESS {
            Outcome::Failed(code)
        } else if decided.is_some_and(|d| d.restored) {
            Outcome::Restored
        } else if decided.is_some_and(|d| d.skipped) {
            Outcome::Skipped
        } else if decided.is_some_and(|d| d.fuzzy_restored) {
            Outcome::FuzzyRestored
        } else {
            Outcome::Ran
        }
    }
}

impl Task<'_> {
    pub(crate) fn execute(
        &mut self,
        out: &mut TaskOutput,
        exports: Vec<(&'static str, OsString)>,
    ) -> i32 {
        let cmd = &self.args.cmd;
        out.message(
            Level::Debug,
            &format!(
                "Running command: {}",
                String::from_utf8_lossy(&protocol::encode(
                    &cmd.iter().map(|a| a.as_encoded_bytes()).collect::<Vec<_>>()
                ))
            ),
        );
        out.message(Level::Debug, &format!("  buildId: {}", self.build.id));

        let run_start = timeline::now_us();
        let spawned = self.spawn(exports);
        let (child, pipes, signals) = match spawned {
            Ok(parts) => parts,
            Err(err) => {
                let code = match err.kind() {
                    io::ErrorKind::NotFound => exit::NOT_FOUND,
                    _ => exit::NOT_EXECUTABLE,
                };
                out.message(
                    Level::Error,
                    &format!(
                        "cannot run `{}`: {}",
                        cmd[0].to_string_lossy(),
                        diag::chain(&err)
                    ),
                );
                return code;
            }
        };

        let limits = Limits {
            stream_timeout: self.settings.output_stream_timeout,
            kill_timeout: self.settings.kill_timeout,
        };
        let outcome = supervise::supervise(child, pipes, &signals, &limits, out, |out, line| {
            self.request(out, line)
        });
        drop(signals);
        self.trace.phase(Phase::Run, run_start);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(err) => {
                out.message(Level::Error, &format!("lost track of the task: {err}"));
                return exit::FAILURE;
            }
        };

        self.cancelled = outcome.cancelled_by.is_some();
        let code = match outcome.cancelled_by {
            Some(signal) => exit::SIGNAL_BASE + signal as i32,
            None => exit::code_of(outcome.status),
        };
        out.message(Level::Debug, &format!("Command exited with code {code}"));
        if code == exit::SUCCESS && self.failed_request {
            return exit::FAILURE;
        }
        code
    }

    fn spawn(
        &self,
        exports: Vec<(&'static str, OsString)>,
    ) -> io::Result<(spawn::Process, TaskPipes, Signals)> {
        let (stdout, stdout_w) = pipe()?;
        let (stderr, stderr_w) = pipe()?;
        let (requests, requests_w) = pipe()?;
        let (responses_r, responses) = pipe()?;
        // The task's ends of the command pipe must survive exec; the
        // runner's ends, and the output pipes' spare copies, must not.
        for fd in [&requests_w, &responses_r] {
            fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty()))?;
        }

        let cmd = &self.args.cmd;
        let mut command = Command::new(&cmd[0]);
        command
            .args(&cmd[1..])
            .envs(exports)
            .env(build::BUILD_ID_VAR, &self.build.id)
            .env(REQUEST_PIPE_VAR, requests_w.as_raw_fd().to_string())
            .env(RESPONSE_PIPE_VAR, responses_r.as_raw_fd().to_string())
            .env(snapshot::FUNCTION_VAR, snapshot::function_definition())
            .env(HELD_VAR, tr_lock::held_var_with(self.name));
        match self.trace.parent_value() {
            Some(value) => command.env(PARENT_VAR, value),
            // Children must not take a grandparent for their parent.
            None => command.env_remove(PARENT_VAR),
        };
        if self.build.is_toplevel
            && let Ok(bin) = build::runner_bin_dir(self.state)
        {
            let mut path = OsString::from(bin);
            if let Some(old) = std::env::var_os("PATH") {
                path.push(":");
                path.push(old);
            }
            command.env("PATH", path);
        }

        let null = File::open("/dev/null")?;
        let streams = spawn::Streams {
            stdin: null.as_fd(),
            stdout: stdout_w.as_fd(),
            stderr: stderr_w.as_fd(),
        };
        let signals = Signals::catch()?;
        let child = spawn::spawn(&command, streams, signals.old_mask())?;
        // Close the runner's copies of the task's ends, or the pipes would
        // never report end of file.
        drop((stdout_w, stderr_w, requests_w, responses_r));
        let pipes = TaskPipes {
            stdout: File::from(stdout),
            stderr: File::from(stderr),
            requests: File::from(requests),
            responses: File::from(responses),
        };
        Ok((child, pipes, signals))
    }

    /// Answers one line from the command pipe.
    fn request(&mut self, out: &mut TaskOutput, line: &[u8]) -> Option<Vec<u8>> {
        const FAIL: &[u8] = b"exit 1";

        let words = match protocol::parse(line) {
            Ok(words) => words,
            Err(reason) => {
                out.message(
                    Level::Error,
                    &format!(
                        "Invalid command pipe request: {:?}\nError: {reason}",
                        String::from_utf8_lossy(line)
                    ),
                );
                self.failed_request = true;
                return Some(FAIL.to_vec());
            }
        };
        match words.first().map(Vec::as_slice) {
            Some(b"snapshot") => {
                out.message(
                    Level::Debug,
                    &format!("Running cmdpipe command: {}", String::from_utf8_lossy(line)),
                );
                match SnapshotArgs::parse(words[1..].to_vec()) {
                    Ok(args) => {
                        out.message(Level::Debug, &format!("snapshot: {args:?}"));
                        Some(self.snapshot(out, args))
                    }
                    Err(reason) => {
                        out.message(Level::Error, &format!("snapshot: {reason}"));
                        self.failed_request = true;
                        Some(FAIL.to_vec())
                    }
                }
            }
            Some(b"debug") => {
                let text: Vec<_> = words[1..]
                    .iter()
                    .map(|w| String::from_utf8_lossy(w))
                    .collect();
                out.message(Level::Debug, &text.join(" "));
                None
            }
            _ => {
                out.message(
                    Level::Error,
                    &format!(
                        "Unknown command in command pipe: {}",
                        String::from_utf8_lossy(&protocol::encode(&words))
                    ),
                );
                self.failed_request = true;
                Some(FAIL.to_vec())
            }
        }
    }
}

/// A pipe whose both ends are close-on-exec.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}
