//! `tr-lock`: run a command holding a task's lock.

use clap::Parser;

fn main() {
    std::process::exit(tr_lock::run(tr_lock::Args::parse()));
}
