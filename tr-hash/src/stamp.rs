//! What `lstat` says about a file, enough to tell that it has not changed
//! since it was last read, as git's index does; and when such a stamp
//! cannot be trusted.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

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

/// A moment on the clock that file times come from, in nanoseconds since
/// the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileTime(i64);

const NS: i64 = 1_000_000_000;

/// How much earlier than the truth a time with these digits may have been
/// rounded down to: whole seconds (two on FAT), whole milliseconds (ten
/// for exFAT), or none for file systems that keep nanoseconds.
fn rounding(ns: i64) -> i64 {
    if ns % NS == 0 {
        2 * NS
    } else if ns % 1_000_000 == 0 {
        10_000_000
    } else {
        0
    }
}

impl FileTime {
    /// Now, as a file written now would be stamped.
    ///
    /// Linux stamps files from its coarse real-time clock, which trails
    /// the precise one by up to a tick; reading that same clock makes the
    /// racy test below exact instead of guessing the lag. Newer kernels
    /// may stamp more finely than the coarse clock, which only makes
    /// more entries look racy, never fewer.
    pub fn now() -> FileTime {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is valid for writes for the duration of the call.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut now) };
        if rc != 0 {
            // SAFETY: as above; CLOCK_REALTIME always exists.
            unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
        }
        FileTime(now.tv_sec * NS + now.tv_nsec)
    }
}

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
    /// timestamps. A later write gets a time no earlier than the scan's
    /// start, so only a stamp at or after it (less the granularity) can
    /// repeat; such a file is read again next time.
    pub fn is_racy(&self, scan_start: FileTime) -> bool {
        let margin = rounding(self.mtime_ns).max(rounding(self.ctime_ns));
        let limit = scan_start.0 - margin;
        self.mtime_ns >= limit || self.ctime_ns >= limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let at = 1_000_000 * NS;
        let start = FileTime(at);
        assert!(stamp(at + 5).is_racy(start), "after the scan began");
        assert!(stamp(at + 1).is_racy(start), "at the same tick");
        assert!(!stamp(at - 1).is_racy(start), "before, at full precision");
    }

    #[test]
    fn rounded_stamps_get_a_margin() {
        let at = 1_000_000 * NS + 123_456_789;
        let start = FileTime(at);
        let second = at - at % NS;
        assert!(stamp(second - NS).is_racy(start), "whole seconds");
        assert!(!stamp(second - 3 * NS).is_racy(start));
        let milli = at - at % 1_000_000;
        assert!(
            stamp(milli - 5_000_000).is_racy(start),
            "whole milliseconds"
        );
        assert!(!stamp(milli - 20_000_000).is_racy(start));
    }

    #[test]
    fn a_file_written_now_is_racy() {
        let dir = tempfile::tempdir().unwrap();
        let before = FileTime::now();
        std::fs::write(dir.path().join("f"), "x").unwrap();
        let meta = std::fs::symlink_metadata(dir.path().join("f")).unwrap();
        let stamped = Stamp::of(&meta);
        assert!(stamped.is_racy(before), "{stamped:?} since {before:?}");
    }
}
