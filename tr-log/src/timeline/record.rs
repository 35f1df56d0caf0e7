//! Recording one task's timeline from inside its runner.
//!
//! Cheap by design: no thread, no parsing, no file of its own (every task
//! of a build appends to the same one), two `write` calls per task. The
//! start line is written at once so that a runner that crashes still shows
//! its task; the phases wait in memory and go out with the end line.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::model::{Outcome, Phase};
use super::push_json_str;

/// `TASKRUNNER_TRACE=0` turns recording off.
pub const TRACE_VAR: &str = "TASKRUNNER_TRACE";

/// The build's timeline records, in its folder: one JSON object per
/// line, every line naming the pid of the runner that wrote it.
pub const RECORDS_FILE: &str = "trace.jsonl";

/// Names the parent task of a nested runner: `<pid>:<name>`.
pub const PARENT_VAR: &str = "_taskrunner_trace_parent";

/// Microseconds since the epoch, by the wall clock.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Records one task's events; does nothing when off.
#[derive(Debug, Default)]
pub struct Recorder {
    file: Option<File>,
    pid: u32,
    pending: String,
    parent_value: String,
}

impl Recorder {
    /// A recorder that records nothing.
    pub fn off() -> Recorder {
        Recorder::default()
    }

    /// Whether recording is on (`TASKRUNNER_TRACE` is not `0`).
    pub fn is_enabled() -> bool {
        std::env::var_os(TRACE_VAR).is_none_or(|v| v != "0")
    }

    /// Starts recording task `name`, which began at `started`, into the
    /// build's [`RECORDS_FILE`]; its parent is read from [`PARENT_VAR`].
    pub fn start(build_dir: &Path, name: &str, started: u64) -> io::Result<Recorder> {
        if !Recorder::is_enabled() {
            return Ok(Recorder::off());
        }
        // One file for the whole build: opening it is cheap once the first
        // task created it, where a file per task costs an inode each.
        let path = build_dir.join(RECORDS_FILE);
        let file = tr_common::state::open_append(&path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot open `{}`: {e}", path.display()))
        })?;

        let pid = std::process::id();
        let mut line = String::with_capacity(128);
        line.push_str(&format!("{{\"event\":\"start\",\"pid\":{pid},\"task\":"));
        push_json_str(&mut line, name);
        line.push_str(&format!(",\"ts\":{started}"));
        if let Some((parent_pid, parent)) = parent_from_env() {
            line.push_str(",\"parent\":");
            push_json_str(&mut line, &parent);
            line.push_str(&format!(",\"parent_pid\":{parent_pid}"));
        }
        line.push_str("}\n");
        let mut recorder = Recorder {
            file: Some(file),
            pid,
            pending: String::new(),
            parent_value: format!("{pid}:{name}"),
        };
        recorder.write(&line)?;
        Ok(recorder)
    }

    /// Whether this recorder writes anything.
    pub fn is_on(&self) -> bool {
        self.file.is_some()
    }

    /// The value of [`PARENT_VAR`] for the task's children, when on.
    pub fn parent_value(&self) -> Option<&str> {
        self.is_on().then_some(self.parent_value.as_str())
    }

    /// Records `phase` from `start` until now.
    pub fn phase(&mut self, phase: Phase, start: u64) {
        self.phase_until(phase, start, now_us());
    }

    /// Records `phase` from `start` to `end`.
    pub fn phase_until(&mut self, phase: Phase, start: u64, end: u64) {
        if self.is_on() {
            self.pending.push_str(&format!(
                "{{\"event\":\"phase\",\"pid\":{},\"phase\":\"{}\",\"start\":{start},\"end\":{end}}}\n",
                self.pid,
                phase.as_str()
            ));
        }
    }

    /// Writes the phases and the task's end with `outcome`.
    pub fn end(mut self, outcome: Outcome) -> io::Result<()> {
        if !self.is_on() {
            return Ok(());
        }
        let mut lines = std::mem::take(&mut self.pending);
        lines.push_str(&format!(
            "{{\"event\":\"end\",\"pid\":{},\"ts\":{},\"outcome\":\"{}\"",
            self.pid,
            now_us(),
            outcome.as_str()
        ));
        match outcome {
            Outcome::Failed(code) => lines.push_str(&format!(",\"code\":{code}")),
            Outcome::Cancelled(signal) => lines.push_str(&format!(",\"signal\":{signal}")),
            _ => {}
        }
        lines.push_str("}\n");
        self.write(&lines)
    }

    fn write(&mut self, lines: &str) -> io::Result<()> {
        match &mut self.file {
            // One call: with O_APPEND on a local file system the lines
            // land whole, after anything any task wrote before, never
            // interleaved with another task's.
            Some(file) => file.write_all(lines.as_bytes()),
            None => Ok(()),
        }
    }
}

fn parent_from_env() -> Option<(u32, String)> {
    let value = std::env::var(PARENT_VAR).ok()?;
    let (pid, name) = value.split_once(':')?;
    Some((pid.parse().ok()?, name.to_owned()))
}
