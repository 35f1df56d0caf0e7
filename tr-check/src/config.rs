//! Settings read from the environment: the GitHub App, the repository and
//! the HTTP limits.
//!
//! `GITHUB_REPOSITORY` is accepted in both shapes seen in practice:
//! `owner/repo`, as GitHub Actions sets it, or the bare `repo` name, as the
//! old runner expected. With `owner/repo`, `GITHUB_REPOSITORY_OWNER` may be
//! left out, and when set it must name the same owner.

use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use tr_common::env::EnvError;

use crate::error::CheckError;
use crate::key::AppKey;

/// Switches reporting on in `tr-run` when exactly `1`.
pub const ENABLE_VAR: &str = "TASKRUNNER_ENABLE_COMMIT_STATUS";
/// Seconds before expiry at which a cached token is replaced.
pub const REFRESH_THRESHOLD_VAR: &str = "TASKRUNNER_GITHUB_TOKEN_REFRESH_THRESHOLD_SECONDS";
/// Seconds one HTTP attempt may take, connection included.
pub const TIMEOUT_VAR: &str = "TASKRUNNER_GITHUB_TIMEOUT_SECONDS";
/// How many times a request is tried again after a 5xx or a network error.
pub const RETRIES_VAR: &str = "TASKRUNNER_GITHUB_RETRIES";

const KEY_VAR: &str = "GITHUB_APP_PRIVATE_KEY";
const DEFAULT_API_URL: &str = "https://api.github.com";
const DEFAULT_REFRESH_THRESHOLD: u64 = 300;
const DEFAULT_TIMEOUT: u64 = 10;
const DEFAULT_RETRIES: u64 = 2;
// A retry loop must stay short on the task runner's path.
const MAX_RETRIES: u64 = 5;

/// Everything needed to talk to GitHub as the app. Its `Debug` output
/// leaves the key out.
pub struct Config {
    /// The GitHub App's id (`GITHUB_APP_ID`).
    pub app_id: u64,
    /// The installation of the app on the repository's owner
    /// (`GITHUB_INSTALLATION_ID`).
    pub installation_id: u64,
    /// The repository's owner.
    pub owner: String,
    /// The repository's name, without the owner.
    pub repo: String,
    /// The API root without a trailing slash (`GITHUB_API_URL`).
    pub api_url: String,
    /// A cached token expiring sooner than this is replaced.
    pub refresh_threshold: Duration,
    /// The longest one HTTP attempt may take.
    pub timeout: Duration,
    /// Extra attempts after a 5xx answer or a network error.
    pub retries: u32,
    pub(crate) key: AppKey,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("app_id", &self.app_id)
            .field("installation_id", &self.installation_id)
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .field("api_url", &self.api_url)
            .field("refresh_threshold", &self.refresh_threshold)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("key", &self.key)
            .finish()
    }
}

/// True when `TASKRUNNER_ENABLE_COMMIT_STATUS` is exactly `1`: the switch
/// `tr-run` obeys. `tr-check` itself reports whatever this says, since a
/// script that calls it asked for a status.
pub fn is_enabled() -> bool {
    tr_common::env::flag(ENABLE_VAR)
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Config, CheckError> {
        Config::from_vars(|name| std::env::var_os(name))
    }

    /// Reads the settings through `var`, which returns a variable's value
    /// by name (the process environment in [`Config::from_env`]).
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<Config, CheckError> {
        let text = |name: &'static str| -> Result<Option<String>, CheckError> {
            match var(name).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => v
                    .into_string()
                    .map(Some)
                    .map_err(|v| invalid(name, &v.to_string_lossy(), "expected UTF-8 text")),
            }
        };
        let required = |name: &'static str| text(name)?.ok_or(CheckError::Missing(name));
        let number = |name: &'static str, default: Option<u64>| -> Result<u64, CheckError> {
            match (text(name)?, default) {
                (Some(v), _) => v
                    .trim()
                    .parse()
                    .map_err(|_| invalid(name, &v, "expected a whole number")),
                (None, Some(d)) => Ok(d),
                (None, None) => Err(CheckError::Missing(name)),
            }
        };

        let app_id = number("GITHUB_APP_ID", None)?;
        let installation_id = number("GITHUB_INSTALLATION_ID", None)?;
        let key = private_key(var(KEY_VAR))?;
        let (owner, repo) = repository(
            text("GITHUB_REPOSITORY_OWNER")?,
            required("GITHUB_REPOSITORY")?,
        )?;
        let api_url = api_url(text("GITHUB_API_URL")?)?;
        let refresh_threshold = Duration::from_secs(number(
            REFRESH_THRESHOLD_VAR,
            Some(DEFAULT_REFRESH_THRESHOLD),
        )?);
        let timeout = number(TIMEOUT_VAR, Some(DEFAULT_TIMEOUT))?;
        if timeout == 0 {
            return Err(invalid(TIMEOUT_VAR, "0", "expected at least 1 second"));
        }
        let retries = number(RETRIES_VAR, Some(DEFAULT_RETRIES))?;
        if retries > MAX_RETRIES {
            return Err(invalid(
                RETRIES_VAR,
                &retries.to_string(),
                "expected at most 5",
            ));
        }

        Ok(Config {
            app_id,
            installation_id,
            owner,
            repo,
            api_url,
            refresh_threshold,
            timeout: Duration::from_secs(timeout),
            retries: retries as u32,
            key,
        })
    }
}

