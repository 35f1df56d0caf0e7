//! Task names, which become file names in the state directory.

use std::fmt;

/// A task name that is safe to use as a file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskName(String);

/// Why a string cannot be a task name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// The name is empty.
    #[error("invalid task name: the name is empty")]
    Empty,
    /// The name is `.` or `..`.
    #[error("invalid task name `{0}`: `.` and `..` are not allowed")]
    Dots(String),
    /// The name contains `/` or NUL.
    #[error("invalid task name `{0}`: it must not contain `/` or NUL")]
    Separator(String),
    /// The name is not valid UTF-8.
    #[error("invalid task name `{0}`: it is not valid UTF-8")]
    NotUtf8(String),
    /// The name is longer than a file name may be.
    #[error("invalid task name `{0}`: longer than 200 bytes")]
    TooLong(String),
}

impl TaskName {
    /// Checks `raw` and makes it a name.
    pub fn new(raw: &std::ffi::OsStr) -> Result<TaskName, NameError> {
        let text = raw
            .to_str()
            .ok_or_else(|| NameError::NotUtf8(raw.to_string_lossy().into_owned()))?;
        match text {
            "" => Err(NameError::Empty),
            "." | ".." => Err(NameError::Dots(text.to_owned())),
            _ if text.contains(['/', '\0']) => {
                Err(NameError::Separator(text.escape_debug().to_string()))
            }
            // Room for `.lock`, `.hash` and temporary suffixes within NAME_MAX.
            _ if text.len() > 200 => Err(NameError::TooLong(text.to_owned())),
            _ => Ok(TaskName(text.to_owned())),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn rejects_names_that_are_not_file_names() {
        assert_eq!(TaskName::new(OsStr::new("")), Err(NameError::Empty));
        assert!(matches!(
            TaskName::new(OsStr::new("..")),
            Err(NameError::Dots(_))
        ));
        assert!(matches!(
            TaskName::new(OsStr::new("a/b")),
            Err(NameError::Separator(_))
        ));
        assert!(matches!(
            TaskName::new(OsStr::from_bytes(b"\xff")),
            Err(NameError::NotUtf8(_))
        ));
        assert!(matches!(
            TaskName::new(OsStr::new(&"x".repeat(201))),
            Err(NameError::TooLong(_))
        ));
    }

    #[test]
    fn accepts_ordinary_names() {
        for name in ["build", "test: unit", "a.b", "...", "ünï"] {
            assert_eq!(TaskName::new(OsStr::new(name)).unwrap().as_str(), name);
        }
    }
}
