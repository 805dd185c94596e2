//! Lists and single rows, each read from one snapshot (with the sequence number it reflects, when asked).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::server::auth::Caller;
use crate::server::db::{Dialect, Param, SqlWriter, ToParam};
use crate::server::error::ApiError;
use crate::server::{App, Db};

use super::access::{scope, scope_sql, Scope};
use super::filter::FilterSql;
use super::include::{Include, Included, JoinedRecords, PageJoins};
use super::{not_found, path_id, Resource};
use crate::query::SortOrder;

/// The filter as one SQL condition on rows of `R`'s table (named as such in the statement), combinators and
/// relation filters included; an error for a relation filter nested too deep.
pub(super) fn where_sql<R: Resource>(
    filter: &R::Filter,
    w: &mut SqlWriter,
    caller: &Caller,
) -> Result<String, ApiError> {
    FilterSql::new(w, caller, R::TABLE).condition::<R>(filter)
}

/// A list's query string as it comes (`where` and `orderBy` as JSON text); unknown parameters are rejected.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    #[serde(rename = "where")]
    filter: Option<String>,
    #[serde(rename = "orderBy")]
    order_by: Option<String>,
    skip: Option<String>,
    take: Option<String>,
    include: Option<String>,
}

/// A get's query string: only `include`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    include: Option<String>,
}

/// The `include` of a query string, checked against `R`'s relations before anything is read.
pub(super) fn include_param<R: Resource>(text: Option<&str>) -> Result<Include, ApiError> {
    text.map_or_else(|| Ok(Include::default()), Include::from_query::<R>)
}

/// A record with its included relations, as JSON.
pub(super) async fn with_relations<R: Resource>(
    app: &App,
    caller: &Caller,
    include: &Include,
    records: &[R],
) -> Result<Vec<serde_json::Value>, ApiError> {
    let mut rows = records
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    include.attach(app, caller, &mut rows).await?;
    Ok(rows)
}

/// The one list shape: the page, how many rows match in all, and the page's position.
#[derive(Debug, Serialize)]
pub struct ListResponse<R> {
    /// The page's records, in order.
    pub items: Vec<R>,
    /// How many rows match the filter, on every page.
    pub total: i64,
    /// The rows before the page.
    pub skip: i64,
    /// The page size used: the `take` asked for or the default, capped by the maximum.
    pub take: i64,
}

/// A JSON query parameter; the error names the path to the offending field (`roomId.equals: invalid type ...`).
pub(super) fn parse_param<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text)).map_err(|e| {
        ApiError::bad_request(format!("invalid `{name}`: {}: {}", e.path(), e.inner()))
    })
}

fn number(name: &str, text: Option<&str>, default: i64) -> Result<i64, ApiError> {
    match text {
        None => Ok(default),
        Some(t) => t.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`{name}` must be a whole number of 0 or more, not {t:?}"
            ))
        }),
    }
}

/// A list query, from the REST query string or a WebSocket `request`.
pub struct ListQuery<R: Resource> {
    /// The `where`; `None` matches every readable row.
    pub filter: Option<R::Filter>,
    /// The `orderBy` keys, in order; the id always ends them.
    pub order: Vec<R::OrderBy>,
    /// Rows to pass over (0 when absent).
    pub skip: Option<i64>,
    /// The page size (the default when absent, capped by the maximum).
    pub take: Option<i64>,
}

pub(super) async fn list<R: Resource>(
    State(app): State<App>,
    caller: Caller,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let include = include_param::<R>(params.include.as_deref())?;
    let filter: Option<R::Filter> = params
        .filter
        .as_deref()
        .map(|text| parse_param("where", text))
        .transpose()?;
    let order: Vec<R::OrderBy> = match params.order_by.as_deref() {
        None => Vec::new(),
        // One key object or a list of them.
        Some(text) if text.trim_start().starts_with('{') => vec![parse_param("orderBy", text)?],
        Some(text) => parse_param("orderBy", text)?,
    };
    let skip = Some(number("skip", params.skip.as_deref(), 0)?);
    let take = params
        .take
        .as_deref()
        .map(|t| number("take", Some(t), 0))
        .transpose()?;
    let query = ListQuery {
        filter,
        order,
        skip,
        take,
    };
    if include.is_empty() {
        let (page, _) = fetch_list::<R>(&app, &caller, query, false).await?;
        return Ok(Json(page).into_response());
    }
    let (page, _) = fetch_list_including::<R>(&app, &caller, query, false, &include).await?;
    Ok(Json(page).into_response())
}

/// One page of the rows the caller may read. With `at_seq`, also the sequence number of the last event the page
/// reflects (read in the same snapshot), so that a live client can stitch the page to the event stream.
pub async fn fetch_list<R: Resource>(
    app: &App,
    caller: &Caller,
    query: ListQuery<R>,
    at_seq: bool,
) -> Result<(ListResponse<R>, Option<i64>), ApiError> {
    let none = Include::default();
    let page = read_page::<R>(app, caller, query, at_seq, &none).await?;
    Ok((page.list, page.seq))
}

