//! The WebSocket gateway at `/ws`: authentication, subscriptions with resume, reads over the socket, and the
//! delivery of the hub's events to one connection. The protocol is in `crate::protocol`.

use std::collections::VecDeque;
use std::future::Future;
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

async fn close_with(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        socket.send(Message::Close(Some(frame))),
    )
    .await;
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
    let mut code = conn.serve(expires).await;
    conn.app.hub.disconnect(id);
    // Cut off by the hub (possibly while blocked writing to a peer that does not read), or the server shuts down.
    match conn.outlet.code() {
        Some(close::TOO_SLOW) => {
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
        Box::pin(close_with(conn.socket, code, reason)).await;
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
    async fn serve(&mut self, expires: u64) -> Option<(u16, &'static str)> {
        let outlet = self.outlet.clone();
        let config = self.app.config.clone();
        let limits = &config.ws;
        // Made on the first `request`: most connections never send one, and a channel allocates its slots up front.
        let mut requests: Option<Requests> = None;
        // The same leeway as when the token was accepted.
        let expires = std::time::UNIX_EPOCH + Duration::from_secs(expires) + config.jwt_leeway;
        let expires = Instant::now()
            + expires
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
        let mut next_ping = Instant::now() + limits.ping_interval;
        // Set while a ping waits for its answer.
        let mut pong_due: Option<Instant> = None;
        // One timer for whichever comes first: the token's expiry, the next ping, the pong deadline. Futures that
        // live as long as the connection are made once, not on every turn of the loop: made anew, each would
        // register a waiter or a timer and remove it again for every batch of events delivered.
        let timer = tokio::time::sleep_until(next_ping.min(expires));
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
            tokio::select! {
                biased;
                // Frames queued or the connection killed: both handled at the top of the loop.
                _ = &mut woken => woken.set(outlet.woken()),
                _ = &mut timer => {
                    let now = Instant::now();
                    if now >= expires {
                        return Some((close::UNAUTHORIZED, "the token expired"));
                    }
                    if pong_due.is_some_and(|due| now >= due) {
                        return Some((close::TIMEOUT, "no pong in time"));
                    }
                    if now >= next_ping {
                        next_ping = now + limits.ping_interval;
                        if pong_due.is_none() {
                            pong_due = Some(now + limits.pong_timeout);
                            if Box::pin(self.send([Message::Ping(Default::default())])).await.is_err() {
                                return None;
                            }
                        }
                    }
                    timer.as_mut().reset(pong_due.map_or(next_ping, |due| due.min(next_ping)).min(expires));
                }
                Some(frame) = async { requests.as_mut()?.responses.recv().await }, if requests.is_some() => {
                    if Box::pin(self.write([frame])).await.is_err() {
                        return Some((close::TIMEOUT, "a write did not complete in time"));
                    }
                }
                inbound = self.socket.next() => {
                    // Any frame shows the peer is alive.
                    pong_due = None;
                    let message = match inbound {
                        None => return None,
                        Some(Err(e)) => {
                            // tungstenite refuses a message over `max_message_size` ("Space limit exceeded:
                            // Message too long"); anything else is a broken connection.
                            let too_big = e.to_string().contains("Message too long");
                            return too_big.then_some((close::TOO_BIG, "message too big"));
                        }
                        Some(Ok(message)) => message,
                    };
                    let outcome = match message {
                        // Boxed: its future (database reads) is large and rare; inline, it would make every
                        // idle connection's task as large.
                        Message::Text(text) => Box::pin(self.handle(&text, &mut requests)).await,
                        Message::Binary(_) => Box::pin(self.reply(error_message("bad_message", "binary frames are not part of the protocol: send JSON text", None))).await,
                        Message::Close(_) => return None,
                        Message::Ping(_) | Message::Pong(_) => Ok(()),
                    };
                    if outcome.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    async fn handle(&mut self, text: &str, requests: &mut Option<Requests>) -> Result<(), Gone> {
        let message = match serde_json::from_str::<ClientMessage>(text) {
            Ok(message) => message,
            Err(e) => {
                return self
                    .reply(error_message(
                        "bad_message",
                        format!("not a message of the protocol: {e}"),
                        None,
                    ))
                    .await
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
                    let message =
                        match resources::request(&app, &caller, &model, action, params).await {
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
        let visibility = match Self::check_access(&self.app, &self.caller, &channel).await {
            Ok(visibility) => visibility,
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
    async fn check_access(
        app: &App,
        caller: &Caller,
        channel: &Channel,
    ) -> Result<Visibility, ApiError> {
        let visibility = resources::visibility(channel.model(), caller)?;
        if let Channel::Item(model, id) = channel {
            resources::check_item(app, caller, model, id).await?;
        }
        Ok(visibility)
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
