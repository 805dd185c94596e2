//! SQLite through rusqlite, used directly: one read connection per thread, kept in a thread-local and used on
//! the async worker thread for bounded reads (a handoff to another thread costs more than the query), and one
//! writer connection, used on the async worker thread for the requests' writes (one row and its event each,
//! committed in groups: `group_commit`) and off it for unbounded ones (pruning the outbox). WAL lets reads go on while a write commits; the WAL is
//! checkpointed by a thread of its own, so that no request's write waits for a checkpoint.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, ToSql, TransactionBehavior};

use super::db::{sqlite_time, Param};
use super::error::WriteError;
use super::events::EventBus;
use super::group_commit::{self, Announces, Writer};
use super::migrate::{self, Applied, Migration};

/// The SQLite database of one server.
#[derive(Clone)]
pub struct Sqlite {
    path: Arc<PathBuf>,
    /// The writer connection, for writes outside the requests' queue (pruning, tests).
    connection: Arc<Mutex<Connection>>,
    /// The requests' writes, committed in groups on `connection`.
    writer: Arc<Writer>,
}

/// Prepared statements kept per connection. Each list filter shape is its own statement (with its count), so
/// rusqlite's default of 16 would compile statements again as soon as a few models and filters are in use.
const STATEMENT_CACHE: usize = 256;

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Bytes the WAL file is cut back to when it starts over after a burst of writes.
const WAL_SIZE_LIMIT: i64 = 64 << 20;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // SQLite reads a double-quoted word that names no column as a string (its "double-quoted string literal"
    // misfeature): `SELECT "pinned"` on a table without that column would return the text 'pinned'. Off, an
    // unknown column is always an error.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DML, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DDL, false)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

thread_local! {
    /// This thread's read connections, by database file (tests run several servers in one process). A short list
    /// searched by the path's bytes: hashing the path on every read was 0.7 % of a GET's CPU.
    static READERS: RefCell<Vec<(PathBuf, Connection)>> = const { RefCell::new(Vec::new()) };
}

impl Sqlite {
    /// Opens (creating the file and its folder) and brings the schema up to date with `migrations`; refuses a
    /// database whose migrations are not the first of them, unchanged (`migrate::pending`).
    pub fn open(
        path: &Path,
        migrations: &[Migration],
        limits: group_commit::Limits,
    ) -> Result<Sqlite, String> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        let mut conn =
            Connection::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| e.to_string())?;
        configure(&conn).map_err(|e| e.to_string())?;
        for applied in
            apply(&mut conn, migrations).map_err(|e| format!("{}: {e}", path.display()))?
        {
            tracing::info!(migration = applied.name, "applied");
        }
        // The writer's own automatic checkpoint would run inside a request's commit (and sync the file there).
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(|e| e.to_string())?;
        // After a burst the WAL file is cut back to this size when it starts over, instead of keeping its peak.
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
            .map_err(|e| e.to_string())?;
        let connection = Arc::new(Mutex::new(conn));
        spawn_checkpointer(path.to_path_buf(), Arc::downgrade(&connection))?;
        Ok(Sqlite {
            path: Arc::new(path.to_path_buf()),
            writer: Writer::new(connection.clone(), limits),
            connection,
        })
    }

    /// The migrations the database has applied.
    pub fn applied_migrations(&self) -> Result<Vec<Applied>, String> {
        self.read(recorded).map_err(|e| e.to_string())
    }

    /// Runs a read on this thread's own connection.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        READERS.with(|readers| {
            let mut readers = readers.borrow_mut();
            let path = self.path.as_os_str();
            let index = match readers.iter().position(|(p, _)| p.as_os_str() == path) {
                Some(index) => index,
                None => {
                    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI;
                    let conn = Connection::open_with_flags(self.path.as_ref(), flags)?;
                    configure(&conn)?;
                    readers.push((self.path.as_ref().clone(), conn));
                    readers.len() - 1
                }
            };
            f(&readers[index].1)
        })
    }

    /// Runs a bounded write (a row and its event) in the next group commit (`group_commit`) and returns its outcome
    /// once committed; the events it announces are published to `bus` in sequence order first. The write runs on
    /// the writer connection, on the async worker thread of whichever request leads the batch: it takes tens of
    /// microseconds and no checkpoint. Handing each write to a blocking thread and back made it wait twice for the
    /// run queue: under a fan-out to 10,000 connections, where that queue is long, 4 writers managed 50 writes/s
    /// that way and 62 on the worker thread (docs/benchmarks.md, Gateway). `weight` estimates the bytes of its
    /// input, for the batch's bound.
    pub async fn write<T, F>(
        &self,
        bus: &EventBus,
        weight: usize,
        write: F,
    ) -> Result<T, WriteError>
    where
        T: Announces + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, WriteError> + Send + 'static,
    {
        self.writer.write(bus, weight, write).await
    }

    /// How the requests' writes were grouped into transactions so far.
    pub fn write_stats(&self) -> group_commit::Stats {
        self.writer.stats()
    }

    /// Runs a write transaction at once on the writer connection, outside the requests' queue (tests set up
    /// rows with it).
    #[cfg(test)]
    pub fn write_now<T, E: From<rusqlite::Error>>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction) -> Result<T, E>,
    ) -> Result<T, E> {
        transaction(&self.connection, f)
    }

    /// Runs a write transaction of unbounded size (pruning the outbox) on the writer connection, off the async
    /// threads.
    pub async fn write_in_background<
        T: Send + 'static,
        E: Send + 'static + From<rusqlite::Error>,
    >(
        &self,
        f: impl FnOnce(&rusqlite::Transaction) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || transaction(&connection, f))
            .await
            .expect("a write transaction panicked")
    }
}

