//! Group commit on PostgreSQL: concurrent mutations share one transaction, one outbox lock and one commit.
//!
//! A mutation's outbox insert takes the outbox lock (`events::INSERT_POSTGRES`), which is held to the commit so
//! that sequence numbers become visible in order (the feed relies on it: `events::POSTGRES_OUTBOX_LOCK`). Paid per
//! request, that made every writer wait in turn for the lock *and* for its own commit's WAL flush. Here, as on
//! SQLite (`group_commit`, whose queue, bounds and counts this shares), a request puts its write in a queue; when
//! no one is writing, it starts a *leader*: a task that holds one pooled connection and, while writes are queued,
//! takes up to `WRITE_BATCH_MAX` of them, runs each in a savepoint of one transaction (so the lock is taken once per
//! batch, by its first event), commits once, publishes the events in sequence order and answers each request.
//!
//! - **No delay for a lone write.** A batch of one runs without a savepoint: `BEGIN`, its statements, `COMMIT`.
//! - **Per-request semantics.** One failing write (a unique or foreign key violation, a refused access, a missing
//!   row, a hook's error, a panic) rolls back its savepoint only. A response means committed; if the commit fails,
//!   every write of the batch gets an error and none of their events is published.
//! - **The leader is a task of its own**, not the request that started it: a client that hangs up drops its
//!   request's future, which must not abandon the other requests of a batch half-run.
//! - **Round trips.** The savepoint statements between two writes go in one message (`RELEASE`, then `SAVEPOINT`),
//!   and the last one's `RELEASE` with the `COMMIT`: a write costs its own statements and one more round trip.
//! - **At most 64 writes per transaction** whatever `WRITE_BATCH_MAX` says: each savepoint that writes is a
//!   subtransaction, and PostgreSQL tracks only 64 of them per transaction in shared memory; beyond that every other
//!   session's snapshots must look them up on disk (`pg_subtrans`), which slows the whole server.
//! - **`WRITE_BATCH_MAX=1`** turns the group commit off: each request runs its own transaction on a pooled
//!   connection, concurrently with the others (up to `PG_MAX_CONNECTIONS`), as before group commit.
//! - **NOTIFY.** The outbox's insert trigger still sends one notification per event; PostgreSQL delivers a
//!   transaction's notifications at its commit, so a batch wakes other instances' feeds once per event, each of which
//!   reads the outbox only if the event is past its head.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};

use super::error::{ApiError, WriteError};
use super::events::{Event, EventBus};
use super::group_commit::{Announces, Limits, Queue, Stats};

/// PostgreSQL keeps the ids of this many subtransactions per transaction in shared memory (`PGPROC_MAX_CACHED_SUBXIDS`).
const SUBTRANSACTIONS_MAX: usize = 64;

/// The pool the batches draw their connection from, and the queue of writes waiting for a batch.
pub struct Writer {
    pool: sqlx::PgPool,
    queue: Queue<Job>,
}

/// Runs a queued write on the batch's connection, or, given that its batch cannot run, fails it unrun.
type Run = Box<dyn for<'c> FnOnce(Option<&'c mut PgConnection>) -> BoxFuture<'c, Ran> + Send>;

/// Answers a write's request after its batch ended: `true` if the transaction committed, else the answer is an
/// error whatever the write returned.
type Answer = Box<dyn FnOnce(bool) + Send>;

/// A queued write, its types erased.
struct Job {
    run: Run,
}

/// A write that ran: its events (none if it failed) and how to answer its request once the batch's fate is known.
struct Ran {
    ok: bool,
    events: Vec<Event>,
    answer: Answer,
}

/// The statements between a write and what follows it in its batch, each sent as one message.
mod between {
    /// Before the first write of a batch of several.
    pub const BEGIN_SAVEPOINT: &str = "BEGIN; SAVEPOINT \"write\"";
    /// After a write that succeeded, before the next.
    pub const NEXT: &str = "RELEASE \"write\"; SAVEPOINT \"write\"";
    /// After a write that failed, before the next: the savepoint stays, at the same place.
    pub const UNDO: &str = "ROLLBACK TO \"write\"";
    /// After the last write, if it succeeded. `RELEASE` fails in a transaction that an error aborted (a write that
    /// swallowed its statement's error), where a bare `COMMIT` would roll back and report no error.
    pub const COMMIT: &str = "RELEASE \"write\"; COMMIT";
    /// After the last write, if it failed.
    pub const UNDO_COMMIT: &str = "ROLLBACK TO \"write\"; RELEASE \"write\"; COMMIT";
}

