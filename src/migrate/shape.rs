//! The storage shape: the tables and columns a database holds once a crate's migrations have run, with
//! everything its SQL says about each column in both dialects. The lock file records the shape after the last
//! migration; the next migration is what it takes to go from there to the shape of the current graph.
//!
//! Models and fields are identified by their schema names (a `renamedFrom:` hint links a new name to an old
//! one); tables and columns by their SQL names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::sql::{self, column_parts, ColumnDefinition, ColumnParts, Dialect};
use crate::model::types::Scalar;
use crate::model::{DefaultKind, Enum, Graph, Model};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// Sorted by model name.
    pub tables: Vec<Table>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub model: String,
    pub table: String,
    /// In schema order (a column added by a migration may sit elsewhere in the database; nothing depends on the
    /// order of columns, since every query names them).
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Column {
    pub field: String,
    pub column: String,
    /// The field's type (`enum` for an enum; its values are in the `CHECK`).
    #[serde(rename = "type")]
    pub scalar: Scalar,
    #[serde(default, skip_serializing_if = "is_false")]
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub primary_key: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub autoincrement: bool,
    /// A `UNIQUE` constraint (the key is unique without one).
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<Reference>,
    /// An index of its own, `"<table>_<column>_idx"`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub indexed: bool,
    pub sqlite: Parts,
    pub postgres: Parts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub table: String,
    pub column: String,
}

/// A column's type, default and check in one dialect, as SQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parts {
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Shape {
    /// The shape of the tables the graph's first migration creates.
    pub fn of(graph: &Graph) -> Shape {
        let enums: BTreeMap<String, Enum> = graph
            .enums
            .iter()
            .map(|e| (e.name.clone(), e.clone()))
            .collect();
        Shape {
            tables: graph.models.iter().map(|m| table(m, &enums)).collect(),
        }
    }

    pub fn table(&self, model: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.model == model)
    }
}

fn table(model: &Model, enums: &BTreeMap<String, Enum>) -> Table {
    let columns =
        model
            .fields
            .iter()
            .map(|f| {
                let parts = |dialect| Parts::from(column_parts(f, dialect, enums));
                Column {
                    field: f.name.clone(),
                    column: f.column.clone(),
                    scalar: f.scalar,
                    nullable: f.optional,
                    primary_key: f.id,
                    autoincrement: f
                        .default
                        .as_ref()
                        .is_some_and(|d| d.kind == DefaultKind::Autoincrement),
                    unique: f.unique && !f.id,
                    references: model.relations.iter().find(|r| r.field == f.name).map(|r| {
                        Reference {
                            table: r.target_table.clone(),
                            column: r.target_column.clone(),
                        }
                    }),
                    indexed: sql::indexed(f),
                    sqlite: parts(Dialect::Sqlite),
                    postgres: parts(Dialect::Postgres),
                }
            })
            .collect();
    Table {
        model: model.name.clone(),
        table: model.table.clone(),
        columns,
    }
}

impl From<ColumnParts> for Parts {
    fn from(p: ColumnParts) -> Parts {
        Parts {
            ty: p.ty,
            default: p.default,
            check: p.check,
        }
    }
}

impl Column {
    pub fn parts(&self, dialect: Dialect) -> &Parts {
        match dialect {
            Dialect::Sqlite => &self.sqlite,
            Dialect::Postgres => &self.postgres,
        }
    }

    /// The column's definition, as `CREATE TABLE` and `ADD COLUMN` print it; `default` replaces its own.
    pub fn definition(&self, dialect: Dialect, default: Option<&str>) -> String {
        let parts = self.parts(dialect);
        let parts = ColumnParts {
            ty: parts.ty.clone(),
            default: default.map(str::to_owned).or_else(|| parts.default.clone()),
            check: parts.check.clone(),
        };
        ColumnDefinition {
            column: &self.column,
            parts: &parts,
            primary_key: self.primary_key,
            autoincrement: self.autoincrement,
            not_null: !self.nullable,
            unique: self.unique,
            references: self
                .references
                .as_ref()
                .map(|r| (r.table.as_str(), r.column.as_str())),
        }
        .sql(dialect)
    }
}

impl Table {
    pub fn column(&self, field: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.field == field)
    }

    /// `CREATE TABLE`, laid out as the first migration lays it out, under the name `name`.
    pub fn create(&self, dialect: Dialect, name: &str) -> String {
        let definitions: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("    {}", c.definition(dialect, None)))
            .collect();
        let options = match dialect {
            Dialect::Sqlite => " STRICT",
            Dialect::Postgres => "",
        };
        format!(
            "CREATE TABLE {} (\n{}\n){options};",
            crate::model::names::quote_sql(name),
            definitions.join(",\n")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape prints exactly the definitions the first migration has, so a table a migration creates or
    /// rebuilds is the table a fresh install has.
    #[test]
    fn definitions_match_the_graph() {
        for name in ["chat", "kitchen-sink"] {
            let path = format!(
                "{}/schemas/examples/{name}.yaml",
                env!("CARGO_MANIFEST_DIR")
            );
            let graph = crate::load(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
            let shape = Shape::of(&graph);
            for (model, table) in graph.models.iter().zip(&shape.tables) {
                for (dialect, sql) in [
                    (Dialect::Sqlite, &model.sql.sqlite),
                    (Dialect::Postgres, &model.sql.postgres),
                ] {
                    let printed: Vec<String> = table
                        .columns
                        .iter()
                        .map(|c| c.definition(dialect, None))
                        .collect();
                    assert_eq!(printed, sql.definitions, "{name}: {}", model.name);
                }
            }
        }
    }
}