fn transaction<T, E: From<rusqlite::Error>>(
    writer: &Mutex<Connection>,
    f: impl FnOnce(&rusqlite::Transaction) -> Result<T, E>,
) -> Result<T, E> {
    let mut conn = writer.lock().unwrap_or_else(|e| e.into_inner());
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

/// The record of applied migrations. The server creates it (not a migration), so that it is there before the
/// first one runs.
const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS \"_ssot_migrations\" (\"version\" INTEGER PRIMARY KEY, \"name\" TEXT NOT NULL, \"checksum\" TEXT, \"applied_at\" TEXT NOT NULL, \"outbox_head\" INTEGER NOT NULL) STRICT";

/// Applies the migrations the database has not run yet, in order, each in its own transaction that holds the
/// write lock from its start (`BEGIN IMMEDIATE`: a second process waits, then finds it applied). A migration
/// runs with foreign keys off, since rebuilding a table drops it while others still reference it, and commits
/// only if `PRAGMA foreign_key_check` finds nothing. Returns the migrations applied.
pub fn apply<'m>(
    conn: &mut Connection,
    known: &'m [Migration],
) -> Result<Vec<&'m Migration>, String> {
    let mut done = Vec::new();
    loop {
        // Only outside a transaction does this take effect.
        conn.pragma_update(None, "foreign_keys", false)
            .map_err(|e| e.to_string())?;
        let next = apply_next(conn, known);
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(|e| e.to_string())?;
        match next? {
            Some(migration) => done.push(migration),
            None => return Ok(done),
        }
    }
}

/// Applies the first pending migration, if there is one.
fn apply_next<'m>(
    conn: &mut Connection,
    known: &'m [Migration],
) -> Result<Option<&'m Migration>, String> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    tx.execute(MIGRATIONS_TABLE, [])
        .map_err(|e| e.to_string())?;
    record_unrecorded(&tx, known)?;
    let applied = recorded(&tx).map_err(|e| e.to_string())?;
    let Some(migration) = migrate::pending(known, &applied, "sqlite")?.first() else {
        tx.commit().map_err(|e| e.to_string())?;
        return Ok(None);
    };
    let failed = |e: rusqlite::Error| {
        format!(
            "migration {} failed, nothing of it was applied: {e}",
            migration.name
        )
    };
    tx.execute_batch(migration.sql).map_err(failed)?;
    let broken: i64 = tx
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })
        .map_err(failed)?;
    if broken > 0 {
        return Err(format!(
            "migration {} failed, nothing of it was applied: it leaves {broken} row(s) referencing rows that do not exist",
            migration.name
        ));
    }
    let head = super::outbox::head_sqlite(&tx).map_err(failed)?;
    tx.execute(
        "INSERT INTO \"_ssot_migrations\" (\"version\", \"name\", \"checksum\", \"applied_at\", \"outbox_head\") VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![migration.version(), migration.name, migration.checksum(), sqlite_time(&chrono::Utc::now()), head],
    )
    .map_err(failed)?;
    tx.pragma_update(None, "user_version", migration.version())
        .map_err(failed)?;
    tx.commit().map_err(failed)?;
    Ok(Some(migration))
}

