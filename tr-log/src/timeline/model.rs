//! What a timeline holds: tasks with their outcome and phases.

use std::fmt;

/// A step of a task whose wall-clock span is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the task's lock.
    LockWait,
    /// Hashing the inputs.
    Hash,
    /// Restoring the outputs from the cache.
    Restore,
    /// Restoring a fuzzy cache from a branch.
    FuzzyRestore,
    /// The task's own process.
    Run,
    /// Hashing the file inputs again after the run.
    Rehash,
    /// Saving the hash of a success.
    SaveHash,
    /// Post-unpack commands.
    PostUnpack,
    /// Uploading the outputs.
    Upload,
    /// Uploading the log.
    UploadLog,
    /// Reporting commit statuses.
    Status,
}

impl Phase {
    /// Every phase, in the order a task goes through them.
    pub const ALL: [Phase; 11] = [
        Phase::LockWait,
        Phase::Hash,
        Phase::Restore,
        Phase::FuzzyRestore,
        Phase::Run,
        Phase::Rehash,
        Phase::SaveHash,
        Phase::PostUnpack,
        Phase::Upload,
        Phase::UploadLog,
        Phase::Status,
    ];

    /// The phase's name in trace files.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::LockWait => "lock-wait",
            Phase::Hash => "hash",
            Phase::Restore => "restore",
            Phase::FuzzyRestore => "fuzzy-restore",
            Phase::Run => "run",
            Phase::Rehash => "rehash",
            Phase::SaveHash => "save-hash",
            Phase::PostUnpack => "post-unpack",
            Phase::Upload => "upload",
            Phase::UploadLog => "upload-log",
            Phase::Status => "status",
        }
    }

    /// The phase named `name` in a trace file.
    pub fn from_name(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and succeeded.
    Ran,
    /// Its inputs were unchanged (or prime cache mode): it did not run.
    Skipped,
    /// Its outputs came from the cache: it did not run.
    Restored,
    /// A fuzzy cache was unpacked, then it ran and succeeded.
    FuzzyRestored,
    /// It failed with this exit code.
    Failed(i32),
    /// The runner was cancelled by this signal.
    Cancelled(i32),
    /// The trace ends before the task did (the runner crashed or is
    /// still running).
    Unfinished,
}

impl Outcome {
    /// The outcome's name in trace files.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ran => "ran",
            Outcome::Skipped => "skipped",
            Outcome::Restored => "restored",
            Outcome::FuzzyRestored => "fuzzy-restored",
            Outcome::Failed(_) => "failed",
            Outcome::Cancelled(_) => "cancelled",
            Outcome::Unfinished => "unfinished",
        }
    }

    /// The outcome named `name`, with the exit code or signal that goes
    /// with `failed` and `cancelled`.
    pub fn from_parts(name: &str, code: Option<i64>, signal: Option<i64>) -> Option<Outcome> {
        let number = |n: Option<i64>| n.and_then(|n| i32::try_from(n).ok()).unwrap_or(0);
        Some(match name {
            "ran" => Outcome::Ran,
            "skipped" => Outcome::Skipped,
            "restored" => Outcome::Restored,
            "fuzzy-restored" => Outcome::FuzzyRestored,
            "failed" => Outcome::Failed(number(code)),
            "cancelled" => Outcome::Cancelled(number(signal)),
            "unfinished" => Outcome::Unfinished,
            _ => return None,
        })
    }

    /// The task's exit code, when it is known.
    pub fn exit_code(self) -> Option<i32> {
        match self {
            Outcome::Ran | Outcome::Skipped | Outcome::Restored | Outcome::FuzzyRestored => Some(0),
            Outcome::Failed(code) => Some(code),
            Outcome::Cancelled(signal) => Some(128 + signal),
            Outcome::Unfinished => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Failed(code) => write!(f, "failed ({code})"),
            Outcome::Cancelled(signal) => write!(f, "cancelled (signal {signal})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// One phase of a task, in microseconds since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseSpan {
    /// Which phase.
    pub phase: Phase,
    /// When it began.
    pub start: u64,
    /// When it ended.
    pub end: u64,
}

/// One task of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpan {
    /// The task's name.
    pub name: String,
    /// The process id of its runner.
    pub pid: u32,
    /// The name of the task that started it, for a nested task.
    pub parent: Option<String>,
    /// The process id of the parent task's runner.
    pub parent_pid: Option<u32>,
    /// When the runner started, in microseconds since the epoch.
    pub start: u64,
    /// When the runner was done with the task.
    pub end: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Its phases, in order.
    pub phases: Vec<PhaseSpan>,
}

impl TaskSpan {
    /// The task's wall-clock time in microseconds.
    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// The tasks of one build, ordered by start time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// The build id.
    pub build: String,
    /// Its tasks.
    pub tasks: Vec<TaskSpan>,
}

impl Timeline {
    /// The first start and the last end of the build's tasks.
    pub fn bounds(&self) -> (u64, u64) {
        let start = self.tasks.iter().map(|t| t.start).min().unwrap_or(0);
        let end = self.tasks.iter().map(|t| t.end).max().unwrap_or(start);
        (start, end)
    }

    /// The index of the task that started task `index`, if it is in the
    /// timeline.
    pub fn parent_of(&self, index: usize) -> Option<usize> {
        let task = &self.tasks[index];
        let (name, pid) = (task.parent.as_deref()?, task.parent_pid?);
        self.tasks
            .iter()
            .position(|t| t.pid == pid && t.name == name)
    }

    /// How deep task `index` is nested: 0 for a top-level task.
    pub fn depth(&self, index: usize) -> usize {
        let mut depth = 0;
        let mut at = index;
        while let Some(parent) = self.parent_of(at) {
            depth += 1;
            at = parent;
            if depth > self.tasks.len() {
                break;
            }
        }
        depth
    }

    /// The tasks' indices with each parent followed by its children, each
    /// group in start order.
    pub fn tree_order(&self) -> Vec<usize> {
        let parents: Vec<Option<usize>> =
            (0..self.tasks.len()).map(|i| self.parent_of(i)).collect();
        let mut order = Vec::with_capacity(self.tasks.len());
        let mut stack: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| parents[i].is_none())
            .rev()
            .collect();
        while let Some(i) = stack.pop() {
            order.push(i);
            stack.extend(
                (0..self.tasks.len())
                    .rev()
                    .filter(|&c| parents[c] == Some(i)),
            );
        }
        // A cycle of parents (only in a hand-made file) would hide tasks.
        for i in 0..self.tasks.len() {
            if !order.contains(&i) {
                order.push(i);
            }
        }
        order
    }
}
