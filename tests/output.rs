//! What a task's output looks like on the top level and in its log.

use std::time::Duration;

use tests::{Sandbox, run, run_within, write_script};

#[test]
fn lines_are_labelled_with_the_task_and_stream() {
    let sandbox = Sandbox::new();
    let done = run(sandbox.script("echo hello"));
    assert_eq!(done.output, "[toplevel] stdout | hello\n");
    assert_eq!(done.code, 0);
}

#[test]
fn the_exit_code_passes_through_and_stderr_is_labelled() {
    let sandbox = Sandbox::new();
    let done = run(sandbox
        .command("tr-run")
        .args(["sh", "-c", "echo I will fail >&2; exit 42"]));
    assert_eq!(done.output, "[sh] stderr | I will fail\n");
    assert_eq!(done.code, 42);
}

#[test]
fn partial_last_lines_and_raw_bytes_pass_through() {
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.script(r"printf 'caf\xc3\xa9 \xff\xfe\n\nno newline'");
    let (reader, writer) = std::io::pipe().unwrap();
    cmd.stdout(writer).stderr(std::process::Stdio::null());
    let status = cmd.status().unwrap();
    drop(cmd);
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut { reader }, &mut out).unwrap();
    assert!(status.success());
    assert_eq!(
        out,
        b"[toplevel] stdout | caf\xc3\xa9 \xff\xfe\n[toplevel] stdout | \n[toplevel] stdout | no newline\n"
    );
}

#[test]
fn timestamps_lead_each_line_unless_disabled() {
    let sandbox = Sandbox::new();
    let done = run(sandbox
        .script("echo stamped")
        .env_remove("TASKRUNNER_DISABLE_TIMESTAMPS"));
    let line = done.output.trim_end();
    let (time, rest) = line.split_at(8);
    assert_eq!(rest, " [toplevel] stdout | stamped");
    let parts: Vec<u32> = time.split(':').map(|p| p.parse().unwrap()).collect();
    assert!(parts.len() == 3 && parts[0] < 24 && parts[1] < 60, "{line}");

    let log = sandbox.log("toplevel");
    assert!(
        log.lines()
            .any(|l| l.len() == 25 && l.ends_with(" stdout | stamped")),
        "{log}"
    );
}

#[test]
fn the_log_keeps_every_line_and_every_message_level() {
    let sandbox = Sandbox::new();
    let done = run(sandbox.command("tr-run").args([
        "-n",
        "mytask",
        "sh",
        "-c",
        "echo some standard output; echo more standard output; echo some standard error >&2",
    ]));
    assert_eq!(done.code, 0);
    let log = sandbox.log("mytask");
    let lines: Vec<&str> = log.lines().filter(|l| !l.starts_with("debug |")).collect();
    assert_eq!(
        lines,
        [
            "stdout | some standard output",
            "stdout | more standard output",
            "stderr | some standard error"
        ]
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("debug | Running command: [\"sh\",\"-c\"")),
        "{log}"
    );
    assert!(
        !done.output.contains("debug |"),
        "debug lines are hidden by default"
    );
}

#[test]
fn debug_and_info_levels_are_shown_when_asked() {
    let sandbox = Sandbox::new();
    let done = run(sandbox.script("true").env("TASKRUNNER_DEBUG", "1"));
    assert!(
        done.output.contains("[toplevel] debug | Running command: "),
        "{}",
        done.output
    );
}

#[test]
fn stdin_is_dev_null_opened_for_reading() {
    let sandbox = Sandbox::new();
    let done = run(sandbox.script(
        "readlink /proc/$$/fd/0; cat; if (echo x >&0) 2>/dev/null; then echo writable; else echo read-only; fi",
    ));
    assert_eq!(
        done.output,
        "[toplevel] stdout | /dev/null\n[toplevel] stdout | read-only\n"
    );
}

#[test]
fn parallel_tasks_never_break_each_others_lines() {
    let sandbox = Sandbox::new();
    let script = r#"
        for t in 1 2 3 4; do
          tr-run -n "t$t" bash -c 'for i in $(seq 1 3000); do echo "t'$t' line $i ....................................................................."; done' &
        done
        wait
    "#;
    let done = run(&mut sandbox.script(script));
    assert_eq!(done.code, 0);
    let mut next = [1u32; 5];
    for line in done.output.lines() {
        let (label, text) = line
            .split_once(" stdout | ")
            .unwrap_or_else(|| panic!("broken line: {line:?}"));
        let t: usize = label
            .trim_start_matches("[t")
            .trim_end_matches(']')
            .parse()
            .unwrap();
        let expected = format!(
            "t{t} line {} .....................................................................",
            next[t]
        );
        assert_eq!(text, expected, "lines of one task stay whole and in order");
        next[t] += 1;
    }
    assert_eq!(next[1..], [3001; 4]);
}

