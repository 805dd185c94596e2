//! Minimal hand-written axum handlers over the generated chat server's database (the same file or PostgreSQL
//! database, whose schema the generated server's migrations created), doing the same queries:
//!
//! - `GET /api/messages/{id}`: one row by id.
//! - `GET /api/messages?where={"roomId":{"equals":N}}&orderBy=...`: `COUNT(*)` of the room's rows, then
//!   `WHERE room_id = ? ORDER BY created_at DESC, id LIMIT 20`. `orderBy` is accepted and ignored: the order is
//!   fixed.
//! - `POST /api/messages`: insert and one `_ssot_events` outbox row in one transaction (on PostgreSQL under the
//!   same advisory lock as the generated server), answered `201` with `Location` and `Event-Seq`.
//! - `GET /api/messages?...&include=author,room`: the same page, then each message's author and room read the
//!   naive way, two queries per row (41 for a page of 20), for the include benchmark.
//! - `GET /api/rooms/{id}`: one room by id (the generated server's public route).
//! - `POST /api/messages/plain`: the naive write, for the group commit's benchmark (`benches/writes`): one plain
//!   insert of the message in its own implicit transaction, no event, on the async thread (SQLite: under the
//!   writer connection's lock; PostgreSQL: on the pool). What a hand-written server without delivery guarantees
//!   does, as fast as that can go.
//!
//! No authentication on `/api/...`: the author of a created message is `AUTHOR_ID`. The same routes under
//! `/jwt/api/...` first verify `Authorization: Bearer <JWT>` (HS256, `JWT_SECRET`) like the generated server,
//! and take the author from the token.
//!
//! SQLite: rusqlite used directly, one read-only connection per worker thread (thread-local, used on the async
//! thread) and one writer connection used through `spawn_blocking`. PostgreSQL: a sqlx pool.
//!
//! Environment: `DATABASE_URL` (`sqlite://<path>` or `postgres://...`), `BIND_ADDR` (default `127.0.0.1:0`),
//! `JWT_SECRET`, `AUTHOR_ID`, `PG_MAX_CONNECTIONS` (default 16, as the generated server). Prints
//! `listening on http://<addr>` on stdout. `baseline reset <room id>` deletes the messages of a room and their
//! outbox rows (to undo a create run), then checkpoints the WAL (SQLite) or vacuums (PostgreSQL).
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

// ---- the records, serialised exactly as the generated server does --------------------------------------------

#[derive(Debug, Clone, Serialize)]
struct Message {
    id: Uuid,
    #[serde(rename = "roomId")]
    room_id: i32,
    #[serde(rename = "authorId")]
    author_id: Uuid,
    #[serde(rename = "replyToId")]
    reply_to_id: Option<Uuid>,
    text: String,
    #[serde(rename = "editedAt")]
    edited_at: Option<DateTime<Utc>>,
    #[serde(rename = "createdAt")]
    created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
struct Room {
    id: i32,
    title: String,
    #[serde(rename = "ownerId")]
    owner_id: Uuid,
}

#[derive(Debug, Clone, Serialize)]
struct User {
    id: Uuid,
    email: String,
    name: String,
    #[serde(rename = "createdAt")]
    created_at: DateTime<Utc>,
}

/// A message with its author and room (`include=author,room`), read the naive way: one query per row and relation.
#[derive(Serialize)]
struct MessageWithRelations {
    #[serde(flatten)]
    message: Message,
    author: Option<User>,
    room: Option<Room>,
}

#[derive(Serialize)]
struct ListResponse<T> {
    items: Vec<T>,
    total: i64,
    skip: i64,
    take: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageCreate {
    #[serde(rename = "roomId")]
    room_id: i32,
    text: String,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(rename = "where")]
    filter: String,
    #[serde(rename = "orderBy")]
    #[allow(dead_code)]
    order_by: Option<String>,
    /// Only `author,room` (or none).
    include: Option<String>,
}

#[derive(Deserialize)]
struct RoomFilter {
    #[serde(rename = "roomId")]
    room_id: Equals,
}

#[derive(Deserialize)]
struct Equals {
    equals: i32,
}

const TAKE: i64 = 20;


// ---- errors ---------------------------------------------------------------------------------------------------

struct Error(StatusCode, &'static str);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": { "code": self.1, "message": self.1 } });
        (self.0, Json(body)).into_response()
    }
}

