//! From input paths to hash-input lines: list, look in the stat cache,
//! read what changed, remember what was read.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

use tr_common::StateDir;

use crate::HashError;
use crate::cache::{self, Cache, Entry};
use crate::digest::{self, Content};
use crate::list::{Name, Plan, Watch};
use crate::quote;

/// The hash-input line of one listed file, with its name as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLine {
    pub name: String,
    pub line: String,
}

/// Lists and digests the files that `paths` name, as seen from `cwd`.
pub fn hash_paths(
    paths: &[OsString],
    cwd: &Path,
    state: &StateDir,
) -> Result<Vec<FileLine>, HashError> {
    let scan_start = SystemTime::now();
    let plan = Plan::new(paths, cwd)?;
    let key = plan.key();
    let cache_path = state
        .dir("hash/stat")?
        .join(format!("{}.cache", &key.to_hex()[..32]));
    let old = cache::load(&cache_path, &key);

    let list_holds = old
        .watch
        .as_ref()
        .is_some_and(|watch| watch.iter().all(Watch::holds));
    let (watch, entries) = if list_holds {
        (old.watch, old.entries)
    } else {
        let listing = plan.list(scan_start)?;
        let mut known: HashMap<Name, _> = old
            .entries
            .into_iter()
            .filter_map(|e| Some((e.name, e.known?)))
            .collect();
        let entries = listing
            .names
            .into_iter()
            .map(|name| Entry {
                known: known.remove(&name),
                name,
            })
            .collect();
        (listing.watch, entries)
    };

    let work: Vec<_> = entries
        .iter()
        .map(|e| (plan.locate(&e.name), e.known.clone()))
        .collect();
    let examined = digest::examine_all(&work, scan_start)?;

    let lines = entries
        .iter()
        .zip(&examined)
        .map(|(entry, found)| line_of(&entry.name, &found.content))
        .collect();
    if !list_holds || examined.iter().any(|e| e.was_read) {
        let entries = entries
            .into_iter()
            .zip(examined)
            .map(|(entry, found)| Entry {
                name: entry.name,
                known: found.keep.map(|stamp| (stamp, found.content)),
            })
            .collect();
        cache::store(&cache_path, &key, &Cache { watch, entries });
    }
    Ok(lines)
}

/// The hash-input line for a file: `file NAME 644|755 DIGEST`,
/// `symlink NAME TARGET`, `deleted NAME` or `directory NAME`.
fn line_of(name: &Name, content: &Content) -> FileLine {
    let name = quote::field(&name.bytes);
    let line = match content {
        Content::File { executable, digest } => {
            let mode = if *executable { "755" } else { "644" };
            let mut line = format!("file {name} {mode} ");
            for byte in digest {
                let _ = write!(line, "{byte:02x}");
            }
            line
        }
        Content::Symlink(target) => format!("symlink {name} {}", quote::field(target)),
        Content::Missing => format!("deleted {name}"),
        Content::Directory => format!("directory {name}"),
    };
    FileLine { name, line }
}
