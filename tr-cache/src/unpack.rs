//! Restoring an archive below a cache root, never writing outside it, and
//! quickly for archives of many small files.
//!
//! One thread decodes the archive and checks every entry: its path, the
//! directories above it, and where a link leads. Files are then written by
//! a few worker threads, because creating many small files is bound by
//! system calls, not by the disk, and those calls run in parallel.
//!
//! The rules that keep writes inside the root:
//! - entry paths must be relative and free of `..`;
//! - every directory above an entry must be a real directory (checked with
//!   `lstat` once, then remembered), never a symbolic link, whether the
//!   link came from the archive or was already there;
//! - a symbolic link's target must stay inside the root when read as a
//!   path relative to the link's directory;
//! - a file is always created anew (`O_CREAT | O_EXCL`), replacing what
//!   was there, so nothing is ever written through an existing link or
//!   into an inode shared with a file elsewhere.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, symlinkat, unlinkat};

use crate::CacheError;

/// Files up to this size are read into memory and handed to a worker;
/// larger ones are written by the decoding thread as they stream in.
const SMALL_FILE: u64 = 256 * 1024;
/// Jobs go to a worker in batches, so that a worker wakes up once per
/// batch rather than once per file: with small files, waking threads
/// cost as much as creating the files.
const BATCH_JOBS: usize = 64;
/// A batch is sent once it holds this much file content.
const BATCH_BYTES: usize = 1 << 20;
/// Batches queued per worker; this bounds the memory in flight.
const QUEUE: usize = 4;

/// What a restore wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UnpackStats {
    /// Entries restored.
    pub entries: u64,
    /// Bytes of file content written.
    pub bytes: u64,
}

/// Restores the archive read from `source` below `root`. `object` names
/// the archive in errors.
pub fn unpack(source: impl Read, root: &Path, object: &str) -> Result<UnpackStats, CacheError> {
    let write_err = |source| CacheError::Write {
        path: root.to_owned(),
        source,
    };
    fs::create_dir_all(root).map_err(write_err)?;
    let root = fs::canonicalize(root).map_err(write_err)?;
    let corrupt = |source| CacheError::Corrupt {
        object: object.to_owned(),
        source,
    };

    let decoder = zstd::Decoder::new(source).map_err(corrupt)?;
    let mut archive = tar::Archive::new(Forward::new(decoder));
    let mut state = Unpacker::new(root, current_umask());
    let mut pool = Pool::start(state.umask);

    let walked = state.walk(&mut archive, &mut pool, &corrupt);
    // The checksum is checked at the end of the zstd frame, which tar
    // never reads: its end marker comes first.
    let drained = walked.and_then(|()| {
        io::copy(&mut archive.into_inner(), &mut io::sink())
            .map(drop)
            .map_err(corrupt)
    });
    let finished = pool.finish();
    drained?;
    finished?;

    state.set_directory_modes()?;
    Ok(state.stats)
}

/// A reader that seeks forward by reading. Given one, tar skips the
/// padding after each entry through this reader's buffer; without, it
/// zeroes a 32 KB buffer on the stack for every entry, which took 3% of
/// a restore's CPU time with 57,000 small files.
struct Forward<R> {
    inner: R,
    pos: u64,
    scratch: Vec<u8>,
}

impl<R: Read> Forward<R> {
    fn new(inner: R) -> Forward<R> {
        Forward {
            inner,
            pos: 0,
            scratch: vec![0; 32 * 1024],
        }
    }
}

impl<R: Read> Read for Forward<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read> io::Seek for Forward<R> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        // tar only ever skips ahead from where it is.
        let ahead = match to {
            io::SeekFrom::Current(delta) => u64::try_from(delta).ok(),
            io::SeekFrom::Start(_) | io::SeekFrom::End(_) => None,
        };
        let mut ahead = ahead.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "the archive is read forwards only",
            )
        })?;
        while ahead > 0 {
            let len = ahead.min(self.scratch.len() as u64) as usize;
            let n = self.inner.read(&mut self.scratch[..len])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.pos += n as u64;
            ahead -= n as u64;
        }
        Ok(self.pos)
    }
}

