//! Links the `tr-run` binary as a position-dependent executable on Linux.
//!
//! tr-run starts once per task, so its start-up is on every build's no-op
//! path. As a PIE, the dynamic loader applies some 33,000 relative
//! relocations (most from the AWS SDK) before `main`, writing to about 130
//! pages; linked without PIE they are resolved at link time, which saves
//! about 0.3 ms per start (`bench/run/RESULTS.md`). The shared libraries
//! are still placed at random addresses.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}
