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

use super::write::{outbox_postgres, outbox_sqlite};
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
                    .extend(outbox_postgres(&mut *tx, &record, EventKind::Updated).await?);
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
                        .extend(outbox_postgres(&mut *tx, &record, EventKind::Deleted).await?);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Note, User};
    use rusqlite::Connection;

    /// The fixture's tables in memory, with one user.
    fn database() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::server::sqlite::apply(&mut conn, crate::server::migrations::SQLITE).unwrap();
        conn.execute(
            "INSERT INTO \"users\" (\"id\", \"email\", \"password_hash\") \
             VALUES ('8d0f2c52-2b1e-4d4e-9a53-2f8d2b0a7f10', 'a@example.com', 'x')",
            [],
        )
        .unwrap();
        conn
    }

    /// Adds a note under `parent`; returns its id.
    fn note(conn: &Connection, parent: Option<i64>) -> i64 {
        conn.query_row(
            "INSERT INTO \"notes\" (\"owner_id\", \"title\", \"parent_id\") \
             VALUES ('8d0f2c52-2b1e-4d4e-9a53-2f8d2b0a7f10', 'a note', ?1) RETURNING \"id\"",
            [parent],
            |row| row.get(0),
        )
        .unwrap()
    }

    /// Deletes note `id` as `change` in rest/write.rs does: the references' rules, then the row.
    fn delete(conn: &mut Connection, id: i64) -> Result<Vec<Event>, ApiError> {
        let tx = conn.transaction().unwrap();
        let mut cascade = Cascade::default();
        let key = Param::I32(Some(id as i32));
        let deleted = before_delete_sqlite::<Note>(&tx, &key, &mut cascade).and_then(|()| {
            tx.execute("DELETE FROM \"notes\" WHERE \"id\" = ?1", [id])?;
            Ok(())
        });
        match deleted {
            Ok(()) => {
                tx.commit().unwrap();
                Ok(cascade.events)
            }
            Err(e) => Err(e.into_api(true)),
        }
    }

    fn notes(conn: &Connection) -> Vec<i64> {
        let mut stmt = conn
            .prepare("SELECT \"id\" FROM \"notes\" ORDER BY \"id\"")
            .unwrap();
        let ids = stmt.query_map([], |row| row.get(0)).unwrap();
        ids.collect::<Result<_, _>>().unwrap()
    }

    /// A tree of notes: every descendant is deleted, each with its `deleted` event, children before their parents
    /// and siblings by id; the rest stays.
    #[test]
    fn a_cascade_deletes_the_tree_depth_first_with_an_event_per_row() {
        let mut conn = database();
        let root = note(&conn, None);
        let a = note(&conn, Some(root));
        let b = note(&conn, Some(root));
        let a1 = note(&conn, Some(a));
        let a2 = note(&conn, Some(a));
        let b1 = note(&conn, Some(b));
        let other = note(&conn, None);
        let events = delete(&mut conn, root).unwrap();
        let order: Vec<(String, EventKind)> =
            events.iter().map(|e| (e.id.clone(), e.kind)).collect();
        let expected: Vec<(String, EventKind)> = [a1, a2, a, b1, b]
            .iter()
            .map(|id| (id.to_string(), EventKind::Deleted))
            .collect();
        assert_eq!(order, expected);
        assert!(events.windows(2).all(|w| w[0].seq < w[1].seq), "{events:?}");
        assert!(events
            .iter()
            .all(|e| e.model == "Note" && e.data["title"] == "a note"));
        assert_eq!(notes(&conn), [other]);
    }

    /// `restrict` (a user's notes): refused with 409 naming the relation, before anything changes.
    #[test]
    fn restrict_refuses_and_names_the_relation() {
        let mut conn = database();
        note(&conn, None);
        let tx = conn.transaction().unwrap();
        let mut cascade = Cascade::default();
        let user = Param::Uuid(Some(
            "8d0f2c52-2b1e-4d4e-9a53-2f8d2b0a7f10".parse().unwrap(),
        ));
        let refused = before_delete_sqlite::<User>(&tx, &user, &mut cascade)
            .unwrap_err()
            .into_api(true);
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert!(
            refused
                .message
                .contains("`notes` (Note.ownerId has onDelete: restrict)"),
            "{}",
            refused.message
        );
        assert!(cascade.events.is_empty());
    }

    /// A chain deeper than `MAX_DEPTH` is refused rather than run out of stack, and changes nothing; one level
    /// less goes through.
    #[test]
    fn a_cascade_deeper_than_the_limit_is_refused() {
        let mut conn = database();
        let root = note(&conn, None);
        let mut last = root;
        for _ in 0..MAX_DEPTH {
            last = note(&conn, Some(last));
        }
        note(&conn, Some(last));
        let refused = delete(&mut conn, root).unwrap_err();
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert!(
            refused.message.contains("more than 100 rows deep"),
            "{}",
            refused.message
        );
        assert_eq!(notes(&conn).len(), MAX_DEPTH + 2, "rolled back");
        let second = notes(&conn)[1];
        assert_eq!(delete(&mut conn, second).unwrap().len(), MAX_DEPTH);
    }

    /// Two notes that are each other's parent: the walk ends where it began (no endless loop), and the database's
    /// own check refuses a delete that cannot order them (409), changing nothing.
    #[test]
    fn a_loop_of_rows_ends_and_is_refused_by_the_database() {
        let mut conn = database();
        let a = note(&conn, None);
        let b = note(&conn, Some(a));
        conn.execute(
            "UPDATE \"notes\" SET \"parent_id\" = ?1 WHERE \"id\" = ?2",
            [b, a],
        )
        .unwrap();
        let refused = delete(&mut conn, a).unwrap_err();
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert_eq!(notes(&conn), [a, b]);
    }
}
