//! `tr-log`: label the lines of standard input.

use clap::Parser;

fn main() {
    std::process::exit(tr_log::run(tr_log::Args::parse()));
}
