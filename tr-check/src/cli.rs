//! The `tr-check` command line.

use std::ffi::OsString;

use clap::{CommandFactory, Parser};
use tr_common::StateDir;

use crate::error::CheckError;
use crate::status::{Reporter, StatusRequest, StatusState};

const TOOL: &str = "tr-check";

const AFTER_HELP: &str = "\
Environment:
  GITHUB_APP_ID, GITHUB_INSTALLATION_ID   the GitHub App and its installation
  GITHUB_APP_PRIVATE_KEY                  the app's PEM key; `|` may stand for newlines
  GITHUB_REPOSITORY                       `owner/repo`, or `repo` with GITHUB_REPOSITORY_OWNER
  GITHUB_API_URL                          default https://api.github.com
  TASKRUNNER_STATE_DIRECTORY              where the token is cached (default /tmp/taskrunner)
  TASKRUNNER_GITHUB_TOKEN_REFRESH_THRESHOLD_SECONDS  replace a token this close to expiry (300)
  TASKRUNNER_GITHUB_TIMEOUT_SECONDS       limit of one HTTP attempt (10)
  TASKRUNNER_GITHUB_RETRIES               extra attempts after a 5xx or network error (2)

Exit status: 0 reported, 1 GitHub could not be reached or refused the status,
2 invalid arguments or environment.";

/// Reports one commit status through a GitHub App.
#[derive(Debug, Parser)]
#[command(name = TOOL, version, after_help = AFTER_HELP)]
struct Cli {
    /// The status's state.
    #[arg(value_enum)]
    state: StatusState,
    /// The status's name, such as the task name.
    #[arg(long, value_name = "NAME")]
    context: String,
    /// A short description (at most 140 characters are kept).
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    /// The link shown beside the status.
    #[arg(long, value_name = "URL")]
    target_url: Option<String>,
    /// The commit to report on (default: `git rev-parse HEAD`).
    #[arg(long, value_name = "SHA")]
    sha: Option<String>,
}

/// The clap definition, for man pages and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs `tr-check` with `args` (program name first) and returns its exit
/// code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return err.exit_code();
        }
    };
    match report(cli) {
        Ok(()) => tr_common::exit::SUCCESS,
        Err(err) => {
            tr_common::diag::error(TOOL, &err);
            err.exit_code()
        }
    }
}

fn report(cli: Cli) -> Result<(), CheckError> {
    let state = StateDir::from_env()?;
    let mut reporter = Reporter::from_env(&state)?;
    if let Some(sha) = &cli.sha {
        reporter = reporter.with_commit(sha)?;
    }

    let status = StatusRequest {
        description: cli.description,
        target_url: cli.target_url,
        ..StatusRequest::new(cli.context, cli.state)
    };
    reporter.report(&status)
}