/// [`fetch_list`] with the relations `include` asks for. The list's own to-one relations are read by the page's
/// statement, in its snapshot; the other relations are read after it, and may be newer than the sequence number.
pub async fn fetch_list_including<R: Resource>(
    app: &App,
    caller: &Caller,
    query: ListQuery<R>,
    at_seq: bool,
    include: &Include,
) -> Result<(ListResponse<Included<R>>, Option<i64>), ApiError> {
    let page = read_page::<R>(app, caller, query, at_seq, include).await?;
    let list = ListResponse {
        items: include
            .attach_page(app, caller, page.list.items, &page.joins, page.joined)
            .await?,
        total: page.list.total,
        skip: page.list.skip,
        take: page.list.take,
    };
    Ok((list, page.seq))
}

/// What one read of a page gives.
struct Page<'i, R> {
    list: ListResponse<R>,
    /// The relations read with the page (its to-one relations).
    joins: PageJoins<'i>,
    /// The records they read, for each item.
    joined: JoinedRecords,
    seq: Option<i64>,
}

/// On PostgreSQL one snapshot for the page and the head; sequence numbers commit in order (see
/// `events::POSTGRES_OUTBOX_LOCK`), so the snapshot holds exactly the events up to the head it reads.
const SNAPSHOT_POSTGRES: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// The page's count and rows in one snapshot, with the to-one relations of `include` joined.
async fn read_page<'i, R: Resource>(
    app: &App,
    caller: &Caller,
    query: ListQuery<R>,
    at_seq: bool,
    include: &'i Include,
) -> Result<Page<'i, R>, ApiError> {
    let scope = scope::<R>(&R::ACCESS.read, caller)?;
    let skip = query.skip.unwrap_or(0).max(0);
    let take = query
        .take
        .unwrap_or(app.config.default_take.into())
        .clamp(0, app.config.max_take.into());

    let mut w = SqlWriter::new(app.db.dialect());
    let mut condition = match &query.filter {
        Some(filter) => where_sql::<R>(filter, &mut w, caller)?,
        None => "1 = 1".to_owned(),
    };
    condition = format!("{condition} AND {}", scope_sql(&scope, &mut w));
    let condition_params = w.params.len();
    let keys: Vec<(&str, SortOrder)> = query.order.iter().map(R::order_key).collect();
    let order_sql = w.order_by(&keys, R::ID_COLUMN);
    // SQLite compiles a statement again at every run when its LIMIT is a bound parameter (its planner reads the
    // value): 12.8 % of a list request's CPU. The limit is a clamped number, so SQLite gets it as
    // text; PostgreSQL keeps one prepared statement for every page size.
    let limit = match w.dialect {
        Dialect::Sqlite => take.to_string(),
        Dialect::Postgres => w.bind(Param::I64(Some(take))),
    };
    let offset = w.bind(Param::I64(Some(skip)));
    let count_sql = format!("SELECT COUNT(*) FROM {} WHERE {condition}", R::TABLE);
    let mut select_sql = format!(
        "SELECT {} FROM {} WHERE {condition} ORDER BY {order_sql} LIMIT {limit} OFFSET {offset}",
        R::SELECT,
        R::TABLE
    );
    let joins = include.page_joins::<R>(caller, &mut w);
    if !joins.is_empty() {
        select_sql = joins.wrap(&select_sql, &w, &keys, R::ID_COLUMN);
        tracing::debug!(target: "ssot::include", model = R::NAME, sql = %select_sql, "page with joined includes");
    }
    let statements = Statements {
        count: &count_sql,
        select: &select_sql,
        params: &w.params,
        count_params: condition_params,
        joins: &joins,
    };
    let (total, items, joined, seq) = match &app.db {
        Db::Sqlite(db) => db
            .read(|conn| {
                // A read transaction: the count, the page and the head come from one snapshot.
                let snapshot = if at_seq {
                    Some(conn.unchecked_transaction()?)
                } else {
                    None
                };
                let all = rusqlite::params_from_iter(&w.params[..condition_params]);
                let total: i64 = conn
                    .prepare_cached(&count_sql)?
                    .query_row(all, |row| row.get(0))?;
                let mut statement = conn.prepare_cached(&select_sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(&w.params))?;
                let (mut items, mut joined) = (Vec::new(), JoinedRecords::default());
                while let Some(row) = rows.next()? {
                    items.push(R::from_sqlite(row)?);
                    if !joins.is_empty() {
                        joins.read_sqlite(row, &mut joined)?;
                    }
                }
                let seq = if snapshot.is_some() {
                    Some(crate::server::outbox::head_sqlite(conn)?)
                } else {
                    None
                };
                Ok((total, items, joined, seq))
            })
            .map_err(ApiError::internal)?,
        // Boxed, here and in the other handlers: the PostgreSQL futures are large, and the handler's future, which
        // holds them even when the database is SQLite, is moved as it starts (`memmove` was 4.6 % of a GET's CPU on
        // SQLite, 1.1 % in a hand-written handler).
        Db::Postgres(db) => Box::pin(async {
            if !at_seq {
                let (total, items, joined) =
                    page_postgres::<R>(&mut *db.pool.acquire().await?, &statements).await?;
                return Ok((total, items, joined, None));
            }
            let mut tx = db.pool.begin().await?;
            sqlx::query(SNAPSHOT_POSTGRES).execute(&mut *tx).await?;
            let (total, items, joined) = page_postgres::<R>(&mut tx, &statements).await?;
            let seq = crate::server::outbox::head_postgres(&mut tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>((total, items, joined, Some(seq)))
        })
        .await
        .map_err(ApiError::internal)?,
    };
    Ok(Page {
        list: ListResponse {
            items,
            total,
            skip,
            take,
        },
        joins,
        joined,
        seq,
    })
}

