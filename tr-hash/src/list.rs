//! Which files the input paths name.
//!
//! Inside a git work tree a path is a git pathspec relative to the
//! current directory: a directory stands for every file under it, files
//! git ignores are left out, untracked files that are not ignored are
//! included, and a file still in git's index but missing from the work
//! tree is listed too (it is hashed as deleted). Outside any work tree,
//! and for paths that lead out of the work tree, the file system is read
//! directly: everything under a directory counts but `.git`. The work
//! tree is the one holding the current directory.
//!
//! A path starting with `:`, or holding `*`, `?` or `[` and naming no
//! existing file, is handed to git as a pathspec with its magic and glob
//! intact (`':(exclude)docs'`, `'src/*.rs'`); any other path is taken
//! literally, so an existing file named `a[1].txt` is that file alone.
//! Outside a work tree every path is literal.
//!
//! Asking git for the list costs a process start or three, so the list is
//! kept in the stat cache together with the evidence that it still holds
//! (see `watch.rs`): the stamps of every directory under the paths that git
//! does not ignore as a whole, of each `.gitignore` in them and of git's
//! //! index, exclude and configuration files.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::HashError;
use crate::repo::{Repo, finish, git, split_nul, start};
use crate::stamp::FileTime;
use crate::watch::{self, Watch};

/// What a listed name is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// The top of the git work tree.
    Repo = 0,
    /// The current directory (or an absolute path).
    Cwd = 1,
}

/// One listed file, named as it appears in the hash input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    pub origin: Origin,
    pub bytes: Vec<u8>,
}

/// The names found, and the evidence for them when they may be cached.
#[derive(Debug)]
pub struct Listing {
    pub names: Vec<Name>,
    pub watch: Option<Vec<Watch>>,
}

#[derive(Debug)]
enum Spec {
    /// Relative to the top of the work tree, `/`-separated; empty for the
    /// top itself.
    Tracked(Vec<u8>),
    /// A pathspec with glob or magic, for git to interpret.
    Magic(OsString),
    /// A path read from the file system, relative to the current directory
    /// or absolute, with `.` and `..` resolved.
    Outside(Vec<u8>),
}

/// The input paths, sorted out.
#[derive(Debug)]
pub struct Plan {
    cwd: PathBuf,
    repo: Option<Repo>,
    specs: Vec<(Spec, String)>,
}

impl Plan {
    /// Sorts `paths`, as seen from `cwd`, into the kinds above.
    pub fn new(paths: &[OsString], cwd: &Path) -> Result<Plan, HashError> {
        let repo = Repo::discover(cwd)?;
        // A root that git reported is a real path; compare like with like.
        let seen_from = match &repo {
            Some(repo) if repo.relocated => cwd.canonicalize().unwrap_or_else(|_| cwd.to_owned()),
            _ => cwd.to_owned(),
        };
        let mut specs = Vec::with_capacity(paths.len());
        for given in paths {
            let display = given.to_string_lossy().into_owned();
            if given.is_empty() {
                return Err(HashError::NoMatch { path: display });
            }
            let spec = match &repo {
                Some(_) if is_magic(given, &seen_from) => Spec::Magic(given.clone()),
                Some(repo) => match resolve(&seen_from.join(given)).strip_prefix(&repo.root) {
                    Ok(rel) => Spec::Tracked(slashed(rel)),
                    Err(_) => Spec::Outside(tidy(Path::new(given))),
                },
                None => Spec::Outside(tidy(Path::new(given))),
            };
            specs.push((spec, display));
        }
        Ok(Plan {
            cwd: cwd.to_owned(),
            repo,
            specs,
        })
    }

    /// A digest of everything that decides the list, naming its cache.
    pub fn key(&self) -> blake3::Hash {
        let mut specs: Vec<(u8, &[u8])> = self
            .specs
            .iter()
            .map(|(spec, _)| match spec {
                Spec::Tracked(rel) => (0, rel.as_slice()),
                Spec::Magic(given) => (1, given.as_bytes()),
                Spec::Outside(path) => (2, path.as_slice()),
            })
            .collect();
        specs.sort_unstable();
        specs.dedup();

        let mut hasher = blake3::Hasher::new_derive_key("taskrunner tr-hash stat cache key v1");
        let mut add = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        add(self.cwd.as_os_str().as_bytes());
        if let Some(repo) = &self.repo {
            add(repo.root.as_os_str().as_bytes());
            add(repo.git_dir.as_os_str().as_bytes());
        }
        for (kind, bytes) in specs {
            add(&[kind]);
            add(bytes);
        }
        for (name, value) in crate::repo::config_vars() {
            add(name.as_bytes());
            add(value.as_bytes());
        }
        hasher.finalize()
    }

