//! Helpers shared by the integration tests: scratch directories, trees to
//! compare, hand-made archives and an S3 server on 127.0.0.1.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tr_cache::store::{DirStore, S3Options, S3Store};
use tr_cache::{Cache, Store, Trust};

mod s3_server;

pub use s3_server::{ACCESS_KEY, S3Server, SECRET_KEY};

/// A private scratch directory, removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("tr-cache-test-")
        .tempdir()
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// A cache over a directory store at `dir`.
pub fn dir_cache(dir: &Path, max_size: u64) -> Cache {
    Cache::new(
        Store::Directory(DirStore::new(dir.to_owned(), max_size)),
        Trust::default(),
    )
}

/// Every entry below `root`: file content, link target or `dir`, with
/// the executable bit.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(root).unwrap().to_owned();
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            out.insert(
                rel,
                format!("link {}", fs::read_link(&path).unwrap().display()),
            );
        } else if meta.is_dir() {
            out.insert(rel, "dir".to_owned());
            walk(root, &path, out);
        } else {
            let exec = meta.mode() & 0o100 != 0;
            let data = fs::read(&path).unwrap();
            out.insert(
                rel,
                format!("file exec={exec} {}", String::from_utf8_lossy(&data)),
            );
        }
    }
}

/// Writes `data` to `root/rel`, creating directories.
pub fn put(root: &Path, rel: &str, data: &[u8]) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

/// A small output tree: nested files, an executable, a link and an empty
/// directory.
pub fn sample_outputs(root: &Path) {
    put(root, "out/a.txt", b"alpha\n");
    put(root, "out/sub/b.bin", &[0, 159, 146, 150, 255]);
    put(root, "out/run.sh", b"#!/bin/sh\necho hi\n");
    fs::set_permissions(root.join("out/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("../a.txt", root.join("out/sub/link")).unwrap();
    fs::create_dir_all(root.join("out/empty")).unwrap();
    put(root, "other/not-saved", b"x");
}

/// Pseudo-random bytes that zstd cannot shrink.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One entry of a hand-made archive, with any name, even a hostile one.
pub enum Raw<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
}

/// A `.tar.zst` archive with exactly these entries, names unchecked.
pub fn raw_archive(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut tar = Vec::new();
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let (name, data, kind, link): (&str, &[u8], tar::EntryType, &str) = match entry {
            Raw::File(name, data) => (name, data, tar::EntryType::Regular, ""),
            Raw::Dir(name) => (name, b"", tar::EntryType::Directory, ""),
            Raw::Symlink(name, target) => (name, b"", tar::EntryType::Symlink, target),
            Raw::HardLink(name, target) => (name, b"", tar::EntryType::Link, target),
        };
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        tar.extend_from_slice(header.as_bytes());
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.resize(tar.len() + 1024, 0);
    let mut encoder = zstd::Encoder::new(Vec::new(), 3).unwrap();
    encoder.include_checksum(true).unwrap();
    encoder.write_all(&tar).unwrap();
    encoder.finish().unwrap()
}

impl S3Server {
    /// Options for `bucket` on this server.
    pub fn options(&self, bucket: &str) -> S3Options {
        // Generous: this server is a debug build, slow to take a part.
        S3Options {
            read_timeout: Duration::from_secs(30),
            ..s3_options(&self.endpoint, bucket)
        }
    }

    /// A cache over `bucket` on this server.
    pub fn cache(&self, bucket: &str) -> Cache {
        Cache::new(
            Store::S3(Box::new(S3Store::new(self.options(bucket)))),
            Trust::default(),
        )
    }
}

/// Options for any endpoint, with short timeouts.
pub fn s3_options(endpoint: &str, bucket: &str) -> S3Options {
    S3Options {
        bucket: bucket.to_owned(),
        prefix: "taskrunner/".to_owned(),
        endpoint: Some(endpoint.to_owned()),
        region: "eu-central-1".to_owned(),
        credentials: Some((ACCESS_KEY.to_owned(), SECRET_KEY.to_owned())),
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(1),
    }
}

/// The path of the built `tr-cache` binary.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tr-cache"))
}
