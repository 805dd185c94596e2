//! The generated crates build with warnings denied, and their types behave on the wire as the schema says
//! (a test file from `tests/fixtures/` is dropped into the generated crate and run there).
//! All generated crates share one target dir so their dependencies compile once.

mod common;

use common::{cargo, generate_example, EXAMPLES};

/// Wire-format tests to run inside a generated crate, by example.
fn wire_test(example: &str) -> Option<&'static str> {
    match example {
        "kitchen-sink" => Some(include_str!("fixtures/kitchen_sink_wire.rs")),
        _ => None,
    }
}

#[test]
fn generated_crates_build_without_warnings_and_pass_their_wire_tests() {
    for example in EXAMPLES {
        let dir = tempfile::tempdir().unwrap();
        ssot_gen::output::write(&generate_example(example), dir.path()).unwrap();
        match wire_test(example) {
            Some(test) => {
                std::fs::create_dir_all(dir.path().join("tests")).unwrap();
                std::fs::write(dir.path().join("tests/wire.rs"), test).unwrap();
                let out = cargo(dir.path(), &["test", "--quiet"]);
                assert!(out.contains("test result: ok."), "{out}");
            }
            None => {
                cargo(dir.path(), &["build", "--quiet"]);
            }
        }
        // The typed clients, beside the server (their names must not clash with the schema's).
        cargo(
            dir.path(),
            &["build", "--quiet", "--features", "client", "--all-targets"],
        );
        if *example == "chat" {
            // The models alone, and the clients alone, as a client-only user builds them: no server dependencies.
            cargo(
                dir.path(),
                &["build", "--quiet", "--no-default-features", "--lib"],
            );
            let client_only = cargo(
                dir.path(),
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
            cargo(
                dir.path(),
                &[
                    "build",
                    "--quiet",
                    "--no-default-features",
                    "--features",
                    "client",
                    "--lib",
                ],
            );
            // HTTPS and WSS (rustls).
            cargo(
                dir.path(),
                &[
                    "build",
                    "--quiet",
                    "--no-default-features",
                    "--features",
                    "tls",
                    "--lib",
                ],
            );
        }
    }
}
