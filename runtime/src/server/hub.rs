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
    /// Every event of the model (its read rule allows the subscriber every row).
    pub all: bool,
    /// The subscriber's id as the model's owner field prints it.
    pub owner: Option<String>,
    /// The subscriber's id as the model's id prints it (`self` rule).
    pub own_row: Option<String>,
}

impl Visibility {
    /// Whether the subscriber may see this event's row.
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

    /// Queues a frame; the frames now waiting, or `None` when `capacity` were waiting already (the connection is
    /// too slow). Wakes the connection only when its queue was empty: it takes everything queued at once.
    fn push(&self, frame: Frame, capacity: usize) -> Option<usize> {
        let mut queue = self.queue();
        if queue.len() >= capacity {
            return None;
        }
        queue.push_back(frame);
        let waiting = queue.len();
        drop(queue);
        if waiting == 1 {
            self.wake.notify_one();
        }
        Some(waiting)
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
    /// Update frames handed to subscribers (queued, or held behind a replay), for `/metrics`.
    deliveries: u64,
    /// The most frames any connection has had waiting, for `/metrics`.
    queue_high_water: usize,
}

/// What `/metrics` reports of the hub, read under its lock in one go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// The last event dispatched.
    pub head: i64,
    /// Open (authenticated) connections.
    pub connections: usize,
    /// Subscriptions per model (by the channel name's model part), for the models that have any.
    pub subscriptions: HashMap<String, usize>,
    /// Update frames handed to subscribers since start.
    pub deliveries: u64,
    /// The most frames any connection has had waiting since start (at most `WS_SEND_QUEUE`).
    pub queue_high_water: usize,
}

/// Why a subscription was refused.
#[derive(Debug)]
pub enum SubscribeError {
    /// The connection is already subscribed to the channel.
    AlreadySubscribed,
    /// The connection has this many subscriptions, the most it may have.
    TooManySubscriptions(usize),
    /// The connection is closing.
    Gone,
}

/// The server's subscriptions: every connection's queue and channels, and the last event dispatched.
pub struct Hub {
    state: Mutex<State>,
    /// Frames a connection may have waiting before it is cut off as too slow.
    queue_capacity: usize,
    max_subscriptions: usize,
}

