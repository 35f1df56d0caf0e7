//! The stat cache: one file per set of input paths, under `hash/stat/` in
//! the state directory, named by a digest of the paths and the work tree
//! (see [`crate::list::Plan::key`]).
//!
//! It holds the list of files with the evidence that vouches for it, and
//! for each file the stamp it had when read and what was found. A file
//! whose stamp is unchanged is not read again. Two tasks with the same
//! inputs may write it at once; each write replaces the file whole, and
//! either version is correct.
//!
//! The format is private and versioned by its first line; a file that
//! does not parse is ignored, which costs one cold run.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::digest::Content;
use crate::list::{Name, Origin};
use crate::stamp::Stamp;
use crate::watch::Watch;

const MAGIC: &[u8] = b"tr-hash stat cache 1\n";

/// What the cache knows of one listed file.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: Name,
    pub known: Option<(Stamp, Content)>,
}

/// A whole cache file.
#[derive(Debug, Default)]
pub struct Cache {
    /// The evidence for the list; `None` when the list must be made again.
    pub watch: Option<Vec<Watch>>,
    pub entries: Vec<Entry>,
}

/// Cache files not written for this long are removed: their set of
/// paths is probably gone (a renamed task, a temporary directory). One
/// still in use costs a cold run.
const UNUSED_FOR: Duration = Duration::from_secs(30 * 86_400);

/// Reads the cache at `path` made for `key`; `None` when it is missing,
/// unreadable, stale in format or made for another key.
pub fn load(path: &Path, key: &blake3::Hash) -> Option<Cache> {
    let bytes = tr_common::state::read_optional(path).ok()??;
    decode(&bytes, key)
}

/// Removes the cache files in `dir` that have not been written for a
/// long time. Only worth doing when a new cache file is about to appear.
pub fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let unused = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|written| written.elapsed().ok())
            .is_some_and(|age| age > UNUSED_FOR);
        if unused && entry.file_name().as_bytes().ends_with(b".cache") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes the cache; a failure only costs speed next time, so it is
/// ignored.
pub fn store(path: &Path, key: &blake3::Hash, cache: &Cache) {
    let _ = tr_common::state::write_atomic(path, &encode(key, cache));
}

fn encode(key: &blake3::Hash, cache: &Cache) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + cache.entries.len() * 100);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key.as_bytes());
    match &cache.watch {
        None => out.push(0),
        Some(watch) => {
            out.push(1);
            put_len(&mut out, watch.len());
            for item in watch {
                put_bytes(&mut out, item.path.as_os_str().as_bytes());
                put_stamp(&mut out, item.stamp.as_ref());
            }
        }
    }
    put_len(&mut out, cache.entries.len());
    for entry in &cache.entries {
        out.push(entry.name.origin as u8);
        put_bytes(&mut out, &entry.name.bytes);
        match &entry.known {
            None => out.push(0),
            Some((stamp, Content::File { executable, digest })) => {
                out.push(if *executable { 2 } else { 1 });
                put_stamp(&mut out, Some(stamp));
                out.extend_from_slice(digest);
            }
            Some((stamp, Content::Symlink(target))) => {
                out.push(3);
                put_stamp(&mut out, Some(stamp));
                put_bytes(&mut out, target);
            }
            // Cheap to find again, so never kept.
            Some((_, Content::Missing | Content::Directory)) => out.push(0),
        }
    }
    out
}

