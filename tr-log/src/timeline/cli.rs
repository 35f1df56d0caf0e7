//! `tr-log timeline`: a build's timeline for a person or a tool.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tr_common::{StateDir, TaskName, diag, exit};

use super::model::Timeline;
use super::render;

/// Arguments of `tr-log timeline`.
#[derive(Debug, clap::Args)]
pub struct TimelineArgs {
    /// The build id (a folder under builds/), or `latest` for the most
    /// recent build.
    #[arg(value_name = "BUILD_ID", default_value = "latest")]
    pub build: String,
    /// Also write the Gantt chart as a self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print the Chrome trace JSON instead of the summary table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `tr-log timeline` and returns its exit code.
pub fn run(args: &TimelineArgs) -> i32 {
    match show(args) {
        Ok(()) => exit::SUCCESS,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => exit::SUCCESS,
        Err(err) => {
            diag::error("tr-log", &err);
            exit::FAILURE
        }
    }
}

fn show(args: &TimelineArgs) -> io::Result<()> {
    let state = StateDir::from_env().map_err(io::Error::other)?;
    let builds = state.root().join("builds");
    let dir = if args.build == "latest" {
        latest_build(&builds)?
    } else {
        let id = TaskName::new(args.build.as_ref())
            .map_err(|_| io::Error::other(format!("invalid build id `{}`", args.build)))?;
        builds.join(id.as_str())
    };
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no build folder `{}`", dir.display()),
        ));
    }
    let timeline = Timeline::load(&dir)?;

    if let Some(path) = &args.html {
        std::fs::write(path, render::html(&timeline)).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot write `{}`: {e}", path.display()))
        })?;
    }
    let text = if args.json {
        timeline.to_chrome()
    } else {
        render::summary(&timeline)
    };
    io::stdout().lock().write_all(text.as_bytes())
}

/// The most recent build folder: build ids are UTC times, so the greatest
/// name is the latest.
fn latest_build(builds: &Path) -> io::Result<PathBuf> {
    let entries = std::fs::read_dir(builds).map_err(|e| {
        io::Error::new(e.kind(), format!("cannot read `{}`: {e}", builds.display()))
    })?;
    let mut latest: Option<PathBuf> = None;
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let path = entry.path();
        if latest
            .as_ref()
            .is_none_or(|l| path.file_name() > l.file_name())
        {
            latest = Some(path);
        }
    }
    latest.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no build in `{}`", builds.display()),
        )
    })
}
