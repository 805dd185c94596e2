//! A live list: one page of a query, kept equal to what the server would answer by applying the model's committed
//! changes as they arrive, and refetching the page when a change may have shifted it. This is what a UI binds to.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::error::Error;
use super::ws::{ChannelEvent, WsTransport};
use super::{Model, Page, Query};
use crate::protocol::{Action, ChangeKind};

/// What a live list holds at one moment.
#[derive(Debug, Clone)]
pub struct LiveSnapshot<M> {
    /// The page, in the query's order.
    pub items: Vec<M>,
    /// How many rows match the query in all.
    pub total: i64,
    pub skip: i64,
    pub take: i64,
    /// The last event reflected: the snapshot equals the server's answer after the event with this number.
    pub seq: i64,
    /// False while the socket is down or the page is being refetched: the snapshot may be behind.
    pub fresh: bool,
    /// Set when the server refused the subscription; the list no longer changes.
    pub error: Option<Error>,
}

/// A live page of `M`. Cheap to clone; the updates stop when the last clone is dropped.
#[derive(Clone)]
pub struct LiveList<M: Model> {
    receiver: watch::Receiver<LiveSnapshot<M>>,
    _task: Arc<Task>,
    /// Keeps the client's registry entry of this list alive as long as the list.
    _registered: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

/// Aborts the updating task with the last handle.
struct Task(tokio::task::JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<M: Model> LiveList<M> {
    /// Subscribes to the model's list channel, reads the page over the socket, and keeps it up to date.
    pub(crate) async fn start(
        ws: WsTransport,
        query: Query<M::Filter, M::OrderBy>,
    ) -> Result<LiveList<M>, Error> {
        let channel = M::CHANNEL.ok_or_else(|| {
            Error::Protocol(format!("{} is not a live model (realtime: false)", M::NAME))
        })?;
        // Listen first: every event after the page's sequence number is then in `events`.
        let events = ws.listen(channel)?;
        let params = serde_json::to_value(&query).map_err(|e| Error::Protocol(e.to_string()))?;
        let mut state = State::<M> {
            query,
            params,
            page: empty(),
            needs_refetch: false,
        };
        state.refetch(&ws).await?;
        let (sender, receiver) = watch::channel(state.page.clone());
        let task = tokio::spawn(run(ws, state, events, sender));
        Ok(LiveList {
            receiver,
            _task: Arc::new(Task(task)),
            _registered: None,
        })
    }

    pub(crate) fn with_keepalive(
        live: LiveList<M>,
        registered: Arc<dyn std::any::Any + Send + Sync>,
    ) -> LiveList<M> {
        LiveList {
            _registered: Some(registered),
            ..live
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> LiveSnapshot<M> {
        self.receiver.borrow().clone()
    }

    /// Waits for the next change of the snapshot.
    pub async fn changed(&mut self) -> Result<LiveSnapshot<M>, Error> {
        self.receiver.changed().await.map_err(|_| Error::Closed)?;
        Ok(self.receiver.borrow_and_update().clone())
    }

    /// Waits until the snapshot reflects the event `seq` (for example a write's `Event-Seq`) and is fresh.
    pub async fn reflecting(&self, seq: i64, wait: Duration) -> Result<LiveSnapshot<M>, Error> {
        let mut receiver = self.receiver.clone();
        let outcome =
            tokio::time::timeout(wait, receiver.wait_for(|s| s.fresh && s.seq >= seq)).await;
        match outcome {
            Ok(Ok(snapshot)) => Ok(snapshot.clone()),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout),
        }
    }

    /// The snapshots as a stream: the current one first, then each change.
    pub fn stream(&self) -> impl futures_util::Stream<Item = LiveSnapshot<M>> + Send + 'static {
        let receiver = self.receiver.clone();
        futures_util::stream::unfold((receiver, true), |(mut receiver, first)| async move {
            if !first && receiver.changed().await.is_err() {
                return None;
            }
            let snapshot = receiver.borrow_and_update().clone();
            Some((snapshot, (receiver, false)))
        })
    }
}

fn empty<M>() -> LiveSnapshot<M> {
    LiveSnapshot {
        items: Vec::new(),
        total: 0,
        skip: 0,
        take: 0,
        seq: 0,
        fresh: false,
        error: None,
    }
}

struct State<M: Model> {
    query: Query<M::Filter, M::OrderBy>,
    params: serde_json::Value,
    page: LiveSnapshot<M>,
    /// A change could not be applied exactly, or the stream had a gap: the page must be read again.
    needs_refetch: bool,
}

impl<M: Model> State<M> {
    async fn refetch(&mut self, ws: &WsTransport) -> Result<(), Error> {
        let (data, seq) = ws
            .request(M::NAME, Action::List, self.params.clone())
            .await?;
        let page: Page<M> = serde_json::from_value(data)
            .map_err(|e| Error::Protocol(format!("unexpected list answer: {e}")))?;
        self.page = LiveSnapshot {
            items: page.items,
            total: page.total,
            skip: page.skip,
            take: page.take,
            seq,
            fresh: true,
            error: None,
        };
        self.needs_refetch = false;
        Ok(())
    }

    fn sort(&mut self) {
        let keys = &self.query.order_by;
        self.page.items.sort_by(|a, b| M::compare(keys, a, b));
    }

    fn matches(&self, record: &M) -> bool {
        self.query
            .filter
            .as_ref()
            .is_none_or(|f| M::matches(f, record))
    }

    /// Applies one change exactly when it can; otherwise marks the page for a refetch.
    fn apply(&mut self, seq: i64, kind: ChangeKind, id: &str, data: serde_json::Value) {
        if seq <= self.page.seq {
            return; // already reflected (the page was read after it, or a duplicate)
        }
        self.page.seq = seq;
        let Ok(record) = serde_json::from_value::<M>(data) else {
            self.needs_refetch = true;
            return;
        };
        let page = &self.page;
        let position = page.items.iter().position(|r| r.id_string() == id);
        // The page holds every matching row: a row outside it did not match.
        let complete = page.skip == 0 && page.total == page.items.len() as i64;
        let full = page.items.len() as i64 >= page.take;
        let matches = kind != ChangeKind::Deleted && self.matches(&record);
        match (position, matches) {
            (Some(i), true) => {
                self.page.items[i] = record;
                self.sort();
                let at = self
                    .page
                    .items
                    .iter()
                    .position(|r| r.id_string() == id)
                    .unwrap_or(0);
                // Moved to an edge of the page: a row of a neighbouring page may belong before or after it.
                let last = self.page.items.len().saturating_sub(1);
                if !complete && ((self.page.skip > 0 && at == 0) || (full && at == last)) {
                    self.needs_refetch = true;
                }
            }
            (Some(i), false) => {
                self.page.items.remove(i);
                self.page.total -= 1;
                if !complete {
                    self.needs_refetch = true; // a row of the next page moves up
                }
            }
            (None, true) if kind == ChangeKind::Created || complete => {
                // New to the result: counted, and placed if it sorts into the page.
                self.page.total += 1;
                if self.page.skip > 0 {
                    self.needs_refetch = true;
                } else {
                    self.page.items.push(record);
                    self.sort();
                    self.page.items.truncate(self.page.take.max(0) as usize);
                }
            }
            (None, true) => self.needs_refetch = true, // changed outside the page: was it counted, where does it go?
            (None, false) if complete || kind == ChangeKind::Created => {}
            (None, false) if kind == ChangeKind::Deleted => {
                if self.matches(&record) {
                    self.page.total -= 1;
                    if self.page.skip > 0 {
                        self.needs_refetch = true;
                    }
                }
            }
            (None, false) => self.needs_refetch = true, // it may have left the result
        }
    }
}

async fn run<M: Model>(
    ws: WsTransport,
    mut state: State<M>,
    mut events: mpsc::UnboundedReceiver<ChannelEvent>,
    sender: watch::Sender<LiveSnapshot<M>>,
) {
    while let Some(first) = events.recv().await {
        let mut next = Some(first);
        // Everything already queued in one go: one refetch at most per batch.
        while let Some(event) = next.take().or_else(|| events.try_recv().ok()) {
            match event {
                ChannelEvent::Update {
                    seq,
                    kind,
                    id,
                    data,
                } => state.apply(seq, kind, &id, data),
                ChannelEvent::Disconnected => state.page.fresh = false,
                ChannelEvent::Subscribed { resumed, .. } => {
                    if !resumed {
                        state.needs_refetch = true;
                    } else if !state.needs_refetch {
                        state.page.fresh = true;
                    }
                }
                ChannelEvent::Refused(error) => {
                    state.page.error = Some(Error::Request(error));
                    state.page.fresh = false;
                    let _ = sender.send(state.page.clone());
                    return;
                }
            }
        }
        // When the socket is down, the resubscription's `Subscribed` brings us back here.
        if state.needs_refetch && state.refetch(&ws).await.is_err() {
            state.needs_refetch = true;
            state.page.fresh = false;
        }
        if sender.send(state.page.clone()).is_err() {
            return;
        }
    }
}