/// Unlike the other variables, the key is never quoted in an error.
fn private_key(raw: Option<OsString>) -> Result<AppKey, CheckError> {
    let raw = raw
        .filter(|v| !v.is_empty())
        .ok_or(CheckError::Missing(KEY_VAR))?;
    let text = raw.to_str().ok_or(CheckError::Key("not UTF-8 text"))?;
    AppKey::from_pem(text)
}

fn invalid(name: &str, value: &str, expected: &'static str) -> CheckError {
    CheckError::Env(EnvError {
        name: name.to_owned(),
        value: value.to_owned(),
        expected,
    })
}

fn repository(owner: Option<String>, repository: String) -> Result<(String, String), CheckError> {
    const NAME: &str = "GITHUB_REPOSITORY";
    const OWNER: &str = "GITHUB_REPOSITORY_OWNER";
    let (owner, repo) = match (repository.split_once('/'), owner) {
        (Some((from_repo, _)), Some(owner)) if from_repo != owner => {
            return Err(invalid(
                NAME,
                &repository,
                "its owner differs from `GITHUB_REPOSITORY_OWNER`",
            ));
        }
        (Some((owner, repo)), _) => (owner.to_owned(), repo.to_owned()),
        (None, Some(owner)) => (owner, repository.clone()),
        (None, None) => return Err(CheckError::Missing(OWNER)),
    };
    if !is_path_segment(&owner) {
        let name = if repository.contains('/') {
            NAME
        } else {
            OWNER
        };
        return Err(invalid(
            name,
            &owner,
            "expected a GitHub user or organisation name",
        ));
    }
    if !is_path_segment(&repo) {
        return Err(invalid(
            NAME,
            &repository,
            "expected `owner/repo` or a repository name",
        ));
    }
    Ok((owner, repo))
}

/// Names GitHub allows for owners and repositories, which are also safe to
/// put in a URL path as they are.
fn is_path_segment(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn api_url(raw: Option<String>) -> Result<String, CheckError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_API_URL.to_owned());
    };
    let url = raw.trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match host {
        Some(rest) if !rest.is_empty() && !rest.contains(['?', '#', ' ']) => Ok(url.to_owned()),
        _ => Err(invalid(
            "GITHUB_API_URL",
            &raw,
            "expected an http:// or https:// URL",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_takes_both_shapes() {
        let both = repository(None, "octo/widgets".into()).unwrap();
        assert_eq!(both, ("octo".into(), "widgets".into()));
        let split = repository(Some("octo".into()), "widgets".into()).unwrap();
        assert_eq!(split, ("octo".into(), "widgets".into()));
        let same = repository(Some("octo".into()), "octo/widgets".into()).unwrap();
        assert_eq!(same, ("octo".into(), "widgets".into()));
    }

    #[test]
    fn repository_rejects_mismatches_and_odd_names() {
        let err = repository(Some("other".into()), "octo/widgets".into()).unwrap_err();
        assert!(err.to_string().contains("`GITHUB_REPOSITORY`"), "{err}");
        let err = repository(None, "widgets".into()).unwrap_err();
        assert!(
            err.to_string().contains("`GITHUB_REPOSITORY_OWNER`"),
            "{err}"
        );
        let err = repository(None, "a/b/c".into()).unwrap_err();
        assert!(err.to_string().contains("`GITHUB_REPOSITORY`"), "{err}");
        let err = repository(Some("a b".into()), "c".into()).unwrap_err();
        assert!(
            err.to_string().contains("`GITHUB_REPOSITORY_OWNER`"),
            "{err}"
        );
    }

    #[test]
    fn a_key_that_is_not_utf8_is_not_quoted() {
        use std::os::unix::ffi::OsStringExt;
        let raw = OsString::from_vec(b"secret\xff".to_vec());
        let err = private_key(Some(raw)).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(text.contains(KEY_VAR) && !text.contains("secret"), "{text}");
    }

    #[test]
    fn api_url_defaults_and_drops_trailing_slashes() {
        assert_eq!(api_url(None).unwrap(), "https://api.github.com");
        assert_eq!(
            api_url(Some("http://127.0.0.1:9/api/v3/".into())).unwrap(),
            "http://127.0.0.1:9/api/v3"
        );
        let err = api_url(Some("ftp://x".into())).unwrap_err();
        assert!(err.to_string().contains("`GITHUB_API_URL`"), "{err}");
    }
}
