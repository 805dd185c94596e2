//! The client's one error type.

use crate::protocol::ErrorBody;

/// What can go wrong talking to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The connection could not be made or broke (DNS, refused, reset, TLS).
    Transport(String),
    /// No answer in time.
    Timeout,
    /// The server answered with an error status and its error body.
    Http {
        /// The HTTP status (404, 409, ...).
        status: u16,
        /// The body's `error`: `code` says what went wrong.
        error: ErrorBody,
    },
    /// The server answered a WebSocket request with an error.
    Request(ErrorBody),
    /// The server said something this client does not understand (a bug on one side).
    Protocol(String),
    /// The token was refused (401, or close code 4401); retrying with the same token will not help.
    Auth(String),
    /// The WebSocket is not connected (the request was not sent, or the connection dropped before the answer).
    Disconnected,
    /// The client was shut down with `disconnect()`.
    Closed,
}

impl Error {
    /// The server's error code, when the server answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Http { error, .. } | Error::Request(error) => Some(&error.code),
            _ => None,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Transport(e) => write!(f, "transport error: {e}"),
            Error::Timeout => f.write_str("the server did not answer in time"),
            Error::Http { status, error } => {
                write!(f, "HTTP {status}: {} ({})", error.message, error.code)
            }
            Error::Request(error) => {
                write!(f, "request failed: {} ({})", error.message, error.code)
            }
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Auth(e) => write!(f, "not authorized: {e}"),
            Error::Disconnected => f.write_str("the WebSocket is not connected"),
            Error::Closed => f.write_str("the client was disconnected"),
        }
    }
}

impl std::error::Error for Error {}
