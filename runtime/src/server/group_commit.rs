//! Group commit on SQLite: concurrent mutations share one transaction and one commit.
//!
//! Each mutation writes its row and its outbox event in one transaction, which is what makes delivery exact. Paid
//! per request, that transaction (its `BEGIN`, its WAL frames, its `COMMIT`) is most of a write's cost, and every
//! writer waits for the single SQLite writer in turn. Here a request puts its write in a queue; when no one is
//! writing, that request becomes the *leader*: it takes the queued writes (its own first), runs each in a savepoint
//! of one transaction, commits once, publishes the events in sequence order and answers each request. Writes that
//! arrive meanwhile wait in the queue for the next batch.
//!
//! - **No delay for a lone write.** A write that finds no one writing runs at once, without a savepoint: a batch
//!   of one is the transaction a request had before.
//! - **Per-request semantics.** One failing write (a unique or foreign key violation, a refused access, a hook's
//!   error, a panic) rolls back its savepoint only: the others commit. A response still means committed: each
//!   request is answered after the batch's commit, with its own outcome. If the commit itself fails, every write of
//!   the batch gets that error and none of their events is published.
//! - **Order.** Writes run in the order they were queued; their events, numbered by the outbox in that order, are
//!   published in it, so the feed hands them to the hub without reading the outbox back.
//! - **Bounds.** A batch holds at most `batch_max` writes and about `batch_bytes` of input; the queue holds at most
//!   `queue_max` writes, and a write that finds it full is refused with 503 `overloaded` at once. Hooks run before a
//!   write is queued (`rest::write`), so a slow hook delays only its own request, never a batch.
//! - **Fairness.** A leader commits the batch that holds its own write and then hands the queue to a task of its
//!   own, which keeps committing batches (yielding to the scheduler between them) until the queue is empty: a
//!   request is never held back to write other requests' batches.
//!
//! The queue, its bounds and its counts (`Queue`) are shared with PostgreSQL's group commit
//! (`group_commit_postgres`); how a batch runs is each database's own.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::error::{ApiError, WriteError};
use super::events::{Event, EventBus};

/// Bounds of the write queue and of each batch (`WRITE_*` settings, docs/operations.md).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most writes in one transaction (`WRITE_BATCH_MAX`; 1 gives each write its own transaction).
    pub batch_max: usize,
    /// Most bytes of input (SQL and parameters, as the writes estimate them) in one transaction, unless a single
    /// write is larger (`WRITE_BATCH_BYTES`).
    pub batch_bytes: usize,
    /// Most writes waiting; one more is refused with 503 (`WRITE_QUEUE_MAX`).
    pub queue_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            batch_max: 128,
            batch_bytes: 4 << 20,
            queue_max: 4096,
        }
    }
}

/// What a committed write announces: the events its transaction wrote to the outbox, which the leader publishes
/// after the commit.
pub trait Announces {
    /// The events, in the order written.
    fn events(&self) -> &[Event];

    /// The same, to be numbered: on PostgreSQL a batch writes the events of all its writes to the outbox at once,
    /// after they ran, and sets the sequence numbers it drew here (`group_commit_postgres`).
    fn events_mut(&mut self) -> &mut [Event];
}

/// The single writer connection and the queue of writes waiting for it.
pub struct Writer {
    conn: Arc<Mutex<Connection>>,
    queue: Queue<Job>,
}

/// How the writes were grouped so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Transactions begun for batches.
    pub batches: u64,
    /// Writes taken into them (committed or not).
    pub writes: u64,
}

