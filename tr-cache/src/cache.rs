//! The operations `tr-run` and the `tr-cache` binary use: save and restore
//! a task's outputs, read and record the latest hash of a branch, upload
//! a log. The store and the keys come from the environment.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Seek};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use tr_common::{StateDir, TaskName};

use crate::CacheError;
use crate::names::{self, Bundle, SIGNATURE_SUFFIX};
use crate::pack::{self, Outputs, PackStats};
use crate::progress::Progress;
use crate::store::Store;
use crate::trust::{self, Hashing, Trust};
use crate::unpack::{self, UnpackStats};

/// Where uploaded logs go, before `BUILD_ID/NAME.log.txt`.
pub const LOGS_PREFIX_VAR: &str = "TASKRUNNER_LOGS_PREFIX";
const TEXT: &str = "text/plain; charset=utf-8";
const ARCHIVE: &str = "application/zstd";

/// The store and the keys, ready for cache operations.
#[derive(Debug)]
pub struct Cache {
    store: Store,
    trust: Trust,
    logs_prefix: Option<String>,
    progress: bool,
}

/// What a save stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveStats {
    /// What went into the archive.
    pub packed: PackStats,
    /// The archive's compressed size.
    pub stored: u64,
}

impl Cache {
    /// The cache the environment describes. Nothing is contacted yet.
    pub fn from_env(state: &StateDir) -> Result<Cache, CacheError> {
        let store = Store::from_env(state)?;
        let trust = Trust::from_env()?;
        let logs_prefix = std::env::var(LOGS_PREFIX_VAR).ok();
        Ok(Cache {
            store,
            trust,
            logs_prefix,
            progress: io::stderr().is_terminal(),
        })
    }

    /// A cache over `store` with `trust`.
    pub fn new(store: Store, trust: Trust) -> Cache {
        Cache {
            store,
            trust,
            logs_prefix: None,
            progress: false,
        }
    }

    /// Turns the progress line on stderr on or off; [`Cache::from_env`]
    /// turns it on when stderr is a terminal.
    pub fn with_progress(mut self, on: bool) -> Cache {
        self.progress = on;
        self
    }

    /// The active store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Where `bundle`'s archive is, for messages such as
    /// `Found remote cache ARCHIVE, restoring`.
    pub fn location(&self, bundle: &Bundle) -> String {
        self.store.location(&self.store.key(&bundle.object_name()))
    }

    /// Archives `outputs` as `bundle`, streaming into the store while the
    /// archive is written.
    pub fn save(&self, bundle: &Bundle, outputs: &Outputs) -> Result<SaveStats, CacheError> {
        let name = bundle.object_name();
        let key = self.store.key(&name);
        let (reader, mut writer) = io::pipe().map_err(|source| CacheError::Write {
            path: "<pipe>".into(),
            source,
        })?;
        widen_pipe(&writer);
        let producer_failed = AtomicBool::new(false);
        let consumer_saw_failure = AtomicBool::new(false);
        let guarded = Guarded {
            pipe: reader,
            producer_failed: &producer_failed,
            saw_failure: &consumer_saw_failure,
        };
        let label = format!("tr-cache: saving {name}");
        let progress = Progress::new(guarded, label, self.progress);
        let mut source = Hashing::new(progress, self.trust.is_signing());

        let (packed, stored) = std::thread::scope(|scope| {
            let producer = scope.spawn(|| {
                let packed = pack::pack(outputs, &mut writer);
                if packed.is_err() {
                    producer_failed.store(true, Ordering::SeqCst);
                }
                drop(writer);
                packed
            });
            // Our end of the pipe must close before the producer is
            // joined: if the upload stopped early, the producer then stops
            // on a broken pipe instead of waiting on a full one forever.
            let stored = match self.store.put(&key, &mut source, ARCHIVE) {
                Ok(size) => Ok((size, source.digest())),
                Err(e) => {
                    drop(source);
                    Err(e)
                }
            };
            let packed = producer.join().unwrap_or_else(|_| {
                Err(CacheError::Write {
                    path: "<archive>".into(),
                    source: io::Error::other("the archive writer panicked"),
                })
            });
            (packed, stored)
        });

        let (packed, (stored, digest)) = match (packed, stored) {
            (Ok(packed), Ok(stored)) => (packed, stored),
            (Err(packed), _) if consumer_saw_failure.load(Ordering::SeqCst) => return Err(packed),
            (_, Err(stored)) => return Err(stored),
            (Err(packed), Ok(_)) => return Err(packed),
        };
        self.sign_stored(&name, &key, digest)?;
        Ok(SaveStats { packed, stored })
    }

    fn sign_stored(&self, name: &str, key: &str, digest: [u8; 32]) -> Result<(), CacheError> {
        match self.trust.sign(name, &digest) {
            Some(signature) => self.store.put_small(
                &format!("{key}{SIGNATURE_SUFFIX}"),
                signature.as_bytes(),
                TEXT,
            ),
            None => Ok(()),
        }
    }

