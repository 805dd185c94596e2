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
            tracing::warn!(
                seq = self.seq,
                model = %self.model,
                "skipping an outbox event of a model this server does not serve"
            );
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

/// Pruning, per dialect: the newest event older than the cutoff, the delete up to it, and the record of how far
/// pruning went (which only grows, so that the head never goes back).
mod prune_sql {
    pub const THROUGH_SQLITE: &str =
        "SELECT MAX(\"seq\") FROM \"_ssot_events\" WHERE \"created_at\" < ?1";
    pub const THROUGH_POSTGRES: &str =
        "SELECT MAX(\"seq\") FROM \"_ssot_events\" WHERE \"created_at\" < $1";
    pub const DELETE_SQLITE: &str = "DELETE FROM \"_ssot_events\" WHERE \"seq\" <= ?1";
    pub const DELETE_POSTGRES: &str = "DELETE FROM \"_ssot_events\" WHERE \"seq\" <= $1";
    pub const RECORD_SQLITE: &str = "UPDATE \"_ssot_outbox_state\" \
        SET \"pruned_through\" = MAX(\"pruned_through\", ?1) WHERE \"id\" = 1";
    pub const RECORD_POSTGRES: &str = "UPDATE \"_ssot_outbox_state\" \
        SET \"pruned_through\" = GREATEST(\"pruned_through\", $1) WHERE \"id\" = 1";
}

/// Deletes the events older than `retention` and records how far it pruned. Returns how many it deleted.
pub async fn prune(db: &Db, retention: std::time::Duration) -> Result<u64, String> {
    let cutoff =
        chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    match db {
        Db::Sqlite(db) => {
            let cutoff = super::db::sqlite_time(&cutoff);
            db.write_in_background(move |tx| prune_sqlite(tx, &cutoff))
                .await
                .map_err(|e| e.to_string())
        }
        Db::Postgres(db) => prune_postgres(&db.pool, cutoff)
            .await
            .map_err(|e| e.to_string()),
    }
}

fn prune_sqlite(tx: &rusqlite::Transaction, cutoff: &str) -> rusqlite::Result<u64> {
    let through: Option<i64> =
        tx.query_row(prune_sql::THROUGH_SQLITE, [cutoff], |row| row.get(0))?;
    let Some(through) = through else {
        return Ok(0);
    };
    let deleted = tx.execute(prune_sql::DELETE_SQLITE, [through])?;
    tx.execute(prune_sql::RECORD_SQLITE, [through])?;
    Ok(deleted as u64)
}

async fn prune_postgres(
    pool: &sqlx::PgPool,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let through: Option<i64> = sqlx::query_scalar(prune_sql::THROUGH_POSTGRES)
        .bind(cutoff)
        .fetch_one(&mut *tx)
        .await?;
    let Some(through) = through else {
        return Ok(0);
    };
    let deleted = sqlx::query(prune_sql::DELETE_POSTGRES)
        .bind(through)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query(prune_sql::RECORD_POSTGRES)
        .bind(through)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::sqlite::tests::TempFile;
    use crate::server::sqlite::Sqlite;

    /// A database with this crate's migrations applied, and the name of a model it serves (`None` for a crate
    /// without live models, whose outbox stays empty).
    fn open(file: &TempFile) -> Option<(Db, &'static str)> {
        let model = crate::channels::MODELS.first()?;
        let db = Sqlite::open(
            &file.0,
            super::super::migrations::SQLITE,
            crate::server::group_commit::Limits::default(),
        )
        .unwrap();
        Some((Db::Sqlite(db), model))
    }

    /// Writes an event as a mutation does; returns its sequence number.
    fn insert(db: &Db, model: &str, id: &str, at: chrono::DateTime<chrono::Utc>) -> i64 {
        let Db::Sqlite(db) = db else {
            unreachable!("the tests run on SQLite")
        };
        db.write_now(|tx| {
            tx.query_row(
                super::super::events::INSERT_SQLITE,
                rusqlite::params![
                    model,
                    id,
                    "updated",
                    format!("{{\"id\":\"{id}\"}}"),
                    Option::<String>::None,
                    super::super::db::sqlite_time(&at),
                ],
                |row| row.get::<_, i64>(0),
            )
        })
        .unwrap()
    }

    async fn seqs(db: &Db, range: Range<'_>) -> Vec<i64> {
        let events = read(db, range).await.unwrap();
        events.iter().map(|event| event.seq).collect()
    }

    fn all() -> Range<'static> {
        Range {
            after: 0,
            through: None,
            model: None,
            record_id: None,
            limit: 100,
        }
    }

    #[tokio::test]
    async fn reads_ranges_in_sequence_order() {
        let file = TempFile::new("outbox-read");
        let Some((db, model)) = open(&file) else {
            return;
        };
        let now = chrono::Utc::now();
        for id in ["1", "2", "1", "2", "1"] {
            insert(&db, model, id, now);
        }
        // An event of a model this build does not serve (dropped from the schema) is skipped, not an error.
        insert(&db, "no such model", "1", now);

        assert_eq!(seqs(&db, all()).await, [1, 2, 3, 4, 5]);
        let window = Range {
            after: 2,
            through: Some(4),
            ..all()
        };
        assert_eq!(seqs(&db, window).await, [3, 4]);
        let one_row = Range {
            model: Some(model),
            record_id: Some("1"),
            ..all()
        };
        assert_eq!(seqs(&db, one_row).await, [1, 3, 5]);
        assert_eq!(seqs(&db, Range { limit: 2, ..all() }).await, [1, 2]);
        let event = &read(&db, Range { limit: 1, ..all() }).await.unwrap()[0];
        assert_eq!((event.id.as_str(), event.kind), ("1", EventKind::Updated));
        assert_eq!(event.data, serde_json::json!({ "id": "1" }));
        assert_eq!(head(&db).await.unwrap(), 6);
    }

    #[tokio::test]
    async fn pruning_keeps_the_head_and_records_how_far_it_went() {
        let file = TempFile::new("outbox-prune");
        let Some((db, model)) = open(&file) else {
            return;
        };
        let now = chrono::Utc::now();
        let old = now - chrono::Duration::days(2);
        insert(&db, model, "1", old);
        insert(&db, model, "2", old);
        insert(&db, model, "3", now);

        let day = std::time::Duration::from_secs(24 * 60 * 60);
        assert_eq!(prune(&db, day).await.unwrap(), 2);
        assert_eq!(pruned_through(&db).await.unwrap(), 2);
        assert_eq!(seqs(&db, all()).await, [3]);
        assert_eq!(prune(&db, day).await.unwrap(), 0, "nothing more is old");

        // With every event gone the head stays where it was: a resume from seq 3 is still known to be current.
        assert_eq!(prune(&db, std::time::Duration::ZERO).await.unwrap(), 1);
        assert!(seqs(&db, all()).await.is_empty());
        assert_eq!(head(&db).await.unwrap(), 3);
        assert_eq!(pruned_through(&db).await.unwrap(), 3);
    }
}
