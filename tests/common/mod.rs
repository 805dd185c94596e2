//! Shared by the integration tests: example schemas and building generated crates in one shared target dir.
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::Command;

/// The example schemas under `schemas/examples/`, by name.
pub const EXAMPLES: &[&str] = &["chat", "kitchen-sink", "starter"];

pub fn example_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas/examples")
        .join(format!("{name}.yaml"))
}

pub fn example_text(name: &str) -> String {
    std::fs::read_to_string(example_path(name)).unwrap()
}

pub fn generate_example(name: &str) -> ssot_gen::Generated {
    ssot_gen::generate_from_str(
        &format!("{name}.yaml"),
        &example_text(name),
        &ssot_gen::Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// One target dir for every generated crate built by the tests, so their dependencies compile once.
pub fn shared_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated-crates")
}

/// Runs `cargo <args>` in `dir` with the shared target dir and warnings denied; panics with the output on failure.
pub fn cargo(dir: &Path, args: &[&str]) -> String {
    cargo_with_env(dir, args, &[])
}

/// `cargo` with extra environment variables for what it runs.
pub fn cargo_with_env(dir: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> String {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .env("RUSTFLAGS", "-D warnings")
        .envs(env.iter().copied())
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .expect("cargo runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "cargo {args:?} failed in {}:\n{text}",
        dir.display()
    );
    text
}

/// Path of the built `ssot-gen` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ssot-gen"))
}
