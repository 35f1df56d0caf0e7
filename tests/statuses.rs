//! Commit statuses reported by tr-run, against a local GitHub API (the
//! fake server of tr-check's own tests).

#[path = "../tr-check/tests/support/mod.rs"]
mod support;

use std::process::Command;

use support::{FakeGitHub, Fault};
use tests::{Sandbox, run};

fn status(context: &str, state: &str, description: Option<&str>) -> String {
    let description = description.map_or("null".to_owned(), |d| format!("\"{d}\""));
    format!(
        r#"{{"context":"{context}","description":{description},"state":"{state}","target_url":null}}"#
    )
}

fn sandbox_with_repo() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/a", "a")]);
    sandbox
}

#[test]
fn a_task_asking_for_a_status_goes_pending_then_success() {
    let sandbox = sandbox_with_repo();
    let github = FakeGitHub::start();
    let mut cmd = sandbox.command("tr-run");
    github.report_to(&mut cmd);
    let done = run(cmd.args([
        "-n",
        "build",
        "bash",
        "-c",
        "snapshot src --commit-status; echo built",
    ]));
    assert_eq!(done.output, "[build] stdout | built\n");
    assert_eq!(
        github.posted(),
        [
            status("build", "pending", None),
            status("build", "success", None)
        ]
    );
    assert_eq!(github.token_requests(), 1);

    let commit = github
        .calls()
        .into_iter()
        .find(|c| c.method == "POST" && c.path.contains("/statuses/"))
        .unwrap();
    let head = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(sandbox.work())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(commit.path.ends_with(head.trim()), "{}", commit.path);
}

#[test]
fn a_task_without_inputs_is_pending_as_not_cached() {
    let sandbox = sandbox_with_repo();
    let github = FakeGitHub::start();
    let mut cmd = sandbox.command("tr-run");
    github.report_to(&mut cmd);
    run(cmd.args(["-n", "lint", "bash", "-c", "snapshot --commit-status"]));
    assert_eq!(
        github.posted(),
        [
            status("lint", "pending", Some("not cached")),
            status("lint", "success", None)
        ]
    );
}

#[test]
fn a_skipped_task_is_reported_as_success() {
    let sandbox = sandbox_with_repo();
    let github = FakeGitHub::start();
    for _ in 0..2 {
        let mut cmd = sandbox.command("tr-run");
        github.report_to(&mut cmd);
        run(cmd.args(["-n", "build", "bash", "-c", "snapshot src --commit-status"]));
    }
    let posted = github.posted();
    assert_eq!(posted[2], status("build", "success", None), "{posted:?}");
    assert_eq!(github.token_requests(), 1, "one token serves every task");
}

#[test]
fn failures_are_reported_for_every_task_of_a_nested_chain() {
    let sandbox = sandbox_with_repo();
    let github = FakeGitHub::start();
    let mut cmd = sandbox.script("tr-run -n inner sh -c 'exit 4'");
    github.report_to(&mut cmd);
    let done = run(&mut cmd);
    assert_eq!(done.code, 4);
    assert_eq!(
        github.posted(),
        [
            status("inner", "failure", None),
            status("toplevel", "failure", None)
        ]
    );
}

#[test]
fn a_rerun_after_a_failure_turns_the_status_green() {
    let sandbox = sandbox_with_repo();
    let github = FakeGitHub::start();
    for script in ["exit 1", "exit 0"] {
        let mut cmd = sandbox.command("tr-run");
        github.report_to(&mut cmd);
        run(cmd.args(["-n", "flaky", "sh", "-c", script]));
    }
    assert_eq!(
        github.posted(),
        [
            status("flaky", "failure", None),
            status("flaky", "success", None)
        ]
    );

    let mut quiet = sandbox.command("tr-run");
    github.report_to(&mut quiet);
    run(quiet.args(["-n", "unreported", "true"]));
    assert_eq!(
        github.posted().len(),
        2,
        "a task with no status and no failure reports nothing"
    );
}

#[test]
fn a_broken_api_is_a_warning_not_a_failure() {
    let sandbox = sandbox_with_repo();
    let github = FakeGitHub::start();
    github.fail_always(Fault::Status(500));
    let mut cmd = sandbox.command("tr-run");
    github.report_to(&mut cmd);
    let done = run(cmd.args([
        "-n",
        "build",
        "bash",
        "-c",
        "snapshot src --commit-status; echo built",
    ]));
    assert_eq!(done.code, 0, "{}", done.output);
    assert!(
        done.output.contains("[build] stdout | built\n"),
        "{}",
        done.output
    );
    assert!(
        done.output
            .contains("[build] warn | cannot report the commit status: "),
        "{}",
        done.output
    );
    assert!(
        !done.output.contains("BEGIN"),
        "the key must never be shown"
    );
}

#[test]
fn missing_configuration_is_a_warning_naming_the_variable() {
    let sandbox = sandbox_with_repo();
    let done = run(sandbox
        .command("tr-run")
        .env("TASKRUNNER_ENABLE_COMMIT_STATUS", "1")
        .env_remove("GITHUB_APP_ID")
        .args(["-n", "build", "sh", "-c", "exit 2"]));
    assert_eq!(done.code, 2);
    assert!(
        done.output
            .contains("[build] warn | commit statuses are off: "),
        "{}",
        done.output
    );
    assert!(done.output.contains("GITHUB_APP_ID"), "{}", done.output);
}
