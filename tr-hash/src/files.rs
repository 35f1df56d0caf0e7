//! From input paths to hash-input lines: list, look in the stat cache,
//! read what changed, remember what was read.

use std::collections::HashMap;
use std::ffi::OsString;
use std::ops::Range;
use std::path::Path;

use tr_common::StateDir;

use crate::HashError;
use crate::cache::{self, Cache, Entry};
use crate::digest::{self, Content};
use crate::list::{Name, Plan};
use crate::quote;
use crate::stamp::FileTime;
use crate::watch::Watch;

/// The hash-input line of one listed file, and where its name is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLine {
    pub line: String,
    name: Range<usize>,
}

impl FileLine {
    /// The file's name, as shown in the line.
    pub fn name(&self) -> &str {
        &self.line[self.name.clone()]
    }
}

/// Lists and digests the files that `paths` name, as seen from `cwd`.
pub fn hash_paths(
    paths: &[OsString],
    cwd: &Path,
    state: &StateDir,
) -> Result<Vec<FileLine>, HashError> {
    let scan_start = FileTime::now();
    let plan = Plan::new(paths, cwd)?;
    let key = plan.key();
    let cache_dir = state.dir("hash/stat")?;
    let cache_path = cache_dir.join(format!("{}.cache", &key.to_hex()[..32]));
    let old = cache::load(&cache_path, &key).unwrap_or_else(|| {
        cache::prune(&cache_dir);
        Cache::default()
    });

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

    // Only what was read anew is carried back, boxed: on a warm run that
    // is nothing, and the results stay small.
    let results = digest::examine_all(&plan, &entries, scan_start, |entry, found| {
        let line = line_of(&entry.name, &found.content);
        let news = found
            .was_read
            .then(|| Box::new(found.keep.map(|stamp| (stamp, found.content))));
        (line, news)
    })?;
    let mut entries = entries;
    let mut rewrite = !list_holds;
    let mut lines = Vec::with_capacity(results.len());
    for (entry, (line, news)) in entries.iter_mut().zip(results) {
        if let Some(known) = news {
            entry.known = *known;
            rewrite = true;
        }
        lines.push(line);
    }
    if rewrite {
        cache::store(&cache_path, &key, &Cache { watch, entries });
    }
    Ok(lines)
}

/// The hash-input line for a file: `file NAME 644|755 DIGEST`,
/// `symlink NAME TARGET`, `deleted NAME` or `directory NAME`.
fn line_of(name: &Name, content: &Content) -> FileLine {
    let kind = match content {
        Content::File { .. } => "file ",
        Content::Symlink(_) => "symlink ",
        Content::Missing => "deleted ",
        Content::Directory => "directory ",
    };
    let mut line = String::with_capacity(kind.len() + name.bytes.len() + 70);
    line.push_str(kind);
    quote::push_field(&mut line, &name.bytes);
    let name = kind.len()..line.len();
    match content {
        Content::File { executable, digest } => {
            line.push_str(if *executable { " 755 " } else { " 644 " });
            line.push_str(&blake3::Hash::from_bytes(*digest).to_hex());
        }
        Content::Symlink(target) => {
            line.push(' ');
            quote::push_field(&mut line, target);
        }
        Content::Missing | Content::Directory => {}
    }
    FileLine { line, name }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Scratch {
        _dir: tempfile::TempDir,
        cwd: std::path::PathBuf,
        state: StateDir,
    }

    fn scratch() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path().join("work");
        std::fs::create_dir(&cwd).unwrap();
        let state = StateDir::open(dir.path().join("state")).unwrap();
        Scratch {
            _dir: dir,
            cwd,
            state,
        }
    }

    fn cache_file(s: &Scratch, paths: &[OsString]) -> (std::path::PathBuf, blake3::Hash) {
        let key = Plan::new(paths, &s.cwd).unwrap().key();
        let path = s
            .state
            .root()
            .join("hash/stat")
            .join(format!("{}.cache", &key.to_hex()[..32]));
        (path, key)
    }

    #[test]
    fn racy_entries_are_not_kept_and_settled_ones_are_trusted() {
        let s = scratch();
        std::fs::write(s.cwd.join("f"), "aaaa").unwrap();
        let paths = [OsString::from("f")];
        let (path, key) = cache_file(&s, &paths);

        // Just written: a same-size rewrite within the timestamps' lag
        // would go unseen, so the digest must not be kept.
        let fresh = hash_paths(&paths, &s.cwd, &s.state).unwrap();
        assert!(cache::load(&path, &key).unwrap().entries[0].known.is_none());

        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(hash_paths(&paths, &s.cwd, &s.state).unwrap(), fresh);
        let mut cache = cache::load(&path, &key).unwrap();
        let Some((_, Content::File { digest, .. })) = &mut cache.entries[0].known else {
            panic!("a settled file is kept: {cache:?}");
        };

        // Prove the cache is trusted: a planted digest comes back as is.
        *digest = [0; 32];
        cache::store(&path, &key, &cache);
        let planted = hash_paths(&paths, &s.cwd, &s.state).unwrap();
        assert!(planted[0].line.ends_with(&"00".repeat(32)), "{planted:?}");
        assert_eq!(planted[0].name(), "f");

        // Any change of stamp means reading again.
        std::fs::write(s.cwd.join("f"), "aaaa").unwrap();
        assert_eq!(hash_paths(&paths, &s.cwd, &s.state).unwrap(), fresh);
    }
}
