//! What `lstat` says about a file, enough to tell that it has not changed
//! since it was last read, as git's index does.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Device, inode, mode, size and both timestamps of one file.
///
/// The change time is part of it because nobody can set it: a tool that
/// restores an old modification time after an edit still moves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

/// How far file timestamps may lag behind the clock. Linux stamps files
/// from a coarse clock that trails the precise one by up to a tick (at
/// most 10 ms); this leaves room for twice that.
const FINE_MARGIN_NS: i64 = 20_000_000;

/// The same for file systems that keep whole seconds only.
const COARSE_MARGIN_NS: i64 = 2_000_000_000;

const NS: i64 = 1_000_000_000;

impl Stamp {
    /// The stamp of `meta`, which came from `lstat`.
    pub fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            mode: meta.mode(),
            size: meta.size(),
            mtime_ns: meta.mtime() * NS + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * NS + meta.ctime_nsec(),
        }
    }

    /// The stamp in a `stat` structure filled by `fstatat`.
    pub fn of_stat(stat: &libc::stat) -> Stamp {
        Stamp {
            dev: stat.st_dev,
            ino: stat.st_ino,
            mode: stat.st_mode,
            size: stat.st_size as u64,
            mtime_ns: stat.st_mtime * NS + stat.st_mtime_nsec,
            ctime_ns: stat.st_ctime * NS + stat.st_ctime_nsec,
        }
    }

    /// Whether a change made after `scan_start` could leave this stamp as
    /// it is, so that what was read under it cannot be trusted later.
    ///
    /// This is git's "racy clean" case: a file written again within the
    /// timestamp granularity of the moment it was read keeps its
    /// timestamps. Anything stamped at or after the scan began, less the
    /// lag of file timestamps, is read again next time.
    pub fn is_racy(&self, scan_start: SystemTime) -> bool {
        let whole_seconds = self.mtime_ns % NS == 0 && self.ctime_ns % NS == 0;
        let margin = if whole_seconds {
            COARSE_MARGIN_NS
        } else {
            FINE_MARGIN_NS
        };
        let limit = nanos_since_epoch(scan_start) - margin;
        self.mtime_ns >= limit || self.ctime_ns >= limit
    }
}

/// `time` as nanoseconds since the epoch.
pub fn nanos_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stamp(mtime_ns: i64) -> Stamp {
        Stamp {
            dev: 1,
            ino: 2,
            mode: 0o100_644,
            size: 3,
            mtime_ns,
            ctime_ns: mtime_ns,
        }
    }

    #[test]
    fn entries_stamped_near_the_scan_are_racy() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = nanos_since_epoch(start);
        assert!(stamp(at + 5).is_racy(start), "after the scan began");
        assert!(stamp(at - 1_000).is_racy(start), "within the clock's lag");
        assert!(!stamp(at - NS / 2 + 7).is_racy(start), "well before");
    }

    #[test]
    fn whole_second_stamps_get_a_wider_margin() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = nanos_since_epoch(start);
        assert!(stamp(at - NS).is_racy(start));
        assert!(!stamp(at - 3 * NS).is_racy(start));
    }
}
