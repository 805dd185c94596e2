//! The WebSocket transport: one multiplexed socket per client, kept open by a background task that reconnects with
//! exponential backoff and full jitter, resubscribes every channel with `since` (so nothing is missed), correlates
//! requests with responses, and fails pending requests at once when the socket drops.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::error::Error;
use crate::protocol::{
    close, Action, ChangeKind, ClientMessage, ErrorBody, RequestId, ServerMessage,
};

/// Reconnection delays: exponential from `base`, capped at `cap`, with full jitter (a uniformly random delay between
/// zero and the exponential bound), so that clients dropped together do not come back together.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The bound of the first retry's delay (default 100 ms).
    pub base: Duration,
    /// The largest bound, however many attempts failed (default 10 s).
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The bound before jitter for the `attempt`-th retry (0-based): `min(cap, base * 2^attempt)`.
    pub fn bound(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.cap)
    }

    /// The delay before the `attempt`-th retry; `unit` is a random number in `[0, 1)` (injected, so tests can fix it).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        self.bound(attempt).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// Whether the socket is up.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionState {
    /// The first connection is being made.
    Connecting,
    /// Connected and authenticated: requests and subscriptions are served.
    Connected,
    /// Waiting before the next attempt.
    Reconnecting {
        /// How many attempts failed in a row (0-based), which sets the delay.
        attempt: u32,
    },
    /// Stopped for good: refused token, or `disconnect()`.
    Failed(Error),
}

/// What a channel's listener receives, in order.
#[derive(Debug, Clone)]
pub enum ChannelEvent {
    /// A committed change.
    Update {
        /// The event's sequence number.
        seq: i64,
        /// Created, updated or deleted.
        kind: ChangeKind,
        /// The row's id as it prints.
        id: String,
        /// The record (for a delete, as it was).
        data: serde_json::Value,
    },
    /// The subscription is (again) live from `seq`. `resumed: false`: events were missed and cannot be replayed;
    /// whatever the listener holds must be refetched.
    Subscribed {
        /// The subscription starts after this sequence number.
        seq: i64,
        /// Whether the events missed while disconnected were replayed.
        resumed: bool,
    },
    /// The socket dropped; a resubscription follows when it is back.
    Disconnected,
    /// The server refused the subscription (no access, unknown channel); no more events follow.
    Refused(crate::protocol::ErrorBody),
}

/// Returns a token for the connection: called at every connect, and once more after the server refused one (4401)
/// before giving up, so that it can refresh.
pub type TokenProvider = Arc<dyn Fn() -> Option<String> + Send + Sync>;

enum Command {
    Request {
        model: String,
        action: Action,
        params: serde_json::Value,
        reply: oneshot::Sender<Result<(serde_json::Value, i64), Error>>,
    },
    Listen {
        channel: String,
        listener: mpsc::UnboundedSender<ChannelEvent>,
    },
    Disconnect,
}

/// The WebSocket side of a client. Cloning shares the one socket.
#[derive(Clone)]
pub struct WsTransport {
    commands: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<ConnectionState>,
    timeout: Duration,
}

impl WsTransport {
    /// Starts connecting to `<base>/ws` (http -> ws, https -> wss) in the background.
    pub fn connect(
        base: &str,
        token: TokenProvider,
        timeout: Duration,
        backoff: Backoff,
    ) -> WsTransport {
        let url = format!(
            "{}/ws",
            base.trim_end_matches('/').replacen("http", "ws", 1)
        );
        let (commands, receiver) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(ConnectionState::Connecting);
        tokio::spawn(
            Task {
                url,
                token,
                backoff,
                commands: receiver,
                state: state_tx,
                channels: HashMap::new(),
                pending: HashMap::new(),
                next_id: 0,
            }
            .run(),
        );
        WsTransport {
            commands,
            state,
            timeout,
        }
    }

