//! Finding the git work tree around a directory, and running `git` in it.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::HashError;

/// Variables that move git's repository, work tree or index elsewhere.
/// With any of them set, the work tree is asked of `git` itself and the
/// file list is never cached, since the files that prove it current may
/// not be where they usually are.
const RELOCATING_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
];

/// The variables that change which configuration git reads
/// (`GIT_CONFIG_*`), sorted: a cached list holds only under the same ones.
pub fn config_vars() -> Vec<(OsString, OsString)> {
    let mut vars: Vec<_> = std::env::vars_os()
        .filter(|(name, _)| name.as_bytes().starts_with(b"GIT_CONFIG"))
        .collect();
    vars.sort_unstable();
    vars
}

/// A git work tree.
#[derive(Debug)]
pub struct Repo {
    /// The top of the work tree.
    pub root: PathBuf,
    /// The repository's own directory (`.git`, or a worktree's).
    pub git_dir: PathBuf,
    /// Where shared files (`config`, `info/exclude`) live.
    pub common_dir: PathBuf,
    /// Whether git's location was set through the environment.
    pub relocated: bool,
}

impl Repo {
    /// The work tree holding `cwd`, if any.
    pub fn discover(cwd: &Path) -> Result<Option<Repo>, HashError> {
        if RELOCATING_VARS
            .iter()
            .any(|var| std::env::var_os(var).is_some())
        {
            return Repo::ask_git(cwd);
        }
        for dir in cwd.ancestors() {
            let dot_git = dir.join(".git");
            let Ok(meta) = fs::symlink_metadata(&dot_git) else {
                continue;
            };
            let git_dir = if meta.is_dir() {
                dot_git
            } else if let Some(target) = read_gitdir_file(&dot_git) {
                dir.join(target)
            } else {
                continue;
            };
            let common_dir = fs::read(git_dir.join("commondir"))
                .ok()
                .map(|raw| git_dir.join(OsStr::from_bytes(raw.trim_ascii())))
                .unwrap_or_else(|| git_dir.clone());
            return Ok(Some(Repo {
                root: dir.to_owned(),
                git_dir,
                common_dir,
                relocated: false,
            }));
        }
        Ok(None)
    }

    fn ask_git(cwd: &Path) -> Result<Option<Repo>, HashError> {
        let output = git(cwd)
            .args(["rev-parse", "--path-format=absolute", "--show-toplevel"])
            .args(["--git-dir", "--git-common-dir"])
            .stderr(Stdio::null())
            .output()
            .map_err(|source| spawn_error(cwd, source))?;
        if !output.status.success() {
            return Ok(None);
        }
        let mut lines = output.stdout.split(|&b| b == b'\n');
        let mut next = || lines.next().map(|l| PathBuf::from(OsStr::from_bytes(l)));
        let (Some(root), Some(git_dir), Some(common)) = (next(), next(), next()) else {
            return Ok(None);
        };
        Ok(Some(Repo {
            root,
            git_dir,
            common_dir: common,
            relocated: true,
        }))
    }

    /// Files whose change may change which files git ignores or tracks:
    /// the index, the exclude files and the configuration files that can
    /// name another exclude file.
    pub fn rule_files(&self, excludes_file: Option<PathBuf>) -> Vec<PathBuf> {
        let mut files = vec![
            self.git_dir.join("index"),
            self.common_dir.join("info/exclude"),
            self.common_dir.join("config"),
            PathBuf::from("/etc/gitconfig"),
        ];
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")));
        if let Some(config_home) = config_home {
            files.push(config_home.join("git/config"));
            files.push(config_home.join("git/ignore"));
        }
        if let Some(home) = std::env::var_os("HOME") {
            files.push(Path::new(&home).join(".gitconfig"));
        }
        for var in ["GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM"] {
            files.extend(
                std::env::var_os(var)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from),
            );
        }
        files.extend(excludes_file);
        files
    }
}

/// The target of a `.git` file (`gitdir: PATH`), as worktrees and
/// submodules have.
fn read_gitdir_file(path: &Path) -> Option<PathBuf> {
    let raw = fs::read(path).ok()?;
    let target = raw.strip_prefix(b"gitdir:")?.trim_ascii();
    Some(PathBuf::from(OsStr::from_bytes(target)))
}

/// A `git` command run in `dir`, its output captured.
pub fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Starts `cmd`, naming `dir` if that fails.
pub fn start(mut cmd: Command, dir: &Path) -> Result<Child, HashError> {
    cmd.spawn().map_err(|source| spawn_error(dir, source))
}

/// Waits for a `git` started with [`start`]; its standard output when it
/// succeeded.
pub fn finish(child: Child, args: &str, dir: &Path) -> Result<Vec<u8>, HashError> {
    let output = child
        .wait_with_output()
        .map_err(|source| spawn_error(dir, source))?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(HashError::Git {
        args: args.to_owned(),
        dir: dir.display().to_string(),
        stderr: stderr.trim().replace('\n', " "),
    })
}

fn spawn_error(dir: &Path, source: std::io::Error) -> HashError {
    HashError::GitSpawn {
        dir: dir.display().to_string(),
        source,
    }
}

/// The parts of `git -z` output.
pub fn split_nul(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|&b| b == 0).filter(|part| !part.is_empty())
}
