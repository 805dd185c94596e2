//! Shared by the integration tests: example schemas and building generated crates in one shared target dir.
#![allow(dead_code)] // each test binary uses a different part

pub mod pg;
pub mod sqlite;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The example schemas under `schemas/examples/`, by name.
pub const EXAMPLES: &[&str] = &["chat", "kitchen-sink", "starter"];

/// The edge schemas under `schemas/edge/`, by name: valid schemas at the limits (keyword names, read-only models,
/// self references, no models, no references).
pub const EDGES: &[&str] = &["edge-cases", "no-models", "no-references"];

pub fn edge_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas/edge")
        .join(format!("{name}.yaml"))
}

/// Every committed schema (examples and edges) with its path.
pub fn all_schemas() -> Vec<(String, PathBuf)> {
    let examples = EXAMPLES.iter().map(|n| (n.to_string(), example_path(n)));
    let edges = EDGES.iter().map(|n| (n.to_string(), edge_path(n)));
    examples.chain(edges).collect()
}

/// Generates the crate of the schema at `path`.
pub fn generate_path(path: &Path) -> ssot_gen::Generated {
    let text = std::fs::read_to_string(path).unwrap();
    ssot_gen::generate_from_str(
        &path.display().to_string(),
        &text,
        &ssot_gen::Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

pub fn example_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas/examples")
        .join(format!("{name}.yaml"))
}

pub fn example_text(name: &str) -> String {
    std::fs::read_to_string(example_path(name)).unwrap()
}

/// The example generated as `ssot-gen generate` does it: an example with a committed crate (`examples/<name>`)
/// continues that crate's migration history, so that tests run the migrations a deployment would.
pub fn generate_example(name: &str) -> ssot_gen::Generated {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    let options = ssot_gen::Options {
        history: ssot_gen::output::read_history(&committed).unwrap(),
        ..ssot_gen::Options::default()
    };
    ssot_gen::generate_from_str(&format!("{name}.yaml"), &example_text(name), &options)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// One target dir for every generated crate built by the tests, so their dependencies compile once.
/// `SSOT_GEN_TEST_TARGET_DIR` moves it, e.g. to share it between several work trees of this repository.
pub fn shared_target_dir() -> PathBuf {
    match std::env::var_os("SSOT_GEN_TEST_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated-crates"),
    }
}

/// Runs `cargo <args>` in `dir` with the shared target dir and warnings denied; panics with the output on failure.
pub fn cargo(dir: &Path, args: &[&str]) -> String {
    cargo_with_env(dir, args, &[])
}

/// `cargo` with extra environment variables for what it runs.
pub fn cargo_with_env(dir: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> String {
    // Every generated crate builds with the runtime's locked versions: the dependencies compile once for all of
    // them, and a new release of a dependency cannot break the tests between two runs.
    let lock = dir.join("Cargo.lock");
    if !lock.exists() {
        std::fs::copy(runtime_lock(), &lock).expect("copying runtime/Cargo.lock");
    }
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

/// Whether a test can have what it needs from the machine (`ready`: `Err` says what is missing). CI (`CI=true`) must
/// have it: there, a missing tool fails the test. Elsewhere the test `what` is skipped, loudly.
pub fn available_or_skip(what: &str, ready: Result<(), String>) -> bool {
    match ready {
        Ok(()) => true,
        Err(missing) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{what} must run in CI: {missing}"
            );
            eprintln!("SKIPPED {what}: {missing}");
            false
        }
    }
}

/// Clippy on every target and feature with warnings denied, then rustdoc with warnings denied, in the crate at
/// `dir`.
pub fn lint(dir: &Path) {
    cargo(
        dir,
        &[
            "clippy",
            "--quiet",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
    );
    cargo_with_env(
        dir,
        &["doc", "--quiet", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings".as_ref())],
    );
}

/// The lock file of the runtime crate, which the tests' generated crates share.
pub fn runtime_lock() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/Cargo.lock")
}

/// Path of the built `ssot-gen` binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ssot-gen"))
}
