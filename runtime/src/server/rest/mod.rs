//! The REST handlers, written once for every model: a model plugs in through [`Resource`], which the generated
//! `resources` module implements for each one, and through [`Hooks`], which the user's `src/hooks/<model>.rs`
//! implements. Access rules are enforced here, deny by default.
//!
//! - `access`: who may touch which rows (the schema's `access` rules as SQL and as a check of a stored row);
//! - `read`: lists and single rows, each from one snapshot;
//! - `write`: create, replace, patch and delete, each with its event in the same transaction;
//! - `cascade`: what a delete does to the rows that reference it (`onDelete`), each with its event;
//! - `include`: related rows in a read (`include`), one query per relation and level;
//! - `filter`: a list's `where` as SQL, relation filters (`EXISTS` subqueries under the read rules) included;
//! - `gateway`: what the WebSocket gateway asks of a model (visibility of events, item checks, requests).

mod access;
pub mod cascade;
mod filter;
mod gateway;
mod include;
mod read;
mod write;

pub use cascade::{OnDelete, Reference, Referenced};
pub use filter::FilterSql;
pub use gateway::{check_item, request, visibility};
pub use include::{Include, Included, Related, Relation, Relations, Target, MAX_DEPTH};
pub use read::{fetch_list, fetch_list_including, fetch_one, ListParams, ListQuery, ListResponse};

use read::{get_one, list};
use write::{create, delete, replace, update};

use std::fmt::Display;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::query::SortOrder;
use crate::server::auth::Caller;
use crate::server::db::{Param, SqlWriter, ToParam};
use crate::server::error::ApiError;
use crate::server::events::Event;
use crate::server::App;
use crate::validation::Validate;

/// Who may perform an operation (see the schema's `access`).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Anyone, even without a token.
    pub public: bool,
    /// Any caller with a valid token.
    pub authenticated: bool,
    /// The caller whose subject is the row's owner field.
    pub owner: bool,
    /// The caller whose subject is the row's id (a user model's own row).
    pub self_: bool,
    /// Callers with one of these roles in their token.
    pub roles: &'static [&'static str],
}

/// A model's rules, one per operation.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    /// Lists, gets, and events on its channels.
    pub read: Rule,
    /// `POST`.
    pub create: Rule,
    /// `PUT` and `PATCH`.
    pub update: Rule,
    /// `DELETE`.
    pub delete: Rule,
}

/// Values the server supplies when a row is created.
pub struct InsertContext<'a> {
    /// The request's time, for `default: now` fields (one value for every field of the row).
    pub now: chrono::DateTime<chrono::Utc>,
    /// Who creates the row, for the owner field.
    pub caller: &'a Caller,
}

impl InsertContext<'_> {
    /// The caller's subject as the owner field's type.
    pub fn owner<T: std::str::FromStr>(&self) -> Result<T, ApiError> {
        let subject = self
            .caller
            .subject()
            .ok_or_else(|| ApiError::unauthorized("sign in to create this"))?;
        subject.parse().map_err(|_| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the token's subject is not a valid owner id for this model",
            )
        })
    }
}

