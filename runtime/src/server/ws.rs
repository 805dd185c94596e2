//! The WebSocket gateway at `/ws`: authentication, subscriptions with resume, reads over the socket, and the
//! delivery of the hub's events to one connection. The protocol is in `crate::protocol`.

use std::collections::VecDeque;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;

use super::auth::{Caller, Claims};
use super::error::ApiError;
use super::hub::{Frame, Outlet, SubscribeError, Visibility};
use super::{outbox, resources, App};
use crate::channels::Channel;
use crate::protocol::{
    close, ClientMessage, ErrorBody, ServerMessage, BEARER_SUBPROTOCOL_PREFIX, SUBPROTOCOL,
};

/// Frames a connection keeps room for between batches; a larger batch's buffer is freed once written.
const BATCH_CAPACITY: usize = 64;

/// Longer than any connection lives (30 years, as tokio's own "far future"): a token expiring later never expires
/// on the connection, and `Instant::now() + NEVER` cannot overflow.
const NEVER: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// `GET /ws`: upgrades to a WebSocket speaking [`crate::protocol`], authenticated by the `Authorization` header,
/// a `bearer.<token>` subprotocol or a first `auth` frame.
pub async fn endpoint(
    State(app): State<App>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Browsers send the page's origin with an upgrade, and CORS does not apply to WebSockets: refused here.
    if let Err(reason) = app.config.cors_origins.allows_upgrade(&headers) {
        return ApiError::new(StatusCode::FORBIDDEN, "forbidden", reason).into_response();
    }
    let token = token_of(&headers);
    let limits = &app.config.ws;
    upgrade
        .protocols([SUBPROTOCOL])
        .read_buffer_size(limits.read_buffer_bytes)
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .on_upgrade(move |socket| connection(app, socket, token))
}

/// The token of the upgrade request: `Authorization: Bearer <token>`, or a `bearer.<token>` subprotocol (for
/// browsers, which cannot set headers). `Some(Err)` for a malformed `Authorization` header.
fn token_of(headers: &HeaderMap) -> Option<Result<String, String>> {
    if let Some(header) = headers.get(axum::http::header::AUTHORIZATION) {
        return Some(
            header
                .to_str()
                .ok()
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(str::to_owned)
                .ok_or_else(|| "the Authorization header must be `Bearer <token>`".to_owned()),
        );
    }
    headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|protocol| protocol.trim().strip_prefix(BEARER_SUBPROTOCOL_PREFIX))
        .map(|token| Ok(token.to_owned()))
}

fn frame_of(message: &ServerMessage) -> Frame {
    // Serializing these messages cannot fail: strings, numbers and JSON values only.
    Utf8Bytes::from(serde_json::to_string(message).unwrap_or_default())
}

fn error_message(code: &str, message: impl Into<String>, channel: Option<&str>) -> ServerMessage {
    ServerMessage::Error {
        error: ErrorBody {
            code: code.to_owned(),
            message: message.into(),
            details: None,
        },
        channel: channel.map(str::to_owned),
    }
}

fn error_body(error: ApiError) -> ErrorBody {
    ErrorBody {
        code: error.code.to_owned(),
        message: error.message,
        details: error
            .details
            .and_then(|d| serde_json::to_value(d.errors).ok()),
    }
}

/// A close frame's reason holds at most 123 bytes (RFC 6455 5.5: 125 for the payload, 2 of them the code); a
/// longer one makes a standards-following client fail the connection (1002/1006) instead of seeing the code.
pub const MAX_CLOSE_REASON: usize = 123;

