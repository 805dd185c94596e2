//! The REST handlers, written once for every model: a model plugs in through [`Resource`], which the generated
//! `resources` module implements for each one, and through [`Hooks`], which the user's `src/hooks/<model>.rs`
//! implements. Access rules are enforced here, deny by default.
//!
//! - `access`: who may touch which rows (the schema's `access` rules as SQL and as a check of a stored row);
//! - `read`: lists and single rows, each from one snapshot;
//! - `write`: create, replace, patch and delete, each with its event in the same transaction;
//! - `gateway`: what the WebSocket gateway asks of a model (visibility of events, item checks, requests).

mod access;
mod gateway;
mod read;
mod write;

pub use gateway::{check_item, request, visibility};
pub use read::{fetch_list, fetch_one, ListParams, ListQuery, ListResponse};

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
    pub public: bool,
    pub authenticated: bool,
    pub owner: bool,
    pub self_: bool,
    pub roles: &'static [&'static str],
}

#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub read: Rule,
    pub create: Rule,
    pub update: Rule,
    pub delete: Rule,
}

/// Values the server supplies when a row is created.
pub struct InsertContext<'a> {
    pub now: chrono::DateTime<chrono::Utc>,
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
pub trait Resource: Serialize + Send + Sync + Sized + 'static {
    const NAME: &'static str;
    /// Collection path (`/api/messages`).
    const ROUTE: &'static str;
    const TABLE: &'static str;
    const ID_COLUMN: &'static str;
    const OWNER_COLUMN: Option<&'static str>;
    /// The record's columns, in the order `from_sqlite` and `from_postgres` read them.
    const SELECT: &'static str;
    const ACCESS: Access;

    type Id: DeserializeOwned + std::str::FromStr + ToParam + Display + Send + Sync + 'static;
    type Create: DeserializeOwned + Validate + Send + 'static;
    type Update: DeserializeOwned + Validate + Send + 'static;
    type Patch: DeserializeOwned + Validate + Send + 'static;
    type Filter: DeserializeOwned + Send + 'static;
    type OrderBy: DeserializeOwned + Send + 'static;

    fn id(&self) -> String;
    fn owner(&self) -> Option<String>;
    /// The row's owner field equals the subject.
    fn owned_by(&self, subject: &str) -> bool;
    /// The subject as an owner-column parameter, if it can be one.
    fn owner_param(subject: &str) -> Option<Param>;
    /// The subject as an id parameter, if it can be one.
    fn id_param(subject: &str) -> Option<Param>;
    fn insert_values(
        input: Self::Create,
        ctx: &InsertContext,
    ) -> Result<Vec<(&'static str, Param)>, ApiError>;
    fn update_values(input: Self::Update) -> Vec<(&'static str, Param)>;
    fn patch_values(input: Self::Patch) -> Vec<(&'static str, Param)>;
    /// Conditions of the filter's own fields (combinators are handled by `where_sql`).
    fn field_conditions(filter: &Self::Filter, w: &mut SqlWriter) -> Vec<String>;
    /// The filter's `AND`, `OR` and `NOT` lists.
    fn combinators(filter: &Self::Filter) -> [&[Self::Filter]; 3];
    fn order_key(order: &Self::OrderBy) -> (&'static str, SortOrder);
    fn from_sqlite(row: &rusqlite::Row) -> rusqlite::Result<Self>;
    fn from_postgres(row: &sqlx::postgres::PgRow) -> Result<Self, sqlx::Error>;
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

fn not_found<R: Resource>(id: &impl Display) -> ApiError {
    ApiError::not_found(format!("no {} with id {id}", R::NAME))
}
