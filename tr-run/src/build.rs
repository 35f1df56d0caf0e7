//! Builds: one top-level `tr-run` and every task it starts, directly or
//! through nested runners, share a build id and a folder
//! `builds/<id>/` with the tasks' logs and exit codes.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tr_common::state::{self, StateError};
use tr_common::{StateDir, TaskName};

/// The variable through which nested runners find their build.
pub const BUILD_ID_VAR: &str = "_taskrunner_build_id";

/// The build this runner belongs to.
#[derive(Debug)]
pub struct Build {
    /// The build id.
    pub id: String,
    /// `builds/<id>`.
    pub dir: PathBuf,
    /// Whether this runner started the build.
    pub is_toplevel: bool,
}

/// A build that cannot be joined or started.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The inherited build id is not a usable folder name.
    #[error("invalid build id `{0}` in `{BUILD_ID_VAR}`")]
    BadId(String),
    /// The build folder could not be created.
    #[error(transparent)]
    State(#[from] StateError),
    /// A new build folder could not be created.
    #[error("cannot create build folder `{path}`")]
    Create {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
}

impl Build {
    /// Joins the build named in the environment, or starts a new one.
    pub fn join_or_start(state: &StateDir) -> Result<Build, BuildError> {
        match std::env::var_os(BUILD_ID_VAR) {
            Some(id) => Build::join(state, &id),
            None => Build::start(state),
        }
    }

    fn join(state: &StateDir, id: &OsStr) -> Result<Build, BuildError> {
        let checked =
            TaskName::new(id).map_err(|_| BuildError::BadId(id.to_string_lossy().into()))?;
        let id = checked.as_str().to_owned();
        // The top level made the folders; one look is cheaper than making
        // sure of each, and a nested runner under an old top level (or
        // after a prune) still makes what is missing.
        let dir = state.root().join("builds").join(&id);
        let made = ["logs", "results"]
            .iter()
            .all(|sub| fs::symlink_metadata(dir.join(sub)).is_ok_and(|m| m.is_dir()));
        if !made {
            state.dir(&format!("builds/{id}/logs"))?;
            state.dir(&format!("builds/{id}/results"))?;
        }
        Ok(Build {
            dir,
            id,
            is_toplevel: false,
        })
    }

    fn start(state: &StateDir) -> Result<Build, BuildError> {
        let builds = state.dir("builds")?;
        let stamp = utc_stamp(SystemTime::now());
        // The time alone is unique in practice; the exclusive mkdir makes
        // it unique for certain.
        for attempt in 0u32.. {
            let id = if attempt == 0 {
                stamp.clone()
            } else {
                format!("{stamp}-{attempt}")
            };
            let dir = builds.join(&id);
            match fs::create_dir(&dir) {
                Ok(()) => {
                    let build = Build {
                        id,
                        dir,
                        is_toplevel: true,
                    };
                    for sub in ["logs", "results"] {
                        let path = build.dir.join(sub);
                        fs::create_dir(&path)
                            .map_err(|source| BuildError::Create { path, source })?;
                    }
                    return Ok(build);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(source) => return Err(BuildError::Create { path: dir, source }),
            }
        }
        unreachable!("the attempt counter is unbounded")
    }

    /// `builds/<id>/logs/<NAME>.log`.
    pub fn log_path(&self, name: &TaskName) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.log"))
    }

    fn result_path(&self, name: &TaskName) -> PathBuf {
        self.dir.join("results").join(name.as_str())
    }

    /// The exit code task `name` already had in this build; unreadable
    /// content counts as none.
    pub fn result(&self, name: &TaskName) -> Option<i32> {
        let data = state::read_optional(&self.result_path(name)).ok()??;
        std::str::from_utf8(&data).ok()?.trim().parse().ok()
    }

    /// Records task `name`'s exit code.
    ///
    /// The tasks of a build end with few distinct codes, so each code is
    /// written once per build, atomically, as `codes/<CODE>`, and a result
    /// is a hard link to it. A link appears whole or not at all, like the
    /// rename of a temporary file, but allocates no inode, which on a slow
    /// disk is most of what creating a file costs. Where linking fails (no
    /// hard links, too many links), the result is written on its own.
    pub fn record_result(&self, name: &TaskName, code: i32) -> io::Result<()> {
        let path = self.result_path(name);
        let text = code.to_string();
        let codes = self.dir.join("codes");
        let shared = codes.join(&text);
        let linked = fs::hard_link(&shared, &path).or_else(|e| {
            if e.kind() != io::ErrorKind::NotFound {
                return Err(e);
            }
            match fs::create_dir(&codes) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
            state::write_atomic(&shared, text.as_bytes())?;
            fs::hard_link(&shared, &path)
        });
        linked.or_else(|_| state::write_atomic(&path, text.as_bytes()))
    }
}

/// A folder with `tr-run` and `taskrunner` links to this executable, for
/// the front of the tasks' `PATH`, so that they find the runner even when
/// it is not on `PATH` (run through `cargo run`, say). It is made once per
/// executable path, `bin/<hash>/` in the state directory, and reused.
pub fn runner_bin_dir(state: &StateDir) -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // FNV-1a: a stable name for the path; a collision would only make two
    // paths share links, both of which point at a tr-run.
    let hash = exe
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let bin = state
        .dir(&format!("bin/{hash:016x}"))
        .map_err(io::Error::other)?;
    for name in ["tr-run", "taskrunner"] {
        let link = bin.join(name);
        if fs::read_link(&link).is_ok_and(|target| target == exe) {
            continue;
        }
        // Build the link aside and rename it over, so that a concurrent
        // run never sees it missing.
        let tmp = bin.join(format!(".{name}.{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&exe, &tmp)?;
        fs::rename(&tmp, &link)?;
    }
    Ok(bin)
}

/// Removes build folders not modified for `keep_days` days. Looking at
/// every folder costs a `stat` each, and a busy machine keeps thousands,
/// so this looks at most once an hour: `builds/.pruned` tells when.
pub fn prune(state: &StateDir, keep_days: u64) -> io::Result<usize> {
    const EVERY: Duration = Duration::from_secs(3600);

    let builds = state.root().join("builds");
    let now = SystemTime::now();
    let marker = builds.join(".pruned");
    let last = fs::symlink_metadata(&marker).and_then(|m| m.modified());
    if last.is_ok_and(|at| now.duration_since(at).unwrap_or_default() < EVERY) {
        return Ok(0);
    }
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&marker)?
        .set_modified(now)?;

    let keep = Duration::from_secs(keep_days.saturating_mul(86_400));
    let mut removed = 0;
    for entry in fs::read_dir(&builds)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let age = now.duration_since(meta.modified()?).unwrap_or_default();
        if meta.is_dir() && age > keep {
            fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// An ISO 8601 UTC time with nanoseconds in the basic format: the old
/// runner's extended format has colons, which cannot stand in `PATH`.
fn utc_stamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let day_secs = secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}.{:09}Z",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60,
        since.subsec_nanos()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// well-known algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_iso_8601_utc() {
        let t = UNIX_EPOCH + Duration::new(1_796_391_901, 5);
        assert_eq!(utc_stamp(t), "20261204T134501.000000005Z");
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000.000000000Z");
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn results_of_one_code_share_a_file_and_read_back() {
        use std::os::unix::fs::MetadataExt;

        let root = std::env::temp_dir().join(format!("tr-run-results-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let state = StateDir::open(root.clone()).unwrap();
        let build = Build::start(&state).unwrap();
        let name = |n: &str| TaskName::new(OsStr::new(n)).unwrap();

        build.record_result(&name("a"), 0).unwrap();
        build.record_result(&name("b"), 0).unwrap();
        build.record_result(&name("c"), 3).unwrap();
        // A stale result cannot be linked over; it is replaced.
        fs::write(build.result_path(&name("d")), "7").unwrap();
        build.record_result(&name("d"), 0).unwrap();

        assert_eq!(build.result(&name("a")), Some(0));
        assert_eq!(build.result(&name("c")), Some(3));
        assert_eq!(build.result(&name("d")), Some(0));
        assert_eq!(build.result(&name("e")), None);
        let inode = |n: &str| fs::metadata(build.result_path(&name(n))).unwrap().ino();
        assert_eq!(inode("a"), inode("b"));
        assert_ne!(inode("a"), inode("c"));
        fs::remove_dir_all(root).unwrap();
    }
}
