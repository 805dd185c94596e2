//! Who is subscribed to what, and the fan-out of committed events to them. The feed calls `dispatch` once per
//! event, in sequence order; a subscription registers under the same lock, so it is live from a known sequence
//! number with no window in which an event could slip past it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;

use super::events::Event;
use crate::protocol::close;

/// A serialized text frame, shared by every subscriber it goes to.
pub type Frame = Utf8Bytes;

/// Which of a model's events one subscriber may see, decided when it subscribes (the model's read rule applied to
/// its token): all of them, or those of rows it owns or that are its own user row.
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    pub all: bool,
    /// The subscriber's id as the model's owner field prints it.
    pub owner: Option<String>,
    /// The subscriber's id as the model's id prints it (`self` rule).
    pub own_row: Option<String>,
}

impl Visibility {
    pub fn allows(&self, event: &Event) -> bool {
        self.all
            || self
                .owner
                .as_deref()
                .is_some_and(|owner| event.owner.as_deref() == Some(owner))
            || self.own_row.as_deref() == Some(event.id.as_str())
    }
}

/// What the hub hands one connection: its send queue and its kill switch, with one wake-up for both. The queue
/// is a `VecDeque` that allocates only when an event arrives, so an idle connection costs a few words here.
#[derive(Debug, Default)]
pub struct Outlet {
    queue: Mutex<VecDeque<Frame>>,
    /// The close code once the connection is to close (0 until then).
    code: AtomicU16,
    /// Woken when the queue becomes non-empty and when the connection is killed.
    wake: tokio::sync::Notify,
}

impl Outlet {
    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Frame>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame; `false` when `capacity` frames are waiting already (the connection is too slow). Wakes the
    /// connection only when its queue was empty: it takes everything queued at once.
    fn push(&self, frame: Frame, capacity: usize) -> bool {
        let mut queue = self.queue();
        if queue.len() >= capacity {
            return false;
        }
        queue.push_back(frame);
        let first = queue.len() == 1;
        drop(queue);
        if first {
            self.wake.notify_one();
        }
        true
    }

    /// Moves every queued frame to the back of `into` (empty: swapped, so that both keep their capacity).
    pub fn take(&self, into: &mut VecDeque<Frame>) {
        let mut queue = self.queue();
        if into.is_empty() {
            std::mem::swap(&mut *queue, into);
        } else {
            into.extend(queue.drain(..));
        }
    }

    /// Tells the connection to close with `code` (the first code given wins).
    pub fn kill(&self, code: u16) {
        if self
            .code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.wake.notify_one();
        }
    }

    /// The close code, once the connection is to close.
    pub fn code(&self) -> Option<u16> {
        Some(self.code.load(Ordering::Acquire)).filter(|code| *code != 0)
    }

    /// Resolves once frames may be waiting or the connection is to close (check `code`, then `take`). A wake-up
    /// is stored when nobody waits, so none is lost between a `take` and the next wait.
    pub fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    /// Resolves with the close code once the connection is to close. It consumes the wake-ups of queued frames
    /// too: after waiting on it, `take` before waiting on `woken` again.
    pub async fn killed(&self) -> u16 {
        loop {
            if let Some(code) = self.code() {
                return code;
            }
            self.wake.notified().await;
        }
    }
}

struct Subscriber {
    outlet: Arc<Outlet>,
    visibility: Visibility,
    /// `Some` while the subscription's replay is being written: live events wait here, in order.
    pending: Option<Vec<Frame>>,
}

struct Connection {
    outlet: Arc<Outlet>,
    channels: HashSet<String>,
}

#[derive(Default)]
struct State {
    /// The last event dispatched.
    head: i64,
    /// Channel name -> connection id -> subscriber.
    channels: HashMap<String, HashMap<u64, Subscriber>>,
    connections: HashMap<u64, Connection>,
    next_id: u64,
    /// Set by `shut_down`: connections made later are told to close at once.
    closing: bool,
}

/// Why a subscription was refused.
#[derive(Debug)]
pub enum SubscribeError {
    AlreadySubscribed,
    TooManySubscriptions(usize),
    /// The connection is closing.
    Gone,
}

pub struct Hub {
    state: Mutex<State>,
    /// Frames a connection may have waiting before it is cut off as too slow.
    queue_capacity: usize,
    max_subscriptions: usize,
}

