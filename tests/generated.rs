//! Man pages and shell completions are generated from the clap
//! definitions and checked in; this test fails when they are stale.
//! Regenerate with `UPDATE_GENERATED=1 cargo test -p tests --test generated`.

use std::path::{Path, PathBuf};

fn tools() -> Vec<clap::Command> {
    vec![
        tr_run::command(),
        tr_lock::command(),
        tr_log::command(),
        tr_hash::command(),
        tr_check::command(),
        tr_cache::command(),
    ]
}

fn check(path: PathBuf, fresh: Vec<u8>, stale: &mut Vec<PathBuf>) {
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, fresh).unwrap();
    } else if std::fs::read(&path).ok() != Some(fresh) {
        stale.push(path);
    }
}

#[test]
fn man_pages_and_completions_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut stale = Vec::new();
    for mut cmd in tools() {
        let name = cmd.get_name().to_owned();
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .render(&mut page)
            .unwrap();
        check(root.join("man").join(format!("{name}.1")), page, &mut stale);

        for (shell, file) in [
            (clap_complete::Shell::Bash, format!("{name}.bash")),
            (clap_complete::Shell::Zsh, format!("_{name}")),
            (clap_complete::Shell::Fish, format!("{name}.fish")),
        ] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, name.clone(), &mut script);
            check(root.join("completions").join(file), script, &mut stale);
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files (run `UPDATE_GENERATED=1 cargo test -p tests --test generated`): {stale:?}"
    );
}

#[test]
fn every_tool_answers_help_and_version() {
    for cmd in tools() {
        let name = cmd.get_name().to_owned();
        for flag in ["--help", "--version"] {
            let out = std::process::Command::new(tests::bin(&name))
                .arg(flag)
                .output()
                .unwrap();
            assert!(out.status.success(), "{name} {flag}");
            assert!(!out.stdout.is_empty(), "{name} {flag}");
        }
    }
}
