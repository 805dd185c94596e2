//! Related rows in a read (`include`): a message's `author` and `room` (to-one, through its references), a room's
//! `messages` (to-many, through the references other models make to it, each list with its own `where`,
//! `orderBy` and `take`), nested up to [`MAX_DEPTH`] levels.
//!
//! A list's own to-one relations are read by the page's statement, as `LEFT JOIN`s ([`PageJoins`]): the
//! statement has the keys at hand, and a statement less is a round trip less on PostgreSQL and a record less
//! turned into JSON on both. Every other relation is one query per relation and level for the whole page: the
//! keys of every row of the level above are collected and the related rows are read with one `IN` of an array
//! parameter; a to-many's `take` applies per parent row through `ROW_NUMBER() OVER (PARTITION BY ...)`, so it is
//! one query too. Every related row passes its own model's read rule for the caller (in the query's `WHERE`, or
//! the join's condition): a to-one the caller may not read is `null`, a to-many leaves it out. Hidden fields are
//! never selected.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::server::auth::Caller;
use crate::server::db::{Dialect, Keys, Param, SqlWriter};
use crate::server::error::ApiError;
use crate::server::{App, Db};

use super::access::{qualified_scope_sql, scope, scope_sql};
use super::filter::FilterSql;
use super::read::{parse_param, where_sql};
use super::Resource;

/// How deep includes nest: `room.messages.author` is 3 levels.
pub const MAX_DEPTH: usize = 3;

/// The most keys one query binds: far below SQLite's 32,766 and PostgreSQL's 65,535 parameters, and above what a
/// level of a page reaches with the default `MAX_TAKE` (100 rows, each with up to 100 related rows).
const KEYS_PER_QUERY: usize = 10_000;

/// The relations reads of a model can include. Implemented by the generated `resources::relations` module, from
/// the model graph.
pub trait Related {
    /// Sorted by name.
    const RELATIONS: &'static [Relation];

    /// The SQL conditions of the filter's relation fields (`author`, `messages`), each through
    /// [`FilterSql::to_one`] or [`FilterSql::to_many`].
    fn relation_conditions(
        filter: &<Self as Resource>::Filter,
        sql: &mut FilterSql,
    ) -> Result<Vec<String>, ApiError>
    where
        Self: Resource,
    {
        let _ = (filter, sql);
        Ok(Vec::new())
    }
}

/// One relation of a model, seen from the model that includes it.
pub struct Relation {
    /// The name on the wire (`author`, `messages`).
    pub name: &'static str,
    /// A to-many relation (a reverse reference): a list, with its own `where`, `orderBy` and `take`.
    pub many: bool,
    /// The field of the including record whose value selects the related rows: the reference for a to-one, the
    /// id for a to-many.
    pub key_field: &'static str,
    /// The quoted column of the including table that holds `key_field`.
    pub local_column: &'static str,
    /// That value as a parameter of the related column's type.
    pub key: fn(&str) -> Option<Param>,
    /// The quoted column of the related table the keys are matched against.
    pub remote_column: &'static str,
    /// The related record's field that holds that column, to give each row to its parent.
    pub remote_field: &'static str,
    /// The related model.
    pub target: Target,
}

/// The related model's part of an include, monomorphized for it.
#[derive(Clone, Copy)]
pub struct Target {
    name: &'static str,
    plan: fn(&Options, bool, usize) -> Result<Include, ApiError>,
    fetch: Fetch,
    /// How many columns a record of the model has.
    columns: usize,
    /// The `LEFT JOIN` that reads the related row with the page, and its columns, if the caller may read any row
    /// of the model.
    join: fn(&Relation, &Caller, &mut SqlWriter, &str) -> Option<Join>,
    /// The joined record whose columns start at the given one, as JSON.
    read_sqlite: fn(&rusqlite::Row, usize) -> rusqlite::Result<Value>,
    /// The same from a PostgreSQL row.
    read_postgres: fn(&sqlx::postgres::PgRow, usize) -> Result<Value, sqlx::Error>,
}