/// The queue of writes waiting for a database's writer, its bounds, and how its writes were grouped: the part of the
/// group commit that SQLite's writer (here) and PostgreSQL's (`group_commit_postgres`) share. `J` is a queued write.
pub(crate) struct Queue<J> {
    state: Mutex<Waiting<J>>,
    limits: Limits,
    /// Most leaders committing batches at once: 1 on SQLite (one writer connection); more on PostgreSQL, where a
    /// batch's writes can run while another batch commits.
    leaders_max: usize,
    /// A leader beyond the first starts only for a backlog: when more than this many writes wait.
    backlog: usize,
    /// Transactions begun for batches, and the writes they held, since the start.
    batches: AtomicU64,
    writes: AtomicU64,
}

struct Waiting<J> {
    /// The writes and their estimated bytes, oldest first.
    jobs: VecDeque<(usize, J)>,
    /// Leaders (or the tasks they handed over to) committing: a new write waits for one of them, unless there are
    /// none, or fewer than `leaders_max` and a backlog. Zero only when `jobs` is empty; both change under the same lock, so no write is
    /// left behind in the queue.
    leaders: usize,
}

impl<J> Queue<J> {
    /// A queue with at most `leaders_max` leaders at once, a leader beyond the first only while more than `backlog`
    /// writes wait.
    pub(crate) fn new(limits: Limits, leaders_max: usize, backlog: usize) -> Queue<J> {
        Queue {
            state: Mutex::new(Waiting {
                jobs: VecDeque::new(),
                leaders: 0,
            }),
            limits: Limits {
                batch_max: limits.batch_max.max(1),
                ..limits
            },
            leaders_max: leaders_max.max(1),
            backlog,
            batches: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            batches: self.batches.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }

    /// Counts a transaction that held `writes` writes.
    pub(crate) fn count(&self, writes: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.writes.fetch_add(writes as u64, Ordering::Relaxed);
    }

    /// Queues `job` (of `weight` estimated bytes). Returns whether the caller leads: no leader was committing, or
    /// fewer than `leaders_max` with more than `backlog` writes waiting, so it must commit batches until the queue
    /// is empty. A full queue refuses the write with 503
    /// `overloaded`.
    pub(crate) fn push(&self, weight: usize, job: J) -> Result<bool, ApiError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.jobs.len() >= self.limits.queue_max {
            return Err(overloaded());
        }
        state.jobs.push_back((weight, job));
        let lead = state.leaders == 0
            || (state.leaders < self.leaders_max && state.jobs.len() > self.backlog);
        if lead {
            state.leaders += 1;
        }
        Ok(lead)
    }

    /// The writes of the next batch, oldest first, within the bounds (at least one if any is queued); counted.
    pub(crate) fn take(&self) -> Vec<J> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut bytes = 0usize;
        let mut batch = Vec::new();
        while let Some((weight, _)) = state.jobs.front() {
            let full = batch.len() >= self.limits.batch_max
                || (!batch.is_empty() && bytes + weight > self.limits.batch_bytes);
            if full {
                break;
            }
            bytes += weight;
            batch.extend(state.jobs.pop_front().map(|(_, job)| job));
        }
        drop(state);
        if !batch.is_empty() {
            self.count(batch.len());
        }
        batch
    }

    /// After a leader's batch: whether more writes are waiting (the leader commits them next); when none are, the
    /// leader stops.
    pub(crate) fn more(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let more = !state.jobs.is_empty();
        if !more {
            state.leaders -= 1;
        }
        more
    }

    /// Whether writes are waiting for a batch (a leader committing begins the next one's transaction then).
    pub(crate) fn waiting(&self) -> bool {
        !self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .jobs
            .is_empty()
    }

    /// Writes waiting (tests wait for a queue to fill).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .jobs
            .len()
    }
}

/// Runs a queued write on the batch's connection, or, given the error that keeps its batch from running, fails it
/// unrun.
type Run = Box<dyn FnOnce(Result<&Connection, &rusqlite::Error>) -> Ran + Send>;

/// Answers a write's request after its batch ended: `None` if the transaction committed, else why not (the answer is
/// then an error, whatever the write returned).
type Answer = Box<dyn FnOnce(Option<&rusqlite::Error>) + Send>;

