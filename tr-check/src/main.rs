//! `tr-check`: reports one GitHub commit status; see `tr-check --help`.

fn main() {
    std::process::exit(tr_check::run(std::env::args_os()));
}
