//! A diff -> the statements of one PostgreSQL migration. PostgreSQL changes everything in place; what takes
//! care is names. Constraints, indexes and identity sequences are named after their table and column
//! (`messages_pkey`, `messages_title_key`, `messages_title_check`, `messages_room_id_fkey`, `messages_room_id_idx`,
//! `rooms_id_seq`), by PostgreSQL itself for those the first migration leaves unnamed. A rename keeps the old
//! names, which a fresh install would not have and a later migration would not find: they are renamed too, so
//! that a database migrated step by step has exactly the catalog of a fresh install.
//!
//! Order: constraints and indexes that go or change are dropped first (under their old names), then tables,
//! columns and names are renamed, new tables created, columns changed, and constraints, indexes and foreign keys
//! added last (under their new names), when every table and value they need is in place.

use std::collections::BTreeMap;

use super::diff::{moves, ColumnDiff, Diff};
use super::shape::Column;
use crate::model::names::quote_sql as q;
use crate::model::sql::{foreign_key_name, foreign_key_sql, index_name, index_sql, Dialect};

const D: Dialect = Dialect::Postgres;

/// PostgreSQL's limit on names (`NAMEDATALEN - 1`): longer names are cut.
const MAX_NAME: usize = 63;

/// The name PostgreSQL gives an object it names itself (`makeObjectName`): `<name1>_<name2>_<label>`, the longer
/// of the two names shortened, one byte at a time, until the whole fits in 63 bytes.
fn implicit_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let overhead = label.len() + 1 + usize::from(name2.is_some());
    let available = MAX_NAME - overhead;
    let (mut n1, mut n2) = (name1.len(), name2.map_or(0, str::len));
    while n1 + n2 > available {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    // Schema names are ASCII (checked by the model builder), so bytes are characters.
    match name2 {
        Some(name2) => format!("{}_{}_{label}", &name1[..n1], &name2[..n2]),
        None => format!("{}_{label}", &name1[..n1]),
    }
}

/// A name the SQL gives, as PostgreSQL keeps it: its first 63 bytes.
fn explicit_name(mut name: String) -> String {
    name.truncate(MAX_NAME);
    name
}

/// The kinds of objects named after a table and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    PrimaryKey,
    Sequence,
    Unique,
    Check,
    ForeignKey,
    Index,
}

impl Object {
    fn name(self, table: &str, c: &Column) -> String {
        match self {
            Object::PrimaryKey => implicit_name(table, None, "pkey"),
            Object::Sequence => implicit_name(table, Some(&c.column), "seq"),
            Object::Unique => implicit_name(table, Some(&c.column), "key"),
            Object::Check => implicit_name(table, Some(&c.column), "check"),
            Object::ForeignKey => explicit_name(foreign_key_name(table, &c.column)),
            Object::Index => explicit_name(index_name(table, &c.column)),
        }
    }

    fn rename(self, table: &str, from: &str, to: &str) -> String {
        match self {
            Object::Sequence => format!("ALTER SEQUENCE {} RENAME TO {};", q(from), q(to)),
            Object::Index => format!("ALTER INDEX {} RENAME TO {};", q(from), q(to)),
            _ => format!(
                "ALTER TABLE {} RENAME CONSTRAINT {} TO {};",
                q(table),
                q(from),
                q(to)
            ),
        }
    }

    /// The objects of this kind a column has.
    fn of(self, c: &Column) -> bool {
        match self {
            Object::PrimaryKey => c.primary_key,
            Object::Sequence => c.autoincrement,
            Object::Unique => c.unique,
            Object::Check => c.postgres.check.is_some(),
            Object::ForeignKey => c.references.is_some(),
            Object::Index => c.indexed,
        }
    }

    /// Whether the object stays through the column's change (renamed if its name changes), rather than being
    /// dropped and added again.
    fn kept(self, c: &ColumnDiff) -> bool {
        self.of(c.old)
            && self.of(c.new)
            && match self {
                Object::Check => !c.check_changed(D),
                Object::ForeignKey => !c.references_changed(),
                _ => true,
            }
    }

