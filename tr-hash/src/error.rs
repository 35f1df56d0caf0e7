//! The one error type of this crate.

use std::io;

/// Why inputs could not be hashed or a saved hash not written.
///
/// Messages are lowercase fragments naming the path or command in
/// backticks; the cause, when there is one, is the error's source.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// An input path matched no file.
    #[error("input path `{path}` matches no file (missing, or ignored by git)")]
    NoMatch {
        /// The path as given.
        path: String,
    },
    /// A file or directory could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The path.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// An input is a device, socket or FIFO, which has no content to hash.
    #[error("input `{path}` is not a regular file, directory or symlink")]
    Special {
        /// The path.
        path: String,
    },
    /// `git` could not be started.
    #[error("cannot run `git` in `{dir}`")]
    GitSpawn {
        /// The directory it was run in.
        dir: String,
        /// What went wrong.
        source: io::Error,
    },
    /// `git` ran and failed.
    #[error("`git {args}` failed in `{dir}`: {stderr}")]
    Git {
        /// The arguments, for the message.
        args: String,
        /// The directory it was run in.
        dir: String,
        /// Its error output, on one line.
        stderr: String,
    },
    /// An `--env` name that cannot be a variable name.
    #[error("invalid variable name `{name}` for `--env`")]
    EnvName {
        /// The name as given.
        name: String,
    },
    /// An `--input-cmd` could not be started.
    #[error("cannot run input command `{cmd}` with `bash -c`")]
    InputCmdSpawn {
        /// The command.
        cmd: String,
        /// What went wrong.
        source: io::Error,
    },
    /// An `--input-cmd` exited with a non-zero code.
    #[error("input command `{cmd}` failed with exit code {code}")]
    InputCmd {
        /// The command.
        cmd: String,
        /// Its exit code, 128 + N for a death by signal N.
        code: i32,
    },
    /// The state directory cannot be used.
    #[error(transparent)]
    State(#[from] tr_common::state::StateError),
    /// A saved hash could not be written.
    #[error("cannot write `{path}`")]
    Save {
        /// The file.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
}
