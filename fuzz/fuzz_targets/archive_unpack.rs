//! Archives come from a shared store that others can write to. Whatever
//! the tar stream holds, unpacking must not panic and must write nothing
//! outside the cache root. The input is the tar layer; it is compressed
//! here so that the fuzzer spends its time on tar, not on zstd framing.

#![no_main]

use std::fs;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|tar: &[u8]| {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    let outside = base.path().join("outside");
    fs::write(&outside, b"precious").unwrap();
    let archive = zstd::encode_all(tar, 1).unwrap();

    let _ = tr_cache::unpack::unpack(archive.as_slice(), &root, "fuzz");

    assert_eq!(fs::read(&outside).unwrap(), b"precious");
    let mut names: Vec<_> = fs::read_dir(base.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(
        names.iter().all(|n| n == "root" || n == "outside"),
        "written outside the root: {names:?}"
    );
});
