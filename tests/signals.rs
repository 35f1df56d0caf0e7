//! Cancellation: signals reach the whole tree, which stops cleanly.

use std::fs;
use std::time::{Duration, Instant};

use tests::{Sandbox, finish, run, start, wait_for};

/// Whether `pid` runs; a zombie waiting for its reaper does not.
fn is_alive(pid: &str) -> bool {
    let stat = fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    let state = stat.rsplit(')').next().unwrap_or("").trim_start();
    !(state.is_empty() || state.starts_with('Z') || state.starts_with('X'))
}

#[test]
fn sigterm_stops_the_task_and_releases_the_lock() {
    let sandbox = Sandbox::new();
    let running = start(sandbox.command("tr-run").args([
        "-n",
        "victim",
        "bash",
        "-c",
        "trap 'echo stopping; exit 0' TERM; touch ../ready; sleep 30 & wait",
    ]));
    wait_for(&sandbox.root().join("ready"));
    let started = Instant::now();
    running.signal(libc::SIGTERM);
    let done = finish(running, started, Duration::from_secs(10));
    assert_eq!(done.code, 143, "{}", done.output);
    assert_eq!(
        done.output,
        "[victim] warn | received SIGTERM, stopping the task\n[victim] stdout | stopping\n"
    );

    let again = run(sandbox
        .command("tr-run")
        .args(["-n", "victim", "echo", "free"]));
    assert_eq!(again.output, "[victim] stdout | free\n");
}

#[test]
fn one_sigint_stops_a_whole_nested_tree() {
    let sandbox = Sandbox::new();
    let inner = "trap 'echo inner stopping; exit 5' INT; sleep 30 & echo \\$! > ../sleeper; touch ../ready; wait";
    let running = start(sandbox.script(&format!(
        "tr-run -n inner bash -c \"{inner}\"; echo outer goes on"
    )));
    wait_for(&sandbox.root().join("ready"));
    let started = Instant::now();
    running.signal(libc::SIGINT);
    let done = finish(running, started, Duration::from_secs(10));
    assert_eq!(done.code, 130, "{}", done.output);
    assert!(
        done.output.contains("[inner] stdout | inner stopping\n"),
        "{}",
        done.output
    );
    assert!(!done.output.contains("outer goes on"), "{}", done.output);
    assert!(
        done.elapsed < Duration::from_secs(4),
        "took {:?}",
        done.elapsed
    );
    let sleeper = fs::read_to_string(sandbox.root().join("sleeper")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !is_alive(&sleeper),
        "the background process of the inner task survived"
    );
}

#[test]
fn a_task_ignoring_signals_is_killed_after_the_grace_period() {
    let sandbox = Sandbox::new();
    let running = start(
        sandbox
            .command("tr-run")
            .env("TASKRUNNER_KILL_TIMEOUT", "1")
            .args([
                "-n",
                "stubborn",
                "bash",
                "-c",
                "trap '' TERM INT HUP; touch ../ready; sleep 30",
            ]),
    );
    wait_for(&sandbox.root().join("ready"));
    let started = Instant::now();
    running.signal(libc::SIGHUP);
    let done = finish(running, started, Duration::from_secs(10));
    assert_eq!(done.code, 129, "{}", done.output);
    assert!(
        done.elapsed >= Duration::from_millis(900),
        "killed before the grace period"
    );
}

#[test]
fn a_task_killed_by_a_signal_exits_128_plus_n() {
    let sandbox = Sandbox::new();
    let done = run(sandbox
        .command("tr-run")
        .args(["-n", "doomed", "bash", "-c", "kill -9 $$"]));
    assert_eq!(done.code, 137);
}
