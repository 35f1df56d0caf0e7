//! Hostile and damaged archives: refused or reported, and nothing is ever
//! written outside the cache root.

mod common;

use std::fs;
use std::path::Path;

use common::{Raw, raw_archive, scratch};
use tr_cache::CacheError;
use tr_cache::unpack::unpack;

/// Unpacks `archive` into `base/root` and returns the result; `base`
/// holds only `root` and `outside`.
fn restore(base: &Path, archive: &[u8]) -> Result<(), CacheError> {
    fs::create_dir_all(base.join("root")).unwrap();
    fs::create_dir_all(base.join("outside")).unwrap();
    unpack(archive, &base.join("root"), "test.tar.zst").map(drop)
}

fn assert_refused(result: Result<(), CacheError>, entry: &str) {
    match result {
        Err(CacheError::UnsafeEntry { entry: got, .. }) => assert_eq!(got, entry),
        other => panic!("expected a refused entry `{entry}`, got {other:?}"),
    }
}

fn assert_untouched(base: &Path) {
    let mut names: Vec<_> = fs::read_dir(base)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["outside", "root"]);
    assert_eq!(fs::read_dir(base.join("outside")).unwrap().count(), 0);
}

#[test]
fn parent_dir_entries_are_refused() {
    let base = scratch();
    let archive = raw_archive(&[
        Raw::File("ok.txt", b"fine"),
        Raw::File("../outside/evil", b"pwned"),
    ]);
    assert_refused(restore(base.path(), &archive), "../outside/evil");
    assert_untouched(base.path());

    let nested = raw_archive(&[Raw::File("a/../../outside/evil", b"pwned")]);
    assert_refused(restore(base.path(), &nested), "a/../../outside/evil");
    assert_untouched(base.path());
}

#[test]
fn absolute_entries_are_refused() {
    let base = scratch();
    let target = base.path().join("outside/evil");
    let name = target.to_str().unwrap();
    let archive = raw_archive(&[Raw::File(name, b"pwned")]);
    assert_refused(restore(base.path(), &archive), name);
    assert_untouched(base.path());
}

#[test]
fn links_leading_out_are_refused() {
    let base = scratch();
    let outside = base.path().join("outside");
    for target in [
        "../outside",
        "..",
        "a/../../outside",
        outside.to_str().unwrap(),
    ] {
        let archive = raw_archive(&[Raw::Symlink("link", target)]);
        assert!(
            matches!(
                restore(base.path(), &archive),
                Err(CacheError::UnsafeEntry { .. })
            ),
            "{target}"
        );
        assert!(!base.path().join("root/link").exists());
    }
    assert_untouched(base.path());
}

#[test]
fn a_file_written_through_an_archive_link_is_refused() {
    let base = scratch();
    // Even a link that stays inside must not be written through: a later
    // entry could otherwise reach wherever the link's target leads.
    let archive = raw_archive(&[
        Raw::Dir("dir"),
        Raw::Symlink("dir/escape", "../sub"),
        Raw::File("dir/escape/file", b"pwned"),
    ]);
    assert_refused(restore(base.path(), &archive), "dir/escape/file");
    assert!(!base.path().join("root/sub/file").exists());

    let absolute = base.path().join("outside");
    let archive = raw_archive(&[
        Raw::Symlink("escape", absolute.to_str().unwrap()),
        Raw::File("escape/file", b"pwned"),
    ]);
    assert!(restore(base.path(), &archive).is_err());
    assert_untouched(base.path());
}

#[test]
fn links_already_in_the_tree_are_never_followed() {
    let base = scratch();
    fs::create_dir_all(base.path().join("root")).unwrap();
    fs::create_dir_all(base.path().join("outside")).unwrap();
    fs::write(base.path().join("outside/victim"), b"precious").unwrap();
    std::os::unix::fs::symlink("../outside", base.path().join("root/dirlink")).unwrap();
    std::os::unix::fs::symlink("../outside/victim", base.path().join("root/filelink")).unwrap();

    let through_dir = raw_archive(&[Raw::File("dirlink/new", b"pwned")]);
    assert_refused(restore(base.path(), &through_dir), "dirlink/new");
    assert!(!base.path().join("outside/new").exists());

    // A file entry replaces a link in its place instead of writing
    // through it.
    let over_link = raw_archive(&[Raw::File("filelink", b"restored")]);
    restore(base.path(), &over_link).unwrap();
    assert_eq!(
        fs::read(base.path().join("outside/victim")).unwrap(),
        b"precious"
    );
    assert_eq!(
        fs::read(base.path().join("root/filelink")).unwrap(),
        b"restored"
    );
    assert!(
        !fs::symlink_metadata(base.path().join("root/filelink"))
            .unwrap()
            .is_symlink()
    );
}

#[test]
fn hard_links_are_refused() {
    let base = scratch();
    let archive = raw_archive(&[Raw::HardLink("passwd", "/etc/passwd")]);
    assert_refused(restore(base.path(), &archive), "passwd");
    assert!(!base.path().join("root/passwd").exists());
}

#[test]
fn links_inside_the_root_are_restored() {
    let base = scratch();
    let archive = raw_archive(&[
        Raw::File("lib/libx.so.1", b"elf"),
        Raw::Symlink("lib/libx.so", "libx.so.1"),
        Raw::Symlink("bin/libx", "../lib/libx.so"),
        Raw::Symlink("here", "./lib"),
    ]);
    restore(base.path(), &archive).unwrap();
    assert_eq!(fs::read(base.path().join("root/bin/libx")).unwrap(), b"elf");
}

#[test]
fn truncated_and_corrupt_archives_are_errors() {
    let base = scratch();
    let files: Vec<(String, Vec<u8>)> = (0..50)
        .map(|i| (format!("f{i}"), common::noise(3000, i)))
        .collect();
    let entries: Vec<Raw<'_>> = files.iter().map(|(n, d)| Raw::File(n, d)).collect();
    let archive = raw_archive(&entries);

    for cut in [archive.len() - 1, archive.len() - 5, archive.len() / 2, 10] {
        let result = restore(base.path(), &archive[..cut]);
        assert!(
            matches!(result, Err(CacheError::Corrupt { .. })),
            "cut at {cut}: {result:?}"
        );
    }

    for at in [archive.len() / 3, archive.len() / 2, archive.len() - 6] {
        let mut damaged = archive.clone();
        damaged[at] ^= 0x55;
        let result = restore(base.path(), &damaged);
        assert!(result.is_err(), "flip at {at}");
        let err = result.unwrap_err();
        assert!(err.is_bad_archive(), "flip at {at}: {err}");
    }

    let garbage = restore(base.path(), b"this is not zstd at all");
    assert!(matches!(garbage, Err(CacheError::Corrupt { .. })));
}
