//! The recorded shape and the graph's shape -> what changed: tables created, dropped and altered, and within an
//! altered table the columns added, dropped and changed, with the value existing rows get where a column becomes
//! required. Dangerous changes are refused here, each with its position in the schema and what to do: data loss
//! without `--accept-data-loss`, type changes that cannot be done in place, required columns without a value for
//! the rows that exist. The SQL for each dialect is written from the result by `sqlite` and `postgres`.

use std::collections::BTreeMap;

use super::shape::{Column, Reference, Shape, Table};
use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::model::names::quote_sql;
use crate::model::sql::{default_sql, sql_string, Dialect};
use crate::model::types::Scalar;
use crate::model::{DefaultKind, DefaultValue, Graph};

/// A version 4 UUID per row on SQLite, which has no UUID function: for `uuid` defaults and backfills.
pub const SQLITE_NEW_UUID: &str =
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
    substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || \
    substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";

/// What it takes to go from one shape to the next.
#[derive(Debug)]
pub struct Diff<'a> {
    /// Tables of new models, in model order.
    pub created: Vec<&'a Table>,
    /// Tables of models that are gone (accepted data loss).
    pub dropped: Vec<&'a Table>,
    /// Tables of models in both shapes that changed (their name, or any column).
    pub altered: Vec<TableDiff<'a>>,
    /// One line per change, for the migration's comments and the command's report.
    pub changes: Vec<String>,
    /// What the migration destroys (accepted with `--accept-data-loss`).
    pub data_loss: Vec<String>,
}

#[derive(Debug)]
pub struct TableDiff<'a> {
    pub old: &'a Table,
    pub new: &'a Table,
    /// Every column in both versions, changed or not.
    pub kept: Vec<ColumnDiff<'a>>,
    pub added: Vec<Added<'a>>,
    pub dropped: Vec<&'a Column>,
}

#[derive(Debug)]
pub struct ColumnDiff<'a> {
    pub old: &'a Column,
    pub new: &'a Column,
    /// The value existing nulls get: the column was optional and is required now.
    pub fill: Option<Fill>,
    /// The old column's reference, with the target's names after this migration.
    pub old_references: Option<Reference>,
}

#[derive(Debug)]
pub struct Added<'a> {
    pub column: &'a Column,
    /// The value existing rows get, for a required column.
    pub fill: Option<Fill>,
}

/// The value existing rows get for a required column, as an SQL expression per dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    pub sqlite: String,
    pub postgres: String,
    /// From `backfill:` (else from the field's default, which the column's own `DEFAULT` gives where it has one).
    pub backfill: bool,
}

impl ColumnDiff<'_> {
    pub fn renamed(&self) -> bool {
        self.old.column != self.new.column
    }

    /// The old column's `CHECK` in `dialect`, with the column's new name (a rename rewrites it in place).
    pub fn old_check(&self, dialect: Dialect) -> Option<String> {
        let from = quote_sql(&self.old.column);
        let to = quote_sql(&self.new.column);
        self.old
            .parts(dialect)
            .check
            .as_ref()
            .map(|c| c.replace(&from, &to))
    }

    pub fn check_changed(&self, dialect: Dialect) -> bool {
        self.old_check(dialect) != self.new.parts(dialect).check
    }

    pub fn references_changed(&self) -> bool {
        self.old_references != self.new.references
    }

    fn type_changed(&self) -> bool {
        self.old.scalar != self.new.scalar
            || self.old.sqlite.ty != self.new.sqlite.ty
            || self.old.postgres.ty != self.new.postgres.ty
    }

    fn default_changed(&self) -> bool {
        self.old.sqlite.default != self.new.sqlite.default
            || self.old.postgres.default != self.new.postgres.default
    }

    /// Whether anything about the column changed but its name.
    pub fn changed(&self) -> bool {
        self.type_changed()
            || self.default_changed()
            || self.check_changed(Dialect::Sqlite)
            || self.check_changed(Dialect::Postgres)
            || self.old.nullable != self.new.nullable
            || self.old.unique != self.new.unique
            || self.old.indexed != self.new.indexed
            || self.references_changed()
    }
}

