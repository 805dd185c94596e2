//! Insta snapshots of every generated file for every example schema, kept under `snapshots/`. A template change
//! shows up here as a reviewable diff; `INSTA_UPDATE=always cargo test --test snapshots` accepts it.

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

#[test]
fn every_generated_file_matches_its_snapshot() {
    for example in EXAMPLES {
        let generated = generate_example(example);
        insta::with_settings!({ snapshot_path => SNAPSHOT_DIR, prepend_module_to_snapshot => false, omit_expression => true }, {
            for (path, contents) in generated.files.iter().chain(&generated.user_files) {
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
            let paths: Vec<String> = generated
                .files
                .into_keys()
                .chain(generated.user_files.into_keys())
                .collect();
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
