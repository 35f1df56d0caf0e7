//! Writing an outputs archive: a tar of the output paths, relative to the
//! cache root, compressed with zstd level 3 and its content checksum.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use crate::CacheError;

/// The zstd level the old runner used.
const LEVEL: i32 = 3;

/// What went into an archive.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PackStats {
    /// Entries written: files, directories and symbolic links.
    pub entries: u64,
    /// Bytes of file content before compression.
    pub bytes: u64,
}

/// Output paths checked against a cache root, ready to archive.
#[derive(Debug, Clone)]
pub struct Outputs {
    root: PathBuf,
    relative: Vec<PathBuf>,
}

impl Outputs {
    /// Resolves `paths` (relative to the current directory, or absolute)
    /// against `root`. A path that does not exist or does not lie below
    /// the root is an error naming it.
    pub fn new(root: &Path, paths: &[PathBuf]) -> Result<Outputs, CacheError> {
        let cwd = std::env::current_dir().map_err(|source| CacheError::Read {
            path: PathBuf::from("."),
            source,
        })?;
        Outputs::relative_to(root, &cwd, paths)
    }

    /// Like [`Outputs::new`], with relative `paths` (and a relative
    /// `root`) taken from `base`, for example a task's working directory.
    pub fn relative_to(root: &Path, base: &Path, paths: &[PathBuf]) -> Result<Outputs, CacheError> {
        let given_root = base.join(root);
        let root = fs::canonicalize(&given_root).map_err(|source| CacheError::Read {
            path: given_root.clone(),
            source,
        })?;
        let relative = paths
            .iter()
            .map(|path| below_root(&root, &base.join(path), path))
            .collect::<Result<_, _>>()?;
        Ok(Outputs { root, relative })
    }

    /// The canonical cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The outputs, relative to the root (empty for the root itself).
    pub fn relative(&self) -> &[PathBuf] {
        &self.relative
    }
}

/// `full` relative to `root`. The last component is not resolved, so an
/// output that is a symbolic link is archived as the link itself.
fn below_root(root: &Path, full: &Path, given: &Path) -> Result<PathBuf, CacheError> {
    let full = lexical(full);
    let read_err = |source| CacheError::Read {
        path: given.to_owned(),
        source,
    };
    let meta = fs::symlink_metadata(&full).map_err(read_err)?;
    let resolved = match (
        meta.file_type().is_symlink(),
        full.parent(),
        full.file_name(),
    ) {
        (true, Some(parent), Some(file)) => fs::canonicalize(parent).map_err(read_err)?.join(file),
        _ => fs::canonicalize(&full).map_err(read_err)?,
    };
    match resolved.strip_prefix(root) {
        Ok(rel) => Ok(rel.to_owned()),
        Err(_) => Err(CacheError::OutsideRoot {
            path: given.to_owned(),
            root: root.to_owned(),
        }),
    }
}

/// Removes `.` and folds `..` without touching the file system, the way
/// a shell user reads `out/../out`.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Writes the archive of `outputs` to `sink`.
pub fn pack(outputs: &Outputs, sink: impl Write) -> Result<PackStats, CacheError> {
    let mut encoder = zstd::Encoder::new(sink, LEVEL).map_err(archive_err)?;
    encoder.include_checksum(true).map_err(archive_err)?;
    // A compression thread beside the one reading files: reading and
    // compressing overlap, as in a `tar | zstd` pipeline.
    encoder.multithread(workers()).map_err(archive_err)?;

    let mut builder = tar::Builder::new(encoder);
    builder.follow_symlinks(false);
    let mut stats = PackStats::default();
    for rel in outputs.relative() {
        add(&mut builder, outputs.root(), rel, &mut stats)?;
    }

    let encoder = builder.into_inner().map_err(archive_err)?;
    encoder
        .finish()
        .and_then(|mut sink| sink.flush())
        .map_err(archive_err)?;
    Ok(stats)
}

fn workers() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4) as u32)
}

fn archive_err(source: io::Error) -> CacheError {
    CacheError::Write {
        path: PathBuf::from("<archive>"),
        source,
    }
}

/// Adds `rel` and, for a directory, everything below it in a stable order.
fn add<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    stats: &mut PackStats,
) -> Result<(), CacheError> {
    let full = root.join(rel);
    let read_err = |source| CacheError::Read {
        path: full.clone(),
        source,
    };
    let meta = fs::symlink_metadata(&full).map_err(read_err)?;
    let kind = meta.file_type();
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);

    if kind.is_dir() {
        // The root itself has no name inside the archive.
        if !rel.as_os_str().is_empty() {
            builder
                .append_data(&mut header, rel, io::empty())
                .map_err(read_err)?;
            stats.entries += 1;
        }
        let mut children = fs::read_dir(&full)
            .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
            .map_err(read_err)
            .map(|names: Vec<_>| names)?;
        children.sort();
        for child in children {
            add(builder, root, &rel.join(child), stats)?;
        }
    } else if kind.is_file() {
        let file = fs::File::open(&full).map_err(read_err)?;
        let data = Exact {
            inner: file.take(meta.len()),
            left: meta.len(),
        };
        builder
            .append_data(&mut header, rel, data)
            .map_err(read_err)?;
        stats.entries += 1;
        stats.bytes += meta.len();
    } else if kind.is_symlink() {
        let target = fs::read_link(&full).map_err(read_err)?;
        builder
            .append_link(&mut header, rel, target)
            .map_err(read_err)?;
        stats.entries += 1;
    }
    // Sockets, fifos and devices are not build outputs worth keeping.
    Ok(())
}

/// A file's content cut to the size in its header. A file that grows while
/// it is archived is cut there; one that shrinks fails the archive rather
/// than leave a header that lies.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was archived",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
