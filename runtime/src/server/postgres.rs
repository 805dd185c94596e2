//! PostgreSQL through a sqlx pool.

use sqlx::postgres::{PgArguments, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres as Pg, Row, ValueRef};

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::db::{Keys, Param};
use super::error::WriteError;
use super::events::EventBus;
use super::group_commit::{self, Announces};
use super::group_commit_postgres::{Insert, Writer};
use super::migrate::{self, Applied, Migration};

/// Key of the advisory lock that serialises migrations across instances.
const MIGRATION_LOCK: i64 = 0x55_07_6E_01;

/// A PostgreSQL database: the connection pool that every request and the feed draw from.
#[derive(Clone)]
pub struct Postgres {
    /// Connections, at most `PG_MAX_CONNECTIONS`.
    pub pool: sqlx::PgPool,
    /// The requests' writes, committed in groups on a connection of `pool`.
    writer: Arc<Writer>,
}

impl Postgres {
    /// Connects and applies the migrations not yet applied, one instance at a time; refuses a database whose
    /// migrations are not the first of `migrations`, unchanged (`migrate::pending`).
    pub async fn open(
        url: &str,
        max_connections: u32,
        migrations: &[Migration],
        limits: group_commit::Limits,
    ) -> Result<Postgres, String> {
        let pool = connect(url, max_connections).await?;
        for applied in apply(&pool, migrations).await? {
            tracing::info!(migration = applied.name, "applied");
        }
        Ok(Postgres {
            writer: Writer::new(pool.clone(), limits),
            pool,
        })
    }

    /// Runs a create (one row) in the next group commit, with the creates of the same statement queued next to it
    /// as one statement (`group_commit_postgres::Insert`); otherwise as [`Postgres::write`].
    pub async fn insert<T>(
        &self,
        bus: &EventBus,
        weight: usize,
        insert: Insert<T>,
    ) -> Result<T, WriteError>
    where
        T: Announces + Send + 'static,
    {
        self.writer.insert(bus, weight, insert).await
    }

    /// Runs a write (a row, returning its events unnumbered) in the next group commit (`group_commit_postgres`) and
    /// returns its outcome once committed, its events numbered; they are published to `bus` in sequence order
    /// first. `weight` estimates the bytes of its input, for the batch's bound. `write` may run more than once,
    /// only its last run committed.
    pub async fn write<T, F>(
        &self,
        bus: &EventBus,
        weight: usize,
        write: F,
    ) -> Result<T, WriteError>
    where
        T: Announces + Send + 'static,
        F: for<'c> Fn(&'c mut sqlx::PgConnection) -> BoxFuture<'c, Result<T, WriteError>>
            + Send
            + Sync
            + 'static,
    {
        self.writer.write(bus, weight, write).await
    }

    /// How the requests' writes were grouped into transactions so far.
    pub fn write_stats(&self) -> group_commit::Stats {
        self.writer.stats()
    }

    /// The migrations the database has applied.
    pub async fn applied_migrations(&self) -> Result<Vec<Applied>, String> {
        let error = |e: sqlx::Error| format!("reading the migrations of PostgreSQL: {e}");
        let mut conn = self.pool.acquire().await.map_err(error)?;
        recorded(&mut conn).await.map_err(error)
    }
}

/// How long a pooled connection may have been idle before it is checked (pinged) on its way out of the pool.
///
/// sqlx pings every connection it hands out by default: one more round trip before every statement, as many
/// round trips as the statements themselves on a read (a list with `include=author,room` is four statements).
/// A connection used within the last second is taken as alive, as connection pools commonly do; one that broke
/// since (the database restarted) fails its statement, which answers that one request with an error, and is
/// closed rather than returned to the pool.
const CHECK_IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

async fn connect(url: &str, max_connections: u32) -> Result<sqlx::PgPool, String> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_IDLE_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect(url)
        .await
        .map_err(|e| format!("connecting to PostgreSQL: {e}"))
}

