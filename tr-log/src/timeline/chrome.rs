//! Gathering the records of a build's tasks into one trace in the Chrome
//! trace event format, and reading such a trace back.
//!
//! All tasks share one `pid` (the top-level runner's) and each gets its
//! own `tid`, so that Perfetto draws one row per task. A task is an `X`
//! event of category `task` whose `args` hold its outcome, exit code,
//! runner pid and parent; its phases are `X` events of category `phase` on
//! the same row, drawn inside it.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::model::{Outcome, Phase, PhaseSpan, TaskSpan, Timeline};
use super::record::RECORDS_FILE;

/// The merged trace's file name in a build folder.
pub const TRACE_FILE: &str = "trace.json";

/// Merges the records of `build_dir` into `build_dir/trace.json`,
/// written atomically; returns its path.
pub fn merge(build_dir: &Path) -> io::Result<PathBuf> {
    let timeline = Timeline::from_records(build_dir)?;
    let path = build_dir.join(TRACE_FILE);
    tr_common::state::write_atomic(&path, timeline.to_chrome().as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write `{}`: {e}", path.display())))?;
    Ok(path)
}

impl Timeline {
    /// The timeline of the build in `dir`: its merged trace, or its
    /// records when there is none (the build is running, or crashed).
    pub fn load(dir: &Path) -> io::Result<Timeline> {
        let path = dir.join(TRACE_FILE);
        match tr_common::state::read_optional(&path) {
            Ok(Some(data)) => Timeline::from_chrome(&data).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("cannot read `{}`: {e}", path.display()),
                )
            }),
            Ok(None) => Timeline::from_records(dir),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot read `{}`: {e}", path.display()),
            )),
        }
    }

    /// The timeline of `build_dir` from its records. A line cut short by
    /// a crash, or one that does not parse, is left out; a task without
    /// an end line is [`Outcome::Unfinished`].
    pub fn from_records(build_dir: &Path) -> io::Result<Timeline> {
        let path = build_dir.join(RECORDS_FILE);
        let data = tr_common::state::read_optional(&path)
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot read `{}`: {e}", path.display()))
            })?
            .unwrap_or_default();
        Ok(Timeline::new(build_dir, tasks_from_lines(&data)))
    }

    fn new(build_dir: &Path, mut tasks: Vec<TaskSpan>) -> Timeline {
        tasks.sort_by_key(|t| (t.start, t.pid));
        Timeline {
            build: build_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            tasks,
        }
    }

    /// The timeline as Chrome trace event JSON.
    pub fn to_chrome(&self) -> String {
        let pid = self
            .tasks
            .iter()
            .find(|t| t.parent.is_none())
            .map_or(0, |t| t.pid);
        let mut events = vec![json!({
            "ph": "M", "name": "process_name", "pid": pid, "tid": 0,
            "args": { "name": format!("build {}", self.build) },
        })];
        for (index, task) in self.tasks.iter().enumerate() {
            let tid = index + 1;
            events.push(json!({
                "ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                "args": { "name": task.name },
            }));
            events.push(json!({
                "ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                "args": { "sort_index": index },
            }));
            let mut args = json!({ "outcome": task.outcome.as_str(), "pid": task.pid });
            if let Some(code) = task.outcome.exit_code() {
                args["exit_code"] = json!(code);
            }
            if let Outcome::Cancelled(signal) = task.outcome {
                args["signal"] = json!(signal);
            }
            if let (Some(parent), Some(parent_pid)) = (&task.parent, task.parent_pid) {
                args["parent"] = json!(parent);
                args["parent_pid"] = json!(parent_pid);
            }
            events.push(json!({
                "ph": "X", "cat": "task", "name": task.name, "pid": pid, "tid": tid,
                "ts": task.start, "dur": task.duration(), "args": args,
            }));
            for span in &task.phases {
                events.push(json!({
                    "ph": "X", "cat": "phase", "name": span.phase.as_str(),
                    "pid": pid, "tid": tid, "ts": span.start,
                    "dur": span.end.saturating_sub(span.start),
                    "args": { "task": task.name },
                }));
            }
        }
        let trace = json!({
            "traceEvents": events,
            "displayTimeUnit": "ms",
            "otherData": { "build": self.build },
        });
        let mut text = trace.to_string();
        text.push('\n');
        text
    }

    /// Reads a timeline back from Chrome trace event JSON written by
    /// [`Timeline::to_chrome`].
    pub fn from_chrome(data: &[u8]) -> Result<Timeline, serde_json::Error> {
        let trace: Value = serde_json::from_slice(data)?;
        let events = trace["traceEvents"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let mut by_tid: HashMap<u64, usize> = HashMap::new();
        let mut tasks: Vec<TaskSpan> = Vec::new();
        for event in events
            .iter()
            .filter(|e| e["cat"] == "task" && e["ph"] == "X")
        {
            let args = &event["args"];
            let outcome = Outcome::from_parts(
                args["outcome"].as_str().unwrap_or_default(),
                args["exit_code"].as_i64(),
                args["signal"].as_i64(),
            )
            .unwrap_or(Outcome::Unfinished);
            let start = event["ts"].as_u64().unwrap_or(0);
            by_tid.insert(event["tid"].as_u64().unwrap_or(0), tasks.len());
            tasks.push(TaskSpan {
                name: event["name"].as_str().unwrap_or_default().to_owned(),
                pid: as_u32(&args["pid"]).unwrap_or(0),
                parent: args["parent"].as_str().map(str::to_owned),
                parent_pid: as_u32(&args["parent_pid"]),
                start,
                end: start + event["dur"].as_u64().unwrap_or(0),
                outcome,
                phases: Vec::new(),
            });
        }
        for event in events
            .iter()
            .filter(|e| e["cat"] == "phase" && e["ph"] == "X")
        {
            let task = event["tid"].as_u64().and_then(|tid| by_tid.get(&tid));
            let phase = event["name"].as_str().and_then(Phase::from_name);
            if let (Some(&task), Some(phase)) = (task, phase) {
                let start = event["ts"].as_u64().unwrap_or(0);
                tasks[task].phases.push(PhaseSpan {
                    phase,
                    start,
                    end: start + event["dur"].as_u64().unwrap_or(0),
                });
            }
        }
        Ok(Timeline {
            build: trace["otherData"]["build"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            tasks,
        })
    }
}

fn as_u32(value: &Value) -> Option<u32> {
    value.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// The tasks recorded in `data`, the lines of a build's records, which
/// its runners wrote in turns. Lines are matched to their task by the
/// runner's pid; a start line for a pid seen before begins a new task
/// (pids are reused in a long build).
fn tasks_from_lines(data: &[u8]) -> Vec<TaskSpan> {
    let mut tasks: Vec<(TaskSpan, bool)> = Vec::new();
    let mut by_pid: HashMap<u32, usize> = HashMap::new();
    for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(event) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let Some(pid) = as_u32(&event["pid"]) else {
            continue;
        };
        if event["event"] == "start" {
            if let Some(task) = task_started(&event, pid) {
                by_pid.insert(pid, tasks.len());
                tasks.push((task, false));
            }
            continue;
        }
        let Some((task, ended)) = by_pid.get(&pid).map(|&i| &mut tasks[i]) else {
            continue;
        };
        match event["event"].as_str() {
            Some("phase") => {
                let phase = event["phase"].as_str().and_then(Phase::from_name);
                let (start, end) = (event["start"].as_u64(), event["end"].as_u64());
                if let (Some(phase), Some(start), Some(end)) = (phase, start, end) {
                    task.end = task.end.max(end);
                    task.phases.push(PhaseSpan { phase, start, end });
                }
            }
            Some("end") => {
                if let Some(outcome) = Outcome::from_parts(
                    event["outcome"].as_str().unwrap_or_default(),
                    event["code"].as_i64(),
                    event["signal"].as_i64(),
                ) {
                    task.outcome = outcome;
                    task.end = task.end.max(event["ts"].as_u64().unwrap_or(0));
                    *ended = true;
                }
            }
            _ => {}
        }
    }
    tasks
        .into_iter()
        .map(|(mut task, ended)| {
            // A phase inside another (hashing within the run) comes after it.
            task.phases
                .sort_by_key(|p| (p.start, std::cmp::Reverse(p.end)));
            if !ended {
                task.outcome = Outcome::Unfinished;
            }
            task
        })
        .collect()
}

/// A task from its start line.
fn task_started(event: &Value, pid: u32) -> Option<TaskSpan> {
    let start = event["ts"].as_u64()?;
    Some(TaskSpan {
        name: event["task"].as_str()?.to_owned(),
        pid,
        parent: event["parent"].as_str().map(str::to_owned),
        parent_pid: as_u32(&event["parent_pid"]),
        start,
        end: start,
        outcome: Outcome::Unfinished,
        phases: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Write;

    use super::*;
    use crate::timeline::{Recorder, now_us};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tr-log-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("builds/b1")).unwrap();
        dir.join("builds/b1")
    }

    #[test]
    fn records_merge_into_a_chrome_trace_and_back() {
        let build = scratch("merge");
        let t0 = now_us();
        let mut rec = Recorder::start(&build, "outer", t0).unwrap();
        // Another runner's task starts while the first runs, and a crash
        // cuts its records short after the first's end.
        let mut records = fs::OpenOptions::new()
            .append(true)
            .open(build.join(RECORDS_FILE))
            .unwrap();
        writeln!(
            records,
            "{{\"event\":\"start\",\"pid\":99,\"task\":\"inner\",\"ts\":{},\
             \"parent\":\"outer\",\"parent_pid\":{}}}",
            t0 + 20,
            std::process::id()
        )
        .unwrap();
        rec.phase_until(Phase::LockWait, t0, t0 + 5);
        rec.phase_until(Phase::Run, t0 + 10, t0 + 100);
        rec.end(Outcome::Failed(3)).unwrap();
        write!(records, "{{\"event\":\"phase\",\"pid\":99,\"pha").unwrap();
        drop(records);

        let path = merge(&build).unwrap();
        let timeline = Timeline::from_chrome(&fs::read(path).unwrap()).unwrap();
        assert_eq!(timeline.build, "b1");
        assert_eq!(timeline.tasks.len(), 2);
        let outer = &timeline.tasks[0];
        assert_eq!(outer.outcome, Outcome::Failed(3));
        assert_eq!(outer.phases.len(), 2);
        assert_eq!(outer.phases[1].phase, Phase::Run);
        let inner = &timeline.tasks[1];
        assert_eq!(inner.outcome, Outcome::Unfinished);
        assert_eq!(inner.parent.as_deref(), Some("outer"));
        assert_eq!(timeline.parent_of(1), Some(0));
        assert_eq!(timeline.tree_order(), vec![0, 1]);
    }

    #[test]
    fn a_build_without_records_has_an_empty_timeline() {
        let build = scratch("empty");
        assert!(Timeline::from_records(&build).unwrap().tasks.is_empty());
    }
}
