//! A live list: one page of a query, kept equal to what the server would answer by applying the model's committed
//! changes as they arrive, and refetching the page when a change may have shifted it. This is what a UI binds to.
//!
//! A query that reads through relations (an `include`, or a relation filter in its `where`) is followed another
//! way: a changed row of the list's model or of a model it reads through cannot be applied to the page in memory
//! (the event carries the row, not its relations or the rows that point to it), so the list listens to every one of
//! those models' channels and reads its page again after any change, one read per batch of changes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
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
    /// The query's `skip`: the page's position.
    pub skip: i64,
    /// The query's `take`: the most items the page holds.
    pub take: i64,
    /// The last event reflected: the snapshot equals the server's answer after the event with this number.
    pub seq: i64,
    /// False while the socket is down or the page is being refetched: the snapshot may be behind.
    pub fresh: bool,
    /// Set when the server refused the subscription; the list no longer changes.
    pub error: Option<Error>,
}

/// A live page of `T` (a model's records, or its records with relations). Cheap to clone; the updates stop when
/// the last clone is dropped.
#[derive(Clone)]
pub struct LiveList<T> {
    receiver: watch::Receiver<LiveSnapshot<T>>,
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

fn channel_of<M: Model>() -> Result<&'static str, Error> {
    M::CHANNEL.ok_or_else(|| {
        Error::Protocol(format!("{} is not a live model (realtime: false)", M::NAME))
    })
}

impl<M: Model> LiveList<M> {
    /// Subscribes to the model's list channel, reads the page over the socket, and keeps it up to date by
    /// applying each change.
    pub(crate) async fn start(
        ws: WsTransport,
        query: Query<M::Filter, M::OrderBy>,
    ) -> Result<LiveList<M>, Error> {
        let channel = channel_of::<M>()?;
        // Listen first: every event after the page's sequence number is then in `events`.
        let events = ws.listen(channel)?;
        let params = serde_json::to_value(&query).map_err(|e| Error::Protocol(e.to_string()))?;
        let page = read_page(&ws, M::NAME, &params).await?;
        let state = State::<M> {
            query,
            params,
            page,
            needs_refetch: false,
        };
        let (sender, receiver) = watch::channel(state.page.clone());
        let task = tokio::spawn(run(ws, state, events, sender));
        Ok(LiveList {
            receiver,
            _task: Arc::new(Task(task)),
            _registered: None,
        })
    }
}

impl<T: DeserializeOwned + Clone + Send + Sync + 'static> LiveList<T> {
    /// A live page of the model `M` whose query reads through relations: `params` (the query, with its `include`
    /// if any) is read again after every change on `M`'s channel or on one of `related`'s (model name to channel).
    pub(crate) async fn start_following<M: Model>(
        ws: WsTransport,
        params: serde_json::Value,
        related: BTreeMap<&'static str, &'static str>,
    ) -> Result<LiveList<T>, Error> {
        let channel = channel_of::<M>()?;
        let own = ws.listen(channel)?;
        // The related channels share one queue: any change there means the same thing, read the page again.
        let (sender, others) = mpsc::unbounded_channel();
        for other in related.values().filter(|c| **c != channel) {
            ws.listen_into(other, sender.clone())?;
        }
        drop(sender);
        let page = read_page(&ws, M::NAME, &params).await?;
        let state = Following {
            model: M::NAME,
            params,
            page,
            needs_refetch: false,
        };
        let (sender, receiver) = watch::channel(state.page.clone());
        let task = tokio::spawn(follow(ws, state, own, others, sender));
        Ok(LiveList {
            receiver,
            _task: Arc::new(Task(task)),
            _registered: None,
        })
    }
}

