//! The `tr-check` binary against the fake GitHub API.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{FakeGitHub, Fault, SHA};

/// `tr-check` with a clean environment: the fake's variables, a private
/// state directory (also the working directory, outside any git work
/// tree), and `vars` on top (an empty value unsets).
fn tr_check(fake: &FakeGitHub, state: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tr-check"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TASKRUNNER_STATE_DIRECTORY", state)
        .envs(fake.vars())
        .args(args)
        .current_dir(state);
    for (name, value) in vars {
        if value.is_empty() {
            command.env_remove(name);
        } else {
            command.env(name, value);
        }
    }
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Checks a failed run: the exit code, and one `tr-check: error:` line
/// containing `needle`.
fn assert_error(output: &Output, code: i32, needle: &str) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{text}");
    assert!(output.stdout.is_empty());
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("tr-check: error: "), "{text}");
    assert!(text.contains(needle), "{needle} in {text}");
}

/// Fails if the output shows any part of the key or any issued token.
fn assert_no_secrets(fake: &FakeGitHub, output: &Output) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(output)
    );
    for key in [support::KEY, support::KEY_PKCS8, support::OTHER_KEY] {
        for line in key.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!all.contains(line), "key material in: {all}");
        }
    }
    for token in fake.issued_tokens() {
        assert!(!all.contains(&token), "token in: {all}");
    }
    assert!(!all.contains("ghs_"), "token in: {all}");
}

#[test]
fn processes_share_one_token() {
    let fake = FakeGitHub::start();
    let state = support::scratch("share");

    let sequential = tr_check(
        &fake,
        &state,
        &[],
        &["pending", "--context", "a", "--sha", SHA],
    );
    assert_eq!(sequential.status.code(), Some(0), "{}", stderr(&sequential));
    assert!(sequential.stdout.is_empty() && sequential.stderr.is_empty());

    let parallel: Vec<_> = (0..4)
        .map(|n| {
            let context = format!("task-{n}");
            let mut command = Command::new(env!("CARGO_BIN_EXE_tr-check"));
            command
                .env_clear()
                .env("TASKRUNNER_STATE_DIRECTORY", &state)
                .envs(fake.vars())
                .args(["success", "--context", &context, "--sha", SHA]);
            command.spawn().unwrap()
        })
        .collect();
    for child in parallel {
        assert!(child.wait_with_output().unwrap().status.success());
    }

    assert_eq!(fake.token_requests(), 1);
    assert_eq!(fake.posted().len(), 5);
    assert_no_secrets(&fake, &sequential);
}

#[test]
fn a_fresh_state_directory_waits_for_one_token_bought_in_parallel() {
    let fake = FakeGitHub::start();
    let state = support::scratch("race");
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_tr-check"))
                .env_clear()
                .env("TASKRUNNER_STATE_DIRECTORY", &state)
                .envs(fake.vars())
                .args(["pending", "--context", "t", "--sha", SHA])
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        assert!(child.wait_with_output().unwrap().status.success());
    }
    assert_eq!(fake.token_requests(), 1);
}

#[test]
fn tokens_near_expiry_or_refused_are_replaced() {
    let fake = FakeGitHub::start();
    let state = support::scratch("refresh");
    let run = || {
        tr_check(
            &fake,
            &state,
            &[],
            &["success", "--context", "a", "--sha", SHA],
        )
    };

    fake.set_token_lifetime(120);
    assert!(run().status.success());
    assert!(run().status.success());
    assert_eq!(fake.token_requests(), 2);

    fake.set_token_lifetime(3600);
    fake.revoke_tokens();
    let output = run();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(fake.token_requests(), 3);
    assert_eq!(fake.posted().len(), 3);
}

