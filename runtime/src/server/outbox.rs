//! Reading and pruning the outbox (`_ssot_events`), the durable record of committed events that the gateway
//! replays from and that every instance reads when another one announces a change.

use std::sync::Arc;

use super::events::{Event, EventKind};
use super::Db;

const COLUMNS: &str =
    "\"seq\", \"model\", \"record_id\", \"kind\", \"data\", \"owner\", \"created_at\"";

/// Which events to read.
#[derive(Debug, Clone, Copy)]
pub struct Range<'a> {
    /// Events after this sequence number...
    pub after: i64,
    /// ...up to and including this one (`None`: no upper bound).
    pub through: Option<i64>,
    /// Only this model's events, and of those only one row's.
    pub model: Option<&'a str>,
    /// Only this row's events (its id as it prints), with `model`.
    pub record_id: Option<&'a str>,
    /// The most events to read.
    pub limit: i64,
}

/// The highest sequence number committed (or pruned) that the reading transaction sees.
const HEAD_SQL: &str = "SELECT MAX(\"seq\") FROM (SELECT MAX(\"seq\") AS \"seq\" FROM \"_ssot_events\" UNION ALL SELECT \"pruned_through\" FROM \"_ssot_outbox_state\") AS \"heads\"";

/// The highest sequence number committed (or pruned): every event up to it is committed or gone.
pub async fn head(db: &Db) -> Result<i64, String> {
    match db {
        Db::Sqlite(db) => db.read(head_sqlite).map_err(|e| e.to_string()),
        Db::Postgres(db) => {
            head_postgres(&mut *db.pool.acquire().await.map_err(|e| e.to_string())?)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

/// `head` on a SQLite connection (inside a read transaction: as of its snapshot).
pub fn head_sqlite(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached(HEAD_SQL)?
        .query_row([], |row| row.get::<_, Option<i64>>(0))?
        .unwrap_or(0))
}

/// `head` on a PostgreSQL connection (inside a transaction: as of its snapshot).
pub async fn head_postgres(conn: &mut sqlx::PgConnection) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<i64>>(HEAD_SQL)
        .fetch_one(conn)
        .await?
        .unwrap_or(0))
}

/// Events up to this sequence number have been pruned.
pub async fn pruned_through(db: &Db) -> Result<i64, String> {
    const SQL: &str = "SELECT \"pruned_through\" FROM \"_ssot_outbox_state\" WHERE \"id\" = 1";
    match db {
        Db::Sqlite(db) => db
            .read(|conn| conn.query_row(SQL, [], |row| row.get(0)))
            .map_err(|e| e.to_string()),
        Db::Postgres(db) => sqlx::query_scalar::<_, i64>(SQL)
            .fetch_one(&db.pool)
            .await
            .map_err(|e| e.to_string()),
    }
}

