//! The feed: hands committed events to the hub exactly once each, in sequence order, whichever instance wrote
//! them. Local writes arrive on the in-process bus (the fast path); on PostgreSQL, writes of other instances are
//! announced by NOTIFY (only the sequence number), and the events themselves are read from the outbox. Whenever
//! the feed is unsure what it missed (an out-of-order or lagged bus, a notification, a lost LISTEN connection, a
//! periodic check), it reads the outbox after the last event it dispatched, so nothing is skipped.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use super::events::Event;
use super::outbox;
use super::{App, Db};
use crate::channels::Channel;

/// Events read from the outbox per query while catching up.
const CATCH_UP_BATCH: i64 = 1000;

/// Starts the feed and the outbox pruning in the background; waits (a few seconds at most) until the feed receives
/// events, so that a server that says it is listening is also healthy.
pub async fn start(app: &App) {
    let bus = app.events.subscribe();
    let (wake, woken) = tokio::sync::watch::channel(0i64);
    if let Db::Postgres(db) = &app.db {
        // A connection of its own, outside the request pool: it is held for the server's life, and would take one
        // of the requests' connections away; and the pool's idle connections must not stand in for it when it is
        // lost (requests may still reach the database when new connections cannot).
        let listening = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with((*db.pool.connect_options()).clone());
        tokio::spawn(listen(listening, wake.clone(), app.clone()));
    } else {
        // One instance, in-process: nothing to listen to.
        app.feed_healthy.store(true, Ordering::Release);
    }
    tokio::spawn(run(app.clone(), bus, woken, wake));
    tokio::spawn(prune(app.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !app.feed_healthy.load(Ordering::Acquire) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn dispatch(app: &App, event: &Event) {
    let list = Channel::List(event.model).name();
    let item = Channel::Item(event.model, event.id.clone()).name();
    app.hub.dispatch(event, &item, &list);
}

/// What one turn of the feed's loop received.
enum Input {
    /// An event committed by this instance, or word that the bus lost some.
    Bus(Result<Arc<Event>, RecvError>),
    /// A NOTIFY announced a sequence number (`false`: the listener is gone, the server is stopping).
    Announced(bool),
    /// The periodic check.
    Poll,
}

/// The feed's loop (see the module doc). It holds `_wake` so that `woken` stays open on SQLite, where no listener
/// holds it.
async fn run(
    app: App,
    mut bus: tokio::sync::broadcast::Receiver<Arc<Event>>,
    mut woken: tokio::sync::watch::Receiver<i64>,
    _wake: tokio::sync::watch::Sender<i64>,
) {
    let mut poll = tokio::time::interval(app.config.feed_poll_interval);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // The `select!` only receives; the handling below is code that rustfmt and clippy see.
        let input = tokio::select! {
            received = bus.recv() => Input::Bus(received),
            changed = woken.changed() => Input::Announced(changed.is_ok()),
            _ = poll.tick() => Input::Poll,
        };
        match input {
            Input::Bus(Ok(event)) => {
                let head = app.hub.head();
                if event.seq == head + 1 {
                    dispatch(&app, &event);
                } else if event.seq > head {
                    // An earlier event is still on its way (or was written elsewhere): read them in order.
                    catch_up(&app).await;
                }
            }
            Input::Bus(Err(RecvError::Lagged(missed))) => {
                tracing::warn!(
                    missed,
                    "the feed fell behind the event bus; reading the outbox"
                );
                catch_up(&app).await;
            }
            Input::Bus(Err(RecvError::Closed)) | Input::Announced(false) => return,
            Input::Announced(true) => {
                let announced = *woken.borrow_and_update();
                if announced > app.hub.head() {
                    catch_up(&app).await;
                }
            }
            Input::Poll => catch_up(&app).await,
        }
    }
}

/// Dispatches every outbox event after the hub's head, in order. Retries until the database answers.
async fn catch_up(app: &App) {
    let mut delay = Duration::from_millis(50);
    loop {
        let range = outbox::Range {
            after: app.hub.head(),
            through: None,
            model: None,
            record_id: None,
            limit: CATCH_UP_BATCH,
        };
        metrics::counter!(super::metrics::FEED_CATCH_UP_READS).increment(1);
        match outbox::read(&app.db, range).await {
            Ok(events) => {
                for event in &events {
                    dispatch(app, event);
                }
                if (events.len() as i64) < CATCH_UP_BATCH {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the outbox failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// LISTENs for the sequence numbers of committed events (of every instance). While the LISTEN connection is down,
/// the server reports unhealthy; once it is back, the feed catches up from the outbox.
async fn listen(pool: sqlx::PgPool, wake: tokio::sync::watch::Sender<i64>, app: App) {
    let mut delay = Duration::from_millis(100);
    let mut first = true;
    loop {
        let listening = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener
                .listen(super::events::POSTGRES_NOTIFY_CHANNEL)
                .await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = match listening.await {
            Ok(listener) => listener,
            Err(e) => {
                app.feed_healthy.store(false, Ordering::Release);
                tracing::warn!(error = %e, "cannot LISTEN for events; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        delay = Duration::from_millis(100);
        if !std::mem::take(&mut first) {
            metrics::counter!(super::metrics::FEED_LISTEN_RECONNECTS).increment(1);
        }
        // Whatever was committed while not listening is read from the outbox.
        let _ = wake.send(i64::MAX);
        app.feed_healthy.store(true, Ordering::Release);
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Ok(seq) = notification.payload().parse::<i64>() {
                        let _ = wake.send(seq);
                    }
                }
                Ok(None) => {
                    tracing::warn!("lost the LISTEN connection; reconnecting");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the LISTEN connection failed; reconnecting");
                    break;
                }
            }
        }
        app.feed_healthy.store(false, Ordering::Release);
    }
}

/// Deletes outbox events older than the retention, periodically.
async fn prune(app: App) {
    let mut tick = tokio::time::interval(app.config.outbox_prune_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match outbox::prune(&app.db, app.config.outbox_retention).await {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "pruned the outbox"),
            Err(e) => tracing::warn!(error = %e, "pruning the outbox failed"),
        }
    }
}