fn internal(e: impl std::fmt::Display) -> Error {
    eprintln!("internal error: {e}");
    Error(StatusCode::INTERNAL_SERVER_ERROR, "internal")
}

fn bad_request<E>(_: E) -> Error {
    Error(StatusCode::BAD_REQUEST, "bad_request")
}

const NOT_FOUND: Error = Error(StatusCode::NOT_FOUND, "not_found");

// ---- state and authentication --------------------------------------------------------------------------------

#[derive(Clone)]
struct App {
    db: Db,
    /// Verify the JWT (the `/jwt` routes) or not (`/api`).
    check_jwt: bool,
    author: Uuid,
    key: Arc<jsonwebtoken::DecodingKey>,
}

#[derive(Clone)]
enum Db {
    Sqlite(Arc<Mutex<Connection>>),
    Postgres(sqlx::PgPool),
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    exp: u64,
}

/// The author of a write: `AUTHOR_ID`, or the token's subject on the `/jwt` routes.
struct Caller(Uuid);

impl FromRequestParts<App> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller, Error> {
        if !app.check_jwt {
            return Ok(Caller(app.author));
        }
        let unauthorized = Error(StatusCode::UNAUTHORIZED, "unauthorized");
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(Error(StatusCode::UNAUTHORIZED, "unauthorized"))?;
        let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        let claims = jsonwebtoken::decode::<Claims>(token, &app.key, &validation)
            .map_err(|_| Error(StatusCode::UNAUTHORIZED, "unauthorized"))?
            .claims;
        claims.sub.parse().map(Caller).map_err(|_| unauthorized)
    }
}

// ---- SQLite ---------------------------------------------------------------------------------------------------

static SQLITE_PATH: OnceLock<PathBuf> = OnceLock::new();

thread_local! {
    static READER: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// Runs a read on this thread's own read-only connection.
fn sqlite_read<T>(f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    READER.with(|reader| {
        let mut reader = reader.borrow_mut();
        if reader.is_none() {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(SQLITE_PATH.get().expect("SQLite path"), flags)?;
            configure(&conn)?;
            *reader = Some(conn);
        }
        f(reader.as_ref().expect("reader"))
    })
}

fn parse_text<T>(index: usize, text: String, parse: impl FnOnce(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, format!("bad value {text:?}").into())
    })
}

fn sqlite_uuid(row: &rusqlite::Row, index: usize) -> rusqlite::Result<Uuid> {
    parse_text(index, row.get(index)?, |s| s.parse().ok())
}

fn sqlite_time(row: &rusqlite::Row, index: usize) -> rusqlite::Result<DateTime<Utc>> {
    parse_text(index, row.get(index)?, |s| DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc()))
}

fn message_from_sqlite(row: &rusqlite::Row) -> rusqlite::Result<Message> {
    let reply_to_id: Option<String> = row.get(3)?;
    let edited_at: Option<String> = row.get(5)?;
    Ok(Message {
        id: sqlite_uuid(row, 0)?,
        room_id: row.get(1)?,
        author_id: sqlite_uuid(row, 2)?,
        reply_to_id: match reply_to_id {
            None => None,
            Some(text) => Some(parse_text(3, text, |s| s.parse().ok())?),
        },
        text: row.get(4)?,
        edited_at: match edited_at {
            None => None,
            Some(text) => Some(parse_text(5, text, |s| DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc()))?),
        },
        created_at: sqlite_time(row, 6)?,
    })
}

/// Time as the generated server stores it in SQLite: fixed-width UTC with microseconds.
fn sqlite_time_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