/// A database migrated by a server from before the migrations table counted its migrations in `user_version`
/// (rusqlite_migration). Those are this server's first ones (migrations are never rewritten): they are recorded
/// as such, with this server's checksums.
fn record_unrecorded(tx: &rusqlite::Transaction, known: &[Migration]) -> Result<(), String> {
    let recorded: i64 = tx
        .query_row("SELECT count(*) FROM \"_ssot_migrations\"", [], |row| {
            row.get(0)
        })
        .map_err(|e| e.to_string())?;
    let counted: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| e.to_string())?;
    if recorded > 0 || counted == 0 {
        return Ok(());
    }
    let Some(adopted) = known.get(..counted as usize) else {
        return Err(format!(
            "the database has {counted} migrations (PRAGMA user_version) and this server knows {}: a newer version of \
             it migrated the database. Run that version (or a later one), or restore the backup taken before it migrated",
            known.len()
        ));
    };
    for migration in adopted {
        tracing::info!(
            migration = migration.name,
            "recording a migration applied before checksums were kept"
        );
        tx.execute(
            "INSERT INTO \"_ssot_migrations\" (\"version\", \"name\", \"checksum\", \"applied_at\", \"outbox_head\") VALUES (?1, ?2, NULL, 'before checksums', 0)",
            rusqlite::params![migration.version(), migration.name],
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The migrations the database recorded, in order.
fn recorded(conn: &Connection) -> rusqlite::Result<Vec<Applied>> {
    let mut statement = conn.prepare(
        "SELECT \"version\", \"name\", \"checksum\", \"applied_at\", \"outbox_head\" FROM \"_ssot_migrations\" ORDER BY \"version\"",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(Applied {
            version: row.get(0)?,
            name: row.get(1)?,
            checksum: row.get(2)?,
            applied_at: row.get(3)?,
            outbox_head: row.get(4)?,
        })
    })?;
    rows.collect()
}

/// The migrations a database has applied, read without changing it (none for a file that does not exist yet).
/// A database from before the migrations table shows its counted migrations as this server's first ones.
pub fn applied(path: &Path, known: &[Migration]) -> Result<Vec<Applied>, String> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    configure(&conn).map_err(|e| e.to_string())?;
    let table: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = '_ssot_migrations'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| e.to_string())?;
    if table.is_some() {
        return recorded(&conn).map_err(|e| e.to_string());
    }
    let counted: usize = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| e.to_string())?;
    Ok((0..counted)
        .map(|index| Applied {
            version: known
                .get(index)
                .map_or(index as i64 + 1, Migration::version),
            name: known
                .get(index)
                .map_or_else(|| format!("number {}", index + 1), |m| m.name.to_owned()),
            checksum: None,
            applied_at: "before checksums".to_owned(),
            outbox_head: 0,
        })
        .collect())
}

/// Checkpoints the WAL every `CHECKPOINT_INTERVAL` on a connection and thread of its own, for as long as the
/// writer lives. Once a checkpoint has copied the whole WAL, the next write starts the WAL over, so the file stays
/// as large as a second of writes.
///
/// A passive checkpoint never blocks the writer, but under a steady stream of writes it never copies the *whole*
/// WAL either: by the time it has copied what it saw, more was appended. The WAL then grows without end (1.2 GB
/// after 15 s of creates at full speed, and every write paid for extending the file). So after the passive pass a
/// second one runs holding the writer connection's lock: it only has the frames appended meanwhile to copy (a few
/// milliseconds' worth), and no write can append more until it is done.
fn spawn_checkpointer(path: PathBuf, writer: Weak<Mutex<Connection>>) -> Result<(), String> {
    let conn = Connection::open(&path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    configure(&conn).map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".to_owned())
        .spawn(move || loop {
            std::thread::sleep(CHECKPOINT_INTERVAL);
            let Some(writer) = writer.upgrade() else {
                return;
            };
            let frames = checkpoint(&conn).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "checkpointing the WAL failed; retrying");
                0
            });
            if frames > 0 {
                let _writes_wait = writer.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(e) = checkpoint(&conn) {
                    tracing::warn!(error = %e, "checkpointing the WAL failed; retrying");
                }
            }
        })
        .map(|_| ())
        .map_err(|e| format!("starting the checkpoint thread: {e}"))
}

