//! The `tr-cache` binary: subcommands, exit codes and messages.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{binary, put, sample_outputs, scratch, tree};

/// Runs `tr-cache ARGS` in `dir` with a state directory of its own and
/// no store settings inherited from the machine.
fn run(dir: &Path, state: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    command.args(args).current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("TASKRUNNER_") || name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command.env("TASKRUNNER_STATE_DIRECTORY", state);
    command.envs(env.iter().copied());
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn save_and_restore_through_the_directory_store() {
    let (first, second, state1, state2, store) =
        (scratch(), scratch(), scratch(), scratch(), scratch());
    sample_outputs(first.path());
    let shared = [("TASKRUNNER_CACHE_DIRECTORY", store.path().to_str().unwrap())];

    let save = run(
        first.path(),
        state1.path(),
        &["save", "-n", "build", "--hash", "h1", "out"],
        &shared,
    );
    assert_eq!(save.status.code(), Some(0), "{}", stderr(&save));
    assert!(store.path().join("bundles/build-h1.tar.zst").is_file());

    let restore = run(
        second.path(),
        state2.path(),
        &["restore", "-n", "build", "--hash", "h1"],
        &shared,
    );
    assert_eq!(restore.status.code(), Some(0), "{}", stderr(&restore));
    let mut expected = tree(first.path());
    expected.retain(|path, _| path.starts_with("out"));
    assert_eq!(tree(second.path()), expected);

    let missing = run(
        second.path(),
        state2.path(),
        &["restore", "-n", "build", "--hash", "h2"],
        &shared,
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no archive"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn the_default_store_lives_in_the_state_directory() {
    let (work, state) = (scratch(), scratch());
    put(work.path(), "out/f", b"x");
    let save = run(
        work.path(),
        state.path(),
        &[
            "save",
            "-n",
            "t",
            "--hash",
            "h",
            "--version",
            "2",
            "--root",
            ".",
            "out",
        ],
        &[],
    );
    assert_eq!(save.status.code(), Some(0), "{}", stderr(&save));
    assert!(state.path().join("cache/bundles/t-2-h.tar.zst").is_file());
}

#[test]
fn latest_get_and_set() {
    let (work, state) = (scratch(), scratch());
    let get = ["latest", "get", "-n", "build", "--branch", "main"];
    assert_eq!(
        run(work.path(), state.path(), &get, &[]).status.code(),
        Some(1)
    );
    let set = run(
        work.path(),
        state.path(),
        &[
            "latest", "set", "-n", "build", "--branch", "main", "--hash", "abc",
        ],
        &[],
    );
    assert_eq!(set.status.code(), Some(0), "{}", stderr(&set));
    let got = run(work.path(), state.path(), &get, &[]);
    assert_eq!(got.status.code(), Some(0));
    assert_eq!(got.stdout, b"abc\n");
}

/// Arguments, environment, and a text the error must contain.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_input_is_a_usage_error() {
    let (work, state) = (scratch(), scratch());
    let cases: &[Case] = &[
        (&["save", "-n", "x", "--hash", "h"], &[], "PATH"),
        (
            &["restore", "-n", "a/b", "--hash", "h"],
            &[],
            "invalid task name `a/b`",
        ),
        (
            &["restore", "-n", "x", "--hash", "../h"],
            &[],
            "invalid hash `../h`",
        ),
        (
            &["restore", "-n", "x", "--hash", "h"],
            &[("TASKRUNNER_CACHE_MAX_SIZE", "lots")],
            "TASKRUNNER_CACHE_MAX_SIZE",
        ),
        (
            &["restore", "-n", "x", "--hash", "h"],
            &[("TASKRUNNER_CACHE_VERIFY_KEY", "not-a-secret-but-bad")],
            "invalid key in `TASKRUNNER_CACHE_VERIFY_KEY`",
        ),
        (&["frobnicate"], &[], "frobnicate"),
    ];
    for (args, env, expect) in cases {
        let output = run(work.path(), state.path(), args, env);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expect),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let outside = run(
        work.path(),
        state.path(),
        &["save", "-n", "x", "--hash", "h", "/etc"],
        &[],
    );
    assert_eq!(outside.status.code(), Some(1));
    assert!(
        stderr(&outside).starts_with("tr-cache: error: output `/etc` is outside the cache root")
    );
}

#[test]
fn help_and_version() {
    let (work, state) = (scratch(), scratch());
    let help = run(work.path(), state.path(), &["--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("restore"));
    let version = run(work.path(), state.path(), &["--version"], &[]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("tr-cache "));
}

#[test]
fn keygen_pairs_sign_and_verify() {
    let (first, second, state, store) = (scratch(), scratch(), scratch(), scratch());
    sample_outputs(first.path());
    let keys = run(first.path(), state.path(), &["keygen"], &[]);
    let keys = String::from_utf8(keys.stdout).unwrap();
    let value = |var: &str| {
        keys.lines()
            .find_map(|line| line.strip_prefix(&format!("{var}=")))
            .unwrap()
            .to_owned()
    };
    let (secret, public) = (
        value("TASKRUNNER_CACHE_SIGNING_KEY"),
        value("TASKRUNNER_CACHE_VERIFY_KEY"),
    );
    let dir = store.path().to_str().unwrap();

    let save = run(
        first.path(),
        state.path(),
        &["save", "-n", "b", "--hash", "h", "out"],
        &[
            ("TASKRUNNER_CACHE_DIRECTORY", dir),
            ("TASKRUNNER_CACHE_SIGNING_KEY", &secret),
        ],
    );
    assert_eq!(save.status.code(), Some(0), "{}", stderr(&save));
    assert!(!stderr(&save).contains(&secret));
    let restore = run(
        second.path(),
        state.path(),
        &["restore", "-n", "b", "--hash", "h"],
        &[
            ("TASKRUNNER_CACHE_DIRECTORY", dir),
            ("TASKRUNNER_CACHE_VERIFY_KEY", &public),
        ],
    );
    assert_eq!(restore.status.code(), Some(0), "{}", stderr(&restore));
}

#[test]
fn secrets_never_show_even_with_debug_on() {
    let (work, state) = (scratch(), scratch());
    put(work.path(), "out/f", b"x");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let signing = "11".repeat(32);
    let env = [
        ("TASKRUNNER_DEBUG", "1"),
        ("TASKRUNNER_REMOTE_CACHE_BUCKET", "bucket"),
        ("TASKRUNNER_S3_ENDPOINT", endpoint.as_str()),
        ("TASKRUNNER_AWS_ACCESS_KEY", common::ACCESS_KEY),
        ("TASKRUNNER_AWS_SECRET_KEY", common::SECRET_KEY),
        ("TASKRUNNER_CACHE_SIGNING_KEY", signing.as_str()),
    ];
    for args in [
        &["save", "-n", "b", "--hash", "h", "out"][..],
        &["restore", "-n", "b", "--hash", "h"],
        &[
            "latest", "set", "-n", "b", "--branch", "main", "--hash", "h",
        ],
    ] {
        let output = run(work.path(), state.path(), args, &env);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let all = format!(
            "{}{}",
            stderr(&output),
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(all.contains("tr-cache: debug: "), "{all}");
        assert!(all.contains("refused"), "{all}");
        for secret in [common::ACCESS_KEY, common::SECRET_KEY, signing.as_str()] {
            assert!(!all.contains(secret), "{args:?} shows a secret: {all}");
        }
    }
}