impl Writer {
    /// A writer drawing on `pool`.
    pub fn new(pool: sqlx::PgPool, limits: Limits) -> Arc<Writer> {
        Arc::new(Writer {
            pool,
            queue: Queue::new(Limits {
                batch_max: limits.batch_max.min(SUBTRANSACTIONS_MAX),
                ..limits
            }),
        })
    }

    /// How the writes were grouped so far.
    pub fn stats(&self) -> Stats {
        self.queue.stats()
    }

    /// Runs `write` in the next batch's transaction and returns its outcome once that transaction committed; the
    /// events it announces are published to `bus` first. `weight` estimates the bytes of its input.
    pub async fn write<T, F>(
        self: &Arc<Self>,
        bus: &EventBus,
        weight: usize,
        write: F,
    ) -> Result<T, WriteError>
    where
        T: Announces + Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, WriteError>>
            + Send
            + 'static,
    {
        if self.queue.limits().batch_max == 1 {
            return self.write_alone(bus, write).await;
        }
        let (reply, answered) = tokio::sync::oneshot::channel();
        let job = Job {
            run: Box::new(move |conn| {
                Box::pin(async move {
                    let outcome = match conn {
                        // A panic (a bug in a hook or a conversion) fails this write only; the panic hook logged it.
                        Some(conn) => AssertUnwindSafe(async move { write(conn).await })
                            .catch_unwind()
                            .await
                            .unwrap_or_else(|_| Err(ApiError::internal_logged().into())),
                        None => Err(ApiError::internal_logged().into()),
                    };
                    let (ok, events) = match &outcome {
                        Ok(value) => (true, value.events().to_vec()),
                        Err(_) => (false, Vec::new()),
                    };
                    Ran {
                        ok,
                        events,
                        answer: Box::new(move |committed| {
                            let outcome = match outcome {
                                Ok(_) if !committed => Err(ApiError::internal_logged().into()),
                                outcome => outcome,
                            };
                            // The request may be gone (its client hung up); its write is committed all the same.
                            let _ = reply.send(outcome);
                        }),
                    }
                })
            }),
        };
        if self.queue.push(weight, job)? {
            let writer = self.clone();
            let bus = bus.clone();
            tokio::spawn(async move { writer.lead(&bus).await });
        }
        answered.await.unwrap_or_else(|_| {
            Err(ApiError::internal("a queued write was dropped without an answer").into())
        })
    }

    /// `WRITE_BATCH_MAX=1`: the write in a transaction of its own on a pooled connection, not queued.
    async fn write_alone<T, F>(&self, bus: &EventBus, write: F) -> Result<T, WriteError>
    where
        T: Announces + Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, WriteError>>
            + Send
            + 'static,
    {
        self.queue.count(1);
        let mut tx = self.pool.begin().await?;
        let value = write(&mut tx).await?;
        tx.commit().await?;
        for event in value.events() {
            bus.publish(event.clone());
        }
        Ok(value)
    }

    /// The leader: commits batches on one connection until the queue is empty.
    async fn lead(&self, bus: &EventBus) {
        let mut conn: Option<PoolConnection<Postgres>> = None;
        loop {
            let batch = self.queue.take();
            if !batch.is_empty() {
                for ran in self.commit(&mut conn, batch).await {
                    for event in &ran.events {
                        bus.publish(event.clone());
                    }
                    (ran.answer)(true);
                }
            }
            if !self.queue.more() {
                return;
            }
            // Let the requests just answered (and others) run before the next batch.
            tokio::task::yield_now().await;
        }
    }

    /// Runs `batch` in one transaction on `conn` (acquired if there is none) and commits it. Returns the writes that
    /// ran, in order, to be published and answered; when the transaction failed as a whole, every write of the batch
    /// is answered here with an error and none is returned (and the connection, if any, is given up).
    async fn commit(
        &self,
        conn: &mut Option<PoolConnection<Postgres>>,
        batch: Vec<Job>,
    ) -> Vec<Ran> {
        let mut done: Vec<Ran> = Vec::with_capacity(batch.len());
        let mut jobs = batch.into_iter();
        let acquired = match conn.take() {
            Some(held) => Ok(held),
            None => self.pool.acquire().await,
        };
        let failure = match acquired {
            Ok(acquired) => run_jobs(conn.insert(acquired), &mut jobs, &mut done)
                .await
                .err(),
            Err(e) => Some(e),
        };
        let Some(e) = failure else {
            return done;
        };
        tracing::error!(error = %e, writes = done.len() + jobs.len(), "a batch of writes failed as a whole");
        if let Some(mut failed) = conn.take() {
            // Back to the pool only outside a transaction; a connection that cannot even roll back is closed.
            match sqlx::raw_sql("ROLLBACK").execute(&mut *failed).await {
                Ok(_) => drop(failed),
                Err(_) => drop(failed.detach()),
            }
        }
        for job in jobs {
            done.push((job.run)(None).await);
        }
        for ran in done {
            (ran.answer)(false);
        }
        Vec::new()
    }
}

