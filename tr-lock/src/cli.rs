//! The `tr-lock` command: run a command holding a task's lock.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use clap::Parser;
use tr_common::{StateDir, TaskName, diag, exit};

use crate::{HELD_VAR, TaskLock, held_var_with};

/// Command-line arguments of `tr-lock`.
#[derive(Debug, Parser)]
#[command(
    name = "tr-lock",
    version,
    about = "Run a command while holding a task's system-wide lock",
    long_about = "Takes the exclusive lock `locks/NAME.lock` in the taskrunner state \
directory (TASKRUNNER_STATE_DIRECTORY, default /tmp/taskrunner), waiting while another \
process holds it, then runs CMD. The command inherits the lock: it is released when \
CMD and every process that inherited it from CMD have exited.",
    after_help = "Example: tr-lock deploy -- ./deploy.sh staging\n\n\
Exit status: CMD's own status; 1 when the lock cannot be taken; 2 on bad usage; \
126 when CMD cannot be executed; 127 when it is not found."
)]
pub struct Args {
    /// The task name whose lock to take.
    #[arg(value_name = "NAME")]
    pub name: OsString,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<OsString>,
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

/// Runs `tr-lock`; returns only when the command could not be started.
pub fn run(args: Args) -> i32 {
    let name = match TaskName::new(&args.name) {
        Ok(name) => name,
        Err(err) => {
            diag::error("tr-lock", &err);
            return exit::USAGE;
        }
    };
    let lock = StateDir::from_env()
        .map_err(crate::LockError::from)
        .and_then(|state| TaskLock::acquire(&state, &name, || {}));
    let lock = match lock {
        Ok(lock) => lock,
        Err(err) => {
            diag::error("tr-lock", &err);
            return exit::FAILURE;
        }
    };

    // The lock's descriptor is close-on-exec; keep it open across exec so
    // that the command itself holds the lock, as flock(1) does.
    if let Err(err) = lock.inherit() {
        diag::error("tr-lock", &err);
        return exit::FAILURE;
    }
    let err = Command::new(&args.cmd[0])
        .args(&args.cmd[1..])
        .env(HELD_VAR, held_var_with(&name))
        .exec();
    eprintln!(
        "tr-lock: error: cannot run `{}`: {err}",
        args.cmd[0].to_string_lossy()
    );
    if err.kind() == std::io::ErrorKind::NotFound {
        exit::NOT_FOUND
    } else {
        exit::NOT_EXECUTABLE
    }
}
