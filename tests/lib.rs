//! Helpers for the end-to-end tests: a sandbox with its own state
//! directory and working directory, and a way to run the real binaries
//! the way a user's shell does.
//!
//! The binaries are the ones `cargo test --workspace` builds next to the
//! test executables; run the tests that way so they are fresh.

use std::borrow::BorrowMut;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where cargo put the workspace's binaries for this test run.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test>-<hash>
    exe.parent()
        .and_then(Path::parent)
        .expect("test executables live in target/<profile>/deps")
        .to_owned()
}

/// The path of the workspace binary `name`.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "`{}` is missing: run the tests with `cargo test --workspace` so that the binaries are built",
        path.display()
    );
    path
}

/// A scratch area: `state/` for the state directory and `work/` as the
/// working directory of the commands run.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

/// What a finished command printed and returned.
#[derive(Debug)]
pub struct Finished {
    /// Standard output and standard error, interleaved as written.
    pub output: String,
    /// The exit code (128+N for a death by signal N).
    pub code: i32,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    /// A fresh sandbox.
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("tr-e2e-")
            .tempdir()
            .expect("temporary directory");
        std::fs::create_dir(dir.path().join("work")).unwrap();
        Sandbox { dir }
    }

    /// The sandbox root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The state directory.
    pub fn state(&self) -> PathBuf {
        self.root().join("state")
    }

    /// The working directory of commands.
    pub fn work(&self) -> PathBuf {
        self.root().join("work")
    }

    /// A command for the workspace binary `tool`, with a clean taskrunner
    /// environment: no inherited build, timestamps off, this sandbox's
    /// state directory.
    pub fn command(&self, tool: &str) -> Command {
        self.command_at(&bin(tool))
    }

    /// Like [`Sandbox::command`], for the program at `path`.
    pub fn command_at(&self, path: &Path) -> Command {
        let mut cmd = Command::new(path);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("_taskrunner") || key.starts_with("TASKRUNNER_") {
                cmd.env_remove(key.as_ref());
            }
        }
        cmd.current_dir(self.work())
            .env("TASKRUNNER_STATE_DIRECTORY", self.state())
            .env("TASKRUNNER_DISABLE_TIMESTAMPS", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// `tr-run -n toplevel bash -e -c SCRIPT`.
    pub fn script(&self, script: &str) -> Command {
        let mut cmd = self.command("tr-run");
        cmd.args(["-n", "toplevel", "bash", "-e", "-c", script]);
        cmd
    }

    /// The build folders of the state directory, oldest first (build ids
    /// are UTC times).
    pub fn builds(&self) -> Vec<PathBuf> {
        let mut builds: Vec<_> = std::fs::read_dir(self.state().join("builds"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        builds.sort();
        builds
    }

    /// The log of task `name` in the only build of the sandbox.
    pub fn log(&self, name: &str) -> String {
        let builds = self.builds();
        assert_eq!(builds.len(), 1, "expected one build: {builds:?}");
        let path = builds[0].join("logs").join(format!("{name}.log"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// Runs `cmd` with stdout and stderr captured together, failing the test if it
/// takes longer than `limit`.
pub fn run_within(cmd: impl BorrowMut<Command>, limit: Duration) -> Finished {
    let started = Instant::now();
    let child = start(cmd);
    finish(child, started, limit)
}

/// Runs `cmd` with a generous limit (60 s).
pub fn run(cmd: impl BorrowMut<Command>) -> Finished {
    run_within(cmd, Duration::from_secs(60))
}

/// Starts `cmd` with stdout and stderr going to one file. A file, not a
/// pipe: a background process that inherited the top level's streams
/// must not make the test wait for it.
pub fn start(mut cmd: impl BorrowMut<Command>) -> Running {
    let cmd = cmd.borrow_mut();
    let capture = tempfile::tempfile().expect("capture file");
    cmd.stdout(capture.try_clone().unwrap())
        .stderr(capture.try_clone().unwrap());
    let child = cmd.spawn().expect("spawn");
    Running { child, capture }
}

/// A started command.
pub struct Running {
    /// The process.
    pub child: Child,
    capture: File,
}

impl Running {
    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill failed");
    }
}

/// Waits for a started command, failing the test past `limit`.
pub fn finish(mut running: Running, started: Instant, limit: Duration) -> Finished {
    use std::os::unix::process::ExitStatusExt;

    let status = loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = running.child.kill();
            panic!("command still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let mut output = Vec::new();
    running.capture.seek(SeekFrom::Start(0)).unwrap();
    running.capture.read_to_end(&mut output).unwrap();
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Finished {
        output: String::from_utf8_lossy(&output).into_owned(),
        code,
        elapsed,
    }
}

/// Waits until `path` exists, failing the test after 20 seconds.
pub fn wait_for(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Writes an executable script into `dir`.
pub fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;

    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Whether the tests run as root, where permission bits do not stop
/// reads and writes.
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

impl Sandbox {
    /// Makes `work/` a git repository holding `files` (path, content),
    /// committed.
    pub fn git_repo(&self, files: &[(&str, &str)]) {
        for (path, content) in files {
            let path = self.work().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        self.git(&["init", "-q", "-b", "main"]);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "initial"]);
    }

    /// Runs git in `work/`, failing the test if it fails.
    pub fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=test",
                "-c",
                "user.email=test@example.invalid",
            ])
            .args(args)
            .current_dir(self.work())
            .stdout(Stdio::null())
            .status()
            .expect("git");
        assert!(status.success(), "git {args:?}");
    }
}
