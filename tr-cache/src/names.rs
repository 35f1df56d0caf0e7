//! Object names inside a store, shared by every store and by the old
//! runner: `bundles/NAME[-VERSION]-HASH.tar.zst` and
//! `latest/NAME-BRANCH.txt`.

use tr_common::TaskName;

use crate::CacheError;

/// The suffix of signature objects: `bundles/x.tar.zst.sig`.
pub const SIGNATURE_SUFFIX: &str = ".sig";

/// One task's outputs archive for one input hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    name: TaskName,
    version: Option<String>,
    hash: String,
}

impl Bundle {
    /// Names the archive of task `name` (with `--cache-version`
    /// `version`, if any) for input hash `hash`.
    pub fn new(name: TaskName, version: Option<&str>, hash: &str) -> Result<Bundle, CacheError> {
        check_word("hash", hash)?;
        if let Some(version) = version {
            check_word("version", version)?;
        }
        Ok(Bundle {
            name,
            version: version.map(str::to_owned),
            hash: hash.to_owned(),
        })
    }

    /// The task's name.
    pub fn task(&self) -> &TaskName {
        &self.name
    }

    /// The input hash.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The object name, relative to the store's prefix.
    pub fn object_name(&self) -> String {
        match &self.version {
            Some(v) => format!("bundles/{}-{v}-{}.tar.zst", self.name, self.hash),
            None => format!("bundles/{}-{}.tar.zst", self.name, self.hash),
        }
    }
}

/// The object holding the latest hash of task `name` on `branch`.
pub fn latest_object(name: &TaskName, branch: &str) -> Result<String, CacheError> {
    check_branch(branch)?;
    Ok(format!("latest/{name}-{branch}.txt"))
}

/// Checks a hash as read from a latest-hash object or given by a user.
pub fn check_hash(hash: &str) -> Result<(), CacheError> {
    check_word("hash", hash)
}

fn check_word(what: &'static str, value: &str) -> Result<(), CacheError> {
    let invalid = |reason| {
        Err(CacheError::InvalidName {
            what,
            value: value.escape_debug().to_string(),
            reason,
        })
    };
    if value.is_empty() {
        return invalid("it is empty");
    }
    if value.len() > 128 {
        return invalid("longer than 128 bytes");
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+');
    if !value.chars().all(allowed) || value.starts_with('.') {
        return invalid("use letters, digits, `.`, `_`, `-` and `+`, not starting with `.`");
    }
    Ok(())
}

/// Branch names hold `/`, so they become directories in the directory
/// store; what git forbids in a ref is refused here too, which keeps the
/// name inside `latest/`.
fn check_branch(branch: &str) -> Result<(), CacheError> {
    let invalid = |reason| {
        Err(CacheError::InvalidName {
            what: "branch",
            value: branch.escape_debug().to_string(),
            reason,
        })
    };
    if branch.is_empty() {
        return invalid("it is empty");
    }
    if branch.len() > 200 {
        return invalid("longer than 200 bytes");
    }
    if branch.chars().any(|c| c.is_control() || c == '\\') {
        return invalid("it contains a control character or `\\`");
    }
    if branch
        .split('/')
        .any(|part| part.is_empty() || part.starts_with('.'))
    {
        return invalid("a part between `/` is empty or starts with `.`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn task(name: &str) -> TaskName {
        TaskName::new(OsStr::new(name)).unwrap()
    }

    #[test]
    fn names_follow_the_old_layout() {
        let plain = Bundle::new(task("build"), None, "ab12").unwrap();
        assert_eq!(plain.object_name(), "bundles/build-ab12.tar.zst");
        let versioned = Bundle::new(task("build"), Some("v2"), "ab12").unwrap();
        assert_eq!(versioned.object_name(), "bundles/build-v2-ab12.tar.zst");
        assert_eq!(
            latest_object(&task("build"), "feature/x").unwrap(),
            "latest/build-feature/x.txt"
        );
    }

    #[test]
    fn refuses_parts_that_could_leave_their_folder() {
        assert!(Bundle::new(task("b"), None, "../x").is_err());
        assert!(Bundle::new(task("b"), Some("a/b"), "h").is_err());
        assert!(Bundle::new(task("b"), None, "").is_err());
        for branch in ["", "../x", "a/../b", "/a", "a/", "a\nb", "a//b"] {
            assert!(latest_object(&task("b"), branch).is_err(), "{branch:?}");
        }
    }
}