/// A file or link for a worker to create. The ranges point into the
/// bytes of the [`Batch`] that holds the job.
enum Job {
    File {
        path: Range<usize>,
        data: Range<usize>,
        mode: u32,
        mtime: u64,
    },
    Link {
        path: Range<usize>,
        target: Range<usize>,
    },
}

/// Jobs for one worker, with their paths and file contents back to back
/// in one buffer. A worker hands its emptied batches back to be filled
/// again, so a restore allocates and zeroes memory for its first batches
/// only, not for every file.
#[derive(Default)]
struct Batch {
    /// Initialized up to its length, which only grows; `used` bytes of
    /// it belong to the jobs.
    bytes: Vec<u8>,
    used: usize,
    jobs: Vec<Job>,
}

impl Batch {
    fn reserve(&mut self, len: usize) -> Range<usize> {
        let range = self.used..self.used + len;
        if range.end > self.bytes.len() {
            self.bytes.resize(range.end, 0);
        }
        self.used = range.end;
        range
    }

    fn push(&mut self, bytes: &[u8]) -> Range<usize> {
        let range = self.reserve(bytes.len());
        self.bytes[range.clone()].copy_from_slice(bytes);
        range
    }

    /// Stores `root/rel`.
    fn push_path(&mut self, root: &Path, rel: &Path) -> Range<usize> {
        let start = self.push(root.as_os_str().as_bytes()).start;
        self.push(b"/");
        let end = self.push(rel.as_os_str().as_bytes()).end;
        start..end
    }

    fn read(&mut self, source: &mut dyn Read, len: usize) -> io::Result<Range<usize>> {
        let range = self.reserve(len);
        source.read_exact(&mut self.bytes[range.clone()])?;
        Ok(range)
    }

    fn path(&self, range: &Range<usize>) -> &Path {
        Path::new(OsStr::from_bytes(&self.bytes[range.clone()]))
    }

    fn clear(&mut self) {
        self.used = 0;
        self.jobs.clear();
    }
}

struct Unpacker {
    root: PathBuf,
    /// Directories below the root, relative, known to be real directories.
    dirs: HashSet<PathBuf>,
    /// Symbolic links this archive created, relative.
    links: HashSet<PathBuf>,
    /// Directory entries and their modes, applied once all files are in.
    dir_modes: Vec<(PathBuf, u32)>,
    stats: UnpackStats,
    umask: Option<u32>,
    /// Where the last large file went.
    dir: Dir,
}

impl Unpacker {
    fn new(root: PathBuf, umask: Option<u32>) -> Unpacker {
        Unpacker {
            root,
            umask,
            dirs: HashSet::new(),
            links: HashSet::new(),
            dir_modes: Vec::new(),
            stats: UnpackStats::default(),
            dir: Dir::default(),
        }
    }

