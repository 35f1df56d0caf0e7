//! The one error type of the cache.
//!
//! Every message is a lowercase fragment naming the path or object in
//! backticks. None of them ever contains a key or a secret: the keys are
//! only ever named by their variable.

use std::io;
use std::path::PathBuf;

/// Why a cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// An output path does not lie below the cache root.
    #[error("output `{path}` is outside the cache root `{root}`")]
    OutsideRoot {
        /// The output as given.
        path: PathBuf,
        /// The cache root.
        root: PathBuf,
    },
    /// An output path or the cache root cannot be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// A file cannot be written while restoring or storing.
    #[error("cannot write `{path}`")]
    Write {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// An archive entry would write outside the cache root, or is of a
    /// kind that restoring does not create.
    #[error("refusing archive entry `{entry}`: {reason}")]
    UnsafeEntry {
        /// The entry's path as stored in the archive.
        entry: String,
        /// Why it is refused.
        reason: String,
    },
    /// The archive cannot be decoded.
    #[error("archive `{object}` is truncated or corrupt")]
    Corrupt {
        /// The object name.
        object: String,
        /// What the decoder said.
        source: io::Error,
    },
    /// The store failed: unreachable, too slow, or an error answer.
    #[error("cannot {action} `{object}` ({store})")]
    Store {
        /// What was attempted: `download`, `upload`...
        action: &'static str,
        /// The object name.
        object: String,
        /// The store, for example ``S3 bucket `b` ``.
        store: String,
        /// What went wrong.
        source: RemoteError,
    },
    /// A name, version, hash or branch cannot be part of an object name.
    #[error("invalid {what} `{value}`: {reason}")]
    InvalidName {
        /// Which part: `hash`, `version`, `branch`.
        what: &'static str,
        /// The value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A size such as `TASKRUNNER_CACHE_MAX_SIZE` cannot be read.
    #[error("invalid value `{value}` in `{var}`: expected a size such as `500M` or `10G`")]
    InvalidSize {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// A signing or verifying key cannot be read. The value is never shown.
    #[error("invalid key in `{var}`: {reason}")]
    InvalidKey {
        /// The variable.
        var: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Verification is on and the object has no signature.
    #[error(
        "object `{object}` is not signed (no `{object}.sig`) and `TASKRUNNER_CACHE_VERIFY_KEY` is set"
    )]
    Unsigned {
        /// The object name.
        object: String,
    },
    /// Verification is on and the signature does not match.
    #[error("signature of `{object}` does not match `TASKRUNNER_CACHE_VERIFY_KEY`")]
    BadSignature {
        /// The object name.
        object: String,
    },
    /// A setting from the environment is invalid.
    #[error(transparent)]
    Env(#[from] tr_common::env::EnvError),
    /// The state directory cannot be used.
    #[error(transparent)]
    State(#[from] tr_common::state::StateError),
}

/// What a remote store said, already rendered without secrets.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RemoteError(pub String);

impl CacheError {
    /// Whether the archive itself was bad (truncated, corrupt, unsafe or
    /// unsigned), rather than the store or the local disk.
    pub fn is_bad_archive(&self) -> bool {
        matches!(
            self,
            CacheError::Corrupt { .. }
                | CacheError::UnsafeEntry { .. }
                | CacheError::Unsigned { .. }
                | CacheError::BadSignature { .. }
        )
    }
}