/// A to-one relation as a join of the page's statement.
struct Join {
    /// `, <marker>, <the record's columns>`, for the select list.
    columns: String,
    /// ` LEFT JOIN ... ON ...`, for the `FROM`.
    from: String,
}

type Fetch = for<'a> fn(
    &'a App,
    &'a Caller,
    &'a Step,
    Vec<Param>,
    &'a mut Reader,
) -> Pin<Box<dyn Future<Output = Result<Vec<Value>, ApiError>> + Send + 'a>>;

/// Where an include's queries run: on PostgreSQL, one connection taken from the pool for all of them (at the
/// first), rather than one pool round per query: sqlx checks a connection as it comes back to the pool with a
/// round trip to the database, which for a query of a few rows costs about what the query does.
#[derive(Default)]
struct Reader(Option<sqlx::pool::PoolConnection<sqlx::Postgres>>);

impl Reader {
    async fn postgres(
        &mut self,
        pool: &sqlx::PgPool,
    ) -> Result<&mut sqlx::PgConnection, sqlx::Error> {
        let conn = match self.0.take() {
            Some(conn) => conn,
            None => pool.acquire().await?,
        };
        Ok(&mut **self.0.insert(conn))
    }
}

impl Target {
    /// The target `T`.
    pub const fn of<T: Resource>() -> Target {
        Target {
            name: T::NAME,
            plan: plan_options::<T>,
            fetch: fetch_boxed::<T>,
            columns: T::COLUMNS,
            join: join::<T>,
            read_sqlite: read_sqlite::<T>,
            read_postgres: read_postgres::<T>,
        }
    }
}

fn fetch_boxed<'a, T: Resource>(
    app: &'a App,
    caller: &'a Caller,
    step: &'a Step,
    keys: Vec<Param>,
    reader: &'a mut Reader,
) -> Pin<Box<dyn Future<Output = Result<Vec<Value>, ApiError>> + Send + 'a>> {
    Box::pin(fetch::<T>(app, caller, step, keys, reader))
}

impl Relation {
    /// A to-one relation through the reference `key_field` (in `local_column`) to `T`'s id.
    pub const fn one<T: Resource>(
        name: &'static str,
        key_field: &'static str,
        local_column: &'static str,
        remote_column: &'static str,
        remote_field: &'static str,
    ) -> Relation {
        Relation {
            name,
            many: false,
            key_field,
            local_column,
            key: T::id_param,
            remote_column,
            remote_field,
            target: Target::of::<T>(),
        }
    }

    /// A to-many relation from `P` (whose id `key_field` is, in `local_column`) to the rows of `T` whose
    /// `remote_field` refers to it.
    pub const fn many<T: Resource, P: Resource>(
        name: &'static str,
        key_field: &'static str,
        local_column: &'static str,
        remote_column: &'static str,
        remote_field: &'static str,
    ) -> Relation {
        Relation {
            name,
            many: true,
            key_field,
            local_column,
            key: P::id_param,
            remote_column,
            remote_field,
            target: Target::of::<T>(),
        }
    }
}

/// The relations to include, checked against the model graph: what a read runs.
#[derive(Default)]
pub struct Include {
    steps: Vec<Step>,
}

/// One included relation, with its options.
pub struct Step {
    relation: &'static Relation,
    /// The `where` of a to-many, as given (checked against the related model's filter).
    filter: Option<Value>,
    order: Option<Value>,
    take: Option<i64>,
    nested: Include,
}

/// The options of one included relation: `true`, or an object of these.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(rename = "where")]
    filter: Option<Value>,
    #[serde(rename = "orderBy")]
    order: Option<Value>,
    take: Option<i64>,
    include: Option<Value>,
}

