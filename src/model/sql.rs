//! SQL for each model's table, per dialect: column definitions with types, NOT NULL, defaults and CHECK
//! constraints, and the statements that run once every table exists (foreign keys on PostgreSQL, indexes).

use std::collections::BTreeMap;

use serde_json::Value;

use super::names::{quote_sql, sql_name};
use super::types::{BoundKind, Scalar};
use super::{DefaultKind, DefaultValue, Enum, Field, ModelSql, Relation, TableSql};

/// SQL for one model's table in both dialects.
pub(super) fn table_sql(
    table: &str,
    fields: &[Field],
    relations: &[Relation],
    enums: &BTreeMap<String, Enum>,
) -> ModelSql {
    let qt = quote_sql(table);
    let indexed: Vec<&Field> = fields.iter().filter(|f| indexed(f)).collect();
    let sqlite = TableSql {
        table: qt.clone(),
        definitions: fields
            .iter()
            .map(|f| column_sql(f, Dialect::Sqlite, relations, enums))
            .collect(),
        options: "STRICT".to_owned(),
        after: indexed
            .iter()
            .map(|f| index_sql(table, &f.column))
            .collect(),
    };
    let mut after: Vec<String> = relations
        .iter()
        .map(|r| {
            foreign_key_sql(
                table,
                &sql_name(&r.field),
                &r.target_table,
                &r.target_column,
            )
        })
        .collect();
    after.extend(indexed.iter().map(|f| index_sql(table, &f.column)));
    let postgres = TableSql {
        table: qt,
        definitions: fields
            .iter()
            .map(|f| column_sql(f, Dialect::Postgres, relations, enums))
            .collect(),
        options: String::new(),
        after,
    };
    ModelSql { sqlite, postgres }
}

/// Whether a column gets an index of its own: a reference, unless `UNIQUE` (or the key) indexes it already.
pub(crate) fn indexed(f: &Field) -> bool {
    f.references.is_some() && !f.unique
}

/// The index of a referencing column, `"<table>_<column>_idx"`.
pub(crate) fn index_sql(table: &str, column: &str) -> String {
    format!(
        "CREATE INDEX {} ON {} ({});",
        quote_sql(&index_name(table, column)),
        quote_sql(table),
        quote_sql(column)
    )
}

pub(crate) fn index_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_idx")
}

/// A PostgreSQL foreign key, `"<table>_<column>_fkey"`, added once every table exists.
pub(crate) fn foreign_key_sql(
    table: &str,
    column: &str,
    target: &str,
    target_column: &str,
) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({});",
        quote_sql(table),
        quote_sql(&foreign_key_name(table, column)),
        quote_sql(column),
        quote_sql(target),
        quote_sql(target_column)
    )
}

pub(crate) fn foreign_key_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_fkey")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

pub(crate) fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The parts of a column's definition that depend on its type and rules, in one dialect: what a migration
/// compares between two versions of a column (with key, nullability, uniqueness and reference, which are the
/// same in both dialects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnParts {
    /// The column type (`TEXT`, `TEXT COLLATE "C"`, `BIGINT`).
    pub ty: String,
    /// The `DEFAULT` expression.
    pub default: Option<String>,
    /// The condition of the column's `CHECK (...)`.
    pub check: Option<String>,
}

pub(crate) fn column_parts(
    f: &Field,
    dialect: Dialect,
    enums: &BTreeMap<String, Enum>,
) -> ColumnParts {
    let col = quote_sql(&f.column);
    let sqlite = dialect == Dialect::Sqlite;
    // PostgreSQL text compares in byte order (`COLLATE "C"`), as SQLite does: filters, sorting and paging give the
    // same answers on both.
    let ty = match (sqlite, f.scalar) {
        (true, scalar) => scalar.sqlite_type().to_owned(),
        (false, Scalar::String | Scalar::Text) => "TEXT COLLATE \"C\"".to_owned(),
        (false, scalar) => scalar.postgres_type().to_owned(),
    };
    let default = f
        .default
        .as_ref()
        .and_then(|d| default_sql(d, f.scalar, dialect));
    let mut checks = Vec::new();
    if let Some(b) = &f.bounds {
        let subject = match (b.kind, sqlite) {
            (BoundKind::Length, true) => format!("length({col})"),
            (BoundKind::Length, false) => format!("char_length({col})"),
            (BoundKind::Range, _) => col.clone(),
        };
        if let Some(min) = &b.min {
            checks.push(format!("{subject} >= {min}"));
        }
        if let Some(max) = &b.max {
            checks.push(format!("{subject} <= {max}"));
        }
    }
    match f.scalar {
        Scalar::Bool if sqlite => checks.push(format!("{col} IN (0, 1)")),
        Scalar::Json if sqlite => checks.push(format!("json_valid({col})")),
        Scalar::Enum => {
            let values: Vec<String> = enums
                .get(&f.type_name)
                .into_iter()
                .flat_map(|e| &e.variants)
                .map(|v| sql_string(&v.value))
                .collect();
            checks.push(format!("{col} IN ({})", values.join(", ")));
        }
        _ => {}
    }
    ColumnParts {
        ty,
        default,
        check: (!checks.is_empty()).then(|| checks.join(" AND ")),
    }
}

