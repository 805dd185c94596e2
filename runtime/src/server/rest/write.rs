//! Create, replace, patch and delete: each runs its hooks, checks access against the stored row, and writes the
//! row and its event in one transaction; the event is published only after the commit.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

use crate::server::auth::Caller;
use crate::server::db::{Dialect, Param, SqlWriter, ToParam};
use crate::server::error::{ApiError, WriteError};
use crate::server::events::{self, Event, EventKind};
use crate::server::group_commit_postgres::Insert;
use crate::server::{App, Db};

use super::access::{allows, scope};
use super::cascade::{before_delete_postgres, before_delete_sqlite, Cascade};
use super::read::select_one;
use super::{body, not_found, path_id, Hooks, InsertContext, Resource, Rule};
use crate::validation::Validate;

/// A committed change's answer: the status, the record, and the `Event-Seq` header (plus `Location` on create).
fn committed<R: Resource>(
    status: StatusCode,
    record: Option<R>,
    event: Option<&Event>,
    location: Option<String>,
) -> Response {
    let mut response = match record {
        Some(record) => (status, Json(record)).into_response(),
        None => status.into_response(),
    };
    let headers = response.headers_mut();
    if let Some(event) = event {
        headers.insert(
            HeaderName::from_static("event-seq"),
            HeaderValue::from(event.seq),
        );
    }
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    response
}

fn event_of<R: Resource>(record: &R, kind: EventKind, seq: i64) -> Result<Event, ApiError> {
    Ok(Event {
        seq,
        model: R::NAME,
        id: record.id(),
        kind,
        data: serde_json::to_value(record).map_err(ApiError::internal)?,
        owner: record.owner(),
        timestamp: chrono::Utc::now(),
    })
}

/// A write's outcome announces its events (none if its model is not live; a delete's cascade adds the events of
/// the rows it deleted or changed before its own), which the group commit publishes after the commit.
impl<R> crate::server::group_commit::Announces for (R, Vec<Event>) {
    fn events(&self) -> &[Event] {
        &self.1
    }

    fn events_mut(&mut self) -> &mut [Event] {
        &mut self.1
    }
}

/// Estimated bytes of a statement and its parameters, for bounding a group commit.
fn weight(sql: &str, params: &[Param]) -> usize {
    sql.len() + params.iter().map(Param::weight).sum::<usize>()
}

/// Models with `realtime: false` have no channels, and their changes write no events.
fn is_live<R: Resource>() -> bool {
    crate::channels::MODELS.contains(&R::NAME)
}

/// Writes the event of a change to `record` to the outbox (if its model is live), returning it with its seq.
pub(super) fn outbox_sqlite<R: Resource>(
    tx: &rusqlite::Connection,
    record: &R,
    kind: EventKind,
) -> Result<Option<Event>, WriteError> {
    if !is_live::<R>() {
        return Ok(None);
    }
    let event = event_of(record, kind, 0)?;
    let seq: i64 = tx.prepare_cached(events::INSERT_SQLITE)?.query_row(
        rusqlite::params![
            event.model,
            event.id,
            kind.as_str(),
            event.data.to_string(),
            event.owner,
            crate::server::db::sqlite_time(&event.timestamp)
        ],
        |row| row.get(0),
    )?;
    Ok(Some(Event { seq, ..event }))
}

/// The event of a change to `record` (if its model is live), not numbered yet: on PostgreSQL the group commit writes
/// the events of a batch's writes to the outbox after they ran, in one statement, and numbers them then
/// (`group_commit_postgres`).
pub(super) fn unnumbered_event<R: Resource>(
    record: &R,
    kind: EventKind,
) -> Result<Option<Event>, WriteError> {
    if !is_live::<R>() {
        return Ok(None);
    }
    Ok(Some(event_of(record, kind, 0)?))
}

fn insert_sql<R: Resource>(
    dialect: Dialect,
    values: Vec<(&'static str, Param)>,
) -> (String, Vec<Param>) {
    let mut w = SqlWriter::new(dialect);
    if values.is_empty() {
        return (
            format!(
                "INSERT INTO {} DEFAULT VALUES RETURNING {}",
                R::TABLE,
                R::SELECT
            ),
            Vec::new(),
        );
    }
    let columns: Vec<&str> = values.iter().map(|(c, _)| *c).collect();
    let placeholders: Vec<String> = values.into_iter().map(|(_, p)| w.bind(p)).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) RETURNING {}",
        R::TABLE,
        columns.join(", "),
        placeholders.join(", "),
        R::SELECT
    );
    (sql, w.params)
}

