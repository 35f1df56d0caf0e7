//! The library against the fake GitHub API.

mod support;

use std::fs;
use std::ops::Deref;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use support::{FakeGitHub, Fault, SHA, Scratch};
use tr_check::{CheckError, Reporter, StatusRequest, StatusState};
use tr_common::StateDir;

/// A state directory that lives as long as the test needs it.
struct Fixture {
    state: StateDir,
    _dir: Scratch,
}

impl Deref for Fixture {
    type Target = StateDir;

    fn deref(&self) -> &StateDir {
        &self.state
    }
}

fn new_reporter(fake: &FakeGitHub, name: &str, extra: &[(&str, &str)]) -> (Reporter, Fixture) {
    let dir = support::scratch(name);
    let state = StateDir::open(dir.to_path_buf()).unwrap();
    let reporter = Reporter::new(fake.config(extra), &state)
        .unwrap()
        .with_commit(SHA)
        .unwrap();
    (reporter, Fixture { state, _dir: dir })
}

fn status(context: &str, state: StatusState) -> StatusRequest {
    StatusRequest::new(context, state)
}

#[test]
fn one_status_is_posted_with_the_spec_body() {
    let fake = FakeGitHub::start();
    let (reporter, _state) = new_reporter(&fake, "one", &[]);

    reporter
        .report(&status("build", StatusState::Pending))
        .unwrap();
    let full = StatusRequest {
        description: Some("not cached".into()),
        target_url: Some("https://logs.invalid/b1/build.log.txt".into()),
        ..status("build", StatusState::Success)
    };
    reporter.report(&full).unwrap();

    assert_eq!(
        fake.posted(),
        [
            r#"{"context":"build","description":null,"state":"pending","target_url":null}"#,
            r#"{"context":"build","description":"not cached","state":"success","target_url":"https://logs.invalid/b1/build.log.txt"}"#,
        ]
    );
    let calls = fake.calls();
    assert_eq!(fake.token_requests(), 1);
    assert_eq!(calls[1].path, format!("/repos/octo/widgets/statuses/{SHA}"));
}

#[test]
fn a_pkcs8_key_and_an_owner_slash_repo_work_too() {
    let fake = FakeGitHub::start();
    let key = support::KEY_PKCS8.replace('\n', "|");
    let extra = [
        ("GITHUB_APP_PRIVATE_KEY", key.as_str()),
        ("GITHUB_REPOSITORY", "octo/widgets"),
        ("GITHUB_REPOSITORY_OWNER", ""),
    ];
    let (reporter, _state) = new_reporter(&fake, "pkcs8", &extra);
    reporter
        .report(&status("lint", StatusState::Failure))
        .unwrap();
    assert_eq!(fake.posted().len(), 1);
}

#[test]
fn failure_then_success_is_found_and_turned_green() {
    let fake = FakeGitHub::start();
    let (reporter, _state) = new_reporter(&fake, "green", &[]);

    assert!(!reporter.has_status("test").unwrap());
    reporter
        .report(&status("test", StatusState::Failure))
        .unwrap();
    assert!(reporter.has_status("test").unwrap());
    assert!(!reporter.has_status("other").unwrap());
    reporter
        .report(&status("test", StatusState::Success))
        .unwrap();

    let states: Vec<String> = fake
        .posted()
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["state"].to_string())
        .collect();
    assert_eq!(states, [r#""failure""#, r#""success""#]);
}

#[test]
fn has_status_reads_further_pages() {
    let fake = FakeGitHub::start();
    fake.add_status(SHA, "old");
    for n in 0..250 {
        fake.add_status(SHA, &format!("task-{n}"));
    }
    let (reporter, _state) = new_reporter(&fake, "pages", &[]);

    assert!(reporter.has_status("old").unwrap());
    let pages: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "GET")
        .map(|c| c.query)
        .collect();
    assert_eq!(
        pages,
        [
            "per_page=100&page=1",
            "per_page=100&page=2",
            "per_page=100&page=3"
        ]
    );
}