impl Include {
    /// No relation asked for.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// `include` of a REST query: a comma-separated list of relation paths (`author,room.messages`), or a JSON
    /// object (`{"messages":{"take":5,"include":{"author":true}}}`).
    pub fn from_query<R: Resource>(text: &str) -> Result<Include, ApiError> {
        let spec = if text.trim_start().starts_with('{') {
            parse_param("include", text)?
        } else {
            paths(text)?
        };
        Include::from_json::<R>(&spec)
    }

    /// `include` as a JSON value (a WebSocket `request`): a list string or an object, as in a query.
    pub fn from_json<R: Resource>(spec: &Value) -> Result<Include, ApiError> {
        match spec {
            Value::String(text) => Include::from_query::<R>(text),
            other => plan::<R>(other, 1),
        }
    }

    /// Adds the included relations to `rows`, records of `R` as JSON objects: one query per relation and level.
    pub async fn attach(
        &self,
        app: &App,
        caller: &Caller,
        rows: &mut [Value],
    ) -> Result<(), ApiError> {
        attach(
            app,
            caller,
            self.steps.iter().collect(),
            rows,
            &mut Reader::default(),
        )
        .await
    }

    /// The to-one relations of a page of `R` as joins of the page's statement, their parameters bound in `w`
    /// (after the page's own). A relation of a model the caller may read no row of is not joined: it is `null`
    /// without a query.
    pub(super) fn page_joins<R: Resource>(
        &self,
        caller: &Caller,
        w: &mut SqlWriter,
    ) -> PageJoins<'_> {
        let mut joins = PageJoins::default();
        // The page's columns come first, then each joined record behind its marker column.
        let mut at = R::COLUMNS;
        for step in self.steps.iter().filter(|s| !s.relation.many) {
            let target = step.relation.target;
            let alias = format!("\"ssot_join{}\"", joins.joined.len());
            let Some(join) = (target.join)(step.relation, caller, w, &alias) else {
                continue;
            };
            joins.columns.push_str(&join.columns);
            joins.from.push_str(&join.from);
            joins.joined.push((step, at));
            at += 1 + target.columns;
        }
        joins
    }

    /// Each of `records` with its included relations: those of `joins` from `joined` (what the page's
    /// statement read), the others with one query per relation and level.
    pub(super) async fn attach_page<R: Resource>(
        &self,
        app: &App,
        caller: &Caller,
        records: Vec<R>,
        joins: &PageJoins<'_>,
        mut joined: JoinedRecords,
    ) -> Result<Vec<Included<R>>, ApiError> {
        let mut reader = Reader::default();
        let mut shared: Vec<Vec<Arc<Value>>> = Vec::with_capacity(joins.joined.len());
        for (i, (step, _)) in joins.joined.iter().enumerate() {
            let mut related = joined
                .records
                .get_mut(i)
                .map(|distinct| std::mem::take(&mut distinct.records))
                .unwrap_or_default();
            // The joined records' own includes, for all of them at once.
            attach(
                app,
                caller,
                step.nested.steps.iter().collect(),
                &mut related,
                &mut reader,
            )
            .await?;
            shared.push(related.into_iter().map(Arc::new).collect());
        }
        let relations = joined.rows.into_iter().map(|row| {
            let entries = joins
                .joined
                .iter()
                .zip(row)
                .enumerate()
                .map(|(i, ((step, _), record))| {
                    (
                        step.relation.name,
                        record.map(|n| Arc::clone(&shared[i][n])),
                    )
                })
                .collect();
            Relations(entries)
        });
        let rest: Vec<&Step> = self
            .steps
            .iter()
            .filter(|s| !joins.joined.iter().any(|(j, _)| std::ptr::eq(*j, *s)))
            .collect();
        if rest.is_empty() {
            let relations = relations.chain(std::iter::repeat_with(Relations::default));
            return Ok(records
                .into_iter()
                .zip(relations)
                .map(|(record, relations)| Included::Record { record, relations })
                .collect());
        }
        // The other relations' keys are read from the records as JSON.
        let mut rows = Vec::with_capacity(records.len());
        let relations = relations.chain(std::iter::repeat_with(Relations::default));
        for (record, relations) in records.iter().zip(relations) {
            let mut row = serde_json::to_value(record).map_err(ApiError::internal)?;
            if let Value::Object(fields) = &mut row {
                for (name, value) in relations.0 {
                    let value = value.map_or(Value::Null, |v| Value::clone(&v));
                    fields.insert(name.to_owned(), value);
                }
            }
            rows.push(row);
        }
        attach(app, caller, rest, &mut rows, &mut reader).await?;
        Ok(rows.into_iter().map(Included::Json).collect())
    }
}

