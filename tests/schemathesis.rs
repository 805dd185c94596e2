//! Schemathesis against the generated chat server: property-based requests made from the server's own
//! `/openapi.json` (valid and invalid inputs per operation, the coverage phase's edge values, and stateful sequences
//! that follow the document's links), on embedded SQLite. The run fails on any 5xx, a response that violates its
//! schema, a status code or content type the document does not list. It runs twice: as an admin with a user row
//! (every operation reaches its handler) and as a user whose token names no user row (the refusals an owner rule
//! makes must be documented too).
//!
//! Bounded (`MAX_EXAMPLES` per operation and phase, a fixed seed) so that it takes about a minute per identity.
//! `.ci/run` installs the pinned schemathesis from `tests/requirements.txt`, so CI always runs this; elsewhere it is
//! skipped, loudly, when the `schemathesis` command is missing.

mod common;
#[path = "common/server.rs"]
mod server_harness;

use std::process::Command;

use serde_json::json;
use server_harness::Server;

const MAX_EXAMPLES: &str = "20";
const SEED: &str = "1";
/// What must hold for every response.
const CHECKS: &str =
    "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance";

fn available() -> bool {
    let found = Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    let ready = if found {
        Ok(())
    } else {
        Err("schemathesis is not installed (`pip install -r tests/requirements.txt`)".to_owned())
    };
    common::available_or_skip("schemathesis", ready)
}

/// Runs schemathesis with `token` against `server`; panics with its report when it finds anything.
fn run(server: &Server, who: &str, token: &str) {
    let out = Command::new("schemathesis")
        .args(["run", &format!("{}/openapi.json", server.base)])
        .args(["--checks", CHECKS])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .env("NO_COLOR", "1")
        // Its report folder (`.schemathesis/`) goes to the target dir, not into the repository.
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("schemathesis runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis as {who} found problems:\n{report}\n--- server log ---\n{}",
        server.log()
    );
    // A run that could not reach the API at all would also "pass": make sure it tested.
    assert!(
        report.contains("generated") && report.contains("passed"),
        "schemathesis as {who} did not test anything:\n{report}"
    );
}

#[test]
fn schemathesis_finds_nothing() {
    if !available() {
        return;
    }
    let server = Server::start_sqlite();
    let user = server
        .post("/api/users")
        .auth(&server.admin_token())
        .json(json!({ "email": "fuzz@example.com", "name": "fuzz", "passwordHash": "x" }))
        .send()
        .expect(201);
    let id = user["id"].as_str().expect("the user's id");
    run(
        &server,
        "an admin with a user row",
        &server.token(id, &["admin"]),
    );
    run(
        &server,
        "a user without a user row",
        &server.token(&server_harness::fake_uuid(), &[]),
    );
}
