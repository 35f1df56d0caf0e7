//! The evidence that a cached file list still holds.
//!
//! Creating, deleting or renaming a file changes its directory's stamp;
//! editing an ignore rule changes a rule file's stamp, and adding or
//! removing a file from git's index changes the index's. So the list git
//! gave stays right while the stamps of every directory under the input
//! paths (but those git ignores as a whole), of the `.gitignore` files
//! that apply, and of git's index, exclude and configuration files, stay
//! what they were.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::HashError;
use crate::repo::{Repo, git, split_nul, start};
use crate::stamp::Stamp;

/// A file or directory whose stamp vouches for a cached list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    pub path: PathBuf,
    pub stamp: Option<Stamp>,
}

impl Watch {
    fn now(path: PathBuf) -> Watch {
        let stamp = fs::symlink_metadata(&path).ok().map(|m| Stamp::of(&m));
        Watch { path, stamp }
    }

    /// Whether the path still has the stamp it had.
    pub fn holds(&self) -> bool {
        let now = fs::symlink_metadata(&self.path).ok().map(|m| Stamp::of(&m));
        now == self.stamp
    }
}

/// The evidence for a list of the (`/`-separated, work-tree-relative)
/// paths `rels`, given the directories git ignores as a whole and the
/// configured exclude file, if any.
pub fn gather(
    repo: &Repo,
    rels: &[&[u8]],
    ignored: &[Vec<u8>],
    excludes_file: Option<PathBuf>,
) -> Vec<Watch> {
    let root = &repo.root;
    let ignored: Vec<&[u8]> = ignored.iter().map(Vec::as_slice).collect();
    let mut watch: Vec<Watch> = repo
        .rule_files(excludes_file)
        .into_iter()
        .map(Watch::now)
        .collect();
    let mut dirs = Vec::new();
    for rel in rels {
        let rel: &[u8] = if *rel == b"." { b"" } else { rel };
        watch_ancestors(root, rel, &mut dirs);
        watch_tree(root, rel, &ignored, &mut dirs);
    }
    dirs.sort_unstable();
    dirs.dedup();
    for dir in dirs {
        watch.push(Watch::now(dir.join(".gitignore")));
        watch.push(Watch::now(dir));
    }
    watch
}

/// The directories that git ignores as a whole, from the output of `git
/// ls-files --others --ignored --directory`.
///
/// That output collapses a directory that matches an ignore rule into
/// `DIR/`, but also shows `DIR/` for a directory that merely holds
/// nothing but ignored files, followed by those files. Only the first
/// kind may be left unwatched (a new file in the second kind counts), so
/// the candidates, the `DIR/` lines with nothing listed under them, are
/// confirmed with `git check-ignore`, which answers for the directory's
/// own name.
pub fn ignored_dirs(root: &Path, listed: &[u8]) -> Result<Vec<Vec<u8>>, HashError> {
    let mut entries: Vec<&[u8]> = split_nul(listed).collect();
    entries.sort_unstable();
    let candidates: Vec<&[u8]> = entries
        .iter()
        .enumerate()
        .filter(|(i, entry)| {
            // check-ignore reads glob characters as such; a directory with
            // them in its name is simply watched.
            entry.ends_with(b"/")
                && !entry
                    .iter()
                    .any(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
                && entries
                    .get(i + 1)
                    .is_none_or(|next| !next.starts_with(entry))
        })
        .map(|(_, entry)| *entry)
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }

    let mut check = git(root);
    check
        .args(["check-ignore", "-z", "--stdin"])
        .stdin(std::process::Stdio::piped());
    let mut child = start(check, root)?;
    let mut input = Vec::new();
    for candidate in &candidates {
        input.extend_from_slice(candidate);
        input.push(0);
    }
    let stdin = child.stdin.take();
    // Written from another thread: git answers while it reads, and a full
    // pipe each way would stall both.
    let output = std::thread::scope(|scope| {
        scope.spawn(move || {
            if let Some(mut stdin) = stdin {
                let _ = std::io::Write::write_all(&mut stdin, &input);
            }
        });
        child.wait_with_output()
    })
    .map_err(|source| HashError::GitSpawn {
        dir: root.display().to_string(),
        source,
    })?;
    // Status 1 means that none is ignored.
    if !matches!(output.status.code(), Some(0 | 1)) {
        return Err(HashError::Git {
            args: "check-ignore".to_owned(),
            dir: root.display().to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(split_nul(&output.stdout)
        .map(|dir| dir.strip_suffix(b"/").unwrap_or(dir).to_vec())
        .collect())
}

/// Adds the directories from the top of the work tree down to the one
/// holding `rel`: their `.gitignore` files apply to it, and creating or
/// removing `rel` changes its parent.
fn watch_ancestors(root: &Path, rel: &[u8], dirs: &mut Vec<PathBuf>) {
    dirs.push(root.to_owned());
    let mut at = root.to_owned();
    let mut parts = rel.split(|&b| b == b'/').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            break;
        }
        at.push(OsStr::from_bytes(part));
        dirs.push(at.clone());
    }
}

/// Adds `rel`, when it is a directory, and every directory under it that
/// git does not ignore as a whole and that is not another repository.
fn watch_tree(root: &Path, rel: &[u8], ignored: &[&[u8]], dirs: &mut Vec<PathBuf>) {
    let path = root.join(OsStr::from_bytes(rel));
    if !rel.is_empty() && (ignored.contains(&rel) || path.join(".git").exists()) {
        return;
    }
    let Ok(entries) = fs::read_dir(&path) else {
        return;
    };
    dirs.push(path);
    for entry in entries.flatten() {
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || entry.file_name() == ".git" {
            continue;
        }
        let mut child = rel.to_vec();
        if !child.is_empty() {
            child.push(b'/');
        }
        child.extend_from_slice(entry.file_name().as_bytes());
        watch_tree(root, &child, ignored, dirs);
    }
}
