//! The schema-independent files of the generated crate. They are real source in this repository's `runtime/`
//! folder (a crate generated from the fixture schema `runtime/schema.yaml`, where they are compiled, linted and
//! unit-tested), embedded here, and copied into every generated crate as they are: comments, blank lines and
//! rustfmt's layout kept, an `@generated` header in front. `--templates DIR` replaces one by its path.
//!
//! A file added to the runtime is listed here; `tests/runtime.rs` fails on a runtime file that is not.

/// One runtime file: its path in the generated crate (the same as in `runtime/`), and its text.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeFile {
    pub path: &'static str,
    pub source: &'static str,
}

macro_rules! runtime_files {
    ($($path:literal),* $(,)?) => {
        &[$(RuntimeFile { path: $path, source: include_str!(concat!("../../runtime/", $path)) }),*]
    };
}

/// Every runtime file, sorted by path.
pub const FILES: &[RuntimeFile] = runtime_files![
    "admin/admin.css",
    "admin/admin.js",
    "clients/ts/dist/backoff.d.ts",
    "clients/ts/dist/backoff.js",
    "clients/ts/dist/client.d.ts",
    "clients/ts/dist/client.js",
    "clients/ts/dist/errors.d.ts",
    "clients/ts/dist/errors.js",
    "clients/ts/dist/follow.d.ts",
    "clients/ts/dist/follow.js",
    "clients/ts/dist/http.d.ts",
    "clients/ts/dist/http.js",
    "clients/ts/dist/live.d.ts",
    "clients/ts/dist/live.js",
    "clients/ts/dist/model.d.ts",
    "clients/ts/dist/model.js",
    "clients/ts/dist/query.d.ts",
    "clients/ts/dist/query.js",
    "clients/ts/dist/react.d.ts",
    "clients/ts/dist/react.js",
    "clients/ts/dist/runtime.d.ts",
    "clients/ts/dist/runtime.js",
    "clients/ts/dist/wire.d.ts",
    "clients/ts/dist/wire.js",
    "clients/ts/dist/ws.d.ts",
    "clients/ts/dist/ws.js",
    "clients/ts/src/backoff.ts",
    "clients/ts/src/client.ts",
    "clients/ts/src/errors.ts",
    "clients/ts/src/follow.ts",
    "clients/ts/src/http.ts",
    "clients/ts/src/live.ts",
    "clients/ts/src/model.ts",
    "clients/ts/src/query.ts",
    "clients/ts/src/react.ts",
    "clients/ts/src/runtime.ts",
    "clients/ts/src/wire.ts",
    "clients/ts/src/ws.ts",
    "clients/ts/tsconfig.json",
    "src/client/error.rs",
    "src/client/follow.rs",
    "src/client/http.rs",
    "src/client/live.rs",
    "src/client/mod.rs",
    "src/client/ws.rs",
    "src/protocol.rs",
    "src/server/admin.rs",
    "src/server/auth.rs",
    "src/server/config.rs",
    "src/server/cors.rs",
    "src/server/db.rs",
    "src/server/error.rs",
    "src/server/events.rs",
    "src/server/feed.rs",
    "src/server/group_commit.rs",
    "src/server/group_commit_postgres.rs",
    "src/server/hub.rs",
    "src/server/logs.rs",
    "src/server/metrics.rs",
    "src/server/migrate.rs",
    "src/server/mod.rs",
    "src/server/outbox.rs",
    "src/server/postgres.rs",
    "src/server/probes.rs",
    "src/server/rest/access.rs",
    "src/server/rest/cascade.rs",
    "src/server/rest/filter.rs",
    "src/server/rest/gateway.rs",
    "src/server/rest/include.rs",
    "src/server/rest/mod.rs",
    "src/server/rest/read.rs",
    "src/server/rest/write.rs",
    "src/server/sqlite.rs",
    "src/server/ws.rs",
    "src/validation.rs",
];

/// The file that marks the runtime's own folder. There the runtime's files are the source, not copies: generating
/// into it (to refresh the fixture's glue) leaves them alone.
pub const MARKER: &str = ".ssot-gen-runtime";

/// The runtime file at `path`, if there is one.
pub fn file(path: &str) -> Option<&'static RuntimeFile> {
    FILES.iter().find(|f| f.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_sorted_and_unique() {
        assert!(FILES.windows(2).all(|w| w[0].path < w[1].path));
    }
}