/// A default (or a backfill, which is read the same way) as an SQL expression; `None` where the dialect has
/// none (`autoincrement`, which is part of the key, and `uuid` on SQLite, which has no UUID function).
pub(crate) fn default_sql(d: &DefaultValue, scalar: Scalar, dialect: Dialect) -> Option<String> {
    let sqlite = dialect == Dialect::Sqlite;
    match (d.kind, sqlite) {
        (DefaultKind::Autoincrement, _) => None,
        (DefaultKind::Now, true) if scalar == Scalar::Date => Some("(date('now'))".to_owned()),
        // Same fixed-width microsecond format the server writes, so text order stays time order.
        (DefaultKind::Now, true) => {
            Some("(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')".to_owned())
        }
        (DefaultKind::Now, false) if scalar == Scalar::Date => Some("CURRENT_DATE".to_owned()),
        (DefaultKind::Now, false) => Some("now()".to_owned()),
        (DefaultKind::Uuid, true) => None, // SQLite has no UUID function; the server supplies it.
        (DefaultKind::Uuid, false) => Some("gen_random_uuid()".to_owned()),
        (DefaultKind::Literal, _) => d.value.as_ref().map(|v| sql_literal(v, scalar, dialect)),
    }
}

fn column_sql(
    f: &Field,
    dialect: Dialect,
    relations: &[Relation],
    enums: &BTreeMap<String, Enum>,
) -> String {
    let reference = relations.iter().find(|r| r.field == f.name);
    ColumnDefinition {
        column: &f.column,
        parts: &column_parts(f, dialect, enums),
        primary_key: f.id,
        autoincrement: f
            .default
            .as_ref()
            .is_some_and(|d| d.kind == DefaultKind::Autoincrement),
        not_null: !f.optional,
        unique: f.unique && !f.id,
        references: reference.map(|r| (r.target_table.as_str(), r.target_column.as_str())),
    }
    .sql(dialect)
}

/// Everything a column definition says, for printing it: from a field of the graph, or from a column of a
/// migration's recorded shape (`crate::migrate::shape`), so that both print the same text.
pub(crate) struct ColumnDefinition<'a> {
    pub column: &'a str,
    pub parts: &'a ColumnParts,
    pub primary_key: bool,
    pub autoincrement: bool,
    pub not_null: bool,
    pub unique: bool,
    /// Target table and column; printed on SQLite only (PostgreSQL adds its foreign keys after every table).
    pub references: Option<(&'a str, &'a str)>,
}

impl ColumnDefinition<'_> {
    pub fn sql(&self, dialect: Dialect) -> String {
        let sqlite = dialect == Dialect::Sqlite;
        let mut parts = vec![quote_sql(self.column), self.parts.ty.clone()];
        match (self.primary_key, self.autoincrement, sqlite) {
            (true, true, true) => parts.push("PRIMARY KEY AUTOINCREMENT".to_owned()),
            (true, true, false) => {
                parts.push("GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY".to_owned())
            }
            (true, false, _) => parts.push("PRIMARY KEY".to_owned()),
            _ => {}
        }
        if self.not_null {
            parts.push("NOT NULL".to_owned());
        }
        if self.unique {
            parts.push("UNIQUE".to_owned());
        }
        if let Some(value) = &self.parts.default {
            parts.push(format!("DEFAULT {value}"));
        }
        if let Some(check) = &self.parts.check {
            parts.push(format!("CHECK ({check})"));
        }
        if let (true, Some((table, column))) = (sqlite, self.references) {
            parts.push(format!(
                "REFERENCES {} ({})",
                quote_sql(table),
                quote_sql(column)
            ));
        }
        parts.join(" ")
    }
}

fn sql_literal(v: &Value, scalar: Scalar, dialect: Dialect) -> String {
    match (scalar, v) {
        (Scalar::Json, v) if dialect == Dialect::Postgres => {
            format!("{}::jsonb", sql_string(&v.to_string()))
        }
        (Scalar::Json, v) => sql_string(&v.to_string()),
        (Scalar::Bool, Value::Bool(b)) if dialect == Dialect::Sqlite => {
            if *b { "1" } else { "0" }.to_owned()
        }
        (Scalar::Bool, Value::Bool(b)) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        (_, Value::String(s)) => sql_string(s),
        (_, other) => other.to_string(),
    }
}