    /// Whether a list may be cached: only literal paths inside a work tree
    /// found in the usual way.
    fn is_cacheable(&self) -> bool {
        self.repo.as_ref().is_some_and(|repo| !repo.relocated)
            && self
                .specs
                .iter()
                .all(|(spec, _)| matches!(spec, Spec::Tracked(_)))
    }

    /// Puts in `path` where the file with `name` lives.
    pub fn locate_into(&self, name: &Name, path: &mut PathBuf) {
        let base = match (&self.repo, name.origin) {
            (Some(repo), Origin::Repo) => &repo.root,
            _ => &self.cwd,
        };
        path.as_mut_os_string().clear();
        path.push(base);
        path.push(OsStr::from_bytes(&name.bytes));
    }

    /// Checks that every path matched at least one of `names`.
    pub fn check_matches(&self, names: &[Name]) -> Result<(), HashError> {
        for (spec, given) in &self.specs {
            let Spec::Tracked(rel) = spec else {
                continue;
            };
            let matched = names.iter().any(|name| {
                name.origin == Origin::Repo
                    && (rel.is_empty()
                        || name
                            .bytes
                            .strip_prefix(rel.as_slice())
                            .is_some_and(|rest| rest.is_empty() || rest.first() == Some(&b'/')))
            });
            if !matched {
                return Err(HashError::NoMatch {
                    path: given.clone(),
                });
            }
        }
        Ok(())
    }

    /// Lists the files, asking git or reading directories.
    ///
    /// `scan_start` is when hashing began: evidence stamped since then
    /// cannot vouch for the list, so such a list is not cached.
    pub fn list(&self, scan_start: FileTime) -> Result<Listing, HashError> {
        let mut names = Vec::new();
        let mut watch = None;
        if let Some(repo) = &self.repo {
            watch = self.list_in_git(repo, &mut names)?;
        }
        for (spec, given) in &self.specs {
            match spec {
                Spec::Tracked(_) => {}
                Spec::Magic(pathspec) => self.list_magic(pathspec, given, &mut names)?,
                Spec::Outside(path) => self.list_outside(path, given, &mut names)?,
            }
        }
        names.sort_unstable();
        names.dedup();
        self.check_matches(&names)?;

        let watch = watch.filter(|watch: &Vec<Watch>| {
            watch
                .iter()
                .all(|w| w.stamp.is_none_or(|s| !s.is_racy(scan_start)))
        });
        Ok(Listing { names, watch })
    }

    /// Lists the literal paths inside the work tree with one `git
    /// ls-files`; when the list may be cached, also gathers the evidence
    /// for it.
    fn list_in_git(
        &self,
        repo: &Repo,
        names: &mut Vec<Name>,
    ) -> Result<Option<Vec<Watch>>, HashError> {
        let rels: Vec<&[u8]> = self
            .specs
            .iter()
            .filter_map(|(spec, _)| match spec {
                Spec::Tracked(rel) if rel.is_empty() => Some(&b"."[..]),
                Spec::Tracked(rel) => Some(rel.as_slice()),
                _ => None,
            })
            .collect();
        if rels.is_empty() {
            return Ok(None);
        }
        let root = &repo.root;
        let cacheable = self.is_cacheable();

        let mut ls = git(root);
        ls.args([
            "--literal-pathspecs",
            "ls-files",
            "-z",
            "--cached",
            "--others",
        ])
        .args(["--exclude-standard", "--"])
        .args(rels.iter().map(|rel| OsStr::from_bytes(rel)));
        let ls = start(ls, root)?;
        let evidence = if cacheable {
            let mut ignored = git(root);
            ignored
                .args(["--literal-pathspecs", "ls-files", "-z", "--others"])
                .args(["--ignored", "--exclude-standard", "--directory", "--"])
                .args(rels.iter().map(|rel| OsStr::from_bytes(rel)));
            let mut config = git(root);
            config.args(["config", "--path", "--get", "core.excludesFile"]);
            Some((start(ignored, root)?, start(config, root)?))
        } else {
            None
        };

        let listed = finish(ls, "ls-files", root)?;
        names.extend(split_nul(&listed).map(|path| Name {
            origin: Origin::Repo,
            bytes: path.strip_suffix(b"/").unwrap_or(path).to_vec(),
        }));
        let Some((ignored, config)) = evidence else {
            return Ok(None);
        };
        let ignored = finish(ignored, "ls-files", root)?;
        let excludes_file = config
            .wait_with_output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| PathBuf::from(OsStr::from_bytes(out.stdout.trim_ascii())));
        let ignored = watch::ignored_dirs(root, &ignored)?;
        Ok(Some(watch::gather(repo, &rels, &ignored, excludes_file)))
    }

    fn list_magic(
        &self,
        pathspec: &OsStr,
        given: &str,
        names: &mut Vec<Name>,
    ) -> Result<(), HashError> {
        let mut ls = git(&self.cwd);
        ls.args(["ls-files", "-z", "--full-name", "--cached", "--others"])
            .args(["--exclude-standard", "--"])
            .arg(pathspec);
        let listed = finish(start(ls, &self.cwd)?, "ls-files", &self.cwd)?;
        let before = names.len();
        names.extend(split_nul(&listed).map(|path| Name {
            origin: Origin::Repo,
            bytes: path.strip_suffix(b"/").unwrap_or(path).to_vec(),
        }));
        if names.len() == before {
            return Err(HashError::NoMatch {
                path: given.to_owned(),
            });
        }
        Ok(())
    }

    fn list_outside(
        &self,
        path: &[u8],
        given: &str,
        names: &mut Vec<Name>,
    ) -> Result<(), HashError> {
        let before = names.len();
        walk_outside(&self.cwd, path.to_vec(), names)?;
        if names.len() == before {
            return Err(HashError::NoMatch {
                path: given.to_owned(),
            });
        }
        Ok(())
    }
}

