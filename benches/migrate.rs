//! What a migration costs on a SQLite table of 100,000 rows, as the server runs one (one transaction, foreign keys
//! off until the end, then `PRAGMA foreign_key_check`).
//!
//! - `rebuild`: a migration SQLite cannot make in place (an optional field made required, with a backfill), so
//!   the generator rebuilds the table: new table, copy, drop, rename, the index created again.
//! - `copy_floor`: the baseline for `rebuild`: its new table and its copy of the rows (`INSERT ... SELECT`), without
//!   the rest (drop, rename, index, foreign key check).
//! - `add_column`: a migration done in place (an optional field added): `ALTER TABLE ... ADD COLUMN`.
//! - `empty`: what every migration costs, its own statements aside: the transaction and the foreign key check
//!   (which reads every reference of the database).
//!
//! Every iteration starts from a copy of the same database file (not measured). Run with
//! `cargo bench --bench migrate`; results are in `docs/benchmarks.md`.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rusqlite::Connection;
use ssot_gen::migrate::History;
use ssot_gen::{Generated, Options};

const ROWS: usize = 100_000;

const V1: &str = "\
crate: bench
models:
  Owner:
    fields:
      id: { type: int, id: true, default: autoincrement }
  Item:
    fields:
      id:        { type: int, id: true, default: autoincrement }
      ownerId:   { type: int, references: Owner }
      title:     { type: string, min: 1, max: 100 }
      body:      text?
      count:     { type: int, min: 0 }
      createdAt: { type: datetime, default: now, readonly: true }
";

fn generate(schema: &str, history: History) -> Generated {
    let graph = ssot_gen::load("bench.yaml", schema).unwrap_or_else(|e| panic!("{e}"));
    let options = Options {
        history,
        ..Options::default()
    };
    ssot_gen::generate(&graph, &options).unwrap_or_else(|e| panic!("{e}"))
}

/// The SQLite migration that takes `V1` to `V1` with `edit` applied.
fn migration(first: &Generated, edit: (&str, &str)) -> String {
    assert!(V1.contains(edit.0));
    let next = generate(&V1.replace(edit.0, edit.1), History::of(&first.files));
    let name = next.migrations.written.expect("a migration").name;
    next.files[&format!("migrations/sqlite/{name}.sql")].clone()
}

/// Runs a migration as the server does.
fn migrate(conn: &mut Connection, sql: &str) {
    conn.pragma_update(None, "foreign_keys", false).unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute_batch(sql).unwrap();
    let broken: i64 = tx
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(broken, 0);
    tx.commit().unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
}

/// A database file at `path` with the first migration and `ROWS` items, half of them without a body.
fn seed(path: &Path, init: &str) {
    let mut conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    migrate(&mut conn, init);
    let tx = conn.transaction().unwrap();
    tx.execute_batch("INSERT INTO owners DEFAULT VALUES; INSERT INTO owners DEFAULT VALUES;")
        .unwrap();
    {
        let mut insert = tx
            .prepare("INSERT INTO items (owner_id, title, body, count) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        for i in 0..ROWS {
            let body = (i % 2 == 0).then(|| format!("The body of item {i}, a few words long."));
            insert
                .execute(rusqlite::params![1 + i % 2, format!("Item {i}"), body, i])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
}

fn benches(c: &mut Criterion) {
    let first = generate(V1, History::default());
    let init = &first.files["migrations/sqlite/0001_init.sql"];
    let rebuild = migration(
        &first,
        (
            "      body:      text?\n",
            "      body:      { type: text, backfill: (no body) }\n",
        ),
    );
    assert!(
        rebuild.contains("RENAME TO \"items\""),
        "not a rebuild:\n{rebuild}"
    );
    let add_column = migration(
        &first,
        (
            "      body:      text?\n",
            "      body:      text?\n      note:      string?\n",
        ),
    );
    assert!(
        add_column.contains("ADD COLUMN"),
        "not in place:\n{add_column}"
    );
    // The floor: the rebuild's new table and its copy of the rows, without the rest (sequence, drop, rename,
    // index, foreign key check).
    let copy_floor = rebuild
        .lines()
        .skip_while(|l| !l.starts_with("CREATE TABLE"))
        .take_while(|l| !l.starts_with("DELETE FROM sqlite_sequence"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        copy_floor.contains("INSERT INTO \"_ssot_new_items\""),
        "{copy_floor}"
    );

    let dir = tempfile::tempdir().unwrap();
    let seeded = dir.path().join("seeded.db");
    seed(&seeded, init);
    eprintln!(
        "seeded database: {} rows, {} bytes",
        ROWS,
        std::fs::metadata(&seeded).unwrap().len()
    );

    let mut g = c.benchmark_group("sqlite_100k_rows");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    for (name, sql) in [
        ("rebuild", &rebuild),
        ("copy_floor", &copy_floor),
        ("add_column", &add_column),
        ("empty", &String::new()),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let path = dir.path().join("run.db");
                    let _ = std::fs::remove_file(dir.path().join("run.db-wal"));
                    let _ = std::fs::remove_file(dir.path().join("run.db-shm"));
                    std::fs::copy(&seeded, &path).unwrap();
                    let conn = Connection::open(&path).unwrap();
                    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
                    conn
                },
                |mut conn| migrate(&mut conn, sql),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(migrations, benches);
criterion_main!(migrations);
