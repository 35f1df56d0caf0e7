//! `tr-run`, the task runner: runs a build step as a named task, at most
//! once per build and never twice at the same time, with its output
//! labelled, shown on the top level's streams and logged.
//!
//! The flow of one task: read settings, join or start the build, take the
//! task's lock, replay a result already recorded in this build, or spawn
//! the task and supervise it (output, command pipe, signals), then record
//! its exit code. Each task records its timeline as it goes, and the top
//! level merges the build's timeline when it is done.

mod build;
mod cli;
mod decide;
mod finish;
mod git;
mod inherit;
mod output;
pub mod protocol;
mod settings;
pub mod snapshot;
mod spawn;
mod supervise;
mod task;

pub use cli::{Args, command};

use std::io;
use std::path::Path;

use tr_common::env::EnvError;
use tr_common::name::NameError;
use tr_common::state::StateError;
use tr_common::{StateDir, TaskName, diag, exit};
use tr_lock::{LockError, TaskLock};
use tr_log::Level;
use tr_log::timeline::{self, Phase, Recorder};

use crate::build::{Build, BuildError};
use crate::inherit::{ParentPipe, Toplevel};
use crate::output::TaskOutput;
use crate::settings::Settings;
use crate::task::Task;

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
    let started = timeline::now_us();
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
    let log_path = build.log_path(&name);
    parent.debug(&[
        &format!("Starting subtask {name}"),
        &format!("Subtask {name} logs to {}", log_path.display()),
    ]);

    let lock_wait = timeline::now_us();
    let _lock = TaskLock::acquire(&state, &name, || {
        parent.debug(&[&format!("Subtask {name} waits for its lock")]);
    })?;
    let locked = timeline::now_us();
    if let Some(code) = build.result(&name) {
        parent.debug(&[&format!(
            "Subtask {name} finished with exit code {code} (it already ran in this build)"
        )]);
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

    // A task replaying its result above did nothing worth a trace.
    let mut trace = Recorder::start(&build.dir, name.as_str(), started).unwrap_or_else(|e| {
        out.message(Level::Debug, &format!("no timeline for this task: {e}"));
        Recorder::off()
    });
    trace.phase_until(Phase::LockWait, lock_wait, locked);

    let mut task = Task::new(&name, &state, &settings, &build, &args, trace);
    let code = task.execute(&mut out, toplevel.exports);
    let code = task.finish(&mut out, code);

    if let Err(e) = build.record_result(&name, code) {
        out.message(
            Level::Warn,
            &format!("cannot record the result of `{name}`: {e}"),
        );
    }
    let outcome = task.outcome(code);
    if let Err(e) = std::mem::take(&mut task.trace).end(outcome) {
        out.message(Level::Debug, &format!("cannot record the timeline: {e}"));
    }
    out.release_held(code != exit::SUCCESS);
    parent.debug(&[&format!("Subtask {name} finished with exit code {code}")]);
    if build.is_toplevel {
        finish_timeline(&build, &mut out);
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

/// Merges the build's timeline into `trace.json`, and sends it to an
/// OpenTelemetry collector when one is configured. Neither is worth
/// failing a build over.
fn finish_timeline(build: &Build, out: &mut TaskOutput) {
    if !Recorder::is_enabled() {
        return;
    }
    if let Err(e) = timeline::merge(&build.dir) {
        out.message(
            Level::Warn,
            &format!("cannot merge the build's timeline: {e}"),
        );
        return;
    }
    let Some(endpoint) = tr_common::env::non_empty(timeline::OTLP_ENDPOINT_VAR) else {
        return;
    };
    let sent = timeline::Timeline::load(&build.dir)
        .and_then(|t| timeline::export_otlp(&t, &endpoint.to_string_lossy()));
    if let Err(e) = sent {
        out.message(Level::Warn, &format!("cannot export the timeline: {e}"));
    }
}