// ---- PostgreSQL -----------------------------------------------------------------------------------------------

fn message_from_pg(row: &sqlx::postgres::PgRow) -> Result<Message, sqlx::Error> {
    use sqlx::Row;
    Ok(Message {
        id: row.try_get(0)?,
        room_id: row.try_get(1)?,
        author_id: row.try_get(2)?,
        reply_to_id: row.try_get(3)?,
        text: row.try_get(4)?,
        edited_at: row.try_get(5)?,
        created_at: row.try_get(6)?,
    })
}

// ---- handlers -------------------------------------------------------------------------------------------------

async fn get_message(State(app): State<App>, _caller: Caller, Path(id): Path<Uuid>) -> Result<Json<Message>, Error> {
    let message = match &app.db {
        Db::Sqlite(_) => sqlite_read(|conn| {
            conn.prepare_cached("SELECT id, room_id, author_id, reply_to_id, text, edited_at, created_at FROM messages WHERE id = ?1")?
                .query_row([id.to_string()], message_from_sqlite)
                .optional()
        })
        .map_err(internal)?,
        Db::Postgres(pool) => {
            sqlx::query("SELECT id, room_id, author_id, reply_to_id, text, edited_at, created_at FROM messages WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(internal)?
                .as_ref()
                .map(message_from_pg)
                .transpose()
                .map_err(internal)?
        }
    };
    message.map(Json).ok_or(NOT_FOUND)
}

async fn list_messages(State(app): State<App>, caller: Caller, Query(query): Query<ListQuery>) -> Result<Response, Error> {
    match query.include.as_deref() {
        None => Ok(Json(list_plain(&app, caller, &query).await?).into_response()),
        Some("author,room") => {
            let page = list_plain(&app, caller, &query).await?;
            let mut items = Vec::with_capacity(page.items.len());
            for message in page.items {
                let (author, room) = naive_relations(&app, &message).await?;
                items.push(MessageWithRelations { message, author, room });
            }
            Ok(Json(ListResponse { items, total: page.total, skip: page.skip, take: page.take }).into_response())
        }
        Some(_) => Err(bad_request(())),
    }
}

/// The author and the room of one message: two queries, what a handler written row by row does.
async fn naive_relations(app: &App, message: &Message) -> Result<(Option<User>, Option<Room>), Error> {
    match &app.db {
        Db::Sqlite(_) => sqlite_read(|conn| {
            let author = conn
                .prepare_cached("SELECT id, email, name, created_at FROM users WHERE id = ?1")?
                .query_row([message.author_id.to_string()], |row| {
                    Ok(User { id: sqlite_uuid(row, 0)?, email: row.get(1)?, name: row.get(2)?, created_at: sqlite_time(row, 3)? })
                })
                .optional()?;
            let room = conn
                .prepare_cached("SELECT id, title, owner_id FROM rooms WHERE id = ?1")?
                .query_row([message.room_id], |row| {
                    Ok(Room { id: row.get(0)?, title: row.get(1)?, owner_id: sqlite_uuid(row, 2)? })
                })
                .optional()?;
            Ok((author, room))
        })
        .map_err(internal),
        Db::Postgres(pool) => {
            use sqlx::Row;
            let author = sqlx::query("SELECT id, email, name, created_at FROM users WHERE id = $1")
                .bind(message.author_id)
                .fetch_optional(pool)
                .await
                .map_err(internal)?
                .map(|row| -> Result<User, sqlx::Error> {
                    Ok(User {
                        id: row.try_get(0)?,
                        email: row.try_get(1)?,
                        name: row.try_get(2)?,
                        created_at: row.try_get(3)?,
                    })
                })
                .transpose()
                .map_err(internal)?;
            let room = sqlx::query("SELECT id, title, owner_id FROM rooms WHERE id = $1")
                .bind(message.room_id)
                .fetch_optional(pool)
                .await
                .map_err(internal)?
                .map(|row| -> Result<Room, sqlx::Error> {
                    Ok(Room { id: row.try_get(0)?, title: row.try_get(1)?, owner_id: row.try_get(2)? })
                })
                .transpose()
                .map_err(internal)?;
            Ok((author, room))
        }
    }
}

async fn list_plain(app: &App, _caller: Caller, query: &ListQuery) -> Result<ListResponse<Message>, Error> {
    let filter: RoomFilter = serde_json::from_str(&query.filter).map_err(bad_request)?;
    let room = filter.room_id.equals;
    let (total, items) = match &app.db {
        Db::Sqlite(_) => sqlite_read(|conn| {
            let total: i64 =
                conn.prepare_cached("SELECT COUNT(*) FROM messages WHERE room_id = ?1")?.query_row([room], |r| r.get(0))?;
            let items = conn
                .prepare_cached(
                    "SELECT id, room_id, author_id, reply_to_id, text, edited_at, created_at FROM messages WHERE room_id = ?1 \
                     ORDER BY created_at DESC, id LIMIT 20",
                )?
                .query_map([room], message_from_sqlite)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((total, items))
        })
        .map_err(internal)?,
        Db::Postgres(pool) => {
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE room_id = $1")
                .bind(room)
                .fetch_one(pool)
                .await
                .map_err(internal)?;
            let rows = sqlx::query(
                "SELECT id, room_id, author_id, reply_to_id, text, edited_at, created_at FROM messages WHERE room_id = $1 \
                 ORDER BY created_at DESC, id LIMIT 20",
            )
            .bind(room)
            .fetch_all(pool)
            .await
            .map_err(internal)?;
            let items = rows.iter().map(message_from_pg).collect::<Result<Vec<_>, _>>().map_err(internal)?;
            (total, items)
        }
    };
    Ok(ListResponse { items, total, skip: 0, take: TAKE })
}

async fn get_room(State(app): State<App>, Path(id): Path<i32>) -> Result<Json<Room>, Error> {
    let room = match &app.db {
        Db::Sqlite(_) => sqlite_read(|conn| {
            conn.prepare_cached("SELECT id, title, owner_id FROM rooms WHERE id = ?1")?
                .query_row([id], |row| Ok(Room { id: row.get(0)?, title: row.get(1)?, owner_id: sqlite_uuid(row, 2)? }))
                .optional()
        })
        .map_err(internal)?,
        Db::Postgres(pool) => {
            use sqlx::Row;
            let row = sqlx::query("SELECT id, title, owner_id FROM rooms WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(internal)?;
            row.map(|row| -> Result<Room, sqlx::Error> {
                Ok(Room { id: row.try_get(0)?, title: row.try_get(1)?, owner_id: row.try_get(2)? })
            })
            .transpose()
            .map_err(internal)?
        }
    };
    room.map(Json).ok_or(NOT_FOUND)
}

const EVENT_SQLITE: &str = "INSERT INTO _ssot_events (model, record_id, kind, data, owner) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING seq";
const EVENT_POSTGRES: &str =
    "INSERT INTO _ssot_events (model, record_id, kind, data, owner) VALUES ($1, $2, $3, $4, $5) RETURNING seq";

async fn create_message(
    State(app): State<App>,
    Caller(author): Caller,
    Json(input): Json<MessageCreate>,
) -> Result<Response, Error> {
    let chars = input.text.chars().count();
    if !(1..=2000).contains(&chars) {
        return Err(Error(StatusCode::BAD_REQUEST, "validation_failed"));
    }
    let id = Uuid::new_v4();
    let now = Utc::now();
    let (message, seq) = match &app.db {
        Db::Sqlite(writer) => {
            let writer = writer.clone();
            tokio::task::spawn_blocking(move || -> rusqlite::Result<(Message, i64)> {
                let mut conn = writer.lock().unwrap_or_else(|e| e.into_inner());
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let message = tx
                    .prepare_cached(
                        "INSERT INTO messages (id, room_id, author_id, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                         RETURNING id, room_id, author_id, reply_to_id, text, edited_at, created_at",
                    )?
                    .query_row(
                        rusqlite::params![id.to_string(), input.room_id, author.to_string(), input.text, sqlite_time_text(&now)],
                        message_from_sqlite,
                    )?;
                let data = serde_json::to_string(&message).expect("a message serialises");
                let seq: i64 = tx.prepare_cached(EVENT_SQLITE)?.query_row(
                    rusqlite::params!["Message", message.id.to_string(), "created", data, message.author_id.to_string()],
                    |row| row.get(0),
                )?;
                tx.commit()?;
                Ok((message, seq))
            })
            .await
            .expect("the write panicked")
            .map_err(internal)?
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await.map_err(internal)?;
            let row = sqlx::query(
                "INSERT INTO messages (id, room_id, author_id, text, created_at) VALUES ($1, $2, $3, $4, $5) \
                 RETURNING id, room_id, author_id, reply_to_id, text, edited_at, created_at",
            )
            .bind(id)
            .bind(input.room_id)
            .bind(author)
            .bind(&input.text)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
            let message = message_from_pg(&row).map_err(internal)?;
            let data = serde_json::to_value(&message).expect("a message serialises");
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(0x55_07_6E_02_i64)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            let seq: i64 = sqlx::query_scalar(EVENT_POSTGRES)
                .bind("Message")
                .bind(message.id.to_string())
                .bind("created")
                .bind(&data)
                .bind(message.author_id.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(internal)?;
            tx.commit().await.map_err(internal)?;
            (message, seq)
        }
    };
    let location = format!("/api/messages/{}", message.id);
    let mut response = (StatusCode::CREATED, Json(message)).into_response();
    let headers = response.headers_mut();
    headers.insert(HeaderName::from_static("event-seq"), HeaderValue::from(seq));
    headers.insert(header::LOCATION, HeaderValue::from_str(&location).map_err(internal)?);
    Ok(response)
}

/// `POST /api/messages/plain` (see the module doc).
async fn create_plain(
    State(app): State<App>,
    Caller(author): Caller,
    Json(input): Json<MessageCreate>,
) -> Result<Response, Error> {
    let chars = input.text.chars().count();
    if !(1..=2000).contains(&chars) {
        return Err(Error(StatusCode::BAD_REQUEST, "validation_failed"));
    }
    let id = Uuid::new_v4();
    let now = Utc::now();
    let message = match &app.db {
        Db::Sqlite(writer) => {
            let conn = writer.lock().unwrap_or_else(|e| e.into_inner());
            conn.prepare_cached(
                "INSERT INTO messages (id, room_id, author_id, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 RETURNING id, room_id, author_id, reply_to_id, text, edited_at, created_at",
            )
            .and_then(|mut insert| {
                insert.query_row(
                    rusqlite::params![id.to_string(), input.room_id, author.to_string(), input.text, sqlite_time_text(&now)],
                    message_from_sqlite,
                )
            })
            .map_err(internal)?
        }
        Db::Postgres(pool) => {
            let row = sqlx::query(
                "INSERT INTO messages (id, room_id, author_id, text, created_at) VALUES ($1, $2, $3, $4, $5) \
                 RETURNING id, room_id, author_id, reply_to_id, text, edited_at, created_at",
            )
            .bind(id)
            .bind(input.room_id)
            .bind(author)
            .bind(&input.text)
            .bind(now)
            .fetch_one(pool)
            .await
            .map_err(internal)?;
            message_from_pg(&row).map_err(internal)?
        }
    };
    let location = format!("/api/messages/{}", message.id);
    let mut response = (StatusCode::CREATED, Json(message)).into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).map_err(internal)?);
    Ok(response)
}

fn routes(app: App) -> Router {
    Router::new()
        .route("/api/messages", get(list_messages).post(create_message))
        .route("/api/messages/plain", axum::routing::post(create_plain))
        .route("/api/messages/{id}", get(get_message))
        .route("/api/rooms/{id}", get(get_room))
        .with_state(app)
}

// ---- main -----------------------------------------------------------------------------------------------------

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

async fn open(url: &str) -> Result<Db, String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        SQLITE_PATH.set(PathBuf::from(path)).map_err(|_| "opened twice")?;
        let conn = Connection::open(path).map_err(|e| format!("opening {path}: {e}"))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| e.to_string())?;
        configure(&conn).map_err(|e| e.to_string())?;
        Ok(Db::Sqlite(Arc::new(Mutex::new(conn))))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let max: u32 = env("PG_MAX_CONNECTIONS").map_or(Ok(16), |v| v.parse()).map_err(|e| format!("PG_MAX_CONNECTIONS: {e}"))?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(max)
            .connect(url)
            .await
            .map_err(|e| format!("connecting to PostgreSQL: {e}"))?;
        Ok(Db::Postgres(pool))
    } else {
        Err(format!("DATABASE_URL must start with sqlite:// or postgres://, not {url:?}"))
    }
}