    const ALL: [Object; 6] = [
        Object::PrimaryKey,
        Object::Sequence,
        Object::Unique,
        Object::Check,
        Object::ForeignKey,
        Object::Index,
    ];
}

fn drop_constraint(table: &str, name: &str) -> String {
    format!("ALTER TABLE {} DROP CONSTRAINT {};", q(table), q(name))
}

fn foreign_key(table: &str, c: &Column) -> Option<String> {
    c.references
        .as_ref()
        .map(|r| foreign_key_sql(table, &c.column, &r.table, &r.column))
}

/// The migration's statements, in blocks.
pub fn statements(diff: &Diff) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();

    // What goes or changes, under its old names.
    let mut drops = Vec::new();
    for t in &diff.dropped {
        // Tables that go may reference each other.
        drops.extend(
            t.columns
                .iter()
                .filter(|c| c.references.is_some())
                .map(|c| drop_constraint(&t.table, &Object::ForeignKey.name(&t.table, c))),
        );
    }
    for t in &diff.altered {
        let table = &t.old.table;
        for c in &t.kept {
            for object in [
                Object::ForeignKey,
                Object::Unique,
                Object::Check,
                Object::Index,
            ] {
                if object.of(c.old) && !object.kept(c) {
                    let name = object.name(table, c.old);
                    drops.push(match object {
                        Object::Index => format!("DROP INDEX {};", q(&name)),
                        _ => drop_constraint(table, &name),
                    });
                }
            }
        }
    }
    blocks.push(drops);
    blocks.push(
        diff.dropped
            .iter()
            .map(|t| format!("DROP TABLE {};", q(&t.table)))
            .collect(),
    );

    // Renames: tables, then the columns of each, then every name derived from them.
    let renames: Vec<(String, String)> = diff
        .altered
        .iter()
        .map(|t| (t.old.table.clone(), t.new.table.clone()))
        .collect();
    let taken: Vec<String> = renames.iter().map(|(old, _)| old.clone()).collect();
    blocks.push(
        moves(&renames, &taken)
            .iter()
            .map(|(from, to)| format!("ALTER TABLE {} RENAME TO {};", q(from), q(to)))
            .collect(),
    );
    let mut names: BTreeMap<String, (Object, String)> = BTreeMap::new();
    let mut name_renames = Vec::new();
    for t in &diff.altered {
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
        lines.extend(moves(&renames, &taken).iter().map(|(from, to)| {
            format!(
                "ALTER TABLE {table} RENAME COLUMN {} TO {};",
                q(from),
                q(to)
            )
        }));
        blocks.push(lines);
        for c in &t.kept {
            for object in Object::ALL.into_iter().filter(|o| o.kept(c)) {
                let (from, to) = (
                    object.name(&t.old.table, c.old),
                    object.name(&t.new.table, c.new),
                );
                names.insert(from.clone(), (object, t.new.table.clone()));
                name_renames.push((from, to));
            }
        }
    }
    let taken: Vec<String> = name_renames.iter().map(|(old, _)| old.clone()).collect();
    let mut lines = Vec::new();
    for (from, to) in moves(&name_renames, &taken) {
        let (object, table) = names[&from].clone();
        lines.push(object.rename(&table, &from, &to));
        names.insert(to, (object, table));
    }
    blocks.push(lines);

    blocks.push(super::diff::renamed_events(diff));
    blocks.extend(diff.created.iter().map(|t| vec![t.create(D, &t.table)]));
    for t in &diff.altered {
        blocks.push(column_changes(t));
    }

    // What is new, under the new names; foreign keys last, when every table and value is in place.
    let mut adds = Vec::new();
    let mut foreign_keys = Vec::new();
    for t in &diff.altered {
        let table = &t.new.table;
        for c in &t.kept {
            let n = c.new;
            if n.unique && !Object::Unique.kept(c) {
                adds.push(format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({});",
                    q(table),
                    q(&Object::Unique.name(table, n)),
                    q(&n.column)
                ));
            }
            if let (Some(check), false) = (&n.postgres.check, Object::Check.kept(c)) {
                adds.push(format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({check});",
                    q(table),
                    q(&Object::Check.name(table, n))
                ));
            }
            if n.indexed && !Object::Index.kept(c) {
                adds.push(index_sql(table, &n.column));
            }
            if !Object::ForeignKey.kept(c) {
                foreign_keys.extend(foreign_key(table, n));
            }
        }
        for a in &t.added {
            if a.column.indexed {
                adds.push(index_sql(table, &a.column.column));
            }
            foreign_keys.extend(foreign_key(table, a.column));
        }
    }
    for t in &diff.created {
        for c in &t.columns {
            foreign_keys.extend(foreign_key(&t.table, c));
            if c.indexed {
                adds.push(index_sql(&t.table, &c.column));
            }
        }
    }
    blocks.push(adds);
    blocks.push(foreign_keys);
    blocks.retain(|b| !b.is_empty());
    blocks
}

