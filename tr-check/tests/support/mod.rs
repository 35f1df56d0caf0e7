//! A fake GitHub API on 127.0.0.1 for the tests: the three endpoints
//! `tr-check` uses, with real JWT checks, bearer tokens it issues itself,
//! faults on demand, and a record of every call.

#![allow(dead_code)] // Each test binary uses its own part of the helpers.

use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::Deref;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use tr_check::Config;

pub const APP_ID: &str = "12345";
pub const INSTALLATION_ID: &str = "678";
pub const OWNER: &str = "octo";
pub const REPO: &str = "widgets";
pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
pub const KEY: &str = include_str!("../fixtures/app-key.pem");
pub const KEY_PKCS8: &str = include_str!("../fixtures/app-key-pkcs8.pem");
pub const OTHER_KEY: &str = include_str!("../fixtures/other-key.pem");
const PUBLIC_KEY: &[u8] = include_bytes!("../fixtures/app-key-public.der");

/// What the server does to a request instead of answering it properly.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Answer this status with a GitHub-style JSON error.
    Status(u16),
    /// Answer this status with an HTML page, as a proxy or portal would.
    Html(u16),
    /// Read the request, then say nothing until the client gives up.
    Hang,
    /// Read the request, then close the connection.
    Close,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub auth: Option<String>,
    pub body: String,
    pub status: u16,
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    valid_tokens: Vec<String>,
    issued: Vec<String>,
    token_lifetime: i64,
    /// Statuses per commit, oldest first.
    statuses: HashMap<String, Vec<String>>,
    /// Faults for coming requests whose path contains the given text.
    next_faults: VecDeque<(&'static str, Fault)>,
    always: Option<Fault>,
}