/// The record of applied migrations, created by the server (not a migration). Servers from before checksums
/// created it with `version` and `applied_at` only; the other columns are added to such a table.
const MIGRATIONS_TABLE: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS \"_ssot_migrations\" (\"version\" BIGINT PRIMARY KEY, \"applied_at\" TIMESTAMPTZ NOT NULL DEFAULT now())",
    "ALTER TABLE \"_ssot_migrations\" ADD COLUMN IF NOT EXISTS \"name\" TEXT, ADD COLUMN IF NOT EXISTS \"checksum\" TEXT, ADD COLUMN IF NOT EXISTS \"outbox_head\" BIGINT NOT NULL DEFAULT 0",
];

const RECORDED: &str = "SELECT \"version\", COALESCE(\"name\", 'number ' || \"version\"), \"checksum\", to_char(\"applied_at\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \"outbox_head\" FROM \"_ssot_migrations\" ORDER BY \"version\"";

/// Applies the migrations the database has not run yet, in order, each in its own transaction that first takes
/// the migration lock (another instance starting at the same time waits, then finds it applied). sqlx's embedded
/// migrations need its compile-time macros; this keeps the same guarantees, with checksums. Returns the
/// migrations applied.
pub async fn apply<'m>(
    pool: &sqlx::PgPool,
    known: &'m [Migration],
) -> Result<Vec<&'m Migration>, String> {
    let mut done = Vec::new();
    while let Some(migration) = apply_next(pool, known).await? {
        done.push(migration);
    }
    Ok(done)
}

async fn apply_next<'m>(
    pool: &sqlx::PgPool,
    known: &'m [Migration],
) -> Result<Option<&'m Migration>, String> {
    let error = |e: sqlx::Error| format!("migrating PostgreSQL: {e}");
    let mut tx = pool.begin().await.map_err(error)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(error)?;
    for sql in MIGRATIONS_TABLE {
        sqlx::query(sql).execute(&mut *tx).await.map_err(error)?;
    }
    // Rows of a server from before checksums have no name: they are this server's first migrations (migrations
    // are never rewritten), recorded as such.
    for migration in known {
        sqlx::query("UPDATE \"_ssot_migrations\" SET \"name\" = $2 WHERE \"version\" = $1 AND \"name\" IS NULL")
            .bind(migration.version())
            .bind(migration.name)
            .execute(&mut *tx)
            .await
            .map_err(error)?;
    }
    let applied = recorded(&mut tx).await.map_err(error)?;
    let Some(migration) = migrate::pending(known, &applied, "postgres")?.first() else {
        tx.commit().await.map_err(error)?;
        return Ok(None);
    };
    let failed = |e: sqlx::Error| {
        format!(
            "migration {} failed, nothing of it was applied: {e}",
            migration.name
        )
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(migration.sql))
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    let head = super::outbox::head_postgres(&mut tx)
        .await
        .map_err(failed)?;
    sqlx::query("INSERT INTO \"_ssot_migrations\" (\"version\", \"name\", \"checksum\", \"outbox_head\") VALUES ($1, $2, $3, $4)")
        .bind(migration.version())
        .bind(migration.name)
        .bind(migration.checksum())
        .bind(head)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    tx.commit().await.map_err(failed)?;
    Ok(Some(migration))
}

async fn recorded(conn: &mut sqlx::PgConnection) -> Result<Vec<Applied>, sqlx::Error> {
    let rows: Vec<(i64, String, Option<String>, String, i64)> =
        sqlx::query_as(RECORDED).fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(
            |(version, name, checksum, applied_at, outbox_head)| Applied {
                version,
                name,
                checksum,
                applied_at,
                outbox_head,
            },
        )
        .collect())
}

