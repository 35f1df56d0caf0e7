//! The `tr-log` command: label the lines of standard input, or show a
//! build's timeline.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use tr_common::{TaskName, diag, exit};

use crate::{Batch, Label, LineFormat, LineSplitter, Stream};

/// Command-line arguments of `tr-log`.
#[derive(Debug, Parser)]
#[command(
    name = "tr-log",
    version,
    about = "Label, timestamp and log each line read from standard input",
    long_about = "Reads standard input and writes each line to standard output as \
`HH:MM:SS [NAME] STREAM | line`, the way tr-run shows a task's output. \
With --log, also appends `HH:MM:SS STREAM | line` to a log file.\n\n\
Timestamps are left out when TASKRUNNER_DISABLE_TIMESTAMPS=1.\n\n\
`tr-log timeline` shows what the tasks of a build did and when: tr-run \
records each task's phases (lock wait, hashing, cache restores, the run, \
uploads, statuses) and outcome, and the top level merges them into \
builds/<id>/trace.json (Chrome trace format) at the end of the build. \
TASKRUNNER_TRACE=0 turns recording off; with OTEL_EXPORTER_OTLP_ENDPOINT \
set, the top level also sends the trace there (OTLP over HTTP, JSON).",
    after_help = "Examples:\n  make 2>&1 | tr-log -n build --log build.log\n  \
tr-log timeline latest --html timeline.html\n\n\
Exit status: 0 on success, 1 when reading or writing fails, 2 on bad usage.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Args {
    /// Name shown in brackets before each line.
    #[arg(short, long, value_name = "NAME", required = true)]
    pub name: Option<OsString>,
    /// Stream name shown after the task name.
    #[arg(short, long, value_enum, default_value_t = StreamArg::Stdout)]
    pub stream: StreamArg,
    /// Also append each line to this log file, without the name.
    #[arg(short, long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Another job than labelling lines.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands of `tr-log`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a build's timeline: a summary table, an HTML Gantt chart, or
    /// the Chrome trace.
    #[command(long_about = "Shows the timeline of a build in the state directory \
(TASKRUNNER_STATE_DIRECTORY): by default a table of its tasks, the longest \
first, with outcome, duration and share of the build. Reads \
builds/<id>/trace.json, or merges the tasks' records in \
builds/<id>/trace.jsonl when the build did not finish.")]
    Timeline(crate::timeline::cli::TimelineArgs),
}

/// The stream label chosen on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StreamArg {
    /// Label lines `stdout`.
    Stdout,
    /// Label lines `stderr`.
    Stderr,
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

/// Runs `tr-log` and returns its exit code.
pub fn run(args: Args) -> i32 {
    if let Some(Command::Timeline(timeline)) = &args.command {
        return crate::timeline::cli::run(timeline);
    }
    match label_stdin(&args) {
        Ok(()) => exit::SUCCESS,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => exit::SUCCESS,
        Err(err) => {
            diag::error("tr-log", &err);
            exit::FAILURE
        }
    }
}

fn label_stdin(args: &Args) -> io::Result<()> {
    let name = TaskName::new(args.name.as_deref().unwrap_or_default()).map_err(io::Error::other)?;
    let timestamps = !tr_common::env::flag("TASKRUNNER_DISABLE_TIMESTAMPS");
    let format = LineFormat::new(name.as_str(), timestamps);
    let label = Label::Stream(match args.stream {
        StreamArg::Stdout => Stream::Stdout,
        StreamArg::Stderr => Stream::Stderr,
    });
    let mut log = match &args.log {
        Some(path) => Some(tr_common::state::open_append(path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot open `{}`: {e}", path.display()))
        })?),
        None => None,
    };

    let stdout = io::stdout();
    let mut shown = Batch::default();
    let mut logged = Batch::default();
    let mut splitter = LineSplitter::default();
    let mut input = io::stdin().lock();
    let mut chunk = vec![0; 64 * 1024];
    loop {
        let n = match input.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let time = tr_common::clock::time_of_day();
        let mut add = |line: &[u8]| {
            format.shown(&time, label, line, shown.buf());
            shown.end_line();
            if log.is_some() {
                format.logged(&time, label, line, logged.buf());
                logged.end_line();
            }
        };
        if n == 0 {
            splitter.finish(&mut add);
        } else {
            splitter.push(&chunk[..n], &mut add);
        }
        shown.flush_to(stdout.as_fd())?;
        if let Some(file) = &mut log {
            logged.flush_to(file.as_fd())?;
        }
        if n == 0 {
            return Ok(());
        }
    }
}