/// A queued write, its types erased: run it (inside the batch's transaction), and later answer its request.
struct Job {
    run: Run,
}

/// A write that ran: its events (none if it failed) and how to answer its request once the batch's fate is known.
struct Ran {
    ok: bool,
    events: Vec<Event>,
    answer: Answer,
}

impl Writer {
    /// A writer for `conn` (shared with `Sqlite`'s unbounded background writes, which take its lock too).
    pub fn new(conn: Arc<Mutex<Connection>>, limits: Limits) -> Arc<Writer> {
        Arc::new(Writer {
            conn,
            queue: Queue::new(limits, 1, 0),
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
        F: FnOnce(&Connection) -> Result<T, WriteError> + Send + 'static,
    {
        let (reply, answered) = tokio::sync::oneshot::channel();
        let job = Job {
            run: Box::new(move |conn| {
                let outcome = match conn {
                    // A panic (a bug in a hook or a conversion) fails this write only; the panic hook logged it.
                    Ok(conn) => std::panic::catch_unwind(AssertUnwindSafe(|| write(conn)))
                        .unwrap_or_else(|_| Err(ApiError::internal_logged().into())),
                    Err(e) => Err(WriteError::Sqlite(replay(e))),
                };
                let (ok, events) = match &outcome {
                    Ok(value) => (true, value.events().to_vec()),
                    Err(_) => (false, Vec::new()),
                };
                Ran {
                    ok,
                    events,
                    answer: Box::new(move |failed| {
                        let outcome = match failed {
                            Some(e) if outcome.is_ok() => Err(WriteError::Sqlite(replay(e))),
                            _ => outcome,
                        };
                        // The request may be gone (its client hung up); its write is committed all the same.
                        let _ = reply.send(outcome);
                    }),
                }
            }),
        };
        let lead = self.queue.push(weight, job)?;
        if lead && self.commit_batch(bus) {
            // More arrived while this batch ran: a task of its own commits them, and this request is answered now.
            let writer = self.clone();
            let bus = bus.clone();
            tokio::spawn(async move {
                while writer.commit_batch(&bus) {
                    tokio::task::yield_now().await;
                }
            });
        }
        answered.await.unwrap_or_else(|_| {
            Err(ApiError::internal("a queued write was dropped without an answer").into())
        })
    }

    /// Takes the next batch from the queue and commits it. Returns whether more writes are waiting (the caller
    /// commits them next); when none are, the caller stops leading.
    fn commit_batch(&self, bus: &EventBus) -> bool {
        let batch = self.queue.take();
        if !batch.is_empty() {
            let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            for ran in run_batch(&conn, batch) {
                for event in &ran.events {
                    bus.publish(event.clone());
                }
                (ran.answer)(None);
            }
        }
        self.queue.more()
    }
}

/// 503 `overloaded`: the write queue is full.
fn overloaded() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "the server has too many writes waiting; retry shortly",
    )
}

/// The same failure again, for each write of a batch whose transaction failed (rusqlite's error is not `Clone`).
fn replay(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

/// Runs `batch` in one transaction and commits it. Returns the writes that ran, in order, to be published and
/// answered; when the transaction failed as a whole, every write of the batch is answered here with its error and
/// none is returned.
fn run_batch(conn: &Connection, batch: Vec<Job>) -> Vec<Ran> {
    // A batch of one needs no savepoint: if it fails, the transaction is rolled back as a whole.
    let savepoints = batch.len() > 1;
    let mut done: Vec<Ran> = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    let failure = match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => run_jobs(conn, &mut jobs, &mut done, savepoints).err(),
        Err(e) => Some(e),
    };
    let failure = failure.or_else(|| {
        let end = if !savepoints && !done[0].ok {
            "ROLLBACK"
        } else {
            "COMMIT"
        };
        conn.execute_batch(end).err()
    });
    let Some(e) = failure else {
        return done;
    };
    if !conn.is_autocommit() {
        if let Err(rollback) = conn.execute_batch("ROLLBACK") {
            tracing::error!(error = %rollback, "rolling back a failed batch failed");
        }
    }
    tracing::error!(error = %e, writes = done.len() + jobs.len(), "a batch of writes failed as a whole");
    // Those not run yet fail unrun; those that ran are answered with the transaction's error.
    done.extend(jobs.map(|job| (job.run)(Err(&e))));
    for ran in done {
        (ran.answer)(Some(&e));
    }
    Vec::new()
}

/// Runs the batch's writes inside its open transaction, each in a savepoint (if `savepoints`), pushing each to
/// `done` as it ran. Stops at an error that ends the transaction as a whole.
fn run_jobs(
    conn: &Connection,
    jobs: &mut impl Iterator<Item = Job>,
    done: &mut Vec<Ran>,
    savepoints: bool,
) -> rusqlite::Result<()> {
    for job in jobs {
        if savepoints {
            statement(conn, "SAVEPOINT \"write\"")?;
        }
        let ran = (job.run)(Ok(conn));
        let ok = ran.ok;
        done.push(ran);
        if conn.is_autocommit() {
            // A failure SQLite answers by rolling back the whole transaction (a full disk, an I/O error): the
            // writes before this one are gone with it.
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                Some("the batch's transaction was rolled back by SQLite".to_owned()),
            ));
        }
        if savepoints && !ok {
            statement(conn, "ROLLBACK TO \"write\"")?;
        }
        if savepoints {
            statement(conn, "RELEASE \"write\"")?;
        }
    }
    Ok(())
}