    fn walk<R: Read + io::Seek>(
        &mut self,
        archive: &mut tar::Archive<R>,
        pool: &mut Pool,
        corrupt: &dyn Fn(io::Error) -> CacheError,
    ) -> Result<(), CacheError> {
        for entry in archive.entries_with_seek().map_err(corrupt)? {
            let mut entry = entry.map_err(corrupt)?;
            let raw = entry.path().map_err(corrupt)?.into_owned();
            let rel = checked_path(&raw)?;
            let kind = entry.header().entry_type();
            if rel.as_os_str().is_empty() {
                if kind.is_dir() {
                    continue;
                }
                return Err(unsafe_entry(&raw, "it has no name"));
            }
            self.check_parents(&rel, &raw)?;

            let mode = entry.header().mode().map_err(corrupt)? & 0o777;
            if kind.is_dir() {
                self.make_dir(&rel, &raw)?;
                self.dir_modes.push((rel, mode));
            } else if kind.is_file() || kind == tar::EntryType::Continuous {
                let mtime = entry.header().mtime().map_err(corrupt)?;
                let size = entry.size();
                if size <= SMALL_FILE {
                    let root = &self.root;
                    let queued = pool.add(&rel, |batch| {
                        let path = batch.push_path(root, &rel);
                        let data = batch.read(&mut entry, size as usize).map_err(corrupt)?;
                        Ok(Job::File {
                            path,
                            data,
                            mode,
                            mtime,
                        })
                    })?;
                    if !queued {
                        return Ok(());
                    }
                } else {
                    let path = self.root.join(&rel);
                    write_file(&mut self.dir, &path, &mut entry, mode, mtime, self.umask).map_err(
                        |e| match e {
                            WriteError::Source(e) => corrupt(e),
                            WriteError::Target(source) => CacheError::Write { path, source },
                        },
                    )?;
                }
                self.stats.bytes += size;
            } else if kind.is_symlink() {
                let target = entry
                    .link_name()
                    .map_err(corrupt)?
                    .ok_or_else(|| unsafe_entry(&raw, "the link has no target"))?
                    .into_owned();
                check_link(&rel, &target, &raw)?;
                if self.dirs.contains(&rel) {
                    return Err(unsafe_entry(&raw, "a link would replace a directory"));
                }
                let root = &self.root;
                let queued = pool.add(&rel, |batch| {
                    let path = batch.push_path(root, &rel);
                    let target = batch.push(target.as_os_str().as_bytes());
                    Ok(Job::Link { path, target })
                })?;
                self.links.insert(rel);
                if !queued {
                    return Ok(());
                }
            } else {
                let reason = format!("entry type {:?} is not restored", kind);
                return Err(unsafe_entry(&raw, &reason));
            }
            self.stats.entries += 1;
        }
        Ok(())
    }

    /// Makes sure every directory above `rel` is a real directory below
    /// the root, creating missing ones.
    fn check_parents(&mut self, rel: &Path, raw: &Path) -> Result<(), CacheError> {
        let Some(parent) = rel.parent() else {
            return Ok(());
        };
        // Directories enter `dirs` only after all their parents did.
        if parent.as_os_str().is_empty() || self.dirs.contains(parent) {
            return Ok(());
        }
        let mut prefix = PathBuf::new();
        for part in parent.components() {
            prefix.push(part);
            if !self.dirs.contains(&prefix) {
                self.make_dir(&prefix.clone(), raw)?;
            }
        }
        Ok(())
    }

    /// Creates directory `rel` unless it exists as a real directory.
    fn make_dir(&mut self, rel: &Path, raw: &Path) -> Result<(), CacheError> {
        if self.dirs.contains(rel) {
            return Ok(());
        }
        if self.links.contains(rel) {
            return Err(unsafe_entry(raw, "it leads through a symbolic link"));
        }
        let path = self.root.join(rel);
        let write_err = |source| CacheError::Write {
            path: path.clone(),
            source,
        };
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let meta = fs::symlink_metadata(&path).map_err(write_err)?;
                if meta.file_type().is_symlink() {
                    return Err(unsafe_entry(raw, "it leads through a symbolic link"));
                }
                if !meta.is_dir() {
                    return Err(write_err(io::Error::from(io::ErrorKind::NotADirectory)));
                }
            }
            Err(e) => return Err(write_err(e)),
        }
        self.dirs.insert(rel.to_owned());
        Ok(())
    }

    /// Applies the archive's directory modes, keeping the owner's access
    /// so that a later restore over the same tree still works.
    fn set_directory_modes(&self) -> Result<(), CacheError> {
        for (rel, mode) in &self.dir_modes {
            let path = self.root.join(rel);
            fs::set_permissions(&path, fs::Permissions::from_mode(mode | 0o700))
                .map_err(|source| CacheError::Write { path, source })?;
        }
        Ok(())
    }
}

