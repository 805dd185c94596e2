//! Committed changes. Each mutation writes its event to the `_ssot_events` outbox in its own transaction; only
//! after the commit is the event handed to the in-process stream, so a rolled back change is never announced.

use std::sync::Arc;

pub use crate::protocol::ChangeKind as EventKind;

/// One committed change, as the outbox stores it.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its place in the one order of all events: the outbox's sequence number.
    pub seq: i64,
    /// The model's schema name.
    pub model: &'static str,
    /// The row's id as it prints.
    pub id: String,
    /// Whether the row was created, updated or deleted.
    pub kind: EventKind,
    /// The record as readers see it (hidden fields left out).
    pub data: serde_json::Value,
    /// The row's owner, for per-subscriber filtering.
    pub owner: Option<String>,
    /// When the change committed.
    pub timestamp: chrono::DateTime<chrono::Utc>,
}

/// The in-process stream of committed events.
#[derive(Clone)]
pub struct EventBus {
    sender: tokio::sync::broadcast::Sender<Arc<Event>>,
}

impl EventBus {
    /// A bus that keeps up to `capacity` events for a receiver that is behind; one further behind misses events
    /// (the feed then reads them from the outbox).
    pub fn new(capacity: usize) -> EventBus {
        EventBus {
            sender: tokio::sync::broadcast::channel(capacity).0,
        }
    }

    /// Called only after the event's transaction committed.
    pub fn publish(&self, event: Event) {
        // No subscriber is not an error: the outbox keeps the event.
        let _ = self.sender.send(Arc::new(event));
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }
}

/// Writes an event to the outbox on SQLite and returns its sequence number; in the mutation's transaction.
pub const INSERT_SQLITE: &str = "INSERT INTO \"_ssot_events\" (\"model\", \"record_id\", \"kind\", \"data\", \"owner\", \"created_at\") VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING \"seq\"";
/// Writes a transaction's events to the outbox on PostgreSQL, in one statement, and returns their sequence numbers;
/// the last statement of the transaction before its commit. `$1` to `$6` are arrays (model, record id, kind, data,
/// owner, timestamp), one element per event, in order. It first takes the outbox lock (`$7`:
/// [`POSTGRES_OUTBOX_LOCK`]), before any sequence number is drawn: the materialized CTE runs once, when the sort
/// reads its first row, before any row is inserted. The events are inserted in their order (`ORDER BY` the
/// position), so the sequence numbers drawn follow it; sorted, the numbers returned are the events' in order.
pub const INSERT_POSTGRES: &str = "WITH \"lock\" AS MATERIALIZED (SELECT pg_advisory_xact_lock($7)) \
INSERT INTO \"_ssot_events\" (\"model\", \"record_id\", \"kind\", \"data\", \"owner\", \"created_at\") \
SELECT \"e\".\"model\", \"e\".\"record_id\", \"e\".\"kind\", \"e\".\"data\", \"e\".\"owner\", \"e\".\"created_at\" \
FROM \"lock\", unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::timestamptz[]) \
WITH ORDINALITY AS \"e\" (\"model\", \"record_id\", \"kind\", \"data\", \"owner\", \"created_at\", \"position\") \
ORDER BY \"e\".\"position\" RETURNING \"seq\"";
/// Held to commit, so that on PostgreSQL sequence numbers become visible in order: a reader of the outbox never
/// sees seq 8 committed while seq 7 is still in flight. Taken by [`INSERT_POSTGRES`].
pub const POSTGRES_OUTBOX_LOCK: i64 = 0x55_07_6E_02;
/// The PostgreSQL notification channel on which the outbox's insert trigger announces each new sequence number.
pub const POSTGRES_NOTIFY_CHANNEL: &str = "ssot_events";
