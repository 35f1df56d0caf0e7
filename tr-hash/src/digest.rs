//! Reading and digesting the listed files, in parallel, trusting the stat
//! cache for those whose stamp has not moved.
//!
//! Contents are digested with BLAKE3: it is a cryptographic hash, so a
//! digest stands for the content even against someone crafting files,
//! and it is several times faster than SHA-256 without the SHA
//! extensions, thanks to SIMD, which matters when a cold run reads every
//! input of a large tree.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use crate::HashError;
use crate::stamp::Stamp;

/// What a listed path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A regular file: whether its owner may execute it, and the digest
    /// of its bytes.
    File { executable: bool, digest: [u8; 32] },
    /// A symbolic link and its target, which is not followed.
    Symlink(Vec<u8>),
    /// Nothing: the path is in git's index but not in the work tree.
    Missing,
    /// A directory where git lists a file: a submodule, a nested
    /// repository, or a file replaced by a directory.
    Directory,
}

/// What was found for one path, and whether it may be trusted next time.
#[derive(Debug)]
pub struct Examined {
    pub content: Content,
    /// The stamp to keep in the cache; `None` when the content must be
    /// read again next time (racy, or changed while being read).
    pub keep: Option<Stamp>,
    /// Whether the content was read now, so the cache is worth rewriting.
    pub was_read: bool,
}

/// Below this many paths, threads cost more than they save.
const PATHS_PER_THREAD: usize = 64;

/// Examines every path of `work`: each pairs a location with what the
/// cache knew of it. Results come back in the same order.
pub fn examine_all(
    work: &[(std::path::PathBuf, Option<(Stamp, Content)>)],
    scan_start: SystemTime,
) -> Result<Vec<Examined>, HashError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(work.len().div_ceil(PATHS_PER_THREAD))
        .max(1);
    let examine_at = |i: usize| {
        let (path, known) = &work[i];
        examine(path, known.as_ref(), scan_start)
    };
    if threads == 1 {
        return (0..work.len()).map(examine_at).collect();
    }

    // Threads take the next path from a shared counter, so one huge file
    // does not hold back a whole share of the others.
    let next = AtomicUsize::new(0);
    let mut parts: Vec<Vec<(usize, Result<Examined, HashError>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= work.len() {
                            break done;
                        }
                        done.push((i, examine_at(i)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut slots: Vec<Option<Result<Examined, HashError>>> = Vec::new();
    slots.resize_with(work.len(), || None);
    for (i, result) in parts.drain(..).flatten() {
        slots[i] = Some(result);
    }
    slots
        .into_iter()
        .map(|slot| slot.expect("every index is taken exactly once"))
        .collect()
}

/// Examines one path, reading it only when `known` does not match.
pub fn examine(
    path: &Path,
    known: Option<&(Stamp, Content)>,
    scan_start: SystemTime,
) -> Result<Examined, HashError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if is_gone(&e) => return Ok(unkept(Content::Missing)),
        Err(source) => return Err(read_error(path, source)),
    };
    let stamp = Stamp::of(&meta);
    if let Some((known_stamp, content)) = known
        && *known_stamp == stamp
    {
        return Ok(Examined {
            content: content.clone(),
            keep: Some(stamp),
            was_read: false,
        });
    }

    let kind = meta.file_type();
    let (content, stable) = if kind.is_dir() {
        return Ok(unkept(Content::Directory));
    } else if kind.is_symlink() {
        let target = fs::read_link(path).map_err(|source| read_error(path, source))?;
        (
            Content::Symlink(target.into_os_string().into_encoded_bytes()),
            true,
        )
    } else if kind.is_file() {
        match read_file(path, &stamp) {
            Ok(read) => read,
            Err(e) if is_gone(&e) => return Ok(unkept(Content::Missing)),
            Err(source) => return Err(read_error(path, source)),
        }
    } else {
        return Err(HashError::Special {
            path: path.display().to_string(),
        });
    };
    Ok(Examined {
        content,
        keep: (stable && !stamp.is_racy(scan_start)).then_some(stamp),
        was_read: true,
    })
}

/// Digests a regular file; also tells whether its stamp stayed `stamp`
/// while it was read.
fn read_file(path: &Path, stamp: &Stamp) -> io::Result<(Content, bool)> {
    // No following a symlink swapped in since `lstat`, and no blocking on
    // a FIFO swapped in either.
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(&mut file)?;
    let after = Stamp::of(&file.metadata()?);
    let content = Content::File {
        executable: stamp.mode & 0o100 != 0,
        digest: *hasher.finalize().as_bytes(),
    };
    Ok((content, after == *stamp))
}

/// Content that costs nothing to find again, so it is never cached.
fn unkept(content: Content) -> Examined {
    Examined {
        content,
        keep: None,
        was_read: false,
    }
}

/// Whether an error means the path is not there (any more), including a
/// parent that turned into a file.
fn is_gone(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn read_error(path: &Path, source: io::Error) -> HashError {
    HashError::Read {
        path: path.display().to_string(),
        source,
    }
}
