//! The runtime (`runtime/`): the schema-independent files every generated crate copies. They are real source,
//! so they are checked here as source is: formatted by rustfmt, free of clippy warnings, documented, and passing
//! their own tests, once, in the runtime crate (which the fixture schema `runtime/schema.yaml` completes with
//! generated glue, kept up to date).

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::cargo;
use ssot_gen::render::runtime;

fn runtime_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime")
}

fn fixture() -> (ssot_gen::Graph, ssot_gen::Generated) {
    let text = std::fs::read_to_string(runtime_dir().join("schema.yaml")).unwrap();
    let graph = ssot_gen::load("runtime/schema.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    // With the folder's migration history, as `ssot-gen generate` sees it.
    let options = ssot_gen::Options {
        history: ssot_gen::output::read_history(&runtime_dir()).unwrap(),
        ..ssot_gen::Options::default()
    };
    let generated = ssot_gen::generate(&graph, &options).unwrap_or_else(|e| panic!("{e}"));
    (graph, generated)
}

#[test]
fn the_fixture_glue_is_up_to_date() {
    let (graph, generated) = fixture();
    let changes = ssot_gen::output::compare(
        &ssot_gen::without_runtime(generated, &graph),
        &runtime_dir(),
    )
    .unwrap();
    let paths: Vec<&str> = changes.iter().map(|c| c.path()).collect();
    assert!(
        changes.is_empty(),
        "the runtime's glue differs from what the generator makes of runtime/schema.yaml: {paths:?}; \
         run `cargo run -- generate runtime/schema.yaml -o runtime` (it leaves the runtime's own files alone)"
    );
}

/// Every file in the runtime's source folders is either a runtime file the generator copies, generated glue,
/// or a hook the user owns: a new runtime file that is not registered would silently be missing from every
/// generated crate.
#[test]
fn every_runtime_file_is_registered() {
    let (_, generated) = fixture();
    let known: BTreeSet<String> = generated
        .files
        .keys()
        .chain(generated.user_files.keys())
        .cloned()
        .collect();
    let mut unknown = Vec::new();
    for folder in ["src", "admin", "clients"] {
        let mut pending = vec![runtime_dir().join(folder)];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let relative = path
                    .strip_prefix(runtime_dir())
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                if !known.contains(&relative) {
                    unknown.push(relative);
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "files in runtime/ that no generated crate gets: {unknown:?}; list them in src/render/runtime.rs"
    );
    for file in runtime::FILES {
        assert!(
            runtime_dir().join(file.path).is_file(),
            "{} is listed in src/render/runtime.rs but is not in runtime/",
            file.path
        );
    }
}

/// The runtime's Rust is laid out by rustfmt (its default settings), as hand-written Rust is. Formatted one file
/// at a time through stdin, so that the generated glue next to it (printed by prettyplease) is not checked.
#[test]
fn runtime_files_are_formatted_by_rustfmt() {
    let mut unformatted = Vec::new();
    for file in runtime::FILES.iter().filter(|f| f.path.ends_with(".rs")) {
        let mut rustfmt = Command::new("rustfmt")
            .args(["--edition", "2021", "--emit", "stdout"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rustfmt runs (rustup component add rustfmt)");
        rustfmt
            .stdin
            .take()
            .unwrap()
            .write_all(file.source.as_bytes())
            .unwrap();
        let output = rustfmt.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "rustfmt failed on runtime/{}: {}",
            file.path,
            String::from_utf8_lossy(&output.stderr)
        );
        if output.stdout != file.source.as_bytes() {
            unformatted.push(file.path);
        }
    }
    assert!(
        unformatted.is_empty(),
        "not formatted by rustfmt: {unformatted:?}; run `rustfmt --edition 2021` on them"
    );
}

/// Clippy with warnings denied, rustdoc without warnings, and the runtime's own unit and integration tests, with
/// every feature: once here, rather than once per generated crate.
#[test]
fn runtime_passes_clippy_rustdoc_and_its_tests() {
    let dir = runtime_dir();
    common::lint(&dir);
    let out = cargo(&dir, &["test", "--quiet", "--all-features"]);
    assert!(out.contains("test result: ok."), "{out}");
}
