//! The generated TypeScript client in a real browser, from another origin: `tests/ts/browser/react-page.mjs` bundles
//! a React page (`tests/ts/browser/app.tsx`, `useList` of the generated package) with esbuild, serves it on a port of
//! its own, and drives it in headless Chromium (Debian's `/usr/bin/chromium`, through playwright-core). The chat
//! server runs with `CORS_ORIGINS` naming that page's origin and no other: the page must read and stay live, see
//! rooms created elsewhere without a reload, survive a server restart (a room created while it was down appears),
//! and a page on another port must be refused (CORS for reads, the `Origin` check for the socket).
//!
//! Outside CI (`CI` not `true`), skipped, loudly, when node, Chromium or `tests/ts/node_modules` is missing.

mod common;
#[path = "common/server.rs"]
mod server_harness;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::generate_example;
use server_harness::{new_user, Server};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

fn ts_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ts")
}

fn browser_missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is missing (apt-get install chromium)"));
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => return Some("node is missing".to_owned()),
    }
    if !ts_tests()
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return Some("tests/ts/node_modules is missing (cd tests/ts && npm ci)".to_owned());
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_react_page_on_another_origin_stays_live() {
    if !common::available_or_skip(
        "the React page's browser test",
        browser_missing().map_or(Ok(()), Err),
    ) {
        return;
    }
    let (allowed, refused) = (free_port(), free_port());
    let origin = format!("http://127.0.0.1:{allowed}");
    let mut server = Server::start_sqlite_with(&[("CORS_ORIGINS", &origin)]);
    let admin = server.admin_token();
    let writer = new_user(&server, &admin, "writer");
    let crate_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("typescript-browser/chat-api");
    let _ = std::fs::remove_dir_all(&crate_dir);
    ssot_gen::output::write(&generate_example("chat"), &crate_dir).unwrap();

    let mut child = Command::new("node")
        .arg("browser/react-page.mjs")
        .arg(&server.base)
        .arg(&writer.token)
        .arg(crate_dir.join("clients/ts"))
        .arg(allowed.to_string())
        .arg(refused.to_string())
        .current_dir(ts_tests())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let mut output = Vec::new();
    loop {
        let line = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!(
                    "the browser script took over {SCRIPT_TIMEOUT:?}:\n{}",
                    output.join("\n")
                );
            }
        };
        eprintln!("[browser] {line}");
        if let Some(request) = line.strip_prefix("RESTART ") {
            let request: Value = serde_json::from_str(request).expect("RESTART's JSON");
            server.kill();
            {
                let meanwhile = server.another_instance(&[]);
                meanwhile
                    .post("/api/rooms")
                    .auth(&writer.token)
                    .json(json!({ "title": request["title"] }))
                    .send()
                    .expect_json(201);
            }
            server.restart();
            writeln!(stdin, "RESTARTED").unwrap();
            stdin.flush().unwrap();
        }
        output.push(line);
    }
    let status = child.wait().unwrap();
    let output = output.join("\n");
    assert!(
        status.success() && output.lines().any(|l| l == "REACT PAGE OK"),
        "the React page's browser script failed ({status}):\n{output}\n===== server log =====\n{}",
        server.log()
    );
}
