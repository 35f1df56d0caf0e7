//! The `tr-hash` command: print, check or explain the hash of some inputs.

use std::ffi::OsString;
use std::io::{self, Write};

use clap::{ArgGroup, Parser};
use tr_common::{StateDir, TaskName, diag, exit};

use crate::{HashError, Inputs, Loaded};

const TOOL: &str = "tr-hash";

/// Command-line arguments of `tr-hash`.
#[derive(Debug, Parser)]
#[command(
    name = "tr-hash",
    version,
    about = "Hash a task's inputs; check or explain a task's saved hash",
    long_about = "Hashes the given inputs as taskrunner's `snapshot` does and prints the \
hash. PATHs are git pathspecs relative to the current directory: a directory stands for \
every file under it, files git ignores are left out, untracked files are included; outside \
a git work tree the file system is read directly. A PATH with `*`, `?` or `[`, or starting \
with `:`, keeps git's glob and magic; any other PATH is literal. The hash covers each \
file's path, content, executable bit and symlink target; the order of the inputs does not \
matter.\n\nFiles whose size, times and inode are unchanged are not read again: their \
digests are kept in `hash/stat/` in the state directory (TASKRUNNER_STATE_DIRECTORY, \
default /tmp/taskrunner).",
    after_help = "Examples:\n  tr-hash src/ Cargo.lock --env RUSTFLAGS\n  \
tr-hash --explain src/ --raw v2\n  tr-hash --job build --check src/ || echo changed\n  \
tr-hash --job build --explain src/\n\n\
Exit status: 0 on success (and with --check when the saved hash matches); 1 with --check \
when it does not match or nothing is saved; 2 on bad usage or inputs that cannot be \
hashed.",
    group(ArgGroup::new("mode").args(["check", "explain"]).multiple(true))
)]
pub struct Args {
    /// Files or directories to hash (git pathspecs).
    #[arg(value_name = "PATH")]
    pub paths: Vec<OsString>,
    /// A string that is an input itself.
    #[arg(long, value_name = "STRING", allow_hyphen_values = true)]
    pub raw: Vec<OsString>,
    /// An environment variable whose value is an input; unset differs
    /// from empty. Only a digest of the value is ever shown.
    #[arg(long, value_name = "NAME")]
    pub env: Vec<OsString>,
    /// A command whose output is an input, run with `bash -c`; it must
    /// exit with status 0.
    #[arg(long = "input-cmd", value_name = "CMD", allow_hyphen_values = true)]
    pub input_cmd: Vec<OsString>,
    /// Print the hashed text, one input per line, instead of the hash;
    /// with --job, the difference from the task's saved hash input.
    #[arg(long)]
    pub explain: bool,
    /// The task whose saved hash to check or explain.
    #[arg(long, value_name = "NAME", requires = "mode")]
    pub job: Option<OsString>,
    /// Exit with status 0 when the task's saved hash matches the inputs,
    /// 1 when it does not.
    #[arg(long, requires = "job")]
    pub check: bool,
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

/// Runs `tr-hash`; returns the exit status.
pub fn run(args: Args) -> i32 {
    match run_inner(args) {
        Ok(code) => code,
        Err(Failure::Hash(err)) => {
            diag::error(TOOL, err.as_ref());
            exit::USAGE
        }
        Err(Failure::Output(err)) if err.kind() == io::ErrorKind::BrokenPipe => exit::SUCCESS,
        Err(Failure::Output(err)) => {
            eprintln!("{TOOL}: error: cannot write to standard output: {err}");
            exit::FAILURE
        }
    }
}

enum Failure {
    Hash(Box<dyn std::error::Error>),
    Output(io::Error),
}

impl<E: std::error::Error + 'static> From<E> for Failure {
    fn from(err: E) -> Failure {
        Failure::Hash(Box::new(err))
    }
}

fn run_inner(args: Args) -> Result<i32, Failure> {
    let inputs = Inputs {
        paths: args.paths,
        raw: args.raw,
        env: args.env,
        input_cmds: args.input_cmd,
    };
    if inputs.is_empty() {
        eprintln!("{TOOL}: error: nothing to hash: give a PATH, --raw, --env or --input-cmd");
        return Ok(exit::USAGE);
    }
    let job = args.job.map(|raw| TaskName::new(&raw)).transpose()?;
    let state = StateDir::from_env()?;
    let cwd = std::env::current_dir().map_err(|source| HashError::Read {
        path: ".".to_owned(),
        source,
    })?;
    let computed = crate::compute(&inputs, &cwd, &state)?;

    let mut out = io::stdout().lock();
    let Some(job) = job else {
        let written = if args.explain {
            out.write_all(computed.hash_input.as_bytes())
        } else {
            writeln!(out, "{}", computed.hash)
        };
        written.map_err(Failure::Output)?;
        // The process ends now; freeing one string per input file, one by
        // one, would only cost time.
        std::mem::forget(computed);
        return Ok(exit::SUCCESS);
    };

    let loaded = crate::load(&state, &job);
    if args.explain {
        let saved_input = match &loaded {
            Loaded::Saved(info) => info.hash_input.as_str(),
            Loaded::Absent(why) => {
                eprintln!("{TOOL}: {why}");
                ""
            }
        };
        let diff = crate::explain_diff(saved_input, &computed.hash_input);
        if diff.is_empty() {
            eprintln!("{TOOL}: the inputs of `{job}` are unchanged since its saved hash");
        }
        out.write_all(diff.as_bytes()).map_err(Failure::Output)?;
    }
    let matches = loaded.info().is_some_and(|info| info.hash == computed.hash);
    Ok(if !args.check || matches {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}
