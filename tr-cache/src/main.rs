//! `tr-cache`: save and restore task output archives.

fn main() {
    std::process::exit(tr_cache::run(std::env::args_os()));
}
