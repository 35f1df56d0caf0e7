//! Commit statuses: what is sent, and the reporter that sends it.

use std::process::Command;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tr_common::StateDir;

use crate::config::Config;
use crate::error::CheckError;
use crate::http::{Answer, Api, Method};
use crate::token::TokenCache;

/// GitHub refuses longer descriptions with a 422, which would lose the
/// whole status; a cut description is better.
const DESCRIPTION_LIMIT: usize = 140;
const PAGE_SIZE: usize = 100;
/// GitHub keeps at most 1000 statuses per commit and context; ten pages of
/// a hundred look at the most recent thousand of all contexts together.
const MAX_PAGES: usize = 10;

/// The state of a commit status, as GitHub names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    /// The task is running.
    Pending,
    /// The task succeeded or was skipped.
    Success,
    /// The task failed.
    Failure,
    /// The task could not be run.
    Error,
}

/// One status to report on the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRequest {
    /// The status's name on GitHub: the task name.
    pub context: String,
    /// Its state.
    pub state: StatusState,
    /// A short text; GitHub shows at most 140 characters, so longer text
    /// is cut.
    pub description: Option<String>,
    /// The link shown beside the status, such as the task's log.
    pub target_url: Option<String>,
}

impl StatusRequest {
    /// A status without description or link.
    pub fn new(context: impl Into<String>, state: StatusState) -> StatusRequest {
        StatusRequest {
            context: context.into(),
            state,
            description: None,
            target_url: None,
        }
    }

    /// The request body. The key order and the nulls are part of the
    /// interface (SPEC §7), hence a struct rather than a map.
    fn body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            context: &'a str,
            description: Option<String>,
            state: StatusState,
            target_url: Option<&'a str>,
        }
        let description = self
            .description
            .as_ref()
            .map(|d| d.chars().take(DESCRIPTION_LIMIT).collect());
        let body = Body {
            context: &self.context,
            description,
            state: self.state,
            target_url: self.target_url.as_deref(),
        };
        serde_json::to_vec(&body).expect("a status serialises")
    }
}

/// Reports statuses on one commit of the configured repository.
///
/// Every method blocks for a bounded time: the configured timeout per
/// attempt, times the attempts. Errors are meant to be shown as a one-line
/// warning (`tr_common::diag::chain`): a failure to report never changes a
/// build's result.
#[derive(Debug)]
pub struct Reporter {
    config: Config,
    api: Api,
    tokens: TokenCache,
    commit: OnceLock<String>,
}

impl Reporter {
    /// A reporter configured from the environment, caching its token in
    /// `state`.
    ///
    /// This does not look at `TASKRUNNER_ENABLE_COMMIT_STATUS`; callers
    /// that obey it check [`crate::is_enabled`] first. Nothing touches the
    /// network before the first report.
    pub fn from_env(state: &StateDir) -> Result<Reporter, CheckError> {
        Reporter::new(Config::from_env()?, state)
    }