#[test]
fn head_of_the_current_directory_is_the_default_commit() {
    let fake = FakeGitHub::start();
    let state = support::scratch("head-state");
    let repo = support::scratch("head-repo");
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t.invalid"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "x"]);
    let head = git(&["rev-parse", "HEAD"]);

    let output = Command::new(env!("CARGO_BIN_EXE_tr-check"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TASKRUNNER_STATE_DIRECTORY", &state)
        .envs(fake.vars())
        .args(["failure", "--context", "build", "--description", "exit 3"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let post = fake.calls().pop().unwrap();
    assert_eq!(
        post.path,
        format!("/repos/octo/widgets/statuses/{}", head.trim())
    );

    let outside = tr_check(&fake, &state, &[], &["failure", "--context", "build"]);
    assert_error(&outside, 1, "git rev-parse HEAD");
}

#[test]
fn missing_variables_are_named() {
    let fake = FakeGitHub::start();
    let state = support::scratch("missing");
    for name in [
        "GITHUB_APP_ID",
        "GITHUB_INSTALLATION_ID",
        "GITHUB_APP_PRIVATE_KEY",
        "GITHUB_REPOSITORY",
        "GITHUB_REPOSITORY_OWNER",
    ] {
        let output = tr_check(&fake, &state, &[(name, "")], &["pending", "--context", "a"]);
        assert_error(&output, 2, &format!("`{name}` is not set"));
    }
    assert!(fake.calls().is_empty());
}

#[test]
fn malformed_variables_are_named() {
    let fake = FakeGitHub::start();
    let state = support::scratch("malformed");
    for (name, value) in [
        ("GITHUB_APP_ID", "app"),
        ("GITHUB_INSTALLATION_ID", "-1"),
        ("GITHUB_REPOSITORY", "a/b/c"),
        ("GITHUB_REPOSITORY_OWNER", "not an owner"),
        ("GITHUB_API_URL", "ftp://example.invalid"),
        ("TASKRUNNER_GITHUB_TOKEN_REFRESH_THRESHOLD_SECONDS", "5m"),
        ("TASKRUNNER_GITHUB_TIMEOUT_SECONDS", "0"),
        ("TASKRUNNER_GITHUB_RETRIES", "99"),
        ("TASKRUNNER_STATE_DIRECTORY", "/proc/self/nope"),
    ] {
        let output = tr_check(
            &fake,
            &state,
            &[(name, value)],
            &["pending", "--context", "a"],
        );
        assert_error(&output, 2, name);
    }
    assert!(fake.calls().is_empty());
}

#[test]
fn a_key_that_is_not_pem_is_named_and_never_echoed() {
    let fake = FakeGitHub::start();
    let state = support::scratch("bad-key");
    let body: String = support::KEY
        .lines()
        .filter(|l| !l.starts_with("---"))
        .collect();
    for key in [
        body.as_str(),
        "-----BEGIN RSA PRIVATE KEY-----|c2VjcmV0|-----END RSA PRIVATE KEY-----",
    ] {
        let vars = [("GITHUB_APP_PRIVATE_KEY", key)];
        let output = tr_check(&fake, &state, &vars, &["pending", "--context", "a"]);
        assert_error(&output, 2, "`GITHUB_APP_PRIVATE_KEY`");
        assert!(!stderr(&output).contains("c2VjcmV0"));
        assert_no_secrets(&fake, &output);
    }
}

#[test]
fn api_failures_exit_1_with_one_line_in_bounded_time() {
    let fake = FakeGitHub::start();
    let state = support::scratch("faults");
    let fast = [
        ("TASKRUNNER_GITHUB_TIMEOUT_SECONDS", "1"),
        ("TASKRUNNER_GITHUB_RETRIES", "1"),
    ];
    let args = ["pending", "--context", "a", "--sha", SHA];

    for (fault, needle) in [
        (Fault::Status(503), "HTTP 503: Server Error"),
        (
            Fault::Html(502),
            "HTTP 502: an HTML page, not the GitHub API",
        ),
        (
            Fault::Html(200),
            "access_tokens`: expected JSON with `token`",
        ),
        (Fault::Hang, "no answer from"),
        (Fault::Close, "no answer from"),
    ] {
        fake.fail_always(fault);
        let start = Instant::now();
        let output = tr_check(&fake, &state, &fast, &args);
        assert!(start.elapsed() < Duration::from_secs(6), "{fault:?}");
        assert_error(&output, 1, needle);
        assert_no_secrets(&fake, &output);
    }

    let wrong_key = [("GITHUB_APP_PRIVATE_KEY", support::OTHER_KEY)];
    let fake = FakeGitHub::start();
    let output = tr_check(&fake, &state, &wrong_key, &args);
    assert_error(
        &output,
        1,
        "HTTP 401: A JSON web token could not be decoded",
    );
    assert_no_secrets(&fake, &output);
}

#[test]
fn the_command_line_is_checked() {
    let fake = FakeGitHub::start();
    let state = support::scratch("usage");

    let bad_state = tr_check(&fake, &state, &[], &["green", "--context", "a"]);
    assert_eq!(bad_state.status.code(), Some(2));
    let no_context = tr_check(&fake, &state, &[], &["success"]);
    assert_eq!(no_context.status.code(), Some(2));
    let bad_sha = tr_check(
        &fake,
        &state,
        &[],
        &["success", "--context", "a", "--sha", "HEAD~1"],
    );
    assert_error(&bad_sha, 2, "invalid commit `HEAD~1`");

    let help = tr_check(&fake, &state, &[], &["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("TASKRUNNER_GITHUB_TIMEOUT_SECONDS"), "{help}");
    let version = tr_check(&fake, &state, &[], &["--version"]);
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        "tr-check 0.1.0"
    );
    assert!(fake.calls().is_empty());
}

#[test]
fn the_clap_definition_is_valid() {
    tr_check::command().debug_assert();
}
