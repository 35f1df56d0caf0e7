//! Settings read from `TASKRUNNER_*` variables, with errors that name the
//! variable.

use std::ffi::OsString;
use std::time::Duration;

/// A variable whose value cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid value `{value}` in `{name}`: {expected}")]
pub struct EnvError {
    /// The variable's name.
    pub name: String,
    /// Its value, lossily decoded.
    pub value: String,
    /// What a valid value looks like.
    pub expected: &'static str,
}

/// A boolean switch: on when the variable is exactly `1`, as in the old
/// runner.
pub fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| v == "1")
}

/// A non-empty variable's value.
pub fn non_empty(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// A whole number of seconds; unset or empty gives `default`.
pub fn seconds(name: &str, default: u64) -> Result<Duration, EnvError> {
    Ok(Duration::from_secs(number(name, default)?))
}

/// A whole non-negative number; unset or empty gives `default`.
pub fn number(name: &str, default: u64) -> Result<u64, EnvError> {
    let Some(raw) = non_empty(name) else {
        return Ok(default);
    };
    let text = raw.to_string_lossy();
    text.trim().parse().map_err(|_| EnvError {
        name: name.to_owned(),
        value: text.into_owned(),
        expected: "expected a whole number",
    })
}

/// A file descriptor number handed down through the environment.
pub fn fd(name: &str) -> Result<Option<i32>, EnvError> {
    let Some(raw) = std::env::var_os(name) else {
        return Ok(None);
    };
    let text = raw.to_string_lossy();
    match text.parse::<i32>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        _ => Err(EnvError {
            name: name.to_owned(),
            value: text.into_owned(),
            expected: "expected a file descriptor number",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each test uses its own variable: tests run in parallel threads.
    #[test]
    fn number_reads_defaults_and_rejects_junk() {
        assert_eq!(number("TR_COMMON_TEST_UNSET", 7).unwrap(), 7);
        // SAFETY: no other thread reads this test-only variable.
        unsafe { std::env::set_var("TR_COMMON_TEST_JUNK", "5s") };
        let err = number("TR_COMMON_TEST_JUNK", 7).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value `5s` in `TR_COMMON_TEST_JUNK`: expected a whole number"
        );
    }

    #[test]
    fn flag_is_on_only_for_one() {
        // SAFETY: no other thread reads these test-only variables.
        unsafe {
            std::env::set_var("TR_COMMON_TEST_ON", "1");
            std::env::set_var("TR_COMMON_TEST_OFF", "true");
        }
        assert!(flag("TR_COMMON_TEST_ON"));
        assert!(!flag("TR_COMMON_TEST_OFF"));
        assert!(!flag("TR_COMMON_TEST_MISSING"));
    }
}
