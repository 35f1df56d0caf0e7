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
    held: Held,
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
            held: Held::default(),
        }
    }

    /// Queues one line the task wrote; call [`TaskOutput::flush`] after a
    /// batch of them.
    pub fn task_line(&mut self, time: &[u8; 8], stream: Stream, line: &[u8]) {
        let label = Label::Stream(stream);
        self.format.logged(time, label, line, self.logged.buf());
        self.logged.end_line();
        if self.quiet {
            self.held.push(&self.format, time, stream, line);
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
        let held = std::mem::take(&mut self.held);
        if failed {
            held.replay(|stream, line| {
                let batch = match stream {
                    Stream::Stdout => &mut self.out,
                    Stream::Stderr => &mut self.err,
                };
                batch.buf().extend_from_slice(line);
                batch.end_line();
                if batch.buf().len() > HELD_CHUNK {
                    flush_batch(&mut self.out, &mut self.stdout);
                    flush_batch(&mut self.err, &mut self.stderr);
                }
            });
        }
        self.flush();
    }
}

/// Held lines beyond this many bytes go to a temporary file, so that a
/// quiet task printing gigabytes does not hold them all in memory.
const HELD_CHUNK: usize = 4 << 20;

/// The shown lines of a quiet task, held back until it ends: records of a
/// stream byte, a length and the rendered line, in memory and, past
/// [`HELD_CHUNK`], in an unnamed temporary file.
#[derive(Debug, Default)]
struct Held {
    memory: Vec<u8>,
    spilled: Option<File>,
}

impl Held {
    fn push(&mut self, format: &LineFormat, time: &[u8; 8], stream: Stream, line: &[u8]) {
        self.memory.push(match stream {
            Stream::Stdout => b'o',
            Stream::Stderr => b'e',
        });
        let at = self.memory.len();
        self.memory.extend_from_slice(&[0; 4]);
        format.shown(time, Label::Stream(stream), line, &mut self.memory);
        let len = (self.memory.len() - at - 4) as u32;
        self.memory[at..at + 4].copy_from_slice(&len.to_le_bytes());
        if self.memory.len() > HELD_CHUNK {
            self.spill();
        }
    }

    /// Moves the records in memory to the file; if there is no file to be
    /// had, they stay in memory.
    fn spill(&mut self) {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;

        if self.spilled.is_none() {
            self.spilled = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .mode(0o600)
                .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
                .open(std::env::temp_dir())
                .ok();
        }
        if let Some(file) = &mut self.spilled
            && file.write_all(&self.memory).is_ok()
        {
            self.memory.clear();
        }
    }

    /// Calls `each` with every held line, oldest first.
    fn replay(self, mut each: impl FnMut(Stream, &[u8])) {
        use std::io::{BufReader, Read, Seek, SeekFrom};

        let mut records = |reader: &mut dyn Read| {
            let mut head = [0; 5];
            let mut line = Vec::new();
            while reader.read_exact(&mut head).is_ok() {
                let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
                line.resize(len, 0);
                if reader.read_exact(&mut line).is_err() {
                    break;
                }
                let stream = if head[0] == b'e' {
                    Stream::Stderr
                } else {
                    Stream::Stdout
                };
                each(stream, &line);
            }
        };
        if let Some(mut file) = self.spilled
            && file.seek(SeekFrom::Start(0)).is_ok()
        {
            records(&mut BufReader::new(file));
        }
        records(&mut self.memory.as_slice());
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