/// `baseline reset <room>`: deletes the room's messages and their outbox rows (undoes a create run).
async fn reset(db: &Db, room: i32) -> Result<(), String> {
    let deleted = match db {
        Db::Sqlite(conn) => {
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            conn.execute(
                "DELETE FROM _ssot_events WHERE model = 'Message' AND record_id IN (SELECT id FROM messages WHERE room_id = ?1)",
                [room],
            )
            .map_err(|e| e.to_string())?;
            let deleted = conn.execute("DELETE FROM messages WHERE room_id = ?1", [room]).map_err(|e| e.to_string())?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(|e| e.to_string())?;
            deleted as u64
        }
        Db::Postgres(pool) => {
            // Statistics first: the last reset's `VACUUM ANALYZE` saw empty tables, and with those PostgreSQL
            // joins the tens of thousands of rows a run at 64 writers leaves by a nested loop (minutes, not
            // milliseconds).
            sqlx::raw_sql("ANALYZE messages, _ssot_events").execute(pool).await.map_err(|e| e.to_string())?;
            sqlx::query(
                "DELETE FROM _ssot_events AS e USING messages AS m \
                 WHERE e.model = 'Message' AND e.record_id = m.id::text AND m.room_id = $1",
            )
            .bind(room)
            .execute(pool)
            .await
            .map_err(|e| e.to_string())?;
            let deleted = sqlx::query("DELETE FROM messages WHERE room_id = $1")
                .bind(room)
                .execute(pool)
                .await
                .map_err(|e| e.to_string())?
                .rows_affected();
            sqlx::raw_sql("VACUUM ANALYZE messages, _ssot_events").execute(pool).await.map_err(|e| e.to_string())?;
            deleted
        }
    };
    println!("reset: deleted {deleted} messages of room {room} and their events");
    Ok(())
}

async fn run() -> Result<(), String> {
    let url = env("DATABASE_URL").ok_or("DATABASE_URL is not set")?;
    let db = open(&url).await?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, room] = args.as_slice() {
        if command == "reset" {
            return reset(&db, room.parse().map_err(|e| format!("room: {e}"))?).await;
        }
    }
    if !args.is_empty() {
        return Err("usage: baseline [reset <room id>]".into());
    }
    let secret = env("JWT_SECRET").ok_or("JWT_SECRET is not set")?;
    let author = env("AUTHOR_ID").ok_or("AUTHOR_ID is not set")?.parse().map_err(|e| format!("AUTHOR_ID: {e}"))?;
    let key = Arc::new(jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()));
    let open_app = App { db: db.clone(), check_jwt: false, author, key: key.clone() };
    let jwt_app = App { db, check_jwt: true, author, key };
    let router = routes(open_app).nest("/jwt", routes(jwt_app));
    let bind = env("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| format!("binding {bind}: {e}"))?;
    println!("listening on http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
        })
        .await
        .map_err(|e| e.to_string())
}

fn main() -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