fn unsafe_entry(raw: &Path, reason: &str) -> CacheError {
    CacheError::UnsafeEntry {
        entry: raw.display().to_string(),
        reason: reason.to_owned(),
    }
}

/// The entry's path without `.` parts; refuses absolute paths and `..`.
fn checked_path(raw: &Path) -> Result<PathBuf, CacheError> {
    let mut rel = PathBuf::new();
    for part in raw.components() {
        match part {
            Component::Normal(name) => rel.push(name),
            Component::CurDir => {}
            Component::ParentDir => return Err(unsafe_entry(raw, "its path contains `..`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry(raw, "its path is absolute"));
            }
        }
    }
    Ok(rel)
}

/// Refuses a link whose target, read from the link's directory, leaves
/// the root. A `..` is allowed only before the first name: after a name
/// it would climb from wherever that name leads, perhaps another link,
/// which a lexical check cannot see.
fn check_link(rel: &Path, target: &Path, raw: &Path) -> Result<(), CacheError> {
    let refuse = |why: &str| {
        let reason = format!("its target `{}` {why}", target.display());
        unsafe_entry(raw, &reason)
    };
    if target.as_os_str().is_empty() {
        return Err(unsafe_entry(raw, "the link has no target"));
    }
    let mut depth = rel.components().count() - 1;
    let mut named = false;
    for part in target.components() {
        match part {
            Component::Normal(_) => named = true,
            Component::CurDir => {}
            Component::ParentDir if named => return Err(refuse("has `..` after a name")),
            Component::ParentDir => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| refuse("leads outside the root"))?;
            }
            Component::RootDir | Component::Prefix(_) => return Err(refuse("is absolute")),
        }
    }
    Ok(())
}

enum WriteError {
    Source(io::Error),
    Target(io::Error),
}

/// Creates `path` anew with the content of `data`. With `umask` known,
/// the mode is set at creation and only changed after if the umask took
/// bits away: one system call less per file, in the common case.
fn write_file(
    dir: &mut Dir,
    path: &Path,
    data: &mut dyn Read,
    mode: u32,
    mtime: u64,
    umask: Option<u32>,
) -> Result<u64, WriteError> {
    let mut file = dir.create(path, mode).map_err(WriteError::Target)?;
    let mut written = 0;
    let mut buf = vec![0; 256 * 1024];
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(WriteError::Source(e)),
        };
        file.write_all(&buf[..n]).map_err(WriteError::Target)?;
        written += n as u64;
    }
    finish_file(&file, mode, mtime, umask).map_err(WriteError::Target)?;
    Ok(written)
}

fn write_small(
    dir: &mut Dir,
    path: &Path,
    data: &[u8],
    mode: u32,
    mtime: u64,
    umask: Option<u32>,
) -> io::Result<()> {
    let mut file = dir.create(path, mode)?;
    file.write_all(data)?;
    finish_file(&file, mode, mtime, umask)
}

fn finish_file(file: &File, mode: u32, mtime: u64, umask: Option<u32>) -> io::Result<()> {
    if umask.is_none_or(|umask| mode & umask != 0) {
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime))
}

/// The process's umask, read without changing it (`umask(2)` can only be
/// read by setting it, which would race with the worker threads).
fn current_umask() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

/// The directory a thread last wrote to, held open so that the next file
/// there is created by its name: the kernel then looks up one name rather
/// than every directory from `/` down. That saved 2% of the CPU time of
/// restoring 57,000 files eight levels below `/`, and saves more deeper.
#[derive(Default)]
struct Dir {
    open: Option<(Vec<u8>, OwnedFd)>,
}

