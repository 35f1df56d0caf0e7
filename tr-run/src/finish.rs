//! What follows a task's end: its final messages, saving the hash of a
//! success, post-unpack commands, uploads, and the commit status.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use tr_common::{diag, exit};
use tr_log::timeline::{Phase, now_us};
use tr_log::{Level, LineSplitter, Stream};

use crate::decide::bundle;
use crate::git;
use crate::output::TaskOutput;
use crate::task::{Decided, Task};

impl Task<'_> {
    /// Everything after the task's process is gone; returns the task's
    /// final exit code (a failing post-unpack command fails the task).
    pub(crate) fn finish(&mut self, out: &mut TaskOutput, code: i32) -> i32 {
        let mut code = code;
        if let Some(mut decided) = self.snapshot.take() {
            code = self.after_snapshot(out, &mut decided, code);
            self.snapshot = Some(decided);
        }
        let log_url = self.upload_log(out);
        self.report_end(out, code, log_url);
        code
    }

    fn after_snapshot(&mut self, out: &mut TaskOutput, d: &mut Decided, code: i32) -> i32 {
        let ran = !d.skipped;
        let Some(before) = d.to_save.take() else {
            return code;
        };
        if code != exit::SUCCESS {
            if ran {
                out.message(Level::Error, &format!("Failed, exit code: {code}"));
            }
            return code;
        }
        if ran {
            out.message(Level::Info, "success");
            // A task that changes its own inputs would be skipped next
            // time with outputs built from inputs that no longer exist.
            let began = now_us();
            let rehashed = before.rehash_files(self.state);
            self.trace.phase(Phase::Rehash, began);
            match rehashed {
                Ok(after) => {
                    let changed = before.changed_files(&after);
                    if !changed.is_empty() {
                        out.message(
                            Level::Warn,
                            &format!(
                                "inputs changed while the task ran, the hash is not saved: {}",
                                changed.join(", ")
                            ),
                        );
                        return code;
                    }
                }
                Err(err) => {
                    out.message(
                        Level::Warn,
                        &format!(
                            "cannot hash the inputs again, the hash is not saved: {}",
                            diag::chain(&err)
                        ),
                    );
                    return code;
                }
            }
        }

        // Post-unpack commands run before the hash is saved: if one fails,
        // the next run must not skip a task whose outputs are incomplete.
        let began = now_us();
        for cmd in &d.args.post_unpack_cmds {
            if let Err(message) = self.post_unpack(out, cmd) {
                self.trace.phase(Phase::PostUnpack, began);
                out.message(Level::Error, &message);
                return exit::FAILURE;
            }
        }
        if !d.args.post_unpack_cmds.is_empty() {
            self.trace.phase(Phase::PostUnpack, began);
        }
        let info = tr_hash::HashInfo {
            hash: before.hash.clone(),
            hash_input: before.hash_input.clone(),
            main_branch_commit: d.main_branch_commit.clone(),
        };
        out.message(Level::Debug, &format!("Saving hash {}", info.hash));
        let began = now_us();
        let saved = tr_hash::save(self.state, self.name, &info);
        self.trace.phase(Phase::SaveHash, began);
        if let Err(err) = saved {
            out.message(
                Level::Warn,
                &format!("cannot save the hash: {}", diag::chain(&err)),
            );
        }

        let cached = !d.args.outputs.is_empty() || d.args.cache_success;
        if cached
            && self.settings.save_remote_cache
            && (ran || self.settings.prime_cache_mode)
            && !d.restored
        {
            let began = now_us();
            self.upload(out, d, &before.hash);
            self.trace.phase(Phase::Upload, began);
        }
        code
    }

    /// Runs a post-unpack command with `bash -c`; its stdout and stderr
    /// are shown as the task's stderr lines.
    fn post_unpack(&self, out: &mut TaskOutput, cmd: &std::ffi::OsStr) -> Result<(), String> {
        out.message(
            Level::Debug,
            &format!("Running post-unpack cmd {:?}", cmd.to_string_lossy()),
        );
        let shown = || cmd.to_string_lossy().into_owned();
        let (mut reader, writer) = std::io::pipe()
            .map_err(|e| format!("cannot run post-unpack cmd `{}`: {e}", shown()))?;
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::null())
            .stdout(writer.try_clone().map_err(|e| e.to_string())?)
            .stderr(writer)
            .spawn()
            .map_err(|e| format!("cannot run post-unpack cmd `{}`: {e}", shown()))?;

        // Read on a thread: a background process of the command may keep
        // the pipe open, and is given the output stream timeout.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut chunk = vec![0; 64 * 1024];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let mut lines = LineSplitter::default();
        let mut show = |out: &mut TaskOutput, data: &[u8]| {
            let time = tr_common::clock::time_of_day();
            lines.push(data, |line| out.task_line(&time, Stream::Stderr, line));
            out.flush();
        };
        let status = loop {
            match rx.recv_timeout(std::time::Duration::from_millis(50)) {
                Ok(data) => show(out, &data),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break child.wait(),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        break Ok(status);
                    }
                }
            }
        };
        let deadline = Instant::now() + self.settings.output_stream_timeout;
        while let Ok(data) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            show(out, &data);
        }
        let time = tr_common::clock::time_of_day();
        lines.finish(|line| out.task_line(&time, Stream::Stderr, line));
        out.flush();

        let status = status.map_err(|e| format!("post-unpack cmd `{}` was lost: {e}", shown()))?;
        match exit::code_of(status) {
            exit::SUCCESS => Ok(()),
            code => Err(format!(
                "post-unpack cmd `{}` failed with exit code {code}",
                shown()
            )),
        }
    }

    /// Uploads the outputs, and with `--fuzzy-cache` records the hash as
    /// the latest of the current branch. Failures are warnings.
    fn upload(&mut self, out: &mut TaskOutput, d: &Decided, hash: &str) {
        let paths: Vec<PathBuf> = d.args.outputs.iter().map(PathBuf::from).collect();
        let root = self.cache_root(&d.args);
        let bundle = match bundle(self.name, &d.args, hash) {
            Ok(bundle) => bundle,
            Err(err) => {
                out.message(
                    Level::Warn,
                    &format!("cannot name the archive: {}", diag::chain(&err)),
                );
                return;
            }
        };
        let outputs = match tr_cache::Outputs::new(&root, &paths) {
            Ok(outputs) => outputs,
            Err(err) => {
                out.message(
                    Level::Warn,
                    &format!("cannot save the outputs: {}", diag::chain(&err)),
                );
                return;
            }
        };
        let name = self.name;
        let Some(cache) = self.cache(out) else {
            return;
        };
        out.message(
            Level::Debug,
            &format!("Saving remote cache {}", cache.location(&bundle)),
        );
        if let Err(err) = cache.save(&bundle, &outputs) {
            out.message(
                Level::Warn,
                &format!("cannot save the outputs: {}", diag::chain(&err)),
            );
            return;
        }
        if d.args.fuzzy_cache {
            let branch = match git::current_branch() {
                Ok(branch) => branch,
                Err(e) => {
                    out.message(Level::Warn, &format!("cannot record the latest hash: {e}"));
                    return;
                }
            };
            if let Err(err) = cache.set_latest(name, &branch, hash) {
                out.message(
                    Level::Warn,
                    &format!("cannot record the latest hash: {}", diag::chain(&err)),
                );
            }
        }
    }

    /// Uploads the task's log when `TASKRUNNER_UPLOAD_LOGS=1`; its address
    /// for the commit status.
    fn upload_log(&mut self, out: &mut TaskOutput) -> Option<String> {
        if !self.settings.upload_logs || self.cancelled {
            return None;
        }
        let began = now_us();
        let url = self.send_log(out);
        self.trace.phase(Phase::UploadLog, began);
        url
    }

    fn send_log(&mut self, out: &mut TaskOutput) -> Option<String> {
        let log = self.build.log_path(self.name);
        let (id, name) = (&self.build.id, self.name);
        let view = self.settings.logs_view_url.clone();
        let cache = self.cache(out)?;
        match cache.upload_log(id, name, &log) {
            Ok(suffix) => Some(format!("{view}{suffix}")),
            Err(err) => {
                out.message(
                    Level::Warn,
                    &format!("cannot upload the log: {}", diag::chain(&err)),
                );
                None
            }
        }
    }

    /// Reports a commit status when they are enabled. A failure to report
    /// is a warning: it never changes the build's result.
    pub(crate) fn report(&mut self, out: &mut TaskOutput, status: &tr_check::StatusRequest) {
        if let Some(reporter) = self.reporter(out)
            && let Err(err) = reporter.report(status)
        {
            out.message(
                Level::Warn,
                &format!("cannot report the commit status: {}", diag::chain(&err)),
            );
        }
    }

    /// The commit status reporter, when `TASKRUNNER_ENABLE_COMMIT_STATUS=1`.
    fn reporter(&mut self, out: &mut TaskOutput) -> Option<&tr_check::Reporter> {
        let state = self.state;
        self.reporter
            .get(|| match tr_check::Reporter::enabled_from_env(state) {
                Ok(reporter) => reporter,
                Err(err) => {
                    out.message(
                        Level::Warn,
                        &format!("commit statuses are off: {}", diag::chain(&err)),
                    );
                    None
                }
            })
    }

    /// Reports the task's end as the rules of SPEC §7 say.
    fn report_end(&mut self, out: &mut TaskOutput, code: i32, log_url: Option<String>) {
        if !tr_check::is_enabled() {
            return;
        }
        let began = now_us();
        self.report_status(out, code, log_url);
        self.trace.phase(Phase::Status, began);
    }

    fn report_status(&mut self, out: &mut TaskOutput, code: i32, log_url: Option<String>) {
        let decided = self.snapshot.as_ref();
        let end = tr_check::rules::TaskEnd {
            asked: decided.is_some_and(|d| d.args.commit_status),
            skipped: decided.is_some_and(|d| d.skipped),
            succeeded: code == exit::SUCCESS,
        };
        let name = self.name;
        let Some(reporter) = self.reporter(out) else {
            return;
        };
        match tr_check::rules::at_end(name.as_str(), end, |context| reporter.has_status(context)) {
            Ok(Some(mut status)) => {
                status.target_url = log_url;
                self.report(out, &status);
            }
            Ok(None) => {}
            Err(err) => out.message(
                Level::Warn,
                &format!("cannot read the commit's statuses: {}", diag::chain(&err)),
            ),
        }
    }
}