/// Events in `range`, in sequence order. Events of models this build does not know (an older schema) are skipped.
pub async fn read(db: &Db, range: Range<'_>) -> Result<Vec<Arc<Event>>, String> {
    let mut w = super::db::SqlWriter::new(db.dialect());
    let mut conditions = vec![format!(
        "\"seq\" > {}",
        w.bind(super::db::Param::I64(Some(range.after)))
    )];
    if let Some(through) = range.through {
        conditions.push(format!(
            "\"seq\" <= {}",
            w.bind(super::db::Param::I64(Some(through)))
        ));
    }
    if let Some(model) = range.model {
        conditions.push(format!(
            "\"model\" = {}",
            w.bind(super::db::Param::Text(Some(model.to_owned())))
        ));
    }
    if let Some(id) = range.record_id {
        conditions.push(format!(
            "\"record_id\" = {}",
            w.bind(super::db::Param::Text(Some(id.to_owned())))
        ));
    }
    let limit = w.bind(super::db::Param::I64(Some(range.limit)));
    let sql = format!(
        "SELECT {COLUMNS} FROM \"_ssot_events\" WHERE {} ORDER BY \"seq\" LIMIT {limit}",
        conditions.join(" AND ")
    );
    let rows: Vec<Raw> = match db {
        Db::Sqlite(db) => db
            .read(|conn| {
                let mut statement = conn.prepare_cached(&sql)?;
                let rows = statement.query_map(rusqlite::params_from_iter(&w.params), |row| {
                    let data: String = row.get(4)?;
                    let at: String = row.get(6)?;
                    Ok(Raw {
                        seq: row.get(0)?,
                        model: row.get(1)?,
                        id: row.get(2)?,
                        kind: row.get(3)?,
                        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                        owner: row.get(5)?,
                        timestamp: chrono::DateTime::parse_from_rfc3339(&at)
                            .map(|t| t.to_utc())
                            .unwrap_or_default(),
                    })
                })?;
                rows.collect()
            })
            .map_err(|e| e.to_string())?,
        Db::Postgres(db) => {
            use sqlx::Row;
            let rows = super::postgres::query(&sql, &w.params)
                .fetch_all(&db.pool)
                .await
                .map_err(|e| e.to_string())?;
            rows.iter()
                .map(|row| {
                    Ok(Raw {
                        seq: row.try_get(0)?,
                        model: row.try_get(1)?,
                        id: row.try_get(2)?,
                        kind: row.try_get(3)?,
                        data: row.try_get(4)?,
                        owner: row.try_get(5)?,
                        timestamp: row.try_get(6)?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(|e| e.to_string())?
        }
    };
    Ok(rows
        .into_iter()
        .filter_map(Raw::into_event)
        .map(Arc::new)
        .collect())
}

struct Raw {
    seq: i64,
    model: String,
    id: String,
    kind: String,
    data: serde_json::Value,
    owner: Option<String>,
    timestamp: chrono::DateTime<chrono::Utc>,
}

impl Raw {
    fn into_event(self) -> Option<Event> {
        let Some(model) = crate::channels::MODELS.iter().find(|m| **m == self.model) else {
            tracing::warn!(seq = self.seq, model = %self.model, "skipping an outbox event of a model this server does not serve");
            return None;
        };
        let kind = match self.kind.as_str() {
            "created" => EventKind::Created,
            "updated" => EventKind::Updated,
            _ => EventKind::Deleted,
        };
        Some(Event {
            seq: self.seq,
            model,
            id: self.id,
            kind,
            data: self.data,
            owner: self.owner,
            timestamp: self.timestamp,
        })
    }
}

/// Deletes the events older than `retention` and records how far it pruned. Returns how many it deleted.
pub async fn prune(db: &Db, retention: std::time::Duration) -> Result<u64, String> {
    let cutoff =
        chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    match db {
        Db::Sqlite(db) => {
            let cutoff = super::db::sqlite_time(&cutoff);
            db.write_in_background(move |tx| {
                let through: Option<i64> =
                    tx.query_row("SELECT MAX(\"seq\") FROM \"_ssot_events\" WHERE \"created_at\" < ?1", [&cutoff], |row| row.get(0))?;
                let Some(through) = through else { return Ok(0) };
                let deleted = tx.execute("DELETE FROM \"_ssot_events\" WHERE \"seq\" <= ?1", [through])?;
                tx.execute("UPDATE \"_ssot_outbox_state\" SET \"pruned_through\" = MAX(\"pruned_through\", ?1) WHERE \"id\" = 1", [through])?;
                Ok::<_, rusqlite::Error>(deleted as u64)
            })
            .await
            .map_err(|e| e.to_string())
        }
        Db::Postgres(db) => async {
            let mut tx = db.pool.begin().await?;
            let through: Option<i64> = sqlx::query_scalar("SELECT MAX(\"seq\") FROM \"_ssot_events\" WHERE \"created_at\" < $1")
                .bind(cutoff)
                .fetch_one(&mut *tx)
                .await?;
            let Some(through) = through else { return Ok(0) };
            let deleted = sqlx::query("DELETE FROM \"_ssot_events\" WHERE \"seq\" <= $1").bind(through).execute(&mut *tx).await?.rows_affected();
            sqlx::query("UPDATE \"_ssot_outbox_state\" SET \"pruned_through\" = GREATEST(\"pruned_through\", $1) WHERE \"id\" = 1")
                .bind(through)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(deleted)
        }
        .await
        .map_err(|e| e.to_string()),
    }
}
