//! `tr-run`, the task runner: runs a build step as a named task, at most
//! once per build and never twice at the same time, with its output
//! labelled, shown on the top level's streams and logged.
//!
//! The flow of one task: read settings, join or start the build, take the
//! task's lock, replay a result already recorded in this build, or spawn
//! the task and supervise it (output, command pipe, signals), then record
//! its exit code.

mod build;
mod cli;
mod inherit;
mod output;
pub mod protocol;
mod settings;
pub mod snapshot;
mod supervise;

pub use cli::{Args, command};

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use tr_common::env::EnvError;
use tr_common::name::NameError;
use tr_common::state::StateError;
use tr_common::{StateDir, TaskName, diag, exit};
use tr_lock::{HELD_VAR, LockError, TaskLock};
use tr_log::Level;

use crate::build::{Build, BuildError};
use crate::inherit::{ParentPipe, REQUEST_PIPE_VAR, RESPONSE_PIPE_VAR, Toplevel};
use crate::output::TaskOutput;
use crate::settings::Settings;
use crate::snapshot::SnapshotArgs;
use crate::supervise::{Limits, Signals, TaskPipes};

/// Why the runner could not run the task at all.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Settings(#[from] EnvError),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot {what}")]
    Io {
        what: &'static str,
        source: io::Error,
    },
}

impl RunError {
    fn exit_code(&self) -> i32 {
        match self {
            RunError::Settings(_) | RunError::Name(_) => exit::USAGE,
            _ => exit::FAILURE,
        }
    }
}

fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> RunError {
    move |source| RunError::Io { what, source }
}

/// Runs `tr-run` and returns its exit code.
pub fn run(args: Args) -> i32 {
    run_task(args).unwrap_or_else(|err| {
        diag::error("tr-run", &err);
        err.exit_code()
    })
}

fn run_task(args: Args) -> Result<i32, RunError> {
    let settings = Settings::from_env()?;
    let name = match &args.name {
        Some(name) => TaskName::new(name)?,
        None => TaskName::new(Path::new(&args.cmd[0]).file_name().unwrap_or_default())?,
    };
    let state = StateDir::from_env()?;
    let build = Build::join_or_start(&state)?;
    let parent = if build.is_toplevel {
        ParentPipe::default()
    } else {
        ParentPipe::from_env()
    };
    parent.debug(&format!("Starting subtask {name}"));
    let log_path = build.log_path(&name);
    parent.debug(&format!("Subtask {name} logs to {}", log_path.display()));

    let _lock = TaskLock::acquire(&state, &name, || {
        parent.debug(&format!("Subtask {name} waits for its lock"));
    })?;
    if let Some(code) = build.result(&name) {
        parent.debug(&format!(
            "Subtask {name} finished with exit code {code} (it already ran in this build)"
        ));
        return Ok(code);
    }

    let toplevel =
        Toplevel::streams(build.is_toplevel).map_err(io_err("duplicate stdout and stderr"))?;
    let log = tr_common::state::open_append(&log_path);
    let log_error = log
        .as_ref()
        .err()
        .map(|e| format!("cannot open log `{}`: {e}", log_path.display()));
    let mut out = TaskOutput::new(
        name.as_str(),
        &settings,
        toplevel.stdout,
        toplevel.stderr,
        log.ok(),
    );
    if let Some(message) = log_error {
        out.message(Level::Warn, &message);
    }

    let mut task = Task {
        name: &name,
        state: &state,
        settings: &settings,
        build: &build,
        args: &args,
        failed_request: false,
        skipped: false,
        to_save: None,
        asked_status: false,
        reporter: Lazy::Unmade,
    };
    let code = task.execute(&mut out, toplevel.exports);
    let code = task.finish(&mut out, code);

    if let Err(e) = build.record_result(&name, code) {
        out.message(
            Level::Warn,
            &format!("cannot record the result of `{name}`: {e}"),
        );
    }
    out.release_held(code != exit::SUCCESS);
    parent.debug(&format!("Subtask {name} finished with exit code {code}"));
    if build.is_toplevel {
        match build::prune(&state, settings.keep_builds_days) {
            Ok(0) => {}
            Ok(n) => out.message(Level::Debug, &format!("removed {n} old build folders")),
            Err(e) => out.message(
                Level::Debug,
                &format!("cannot remove old build folders: {e}"),
            ),
        }
    }
    Ok(code)
}

