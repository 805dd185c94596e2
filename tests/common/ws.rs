//! A blocking WebSocket client for the gateway tests: connects to a test server's `/ws`, sends protocol messages
//! and waits for answers with deadlines, so that a missing message fails the test instead of hanging it.
#![allow(dead_code)]

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::server_harness::Server;

/// How long a test waits for a message it expects.
pub const WAIT: Duration = Duration::from_secs(10);

/// How a connection presents its token.
pub enum Auth<'a> {
    None,
    Header(&'a str),
    Subprotocol(&'a str),
    /// An `auth` frame sent right after connecting.
    Frame(&'a str),
}

pub struct Ws {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    /// The subprotocol the server selected.
    pub protocol: Option<String>,
}

/// What reading produced.
#[derive(Debug)]
pub enum Incoming {
    Message(Value),
    Closed(Option<(u16, String)>),
    Timeout,
}

pub fn ws_url(server: &Server) -> String {
    format!("{}/ws", server.base.replacen("http://", "ws://", 1))
}

impl Ws {
    /// Connects with a token in the `Authorization` header and waits for `ready`, at a moment when the server's hub
    /// has dispatched every write the test made before (`ready` carries the hub's head). The scenarios count on it:
    /// an event committed before the connection must not arrive as a live update on a channel subscribed after it.
    /// On PostgreSQL the hub learns of a commit a moment later, through NOTIFY and a read of the outbox; until then
    /// this connects again.
    pub fn connect(server: &Server, token: &str) -> Ws {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut ws = Ws::open(server, Auth::Header(token));
            let ready = ws.recv();
            assert_eq!(ready["type"], "ready", "first message: {ready}");
            let head = ready["seq"].as_i64().expect("ready carries seq");
            let written = server.last_seq();
            if head >= written {
                return ws;
            }
            assert!(
                Instant::now() < deadline,
                "the hub stayed at seq {head} for {WAIT:?}, behind the last write's {written}"
            );
            ws.close();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Connects without waiting for anything.
    pub fn open(server: &Server, auth: Auth) -> Ws {
        Ws::open_with(server, auth, None, None)
    }

    /// `receive_buffer`: the socket's receive buffer size (small, for a reader that never reads).
    pub fn open_with(
        server: &Server,
        auth: Auth,
        config: Option<WebSocketConfig>,
        receive_buffer: Option<usize>,
    ) -> Ws {
        let mut request = ws_url(server).into_client_request().unwrap();
        match &auth {
            Auth::Header(token) => {
                request.headers_mut().insert(
                    "Authorization",
                    HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
                );
            }
            Auth::Subprotocol(token) => {
                request.headers_mut().insert(
                    "Sec-WebSocket-Protocol",
                    HeaderValue::from_str(&format!("ssot.v1, bearer.{token}")).unwrap(),
                );
            }
            Auth::None | Auth::Frame(_) => {}
        }
        let host = server.base.trim_start_matches("http://").to_owned();
        let stream = connect(&host, receive_buffer);
        stream.set_nodelay(true).unwrap();
        let (socket, response) =
            tungstenite::client::client_with_config(request, MaybeTlsStream::Plain(stream), config)
                .unwrap_or_else(|e| panic!("WebSocket handshake with {host} failed: {e}"));
        let protocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap().to_owned());
        let mut ws = Ws { socket, protocol };
        if let Auth::Frame(token) = auth {
            ws.send(json!({ "type": "auth", "token": token }));
        }
        ws
    }

    /// The next message that is not an `update` (which may arrive at any time on a subscribed channel).
    pub fn reply(&mut self) -> Value {
        loop {
            let message = self.recv();
            if message["type"] != "update" {
                return message;
            }
        }
    }

    fn tcp(&self) -> &TcpStream {
        match self.socket.get_ref() {
            MaybeTlsStream::Plain(stream) => stream,
            _ => unreachable!("plain connections only"),
        }
    }

    pub fn send(&mut self, message: Value) {
        self.send_text(&message.to_string());
    }

    pub fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.into()))
            .unwrap_or_else(|e| panic!("sending {text}: {e}"));
    }

    pub fn send_binary(&mut self, bytes: Vec<u8>) {
        self.socket.send(Message::Binary(bytes.into())).unwrap();
    }

    /// Sends a frame as given, whether or not it is valid (invalid UTF-8, reserved bits set, ...).
    pub fn send_frame(&mut self, frame: tungstenite::protocol::frame::Frame) {
        self.socket.send(Message::Frame(frame)).unwrap();
    }

    /// The next protocol message, a close, or a timeout after `wait`.
    pub fn next(&mut self, wait: Duration) -> Incoming {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Incoming::Timeout;
            }
            self.tcp().set_read_timeout(Some(left)).unwrap();
            match self.socket.read() {
                Ok(Message::Text(text)) => {
                    return Incoming::Message(
                        serde_json::from_str(&text).unwrap_or_else(|e| {
                            panic!("the server sent invalid JSON {text:?}: {e}")
                        }),
                    )
                }
                Ok(Message::Close(frame)) => {
                    return Incoming::Closed(
                        frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                    )
                }
                Ok(_) => continue, // ping, pong
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(tungstenite::Error::ConnectionClosed)
                | Err(tungstenite::Error::AlreadyClosed) => return Incoming::Closed(None),
                Err(tungstenite::Error::Io(_)) | Err(tungstenite::Error::Protocol(_)) => {
                    return Incoming::Closed(None)
                }
                Err(e) => panic!("reading from the gateway: {e}"),
            }
        }
    }

    /// The next message; panics on a close or after `WAIT`.
    pub fn recv(&mut self) -> Value {
        match self.next(WAIT) {
            Incoming::Message(message) => message,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Asserts that nothing arrives within `wait`.
    pub fn expect_silence(&mut self, wait: Duration) {
        match self.next(wait) {
            Incoming::Timeout => {}
            other => panic!("expected nothing, got {other:?}"),
        }
    }

    /// Waits for the close frame; returns its code and reason.
    pub fn expect_close(&mut self) -> (u16, String) {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.next(deadline.saturating_duration_since(Instant::now())) {
                Incoming::Closed(Some(frame)) => return frame,
                Incoming::Closed(None) => panic!("the connection ended without a close frame"),
                Incoming::Timeout => panic!("no close within {WAIT:?}"),
                Incoming::Message(_) => continue,
            }
        }
    }

    /// Subscribes and returns the `subscribed` message. Any other message first fails the test; where an update of an
    /// earlier subscription may come first, send the `subscribe` and take the `reply` instead.
    pub fn subscribe(&mut self, channel: &str, since: Option<u64>) -> Value {
        let mut message = json!({ "type": "subscribe", "channel": channel });
        if let Some(since) = since {
            message["since"] = json!(since);
        }
        self.send(message);
        let reply = self.recv();
        assert_eq!(
            reply["type"], "subscribed",
            "subscribing to {channel}: {reply}"
        );
        assert_eq!(reply["channel"], channel);
        reply
    }

    /// The next `update` (skipping nothing: any other message fails the test).
    pub fn update(&mut self) -> Value {
        let message = self.recv();
        assert_eq!(
            message["type"], "update",
            "expected an update, got {message}"
        );
        message
    }

    /// A `request` and its `response`.
    pub fn request(&mut self, id: u64, model: &str, action: &str, params: Value) -> Value {
        self.send(json!({ "type": "request", "requestId": id, "model": model, "action": action, "params": params }));
        let reply = self.reply();
        assert_eq!(reply["type"], "response", "{reply}");
        assert_eq!(reply["requestId"], id, "{reply}");
        reply
    }

    pub fn close(mut self) {
        let _ = self.socket.close(Some(tungstenite::protocol::CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }));
        let _ = self.socket.flush();
    }

    /// Drops the TCP connection without a close handshake (a network failure, as the server sees it).
    pub fn drop_connection(self) {
        let _ = self.tcp().shutdown(std::net::Shutdown::Both);
    }
}

/// A TCP connection to `host`, with the receive buffer set before connecting (so the window starts small).
fn connect(host: &str, receive_buffer: Option<usize>) -> TcpStream {
    let address: std::net::SocketAddr = host.parse().unwrap();
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    socket.connect(&address.into()).unwrap();
    socket.into()
}
