//! Where a task's lines and the runner's messages go: the top level's
//! streams (shared by every task of the build) and the task's log file.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use tr_log::{Batch, Label, Level, LineFormat, Stream};

use crate::settings::Settings;

/// The sinks of one task.
#[derive(Debug)]
pub struct TaskOutput {
    format: LineFormat,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    log: Option<File>,
    show_debug: bool,
    show_info: bool,
    quiet: bool,
    out: Batch,
    err: Batch,
    logged: Batch,
    held: Vec<(Stream, Vec<u8>)>,
}

impl TaskOutput {
    /// Sinks writing to the top level's `stdout` and `stderr` and to `log`.
    pub fn new(
        name: &str,
        settings: &Settings,
        stdout: OwnedFd,
        stderr: OwnedFd,
        log: Option<File>,
    ) -> TaskOutput {
        TaskOutput {
            format: LineFormat::new(name, settings.timestamps),
            stdout: Some(stdout),
            stderr: Some(stderr),
            log,
            show_debug: settings.debug,
            show_info: settings.info,
            quiet: settings.quiet,
            out: Batch::default(),
            err: Batch::default(),
            logged: Batch::default(),
            held: Vec::new(),
        }
    }

    /// Queues one line the task wrote; call [`TaskOutput::flush`] after a
    /// batch of them.
    pub fn task_line(&mut self, time: &[u8; 8], stream: Stream, line: &[u8]) {
        let label = Label::Stream(stream);
        self.format.logged(time, label, line, self.logged.buf());
        self.logged.end_line();
        if self.quiet {
            let mut shown = Vec::new();
            self.format.shown(time, label, line, &mut shown);
            self.held.push((stream, shown));
        } else {
            let batch = match stream {
                Stream::Stdout => &mut self.out,
                Stream::Stderr => &mut self.err,
            };
            self.format.shown(time, label, line, batch.buf());
            batch.end_line();
        }
    }

    /// Writes a runner message, one line per line of `text`: always to the
    /// log, and to the top level's stderr when its level is shown.
    pub fn message(&mut self, level: Level, text: &str) {
        let time = tr_common::clock::time_of_day();
        let shown = match level {
            Level::Debug => self.show_debug,
            Level::Info => self.show_info,
            Level::Warn | Level::Error => true,
        };
        for line in text.split('\n') {
            let label = Label::Level(level);
            self.format
                .logged(&time, label, line.as_bytes(), self.logged.buf());
            self.logged.end_line();
            if shown {
                self.format
                    .shown(&time, label, line.as_bytes(), self.err.buf());
                self.err.end_line();
            }
        }
        self.flush();
    }

    /// Writes out everything queued.
    pub fn flush(&mut self) {
        flush_batch(&mut self.out, &mut self.stdout);
        flush_batch(&mut self.err, &mut self.stderr);
        if let Some(log) = &self.log
            && self.logged.flush_to(log.as_fd()).is_err()
        {
            // A full disk must not stop the build; the shown lines go on.
            self.log = None;
        }
    }

    /// In quiet mode, shows the held lines if the task failed and drops
    /// them if it succeeded.
    pub fn release_held(&mut self, failed: bool) {
        for (stream, line) in std::mem::take(&mut self.held) {
            if !failed {
                continue;
            }
            let batch = match stream {
                Stream::Stdout => &mut self.out,
                Stream::Stderr => &mut self.err,
            };
            batch.buf().extend_from_slice(&line);
            batch.end_line();
        }
        self.flush();
    }
}

/// Writes a batch to a top-level stream. A stream whose reader went away
/// (`tr-run ... | head`) is not an error: its lines are dropped from then
/// on, and the log keeps them.
fn flush_batch(batch: &mut Batch, fd: &mut Option<OwnedFd>) {
    match fd {
        Some(f) => {
            if batch.flush_to(f.as_fd()).is_err() {
                *fd = None;
            }
        }
        None => drop(batch.take()),
    }
}
