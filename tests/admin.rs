//! The admin page (`/admin`) of the generated server: its files are served with the right content types, and it
//! works in a real browser: headless Chromium (Debian's `/usr/bin/chromium`) driven by playwright-core from
//! `tests/browser/` (`npm ci` there). The browser script is `tests/browser/admin.mjs`; this test starts the
//! server, runs the script, and kills and restarts the server when the script asks, writing while it is down.
//!
//! Outside CI (`CI` not `true`), the browser test is skipped, loudly, when node, Chromium or playwright-core is
//! missing. `UPDATE_SCREENSHOTS=1` writes the page's screenshots to `docs/admin-desktop.png` and
//! `docs/admin-phone.png`; otherwise they go to the target dir.

mod common;
#[path = "common/server.rs"]
mod server_harness;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use server_harness::{new_user, Server};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn the_admin_files_are_served_with_their_content_types() {
    let server = Server::start_sqlite();
    for (path, content_type, needle) in [
        (
            "/admin",
            "text/html",
            "<script type=\"module\" src=\"/admin/admin.js\"",
        ),
        (
            "/admin/",
            "text/html",
            "<link rel=\"stylesheet\" href=\"/admin/admin.css\">",
        ),
        // The page's one client is the crate's TypeScript client, served as ES modules.
        (
            "/admin/admin.js",
            "text/javascript",
            "from \"./client/runtime.js\"",
        ),
        (
            "/admin/client/ws.js",
            "text/javascript",
            "[\"ssot.v1\", `bearer.${token}`]",
        ),
        ("/admin/admin.css", "text/css", "@media (max-width: 40rem)"),
        ("/admin/models.json", "application/json", "\"Room:list\""),
    ] {
        let response = server.get(path).send();
        assert_eq!(response.status, 200, "{response:?}");
        let got = response.header("content-type").unwrap_or_default();
        assert!(got.starts_with(content_type), "{path}: {got}\n{response:?}");
        assert!(
            response.header("content-security-policy").is_some(),
            "{path} without a content security policy"
        );
        assert!(response.body.contains(needle), "{path} lacks {needle:?}");
    }
    // The page's data is the generator's, embedded in the binary.
    let graph = ssot_gen::load("chat.yaml", &common::example_text("chat")).unwrap();
    assert_eq!(
        server.get("/admin/models.json").send().body,
        ssot_gen::admin::render(&graph)
    );
    // Nothing the page loads comes from elsewhere.
    let html = server.get("/admin").send().body;
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"),
        "{html}"
    );
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !Path::new(&chromium).exists() {
        return Some(format!("{chromium} is missing (apt-get install chromium)"));
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => return Some("node is missing".to_owned()),
    }
    if !repo()
        .join("tests/browser/node_modules/playwright-core/package.json")
        .exists()
    {
        return Some(
            "playwright-core is missing (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)".to_owned(),
        );
    }
    None
}

fn screenshot_dir() -> PathBuf {
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        repo().join("docs")
    } else {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

/// What the browser script asks for when it prints `RESTART <mode> <json>`: kill the server, make the changes
/// while it is down (through a second server process on the same SQLite file), start it again on the same port.
fn restart_with_changes(server: &mut Server, bob: &str, mode: &str, request: &Value) {
    let prefix = request["prefix"].as_str().unwrap();
    server.kill();
    {
        let meanwhile = server.another_instance(&[]);
        meanwhile
            .post("/api/rooms")
            .auth(bob)
            .json(json!({ "title": format!("{prefix} created while down") }))
            .send()
            .expect_json(201);
        meanwhile
            .patch(&format!("/api/rooms/{}", request["update"]))
            .auth(bob)
            .json(json!({ "title": format!("{prefix} renamed while down") }))
            .send()
            .expect_json(200);
        meanwhile
            .delete(&format!("/api/rooms/{}", request["delete"]))
            .auth(bob)
            .send()
            .expect(204);
    }
    match mode {
        "resume" => server.restart(),
        // Three events to replay, one allowed: the server answers `resumed: false`.
        "refetch" => server.restart_with(&[("WS_MAX_REPLAY", "1")]),
        other => panic!("unknown restart mode {other:?}"),
    }
}

#[test]
fn the_admin_page_works_in_a_real_browser() {
    if !common::available_or_skip(
        "the admin page's browser test",
        browser_missing().map_or(Ok(()), Err),
    ) {
        return;
    }
    let mut server = Server::start_sqlite();
    let admin = server.admin_token();
    let alice = new_user(&server, &admin, "alice");
    let bob = new_user(&server, &admin, "bob");

    let mut child = Command::new("node")
        .arg(repo().join("tests/browser/admin.mjs"))
        .arg(&server.base)
        .arg(&alice.token)
        .arg(&bob.token)
        .current_dir(repo().join("tests/browser"))
        .env("ADMIN_SCREENSHOTS_DIR", screenshot_dir())
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
    let mut restarts = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!(
                    "the browser script took over {SCRIPT_TIMEOUT:?}; its output:\n{}",
                    output.join("\n")
                );
            }
        };
        eprintln!("[browser] {line}");
        if let Some(rest) = line.strip_prefix("RESTART ") {
            let (mode, request) = rest.split_once(' ').expect("RESTART <mode> <json>");
            let request: Value = serde_json::from_str(request).expect("RESTART's JSON");
            restart_with_changes(&mut server, &bob.token, mode, &request);
            restarts.push(mode.to_owned());
            writeln!(stdin, "RESTARTED").unwrap();
            stdin.flush().unwrap();
        }
        output.push(line);
    }
    let status = child.wait().unwrap();
    let output = output.join("\n");
    assert!(
        status.success() && output.lines().any(|l| l == "ADMIN PAGE OK"),
        "the browser script failed ({status}):\n{output}\n===== server log =====\n{}",
        server.log()
    );
    assert_eq!(restarts, ["resume", "refetch"], "{output}");
}
