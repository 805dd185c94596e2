//! What deleting a row does to the rows that reference it, by each reference's `onDelete` in the schema:
//! `restrict` refuses the delete (409, naming the relation) while a row references it, `cascade` deletes the
//! referencing rows first (each with its own references' rules, depth first), `setNull` clears their reference.
//!
//! The server does this, not the database (whose foreign keys stay `NO ACTION`, a safety net): a cascade inside
//! the database would change rows without events and leave every live list stale. Here every row deleted or
//! changed gets its event, written in the delete's transaction in the order applied, so a subscriber receives a
//! message's replies' `updated`, then the messages' `deleted`, then the room's `deleted`, and can apply each as it
//! comes.
//!
//! A row is visited once per delete, so a loop of references in the schema (a message's replies, two models that
//! reference each other) ends at a row already being deleted. Rows whose required references form a loop cannot
//! go one before the other: such a delete is refused by the database's own check (409). A cascade deeper than
//! [`MAX_DEPTH`] rows is refused (409) rather than run out of stack.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

use axum::http::StatusCode;

use crate::server::db::Param;
use crate::server::error::{ApiError, WriteError};
use crate::server::events::{Event, EventKind};

use super::write::{outbox_sqlite, unnumbered_event};
use super::Resource;

/// How many rows deep a delete may cascade (a reply to a reply to ... a deleted message).
pub const MAX_DEPTH: usize = 100;

/// What deleting a row does to the rows that reference it (`onDelete` on the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// The delete is refused (409) while any row references it.
    Restrict,
    /// The referencing rows are deleted first.
    Cascade,
    /// The referencing rows' reference is set to null.
    SetNull,
}

/// The references other models (or this one) make to a model. Implemented by the generated `resources` module,
/// from the model graph.
pub trait Referenced {
    /// In the order of their relation names, which is the order a delete applies them in.
    const REFERENCED_BY: &'static [Reference];
}

/// One reference to a model, seen from the model whose rows are deleted.
pub struct Reference {
    /// The referenced model (`Room`), whose rows are deleted.
    pub target: &'static str,
    /// The reverse relation's name (`messages`), which a refusal names.
    pub relation: &'static str,
    /// The referencing model (`Message`).
    pub model: &'static str,
    /// The referencing field (`roomId`).
    pub field: &'static str,
    /// That field's quoted column.
    pub column: &'static str,
    /// What deleting a referenced row does.
    pub on_delete: OnDelete,
    sqlite: ApplySqlite,
    postgres: ApplyPostgres,
}

type ApplySqlite =
    fn(&rusqlite::Connection, &Reference, &Param, &mut Cascade) -> Result<(), WriteError>;

type ApplyPostgres =
    for<'a> fn(
        &'a mut sqlx::PgConnection,
        &'a Reference,
        &'a Param,
        &'a mut Cascade,
    ) -> Pin<Box<dyn Future<Output = Result<(), WriteError>> + Send + 'a>>;

impl Reference {
    /// The reference `field` (column `column`) of `T` to `P`, named `relation` on `P`.
    pub const fn new<T: Resource, P: Resource>(
        relation: &'static str,
        field: &'static str,
        column: &'static str,
        on_delete: OnDelete,
    ) -> Reference {
        Reference {
            target: P::NAME,
            relation,
            model: T::NAME,
            field,
            column,
            on_delete,
            sqlite: apply_sqlite::<T>,
            postgres: apply_postgres_boxed::<T>,
        }
    }

    /// The refusal of deleting the row `key` while rows reference it (`restrict`).
    fn restricted(&self, key: &Param) -> WriteError {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "{} {} is still referenced by its `{}` ({}.{} has onDelete: restrict); delete those first, \
                 or change `onDelete` on {}.{} in the schema",
                self.target,
                key.as_key().unwrap_or_default(),
                self.relation,
                self.model,
                self.field,
                self.model,
                self.field
            ),
        )
        .into()
    }
}

/// One delete's walk: the rows it has reached, how deep it is, and the events it wrote.
#[derive(Default)]
pub struct Cascade {
    reached: HashSet<(&'static str, String)>,
    depth: usize,
    /// The events of the rows deleted or changed so far, in the order written (which is seq order).
    pub events: Vec<Event>,
}

impl Cascade {
    /// Marks the row `id` of `model` as being deleted; false if this delete reached it before.
    fn reach(&mut self, model: &'static str, id: &Param) -> bool {
        self.reached
            .insert((model, id.as_key().unwrap_or_default()))
    }

    fn descend(&mut self, model: &str) -> Result<(), WriteError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!(
                    "the delete cascades more than {MAX_DEPTH} rows deep (through {model}); delete the deepest \
                     rows first"
                ),
            )
            .into());
        }
        Ok(())
    }
}

/// Applies every reference's `onDelete` to the row `id` of `P`, which is about to be deleted (SQLite).
pub fn before_delete_sqlite<P: Resource>(
    tx: &rusqlite::Connection,
    id: &Param,
    cascade: &mut Cascade,
) -> Result<(), WriteError> {
    cascade.reach(P::NAME, id);
    for reference in P::REFERENCED_BY {
        (reference.sqlite)(tx, reference, id, cascade)?;
    }
    Ok(())
}

/// Applies every reference's `onDelete` to the row `id` of `P`, which is about to be deleted (PostgreSQL).
pub async fn before_delete_postgres<P: Resource>(
    tx: &mut sqlx::PgConnection,
    id: &Param,
    cascade: &mut Cascade,
) -> Result<(), WriteError> {
    cascade.reach(P::NAME, id);
    for reference in P::REFERENCED_BY {
        (reference.postgres)(&mut *tx, reference, id, cascade).await?;
    }
    Ok(())
}