/// A record with its included relations, written as one JSON object: the record's fields and the relations by
/// name.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Included<R> {
    /// Written straight from the record, its relations after its fields: when every relation was joined, nothing
    /// needs the record as a `serde_json::Value`.
    Record {
        /// The record.
        #[serde(flatten)]
        record: R,
        /// Its included relations (`author`, `room`).
        #[serde(flatten)]
        relations: Relations,
    },
    /// The record as JSON, with its relations added (the keys of those read by queries of their own were read from
    /// it).
    Json(Value),
}

/// A record's joined relations by name, each a record shared by the page's rows that refer to it (`None`:
/// `null`). Written as entries of the record's object.
#[derive(Debug, Default)]
pub struct Relations(Vec<(&'static str, Option<Arc<Value>>)>);

impl Serialize for Relations {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, &value.as_deref())?;
        }
        map.end()
    }
}

/// The records a page's joins read, each decoded once: the rows that refer to the same record share it (a page of
/// messages by a few authors decodes each author once).
#[derive(Default)]
pub(super) struct JoinedRecords {
    /// Per join, its distinct records.
    records: Vec<Distinct>,
    /// Per page row, per join: its record's index, `None` for `null`.
    rows: Vec<Vec<Option<usize>>>,
}

/// The distinct records of one join.
#[derive(Default)]
struct Distinct {
    /// Each record's index in `records`, by the bytes of its marker (its id).
    index: HashMap<Vec<u8>, usize>,
    /// The records as JSON.
    records: Vec<Value>,
}

impl JoinedRecords {
    /// Records the joined record of join `join` of the current row, keyed by its marker's bytes (`None`: no
    /// record), decoding it only if it is new.
    fn add<E>(
        &mut self,
        join: usize,
        key: Option<&[u8]>,
        decode: impl FnOnce() -> Result<Value, E>,
    ) -> Result<(), E> {
        if self.records.len() <= join {
            self.records.resize_with(join + 1, Default::default);
        }
        let row = self.rows.last_mut().expect("a row was started");
        let Some(key) = key else {
            row.push(None);
            return Ok(());
        };
        let distinct = &mut self.records[join];
        let n = match distinct.index.get(key) {
            Some(n) => *n,
            None => {
                distinct.records.push(decode()?);
                let n = distinct.records.len() - 1;
                distinct.index.insert(key.to_vec(), n);
                n
            }
        };
        row.push(Some(n));
        Ok(())
    }
}

/// The name of the page's rows in a statement with joins.
const PAGE: &str = "\"ssot_page\"";

/// The to-one relations a page reads with its own statement: each a `LEFT JOIN` of the related row, within its
/// model's read rule for the caller. A page of 20 messages with their authors and rooms is then one statement
/// rather than three. Each joined record is preceded by a marker column, `NULL` when there is no row (no
/// reference, or a row the caller may not read).
#[derive(Default)]
pub(super) struct PageJoins<'a> {
    /// Each joined relation, with the column of its marker.
    joined: Vec<(&'a Step, usize)>,
    /// `, "ssot_join0".*, ...`: appended to the select list.
    columns: String,
    /// The joins, appended to the `FROM`.
    from: String,
}

