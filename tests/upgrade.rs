//! The generated server across a schema change, as a deployment meets it, on SQLite and on PostgreSQL. Two builds
//! of the chat example: v1, from the schema before its second migration (`Bookmark.note` and `Message.replyToId`
//! absent, `0001_init` only), and v2, the committed example (`0002_add_bookmark_note` and
//! `0003_add_message_reply_to_id` too).
//!
//! - v2 started on v1's database migrates it and serves every row, with the new field;
//! - a subscriber resuming with a `since` from before the migration is told to fetch again (`resumed: false`) for
//!   the model the migration changed, and resumed as usual for the others;
//! - v1 refuses the migrated database (a migration it does not know), and v2 refuses one whose record of a
//!   migration differs from its own (an edited migration), each with a message and a non-zero exit;
//! - `migrate` shows the status and applies without serving, `migrate --dry-run` prints the SQL and applies
//!   nothing; a database recorded before checksums were kept is taken as it is.

mod common;
#[path = "common/server.rs"]
mod server_harness;
#[path = "common/ws.rs"]
mod ws;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::pg::{self, TestDatabase};
use common::{example_text, generate_example};
use serde_json::json;
use server_harness::{
    build_chat_server, new_room, new_user, server_binary, Backend, Server, JWT_SECRET,
};
use ws::Ws;

/// The field the second migration adds.
const NOTE: &str =
    "      note:      { type: string?, max: 500, doc: A private note on the saved message. }\n";

/// The field the third migration adds.
const REPLY_TO: &str =
    "      replyToId: { type: uuid?, references: Message, inverse: replies, onDelete: setNull }\n";

/// The chat server before `0002_add_bookmark_note`.
fn v1_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let text = example_text("chat");
        for field in [NOTE, REPLY_TO] {
            assert!(
                text.contains(field),
                "the chat schema no longer has {field:?}"
            );
        }
        let v1 = ssot_gen::generate_from_str(
            "chat.yaml",
            &text.replace(NOTE, "").replace(REPLY_TO, ""),
            &ssot_gen::Options::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // v1 is really the example's first version: its only migration is the committed one.
        let committed = generate_example("chat");
        for dialect in ["sqlite", "postgres"] {
            let path = format!("migrations/{dialect}/0001_init.sql");
            assert_eq!(v1.files[&path], committed.files[&path], "{path}");
        }
        build_chat_server("chat-api-v1", &v1)
    })
}

/// A database for one scenario: a SQLite file in a folder of its own, or a PostgreSQL database of its own.
enum Database {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

impl Database {
    fn backend(&self) -> Backend {
        match self {
            Database::Sqlite(dir) => Backend::Sqlite(dir.path().join("chat.db")),
            Database::Postgres(db) => Backend::Postgres(db.name.clone()),
        }
    }

    fn url(&self) -> String {
        match self.backend() {
            Backend::Sqlite(path) => format!("sqlite://{}", path.display()),
            Backend::Postgres(db) => format!("postgres://postgres@127.0.0.1:5432/{db}"),
        }
    }

    /// Runs SQL on the database behind the server's back.
    fn execute(&self, sql: &str) {
        match self {
            Database::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("chat.db")).unwrap();
                conn.execute_batch(sql).unwrap();
            }
            Database::Postgres(db) => {
                db.psql(sql).unwrap();
            }
        }
    }
}