    /// The connection's state, as it changes.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state.clone()
    }

    /// Whether the socket is connected now.
    pub fn is_connected(&self) -> bool {
        *self.state.borrow() == ConnectionState::Connected
    }

    /// Waits until connected, failed, or `wait` passed.
    pub async fn wait_connected(&self, wait: Duration) -> Result<(), Error> {
        let mut state = self.state.clone();
        let outcome = tokio::time::timeout(
            wait,
            state
                .wait_for(|s| matches!(s, ConnectionState::Connected | ConnectionState::Failed(_))),
        )
        .await;
        match outcome {
            Ok(Ok(s)) => match &*s {
                ConnectionState::Failed(e) => Err(e.clone()),
                _ => Ok(()),
            },
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout),
        }
    }

    /// A `list` or `get` over the socket: the data and the sequence number it reflects. Fails at once when the
    /// socket is down, and with `Timeout` when no answer comes in time.
    pub async fn request(
        &self,
        model: &str,
        action: Action,
        params: serde_json::Value,
    ) -> Result<(serde_json::Value, i64), Error> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Request {
                model: model.to_owned(),
                action,
                params,
                reply,
            })
            .map_err(|_| Error::Closed)?;
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Disconnected),
            Err(_) => Err(Error::Timeout),
        }
    }

    /// Receives the events of `channel`: subscribes if this client is not subscribed yet (one server subscription
    /// per channel, shared by every listener). The listener ends when the receiver is dropped.
    pub fn listen(&self, channel: &str) -> Result<mpsc::UnboundedReceiver<ChannelEvent>, Error> {
        let (listener, events) = mpsc::unbounded_channel();
        self.listen_into(channel, listener)?;
        Ok(events)
    }

    /// As [`WsTransport::listen`], into a queue of the caller's (which may gather several channels).
    pub fn listen_into(
        &self,
        channel: &str,
        listener: mpsc::UnboundedSender<ChannelEvent>,
    ) -> Result<(), Error> {
        self.commands
            .send(Command::Listen {
                channel: channel.to_owned(),
                listener,
            })
            .map_err(|_| Error::Closed)
    }

    /// Closes the socket for good: no reconnect; pending requests fail with `Closed`.
    pub fn disconnect(&self) {
        let _ = self.commands.send(Command::Disconnect);
    }
}

struct Channel {
    /// The last sequence number received on it: the `since` of a resubscription.
    seq: Option<i64>,
    listeners: Vec<mpsc::UnboundedSender<ChannelEvent>>,
}

type Pending = HashMap<u64, oneshot::Sender<Result<(serde_json::Value, i64), Error>>>;

struct Task {
    url: String,
    token: TokenProvider,
    backoff: Backoff,
    commands: mpsc::UnboundedReceiver<Command>,
    state: watch::Sender<ConnectionState>,
    channels: HashMap<String, Channel>,
    pending: Pending,
    next_id: u64,
}

/// How one connection ended.
enum Ended {
    /// `disconnect()`, or every handle dropped.
    Stopped,
    /// Closed with 4401 or refused at the handshake with 401.
    Unauthorized(String),
    /// Anything else: reconnect.
    Dropped { was_connected: bool },
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What one turn of a connection's loop received.
enum Input {
    Command(Option<Command>),
    Frame(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
}

impl Task {
    async fn run(mut self) {
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            let _ = self.state.send(ConnectionState::Connecting);
            match self.connection().await {
                Ended::Stopped => {
                    self.stop(Error::Closed);
                    return;
                }
                Ended::Unauthorized(reason) if refreshed => {
                    self.stop(Error::Auth(reason));
                    return;
                }
                Ended::Unauthorized(_) => {
                    // One retry right away with a token asked for anew.
                    refreshed = true;
                    continue;
                }
                Ended::Dropped { was_connected } => {
                    if was_connected {
                        attempt = 0;
                        refreshed = false;
                    }
                }
            }
            self.notify_all(ChannelEvent::Disconnected);
            let delay = self.backoff.delay(attempt, fastrand::f64());
            let _ = self.state.send(ConnectionState::Reconnecting { attempt });
            attempt = attempt.saturating_add(1);
            // Commands keep coming while waiting: requests fail at once, listeners are registered for later.
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                let command = tokio::select! {
                    _ = &mut sleep => break,
                    command = self.commands.recv() => command,
                };
                if self.while_waiting(command).is_break() {
                    return;
                }
            }
        }
    }

    /// A command while no socket is open: requests fail at once, listeners are registered for the next connection.
    fn while_waiting(&mut self, command: Option<Command>) -> ControlFlow<()> {
        match command {
            None | Some(Command::Disconnect) => {
                self.stop(Error::Closed);
                return ControlFlow::Break(());
            }
            Some(Command::Request { reply, .. }) => {
                let _ = reply.send(Err(Error::Disconnected));
            }
            Some(Command::Listen { channel, listener }) => {
                self.add_listener(channel, listener);
            }
        }
        ControlFlow::Continue(())
    }

