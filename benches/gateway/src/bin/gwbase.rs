//! The minimal hand-written broadcast server the generated gateway is measured against: the same wire protocol
//! as far as the load generator uses it (`ready`, `subscribe` -> `subscribed`, `update`; `POST /api/rooms`
//! answering with `Event-Seq`), and nothing else: no database, no token check, no per-subscriber filtering, no
//! pings or timeouts. Each POST serializes its `update` once and hands the same bytes to every connection through
//! a tokio broadcast channel; each connection writes what is waiting with one flush (as the generated server
//! does).
//!
//! Environment: BIND_ADDR (127.0.0.1:0), WS_READ_BUFFER_BYTES (1024, as the generated server's default),
//! WS_SEND_QUEUE (1024 frames, the broadcast channel's capacity: a connection further behind is closed with 4429).
//! Prints `listening on http://<addr>` once it listens.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

/// Frames written with one flush, at most (as the generated server).
const WRITE_BATCH: usize = 64;
/// The owner every room gets (the generated server sets the caller's id): same frame size.
const OWNER: &str = "6f1d2a4e-9b7c-4e1a-8d3f-2c5b7a9e0f11";

struct Shared {
    /// Sends under the lock, so that frames go out in `seq` order.
    sender: Mutex<broadcast::Sender<Utf8Bytes>>,
    head: AtomicI64,
    next_id: AtomicI64,
    read_buffer: usize,
}

type App = Arc<Shared>;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:0".to_owned());
    let app = Arc::new(Shared {
        sender: Mutex::new(broadcast::channel(env("WS_SEND_QUEUE", 1024usize).max(1)).0),
        head: AtomicI64::new(0),
        next_id: AtomicI64::new(0),
        read_buffer: env("WS_READ_BUFFER_BYTES", 1024usize).max(256),
    });
    let router = Router::new()
        .route("/ws", get(upgrade))
        .route("/api/rooms", post(create_room))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(&bind).await.expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("local address")
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("serve");
}

#[derive(serde::Deserialize)]
struct NewRoom {
    title: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Room<'a> {
    id: i64,
    title: &'a str,
    owner_id: &'a str,
}

#[derive(serde::Serialize)]
struct Update<'a> {
    #[serde(rename = "type")]
    message: &'static str,
    channel: &'static str,
    seq: i64,
    kind: &'static str,
    id: String,
    data: &'a Room<'a>,
    timestamp: String,
}

/// `POST /api/rooms {"title": ...}`: one `update` to every connection, serialized once.
async fn create_room(State(app): State<App>, Json(new): Json<NewRoom>) -> Response {
    let room = Room {
        id: app.next_id.fetch_add(1, Ordering::Relaxed) + 1,
        title: &new.title,
        owner_id: OWNER,
    };
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let seq = {
        let sender = app.sender.lock().unwrap_or_else(|e| e.into_inner());
        let seq = app.head.load(Ordering::Relaxed) + 1;
        let update = Update {
            message: "update",
            channel: "Room:list",
            seq,
            kind: "created",
            id: room.id.to_string(),
            data: &room,
            timestamp,
        };
        let frame = Utf8Bytes::from(serde_json::to_string(&update).unwrap_or_default());
        let _ = sender.send(frame); // no subscriber is not an error
        app.head.store(seq, Ordering::Relaxed);
        seq
    };
    let mut response = (StatusCode::CREATED, Json(&room)).into_response();
    response
        .headers_mut()
        .insert(HeaderName::from_static("event-seq"), HeaderValue::from(seq));
    response
}

async fn upgrade(State(app): State<App>, upgrade: WebSocketUpgrade) -> Response {
    let read_buffer = app.read_buffer;
    upgrade
        .read_buffer_size(read_buffer)
        .on_upgrade(move |socket| connection(app, socket))
}

async fn connection(app: App, mut socket: WebSocket) {
    let ready = format!(
        r#"{{"type":"ready","seq":{}}}"#,
        app.head.load(Ordering::Relaxed)
    );
    if socket.send(Message::Text(ready.into())).await.is_err() {
        return;
    }
    // Anything until a `subscribe` (the load generator sends nothing else).
    loop {
        match socket.recv().await {
            Some(Ok(Message::Text(text))) if text.contains(r#""subscribe""#) => break,
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
            Some(Ok(_)) => {}
        }
    }
    let (mut events, head) = {
        let sender = app.sender.lock().unwrap_or_else(|e| e.into_inner());
        (sender.subscribe(), app.head.load(Ordering::Relaxed))
    };
    let subscribed = format!(r#"{{"type":"subscribed","channel":"Room:list","seq":{head}}}"#);
    if socket.send(Message::Text(subscribed.into())).await.is_err() {
        return;
    }
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            received = events.recv() => {
                let frame = match received {
                    Ok(frame) => frame,
                    Err(RecvError::Lagged(_)) => {
                        let close = CloseFrame { code: 4429, reason: "fell too far behind".into() };
                        let _ = sink.send(Message::Close(Some(close))).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                };
                let mut written = sink.feed(Message::Text(frame)).await;
                for _ in 1..WRITE_BATCH {
                    match events.try_recv() {
                        Ok(frame) if written.is_ok() => written = sink.feed(Message::Text(frame)).await,
                        Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => break,
                        // A lag shows at the next `recv`.
                        _ => break,
                    }
                }
                if written.is_err() || sink.flush().await.is_err() {
                    return;
                }
            }
            inbound = stream.next() => match inbound {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
