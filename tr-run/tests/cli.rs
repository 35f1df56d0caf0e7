//! The binary's own surface; the end-to-end behaviour is tested in the
//! workspace's `tests` crate.

use std::process::Command;

#[test]
fn version_names_the_tool() {
    let out = Command::new(env!("CARGO_BIN_EXE_tr-run"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("tr-run {}\n", env!("CARGO_PKG_VERSION"))
    );
}
