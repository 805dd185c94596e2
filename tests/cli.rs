//! The command line: exit codes, messages and what lands on disk.

mod common;

use std::path::Path;
use std::process::Output;

use common::{bin, example_path};

fn run(args: &[&str], dir: &Path) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("ssot-gen runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_lists_the_commands() {
    let out = run(&["--help"], Path::new("."));
    assert!(out.status.success());
    for command in ["init", "validate", "generate", "check", "templates"] {
        assert!(
            stdout(&out).contains(command),
            "--help lacks {command}:\n{}",
            stdout(&out)
        );
    }
}

#[test]
fn generate_then_check_is_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let chat = example_path("chat");
    let out = run(
        &["generate", chat.to_str().unwrap(), "-o", "app"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("app/src/models/message.rs").is_file());
    assert!(dir.path().join("app/.ssot-gen-manifest").is_file());
    let check = run(&["check", chat.to_str().unwrap(), "-o", "app"], dir.path());
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}{}",
        stdout(&check),
        stderr(&check)
    );
    assert!(stdout(&check).contains("up to date"));
}

#[test]
fn generate_defaults_to_generated_crate_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["generate", example_path("chat").to_str().unwrap()],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("generated/chat-api/Cargo.toml").is_file());
}

#[test]
fn check_reports_stale_missing_and_orphaned_files_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let chat = example_path("chat");
    let chat = chat.to_str().unwrap();
    assert!(run(&["generate", chat, "-o", "app"], dir.path())
        .status
        .success());
    let app = dir.path().join("app");
    // Stale: a hand edit. Missing: a deleted file. Orphaned: a file the manifest owns that is no longer produced.
    let room = app.join("src/models/room.rs");
    let edited = std::fs::read_to_string(&room)
        .unwrap()
        .replace("pub title", "pub titel");
    std::fs::write(&room, edited).unwrap();
    std::fs::remove_file(app.join("src/query.rs")).unwrap();
    let manifest = app.join(".ssot-gen-manifest");
    let mut listed = std::fs::read_to_string(&manifest).unwrap();
    listed.push_str("src/models/old.rs\n");
    std::fs::write(&manifest, listed).unwrap();
    std::fs::write(app.join("src/models/old.rs"), "// from an older schema\n").unwrap();
    // A file the user owns (not in the manifest) is never reported.
    std::fs::write(app.join("src/mine.rs"), "// mine\n").unwrap();

    let check = run(&["check", chat, "-o", "app"], dir.path());
    assert_eq!(
        check.status.code(),
        Some(1),
        "{}{}",
        stdout(&check),
        stderr(&check)
    );
    let report = stdout(&check);
    assert!(report.contains("stale: src/models/room.rs"), "{report}");
    assert!(
        report.contains("--- a/src/models/room.rs\n+++ b/src/models/room.rs"),
        "{report}"
    );
    assert!(
        report.contains(
            "-    pub titel: ::std::string::String,\n+    pub title: ::std::string::String,"
        ),
        "{report}"
    );
    assert!(report.contains("missing: src/query.rs"), "{report}");
    assert!(
        report.contains("orphaned (no longer generated): src/models/old.rs"),
        "{report}"
    );
    assert!(report.contains("stale: .ssot-gen-manifest"), "{report}");
    assert!(!report.contains("mine.rs"), "{report}");
    assert!(
        stderr(&check).contains("run `ssot-gen generate`"),
        "{}",
        stderr(&check)
    );

    // generate repairs everything, removes the orphan and keeps the user's file.
    let out = run(&["generate", chat, "-o", "app"], dir.path());
    assert!(out.status.success());
    assert!(stdout(&out).contains("1 removed"), "{}", stdout(&out));
    assert!(!app.join("src/models/old.rs").exists());
    assert!(app.join("src/mine.rs").exists());
    assert_eq!(
        run(&["check", chat, "-o", "app"], dir.path()).status.code(),
        Some(0)
    );
}

#[test]
fn generate_leaves_unchanged_files_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let chat = example_path("chat");
    let chat = chat.to_str().unwrap();
    assert!(run(&["generate", chat, "-o", "app"], dir.path())
        .status
        .success());
    let file = dir.path().join("app/src/models/user.rs");
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = run(&["generate", chat, "-o", "app"], dir.path());
    assert!(stdout(&out).contains("0 written"), "{}", stdout(&out));
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before,
        "mtime kept, so cargo does not rebuild"
    );
}

