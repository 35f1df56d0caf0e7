//! Bad input gets one clear line and the documented exit code, never a
//! panic, and the state directory is never used unsafely.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use tests::{Sandbox, is_root, run, write_script};

fn assert_one_line(output: &str) {
    assert_eq!(output.lines().count(), 1, "{output}");
    assert!(
        !output.contains("panicked") && !output.contains("RUST_BACKTRACE"),
        "{output}"
    );
}

#[test]
fn bad_task_names_are_refused() {
    let sandbox = Sandbox::new();
    for (name, why) in [
        ("", "the name is empty"),
        ("..", "`.` and `..` are not allowed"),
        ("a/b", "it must not contain `/` or NUL"),
    ] {
        let done = run(sandbox.command("tr-run").args(["-n", name, "true"]));
        assert_eq!(done.code, 2, "{name:?}: {}", done.output);
        assert_one_line(&done.output);
        assert!(
            done.output.starts_with("tr-run: error: invalid task name"),
            "{}",
            done.output
        );
        assert!(done.output.contains(why), "{}", done.output);
    }
}

#[test]
fn usage_errors_exit_2() {
    let sandbox = Sandbox::new();
    let no_cmd = run(&mut sandbox.command("tr-run"));
    assert_eq!(no_cmd.code, 2);
    assert!(no_cmd.output.contains("<CMD>"), "{}", no_cmd.output);
    let unknown = run(sandbox.command("tr-run").args(["--frobnicate", "true"]));
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .output
            .contains("unexpected argument '--frobnicate'"),
        "{}",
        unknown.output
    );
}

#[test]
fn options_after_cmd_belong_to_the_task() {
    let sandbox = Sandbox::new();
    let done = run(sandbox
        .command("tr-run")
        .args(["-n", "x", "echo", "-n", "-f", "--name"]));
    assert_eq!(done.output, "[x] stdout | -f --name\n");
}

#[test]
fn missing_and_unexecutable_commands_exit_like_a_shell() {
    let sandbox = Sandbox::new();
    let missing = run(sandbox
        .command("tr-run")
        .args(["-n", "m", "no-such-command-x"]));
    assert_eq!(missing.code, 127);
    assert_eq!(
        missing.output,
        "[m] error | cannot run `no-such-command-x`: No such file or directory (os error 2)\n"
    );
    let script = write_script(&sandbox.work(), "plain", "echo hi\n");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let unexecutable = run(sandbox.command("tr-run").args(["-n", "p", "./plain"]));
    assert_eq!(unexecutable.code, 126, "{}", unexecutable.output);
    assert!(
        unexecutable
            .output
            .starts_with("[p] error | cannot run `./plain`: "),
        "{}",
        unexecutable.output
    );
}

#[test]
fn cmd_is_found_in_the_tasks_path_and_plain_scripts_run_under_sh() {
    let sandbox = Sandbox::new();
    write_script(&sandbox.work(), "plain", "echo from sh \"$1\"\n");
    let plain = run(sandbox
        .command("tr-run")
        .args(["-n", "p", "./plain", "a b"]));
    assert_eq!(plain.output, "[p] stdout | from sh a b\n");
    assert_eq!(plain.code, 0);

    // tr-run is not on this PATH; the task's PATH leads to the runner.
    let nested = run(sandbox
        .command("tr-run")
        .env("PATH", "/usr/bin:/bin")
        .args(["-n", "outer", "tr-run", "-n", "inner", "echo", "hi"]));
    assert_eq!(nested.output, "[inner] stdout | hi\n");
    assert_eq!(nested.code, 0);
}

#[test]
fn bad_numbers_in_variables_are_named() {
    let sandbox = Sandbox::new();
    for var in [
        "TASKRUNNER_OUTPUT_STREAM_TIMEOUT",
        "TASKRUNNER_KILL_TIMEOUT",
        "TASKRUNNER_KEEP_BUILDS_DAYS",
    ] {
        let done = run(sandbox.command("tr-run").env(var, "5s").args(["true"]));
        assert_eq!(done.code, 2);
        assert_eq!(
            done.output,
            format!("tr-run: error: invalid value `5s` in `{var}`: expected a whole number\n")
        );
    }
}

