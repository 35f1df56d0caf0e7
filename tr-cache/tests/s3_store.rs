//! Round trips through a real S3 server (s3s-fs, in-process on
//! 127.0.0.1), and stores that are down, silent or failing.

mod common;

use aws_smithy_http_client::tls;
use common::{S3Server, put, s3_options, sample_outputs, scratch, tree};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tr_cache::store::S3Store;
use tr_cache::{Bundle, Cache, CacheError, Outputs, Store, Trust};
use tr_common::TaskName;

fn bundle(name: &str, hash: &str) -> Bundle {
    Bundle::new(TaskName::new(OsStr::new(name)).unwrap(), Some("v1"), hash).unwrap()
}

fn outputs(root: &Path, paths: &[&str]) -> Outputs {
    let paths: Vec<PathBuf> = paths.iter().map(|p| root.join(p)).collect();
    Outputs::new(root, &paths).unwrap()
}

#[test]
fn save_in_one_checkout_restore_in_another() {
    let server = S3Server::start();
    let bucket = server.bucket("round-trip");
    let (first, second) = (scratch(), scratch());
    sample_outputs(first.path());
    // Over one part, so the upload goes in several.
    put(first.path(), "out/large", &common::noise(20 << 20, 5));

    server
        .cache(&bucket)
        .save(&bundle("build", "h1"), &outputs(first.path(), &["out"]))
        .unwrap();
    let other = server.cache(&bucket);
    assert_eq!(
        other.location(&bundle("build", "h1")),
        "s3://round-trip/taskrunner/bundles/build-v1-h1.tar.zst"
    );
    let stats = other
        .restore(&bundle("build", "h1"), second.path())
        .unwrap()
        .unwrap();
    assert_eq!(stats.entries, 8);
    let mut expected = tree(first.path());
    expected.retain(|path, _| path.starts_with("out"));
    assert_eq!(tree(second.path()), expected);

    assert!(
        other
            .restore(&bundle("build", "h2"), second.path())
            .unwrap()
            .is_none()
    );
}

#[test]
fn concurrent_saves_of_the_same_archive_leave_a_valid_object() {
    let server = S3Server::start();
    let bucket = server.bucket("race");
    // Two machines with different builds of the same bundle, each over
    // one part, so that both multipart uploads are open at once.
    let machines: Vec<_> = (0..2u8)
        .map(|n| {
            let dir = scratch();
            put(
                dir.path(),
                "out/large",
                &common::noise(12 << 20, u64::from(n) + 7),
            );
            put(dir.path(), "out/who", &[b'a' + n]);
            dir
        })
        .collect();
    std::thread::scope(|scope| {
        for dir in &machines {
            let cache = server.cache(&bucket);
            scope.spawn(move || {
                cache
                    .save(&bundle("build", "h1"), &outputs(dir.path(), &["out"]))
                    .unwrap();
            });
        }
    });

    let restored = scratch();
    server
        .cache(&bucket)
        .restore(&bundle("build", "h1"), restored.path())
        .unwrap()
        .unwrap();
    let got = tree(restored.path());
    let whole = machines.iter().any(|dir| {
        let mut expected = tree(dir.path());
        expected.retain(|path, _| path.starts_with("out"));
        got == expected
    });
    assert!(whole, "the restored tree is neither machine's");
}

#[test]
fn latest_hash_round_trip() {
    let server = S3Server::start();
    let bucket = server.bucket("latest");
    let cache = server.cache(&bucket);
    let task = TaskName::new(OsStr::new("build")).unwrap();
    assert_eq!(cache.latest(&task, "feature/x").unwrap(), None);
    cache.set_latest(&task, "feature/x", "abc123").unwrap();
    assert_eq!(
        server
            .cache(&bucket)
            .latest(&task, "feature/x")
            .unwrap()
            .as_deref(),
        Some("abc123")
    );
}

#[test]
fn logs_are_uploaded_as_utf8_text() {
    let server = S3Server::start();
    let bucket = server.bucket("logs");
    let logs = scratch();
    let text = "12:00:00 stdout | héllo\n";
    put(logs.path(), "build.log", text.as_bytes());
    let task = TaskName::new(OsStr::new("build")).unwrap();
    server
        .cache(&bucket)
        .upload_log("b1", &task, &logs.path().join("build.log"))
        .unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = server.options(&bucket);
    let head = runtime.block_on(async {
        let credentials = aws_sdk_s3::config::Credentials::new(
            common::ACCESS_KEY,
            common::SECRET_KEY,
            None,
            None,
            "test",
        );
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("eu-central-1"))
            .credentials_provider(credentials)
            .endpoint_url(options.endpoint.unwrap())
            .force_path_style(true)
            .http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::Ring,
                    ))
                    .build_https(),
            )
            .build();
        aws_sdk_s3::Client::from_conf(config)
            .head_object()
            .bucket(&bucket)
            .key("taskrunner/logs/b1/build.log.txt")
            .send()
            .await
            .unwrap()
    });
    assert_eq!(head.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(head.content_length(), Some(text.len() as i64));
}

