//! The runner's settings, read once from the environment.

use std::time::Duration;

use tr_common::env::{self, EnvError};

/// Settings from `TASKRUNNER_*` variables.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Lines carry `HH:MM:SS` (off with `TASKRUNNER_DISABLE_TIMESTAMPS=1`).
    pub timestamps: bool,
    /// Show `debug` messages (`TASKRUNNER_DEBUG=1`).
    pub debug: bool,
    /// Show `info` messages (`TASKRUNNER_LOG_INFO=1`).
    pub info: bool,
    /// Hold a task's lines back unless it fails (`TASKRUNNER_QUIET=1`).
    pub quiet: bool,
    /// How long to wait for the output pipes after the task exits
    /// (`TASKRUNNER_OUTPUT_STREAM_TIMEOUT`, seconds, default 5).
    pub output_stream_timeout: Duration,
    /// How long a cancelled task may take to stop before it is killed
    /// (`TASKRUNNER_KILL_TIMEOUT`, seconds, default 5).
    pub kill_timeout: Duration,
    /// Build folders older than this many days are removed
    /// (`TASKRUNNER_KEEP_BUILDS_DAYS`, default 7).
    pub keep_builds_days: u64,
}

impl Settings {
    /// Reads the settings; a malformed number is an error naming its
    /// variable.
    pub fn from_env() -> Result<Settings, EnvError> {
        Ok(Settings {
            timestamps: !env::flag("TASKRUNNER_DISABLE_TIMESTAMPS"),
            debug: env::flag("TASKRUNNER_DEBUG"),
            info: env::flag("TASKRUNNER_LOG_INFO"),
            quiet: env::flag("TASKRUNNER_QUIET"),
            output_stream_timeout: env::seconds("TASKRUNNER_OUTPUT_STREAM_TIMEOUT", 5)?,
            kill_timeout: env::seconds("TASKRUNNER_KILL_TIMEOUT", 5)?,
            keep_builds_days: env::number("TASKRUNNER_KEEP_BUILDS_DAYS", 7)?,
        })
    }
}
