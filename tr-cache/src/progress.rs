//! Transfer progress on a terminal: the bytes moved so far, redrawn on
//! one line of stderr at most five times a second, erased at the end.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

const REDRAW: Duration = Duration::from_millis(200);

/// A reader that reports how much passed through it.
pub struct Progress<R> {
    inner: R,
    label: String,
    enabled: bool,
    bytes: u64,
    last: Instant,
    shown: bool,
}

impl<R> Progress<R> {
    /// Reports on `inner` as `label: N MiB` when `enabled`.
    pub fn new(inner: R, label: String, enabled: bool) -> Progress<R> {
        Progress {
            inner,
            label,
            enabled,
            bytes: 0,
            last: Instant::now(),
            shown: false,
        }
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        if self.enabled && self.last.elapsed() >= REDRAW {
            self.last = Instant::now();
            self.shown = true;
            let mib = self.bytes as f64 / (1 << 20) as f64;
            let _ = write!(io::stderr(), "\r\x1b[K{}: {mib:.1} MiB", self.label);
        }
        Ok(n)
    }
}

impl<R> Drop for Progress<R> {
    fn drop(&mut self) {
        if self.shown {
            let _ = write!(io::stderr(), "\r\x1b[K");
        }
    }
}
