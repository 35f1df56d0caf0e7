//! Turning a task's raw output into labelled lines.
//!
//! A shown line looks like `HH:MM:SS [NAME] stdout | text` and a logged
//! line like `HH:MM:SS stdout | text`; the time and its space are left out
//! when timestamps are off. Runner messages use a level (`debug`, `info`,
//! `warn`, `error`) where a task line has its stream name.
//!
//! [`LineSplitter`] cuts a byte stream into lines, [`LineFormat`] renders
//! them, and [`Batch`] groups whole lines into single `write` calls so that
//! lines of parallel tasks never break each other.

mod batch;
mod cli;
mod format;
mod splitter;
pub mod timeline;

pub use splitter::DEFAULT_LINE_LIMIT;

pub use batch::{Batch, write_fd};
pub use cli::{Args, command, run};
pub use format::{Label, Level, LineFormat, Stream};
pub use splitter::LineSplitter;
