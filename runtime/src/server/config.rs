//! Server settings from the environment (documented in the README).

use std::net::SocketAddr;
use std::time::Duration;

/// Every setting of the server, read once at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`BIND_ADDR`, default `127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// `sqlite://<path>` or a PostgreSQL URL (`DATABASE_URL`); the scheme picks the database.
    pub database_url: String,
    /// `None`: development mode with a fixed, public secret.
    pub jwt_secret: Option<String>,
    /// Clock skew allowed when checking a token's `exp`.
    pub jwt_leeway: Duration,
    /// Page size of a list without `take` (`DEFAULT_TAKE`, at most `max_take`).
    pub default_take: u32,
    /// Largest page size; a larger `take` is capped (`MAX_TAKE`).
    pub max_take: u32,
    /// Size of the PostgreSQL connection pool (`PG_MAX_CONNECTIONS`, default 16).
    pub pg_max_connections: u32,
    /// Limits of each WebSocket connection (`WS_*`).
    pub ws: WsLimits,
    /// Bounds of the SQLite write queue and of each group commit (`WRITE_*`).
    pub writes: super::group_commit::Limits,
    /// How long committed events stay in the outbox (the reach of a resume).
    pub outbox_retention: Duration,
    /// How often events older than `outbox_retention` are deleted.
    pub outbox_prune_interval: Duration,
    /// How often the feed checks the outbox even when nothing announced a change (a safety net).
    pub feed_poll_interval: Duration,
    /// How long a graceful shutdown answers 503 on `/ready` while still serving, before it closes connections
    /// (`SHUTDOWN_DRAIN_MS`, default 0): a load balancer that checks `/ready` stops sending traffic meanwhile.
    pub shutdown_drain: Duration,
    /// Where `/metrics` is served (`METRICS_ADDR`): a listener of its own, off the public port; unset, none.
    pub metrics_addr: Option<SocketAddr>,
    /// How log lines are written (`LOG_FORMAT`: `text`, the default, or `json`).
    pub log_format: super::logs::LogFormat,
    /// Web origins besides the server's own that browsers may call it from (`CORS_ORIGINS`; none by default).
    pub cors_origins: super::cors::Origins,
}

/// Limits of each WebSocket connection.
#[derive(Debug, Clone)]
pub struct WsLimits {
    /// Time a connection has to send its `auth` frame when no token came with the upgrade.
    pub auth_timeout: Duration,
    /// Time between the server's pings, which find dead connections.
    pub ping_interval: Duration,
    /// Time to answer a ping (any frame counts).
    pub pong_timeout: Duration,
    /// Time a write to the socket may take before the connection is dropped.
    pub write_timeout: Duration,
    /// Frames waiting to be sent; a connection whose queue overflows is closed (4429) and resumes.
    pub send_queue: usize,
    /// Largest inbound message.
    pub max_message_bytes: usize,
    /// Channels one connection may subscribe to at once.
    pub max_subscriptions: usize,
    /// Most events a `subscribe` with `since` replays; further back, the client refetches.
    pub max_replay: i64,
    /// `request`s one connection may have in flight.
    pub max_requests_in_flight: usize,
    /// Initial size of each connection's read buffer, and the most read from the socket per call. It is resident
    /// (tungstenite zero-fills it before each read), so it is most of an idle connection's memory; a larger message
    /// is still read whole (tungstenite reserves room for the whole frame), in more calls.
    pub read_buffer_bytes: usize,
}

/// Secret used when `JWT_SECRET` is unset. It is public, so tokens are only as good as in development.
pub const DEVELOPMENT_SECRET: &str = "ssot-gen development secret: set JWT_SECRET in production";

fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("{name}={text:?} is not valid")),
        Err(_) => Ok(default),
    }
}

/// A setting without a default: `None` when unset or empty.
fn optional<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String> {
    match std::env::var(name) {
        Ok(text) if !text.is_empty() => text
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}={text:?} is not valid")),
        _ => Ok(None),
    }
}

fn millis(name: &str, default: u64) -> Result<Duration, String> {
    var(name, default).map(Duration::from_millis)
}

impl Config {
    /// The settings from the environment variables, defaults for those unset; the error names a variable whose
    /// value cannot be read.
    pub fn from_env() -> Result<Config, String> {
        let max_take = var("MAX_TAKE", crate::query::MAX_TAKE)?.max(1);
        Ok(Config {
            bind: var("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            database_url: var(
                "DATABASE_URL",
                concat!("sqlite://data/", env!("CARGO_PKG_NAME"), ".db").to_owned(),
            )?,
            jwt_secret: std::env::var("JWT_SECRET").ok().filter(|s| !s.is_empty()),
            jwt_leeway: Duration::from_secs(var("JWT_LEEWAY_SECS", 60u64)?),
            default_take: var("DEFAULT_TAKE", crate::query::DEFAULT_TAKE)?.clamp(1, max_take),
            max_take,
            pg_max_connections: var("PG_MAX_CONNECTIONS", 16u32)?,
            ws: WsLimits {
                auth_timeout: millis("WS_AUTH_TIMEOUT_MS", 5_000)?,
                ping_interval: millis("WS_PING_INTERVAL_MS", 20_000)?
                    .max(Duration::from_millis(10)),
                pong_timeout: millis("WS_PONG_TIMEOUT_MS", 10_000)?,
                write_timeout: millis("WS_WRITE_TIMEOUT_MS", 10_000)?,
                send_queue: var("WS_SEND_QUEUE", 1024usize)?.max(1),
                max_message_bytes: var("WS_MAX_MESSAGE_BYTES", 64 * 1024usize)?.max(1024),
                max_subscriptions: var("WS_MAX_SUBSCRIPTIONS", 256usize)?,
                max_replay: var("WS_MAX_REPLAY", 10_000i64)?.max(0),
                max_requests_in_flight: var("WS_MAX_REQUESTS_IN_FLIGHT", 16usize)?.max(1),
                read_buffer_bytes: var("WS_READ_BUFFER_BYTES", 1024usize)?.max(256),
            },
            writes: {
                let default = super::group_commit::Limits::default();
                super::group_commit::Limits {
                    batch_max: var("WRITE_BATCH_MAX", default.batch_max)?.max(1),
                    batch_bytes: var("WRITE_BATCH_BYTES", default.batch_bytes)?,
                    queue_max: var("WRITE_QUEUE_MAX", default.queue_max)?.max(1),
                }
            },
            outbox_retention: Duration::from_secs(var("OUTBOX_RETENTION_SECS", 7 * 24 * 3600u64)?),
            outbox_prune_interval: millis("OUTBOX_PRUNE_INTERVAL_MS", 60_000)?
                .max(Duration::from_millis(10)),
            feed_poll_interval: millis("FEED_POLL_INTERVAL_MS", 5_000)?
                .max(Duration::from_millis(10)),
            shutdown_drain: millis("SHUTDOWN_DRAIN_MS", 0)?,
            metrics_addr: optional("METRICS_ADDR")?,
            log_format: std::env::var("LOG_FORMAT").unwrap_or_default().parse()?,
            cors_origins: super::cors::Origins::parse(
                &std::env::var("CORS_ORIGINS").unwrap_or_default(),
            )
            .map_err(|e| format!("CORS_ORIGINS: {e}"))?,
        })
    }

    /// The key tokens are signed with: `JWT_SECRET`, or the public development secret when it is unset.
    pub fn secret(&self) -> &str {
        self.jwt_secret.as_deref().unwrap_or(DEVELOPMENT_SECRET)
    }
}