/// Runs one cached statement (the savepoints'), which returns no rows.
fn statement(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::server::events::EventKind;

    /// A write's outcome in these tests (and the PostgreSQL writer's): the row's id and its event.
    pub(crate) struct Written(pub(crate) i64, pub(crate) Vec<Event>);

    #[test]
    fn a_leader_beyond_the_first_starts_only_for_a_backlog() {
        let queue: Queue<()> = Queue::new(Limits::default(), 2, 2);
        // The first write always finds (or makes) a leader.
        assert!(queue.push(1, ()).unwrap());
        // Two waiting are no backlog; the third is.
        assert!(!queue.push(1, ()).unwrap());
        assert!(queue.push(1, ()).unwrap());
        // Two leaders at most.
        assert!(!queue.push(1, ()).unwrap());
        assert!(!queue.push(1, ()).unwrap());
        assert_eq!(queue.take().len(), 5);
        // Both leaders find the queue empty and stop; the next write leads again.
        assert!(!queue.more());
        assert!(!queue.more());
        assert!(queue.push(1, ()).unwrap());
    }

    impl Announces for Written {
        fn events(&self) -> &[Event] {
            &self.1
        }

        fn events_mut(&mut self) -> &mut [Event] {
            &mut self.1
        }
    }

    /// A writer on a database in memory with a table of named rows (unique names), a table referencing it, and an
    /// outbox.
    fn writer(limits: Limits) -> (Arc<Writer>, Arc<Mutex<Connection>>) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE rows (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
             CREATE TABLE refs (id INTEGER PRIMARY KEY, row_id INTEGER NOT NULL REFERENCES rows (id));
             CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, row_id INTEGER NOT NULL);
            ",
        )
        .unwrap();
        let conn = Arc::new(Mutex::new(conn));
        (Writer::new(conn.clone(), limits), conn)
    }

    /// What write `i` of `insert` does.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub(crate) enum Kind {
        Fine,
        /// Its name is taken (by the first of its kind to commit).
        Duplicate,
        /// It references a row that does not exist.
        MissingReference,
        /// Refused before it touches the database (as a hook or an access rule would).
        Refused,
        Panics,
    }

    pub(crate) fn kind(i: usize) -> Kind {
        match i % 10 {
            3 => Kind::Refused,
            4 | 8 => Kind::Duplicate,
            6 => Kind::MissingReference,
            9 if i % 20 == 9 => Kind::Panics,
            _ => Kind::Fine,
        }
    }

    /// Checks that write `i` got the answer its `kind` calls for (exactly one duplicate takes the name); returns
    /// the committed ones' ids and seqs.
    pub(crate) fn committed_of(outcomes: Vec<Result<Written, WriteError>>) -> Vec<(i64, i64)> {
        let mut committed = Vec::new();
        let mut duplicates_committed = 0;
        for (i, outcome) in outcomes.into_iter().enumerate() {
            match (kind(i), outcome) {
                (Kind::Fine, Ok(Written(id, events))) => committed.push((id, events[0].seq)),
                (Kind::Duplicate, Ok(Written(id, events))) => {
                    duplicates_committed += 1;
                    committed.push((id, events[0].seq));
                }
                (Kind::Duplicate, Err(e)) => assert_eq!(e.into_api(false).code, "conflict"),
                (Kind::MissingReference, Err(e)) => {
                    assert_eq!(e.into_api(false).code, "reference_not_found")
                }
                (Kind::Refused, Err(e)) => assert_eq!(e.into_api(false).code, "forbidden"),
                (Kind::Panics, Err(e)) => assert_eq!(e.into_api(false).code, "internal"),
                (kind, outcome) => panic!("write {i} ({kind:?}): {:?}", outcome.err()),
            }
        }
        assert_eq!(duplicates_committed, 1, "one write takes the name");
        committed
    }

    /// Inserts a row (and a reference when asked) and its outbox event, failing as `kind` says.
    fn insert(i: usize, kind: Kind) -> impl FnOnce(&Connection) -> Result<Written, WriteError> {
        move |conn| {
            let name = match kind {
                Kind::Duplicate => "taken".to_owned(),
                Kind::Refused => return Err(ApiError::forbidden().into()),
                Kind::Panics => panic!("a write that panics (injected by the test)"),
                _ => format!("row {i}"),
            };
            let id: i64 = conn.query_row(
                "INSERT INTO rows (name) VALUES (?1) RETURNING id",
                [&name],
                |row| row.get(0),
            )?;
            if kind == Kind::MissingReference {
                conn.execute("INSERT INTO refs (row_id) VALUES (?1)", [id + 1_000_000])?;
            }
            let seq: i64 = conn.query_row(
                "INSERT INTO outbox (row_id) VALUES (?1) RETURNING seq",
                [id],
                |row| row.get(0),
            )?;
            let event = Event {
                seq,
                model: "Row",
                id: id.to_string(),
                kind: EventKind::Created,
                data: serde_json::json!({ "name": name }),
                owner: None,
                timestamp: chrono::Utc::now(),
            };
            Ok(Written(id, vec![event]))
        }
    }

    fn count(conn: &Mutex<Connection>, sql: &str) -> i64 {
        conn.lock()
            .unwrap()
            .query_row(sql, [], |row| row.get(0))
            .unwrap()
    }

    /// Waits until `n` writes are queued behind the one that holds the connection.
    async fn queued(writer: &Writer, n: usize) {
        for _ in 0..1000 {
            if writer.queue.len() >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        panic!("the writes were not queued");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[allow(
        clippy::await_holding_lock,
        reason = "the test holds the writer's connection on purpose, so that writes queue up"
    )]
    async fn concurrent_writes_each_get_their_own_answer_and_only_committed_events_are_published() {
        let (writer, conn) = writer(Limits::default());
        let bus = EventBus::new(1024);
        let mut events = bus.subscribe();
        // Hold the connection, so that the writes queue up and commit in batches (each write still answered
        // on its own).
        let held = conn.lock().unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let (writer, bus) = (writer.clone(), bus.clone());
                tokio::spawn(async move { writer.write(&bus, 10, insert(i, kind(i))).await })
            })
            .collect();
        queued(&writer, 150).await;
        drop(held);
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        let committed = committed_of(outcomes);
        // Exactly the committed writes have rows and events, and nothing of the failed ones is left.
        assert_eq!(
            count(&conn, "SELECT count(*) FROM rows"),
            committed.len() as i64
        );
        assert_eq!(count(&conn, "SELECT count(*) FROM refs"), 0);
        assert_eq!(
            count(&conn, "SELECT count(*) FROM outbox"),
            committed.len() as i64
        );
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
        assert!(
            stats.batches <= 4,
            "200 queued writes took {} transactions",
            stats.batches
        );
    }

    #[tokio::test]
    async fn a_lone_write_commits_in_its_own_transaction_and_a_failed_one_leaves_nothing() {
        let (writer, conn) = writer(Limits::default());
        let bus = EventBus::new(16);
        let Written(id, events) = writer.write(&bus, 10, insert(0, Kind::Fine)).await.unwrap();
        assert_eq!((id, events[0].seq), (1, 1));
        let failed = writer
            .write(&bus, 10, insert(1, Kind::MissingReference))
            .await;
        assert_eq!(
            failed.err().unwrap().into_api(false).code,
            "reference_not_found"
        );
        assert_eq!(count(&conn, "SELECT count(*) FROM rows"), 1);
        assert_eq!(
            writer.stats(),
            Stats {
                batches: 2,
                writes: 2
            }
        );
        assert!(
            conn.lock().unwrap().is_autocommit(),
            "no transaction is left open"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[allow(
        clippy::await_holding_lock,
        reason = "the test holds the writer's connection on purpose, so that writes queue up"
    )]
    async fn batches_are_bounded_and_a_full_queue_is_refused_at_once() {
        let limits = Limits {
            batch_max: 4,
            batch_bytes: 25,
            queue_max: 10,
        };
        let (writer, conn) = writer(limits);
        let bus = EventBus::new(64);
        let held = conn.lock().unwrap();
        // The first write leads (and waits for the connection); ten more fill the queue.
        let tasks: Vec<_> = (0..11)
            .map(|i| {
                let (writer, bus) = (writer.clone(), bus.clone());
                tokio::spawn(async move { writer.write(&bus, 10, insert(i, Kind::Fine)).await })
            })
            .collect();
        queued(&writer, 10).await;
        let refused = writer.write(&bus, 10, insert(11, Kind::Fine)).await;
        let refused = refused.err().unwrap().into_api(false);
        assert_eq!((refused.status.as_u16(), refused.code), (503, "overloaded"));
        drop(held);
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
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_that_cannot_commit_fails_every_write_and_publishes_nothing() {
        let file = std::env::temp_dir().join(format!(
            "ssot-group-commit-{}-{}.db",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let conn = Connection::open(&file).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 20;
             CREATE TABLE rows (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
             CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, row_id INTEGER NOT NULL);
            ",
        )
        .unwrap();
        let writer = Writer::new(Arc::new(Mutex::new(conn)), Limits::default());
        let bus = EventBus::new(64);
        let mut events = bus.subscribe();
        // Another process holds the write lock, longer than the writer waits for it.
        let other = Connection::open(&file).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let (writer, bus) = (writer.clone(), bus.clone());
                tokio::spawn(async move { writer.write(&bus, 10, insert(i, Kind::Fine)).await })
            })
            .collect();
        for task in tasks {
            let e = task.await.unwrap().err().expect("no write can commit");
            assert!(matches!(e, WriteError::Sqlite(_)));
        }
        assert!(events.try_recv().is_err(), "nothing was published");
        other.execute_batch("ROLLBACK").unwrap();
        // The writer is usable again once the lock is free.
        writer.write(&bus, 10, insert(9, Kind::Fine)).await.unwrap();
        assert_eq!(events.try_recv().unwrap().seq, 1);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
}
