//! The runner's settings, read once from the environment.

use std::path::PathBuf;
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
    /// Upload outputs after a run (`TASKRUNNER_SAVE_REMOTE_CACHE=1`).
    pub save_remote_cache: bool,
    /// Skip tasks and upload their outputs as if they had run
    /// (`TASKRUNNER_PRIME_CACHE_MODE=1`).
    pub prime_cache_mode: bool,
    /// Branches to take a fuzzy cache from after the current one
    /// (`TASKRUNNER_FALLBACK_BRANCHES`, space separated).
    pub fallback_branches: Vec<String>,
    /// The branch whose merge-base with `HEAD` is tracked for the fuzzy
    /// cache (`TASKRUNNER_MAIN_BRANCH`).
    pub main_branch: Option<String>,
    /// The default cache root (`TASKRUNNER_ROOT_DIRECTORY`, else the
    /// working directory).
    pub root_directory: Option<PathBuf>,
    /// Upload each task's log (`TASKRUNNER_UPLOAD_LOGS=1`).
    pub upload_logs: bool,
    /// Prefix of an uploaded log's address (`TASKRUNNER_LOGS_VIEW_URL`).
    pub logs_view_url: String,
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
            save_remote_cache: env::flag("TASKRUNNER_SAVE_REMOTE_CACHE"),
            prime_cache_mode: env::flag("TASKRUNNER_PRIME_CACHE_MODE"),
            fallback_branches: std::env::var("TASKRUNNER_FALLBACK_BRANCHES")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            main_branch: std::env::var("TASKRUNNER_MAIN_BRANCH")
                .ok()
                .filter(|b| !b.is_empty()),
            root_directory: env::non_empty("TASKRUNNER_ROOT_DIRECTORY").map(PathBuf::from),
            upload_logs: env::flag("TASKRUNNER_UPLOAD_LOGS"),
            logs_view_url: std::env::var("TASKRUNNER_LOGS_VIEW_URL").unwrap_or_default(),
        })
    }
}
