//! Exit codes shared by the tools, documented in their man pages.

use std::process::ExitStatus;

/// Everything went well.
pub const SUCCESS: i32 = 0;
/// The operation failed (a task failed, a check did not match).
pub const FAILURE: i32 = 1;
/// The command line or the environment was invalid.
pub const USAGE: i32 = 2;
/// The command exists but could not be executed, as in a shell.
pub const NOT_EXECUTABLE: i32 = 126;
/// The command was not found, as in a shell.
pub const NOT_FOUND: i32 = 127;
/// Base of the codes for a death by signal: signal N gives 128 + N.
pub const SIGNAL_BASE: i32 = 128;

/// The shell convention for a finished child: its exit code, or 128 + N
/// when signal N killed it.
pub fn code_of(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;

    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => SIGNAL_BASE + signal,
        (None, None) => FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn signal_deaths_map_to_128_plus_n() {
        assert_eq!(code_of(ExitStatus::from_raw(9)), 137);
        assert_eq!(code_of(ExitStatus::from_raw(3 << 8)), 3);
    }
}
