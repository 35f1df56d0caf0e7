//! `tr-hash`: hash a task's inputs, check or explain a saved hash.

use clap::Parser;

fn main() {
    std::process::exit(tr_hash::run(tr_hash::Args::parse()));
}
