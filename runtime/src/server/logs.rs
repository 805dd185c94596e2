//! The server's log on standard error: text lines by default, or one JSON object per line (`LOG_FORMAT=json`) for
//! log pipelines. In JSON, each request runs in a `request` span (listed in each line's `spans`) whose fields (`request_id`, `method`, `route`)
//! every event logged while answering it carries: the panic of a hook, an internal error, tower_http's lines.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header a request id comes in (from a proxy that made one) and goes back out in.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client; a longer one (or one that is not visible ASCII) is replaced.
const MAX_REQUEST_ID: usize = 64;

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line, with the request's span.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<LogFormat, String> {
        match text {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("LOG_FORMAT must be `text` or `json`, not {text:?}")),
        }
    }
}

/// Installs the process's subscriber: `RUST_LOG` filters (default `info`), standard error, in `format`.
pub fn init(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        // Every enclosing span's fields on each line, outermost first (`spans`): the request's own, then
        // tower_http's when `RUST_LOG` shows its lines.
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
}

/// Middleware (with `LOG_FORMAT=json`): runs the request in a `request` span with its id (the client's
/// `x-request-id` when it is usable, a new one otherwise), method and route template, and answers with the id in
/// `x-request-id` so that a report can be matched with the log.
pub async fn request_span(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .filter(|id| usable(id.as_bytes()))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
        });
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(super::metrics::UNMATCHED, MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method = %request.method(),
        route,
    );
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let mut response = next.run(request).instrument(span).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// A client's request id is logged as it is: short, letters, digits and `-_.:` only (a uuid, a trace id; nothing
/// that needs escaping or could pass for log structure).
fn usable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert_eq!("".parse(), Ok(LogFormat::Text));
        assert!("JSON".parse::<LogFormat>().is_err());
    }

    #[test]
    fn only_short_visible_request_ids_are_taken() {
        assert!(usable(b"abc-123"));
        assert!(!usable(b""));
        assert!(usable(b"0af7651916cd43dd8448eb211c80319c:b7ad6b71"));
        assert!(!usable(b"a b"));
        assert!(!usable(b"a\"b"));
        assert!(!usable("é".as_bytes()));
        assert!(!usable(&[b'x'; MAX_REQUEST_ID + 1]));
    }
}