impl PageJoins<'_> {
    /// Nothing to join.
    pub(super) fn is_empty(&self) -> bool {
        self.joined.is_empty()
    }

    /// The page's statement (`SELECT <R::SELECT> ... LIMIT ... OFFSET ...`) with the joins, its rows still in
    /// the page's order (`keys`, then `id_column`): a join does not keep the order of its input.
    pub(super) fn wrap(
        &self,
        page_sql: &str,
        w: &SqlWriter,
        keys: &[(&str, crate::query::SortOrder)],
        id_column: &str,
    ) -> String {
        let qualified: Vec<(String, crate::query::SortOrder)> = keys
            .iter()
            .map(|(column, order)| (format!("{PAGE}.{column}"), *order))
            .collect();
        let keys: Vec<(&str, crate::query::SortOrder)> = qualified
            .iter()
            .map(|(column, order)| (column.as_str(), *order))
            .collect();
        let order = w.order_by(&keys, &format!("{PAGE}.{id_column}"));
        format!(
            "SELECT {PAGE}.*{columns} FROM ({page_sql}) AS {PAGE}{from} ORDER BY {order}",
            columns = self.columns,
            from = self.from
        )
    }

    /// Adds a SQLite row's joined records to `into`.
    pub(super) fn read_sqlite(
        &self,
        row: &rusqlite::Row,
        into: &mut JoinedRecords,
    ) -> rusqlite::Result<()> {
        use rusqlite::types::ValueRef;
        into.rows.push(Vec::with_capacity(self.joined.len()));
        for (i, (step, at)) in self.joined.iter().enumerate() {
            let number;
            let key = match row.get_ref(*at)? {
                ValueRef::Null => None,
                ValueRef::Integer(n) => {
                    number = n.to_le_bytes();
                    Some(&number[..])
                }
                ValueRef::Real(_) => unreachable!("ids are integers, text or uuids"),
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => Some(bytes),
            };
            into.add(i, key, || (step.relation.target.read_sqlite)(row, at + 1))?;
        }
        Ok(())
    }

    /// Adds a PostgreSQL row's joined records to `into`.
    pub(super) fn read_postgres(
        &self,
        row: &sqlx::postgres::PgRow,
        into: &mut JoinedRecords,
    ) -> Result<(), sqlx::Error> {
        use sqlx::{Row, ValueRef};
        into.rows.push(Vec::with_capacity(self.joined.len()));
        for (i, (step, at)) in self.joined.iter().enumerate() {
            let marker = row.try_get_raw(*at)?;
            let key = if marker.is_null() {
                None
            } else {
                Some(marker.as_bytes().map_err(sqlx::Error::Decode)?)
            };
            into.add(i, key, || (step.relation.target.read_postgres)(row, at + 1))?;
        }
        Ok(())
    }
}

/// The row of `T` that `relation` refers to as a `LEFT JOIN` under `alias`, within `T`'s read rule for the
/// caller (in the join's condition, so a row the caller may not read is no row: `null`); `None` if the caller may
/// read no row of `T`. The marker column is the joined row's id, `NULL` only when there is no row. Every column
/// is qualified by `alias`, so the join works alike when `T` is the page's own model.
fn join<T: Resource>(
    relation: &Relation,
    caller: &Caller,
    w: &mut SqlWriter,
    alias: &str,
) -> Option<Join> {
    let scope = scope::<T>(&T::ACCESS.read, caller).ok()?;
    let qualifier = format!("{alias}.");
    let rule = qualified_scope_sql(&scope, w, &qualifier);
    let remote = relation.remote_column;
    let mut columns = format!(", {qualifier}{remote}");
    for column in select_columns(T::SELECT) {
        columns.push_str(&format!(", {qualifier}{column}"));
    }
    Some(Join {
        columns,
        from: format!(
            " LEFT JOIN {table} AS {alias} ON {qualifier}{remote} = {PAGE}.{local} AND {rule}",
            table = T::TABLE,
            local = relation.local_column,
        ),
    })
}

/// The columns of a `SELECT` list of quoted identifiers (`"id", "room_id"`); a comma inside quotes is part of a
/// name.
fn select_columns(select: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    select
        .split(move |c: char| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ',' && !quoted
        })
        .map(str::trim)
}

