//! Insta snapshots of every rendered file for every example schema, kept under `snapshots/`. A template change
//! shows up here as a reviewable diff; `INSTA_UPDATE=always cargo test --test snapshots` accepts it. The runtime's
//! files are copied as they are (they are their own source, checked by `tests/runtime.rs`), so they have none.

mod common;

use std::collections::BTreeSet;

use common::{generate_example, EXAMPLES};

const SNAPSHOT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots");

fn snapshot_name(example: &str, path: &str) -> String {
    format!(
        "{example}__{}",
        path.trim_start_matches('.').replace('/', "__")
    )
}

/// The generated files that templates render (and the manifest, OpenAPI document and admin JSON built in code).
fn rendered(generated: &ssot_gen::Generated) -> impl Iterator<Item = (&String, &String)> {
    generated
        .files
        .iter()
        .chain(&generated.user_files)
        .filter(|(path, _)| ssot_gen::render::runtime::file(path).is_none())
}

#[test]
fn every_generated_file_matches_its_snapshot() {
    for example in EXAMPLES {
        let generated = generate_example(example);
        insta::with_settings!({ snapshot_path => SNAPSHOT_DIR, prepend_module_to_snapshot => false, omit_expression => true }, {
            for (path, contents) in rendered(&generated) {
                insta::assert_snapshot!(snapshot_name(example, path), contents);
            }
        });
    }
}

/// A snapshot whose file is no longer generated would otherwise linger unnoticed.
#[test]
fn no_snapshot_is_orphaned() {
    let expected: BTreeSet<String> = EXAMPLES
        .iter()
        .flat_map(|example| {
            let generated = generate_example(example);
            let paths: Vec<String> = rendered(&generated).map(|(path, _)| path.clone()).collect();
            paths
                .into_iter()
                .map(move |path| format!("{}.snap", snapshot_name(example, &path)))
        })
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(SNAPSHOT_DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".snap"))
        .collect();
    let orphaned: Vec<&String> = present.difference(&expected).collect();
    assert!(
        orphaned.is_empty(),
        "snapshots of files no longer generated (delete them): {orphaned:?}"
    );
}
