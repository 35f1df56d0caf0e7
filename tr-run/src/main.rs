//! `tr-run`: run a build step as a task.

use clap::Parser;

fn main() {
    std::process::exit(tr_run::run(tr_run::Args::parse()));
}
