//! The generated migrations, applied to real databases (SQLite through rusqlite, PostgreSQL through psql in a
//! database of its own, dropped afterwards).
//!
//! - Every example's first migration applies and its constraints hold.
//! - The ladder: a schema through twelve versions that together make every kind of change, applied step by step
//!   with rows in every table, on each dialect. After each step every value is still there (renamed columns and
//!   tables followed, nulls filled where a field became required); at the end the database's catalog is exactly
//!   that of a fresh install of the last version.

mod common;

use std::collections::BTreeMap;

use common::pg::{self, TestDatabase};
use common::{generate_example, EXAMPLES};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use ssot_gen::migrate::History;
use ssot_gen::model::types::Scalar;
use ssot_gen::model::{DefaultKind, Graph};
use ssot_gen::{Generated, Options};

/// Applies the migration `script`, then runs `probe` (if not empty), which must be rejected by a constraint.
fn sqlite(script: &str, probe: &str) -> Result<(), String> {
    let db = common::sqlite::with_script(script)?;
    if probe.is_empty() {
        return Ok(());
    }
    match db.execute_batch(probe) {
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Ok(())
        }
        Err(e) => Err(format!(
            "the probe failed otherwise than by a constraint: {e}"
        )),
        Ok(()) => Err("the probe was accepted".to_owned()),
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

#[test]
fn postgres_migrations_apply_and_enforce_constraints() {
    if !pg::available("the PostgreSQL migration test") {
        return;
    }
    let database = TestDatabase::create("ssot_gen_migrations");
    for example in EXAMPLES {
        let schema = example.replace('-', "_");
        database.psql(&format!("CREATE SCHEMA {schema}")).unwrap();
        let script = &generate_example(example).files["migrations/postgres/0001_init.sql"];
        let with_path = format!("SET search_path TO {schema};\n{script}");
        database
            .psql(&with_path)
            .unwrap_or_else(|e| panic!("{example}: {e}"));
    }
    let insert = "SET search_path TO chat; INSERT INTO users (email, name, password_hash) VALUES";
    let row = database
        .psql(&format!(
            "{insert} ('a@b', 'n', 'h') RETURNING id, created_at"
        ))
        .unwrap();
    let (id, created_at) = row.split_once('|').unwrap_or_default();
    assert!(
        id.len() == 36 && !created_at.is_empty(),
        "uuid and now() defaults fill id and created_at: {row:?}"
    );
    let err = database
        .psql(&format!("{insert} ('{}', 'n', 'h')", "e".repeat(255)))
        .unwrap_err();
    assert!(err.contains("check constraint"), "{err}");
    let err = database
        .psql("SET search_path TO chat; INSERT INTO rooms (title, owner_id) VALUES ('t', gen_random_uuid())")
        .unwrap_err();
    assert!(err.contains("foreign key"), "{err}");
    let default = database.psql("SET search_path TO kitchen_sink; INSERT INTO errors (reporter) SELECT 'x' WHERE false; SELECT column_default FROM information_schema.columns WHERE table_schema = 'kitchen_sink' AND table_name = 'errors' AND column_name = 'payload'").unwrap();
    assert!(
        default.contains(r#"'{"codes": [1, 2], "retry": true}'::jsonb"#),
        "the structured json default is stored: {default}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The ladder

const BASE: &str = "\
crate: ladder
enums:
  Level: [low, high]
models:
  User:
    fields:
      id:    { type: uuid, id: true, default: uuid }
      email: { type: string, unique: true, max: 100 }
      name:  string?
      score: int?
  Room:
    fields:
      id:    { type: int, id: true, default: autoincrement }
      title: { type: string, min: 1, max: 50 }
      level: { type: Level, default: low }
      topic: text?
  Note:
    fields:
      id:       { type: bigint, id: true, default: autoincrement }
      body:     text
      authorId: { type: uuid, references: User }
      roomId:   { type: int?, references: Room }
      rating:   { type: int, min: 0, max: 5 }
  Scrap:
    fields:
      id:      { type: string, id: true }
      payload: json?
";

/// One version after the first: the edits that make it from the one before, and what its migration does to the
/// values already there.
struct Step {
    /// (text, replacement) applied to the previous version's schema; each text must occur once.
    edits: &'static [(&'static str, &'static str)],
    /// The migration's name, as derived from the change.
    name: &'static str,
    accept_data_loss: bool,
    /// (old table, new table)
    tables: &'static [(&'static str, &'static str)],
    /// (table, old column, new column), tables by their new names.
    columns: &'static [(&'static str, &'static str, &'static str)],
    /// (table, column, the value a row that existed gets where it had none): `uuid` for a new UUID each, `any` for
    /// any value.
    fills: &'static [(&'static str, &'static str, Fill)],
}

#[derive(Clone, Copy, Debug)]
enum Fill {
    Value(&'static str),
    /// The value as SQLite and as PostgreSQL show it (a bool).
    Each(&'static str, &'static str),
    Uuid,
    Any,
}

const STEPS: &[Step] = &[
    // Add a model, an optional field, a field with a default.
    Step {
        edits: &[
            ("  Note:\n", "  Tag:\n    fields:\n      id:     { type: int, id: true, default: autoincrement }\n      label:  { type: string, unique: true }\n      roomId: { type: int, references: Room }\n  Note:\n"),
            ("      score: int?\n", "      score: int?\n      bio:   text?\n"),
            ("      topic: text?\n", "      topic: text?\n      open:  { type: bool, default: true }\n      hostId: uuid?\n"),
        ],
        name: "alter_room_tag_user",
        accept_data_loss: false,
        tables: &[],
        columns: &[],
        fills: &[("rooms", "open", Fill::Each("1", "true"))],
    },
    // Required fields: with a backfill, a uuid default (a new one per row) and a `now` default.
    Step {
        edits: &[
            ("      rating:   { type: int, min: 0, max: 5 }\n", "      rating:   { type: int, min: 0, max: 5 }\n      status:   { type: string, backfill: draft }\n"),
            ("      hostId: uuid?\n", "      hostId: uuid?\n      key:    { type: uuid, default: uuid }\n"),
            ("      bio:   text?\n", "      bio:   text?\n      joinedAt: { type: datetime, default: now }\n"),
        ],
        name: "alter_note_room_user",
        accept_data_loss: false,
        tables: &[],
        columns: &[],
        fills: &[
            ("notes", "status", Fill::Value("draft")),
            ("rooms", "key", Fill::Uuid),
            ("users", "joined_at", Fill::Any),
        ],
    },
    // Rename a field and a model.
    Step {
        edits: &[
            ("      name:  string?\n", "      displayName: { type: string?, renamedFrom: name }\n"),
            ("  Room:\n", "  Space:\n    renamedFrom: Room\n"),
            ("      roomId:   { type: int?, references: Room }\n", "      roomId:   { type: int?, references: Space }\n"),
            ("      roomId: { type: int, references: Room }\n", "      roomId: { type: int, references: Space }\n"),
        ],
        name: "alter_space_user",
        accept_data_loss: false,
        tables: &[("rooms", "spaces")],
        columns: &[("users", "name", "display_name")],
        fills: &[],
    },
    // Optional -> required (with a backfill for the nulls), required -> optional.
    Step {
        edits: &[
            ("      score: int?\n", "      score: { type: int, backfill: 0 }\n"),
            ("      rating:   { type: int, min: 0, max: 5 }\n", "      rating:   { type: int?, min: 0, max: 5 }\n"),
        ],
        name: "alter_note_user",
        accept_data_loss: false,
        tables: &[],
        columns: &[],
        fills: &[("users", "score", Fill::Value("0"))],
    },
    // Safe type changes, in place.
    Step {
        edits: &[
            ("      rating:   { type: int?, min: 0, max: 5 }\n", "      rating:   { type: bigint?, min: 0, max: 5 }\n"),
            ("      topic: text?\n", "      topic: string?\n"),
            ("      title: { type: string, min: 1, max: 50 }\n", "      title: { type: text, min: 1, max: 50 }\n"),
            // A key referenced by other tables, with the references.
            ("      id:    { type: int, id: true, default: autoincrement }\n      title:", "      id:    { type: bigint, id: true, default: autoincrement }\n      title:"),
            ("      roomId:   { type: int?, references: Space }\n", "      roomId:   { type: bigint?, references: Space }\n"),
            ("      roomId: { type: int, references: Space }\n", "      roomId: { type: bigint, references: Space }\n"),
        ],
        name: "alter_note_space_tag",
        accept_data_loss: false,
        tables: &[],
        columns: &[],
        fills: &[],
    },
    // Unique removed and added; the id renamed (references to it follow).
    Step {
        edits: &[
            ("      email: { type: string, unique: true, max: 100 }\n", "      email: { type: string, max: 100 }\n"),
            ("      displayName: { type: string?, renamedFrom: name }\n", "      displayName: { type: string?, unique: true, renamedFrom: name }\n"),
            ("      id:    { type: uuid, id: true, default: uuid }\n", "      uid:   { type: uuid, id: true, default: uuid, renamedFrom: id }\n"),
        ],
        name: "alter_user",
        accept_data_loss: false,
        tables: &[],
        columns: &[("users", "id", "uid")],
        fills: &[],
    },
    // A reference removed, one added to an existing field, a new field that is a reference.
    Step {
        edits: &[
            ("      authorId: { type: uuid, references: User }\n", "      authorId: uuid\n"),
            ("      hostId: uuid?\n", "      hostId: { type: uuid?, references: User }\n"),
            ("      payload: json?\n", "      payload: json?\n      ownerId: { type: uuid?, references: User }\n"),
        ],
        name: "alter_note_scrap_space",
        accept_data_loss: false,
        tables: &[],
        columns: &[],
        fills: &[],
    },
    // Enum values added and removed.
    Step {
        edits: &[("  Level: [low, high]\n", "  Level: [low, medium]\n")],
        name: "alter_space_level",
        accept_data_loss: false,
        tables: &[],
        columns: &[],
        fills: &[],
    },
    // Bounds (CHECK) and defaults changed.
    Step {
        edits: &[
            ("      title: { type: text, min: 1, max: 50 }\n", "      title: { type: text, min: 1, max: 80 }\n"),
            ("      body:     text\n", "      body:     { type: text, max: 5000 }\n"),
            ("      level: { type: Level, default: low }\n", "      level: { type: Level, default: medium }\n"),
            ("      open:  { type: bool, default: true }\n", "      open:  { type: bool, default: false }\n"),
        ],
        name: "alter_note_space",
        accept_data_loss: false,
        tables: &[],
        columns: &[],
        fills: &[],
    },
    // Tables renamed with `table:`, one into the other's old name.
    Step {
        edits: &[
            ("  Tag:\n", "  Tag:\n    table: labels\n"),
            ("  Note:\n", "  Note:\n    table: tags\n"),
        ],
        name: "alter_note_tag",
        accept_data_loss: false,
        tables: &[("tags", "labels"), ("notes", "tags")],
        columns: &[],
        fills: &[],
    },
    // Data loss, accepted: a field and a model dropped, a type narrowed.
    Step {
        edits: &[
            ("      bio:   text?\n", ""),
            ("  Scrap:\n    fields:\n      id:      { type: string, id: true }\n      payload: json?\n      ownerId: { type: uuid?, references: User }\n", ""),
            ("      rating:   { type: bigint?, min: 0, max: 5 }\n", "      rating:   { type: int?, min: 0, max: 5 }\n"),
        ],
        name: "alter_note_scrap_user",
        accept_data_loss: true,
        tables: &[],
        columns: &[],
        fills: &[],
    },
];

/// A database the ladder runs on.
trait Database {
    /// Runs one migration as the server does: in one transaction (on SQLite with foreign keys off, checked before
    /// it commits).
    fn migrate(&mut self, sql: &str);
    fn execute(&mut self, sql: &str);
    /// Inserts a row and returns the value of `key`.
    fn insert(&mut self, table: &str, values: &[(String, String)], key: &str) -> String;
    /// Every row of `table`, by the value of `key`: column -> value (as text; `None` for NULL).
    fn rows(&mut self, table: &str, key: &str) -> BTreeMap<String, Row>;
    /// The schema's catalog as comparable text: tables and columns (in name order), constraints, indexes.
    fn catalog(&mut self) -> String;
    fn dialect(&self) -> &'static str;
}

type Row = BTreeMap<String, Option<String>>;

fn generate(graph: &Graph, history: History, accept_data_loss: bool) -> Generated {
    let options = Options {
        history,
        accept_data_loss,
        ..Options::default()
    };
    ssot_gen::generate(graph, &options).unwrap_or_else(|e| panic!("{e}"))
}

fn load(text: &str) -> Graph {
    ssot_gen::load("ladder.yaml", text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Runs the ladder on `db` and compares the result with a fresh install of the last version on `fresh`.
fn ladder(db: &mut dyn Database, fresh: &mut dyn Database) {
    let dialect = db.dialect();
    let mut text = BASE.to_owned();
    let mut graph = load(&text);
    let mut generated = generate(&graph, History::default(), false);
    db.migrate(&generated.files[&format!("migrations/{dialect}/0001_init.sql")]);
    let mut rows = Rows::default();
    insert_rows(db, &graph, &mut rows);
    for (number, step) in STEPS.iter().enumerate() {
        for (from, to) in step.edits {
            assert_eq!(
                text.matches(from).count(),
                1,
                "step {}: {from:?}",
                number + 2
            );
            text = text.replace(from, to);
        }
        let next = load(&text);
        let history = History::of(&generated.files);
        generated = generate(&next, history, step.accept_data_loss);
        let written = generated
            .migrations
            .written
            .clone()
            .unwrap_or_else(|| panic!("step {}: no migration written", number + 2));
        assert_eq!(written.name, format!("{:04}_{}", number + 2, step.name));
        // The same schema and history again: nothing new, the same files.
        let again = generate(&next, History::of(&generated.files), false);
        assert_eq!(again.migrations.written, None, "{}", written.name);
        assert_eq!(again.files, generated.files, "{}", written.name);

        // The newest note goes: its id must not be given out again, also when the migration rebuilds the table.
        let notes = &graph
            .models
            .iter()
            .find(|m| m.name == "Note")
            .unwrap()
            .table;
        db.execute(&format!(
            "DELETE FROM \"{notes}\" WHERE \"id\" = (SELECT max(\"id\") FROM \"{notes}\")"
        ));
        let before = snapshot(db, &graph);
        let events = db.rows("_ssot_events", "seq");
        let sql = &generated.files[&format!("migrations/{dialect}/{}.sql", written.name)];
        db.migrate(sql);
        let after = snapshot(db, &next);
        check_preserved(step, dialect, &before, &after)
            .unwrap_or_else(|e| panic!("{dialect}, {}: {e}\n{sql}", written.name));
        check_events(&next, &events, &db.rows("_ssot_events", "seq"))
            .unwrap_or_else(|e| panic!("{dialect}, {}: {e}\n{sql}", written.name));
        graph = next;
        insert_rows(db, &graph, &mut rows);
    }
    let first = generate(&graph, History::default(), false);
    fresh.migrate(&first.files[&format!("migrations/{dialect}/0001_init.sql")]);
    let (migrated, installed) = (db.catalog(), fresh.catalog());
    if migrated != installed {
        let diff = similar::TextDiff::from_lines(&installed, &migrated)
            .unified_diff()
            .header("fresh install", "migrated step by step")
            .to_string();
        panic!("{dialect}: the migrated catalog differs from a fresh install:\n{diff}");
    }
}

/// Every table's rows, by table name.
fn snapshot(db: &mut dyn Database, graph: &Graph) -> BTreeMap<String, BTreeMap<String, Row>> {
    graph
        .models
        .iter()
        .map(|m| {
            let key = m.fields.iter().find(|f| f.id).unwrap().column.clone();
            (m.table.clone(), db.rows(&m.table, &key))
        })
        .collect()
}

/// Every row that was there is still there, every value it had too (under new names, where renamed), and the
/// values it had not are filled as the step says.
fn check_preserved(
    step: &Step,
    dialect: &str,
    before: &BTreeMap<String, BTreeMap<String, Row>>,
    after: &BTreeMap<String, BTreeMap<String, Row>>,
) -> Result<(), String> {
    for (table, rows) in before {
        let table = step
            .tables
            .iter()
            .find(|(from, _)| from == table)
            .map_or(table.as_str(), |(_, to)| to);
        let Some(now) = after.get(table) else {
            continue; // a dropped model
        };
        if rows.len() != now.len() {
            return Err(format!(
                "`{table}` had {} rows, has {}",
                rows.len(),
                now.len()
            ));
        }
        let mut uuids = Vec::new();
        for (key, row) in rows {
            let new_row = now
                .get(key)
                .ok_or_else(|| format!("`{table}` lost the row {key}"))?;
            for (column, value) in row {
                let column = step
                    .columns
                    .iter()
                    .find(|(t, from, _)| *t == table && from == column)
                    .map_or(column.as_str(), |(_, _, to)| to);
                // A column that is gone was dropped by the step.
                if let Some(new_value) = new_row.get(column) {
                    if value.is_some() && new_value != value {
                        return Err(format!(
                            "`{table}`.`{column}` of row {key} was {value:?}, is {new_value:?}"
                        ));
                    }
                }
            }
            for (t, column, fill) in step.fills {
                if t != &table || row.get(*column).is_some_and(Option::is_some) {
                    continue;
                }
                let value = new_row.get(*column).cloned().flatten();
                let ok = match (fill, &value) {
                    (Fill::Value(expected), Some(v)) => v == expected,
                    (Fill::Each(sqlite, postgres), Some(v)) => {
                        v == if dialect == "sqlite" {
                            sqlite
                        } else {
                            postgres
                        }
                    }
                    (Fill::Uuid, Some(v)) => {
                        uuids.push(v.clone());
                        v.len() == 36 && v.chars().filter(|c| *c == '-').count() == 4
                    }
                    (Fill::Any, Some(_)) => true,
                    (_, None) => false,
                };
                if !ok {
                    return Err(format!(
                        "`{table}`.`{column}` of row {key} should be filled ({fill:?}), is {value:?}"
                    ));
                }
            }
        }
        let count = uuids.len();
        uuids.sort();
        uuids.dedup();
        if uuids.len() != count {
            return Err(format!("`{table}`: filled UUIDs repeat"));
        }
    }
    Ok(())
}

/// The outbox keeps every event; those of a renamed model take its new name.
fn check_events(
    next: &Graph,
    before: &BTreeMap<String, Row>,
    after: &BTreeMap<String, Row>,
) -> Result<(), String> {
    if before.len() != after.len() {
        return Err(format!(
            "the outbox had {} events, has {}",
            before.len(),
            after.len()
        ));
    }
    for (seq, event) in before {
        let model = event["model"].clone().unwrap();
        let renamed = next.hints.models.iter().find(|(_, h)| {
            h.renamed_from
                .as_ref()
                .is_some_and(|from| from.value == model)
        });
        let expected = match renamed {
            Some((name, _)) if !next.models.iter().any(|m| m.name == model) => name.clone(),
            _ => model,
        };
        let now = after[seq]["model"].clone().unwrap();
        if now != expected {
            return Err(format!(
                "event {seq} is of `{now}`, should be of `{expected}`"
            ));
        }
    }
    Ok(())
}

/// What the ladder has inserted: a count for unique values, and the last id each generated key gave out.
#[derive(Default)]
struct Rows {
    count: usize,
    issued: BTreeMap<String, i64>,
}

/// Two rows in every table (referenced tables first): one with every optional field null, one with all set. Users
/// come first, and a uuid field holds a user's id, so that a reference to `User` added to it later holds.
fn insert_rows(db: &mut dyn Database, graph: &Graph, rows: &mut Rows) {
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut pending: Vec<&ssot_gen::model::Model> = graph.models.iter().collect();
    pending.sort_by_key(|m| m.name != "User");
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|m| {
                m.relations
                    .iter()
                    .all(|r| r.target == m.name || ids.contains_key(&r.target))
            })
            .expect("references between the ladder's models form no cycle");
        let model = pending.remove(ready);
        for with_optional in [false, true] {
            rows.count += 1;
            let n = rows.count;
            let mut values = Vec::new();
            for f in &model.fields {
                let generated = f
                    .default
                    .as_ref()
                    .is_some_and(|d| d.kind == DefaultKind::Autoincrement);
                if generated || (f.optional && !with_optional) {
                    continue;
                }
                let value = match (&f.references, ids.get("User")) {
                    (Some(target), _) => format!("'{}'", ids[target]),
                    (None, Some(user)) if f.scalar == Scalar::Uuid && !f.id && !f.unique => {
                        format!("'{user}'")
                    }
                    _ => value(graph, f, n, db.dialect()),
                };
                values.push((f.column.clone(), value));
            }
            let key = model.fields.iter().find(|f| f.id).unwrap();
            let id = db.insert(&model.table, &values, &key.column);
            if key
                .default
                .as_ref()
                .is_some_and(|d| d.kind == DefaultKind::Autoincrement)
            {
                let number: i64 = id.parse().unwrap();
                let last = rows.issued.insert(model.name.clone(), number).unwrap_or(0);
                assert!(
                    number > last,
                    "`{}` gave out id {number} after {last}",
                    model.table
                );
            }
            // An event for the row, as the server writes one.
            db.execute(&format!(
                "INSERT INTO \"_ssot_events\" (\"model\", \"record_id\", \"kind\", \"data\") VALUES ('{}', '{id}', 'created', '{{}}')",
                model.name
            ));
            ids.insert(model.name.clone(), id);
        }
    }
}

/// A literal value for `f` in row `n`, within its bounds and unique where it must be.
fn value(graph: &Graph, f: &ssot_gen::model::Field, n: usize, dialect: &str) -> String {
    let bound = |b: Option<&String>| b.map(|s| s.parse::<f64>().unwrap());
    let (min, _max) = f.bounds.as_ref().map_or((None, None), |b| {
        (bound(b.min.as_ref()), bound(b.max.as_ref()))
    });
    match f.scalar {
        Scalar::String | Scalar::Text => format!("'{}{n}'", f.name),
        Scalar::Int | Scalar::BigInt => match min {
            Some(min) => format!("{}", min as i64 + 1),
            None => n.to_string(),
        },
        Scalar::Float => "1.5".to_owned(),
        Scalar::Bool if dialect == "sqlite" => "1".to_owned(),
        Scalar::Bool => "TRUE".to_owned(),
        Scalar::Uuid => format!("'00000000-0000-4000-8000-{n:012}'"),
        Scalar::DateTime => "'2024-01-02T03:04:05.000000Z'".to_owned(),
        Scalar::Date => "'2024-01-02'".to_owned(),
        Scalar::Json => format!("'{{\"n\": {n}}}'"),
        Scalar::Enum => {
            let e = graph.enums.iter().find(|e| e.name == f.type_name).unwrap();
            format!("'{}'", e.variants[0].value)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// SQLite

struct Sqlite {
    conn: Connection,
    _dir: tempfile::TempDir,
}

impl Sqlite {
    fn new() -> Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("ladder.db")).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        Sqlite { conn, _dir: dir }
    }
}

impl Database for Sqlite {
    fn migrate(&mut self, sql: &str) {
        // Foreign keys cannot be switched off inside a transaction; a rebuilt table is dropped while others
        // still reference it.
        self.conn
            .pragma_update(None, "foreign_keys", false)
            .unwrap();
        let tx = self.conn.transaction().unwrap();
        tx.execute_batch(sql)
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        let violations: i64 = tx
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(violations, 0, "foreign keys broken by\n{sql}");
        tx.commit().unwrap();
        self.conn.pragma_update(None, "foreign_keys", true).unwrap();
    }

    fn execute(&mut self, sql: &str) {
        self.conn.execute_batch(sql).unwrap();
    }

    fn insert(&mut self, table: &str, values: &[(String, String)], key: &str) -> String {
        let sql = insert_sql(table, values, key);
        self.conn
            .query_row(&sql, [], |r| Ok(text(r.get_ref(0)?)))
            .unwrap_or_else(|e| panic!("{e}\n{sql}"))
            .unwrap()
    }

    fn rows(&mut self, table: &str, key: &str) -> BTreeMap<String, Row> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .unwrap();
        let names: Vec<String> = statement
            .column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rows = statement
            .query_map([], |r| {
                (0..names.len())
                    .map(|i| Ok((names[i].clone(), text(r.get_ref(i)?))))
                    .collect::<rusqlite::Result<Row>>()
            })
            .unwrap();
        rows.map(|row| {
            let row = row.unwrap();
            (row[key].clone().unwrap(), row)
        })
        .collect()
    }

    fn catalog(&mut self) -> String {
        let query = |sql: &str| -> Vec<Vec<Option<String>>> {
            let mut statement = self.conn.prepare(sql).unwrap();
            let count = statement.column_count();
            statement
                .query_map([], |r| {
                    (0..count).map(|i| Ok(text(r.get_ref(i)?))).collect()
                })
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let mut out = Vec::new();
        let tables = query("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
        for table in tables {
            let (name, sql) = (table[0].clone().unwrap(), table[1].clone().unwrap());
            let (mut definitions, options) = definitions(&sql);
            definitions.sort();
            out.push(format!("table {name}{options}"));
            out.extend(definitions.iter().map(|d| format!("  {d}")));
            let mut keys = query(&format!(
                "SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list('{name}')"
            ));
            keys.sort();
            out.extend(keys.iter().map(|k| format!("  foreign key {k:?}")));
            // Indexes SQLite makes for UNIQUE constraints are numbered in column order: compared by what they index.
            let mut unique = query(&format!("SELECT \"unique\", (SELECT group_concat(name) FROM pragma_index_info(l.name)) FROM pragma_index_list('{name}') l WHERE origin <> 'c'"));
            unique.sort();
            out.extend(unique.iter().map(|u| format!("  automatic index {u:?}")));
        }
        for index in query("SELECT name, tbl_name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name") {
            let sql = index[2].clone().unwrap();
            out.push(format!(
                "index {:?} on {:?}: {}",
                index[0],
                index[1],
                sql.split_whitespace().collect::<Vec<_>>().join(" ")
            ));
        }
        out.join("\n")
    }

    fn dialect(&self) -> &'static str {
        "sqlite"
    }
}

fn insert_sql(table: &str, values: &[(String, String)], key: &str) -> String {
    let columns: Vec<String> = values.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let literals: Vec<&str> = values.iter().map(|(_, v)| v.as_str()).collect();
    format!(
        "INSERT INTO \"{table}\" ({}) VALUES ({}) RETURNING \"{key}\"",
        columns.join(", "),
        literals.join(", ")
    )
}

fn text(value: ValueRef) -> Option<String> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(format!("{b:?}")),
    }
}

/// The column definitions and constraints of a `CREATE TABLE`, whitespace normalized, and the table's options.
/// SQLite keeps a table's text as written, with added columns spliced in at the end.
fn definitions(sql: &str) -> (Vec<String>, String) {
    let open = sql.find('(').unwrap();
    let (mut depth, mut quote, mut start, mut close) = (0, None, open + 1, sql.len());
    let mut parts = Vec::new();
    for (i, c) in sql.char_indices().skip(open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    parts.push(&sql[start..i]);
                    close = i;
                    break;
                }
            }
            (None, ',') if depth == 1 => {
                parts.push(&sql[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    let normalize = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let options = normalize(&sql[close + 1..]);
    (
        parts.into_iter().map(normalize).collect(),
        format!(" {options}"),
    )
}

#[test]
fn ladder_on_sqlite() {
    ladder(&mut Sqlite::new(), &mut Sqlite::new());
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL

struct Postgres {
    db: TestDatabase,
}

impl Database for Postgres {
    fn migrate(&mut self, sql: &str) {
        self.db
            .psql(&format!("BEGIN;\n{sql}\nCOMMIT;"))
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    fn execute(&mut self, sql: &str) {
        self.db.psql(sql).unwrap();
    }

    fn insert(&mut self, table: &str, values: &[(String, String)], key: &str) -> String {
        let sql = insert_sql(table, values, key);
        self.db.psql(&sql).unwrap_or_else(|e| panic!("{e}\n{sql}"))
    }

    fn rows(&mut self, table: &str, key: &str) -> BTreeMap<String, Row> {
        let out = self
            .db
            .psql(&format!("SELECT row_to_json(t) FROM \"{table}\" t"))
            .unwrap();
        out.lines()
            .filter(|l| !l.is_empty())
            .map(|line| {
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(line).unwrap();
                let row: Row = object
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            serde_json::Value::Null => None,
                            serde_json::Value::String(s) => Some(s),
                            other => Some(other.to_string()),
                        };
                        (k, v)
                    })
                    .collect();
                (row[key].clone().unwrap(), row)
            })
            .collect()
    }

    fn catalog(&mut self) -> String {
        [
            "SELECT table_name, column_name, data_type, is_nullable, column_default, collation_name, is_identity, identity_generation FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
            "SELECT sequencename, data_type, start_value, min_value, max_value, increment_by FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1",
        ]
        .iter()
        .map(|q| self.db.psql(q).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
    }

    fn dialect(&self) -> &'static str {
        "postgres"
    }
}

#[test]
fn ladder_on_postgres() {
    if !pg::available("ladder_on_postgres") {
        return;
    }
    ladder(
        &mut Postgres {
            db: TestDatabase::create("ssot_gen_ladder"),
        },
        &mut Postgres {
            db: TestDatabase::create("ssot_gen_ladder_fresh"),
        },
    );
}
