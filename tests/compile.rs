//! Every generated crate passes clippy with warnings denied and builds its documentation without warnings, for the
//! example schemas and for the edge schemas under `schemas/edge/` (read-only models, keyword and standard names,
//! self references, no models at all, ...); its types behave on the wire as the schema says (a test file from
//! `tests/fixtures/` is dropped into the generated crate and run there); and a client-only build pulls in no
//! server dependency. All generated crates share one target dir so their dependencies compile once.

mod common;

use std::path::Path;

use common::{cargo, EDGES, EXAMPLES};

/// Wire-format tests to run inside a generated crate, by schema.
fn wire_test(schema: &str) -> Option<&'static str> {
    match schema {
        "kitchen-sink" => Some(include_str!("fixtures/kitchen_sink_wire.rs")),
        _ => None,
    }
}

fn generate_into(dir: &Path, schema: &Path) {
    ssot_gen::output::write(&common::generate_path(schema), dir).unwrap();
}

#[test]
fn example_crates_pass_clippy_and_rustdoc_and_their_wire_tests() {
    for example in EXAMPLES {
        let dir = tempfile::tempdir().unwrap();
        generate_into(dir.path(), &common::example_path(example));
        common::lint(dir.path());
        if let Some(test) = wire_test(example) {
            std::fs::create_dir_all(dir.path().join("tests")).unwrap();
            std::fs::write(dir.path().join("tests/wire.rs"), test).unwrap();
            let out = cargo(dir.path(), &["test", "--quiet", "--test", "wire"]);
            assert!(out.contains("test result: ok."), "{out}");
        }
    }
}

#[test]
fn edge_schema_crates_pass_clippy_and_rustdoc() {
    for edge in EDGES {
        let dir = tempfile::tempdir().unwrap();
        generate_into(dir.path(), &common::edge_path(edge));
        common::lint(dir.path());
    }
}

/// The models alone, and the clients alone, as a client-only user builds them: no server dependencies. And
/// HTTPS/WSS (rustls) builds.
#[test]
fn client_only_builds_have_no_server_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    generate_into(dir.path(), &common::example_path("chat"));
    let dir = dir.path();
    cargo(dir, &["check", "--quiet", "--no-default-features", "--lib"]);
    let client_only = cargo(
        dir,
        &[
            "tree",
            "--no-default-features",
            "--features",
            "client",
            "--edges",
            "normal",
        ],
    );
    for server_crate in ["axum ", "sqlx ", "rusqlite "] {
        assert!(
            !client_only.contains(server_crate),
            "a client-only build pulls in {server_crate}:\n{client_only}"
        );
    }
    // The clients alone, and with HTTPS and WSS (rustls).
    for features in ["client", "tls"] {
        cargo(
            dir,
            &[
                "check",
                "--quiet",
                "--no-default-features",
                "--features",
                features,
                "--lib",
            ],
        );
    }
}