fn read_sqlite<T: Resource>(row: &rusqlite::Row, at: usize) -> rusqlite::Result<Value> {
    let record = T::from_sqlite_at(row, at)?;
    serde_json::to_value(record).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn read_postgres<T: Resource>(
    row: &sqlx::postgres::PgRow,
    at: usize,
) -> Result<Value, sqlx::Error> {
    let record = T::from_postgres_at(row, at)?;
    serde_json::to_value(record).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn bad_include(message: String) -> ApiError {
    ApiError::bad_request(format!("invalid `include`: {message}"))
}

/// `author,room.messages` as the object form `{"author":true,"room":{"include":{"messages":true}}}`.
fn paths(text: &str) -> Result<Value, ApiError> {
    let mut root = Map::new();
    for path in text.split(',').map(str::trim) {
        let mut level = &mut root;
        let names: Vec<&str> = path.split('.').collect();
        if names.iter().any(|n| n.is_empty()) {
            return Err(bad_include(format!(
                "{path:?} is not a relation path (names joined by `.`, paths by `,`)"
            )));
        }
        for (i, name) in names.iter().enumerate() {
            let entry = level
                .entry(name.to_string())
                .or_insert_with(|| Value::Bool(true));
            if i + 1 == names.len() {
                break;
            }
            if !entry.is_object() {
                *entry = serde_json::json!({ "include": {} });
            }
            level = entry["include"]
                .as_object_mut()
                .expect("an include object was just made");
        }
    }
    Ok(Value::Object(root))
}

/// The relations of `R` asked for by `spec` (an object of relation name to `true`, `false` or options), at
/// nesting level `depth`.
fn plan<R: Resource>(spec: &Value, depth: usize) -> Result<Include, ApiError> {
    let Value::Object(entries) = spec else {
        return Err(bad_include(format!(
            "expected an object of {} relations, not {spec}",
            R::NAME
        )));
    };
    let mut steps = Vec::new();
    for (name, value) in entries {
        let Some(relation) = R::RELATIONS.iter().find(|r| r.name == name) else {
            let known: Vec<&str> = R::RELATIONS.iter().map(|r| r.name).collect();
            return Err(bad_include(format!(
                "{} has no relation {name:?} (it has: {})",
                R::NAME,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )));
        };
        if depth > MAX_DEPTH {
            return Err(bad_include(format!(
                "{name:?} is nested {depth} levels deep; includes nest at most {MAX_DEPTH} levels"
            )));
        }
        let options: Options = match value {
            Value::Bool(false) => continue,
            Value::Bool(true) => Options::default(),
            other => {
                Options::deserialize(other).map_err(|e| bad_include(format!("{name}: {e}")))?
            }
        };
        if !relation.many
            && (options.filter.is_some() || options.order.is_some() || options.take.is_some())
        {
            return Err(bad_include(format!(
                "{name:?} is a single {} row: only `include` applies to it, not `where`, `orderBy` or `take`",
                relation.target.name
            )));
        }
        if options.take.is_some_and(|t| t < 0) {
            return Err(bad_include(format!("{name}.take must be 0 or more")));
        }
        let nested = (relation.target.plan)(&options, relation.many, depth + 1)?;
        steps.push(Step {
            relation,
            filter: options.filter,
            order: options.order,
            take: options.take,
            nested,
        });
    }
    Ok(Include { steps })
}

/// Checks a relation's `where` and `orderBy` against `T`'s types and plans its nested includes.
fn plan_options<T: Resource>(
    options: &Options,
    many: bool,
    depth: usize,
) -> Result<Include, ApiError> {
    if many {
        if let Some(filter) = &options.filter {
            T::Filter::deserialize(filter)
                .map_err(|e| bad_include(format!("`where` of {}: {e}", T::NAME)))?;
        }
        order_keys::<T>(options.order.as_ref())?;
    }
    match &options.include {
        Some(nested) => plan::<T>(nested, depth),
        None => Ok(Include::default()),
    }
}

/// A to-many's `orderBy`: one key object or a list of them.
fn order_keys<T: Resource>(order: Option<&Value>) -> Result<Vec<T::OrderBy>, ApiError> {
    let parsed = match order {
        None => Ok(Vec::new()),
        Some(Value::Array(keys)) => keys.iter().map(T::OrderBy::deserialize).collect(),
        Some(key) => T::OrderBy::deserialize(key).map(|k| vec![k]),
    };
    parsed.map_err(|e| bad_include(format!("`orderBy` of {}: {e}", T::NAME)))
}

/// A key as text, the same for a parent's field and a related row's column (`"7"` for 7, the uuid's text).
fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn attach<'a>(
    app: &'a App,
    caller: &'a Caller,
    steps: Vec<&'a Step>,
    rows: &'a mut [Value],
    reader: &'a mut Reader,
) -> Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 'a>> {
    Box::pin(async move {
        for step in steps {
            let relation = step.relation;
            // Each key once, in a fixed order (the statement's text depends only on how many there are).
            let mut keys: BTreeMap<String, Param> = BTreeMap::new();
            for row in rows.iter() {
                if let Some(text) = row.get(relation.key_field).and_then(key_text) {
                    if let Some(param) = (relation.key)(&text) {
                        keys.insert(text, param);
                    }
                }
            }
            // One query per relation and level, unless the level has more than `KEYS_PER_QUERY` keys (possible
            // only with a raised `MAX_TAKE`): the databases bound the parameters of a statement.
            let keys: Vec<Param> = keys.into_values().collect();
            let mut related = Vec::new();
            for chunk in keys.chunks(KEYS_PER_QUERY) {
                related.extend(
                    (relation.target.fetch)(app, caller, step, chunk.to_vec(), reader).await?,
                );
            }
            let mut by_key: HashMap<String, Vec<Value>> = HashMap::new();
            for row in related {
                if let Some(key) = row.get(relation.remote_field).and_then(key_text) {
                    by_key.entry(key).or_default().push(row);
                }
            }
            for row in rows.iter_mut() {
                let key = row.get(relation.key_field).and_then(key_text);
                let value = match (relation.many, key) {
                    // Parent ids are unique: each list goes to one row.
                    (true, Some(key)) => Value::Array(by_key.remove(&key).unwrap_or_default()),
                    (true, None) => Value::Array(Vec::new()),
                    (false, Some(key)) => by_key
                        .get(&key)
                        .and_then(|rows| rows.first().cloned())
                        .unwrap_or(Value::Null),
                    (false, None) => Value::Null,
                };
                if let Value::Object(fields) = row {
                    fields.insert(relation.name.to_owned(), value);
                }
            }
        }
        Ok(())
    })
}