    /// Restores `bundle` below `root`; `None` when the store has no such
    /// archive. With a verifying key, the archive is downloaded to a
    /// temporary file and checked before any file is written.
    pub fn restore(&self, bundle: &Bundle, root: &Path) -> Result<Option<UnpackStats>, CacheError> {
        let name = bundle.object_name();
        let key = self.store.key(&name);
        let location = self.store.location(&key);
        // The signature comes first: an S3 download keeps the runtime busy
        // on another thread until the archive has been read.
        let signature = if self.trust.is_verifying() {
            self.store.read_small(&format!("{key}{SIGNATURE_SUFFIX}"))?
        } else {
            None
        };
        let Some(reader) = self.store.open(&key)? else {
            return Ok(None);
        };
        let label = format!("tr-cache: restoring {name}");
        let reader = Progress::new(reader, label, self.progress);
        if !self.trust.is_verifying() {
            return unpack::unpack(reader, root, &location).map(Some);
        }

        let tmp_err = |source| CacheError::Write {
            path: std::env::temp_dir(),
            source,
        };
        let mut copy = tempfile::tempfile().map_err(tmp_err)?;
        let mut hashing = Hashing::new(reader, true);
        io::copy(&mut hashing, &mut copy).map_err(|source| CacheError::Corrupt {
            object: location.clone(),
            source,
        })?;
        self.trust
            .verify(&name, &hashing.digest(), signature.as_deref())?;
        copy.rewind().map_err(tmp_err)?;
        unpack::unpack(copy, root, &location).map(Some)
    }

    /// The latest hash recorded for `task` on `branch`, if any.
    pub fn latest(&self, task: &TaskName, branch: &str) -> Result<Option<String>, CacheError> {
        let name = names::latest_object(task, branch)?;
        let key = self.store.key(&name);
        let Some(data) = self.store.read_small(&key)? else {
            return Ok(None);
        };
        if self.trust.is_verifying() {
            let signature = self.store.read_small(&format!("{key}{SIGNATURE_SUFFIX}"))?;
            self.trust
                .verify(&name, &trust::digest(&data), signature.as_deref())?;
        }
        let hash = String::from_utf8_lossy(&data).trim().to_owned();
        names::check_hash(&hash)?;
        Ok(Some(hash))
    }

    /// Records `hash` as the latest for `task` on `branch`.
    pub fn set_latest(&self, task: &TaskName, branch: &str, hash: &str) -> Result<(), CacheError> {
        names::check_hash(hash)?;
        let name = names::latest_object(task, branch)?;
        let key = self.store.key(&name);
        self.store.put_small(&key, hash.as_bytes(), TEXT)?;
        self.sign_stored(&name, &key, trust::digest(hash.as_bytes()))
    }

    /// Uploads `log` as `TASKRUNNER_LOGS_PREFIX` + `BUILD_ID/NAME.log.txt`
    /// (without that variable, `logs/BUILD_ID/NAME.log.txt` under the
    /// store's prefix) and returns the `BUILD_ID/NAME.log.txt` part, to
    /// append to `TASKRUNNER_LOGS_VIEW_URL`.
    pub fn upload_log(
        &self,
        build_id: &str,
        task: &TaskName,
        log: &Path,
    ) -> Result<String, CacheError> {
        let suffix = format!("{build_id}/{task}.log.txt");
        let key = match &self.logs_prefix {
            Some(prefix) => format!("{prefix}{suffix}"),
            None => self.store.key(&format!("logs/{suffix}")),
        };
        let mut file = File::open(log).map_err(|source| CacheError::Read {
            path: log.to_owned(),
            source,
        })?;
        self.store.put(&key, &mut file, TEXT)?;
        Ok(suffix)
    }
}

/// A larger pipe buffer means fewer switches between the thread writing
/// the archive and the one storing it. Failure only costs speed.
fn widen_pipe(pipe: &impl AsRawFd) {
    // SAFETY: F_SETPIPE_SZ takes an int and touches nothing but the pipe.
    unsafe {
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
}

/// The reading end of the archive pipe. The end of the pipe is only the
/// end of the archive if the writer succeeded; otherwise the store must
/// not keep what it received.
struct Guarded<'a> {
    pipe: io::PipeReader,
    producer_failed: &'a AtomicBool,
    saw_failure: &'a AtomicBool,
}

impl Read for Guarded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.pipe.read(buf)?;
        if n == 0 && !buf.is_empty() && self.producer_failed.load(Ordering::SeqCst) {
            self.saw_failure.store(true, Ordering::SeqCst);
            return Err(io::Error::other("the archive could not be written"));
        }
        Ok(n)
    }
}