    fn stop(&mut self, error: Error) {
        // Live lists must no longer claim to be current.
        self.notify_all(ChannelEvent::Disconnected);
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(error.clone()));
        }
        let _ = self.state.send(ConnectionState::Failed(error));
    }

    fn notify_all(&mut self, event: ChannelEvent) {
        for channel in self.channels.values_mut() {
            channel.listeners.retain(|l| l.send(event.clone()).is_ok());
        }
    }

    fn add_listener(
        &mut self,
        channel: String,
        listener: mpsc::UnboundedSender<ChannelEvent>,
    ) -> bool {
        let entry = self.channels.entry(channel).or_insert_with(|| Channel {
            seq: None,
            listeners: Vec::new(),
        });
        let new = entry.listeners.is_empty() && entry.seq.is_none();
        entry.listeners.push(listener);
        new
    }

    async fn open(&self) -> Result<Socket, Ended> {
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| Ended::Unauthorized(e.to_string()))?;
        if let Some(token) = (self.token)() {
            let value = format!("Bearer {token}").parse().map_err(|_| {
                Ended::Unauthorized("the token is not a valid header value".to_owned())
            })?;
            request.headers_mut().insert("Authorization", value);
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(response))
                if response.status() == 401 =>
            {
                Err(Ended::Unauthorized("401".to_owned()))
            }
            Err(_) => Err(Ended::Dropped {
                was_connected: false,
            }),
        }
    }

    async fn send(socket: &mut Socket, message: &ClientMessage) -> Result<(), Ended> {
        let text = serde_json::to_string(message).unwrap_or_default();
        socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| Ended::Dropped {
                was_connected: true,
            })
    }

    /// One connection, from connect to its end.
    async fn connection(&mut self) -> Ended {
        let mut socket = match self.open().await {
            Ok(socket) => socket,
            Err(ended) => return ended,
        };
        let mut connected = false;
        loop {
            // The `select!` only receives; what arrived is handled by methods, outside the macro, where rustfmt
            // and clippy see the code.
            let input = tokio::select! {
                command = self.commands.recv() => Input::Command(command),
                frame = socket.next() => Input::Frame(frame),
            };
            let flow = match input {
                Input::Command(command) => self.on_command(&mut socket, command, connected).await,
                Input::Frame(frame) => self.on_frame(&mut socket, frame, &mut connected).await,
            };
            if let ControlFlow::Break(ended) = flow {
                return ended;
            }
        }
    }

    /// A command of a handle while the socket is open (`connected`: the server said `ready`).
    async fn on_command(
        &mut self,
        socket: &mut Socket,
        command: Option<Command>,
        connected: bool,
    ) -> ControlFlow<Ended> {
        match command {
            None | Some(Command::Disconnect) => {
                let _ = socket.close(None).await;
                ControlFlow::Break(Ended::Stopped)
            }
            Some(Command::Request {
                model,
                action,
                params,
                reply,
            }) => {
                if !connected {
                    let _ = reply.send(Err(Error::Disconnected));
                    return ControlFlow::Continue(());
                }
                self.next_id += 1;
                let id = self.next_id;
                self.pending.insert(id, reply);
                let request = ClientMessage::Request {
                    request_id: RequestId::Number(id),
                    model,
                    action,
                    params,
                };
                let sent = Self::send(socket, &request).await;
                self.sent(sent)
            }
            Some(Command::Listen { channel, listener }) => {
                // Before `ready` the resubscription of every channel will include it.
                if self.add_listener(channel.clone(), listener) && connected {
                    let subscribe = ClientMessage::Subscribe {
                        channel,
                        since: None,
                    };
                    let sent = Self::send(socket, &subscribe).await;
                    return self.sent(sent);
                }
                ControlFlow::Continue(())
            }
        }
    }

    /// A frame from the server, or the end of the socket.
    async fn on_frame(
        &mut self,
        socket: &mut Socket,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
        connected: &mut bool,
    ) -> ControlFlow<Ended> {
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(Some(frame))))
                if u16::from(frame.code) == close::UNAUTHORIZED =>
            {
                let ended = Ended::Unauthorized(frame.reason.to_string());
                return ControlFlow::Break(self.dropped(ended));
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                let ended = Ended::Dropped {
                    was_connected: *connected,
                };
                return ControlFlow::Break(self.dropped(ended));
            }
            Some(Ok(_)) => return ControlFlow::Continue(()),
        };
        // A message that a newer server added is ignored.
        let Ok(message) = serde_json::from_str::<ServerMessage>(&text) else {
            return ControlFlow::Continue(());
        };
        match message {
            ServerMessage::Ready { .. } => {
                *connected = true;
                let _ = self.state.send(ConnectionState::Connected);
                return self.resubscribe(socket).await;
            }
            ServerMessage::Subscribed {
                channel,
                seq,
                resumed,
                ..
            } => self.on_subscribed(&channel, seq, resumed),
            ServerMessage::Update {
                channel,
                seq,
                kind,
                id,
                data,
                ..
            } => self.on_update(&channel, seq, kind, id, data),
            ServerMessage::Response {
                request_id: RequestId::Number(id),
                seq,
                data,
                error,
            } => self.on_response(id, seq, data, error),
            ServerMessage::Error {
                error,
                channel: Some(channel),
            } => self.on_refused(&channel, error),
            ServerMessage::Error { .. }
            | ServerMessage::Response { .. }
            | ServerMessage::Unsubscribed { .. }
            | ServerMessage::Pong => {}
        }
        ControlFlow::Continue(())
    }

    /// After `ready`: every channel again, from where it stopped.
    async fn resubscribe(&mut self, socket: &mut Socket) -> ControlFlow<Ended> {
        let subscriptions: Vec<ClientMessage> = self
            .channels
            .iter()
            .filter(|(_, c)| !c.listeners.is_empty())
            .map(|(name, c)| ClientMessage::Subscribe {
                channel: name.clone(),
                since: c.seq,
            })
            .collect();
        for subscription in subscriptions {
            let sent = Self::send(socket, &subscription).await;
            self.sent(sent)?;
        }
        ControlFlow::Continue(())
    }

    fn on_subscribed(&mut self, channel: &str, seq: i64, resumed: Option<bool>) {
        let Some(c) = self.channels.get_mut(channel) else {
            return;
        };
        // Replayed events follow when resumed; otherwise the stream restarts at `seq`.
        let resumed = resumed.unwrap_or(c.seq.is_none());
        if !resumed || c.seq.is_none() {
            c.seq = Some(seq);
        }
        c.listeners
            .retain(|l| l.send(ChannelEvent::Subscribed { seq, resumed }).is_ok());
    }

    fn on_update(
        &mut self,
        channel: &str,
        seq: i64,
        kind: ChangeKind,
        id: String,
        data: serde_json::Value,
    ) {
        let Some(c) = self.channels.get_mut(channel) else {
            return;
        };
        if c.seq.is_some_and(|last| seq <= last) {
            return; // already seen (a replay overlapping what arrived live)
        }
        c.seq = Some(seq);
        let event = ChannelEvent::Update {
            seq,
            kind,
            id,
            data,
        };
        c.listeners.retain(|l| l.send(event.clone()).is_ok());
    }

    fn on_response(
        &mut self,
        id: u64,
        seq: Option<i64>,
        data: Option<serde_json::Value>,
        error: Option<ErrorBody>,
    ) {
        let Some(reply) = self.pending.remove(&id) else {
            return; // its caller gave up (timeout) or the id is not ours
        };
        let _ = reply.send(match (data, error) {
            (_, Some(error)) => Err(Error::Request(error)),
            (Some(data), None) => Ok((data, seq.unwrap_or(0))),
            (None, None) => Err(Error::Protocol(
                "a response without data or error".to_owned(),
            )),
        });
    }

    /// The server refused a subscription: its listeners learn why, and the channel is not resubscribed.
    fn on_refused(&mut self, channel: &str, error: ErrorBody) {
        if let Some(c) = self.channels.remove(channel) {
            for listener in c.listeners {
                let _ = listener.send(ChannelEvent::Refused(error.clone()));
            }
        }
    }

    /// Continues after a successful send; a failed one ends the connection.
    fn sent(&mut self, result: Result<(), Ended>) -> ControlFlow<Ended> {
        match result {
            Ok(()) => ControlFlow::Continue(()),
            Err(ended) => ControlFlow::Break(self.dropped(ended)),
        }
    }

    /// The socket dropped: every request in flight fails now, not at its timeout.
    fn dropped(&mut self, ended: Ended) -> Ended {
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(Error::Disconnected));
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
        }
    }

    #[test]
    fn the_bound_doubles_up_to_the_cap() {
        let backoff = backoff();
        let bounds: Vec<u128> = (0..9).map(|a| backoff.bound(a).as_millis()).collect();
        assert_eq!(
            bounds,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]
        );
    }

    #[test]
    fn the_bound_does_not_overflow_after_many_attempts() {
        let backoff = backoff();
        for attempt in [31, 32, 63, 1000, u32::MAX] {
            assert_eq!(backoff.bound(attempt), backoff.cap, "attempt {attempt}");
        }
    }

    #[test]
    fn the_delay_is_full_jitter_within_the_bound() {
        let backoff = backoff();
        assert_eq!(backoff.delay(3, 0.0), Duration::ZERO);
        assert_eq!(backoff.delay(3, 0.5), Duration::from_millis(400));
        assert!(backoff.delay(3, 0.999_999) < backoff.bound(3));
        // Out-of-range randomness is clamped rather than trusted.
        assert_eq!(backoff.delay(3, -1.0), Duration::ZERO);
        assert_eq!(backoff.delay(3, 7.0), backoff.bound(3));
    }
}
