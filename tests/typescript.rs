//! The generated TypeScript client (`clients/ts/`, docs/typescript.md), with the pinned TypeScript of `tests/ts/`
//! (`npm ci` there):
//! - the runtime's committed `dist/` is exactly what tsc emits for its sources (`UPDATE_TS_DIST=1` rewrites it);
//! - the generated `dist/models.js`, `dist/index.js` and their declarations are exactly what tsc emits for the
//!   generated sources, for every example schema;
//! - a typed usage file compiles with `tsc --strict` against the sources and against the declarations, and its
//!   `@ts-expect-error` lines (wrong fields, operators, sort keys) do not;
//! - the runtime's unit tests (node's test runner, `tests/ts/unit/`).
//!
//! Outside CI (`CI` not `true`), these are skipped, loudly, when node or `tests/ts/node_modules` is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{generate_example, EXAMPLES};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn ts_tests() -> PathBuf {
    repo().join("tests/ts")
}

/// Whether node and the test package are there; in CI they must be.
fn node_ready(what: &str) -> bool {
    let missing = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {
            if ts_tests()
                .join("node_modules/typescript/package.json")
                .exists()
            {
                None
            } else {
                Some("tests/ts/node_modules is missing (cd tests/ts && npm ci)".to_owned())
            }
        }
        _ => Some("node is missing".to_owned()),
    };
    common::available_or_skip(what, missing.map_or(Ok(()), Err))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("typescript")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `node <args>` in `tests/ts`; panics with its output when it fails.
