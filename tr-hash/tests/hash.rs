//! End-to-end tests of input hashing on real git repositories and plain
//! directories, through the library and the `tr-hash` binary.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use tr_common::{StateDir, TaskName};
use tr_hash::{Computed, HashError, HashInfo, Inputs};

/// A scratch work tree with its own state directory.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    state: StateDir,
}

impl Tree {
    fn plain() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("work");
        fs::create_dir(&root).unwrap();
        let state = StateDir::open(dir.path().join("state")).unwrap();
        Tree {
            _dir: dir,
            root,
            state,
        }
    }

    fn git() -> Tree {
        let tree = Tree::plain();
        tree.run_git(&["init", "-q", "-b", "main"]);
        tree
    }

    fn run_git(&self, args: &[&str]) -> Output {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&self.root)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        out
    }

    fn commit_all(&self) {
        self.run_git(&["add", "-A"]);
        self.run_git(&["commit", "-q", "-m", "x"]);
    }

    fn write(&self, rel: impl AsRef<Path>, content: &str) -> PathBuf {
        let path = self.root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        path
    }

    fn hash_in(&self, dir: &Path, paths: &[&str]) -> Result<Computed, HashError> {
        let inputs = Inputs {
            paths: paths.iter().map(OsString::from).collect(),
            ..Inputs::default()
        };
        tr_hash::compute(&inputs, dir, &self.state)
    }

    fn hash(&self, paths: &[&str]) -> Computed {
        self.hash_in(&self.root, paths).unwrap()
    }

    fn error(&self, paths: &[&str]) -> String {
        let err = self.hash_in(&self.root, paths).unwrap_err();
        tr_common::diag::chain(&err)
    }

    fn bin(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tr-hash"))
            .args(args)
            .current_dir(&self.root)
            .env("TASKRUNNER_STATE_DIRECTORY", self.state.root())
            .output()
            .unwrap()
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn unchanged_inputs_hash_the_same_and_a_content_change_does_not() {
    let tree = Tree::git();
    tree.write("src/a.rs", "fn a() {}");
    tree.write("src/b.rs", "fn b() {}");
    tree.commit_all();
    let first = tree.hash(&["src"]);
    assert_eq!(tree.hash(&["src"]), first);
    assert_eq!(first.hash.len(), 64);
    assert_eq!(first.hash_input.lines().count(), 2, "{}", first.hash_input);

    tree.write("src/a.rs", "fn a() { }");
    let changed = tree.hash(&["src"]);
    assert_ne!(changed.hash, first.hash);
    assert_eq!(first.changed_files(&changed), ["src/a.rs"]);
}

#[test]
fn executable_bit_and_symlink_target_count() {
    let tree = Tree::git();
    let script = tree.write("run.sh", "echo hi");
    symlink("run.sh", tree.root.join("link")).unwrap();
    tree.commit_all();
    let before = tree.hash(&["."]);
    assert!(before.hash_input.contains("symlink link run.sh\n"));

    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let executable = tree.hash(&["."]);
    assert_ne!(executable.hash, before.hash);
    assert!(executable.hash_input.contains("file run.sh 755 "));

    fs::remove_file(tree.root.join("link")).unwrap();
    symlink("elsewhere", tree.root.join("link")).unwrap();
    let relinked = tree.hash(&["."]);
    assert_ne!(relinked.hash, executable.hash);
    assert_eq!(executable.changed_files(&relinked), ["link"]);
}

#[test]
fn a_rename_changes_the_hash_and_order_does_not() {
    let tree = Tree::git();
    tree.write("a.txt", "same");
    tree.write("b.txt", "other");
    tree.commit_all();
    let forward = tree.hash(&["a.txt", "b.txt"]);
    let backward = tree.hash(&["b.txt", "./a.txt", "a.txt"]);
    assert_eq!(forward.hash, backward.hash);

    let reordered = |raw: &[&str]| {
        let inputs = Inputs {
            raw: raw.iter().map(OsString::from).collect(),
            ..Inputs::default()
        };
        tr_hash::compute(&inputs, &tree.root, &tree.state)
            .unwrap()
            .hash
    };
    assert_eq!(reordered(&["x", "y"]), reordered(&["y", "x"]));

    fs::rename(tree.root.join("a.txt"), tree.root.join("c.txt")).unwrap();
    let renamed = tree.hash(&["c.txt", "b.txt"]);
    assert_ne!(renamed.hash, forward.hash);
}

#[test]
fn ignored_files_are_left_out_and_untracked_ones_counted() {
    let tree = Tree::git();
    tree.write(".gitignore", "*.o\nbuild/\n");
    tree.write("src/main.c", "int main;");
    tree.commit_all();
    let base = tree.hash(&["src"]);

    tree.write("src/main.o", "object");
    tree.write("src/build/out", "object");
    assert_eq!(tree.hash(&["src"]).hash, base.hash, "ignored files");

    tree.write("src/new.c", "int x;");
    let untracked = tree.hash(&["src"]);
    assert_ne!(untracked.hash, base.hash);
    assert!(untracked.hash_input.contains("file src/new.c 644 "));
}

#[test]
fn a_file_deleted_but_still_indexed_hashes_as_deleted() {
    let tree = Tree::git();
    tree.write("keep", "k");
    tree.write("gone", "g");
    tree.commit_all();
    let before = tree.hash(&["."]);
    fs::remove_file(tree.root.join("gone")).unwrap();
    let after = tree.hash(&["."]);
    assert_ne!(after.hash, before.hash);
    assert!(
        after.hash_input.contains("deleted gone\n"),
        "{}",
        after.hash_input
    );
    assert!(tree.hash(&["gone"]).hash_input.starts_with("deleted gone"));

    tree.run_git(&["rm", "-q", "--cached", "gone"]);
    assert_eq!(
        tree.error(&["gone"]),
        "input path `gone` matches no file (missing, or ignored by git)"
    );
}

#[test]
fn a_directory_where_a_file_was() {
    let tree = Tree::git();
    tree.write("thing", "a file");
    tree.commit_all();
    fs::remove_file(tree.root.join("thing")).unwrap();
    tree.write("thing/inner", "now a directory");
    let hashed = tree.hash(&["thing"]);
    assert!(
        hashed.hash_input.contains("directory thing\n"),
        "{}",
        hashed.hash_input
    );
    assert!(hashed.hash_input.contains("file thing/inner 644 "));
}

#[test]
fn odd_names_are_quoted_and_distinct() {
    let tree = Tree::git();
    tree.write("with space.txt", "1");
    tree.write("new\nline", "2");
    let odd = OsStr::from_bytes(b"bad\xffbyte");
    fs::write(tree.root.join(odd), "3").unwrap();
    tree.commit_all();
    let hashed = tree.hash(&["."]);
    let input = &hashed.hash_input;
    assert!(input.contains("file \"with space.txt\" 644 "), "{input}");
    assert!(input.contains("file \"new\\nline\" 644 "), "{input}");
    assert!(input.contains("file \"bad\\xffbyte\" 644 "), "{input}");
    assert_eq!(input.lines().count(), 3);

    let inputs = Inputs {
        paths: vec![odd.to_owned()],
        ..Inputs::default()
    };
    tr_hash::compute(&inputs, &tree.root, &tree.state).unwrap();
}

#[test]
fn env_values_count_unset_differs_from_empty_and_never_shows() {
    let tree = Tree::plain();
    let hash_env = |name: &str| {
        let inputs = Inputs {
            env: vec![OsString::from(name)],
            ..Inputs::default()
        };
        tr_hash::compute(&inputs, &tree.root, &tree.state).unwrap()
    };
    // SAFETY: these variables are read by this test only.
    unsafe {
        std::env::set_var("TR_HASH_TEST_EMPTY", "");
        std::env::set_var("TR_HASH_TEST_SECRET", "hunter2");
    }
    let unset = hash_env("TR_HASH_TEST_NEVER_SET");
    let empty = hash_env("TR_HASH_TEST_EMPTY");
    let secret = hash_env("TR_HASH_TEST_SECRET");
    assert_eq!(unset.hash_input, "env TR_HASH_TEST_NEVER_SET unset\n");
    assert!(empty.hash_input.starts_with("env TR_HASH_TEST_EMPTY "));
    assert_ne!(empty.hash_input, "env TR_HASH_TEST_EMPTY unset\n");
    assert!(!secret.hash_input.contains("hunter2"));

    let inputs = Inputs {
        env: vec![OsString::from("A=B")],
        ..Inputs::default()
    };
    let err = tr_hash::compute(&inputs, &tree.root, &tree.state).unwrap_err();
    assert_eq!(err.to_string(), "invalid variable name `A=B` for `--env`");
}

#[test]
fn input_commands_run_in_the_directory_and_must_succeed() {
    let tree = Tree::plain();
    tree.write("version", "1.2");
    let hash_cmd = |cmd: &str| {
        let inputs = Inputs {
            input_cmds: vec![OsString::from(cmd)],
            ..Inputs::default()
        };
        tr_hash::compute(&inputs, &tree.root, &tree.state)
    };
    let first = hash_cmd("cat version").unwrap();
    tree.write("version", "1.3");
    assert_ne!(hash_cmd("cat version").unwrap().hash, first.hash);

    let err = hash_cmd("echo partial; exit 3").unwrap_err();
    assert_eq!(
        err.to_string(),
        "input command `echo partial; exit 3` failed with exit code 3"
    );
}

#[test]
fn raw_strings_with_newlines_stay_on_one_line() {
    let tree = Tree::plain();
    let inputs = Inputs {
        raw: vec![OsString::from("one\ntwo"), OsString::from("one")],
        ..Inputs::default()
    };
    let hashed = tr_hash::compute(&inputs, &tree.root, &tree.state).unwrap();
    assert_eq!(hashed.hash_input, "raw \"one\\ntwo\"\nraw one\n");
}

#[test]
fn missing_paths_and_unreadable_files_are_named() {
    let tree = Tree::git();
    let secret = tree.write("secret", "s");
    tree.commit_all();
    assert_eq!(
        tree.error(&["secret", "nowhere/x"]),
        "input path `nowhere/x` matches no file (missing, or ignored by git)"
    );

    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    if is_root() {
        eprintln!("running as root, where mode 000 does not stop reads: skipping that check");
        return;
    }
    let message = tree.error(&["secret"]);
    assert!(message.starts_with("cannot read `"), "{message}");
    assert!(message.contains("secret`: Permission denied"), "{message}");
}

#[test]
fn globs_go_to_git_and_other_paths_are_literal() {
    let tree = Tree::git();
    tree.write("a.txt", "a");
    tree.write("sub/b.txt", "b");
    tree.write("c.md", "c");
    tree.write("x[1].txt", "literal");
    tree.write("x1.txt", "would match the glob");
    tree.commit_all();

    let glob = tree.hash(&["*.txt"]);
    assert!(
        glob.hash_input.contains("file sub/b.txt "),
        "git's `*` spans `/`"
    );
    assert!(!glob.hash_input.contains("c.md"));
    let literal = tree
        .hash_in(&tree.root.join("sub"), &["../x[1].txt"])
        .unwrap();
    assert_eq!(
        literal.hash_input.lines().count(),
        1,
        "{}",
        literal.hash_input
    );
    let exclude = tree.hash(&[":(exclude)*.txt"]);
    assert!(
        exclude.hash_input.starts_with("file c.md "),
        "{}",
        exclude.hash_input
    );
    assert_eq!(
        tree.error(&["*.none"]),
        "input path `*.none` matches no file (missing, or ignored by git)"
    );
}

#[test]
fn unmerged_paths_hash_their_work_tree_content_once() {
    let tree = Tree::git();
    tree.write("f", "base\n");
    tree.commit_all();
    tree.run_git(&["checkout", "-q", "-b", "other"]);
    tree.write("f", "other\n");
    tree.commit_all();
    tree.run_git(&["checkout", "-q", "main"]);
    tree.write("f", "mine\n");
    tree.commit_all();
    let merge = Command::new("git")
        .args(["merge", "-q", "other"])
        .current_dir(&tree.root)
        .output()
        .unwrap();
    assert!(!merge.status.success(), "the merge conflicts");

    let hashed = tree.hash(&["f"]);
    assert_eq!(
        hashed.hash_input.lines().count(),
        1,
        "{}",
        hashed.hash_input
    );
    tree.write("f", "resolved\n");
    assert_ne!(tree.hash(&["f"]).hash, hashed.hash);
}

#[test]
fn outside_git_the_file_system_is_read() {
    let tree = Tree::plain();
    tree.write("dir/a", "a");
    tree.write("dir/deep/b.o", "not ignored here");
    let hashed = tree.hash(&["dir"]);
    assert!(hashed.hash_input.contains("file dir/a 644 "));
    assert!(hashed.hash_input.contains("file dir/deep/b.o 644 "));
    let from_inside = tree.hash_in(&tree.root.join("dir"), &["."]).unwrap();
    assert!(from_inside.hash_input.contains("file deep/b.o 644 "));

    // A repository met on the way is read as plain files, but for its
    // `.git`.
    tree.write("dir/repo/.git/HEAD", "ref: refs/heads/main");
    tree.write("dir/repo/x", "x");
    let with_repo = tree.hash(&["dir"]);
    assert!(with_repo.hash_input.contains("file dir/repo/x 644 "));
    assert!(
        !with_repo.hash_input.contains(".git"),
        "{}",
        with_repo.hash_input
    );
    assert_eq!(
        tree.error(&["nothing"]),
        "input path `nothing` matches no file (missing, or ignored by git)"
    );
}

#[test]
fn a_same_size_rewrite_that_keeps_the_mtime_is_seen() {
    let tree = Tree::plain();
    let file = tree.write("f", "aaaa");
    let old = fs::metadata(&file).unwrap().modified().unwrap();
    let first = tree.hash(&["f"]);
    fs::write(&file, "bbbb").unwrap();
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert_ne!(tree.hash(&["f"]).hash, first.hash);
}

#[test]
fn the_cached_file_list_notices_new_files_and_rule_changes() {
    let tree = Tree::git();
    tree.write("src/a", "a");
    tree.write(".gitignore", "");
    tree.commit_all();
    // Let the directories' stamps age past the racy window, so that the
    // list is cached.
    std::thread::sleep(Duration::from_millis(60));
    let first = tree.hash(&["src"]);
    assert_eq!(tree.hash(&["src"]), first);

    // A warm run needs no git at all.
    let warm = Command::new(env!("CARGO_BIN_EXE_tr-hash"))
        .arg("src")
        .current_dir(&tree.root)
        .env("TASKRUNNER_STATE_DIRECTORY", tree.state.root())
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(warm.status.success(), "{warm:?}");
    assert_eq!(String::from_utf8_lossy(&warm.stdout).trim(), first.hash);

    tree.write("src/deeper/new", "n");
    let added = tree.hash(&["src"]);
    assert!(added.hash_input.contains("file src/deeper/new "));

    std::thread::sleep(Duration::from_millis(60));
    tree.hash(&["src"]);
    tree.write(".gitignore", "new\n");
    let ignored = tree.hash(&["src"]);
    assert!(
        !ignored.hash_input.contains("src/deeper/new"),
        "{}",
        ignored.hash_input
    );
}

#[test]
fn rehash_after_a_run_names_the_files_the_task_changed() {
    let tree = Tree::git();
    tree.write("in/a", "a");
    tree.write("in/b", "b");
    tree.commit_all();
    let inputs = Inputs {
        paths: vec!["in".into()],
        input_cmds: vec!["echo once >> ../count".into()],
        ..Inputs::default()
    };
    let before = tr_hash::compute(&inputs, &tree.root, &tree.state).unwrap();
    assert!(
        before
            .changed_files(&before.rehash_files(&tree.state).unwrap())
            .is_empty()
    );

    tree.write("in/b", "changed by the task");
    tree.write("in/c", "made by the task");
    let after = before.rehash_files(&tree.state).unwrap();
    assert_eq!(before.changed_files(&after), ["in/b", "in/c"]);
    let count = fs::read_to_string(tree.root.parent().unwrap().join("count")).unwrap();
    assert_eq!(count.lines().count(), 1, "input commands are not run again");
}

#[test]
fn huge_files_are_streamed() {
    let tree = Tree::plain();
    let file = fs::File::create(tree.root.join("big")).unwrap();
    file.set_len(64 << 20).unwrap();
    let first = tree.hash(&["big"]);
    file.set_len((64 << 20) + 1).unwrap();
    assert_ne!(tree.hash(&["big"]).hash, first.hash);
}

#[test]
fn cli_prints_checks_and_explains() {
    let tree = Tree::git();
    tree.write("src/a", "a");
    tree.commit_all();

    let printed = tree.bin(&["src", "--raw", "-v1"]);
    assert!(printed.status.success(), "{printed:?}");
    let hash = String::from_utf8(printed.stdout).unwrap().trim().to_owned();
    let explained = tree.bin(&["--explain", "src", "--raw", "-v1"]);
    let input = String::from_utf8(explained.stdout).unwrap();
    assert_eq!(input.lines().nth(1), Some("raw -v1"), "{input}");

    let check = |args: &[&str]| tree.bin(&[&["--job", "build", "--check"], args].concat());
    assert_eq!(check(&["src"]).status.code(), Some(1), "nothing saved yet");
    let name = TaskName::new(OsStr::new("build")).unwrap();
    let info = HashInfo {
        hash: hash.clone(),
        hash_input: input,
        main_branch_commit: None,
    };
    tr_hash::save(&tree.state, &name, &info).unwrap();
    assert_eq!(check(&["src", "--raw", "-v1"]).status.code(), Some(0));
    assert_eq!(check(&["--raw", "-v1", "src"]).status.code(), Some(0));

    tree.write("src/a", "changed");
    assert_eq!(check(&["src", "--raw", "-v1"]).status.code(), Some(1));
    let diff = tree.bin(&["--job", "build", "--explain", "src", "--raw", "-v1"]);
    let diff = String::from_utf8(diff.stdout).unwrap();
    let lines: Vec<&str> = diff.lines().collect();
    assert_eq!(lines.len(), 2, "{diff}");
    assert!(lines[0].starts_with("- file src/a 644 "));
    assert!(lines[1].starts_with("+ file src/a 644 "));
}

#[test]
fn cli_errors_are_one_line_with_usage_status() {
    let tree = Tree::plain();
    for (args, needle) in [
        (
            &["missing"][..],
            "tr-hash: error: input path `missing` matches no file",
        ),
        (&[][..], "tr-hash: error: nothing to hash"),
        (&["--input-cmd", "exit 4"][..], "exit code 4"),
        (
            &["--raw", "x", "--job", "a/b", "--check"][..],
            "invalid task name `a/b`",
        ),
    ] {
        let out = tree.bin(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let out = tree.bin(&["--raw", "x", "--job", "j"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--job needs --check or --explain"
    );
    assert!(tree.bin(&["--version"]).status.success());
}

#[test]
fn many_files_are_examined_in_parallel_in_a_stable_order() {
    let tree = Tree::git();
    for i in 0..700 {
        tree.write(format!("many/d{}/f{i}", i % 7), &format!("content {i}"));
    }
    tree.commit_all();
    let first = tree.hash(&["many"]);
    assert_eq!(first.hash_input.lines().count(), 700);
    let mut sorted: Vec<&str> = first.hash_input.lines().collect();
    sorted.sort_unstable();
    assert_eq!(sorted.join("\n") + "\n", first.hash_input);

    tree.write("many/d3/f500", "edited");
    let again = tree.hash(&["many"]);
    assert_eq!(first.changed_files(&again), ["many/d3/f500"]);
    assert_eq!(tree.hash(&["many"]), again);
}

#[test]
fn the_cached_file_list_watches_directories_of_ignored_files() {
    let tree = Tree::git();
    tree.write(".gitignore", "*.o\nbuild/\n");
    tree.write("src/main.c", "m");
    tree.write("src/objs/a.o", "only ignored files here");
    tree.write("src/build/deep/x", "ignored as a whole");
    tree.commit_all();
    std::thread::sleep(Duration::from_millis(60));
    let first = tree.hash(&["src"]);
    assert_eq!(first.hash_input.lines().count(), 1, "{}", first.hash_input);
    assert_eq!(tree.hash(&["src"]), first);

    tree.write("src/build/deep/y", "still ignored");
    assert_eq!(tree.hash(&["src"]).hash, first.hash);
    tree.write("src/objs/new.c", "counts");
    let added = tree.hash(&["src"]);
    assert!(
        added.hash_input.contains("file src/objs/new.c "),
        "{}",
        added.hash_input
    );
}

#[test]
fn git_variables_are_honoured() {
    let tree = Tree::git();
    tree.write("src/a", "a");
    tree.commit_all();
    std::thread::sleep(Duration::from_millis(60));
    let expected = tree.hash(&["src"]).hash;
    let run = |vars: &[(&str, &OsStr)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tr-hash"))
            .arg("src")
            .current_dir(&tree.root)
            .env("TASKRUNNER_STATE_DIRECTORY", tree.state.root())
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        assert!(out.status.success(), "{vars:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };

    let git_dir = tree.root.join(".git");
    assert_eq!(run(&[("GIT_DIR", git_dir.as_os_str())]), expected);

    // Configuration variables do not stop the list from being cached.
    let nosystem = [("GIT_CONFIG_NOSYSTEM", OsStr::new("1"))];
    assert_eq!(run(&nosystem), expected);
    let without_git = [nosystem[0], ("PATH", OsStr::new("/nonexistent"))];
    assert_eq!(run(&without_git), expected);
}