/// `reason` cut to `MAX_CLOSE_REASON` bytes, at a character boundary so that it stays UTF-8.
fn close_reason(reason: &str) -> &str {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// How long a close frame may take to go out, behind what is already written: a peer that reads nothing gets no
/// longer than this before its connection ends.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

async fn close_with(socket: &mut WebSocket, code: u16, reason: &str) {
    close_within(socket, code, reason, CLOSE_TIMEOUT).await;
}

/// Sends the close frame behind whatever the socket still holds, waiting up to `timeout` for the peer to take
/// them. A frame is never cut here: a write abandoned by the connection (when the hub killed it) left its frames
/// whole in the socket's buffer, and they go out first.
async fn close_within(socket: &mut WebSocket, code: u16, reason: &str, timeout: Duration) {
    super::metrics::closed(code);
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(close_reason(reason)),
    };
    let _ = tokio::time::timeout(timeout, socket.send(Message::Close(Some(frame)))).await;
}

/// The close frame for an error reading the socket: tungstenite's errors reach us through axum as text only. A
/// message over `max_message_size` ("Space limit exceeded: Message too long") is 1009, a text that is not UTF-8
/// 1007, a frame that breaks the protocol 1002, each told to the client instead of a bare TCP close; anything else
/// is a broken connection, with no one to tell.
fn refusal_of(error: &str) -> Option<(u16, &'static str)> {
    if error.contains("Message too long") {
        Some((close::TOO_BIG, "message too big"))
    } else if error.starts_with("UTF-8 encoding error") {
        Some((close::INVALID_DATA, "a text message that is not UTF-8"))
    } else if error.starts_with("WebSocket protocol error") {
        Some((close::PROTOCOL_ERROR, "a frame that breaks RFC 6455"))
    } else {
        None
    }
}

/// The `requestId` of a text that is a `request` the protocol's types refused, when it is a number or a string
/// (anything else is not echoed: the answer is then an `error`).
fn request_id_of(text: &str) -> Option<serde_json::Value> {
    let mut value = serde_json::from_str::<serde_json::Value>(text).ok()?;
    if value.get("type")? != "request" {
        return None;
    }
    let id = value.get_mut("requestId")?.take();
    (id.is_number() || id.is_string()).then_some(id)
}

/// Authenticates, then serves. The task lives as long as the connection and takes the size of its largest state:
/// the short-lived ones (authentication, the close) are boxed, and the socket stays where the task got it (moving
/// it into another local would keep both copies), so that an idle connection holds only what serving needs.
async fn connection(app: App, mut socket: WebSocket, token: Option<Result<String, String>>) {
    let Some(claims) = Box::pin(authenticate(&app, &mut socket, token)).await else {
        return;
    };
    let expires = claims.exp;
    let (id, outlet) = app.hub.connect();
    let mut conn = Connection {
        app,
        caller: Caller(Some(claims)),
        id,
        socket: &mut socket,
        outlet,
    };
    // A panic in serving (a bug) ends this connection only: it is closed with 1011 and the hub forgets it, as for
    // any other end. The panic hook has logged its cause.
    let served = unwinding(conn.serve(expires)).await;
    let mut code = served.unwrap_or_else(|_| {
        tracing::error!(
            connection = id,
            "a panic ended the connection's task; closing it with 1011"
        );
        Some((close::INTERNAL_ERROR, "internal error"))
    });
    conn.app.hub.disconnect(id);
    // Cut off by the hub (possibly while blocked writing to a peer that does not read), or the server shuts down.
    let mut close_timeout = CLOSE_TIMEOUT;
    match conn.outlet.code() {
        Some(close::TOO_SLOW) => {
            // A peer that still reads, only too slowly, gets the rest of the frames it was sent and then 4429,
            // however long its backlog takes within the write timeout; only one that reads nothing at all finds
            // its connection ended without a close frame (docs/protocol.md, "Liveness and limits").
            close_timeout = conn.app.config.ws.write_timeout;
            tracing::warn!(
                connection = id,
                "closing a connection that fell too far behind (its send queue overflowed)"
            );
            code = Some((
                close::TOO_SLOW,
                "fell too far behind: reconnect and resume with `since`",
            ));
        }
        Some(killed) => code = Some((killed, "the server is shutting down")),
        None => {}
    }
    if let Some((code, reason)) = code {
        Box::pin(close_within(conn.socket, code, reason, close_timeout)).await;
    }
}

