//! Build timelines: what each task did and when, merged into
//! `builds/<id>/trace.json` by the top level and shown by `tr-log
//! timeline`.

#[path = "../tr-check/tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::FakeGitHub;
use tests::{Finished, Sandbox, finish, run, run_within, start, wait_for};

/// Parallel, nested, skipped, cached and failing tasks.
const SCRIPT: &str = r#"
tr-run -n par1 sleep 0.3 &
tr-run -n par2 sleep 0.3 &
wait
tr-run -n outer bash -c 'sleep 0.05; tr-run -n inner sleep 0.1; sleep 0.05'
tr-run -n unchanged bash -c 'snapshot src/a; echo built'
tr-run -n cached bash -c 'snapshot src/b --outputs out/b; mkdir -p out; cp src/b out/b'
tr-run -n broken bash -c 'exit 3' || true
"#;

const TASKS: [&str; 8] = [
    "broken",
    "cached",
    "inner",
    "outer",
    "par1",
    "par2",
    "toplevel",
    "unchanged",
];

fn build(sandbox: &Sandbox) -> Finished {
    let mut cmd = sandbox.script(SCRIPT);
    cmd.env("TASKRUNNER_SAVE_REMOTE_CACHE", "1")
        .env("TASKRUNNER_CACHE_DIRECTORY", sandbox.root().join("cache"))
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    run_within(cmd, Duration::from_secs(60))
}

/// A sandbox after two builds: the second skips `unchanged` and restores
/// `cached` from the directory store.
fn two_builds() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[
        ("src/a", "alpha\n"),
        ("src/b", "beta\n"),
        (".gitignore", "out/\n"),
    ]);
    assert_eq!(build(&sandbox).code, 0);
    fs::remove_file(sandbox.state().join("hash/cached.hash")).unwrap();
    fs::remove_dir_all(sandbox.work().join("out")).unwrap();
    let second = build(&sandbox);
    assert_eq!(second.code, 0, "{}", second.output);
    assert_eq!(
        fs::read_to_string(sandbox.work().join("out/b")).unwrap(),
        "beta\n"
    );
    sandbox
}

fn latest_build(sandbox: &Sandbox) -> PathBuf {
    sandbox.builds().pop().unwrap()
}

struct Span {
    tid: u64,
    start: u64,
    end: u64,
    args: Value,
}

/// Phase events by task name: (phase, start, end).
type Phases = HashMap<String, Vec<(String, u64, u64)>>;

/// The task events of a Chrome trace by name, each asserted unique, and
/// the phase events by task name.
fn spans(trace: &Value) -> (HashMap<String, Span>, Phases) {
    let mut tasks = HashMap::new();
    let mut phases = Phases::new();
    for event in trace["traceEvents"].as_array().unwrap() {
        if event["ph"] != "X" {
            continue;
        }
        let name = event["name"].as_str().unwrap().to_owned();
        let start = event["ts"].as_u64().unwrap();
        let end = start + event["dur"].as_u64().unwrap();
        match event["cat"].as_str().unwrap() {
            "task" => {
                let span = Span {
                    tid: event["tid"].as_u64().unwrap(),
                    start,
                    end,
                    args: event["args"].clone(),
                };
                assert!(tasks.insert(name.clone(), span).is_none(), "{name} twice");
            }
            "phase" => {
                let task = event["args"]["task"].as_str().unwrap().to_owned();
                phases.entry(task).or_default().push((name, start, end));
            }
            other => panic!("unexpected category {other}"),
        }
    }
    (tasks, phases)
}