impl TableDiff<'_> {
    pub fn renamed(&self) -> bool {
        self.old.table != self.new.table
    }

    fn changed(&self) -> bool {
        self.renamed()
            || !self.added.is_empty()
            || !self.dropped.is_empty()
            || self
                .kept
                .iter()
                .any(|c| c.renamed() || c.changed() || c.old.field != c.new.field)
    }
}

impl Diff<'_> {
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.dropped.is_empty() && self.altered.is_empty()
    }

    /// The models whose tables change (by their new names), for the lock file.
    pub fn models(&self) -> Vec<String> {
        let mut models: Vec<String> = self
            .created
            .iter()
            .map(|t| t.model.clone())
            .chain(self.altered.iter().map(|t| t.new.model.clone()))
            .collect();
        models.sort();
        models
    }
}

/// How a type change can be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeChange {
    /// Every value fits the new type: done in place.
    Widening,
    /// Some values might not fit: done in place, failing (and changing nothing) if one does not; a data-loss
    /// change, accepted only with `--accept-data-loss`.
    Narrowing,
    /// No conversion that keeps the values: refused.
    Impossible,
}

fn type_change(from: Scalar, to: Scalar) -> TypeChange {
    use Scalar::*;
    match (from, to) {
        (Int, BigInt) | (String, Text) | (Text, String) | (Enum, String) | (Enum, Text) => {
            TypeChange::Widening
        }
        (BigInt, Int) | (String, Enum) | (Text, Enum) => TypeChange::Narrowing,
        _ => TypeChange::Impossible,
    }
}

/// Compares the recorded shape `old` with the graph's shape `new`. `last` names the last migration, for messages.
pub fn diff<'a>(
    old: &'a Shape,
    new: &'a Shape,
    graph: &Graph,
    accept_data_loss: bool,
    last: &str,
) -> Result<Diff<'a>, Vec<Diagnostic>> {
    let mut d = Differ {
        graph,
        accept_data_loss,
        last,
        problems: Vec::new(),
        changes: Vec::new(),
        data_loss: Vec::new(),
    };
    // Tables first: a reference is compared through the renames of the table and column it points at.
    let mut pairs: Vec<(&Table, &Table)> = Vec::new();
    let mut created = Vec::new();
    for table in &new.tables {
        match d.previous_table(old, new, table) {
            Some(previous) => pairs.push((previous, table)),
            None => created.push(table),
        }
    }
    let dropped: Vec<&Table> = old
        .tables
        .iter()
        .filter(|t| !pairs.iter().any(|(o, _)| o.model == t.model))
        .collect();
    let mut columns: Vec<Vec<(&Column, &Column)>> = Vec::new();
    for (o, n) in &pairs {
        columns.push(d.column_pairs(o, n));
    }
    let mut renamed: BTreeMap<(&str, &str), Reference> = BTreeMap::new();
    for ((o, n), cols) in pairs.iter().zip(&columns) {
        for (oc, nc) in cols {
            renamed.insert(
                (o.table.as_str(), oc.column.as_str()),
                Reference {
                    table: n.table.clone(),
                    column: nc.column.clone(),
                },
            );
        }
    }

    for t in &created {
        d.changes
            .push(format!("add model `{}` (table `{}`)", t.model, t.table));
    }
    for t in &dropped {
        d.drop_table(t, &created);
    }
    let mut altered = Vec::new();
    for ((o, n), cols) in pairs.into_iter().zip(columns) {
        let table = d.table_diff(o, n, cols, &renamed);
        if table.changed() {
            altered.push(table);
        }
    }
    if !d.problems.is_empty() {
        return Err(d.problems);
    }
    Ok(Diff {
        created,
        dropped,
        altered,
        changes: d.changes,
        data_loss: d.data_loss,
    })
}

