//! The `snapshot` function and the command pipe behind it.

use tests::{Sandbox, run};

#[test]
fn junk_on_the_command_pipe_fails_the_task() {
    let sandbox = Sandbox::new();
    let done = run(&mut sandbox.script(
        "echo junk >&${_taskrunner_request_pipe}; read -u ${_taskrunner_response_pipe} reply; eval \"$reply\"",
    ));
    assert_eq!(
        done.output,
        "[toplevel] error | Invalid command pipe request: \"junk\"\n[toplevel] error | Error: expected `[` at byte 0, found `j`\n"
    );
    assert_eq!(done.code, 1);
}

#[test]
fn junk_fails_the_task_even_if_the_answer_is_ignored() {
    let sandbox = Sandbox::new();
    let done =
        run(&mut sandbox.script("echo '[\"a\",' >&${_taskrunner_request_pipe}; sleep 0.2; exit 0"));
    assert_eq!(done.code, 1, "{}", done.output);
}

#[test]
fn unknown_commands_are_named() {
    let sandbox = Sandbox::new();
    let done = run(&mut sandbox.script(
        "echo '[ \"random\", \"command\" ]' >&${_taskrunner_request_pipe}; read -u ${_taskrunner_response_pipe} reply; eval \"$reply\"",
    ));
    assert_eq!(
        done.output,
        "[toplevel] error | Unknown command in command pipe: [\"random\",\"command\"]\n"
    );
    assert_eq!(done.code, 1);
}

#[test]
fn invalid_snapshot_options_fail_the_task() {
    let sandbox = Sandbox::new();
    for (args, message) in [
        ("--bogus", "Invalid option or missing argument: --bogus"),
        ("src --raw", "Invalid option or missing argument: --raw"),
        ("--env", "Invalid option or missing argument: --env"),
        ("--cmd 'make'", "--cmd is supported only after --outputs"),
    ] {
        let done = run(&mut sandbox.script(&format!("snapshot {args}; echo never")));
        assert_eq!(
            done.output,
            format!("[toplevel] error | snapshot: {message}\n")
        );
        assert_eq!(done.code, 1);
    }
}

#[test]
fn snapshot_carries_any_argument_intact() {
    let sandbox = Sandbox::new();
    let done = run(sandbox
        .script(
            r#"snapshot --raw "two words" --raw 'q"uote' --raw 'back\slash' --raw $'new\nline\ttab\x01ctl' --raw 'é ü' --raw $'\xff' --raw '' -o out -c 'echo "$x"'; echo ran"#,
        )
        .env("TASKRUNNER_DEBUG", "1"));
    assert!(
        done.output.contains("[toplevel] stdout | ran\n"),
        "{}",
        done.output
    );
    assert!(!done.output.contains("error"), "{}", done.output);
    let debug = done
        .output
        .lines()
        .find(|l| l.contains("debug | snapshot: "))
        .unwrap_or_else(|| panic!("{}", done.output));
    assert!(
        debug.contains(r#"raw: ["two words", "q\"uote", "back\\slash", "new\nline\ttab\u{1}ctl", "é ü", "\xFF", ""]"#),
        "{debug}"
    );
    assert!(debug.contains(r#"outputs: ["out"]"#), "{debug}");
    assert!(
        debug.contains(r#"post_unpack_cmds: ["echo \"$x\""]"#),
        "{debug}"
    );
}

#[test]
fn snapshot_reaches_subshells_and_strict_scripts() {
    let sandbox = Sandbox::new();
    let done = run(&mut sandbox.script(
        "set -euo pipefail; bash -c 'snapshot --raw x -l -n; echo in bash -c'; (snapshot; echo in subshell)",
    ));
    assert_eq!(
        done.output,
        "[toplevel] stdout | in bash -c\n[toplevel] stdout | in subshell\n"
    );
    assert_eq!(done.code, 0);
}

#[test]
fn snapshot_outside_a_task_says_so() {
    let sandbox = Sandbox::new();
    let done =
        run(&mut sandbox
            .script("unset _taskrunner_request_pipe; snapshot --raw x || echo refused=$?"));
    assert!(
        done.output
            .contains("snapshot works only inside a tr-run task"),
        "{}",
        done.output
    );
}
