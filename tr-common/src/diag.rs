//! The tools' own diagnostics: one line on stderr, prefixed by the tool's
//! name, with the whole cause chain.

use std::error::Error;
use std::fmt::Write as _;

/// Renders an error and its causes as one line:
/// ``cannot open `x`: permission denied``.
pub fn chain(err: &dyn Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Some errors repeat their source's text in their own; say it once.
        if !line.ends_with(&text) {
            let _ = write!(line, ": {text}");
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

/// Prints `TOOL: error: MESSAGE` on stderr.
pub fn error(tool: &str, err: &dyn Error) {
    eprintln!("{tool}: error: {}", chain(err));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open `x`")]
    struct Outer(#[source] io::Error);

    #[test]
    fn chain_joins_causes_on_one_line() {
        let err = Outer(io::Error::other("denied\nreally"));
        assert_eq!(chain(&err), "cannot open `x`: denied really");
    }
}