pub(super) async fn create<R: Hooks>(
    State(app): State<App>,
    caller: Caller,
    input: Result<Json<R::Create>, JsonRejection>,
) -> Result<Response, ApiError> {
    scope::<R>(&R::ACCESS.create, &caller)?;
    let mut input = body(input)?;
    input.validate()?;
    R::before_create(&mut input, &caller)?;
    let values = R::insert_values(
        input,
        &InsertContext {
            now: chrono::Utc::now(),
            caller: &caller,
        },
    )?;
    let (record, events) = match &app.db {
        // Both published by the group commit, in sequence order with the rest of its batch.
        Db::Sqlite(db) => {
            let (sql, params) = insert_sql::<R>(Dialect::Sqlite, values);
            db.write(&app.events, weight(&sql, &params), move |tx| {
                let record = tx
                    .prepare_cached(&sql)?
                    .query_row(rusqlite::params_from_iter(&params), R::from_sqlite)?;
                let events = Vec::from_iter(outbox_sqlite(tx, &record, EventKind::Created)?);
                Ok((record, events))
            })
            .await
            .map_err(|e| e.into_api(false))?
        }
        // A row of values: the group commit inserts it with the creates of the same statement next to it, as one
        // multi-row statement.
        Db::Postgres(db) if !values.is_empty() => {
            let columns: Vec<&str> = values.iter().map(|(column, _)| *column).collect();
            let insert = Insert {
                into: format!("INSERT INTO {} ({})", R::TABLE, columns.join(", ")),
                returning: R::SELECT,
                values: values.into_iter().map(|(_, value)| value).collect(),
                finish: |row| {
                    let record = R::from_postgres(row)?;
                    let events = Vec::from_iter(unnumbered_event(&record, EventKind::Created)?);
                    Ok((record, events))
                },
            };
            let weight = weight(&insert.into, &insert.values) + insert.returning.len();
            db.insert(&app.events, weight, insert)
                .await
                .map_err(|e| e.into_api(false))?
        }
        Db::Postgres(db) => {
            let (sql, params) = insert_sql::<R>(Dialect::Postgres, values);
            let weight = weight(&sql, &params);
            // Shared, not moved: the group commit may run a write twice (group_commit_postgres).
            let statement = Arc::new((sql, params));
            db.write(&app.events, weight, move |tx| {
                let statement = statement.clone();
                Box::pin(async move {
                    let (sql, params) = &*statement;
                    let query = crate::server::postgres::query(sql, params);
                    let record = R::from_postgres(&query.fetch_one(&mut *tx).await?)?;
                    let events = Vec::from_iter(unnumbered_event(&record, EventKind::Created)?);
                    Ok((record, events))
                })
            })
            .await
            .map_err(|e| e.into_api(false))?
        }
    };
    if let Some(event) = events.last() {
        R::after_commit(event);
    }
    let location = format!("{}/{}", R::ROUTE, record.id());
    Ok(committed(
        StatusCode::CREATED,
        Some(record),
        events.last(),
        Some(location),
    ))
}

