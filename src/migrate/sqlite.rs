//! A diff -> the statements of one SQLite migration. What `ALTER TABLE` does (rename a table or a column, add or
//! drop a plain column) is done in place; any other change rebuilds the table by SQLite's documented procedure
//! (<https://www.sqlite.org/lang_altertable.html#otheralter>): create the new table, copy the rows, drop the old
//! table, give the new one its name, create its indexes. The server runs a migration in one transaction with
//! foreign keys off, and checks them (`PRAGMA foreign_key_check`) before it commits.

use super::diff::{Added, ColumnDiff, Diff, TableDiff};
use super::shape::Table;
use crate::model::names::quote_sql as q;
use crate::model::sql::{index_name, index_sql, sql_string, Dialect};
use crate::model::types::Scalar;

const D: Dialect = Dialect::Sqlite;

/// The migration's statements, in blocks (a block may start with `--` comment lines).
pub fn statements(diff: &Diff) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    // First the tables that go: a rename below may take one's name. Foreign keys are off until the end.
    blocks.push(
        diff.dropped
            .iter()
            .map(|t| format!("DROP TABLE {};", q(&t.table)))
            .collect(),
    );
    // A table rename also rewrites the references other tables make to it.
    let renames: Vec<(String, String)> = diff
        .altered
        .iter()
        .map(|t| (t.old.table.clone(), t.new.table.clone()))
        .collect();
    let taken: Vec<String> = renames.iter().map(|(old, _)| old.clone()).collect();
    blocks.push(
        super::diff::moves(&renames, &taken)
            .iter()
            .map(|(from, to)| format!("ALTER TABLE {} RENAME TO {};", q(from), q(to)))
            .collect(),
    );
    // Indexes are named after their table and column: those whose name changes, or whose table is rebuilt, are
    // dropped first and created at the end.
    let mut drop_indexes = Vec::new();
    let mut create_indexes = Vec::new();
    for t in &diff.altered {
        let rebuild = needs_rebuild(t);
        let old = indexes(t.old);
        let new = indexes(t.new);
        drop_indexes.extend(
            old.iter()
                .filter(|(name, _)| rebuild || !new.iter().any(|(n, _)| n == name))
                .map(|(name, _)| format!("DROP INDEX {};", q(name))),
        );
        create_indexes.extend(
            new.iter()
                .filter(|(name, _)| rebuild || !old.iter().any(|(n, _)| n == name))
                .map(|(_, sql)| sql.clone()),
        );
    }
    blocks.push(drop_indexes);
    blocks.push(super::diff::renamed_events(diff));
    for t in &diff.altered {
        blocks.push(if needs_rebuild(t) {
            rebuild(t)
        } else {
            in_place(t)
        });
    }
    for t in &diff.created {
        blocks.push(vec![t.create(D, &t.table)]);
        create_indexes.extend(indexes(t).into_iter().map(|(_, sql)| sql));
    }
    blocks.push(create_indexes);
    blocks.retain(|b| !b.is_empty());
    blocks
}

/// (name, `CREATE INDEX`) of each index of a table.
fn indexes(t: &Table) -> Vec<(String, String)> {
    t.columns
        .iter()
        .filter(|c| c.indexed)
        .map(|c| {
            (
                index_name(&t.table, &c.column),
                index_sql(&t.table, &c.column),
            )
        })
        .collect()
}

/// Whether `ALTER TABLE` cannot make the change: a column's type, nullability, uniqueness, default, check or
/// reference changes, or a column to add or drop is more than plain (SQLite's limits on `ADD COLUMN` and
/// `DROP COLUMN`).
pub fn needs_rebuild(t: &TableDiff) -> bool {
    t.kept.iter().any(|c| {
        c.old.nullable != c.new.nullable
            || c.old.unique != c.new.unique
            || c.references_changed()
            || c.old.sqlite.ty != c.new.sqlite.ty
            || c.old.sqlite.default != c.new.sqlite.default
            || c.check_changed(D)
    }) || t.added.iter().any(|a| !can_add(a))
        || t.dropped
            .iter()
            .any(|c| c.unique || c.primary_key || c.references.is_some())
}

/// `ADD COLUMN` takes no key, no `UNIQUE`, no default that is an expression, no `NOT NULL` without a constant
/// default (the existing rows' value), and a reference only with a NULL default.
fn can_add(a: &Added) -> bool {
    let c = a.column;
    let default = c.sqlite.default.as_deref();
    let filled_by_default = a.fill.as_ref().is_some_and(|f| !f.backfill) && default.is_some();
    !c.unique
        && !c.primary_key
        && !default.is_some_and(|d| d.starts_with('('))
        && (c.nullable || filled_by_default)
        && (c.references.is_none() || (c.nullable && default.is_none()))
}

