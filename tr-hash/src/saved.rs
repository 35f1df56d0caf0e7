//! The saved hash of a task's last success, `hash/NAME.hash`.
//!
//! The JSON shape is the old runner's, so state directories carry over:
//! `{"hash":…,"hashInput":…,"mainBranchCommit":null|"…"}`. A missing,
//! unreadable, corrupt or foreign file means "no saved hash": the task
//! runs, which is always safe.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tr_common::{StateDir, TaskName};

use crate::HashError;

/// What is saved for a task after it succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashInfo {
    /// The hash of the inputs.
    pub hash: String,
    /// The text that was hashed, for `--explain`.
    #[serde(rename = "hashInput", default)]
    pub hash_input: String,
    /// The main branch's commit when the hash was saved (fuzzy cache).
    #[serde(rename = "mainBranchCommit", default)]
    pub main_branch_commit: Option<String>,
}

/// The outcome of looking for a saved hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// A saved hash was found.
    Saved(HashInfo),
    /// There is none to use; the text says why, for a debug line.
    Absent(String),
}

impl Loaded {
    /// The saved hash, if there is one.
    pub fn info(&self) -> Option<&HashInfo> {
        match self {
            Loaded::Saved(info) => Some(info),
            Loaded::Absent(_) => None,
        }
    }
}

/// Where the saved hash of `name` lives; creates `hash/` when missing.
pub fn hash_file(state: &StateDir, name: &TaskName) -> Result<PathBuf, HashError> {
    Ok(state.dir("hash")?.join(format!("{name}.hash")))
}

/// Reads the saved hash of `name`; never fails, see [`Loaded::Absent`].
pub fn load(state: &StateDir, name: &TaskName) -> Loaded {
    let path = match hash_file(state, name) {
        Ok(path) => path,
        Err(err) => return Loaded::Absent(tr_common::diag::chain(&err)),
    };
    let shown = path.display();
    match tr_common::state::read_optional(&path) {
        Ok(None) => Loaded::Absent(format!("no saved hash: `{shown}` does not exist")),
        Err(err) => Loaded::Absent(format!("no saved hash: cannot read `{shown}`: {err}")),
        Ok(Some(bytes)) => match serde_json::from_slice::<HashInfo>(&bytes) {
            Ok(info) => Loaded::Saved(info),
            Err(err) => Loaded::Absent(format!("no saved hash: `{shown}` is not valid: {err}")),
        },
    }
}

/// Saves `info` for `name`, replacing the old file atomically.
pub fn save(state: &StateDir, name: &TaskName, info: &HashInfo) -> Result<(), HashError> {
    let path = hash_file(state, name)?;
    let json = serde_json::to_vec(info).expect("a struct of strings always serializes");
    tr_common::state::write_atomic(&path, &json).map_err(|source| HashError::Save {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn setup() -> (tempfile::TempDir, StateDir, TaskName) {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path().join("state")).unwrap();
        (dir, state, TaskName::new(OsStr::new("build")).unwrap())
    }

    #[test]
    fn saves_and_loads_the_old_runners_shape() {
        let (_dir, state, name) = setup();
        let info = HashInfo {
            hash: "abc".into(),
            hash_input: "raw x\n".into(),
            main_branch_commit: None,
        };
        save(&state, &name, &info).unwrap();
        let text = std::fs::read_to_string(hash_file(&state, &name).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"hash":"abc","hashInput":"raw x\n","mainBranchCommit":null}"#
        );
        assert_eq!(load(&state, &name), Loaded::Saved(info));
    }

    #[test]
    fn missing_corrupt_and_foreign_files_are_absent() {
        let (_dir, state, name) = setup();
        let Loaded::Absent(why) = load(&state, &name) else {
            panic!("nothing saved yet");
        };
        assert!(why.contains("does not exist"), "{why}");

        let path = hash_file(&state, &name).unwrap();
        for junk in [&b"{\"hash\":"[..], b"\xff\xfe", b"[1,2]", b"{\"other\":1}"] {
            std::fs::write(&path, junk).unwrap();
            let loaded = load(&state, &name);
            assert!(matches!(&loaded, Loaded::Absent(why) if why.contains("not valid")));
        }
    }
}