/// What a change does once the stored row is found and allowed: update columns, or delete the row.
enum Change {
    Update(Vec<(&'static str, Param)>),
    Delete,
}

/// Finds the row the caller may read (404 otherwise), checks `rule` against it (403), applies the change and
/// writes its event, all in one transaction.
async fn change<R: Hooks>(
    app: &App,
    caller: &Caller,
    id: R::Id,
    rule: &Rule,
    change: Change,
) -> Result<Response, ApiError> {
    // Refuse early when no row could pass (401/403), before looking anything up.
    scope::<R>(rule, caller)?;
    let read = scope::<R>(&R::ACCESS.read, caller)?;
    let dialect = app.db.dialect();
    let (select_sql, select_params) = select_one::<R>(dialect, &id, &read, true);
    let deleting = matches!(change, Change::Delete);
    let statement = match &change {
        Change::Update(values) if values.is_empty() => None,
        Change::Update(values) => {
            let mut w = SqlWriter::new(dialect);
            let sets: Vec<String> = values
                .iter()
                .map(|(c, p)| format!("{c} = {}", w.bind(p.clone())))
                .collect();
            let id_param = w.bind(id.to_param());
            Some((
                format!(
                    "UPDATE {} SET {} WHERE {} = {id_param} RETURNING {}",
                    R::TABLE,
                    sets.join(", "),
                    R::ID_COLUMN,
                    R::SELECT
                ),
                w.params,
            ))
        }
        Change::Delete => {
            let mut w = SqlWriter::new(dialect);
            let id_param = w.bind(id.to_param());
            Some((
                format!(
                    "DELETE FROM {} WHERE {} = {id_param}",
                    R::TABLE,
                    R::ID_COLUMN
                ),
                w.params,
            ))
        }
    };
    let kind = if deleting {
        EventKind::Deleted
    } else {
        EventKind::Updated
    };
    let rule = *rule;
    let id_param = id.to_param();
    let caller_for_tx = caller.clone();
    let missing = not_found::<R>(&id);
    let weight = statement
        .as_ref()
        .map_or(0, |(sql, params)| weight(sql, params))
        + weight(&select_sql, &select_params);
    let (record, events) = match &app.db {
        // Both published by the group commit, in sequence order with the rest of its batch.
        Db::Sqlite(db) => db
            .write(&app.events, weight, move |tx| {
                use rusqlite::OptionalExtension;
                let found = tx
                    .prepare_cached(&select_sql)?
                    .query_row(rusqlite::params_from_iter(&select_params), R::from_sqlite)
                    .optional()?;
                let found = found.ok_or(missing)?;
                if !allows(&rule, &caller_for_tx, &found) {
                    return Err(ApiError::forbidden().into());
                }
                let mut cascade = Cascade::default();
                let record = match (&statement, kind) {
                    (None, _) => found,
                    (Some((sql, params)), EventKind::Deleted) => {
                        before_delete_sqlite::<R>(tx, &id_param, &mut cascade)?;
                        tx.prepare_cached(sql)?
                            .execute(rusqlite::params_from_iter(params))?;
                        found
                    }
                    (Some((sql, params)), _) => tx
                        .prepare_cached(sql)?
                        .query_row(rusqlite::params_from_iter(params), R::from_sqlite)?,
                };
                let mut events = cascade.events;
                events.extend(outbox_sqlite(tx, &record, kind)?);
                Ok((record, events))
            })
            .await
            .map_err(|e| e.into_api(deleting))?,
        Db::Postgres(db) => {
            // Shared, not moved: the group commit may run a write twice (group_commit_postgres).
            let shared = Arc::new((
                select_sql,
                select_params,
                statement,
                id_param,
                caller_for_tx,
                id,
            ));
            db.write(&app.events, weight, move |tx| {
                let shared = shared.clone();
                Box::pin(async move {
                    let (select_sql, select_params, statement, id_param, caller, id) = &*shared;
                    let query = crate::server::postgres::query(select_sql, select_params);
                    let found = query
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|row| R::from_postgres(&row))
                        .transpose()?;
                    let found = found.ok_or_else(|| not_found::<R>(id))?;
                    if !allows(&rule, caller, &found) {
                        return Err(ApiError::forbidden().into());
                    }
                    let mut cascade = Cascade::default();
                    let record = match (statement, kind) {
                        (None, _) => found,
                        (Some((sql, params)), kind) => {
                            let query = crate::server::postgres::query(sql, params);
                            if kind == EventKind::Deleted {
                                before_delete_postgres::<R>(tx, id_param, &mut cascade).await?;
                                query.execute(&mut *tx).await?;
                                found
                            } else {
                                R::from_postgres(&query.fetch_one(&mut *tx).await?)?
                            }
                        }
                    };
                    let mut events = cascade.events;
                    events.extend(unnumbered_event(&record, kind)?);
                    Ok((record, events))
                })
            })
            .await
            .map_err(|e| e.into_api(deleting))?
        }
    };
    // The request's own event is the last: a cascade's come before it. Its rows' models' hooks are not called:
    // they were not asked to change, and a hook that must see them can read the event feed.
    let own = events
        .last()
        .filter(|e| e.model == R::NAME && e.id == record.id());
    if let Some(event) = own {
        R::after_commit(event);
    }
    Ok(if deleting {
        committed::<R>(StatusCode::NO_CONTENT, None, own, None)
    } else {
        committed(StatusCode::OK, Some(record), own, None)
    })
}

pub(super) async fn replace<R: Hooks>(
    State(app): State<App>,
    caller: Caller,
    id: Result<Path<R::Id>, PathRejection>,
    input: Result<Json<R::Update>, JsonRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    scope::<R>(&R::ACCESS.update, &caller)?;
    let mut input = body(input)?;
    input.validate()?;
    R::before_update(&id, &mut input, &caller)?;
    change::<R>(
        &app,
        &caller,
        id,
        &R::ACCESS.update,
        Change::Update(R::update_values(input)),
    )
    .await
}

pub(super) async fn update<R: Hooks>(
    State(app): State<App>,
    caller: Caller,
    id: Result<Path<R::Id>, PathRejection>,
    input: Result<Json<R::Patch>, JsonRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    scope::<R>(&R::ACCESS.update, &caller)?;
    let mut input = body(input)?;
    input.validate()?;
    R::before_patch(&id, &mut input, &caller)?;
    change::<R>(
        &app,
        &caller,
        id,
        &R::ACCESS.update,
        Change::Update(R::patch_values(input)),
    )
    .await
}

pub(super) async fn delete<R: Hooks>(
    State(app): State<App>,
    caller: Caller,
    id: Result<Path<R::Id>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    scope::<R>(&R::ACCESS.delete, &caller)?;
    R::before_delete(&id, &caller)?;
    change::<R>(&app, &caller, id, &R::ACCESS.delete, Change::Delete).await
}