/// The migrations a database has applied, read without changing it (none when it has no migrations table). A
/// table from before checksums shows its versions as this server's migrations of those numbers.
pub async fn applied(url: &str, known: &[Migration]) -> Result<Vec<Applied>, String> {
    let pool = connect(url, 1).await?;
    let error = |e: sqlx::Error| format!("reading the migrations of PostgreSQL: {e}");
    let mut conn = pool.acquire().await.map_err(error)?;
    let table: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('\"_ssot_migrations\"')::text")
            .fetch_one(&mut *conn)
            .await
            .map_err(error)?;
    if table.is_none() {
        return Ok(Vec::new());
    }
    let columns: i64 = sqlx::query_scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = '_ssot_migrations' AND table_schema = current_schema() AND column_name = 'checksum'")
        .fetch_one(&mut *conn)
        .await
        .map_err(error)?;
    if columns == 0 {
        // A table of a server from before checksums: versions only.
        let versions: Vec<(i64, String)> = sqlx::query_as("SELECT \"version\", to_char(\"applied_at\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM \"_ssot_migrations\" ORDER BY \"version\"")
            .fetch_all(&mut *conn)
            .await
            .map_err(error)?;
        return Ok(versions
            .into_iter()
            .map(|(version, applied_at)| Applied {
                version,
                name: known
                    .iter()
                    .find(|m| m.version() == version)
                    .map_or_else(|| format!("number {version}"), |m| m.name.to_owned()),
                checksum: None,
                applied_at,
                outbox_head: 0,
            })
            .collect());
    }
    recorded(&mut conn).await.map_err(error)
}

/// A statement with its parameters bound. The text is built only from generated identifiers and placeholders;
/// every value is a bound parameter, which is why it may be asserted safe.
pub fn query<'q>(sql: &str, params: &'q [Param]) -> Query<'q, Pg, PgArguments> {
    params
        .iter()
        .fold(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), bind)
}

/// Binds a parameter with its PostgreSQL type, NULLs included.
fn bind<'q>(query: Query<'q, Pg, PgArguments>, param: &'q Param) -> Query<'q, Pg, PgArguments> {
    match param {
        Param::Text(v) => query.bind(v.as_deref()),
        Param::I32(v) => query.bind(*v),
        Param::I64(v) => query.bind(*v),
        Param::F64(v) => query.bind(*v),
        Param::Bool(v) => query.bind(*v),
        Param::Uuid(v) => query.bind(*v),
        Param::DateTime(v) => query.bind(*v),
        Param::Date(v) => query.bind(*v),
        Param::Json(v) => query.bind(v.as_ref()),
        Param::Keys(Keys::Text(v)) => query.bind(v),
        Param::Keys(Keys::I32(v)) => query.bind(v),
        Param::Keys(Keys::I64(v)) => query.bind(v),
        Param::Keys(Keys::Uuid(v)) => query.bind(v),
    }
}

/// A column value read from a row.
pub trait Column: Sized {
    /// The value of the column at `index`.
    fn read(row: &PgRow, index: usize) -> Result<Self, sqlx::Error>;
}

/// A text column parsed into `T`: how the schema's enums (generated in `crate::enums`) are read.
pub fn read_text<T>(row: &PgRow, index: usize) -> Result<T, sqlx::Error>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.try_get(index)?;
    text.parse().map_err(|e| sqlx::Error::ColumnDecode {
        index: index.to_string(),
        source: Box::new(e),
    })
}

macro_rules! native_column {
    ($($ty:ty),*) => {
        $(impl Column for $ty {
            fn read(row: &PgRow, index: usize) -> Result<Self, sqlx::Error> {
                row.try_get(index)
            }
        })*
    };
}

native_column!(
    String,
    i32,
    i64,
    f64,
    bool,
    uuid::Uuid,
    chrono::DateTime<chrono::Utc>,
    chrono::NaiveDate,
    serde_json::Value
);

impl<T: Column> Column for Option<T> {
    fn read(row: &PgRow, index: usize) -> Result<Self, sqlx::Error> {
        if row.try_get_raw(index)?.is_null() {
            Ok(None)
        } else {
            T::read(row, index).map(Some)
        }
    }
}