/// A passive checkpoint; the frames in the WAL when it began (it copies those it can, and says it "completed"
/// when it copied all of them, even if more were appended meanwhile: hence the second pass).
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let value = match self {
            Param::Text(v) => v.as_ref().map(|s| SqlValue::Text(s.clone())),
            Param::I32(v) => v.map(|n| SqlValue::Integer(n.into())),
            Param::I64(v) => v.map(SqlValue::Integer),
            Param::F64(v) => v.map(SqlValue::Real),
            Param::Bool(v) => v.map(|b| SqlValue::Integer(b.into())),
            Param::Uuid(v) => v.map(|u| SqlValue::Text(u.to_string())),
            Param::DateTime(v) => v.as_ref().map(|t| SqlValue::Text(sqlite_time(t))),
            Param::Date(v) => v.map(|d| SqlValue::Text(d.format("%Y-%m-%d").to_string())),
            Param::Json(v) => v.as_ref().map(|j| SqlValue::Text(j.to_string())),
            // For `IN (SELECT value FROM json_each(?))`.
            Param::Keys(keys) => Some(SqlValue::Text(keys.to_json().to_string())),
        };
        Ok(ToSqlOutput::Owned(value.unwrap_or(SqlValue::Null)))
    }
}

/// A column value read from a row, in the representation the migrations store.
pub trait Column: Sized {
    /// The value of the column at `index`.
    fn read(row: &Row, index: usize) -> rusqlite::Result<Self>;
}

fn convert<T>(
    row: &Row,
    index: usize,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unexpected value {text:?}").into(),
        )
    })
}

/// A text column parsed into `T`: how the schema's enums (generated in `crate::enums`) are read.
pub fn read_text<T: std::str::FromStr>(row: &Row, index: usize) -> rusqlite::Result<T> {
    convert(row, index, |s| s.parse().ok())
}

macro_rules! native_column {
    ($($ty:ty),*) => {
        $(impl Column for $ty {
            fn read(row: &Row, index: usize) -> rusqlite::Result<Self> {
                row.get(index)
            }
        })*
    };
}

native_column!(String, i32, i64, f64, bool);

impl Column for uuid::Uuid {
    fn read(row: &Row, index: usize) -> rusqlite::Result<Self> {
        convert(row, index, |s| s.parse().ok())
    }
}

impl Column for chrono::DateTime<chrono::Utc> {
    fn read(row: &Row, index: usize) -> rusqlite::Result<Self> {
        convert(row, index, |s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.to_utc())
        })
    }
}

impl Column for chrono::NaiveDate {
    fn read(row: &Row, index: usize) -> rusqlite::Result<Self> {
        convert(row, index, |s| s.parse().ok())
    }
}

impl Column for serde_json::Value {
    fn read(row: &Row, index: usize) -> rusqlite::Result<Self> {
        convert(row, index, |s| serde_json::from_str(s).ok())
    }
}

