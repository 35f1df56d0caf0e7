//! Skipping tasks whose inputs did not change, and explaining why one
//! ran (tr-hash, through `snapshot`).

use std::fs;

use tests::{Sandbox, run};

const BUILD: &str = "snapshot src --raw v1; echo building";

fn build(sandbox: &Sandbox, script: &str) -> tests::Finished {
    run(sandbox
        .command("tr-run")
        .env("TASKRUNNER_LOG_INFO", "1")
        .args(["-n", "build", "bash", "-e", "-c", script]))
}

#[test]
fn unchanged_inputs_skip_the_task() {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/main.rs", "fn main() {}\n")]);
    assert_eq!(
        build(&sandbox, BUILD).output,
        "[build] info | Inputs changed, running task\n[build] stdout | building\n[build] info | success\n"
    );
    let again = build(&sandbox, BUILD);
    assert_eq!(again.output, "[build] info | skipped, inputs unchanged\n");
    assert_eq!(again.code, 0);

    fs::write(
        sandbox.work().join("src/main.rs"),
        "fn main() { changed() }\n",
    )
    .unwrap();
    assert!(
        build(&sandbox, BUILD)
            .output
            .contains("[build] stdout | building\n")
    );
    assert_eq!(
        build(&sandbox, BUILD).output,
        "[build] info | skipped, inputs unchanged\n"
    );
}

#[test]
fn force_runs_the_task_whatever_the_hash() {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/a", "a")]);
    build(&sandbox, BUILD);
    let forced = run(sandbox
        .command("tr-run")
        .env("TASKRUNNER_LOG_INFO", "1")
        .args(["-f", "-n", "build", "bash", "-c", BUILD]));
    assert!(
        forced.output.contains("[build] stdout | building\n"),
        "{}",
        forced.output
    );
}

#[test]
fn a_failure_saves_nothing() {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/a", "a")]);
    let failed = build(&sandbox, "snapshot src; echo trying; exit 3");
    assert_eq!(
        failed.output,
        "[build] info | Inputs changed, running task\n[build] stdout | trying\n[build] error | Failed, exit code: 3\n"
    );
    assert_eq!(failed.code, 3);
    assert!(!sandbox.state().join("hash/build.hash").exists());
    assert!(
        build(&sandbox, "snapshot src; echo trying")
            .output
            .contains("trying")
    );
}

#[test]
fn nested_skips_are_silent() {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/a", "a")]);
    let script = "tr-run -n inner bash -c 'snapshot src; echo inner ran'";
    let info = |s: &Sandbox| run(s.script(script).env("TASKRUNNER_LOG_INFO", "1"));
    assert!(info(&sandbox).output.contains("[inner] stdout | inner ran"));
    assert_eq!(info(&sandbox).output, "");
}

#[test]
fn a_path_matching_nothing_fails_the_task_naming_it() {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/a", "a")]);
    let done = build(&sandbox, "snapshot src no-such-dir; echo never");
    assert_eq!(
        done.output,
        "[build] error | snapshot: input path `no-such-dir` matches no file (missing, or ignored by git)\n"
    );
    assert_eq!(done.code, 1);
}

#[test]
fn a_task_changing_its_own_inputs_is_not_saved() {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/a", "a")]);
    let done = build(&sandbox, "snapshot src; echo more >> src/a");
    assert!(
        done.output.contains(
            "[build] warn | inputs changed while the task ran, the hash is not saved: src/a\n"
        ),
        "{}",
        done.output
    );
    assert!(!sandbox.state().join("hash/build.hash").exists());
}

#[test]
fn a_corrupt_saved_hash_only_means_running_again() {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/a", "a")]);
    fs::create_dir_all(sandbox.state().join("hash")).unwrap();
    fs::write(sandbox.state().join("hash/build.hash"), "{not json").unwrap();
    let done = build(&sandbox, BUILD);
    assert_eq!(done.code, 0);
    assert!(done.output.contains("building"));
    assert!(
        sandbox.log("build").contains("is not valid"),
        "{}",
        sandbox.log("build")
    );
}

#[test]
fn env_values_never_reach_the_saved_hash() {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/a", "a")]);
    let script = "snapshot --env DEPLOY_TOKEN; echo deploying";
    let secret = "s3cr3t-value-0123456789";
    let with = |value: &str| {
        run(sandbox
            .command("tr-run")
            .env("TASKRUNNER_LOG_INFO", "1")
            .env("DEPLOY_TOKEN", value)
            .args(["-n", "deploy", "bash", "-c", script]))
    };
    assert!(with(secret).output.contains("deploying"));
    assert!(
        !with(secret).output.contains("deploying"),
        "unchanged value skips"
    );
    assert!(
        with("other").output.contains("deploying"),
        "a changed value runs"
    );
    let saved = fs::read_to_string(sandbox.state().join("hash/deploy.hash")).unwrap();
    assert!(
        saved.contains("DEPLOY_TOKEN") && !saved.contains("other"),
        "{saved}"
    );
    with(secret);
    let saved = fs::read_to_string(sandbox.state().join("hash/deploy.hash")).unwrap();
    assert!(!saved.contains(secret), "{saved}");
}

#[test]
fn tr_hash_explains_and_checks_against_the_saved_hash() {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/a", "a"), ("src/b", "b")]);
    build(&sandbox, "snapshot src --raw v1");

    let check = |s: &Sandbox| {
        run(s
            .command("tr-hash")
            .args(["--job", "build", "--check", "src", "--raw", "v1"]))
        .code
    };
    assert_eq!(check(&sandbox), 0);
    fs::write(sandbox.work().join("src/b"), "changed").unwrap();
    assert_eq!(check(&sandbox), 1);

    let explain =
        run(sandbox
            .command("tr-hash")
            .args(["--explain", "--job", "build", "src", "--raw", "v1"]));
    assert_eq!(explain.code, 0, "{}", explain.output);
    assert!(explain.output.contains("src/b"), "{}", explain.output);
    assert!(
        !explain.output.contains("src/a"),
        "only what changed: {}",
        explain.output
    );

    let plain = run(sandbox
        .command("tr-hash")
        .args(["--explain", "src", "--raw", "v1"]));
    assert_eq!(plain.output.lines().count(), 3, "{}", plain.output);
}