#[test]
fn a_state_directory_writable_by_others_is_refused() {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.state()).unwrap();
    fs::set_permissions(sandbox.state(), fs::Permissions::from_mode(0o777)).unwrap();
    let done = run(sandbox.command("tr-run").args(["true"]));
    assert_eq!(done.code, 1);
    assert_one_line(&done.output);
    assert!(
        done.output
            .contains("(TASKRUNNER_STATE_DIRECTORY) is writable by other users"),
        "{}",
        done.output
    );
}

#[test]
fn a_state_directory_of_another_user_is_refused() {
    if !is_root() {
        eprintln!("skipped: only root can give a directory to another user");
        return;
    }
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.state()).unwrap();
    std::os::unix::fs::chown(sandbox.state(), Some(65534), None).unwrap();
    let done = run(sandbox.command("tr-run").args(["true"]));
    assert_eq!(done.code, 1);
    assert_one_line(&done.output);
    assert!(
        done.output.contains("is owned by uid 65534, not by us"),
        "{}",
        done.output
    );
}

#[test]
fn an_unusable_state_directory_path_is_named() {
    let sandbox = Sandbox::new();
    fs::write(sandbox.root().join("file"), "").unwrap();
    let done = run(sandbox
        .command("tr-run")
        .env(
            "TASKRUNNER_STATE_DIRECTORY",
            sandbox.root().join("file/state"),
        )
        .args(["true"]));
    assert_eq!(done.code, 1);
    assert_one_line(&done.output);
    assert!(
        done.output.contains("cannot use state directory"),
        "{}",
        done.output
    );
}

#[test]
fn planted_symlinks_are_never_followed() {
    let sandbox = Sandbox::new();
    let elsewhere = sandbox.root().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::create_dir(sandbox.state()).unwrap();
    fs::set_permissions(sandbox.state(), fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, sandbox.state().join("locks")).unwrap();
    let done = run(sandbox.command("tr-run").args(["-n", "t", "true"]));
    assert_eq!(done.code, 1);
    assert_one_line(&done.output);
    assert!(
        done.output.contains("locks` in the state directory"),
        "{}",
        done.output
    );
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn old_builds_are_pruned() {
    let sandbox = Sandbox::new();
    run(sandbox.command("tr-run").args(["true"]));
    let builds = sandbox.state().join("builds");
    let old = builds.join("20000101T000000.000000000Z");
    let recent = builds.join("recent");
    fs::create_dir_all(old.join("logs")).unwrap();
    fs::create_dir_all(&recent).unwrap();
    let ten_days_ago = SystemTime::now() - Duration::from_secs(10 * 86_400);
    fs::File::open(&old)
        .unwrap()
        .set_modified(ten_days_ago)
        .unwrap();

    // Pruning looks at most once an hour; forget the last look.
    fs::remove_file(builds.join(".pruned")).unwrap();
    run(sandbox.command("tr-run").args(["true"]));
    assert!(!old.exists());
    assert!(recent.exists());
    assert!(builds.join(".pruned").exists());

    let keep_all = run(sandbox
        .command("tr-run")
        .env("TASKRUNNER_KEEP_BUILDS_DAYS", "0")
        .args(["true"]));
    assert_eq!(keep_all.code, 0);
}

#[test]
fn closed_standard_streams_do_not_stop_the_task() {
    let sandbox = Sandbox::new();
    let done = run(sandbox
        .command_at(std::path::Path::new("/bin/sh"))
        .arg("-c")
        .arg("\"$0\" -n closed sh -c 'echo out; echo err >&2; exit 4' >&- 2>&-; echo rc=$?")
        .arg(tests::bin("tr-run")));
    assert_eq!(done.output, "rc=4\n");
    assert!(sandbox.log("closed").contains("stdout | out\n"));
}