struct Differ<'g> {
    graph: &'g Graph,
    accept_data_loss: bool,
    last: &'g str,
    problems: Vec<Diagnostic>,
    changes: Vec<String>,
    data_loss: Vec<String>,
}

impl Differ<'_> {
    /// The recorded table of `table`'s model: by its name, else by its `renamedFrom:` (when that model is gone).
    fn previous_table<'a>(
        &mut self,
        old: &'a Shape,
        new: &Shape,
        table: &Table,
    ) -> Option<&'a Table> {
        if let Some(same) = old.table(&table.model) {
            return Some(same);
        }
        let from = self
            .graph
            .hints
            .model(&table.model)?
            .renamed_from
            .as_ref()?;
        match old.table(&from.value) {
            Some(previous) if new.table(&from.value).is_none() => Some(previous),
            _ => {
                let gone = old
                    .tables
                    .iter()
                    .filter(|t| new.table(&t.model).is_none())
                    .map(|t| t.model.as_str());
                let hint = did_you_mean(&from.value, gone.clone()).unwrap_or_else(|| {
                    let gone: Vec<&str> = gone.collect();
                    if gone.is_empty() {
                        "every model of the last migration is still in the schema; remove `renamedFrom`"
                            .to_owned()
                    } else {
                        format!("models of the last migration no longer in the schema: {}", gone.join(", "))
                    }
                });
                self.problems.push(
                    Diagnostic::new(
                        from.loc,
                        format!(
                            "model `{}` was renamed from `{}`, but the last migration ({}) has no model `{}`",
                            table.model, from.value, self.last, from.value
                        ),
                    )
                    .hint(hint),
                );
                None
            }
        }
    }

    /// Pairs each column of `new` with its recorded column in `old`, by field name or `renamedFrom:`.
    fn column_pairs<'a>(
        &mut self,
        old: &'a Table,
        new: &'a Table,
    ) -> Vec<(&'a Column, &'a Column)> {
        let mut pairs = Vec::new();
        for column in &new.columns {
            if let Some(same) = old.column(&column.field) {
                pairs.push((same, column));
                continue;
            }
            let Some(from) = self
                .graph
                .hints
                .field(&new.model, &column.field)
                .and_then(|f| f.renamed_from.as_ref())
            else {
                continue;
            };
            match old.column(&from.value) {
                Some(previous) if new.column(&from.value).is_none() => {
                    pairs.push((previous, column))
                }
                _ => {
                    let gone = old
                        .columns
                        .iter()
                        .filter(|c| new.column(&c.field).is_none())
                        .map(|c| c.field.as_str());
                    let hint = did_you_mean(&from.value, gone.clone()).unwrap_or_else(|| {
                        let gone: Vec<&str> = gone.collect();
                        if gone.is_empty() {
                            "every field it had is still in the schema; remove `renamedFrom`"
                                .to_owned()
                        } else {
                            format!(
                                "fields it had that are no longer in the schema: {}",
                                gone.join(", ")
                            )
                        }
                    });
                    self.problems.push(
                        Diagnostic::new(
                            from.loc,
                            format!(
                                "field `{}.{}` was renamed from `{}`, but `{}` had no field `{}` in the last migration ({})",
                                new.model, column.field, from.value, old.model, from.value, self.last
                            ),
                        )
                        .hint(hint),
                    );
                }
            }
        }
        pairs
    }

    fn drop_table(&mut self, t: &Table, created: &[&Table]) {
        let loss = format!(
            "drops table `{}` (model `{}`) and every row in it",
            t.table, t.model
        );
        self.changes
            .push(format!("drop model `{}` (table `{}`)", t.model, t.table));
        if self.accept_data_loss {
            self.data_loss.push(loss);
            return;
        }
        // A single new model is likely the same one, renamed.
        let renamed_to = created.first().filter(|_| created.len() == 1);
        let hint = match renamed_to {
            Some(c) => format!(
                "if `{}` is `{}` renamed, add `renamedFrom: {}` to model `{}`; to drop it, run `ssot-gen generate --accept-data-loss`",
                c.model, t.model, t.model, c.model
            ),
            None => format!(
                "if it was renamed, add `renamedFrom: {}` to the model's new name; to drop it, run `ssot-gen generate --accept-data-loss`",
                t.model
            ),
        };
        self.problems.push(
            Diagnostic::new(
                self.graph.hints.models_loc,
                format!(
                    "model `{}` is no longer in the schema: the migration would drop table `{}` and every row in it",
                    t.model, t.table
                ),
            )
            .hint(hint),
        );
    }

    fn table_diff<'a>(
        &mut self,
        old: &'a Table,
        new: &'a Table,
        pairs: Vec<(&'a Column, &'a Column)>,
        renamed: &BTreeMap<(&str, &str), Reference>,
    ) -> TableDiff<'a> {
        let model = new.model.as_str();
        if old.model != new.model {
            self.changes
                .push(format!("rename model `{}` to `{model}`", old.model));
        }
        if old.table != new.table {
            self.changes.push(format!(
                "{model}: rename table `{}` to `{}`",
                old.table, new.table
            ));
        }
        let added: Vec<&Column> = new
            .columns
            .iter()
            .filter(|c| !pairs.iter().any(|(_, n)| n.field == c.field))
            .collect();
        let dropped: Vec<&Column> = old
            .columns
            .iter()
            .filter(|c| !pairs.iter().any(|(o, _)| o.field == c.field))
            .collect();
        let mut kept = Vec::new();
        for (o, n) in pairs {
            let old_references = o.references.as_ref().map(|r| {
                renamed
                    .get(&(r.table.as_str(), r.column.as_str()))
                    .cloned()
                    .unwrap_or_else(|| r.clone())
            });
            let mut column = ColumnDiff {
                old: o,
                new: n,
                fill: None,
                old_references,
            };
            self.column_change(model, &mut column);
            kept.push(column);
        }
        let added_names: Vec<&str> = added.iter().map(|c| c.field.as_str()).collect();
        for column in &dropped {
            self.drop_column(new, column, &added_names);
        }
        let added = added
            .into_iter()
            .map(|column| {
                self.changes
                    .push(format!("{model}: add field `{}`", column.field));
                let fill = if column.nullable {
                    None
                } else {
                    self.fill(model, column, "add the field")
                };
                Added { column, fill }
            })
            .collect();
        TableDiff {
            old,
            new,
            kept,
            added,
            dropped,
        }
    }

    fn drop_column(&mut self, table: &Table, column: &Column, added: &[&str]) {
        let model = &table.model;
        let field = &column.field;
        self.changes.push(format!("{model}: drop field `{field}`"));
        let loss = format!(
            "drops column `{}`.`{}` (field `{model}.{field}`) and its values",
            table.table, column.column
        );
        if self.accept_data_loss {
            self.data_loss.push(loss);
            return;
        }
        let hint = match added {
            [one] => format!(
                "if `{one}` is `{field}` renamed, add `renamedFrom: {field}` to `{model}.{one}`; to drop it, run `ssot-gen generate --accept-data-loss`"
            ),
            _ => format!(
                "if it was renamed, add `renamedFrom: {field}` to its new name; to drop it, run `ssot-gen generate --accept-data-loss`"
            ),
        };
        self.problems.push(
            Diagnostic::new(
                self.graph.hints.model_loc(model),
                format!(
                    "field `{model}.{field}` is no longer in the schema: the migration would drop column `{}`.`{}` and its values",
                    table.table, column.column
                ),
            )
            .hint(hint),
        );
    }

    /// Records what changed about a column in both versions, refusing what cannot be done.
    fn column_change(&mut self, model: &str, c: &mut ColumnDiff) {
        let (o, n) = (c.old, c.new);
        let field = &n.field;
        let hints = self
            .graph
            .hints
            .field(model, field)
            .cloned()
            .unwrap_or_default();
        if o.field != n.field {
            self.changes
                .push(format!("{model}: rename field `{}` to `{field}`", o.field));
        }
        if o.primary_key != n.primary_key || o.autoincrement != n.autoincrement {
            self.problems.push(
                Diagnostic::new(
                    hints.loc,
                    format!(
                        "`{model}.{field}` changes the table's key (which field is the id, or whether it is generated); migrations cannot change a key"
                    ),
                )
                .hint("keep the id as it was; to key the rows differently, add a new model and copy the rows in your application"),
            );
            return;
        }
        if o.scalar != n.scalar {
            let (from, to) = (o.scalar.name(), n.scalar.name());
            match type_change(o.scalar, n.scalar) {
                TypeChange::Widening => {
                    self.changes.push(format!("{model}.{field}: type `{from}` -> `{to}`"))
                }
                TypeChange::Narrowing if self.accept_data_loss => {
                    self.changes.push(format!("{model}.{field}: type `{from}` -> `{to}`"));
                    self.data_loss.push(format!(
                        "narrows `{model}.{field}` from `{from}` to `{to}`: the migration fails, changing nothing, if a row holds a value the new type does not take"
                    ));
                }
                TypeChange::Narrowing => self.problems.push(
                    Diagnostic::new(
                        hints.type_loc,
                        format!("changing `{model}.{field}` from `{from}` to `{to}` narrows it: a value that does not fit would make the migration fail"),
                    )
                    .hint("to try it (the migration changes nothing if a value does not fit), run `ssot-gen generate --accept-data-loss`"),
                ),
                TypeChange::Impossible => self.problems.push(
                    Diagnostic::new(
                        hints.type_loc,
                        format!("`{model}.{field}` cannot change from `{from}` to `{to}` in place: there is no conversion that keeps every value"),
                    )
                    .hint(format!("keep `{from}`; or add a new field of type `{to}`, copy the values in your application, then remove `{field}` (with --accept-data-loss)")),
                ),
            }
        } else if o.scalar == Scalar::Enum && c.check_changed(Dialect::Postgres) {
            self.changes
                .push(format!("{model}.{field}: enum values changed"));
        }
        if o.nullable && !n.nullable {
            c.fill = self.fill(model, n, "make the field required");
            if let Some(fill) = &c.fill {
                self.changes.push(format!(
                    "{model}.{field}: now required (existing nulls become {})",
                    fill.postgres
                ));
            }
        } else if !o.nullable && n.nullable {
            self.changes.push(format!("{model}.{field}: now optional"));
        }
        if o.unique != n.unique {
            let now = if n.unique {
                "now unique"
            } else {
                "no longer unique"
            };
            self.changes.push(format!("{model}.{field}: {now}"));
        }
        if c.references_changed() {
            let change = match &n.references {
                Some(r) => format!("now references `{}`", r.table),
                None => "no longer a reference".to_owned(),
            };
            self.changes.push(format!("{model}.{field}: {change}"));
        }
        if c.default_changed() {
            self.changes
                .push(format!("{model}.{field}: default changed"));
        }
        if o.scalar != Scalar::Enum
            && (c.check_changed(Dialect::Sqlite) || c.check_changed(Dialect::Postgres))
        {
            self.changes
                .push(format!("{model}.{field}: check changed (min, max or type)"));
        }
    }

    /// The value existing rows get for `column` of `model`: its `backfill:`, else its default; refused (with
    /// what to do) when it has neither.
    fn fill(&mut self, model: &str, column: &Column, doing: &str) -> Option<Fill> {
        let field = &column.field;
        let hints = self
            .graph
            .hints
            .field(model, field)
            .cloned()
            .unwrap_or_default();
        let default = self
            .graph
            .models
            .iter()
            .find(|m| m.name == model)
            .and_then(|m| m.fields.iter().find(|f| &f.name == field))
            .and_then(|f| f.default.clone())
            .filter(|d| d.kind != DefaultKind::Autoincrement);
        let (value, backfill): (DefaultValue, bool) = match (hints.backfill, default) {
            (Some(b), _) => (b.value, true),
            (None, Some(d)) => (d, false),
            (None, None) => {
                self.problems.push(
                    Diagnostic::new(
                        hints.loc,
                        format!("`{model}.{field}` is required and has no default, so the migration cannot {doing}: the rows that exist need a value"),
                    )
                    .hint(format!(
                        "add `backfill: <value>` to `{field}` (written once, into the existing rows), or give it a `default`, or make it optional"
                    )),
                );
                return None;
            }
        };
        let sql = |dialect| {
            default_sql(&value, column.scalar, dialect)
                .unwrap_or_else(|| SQLITE_NEW_UUID.to_owned())
        };
        Some(Fill {
            sqlite: sql(Dialect::Sqlite),
            postgres: sql(Dialect::Postgres),
            backfill,
        })
    }
}