#[test]
fn signed_archives_round_trip_through_s3() {
    let server = S3Server::start();
    let bucket = server.bucket("signed");
    let (first, second) = (scratch(), scratch());
    sample_outputs(first.path());
    let (secret, public) = tr_cache::trust::generate().unwrap();
    let bytes = |hex: &str| -> [u8; 32] {
        std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
    };
    let store = || Store::S3(Box::new(S3Store::new(server.options(&bucket))));
    let ci = Cache::new(store(), Trust::new(Some(bytes(&secret)), None).unwrap());
    let reader = Cache::new(store(), Trust::new(None, Some(bytes(&public))).unwrap());

    ci.save(&bundle("build", "h"), &outputs(first.path(), &["out"]))
        .unwrap();
    reader
        .restore(&bundle("build", "h"), second.path())
        .unwrap()
        .unwrap();
    server
        .cache(&bucket)
        .save(
            &bundle("build", "unsigned"),
            &outputs(first.path(), &["out"]),
        )
        .unwrap();
    let err = reader
        .restore(&bundle("build", "unsigned"), second.path())
        .unwrap_err();
    assert!(matches!(err, CacheError::Unsigned { .. }), "{err}");
}

/// A cache pointed at `endpoint` with one-second timeouts.
fn cache_at(endpoint: &str) -> Cache {
    Cache::new(
        Store::S3(Box::new(S3Store::new(s3_options(endpoint, "bucket")))),
        Trust::default(),
    )
}

/// Tries a restore and a save; both must fail within `limit`, with
/// errors that name the object and show no secret.
fn assert_fails_quickly(endpoint: &str, limit: Duration, expect: &str) {
    let (root, target) = (scratch(), scratch());
    // Larger than a part and the pipe: the archive writer must not be
    // left waiting when the upload gives up.
    put(root.path(), "out/f", &common::noise(12 << 20, 3));
    let cache = cache_at(endpoint);

    let started = Instant::now();
    let err = cache
        .restore(&bundle("build", "h"), target.path())
        .unwrap_err();
    assert!(
        started.elapsed() < limit,
        "restore took {:?}",
        started.elapsed()
    );
    let text = tr_common::diag::chain(&err);
    eprintln!("{:?}: {text}", started.elapsed());
    assert!(
        text.contains("taskrunner/bundles/build-v1-h.tar.zst"),
        "{text}"
    );
    assert!(text.contains(expect), "{text}");
    assert!(matches!(err, CacheError::Store { .. }), "{text}");

    let started = Instant::now();
    let err = cache
        .save(&bundle("build", "h"), &outputs(root.path(), &["out"]))
        .unwrap_err();
    assert!(
        started.elapsed() < limit,
        "save took {:?}",
        started.elapsed()
    );
    let text = format!("{} {err:?} {cache:?}", tr_common::diag::chain(&err));
    assert!(!text.contains(common::SECRET_KEY), "{text}");
    assert!(!text.contains(common::ACCESS_KEY), "{text}");
}

#[test]
fn a_refused_connection_fails_quickly() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert_fails_quickly(
        &format!("http://127.0.0.1:{port}"),
        Duration::from_secs(5),
        "refused",
    );
}

/// A server that accepts connections, reads, and answers each request
/// with `answer` (or never, when `None`), until the test ends.
fn fake_server(answer: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0; 65536];
                let deadline = Instant::now() + Duration::from_secs(30);
                stream
                    .set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                while Instant::now() < deadline {
                    match stream.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            let request = &buf[..n];
                            let is_head = request.windows(4).any(|w| w == b"\r\n\r\n");
                            if let (Some(answer), true) = (answer, is_head)
                                && stream.write_all(answer.as_bytes()).is_err()
                            {
                                return;
                            }
                        }
                        Err(_) => {}
                    }
                }
            });
        }
    });
    endpoint
}

#[test]
fn a_silent_server_fails_within_the_read_timeout() {
    let endpoint = fake_server(None);
    assert_fails_quickly(&endpoint, Duration::from_secs(8), "timed out");
}

#[test]
fn a_server_answering_500_fails_quickly() {
    let endpoint = fake_server(Some(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n",
    ));
    assert_fails_quickly(&endpoint, Duration::from_secs(8), "HTTP 500");
}

#[test]
fn a_corrupt_archive_in_s3_is_an_error_and_the_cache_stays_usable() {
    let server = S3Server::start();
    let bucket = server.bucket("corrupt");
    let cache = server.cache(&bucket);
    let target = scratch();
    // Large enough that the download is still running when the restore
    // gives up on the first bytes.
    let garbage = common::noise(24 << 20, 11);
    let key = cache.store().key(&bundle("build", "bad").object_name());
    cache
        .store()
        .put(&key, &mut garbage.as_slice(), "application/zstd")
        .unwrap();

    let err = cache
        .restore(&bundle("build", "bad"), target.path())
        .unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err}");
    assert!(err.is_bad_archive());

    let task = TaskName::new(OsStr::new("build")).unwrap();
    cache.set_latest(&task, "main", "after").unwrap();
    assert_eq!(
        cache.latest(&task, "main").unwrap().as_deref(),
        Some("after")
    );
}