#[test]
fn a_flood_of_output_is_carried_completely() {
    let sandbox = Sandbox::new();
    let done = run(sandbox
        .script("yes 0123456789abcdef | head -n 400000; head -c 3000000 /dev/zero | tr '\\0' x"));
    assert_eq!(done.code, 0);
    let lines: Vec<&str> = done.output.lines().collect();
    assert_eq!(
        lines
            .iter()
            .filter(|l| **l == "[toplevel] stdout | 0123456789abcdef")
            .count(),
        400_000
    );
    // A line longer than 1 MiB is shown in pieces; no byte is lost.
    let long: usize = lines[400_000..]
        .iter()
        .map(|l| l.strip_prefix("[toplevel] stdout | ").unwrap().len())
        .sum();
    assert_eq!(long, 3_000_000);
}

#[test]
fn a_task_that_closes_its_streams_early_still_finishes() {
    let sandbox = Sandbox::new();
    let done = run(sandbox.script("echo bye; exec >&- 2>&-; sleep 0.2; exit 3"));
    assert_eq!(done.output, "[toplevel] stdout | bye\n");
    assert_eq!(done.code, 3);
}

#[test]
fn a_leaked_stream_is_reported_after_the_timeout() {
    let sandbox = Sandbox::new();
    let done = run_within(
        sandbox
            .script("echo start; (sleep 5; echo late) & echo done")
            .env("TASKRUNNER_OUTPUT_STREAM_TIMEOUT", "1"),
        Duration::from_secs(4),
    );
    let expected_warning = |stream: &str| {
        format!(
            "[toplevel] warn | taskrunner: Task did not close {stream} 1 seconds after exiting.\n\
             [toplevel] warn | Perhaps the file descriptor was leaked to a background process?\n\
             [toplevel] warn | Build will continue despite this error, but some output may be lost.\n"
        )
    };
    assert_eq!(
        done.output,
        format!(
            "[toplevel] stdout | start\n[toplevel] stdout | done\n{}{}",
            expected_warning("stdout"),
            expected_warning("stderr")
        )
    );
    assert_eq!(done.code, 0);
}

#[test]
fn a_background_process_with_its_own_streams_causes_no_wait() {
    let sandbox = Sandbox::new();
    let done = run_within(
        &mut sandbox.script("(sleep 30 </dev/null >/dev/null 2>&1 &); echo done"),
        Duration::from_secs(20),
    );
    assert_eq!(done.output, "[toplevel] stdout | done\n");
    assert!(
        done.elapsed < Duration::from_secs(3),
        "took {:?}",
        done.elapsed
    );
}

#[test]
fn quiet_mode_shows_lines_only_of_failed_tasks() {
    let sandbox = Sandbox::new();
    let quiet = |script: &str| run(sandbox.script(script).env("TASKRUNNER_QUIET", "1"));

    let done = quiet("echo hidden; tr-run -n nested echo also hidden");
    assert_eq!(done.output, "");
    assert_eq!(done.code, 0);

    let done = quiet("echo shown; echo second line; exit 1");
    assert_eq!(
        done.output,
        "[toplevel] stdout | shown\n[toplevel] stdout | second line\n"
    );
    assert_eq!(done.code, 1);

    let done = quiet(
        "echo top; tr-run -n child sh -c 'echo child before failure; exit 1' || echo handled",
    );
    assert_eq!(done.output, "[child] stdout | child before failure\n");
    assert_eq!(done.code, 0);
}

#[test]
fn a_symlink_named_taskrunner_behaves_the_same() {
    let sandbox = Sandbox::new();
    let link = sandbox.root().join("taskrunner");
    std::os::unix::fs::symlink(tests::bin("tr-run"), &link).unwrap();
    let mut cmd = sandbox.command("tr-run");
    let done = run(cmd.env("PATH", "/usr/bin:/bin").args([
        "-n",
        "compat",
        "bash",
        "-c",
        "echo via $(basename \"$0\"); taskrunner -n inner echo nested",
    ]));
    assert_eq!(
        done.output,
        "[compat] stdout | via bash\n[inner] stdout | nested\n"
    );
    let via_link = run(sandbox
        .command_at(&link)
        .args(["-n", "linked", "echo", "hi"]));
    assert_eq!(via_link.output, "[linked] stdout | hi\n");
    let script = write_script(&sandbox.work(), "build.sh", "#!/bin/sh\necho built\n");
    let default_name = run(sandbox.command("tr-run").arg(&script));
    assert_eq!(default_name.output, "[build.sh] stdout | built\n");
}

#[test]
fn quiet_mode_keeps_every_line_of_a_large_failing_task() {
    let sandbox = Sandbox::new();
    let done = run(sandbox
        .script("seq 1 500000; echo last >&2; exit 1")
        .env("TASKRUNNER_QUIET", "1"));
    assert_eq!(done.code, 1);
    let stdout: Vec<&str> = done
        .output
        .lines()
        .filter(|l| l.contains("] stdout | "))
        .collect();
    assert_eq!(stdout.len(), 500_000);
    assert_eq!(stdout[0], "[toplevel] stdout | 1");
    assert_eq!(stdout[499_999], "[toplevel] stdout | 500000");
    assert!(done.output.contains("[toplevel] stderr | last\n"));
}
