//! The WebSocket protocol at `/ws` (see `docs/protocol.md` in the generator's repository, summed up here): JSON text
//! frames, each an object whose `type` names the message. Shared by the server and the clients.

use serde::{Deserialize, Serialize};

/// The subprotocol the server speaks. A browser that passes its token as a subprotocol (`bearer.<token>`) offers
/// this one too, and the server selects it.
pub const SUBPROTOCOL: &str = "ssot.v1";
/// Prefix of the subprotocol that carries a token: `bearer.<token>`.
pub const BEARER_SUBPROTOCOL_PREFIX: &str = "bearer.";

/// Close codes. Whether a client should reconnect is part of the contract.
pub mod close {
    /// The server is shutting down: reconnect (to another instance) and resume.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame that breaks RFC 6455 (reserved bits set, a fragmented control frame, ...): a client bug.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text message that is not UTF-8: a client bug; do not resend it.
    pub const INVALID_DATA: u16 = 1007;
    /// A frame over the size limit: do not resend it.
    pub const TOO_BIG: u16 = 1009;
    /// A bug in the server ended the connection's task (the cause is in the server's log): reconnect and resume.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// No valid token (missing, bad, expired, or no `auth` frame in time): do not retry with the same token.
    pub const UNAUTHORIZED: u16 = 4401;
    /// No pong within the deadline, or a write that did not complete in time: reconnect and resume.
    pub const TIMEOUT: u16 = 4408;
    /// The connection fell too far behind (its send queue overflowed): reconnect and resume with `since`.
    pub const TOO_SLOW: u16 = 4429;

    /// Whether a client should reconnect (and resume) after this close code.
    pub fn is_retryable(code: u16) -> bool {
        !matches!(code, UNAUTHORIZED | TOO_BIG)
    }
}

/// A request's id, echoed in its response: a string or a number, as the client chose.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// A JSON number (`7`).
    Number(u64),
    /// A JSON string (`"a1"`).
    Text(::std::string::String),
}

/// What a `request` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `params`: `where`, `orderBy`, `skip`, `take`, as JSON values (the REST list's query parameters).
    List,
    /// `params`: `id`.
    Get,
}

/// A message from the client. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientMessage {
    /// The token, as the first frame, when neither the `Authorization` header nor a subprotocol carried it.
    Auth {
        /// The JWT, without `Bearer `.
        token: ::std::string::String,
    },
    /// Start receiving a channel's events; with `since`, first every event after that sequence number.
    Subscribe {
        /// The channel's name (`Message`, `Message:42`).
        channel: ::std::string::String,
        /// The last sequence number the client has applied, to resume after a reconnect.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: ::std::option::Option<i64>,
    },
    /// Stop receiving a channel's events; answered by `unsubscribed`.
    Unsubscribe {
        /// The channel's name, as subscribed.
        channel: ::std::string::String,
    },
    /// A read over the socket, answered by a `response` with the same `requestId`.
    #[serde(rename_all = "camelCase")]
    Request {
        /// Chosen by the client, echoed in the `response`.
        request_id: RequestId,
        /// The model's name in the schema (`Message`).
        model: ::std::string::String,
        /// What to read.
        action: Action,
        /// The action's parameters, an object (see [`Action`]).
        #[serde(default)]
        params: serde_json::Value,
    },
    /// Answered by `pong`.
    Ping,
}

/// The kind of a committed change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A row was inserted.
    Created,
    /// A row was changed (`PUT` or `PATCH`).
    Updated,
    /// A row was deleted; the event carries it as it was.
    Deleted,
}

impl ChangeKind {
    /// The kind as it is written on the wire and in the outbox (`created`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Deleted => "deleted",
        }
    }
}

/// An error in a `response` or an `error` message: the REST error body's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable, machine-readable (`forbidden`, `unknown_channel`, ...).
    pub code: ::std::string::String,
    /// For people: may change between versions, so clients must not match on it.
    pub message: ::std::string::String,
    /// Per-field validation errors (`validation_failed`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: ::std::option::Option<serde_json::Value>,
}

/// A message from the server. `D` is the type of records (`serde_json::Value` when reading any model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage<D = serde_json::Value> {
    /// Authentication succeeded; `seq` is the last committed event the server had delivered then.
    Ready {
        /// The last sequence number delivered when the connection was authenticated.
        seq: i64,
    },
    /// The subscription is live: every event after `seq` that the subscriber may see follows, in order. With `since`:
    /// when `resumed` is true, the events after `since` up to `seq` come first (replayed from the outbox); when it is
    /// false they can no longer be replayed (retention, or `since` is not from this server) and the client must
    /// refetch what it holds.
    Subscribed {
        /// The channel, as subscribed.
        channel: ::std::string::String,
        /// The sequence number the subscription starts after.
        seq: i64,
        /// The `since` of the `subscribe`, echoed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: ::std::option::Option<i64>,
        /// With `since`: whether the missed events are replayed (else the client must refetch).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resumed: ::std::option::Option<bool>,
    },
    /// The answer to `unsubscribe`: no event of the channel follows.
    Unsubscribed {
        /// The channel, as unsubscribed.
        channel: ::std::string::String,
    },
    /// The answer to a `request`: `data` (a list page or a record) or `error`. `seq`: the data reflects exactly the
    /// events up to this sequence number.
    #[serde(rename_all = "camelCase")]
    Response {
        /// The `requestId` of the request.
        request_id: RequestId,
        /// The last event the data reflects; absent with `error`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: ::std::option::Option<i64>,
        /// A list page (`items`, `total`) or one record.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: ::std::option::Option<serde_json::Value>,
        /// Why the request failed, instead of `data`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: ::std::option::Option<ErrorBody>,
    },
    /// A committed change on a subscribed channel. `data` is the record as the subscriber may see it (for
    /// `deleted`, as it was).
    Update {
        /// The subscribed channel the event is delivered on.
        channel: ::std::string::String,
        /// The event's sequence number: strictly increasing, shared by every channel.
        seq: i64,
        /// Whether the row was created, updated or deleted.
        kind: ChangeKind,
        /// The row's id as it prints (also the suffix of its item channel).
        id: ::std::string::String,
        /// The record.
        data: D,
        /// When the change committed (RFC 3339, UTC).
        timestamp: ::std::string::String,
    },
    /// A message that could not be served; the connection stays open.
    #[serde(rename_all = "camelCase")]
    Error {
        /// What went wrong (`code`, `message`), flattened into the message.
        #[serde(flatten)]
        error: ErrorBody,
        /// The channel the failed message named (`subscribe` to an unknown or forbidden channel).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: ::std::option::Option<::std::string::String>,
    },
    /// The answer to `ping`.
    Pong,
}