#[test]
fn bad_schema_exits_2_with_the_located_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "crate: x\nmodels:\n  A:\n    fields:\n      id: { type: strng, id: true }\n",
    )
    .unwrap();
    for command in ["validate", "generate", "check"] {
        let out = run(&[command, "bad.yaml"], dir.path());
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = stderr(&out);
        assert!(
            err.contains("error: unknown type `strng` for `A.id`"),
            "{command}: {err}"
        );
        assert!(err.contains("--> bad.yaml:5:19"), "{command}: {err}");
        assert!(err.contains("did you mean `string`?"), "{command}: {err}");
    }
    assert!(
        !dir.path().join("generated").exists(),
        "nothing is written for a bad schema"
    );
}

/// An output whose reader has gone, as in `ssot-gen validate bad.yaml 2>&1 | head -1`: every write fails with
/// a broken pipe (the reader's end is closed before the command starts).
#[cfg(unix)]
fn closed_pipe() -> std::process::Stdio {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(ours);
    std::process::Stdio::from(std::os::fd::OwnedFd::from(theirs))
}

/// A reader that stops reading (`| head -1`) ends the output, not the command: no panic (exit 101), and the exit
/// code is the command's own.
#[cfg(unix)]
#[test]
fn closed_output_keeps_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "crate: x\nmodels:\n  A:\n    fields:\n      id: { type: strng, id: true }\n",
    )
    .unwrap();
    let chat = example_path("chat");
    let chat = chat.to_str().unwrap();
    let status = |args: &[&str], stderr: std::process::Stdio| {
        bin()
            .args(args)
            .current_dir(dir.path())
            .stdout(closed_pipe())
            .stderr(stderr)
            .output()
            .expect("ssot-gen runs")
    };
    // The report of a bad schema goes to standard error; both ends closed.
    let out = status(&["validate", "bad.yaml"], closed_pipe());
    assert_eq!(out.status.code(), Some(2), "validate bad.yaml");
    let out = status(&["validate", chat], closed_pipe());
    assert_eq!(out.status.code(), Some(0), "validate chat.yaml");
    // `check` of a folder with nothing in it: the list of missing files goes nowhere, the summary to standard
    // error.
    let out = status(
        &["check", chat, "-o", "empty"],
        std::process::Stdio::piped(),
    );
    assert_eq!(out.status.code(), Some(1), "check: {}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("differ from the schema"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_schema_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["generate", "nope.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("reading nope.yaml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn validate_reports_ok() {
    let out = run(
        &["validate", example_path("chat").to_str().unwrap()],
        Path::new("."),
    );
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("ok (4 models, 1 enums)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn init_writes_a_valid_starter_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["init"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let written = std::fs::read_to_string(dir.path().join("schema.yaml")).unwrap();
    assert_eq!(written, ssot_gen::STARTER_SCHEMA);
    assert!(run(&["validate", "schema.yaml"], dir.path())
        .status
        .success());
    let again = run(&["init"], dir.path());
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists; pass --force"),
        "{}",
        stderr(&again)
    );
    assert!(run(&["init", "--force"], dir.path()).status.success());
}

#[test]
fn template_override_replaces_a_template_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = dir.path().join("tpl");
    std::fs::create_dir_all(overrides.join("src")).unwrap();
    std::fs::write(
        overrides.join("src/main.rs.jinja"),
        "/// Overridden for {{ graph.crate_name }}.\nfn main() {}\n",
    )
    .unwrap();
    // A runtime file is replaced by its path in the generated crate, and copied as it is.
    std::fs::create_dir_all(overrides.join("src/server")).unwrap();
    std::fs::write(
        overrides.join("src/server/ws.rs"),
        "// Our own gateway.\npub fn serve() {}\n",
    )
    .unwrap();
    let chat = example_path("chat");
    let out = run(
        &[
            "generate",
            chat.to_str().unwrap(),
            "-o",
            "app",
            "--templates",
            "tpl",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("app/src/main.rs")).unwrap();
    assert!(text.starts_with("// @generated by ssot-gen"), "{text}");
    assert!(
        text.contains("/// Overridden for chat-api.\nfn main() {}"),
        "{text}"
    );
    let text = std::fs::read_to_string(dir.path().join("app/src/server/ws.rs")).unwrap();
    assert!(text.starts_with("// @generated by ssot-gen"), "{text}");
    assert!(
        text.ends_with("\n\n// Our own gateway.\npub fn serve() {}\n"),
        "{text}"
    );
    // The other runtime files are the built-in ones.
    assert!(
        std::fs::read_to_string(dir.path().join("app/src/server/hub.rs"))
            .unwrap()
            .contains("pub struct Hub")
    );
    // Other templates are the built-in ones.
    assert!(std::fs::read_to_string(dir.path().join("app/src/query.rs"))
        .unwrap()
        .contains("pub struct StringFilter"));
}

#[test]
fn template_override_errors_name_the_template() {
    let dir = tempfile::tempdir().unwrap();
    let chat = example_path("chat");
    let chat = chat.to_str().unwrap();
    let tpl = dir.path().join("tpl/src");
    std::fs::create_dir_all(&tpl).unwrap();
    // A typo in the path: rejected, with a suggestion.
    std::fs::write(tpl.join("lb.rs.jinja"), "").unwrap();
    let out = run(&["generate", chat, "--templates", "tpl"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("template `src/lb.rs.jinja`: this override does not match any built-in template; did you mean `src/lib.rs.jinja`?"), "{}", stderr(&out));
    std::fs::remove_file(tpl.join("lb.rs.jinja")).unwrap();
    // A template that renders invalid Rust: the template is named and the text shown.
    std::fs::write(tpl.join("lib.rs.jinja"), "pub struct {\n").unwrap();
    let out = run(&["generate", chat, "--templates", "tpl"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("template `src/lib.rs.jinja` rendered invalid Rust for `src/lib.rs`"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("pub struct {"), "{}", stderr(&out));
    // A template syntax error: the template and line are named.
    std::fs::write(tpl.join("lib.rs.jinja"), "// ok\n{% if %}\n").unwrap();
    let out = run(&["generate", chat, "--templates", "tpl"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("template `src/lib.rs.jinja`"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("(in src/lib.rs.jinja:2)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn templates_lists_the_built_in_templates() {
    let out = run(&["templates"], Path::new("."));
    assert!(out.status.success());
    let names: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert!(
        names.contains(&"src/models/model.rs.jinja".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"src/server/ws.rs (runtime: copied as it is)".to_owned()),
        "{names:?}"
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn hooks_are_written_once_and_belong_to_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let chat = example_path("chat");
    let chat = chat.to_str().unwrap();
    let out = run(&["generate", chat, "-o", "app"], dir.path());
    assert!(
        stdout(&out).contains("4 created for you to edit"),
        "{}",
        stdout(&out)
    );
    let hook = dir.path().join("app/src/hooks/room.rs");
    let original = std::fs::read_to_string(&hook).unwrap();
    assert!(
        !original.contains("@generated"),
        "a hook is the user's file: {original}"
    );
    let manifest = std::fs::read_to_string(dir.path().join("app/.ssot-gen-manifest")).unwrap();
    assert!(
        !manifest.contains("src/hooks/room.rs"),
        "hooks are not generator-owned"
    );
    assert!(
        manifest.contains("src/hooks/mod.rs"),
        "the module list is generated"
    );

    // Edited: generate keeps the edit, check does not report it.
    let edited = original.replace(
        "let _ = (input, caller);",
        "let _ = (input, caller); // mine",
    );
    std::fs::write(&hook, &edited).unwrap();
    let out = run(&["generate", chat, "-o", "app"], dir.path());
    assert!(
        stdout(&out).contains("0 created for you to edit"),
        "{}",
        stdout(&out)
    );
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), edited);
    assert_eq!(
        run(&["check", chat, "-o", "app"], dir.path()).status.code(),
        Some(0)
    );

    // Deleted: the crate would not build, so check reports it missing and generate writes it again.
    std::fs::remove_file(&hook).unwrap();
    let check = run(&["check", chat, "-o", "app"], dir.path());
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stdout(&check).contains("missing: src/hooks/room.rs"),
        "{}",
        stdout(&check)
    );
    assert!(run(&["generate", chat, "-o", "app"], dir.path())
        .status
        .success());
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), original);
}