/// A page's two statements and their parameters.
struct Statements<'a> {
    count: &'a str,
    select: &'a str,
    params: &'a [Param],
    /// How many of the parameters the count takes (the first ones).
    count_params: usize,
    /// The relations `select` joins.
    joins: &'a PageJoins<'a>,
}

/// The count and the page on one PostgreSQL connection, with each row's joined records.
async fn page_postgres<R: Resource>(
    conn: &mut sqlx::PgConnection,
    statements: &Statements<'_>,
) -> Result<(i64, Vec<R>, JoinedRecords), sqlx::Error> {
    let count = crate::server::postgres::query(
        statements.count,
        &statements.params[..statements.count_params],
    );
    let total: i64 = sqlx::Row::try_get(&count.fetch_one(&mut *conn).await?, 0)?;
    let rows = crate::server::postgres::query(statements.select, statements.params)
        .fetch_all(&mut *conn)
        .await?;
    let items = rows
        .iter()
        .map(R::from_postgres)
        .collect::<Result<Vec<R>, _>>()?;
    let mut joined = JoinedRecords::default();
    if !statements.joins.is_empty() {
        for row in &rows {
            statements.joins.read_postgres(row, &mut joined)?;
        }
    }
    Ok((total, items, joined))
}

/// `SELECT` of one row by id within `scope`; `lock` adds `FOR UPDATE` on PostgreSQL.
pub(super) fn select_one<R: Resource>(
    dialect: Dialect,
    id: &R::Id,
    scope: &Scope,
    lock: bool,
) -> (String, Vec<Param>) {
    let mut w = SqlWriter::new(dialect);
    let id_param = w.bind(id.to_param());
    let scope = scope_sql(scope, &mut w);
    let lock = if lock && dialect == Dialect::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {} FROM {} WHERE {} = {id_param} AND {scope}{lock}",
        R::SELECT,
        R::TABLE,
        R::ID_COLUMN
    );
    (sql, w.params)
}

pub(super) async fn get_one<R: Resource>(
    State(app): State<App>,
    caller: Caller,
    id: Result<Path<R::Id>, PathRejection>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let include = include_param::<R>(params.include.as_deref())?;
    let (row, _) = fetch_one::<R>(&app, &caller, &id, false).await?;
    let row = row.ok_or_else(|| not_found::<R>(&id))?;
    if include.is_empty() {
        return Ok(Json(row).into_response());
    }
    let mut rows = with_relations(&app, &caller, &include, std::slice::from_ref(&row)).await?;
    Ok(Json(rows.pop()).into_response())
}

/// The row if the caller may read it; with `at_seq`, also the sequence number the answer reflects.
pub async fn fetch_one<R: Resource>(
    app: &App,
    caller: &Caller,
    id: &R::Id,
    at_seq: bool,
) -> Result<(Option<R>, Option<i64>), ApiError> {
    let scope = scope::<R>(&R::ACCESS.read, caller)?;
    let (sql, params) = select_one::<R>(app.db.dialect(), id, &scope, false);
    match &app.db {
        Db::Sqlite(db) => db
            .read(|conn| {
                use rusqlite::OptionalExtension;
                let snapshot = if at_seq {
                    Some(conn.unchecked_transaction()?)
                } else {
                    None
                };
                let row = conn
                    .prepare_cached(&sql)?
                    .query_row(rusqlite::params_from_iter(&params), R::from_sqlite)
                    .optional()?;
                let seq = if snapshot.is_some() {
                    Some(crate::server::outbox::head_sqlite(conn)?)
                } else {
                    None
                };
                Ok((row, seq))
            })
            .map_err(ApiError::internal),
        Db::Postgres(db) => Box::pin(async {
            if !at_seq {
                let row = crate::server::postgres::query(&sql, &params)
                    .fetch_optional(&db.pool)
                    .await?;
                return Ok((row.as_ref().map(R::from_postgres).transpose()?, None));
            }
            let mut tx = db.pool.begin().await?;
            sqlx::query(SNAPSHOT_POSTGRES).execute(&mut *tx).await?;
            let row = crate::server::postgres::query(&sql, &params)
                .fetch_optional(&mut *tx)
                .await?;
            let row = row.as_ref().map(R::from_postgres).transpose()?;
            let seq = crate::server::outbox::head_postgres(&mut tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>((row, Some(seq)))
        })
        .await
        .map_err(ApiError::internal),
    }
}