impl<T: Clone + Send + Sync + 'static> LiveList<T> {
    pub(crate) fn with_keepalive(
        live: LiveList<T>,
        registered: Arc<dyn std::any::Any + Send + Sync>,
    ) -> LiveList<T> {
        LiveList {
            _registered: Some(registered),
            ..live
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> LiveSnapshot<T> {
        self.receiver.borrow().clone()
    }

    /// Waits for the next change of the snapshot.
    pub async fn changed(&mut self) -> Result<LiveSnapshot<T>, Error> {
        self.receiver.changed().await.map_err(|_| Error::Closed)?;
        Ok(self.receiver.borrow_and_update().clone())
    }

    /// Waits until the snapshot reflects the event `seq` (for example a write's `Event-Seq`) and is fresh.
    pub async fn reflecting(&self, seq: i64, wait: Duration) -> Result<LiveSnapshot<T>, Error> {
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
    pub fn stream(&self) -> impl futures_util::Stream<Item = LiveSnapshot<T>> + Send + 'static {
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

/// Reads the page of `model` for `params` over the socket: fresh, as of the answer's sequence number.
async fn read_page<T: DeserializeOwned>(
    ws: &WsTransport,
    model: &str,
    params: &serde_json::Value,
) -> Result<LiveSnapshot<T>, Error> {
    let (data, seq) = ws.request(model, Action::List, params.clone()).await?;
    let page: Page<T> = serde_json::from_value(data)
        .map_err(|e| Error::Protocol(format!("unexpected list answer: {e}")))?;
    Ok(LiveSnapshot {
        items: page.items,
        total: page.total,
        skip: page.skip,
        take: page.take,
        seq,
        fresh: true,
        error: None,
    })
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
        self.page = read_page(ws, M::NAME, &self.params).await?;
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

/// A page that is read again, not changed in memory: see the module's documentation.
struct Following<T> {
    model: &'static str,
    params: serde_json::Value,
    page: LiveSnapshot<T>,
    needs_refetch: bool,
}

impl<T: DeserializeOwned> Following<T> {
    /// What one event on the list's own channel (`own`) or a related one means for the page.
    fn note(&mut self, own: bool, event: ChannelEvent) -> Result<(), Error> {
        match event {
            // Already in the page when the page was read after it.
            ChannelEvent::Update { seq, .. } => self.needs_refetch |= seq > self.page.seq,
            ChannelEvent::Disconnected => self.page.fresh = false,
            // Back after a drop: whatever was replayed or missed, one read brings the page up to date. A first
            // subscription starts before the page's read (same socket, in order), so it changes nothing.
            ChannelEvent::Subscribed { seq, resumed } => {
                self.needs_refetch |= !self.page.fresh || (!resumed && seq > self.page.seq);
            }
            // A related model the caller may not read never shows in the page (its rows are `null` or left out,
            // and filters do not see them): nothing to follow there.
            ChannelEvent::Refused(error) if own => return Err(Error::Request(error)),
            ChannelEvent::Refused(_) => {}
        }
        Ok(())
    }
}

async fn follow<T: DeserializeOwned + Clone + Send + Sync + 'static>(
    ws: WsTransport,
    mut state: Following<T>,
    mut own: mpsc::UnboundedReceiver<ChannelEvent>,
    mut related: mpsc::UnboundedReceiver<ChannelEvent>,
    sender: watch::Sender<LiveSnapshot<T>>,
) {
    loop {
        let first = tokio::select! {
            event = own.recv() => match event {
                Some(event) => (true, event),
                None => return,
            },
            Some(event) = related.recv() => (false, event),
        };
        let mut next = Some(first);
        // Everything already queued in one go: one read at most per batch.
        while let Some((is_own, event)) = next
            .take()
            .or_else(|| own.try_recv().ok().map(|e| (true, e)))
            .or_else(|| related.try_recv().ok().map(|e| (false, e)))
        {
            if let Err(error) = state.note(is_own, event) {
                state.page.error = Some(error);
                state.page.fresh = false;
                let _ = sender.send(state.page.clone());
                return;
            }
        }
        if state.needs_refetch {
            match read_page(&ws, state.model, &state.params).await {
                Ok(page) => {
                    state.page = page;
                    state.needs_refetch = false;
                }
                // The socket is down: its resubscriptions bring us back here.
                Err(_) => state.page.fresh = false,
            }
        }
        if sender.send(state.page.clone()).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    /// A model of the smallest shape: rows ordered by `rank`, then id; the filter keeps ranks of at least 10.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Row {
        id: i64,
        rank: i64,
    }

    #[derive(Debug, Clone, Serialize)]
    struct AtLeast(i64);

    #[derive(Debug, Clone, Serialize)]
    struct ByRank;

    impl Model for Row {
        const NAME: &'static str = "Row";
        const ROUTE: &'static str = "/api/rows";
        const CHANNEL: Option<&'static str> = Some("Row:list");
        type Id = i64;
        type Create = ();
        type Update = ();
        type Patch = ();
        type Filter = AtLeast;
        type OrderBy = ByRank;
        type WithRelations = Row;
        const RELATIONS: &'static [crate::client::Relation] = &[];

        fn id_string(&self) -> String {
            self.id.to_string()
        }

        fn matches(filter: &AtLeast, record: &Row) -> bool {
            record.rank >= filter.0
        }

        fn follows_relations(_: &AtLeast) -> bool {
            false
        }

        fn compare(keys: &[ByRank], a: &Row, b: &Row) -> std::cmp::Ordering {
            let by_rank = if keys.is_empty() {
                std::cmp::Ordering::Equal
            } else {
                a.rank.cmp(&b.rank)
            };
            by_rank.then(a.id.cmp(&b.id))
        }
    }

    fn row(id: i64, rank: i64) -> Row {
        Row { id, rank }
    }

    /// A page read at seq 10 of the rows ranked 10 or more.
    fn state(items: Vec<Row>, total: i64, skip: i64, take: i64) -> State<Row> {
        State {
            query: Query {
                filter: Some(AtLeast(10)),
                order_by: vec![ByRank],
                skip: Some(skip),
                take: Some(take),
            },
            params: serde_json::Value::Null,
            page: LiveSnapshot {
                items,
                total,
                skip,
                take,
                seq: 10,
                fresh: true,
                error: None,
            },
            needs_refetch: false,
        }
    }

    fn apply(state: &mut State<Row>, seq: i64, kind: ChangeKind, record: &Row) {
        let data = serde_json::to_value(record).unwrap();
        state.apply(seq, kind, &record.id.to_string(), data);
    }

    fn ids(state: &State<Row>) -> Vec<i64> {
        state.page.items.iter().map(|r| r.id).collect()
    }

    #[test]
    fn a_created_row_takes_its_place_in_a_complete_page() {
        let mut live = state(vec![row(1, 10), row(2, 30)], 2, 0, 5);
        apply(&mut live, 11, ChangeKind::Created, &row(3, 20));
        assert_eq!(ids(&live), [1, 3, 2]);
        assert_eq!((live.page.total, live.page.seq), (3, 11));
        assert!(!live.needs_refetch);
    }

    #[test]
    fn a_created_row_that_does_not_match_is_left_out() {
        let mut live = state(vec![row(1, 10)], 1, 0, 5);
        apply(&mut live, 11, ChangeKind::Created, &row(2, 5));
        assert_eq!(ids(&live), [1]);
        assert_eq!((live.page.total, live.page.seq), (1, 11));
        assert!(!live.needs_refetch);
    }

    #[test]
    fn a_change_the_page_already_reflects_is_skipped() {
        let mut live = state(vec![row(1, 10)], 1, 0, 5);
        apply(&mut live, 10, ChangeKind::Deleted, &row(1, 10));
        apply(&mut live, 9, ChangeKind::Created, &row(2, 20));
        assert_eq!(ids(&live), [1]);
        assert_eq!(live.page.total, 1);
    }

    #[test]
    fn a_row_that_stops_matching_or_is_deleted_leaves_the_page() {
        let mut live = state(vec![row(1, 10), row(2, 20), row(3, 30)], 3, 0, 5);
        apply(&mut live, 11, ChangeKind::Updated, &row(2, 5));
        apply(&mut live, 12, ChangeKind::Deleted, &row(3, 30));
        assert_eq!(ids(&live), [1]);
        assert_eq!(live.page.total, 1);
        assert!(!live.needs_refetch, "the page held every match");
    }

    #[test]
    fn an_update_reorders_the_page() {
        let mut live = state(vec![row(1, 10), row(2, 20), row(3, 30)], 3, 0, 5);
        apply(&mut live, 11, ChangeKind::Updated, &row(1, 40));
        assert_eq!(ids(&live), [2, 3, 1]);
        assert!(!live.needs_refetch);
    }

    #[test]
    fn a_created_row_past_the_end_of_a_full_first_page_is_counted_only() {
        let mut live = state(vec![row(1, 10), row(2, 20)], 4, 0, 2);
        apply(&mut live, 11, ChangeKind::Created, &row(9, 50));
        assert_eq!(ids(&live), [1, 2]);
        assert_eq!(live.page.total, 5);
        assert!(!live.needs_refetch);
    }

    #[test]
    fn a_created_row_on_a_later_page_refetches() {
        // Which row it pushes off the page before is unknown here.
        let mut live = state(vec![row(5, 50)], 4, 2, 2);
        apply(&mut live, 11, ChangeKind::Created, &row(9, 15));
        assert_eq!(live.page.total, 5);
        assert!(live.needs_refetch);
    }

    #[test]
    fn leaving_an_incomplete_page_refetches_the_row_that_moves_up() {
        let mut live = state(vec![row(1, 10), row(2, 20)], 4, 0, 2);
        apply(&mut live, 11, ChangeKind::Deleted, &row(1, 10));
        assert_eq!(ids(&live), [2]);
        assert_eq!(live.page.total, 3);
        assert!(live.needs_refetch);
    }

    #[test]
    fn a_row_moved_to_the_edge_of_a_full_page_refetches() {
        // Rank 35 may sort after a row of the next page.
        let mut live = state(vec![row(1, 10), row(2, 20)], 4, 0, 2);
        apply(&mut live, 11, ChangeKind::Updated, &row(1, 35));
        assert_eq!(ids(&live), [2, 1]);
        assert!(live.needs_refetch);
    }

    #[test]
    fn an_update_outside_an_incomplete_page_refetches() {
        // Whether the row was counted before, and where it goes now, is unknown.
        let mut live = state(vec![row(1, 10), row(2, 20)], 4, 0, 2);
        apply(&mut live, 11, ChangeKind::Updated, &row(7, 70));
        assert!(live.needs_refetch);
    }

    #[test]
    fn a_deleted_row_outside_the_page_is_uncounted() {
        let mut live = state(vec![row(1, 10), row(2, 20)], 4, 0, 2);
        apply(&mut live, 11, ChangeKind::Deleted, &row(7, 70));
        assert_eq!(ids(&live), [1, 2]);
        assert_eq!(live.page.total, 3);
        assert!(!live.needs_refetch);
    }

    /// A page followed by refetching, read at seq 10.
    fn following() -> Following<Row> {
        Following {
            model: "Row",
            params: serde_json::Value::Null,
            page: state(vec![row(1, 10)], 1, 0, 5).page,
            needs_refetch: false,
        }
    }

    fn update(seq: i64) -> ChannelEvent {
        ChannelEvent::Update {
            seq,
            kind: ChangeKind::Updated,
            id: "1".to_owned(),
            data: serde_json::json!({ "id": 1, "rank": 10 }),
        }
    }

    fn refused() -> ChannelEvent {
        ChannelEvent::Refused(crate::protocol::ErrorBody {
            code: "forbidden".to_owned(),
            message: "no".to_owned(),
            details: None,
        })
    }

    #[test]
    fn a_followed_page_is_read_again_after_a_newer_change_on_any_of_its_channels() {
        for own in [true, false] {
            let mut live = following();
            live.note(own, update(10)).unwrap();
            assert!(!live.needs_refetch, "already in the page");
            live.note(own, update(11)).unwrap();
            assert!(live.needs_refetch);
            // In memory nothing changes: the page is what the server answered.
            assert_eq!(
                (live.page.items.clone(), live.page.seq),
                (vec![row(1, 10)], 10)
            );
        }
    }

    #[test]
    fn a_followed_page_is_read_again_after_a_drop_or_a_gap() {
        let mut live = following();
        live.note(
            true,
            ChannelEvent::Subscribed {
                seq: 9,
                resumed: true,
            },
        )
        .unwrap();
        live.note(
            false,
            ChannelEvent::Subscribed {
                seq: 10,
                resumed: false,
            },
        )
        .unwrap();
        assert!(
            !live.needs_refetch,
            "first subscriptions start before the page"
        );
        live.note(
            false,
            ChannelEvent::Subscribed {
                seq: 12,
                resumed: false,
            },
        )
        .unwrap();
        assert!(live.needs_refetch, "a gap after the page");

        let mut live = following();
        live.note(false, ChannelEvent::Disconnected).unwrap();
        assert!(!live.page.fresh && !live.needs_refetch);
        live.note(
            false,
            ChannelEvent::Subscribed {
                seq: 10,
                resumed: true,
            },
        )
        .unwrap();
        assert!(live.needs_refetch, "back after a drop");
    }

    #[test]
    fn a_refused_related_channel_is_skipped_and_a_refused_own_channel_ends_the_list() {
        let mut live = following();
        assert!(live.note(false, refused()).is_ok());
        assert!(!live.needs_refetch && live.page.fresh);
        assert!(
            matches!(live.note(true, refused()), Err(Error::Request(e)) if e.code == "forbidden")
        );
    }

    #[test]
    fn a_record_of_an_unexpected_shape_refetches() {
        let mut live = state(vec![row(1, 10)], 1, 0, 5);
        live.apply(
            11,
            ChangeKind::Created,
            "2",
            serde_json::json!({ "id": "two" }),
        );
        assert_eq!(live.page.seq, 11);
        assert!(live.needs_refetch);
    }
}
