//! End-to-end tests of the generated typed clients (`docs/client.md`): `tests/fixtures/chat_client.rs` is copied
//! into the generated chat crate and run there with `--features client`, against the generated server binary, which
//! it starts, cuts off and restarts itself.

mod common;
#[path = "common/server.rs"]
mod server_harness;

use std::path::Path;

use common::{cargo_with_env, generate_example};

#[test]
fn generated_clients_against_the_generated_server() {
    let server = server_harness::server_binary();
    let crate_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("client-tests/chat-api");
    let lock = std::fs::read(crate_dir.join("Cargo.lock")).ok();
    let _ = std::fs::remove_dir_all(&crate_dir);
    ssot_gen::output::write(&generate_example("chat"), &crate_dir).unwrap();
    if let Some(lock) = lock {
        std::fs::write(crate_dir.join("Cargo.lock"), lock).unwrap();
    }
    std::fs::create_dir_all(crate_dir.join("tests/support")).unwrap();
    std::fs::write(
        crate_dir.join("tests/client.rs"),
        include_str!("fixtures/chat_client.rs"),
    )
    .unwrap();
    std::fs::write(
        crate_dir.join("tests/support/proxy.rs"),
        include_str!("common/proxy.rs"),
    )
    .unwrap();
    let text = cargo_with_env(
        &crate_dir,
        &[
            "test",
            "--quiet",
            "--features",
            "client",
            "--test",
            "client",
        ],
        &[("SSOT_SERVER_BIN", server.as_os_str())],
    );
    eprintln!("{text}");
}