/// The rows of `T` related to `keys` that the caller may read, as JSON with their own includes: one query.
async fn fetch<T: Resource>(
    app: &App,
    caller: &Caller,
    step: &Step,
    keys: Vec<Param>,
    reader: &mut Reader,
) -> Result<Vec<Value>, ApiError> {
    // A caller who may read no row of `T` gets none (null / empty lists), not an error for the whole read.
    let Ok(scope) = scope::<T>(&T::ACCESS.read, caller) else {
        return Ok(Vec::new());
    };
    let relation = step.relation;
    let mut w = SqlWriter::new(app.db.dialect());
    // One array parameter: the same statement text for any number of keys, so the statement is prepared once and
    // then taken from the cache (an `IN` list of n placeholders is a new statement, parsed and planned, for each n).
    // Keys of another kind than ids and references have (none today) fall back to such a list.
    let array = Keys::gather(&keys);
    let cached = array.is_some();
    let mut condition = match array {
        Some(array) => {
            let keys = w.bind(Param::Keys(array));
            match app.db.dialect() {
                Dialect::Postgres => format!("{} = ANY({keys})", relation.remote_column),
                Dialect::Sqlite => format!(
                    "{} IN (SELECT value FROM json_each({keys}))",
                    relation.remote_column
                ),
            }
        }
        None => {
            let placeholders: Vec<String> = keys.into_iter().map(|k| w.bind(k)).collect();
            format!(
                "{} IN ({})",
                relation.remote_column,
                placeholders.join(", ")
            )
        }
    };
    let sql = if relation.many {
        if let Some(filter) = &step.filter {
            let filter = T::Filter::deserialize(filter).map_err(|e| bad_include(e.to_string()))?;
            condition = format!(
                "{condition} AND {}",
                where_sql::<T>(&filter, &mut w, caller)?
            );
        }
        condition = format!("{condition} AND {}", scope_sql(&scope, &mut w));
        let order = order_keys::<T>(step.order.as_ref())?;
        let keys: Vec<_> = order.iter().map(T::order_key).collect();
        let order_sql = w.order_by(&keys, T::ID_COLUMN);
        let take = step
            .take
            .unwrap_or(app.config.default_take.into())
            .clamp(0, app.config.max_take.into());
        // The page of each parent: its first `take` rows in order. `take` is a clamped number, written as text.
        format!(
            "SELECT {select} FROM (SELECT {select}, ROW_NUMBER() OVER (PARTITION BY {column} ORDER BY {order_sql}) \
             AS \"ssot_rank\" FROM {table} WHERE {condition}) AS \"ssot_ranked\" WHERE \"ssot_rank\" <= {take} \
             ORDER BY \"ssot_rank\"",
            select = T::SELECT,
            column = relation.remote_column,
            table = T::TABLE,
        )
    } else {
        condition = format!("{condition} AND {}", scope_sql(&scope, &mut w));
        format!("SELECT {} FROM {} WHERE {condition}", T::SELECT, T::TABLE)
    };
    tracing::debug!(target: "ssot::include", relation = relation.name, model = T::NAME, %sql, "include query");
    let records = rows::<T>(app, reader, &sql, &w.params, cached).await?;
    let mut values = records
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<Value>, _>>()
        .map_err(ApiError::internal)?;
    attach(
        app,
        caller,
        step.nested.steps.iter().collect(),
        &mut values,
        reader,
    )
    .await?;
    Ok(values)
}

