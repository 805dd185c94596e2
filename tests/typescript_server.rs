//! The generated TypeScript client against the generated chat server, on SQLite and on PostgreSQL: the node tests
//! in `tests/ts/node/` (node's test runner, `--experimental-websocket` for Node 20's WebSocket), which start the
//! server binary themselves so that they can kill and restart it (`tests/ts/support.mjs`). Each backend gets a
//! database of its own: a fresh SQLite file, or a PostgreSQL database with a unique name, dropped at the end.
//!
//! Outside CI (`CI` not `true`), skipped, loudly, when node or `tests/ts/node_modules` is missing; the PostgreSQL
//! run also when PostgreSQL is unreachable.

mod common;
#[path = "common/server.rs"]
mod server_harness;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::generate_example;
use common::pg::{self, TestDatabase};
use server_harness::server_binary;

fn ts_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ts")
}

fn node_ready(what: &str) -> bool {
    let missing = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => (!ts_tests()
            .join("node_modules/typescript/package.json")
            .exists())
        .then(|| "tests/ts/node_modules is missing (cd tests/ts && npm ci)".to_owned()),
        _ => Some("node is missing".to_owned()),
    };
    common::available_or_skip(what, missing.map_or(Ok(()), Err))
}

/// The generated chat crate's `clients/ts`, written once per test binary.
fn client_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("typescript-server/chat-api");
        let _ = std::fs::remove_dir_all(&dir);
        ssot_gen::output::write(&generate_example("chat"), &dir).unwrap();
        dir.join("clients/ts")
    })
    .clone()
}

/// Runs the node tests with the server binary on `database_url`; panics with their output when one fails.
fn run_node_tests(backend: &str, database_url: &str) {
    let output = Command::new("node")
        .args([
            "--experimental-websocket",
            "--test",
            "--test-concurrency=1",
            "node/",
        ])
        .current_dir(ts_tests())
        .env("SSOT_SERVER_BIN", server_binary())
        .env("SSOT_DATABASE_URL", database_url)
        .env("SSOT_CLIENT_DIR", client_dir())
        .env("SSOT_JWT_SECRET", "ts-test-secret")
        .output()
        .expect("node runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("[{backend}]\n{text}");
    assert!(
        output.status.success(),
        "the TypeScript client's node tests failed on {backend}:\n{text}"
    );
}

#[test]
fn the_typescript_client_against_the_server_on_sqlite() {
    if !node_ready("the TypeScript client's node tests") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    run_node_tests("sqlite", &url);
}

#[test]
fn the_typescript_client_against_the_server_on_postgres() {
    if !node_ready("the TypeScript client's node tests on PostgreSQL")
        || !pg::available("the TypeScript client's node tests on PostgreSQL")
    {
        return;
    }
    let database = TestDatabase::create("ssot_gen_ts");
    let url = format!("postgres://postgres@127.0.0.1:5432/{}", database.name);
    run_node_tests("postgres", &url);
}