impl Hub {
    /// An empty hub whose last dispatched event is `head` (the outbox's head at start).
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
            deliveries,
            queue_high_water,
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
                let waiting = match &mut subscriber.pending {
                    Some(pending) if pending.len() < self.queue_capacity => {
                        pending.push(frame);
                        Some(pending.len())
                    }
                    Some(_) => None,
                    None => subscriber.outlet.push(frame, self.queue_capacity),
                };
                match waiting {
                    Some(waiting) => {
                        *deliveries += 1;
                        *queue_high_water = (*queue_high_water).max(waiting);
                    }
                    None => too_slow.push(*id),
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

    /// The numbers `/metrics` reports. Counts subscriptions channel by channel, under the lock: a scrape's cost
    /// grows with the number of channels subscribed (not of events), and dispatch waits meanwhile.
    pub fn stats(&self) -> Stats {
        let state = self.lock();
        let mut subscriptions = HashMap::new();
        for (channel, subscribers) in &state.channels {
            let model = channel.split(':').next().unwrap_or_default();
            match subscriptions.get_mut(model) {
                Some(count) => *count += subscribers.len(),
                None => {
                    subscriptions.insert(model.to_owned(), subscribers.len());
                }
            }
        }
        Stats {
            head: state.head,
            connections: state.connections.len(),
            subscriptions,
            deliveries: state.deliveries,
            queue_high_water: state.queue_high_water,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ChangeKind;

    const LIST: &str = "Note:list";

    fn event(seq: i64, id: &str, owner: Option<&str>) -> Event {
        Event {
            seq,
            model: "Note",
            id: id.to_owned(),
            kind: ChangeKind::Updated,
            data: serde_json::json!({ "id": id }),
            owner: owner.map(str::to_owned),
            timestamp: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn item(id: &str) -> String {
        format!("Note:item:{id}")
    }

    fn everyone() -> Visibility {
        Visibility {
            all: true,
            ..Visibility::default()
        }
    }

    /// The sequence numbers of the frames waiting in an outlet, in order.
    fn queued(outlet: &Outlet) -> Vec<i64> {
        let mut frames = VecDeque::new();
        outlet.take(&mut frames);
        frames.iter().map(seq_of).collect()
    }

    fn seq_of(frame: &Frame) -> i64 {
        let value: serde_json::Value = serde_json::from_str(frame.as_str()).unwrap();
        value["seq"].as_i64().unwrap()
    }

    fn dispatch(hub: &Hub, event: &Event) {
        hub.dispatch(event, &item(&event.id), LIST);
    }

    #[test]
    fn delivers_in_order_to_list_and_item_subscribers() {
        let hub = Hub::new(0, 16, 8);
        let (list_conn, list_outlet) = hub.connect();
        let (item_conn, item_outlet) = hub.connect();
        assert_eq!(
            hub.subscribe(list_conn, LIST, everyone(), false).unwrap(),
            0
        );
        hub.subscribe(item_conn, &item("1"), everyone(), false)
            .unwrap();

        dispatch(&hub, &event(1, "1", None));
        dispatch(&hub, &event(2, "2", None));
        dispatch(&hub, &event(3, "1", None));

        assert_eq!(queued(&list_outlet), [1, 2, 3]);
        assert_eq!(queued(&item_outlet), [1, 3]);
        assert_eq!(hub.head(), 3);
    }

    #[test]
    fn an_event_at_or_below_the_head_is_not_delivered_again() {
        let hub = Hub::new(5, 16, 8);
        let (conn, outlet) = hub.connect();
        hub.subscribe(conn, LIST, everyone(), false).unwrap();

        dispatch(&hub, &event(5, "1", None));
        dispatch(&hub, &event(6, "1", None));
        dispatch(&hub, &event(6, "1", None));

        assert_eq!(queued(&outlet), [6]);
    }

    #[test]
    fn visibility_keeps_other_owners_rows_away() {
        let hub = Hub::new(0, 16, 8);
        let (conn, outlet) = hub.connect();
        let mine = Visibility {
            owner: Some("7".to_owned()),
            own_row: Some("9".to_owned()),
            ..Visibility::default()
        };
        hub.subscribe(conn, LIST, mine, false).unwrap();

        dispatch(&hub, &event(1, "1", Some("7"))); // owned by the subscriber
        dispatch(&hub, &event(2, "2", Some("8"))); // someone else's
        dispatch(&hub, &event(3, "3", None)); // nobody's
        dispatch(&hub, &event(4, "9", None)); // the subscriber's own row

        assert_eq!(queued(&outlet), [1, 4]);
    }

    #[test]
    fn live_events_wait_behind_a_replay_in_order() {
        let hub = Hub::new(0, 16, 8);
        let (conn, outlet) = hub.connect();
        hub.subscribe(conn, LIST, everyone(), true).unwrap();

        dispatch(&hub, &event(1, "1", None));
        dispatch(&hub, &event(2, "1", None));
        assert!(queued(&outlet).is_empty(), "held back while replaying");

        let held = hub.go_live(conn, LIST).unwrap();
        assert_eq!(held.iter().map(seq_of).collect::<Vec<_>>(), [1, 2]);
        assert!(hub.go_live(conn, LIST).is_none(), "live only once");

        dispatch(&hub, &event(3, "1", None));
        assert_eq!(queued(&outlet), [3]);
    }

    #[test]
    fn a_slow_connection_is_cut_off_and_nobody_else_waits() {
        let hub = Hub::new(0, 2, 8);
        let (slow, slow_outlet) = hub.connect();
        let (fast, fast_outlet) = hub.connect();
        hub.subscribe(slow, LIST, everyone(), false).unwrap();
        hub.subscribe(fast, LIST, everyone(), false).unwrap();

        for seq in 1..=3 {
            dispatch(&hub, &event(seq, "1", None));
            queued(&fast_outlet); // the fast one keeps reading
        }

        assert_eq!(slow_outlet.code(), Some(close::TOO_SLOW));
        assert_eq!(fast_outlet.code(), None);
        // The slow connection and its subscription are gone; the fast one still receives.
        assert_eq!(hub.counts(), (1, 1));
        dispatch(&hub, &event(4, "1", None));
        assert_eq!(queued(&fast_outlet), [4]);
    }

    #[test]
    fn a_replay_that_holds_back_too_much_is_cut_off_too() {
        let hub = Hub::new(0, 1, 8);
        let (conn, outlet) = hub.connect();
        hub.subscribe(conn, LIST, everyone(), true).unwrap();

        dispatch(&hub, &event(1, "1", None));
        assert_eq!(outlet.code(), None);
        dispatch(&hub, &event(2, "1", None));

        assert_eq!(outlet.code(), Some(close::TOO_SLOW));
        assert!(hub.go_live(conn, LIST).is_none());
    }

    #[test]
    fn stats_count_deliveries_the_high_water_and_subscriptions_by_model() {
        let hub = Hub::new(0, 4, 8);
        let (reader, reader_outlet) = hub.connect();
        let (idle, _idle_outlet) = hub.connect();
        hub.subscribe(reader, LIST, everyone(), false).unwrap();
        hub.subscribe(idle, LIST, everyone(), false).unwrap();
        hub.subscribe(idle, &item("1"), everyone(), false).unwrap();
        hub.subscribe(idle, "User:list", everyone(), false).unwrap();

        dispatch(&hub, &event(1, "1", None)); // list: 2 subscribers, item 1: 1
        queued(&reader_outlet);
        dispatch(&hub, &event(2, "2", None)); // list: 2
        dispatch(&hub, &event(3, "2", None)); // list: 2

        let stats = hub.stats();
        assert_eq!(stats.deliveries, 7);
        // The idle connection has 4 frames waiting; the reader took its first one.
        assert_eq!(stats.queue_high_water, 4);
        assert_eq!((stats.head, stats.connections), (3, 2));
        let expected: HashMap<String, usize> =
            [("Note".to_owned(), 3), ("User".to_owned(), 1)].into();
        assert_eq!(stats.subscriptions, expected);
    }

    #[test]
    fn subscriptions_are_bounded_and_not_doubled() {
        let hub = Hub::new(0, 16, 2);
        let (conn, _outlet) = hub.connect();
        hub.subscribe(conn, LIST, everyone(), false).unwrap();
        assert!(matches!(
            hub.subscribe(conn, LIST, everyone(), false),
            Err(SubscribeError::AlreadySubscribed)
        ));
        hub.subscribe(conn, &item("1"), everyone(), false).unwrap();
        assert!(matches!(
            hub.subscribe(conn, &item("2"), everyone(), false),
            Err(SubscribeError::TooManySubscriptions(2))
        ));
        assert!(matches!(
            hub.subscribe(99, LIST, everyone(), false),
            Err(SubscribeError::Gone)
        ));
    }

    #[test]
    fn unsubscribe_and_disconnect_leave_nothing_behind() {
        let hub = Hub::new(0, 16, 8);
        let (conn, outlet) = hub.connect();
        hub.subscribe(conn, LIST, everyone(), false).unwrap();
        hub.subscribe(conn, &item("1"), everyone(), false).unwrap();

        assert!(hub.unsubscribe(conn, LIST));
        assert!(!hub.unsubscribe(conn, LIST), "only once");
        dispatch(&hub, &event(1, "2", None));
        assert!(queued(&outlet).is_empty());

        hub.disconnect(conn);
        assert_eq!(hub.counts(), (0, 0));
    }

    #[test]
    fn shutting_down_closes_open_and_later_connections() {
        let hub = Hub::new(0, 16, 8);
        let (_, open) = hub.connect();
        hub.shut_down();
        let (_, later) = hub.connect();
        assert_eq!(open.code(), Some(close::GOING_AWAY));
        assert_eq!(later.code(), Some(close::GOING_AWAY));
    }

    #[test]
    fn the_first_close_code_wins() {
        let outlet = Outlet::default();
        assert_eq!(outlet.code(), None);
        outlet.kill(close::TOO_SLOW);
        outlet.kill(close::GOING_AWAY);
        assert_eq!(outlet.code(), Some(close::TOO_SLOW));
    }

    #[tokio::test]
    async fn a_wake_up_is_not_lost_between_take_and_wait() {
        let hub = Hub::new(0, 16, 8);
        let (conn, outlet) = hub.connect();
        hub.subscribe(conn, LIST, everyone(), false).unwrap();
        // The event arrives while nobody waits: the wake-up is stored and the wait returns at once.
        dispatch(&hub, &event(1, "1", None));
        tokio::time::timeout(std::time::Duration::from_secs(5), outlet.woken())
            .await
            .expect("the stored wake-up");
        assert_eq!(queued(&outlet), [1]);
    }

    #[test]
    fn the_update_frame_is_the_protocol_message() {
        let frame = update_frame(LIST, &event(4, "1", Some("7")));
        let value: serde_json::Value = serde_json::from_str(frame.as_str()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "type": "update",
                "channel": LIST,
                "seq": 4,
                "kind": "updated",
                "id": "1",
                "data": { "id": "1" },
                "timestamp": "1970-01-01T00:00:00.000000Z",
            })
        );
    }
}