    /// [`Reporter::from_env`] when `TASKRUNNER_ENABLE_COMMIT_STATUS` is
    /// `1`, else `None` without reading any other variable: the switch
    /// `tr-run` obeys.
    pub fn enabled_from_env(state: &StateDir) -> Result<Option<Reporter>, CheckError> {
        if crate::is_enabled() {
            Reporter::from_env(state).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A reporter with explicit settings.
    pub fn new(config: Config, state: &StateDir) -> Result<Reporter, CheckError> {
        Ok(Reporter {
            api: Api::new(&config),
            tokens: TokenCache::new(state)?,
            config,
            commit: OnceLock::new(),
        })
    }

    /// Reports on commit `sha` instead of `HEAD` of the current directory.
    pub fn with_commit(self, sha: &str) -> Result<Reporter, CheckError> {
        let sha = check_sha(sha)?;
        let _ = self.commit.set(sha);
        Ok(self)
    }

    /// The commit statuses go to: as given, or `git rev-parse HEAD` in the
    /// current directory, asked once.
    pub fn commit(&self) -> Result<&str, CheckError> {
        if let Some(sha) = self.commit.get() {
            return Ok(sha);
        }
        let sha = head()?;
        Ok(self.commit.get_or_init(|| sha))
    }

    /// Creates `status` on the commit.
    pub fn report(&self, status: &StatusRequest) -> Result<(), CheckError> {
        if status.context.is_empty() {
            return Err(CheckError::Argument {
                what: "context",
                value: String::new(),
                expected: "expected a non-empty name",
            });
        }
        let path = format!(
            "/repos/{}/{}/statuses/{}",
            self.config.owner,
            self.config.repo,
            self.commit()?
        );
        let answer = self.call(Method::Post, &path, "", Some(&status.body()))?;
        if answer.is_success() {
            Ok(())
        } else {
            Err(answer.into_error())
        }
    }

    /// True when the commit already has a status named `context`.
    ///
    /// Looks at the most recent thousand statuses of the commit, which is
    /// as many as GitHub keeps for one context.
    pub fn has_status(&self, context: &str) -> Result<bool, CheckError> {
        #[derive(Deserialize)]
        struct Listed {
            context: String,
        }

        let path = format!(
            "/repos/{}/{}/commits/{}/statuses",
            self.config.owner,
            self.config.repo,
            self.commit()?
        );
        for page in 1..=MAX_PAGES {
            let query = format!("per_page={PAGE_SIZE}&page={page}");
            let answer = self.call(Method::Get, &path, &query, None)?;
            if !answer.is_success() {
                return Err(answer.into_error());
            }
            let listed: Vec<Listed> = serde_json::from_slice(&answer.body)
                .map_err(|_| answer.unexpected("a JSON list of statuses"))?;
            if listed.iter().any(|s| s.context == context) {
                return Ok(true);
            }
            if listed.len() < PAGE_SIZE {
                break;
            }
        }
        Ok(false)
    }

    /// One authenticated request; a 401 means the token died early (it was
    /// revoked, or the clocks disagree), so it is replaced and the request
    /// made once more.
    fn call(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<&[u8]>,
    ) -> Result<Answer, CheckError> {
        let api = &self.api;
        let token = self.tokens.token(&self.config, api, None)?;
        let answer = api.send(method, path, query, &token, body)?;
        if answer.status != 401 {
            return Ok(answer);
        }
        let token = self.tokens.token(&self.config, api, Some(&token))?;
        api.send(method, path, query, &token, body)
    }
}

fn check_sha(sha: &str) -> Result<String, CheckError> {
    let sha = sha.trim();
    if (4..=64).contains(&sha.len()) && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(sha.to_ascii_lowercase())
    } else {
        Err(CheckError::Argument {
            what: "commit",
            value: sha.to_owned(),
            expected: "expected a hexadecimal commit id",
        })
    }
}

fn head() -> Result<String, CheckError> {
    let output = Command::new("git")
        .args(["rev-parse", "--verify", "HEAD"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| CheckError::Git(e.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("it failed").trim();
        return Err(CheckError::Git(first.to_owned()));
    }
    check_sha(&String::from_utf8_lossy(&output.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_keeps_the_spec_key_order_and_nulls() {
        let bare = StatusRequest::new("build", StatusState::Pending);
        assert_eq!(
            String::from_utf8(bare.body()).unwrap(),
            r#"{"context":"build","description":null,"state":"pending","target_url":null}"#
        );
        let full = StatusRequest {
            description: Some("x".repeat(200)),
            target_url: Some("https://logs/b/build.log.txt".into()),
            ..StatusRequest::new("build", StatusState::Failure)
        };
        let body: serde_json::Value = serde_json::from_slice(&full.body()).unwrap();
        assert_eq!(body["description"].as_str().unwrap().len(), 140);
        assert_eq!(body["state"], "failure");
        assert_eq!(body["target_url"], "https://logs/b/build.log.txt");
    }

    #[test]
    fn commit_ids_must_be_hexadecimal() {
        assert_eq!(check_sha("ABCdef12\n").unwrap(), "abcdef12");
        for bad in ["", "main", "../x", "abc"] {
            let err = check_sha(bad).unwrap_err();
            assert!(err.is_config(), "{err}");
        }
    }
}
