//! Task outputs through the caches, driven by tr-run: the directory store
//! and a real S3 server (s3s-fs, in process, on 127.0.0.1).

#[path = "../tr-cache/tests/common/s3_server.rs"]
mod s3;

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tests::{Finished, Sandbox, run, run_within};

/// Builds `out/` from `src/`, with a post-unpack command.
const BUILD: &str =
    "snapshot src -o out -c 'echo post-unpack ran'; mkdir -p out; cp src/* out/; echo built";

/// Two checkouts of one repository, each with its own state directory,
/// sharing a cache.
struct Machines {
    first: Sandbox,
    second: Sandbox,
    cache: tempfile::TempDir,
}

impl Machines {
    fn new() -> Machines {
        let first = Sandbox::new();
        first.git_repo(&[
            ("src/a", "alpha\n"),
            ("src/b", "beta\n"),
            (".gitignore", "out/\n"),
        ]);
        let second = Sandbox::new();
        fs::remove_dir(second.work()).unwrap();
        let cloned = Command::new("git")
            .args(["clone", "-q"])
            .arg(first.work())
            .arg(second.work())
            .status()
            .unwrap();
        assert!(cloned.success());
        Machines {
            first,
            second,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, on: &Sandbox, env: &[(&str, &str)], script: &str) -> Finished {
        let mut cmd = on.command("tr-run");
        cmd.env("TASKRUNNER_CACHE_DIRECTORY", self.cache.path())
            .env("TASKRUNNER_LOG_INFO", "1")
            .envs(env.iter().copied())
            .args(["-n", "build", "bash", "-e", "-c", script]);
        run_within(cmd, Duration::from_secs(60))
    }

    fn bundles(&self) -> Vec<PathBuf> {
        let dir = self.cache.path().join("bundles");
        fs::read_dir(dir).map_or(Vec::new(), |entries| {
            entries.map(|e| e.unwrap().path()).collect()
        })
    }
}

const SAVE: (&str, &str) = ("TASKRUNNER_SAVE_REMOTE_CACHE", "1");

fn restored_output(output: &str) -> String {
    // The archive's location depends on the temporary directory.
    output
        .lines()
        .map(|l| match l.find("Found remote cache ") {
            Some(_) => "[build] info | Found remote cache ARCHIVE, restoring".to_owned(),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn outputs_built_on_one_machine_are_restored_on_another() {
    let m = Machines::new();
    let built = m.run(&m.first, &[SAVE], BUILD);
    assert_eq!(
        built.output,
        "[build] info | Inputs changed, running task\n[build] stdout | built\n[build] info | success\n[build] stderr | post-unpack ran\n"
    );
    let bundles = m.bundles();
    assert_eq!(bundles.len(), 1, "{bundles:?}");
    let bundle_name = bundles[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        bundle_name.starts_with("build-") && bundle_name.ends_with(".tar.zst"),
        "{bundle_name}"
    );

    let restored = m.run(&m.second, &[], BUILD);
    assert_eq!(
        restored_output(&restored.output),
        "[build] info | Found remote cache ARCHIVE, restoring\n[build] info | Restored from remote cache\n[build] stderr | post-unpack ran"
    );
    assert!(
        restored.output.contains(&bundle_name),
        "{}",
        restored.output
    );
    assert_eq!(
        fs::read_to_string(m.second.work().join("out/a")).unwrap(),
        "alpha\n"
    );
    assert_eq!(
        fs::read_to_string(m.second.work().join("out/b")).unwrap(),
        "beta\n"
    );

    let again = m.run(&m.second, &[], BUILD);
    assert_eq!(again.output, "[build] info | skipped, inputs unchanged\n");
}

#[test]
fn nothing_is_archived_unless_asked() {
    let m = Machines::new();
    m.run(&m.first, &[], BUILD);
    assert!(m.bundles().is_empty());
}

#[test]
fn force_never_restores() {
    let m = Machines::new();
    m.run(&m.first, &[SAVE], BUILD);
    let mut cmd = m.second.command("tr-run");
    cmd.env("TASKRUNNER_CACHE_DIRECTORY", m.cache.path())
        .args(["-f", "-n", "build", "bash", "-e", "-c", BUILD]);
    let forced = run(cmd);
    assert!(
        forced.output.contains("[build] stdout | built\n"),
        "{}",
        forced.output
    );
    assert!(!forced.output.contains("Restored"), "{}", forced.output);
}

#[test]
fn prime_cache_mode_uploads_without_running() {
    let m = Machines::new();
    fs::create_dir(m.first.work().join("out")).unwrap();
    fs::write(m.first.work().join("out/a"), "built elsewhere\n").unwrap();
    let primed = m.run(
        &m.first,
        &[SAVE, ("TASKRUNNER_PRIME_CACHE_MODE", "1")],
        BUILD,
    );
    assert!(!primed.output.contains("built\n"), "{}", primed.output);
    assert_eq!(primed.code, 0);
    assert_eq!(m.bundles().len(), 1);

    m.run(&m.second, &[], BUILD);
    assert_eq!(
        fs::read_to_string(m.second.work().join("out/a")).unwrap(),
        "built elsewhere\n"
    );
}

#[test]
fn a_corrupt_archive_is_a_warning_and_the_task_runs() {
    let m = Machines::new();
    m.run(&m.first, &[SAVE], BUILD);
    let bundle = &m.bundles()[0];
    let mut data = fs::read(bundle).unwrap();
    data.truncate(data.len() / 2);
    fs::write(bundle, data).unwrap();

    let done = m.run(&m.second, &[], BUILD);
    assert_eq!(done.code, 0, "{}", done.output);
    assert!(
        done.output
            .contains("[build] warn | cannot restore from the cache, running the task: "),
        "{}",
        done.output
    );
    assert!(
        done.output.contains("[build] stdout | built\n"),
        "{}",
        done.output
    );
    assert_eq!(
        fs::read_to_string(m.second.work().join("out/b")).unwrap(),
        "beta\n"
    );
}

#[test]
fn a_fuzzy_cache_comes_from_a_fallback_branch() {
    const FUZZY: &str = "snapshot src --fuzzy-cache -o out; mkdir -p out; echo \"$(cat out/count 2>/dev/null || echo 0)+1\" > out/count; echo built";
    let m = Machines::new();
    m.run(&m.first, &[SAVE], FUZZY);
    assert!(m.cache.path().join("latest/build-main.txt").exists());

    m.second.git(&["checkout", "-q", "-b", "topic"]);
    fs::write(m.second.work().join("src/a"), "changed on topic\n").unwrap();
    let done = m.run(
        &m.second,
        &[("TASKRUNNER_FALLBACK_BRANCHES", "main")],
        FUZZY,
    );
    let hash = fs::read_to_string(m.cache.path().join("latest/build-main.txt")).unwrap();
    assert!(
        done.output.contains(&format!(
            "[build] info | Restored fuzzy cache from branch main, hash={}\n",
            hash.trim()
        )),
        "{}",
        done.output
    );
    assert!(done.output.contains("[build] stdout | built\n"));
    assert_eq!(
        fs::read_to_string(m.second.work().join("out/count")).unwrap(),
        "0+1+1\n"
    );
}

#[test]
fn the_main_branch_merge_base_is_recorded_even_when_the_task_fails() {
    const FAILS: &str = "snapshot src --fuzzy-cache -o out; echo broken; exit 3";
    const RESTORED: &str = "[build] info | Restored fuzzy cache from branch main";
    let m = Machines::new();
    m.run(
        &m.first,
        &[SAVE],
        "snapshot src --fuzzy-cache -o out; mkdir -p out; echo built > out/x",
    );

    m.second.git(&["checkout", "-q", "-b", "topic"]);
    fs::write(m.second.work().join("src/a"), "changed on topic\n").unwrap();
    let env = [
        ("TASKRUNNER_FALLBACK_BRANCHES", "main"),
        ("TASKRUNNER_MAIN_BRANCH", "main"),
    ];
    let first = m.run(&m.second, &env, FAILS);
    assert_eq!(first.code, 3, "{}", first.output);
    assert!(first.output.contains(RESTORED), "{}", first.output);

    // Same merge-base with main: the failed run's restore still counts.
    let again = m.run(&m.second, &env, FAILS);
    assert_eq!(again.code, 3, "{}", again.output);
    assert!(!again.output.contains(RESTORED), "{}", again.output);
    assert!(again.output.contains("[build] stdout | broken\n"));

    // main moves on and this branch takes it in: a new merge-base.
    m.first
        .git(&["commit", "-q", "--allow-empty", "-m", "main moves"]);
    m.second.git(&["fetch", "-q"]);
    m.second.git(&["merge", "-q", "--no-edit", "origin/main"]);
    let moved = m.run(&m.second, &env, FAILS);
    assert!(moved.output.contains(RESTORED), "{}", moved.output);
}

#[test]
fn logs_are_uploaded_and_linked() {
    let m = Machines::new();
    m.run(
        &m.first,
        &[("TASKRUNNER_UPLOAD_LOGS", "1")],
        "echo logged line",
    );
    let logs = m.cache.path().join("logs");
    let builds: Vec<_> = fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(builds.len(), 1);
    let log = fs::read_to_string(builds[0].join("build.log.txt")).unwrap();
    assert!(log.contains("stdout | logged line\n"), "{log}");
}

fn s3_env(endpoint: &str, bucket: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TASKRUNNER_REMOTE_CACHE_BUCKET", bucket.to_owned()),
        ("TASKRUNNER_S3_ENDPOINT", endpoint.to_owned()),
        ("TASKRUNNER_AWS_ACCESS_KEY", s3::ACCESS_KEY.to_owned()),
        ("TASKRUNNER_AWS_SECRET_KEY", s3::SECRET_KEY.to_owned()),
    ]
}

/// The URL of a port on 127.0.0.1 that nothing listens on.
fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

fn run_s3(on: &Sandbox, env: &[(&str, String)], extra: &[(&str, &str)], script: &str) -> Finished {
    let mut cmd = on.command("tr-run");
    cmd.env("TASKRUNNER_LOG_INFO", "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .envs(extra.iter().copied())
        .args(["-n", "build", "bash", "-e", "-c", script]);
    run_within(cmd, Duration::from_secs(60))
}

#[test]
fn outputs_round_trip_through_s3() {
    let server = s3::S3Server::start();
    let bucket = server.bucket("round-trip");
    let env = s3_env(&server.endpoint, &bucket);
    let m = Machines::new();
    let built = run_s3(
        &m.first,
        &env,
        &[
            SAVE,
            ("TASKRUNNER_UPLOAD_LOGS", "1"),
            ("TASKRUNNER_DEBUG", "1"),
        ],
        BUILD,
    );
    assert!(
        built.output.contains("[build] stdout | built\n"),
        "{}",
        built.output
    );
    assert!(!built.output.contains("warn"), "{}", built.output);
    assert!(
        !built.output.contains(s3::SECRET_KEY),
        "the secret key was shown"
    );
    assert!(
        !m.first.log("build").contains(s3::SECRET_KEY),
        "the secret key was logged"
    );

    let restored = run_s3(&m.second, &env, &[], BUILD);
    assert_eq!(
        restored_output(&restored.output),
        "[build] info | Found remote cache ARCHIVE, restoring\n[build] info | Restored from remote cache\n[build] stderr | post-unpack ran"
    );
    assert_eq!(
        fs::read_to_string(m.second.work().join("out/a")).unwrap(),
        "alpha\n"
    );
}

#[test]
fn an_unreachable_store_costs_a_warning_not_the_build() {
    let m = Machines::new();
    let env = s3_env(&closed_endpoint(), "nowhere");
    let done = run_s3(&m.first, &env, &[SAVE], BUILD);
    assert_eq!(done.code, 0, "{}", done.output);
    assert!(
        done.output.contains("[build] stdout | built\n"),
        "{}",
        done.output
    );
    assert!(done.output.contains("[build] warn | "), "{}", done.output);
    assert!(
        done.elapsed < Duration::from_secs(30),
        "took {:?}",
        done.elapsed
    );
    assert!(!done.output.contains(s3::SECRET_KEY));
}

#[test]
fn unchanged_inputs_never_contact_the_store() {
    let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    live.set_nonblocking(true).unwrap();
    let up = format!("http://{}", live.local_addr().unwrap());
    let m = Machines::new();
    let built = run_s3(
        &m.first,
        &s3_env(&closed_endpoint(), "bucket"),
        &[SAVE],
        BUILD,
    );
    assert_eq!(built.code, 0, "{}", built.output);

    let skipped = run_s3(&m.first, &s3_env(&up, "bucket"), &[SAVE], BUILD);
    assert_eq!(
        skipped.output, "[build] info | skipped, inputs unchanged\n",
        "{}",
        skipped.output
    );
    let contacted = live.accept();
    assert!(
        contacted
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "the skipped task connected to the store: {contacted:?}"
    );
}
