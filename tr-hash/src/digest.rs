//! Reading and digesting the listed files, in parallel, trusting the stat
//! cache for those whose stamp has not moved.
//!
//! Contents are digested with BLAKE3: it is a cryptographic hash, so a
//! digest stands for the content even against someone crafting files,
//! and it is several times faster than SHA-256 without the SHA
//! extensions, thanks to SIMD, which matters when a cold run reads every
//! input of a large tree.

use std::ffi::{CStr, OsStr};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::HashError;
use crate::cache::Entry;
use crate::list::Plan;
use crate::stamp::{FileTime, Stamp};

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
const PATHS_PER_THREAD: usize = 256;

/// How many paths a thread takes at a time: neighbours share a directory.
const CHUNK: usize = 32;

/// Examines every entry, located through `plan`, trusting what the cache
/// knew of it when its stamp still matches, and turns what was found into
/// a result with `describe` on the same thread. Results come back in
/// order.
pub fn examine_all<T: Send>(
    plan: &Plan,
    entries: &[Entry],
    scan_start: FileTime,
    describe: impl Fn(&Entry, Examined) -> T + Sync,
) -> Result<Vec<T>, HashError> {
    // Asked only when there is enough to share: the answer costs six
    // system calls (cgroup files), a tenth of a small task's hashing.
    let threads = match entries.len() {
        0..=PATHS_PER_THREAD => 1,
        n => std::thread::available_parallelism()
            .map_or(1, |cores| cores.get())
            .min(n.div_ceil(PATHS_PER_THREAD)),
    };
    let work = |looker: &mut Looker, entry: &Entry| Ok(describe(entry, looker.examine(entry)?));
    if threads == 1 {
        let mut looker = Looker::new(plan, scan_start);
        return entries.iter().map(|e| work(&mut looker, e)).collect();
    }

    // Threads take the next chunk of results to fill, so one huge file
    // does not hold back a whole share of the others.
    let mut slots: Vec<Option<Result<T, HashError>>> = Vec::new();
    slots.resize_with(entries.len(), || None);
    let chunks = Mutex::new(slots.chunks_mut(CHUNK).zip(entries.chunks(CHUNK)));
    let drain = || {
        let mut looker = Looker::new(plan, scan_start);
        loop {
            let next = chunks.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((slots, entries)) = next else {
                break;
            };
            for (slot, entry) in slots.iter_mut().zip(entries) {
                *slot = Some(work(&mut looker, entry));
            }
        }
    };
    // This thread works too, beside the others.
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(drain);
        }
        drain();
    });
    slots
        .into_iter()
        .map(|slot| slot.expect("every chunk is taken exactly once"))
        .collect()
}

/// One thread's state while examining: buffers reused from path to path
/// and the directory last looked in.
struct Looker<'a> {
    plan: &'a Plan,
    scan_start: FileTime,
    path: PathBuf,
    dir: Vec<u8>,
    dir_fd: Option<OwnedFd>,
    c_name: Vec<u8>,
}

impl<'a> Looker<'a> {
    fn new(plan: &'a Plan, scan_start: FileTime) -> Looker<'a> {
        Looker {
            plan,
            scan_start,
            path: PathBuf::new(),
            dir: Vec::new(),
            dir_fd: None,
            c_name: Vec::new(),
        }
    }

    /// Examines one entry, reading it only when the cache's stamp does
    /// not match.
    fn examine(&mut self, entry: &Entry) -> Result<Examined, HashError> {
        self.plan.locate_into(&entry.name, &mut self.path);
        let stamp = match self.lstat() {
            Ok(stamp) => stamp,
            Err(e) if is_gone(&e) => return Ok(unkept(Content::Missing)),
            Err(source) => return Err(read_error(&self.path, source)),
        };
        if let Some((known_stamp, content)) = &entry.known
            && *known_stamp == stamp
        {
            return Ok(Examined {
                content: content.clone(),
                keep: Some(stamp),
                was_read: false,
            });
        }

        let path = self.path.as_path();
        let (content, stable) = match stamp.mode & libc::S_IFMT {
            libc::S_IFDIR => return Ok(unkept(Content::Directory)),
            libc::S_IFLNK => {
                let target = fs::read_link(path).map_err(|source| read_error(path, source))?;
                let target = target.into_os_string().into_encoded_bytes();
                (Content::Symlink(target), true)
            }
            libc::S_IFREG => match read_file(path, &stamp) {
                Ok(read) => read,
                Err(e) if is_gone(&e) => return Ok(unkept(Content::Missing)),
                Err(source) => return Err(read_error(path, source)),
            },
            _ => {
                return Err(HashError::Special {
                    path: path.display().to_string(),
                });
            }
        };
        Ok(Examined {
            content,
            keep: (stable && !stamp.is_racy(self.scan_start)).then_some(stamp),
            was_read: true,
        })
    }

    /// `lstat` of the current path. Neighbouring paths share a directory,
    /// so the directory is opened once and each file looked up in it
    /// (`fstatat`): the kernel then resolves one name instead of the
    /// whole path, a good part of a warm run's cost.
    fn lstat(&mut self) -> io::Result<Stamp> {
        let bytes = self.path.as_os_str().as_bytes();
        let Some(slash) = bytes.iter().rposition(|&b| b == b'/') else {
            return fs::symlink_metadata(&self.path).map(|m| Stamp::of(&m));
        };
        let (dir, name) = (&bytes[..slash.max(1)], &bytes[slash + 1..]);
        if dir != self.dir.as_slice() {
            self.dir.clear();
            self.dir.extend_from_slice(dir);
            self.dir_fd = File::options()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                .open(OsStr::from_bytes(dir))
                .ok()
                .map(OwnedFd::from);
        }
        let Some(dir_fd) = &self.dir_fd else {
            // Let the plain call report why the directory is not there.
            return fs::symlink_metadata(&self.path).map(|m| Stamp::of(&m));
        };
        self.c_name.clear();
        self.c_name.extend_from_slice(name);
        self.c_name.push(0);
        let c_name = CStr::from_bytes_with_nul(&self.c_name)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `stat` is plain old data, so all-zero is a valid value.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: the descriptor is open, the name is NUL-terminated and
        // `stat` is valid for writes for the duration of the call.
        let rc = unsafe {
            libc::fstatat(
                dir_fd.as_raw_fd(),
                c_name.as_ptr(),
                &mut stat,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Stamp::of_stat(&stat))
    }
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
