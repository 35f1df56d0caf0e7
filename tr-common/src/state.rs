//! The state directory (`TASKRUNNER_STATE_DIRECTORY`, default
//! `/tmp/taskrunner`): locks, saved hashes, build logs and results.
//!
//! The default lives in a shared `/tmp`, where another user could create
//! the directory first or plant symlinks in it. So the root must belong to
//! us and be writable by nobody else, and files inside are opened without
//! following symlinks.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The variable that names the state directory.
pub const STATE_DIR_VAR: &str = "TASKRUNNER_STATE_DIRECTORY";
const DEFAULT_STATE_DIR: &str = "/tmp/taskrunner";

/// A checked state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// A state directory that cannot be used safely.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The root could not be created or inspected.
    #[error("cannot use state directory `{path}` ({STATE_DIR_VAR})")]
    Root {
        /// The root.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The root belongs to someone else.
    #[error(
        "state directory `{path}` ({STATE_DIR_VAR}) is owned by uid {owner}, not by us (uid {us})"
    )]
    Foreign {
        /// The root.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our effective uid.
        us: u32,
    },
    /// Others can write into the root.
    #[error(
        "state directory `{path}` ({STATE_DIR_VAR}) is writable by other users (mode {mode:o}); run `chmod go-w` on it"
    )]
    Writable {
        /// The root.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The root or an entry inside is not a plain directory.
    #[error("`{path}` in the state directory ({STATE_DIR_VAR}) is not a directory")]
    NotDirectory {
        /// The offending path.
        path: PathBuf,
    },
    /// A directory inside could not be created.
    #[error("cannot create `{path}`")]
    Create {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
}

impl StateDir {
    /// Opens the state directory named by the environment, creating it
    /// (mode 0700) when missing.
    pub fn from_env() -> Result<StateDir, StateError> {
        let root = std::env::var_os(STATE_DIR_VAR)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_STATE_DIR), PathBuf::from);
        StateDir::open(root)
    }

    /// Opens `root` as a state directory, creating it when missing.
    pub fn open(root: PathBuf) -> Result<StateDir, StateError> {
        let root_err = |source| StateError::Root {
            path: root.clone(),
            source,
        };
        match fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&root)
        {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(root_err(e)),
        }
        let link = fs::symlink_metadata(&root).map_err(root_err)?;
        let meta = if link.file_type().is_symlink() {
            // A symlink the user made on purpose is fine; one planted by
            // somebody else is not.
            check_owner(&root, &link)?;
            fs::metadata(&root).map_err(root_err)?
        } else {
            link
        };
        if !meta.is_dir() {
            return Err(StateError::NotDirectory { path: root });
        }
        check_owner(&root, &meta)?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(StateError::Writable { path: root, mode });
        }
        Ok(StateDir { root })
    }

    /// The root path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory `rel` (slash-separated, relative to the root),
    /// created when missing, refusing symlinks on the way.
    pub fn dir(&self, rel: &str) -> Result<PathBuf, StateError> {
        let mut path = self.root.clone();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            path.push(part);
            ensure_dir(&path)?;
        }
        Ok(path)
    }
}

fn ensure_dir(path: &Path) -> Result<(), StateError> {
    match fs::DirBuilder::new().mode(0o755).create(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(StateError::Create {
                path: path.to_owned(),
                source,
            });
        }
    }
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(StateError::NotDirectory {
            path: path.to_owned(),
        }),
        Err(source) => Err(StateError::Create {
            path: path.to_owned(),
            source,
        }),
    }
}

fn check_owner(path: &Path, meta: &fs::Metadata) -> Result<(), StateError> {
    let us = nix_geteuid();
    if meta.uid() != us {
        return Err(StateError::Foreign {
            path: path.to_owned(),
            owner: meta.uid(),
            us,
        });
    }
    Ok(())
}

fn nix_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Opens `path` for appending, creating it, never through a symlink.
pub fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Reads `path` whole, never through a symlink; `None` when it is missing.
pub fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path);
    match file {
        Ok(mut file) => {
            let mut data = Vec::new();
            io::Read::read_to_end(&mut file, &mut data)?;
            Ok(Some(data))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces `path` with `contents` so that readers see the old file or the
/// new one, never a mix: a temporary file in the same directory, renamed.
///
/// There is no fsync: this protects readers from torn files, not the data
/// from a power cut, which for caches and results is cheap to recompute.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);

    let result = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .and_then(|mut file| file.write_all(contents))
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tr-common-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    #[test]
    fn creates_a_missing_root_private() {
        let base = scratch("create");
        let state = StateDir::open(base.join("state")).unwrap();
        let mode = fs::metadata(state.root()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let logs = state.dir("builds/b1/logs").unwrap();
        assert!(logs.is_dir());
    }

    #[test]
    fn refuses_a_root_writable_by_others() {
        let base = scratch("writable");
        fs::set_permissions(&base, fs::Permissions::from_mode(0o777)).unwrap();
        let err = StateDir::open(base.clone()).unwrap_err();
        assert!(matches!(err, StateError::Writable { .. }), "{err}");
        assert!(err.to_string().contains(STATE_DIR_VAR));
    }

    #[test]
    fn refuses_a_planted_symlink_inside() {
        let base = scratch("planted");
        let elsewhere = scratch("planted-target");
        symlink(&elsewhere, base.join("locks")).unwrap();
        let state = StateDir::open(base).unwrap();
        let err = state.dir("locks").unwrap_err();
        assert!(matches!(err, StateError::NotDirectory { .. }), "{err}");
    }

    #[test]
    fn atomic_write_replaces_and_never_follows_links() {
        let base = scratch("atomic");
        let target = base.join("result");
        write_atomic(&target, b"1").unwrap();
        write_atomic(&target, b"0").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"0");
        assert_eq!(fs::read_dir(&base).unwrap().count(), 1, "no temporary left");

        let victim = base.join("victim");
        fs::write(&victim, b"precious").unwrap();
        symlink(&victim, base.join("log")).unwrap();
        assert!(open_append(&base.join("log")).is_err());
        assert!(read_optional(&base.join("log")).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(read_optional(&base.join("missing")).unwrap(), None);
    }
}