impl Dir {
    /// The directory above `path`, opened unless it is open already, and
    /// `path`'s last name. The directory itself must not be a link.
    fn enter<'p>(&mut self, path: &'p Path) -> io::Result<(BorrowedFd<'_>, &'p OsStr)> {
        let bytes = path.as_os_str().as_bytes();
        let slash = bytes
            .iter()
            .rposition(|&b| b == b'/')
            .ok_or(io::ErrorKind::InvalidInput)?;
        let (dir, name) = (
            &bytes[..slash.max(1)],
            OsStr::from_bytes(&bytes[slash + 1..]),
        );
        let (_, fd): &(Vec<u8>, OwnedFd) = match self.open.take() {
            Some((open, fd)) if open == dir => self.open.insert((open, fd)),
            _ => {
                let flags =
                    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                let fd = nix::fcntl::open(dir, flags, Mode::empty())?;
                self.open.insert((dir.to_vec(), fd))
            }
        };
        Ok((fd.as_fd(), name))
    }

    /// Opens `path` as a new file, first removing whatever was there (a
    /// file or a link, never a directory).
    fn create(&mut self, path: &Path, mode: u32) -> io::Result<File> {
        let (dir, name) = self.enter(path)?;
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let open = || nix::fcntl::openat(dir, name, flags, Mode::from_bits_truncate(mode));
        let fd = match open() {
            Err(Errno::EEXIST) => {
                unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)?;
                open()
            }
            other => other,
        }?;
        Ok(File::from(fd))
    }

    /// Makes `path` a symbolic link to `target`, replacing what was there.
    fn link(&mut self, path: &Path, target: &Path) -> io::Result<()> {
        let (dir, name) = self.enter(path)?;
        match symlinkat(target, dir, name) {
            Err(Errno::EEXIST) => {
                unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)?;
                symlinkat(target, dir, name)
            }
            other => other,
        }?;
        Ok(())
    }
}

/// Worker threads, each with its own queue. Jobs for the same path always
/// go to the same worker, so a small file or link that appears twice ends
/// as the later entry says. (A large file, written by the decoding thread,
/// may be replaced by an earlier small entry of the same path; archives
/// that `pack` makes never repeat a path.)
struct Pool {
    queues: Vec<SyncSender<Batch>>,
    /// The batch being filled for each worker.
    pending: Vec<Batch>,
    /// Batches the workers are done with.
    spare: Receiver<Batch>,
    workers: Vec<JoinHandle<Result<(), CacheError>>>,
    hasher: RandomState,
    /// The directory of the last job and its worker: archives list a
    /// directory's files together, so this saves hashing most paths.
    last: Option<(PathBuf, usize)>,
}

impl Pool {
    fn start(umask: Option<u32>) -> Pool {
        // Four per core: a worker creating a file often waits (inode
        // allocation, the directory's lock), and with two per core 57,000
        // small files came back 8-10% later, on tmpfs and on ext4 alike.
        let count = thread::available_parallelism().map_or(4, |n| (n.get() * 4).clamp(4, 16));
        let (done, spare) = mpsc::channel();
        let mut queues = Vec::with_capacity(count);
        let mut workers = Vec::with_capacity(count);
        for _ in 0..count {
            let (queue, batches) = mpsc::sync_channel(QUEUE);
            queues.push(queue);
            let done = done.clone();
            workers.push(thread::spawn(move || work(&batches, &done, umask)));
        }
        Pool {
            queues,
            pending: (0..count).map(|_| Batch::default()).collect(),
            spare,
            workers,
            hasher: RandomState::new(),
            last: None,
        }
    }

    /// Adds the job that `fill` stores in the batch of the worker for
    /// `rel`'s directory. Ok(false) when that worker has stopped on an
    /// error, which [`Pool::finish`] then returns.
    fn add(
        &mut self,
        rel: &Path,
        fill: impl FnOnce(&mut Batch) -> Result<Job, CacheError>,
    ) -> Result<bool, CacheError> {
        // One directory, one worker: creating a file locks its directory,
        // so workers sharing a directory would wait on each other.
        let dir = rel.parent().unwrap_or(rel);
        let slot = match &self.last {
            Some((last, slot)) if last == dir => *slot,
            _ => {
                let slot = self.hasher.hash_one(dir) as usize % self.queues.len();
                self.last = Some((dir.to_owned(), slot));
                slot
            }
        };
        let batch = &mut self.pending[slot];
        let job = fill(batch)?;
        batch.jobs.push(job);
        if batch.jobs.len() < BATCH_JOBS && batch.used < BATCH_BYTES {
            return Ok(true);
        }
        let refill = self.spare.try_recv().unwrap_or_default();
        let full = std::mem::replace(batch, refill);
        Ok(self.queues[slot].send(full).is_ok())
    }

