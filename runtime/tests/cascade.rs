//! `onDelete` applied by `rest::cascade` on the fixture's tables: a tree of notes (`Note.parentId`, cascade), a
//! user's notes (`Note.ownerId`, restrict), the depth limit and a loop of rows. An integration test of the runtime
//! crate: it uses the fixture's models, which the files every generated crate copies cannot name.
use axum::http::StatusCode;
use rusqlite::Connection;
use ssot_runtime::models::{Note, User};
use ssot_runtime::server::db::Param;
use ssot_runtime::server::error::ApiError;
use ssot_runtime::server::events::{Event, EventKind};
use ssot_runtime::server::rest::cascade::{before_delete_sqlite, Cascade, MAX_DEPTH};

/// The fixture's tables in memory, with one user.
fn database() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    ssot_runtime::server::sqlite::apply(&mut conn, ssot_runtime::server::migrations::SQLITE)
        .unwrap();
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
    let order: Vec<(String, EventKind)> = events.iter().map(|e| (e.id.clone(), e.kind)).collect();
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
