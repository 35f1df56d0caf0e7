//! What `snapshot` decides, in the order of SPEC §5: no inputs, unchanged
//! hash, prime cache mode, the exact cache, then the fuzzy cache.

use std::path::PathBuf;

use tr_common::{TaskName, diag};
use tr_log::Level;
use tr_log::timeline::{Phase, now_us};

use crate::git;
use crate::output::TaskOutput;
use crate::snapshot::SnapshotArgs;
use crate::task::{Decided, Task};

/// Answers for the `snapshot` function to evaluate.
const RUN: &[u8] = b"true";
const SKIP: &[u8] = b"exit 0";
const FAIL: &[u8] = b"exit 1";

impl Task<'_> {
    /// Answers `snapshot`: the decision, and a commit status if asked.
    pub(crate) fn snapshot(&mut self, out: &mut TaskOutput, args: SnapshotArgs) -> Vec<u8> {
        let mut decided = Decided {
            args,
            skipped: false,
            restored: false,
            fuzzy_restored: false,
            to_save: None,
            main_branch_commit: None,
        };
        let answer = self.decide(out, &mut decided);
        if decided.args.commit_status && answer != FAIL {
            let began = now_us();
            let status = tr_check::rules::at_snapshot(
                self.name.as_str(),
                decided.skipped,
                decided.args.has_inputs(),
            );
            self.report(out, &status);
            if tr_check::is_enabled() {
                self.trace.phase(Phase::Status, began);
            }
        }
        self.snapshot = Some(decided);
        answer.to_vec()
    }

    fn decide(&mut self, out: &mut TaskOutput, d: &mut Decided) -> &'static [u8] {
        if !d.args.has_inputs() {
            out.message(Level::Debug, "No inputs declared, running task");
            return RUN;
        }
        let inputs = tr_hash::Inputs {
            paths: d.args.paths.clone(),
            raw: d.args.raw.clone(),
            env: d.args.env.clone(),
            input_cmds: d.args.input_cmds.clone(),
        };
        let cwd = match std::env::current_dir() {
            Ok(cwd) => cwd,
            Err(e) => return self.refuse(out, &format!("cannot read the working directory: {e}")),
        };
        let began = now_us();
        let computed = tr_hash::compute(&inputs, &cwd, self.state);
        self.trace.phase(Phase::Hash, began);
        let current = match computed {
            Ok(current) => current,
            Err(err) => return self.refuse(out, &diag::chain(&err)),
        };

        let saved = match tr_hash::load(self.state, self.name) {
            tr_hash::Loaded::Saved(info) => Some(info),
            tr_hash::Loaded::Absent(why) => {
                out.message(Level::Debug, &why);
                None
            }
        };
        let saved_hash = saved.as_ref().map_or("", |info| info.hash.as_str());
        let force = self.args.force;
        if saved_hash == current.hash && !force {
            out.message(
                Level::Debug,
                &format!("Hash matches, hash={saved_hash}, skipping"),
            );
            if self.build.is_toplevel {
                out.message(Level::Info, "skipped, inputs unchanged");
            }
            d.skipped = true;
            return SKIP;
        }
        out.message(
            Level::Debug,
            &format!(
                "Hash mismatch, saved={saved_hash}, current={}",
                current.hash
            ),
        );
        if let Some(info) = &saved {
            out.message(
                Level::Debug,
                &format!(
                    "Why it runs (- saved, + now):\n{}",
                    tr_hash::explain_diff(&info.hash_input, &current.hash_input).trim_end()
                ),
            );
        }
        d.main_branch_commit = self.main_branch_commit(out);
        let hash = current.hash.clone();
        d.to_save = Some(current);

        if self.settings.prime_cache_mode {
            out.message(
                Level::Debug,
                "Prime cache mode, assuming the task is done and skipping it",
            );
            d.skipped = true;
            return SKIP;
        }
        let cached = !d.args.outputs.is_empty() || d.args.cache_success;
        if cached && !force && self.inputs_clean(out, &d.args) && self.restore(out, &d.args, &hash)
        {
            out.message(Level::Info, "Restored from remote cache");
            d.skipped = true;
            d.restored = true;
            return SKIP;
        }
        out.message(Level::Info, "Inputs changed, running task");

        // A main branch that is not tracked counts as changed.
        let saved_main = saved.as_ref().and_then(|s| s.main_branch_commit.as_ref());
        let main_changed = saved_main.is_none() || saved_main != d.main_branch_commit.as_ref();
        if cached && !force && d.args.fuzzy_cache && main_changed {
            let began = now_us();
            d.fuzzy_restored = self.restore_fuzzy(out, d, saved);
            self.trace.phase(Phase::FuzzyRestore, began);
        }
        RUN
    }

    /// Fails a `snapshot` call with an error line.
    fn refuse(&mut self, out: &mut TaskOutput, reason: &str) -> &'static [u8] {
        out.message(Level::Error, &format!("snapshot: {reason}"));
        self.failed_request = true;
        FAIL
    }

    fn main_branch_commit(&self, out: &mut TaskOutput) -> Option<String> {
        let main = self.settings.main_branch.as_deref()?;
        git::merge_base(main)
            .inspect_err(|e| out.message(Level::Warn, &format!("main branch not tracked: {e}")))
            .ok()
    }

    /// Whether every input path is clean in git: an archive made from
    /// committed files must not stand in for uncommitted changes.
    fn inputs_clean(&self, out: &mut TaskOutput, args: &SnapshotArgs) -> bool {
        match git::is_clean(&args.paths) {
            Ok(true) => true,
            Ok(false) => {
                out.message(
                    Level::Debug,
                    "Inputs have uncommitted changes, not looking in the cache",
                );
                false
            }
            Err(e) => {
                out.message(Level::Debug, &format!("not looking in the cache: {e}"));
                false
            }
        }
    }

    /// The folder archives are relative to: `--cache-root`, else
    /// `TASKRUNNER_ROOT_DIRECTORY`, else the working directory.
    pub(crate) fn cache_root(&self, args: &SnapshotArgs) -> PathBuf {
        args.cache_root
            .as_ref()
            .map(PathBuf::from)
            .or_else(|| self.settings.root_directory.clone())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// The output cache, made on first need; `None` with a warning when
    /// its configuration is bad.
    pub(crate) fn cache(&mut self, out: &mut TaskOutput) -> Option<&tr_cache::Cache> {
        let state = self.state;
        self.cache.get(|| {
            tr_cache::Cache::from_env(state)
                .inspect_err(|err| {
                    out.message(
                        Level::Warn,
                        &format!("the cache is off: {}", diag::chain(err)),
                    );
                })
                .ok()
        })
    }

    /// Restores the archive for `hash`; whether it was there and whole.
    /// Every failure is a warning: the task then runs.
    fn restore(&mut self, out: &mut TaskOutput, args: &SnapshotArgs, hash: &str) -> bool {
        let began = now_us();
        let restored = self.unpack(out, args, hash);
        self.trace.phase(Phase::Restore, began);
        restored
    }

    fn unpack(&mut self, out: &mut TaskOutput, args: &SnapshotArgs, hash: &str) -> bool {
        let root = self.cache_root(args);
        let bundle = match bundle(self.name, args, hash) {
            Ok(bundle) => bundle,
            Err(err) => {
                out.message(
                    Level::Warn,
                    &format!("cannot name the archive: {}", diag::chain(&err)),
                );
                return false;
            }
        };
        let Some(cache) = self.cache(out) else {
            return false;
        };
        let location = cache.location(&bundle);
        out.message(
            Level::Debug,
            &format!("Looking for remote cache {location}"),
        );
        match cache.restore(&bundle, &root) {
            Ok(Some(_)) => {
                out.message(
                    Level::Info,
                    &format!("Found remote cache {location}, restoring"),
                );
                true
            }
            Ok(None) => {
                out.message(Level::Debug, &format!("No remote cache {location}"));
                false
            }
            Err(err) => {
                if err.is_bad_archive() {
                    out.message(
                        Level::Info,
                        &format!("Found remote cache {location}, restoring"),
                    );
                }
                out.message(
                    Level::Warn,
                    &format!(
                        "cannot restore from the cache, running the task: {}",
                        diag::chain(&err)
                    ),
                );
                false
            }
        }
    }

    /// Unpacks the latest archive of this task from the current branch or
    /// a fallback branch over the working tree, and records the main
    /// branch's commit at once, so that a failing task does not fetch the
    /// same fuzzy cache again. Returns whether one was unpacked.
    fn restore_fuzzy(
        &mut self,
        out: &mut TaskOutput,
        d: &Decided,
        saved: Option<tr_hash::HashInfo>,
    ) -> bool {
        let current = match git::current_branch() {
            Ok(branch) => vec![branch],
            Err(e) => {
                out.message(
                    Level::Debug,
                    &format!("no current branch for the fuzzy cache: {e}"),
                );
                Vec::new()
            }
        };
        let branches: Vec<String> = current
            .into_iter()
            .chain(self.settings.fallback_branches.clone())
            .collect();
        let root = self.cache_root(&d.args);
        let (name, state) = (self.name, self.state);
        let Some(cache) = self.cache(out) else {
            return false;
        };
        for branch in branches {
            let hash = match cache.latest(name, &branch) {
                Ok(Some(hash)) => hash,
                Ok(None) => continue,
                Err(err) => {
                    out.message(
                        Level::Warn,
                        &format!(
                            "cannot read the latest hash of `{branch}`: {}",
                            diag::chain(&err)
                        ),
                    );
                    continue;
                }
            };
            let Ok(bundle) = bundle(name, &d.args, &hash) else {
                continue;
            };
            match cache.restore(&bundle, &root) {
                Ok(Some(_)) => {
                    out.message(
                        Level::Info,
                        &format!("Restored fuzzy cache from branch {branch}, hash={hash}"),
                    );
                    let info = tr_hash::HashInfo {
                        main_branch_commit: d.main_branch_commit.clone(),
                        ..saved.unwrap_or(tr_hash::HashInfo {
                            hash: String::new(),
                            hash_input: String::new(),
                            main_branch_commit: None,
                        })
                    };
                    if let Err(err) = tr_hash::save(state, name, &info) {
                        out.message(
                            Level::Warn,
                            &format!("cannot save the hash: {}", diag::chain(&err)),
                        );
                    }
                    return true;
                }
                Ok(None) => {}
                Err(err) => out.message(
                    Level::Warn,
                    &format!(
                        "cannot restore the fuzzy cache of `{branch}`: {}",
                        diag::chain(&err)
                    ),
                ),
            }
        }
        false
    }
}

/// The archive of task `name`'s outputs for `hash`.
pub(crate) fn bundle(
    name: &TaskName,
    args: &SnapshotArgs,
    hash: &str,
) -> Result<tr_cache::Bundle, tr_cache::CacheError> {
    let version = args.cache_version.as_ref().map(|v| v.to_string_lossy());
    tr_cache::Bundle::new(name.clone(), version.as_deref(), hash)
}