    /// Sends the last batches and waits for the workers; the first error
    /// wins.
    fn finish(self) -> Result<(), CacheError> {
        for (queue, batch) in self.queues.iter().zip(self.pending) {
            if !batch.jobs.is_empty() {
                let _ = queue.send(batch);
            }
        }
        drop(self.queues);
        let mut result = Ok(());
        for worker in self.workers {
            let outcome = worker.join().unwrap_or_else(|_| {
                Err(CacheError::Write {
                    path: PathBuf::from("<restore worker>"),
                    source: io::Error::other("a restore worker panicked"),
                })
            });
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }
}

/// A worker's loop: runs each batch's jobs, then hands the batch back.
fn work(
    batches: &Receiver<Batch>,
    done: &Sender<Batch>,
    umask: Option<u32>,
) -> Result<(), CacheError> {
    let mut dir = Dir::default();
    for mut batch in batches {
        for job in &batch.jobs {
            run_job(&mut dir, &batch, job, umask)?;
        }
        batch.clear();
        // The restore may be over, and the batch no longer wanted.
        let _ = done.send(batch);
    }
    Ok(())
}

fn run_job(dir: &mut Dir, batch: &Batch, job: &Job, umask: Option<u32>) -> Result<(), CacheError> {
    let (path, written) = match job {
        Job::File {
            path,
            data,
            mode,
            mtime,
        } => {
            let path = batch.path(path);
            let data = &batch.bytes[data.clone()];
            (path, write_small(dir, path, data, *mode, *mtime, umask))
        }
        Job::Link { path, target } => {
            let path = batch.path(path);
            (path, dir.link(path, batch.path(target)))
        }
    };
    written.map_err(|source| CacheError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link_ok(rel: &str, target: &str) -> bool {
        check_link(Path::new(rel), Path::new(target), Path::new(rel)).is_ok()
    }

    #[test]
    fn link_targets_must_stay_below_the_root() {
        assert!(link_ok("a/b/link", "../../x"));
        assert!(link_ok("a/link", "./b/c"));
        assert!(link_ok("link", "x"));
        assert!(!link_ok("a/link", "../../x"));
        assert!(!link_ok("link", "/etc"));
        assert!(!link_ok("a/link", "b/../../x"));
        assert!(!link_ok("a/link", "b/.."));
        assert!(!link_ok("link", ""));
    }

    #[test]
    fn entry_paths_lose_dots_and_refuse_escapes() {
        assert_eq!(
            checked_path(Path::new("./a/./b")).unwrap(),
            Path::new("a/b")
        );
        assert_eq!(checked_path(Path::new("./")).unwrap(), Path::new(""));
        assert!(checked_path(Path::new("a/../b")).is_err());
        assert!(checked_path(Path::new("/a")).is_err());
    }

    #[test]
    fn modes_survive_any_umask() {
        let dir = tempfile::tempdir().unwrap();
        let umask = current_umask();
        assert!(umask.is_some());
        for (name, mode) in [("a", 0o640), ("b", 0o777), ("c", 0o400)] {
            let path = dir.path().join(name);
            write_small(&mut Dir::default(), &path, b"x", mode, 1_000_000, umask).unwrap();
            let meta = fs::metadata(&path).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, mode, "{name}");
            let mtime = meta.modified().unwrap();
            assert_eq!(
                mtime,
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)
            );
        }
    }
}