/// The outbox's events of a renamed model take its new name, as the events written from now on have it (the
/// same statement in both dialects).
pub fn renamed_events(diff: &Diff) -> Vec<String> {
    diff.altered
        .iter()
        .filter(|t| t.old.model != t.new.model)
        .map(|t| {
            format!(
                "UPDATE \"_ssot_events\" SET \"model\" = {} WHERE \"model\" = {};",
                sql_string(&t.new.model),
                sql_string(&t.old.model)
            )
        })
        .collect()
}

/// Renames `from -> to` as single renames that never take a name still in use: when every pending target is
/// held by another pending source (a swap, a cycle), one goes through a temporary name. `taken` is every name in
/// use in the namespace.
pub fn moves(renames: &[(String, String)], taken: &[String]) -> Vec<(String, String)> {
    let mut pending: Vec<(String, String)> =
        renames.iter().filter(|(f, t)| f != t).cloned().collect();
    let mut taken: Vec<String> = taken.to_vec();
    let mut out = Vec::new();
    while !pending.is_empty() {
        let next = pending
            .iter()
            .position(|(_, to)| !pending.iter().any(|(from, _)| from == to));
        match next {
            Some(i) => {
                let (from, to) = pending.remove(i);
                taken.retain(|n| *n != from);
                taken.push(to.clone());
                out.push((from, to));
            }
            None => {
                let (from, to) = pending[0].clone();
                let mut temporary = format!("_ssot_tmp_{to}");
                while taken.contains(&temporary) {
                    temporary.push('_');
                }
                taken.retain(|n| *n != from);
                taken.push(temporary.clone());
                out.push((from, temporary.clone()));
                pending[0].0 = temporary;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn moves_go_around_names_in_use() {
        let names = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        // A chain is ordered so that each name is free when it is taken.
        assert_eq!(
            moves(&pairs(&[("a", "b"), ("b", "c")]), &names(&["a", "b"])),
            pairs(&[("b", "c"), ("a", "b")])
        );
        // A swap goes through a temporary name.
        assert_eq!(
            moves(&pairs(&[("a", "b"), ("b", "a")]), &names(&["a", "b"])),
            pairs(&[("a", "_ssot_tmp_b"), ("b", "a"), ("_ssot_tmp_b", "b")])
        );
        assert!(moves(&pairs(&[("a", "a")]), &names(&["a"])).is_empty());
    }

    #[test]
    fn type_changes() {
        use Scalar::*;
        assert_eq!(type_change(Int, BigInt), TypeChange::Widening);
        assert_eq!(type_change(String, Text), TypeChange::Widening);
        assert_eq!(type_change(BigInt, Int), TypeChange::Narrowing);
        assert_eq!(type_change(Text, Enum), TypeChange::Narrowing);
        assert_eq!(type_change(Uuid, String), TypeChange::Impossible);
        assert_eq!(type_change(DateTime, Date), TypeChange::Impossible);
    }
}