impl<T: Column> Column for Option<T> {
    fn read(row: &Row, index: usize) -> rusqlite::Result<Self> {
        match row.get_ref(index)? {
            ValueRef::Null => Ok(None),
            _ => T::read(row, index).map(Some),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A database file of its own, removed afterwards (the outbox's tests use it too).
    pub(crate) struct TempFile(pub(crate) PathBuf);

    impl TempFile {
        pub(crate) fn new(name: &str) -> TempFile {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            TempFile(
                std::env::temp_dir().join(format!("ssot-{name}-{}-{nanos}.db", std::process::id())),
            )
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = self.0.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }

    const FIRST: Migration = Migration {
        name: "0001_init",
        sql: "CREATE TABLE \"_ssot_events\" (\"seq\" INTEGER PRIMARY KEY); CREATE TABLE \"_ssot_outbox_state\" (\"id\" INTEGER PRIMARY KEY, \"pruned_through\" INTEGER NOT NULL); CREATE TABLE \"items\" (\"id\" INTEGER PRIMARY KEY);",
        models: &["Item"],
    };
    const SECOND: Migration = Migration {
        name: "0002_add_item_title",
        sql: "ALTER TABLE \"items\" ADD COLUMN \"title\" TEXT;",
        models: &["Item"],
    };

    #[test]
    fn an_unknown_column_is_an_error_never_a_string() {
        let file = TempFile::new("dqs");
        let db = Sqlite::open(
            &file.0,
            super::super::migrations::SQLITE,
            group_commit::Limits::default(),
        )
        .unwrap();
        let read =
            db.read(|conn| conn.query_row("SELECT \"nope\" FROM \"_ssot_events\"", [], |_| Ok(())));
        assert!(
            read.unwrap_err().to_string().contains("no such column"),
            "a double-quoted unknown column must not read as a string"
        );
        let write: rusqlite::Result<()> = db.write_now(|tx| {
            tx.execute(
                "UPDATE \"_ssot_outbox_state\" SET \"pruned_through\" = \"nope\"",
                [],
            )?;
            Ok(())
        });
        assert!(write.unwrap_err().to_string().contains("no such column"));
    }

    /// Under writes without a pause the passive checkpoint alone never copies the whole WAL, which then grows
    /// without end; the checkpointer's second pass (holding the writer) lets it start over.
    #[test]
    fn the_wal_starts_over_under_writes_without_a_pause() {
        let file = TempFile::new("wal-restart");
        let db = Sqlite::open(
            &file.0,
            super::super::migrations::SQLITE,
            group_commit::Limits::default(),
        )
        .unwrap();
        let wal = PathBuf::from(format!("{}-wal", file.0.display()));
        // Offset 12 of the WAL header: the checkpoint sequence number, counting the times the WAL started over.
        let restarts = || {
            let header = std::fs::read(&wal).unwrap();
            u32::from_be_bytes(header[12..16].try_into().unwrap())
        };
        db.write_now(|tx| tx.execute_batch("CREATE TABLE \"filler\" (\"x\" BLOB)"))
            .unwrap();
        let before = restarts();
        let deadline = std::time::Instant::now() + CHECKPOINT_INTERVAL * 3;
        while std::time::Instant::now() < deadline {
            db.write_now(|tx| tx.execute("INSERT INTO \"filler\" VALUES (zeroblob(100))", []))
                .unwrap();
        }
        assert!(
            restarts() > before,
            "the WAL never started over in {:?} of writes: {} bytes",
            CHECKPOINT_INTERVAL * 3,
            std::fs::metadata(&wal).unwrap().len()
        );
    }

    #[test]
    fn migrations_are_applied_once_recorded_and_checked() {
        let file = TempFile::new("migrate");
        let mut conn = Connection::open(&file.0).unwrap();
        configure(&conn).unwrap();
        let names = |done: Vec<&Migration>| done.iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names(apply(&mut conn, &[FIRST]).unwrap()), ["0001_init"]);
        assert_eq!(
            names(apply(&mut conn, &[FIRST, SECOND]).unwrap()),
            ["0002_add_item_title"]
        );
        assert!(apply(&mut conn, &[FIRST, SECOND]).unwrap().is_empty());
        let applied = recorded(&conn).unwrap();
        assert_eq!(applied.len(), 2);
        assert_eq!(
            applied[1].checksum.as_deref(),
            Some(SECOND.checksum().as_str())
        );
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, 2);
        // A server that knows fewer migrations, or another version of one, is refused, and changes nothing.
        let err = apply(&mut conn, &[FIRST]).unwrap_err();
        assert!(err.contains("which this server does not know"), "{err}");
        let edited = Migration {
            sql: "ALTER TABLE \"items\" ADD COLUMN \"title\" TEXT NOT NULL DEFAULT '';",
            ..SECOND
        };
        let err = apply(&mut conn, &[FIRST, edited]).unwrap_err();
        assert!(
            err.contains("migrations/sqlite/0002_add_item_title.sql was edited"),
            "{err}"
        );
        // A migration that fails leaves nothing of it behind, and foreign keys on.
        let failing = Migration {
            name: "0003_broken",
            sql: "ALTER TABLE \"items\" ADD COLUMN \"x\" TEXT; SELECT * FROM \"missing\";",
            models: &[],
        };
        let err = apply(&mut conn, &[FIRST, SECOND, failing]).unwrap_err();
        assert!(
            err.starts_with("migration 0003_broken failed, nothing of it was applied"),
            "{err}"
        );
        assert_eq!(recorded(&conn).unwrap().len(), 2);
        assert!(conn.prepare("SELECT \"x\" FROM \"items\"").is_err());
        let on: bool = conn
            .pragma_query_value(None, "foreign_keys", |row| row.get(0))
            .unwrap();
        assert!(on);
    }

    #[test]
    fn a_database_from_before_the_migrations_table_is_recorded_as_it_is() {
        let file = TempFile::new("legacy");
        let mut conn = Connection::open(&file.0).unwrap();
        // What rusqlite_migration left: the first migration applied, counted in `user_version`.
        conn.execute_batch(FIRST.sql).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let shown = applied(&file.0, &[FIRST, SECOND]).unwrap();
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].name, "0001_init");
        assert_eq!(
            apply(&mut conn, &[FIRST, SECOND]).unwrap().len(),
            1,
            "only the second migration runs"
        );
        let recorded = recorded(&conn).unwrap();
        assert_eq!(recorded[0].checksum, None);
        assert_eq!(recorded[1].name, "0002_add_item_title");
    }
}
