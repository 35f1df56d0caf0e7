//! The inputs of a task, and the hash-input lines of those that are not
//! files.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::HashError;
use crate::quote;

/// The inputs of a task, as given to `snapshot` or `tr-hash`.
///
/// Their order does not matter: the same inputs in another order give
/// the same hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Git pathspecs (or plain paths outside a work tree), relative to the
    /// working directory.
    pub paths: Vec<OsString>,
    /// Strings that are inputs themselves (`--raw`).
    pub raw: Vec<OsString>,
    /// Names of environment variables whose values are inputs (`--env`).
    pub env: Vec<OsString>,
    /// Commands whose standard output is an input (`--input-cmd`), run with
    /// `bash -c` in the working directory.
    pub input_cmds: Vec<OsString>,
}

impl Inputs {
    /// Whether there is nothing to hash at all.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
            && self.raw.is_empty()
            && self.env.is_empty()
            && self.input_cmds.is_empty()
    }
}

/// Keeps secrets out of the hash input: a variable's value appears only
/// as a BLAKE3 digest in this context of its own, which still changes
/// whenever the value does. It is the same on every machine, so that
/// hashes (and cache archive names) agree across machines.
const ENV_CONTEXT: &str = "taskrunner tr-hash 2026 environment variable value";

/// The lines for `--raw`, `--env` and `--input-cmd`:
/// `raw TEXT`, `env NAME DIGEST` or `env NAME unset`, and
/// `input-cmd COMMAND DIGEST` where DIGEST is that of its output.
pub fn other_lines(inputs: &Inputs, cwd: &Path) -> Result<Vec<String>, HashError> {
    let mut lines = Vec::new();
    for text in &inputs.raw {
        lines.push(format!("raw {}", quote::field(text.as_bytes())));
    }
    for name in &inputs.env {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.contains(&b'=') {
            return Err(HashError::EnvName {
                name: name.to_string_lossy().into_owned(),
            });
        }
        let value = match std::env::var_os(name) {
            Some(value) => blake3::Hasher::new_derive_key(ENV_CONTEXT)
                .update(value.as_bytes())
                .finalize()
                .to_hex()
                .to_string(),
            None => "unset".to_owned(),
        };
        lines.push(format!("env {} {value}", quote::field(bytes)));
    }
    for cmd in &inputs.input_cmds {
        let output = run_input_cmd(cmd, cwd)?;
        let digest = blake3::hash(&output);
        lines.push(format!(
            "input-cmd {} {}",
            quote::field(cmd.as_bytes()),
            digest.to_hex()
        ));
    }
    Ok(lines)
}

/// The standard output of `bash -c CMD` run in `cwd`; its standard error
/// goes where ours does, so the user sees why it failed.
fn run_input_cmd(cmd: &OsString, cwd: &Path) -> Result<Vec<u8>, HashError> {
    let shown = || cmd.to_string_lossy().into_owned();
    let output = Command::new("bash")
        .arg("-c")
        .arg(cmd)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| HashError::InputCmdSpawn {
            cmd: shown(),
            source,
        })?;
    if !output.status.success() {
        return Err(HashError::InputCmd {
            cmd: shown(),
            code: tr_common::exit::code_of(output.status),
        });
    }
    Ok(output.stdout)
}
