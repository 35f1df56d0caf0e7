//! The directory store: objects as files under one directory, which may
//! be shared by several machines over a network file system.
//!
//! Writes go to a temporary file beside the object and are renamed into
//! place, so two machines saving the same archive at once each replace
//! it whole, and a reader sees one of them. The archives are bounded in
//! total size: after each save, the least recently used ones (by
//! modification time, which a restore refreshes) are removed until the
//! rest fit.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use tr_common::StateDir;

use crate::CacheError;

/// Names the store's directory.
pub const DIR_VAR: &str = "TASKRUNNER_CACHE_DIRECTORY";
/// Bounds the total size of the archives.
pub const MAX_SIZE_VAR: &str = "TASKRUNNER_CACHE_MAX_SIZE";
const DEFAULT_MAX_SIZE: u64 = 10 << 30;
/// Temporary files older than this were left by a crashed writer.
const STALE_TEMPORARY: Duration = Duration::from_secs(24 * 3600);

/// Objects stored as files under a directory.
#[derive(Debug, Clone)]
pub struct DirStore {
    dir: PathBuf,
    max_size: u64,
}

impl DirStore {
    /// The store named by `TASKRUNNER_CACHE_DIRECTORY`, else `cache/` in
    /// the state directory, bounded by `TASKRUNNER_CACHE_MAX_SIZE`.
    pub fn from_env(state: &StateDir) -> Result<DirStore, CacheError> {
        let dir = match tr_common::env::non_empty(DIR_VAR) {
            Some(dir) => PathBuf::from(dir),
            None => state.dir("cache")?,
        };
        let max_size = match tr_common::env::non_empty(MAX_SIZE_VAR) {
            Some(raw) => {
                let text = raw.to_string_lossy();
                parse_size(&text).ok_or_else(|| CacheError::InvalidSize {
                    var: MAX_SIZE_VAR,
                    value: text.into_owned(),
                })?
            }
            None => DEFAULT_MAX_SIZE,
        };
        Ok(DirStore::new(dir, max_size))
    }

    /// A store in `dir` keeping at most `max_size` bytes of archives.
    pub fn new(dir: PathBuf, max_size: u64) -> DirStore {
        DirStore { dir, max_size }
    }

    /// The file of `key`, for messages.
    pub fn location(&self, key: &str) -> String {
        self.dir.join(key).display().to_string()
    }

    /// The file of `key`; refuses keys that would leave the directory.
    fn path(&self, key: &str) -> Result<PathBuf, CacheError> {
        let bad = key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
        if bad {
            return Err(CacheError::InvalidName {
                what: "object name",
                value: key.to_owned(),
                reason: "a part between `/` is empty, `.` or `..`",
            });
        }
        Ok(self.dir.join(key))
    }

    /// Opens object `key`; `None` when it does not exist.
    pub fn open(&self, key: &str) -> Result<Option<File>, CacheError> {
        let path = self.path(key)?;
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path);
        match file {
            Ok(file) => {
                // Marks the archive as recently used for eviction. On a
                // shared directory the file may belong to another user,
                // who then decides its age.
                let _ = file.set_modified(SystemTime::now());
                Ok(Some(file))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CacheError::Read { path, source }),
        }
    }

    /// Stores what `source` yields as `key`, through a temporary file.
    pub fn put(&self, key: &str, source: &mut (dyn Read + Send)) -> Result<u64, CacheError> {
        let path = self.path(key)?;
        let write_err = |source| CacheError::Write {
            path: path.clone(),
            source,
        };
        let parent = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(parent).map_err(write_err)?;

        let tmp = temporary_name(&path);
        let written = copy_into(&tmp, source).and_then(|n| fs::rename(&tmp, &path).map(|()| n));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        let written = written.map_err(write_err)?;

        if key.starts_with("bundles/") {
            self.evict(&path)?;
        }
        Ok(written)
    }

    /// Removes the least recently used archives until the rest fit in the
    /// size bound; `keep` (just written) always stays.
    fn evict(&self, keep: &Path) -> Result<(), CacheError> {
        let bundles = self.dir.join("bundles");
        let read_err = |source| CacheError::Read {
            path: bundles.clone(),
            source,
        };
        let now = SystemTime::now();
        let mut archives = Vec::new();
        let mut total = 0;
        for entry in fs::read_dir(&bundles).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let modified = meta.modified().unwrap_or(now);
            if name.starts_with('.') {
                let age = now.duration_since(modified).unwrap_or_default();
                if name.ends_with(".tmp") && age > STALE_TEMPORARY {
                    let _ = fs::remove_file(entry.path());
                }
                continue;
            }
            if !meta.is_file() || name.ends_with(crate::names::SIGNATURE_SUFFIX) {
                continue;
            }
            total += meta.len();
            archives.push((modified, entry.path(), meta.len()));
        }
        if total <= self.max_size {
            return Ok(());
        }

        archives.sort();
        for (_, path, len) in archives {
            if total <= self.max_size {
                break;
            }
            if path == keep {
                continue;
            }
            remove_if_present(&path)?;
            let mut signature = path.into_os_string();
            signature.push(crate::names::SIGNATURE_SUFFIX);
            remove_if_present(Path::new(&signature))?;
            total -= len;
        }
        Ok(())
    }
}

fn remove_if_present(path: &Path) -> Result<(), CacheError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(CacheError::Write {
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// `.NAME.PID.N.tmp` beside `path`: unique per process and call, and
/// hidden from eviction.
fn temporary_name(path: &Path) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    path.with_file_name(name)
}

fn copy_into(tmp: &Path, source: &mut dyn Read) -> io::Result<u64> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(tmp)?;
    let written = io::copy(source, &mut file)?;
    file.flush()?;
    Ok(written)
}

/// Reads `500M`, `10G`, `1T` or plain bytes. Suffixes are binary (`K` is
/// 1024) and may be followed by `B` or `iB`, in any case.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let number = lower.trim_end_matches("ib").trim_end_matches('b');
    let (digits, shift) = match number.chars().last()? {
        'k' => (&number[..number.len() - 1], 10),
        'm' => (&number[..number.len() - 1], 20),
        'g' => (&number[..number.len() - 1], 30),
        't' => (&number[..number.len() - 1], 40),
        _ => (number, 0),
    };
    let value: u64 = digits.trim().parse().ok()?;
    value.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_have_binary_units() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("10G"), Some(10 << 30));
        assert_eq!(parse_size("500m"), Some(500 << 20));
        assert_eq!(parse_size("2KiB"), Some(2048));
        assert_eq!(parse_size("1TB"), Some(1 << 40));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999T"), None);
    }

    #[test]
    fn keys_stay_inside_the_directory() {
        let store = DirStore::new(PathBuf::from("/nonexistent"), 1);
        assert!(store.path("latest/../../etc/passwd").is_err());
        assert!(store.path("/etc/passwd").is_err());
        assert!(store.path("latest/a//b").is_err());
        assert!(store.path("latest/build-main.txt").is_ok());
    }
}
