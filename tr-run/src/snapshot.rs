//! The `snapshot` function: its shell source and its flags.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// The name of the exported shell function.
pub const FUNCTION_VAR: &str = "BASH_FUNC_snapshot%%";

/// The function definition as bash expects it in [`FUNCTION_VAR`].
pub fn function_definition() -> String {
    format!("() {{\n{}}}", include_str!("snapshot.sh"))
}

/// What a task declared with `snapshot`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SnapshotArgs {
    /// Input paths (git pathspecs relative to the task's directory).
    pub paths: Vec<OsString>,
    /// `--raw` strings.
    pub raw: Vec<OsString>,
    /// `--env` variable names.
    pub env: Vec<OsString>,
    /// `--input-cmd` commands.
    pub input_cmds: Vec<OsString>,
    /// Output paths, after `--outputs`.
    pub outputs: Vec<OsString>,
    /// Post-unpack commands, `--cmd` after `--outputs`.
    pub post_unpack_cmds: Vec<OsString>,
    /// `--cache-success`.
    pub cache_success: bool,
    /// `--fuzzy-cache`.
    pub fuzzy_cache: bool,
    /// `--cache-root`.
    pub cache_root: Option<OsString>,
    /// `--cache-version`.
    pub cache_version: Option<OsString>,
    /// `--commit-status`.
    pub commit_status: bool,
}

impl SnapshotArgs {
    /// Whether the task declared any input at all.
    pub fn has_inputs(&self) -> bool {
        !(self.paths.is_empty()
            && self.raw.is_empty()
            && self.env.is_empty()
            && self.input_cmds.is_empty())
    }

    /// Parses the words after `snapshot`. The error is the text that
    /// follows `snapshot: ` in the task's error line.
    pub fn parse(words: Vec<Vec<u8>>) -> Result<SnapshotArgs, String> {
        let mut args = SnapshotArgs::default();
        let mut after_outputs = false;
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            match word.as_slice() {
                b"-o" | b"--outputs" => after_outputs = true,
                b"-c" | b"--cmd" if !after_outputs => {
                    return Err("--cmd is supported only after --outputs".to_owned());
                }
                b"-c" | b"--cmd" => args.post_unpack_cmds.push(take(&mut words, &word)?),
                b"--raw" => args.raw.push(take(&mut words, &word)?),
                b"--env" => args.env.push(take(&mut words, &word)?),
                b"--input-cmd" => args.input_cmds.push(take(&mut words, &word)?),
                b"--cache-root" => args.cache_root = Some(take(&mut words, &word)?),
                b"--cache-version" => args.cache_version = Some(take(&mut words, &word)?),
                b"--cache-success" => args.cache_success = true,
                b"--fuzzy-cache" => args.fuzzy_cache = true,
                b"--commit-status" => args.commit_status = true,
                // Kept so that old scripts keep working; they change nothing.
                b"-l" | b"--long-running" | b"-n" | b"--unskippable" => {}
                [b'-', ..] => return Err(invalid(&word)),
                _ if after_outputs => args.outputs.push(OsString::from_vec(word)),
                _ => args.paths.push(OsString::from_vec(word)),
            }
        }
        Ok(args)
    }
}

fn take(words: &mut impl Iterator<Item = Vec<u8>>, option: &[u8]) -> Result<OsString, String> {
    words
        .next()
        .map(OsString::from_vec)
        .ok_or_else(|| invalid(option))
}

fn invalid(option: &[u8]) -> String {
    format!(
        "Invalid option or missing argument: {}",
        String::from_utf8_lossy(option)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<SnapshotArgs, String> {
        SnapshotArgs::parse(words.iter().map(|w| w.as_bytes().to_vec()).collect())
    }

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn reads_inputs_outputs_and_options() {
        let args = parse(&[
            "src",
            "--raw",
            "v1",
            "-l",
            "--env",
            "CC",
            "--input-cmd",
            "uname",
            "Cargo.toml",
            "--cache-version",
            "3",
            "--fuzzy-cache",
            "-o",
            "out",
            "-c",
            "touch x",
            "dist",
            "--commit-status",
            "--cache-root",
            "..",
            "-n",
            "--cache-success",
        ])
        .unwrap();
        assert_eq!(args.paths, os(&["src", "Cargo.toml"]));
        assert_eq!(args.raw, os(&["v1"]));
        assert_eq!(args.env, os(&["CC"]));
        assert_eq!(args.input_cmds, os(&["uname"]));
        assert_eq!(args.outputs, os(&["out", "dist"]));
        assert_eq!(args.post_unpack_cmds, os(&["touch x"]));
        assert_eq!(args.cache_version, Some("3".into()));
        assert_eq!(args.cache_root, Some("..".into()));
        assert!(args.fuzzy_cache && args.commit_status && args.cache_success);
        assert!(args.has_inputs());
    }

    #[test]
    fn no_inputs_at_all() {
        let args = parse(&["--outputs", "out"]).unwrap();
        assert!(!args.has_inputs());
        assert_eq!(parse(&[]).unwrap(), SnapshotArgs::default());
    }

    #[test]
    fn rejects_unknown_options_and_missing_arguments() {
        let invalid = |w: &[&str]| parse(w).unwrap_err();
        assert_eq!(
            invalid(&["--bogus"]),
            "Invalid option or missing argument: --bogus"
        );
        assert_eq!(
            invalid(&["src", "--raw"]),
            "Invalid option or missing argument: --raw"
        );
        assert_eq!(invalid(&["-"]), "Invalid option or missing argument: -");
        assert_eq!(
            invalid(&["--cache-root"]),
            "Invalid option or missing argument: --cache-root"
        );
        assert_eq!(
            invalid(&["--cmd", "x"]),
            "--cmd is supported only after --outputs"
        );
        assert_eq!(
            invalid(&["-o", "-c"]),
            "Invalid option or missing argument: -c"
        );
    }

    #[test]
    fn the_function_definition_is_a_bash_function() {
        let def = function_definition();
        assert!(def.starts_with("() {\n") && def.ends_with("}"));
    }
}
