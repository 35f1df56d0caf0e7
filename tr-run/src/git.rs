//! The few facts about the git work tree that the caches need. These run
//! `git`, so they are asked only on the way to a cache, never on the
//! no-op path.

use std::ffi::OsString;
use std::process::{Command, Stdio};

/// The current branch (`git symbolic-ref --short HEAD`).
pub fn current_branch() -> Result<String, String> {
    git(&["symbolic-ref".into(), "--short".into(), "HEAD".into()]).map(|out| out.trim().to_owned())
}

/// The commit `HEAD` shares with `origin/MAIN`.
pub fn merge_base(main: &str) -> Result<String, String> {
    git(&[
        "merge-base".into(),
        "HEAD".into(),
        format!("origin/{main}").into(),
    ])
    .map(|out| out.trim().to_owned())
}

/// Whether none of `paths` has a staged or unstaged change, or an
/// untracked file that is not ignored. Outside a work tree everything is
/// clean: there is nothing to compare with.
pub fn is_clean(paths: &[OsString]) -> Result<bool, String> {
    let inside = Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success());
    if !inside {
        return Ok(true);
    }
    let mut args: Vec<OsString> = vec![
        "status".into(),
        "--porcelain".into(),
        "-z".into(),
        "--".into(),
    ];
    args.extend(paths.iter().cloned());
    git(&args).map(|out| out.is_empty())
}

fn git(args: &[OsString]) -> Result<String, String> {
    let shown = || {
        let words: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
        format!("git {}", words.join(" "))
    };
    let out = Command::new("git")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", shown()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("`{}` failed: {}", shown(), stderr.trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