/// Runs the batch's writes in one transaction on `conn`, each in a savepoint if there are several, and commits,
/// pushing each write to `done` as it ran. Stops at an error that ends the transaction as a whole.
async fn run_jobs(
    conn: &mut PgConnection,
    jobs: &mut std::vec::IntoIter<Job>,
    done: &mut Vec<Ran>,
) -> Result<(), sqlx::Error> {
    if jobs.len() == 1 {
        // A batch of one needs no savepoint: if it fails, the transaction is rolled back as a whole.
        sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
        let ran = run(conn, jobs).await;
        let end = if ran.ok { "COMMIT" } else { "ROLLBACK" };
        done.push(ran);
        sqlx::raw_sql(end).execute(&mut *conn).await?;
        return Ok(());
    }
    sqlx::raw_sql(between::BEGIN_SAVEPOINT)
        .execute(&mut *conn)
        .await?;
    while jobs.len() > 0 {
        let ran = run(conn, jobs).await;
        let next = match (ran.ok, jobs.len() > 0) {
            (true, true) => between::NEXT,
            (false, true) => between::UNDO,
            (true, false) => between::COMMIT,
            (false, false) => between::UNDO_COMMIT,
        };
        done.push(ran);
        sqlx::raw_sql(next).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Runs the next write of `jobs` (there is one) on `conn`.
async fn run(conn: &mut PgConnection, jobs: &mut std::vec::IntoIter<Job>) -> Ran {
    let job = jobs.next().expect("a write to run");
    (job.run)(Some(conn)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::events::{self, EventKind};
    use crate::server::group_commit::tests::{committed_of, kind, Kind, Written};

    /// A database of its own on the local PostgreSQL, dropped with this (as tests/common/pg.rs does it).
    struct Database {
        name: String,
        pool: sqlx::PgPool,
    }

    fn psql(database: &str, sql: &str) -> Result<String, String> {
        let out = std::process::Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", database])
            .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", "-c", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A fresh database with a table of named rows (unique names), a table referencing it (immediately, or at
    /// commit when `deferred`), and the outbox; `None` (and a note) without PostgreSQL, unless CI=true, where it
    /// must be there.
    async fn database(deferred: bool) -> Option<Database> {
        if let Err(e) = psql("test", "SELECT 1") {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL is required in CI: {e}"
            );
            eprintln!("skipped: PostgreSQL at 127.0.0.1:5432 is unreachable: {e}");
            return None;
        }
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let name = format!("ssot_group_commit_{}_{nanos}", std::process::id());
        psql("test", &format!("CREATE DATABASE {name}")).unwrap();
        let when = if deferred {
            "DEFERRABLE INITIALLY DEFERRED"
        } else {
            ""
        };
        psql(
            &name,
            &format!(
                "CREATE TABLE rows (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name TEXT NOT NULL UNIQUE);
                 CREATE TABLE refs (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                     row_id BIGINT NOT NULL REFERENCES rows (id) {when});
                 CREATE TABLE \"_ssot_events\" (\"seq\" BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                     \"model\" TEXT NOT NULL, \"record_id\" TEXT NOT NULL, \"kind\" TEXT NOT NULL, \"data\" JSONB NOT NULL,
                     \"owner\" TEXT, \"created_at\" TIMESTAMPTZ NOT NULL);
                "
            ),
        )
        .unwrap();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
            .await
            .unwrap();
        Some(Database { name, pool })
    }

    impl Database {
        fn count(&self, table: &str) -> i64 {
            psql(&self.name, &format!("SELECT count(*) FROM {table}"))
                .unwrap()
                .parse()
                .unwrap()
        }
    }

    impl Drop for Database {
        fn drop(&mut self) {
            let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            if let Err(e) = psql("test", &drop) {
                eprintln!("could not drop database {}: {e}", self.name);
            }
        }
    }

    /// Inserts a row (and a reference when asked) and its outbox event (which takes the outbox lock), failing as
    /// `kind` says.
    fn insert(
        i: usize,
        kind: Kind,
    ) -> impl for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<Written, WriteError>>
           + Send
           + 'static {
        move |conn| {
            Box::pin(async move {
                let name = match kind {
                    Kind::Duplicate => "taken".to_owned(),
                    Kind::Refused => return Err(ApiError::forbidden().into()),
                    Kind::Panics => panic!("a write that panics (injected by the test)"),
                    _ => format!("row {i}"),
                };
                let id: i64 =
                    sqlx::query_scalar("INSERT INTO rows (name) VALUES ($1) RETURNING id")
                        .bind(&name)
                        .fetch_one(&mut *conn)
                        .await?;
                if kind == Kind::MissingReference {
                    sqlx::query("INSERT INTO refs (row_id) VALUES ($1)")
                        .bind(id + 1_000_000)
                        .execute(&mut *conn)
                        .await?;
                }
                let event = Event {
                    seq: 0,
                    model: "Row",
                    id: id.to_string(),
                    kind: EventKind::Created,
                    data: serde_json::json!({ "name": name }),
                    owner: None,
                    timestamp: chrono::Utc::now(),
                };
                let seq: i64 = sqlx::query_scalar(events::INSERT_POSTGRES)
                    .bind(event.model)
                    .bind(&event.id)
                    .bind(event.kind.as_str())
                    .bind(&event.data)
                    .bind(&event.owner)
                    .bind(event.timestamp)
                    .bind(events::POSTGRES_OUTBOX_LOCK)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(Written(id, vec![Event { seq, ..event }]))
            })
        }
    }

    /// Holds the outbox lock in a session of its own, as another instance committing would: the first write to
    /// reach its event waits for it, and the writes behind it queue up.
    async fn hold_outbox_lock(db: &Database) -> PoolConnection<Postgres> {
        let mut holder = db.pool.acquire().await.unwrap();
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(events::POSTGRES_OUTBOX_LOCK)
            .execute(&mut *holder)
            .await
            .unwrap();
        holder
    }

    async fn release_outbox_lock(mut holder: PoolConnection<Postgres>) {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(events::POSTGRES_OUTBOX_LOCK)
            .execute(&mut *holder)
            .await
            .unwrap();
    }

    /// Waits until a transaction waits for the outbox lock (which the test holds).
    async fn waiting_for_outbox_lock(db: &Database) {
        for _ in 0..1000 {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&db.pool)
            .await
            .unwrap();
            if waiting > 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("no write waited for the outbox lock");
    }

    /// Waits until `n` writes are queued.
    async fn queued(writer: &Writer, n: usize) {
        for _ in 0..1000 {
            if writer.queue.len() >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("the writes were not queued");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_transactions_each_get_their_own_answer_and_events_in_order() {
        let Some(db) = database(false).await else {
            return;
        };
        let writer = Writer::new(db.pool.clone(), Limits::default());
        let bus = EventBus::new(1024);
        let mut events = bus.subscribe();
        let holder = hold_outbox_lock(&db).await;
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let (writer, bus) = (writer.clone(), bus.clone());
                tokio::spawn(async move { writer.write(&bus, 10, insert(i, kind(i))).await })
            })
            .collect();
        queued(&writer, 150).await;
        // The outbox insert takes the lock: nothing has committed while another session holds it.
        assert_eq!(db.count("rows"), 0);
        release_outbox_lock(holder).await;
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        let committed = committed_of(outcomes);
        // Exactly the committed writes have rows and events, and nothing of the failed ones is left.
        assert_eq!(db.count("rows"), committed.len() as i64);
        assert_eq!(db.count("refs"), 0);
        assert_eq!(db.count("\"_ssot_events\""), committed.len() as i64);
        // Every committed event was published once, in sequence order.
        let mut published = Vec::new();
        while let Ok(event) = events.try_recv() {
            published.push(event.seq);
        }
        let mut seqs: Vec<i64> = committed.iter().map(|(_, seq)| *seq).collect();
        seqs.sort();
        assert_eq!(published, seqs);
        let stats = writer.stats();
        assert_eq!(stats.writes, 200);
        // The leader's first batch, then at most 64 writes per transaction.
        assert!(
            (4..=6).contains(&stats.batches),
            "200 queued writes took {} transactions",
            stats.batches
        );
    }

    #[tokio::test]
    async fn a_lone_write_commits_in_its_own_transaction_and_a_failed_one_leaves_nothing() {
        let Some(db) = database(false).await else {
            return;
        };
        let writer = Writer::new(db.pool.clone(), Limits::default());
        let bus = EventBus::new(16);
        let mut events = bus.subscribe();
        let Written(id, written) = writer.write(&bus, 10, insert(0, Kind::Fine)).await.unwrap();
        assert_eq!((id, written[0].seq), (1, 1));
        assert_eq!(events.try_recv().unwrap().seq, 1);
        let failed = writer
            .write(&bus, 10, insert(1, Kind::MissingReference))
            .await;
        assert_eq!(
            failed.err().unwrap().into_api(false).code,
            "reference_not_found"
        );
        assert_eq!(db.count("rows"), 1);
        assert!(
            events.try_recv().is_err(),
            "a failed write publishes nothing"
        );
        assert_eq!(
            writer.stats(),
            Stats {
                batches: 2,
                writes: 2
            }
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_that_cannot_commit_fails_every_write_and_publishes_nothing() {
        // References are checked at commit: a missing one fails the transaction as a whole.
        let Some(db) = database(true).await else {
            return;
        };
        let writer = Writer::new(db.pool.clone(), Limits::default());
        let bus = EventBus::new(64);
        let mut events = bus.subscribe();
        let holder = hold_outbox_lock(&db).await;
        let spawn = |i: usize| {
            let (writer, bus) = (writer.clone(), bus.clone());
            let kind = if i == 3 {
                Kind::MissingReference
            } else {
                Kind::Fine
            };
            tokio::spawn(async move { writer.write(&bus, 10, insert(i, kind)).await })
        };
        // A fine write leads, alone, and waits for the outbox lock; the other four queue behind it.
        let mut tasks = vec![spawn(0)];
        waiting_for_outbox_lock(&db).await;
        tasks.extend((1..5).map(spawn));
        queued(&writer, 4).await;
        release_outbox_lock(holder).await;
        let mut failed = 0;
        for task in tasks {
            if let Err(e) = task.await.unwrap() {
                assert_eq!(e.into_api(false).code, "internal");
                failed += 1;
            }
        }
        // The leader's lone write committed; the four queued behind it shared the transaction that failed.
        assert_eq!(failed, 4);
        assert_eq!(db.count("rows"), 1);
        assert_eq!(events.try_recv().unwrap().seq, 1);
        assert!(
            events.try_recv().is_err(),
            "nothing of the failed batch was published"
        );
        // The writer goes on with a fresh transaction.
        writer.write(&bus, 10, insert(9, Kind::Fine)).await.unwrap();
        assert_eq!(db.count("rows"), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_are_bounded_and_a_full_queue_is_refused_at_once() {
        let Some(db) = database(false).await else {
            return;
        };
        let limits = Limits {
            batch_max: 4,
            batch_bytes: 25,
            queue_max: 10,
        };
        let writer = Writer::new(db.pool.clone(), limits);
        let bus = EventBus::new(64);
        let holder = hold_outbox_lock(&db).await;
        // The first write leads (and waits for the lock); ten more fill the queue.
        let first = {
            let (writer, bus) = (writer.clone(), bus.clone());
            tokio::spawn(async move { writer.write(&bus, 10, insert(0, Kind::Fine)).await })
        };
        while writer.stats().batches == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let tasks: Vec<_> = (1..11)
            .map(|i| {
                let (writer, bus) = (writer.clone(), bus.clone());
                tokio::spawn(async move { writer.write(&bus, 10, insert(i, Kind::Fine)).await })
            })
            .collect();
        queued(&writer, 10).await;
        let refused = writer.write(&bus, 10, insert(11, Kind::Fine)).await;
        let refused = refused.err().unwrap().into_api(false);
        assert_eq!((refused.status.as_u16(), refused.code), (503, "overloaded"));
        release_outbox_lock(holder).await;
        first.await.unwrap().unwrap();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        // One batch of the leader's write, then the ten queued by 25 bytes (two writes of 10) at a time.
        assert_eq!(
            writer.stats(),
            Stats {
                batches: 6,
                writes: 11
            }
        );
        assert_eq!(db.count("rows"), 11);
    }

    #[tokio::test]
    async fn a_batch_max_of_one_gives_each_write_its_own_transaction_unqueued() {
        let Some(db) = database(false).await else {
            return;
        };
        let limits = Limits {
            batch_max: 1,
            ..Limits::default()
        };
        let writer = Writer::new(db.pool.clone(), limits);
        let bus = EventBus::new(64);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (writer, bus) = (writer.clone(), bus.clone());
                tokio::spawn(async move { writer.write(&bus, 10, insert(i, Kind::Fine)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(
            writer.stats(),
            Stats {
                batches: 8,
                writes: 8
            }
        );
        assert_eq!(db.count("\"_ssot_events\""), 8);
    }
}