/// The records `sql` selects (`T::SELECT`'s columns first).
async fn rows<T: Resource>(
    app: &App,
    reader: &mut Reader,
    sql: &str,
    params: &[Param],
    cached: bool,
) -> Result<Vec<T>, ApiError> {
    match &app.db {
        // From the statement cache when the text does not change with the number of keys (`cached`); otherwise
        // each count would be a statement of its own, pushing the lists' and gets' statements out of the cache.
        Db::Sqlite(db) => db
            .read(|conn| {
                let read = |statement: &mut rusqlite::Statement| {
                    statement
                        .query_map(rusqlite::params_from_iter(params), T::from_sqlite)?
                        .collect::<Result<Vec<T>, _>>()
                };
                if cached {
                    read(&mut *conn.prepare_cached(sql)?)
                } else {
                    read(&mut conn.prepare(sql)?)
                }
            })
            .map_err(ApiError::internal),
        Db::Postgres(db) => Box::pin(async {
            let conn = reader.postgres(&db.pool).await?;
            let rows = crate::server::postgres::query(sql, params)
                .fetch_all(conn)
                .await?;
            rows.iter()
                .map(T::from_postgres)
                .collect::<Result<Vec<T>, sqlx::Error>>()
        })
        .await
        .map_err(ApiError::internal),
    }
}

#[cfg(test)]
mod tests {
    use super::select_columns;

    #[test]
    fn select_columns_split_at_commas_outside_quotes() {
        let columns: Vec<&str> = select_columns(r#""id", "room_id","a, ""b""""#).collect();
        assert_eq!(columns, [r#""id""#, r#""room_id""#, r#""a, ""b""""#]);
    }
}