/// One task being run.
struct Task<'a> {
    name: &'a TaskName,
    state: &'a StateDir,
    settings: &'a Settings,
    build: &'a Build,
    args: &'a Args,
    /// A request on the command pipe was refused: the task fails even if
    /// it ignores the answer.
    failed_request: bool,
    /// `snapshot` decided the task need not run.
    skipped: bool,
    /// The inputs' hash, saved if the task succeeds.
    to_save: Option<tr_hash::Computed>,
    /// The task asked for a commit status (`snapshot --commit-status`).
    asked_status: bool,
    /// Reports commit statuses, made when first needed.
    reporter: Lazy<tr_check::Reporter>,
}

/// A value made on first use, or the reason it could not be.
enum Lazy<T> {
    Unmade,
    Made(T),
    Failed,
}

impl Task<'_> {
    fn execute(&mut self, out: &mut TaskOutput, exports: Vec<(&'static str, OsString)>) -> i32 {
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
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(err) => {
                out.message(Level::Error, &format!("lost track of the task: {err}"));
                return exit::FAILURE;
            }
        };

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
    ) -> io::Result<(std::process::Child, TaskPipes, Signals)> {
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
            .stdin(Stdio::null())
            .stdout(stdout_w)
            .stderr(stderr_w)
            .process_group(0)
            .envs(exports)
            .env(build::BUILD_ID_VAR, &self.build.id)
            .env(REQUEST_PIPE_VAR, requests_w.as_raw_fd().to_string())
            .env(RESPONSE_PIPE_VAR, responses_r.as_raw_fd().to_string())
            .env(snapshot::FUNCTION_VAR, snapshot::function_definition())
            .env(HELD_VAR, tr_lock::held_var_with(self.name));
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

        let signals = Signals::catch()?;
        signals.restore_in_child(&mut command);
        let child = command.spawn()?;
        // Close the runner's copies of the task's ends, or the pipes would
        // never report end of file.
        drop(command);
        drop((requests_w, responses_r));
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
                        Some(self.snapshot(out, &args))
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

    /// Answers `snapshot`: the decision, and a commit status if asked.
    fn snapshot(&mut self, out: &mut TaskOutput, args: &SnapshotArgs) -> Vec<u8> {
        let answer = self.decide(out, args);
        self.asked_status = args.commit_status;
        if args.commit_status && !self.failed_request {
            let status =
                tr_check::rules::at_snapshot(self.name.as_str(), self.skipped, args.has_inputs());
            self.report(out, &status);
        }
        answer
    }

    /// Reports a commit status when they are enabled. A failure to report
    /// is a warning: it never changes the build's result.
    fn report(&mut self, out: &mut TaskOutput, status: &tr_check::StatusRequest) {
        if let Some(reporter) = self.reporter(out)
            && let Err(err) = reporter.report(status)
        {
            out.message(
                Level::Warn,
                &format!("cannot report the commit status: {}", diag::chain(&err)),
            );
        }
    }

    /// The commit status reporter, when `TASKRUNNER_ENABLE_COMMIT_STATUS=1`.
    fn reporter(&mut self, out: &mut TaskOutput) -> Option<&tr_check::Reporter> {
        if let Lazy::Unmade = self.reporter {
            self.reporter = match tr_check::Reporter::enabled_from_env(self.state) {
                Ok(Some(reporter)) => Lazy::Made(reporter),
                Ok(None) => Lazy::Failed,
                Err(err) => {
                    out.message(
                        Level::Warn,
                        &format!("commit statuses are off: {}", diag::chain(&err)),
                    );
                    Lazy::Failed
                }
            };
        }
        match &self.reporter {
            Lazy::Made(reporter) => Some(reporter),
            _ => None,
        }
    }

    /// Reports the task's end as the rules of SPEC §7 say.
    fn report_end(&mut self, out: &mut TaskOutput, code: i32) {
        if !tr_check::is_enabled() {
            return;
        }
        let end = tr_check::rules::TaskEnd {
            asked: self.asked_status,
            skipped: self.skipped,
            succeeded: code == exit::SUCCESS,
        };
        let name = self.name;
        let Some(reporter) = self.reporter(out) else {
            return;
        };
        let status =
            tr_check::rules::at_end(name.as_str(), end, |context| reporter.has_status(context));
        match status {
            Ok(Some(status)) => self.report(out, &status),
            Ok(None) => {}
            Err(err) => out.message(
                Level::Warn,
                &format!("cannot read the commit's statuses: {}", diag::chain(&err)),
            ),
        }
    }

    /// Decides whether the task runs: the answer is `true` to run on,
    /// `exit 0` to skip, `exit 1` on error.
    fn decide(&mut self, out: &mut TaskOutput, args: &SnapshotArgs) -> Vec<u8> {
        const RUN: &[u8] = b"true";
        const SKIP: &[u8] = b"exit 0";

        self.skipped = false;
        self.to_save = None;
        if !args.has_inputs() {
            out.message(Level::Debug, "No inputs declared, running task");
            return RUN.to_vec();
        }
        let inputs = tr_hash::Inputs {
            paths: args.paths.clone(),
            raw: args.raw.clone(),
            env: args.env.clone(),
            input_cmds: args.input_cmds.clone(),
        };
        let cwd = match std::env::current_dir() {
            Ok(cwd) => cwd,
            Err(e) => return self.refuse(out, &format!("cannot read the working directory: {e}")),
        };
        let current = match tr_hash::compute(&inputs, &cwd, self.state) {
            Ok(current) => current,
            Err(err) => return self.refuse(out, &diag::chain(&err)),
        };

        let saved = tr_hash::load(self.state, self.name);
        let saved = match saved {
            tr_hash::Loaded::Saved(info) => Some(info),
            tr_hash::Loaded::Absent(why) => {
                out.message(Level::Debug, &why);
                None
            }
        };
        let saved_hash = saved.as_ref().map_or("", |info| info.hash.as_str());
        if saved_hash == current.hash && !self.args.force {
            out.message(
                Level::Debug,
                &format!("Hash matches, hash={saved_hash}, skipping"),
            );
            if self.build.is_toplevel {
                out.message(Level::Info, "skipped, inputs unchanged");
            }
            self.skipped = true;
            return SKIP.to_vec();
        }
        out.message(
            Level::Debug,
            &format!(
                "Hash mismatch, saved={saved_hash}, current={}",
                current.hash
            ),
        );
        if let Some(info) = &saved {
            out.message(
                Level::Debug,
                &format!(
                    "Why it runs (- saved, + now):\n{}",
                    tr_hash::explain_diff(&info.hash_input, &current.hash_input).trim_end()
                ),
            );
        }
        out.message(Level::Info, "Inputs changed, running task");
        self.to_save = Some(current);
        RUN.to_vec()
    }

    /// Fails a `snapshot` call with an error line.
    fn refuse(&mut self, out: &mut TaskOutput, reason: &str) -> Vec<u8> {
        out.message(Level::Error, &format!("snapshot: {reason}"));
        self.failed_request = true;
        b"exit 1".to_vec()
    }

    /// What follows the task's end: the messages of a task whose inputs
    /// were hashed, saving the hash of a success, and the commit status.
    /// Returns the task's final exit code.
    fn finish(&mut self, out: &mut TaskOutput, code: i32) -> i32 {
        self.save_hash(out, code);
        self.report_end(out, code);
        code
    }

    /// Saves the inputs' hash after a success, unless they changed while
    /// the task ran.
    fn save_hash(&mut self, out: &mut TaskOutput, code: i32) {
        let Some(before) = self.to_save.take() else {
            return;
        };
        if code != exit::SUCCESS {
            out.message(Level::Error, &format!("Failed, exit code: {code}"));
            return;
        }
        out.message(Level::Info, "success");

        // A task that changes its own inputs would be skipped next time
        // with outputs built from inputs that no longer exist.
        let after = match before.rehash_files(self.state) {
            Ok(after) => after,
            Err(err) => {
                out.message(
                    Level::Warn,
                    &format!(
                        "cannot hash the inputs again, the hash is not saved: {}",
                        diag::chain(&err)
                    ),
                );
                return;
            }
        };
        let changed = before.changed_files(&after);
        if !changed.is_empty() {
            out.message(
                Level::Warn,
                &format!(
                    "inputs changed while the task ran, the hash is not saved: {}",
                    changed.join(", ")
                ),
            );
            return;
        }

        let info = tr_hash::HashInfo {
            hash: before.hash.clone(),
            hash_input: before.hash_input.clone(),
            main_branch_commit: None,
        };
        out.message(Level::Debug, &format!("Saving hash {}", info.hash));
        if let Err(err) = tr_hash::save(self.state, self.name, &info) {
            out.message(
                Level::Warn,
                &format!("cannot save the hash: {}", diag::chain(&err)),
            );
        }
    }
}

/// A pipe whose both ends are close-on-exec.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}
