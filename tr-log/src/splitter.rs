//! Cutting a byte stream into lines.

/// Collects bytes and hands out complete lines, without their newline.
///
/// A line longer than the limit is handed out in pieces of the limit's
/// size, so that a task printing megabytes without a newline cannot make
/// the runner's memory grow without bound.
#[derive(Debug)]
pub struct LineSplitter {
    pending: Vec<u8>,
    limit: usize,
}

/// The default longest line kept whole: 1 MiB.
pub const DEFAULT_LINE_LIMIT: usize = 1 << 20;

impl Default for LineSplitter {
    fn default() -> Self {
        LineSplitter::with_limit(DEFAULT_LINE_LIMIT)
    }
}

impl LineSplitter {
    /// A splitter that cuts lines longer than `limit` bytes.
    pub fn with_limit(limit: usize) -> LineSplitter {
        LineSplitter {
            pending: Vec::new(),
            limit: limit.max(1),
        }
    }

    /// Feeds `data` and calls `emit` with each line it completes.
    pub fn push(&mut self, mut data: &[u8], mut emit: impl FnMut(&[u8])) {
        while let Some(pos) = data.iter().position(|&b| b == b'\n') {
            let (line, rest) = (&data[..pos], &data[pos + 1..]);
            if self.pending.is_empty() {
                self.emit_bounded(line, &mut emit);
            } else {
                self.pending.extend_from_slice(line);
                let whole = std::mem::take(&mut self.pending);
                self.emit_bounded(&whole, &mut emit);
            }
            data = rest;
        }
        self.pending.extend_from_slice(data);
        while self.pending.len() >= self.limit {
            let rest = self.pending.split_off(self.limit);
            emit(&self.pending);
            self.pending = rest;
        }
    }

    /// Hands out the last line if it had no newline.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8])) {
        if !self.pending.is_empty() {
            let last = std::mem::take(&mut self.pending);
            emit(&last);
        }
    }

    fn emit_bounded(&self, line: &[u8], emit: &mut impl FnMut(&[u8])) {
        if line.is_empty() {
            emit(line);
        }
        for piece in line.chunks(self.limit) {
            emit(piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(limit: usize, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut splitter = LineSplitter::with_limit(limit);
        let mut lines = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, |l| lines.push(l.to_vec()));
        }
        splitter.finish(|l| lines.push(l.to_vec()));
        lines
    }

    #[test]
    fn joins_lines_across_chunks_and_keeps_the_last_partial_line() {
        let lines = split(100, &[b"ab", b"c\nde\n\nf", b"g"]);
        assert_eq!(lines, [&b"abc"[..], b"de", b"", b"fg"]);
    }

    #[test]
    fn cuts_overlong_lines() {
        let lines = split(3, &[b"abcdefg\nxy", b"zw\n"]);
        assert_eq!(lines, [&b"abc"[..], b"def", b"g", b"xyz", b"w"]);
    }

    #[test]
    fn any_chunking_gives_the_same_lines() {
        let text: Vec<u8> = (0..500u32)
            .map(|i| if i % 7 == 0 { b'\n' } else { i as u8 })
            .collect();
        let whole = split(64, &[&text]);
        for size in [1, 2, 5, 63, 64, 65] {
            let chunks: Vec<&[u8]> = text.chunks(size).collect();
            assert_eq!(split(64, &chunks), whole, "chunk size {size}");
        }
    }
}
