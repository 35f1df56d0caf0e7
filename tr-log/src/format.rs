//! Rendering of shown and logged lines.

/// Which of the task's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The task's standard output.
    Stdout,
    /// The task's standard error.
    Stderr,
}

/// The level of a runner message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Shown only with `TASKRUNNER_DEBUG=1`.
    Debug,
    /// Shown only with `TASKRUNNER_LOG_INFO=1`.
    Info,
    /// Always shown.
    Warn,
    /// Always shown.
    Error,
}

/// What stands between the name and the `|`: a stream or a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// A line the task wrote.
    Stream(Stream),
    /// A message of the runner's own.
    Level(Level),
}

impl Label {
    /// The word printed for this label.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Stream(Stream::Stdout) => "stdout",
            Label::Stream(Stream::Stderr) => "stderr",
            Label::Level(Level::Debug) => "debug",
            Label::Level(Level::Info) => "info",
            Label::Level(Level::Warn) => "warn",
            Label::Level(Level::Error) => "error",
        }
    }
}

/// How one task's lines are rendered.
#[derive(Debug, Clone)]
pub struct LineFormat {
    name: String,
    timestamps: bool,
}

impl LineFormat {
    /// Lines of the task `name`, with or without the time of day.
    pub fn new(name: &str, timestamps: bool) -> LineFormat {
        LineFormat {
            name: name.to_owned(),
            timestamps,
        }
    }

    /// Whether lines carry the time of day.
    pub fn has_timestamps(&self) -> bool {
        self.timestamps
    }

    /// Appends `[TIME ][NAME] LABEL | LINE\n` to `out`.
    pub fn shown(&self, time: &[u8; 8], label: Label, line: &[u8], out: &mut Vec<u8>) {
        self.time(time, out);
        out.push(b'[');
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(b"] ");
        Self::rest(label, line, out);
    }

    /// Appends `[TIME ]LABEL | LINE\n` to `out`.
    pub fn logged(&self, time: &[u8; 8], label: Label, line: &[u8], out: &mut Vec<u8>) {
        self.time(time, out);
        Self::rest(label, line, out);
    }

    fn time(&self, time: &[u8; 8], out: &mut Vec<u8>) {
        if self.timestamps {
            out.extend_from_slice(time);
            out.push(b' ');
        }
    }

    fn rest(label: Label, line: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(label.as_str().as_bytes());
        out.extend_from_slice(b" | ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &[u8; 8] = b"12:34:56";

    #[test]
    fn shown_and_logged_lines_have_the_documented_shape() {
        let with = LineFormat::new("build", true);
        let mut out = Vec::new();
        with.shown(T, Label::Stream(Stream::Stdout), b"hi", &mut out);
        with.logged(T, Label::Level(Level::Warn), b"careful", &mut out);
        assert_eq!(
            out,
            b"12:34:56 [build] stdout | hi\n12:34:56 warn | careful\n"
        );

        let without = LineFormat::new("build", false);
        let mut out = Vec::new();
        without.shown(T, Label::Stream(Stream::Stderr), b"\xff raw", &mut out);
        assert_eq!(out, b"[build] stderr | \xff raw\n");
    }
}
