//! When `tr-run` reports, per SPEC §7, as pure functions so the rules are
//! tested apart from the runner and the network.

use crate::error::CheckError;
use crate::status::{StatusRequest, StatusState};

/// The description of a `pending` status for a task without inputs.
pub const NOT_CACHED: &str = "not cached";

/// How a task ended, as far as its commit status is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskEnd {
    /// The task called `snapshot --commit-status`.
    pub asked: bool,
    /// `snapshot` skipped the task (unchanged inputs or a cache hit).
    pub skipped: bool,
    /// The task succeeded (or was skipped).
    pub succeeded: bool,
}

/// The status to report at `snapshot --commit-status`: `success` when the
/// task is skipped, else `pending`, described as `not cached` when the
/// task has no inputs.
pub fn at_snapshot(context: &str, skipped: bool, has_inputs: bool) -> StatusRequest {
    if skipped {
        return StatusRequest::new(context, StatusState::Success);
    }
    let mut status = StatusRequest::new(context, StatusState::Pending);
    if !has_inputs {
        status.description = Some(NOT_CACHED.to_owned());
    }
    status
}

/// The status to report when a task ends, if any: when it asked for one
/// and was not skipped, when it failed, or when the commit already has a
/// status of this context (so a re-run after a failure turns it green).
///
/// `has_status` is asked only when the other rules do not decide, since
/// it costs a request; pass [`crate::Reporter::has_status`].
pub fn at_end(
    context: &str,
    end: TaskEnd,
    has_status: impl FnOnce(&str) -> Result<bool, CheckError>,
) -> Result<Option<StatusRequest>, CheckError> {
    let state = if end.succeeded {
        StatusState::Success
    } else {
        StatusState::Failure
    };
    let report = (end.asked && !end.skipped) || !end.succeeded || has_status(context)?;
    Ok(report.then(|| StatusRequest::new(context, state)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(asked: bool, skipped: bool, succeeded: bool) -> TaskEnd {
        TaskEnd {
            asked,
            skipped,
            succeeded,
        }
    }

    fn never(_: &str) -> Result<bool, CheckError> {
        panic!("has_status must not be asked")
    }

    #[test]
    fn snapshot_reports_pending_or_success() {
        let run = at_snapshot("build", false, true);
        assert_eq!((run.state, run.description), (StatusState::Pending, None));
        let uncached = at_snapshot("build", false, false);
        assert_eq!(uncached.description.as_deref(), Some(NOT_CACHED));
        assert_eq!(at_snapshot("build", true, true).state, StatusState::Success);
    }

    #[test]
    fn end_reports_asked_runs_and_any_failure_without_asking_github() {
        let asked = at_end("t", end(true, false, true), never).unwrap().unwrap();
        assert_eq!(asked.state, StatusState::Success);
        let failed = at_end("t", end(false, false, false), never)
            .unwrap()
            .unwrap();
        assert_eq!(failed.state, StatusState::Failure);
    }

    #[test]
    fn end_reports_otherwise_only_over_an_existing_status() {
        let quiet = at_end("t", end(false, false, true), |_| Ok(false)).unwrap();
        assert_eq!(quiet, None);
        let skipped = at_end("t", end(true, true, true), |_| Ok(false)).unwrap();
        assert_eq!(skipped, None);
        let green = at_end("t", end(false, false, true), |c| Ok(c == "t")).unwrap();
        assert_eq!(green.unwrap().state, StatusState::Success);
    }
}