/// A model served over REST. Implemented by the generated `resources` module.
pub trait Resource: Related + Referenced + Serialize + Send + Sync + Sized + 'static {
    /// The model's name in the schema, and the name of its channels (`Message`).
    const NAME: &'static str;
    /// Collection path (`/api/messages`).
    const ROUTE: &'static str;
    /// The quoted table name.
    const TABLE: &'static str;
    /// The quoted id column.
    const ID_COLUMN: &'static str;
    /// The quoted owner column, if the model has an owner field.
    const OWNER_COLUMN: Option<&'static str>;
    /// The record's columns, in the order `from_sqlite` and `from_postgres` read them.
    const SELECT: &'static str;
    /// How many columns `SELECT` lists.
    const COLUMNS: usize;
    /// Who may read, create, update and delete.
    const ACCESS: Access;

    /// The id field's type, read from the path (`/api/messages/{id}`).
    type Id: DeserializeOwned + std::str::FromStr + ToParam + Display + Send + Sync + 'static;
    /// The `POST` body.
    type Create: DeserializeOwned + Validate + Send + 'static;
    /// The `PUT` body.
    type Update: DeserializeOwned + Validate + Send + 'static;
    /// The `PATCH` body.
    type Patch: DeserializeOwned + Validate + Send + 'static;
    /// The `where` of a list.
    type Filter: DeserializeOwned + Send + 'static;
    /// One entry of a list's `orderBy`.
    type OrderBy: DeserializeOwned + Send + 'static;

    /// The record's id as it prints (the suffix of its item channel).
    fn id(&self) -> String;
    /// The record's owner as it prints, if the model has an owner field.
    fn owner(&self) -> Option<String>;
    /// The row's owner field equals the subject.
    fn owned_by(&self, subject: &str) -> bool;
    /// The subject as an owner-column parameter, if it can be one.
    fn owner_param(subject: &str) -> Option<Param>;
    /// The subject as an id parameter, if it can be one.
    fn id_param(subject: &str) -> Option<Param>;
    /// The columns and values of an `INSERT`: the input's, and the server's (`now`, owner, new uuids).
    fn insert_values(
        input: Self::Create,
        ctx: &InsertContext,
    ) -> Result<Vec<(&'static str, Param)>, ApiError>;
    /// The columns and values a `PUT` sets: every writable field.
    fn update_values(input: Self::Update) -> Vec<(&'static str, Param)>;
    /// The columns and values a `PATCH` sets: only the fields present.
    fn patch_values(input: Self::Patch) -> Vec<(&'static str, Param)>;
    /// Conditions of the filter's own fields (combinators and relations are handled by [`FilterSql`]).
    fn field_conditions(filter: &Self::Filter, w: &mut SqlWriter) -> Vec<String>;
    /// The filter's `AND`, `OR` and `NOT` lists.
    fn combinators(filter: &Self::Filter) -> [&[Self::Filter]; 3];
    /// The quoted column and direction of a sort key.
    fn order_key(order: &Self::OrderBy) -> (&'static str, SortOrder);
    /// The record from a SQLite row whose columns from `at` on are those of `SELECT` (a page's row with its
    /// to-one includes joined holds several records side by side).
    fn from_sqlite_at(row: &rusqlite::Row, at: usize) -> rusqlite::Result<Self>;
    /// The record from a SQLite row of `SELECT`.
    fn from_sqlite(row: &rusqlite::Row) -> rusqlite::Result<Self> {
        Self::from_sqlite_at(row, 0)
    }
    /// The record from a PostgreSQL row whose columns from `at` on are those of `SELECT`.
    fn from_postgres_at(row: &sqlx::postgres::PgRow, at: usize) -> Result<Self, sqlx::Error>;
    /// The record from a PostgreSQL row of `SELECT`.
    fn from_postgres(row: &sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        Self::from_postgres_at(row, 0)
    }
}

/// A model's hooks: the user's custom logic around writes, in `src/hooks/<model>.rs` (written once by ssot-gen,
/// then owned by the user). Every method has a default that does nothing, so a hook file overrides only what it
/// needs.
///
/// Each `before_*` hook runs once the input has passed the schema's checks and the caller may perform the
/// operation at all (an update or delete is still checked against the stored row afterwards, inside the
/// transaction); it may change the input, and an `Err` refuses the request with that error.
pub trait Hooks: Resource {
    /// Before a row is created.
    fn before_create(input: &mut Self::Create, caller: &Caller) -> Result<(), ApiError> {
        let _ = (input, caller);
        Ok(())
    }

    /// Before a row is replaced (`PUT`).
    fn before_update(
        id: &Self::Id,
        input: &mut Self::Update,
        caller: &Caller,
    ) -> Result<(), ApiError> {
        let _ = (id, input, caller);
        Ok(())
    }

    /// Before a row is changed (`PATCH`).
    fn before_patch(
        id: &Self::Id,
        input: &mut Self::Patch,
        caller: &Caller,
    ) -> Result<(), ApiError> {
        let _ = (id, input, caller);
        Ok(())
    }

    /// Before a row is deleted.
    fn before_delete(id: &Self::Id, caller: &Caller) -> Result<(), ApiError> {
        let _ = (id, caller);
        Ok(())
    }

    /// After a change is committed and its event published (send mail, call a webhook, ...). It cannot undo the
    /// change, and it runs on the request's task: hand slow work to a task of its own.
    fn after_commit(event: &Event) {
        let _ = event;
    }
}

/// The REST routes of one model.
pub fn routes<R: Hooks>() -> Router<App> {
    Router::new()
        .route(R::ROUTE, get(list::<R>).post(create::<R>))
        .route(
            &format!("{}/{{id}}", R::ROUTE),
            get(get_one::<R>)
                .put(replace::<R>)
                .patch(update::<R>)
                .delete(delete::<R>),
        )
}

fn path_id<I>(id: Result<Path<I>, PathRejection>) -> Result<I, ApiError> {
    id.map(|Path(id)| id)
        .map_err(|e| ApiError::bad_request(format!("malformed id: {}", e.body_text())))
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|e| {
        // A body over axum's limit (2 MiB) is no malformed request: 413 says that resending it will not help.
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.body_text())
        } else {
            ApiError::bad_request(e.body_text())
        }
    })
}

/// The largest request body: axum's default limit, which the `Json` extractor applies.
const BODY_LIMIT: u64 = 2 << 20;

/// The most of an oversized body that is read (and discarded) before the 413, and how long that may take.
const DRAIN_LIMIT: u64 = 64 << 20;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Answers a request whose `Content-Length` is over `BODY_LIMIT` with 413 `too_large`, after reading its body.
/// A server that answers and closes while the body is still arriving resets the connection (unread data at close
/// sends RST), and a client that is still sending sees a broken pipe, never the answer. Reading the rest first
/// (up to `DRAIN_LIMIT` bytes within `DRAIN_TIME`; beyond that the connection is simply closed) lets it
/// read the 413. A body without a length that runs over the limit is still refused by the extractor (`body`).
pub async fn refuse_oversized(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use futures_util::StreamExt;
    let length = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(length) = length.filter(|&n| n > BODY_LIMIT) else {
        return next.run(request).await;
    };
    if length <= DRAIN_LIMIT {
        let mut body = request.into_body().into_data_stream();
        let drained = async { while let Some(Ok(_)) = body.next().await {} };
        // Too slow a sender is cut off all the same: the answer below is then its last chance.
        let _ = tokio::time::timeout(DRAIN_TIME, drained).await;
    }
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the body is {length} bytes, over the limit of {BODY_LIMIT}"),
    )
    .into_response()
}

fn not_found<R: Resource>(id: &impl Display) -> ApiError {
    ApiError::not_found(format!("no {} with id {id}", R::NAME))
}
