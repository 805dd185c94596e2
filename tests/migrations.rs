//! The generated SQL migrations apply on SQLite (through Python's sqlite3, which every CI machine has) and on
//! the local PostgreSQL (in a database of its own, dropped afterwards), and their constraints hold.

mod common;

use std::process::Command;

use common::{generate_example, EXAMPLES};

fn sqlite(script: &str, probe: &str) -> Result<(), String> {
    // Applies the migration, then runs `probe`, which must fail when it is given.
    let program = r#"
import sqlite3, sys
db = sqlite3.connect(":memory:")
db.execute("PRAGMA foreign_keys = ON")
db.executescript(sys.argv[1])
if sys.argv[2]:
    try:
        db.executescript(sys.argv[2])
    except sqlite3.IntegrityError as e:
        print("rejected:", e)
        sys.exit(0)
    sys.exit("probe was accepted")
"#;
    let out = Command::new("python3")
        .args(["-c", program, script, probe])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn sqlite_migrations_apply_and_enforce_constraints() {
    for example in EXAMPLES {
        let generated = generate_example(example);
        let script = &generated.files["migrations/sqlite/0001_init.sql"];
        sqlite(script, "").unwrap_or_else(|e| panic!("{example}: {e}"));
    }
    let chat = &generate_example("chat").files["migrations/sqlite/0001_init.sql"];
    let user = "INSERT INTO users (id, email, name, password_hash) VALUES";
    for probe in [
        format!("{user} ('u1', '{}', 'n', 'h');", "e".repeat(255)), // email longer than max: 254
        format!("{user} ('u1', 'a@b', '', 'h');"),                  // name shorter than min: 1
        format!("{user} ('u1', 'a@b', 'n', 'h'); {user} ('u2', 'a@b', 'n', 'h');"), // unique email
        "INSERT INTO rooms (title, owner_id) VALUES ('t', 'nobody');".to_owned(), // dangling foreign key
        format!("{user} ('u1', 'a@b', 'n', NULL);"),                              // required column
    ] {
        sqlite(chat, &probe).unwrap_or_else(|e| panic!("{probe}: {e}"));
    }
    let ks = &generate_example("kitchen-sink").files["migrations/sqlite/0001_init.sql"];
    sqlite(
        ks,
        "INSERT INTO accounts (id, handle, secret, role) VALUES ('a', 'abc', 's', 'admin');",
    )
    .unwrap(); // not an enum value
    sqlite(ks, "INSERT INTO accounts (id, handle, secret) VALUES ('a', 'abc', 's'); INSERT INTO clients (type, ref, async, owner_id, \"not\") VALUES ('t', 0, 1, 'a', 'not json');").unwrap();
}

/// Runs psql against the local server; `None` when it is unreachable outside CI.
fn psql(database: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-X",
        ])
        .args(args)
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn postgres_migrations_apply_and_enforce_constraints() {
    if let Err(e) = psql("test", &["-c", "SELECT 1"]) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "PostgreSQL is required in CI: {e}"
        );
        eprintln!("SKIPPED: PostgreSQL at 127.0.0.1:5432 is unreachable: {e}");
        return;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let database = format!("ssot_gen_migrations_{}_{nanos}", std::process::id());
    psql("test", &["-c", &format!("CREATE DATABASE {database}")]).unwrap();
    let result = std::panic::catch_unwind(|| {
        for example in EXAMPLES {
            let schema = example.replace('-', "_");
            psql(&database, &["-c", &format!("CREATE SCHEMA {schema}")]).unwrap();
            let script = &generate_example(example).files["migrations/postgres/0001_init.sql"];
            let with_path = format!("SET search_path TO {schema};\n{script}");
            psql(&database, &["-c", &with_path]).unwrap_or_else(|e| panic!("{example}: {e}"));
        }
        let insert =
            "SET search_path TO chat; INSERT INTO users (email, name, password_hash) VALUES";
        let ok = psql(
            &database,
            &[
                "-c",
                &format!("{insert} ('a@b', 'n', 'h') RETURNING id, created_at"),
            ],
        )
        .unwrap();
        assert!(
            ok.contains("INSERT 0 1") || ok.contains("1 row"),
            "uuid and now() defaults fill id and created_at: {ok}"
        );
        let err = psql(
            &database,
            &["-c", &format!("{insert} ('{}', 'n', 'h')", "e".repeat(255))],
        )
        .unwrap_err();
        assert!(err.contains("check constraint"), "{err}");
        let err = psql(&database, &["-c", "SET search_path TO chat; INSERT INTO rooms (title, owner_id) VALUES ('t', gen_random_uuid())"]).unwrap_err();
        assert!(err.contains("foreign key"), "{err}");
        let ok = psql(&database, &["-c", "SET search_path TO kitchen_sink; INSERT INTO errors (reporter) SELECT 'x' WHERE false; SELECT column_default FROM information_schema.columns WHERE table_schema = 'kitchen_sink' AND table_name = 'errors' AND column_name = 'payload'"]).unwrap();
        assert!(
            ok.contains(r#"'{"codes": [1, 2], "retry": true}'::jsonb"#),
            "the structured json default is stored: {ok}"
        );
    });
    psql("test", &["-c", &format!("DROP DATABASE {database}")]).unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
