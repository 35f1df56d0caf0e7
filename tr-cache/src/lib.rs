//! Task output archives in an object store.
//!
//! An archive is a tar of a task's output paths, relative to the cache
//! root, compressed with zstd level 3 and its content checksum
//! ([`pack`]), restored by [`unpack`] without ever writing outside the
//! root. Archives live in a [`Store`]: an S3 bucket, or a directory that
//! needs no server. [`Cache`] ties the store, the object names
//! ([`names`]) and optional signatures ([`trust`]) together; it is what
//! `tr-run` and the `tr-cache` binary call.

pub mod cache;
mod cli;
pub mod error;
pub mod names;
pub mod pack;
mod progress;
pub mod store;
pub mod trust;
pub mod unpack;

pub use cache::{Cache, SaveStats};
pub use cli::{ROOT_VAR, command, run};
pub use error::CacheError;
pub use names::Bundle;
pub use pack::Outputs;
pub use store::Store;
pub use trust::Trust;