fn decode(bytes: &[u8], key: &blake3::Hash) -> Option<Cache> {
    let mut r = Reader(bytes.strip_prefix(MAGIC)?);
    if r.take(32)? != key.as_bytes() {
        return None;
    }
    let watch = match r.byte()? {
        0 => None,
        _ => {
            let count = r.len()?;
            let mut watch = Vec::with_capacity(count.min(1 << 20));
            for _ in 0..count {
                let path = PathBuf::from(OsStr::from_bytes(r.bytes()?));
                watch.push(Watch {
                    path,
                    stamp: r.stamp()?,
                });
            }
            Some(watch)
        }
    };
    let count = r.len()?;
    let mut entries = Vec::with_capacity(count.min(1 << 20));
    for _ in 0..count {
        let origin = match r.byte()? {
            0 => Origin::Repo,
            1 => Origin::Cwd,
            _ => return None,
        };
        let name = Name {
            origin,
            bytes: r.bytes()?.to_vec(),
        };
        let known = match r.byte()? {
            0 => None,
            kind @ (1 | 2) => {
                let stamp = r.stamp()??;
                let digest = r.take(32)?.try_into().ok()?;
                let executable = kind == 2;
                Some((stamp, Content::File { executable, digest }))
            }
            3 => {
                let stamp = r.stamp()??;
                Some((stamp, Content::Symlink(r.bytes()?.to_vec())))
            }
            _ => return None,
        };
        entries.push(Entry { name, known });
    }
    r.0.is_empty().then_some(Cache { watch, entries })
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_stamp(out: &mut Vec<u8>, stamp: Option<&Stamp>) {
    let Some(s) = stamp else {
        out.push(0);
        return;
    };
    out.push(1);
    for field in [s.dev, s.ino, u64::from(s.mode), s.size] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&s.mtime_ns.to_le_bytes());
    out.extend_from_slice(&s.ctime_ns.to_le_bytes());
}

/// A cursor over the cache's bytes; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.len()?;
        self.take(len)
    }

    /// A stamp that may be absent: `Some(None)` for a recorded absence,
    /// `None` when the bytes run out.
    fn stamp(&mut self) -> Option<Option<Stamp>> {
        if self.byte()? == 0 {
            return Some(None);
        }
        let [dev, ino, mode, size, mtime, ctime] = [(); 6].map(|()| self.u64());
        Some(Some(Stamp {
            dev: dev?,
            ino: ino?,
            mode: u32::try_from(mode?).ok()?,
            size: size?,
            mtime_ns: mtime? as i64,
            ctime_ns: ctime? as i64,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Cache {
        let stamp = Stamp {
            dev: 1,
            ino: 2,
            mode: 0o100_755,
            size: 3,
            mtime_ns: -4,
            ctime_ns: 5,
        };
        let name = |bytes: &[u8]| Name {
            origin: Origin::Repo,
            bytes: bytes.to_vec(),
        };
        Cache {
            watch: Some(vec![Watch {
                path: PathBuf::from("/w/src"),
                stamp: None,
            }]),
            entries: vec![
                Entry {
                    name: name(b"a b\n"),
                    known: Some((
                        stamp,
                        Content::File {
                            executable: true,
                            digest: [7; 32],
                        },
                    )),
                },
                Entry {
                    name: name(b"link"),
                    known: Some((stamp, Content::Symlink(b"../t".to_vec()))),
                },
                Entry {
                    name: name(b"gone"),
                    known: None,
                },
            ],
        }
    }

    #[test]
    fn round_trips() {
        let key = blake3::hash(b"k");
        let bytes = encode(&key, &sample());
        let back = decode(&bytes, &key).expect("decodes");
        assert_eq!(back.watch, sample().watch);
        assert_eq!(back.entries.len(), 3);
        assert_eq!(back.entries[0].known, sample().entries[0].known);
        assert_eq!(back.entries[1].known, sample().entries[1].known);
        assert_eq!(encode(&key, &back), bytes);
    }

    #[test]
    fn rejects_other_keys_and_every_truncation() {
        let key = blake3::hash(b"k");
        let bytes = encode(&key, &sample());
        assert!(decode(&bytes, &blake3::hash(b"other")).is_none());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], &key).is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        let key = blake3::hash(b"k");
        let bytes = encode(&key, &sample());
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[at] ^= flip;
                let _ = decode(&bad, &key);
            }
        }
    }

    #[test]
    fn prune_removes_only_long_unwritten_cache_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.cache");
        let fresh = dir.path().join("fresh.cache");
        let other = dir.path().join("old.other");
        for path in [&old, &fresh, &other] {
            std::fs::write(path, b"x").unwrap();
        }
        let long_ago = std::time::UNIX_EPOCH + Duration::from_secs(946_684_800);
        for path in [&old, &other] {
            let file = std::fs::File::options().write(true).open(path).unwrap();
            file.set_modified(long_ago).unwrap();
        }
        prune(dir.path());
        assert!(!old.exists());
        assert!(fresh.exists() && other.exists());
    }
}
