//! Where archives live: an S3 bucket, or a directory that needs no server.
//!
//! Both hold the same object names. Keys are the full names inside the
//! store: for S3 the prefix is already part of them (see [`Store::key`]).

use std::io::{self, Read};

use tr_common::StateDir;

use crate::CacheError;

pub mod dir;
pub mod s3;

pub use dir::DirStore;
pub use s3::{S3Options, S3Store};

/// Objects read whole (latest hashes, signatures) are at most this big.
const SMALL_OBJECT: u64 = 64 * 1024;

/// The active store.
#[derive(Debug)]
pub enum Store {
    /// A directory, maybe on a shared file system.
    Directory(DirStore),
    /// An S3 or S3-compatible bucket.
    S3(Box<S3Store>),
}

impl Store {
    /// The store the environment selects: S3 when
    /// `TASKRUNNER_REMOTE_CACHE_BUCKET` is set, else the directory store.
    /// Nothing is contacted and no runtime is started here.
    pub fn from_env(state: &StateDir) -> Result<Store, CacheError> {
        match S3Store::from_env()? {
            Some(s3) => Ok(Store::S3(Box::new(s3))),
            None => Ok(Store::Directory(DirStore::from_env(state)?)),
        }
    }

    /// The key of object `name` (such as `bundles/x.tar.zst`): under the
    /// prefix for S3, as is for a directory.
    pub fn key(&self, name: &str) -> String {
        match self {
            Store::Directory(_) => name.to_owned(),
            Store::S3(s3) => s3.key(name),
        }
    }

    /// Where `key` is, for messages: `s3://bucket/key` or a path.
    pub fn location(&self, key: &str) -> String {
        match self {
            Store::Directory(dir) => dir.location(key),
            Store::S3(s3) => s3.location(key),
        }
    }

    /// Opens object `key` for streaming; `None` when it does not exist.
    pub fn open(&self, key: &str) -> Result<Option<Box<dyn Read + '_>>, CacheError> {
        match self {
            Store::Directory(dir) => Ok(dir.open(key)?.map(|f| Box::new(f) as Box<dyn Read>)),
            Store::S3(s3) => Ok(s3.open(key)?.map(|r| Box::new(r) as Box<dyn Read>)),
        }
    }

    /// Reads a small object whole; `None` when it does not exist.
    pub fn read_small(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let Some(reader) = self.open(key)? else {
            return Ok(None);
        };
        let mut data = Vec::new();
        reader
            .take(SMALL_OBJECT)
            .read_to_end(&mut data)
            .map_err(|e| self.read_error(key, e))?;
        Ok(Some(data))
    }

    /// Stores everything read from `source` as object `key`. Readers never
    /// see a partial object: a failed upload leaves the old one, or none.
    pub fn put(
        &self,
        key: &str,
        source: &mut (dyn Read + Send),
        content_type: &str,
    ) -> Result<u64, CacheError> {
        match self {
            Store::Directory(dir) => dir.put(key, source),
            Store::S3(s3) => s3.put(key, source, content_type),
        }
    }

    /// Stores a small object.
    pub fn put_small(&self, key: &str, data: &[u8], content_type: &str) -> Result<(), CacheError> {
        self.put(key, &mut io::Cursor::new(data), content_type)
            .map(drop)
    }

    fn read_error(&self, key: &str, source: io::Error) -> CacheError {
        match self {
            Store::Directory(dir) => CacheError::Read {
                path: dir.location(key).into(),
                source,
            },
            Store::S3(s3) => s3.stream_error("download", key, source),
        }
    }
}
