//! The `tr-cache` command line: argument parsing, messages and exit codes.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use tr_common::exit::{FAILURE, SUCCESS, USAGE};
use tr_common::{StateDir, TaskName};

use crate::names::Bundle;
use crate::pack::Outputs;
use crate::{Cache, CacheError};

const TOOL: &str = "tr-cache";
/// The cache root when `--root` is not given.
pub const ROOT_VAR: &str = "TASKRUNNER_ROOT_DIRECTORY";

/// Task output archives in an S3 bucket or a shared directory.
#[derive(Debug, Parser)]
#[command(
    name = "tr-cache",
    version,
    about = "Save and restore task output archives in an S3 bucket or a directory",
    long_about = "Save and restore task output archives in an S3 bucket or a directory.\n\n\
        The store is S3 when TASKRUNNER_REMOTE_CACHE_BUCKET is set, else the directory \
        TASKRUNNER_CACHE_DIRECTORY (default: cache/ in the state directory).",
    after_help = "Exit codes: 0 success, 1 not found or failed, 2 invalid arguments or settings."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Archive output paths as the bundle of NAME and HASH.
    Save {
        #[command(flatten)]
        bundle: BundleArgs,
        /// The output paths, below the cache root.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Unpack the bundle of NAME and HASH below the cache root.
    Restore {
        #[command(flatten)]
        bundle: BundleArgs,
    },
    /// Read or record the latest hash of a task on a branch.
    Latest {
        #[command(subcommand)]
        action: Latest,
    },
    /// Print a new Ed25519 key pair for signing and verifying archives.
    Keygen,
}

#[derive(Debug, clap::Args)]
struct BundleArgs {
    /// The task's name.
    #[arg(short = 'n', long)]
    name: OsString,
    /// The task's input hash.
    #[arg(long)]
    hash: String,
    /// The cache version (`snapshot --cache-version`).
    #[arg(long)]
    version: Option<String>,
    /// The cache root [default: $TASKRUNNER_ROOT_DIRECTORY, else the current directory].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Latest {
    /// Print the latest hash of NAME on BRANCH; exit 1 if there is none.
    Get {
        /// The task's name.
        #[arg(short = 'n', long)]
        name: OsString,
        /// The branch.
        #[arg(long)]
        branch: String,
    },
    /// Record HASH as the latest of NAME on BRANCH.
    Set {
        /// The task's name.
        #[arg(short = 'n', long)]
        name: OsString,
        /// The branch.
        #[arg(long)]
        branch: String,
        /// The hash to record.
        #[arg(long)]
        hash: String,
    },
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs `tr-cache` with `args` (the program name first) and returns the
/// exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { USAGE } else { SUCCESS };
        }
    };
    match execute(cli.command) {
        Ok(code) => code,
        Err(e) => {
            tr_common::diag::error(TOOL, &e);
            if is_usage(&e) { USAGE } else { FAILURE }
        }
    }
}

fn is_usage(err: &CacheError) -> bool {
    matches!(
        err,
        CacheError::InvalidName { .. }
            | CacheError::InvalidSize { .. }
            | CacheError::InvalidKey { .. }
            | CacheError::Env(_)
            | CacheError::State(_)
    )
}

fn execute(command: Command) -> Result<i32, CacheError> {
    if let Command::Keygen = command {
        let (secret, public) = crate::trust::generate().map_err(|source| CacheError::Read {
            path: "/dev/urandom".into(),
            source,
        })?;
        return Ok(print(&format!(
            "{}={secret}\n{}={public}\n",
            crate::trust::SIGNING_KEY_VAR,
            crate::trust::VERIFY_KEY_VAR
        )));
    }

    let state = StateDir::from_env()?;
    let cache = Cache::from_env(&state)?;
    if tr_common::env::flag("TASKRUNNER_DEBUG") {
        eprintln!("{TOOL}: debug: {cache:?}");
    }
    match command {
        Command::Save { bundle, paths } => {
            let root = root(bundle.root.clone());
            let target = bundle.parse()?;
            let outputs = Outputs::new(&root, &paths)?;
            let stats = cache.save(&target, &outputs)?;
            eprintln!(
                "{TOOL}: saved `{}`: {} entries, {} bytes",
                cache.location(&target),
                stats.packed.entries,
                stats.stored
            );
            Ok(SUCCESS)
        }
        Command::Restore { bundle } => {
            let root = root(bundle.root.clone());
            let target = bundle.parse()?;
            match cache.restore(&target, &root)? {
                Some(stats) => {
                    eprintln!(
                        "{TOOL}: restored `{}`: {} entries",
                        cache.location(&target),
                        stats.entries
                    );
                    Ok(SUCCESS)
                }
                None => {
                    eprintln!("{TOOL}: no archive `{}`", cache.location(&target));
                    Ok(FAILURE)
                }
            }
        }
        Command::Latest {
            action: Latest::Get { name, branch },
        } => match cache.latest(&task(&name)?, &branch)? {
            Some(hash) => Ok(print(&format!("{hash}\n"))),
            None => Ok(FAILURE),
        },
        Command::Latest {
            action: Latest::Set { name, branch, hash },
        } => {
            cache.set_latest(&task(&name)?, &branch, &hash)?;
            Ok(SUCCESS)
        }
        Command::Keygen => Ok(SUCCESS),
    }
}

impl BundleArgs {
    fn parse(&self) -> Result<Bundle, CacheError> {
        Bundle::new(task(&self.name)?, self.version.as_deref(), &self.hash)
    }
}

fn task(name: &OsStr) -> Result<TaskName, CacheError> {
    TaskName::new(name).map_err(|e| CacheError::InvalidName {
        what: "task name",
        value: name.to_string_lossy().into_owned(),
        reason: match e {
            tr_common::name::NameError::Empty => "it is empty",
            tr_common::name::NameError::Dots(_) => "`.` and `..` are not allowed",
            tr_common::name::NameError::Separator(_) => "it must not contain `/` or NUL",
            tr_common::name::NameError::NotUtf8(_) => "it is not valid UTF-8",
            tr_common::name::NameError::TooLong(_) => "longer than 200 bytes",
        },
    })
}

fn root(given: Option<PathBuf>) -> PathBuf {
    given
        .or_else(|| tr_common::env::non_empty(ROOT_VAR).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Writes data to stdout; a reader that went away (`| head`) is fine.
fn print(text: &str) -> i32 {
    match io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => FAILURE,
        _ => SUCCESS,
    }
}