#[test]
fn a_build_leaves_a_chrome_trace_of_every_task() {
    let sandbox = two_builds();
    let dir = latest_build(&sandbox);
    let trace: Value = serde_json::from_slice(&fs::read(dir.join("trace.json")).unwrap()).unwrap();
    let (tasks, phases) = spans(&trace);

    let mut names: Vec<_> = tasks.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, TASKS);
    let tids: std::collections::HashSet<_> = tasks.values().map(|t| t.tid).collect();
    assert_eq!(tids.len(), TASKS.len(), "one row per task");

    let outcome = |name: &str| tasks[name].args["outcome"].as_str().unwrap().to_owned();
    for name in ["toplevel", "par1", "par2", "outer", "inner"] {
        assert_eq!(outcome(name), "ran", "{name}");
    }
    assert_eq!(outcome("unchanged"), "skipped");
    assert_eq!(outcome("cached"), "restored");
    assert_eq!(outcome("broken"), "failed");
    assert_eq!(tasks["broken"].args["exit_code"], 3);
    assert_eq!(tasks["par1"].args["exit_code"], 0);

    let top = &tasks["toplevel"];
    assert!(top.args["parent"].is_null());
    for (name, task) in &tasks {
        assert!(task.start <= task.end, "{name}");
        if name == "toplevel" {
            continue;
        }
        let parent = task.args["parent"].as_str().unwrap();
        let expected = if name == "inner" { "outer" } else { "toplevel" };
        assert_eq!(parent, expected, "{name}");
        assert_eq!(task.args["parent_pid"], tasks[parent].args["pid"], "{name}");
        assert!(
            tasks[parent].start <= task.start && task.end <= tasks[parent].end,
            "{name} lies outside {parent}"
        );
        for (phase, start, end) in &phases[name] {
            assert!(
                task.start <= *start && start <= end && *end <= task.end,
                "{name}: {phase} lies outside the task"
            );
        }
    }
    let (par1, par2) = (&tasks["par1"], &tasks["par2"]);
    assert!(
        par1.start < par2.end && par2.start < par1.end,
        "parallel tasks overlap"
    );
    assert!(par1.end - par1.start >= 300_000, "par1 slept 0.3 s");

    let has = |name: &str, phase: &str| phases[name].iter().any(|(p, _, _)| p == phase);
    for name in TASKS {
        assert!(has(name, "lock-wait"), "{name} has no lock-wait");
        assert!(has(name, "run"), "{name} has no run");
    }
    assert!(has("unchanged", "hash"));
    assert!(has("cached", "hash") && has("cached", "restore"));
    assert!(!has("cached", "upload"), "a restored task is not uploaded");
    assert!(!has("broken", "save-hash"));
}

#[test]
fn the_first_build_uploads_and_saves_hashes() {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[
        ("src/a", "alpha\n"),
        ("src/b", "beta\n"),
        (".gitignore", "out/\n"),
    ]);
    assert_eq!(build(&sandbox).code, 0);
    let dir = latest_build(&sandbox);
    let trace: Value = serde_json::from_slice(&fs::read(dir.join("trace.json")).unwrap()).unwrap();
    let (tasks, phases) = spans(&trace);
    assert_eq!(tasks["cached"].args["outcome"], "ran");
    assert_eq!(tasks["unchanged"].args["outcome"], "ran");
    let names: Vec<_> = phases["cached"]
        .iter()
        .map(|(p, _, _)| p.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "lock-wait",
            "run",
            "hash",
            "restore",
            "rehash",
            "save-hash",
            "upload"
        ]
    );
}

#[test]
fn log_uploads_and_commit_statuses_are_phases() {
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/a", "alpha\n")]);
    let github = FakeGitHub::start();
    let mut cmd = sandbox.command("tr-run");
    cmd.args([
        "-n",
        "build",
        "bash",
        "-c",
        "snapshot src --commit-status; echo built",
    ])
    .env("TASKRUNNER_UPLOAD_LOGS", "1")
    .env("TASKRUNNER_CACHE_DIRECTORY", sandbox.root().join("cache"))
    .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    github.report_to(&mut cmd);
    let done = run(&mut cmd);
    assert_eq!(done.code, 0, "{}", done.output);
    assert_eq!(github.posted().len(), 2, "pending, then success");

    let dir = latest_build(&sandbox);
    let trace: Value = serde_json::from_slice(&fs::read(dir.join("trace.json")).unwrap()).unwrap();
    let (tasks, phases) = spans(&trace);
    let task = &tasks["build"];
    let count = |phase: &str| {
        phases["build"]
            .iter()
            .filter(|(p, _, _)| p == phase)
            .count()
    };
    assert_eq!(count("upload-log"), 1);
    assert_eq!(count("status"), 2, "one per status posted");
    for (phase, start, end) in &phases["build"] {
        assert!(
            task.start <= *start && start <= end && *end <= task.end,
            "{phase} lies outside the task"
        );
    }
}

fn timeline(sandbox: &Sandbox, args: &[&str]) -> Finished {
    let done = run(sandbox.command("tr-log").arg("timeline").args(args));
    assert_eq!(done.code, 0, "{}", done.output);
    done
}