fn in_place(t: &TableDiff) -> Vec<String> {
    let table = q(&t.new.table);
    let mut lines: Vec<String> = t
        .dropped
        .iter()
        .map(|c| format!("ALTER TABLE {table} DROP COLUMN {};", q(&c.column)))
        .collect();
    let renames: Vec<(String, String)> = t
        .kept
        .iter()
        .map(|c| (c.old.column.clone(), c.new.column.clone()))
        .collect();
    let taken: Vec<String> = renames.iter().map(|(old, _)| old.clone()).collect();
    lines.extend(
        super::diff::moves(&renames, &taken)
            .iter()
            .map(|(from, to)| {
                format!(
                    "ALTER TABLE {table} RENAME COLUMN {} TO {};",
                    q(from),
                    q(to)
                )
            }),
    );
    for c in &t.kept {
        lines.extend(narrowing_guard(&t.new.table, &c.new.column, c));
    }
    lines.extend(t.added.iter().map(|a| {
        format!(
            "ALTER TABLE {table} ADD COLUMN {};",
            a.column.definition(D, None)
        )
    }));
    lines
}

fn rebuild(t: &TableDiff) -> Vec<String> {
    let name = &t.new.table;
    let table = q(name);
    let temporary = format!("_ssot_new_{name}");
    let mut lines = vec![format!(
        "-- {table} is rebuilt (SQLite cannot make this change in place): its rows are copied into a new table."
    )];
    // The key's new name goes in first, so that the references other tables make to it are rewritten.
    for c in t.kept.iter().filter(|c| c.new.primary_key && c.renamed()) {
        lines.push(format!(
            "ALTER TABLE {table} RENAME COLUMN {} TO {};",
            q(&c.old.column),
            q(&c.new.column)
        ));
    }
    let current = |c: &ColumnDiff| {
        if c.new.primary_key {
            c.new.column.clone()
        } else {
            c.old.column.clone()
        }
    };
    for c in &t.kept {
        lines.extend(narrowing_guard(name, &current(c), c));
    }
    lines.push(t.new.create(D, &temporary));
    let mut columns = Vec::new();
    let mut values = Vec::new();
    for column in &t.new.columns {
        if let Some(c) = t.kept.iter().find(|c| c.new.field == column.field) {
            let value = q(&current(c));
            columns.push(q(&column.column));
            values.push(match &c.fill {
                Some(fill) => format!("COALESCE({value}, {})", fill.sqlite),
                None => value,
            });
        } else if let Some(fill) = t
            .added
            .iter()
            .find(|a| a.column.field == column.field)
            .and_then(|a| a.fill.as_ref())
            .filter(|f| f.backfill || column.sqlite.default.is_none())
        {
            columns.push(q(&column.column));
            values.push(fill.sqlite.clone());
        }
        // Any other new column gets its default (or NULL) from the new table.
    }
    lines.push(format!(
        "INSERT INTO {} ({}) SELECT {} FROM {table};",
        q(&temporary),
        columns.join(", "),
        values.join(", ")
    ));
    if t.new.columns.iter().any(|c| c.autoincrement) {
        // The counter goes with the rows, so that the ids of deleted rows are not given out again.
        lines.push(format!(
            "DELETE FROM sqlite_sequence WHERE name = {};",
            sql_string(&temporary)
        ));
        lines.push(format!(
            "UPDATE sqlite_sequence SET name = {} WHERE name = {};",
            sql_string(&temporary),
            sql_string(name)
        ));
    }
    lines.push(format!("DROP TABLE {table};"));
    lines.push(format!("ALTER TABLE {} RENAME TO {table};", q(&temporary)));
    lines
}

/// A `bigint` narrowed to `int` keeps its storage on SQLite (`INTEGER`), so nothing would stop a value beyond 32
/// bits: a guard fails the migration instead, naming the column, when one is there.
fn narrowing_guard(table: &str, column: &str, c: &ColumnDiff) -> Vec<String> {
    if !(c.old.scalar == Scalar::BigInt && c.new.scalar == Scalar::Int) {
        return Vec::new();
    }
    let constraint = q(&format!("every {table}.{column} fits in int"));
    vec![
        format!("CREATE TEMP TABLE \"_ssot_guard\" (\"ok\" INTEGER CONSTRAINT {constraint} CHECK (\"ok\"));"),
        format!(
            "INSERT INTO \"_ssot_guard\" SELECT NOT EXISTS (SELECT 1 FROM {} WHERE {} NOT BETWEEN -2147483648 AND 2147483647);",
            q(table),
            q(column)
        ),
        "DROP TABLE \"_ssot_guard\";".to_owned(),
    ]
}