impl Hub {
    pub fn new(head: i64, queue_capacity: usize, max_subscriptions: usize) -> Hub {
        Hub {
            state: Mutex::new(State {
                head,
                ..State::default()
            }),
            queue_capacity: queue_capacity.max(1),
            max_subscriptions,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last event dispatched.
    pub fn head(&self) -> i64 {
        self.lock().head
    }

    /// Registers a connection; returns its id and its outlet (already killed with 1001 when the server is
    /// shutting down).
    pub fn connect(&self) -> (u64, Arc<Outlet>) {
        let outlet = Arc::new(Outlet::default());
        let mut state = self.lock();
        if state.closing {
            outlet.kill(close::GOING_AWAY);
        }
        state.next_id += 1;
        let id = state.next_id;
        state.connections.insert(
            id,
            Connection {
                outlet: outlet.clone(),
                channels: HashSet::new(),
            },
        );
        (id, outlet)
    }

    /// Tells every connection, and every one made from now on, to close with 1001 (going away).
    pub fn shut_down(&self) {
        let mut state = self.lock();
        state.closing = true;
        for connection in state.connections.values() {
            connection.outlet.kill(close::GOING_AWAY);
        }
    }

    /// Forgets a connection and its subscriptions.
    pub fn disconnect(&self, connection: u64) {
        let mut state = self.lock();
        if let Some(gone) = state.connections.remove(&connection) {
            for channel in gone.channels {
                remove_subscriber(&mut state.channels, &channel, connection);
            }
        }
    }

    /// Subscribes; live from the returned sequence number on. With `replaying`, live events are held back until
    /// `go_live`, so that the replay written before them keeps the order.
    pub fn subscribe(
        &self,
        connection: u64,
        channel: &str,
        visibility: Visibility,
        replaying: bool,
    ) -> Result<i64, SubscribeError> {
        let mut state = self.lock();
        let max = self.max_subscriptions;
        let Some(conn) = state.connections.get_mut(&connection) else {
            return Err(SubscribeError::Gone);
        };
        if conn.channels.contains(channel) {
            return Err(SubscribeError::AlreadySubscribed);
        }
        if conn.channels.len() >= max {
            return Err(SubscribeError::TooManySubscriptions(max));
        }
        conn.channels.insert(channel.to_owned());
        let outlet = conn.outlet.clone();
        let pending = replaying.then(Vec::new);
        state
            .channels
            .entry(channel.to_owned())
            .or_default()
            .insert(
                connection,
                Subscriber {
                    outlet,
                    visibility,
                    pending,
                },
            );
        Ok(state.head)
    }

    /// Ends a replay: returns the live events held back meanwhile, which the caller writes next, and from here
    /// on events go to the queue. `None` if the subscription or the connection is gone.
    pub fn go_live(&self, connection: u64, channel: &str) -> Option<Vec<Frame>> {
        let mut state = self.lock();
        state
            .channels
            .get_mut(channel)?
            .get_mut(&connection)?
            .pending
            .take()
    }

    /// Whether the connection was subscribed.
    pub fn unsubscribe(&self, connection: u64, channel: &str) -> bool {
        let mut state = self.lock();
        let was = state
            .connections
            .get_mut(&connection)
            .is_some_and(|c| c.channels.remove(channel));
        if was {
            remove_subscriber(&mut state.channels, channel, connection);
        }
        was
    }

    /// Hands one committed event to every subscriber of its channels that may see it. Events must come in
    /// sequence order; one at or below the head was already dispatched and is ignored.
    pub fn dispatch(&self, event: &Event, item_channel: &str, list_channel: &str) {
        let mut state = self.lock();
        if event.seq <= state.head {
            return;
        }
        state.head = event.seq;
        let State {
            channels,
            connections,
            ..
        } = &mut *state;
        let mut too_slow = Vec::new();
        for channel in [list_channel, item_channel] {
            let Some(subscribers) = channels.get_mut(channel) else {
                continue;
            };
            let mut frame: Option<Frame> = None;
            for (id, subscriber) in subscribers.iter_mut() {
                if !subscriber.visibility.allows(event) {
                    continue;
                }
                let frame = frame
                    .get_or_insert_with(|| update_frame(channel, event))
                    .clone();
                if let Some(pending) = &mut subscriber.pending {
                    if pending.len() < self.queue_capacity {
                        pending.push(frame);
                    } else {
                        too_slow.push(*id);
                    }
                    continue;
                }
                if !subscriber.outlet.push(frame, self.queue_capacity) {
                    too_slow.push(*id);
                }
            }
        }
        // A connection that cannot keep up is cut off (it resumes with `since`); nobody else waits for it.
        for id in too_slow {
            if let Some(gone) = connections.remove(&id) {
                gone.outlet.kill(close::TOO_SLOW);
                for channel in gone.channels {
                    remove_subscriber(channels, &channel, id);
                }
            }
        }
    }

    /// Open connections and subscriptions, for logs and tests.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (
            state.connections.len(),
            state.channels.values().map(HashMap::len).sum(),
        )
    }
}

fn remove_subscriber(
    channels: &mut HashMap<String, HashMap<u64, Subscriber>>,
    channel: &str,
    connection: u64,
) {
    if let Some(subscribers) = channels.get_mut(channel) {
        subscribers.remove(&connection);
        if subscribers.is_empty() {
            channels.remove(channel);
        }
    }
}

/// The `update` message of `event` on `channel`.
pub fn update_frame(channel: &str, event: &Event) -> Frame {
    #[derive(serde::Serialize)]
    struct Update<'a> {
        #[serde(rename = "type")]
        message: &'static str,
        channel: &'a str,
        seq: i64,
        kind: super::events::EventKind,
        id: &'a str,
        data: &'a serde_json::Value,
        timestamp: String,
    }
    let update = Update {
        message: "update",
        channel,
        seq: event.seq,
        kind: event.kind,
        id: &event.id,
        data: &event.data,
        timestamp: event
            .timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    };
    // Serializing a struct of strings, numbers and a JSON value cannot fail.
    serde_json::to_string(&update).unwrap_or_default().into()
}
