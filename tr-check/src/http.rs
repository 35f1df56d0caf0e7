//! One blocking HTTP exchange with the API, with bounded time and retries.
//!
//! Each attempt is bounded by the configured timeout, connection included.
//! Network errors and 5xx answers are tried again after a short pause that
//! doubles each time; other answers, errors included, go back to the
//! caller as they are.

use std::fmt;
use std::thread;
use std::time::Duration;

use ureq::Agent;
use ureq::http::{Response, StatusCode};

use crate::config::Config;
use crate::error::CheckError;

const FIRST_PAUSE: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
// GitHub's answers here are small; a larger body is not the API talking.
const BODY_LIMIT: u64 = 4 << 20;
const DETAIL_LIMIT: usize = 200;

/// A bearer credential: an app JWT or an installation token. It has no
/// `Display`, and its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The two methods the API is called with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Reads.
    Get,
    /// Creates, with a JSON body.
    Post,
}

/// What the API answered.
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body, at most a few megabytes.
    pub body: Vec<u8>,
    /// The URL asked, without query, for messages.
    pub url: String,
}

impl Answer {
    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error for a 2xx answer whose body is not `expected`.
    pub fn unexpected(&self, expected: &str) -> CheckError {
        CheckError::Answer {
            url: self.url.clone(),
            reason: format!("expected {expected}, got {}", describe_body(&self.body)),
        }
    }

    /// The error for an answer with an unwanted status.
    pub fn into_error(self) -> CheckError {
        CheckError::Status {
            detail: describe_body(&self.body),
            url: self.url,
            status: self.status,
        }
    }
}

/// The API root plus an HTTP agent configured with our limits.
pub struct Api {
    agent: Agent,
    root: String,
    retries: u32,
    timeout: Duration,
}

impl Api {
    /// An agent for `config.api_url` with `config`'s timeout and retries.
    pub fn new(config: &Config) -> Api {
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .timeout_connect(Some(config.timeout.min(CONNECT_TIMEOUT)))
            .user_agent(concat!("tr-check/", env!("CARGO_PKG_VERSION")))
            .accept("application/vnd.github+json")
            .max_redirects(0)
            .build()
            .new_agent();
        Api {
            agent,
            root: config.api_url.clone(),
            retries: config.retries,
            timeout: config.timeout,
        }
    }

    /// Sends `method path[?query]` with `bearer` and a JSON `body`, trying
    /// again on network errors and 5xx answers.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        bearer: &Secret,
        body: Option<&[u8]>,
    ) -> Result<Answer, CheckError> {
        let url = format!("{}{path}", self.root);
        let full = if query.is_empty() {
            url.clone()
        } else {
            format!("{url}?{query}")
        };
        let mut pause = FIRST_PAUSE;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt > self.retries;
            match self.attempt(method, &full, bearer, body) {
                Ok(response) => {
                    let status = response.status();
                    if !status.is_server_error() || last {
                        return read(response, url, status);
                    }
                }
                Err(ureq::Error::Timeout(_)) if last => {
                    return Err(CheckError::Timeout {
                        url,
                        attempts: attempt,
                        seconds: self.timeout.as_secs(),
                    });
                }
                Err(source) if last || !is_transient(&source) => {
                    return Err(CheckError::Transport {
                        url,
                        attempts: attempt,
                        source,
                    });
                }
                Err(_) => {}
            }
            thread::sleep(pause);
            pause *= 2;
        }
    }

    fn attempt(
        &self,
        method: Method,
        url: &str,
        bearer: &Secret,
        body: Option<&[u8]>,
    ) -> Result<Response<ureq::Body>, ureq::Error> {
        let auth = format!("Bearer {}", bearer.0);
        const VERSION: (&str, &str) = ("X-GitHub-Api-Version", "2022-11-28");
        match method {
            Method::Post => self
                .agent
                .post(url)
                .header("Authorization", &auth)
                .header(VERSION.0, VERSION.1)
                .content_type("application/json")
                .send(body.unwrap_or(b"")),
            Method::Get => self
                .agent
                .get(url)
                .header("Authorization", &auth)
                .header(VERSION.0, VERSION.1)
                .call(),
        }
    }
}

/// Only the root: the agent's own `Debug` is long and would show a proxy
/// URL, credentials included.
impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api").field("root", &self.root).finish()
    }
}

fn read(
    mut response: Response<ureq::Body>,
    url: String,
    status: StatusCode,
) -> Result<Answer, CheckError> {
    match response
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_vec()
    {
        Ok(body) => Ok(Answer {
            status: status.as_u16(),
            body,
            url,
        }),
        Err(source) => Err(CheckError::Transport {
            url,
            attempts: 1,
            source,
        }),
    }
}

fn is_transient(err: &ureq::Error) -> bool {
    matches!(
        err,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    )
}

/// A one-line account of a body: GitHub's `message` when the body is its
/// JSON error, else what kind of body it was.
fn describe_body(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct GitHubError {
        message: String,
    }
    if let Ok(err) = serde_json::from_slice::<GitHubError>(body) {
        let message: String = err
            .message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(DETAIL_LIMIT)
            .collect();
        return message;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    if body.is_empty() {
        "empty body".to_owned()
    } else if text.trim_start().starts_with('<') && text.contains("html") {
        "an HTML page, not the GitHub API".to_owned()
    } else {
        "a body that is not GitHub's JSON".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::describe_body;

    #[test]
    fn describes_error_bodies_on_one_line() {
        assert_eq!(
            describe_body(br#"{"message":"Bad\ncredentials"}"#),
            "Bad credentials"
        );
        assert_eq!(
            describe_body(b"<!DOCTYPE html><html><body>oops</body></html>"),
            "an HTML page, not the GitHub API"
        );
        assert_eq!(describe_body(b""), "empty body");
        assert_eq!(
            describe_body(b"garbage"),
            "a body that is not GitHub's JSON"
        );
    }
}
