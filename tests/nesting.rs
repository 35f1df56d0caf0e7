//! Builds, nested tasks, run-once results and locks.

use std::fs;
use std::time::{Duration, Instant};

use tests::{Sandbox, finish, run, run_within, start, wait_for};

#[test]
fn nested_tasks_write_straight_to_the_top_level() {
    let sandbox = Sandbox::new();
    let done = run(&mut sandbox.script(
        "echo Toplevel task; tr-run -n nested bash -c 'echo Nested task; tr-run -n deeper echo Deepest'; echo Toplevel task again",
    ));
    assert_eq!(
        done.output,
        "[toplevel] stdout | Toplevel task\n[nested] stdout | Nested task\n[deeper] stdout | Deepest\n[toplevel] stdout | Toplevel task again\n"
    );
}

#[test]
fn a_task_runs_once_per_build_and_its_result_is_replayed() {
    let sandbox = Sandbox::new();
    let done = run(&mut sandbox.script(
        "tr-run -n once sh -c 'echo ran >> count; exit 3' || echo first=$?
         tr-run -n once sh -c 'echo ran >> count; exit 0' || echo second=$?",
    ));
    assert_eq!(
        done.output,
        "[toplevel] stdout | first=3\n[toplevel] stdout | second=3\n"
    );
    assert_eq!(
        fs::read_to_string(sandbox.work().join("count")).unwrap(),
        "ran\n"
    );

    let build = sandbox.builds().pop().unwrap();
    assert_eq!(fs::read_to_string(build.join("results/once")).unwrap(), "3");
    assert_eq!(
        fs::read_to_string(build.join("results/toplevel")).unwrap(),
        "0"
    );
}

#[test]
fn every_top_level_run_is_a_new_build() {
    let sandbox = Sandbox::new();
    for _ in 0..3 {
        let done = run(sandbox
            .command("tr-run")
            .args(["-n", "again", "echo", "ran"]));
        assert_eq!(done.output, "[again] stdout | ran\n");
    }
    assert_eq!(sandbox.builds().len(), 3);
}

#[test]
fn the_parent_log_tells_about_subtasks() {
    let sandbox = Sandbox::new();
    run(&mut sandbox.script("tr-run -n child true"));
    let log = sandbox.log("toplevel");
    assert!(log.contains("debug | Starting subtask child\n"), "{log}");
    assert!(log.contains("debug | Subtask child logs to "), "{log}");
    assert!(log.contains("/logs/child.log\n"), "{log}");
    assert!(
        log.contains("debug | Subtask child finished with exit code 0\n"),
        "{log}"
    );
}

#[test]
fn a_task_calling_itself_fails_at_once() {
    let sandbox = Sandbox::new();
    let done = run_within(
        &mut sandbox
            .script("tr-run -n middle bash -c 'tr-run -n toplevel echo never' || echo inner=$?"),
        Duration::from_secs(10),
    );
    assert_eq!(
        done.output,
        "[middle] stderr | tr-run: error: task `toplevel` calls itself (directly or through other tasks) and would wait for itself forever\n[toplevel] stdout | inner=1\n"
    );
}

#[test]
fn tasks_of_one_name_never_overlap() {
    let sandbox = Sandbox::new();
    let task =
        "echo start $(date +%s%N) >> ../spans; sleep 0.3; echo end $(date +%s%N) >> ../spans";
    let runs: Vec<_> = (0..3)
        .map(|_| {
            start(
                sandbox
                    .command("tr-run")
                    .args(["-n", "exclusive", "bash", "-c", task]),
            )
        })
        .collect();
    let started = Instant::now();
    for running in runs {
        assert_eq!(finish(running, started, Duration::from_secs(30)).code, 0);
    }
    let spans = fs::read_to_string(sandbox.root().join("spans")).unwrap();
    let words: Vec<&str> = spans.split_whitespace().step_by(2).collect();
    assert_eq!(
        words,
        ["start", "end", "start", "end", "start", "end"],
        "{spans}"
    );
}

#[test]
fn tasks_of_different_names_run_in_parallel() {
    let sandbox = Sandbox::new();
    // Each task waits for the other's marker: run one after the other,
    // they would both time out.
    let wait_for = |mine: &str, theirs: &str| {
        format!(
            "touch ../{mine}; for i in $(seq 100); do [ -e ../{theirs} ] && exit 0; sleep 0.1; done; exit 1"
        )
    };
    let a = start(
        sandbox
            .command("tr-run")
            .args(["-n", "a", "bash", "-c", &wait_for("a", "b")]),
    );
    let b = start(
        sandbox
            .command("tr-run")
            .args(["-n", "b", "bash", "-c", &wait_for("b", "a")]),
    );
    let started = Instant::now();
    assert_eq!(finish(a, started, Duration::from_secs(20)).code, 0);
    assert_eq!(finish(b, started, Duration::from_secs(20)).code, 0);
}

#[test]
fn tr_lock_serialises_commands_and_passes_their_exit_code() {
    let sandbox = Sandbox::new();
    let task = "echo start >> ../spans; sleep 0.3; echo end >> ../spans; exit 7";
    let runs: Vec<_> = (0..2)
        .map(|_| {
            start(
                sandbox
                    .command("tr-lock")
                    .args(["deploy", "--", "bash", "-c", task]),
            )
        })
        .collect();
    let started = Instant::now();
    for running in runs {
        assert_eq!(finish(running, started, Duration::from_secs(30)).code, 7);
    }
    let spans = fs::read_to_string(sandbox.root().join("spans")).unwrap();
    assert_eq!(spans, "start\nend\nstart\nend\n");

    let missing = run(sandbox
        .command("tr-lock")
        .args(["deploy", "--", "no-such-command-x"]));
    assert_eq!(missing.code, 127);
    assert!(
        missing
            .output
            .starts_with("tr-lock: error: cannot run `no-such-command-x`"),
        "{}",
        missing.output
    );
}

#[test]
fn tr_lock_and_tr_run_share_locks() {
    let sandbox = Sandbox::new();
    let holder = start(sandbox.command("tr-lock").args([
        "shared",
        "--",
        "sh",
        "-c",
        "touch ../held; sleep 1; echo released > ../order",
    ]));
    let started = Instant::now();
    wait_for(&sandbox.root().join("held"));
    let done = run(sandbox
        .command("tr-run")
        .args(["-n", "shared", "sh", "-c", "cat ../order"]));
    assert_eq!(done.output, "[shared] stdout | released\n");
    finish(holder, started, Duration::from_secs(10));
}

#[test]
fn tr_log_labels_standard_input() {
    let sandbox = Sandbox::new();
    let log = sandbox.root().join("x.log");
    let done = run(sandbox
        .command("tr-log")
        .args(["-n", "build", "--log"])
        .arg(&log)
        .stdin(
            fs::File::open({
                let input = sandbox.root().join("input");
                fs::write(&input, b"one\ntwo\xff\nlast").unwrap();
                input
            })
            .unwrap(),
        ));
    assert_eq!(
        done.output,
        "[build] stdout | one\n[build] stdout | two\u{fffd}\n[build] stdout | last\n"
    );
    assert_eq!(
        fs::read(&log).unwrap(),
        b"stdout | one\nstdout | two\xff\nstdout | last\n"
    );

    let piped = run(sandbox
        .command_at(std::path::Path::new("/bin/bash"))
        .args([
            "-c",
            "printf 'a\\nb\\n' | \"$0\" -n x --stream stderr | head -n 1",
        ])
        .arg(tests::bin("tr-log")));
    assert_eq!(piped.output, "[x] stderr | a\n");
}