fn node(args: &[&str]) -> String {
    let output = Command::new("node")
        .args(args)
        .current_dir(ts_tests())
        .output()
        .expect("node runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "node {args:?} failed:\n{text}");
    text
}

/// Compiles the package in `package` with its own tsconfig.json into `out/dist`.
fn tsc_package(package: &Path, out: &Path) {
    node(&[
        "tsc-package.mjs",
        package.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
}

/// The text without a leading `@generated` header line (and the blank lines after it).
fn without_header(text: &str) -> &str {
    match text.strip_prefix("// @generated") {
        Some(rest) => rest
            .split_once('\n')
            .map_or("", |(_, rest)| rest)
            .trim_start_matches('\n'),
        None => text,
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The runtime's compiled files (`clients/ts/dist/...` in `render::runtime::FILES`), by file name.
fn runtime_dist() -> Vec<&'static str> {
    ssot_gen::render::runtime::FILES
        .iter()
        .filter_map(|f| f.path.strip_prefix("clients/ts/dist/"))
        .collect()
}

#[test]
fn the_runtime_dist_is_what_tsc_emits() {
    if !node_ready("the TypeScript runtime's dist check") {
        return;
    }
    // runtime/clients/ts is the package of the runtime's fixture schema: the runtime's sources and the fixture's
    // generated glue (checked by `the_generated_dist_is_what_tsc_emits` and tests/runtime.rs).
    let package = repo().join("runtime/clients/ts");
    let out = temp_dir("runtime");
    tsc_package(&package, &out);
    let committed = package.join("dist");
    let emitted_files = files_in(&out.join("dist"));
    if std::env::var("UPDATE_TS_DIST").as_deref() == Ok("1") {
        for name in runtime_dist() {
            std::fs::copy(out.join("dist").join(name), committed.join(name)).unwrap();
        }
    }
    for name in runtime_dist() {
        assert!(
            emitted_files.iter().any(|f| f == name),
            "tsc no longer emits dist/{name}: drop it from src/render/runtime.rs"
        );
        let emitted = std::fs::read_to_string(out.join("dist").join(name)).unwrap();
        let kept = std::fs::read_to_string(committed.join(name)).unwrap();
        assert!(
            emitted == kept,
            "runtime/clients/ts/dist/{name} is not what tsc emits for its source; run \
             `UPDATE_TS_DIST=1 cargo test --test typescript` and commit the result"
        );
    }
    for name in &emitted_files {
        let glue = ["index.js", "index.d.ts", "models.js", "models.d.ts"];
        assert!(
            runtime_dist().contains(&name.as_str()) || glue.contains(&name.as_str()),
            "tsc emits dist/{name}, which is neither a runtime file (src/render/runtime.rs) nor glue"
        );
    }
}

#[test]
fn the_generated_dist_is_what_tsc_emits() {
    if !node_ready("the generated TypeScript dist check") {
        return;
    }
    for example in EXAMPLES {
        let generated = generate_example(example);
        let crate_dir = temp_dir(&format!("{example}-crate"));
        ssot_gen::output::write(&generated, &crate_dir).unwrap();
        let package = crate_dir.join("clients/ts");
        let out = temp_dir(&format!("{example}-tsc"));
        tsc_package(&package, &out);
        assert_eq!(
            files_in(&package.join("dist")),
            files_in(&out.join("dist")),
            "{example}: the generated dist/ lists other files than tsc emits"
        );
        for module in ["index", "models"] {
            for name in [format!("{module}.js"), format!("{module}.d.ts")] {
                let emitted = std::fs::read_to_string(out.join("dist").join(&name)).unwrap();
                let rendered = std::fs::read_to_string(package.join("dist").join(&name)).unwrap();
                let (emitted, rendered) = (without_header(&emitted), without_header(&rendered));
                assert!(
                    emitted == rendered,
                    "{example}: clients/ts/dist/{name} is not what tsc emits for src/{module}.ts \
                     (templates/clients/ts/src/{module}.ts.jinja renders both):\n{}",
                    similar::TextDiff::from_lines(rendered, emitted)
                        .unified_diff()
                        .header("rendered", "tsc")
                );
            }
        }
        // The runtime's files are the runtime's, with the header in front.
        for file in ssot_gen::render::runtime::FILES
            .iter()
            .filter(|f| f.path.starts_with("clients/ts/"))
        {
            let copied = &generated.files[file.path];
            assert_eq!(without_header(copied), file.source, "{}", file.path);
        }
    }
}

#[test]
fn typed_usage_compiles_and_mistakes_do_not() {
    if !node_ready("the typed usage check") {
        return;
    }
    let crate_dir = temp_dir("usage-crate");
    ssot_gen::output::write(&generate_example("chat"), &crate_dir).unwrap();
    let package = crate_dir.join("clients/ts");
    let react_types = ts_tests().join("node_modules/@types/react/index.d.ts");
    let usage = ts_tests().join("typecheck/chat.tsx");
    // Once against the sources, once against the declarations a browser or bundler user gets.
    for (what, index, hooks) in [
        ("sources", "src/index.ts", "src/react.ts"),
        ("declarations", "dist/index.d.ts", "dist/react.d.ts"),
    ] {
        let config = crate_dir.join(format!("tsconfig.usage-{what}.json"));
        let json = serde_json::json!({
            "compilerOptions": {
                "strict": true,
                "noEmit": true,
                "target": "es2022",
                "module": "es2022",
                "moduleResolution": "bundler",
                "lib": ["es2022", "dom"],
                "jsx": "react-jsx",
                "skipLibCheck": false,
                "paths": {
                    "chat-api-client": [package.join(index)],
                    "chat-api-client/react": [package.join(hooks)],
                    "react": [&react_types],
                },
            },
            "files": [&usage],
        });
        std::fs::write(&config, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        let out = Command::new(ts_tests().join("node_modules/.bin/tsc"))
            .args(["-p", config.to_str().unwrap()])
            .output()
            .expect("tsc runs");
        assert!(
            out.status.success(),
            "tests/ts/typecheck/chat.tsx against the generated package's {what}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_runtime_unit_tests_pass() {
    if !node_ready("the TypeScript runtime's unit tests") {
        return;
    }
    let text = node(&["--test", "unit/"]);
    eprintln!("{text}");
}