/// Adds every file under `name` (or `name` itself) to `names`, leaving
/// out `.git`: a repository's own records change with every git command.
fn walk_outside(cwd: &Path, name: Vec<u8>, names: &mut Vec<Name>) -> Result<(), HashError> {
    let path = cwd.join(OsStr::from_bytes(&name));
    let meta = match fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(read_error(&path, source)),
    };
    if !meta.is_dir() {
        names.push(Name {
            origin: Origin::Cwd,
            bytes: name,
        });
        return Ok(());
    }
    let entries = fs::read_dir(&path).map_err(|source| read_error(&path, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| read_error(&path, source))?;
        if entry.file_name() == ".git" {
            continue;
        }
        let mut child = name.clone();
        if name == b"." {
            child.clear();
        } else if !child.ends_with(b"/") {
            child.push(b'/');
        }
        child.extend_from_slice(entry.file_name().as_bytes());
        walk_outside(cwd, child, names)?;
    }
    Ok(())
}

fn read_error(path: &Path, source: std::io::Error) -> HashError {
    HashError::Read {
        path: path.display().to_string(),
        source,
    }
}

fn is_magic(path: &OsStr, cwd: &Path) -> bool {
    let bytes = path.as_bytes();
    bytes.starts_with(b":")
        || (bytes.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
            && fs::symlink_metadata(cwd.join(path)).is_err())
}

/// `path`, absolute, with `.` and `..` resolved without looking at the
/// file system.
fn resolve(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `path` with `.` and inner `..` resolved, kept relative when it was,
/// `/`-separated; `.` when nothing is left.
fn tidy(path: &Path) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let absolute = path.has_root();
    for part in path.components() {
        match part {
            Component::Normal(name) => parts.push(name.as_bytes()),
            Component::ParentDir if parts.last().is_some_and(|p| *p != b"..") => {
                parts.pop();
            }
            Component::ParentDir if !absolute => parts.push(b".."),
            _ => {}
        }
    }
    let joined = parts.join(&b'/');
    match (absolute, joined.is_empty()) {
        (true, _) => [b"/".as_slice(), &joined].concat(),
        (false, true) => b".".to_vec(),
        (false, false) => joined,
    }
}

/// A relative path as `/`-separated bytes; empty for the top itself.
fn slashed(rel: &Path) -> Vec<u8> {
    let tidied = tidy(rel);
    if tidied == b"." { Vec::new() } else { tidied }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_resolves_dots_lexically() {
        assert_eq!(tidy(Path::new("./src/../lib/")), b"lib");
        assert_eq!(tidy(Path::new("../x/./y")), b"../x/y");
        assert_eq!(tidy(Path::new(".")), b".");
        assert_eq!(tidy(Path::new("/a/../b")), b"/b");
        assert_eq!(slashed(Path::new("")), b"");
        assert_eq!(slashed(Path::new("a/b")), b"a/b");
    }

    #[test]
    fn glob_and_magic_go_to_git() {
        let here = Path::new("/nonexistent");
        assert!(is_magic(OsStr::new("src/*.rs"), here));
        assert!(is_magic(OsStr::new(":(exclude)docs"), here));
        assert!(!is_magic(OsStr::new("src/main.rs"), here));
    }
}
