//! The command line of `tr-run`.

use std::ffi::OsString;

use clap::Parser;

/// Command-line arguments of `tr-run`.
#[derive(Debug, Parser)]
#[command(
    name = "tr-run",
    version,
    about = "Run a build step at most once per build, locked, labelled and logged",
    long_about = "Runs CMD as the task NAME. Each line it prints is shown as \
`HH:MM:SS [NAME] stdout | line` and kept in builds/<id>/logs/NAME.log in the \
state directory. A task of a given name runs at most once per build and never \
twice at the same time on the machine. Inside a bash task, the `snapshot` \
function declares the task's inputs so that it is skipped when they have not \
changed.\n\nEach task also records its timeline (lock wait, hashing, cache \
restores, the run, uploads, and its outcome) in builds/<id>/trace.jsonl; the \
top level merges them into builds/<id>/trace.json, which `tr-log timeline` shows. \
TASKRUNNER_TRACE=0 turns this off; with OTEL_EXPORTER_OTLP_ENDPOINT set, the \
top level also sends the timeline to that OpenTelemetry collector.\n\n\
Options are read only before CMD: everything from CMD on belongs to the task.",
    after_help = "Examples:\n  tr-run -n build ./build.sh\n  tr-run -n lint -- make lint\n\n\
Exit status: the task's own exit status, 128+N when it was killed by signal N; \
1 when the runner cannot work (state directory, lock); 2 on bad usage or a bad \
environment value; 126 when CMD cannot be executed; 127 when it is not found."
)]
pub struct Args {
    /// Task name; defaults to the file name of CMD.
    #[arg(short, long, value_name = "NAME")]
    pub name: Option<OsString>,
    /// Run the task even if its inputs are unchanged, and never restore it
    /// from a cache.
    #[arg(short, long)]
    pub force: bool,
    /// The command to run and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub cmd: Vec<OsString>,
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}