/// A running fake server; it lives until the test process ends.
pub struct FakeGitHub {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    pub fn start() -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            token_lifetime: 3600,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                thread::spawn(move || serve(stream, &state));
            }
        });
        FakeGitHub { port, state }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Requests for installation tokens, whatever their answer.
    pub fn token_requests(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.path.ends_with("/access_tokens"))
            .count()
    }

    /// Bodies of the statuses the server accepted, oldest first.
    pub fn posted(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == "POST" && c.path.contains("/statuses/") && c.status == 201)
            .map(|c| c.body)
            .collect()
    }

    /// Every token the server ever issued.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.lock().unwrap().issued.clone()
    }

    /// The `expires_at` of new tokens, in seconds from now; below the
    /// client's refresh threshold, a token looks stale at once.
    pub fn set_token_lifetime(&self, seconds: i64) {
        self.state.lock().unwrap().token_lifetime = seconds;
    }

    /// Makes every token issued so far invalid, as if it had expired
    /// earlier than it claimed (clock skew) or was revoked.
    pub fn revoke_tokens(&self) {
        self.state.lock().unwrap().valid_tokens.clear();
    }

    /// Applies `fault` to the next request.
    pub fn fail_next(&self, fault: Fault) {
        self.fail_next_on("", fault);
    }

    /// Applies `fault` to the next request whose path contains `path`.
    pub fn fail_next_on(&self, path: &'static str, fault: Fault) {
        let mut state = self.state.lock().unwrap();
        state.next_faults.push_back((path, fault));
    }

    /// Applies `fault` to every request from now on.
    pub fn fail_always(&self, fault: Fault) {
        self.state.lock().unwrap().always = Some(fault);
    }

    /// Records a status on `sha` as if someone had reported it.
    pub fn add_status(&self, sha: &str, context: &str) {
        let body = format!(r#"{{"context":"{context}","state":"success"}}"#);
        let mut state = self.state.lock().unwrap();
        state.statuses.entry(sha.to_owned()).or_default().push(body);
    }

    /// The variables that point `tr-check` at this server.
    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("GITHUB_APP_ID", APP_ID),
            ("GITHUB_INSTALLATION_ID", INSTALLATION_ID),
            ("GITHUB_APP_PRIVATE_KEY", KEY),
            ("GITHUB_REPOSITORY_OWNER", OWNER),
            ("GITHUB_REPOSITORY", REPO),
            ("GITHUB_API_URL", &self.url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Makes `cmd` (a tr-run) report commit statuses to this server,
    /// failing fast: a 2 s timeout and no retries.
    pub fn report_to(&self, cmd: &mut std::process::Command) {
        cmd.env("TASKRUNNER_ENABLE_COMMIT_STATUS", "1")
            .env("TASKRUNNER_GITHUB_TIMEOUT_SECONDS", "2")
            .env("TASKRUNNER_GITHUB_RETRIES", "0");
        for (key, value) in self.vars() {
            cmd.env(key, value);
        }
    }

    /// A library configuration for this server, with `extra` variables
    /// added or replaced.
    pub fn config(&self, extra: &[(&str, &str)]) -> Config {
        let mut vars: HashMap<String, String> = self.vars().into_iter().collect();
        for (name, value) in extra {
            vars.insert((*name).to_owned(), (*value).to_owned());
        }
        Config::from_vars(|name| vars.get(name).map(OsString::from)).unwrap()
    }
}

/// A private directory for one test, removed when dropped.
pub struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<OsStr> for Scratch {
    fn as_ref(&self) -> &OsStr {
        self.0.as_os_str()
    }
}

/// A fresh private directory for one test.
pub fn scratch(name: &str) -> Scratch {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tr-check-test-{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    Scratch(dir)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Request {
    method: String,
    path: String,
    query: String,
    auth: Option<String>,
    body: String,
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let Some(request) = read_request(&mut reader) else {
        return;
    };
    let mut stream = reader.into_inner();

    let fault = {
        let mut state = state.lock().unwrap();
        let queued = state
            .next_faults
            .iter()
            .position(|(path, _)| request.path.contains(path));
        queued
            .and_then(|i| state.next_faults.remove(i))
            .map(|(_, fault)| fault)
            .or(state.always)
    };
    let (status, content_type, body) = match fault {
        Some(Fault::Hang) => {
            record(state, &request, 0);
            // Hold the connection until the client closes it.
            let _ = stream.read_to_end(&mut Vec::new());
            return;
        }
        Some(Fault::Close) => {
            record(state, &request, 0);
            return;
        }
        Some(Fault::Status(code)) => (code, "application/json", message("Server Error")),
        Some(Fault::Html(code)) => (
            code,
            "text/html",
            "<!DOCTYPE html><html><body><h1>Bad gateway</h1></body></html>".to_owned(),
        ),
        None => route(state, &request),
    };
    record(state, &request, status);

    let head = format!(
        "HTTP/1.1 {status} Whatever\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

fn record(state: &Mutex<State>, request: &Request, status: u16) {
    state.lock().unwrap().calls.push(Call {
        method: request.method.clone(),
        path: request.path.clone(),
        query: request.query.clone(),
        auth: request.auth.clone(),
        body: request.body.clone(),
        status,
    });
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));

    let mut auth = None;
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "authorization" => auth = Some(value.trim().to_owned()),
            "content-length" => length = value.trim().parse().ok()?,
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;

    Some(Request {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        auth,
        body: String::from_utf8(body).ok()?,
    })
}

fn message(text: &str) -> String {
    format!(r#"{{"message":"{text}","documentation_url":"https://docs.invalid"}}"#)
}

fn route(state: &Mutex<State>, request: &Request) -> (u16, &'static str, String) {
    const JSON: &str = "application/json";
    let parts: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
    let bearer = request
        .auth
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "));

    match (request.method.as_str(), parts.as_slice()) {
        ("POST", ["app", "installations", id, "access_tokens"]) => {
            if !bearer.is_some_and(is_valid_jwt) {
                return (401, JSON, message("A JSON web token could not be decoded"));
            }
            if *id != INSTALLATION_ID {
                return (404, JSON, message("Not Found"));
            }
            let mut state = state.lock().unwrap();
            let token = format!("ghs_fake{}x{}", state.issued.len(), now());
            state.issued.push(token.clone());
            state.valid_tokens.push(token.clone());
            let expires_at = rfc3339(now() + state.token_lifetime);
            let body = format!(r#"{{"token":"{token}","expires_at":"{expires_at}"}}"#);
            (201, JSON, body)
        }
        (method, ["repos", owner, repo, rest @ ..]) => {
            let state = &mut *state.lock().unwrap();
            if !bearer.is_some_and(|t| state.valid_tokens.iter().any(|v| v == t)) {
                return (401, JSON, message("Bad credentials"));
            }
            if (*owner, *repo) != (OWNER, REPO) {
                return (404, JSON, message("Not Found"));
            }
            match (method, rest) {
                ("POST", ["statuses", sha]) => {
                    let body: serde_json::Value = match serde_json::from_str(&request.body) {
                        Ok(body) => body,
                        Err(_) => return (400, JSON, message("Problems parsing JSON")),
                    };
                    let list = state.statuses.entry((*sha).to_owned()).or_default();
                    list.push(request.body.clone());
                    (201, JSON, body.to_string())
                }
                ("GET", ["commits", sha, "statuses"]) => {
                    let query = parse_query(&request.query);
                    let per_page = query.get("per_page").map_or(30, |v| v.parse().unwrap());
                    let page: usize = query.get("page").map_or(1, |v| v.parse().unwrap());
                    let all = state.statuses.get(*sha).cloned().unwrap_or_default();
                    let newest_first: Vec<String> = all.into_iter().rev().collect();
                    let chunk: Vec<String> = newest_first
                        .chunks(per_page)
                        .nth(page - 1)
                        .map(<[String]>::to_vec)
                        .unwrap_or_default();
                    (200, JSON, format!("[{}]", chunk.join(",")))
                }
                _ => (404, JSON, message("Not Found")),
            }
        }
        _ => (404, JSON, message("Not Found")),
    }
}

fn parse_query(query: &str) -> HashMap<&str, &str> {
    query.split('&').filter_map(|p| p.split_once('=')).collect()
}

/// Checks an app JWT as GitHub does: RS256 signed by the app's key, issued
/// by the app, valid now and for at most ten minutes.
fn is_valid_jwt(jwt: &str) -> bool {
    let Some((signed, signature)) = jwt.rsplit_once('.') else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, PUBLIC_KEY);
    if key.verify(signed.as_bytes(), &signature).is_err() {
        return false;
    }
    let decode = |part: &str| -> Option<serde_json::Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    let Some((header, claims)) = signed.split_once('.') else {
        return false;
    };
    let (Some(header), Some(claims)) = (decode(header), decode(claims)) else {
        return false;
    };
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return false;
    };
    header["alg"] == "RS256"
        && claims["iss"] == APP_ID
        && iat <= now()
        && exp > now()
        && exp - iat <= 600
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Civil date from a day count (the inverse of the client's parser).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}
