//! Installation tokens, shared by every process of the machine through
//! `github/token.json` in the state directory.
//!
//! A token is good for an hour and every task of a build may report, so
//! buying one per process would waste time and API quota. The cache file is
//! read and replaced only while holding an exclusive lock on
//! `github/token.lock`; a process that finds the token missing or about to
//! expire buys the new one while still holding the lock, so the others
//! wait for it instead of buying their own.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tr_common::StateDir;

use crate::config::Config;
use crate::error::CheckError;
use crate::http::{Api, Method, Secret};
use crate::time::parse_utc;

const LOCK_POLL: Duration = Duration::from_millis(20);

/// The cached token, with what it is valid for: a change of app,
/// installation or API server makes it useless.
#[derive(Serialize, Deserialize)]
struct Cached {
    api_url: String,
    app_id: u64,
    installation_id: u64,
    token: String,
    /// Seconds since the epoch.
    expires_at: u64,
}

/// The token cache of one state directory.
#[derive(Debug)]
pub struct TokenCache {
    file: PathBuf,
    lock: PathBuf,
}

impl TokenCache {
    /// The cache in `state`'s `github/` directory, created when missing.
    pub fn new(state: &StateDir) -> Result<TokenCache, CheckError> {
        let dir = state.dir("github")?;
        Ok(TokenCache {
            file: dir.join("token.json"),
            lock: dir.join("token.lock"),
        })
    }

    /// A token valid for longer than the refresh threshold, from the cache
    /// or freshly bought. With `rejected`, the API has just refused that
    /// token, so it is replaced unless another process already did.
    pub fn token(
        &self,
        config: &Config,
        api: &Api,
        rejected: Option<&Secret>,
    ) -> Result<Secret, CheckError> {
        let _guard = self.lock(lock_wait(config))?;

        let now = now();
        if let Some(cached) = self.read()? {
            let fresh = cached.expires_at > now + config.refresh_threshold.as_secs();
            let refused = rejected.is_some_and(|r| r.0 == cached.token);
            if fresh && !refused && cached.is_for(config) {
                return Ok(Secret(cached.token));
            }
        }

        let cached = buy(config, api, now)?;
        self.write(&cached)?;
        Ok(Secret(cached.token))
    }

    /// Takes the cache's lock, waiting at most `wait`: a holder that is
    /// stopped or stuck must not stall every task of the machine.
    fn lock(&self, wait: Duration) -> Result<File, CheckError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&self.lock)
            .map_err(|source| cache_error(&self.lock, source))?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    thread::sleep(LOCK_POLL);
                }
                Err(TryLockError::WouldBlock) => {
                    let message =
                        format!("still locked by another process after {} s", wait.as_secs());
                    let source = io::Error::new(io::ErrorKind::TimedOut, message);
                    return Err(cache_error(&self.lock, source));
                }
                Err(TryLockError::Error(source)) => return Err(cache_error(&self.lock, source)),
            }
        }
    }

    /// The cached entry; an unreadable one counts as none, since it is
    /// about to be replaced.
    fn read(&self) -> Result<Option<Cached>, CheckError> {
        let data = tr_common::state::read_optional(&self.file)
            .map_err(|source| cache_error(&self.file, source))?;
        Ok(data.and_then(|d| serde_json::from_slice(&d).ok()))
    }

    /// Replaces the cache file. Only the lock holder writes, so one fixed
    /// temporary name is enough; mode 0600 keeps the token to ourselves.
    fn write(&self, cached: &Cached) -> Result<(), CheckError> {
        let tmp = self.file.with_file_name(".token.json.tmp");
        let json = serde_json::to_vec(cached).expect("a token serialises");
        let _ = fs::remove_file(&tmp);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .and_then(|mut file| file.write_all(&json))
            .and_then(|()| fs::rename(&tmp, &self.file))
            .map_err(|source| cache_error(&self.file, source))
    }
}

fn cache_error(path: &Path, source: io::Error) -> CheckError {
    CheckError::TokenCache {
        path: path.to_owned(),
        source,
    }
}

impl Cached {
    fn is_for(&self, config: &Config) -> bool {
        self.api_url == config.api_url
            && self.app_id == config.app_id
            && self.installation_id == config.installation_id
    }
}

/// `POST /app/installations/ID/access_tokens`, authenticated by the app
/// JWT.
fn buy(config: &Config, api: &Api, now: u64) -> Result<Cached, CheckError> {
    #[derive(Deserialize)]
    struct Issued {
        token: String,
        expires_at: String,
    }

    let jwt = Secret(config.key.app_jwt(config.app_id, now)?);
    let path = format!(
        "/app/installations/{}/access_tokens",
        config.installation_id
    );
    let answer = api.send(Method::Post, &path, "", &jwt, None)?;
    if !answer.is_success() {
        return Err(answer.into_error());
    }
    let issued: Issued = serde_json::from_slice(&answer.body)
        .map_err(|_| answer.unexpected("JSON with `token` and `expires_at`"))?;
    let expires_at = parse_utc(&issued.expires_at)
        .ok_or_else(|| answer.unexpected("`expires_at` as a UTC time"))?;
    if issued.token.is_empty() || issued.token.contains(|c: char| c.is_control() || c == ' ') {
        return Err(answer.unexpected("a printable token"));
    }

    Ok(Cached {
        api_url: config.api_url.clone(),
        app_id: config.app_id,
        installation_id: config.installation_id,
        token: issued.token,
        expires_at,
    })
}

/// Long enough for the holder to buy a token with every retry.
fn lock_wait(config: &Config) -> Duration {
    let attempts = config.retries + 1;
    config.timeout * attempts + Duration::from_secs(u64::from(attempts) + 2)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