/// Runs `binary <args>` on the database until it exits (a refused start, `migrate`); fails the test if it does
/// not exit within a minute (a server that starts serving when it should have refused).
fn run(binary: &Path, db: &Database, args: &[&str]) -> Output {
    let mut child = Command::new(binary)
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("JWT_SECRET", JWT_SECRET)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{} {args:?} did not exit: {}",
                binary.display(),
                text(&output)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn stop(mut server: Server) {
    server.terminate();
    assert!(
        server.wait_exit(Duration::from_secs(10)).is_some(),
        "the server did not stop"
    );
}

/// v1 makes rows and a subscriber's position; v2 migrates, serves them, and resumes the subscriber only where
/// the migration changed nothing; v1 then refuses the database, and v2 refuses an edited record.
fn upgrade(db: &Database) {
    let v1 = Server::start_binary(v1_binary(), db.backend());
    let admin = v1.admin_token();
    let alice = new_user(&v1, &admin, "alice");
    let room = new_room(&v1, &alice, "general");
    let message = v1
        .post("/api/messages")
        .auth(&alice.token)
        .json(json!({ "roomId": room, "text": "hello" }))
        .send()
        .expect_json(201);
    let bookmark = v1
        .post("/api/bookmarks")
        .auth(&alice.token)
        .json(json!({ "messageId": message["id"], "color": "red" }))
        .send()
        .expect_json(201);
    assert!(bookmark.get("note").is_none(), "v1 has no note: {bookmark}");
    let mut socket = Ws::connect(&v1, &alice.token);
    let since = socket.subscribe("Bookmark:list", None)["seq"]
        .as_u64()
        .unwrap();
    socket.close();
    stop(v1);

    let v2 = Server::start_binary(server_binary(), db.backend());
    for migration in ["0002_add_bookmark_note", "0003_add_message_reply_to_id"] {
        assert!(
            v2.log().contains(migration),
            "v2 says it applied {migration}: {}",
            v2.log()
        );
    }
    let path = format!("/api/bookmarks/{}", bookmark["id"]);
    let kept = v2.get(&path).auth(&alice.token).send().expect_json(200);
    assert_eq!(kept["color"], "red", "{kept}");
    assert_eq!(kept["note"], json!(null), "{kept}");
    let noted = v2
        .patch(&path)
        .auth(&alice.token)
        .json(json!({ "note": "read later" }))
        .send()
        .expect_json(200);
    assert_eq!(noted["note"], "read later");
    let rooms = v2.get("/api/rooms").send().expect_json(200);
    assert_eq!(rooms["items"][0]["title"], "general", "{rooms}");

    let mut socket = Ws::connect(&v2, &alice.token);
    for channel in ["Bookmark:list", "Message:list"] {
        let changed = socket.subscribe(channel, Some(since));
        assert_eq!(changed["resumed"], false, "{channel} changed: {changed}");
    }
    for channel in ["Room:list", "User:list"] {
        let same = socket.subscribe(channel, Some(since));
        assert_eq!(same["resumed"], true, "{channel} did not change: {same}");
    }
    socket.close();
    stop(v2);

    let refused = run(v1_binary(), db, &[]);
    assert!(!refused.status.success(), "v1 served a migrated database");
    assert!(
        text(&refused).contains(
            "the database has migration 0002_add_bookmark_note, which this server does not know"
        ),
        "{}",
        text(&refused)
    );

    db.execute(&format!(
        "UPDATE \"_ssot_migrations\" SET \"checksum\" = '{}' WHERE \"version\" = 2",
        "0".repeat(64)
    ));
    for args in [&[][..], &["migrate"][..]] {
        let refused = run(server_binary(), db, args);
        assert!(
            !refused.status.success(),
            "{args:?} ran on an edited record"
        );
        assert!(
            text(&refused).contains(
                "migration 0002_add_bookmark_note differs from the one the database applied"
            ),
            "{}",
            text(&refused)
        );
    }
}

/// `migrate` on a database v1 made: the status, `--dry-run` (the SQL, nothing applied), then applied; and a
/// database recorded before checksums were kept.
fn migrate_command(db: &Database, before_checksums: &str) {
    let first = run(v1_binary(), db, &["migrate"]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("up to date: 1 migration(s) applied"),
        "{}",
        text(&first)
    );
    // As a server from before checksums left it.
    db.execute(before_checksums);
    for _ in 0..2 {
        let dry = run(server_binary(), db, &["migrate", "--dry-run"]);
        let out = text(&dry);
        assert!(dry.status.success(), "{out}");
        assert!(
            out.contains("0001_init                     applied"),
            "{out}"
        );
        assert!(
            out.contains("0002_add_bookmark_note        pending"),
            "{out}"
        );
        assert!(
            out.contains("0003_add_message_reply_to_id  pending"),
            "{out}"
        );
        assert!(
            out.contains("-- 0002_add_bookmark_note (not applied: --dry-run)"),
            "{out}"
        );
        assert!(
            out.contains("ALTER TABLE \"bookmarks\" ADD COLUMN \"note\""),
            "{out}"
        );
    }
    let applied = run(server_binary(), db, &["migrate"]);
    assert!(applied.status.success(), "{}", text(&applied));
    assert!(
        text(&applied)
            .contains("applied 0002_add_bookmark_note, 0003_add_message_reply_to_id; up to date: 3 migration(s) applied"),
        "{}",
        text(&applied)
    );
    let again = run(server_binary(), db, &["migrate"]);
    assert!(
        text(&again).contains("up to date: 3 migration(s) applied"),
        "{}",
        text(&again)
    );
}

#[test]
fn sqlite_upgrade() {
    upgrade(&Database::Sqlite(tempfile::tempdir().unwrap()));
    migrate_command(
        &Database::Sqlite(tempfile::tempdir().unwrap()),
        // rusqlite_migration counted migrations in `user_version`, which stays.
        "DROP TABLE \"_ssot_migrations\"",
    );
}

#[test]
fn postgres_upgrade() {
    if !pg::available("postgres_upgrade") {
        return;
    }
    upgrade(&Database::Postgres(TestDatabase::create(
        "ssot_gen_upgrade",
    )));
    migrate_command(
        &Database::Postgres(TestDatabase::create("ssot_gen_upgrade_migrate")),
        "ALTER TABLE \"_ssot_migrations\" DROP COLUMN \"name\", DROP COLUMN \"checksum\", DROP COLUMN \"outbox_head\"",
    );
}