#[test]
fn the_summary_lists_every_task_longest_first() {
    let sandbox = two_builds();
    let done = timeline(&sandbox, &[]);
    let lines: Vec<_> = done.output.lines().collect();
    let id = latest_build(&sandbox)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        lines[0].starts_with(&format!("build {id}: 8 tasks in ")),
        "{}",
        done.output
    );
    assert!(lines[1].starts_with("TASK"));
    let rows = &lines[2..];
    assert_eq!(rows.len(), TASKS.len());
    assert!(rows[0].starts_with("toplevel ") && rows[0].ends_with("100.0%"));
    let seconds: Vec<f64> = rows
        .iter()
        .map(|row| {
            let words: Vec<_> = row.split_whitespace().collect();
            words[words.len() - 3].parse().unwrap()
        })
        .collect();
    assert!(seconds.windows(2).all(|w| w[0] >= w[1]), "{}", done.output);
    let row = |name: &str| {
        rows.iter()
            .find(|r| r.starts_with(&format!("{name} ")))
            .unwrap()
    };
    assert!(row("broken").contains("failed (3)"));
    assert!(row("cached").contains("restored"));
    assert!(row("unchanged").contains("skipped"));

    let by_id = timeline(&sandbox, &[&id]);
    assert_eq!(by_id.output, done.output);
    let json = timeline(&sandbox, &["latest", "--json"]);
    let trace: Value = serde_json::from_str(&json.output).unwrap();
    assert_eq!(trace["otherData"]["build"], id.as_str());

    let missing = run(sandbox.command("tr-log").args(["timeline", "nope"]));
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .output
            .starts_with("tr-log: error: no build folder `"),
        "{}",
        missing.output
    );
}

#[test]
fn a_crashed_build_is_merged_from_its_records() {
    let sandbox = two_builds();
    let dir = latest_build(&sandbox);
    let whole = timeline(&sandbox, &[]).output;
    fs::remove_file(dir.join("trace.json")).unwrap();
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(dir.join("trace.jsonl"))
        .unwrap();
    file.write_all(b"{\"event\":\"end\",\"pid\":1,\"ts\":1,\"outc")
        .unwrap();
    assert_eq!(
        timeline(&sandbox, &[]).output,
        whole,
        "a torn line is left out"
    );
}

#[test]
fn the_html_page_shows_every_task_and_needs_no_network() {
    let sandbox = two_builds();
    let page_path = sandbox.root().join("timeline.html");
    timeline(&sandbox, &["--html", page_path.to_str().unwrap()]);
    let page = fs::read_to_string(&page_path).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.trim_end().ends_with("</html>"));
    for name in TASKS {
        assert!(page.contains(&format!("data-task=\"{name}\"")), "{name}");
        assert!(page.contains(&format!("<title>{name}: ")), "{name}");
    }
    assert!(page.contains("<title>broken: failed (3) in "));
    assert!(page.contains("<title>cached: restore "));
    assert!(page.contains("<title>toplevel: lock-wait "));
    for remote in ["<script", "src=", "href=", "@import", "url(http"] {
        assert!(!page.contains(remote), "the page has {remote}");
    }
    assert_eq!(page.matches("<svg").count(), page.matches("</svg>").count());
    assert_eq!(page.matches("<g ").count(), page.matches("</g>").count());
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Distinct colours in an RGB or RGBA PNG.
fn colours(png: &Path) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let step = info.color_type.samples();
    assert!(step >= 3, "{:?}", info.color_type);
    let colours: std::collections::HashSet<_> = pixels[..info.buffer_size()]
        .chunks(step)
        .map(|p| (p[0], p[1], p[2]))
        .collect();
    colours.len()
}

#[test]
fn chromium_draws_the_page() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipped: {CHROMIUM} is missing (apt-get install chromium)");
        return;
    }
    let sandbox = two_builds();
    let page = sandbox.root().join("timeline.html");
    timeline(&sandbox, &["--html", page.to_str().unwrap()]);
    let shot = sandbox.root().join("shot.png");
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,800",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--screenshot={}", shot.display()))
    .arg(format!("file://{}", page.display()));
    let done = run_within(cmd, Duration::from_secs(120));
    assert_eq!(done.code, 0, "{}", done.output);
    // Text, the grid, and a colour per outcome and phase: far more than
    // the one or two of a blank or error page.
    let count = colours(&shot);
    assert!(count > 20, "the screenshot has {count} colours");
}

