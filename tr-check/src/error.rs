//! The one error type of the crate, and how it maps to exit codes.

use std::io;
use std::path::PathBuf;

use tr_common::env::EnvError;
use tr_common::state::StateError;

/// Why a commit status could not be reported.
///
/// No variant ever holds the private key or a token, so printing any of
/// them (with `Display` or `Debug`) is safe.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A required variable is unset or empty.
    #[error("`{0}` is not set; commit statuses need it")]
    Missing(&'static str),
    /// A variable holds something unusable.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// `GITHUB_APP_PRIVATE_KEY` is not a usable RSA key. The value itself
    /// is never shown.
    #[error("invalid `GITHUB_APP_PRIVATE_KEY`: {0}")]
    Key(&'static str),
    /// An argument given to the library or the command line is unusable.
    #[error("invalid {what} `{value}`: {expected}")]
    Argument {
        /// What the argument is.
        what: &'static str,
        /// Its value.
        value: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// The state directory cannot hold the token cache.
    #[error(transparent)]
    State(#[from] StateError),
    /// The token cache could not be read, written or locked.
    #[error("cannot use the token cache `{path}`")]
    TokenCache {
        /// The file involved.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// `git rev-parse HEAD` could not tell the commit.
    #[error("cannot find the commit with `git rev-parse HEAD`: {0}")]
    Git(String),
    /// The app JWT could not be signed.
    #[error("cannot sign the GitHub App JWT")]
    Sign,
    /// The request got no HTTP answer, even after retries.
    #[error("no answer from `{url}` after {attempts} attempt(s)")]
    Transport {
        /// The URL, without query.
        url: String,
        /// How many times it was tried.
        attempts: u32,
        /// The last failure.
        source: ureq::Error,
    },
    /// Every attempt ran out of time.
    #[error(
        "no answer from `{url}` within {seconds} s, {attempts} attempt(s) \
         (`TASKRUNNER_GITHUB_TIMEOUT_SECONDS`, `TASKRUNNER_GITHUB_RETRIES`)"
    )]
    Timeout {
        /// The URL, without query.
        url: String,
        /// How many times it was tried.
        attempts: u32,
        /// The limit of each attempt.
        seconds: u64,
    },
    /// The API answered with an error status.
    #[error("`{url}` answered HTTP {status}: {detail}")]
    Status {
        /// The URL, without query.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// GitHub's message, or a description of the body.
        detail: String,
    },
    /// The API answered 2xx with a body that makes no sense.
    #[error("unexpected answer from `{url}`: {reason}")]
    Answer {
        /// The URL, without query.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl CheckError {
    /// True for errors in the setup (variables, key, arguments) rather
    /// than in talking to GitHub: retrying later will not help.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            CheckError::Missing(_)
                | CheckError::Env(_)
                | CheckError::Key(_)
                | CheckError::Argument { .. }
                | CheckError::State(_)
        )
    }

    /// The `tr-check` exit code for this error: `USAGE` (2) for setup
    /// errors, `FAILURE` (1) for failures to report.
    pub fn exit_code(&self) -> i32 {
        if self.is_config() {
            tr_common::exit::USAGE
        } else {
            tr_common::exit::FAILURE
        }
    }
}
