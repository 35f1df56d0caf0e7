//! `tr-hash`: hashing a task's inputs, the saved hash of its last
//! success, and explaining why a task ran again.
//!
//! A hash is made in two steps. First every input becomes one line of
//! text, the *hash input*, meant for people ([`Computed::hash_input`]):
//!
//! ```text
//! env RUSTFLAGS 9c1f…(digest of the value)
//! file src/main.rs 644 4a7b…(digest of the content)
//! file "odd name\n.sh" 755 0d2e…
//! raw "v2 release"
//! symlink current releases/7
//! ```
//!
//! The lines are sorted and repeated ones dropped, so the order of the
//! inputs does not matter, while any change to a path, content,
//! executable bit, link target, string, variable or command output
//! changes its line. The hash is the BLAKE3 digest of that text, in hex.
//! Names and strings that hold spaces, quotes, control characters or
//! bytes that are not UTF-8 are quoted and escaped (see `quote.rs`), so a
//! line never spans two and no two inputs share a line.
//!
//! How a runner uses it, around one task:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::ffi::OsStr;
//! use tr_hash::{HashInfo, Inputs, Loaded};
//!
//! let state = tr_common::StateDir::from_env()?;
//! let name = tr_common::TaskName::new(OsStr::new("build"))?;
//! let cwd = std::env::current_dir()?;
//! let inputs = Inputs { paths: vec!["src".into()], ..Inputs::default() };
//!
//! let computed = tr_hash::compute(&inputs, &cwd, &state)?;
//! let saved = tr_hash::load(&state, &name);
//! if saved.info().is_some_and(|info| info.hash == computed.hash) {
//!     return Ok(()); // skip: inputs unchanged
//! }
//! if let Loaded::Saved(info) = &saved {
//!     eprint!("{}", tr_hash::explain_diff(&info.hash_input, &computed.hash_input));
//! }
//! // ... the task runs and succeeds ...
//! let after = computed.rehash_files(&state)?;
//! let changed = computed.changed_files(&after);
//! if changed.is_empty() {
//!     let info = HashInfo {
//!         hash: computed.hash,
//!         hash_input: computed.hash_input,
//!         main_branch_commit: None,
//!     };
//!     tr_hash::save(&state, &name, &info)?;
//! } else {
//!     eprintln!("inputs changed while the task ran: {}", changed.join(", "));
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Which files a path stands for is told in `list.rs`; how unchanged
//! files are recognised without reading them, in `cache.rs` and
//! `stamp.rs`.

mod cache;
mod cli;
mod diff;
mod digest;
mod error;
mod files;
mod inputs;
mod list;
mod quote;
mod repo;
mod saved;
mod stamp;
mod watch;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tr_common::StateDir;

pub use cli::{Args, command, run};
pub use diff::explain_diff;
pub use error::HashError;
pub use inputs::Inputs;
pub use saved::{HashInfo, Loaded, hash_file, load, save};

use files::FileLine;

/// The hash of a set of inputs, with what is needed to check the file
/// inputs again cheaply after the task ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computed {
    /// The BLAKE3 digest of [`hash_input`](Self::hash_input), 64 hex digits.
    pub hash: String,
    /// The hashed text, one input per line, each line ending in `\n`.
    pub hash_input: String,
    paths: Vec<OsString>,
    cwd: PathBuf,
    files: Vec<FileLine>,
    others: Vec<String>,
}

/// Hashes `inputs` as seen from `cwd`. The stat cache lives in `state`.
///
/// Input commands run once each, in the order given.
pub fn compute(inputs: &Inputs, cwd: &Path, state: &StateDir) -> Result<Computed, HashError> {
    let files = if inputs.paths.is_empty() {
        Vec::new()
    } else {
        files::hash_paths(&inputs.paths, cwd, state)?
    };
    let others = inputs::other_lines(inputs, cwd)?;
    Ok(Computed::assemble(
        inputs.paths.clone(),
        cwd.to_owned(),
        files,
        others,
    ))
}

impl Computed {
    fn assemble(
        paths: Vec<OsString>,
        cwd: PathBuf,
        files: Vec<FileLine>,
        others: Vec<String>,
    ) -> Computed {
        let mut lines: Vec<&str> = files
            .iter()
            .map(|f| f.line.as_str())
            .chain(others.iter().map(String::as_str))
            .collect();
        // Mostly in order already: file lines come sorted by name. The
        // stable sort finds such runs and is then nearly linear.
        lines.sort();
        lines.dedup();
        let mut hash_input = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            hash_input.push_str(line);
            hash_input.push('\n');
        }
        Computed {
            hash: blake3::hash(hash_input.as_bytes()).to_hex().to_string(),
            hash_input,
            paths,
            cwd,
            files,
            others,
        }
    }

    /// Hashes the file inputs again, keeping the other inputs as they
    /// were (commands are not run again): what `tr-run` does after a task
    /// succeeded, to see whether it changed its own inputs.
    pub fn rehash_files(&self, state: &StateDir) -> Result<Computed, HashError> {
        let files = if self.paths.is_empty() {
            Vec::new()
        } else {
            files::hash_paths(&self.paths, &self.cwd, state)?
        };
        Ok(Computed::assemble(
            self.paths.clone(),
            self.cwd.clone(),
            files,
            self.others.clone(),
        ))
    }

    /// The names of the files that differ between `self` and `now`
    /// (changed, added or gone), sorted, as shown in the hash input.
    pub fn changed_files(&self, now: &Computed) -> Vec<String> {
        let before: std::collections::HashMap<&str, &str> = self
            .files
            .iter()
            .map(|f| (f.name(), f.line.as_str()))
            .collect();
        let after: std::collections::HashMap<&str, &str> = now
            .files
            .iter()
            .map(|f| (f.name(), f.line.as_str()))
            .collect();
        let mut changed: Vec<String> = before
            .iter()
            .filter(|(name, line)| after.get(*name) != Some(*line))
            .map(|(name, _)| (*name).to_owned())
            .chain(
                after
                    .keys()
                    .filter(|name| !before.contains_key(*name))
                    .map(|name| (*name).to_owned()),
            )
            .collect();
        changed.sort_unstable();
        changed
    }
}