#[test]
fn a_task_started_from_a_fuzzy_cache_says_so() {
    const FUZZY: &str =
        "tr-run -n fuzzy bash -c 'snapshot src --fuzzy-cache -o out; mkdir -p out; cp src/a out/a'";
    let sandbox = Sandbox::new();
    sandbox.git_repo(&[("src/a", "alpha\n"), (".gitignore", "out/\n")]);
    let fuzzy_build = || {
        let mut cmd = sandbox.script(FUZZY);
        cmd.env("TASKRUNNER_SAVE_REMOTE_CACHE", "1")
            .env("TASKRUNNER_CACHE_DIRECTORY", sandbox.root().join("cache"))
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        let done = run(cmd);
        assert_eq!(done.code, 0, "{}", done.output);
        let trace = fs::read(latest_build(&sandbox).join("trace.json")).unwrap();
        serde_json::from_slice::<Value>(&trace).unwrap()
    };
    let (first, _) = spans(&fuzzy_build());
    assert_eq!(first["fuzzy"].args["outcome"], "ran");

    fs::write(sandbox.work().join("src/a"), "changed\n").unwrap();
    let (tasks, phases) = spans(&fuzzy_build());
    assert_eq!(tasks["fuzzy"].args["outcome"], "fuzzy-restored");
    assert!(phases["fuzzy"].iter().any(|(p, _, _)| p == "fuzzy-restore"));
}

#[test]
fn a_cancelled_build_records_the_signal() {
    let sandbox = Sandbox::new();
    let running = start(
        sandbox
            .script("tr-run -n inner bash -c 'touch ../ready; sleep 30 & wait'")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT"),
    );
    let waiting = std::time::Instant::now();
    wait_for(&sandbox.root().join("ready"));
    running.signal(libc::SIGTERM);
    let done = finish(running, waiting, Duration::from_secs(30));
    assert_eq!(done.code, 143, "{}", done.output);

    let trace: Value =
        serde_json::from_slice(&fs::read(latest_build(&sandbox).join("trace.json")).unwrap())
            .unwrap();
    let (tasks, _) = spans(&trace);
    assert_eq!(tasks["toplevel"].args["outcome"], "cancelled");
    assert_eq!(tasks["toplevel"].args["signal"], 15);
    assert_eq!(tasks["toplevel"].args["exit_code"], 143);
    assert_eq!(tasks["inner"].args["outcome"], "cancelled");
}

#[test]
fn tracing_off_leaves_no_timeline() {
    let sandbox = Sandbox::new();
    let done = run(sandbox
        .script("tr-run -n inner true")
        .env("TASKRUNNER_TRACE", "0"));
    assert_eq!(done.code, 0);
    let dir = latest_build(&sandbox);
    assert!(!dir.join("trace.jsonl").exists());
    assert!(!dir.join("trace.json").exists());
}

/// A one-request-at-a-time HTTP receiver on 127.0.0.1: each request's
/// path and body go to the returned channel, answered with 200.
fn receiver() -> (String, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut data = Vec::new();
            let mut chunk = [0; 4096];
            let (head_end, length) = loop {
                let n = stream.read(&mut chunk).unwrap();
                assert!(n > 0, "request cut short");
                data.extend_from_slice(&chunk[..n]);
                if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&data[..i]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    break (i + 4, length);
                }
            };
            while data.len() < head_end + length {
                let n = stream.read(&mut chunk).unwrap();
                assert!(n > 0, "body cut short");
                data.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
            let path = head
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                .unwrap();
            if tx.send((path, data[head_end..].to_vec())).is_err() {
                return;
            }
        }
    });
    (endpoint, rx)
}

#[test]
fn the_timeline_goes_to_an_otlp_collector_when_one_is_set() {
    let (endpoint, requests) = receiver();
    let sandbox = Sandbox::new();
    let done = run(sandbox
        .script("tr-run -n inner true")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint));
    assert_eq!(done.code, 0, "{}", done.output);
    assert_eq!(done.output, "");
    let (path, body) = requests.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(path, "/v1/traces");
    let body: Value = serde_json::from_slice(&body).unwrap();
    let spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap();
    let task = |name: &str| spans.iter().find(|s| s["name"] == name).unwrap();
    assert_eq!(task("inner")["parentSpanId"], task("toplevel")["spanId"]);
    assert_eq!(task("inner")["traceId"], task("toplevel")["traceId"]);
    assert!(requests.try_recv().is_err(), "one request per build");
}

#[test]
fn an_unreachable_collector_is_a_warning() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let sandbox = Sandbox::new();
    let done = run(sandbox
        .script("true")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint));
    assert_eq!(done.code, 0);
    assert!(
        done.output.starts_with(
            "[toplevel] warn | cannot export the timeline: cannot send the trace to `"
        ),
        "{}",
        done.output
    );
}