#[test]
fn a_token_is_reused_until_it_nears_expiry() {
    let fake = FakeGitHub::start();
    let (reporter, _state) = new_reporter(&fake, "reuse", &[]);
    fake.set_token_lifetime(1000);
    reporter.report(&status("a", StatusState::Pending)).unwrap();
    reporter.report(&status("a", StatusState::Success)).unwrap();
    assert_eq!(fake.token_requests(), 1);

    // Below the 300-second default threshold: replaced before each use.
    fake.set_token_lifetime(200);
    let (reporter, _state) = new_reporter(&fake, "refresh", &[]);
    reporter.report(&status("b", StatusState::Pending)).unwrap();
    reporter.report(&status("b", StatusState::Success)).unwrap();
    assert_eq!(fake.token_requests(), 3);

    let threshold = [("TASKRUNNER_GITHUB_TOKEN_REFRESH_THRESHOLD_SECONDS", "100")];
    let (reporter, _state) = new_reporter(&fake, "threshold", &threshold);
    reporter.report(&status("c", StatusState::Pending)).unwrap();
    reporter.report(&status("c", StatusState::Success)).unwrap();
    assert_eq!(fake.token_requests(), 4);
}

#[test]
fn a_refused_token_is_replaced_once_and_the_request_retried() {
    let fake = FakeGitHub::start();
    let (reporter, state) = new_reporter(&fake, "401", &[]);
    reporter.report(&status("a", StatusState::Pending)).unwrap();

    // The server says the token lasts an hour but drops it early.
    fake.revoke_tokens();
    reporter.report(&status("a", StatusState::Success)).unwrap();

    assert_eq!(fake.token_requests(), 2);
    let statuses: Vec<u16> = fake.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [201, 201, 401, 201, 201]);
    let cache = fs::read_to_string(state.root().join("github/token.json")).unwrap();
    assert!(cache.contains(&fake.issued_tokens()[1]));
    let mode = fs::metadata(state.root().join("github/token.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_second_401_is_an_error_not_a_loop() {
    let fake = FakeGitHub::start();
    let (reporter, _state) = new_reporter(&fake, "401-twice", &[]);
    reporter.has_status("a").unwrap();
    fake.revoke_tokens();
    fake.fail_next_on("/statuses", Fault::Status(401));
    fake.fail_next_on("/statuses", Fault::Status(401));

    let err = reporter.has_status("a").unwrap_err();
    assert!(
        matches!(err, CheckError::Status { status: 401, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("/commits/"), "{err}");
    let statuses: Vec<u16> = fake.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [201, 200, 401, 201, 401]);
}

#[test]
fn a_jwt_signed_with_another_key_is_refused() {
    let fake = FakeGitHub::start();
    let extra = [("GITHUB_APP_PRIVATE_KEY", support::OTHER_KEY)];
    let (reporter, _state) = new_reporter(&fake, "other-key", &extra);
    let err = reporter
        .report(&status("a", StatusState::Pending))
        .unwrap_err();
    let text = tr_common::diag::chain(&err);
    assert!(
        text.contains("/app/installations/678/access_tokens"),
        "{text}"
    );
    assert!(text.contains("HTTP 401"), "{text}");
}

#[test]
fn server_errors_are_retried_a_bounded_number_of_times() {
    let fake = FakeGitHub::start();
    let (reporter, _state) = new_reporter(&fake, "5xx", &[]);
    fake.fail_next(Fault::Status(502));
    reporter.report(&status("a", StatusState::Pending)).unwrap();
    assert_eq!(fake.calls().len(), 3);

    fake.fail_always(Fault::Status(500));
    let err = reporter
        .report(&status("a", StatusState::Success))
        .unwrap_err();
    assert!(!err.is_config());
    let text = tr_common::diag::chain(&err);
    assert!(text.contains("HTTP 500: Server Error"), "{text}");
    assert_eq!(fake.calls().len(), 3 + 3, "two retries by default");
}

#[test]
fn html_answers_are_named_as_such() {
    let fake = FakeGitHub::start();
    let (reporter, _state) = new_reporter(&fake, "html", &[("TASKRUNNER_GITHUB_RETRIES", "0")]);

    fake.fail_always(Fault::Html(502));
    let err = reporter
        .report(&status("a", StatusState::Pending))
        .unwrap_err();
    let text = tr_common::diag::chain(&err);
    assert!(text.contains("HTTP 502: an HTML page"), "{text}");

    fake.fail_always(Fault::Html(200));
    let err = reporter
        .report(&status("a", StatusState::Pending))
        .unwrap_err();
    let text = tr_common::diag::chain(&err);
    assert!(
        text.starts_with("unexpected answer from `http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.ends_with("got an HTML page, not the GitHub API"),
        "{text}"
    );
}

#[test]
fn a_silent_server_costs_a_bounded_time() {
    let fake = FakeGitHub::start();
    let extra = [
        ("TASKRUNNER_GITHUB_TIMEOUT_SECONDS", "1"),
        ("TASKRUNNER_GITHUB_RETRIES", "1"),
    ];
    let (reporter, _state) = new_reporter(&fake, "hang", &extra);
    fake.fail_always(Fault::Hang);

    let start = Instant::now();
    let err = reporter
        .report(&status("a", StatusState::Pending))
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let text = tr_common::diag::chain(&err);
    assert!(text.contains("within 1 s, 2 attempt(s)"), "{text}");
    assert!(text.contains("TASKRUNNER_GITHUB_TIMEOUT_SECONDS"), "{text}");
}

#[test]
fn a_closed_connection_or_no_server_is_an_error() {
    let fake = FakeGitHub::start();
    let (reporter, _state) = new_reporter(&fake, "close", &[]);
    fake.fail_always(Fault::Close);
    let err = reporter.has_status("a").unwrap_err();
    assert!(
        matches!(err, CheckError::Transport { attempts: 3, .. }),
        "{err}"
    );

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (reporter, _state) = new_reporter(&fake, "nobody", &[("GITHUB_API_URL", &closed)]);
    let start = Instant::now();
    let err = reporter.has_status("a").unwrap_err();
    assert!(matches!(err, CheckError::Transport { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn debug_output_shows_no_key_or_token() {
    let fake = FakeGitHub::start();
    let (reporter, _state) = new_reporter(&fake, "debug", &[]);
    reporter.report(&status("a", StatusState::Pending)).unwrap();

    let debug = format!("{reporter:?}");
    assert!(
        debug.contains("octo") && debug.contains("<redacted>"),
        "{debug}"
    );
    let key_line = support::KEY.lines().nth(1).unwrap();
    assert!(!debug.contains(key_line), "{debug}");
    assert!(!debug.contains(&fake.issued_tokens()[0]), "{debug}");
    assert!(!debug.contains("ghs_"), "{debug}");
}

#[test]
fn a_stuck_lock_holder_costs_a_bounded_time() {
    let fake = FakeGitHub::start();
    let extra = [
        ("TASKRUNNER_GITHUB_TIMEOUT_SECONDS", "1"),
        ("TASKRUNNER_GITHUB_RETRIES", "0"),
    ];
    let (reporter, state) = new_reporter(&fake, "stuck", &extra);
    let holder = fs::File::create(state.root().join("github/token.lock")).unwrap();
    holder.lock().unwrap();

    let start = Instant::now();
    let err = reporter.has_status("a").unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
    let text = tr_common::diag::chain(&err);
    assert!(text.contains("token.lock"), "{text}");
    assert!(text.contains("still locked by another process"), "{text}");
    assert!(fake.calls().is_empty());
}

#[test]
fn a_token_is_not_reused_for_another_api_server() {
    let first = FakeGitHub::start();
    let second = FakeGitHub::start();
    let dir = support::scratch("two-servers");
    let state = StateDir::open(dir.to_path_buf()).unwrap();
    for fake in [&first, &second, &first] {
        let reporter = Reporter::new(fake.config(&[]), &state)
            .unwrap()
            .with_commit(SHA)
            .unwrap();
        reporter.report(&status("a", StatusState::Pending)).unwrap();
    }
    assert_eq!(first.token_requests(), 2);
    assert_eq!(second.token_requests(), 1);
}