/// The caller's claims (from the upgrade, or from a first `auth` frame within the deadline); `None` once the
/// connection is closed with 4401.
async fn authenticate(
    app: &App,
    socket: &mut WebSocket,
    token: Option<Result<String, String>>,
) -> Option<Claims> {
    let token = match token {
        Some(token) => token,
        None => first_frame_token(app, socket).await,
    };
    match token.and_then(|token| app.tokens.verify(&token)) {
        Ok(claims) => Some(claims),
        Err(reason) => {
            close_with(socket, close::UNAUTHORIZED, &reason).await;
            None
        }
    }
}

/// The token of the first frame, which must be `{"type": "auth", "token": ...}`. Nothing else is read before it.
async fn first_frame_token(app: &App, socket: &mut WebSocket) -> Result<String, String> {
    let first = tokio::time::timeout(app.config.ws.auth_timeout, socket.recv()).await;
    let Ok(Some(Ok(Message::Text(text)))) = first else {
        return Err("no token: send `Authorization: Bearer <token>`, a `bearer.<token>` subprotocol, or an `auth` frame first".to_owned());
    };
    match serde_json::from_str::<ClientMessage>(&text) {
        Ok(ClientMessage::Auth { token }) => Ok(token),
        _ => Err("the first frame must be `{\"type\": \"auth\", \"token\": ...}`".to_owned()),
    }
}

struct Connection<'a> {
    app: App,
    caller: Caller,
    id: u64,
    socket: &'a mut WebSocket,
    /// The send queue and kill switch the hub holds for this connection.
    outlet: Arc<Outlet>,
}

/// The connection ended; the socket is done for.
struct Gone;