/// The statements that apply a reference of `T` to one deleted row, whose id is `?1`/`$1`.
struct Statements {
    /// Whether any row references it (`restrict`).
    exists: String,
    /// Clears the reference, returning the changed rows (`setNull`).
    set_null: String,
    /// The referencing rows (`cascade`).
    select: String,
    /// Deletes one referencing row by its id, returning it as it was (`cascade`).
    delete: String,
}

impl Statements {
    fn of<T: Resource>(reference: &Reference, first: &str) -> Statements {
        let (table, column) = (T::TABLE, reference.column);
        Statements {
            exists: format!("SELECT 1 FROM {table} WHERE {column} = {first} LIMIT 1"),
            set_null: format!(
                "UPDATE {table} SET {column} = NULL WHERE {column} = {first} RETURNING {}",
                T::SELECT
            ),
            // By id, so that the same delete writes its events in the same order every time.
            select: format!(
                "SELECT {} FROM {table} WHERE {column} = {first} ORDER BY {}",
                T::SELECT,
                T::ID_COLUMN
            ),
            delete: format!(
                "DELETE FROM {table} WHERE {} = {first} RETURNING {}",
                T::ID_COLUMN,
                T::SELECT
            ),
        }
    }
}

/// The id of a referencing row, as a parameter (its own `id()` printed and read back).
fn id_of<T: Resource>(record: &T) -> Result<Param, WriteError> {
    T::id_param(&record.id()).ok_or_else(|| {
        ApiError::internal(format!(
            "the id {} of a {} does not read back",
            record.id(),
            T::NAME
        ))
        .into()
    })
}

fn apply_sqlite<T: Resource>(
    tx: &rusqlite::Connection,
    reference: &Reference,
    key: &Param,
    cascade: &mut Cascade,
) -> Result<(), WriteError> {
    let sql = Statements::of::<T>(reference, "?1");
    match reference.on_delete {
        OnDelete::Restrict => {
            if tx.prepare_cached(&sql.exists)?.exists([key])? {
                return Err(reference.restricted(key));
            }
        }
        OnDelete::SetNull => {
            let changed: Vec<T> = tx
                .prepare_cached(&sql.set_null)?
                .query_map([key], T::from_sqlite)?
                .collect::<Result<_, _>>()?;
            for record in &changed {
                cascade
                    .events
                    .extend(outbox_sqlite(tx, record, EventKind::Updated)?);
            }
        }
        OnDelete::Cascade => {
            let rows: Vec<T> = tx
                .prepare_cached(&sql.select)?
                .query_map([key], T::from_sqlite)?
                .collect::<Result<_, _>>()?;
            for row in rows {
                let id = id_of(&row)?;
                if !cascade.reach(T::NAME, &id) {
                    continue;
                }
                cascade.descend(T::NAME)?;
                before_delete_sqlite::<T>(tx, &id, cascade)?;
                cascade.depth -= 1;
                use rusqlite::OptionalExtension;
                // Read back as deleted: its own cascade may have cleared one of its references.
                let deleted = tx
                    .prepare_cached(&sql.delete)?
                    .query_row([&id], T::from_sqlite)
                    .optional()?;
                if let Some(deleted) = deleted {
                    cascade
                        .events
                        .extend(outbox_sqlite(tx, &deleted, EventKind::Deleted)?);
                }
            }
        }
    }
    Ok(())
}

fn apply_postgres_boxed<'a, T: Resource>(
    tx: &'a mut sqlx::PgConnection,
    reference: &'a Reference,
    key: &'a Param,
    cascade: &'a mut Cascade,
) -> Pin<Box<dyn Future<Output = Result<(), WriteError>> + Send + 'a>> {
    Box::pin(apply_postgres::<T>(tx, reference, key, cascade))
}

async fn apply_postgres<T: Resource>(
    tx: &mut sqlx::PgConnection,
    reference: &Reference,
    key: &Param,
    cascade: &mut Cascade,
) -> Result<(), WriteError> {
    use crate::server::postgres::query;
    let sql = Statements::of::<T>(reference, "$1");
    let key_param = std::slice::from_ref(key);
    match reference.on_delete {
        OnDelete::Restrict => {
            if query(&sql.exists, key_param)
                .fetch_optional(&mut *tx)
                .await?
                .is_some()
            {
                return Err(reference.restricted(key));
            }
        }
        OnDelete::SetNull => {
            let rows = query(&sql.set_null, key_param).fetch_all(&mut *tx).await?;
            for row in &rows {
                let record = T::from_postgres(row)?;
                cascade
                    .events
                    .extend(unnumbered_event(&record, EventKind::Updated)?);
            }
        }
        OnDelete::Cascade => {
            let rows = query(&sql.select, key_param).fetch_all(&mut *tx).await?;
            for row in &rows {
                let id = id_of(&T::from_postgres(row)?)?;
                if !cascade.reach(T::NAME, &id) {
                    continue;
                }
                cascade.descend(T::NAME)?;
                before_delete_postgres::<T>(&mut *tx, &id, cascade).await?;
                cascade.depth -= 1;
                // Read back as deleted: its own cascade may have cleared one of its references.
                let deleted = query(&sql.delete, std::slice::from_ref(&id))
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(deleted) = deleted {
                    let record = T::from_postgres(&deleted)?;
                    cascade
                        .events
                        .extend(unnumbered_event(&record, EventKind::Deleted)?);
                }
            }
        }
    }
    Ok(())
}
