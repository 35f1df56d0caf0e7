//! Grouping whole lines into single `write` calls.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Writes to a pipe of at most this many bytes are atomic (POSIX
/// `PIPE_BUF` on Linux), so several processes writing whole lines to the
/// same pipe never break each other's lines.
pub const ATOMIC_WRITE: usize = 4096;

/// Whole lines waiting to be written with as few `write` calls as
/// possible, each call holding only whole lines and, where it can, at most
/// `PIPE_BUF` (4096) bytes.
#[derive(Debug, Default)]
pub struct Batch {
    buf: Vec<u8>,
    /// Where each line in `buf` ends.
    ends: Vec<usize>,
}

impl Batch {
    /// The buffer to render the next line into; call [`Batch::end_line`]
    /// after.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Marks the end of the line just rendered.
    pub fn end_line(&mut self) {
        self.ends.push(self.buf.len());
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes everything out as raw bytes.
    pub fn take(&mut self) -> Vec<u8> {
        self.ends.clear();
        std::mem::take(&mut self.buf)
    }

    /// Writes everything to `fd` and empties the batch, even on error.
    pub fn flush_to(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let mut result = Ok(());
        let mut start = 0;
        let mut i = 0;
        while i < self.ends.len() && result.is_ok() {
            // Take lines while they fit in one atomic write; a single line
            // longer than that goes out alone in one call.
            let mut end = self.ends[i];
            i += 1;
            while i < self.ends.len() && self.ends[i] - start <= ATOMIC_WRITE {
                end = self.ends[i];
                i += 1;
            }
            result = write_fd(fd, &self.buf[start..end]);
            start = end;
        }
        self.buf.clear();
        self.ends.clear();
        result
    }
}

/// Writes all of `data` to `fd`, retrying short writes and interrupts.
pub fn write_fd(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: `fd` is a valid borrowed descriptor and `data` a valid
        // slice for the duration of the call.
        let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsFd;

    #[test]
    fn flushes_every_line_in_order() {
        let (mut reader, writer) = std::io::pipe().unwrap();
        let mut batch = Batch::default();
        let mut expected = Vec::new();
        for i in 0..2000 {
            let line = format!("line {i} {}\n", "x".repeat(i % 50));
            batch.buf().extend_from_slice(line.as_bytes());
            batch.end_line();
            expected.extend_from_slice(line.as_bytes());
        }
        let handle = std::thread::spawn(move || {
            let mut got = Vec::new();
            reader.read_to_end(&mut got).unwrap();
            got
        });
        batch.flush_to(writer.as_fd()).unwrap();
        assert!(batch.is_empty());
        drop(writer);
        assert_eq!(handle.join().unwrap(), expected);
    }
}
