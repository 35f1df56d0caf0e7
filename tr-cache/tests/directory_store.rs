//! Round trips through the directory store, its size bound, concurrent
//! writers and signatures.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{dir_cache, put, sample_outputs, scratch, tree};
use tr_cache::store::DirStore;
use tr_cache::{Bundle, Cache, CacheError, Outputs, Store, Trust};
use tr_common::TaskName;

fn bundle(name: &str, hash: &str) -> Bundle {
    Bundle::new(TaskName::new(OsStr::new(name)).unwrap(), None, hash).unwrap()
}

fn outputs(root: &Path, paths: &[&str]) -> Outputs {
    let paths: Vec<PathBuf> = paths.iter().map(|p| root.join(p)).collect();
    Outputs::new(root, &paths).unwrap()
}

#[test]
fn save_in_one_checkout_restore_in_another() {
    let (first, second, store) = (scratch(), scratch(), scratch());
    sample_outputs(first.path());
    let cache = dir_cache(store.path(), u64::MAX);
    let stats = cache
        .save(&bundle("build", "h1"), &outputs(first.path(), &["out"]))
        .unwrap();
    assert_eq!(stats.packed.entries, 7);
    assert!(store.path().join("bundles/build-h1.tar.zst").is_file());

    // A second machine: its own cache value over the shared directory.
    let other = dir_cache(store.path(), u64::MAX);
    let restored = other
        .restore(&bundle("build", "h1"), second.path())
        .unwrap();
    assert_eq!(restored.unwrap().entries, 7);
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
fn outputs_outside_the_root_or_missing_are_named() {
    let (root, elsewhere) = (scratch(), scratch());
    put(elsewhere.path(), "file", b"x");
    let outside = elsewhere.path().join("file");
    let err = Outputs::new(root.path(), std::slice::from_ref(&outside)).unwrap_err();
    assert!(matches!(err, CacheError::OutsideRoot { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("`{}`", outside.display())),
        "{err}"
    );

    let missing = root.path().join("nope");
    let err = Outputs::new(root.path(), std::slice::from_ref(&missing)).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");

    let sneaky = root.path().join("sub/../../escape");
    assert!(Outputs::new(root.path(), &[sneaky]).is_err());

    // Paths relative to a task's directory rather than ours.
    put(root.path(), "task/out/f", b"x");
    let base = root.path().join("task");
    let outputs = Outputs::relative_to(Path::new(".."), &base, &[PathBuf::from("out")]).unwrap();
    assert_eq!(outputs.relative(), [PathBuf::from("task/out")]);
}

#[test]
fn the_whole_root_can_be_an_output() {
    let (first, second, store) = (scratch(), scratch(), scratch());
    sample_outputs(first.path());
    let cache = dir_cache(store.path(), u64::MAX);
    cache
        .save(&bundle("all", "h"), &outputs(first.path(), &["."]))
        .unwrap();
    cache
        .restore(&bundle("all", "h"), second.path())
        .unwrap()
        .unwrap();
    assert_eq!(tree(second.path()), tree(first.path()));
}

#[test]
fn many_files_round_trip() {
    let (first, second, store) = (scratch(), scratch(), scratch());
    for i in 0..3000 {
        put(
            first.path(),
            &format!("out/d{}/f{i}", i % 37),
            format!("{i}").as_bytes(),
        );
    }
    put(first.path(), "out/big", &common::noise(3 << 20, 9));
    let cache = dir_cache(store.path(), u64::MAX);
    cache
        .save(&bundle("many", "h"), &outputs(first.path(), &["out"]))
        .unwrap();
    cache
        .restore(&bundle("many", "h"), second.path())
        .unwrap()
        .unwrap();
    assert_eq!(tree(second.path()), tree(first.path()));
    // Tar keeps whole seconds.
    let mtime = |root: &Path| {
        let modified = fs::metadata(root.join("out/d3/f3"))
            .unwrap()
            .modified()
            .unwrap();
        modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    assert_eq!(mtime(first.path()), mtime(second.path()));
}

#[test]
fn restoring_over_an_existing_tree_replaces_files() {
    let (first, second, store) = (scratch(), scratch(), scratch());
    sample_outputs(first.path());
    put(second.path(), "out/a.txt", b"stale and longer than before");
    put(second.path(), "out/untouched", b"kept");
    let cache = dir_cache(store.path(), u64::MAX);
    cache
        .save(&bundle("build", "h"), &outputs(first.path(), &["out"]))
        .unwrap();
    cache
        .restore(&bundle("build", "h"), second.path())
        .unwrap()
        .unwrap();
    cache
        .restore(&bundle("build", "h"), second.path())
        .unwrap()
        .unwrap();
    assert_eq!(
        fs::read(second.path().join("out/a.txt")).unwrap(),
        b"alpha\n"
    );
    assert_eq!(
        fs::read(second.path().join("out/untouched")).unwrap(),
        b"kept"
    );
}

fn age(path: &Path, seconds_ago: u64) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(seconds_ago))
        .unwrap();
}

#[test]
fn eviction_removes_least_recently_used_archives_first() {
    let (root, store) = (scratch(), scratch());
    put(root.path(), "out/data", &common::noise(100_000, 1));
    let save = |cache: &Cache, hash: &str| {
        cache
            .save(&bundle("t", hash), &outputs(root.path(), &["out"]))
            .unwrap()
            .stored
    };
    let unbounded = dir_cache(store.path(), u64::MAX);
    let size = save(&unbounded, "a");
    save(&unbounded, "b");
    save(&unbounded, "c");
    let file = |hash: &str| store.path().join(format!("bundles/t-{hash}.tar.zst"));
    age(&file("a"), 300);
    age(&file("b"), 200);
    age(&file("c"), 100);

    // Restoring `a` makes it the most recently used.
    let scratch_root = scratch();
    unbounded
        .restore(&bundle("t", "a"), scratch_root.path())
        .unwrap()
        .unwrap();

    // Room for three archives: saving a fourth evicts `b`, then `c`.
    let bounded = dir_cache(store.path(), size * 3 + size / 2);
    save(&bounded, "d");
    assert!(!file("b").exists());
    assert!(file("a").exists() && file("c").exists() && file("d").exists());
    save(&bounded, "e");
    assert!(!file("c").exists());
    assert!(file("a").exists() && file("d").exists() && file("e").exists());

    // The archive just saved stays even when it alone is too big.
    let tiny = dir_cache(store.path(), 1);
    save(&tiny, "f");
    assert!(file("f").exists());
    assert_eq!(
        fs::read_dir(store.path().join("bundles")).unwrap().count(),
        1
    );
}

#[test]
fn concurrent_saves_of_the_same_archive_leave_a_valid_object() {
    let (store, restored) = (scratch(), scratch());
    let roots: Vec<_> = (0..4).map(|_| scratch()).collect();
    for (i, root) in roots.iter().enumerate() {
        for f in 0..200 {
            put(
                root.path(),
                &format!("out/f{f}"),
                &common::noise(2000, (i * 1000 + f) as u64),
            );
        }
    }
    std::thread::scope(|scope| {
        for root in &roots {
            scope.spawn(|| {
                for _ in 0..5 {
                    dir_cache(store.path(), u64::MAX)
                        .save(&bundle("same", "h"), &outputs(root.path(), &["out"]))
                        .unwrap();
                }
            });
        }
    });
    let names: Vec<_> = fs::read_dir(store.path().join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["same-h.tar.zst"], "no temporary file is left");
    dir_cache(store.path(), u64::MAX)
        .restore(&bundle("same", "h"), restored.path())
        .unwrap()
        .unwrap();
    let got = tree(restored.path());
    assert!(roots.iter().any(|root| tree(root.path()) == got));
}

#[test]
fn latest_hash_round_trip() {
    let store = scratch();
    let cache = dir_cache(store.path(), u64::MAX);
    let task = TaskName::new(OsStr::new("build")).unwrap();
    assert_eq!(cache.latest(&task, "feature/x").unwrap(), None);
    cache.set_latest(&task, "feature/x", "abc123").unwrap();
    cache.set_latest(&task, "main", "def456").unwrap();
    assert_eq!(
        cache.latest(&task, "feature/x").unwrap().as_deref(),
        Some("abc123")
    );
    assert_eq!(
        cache.latest(&task, "main").unwrap().as_deref(),
        Some("def456")
    );
    assert!(store.path().join("latest/build-feature/x.txt").is_file());
    assert!(cache.latest(&task, "../../etc").is_err());
}

#[test]
fn logs_are_uploaded_under_the_build_id() {
    let (store, logs) = (scratch(), scratch());
    put(logs.path(), "build.log", b"12:00:00 stdout | hello\n");
    let cache = dir_cache(store.path(), u64::MAX);
    let task = TaskName::new(OsStr::new("build")).unwrap();
    let suffix = cache
        .upload_log("20260101-120000-1", &task, &logs.path().join("build.log"))
        .unwrap();
    assert_eq!(suffix, "20260101-120000-1/build.log.txt");
    let stored = store.path().join("logs/20260101-120000-1/build.log.txt");
    assert_eq!(fs::read(stored).unwrap(), b"12:00:00 stdout | hello\n");
}

fn keys() -> ([u8; 32], [u8; 32]) {
    let (secret, public) = tr_cache::trust::generate().unwrap();
    let bytes = |hex: &str| {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    };
    (bytes(&secret), bytes(&public))
}

fn signed_cache(store: &Path, signer: Option<[u8; 32]>, verifier: Option<[u8; 32]>) -> Cache {
    Cache::new(
        Store::Directory(DirStore::new(store.to_owned(), u64::MAX)),
        Trust::new(signer, verifier).unwrap(),
    )
}

#[test]
fn signed_archives_restore_and_planted_ones_are_refused() {
    let (root, store, target) = (scratch(), scratch(), scratch());
    sample_outputs(root.path());
    let (secret, public) = keys();
    let ci = signed_cache(store.path(), Some(secret), None);
    let reader = signed_cache(store.path(), None, Some(public));
    let intruder = dir_cache(store.path(), u64::MAX);
    let task = TaskName::new(OsStr::new("build")).unwrap();

    ci.save(&bundle("build", "good"), &outputs(root.path(), &["out"]))
        .unwrap();
    ci.set_latest(&task, "main", "good").unwrap();
    assert!(
        reader
            .restore(&bundle("build", "good"), target.path())
            .unwrap()
            .is_some()
    );
    assert_eq!(
        reader.latest(&task, "main").unwrap().as_deref(),
        Some("good")
    );

    // An unsigned archive, and a signed one copied under another name.
    intruder
        .save(&bundle("build", "planted"), &outputs(root.path(), &["out"]))
        .unwrap();
    let err = reader
        .restore(&bundle("build", "planted"), target.path())
        .unwrap_err();
    assert!(matches!(err, CacheError::Unsigned { .. }), "{err}");
    let bundles = store.path().join("bundles");
    fs::copy(
        bundles.join("build-good.tar.zst"),
        bundles.join("build-moved.tar.zst"),
    )
    .unwrap();
    fs::copy(
        bundles.join("build-good.tar.zst.sig"),
        bundles.join("build-moved.tar.zst.sig"),
    )
    .unwrap();
    let empty = scratch();
    let err = reader
        .restore(&bundle("build", "moved"), empty.path())
        .unwrap_err();
    assert!(matches!(err, CacheError::BadSignature { .. }), "{err}");
    assert_eq!(
        fs::read_dir(empty.path()).unwrap().count(),
        0,
        "nothing written"
    );

    intruder.set_latest(&task, "main", "planted").unwrap();
    assert!(reader.latest(&task, "main").is_err());
}