/// The close frame to send when a connection ends; `None` when there is none to send (the peer is gone, or
/// `connection` sends the one the hub chose).
type Close = Option<(u16, &'static str)>;

/// What one turn of a connection's loop received.
enum Input {
    /// Frames were queued, or the connection was killed.
    Woken,
    /// The first deadline passed.
    Timer,
    /// The answer to one of the connection's requests.
    Response(Frame),
    /// A frame from the client, or the end of the socket.
    Inbound(Option<Result<Message, axum::Error>>),
}

/// A connection's deadlines.
struct Deadlines {
    /// The token's expiry (with the leeway).
    expires: Instant,
    next_ping: Instant,
    /// Set while a ping waits for its answer.
    pong_due: Option<Instant>,
}

impl Deadlines {
    /// Whichever comes first: when the timer fires next.
    fn first(&self) -> Instant {
        self.pong_due
            .map_or(self.next_ping, |due| due.min(self.next_ping))
            .min(self.expires)
    }
}

/// The answers to a connection's `request`s, which run on their own tasks, and how many may be in flight.
struct Requests {
    responses_tx: tokio::sync::mpsc::Sender<Frame>,
    responses: tokio::sync::mpsc::Receiver<Frame>,
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl Requests {
    fn new(max_in_flight: usize) -> Requests {
        let (responses_tx, responses) = tokio::sync::mpsc::channel(max_in_flight);
        Requests {
            responses_tx,
            responses,
            in_flight: Arc::new(tokio::sync::Semaphore::new(max_in_flight)),
        }
    }
}

impl Connection<'_> {
    /// Serves until the connection ends; returns the close frame to send, if any. `expires`: the token's `exp`.
    async fn serve(&mut self, expires: u64) -> Close {
        let outlet = self.outlet.clone();
        // Made on the first `request`: most connections never send one, and a channel allocates its slots up front.
        let mut requests: Option<Requests> = None;
        // The same leeway as when the token was accepted. `exp` is the client's number: a far-future one (up to
        // u64::MAX seconds) must not overflow the clock's arithmetic, which panicked the task; beyond
        // `NEVER` the token simply outlives the connection.
        let left = Duration::from_secs(expires)
            .checked_add(self.app.config.jwt_leeway)
            .and_then(|exp| std::time::UNIX_EPOCH.checked_add(exp))
            .map_or(NEVER, |exp| {
                exp.duration_since(std::time::SystemTime::now())
                    .unwrap_or_default()
            });
        let mut deadlines = Deadlines {
            expires: Instant::now() + left.min(NEVER),
            next_ping: Instant::now() + self.app.config.ws.ping_interval,
            pong_due: None,
        };
        // One timer for whichever deadline comes first. Futures that live as long as the connection are made once,
        // not on every turn of the loop: made anew, each would register a waiter or a timer and remove it again
        // for every batch of events delivered.
        let timer = tokio::time::sleep_until(deadlines.first());
        let woken = outlet.woken();
        tokio::pin!(timer, woken);
        // The frames being written; swapped with the outlet's queue, so that neither allocates in the steady state.
        let mut batch = VecDeque::new();

        let ready = frame_of(&ServerMessage::Ready {
            seq: self.app.hub.head(),
        });
        if self.write([ready]).await.is_err() {
            return None;
        }
        loop {
            // Whatever is queued goes out first, each batch with one flush: also what arrived during another
            // write, whose wake-up that write's wait on the kill switch may have taken.
            loop {
                if outlet.code().is_some() {
                    // `connection` sends the close frame.
                    return None;
                }
                outlet.take(&mut batch);
                if batch.is_empty() {
                    break;
                }
                if self.write(batch.drain(..)).await.is_err() {
                    return Some((close::TIMEOUT, "a write did not complete in time"));
                }
            }
            if batch.capacity() > BATCH_CAPACITY {
                batch = VecDeque::new();
            }
            // The `select!` only receives; what arrived is handled below, outside the macro, where rustfmt and
            // clippy see the code.
            let input = tokio::select! {
                biased;
                _ = &mut woken => Input::Woken,
                _ = &mut timer => Input::Timer,
                Some(frame) = async { requests.as_mut()?.responses.recv().await }, if requests.is_some() => {
                    Input::Response(frame)
                }
                inbound = self.socket.next() => Input::Inbound(inbound),
            };
            let flow = match input {
                // Frames queued or the connection killed: both handled at the top of the loop.
                Input::Woken => {
                    woken.set(outlet.woken());
                    ControlFlow::Continue(())
                }
                Input::Timer => {
                    let flow = self.on_timer(&mut deadlines).await;
                    timer.as_mut().reset(deadlines.first());
                    flow
                }
                Input::Response(frame) => {
                    if Box::pin(self.write([frame])).await.is_err() {
                        ControlFlow::Break(Some((
                            close::TIMEOUT,
                            "a write did not complete in time",
                        )))
                    } else {
                        ControlFlow::Continue(())
                    }
                }
                Input::Inbound(inbound) => {
                    // Any frame shows the peer is alive.
                    deadlines.pong_due = None;
                    self.on_inbound(inbound, &mut requests).await
                }
            };
            if let ControlFlow::Break(close) = flow {
                return close;
            }
        }
    }

    /// The timer fired: the token expired, a pong is overdue, or it is time for a ping.
    async fn on_timer(&mut self, deadlines: &mut Deadlines) -> ControlFlow<Close> {
        let now = Instant::now();
        if now >= deadlines.expires {
            return ControlFlow::Break(Some((close::UNAUTHORIZED, "the token expired")));
        }
        if deadlines.pong_due.is_some_and(|due| now >= due) {
            return ControlFlow::Break(Some((close::TIMEOUT, "no pong in time")));
        }
        if now >= deadlines.next_ping {
            let limits = &self.app.config.ws;
            deadlines.next_ping = now + limits.ping_interval;
            if deadlines.pong_due.is_none() {
                deadlines.pong_due = Some(now + limits.pong_timeout);
                let ping = Message::Ping(Default::default());
                if Box::pin(self.send([ping])).await.is_err() {
                    return ControlFlow::Break(None);
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// A frame from the client, or the end of the socket.
    async fn on_inbound(
        &mut self,
        inbound: Option<Result<Message, axum::Error>>,
        requests: &mut Option<Requests>,
    ) -> ControlFlow<Close> {
        let message = match inbound {
            None => return ControlFlow::Break(None),
            Some(Err(e)) => return ControlFlow::Break(refusal_of(&e.to_string())),
            Some(Ok(message)) => message,
        };
        let outcome = match message {
            // Boxed: its future (database reads) is large and rare; inline, it would make every idle
            // connection's task as large.
            Message::Text(text) => Box::pin(self.handle(&text, requests)).await,
            Message::Binary(_) => {
                let refusal = error_message(
                    "bad_message",
                    "binary frames are not part of the protocol: send JSON text",
                    None,
                );
                Box::pin(self.reply(refusal)).await
            }
            Message::Close(_) => return ControlFlow::Break(None),
            Message::Ping(_) | Message::Pong(_) => Ok(()),
        };
        match outcome {
            Ok(()) => ControlFlow::Continue(()),
            Err(Gone) => ControlFlow::Break(None),
        }
    }

    async fn handle(&mut self, text: &str, requests: &mut Option<Requests>) -> Result<(), Gone> {
        let message = match serde_json::from_str::<ClientMessage>(text) {
            Ok(message) => message,
            Err(e) => {
                let message = format!("not a message of the protocol: {e}");
                // A `request` refused for its shape (a `requestId` of -1 or 1.5, a missing `model`) is answered
                // by a `response` that carries its `requestId` as sent, so that the client can match the answer.
                if let Some(request_id) = request_id_of(text) {
                    let response = serde_json::json!({
                        "type": "response",
                        "requestId": request_id,
                        "error": { "code": "bad_message", "message": message },
                    });
                    return self.write([Utf8Bytes::from(response.to_string())]).await;
                }
                return self
                    .reply(error_message("bad_message", message, None))
                    .await;
            }
        };
        match message {
            ClientMessage::Auth { .. } => {
                self.reply(error_message("bad_message", "already authenticated", None))
                    .await
            }
            ClientMessage::Ping => self.reply(ServerMessage::Pong).await,
            ClientMessage::Subscribe { channel, since } => self.subscribe(&channel, since).await,
            ClientMessage::Unsubscribe { channel } => {
                if self.app.hub.unsubscribe(self.id, &channel) {
                    // Events of the channel queued before it ended go out before `unsubscribed`.
                    self.flush_queue().await?;
                    self.reply(ServerMessage::Unsubscribed { channel }).await
                } else {
                    self.reply(error_message(
                        "not_subscribed",
                        format!("not subscribed to {channel:?}"),
                        Some(&channel),
                    ))
                    .await
                }
            }
            ClientMessage::Request {
                request_id,
                model,
                action,
                params,
            } => {
                let max = self.app.config.ws.max_requests_in_flight;
                let requests = requests.get_or_insert_with(|| Requests::new(max));
                let Ok(permit) = requests.in_flight.clone().try_acquire_owned() else {
                    let message = ServerMessage::Response {
                        request_id,
                        seq: None,
                        data: None,
                        error: Some(ErrorBody {
                            code: "too_many_requests".to_owned(),
                            message: format!(
                                "at most {} requests may be in flight",
                                self.app.config.ws.max_requests_in_flight
                            ),
                            details: None,
                        }),
                    };
                    return self.reply(message).await;
                };
                let (app, caller, responses) = (
                    self.app.clone(),
                    self.caller.clone(),
                    requests.responses_tx.clone(),
                );
                tokio::spawn(async move {
                    let read = resources::request(&app, &caller, &model, action, params);
                    // A panic in the read (a bug) is answered like any internal error, so that the client's
                    // request does not wait for its timeout; the panic hook has logged its cause.
                    let answer = unwinding(read).await.unwrap_or_else(|_| {
                        Err(ApiError::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "internal",
                            "internal error; the cause is in the server log",
                        ))
                    });
                    let message = match answer {
                        Ok((data, seq)) => ServerMessage::Response {
                            request_id,
                            seq: Some(seq),
                            data: Some(data),
                            error: None,
                        },
                        Err(error) => ServerMessage::Response {
                            request_id,
                            seq: None,
                            data: None,
                            error: Some(error_body(error)),
                        },
                    };
                    let _ = responses.send(frame_of(&message)).await;
                    drop(permit);
                });
                Ok(())
            }
        }
    }

    /// Subscribes, replaying from the outbox first when `since` is given. Runs inline, so the connection's later
    /// messages are handled after it (an `unsubscribe` right behind it finds the subscription).
    async fn subscribe(&mut self, name: &str, since: Option<i64>) -> Result<(), Gone> {
        let channel = match Channel::parse(name) {
            Ok(channel) => channel,
            Err(e) => {
                return self
                    .reply(error_message("unknown_channel", e.to_string(), Some(name)))
                    .await
            }
        };
        let (visibility, exists) =
            match Self::check_access(&self.app, &self.caller, &channel, since.is_some()).await {
                Ok(access) => access,
                Err(error) => {
                    let body = error_body(error);
                    return self
                        .reply(error_message(&body.code, body.message, Some(name)))
                        .await;
                }
            };
        // Events queued for an earlier subscription of this channel go out before the new `subscribed`.
        self.flush_queue().await?;
        let head = match self
            .app
            .hub
            .subscribe(self.id, name, visibility.clone(), since.is_some())
        {
            Ok(head) => head,
            Err(SubscribeError::AlreadySubscribed) => {
                return self
                    .reply(error_message(
                        "already_subscribed",
                        format!("already subscribed to {name:?}"),
                        Some(name),
                    ))
                    .await;
            }
            Err(SubscribeError::TooManySubscriptions(max)) => {
                return self
                    .reply(error_message(
                        "too_many_subscriptions",
                        format!("at most {max} subscriptions per connection"),
                        Some(name),
                    ))
                    .await;
            }
            Err(SubscribeError::Gone) => return Err(Gone),
        };
        let Some(since) = since else {
            return self
                .reply(ServerMessage::Subscribed {
                    channel: name.to_owned(),
                    seq: head,
                    since: None,
                    resumed: None,
                })
                .await;
        };
        let replay = match Self::replay(&self.app, &channel, name, since, head, &visibility).await {
            Ok(replay) => replay,
            Err(e) => {
                tracing::warn!(error = %e, channel = name, "replay failed");
                self.app.hub.unsubscribe(self.id, name);
                return self
                    .reply(error_message(
                        "unavailable",
                        "the event history cannot be read now; retry",
                        Some(name),
                    ))
                    .await;
            }
        };
        // The row of an item channel is gone: the resume is worth something only if it replays what the subscriber
        // missed (its `deleted` event at least, which it may see by the row as it was); otherwise, as without
        // `since`, there is nothing to subscribe to.
        if !exists && replay.as_ref().is_none_or(Vec::is_empty) {
            self.app.hub.unsubscribe(self.id, name);
            return self
                .reply(error_message(
                    "not_found",
                    format!("no {} of the channel {name}", channel.model()),
                    Some(name),
                ))
                .await;
        }
        let resumed = replay.is_some();
        let mut frames = vec![frame_of(&ServerMessage::Subscribed {
            channel: name.to_owned(),
            seq: head,
            since: Some(since),
            resumed: Some(resumed),
        })];
        frames.extend(replay.unwrap_or_default());
        // Live events that arrived during the replay follow it; from here on they go through the queue.
        frames.extend(self.app.hub.go_live(self.id, name).unwrap_or_default());
        self.write(frames).await
    }

    /// Read access to the channel: the model's read rule, and for an item channel that the row exists and may be
    /// read by this caller.
    ///
    /// With `resuming`, a missing row is no refusal yet (`false` with the visibility): it may have been deleted
    /// after `since`, and the replay of its events decides.
    async fn check_access(
        app: &App,
        caller: &Caller,
        channel: &Channel,
        resuming: bool,
    ) -> Result<(Visibility, bool), ApiError> {
        let visibility = resources::visibility(channel.model(), caller)?;
        if let Channel::Item(model, id) = channel {
            match resources::check_item(app, caller, model, id).await {
                Ok(()) => {}
                Err(e) if resuming && e.status == StatusCode::NOT_FOUND => {
                    return Ok((visibility, false))
                }
                Err(e) => return Err(e),
            }
        }
        Ok((visibility, true))
    }

    /// The events of the channel after `since` up to `head` that the subscriber may see, as frames; `None` when
    /// they can no longer all be replayed.
    async fn replay(
        app: &App,
        channel: &Channel,
        name: &str,
        since: i64,
        head: i64,
        visibility: &Visibility,
    ) -> Result<Option<Vec<Frame>>, String> {
        // A subscriber from before a migration changed the model's table holds rows without what it added, and
        // the events before it may have another shape (or another model name): it fetches again instead.
        let migrated = app
            .epoch(channel.model())
            .is_some_and(|epoch| since <= epoch);
        if since > head || since < 0 || migrated {
            return Ok(None);
        }
        if since == head {
            return Ok(Some(Vec::new()));
        }
        let max = app.config.ws.max_replay;
        let record_id = match channel {
            Channel::Item(_, id) => Some(id.as_str()),
            Channel::List(_) => None,
        };
        let range = outbox::Range {
            after: since,
            through: Some(head),
            model: Some(channel.model()),
            record_id,
            limit: max + 1,
        };
        let events = outbox::read(&app.db, range).await?;
        // Read after the events: a prune that removed any of them has committed its new horizon by then.
        let pruned_through = outbox::pruned_through(&app.db).await?;
        if since < pruned_through || events.len() as i64 > max {
            return Ok(None);
        }
        Ok(Some(
            events
                .iter()
                .filter(|e| visibility.allows(e))
                .map(|e| super::hub::update_frame(name, e))
                .collect(),
        ))
    }

    async fn flush_queue(&mut self) -> Result<(), Gone> {
        let mut frames = VecDeque::new();
        self.outlet.take(&mut frames);
        if frames.is_empty() {
            Ok(())
        } else {
            self.write(frames).await
        }
    }

    async fn reply(&mut self, message: ServerMessage) -> Result<(), Gone> {
        self.write([frame_of(&message)]).await
    }

    async fn write(&mut self, frames: impl IntoIterator<Item = Frame>) -> Result<(), Gone> {
        self.send(frames.into_iter().map(Message::Text)).await
    }

    /// Writes messages with one flush (one system call for the batch when they fit the socket's buffer).
    async fn send(&mut self, messages: impl IntoIterator<Item = Message>) -> Result<(), Gone> {
        let timeout = self.app.config.ws.write_timeout;
        let socket = &mut *self.socket;
        let written = async {
            for message in messages {
                socket.feed(message).await?;
            }
            socket.flush().await
        };
        let mut written = std::pin::pin!(written);
        // Most writes complete at once (the socket's buffer has room): polled once first, they need no timer and
        // no wait on the kill switch.
        if let Poll::Ready(written) =
            std::future::poll_fn(|cx| Poll::Ready(written.as_mut().poll(cx))).await
        {
            return written.map_err(|_| Gone);
        }
        // A peer that does not read blocks the flush; the hub may cut it off meanwhile. Boxed: rare, and its timer
        // and waits would otherwise enlarge every connection's task.
        Box::pin(finish_write(written, timeout, &self.outlet)).await
    }
}

/// Waits for a write that did not complete at once, up to `timeout` and until the connection is killed.
async fn finish_write<F, E>(
    written: Pin<&mut F>,
    timeout: Duration,
    outlet: &Outlet,
) -> Result<(), Gone>
where
    F: Future<Output = Result<(), E>>,
{
    tokio::select! {
        biased;
        written = tokio::time::timeout(timeout, written) => match written {
            Ok(Ok(())) => Ok(()),
            _ => Err(Gone),
        },
        _ = outlet.killed() => Err(Gone),
    }
}

/// `future`, with a panic in it caught (the connection and its requests are tasks whose other state must be
/// cleaned up after a bug, not dropped with the task). A plain function, not an `async fn`: that would hold
/// `future` twice in the connection's task, once as its argument and once inside `catch_unwind`.
fn unwinding<F: Future>(
    future: F,
) -> futures_util::future::CatchUnwind<std::panic::AssertUnwindSafe<F>> {
    futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_close_frame_and_stay_utf8() {
        assert_eq!(close_reason("the token expired"), "the token expired");
        let exact = "x".repeat(MAX_CLOSE_REASON);
        assert_eq!(close_reason(&exact), exact);
        assert_eq!(close_reason(&"x".repeat(500)).len(), MAX_CLOSE_REASON);
        // "é" is 2 bytes: 61 of them and a third byte would cut the 62nd in half at byte 123.
        let accented = format!("x{}", "é".repeat(100));
        let cut = close_reason(&accented);
        assert_eq!(cut.len(), 1 + 2 * 61);
        assert!(accented.starts_with(cut));
        // A 4-byte character straddling the limit is left out whole.
        let emoji = format!("{}🦀", "x".repeat(121));
        assert_eq!(close_reason(&emoji), "x".repeat(121));
    }

    #[test]
    fn read_errors_get_their_close_codes() {
        let code = |error: &str| refusal_of(error).map(|(code, _)| code);
        assert_eq!(
            code("Space limit exceeded: Message too long: 20000 > 16384"),
            Some(close::TOO_BIG)
        );
        assert_eq!(
            code("UTF-8 encoding error: invalid utf-8 sequence"),
            Some(close::INVALID_DATA)
        );
        assert_eq!(
            code("WebSocket protocol error: Reserved bits are non-zero"),
            Some(close::PROTOCOL_ERROR)
        );
        assert_eq!(code("IO error: Connection reset by peer"), None);
    }

    #[test]
    fn request_id_of_a_refused_request() {
        let id = |text: &str| request_id_of(text);
        assert_eq!(
            id(r#"{"type": "request", "requestId": -1}"#),
            Some(serde_json::json!(-1))
        );
        assert_eq!(
            id(r#"{"type": "request", "requestId": "a"}"#),
            Some(serde_json::json!("a"))
        );
        assert_eq!(id(r#"{"type": "request", "requestId": {"a": 1}}"#), None);
        assert_eq!(id(r#"{"type": "request"}"#), None);
        assert_eq!(id(r#"{"type": "subscribe", "requestId": 1}"#), None);
        assert_eq!(id("not json"), None);
    }

    /// The size of a future an async fn returns, without calling it.
    fn future_size<A, B, C, F: Future>(_: fn(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn the_connection_task_stays_small() {
        // Every open connection holds one such task for its whole life (docs/benchmarks.md, memory per idle
        // connection): the rare, large states (authentication, a request's database read) are boxed.
        let size = future_size(connection);
        eprintln!("connection task: {size} bytes");
        // 1,640 bytes in a debug build when this was written (1,752 before the select! arms became methods).
        assert!(size <= 1800, "the connection task grew to {size} bytes");
    }

    #[tokio::test]
    async fn a_panic_in_a_task_is_caught_and_the_rest_continues() {
        let caught = unwinding(async { panic!("a bug") }).await;
        let cause = caught.expect_err("the panic is caught");
        assert_eq!(cause.downcast_ref::<&str>(), Some(&"a bug"));
        assert_eq!(unwinding(async { 7 }).await.ok(), Some(7));
    }
}