/// Type, default and nullability of the kept columns, then the added columns, of one table.
fn column_changes(t: &super::diff::TableDiff) -> Vec<String> {
    let table = q(&t.new.table);
    let mut lines = Vec::new();
    for c in &t.kept {
        let (o, n) = (c.old, c.new);
        let column = q(&n.column);
        let alter = format!("ALTER TABLE {table} ALTER COLUMN {column}");
        if o.postgres.ty != n.postgres.ty {
            // In place: a value the new type does not take fails the statement (and the migration).
            lines.push(format!("{alter} TYPE {};", n.postgres.ty));
        }
        if o.postgres.default != n.postgres.default {
            lines.push(match &n.postgres.default {
                Some(default) => format!("{alter} SET DEFAULT {default};"),
                None => format!("{alter} DROP DEFAULT;"),
            });
        }
        match (&c.fill, o.nullable, n.nullable) {
            (Some(fill), true, false) => {
                lines.push(format!(
                    "UPDATE {table} SET {column} = {} WHERE {column} IS NULL;",
                    fill.postgres
                ));
                lines.push(format!("{alter} SET NOT NULL;"));
            }
            (_, false, true) => lines.push(format!("{alter} DROP NOT NULL;")),
            _ => {}
        }
    }
    for a in &t.added {
        let c = a.column;
        match a.fill.as_ref().filter(|f| f.backfill) {
            // The backfill is the column's default just long enough to fill the rows that exist.
            Some(fill) => {
                lines.push(format!(
                    "ALTER TABLE {table} ADD COLUMN {};",
                    c.definition(D, Some(&fill.postgres))
                ));
                let alter = format!("ALTER TABLE {table} ALTER COLUMN {}", q(&c.column));
                lines.push(match &c.postgres.default {
                    Some(default) => format!("{alter} SET DEFAULT {default};"),
                    None => format!("{alter} DROP DEFAULT;"),
                });
            }
            None => lines.push(format!(
                "ALTER TABLE {table} ADD COLUMN {};",
                c.definition(D, None)
            )),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_as_postgresql_cuts_them() {
        assert_eq!(implicit_name("rooms", Some("id"), "seq"), "rooms_id_seq");
        assert_eq!(implicit_name("rooms", None, "pkey"), "rooms_pkey");
        let long = "a".repeat(40);
        let name = implicit_name(&long, Some(&"b".repeat(30)), "key");
        // 63 bytes: the longer name is cut first, then both alternately.
        assert_eq!(name.len(), 63);
        assert_eq!(name, format!("{}_{}_key", "a".repeat(29), "b".repeat(29)));
        assert_eq!(explicit_name("x".repeat(70)).len(), 63);
    }
}
