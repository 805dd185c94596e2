//! `/metrics` in the Prometheus text format, on a listener of its own (`METRICS_ADDR`; unset, there is none and
//! requests are not measured). Off the public port so that neither a token nor a proxy rule is needed to keep it
//! private: bind it to an address only the scraper reaches.
//!
//! The `metrics` facade records, and `metrics-exporter-prometheus` renders (no exposition written by hand). What the
//! server already counts is read when scraped, not recorded on every event: the hub's connections, subscriptions,
//! deliveries and queue high-water mark (kept under the lock dispatch holds anyway), the feed's position, the
//! outbox's head, the pool. Only what happens outside those is recorded as it happens: each request (one counter
//! and one histogram sample), each close, each catch-up read and LISTEN reconnect. Every name is in
//! `docs/operations.md`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Counter,
    Histogram, Unit,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::{outbox, App, Db};

/// Counter: requests answered, by `route` (template), `method` and `status`.
pub const HTTP_REQUESTS: &str = "http_requests_total";
/// Histogram: seconds to answer a request, by `route` (template) and `method`.
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
/// Gauge: open, authenticated WebSocket connections.
pub const WS_CONNECTIONS: &str = "ws_connections";
/// Gauge: subscriptions, by `model`.
pub const WS_SUBSCRIPTIONS: &str = "ws_subscriptions";
/// Counter: update frames handed to subscribers.
pub const WS_DELIVERIES: &str = "ws_deliveries_total";
/// Counter: connections the server closed, by close `code`.
pub const WS_CLOSES: &str = "ws_closes_total";
/// Gauge: the most frames any connection has had waiting since start.
pub const WS_QUEUE_HIGH_WATER: &str = "ws_send_queue_high_water";
/// Gauge: the outbox's last sequence number.
pub const OUTBOX_HEAD: &str = "outbox_head_seq";
/// Gauge: the last sequence number the feed dispatched.
pub const FEED_DISPATCHED: &str = "feed_dispatched_seq";
/// Gauge: committed events not dispatched yet.
pub const FEED_LAG: &str = "feed_lag_events";
/// Counter: reads of the outbox by the feed.
pub const FEED_CATCH_UP_READS: &str = "feed_catch_up_reads_total";
/// Counter: LISTEN connections established again after one was lost.
pub const FEED_LISTEN_RECONNECTS: &str = "feed_listen_reconnects_total";
/// Gauge: the PostgreSQL pool's open connections.
pub const DB_POOL_CONNECTIONS: &str = "db_pool_connections";
/// Gauge: the PostgreSQL pool's connections in use.
pub const DB_POOL_IN_USE: &str = "db_pool_connections_in_use";
/// Gauge: the PostgreSQL pool's size limit.
pub const DB_POOL_MAX: &str = "db_pool_max_connections";
/// Gauge: migrations the database has applied.
pub const MIGRATIONS_APPLIED: &str = "migrations_applied";
/// Counter: transactions the SQLite group commit ran (`group_commit`).
pub const SQLITE_WRITE_BATCHES: &str = "sqlite_write_batches_total";
/// Counter: writes those transactions held (divided by the batches: the writes per commit).
pub const SQLITE_WRITES: &str = "sqlite_writes_total";
/// Counter: transactions the PostgreSQL group commit ran (`group_commit_postgres`).
pub const POSTGRES_WRITE_BATCHES: &str = "postgres_write_batches_total";
/// Counter: writes those transactions held (divided by the batches: the writes per commit).
pub const POSTGRES_WRITES: &str = "postgres_writes_total";

/// What kind of series a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (`_total`).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Samples in buckets (`_bucket`, `_sum`, `_count`).
    Histogram,
}

/// Every metric the server exposes, with its kind and help text (the docs and the tests check them against a
/// scrape).
pub const ALL: &[(&str, Kind, &str)] = &[
    (HTTP_REQUESTS, Kind::Counter, "HTTP requests answered, by route template, method and status"),
    (HTTP_DURATION, Kind::Histogram, "Time to answer an HTTP request, by route template and method"),
    (WS_CONNECTIONS, Kind::Gauge, "Open (authenticated) WebSocket connections"),
    (WS_SUBSCRIPTIONS, Kind::Gauge, "WebSocket subscriptions, by model"),
    (WS_DELIVERIES, Kind::Counter, "Update frames handed to WebSocket subscribers"),
    (WS_CLOSES, Kind::Counter, "WebSocket connections the server closed, by close code"),
    (WS_QUEUE_HIGH_WATER, Kind::Gauge, "Most frames any WebSocket connection has had waiting since start (the cap is WS_SEND_QUEUE)"),
    (OUTBOX_HEAD, Kind::Gauge, "Sequence number of the last committed event in the outbox"),
    (FEED_DISPATCHED, Kind::Gauge, "Sequence number of the last event the feed dispatched to subscribers"),
    (FEED_LAG, Kind::Gauge, "Committed events the feed has not dispatched yet"),
    (FEED_CATCH_UP_READS, Kind::Counter, "Reads of the outbox by the feed (after a NOTIFY from another instance, a gap, a reconnect or the poll)"),
    (FEED_LISTEN_RECONNECTS, Kind::Counter, "Times the feed's LISTEN connection was established again after being lost (PostgreSQL)"),
    (DB_POOL_CONNECTIONS, Kind::Gauge, "Open connections of the PostgreSQL pool"),
    (DB_POOL_IN_USE, Kind::Gauge, "Connections of the PostgreSQL pool in use"),
    (DB_POOL_MAX, Kind::Gauge, "Size limit of the PostgreSQL pool (PG_MAX_CONNECTIONS)"),
    (MIGRATIONS_APPLIED, Kind::Gauge, "Migrations the database has applied"),
    (SQLITE_WRITE_BATCHES, Kind::Counter, "Transactions the SQLite group commit ran (each commits one or more writes)"),
    (SQLITE_WRITES, Kind::Counter, "Writes of requests the SQLite group commit ran, committed or not"),
    (POSTGRES_WRITE_BATCHES, Kind::Counter, "Transactions the PostgreSQL group commit ran (each commits one or more writes)"),
    (POSTGRES_WRITES, Kind::Counter, "Writes of requests the PostgreSQL group commit ran, committed or not"),
];

/// The route label of a request no route matched: raw paths are never labels (their number is unbounded).
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the request latency histogram, in seconds: from a cached read to a slow write.
const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often recorded histogram samples are folded into their buckets when nobody scrapes (they wait in a buffer
/// until then).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process's recorder, installed on first use: the `metrics` macros everywhere record into it. A process has
/// one global recorder, so this is made once whatever calls it.
pub fn recorder() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE.get_or_init(install).clone()
}

fn install() -> Result<PrometheusHandle, String> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), DURATION_BUCKETS)
        .map_err(|e| e.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| e.to_string())?;
    describe();
    // Counters that count rare things are shown at 0 from the start: a scrape that finds none knows there were none.
    for name in [FEED_CATCH_UP_READS, FEED_LISTEN_RECONNECTS] {
        counter!(name).absolute(0);
    }
    Ok(handle)
}

fn describe() {
    for &(name, kind, help) in ALL {
        match kind {
            Kind::Counter => describe_counter!(name, help),
            Kind::Gauge => describe_gauge!(name, help),
            // Seconds is the only unit a histogram here has; the name says it already (no suffix is added).
            Kind::Histogram => describe_histogram!(name, Unit::Seconds, help),
        }
    }
}

/// The request-metrics layer: counts each request and records its latency, by the route's template
/// (`/api/rooms/{id}`, never the raw path). Layered only when metrics are on.
///
/// A hand-written [`tower::Layer`] rather than `axum::middleware::from_fn`, which per request clones the inner
/// router service into its `Next` (a boxed clone) and boxes its future: on the cheapest GET that machinery cost
/// more than the recording itself (docs/operations.md, "Overhead").
#[derive(Clone, Copy, Default)]
pub struct TrackLayer;

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track { inner }
    }
}

/// The service of [`TrackLayer`].
#[derive(Clone)]
pub struct Track<S> {
    inner: S,
}

impl<S, B> tower::Service<axum::http::Request<B>> for Track<S>
where
    S: tower::Service<axum::http::Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Tracked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        Tracked {
            started: Instant::now(),
            // A clone of the router's own string (a reference count), not a copy of it.
            route: request.extensions().get::<MatchedPath>().cloned(),
            method: method_label(request.method()),
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's answer on its way: recorded when it is ready.
    pub struct Tracked<F> {
        #[pin]
        inner: F,
        started: Instant,
        route: Option<MatchedPath>,
        method: &'static str,
    }
}

impl<F, E> Future for Tracked<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        // The router's services cannot fail (`Infallible`): every answer, errors included, is a response.
        if let Ok(response) = &result {
            record(
                this.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
                this.method,
                response.status(),
                this.started.elapsed().as_secs_f64(),
            );
        }
        Poll::Ready(result)
    }
}

/// A request's method as a label: the standard ones, `other` for the rest (a client may send any token as a
/// method, and a label's values must stay few).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The handles of one route, method and status.
struct RequestHandles {
    method: &'static str,
    status: u16,
    requests: Counter,
    duration: Histogram,
}

thread_local! {
    /// Per thread, the handles already looked up, by route: the exporter's registry is asked once per route, method
    /// and status, not on every request (its key's labels are allocated and hashed on each lookup, which cost 8 to 11%
    /// of a cached GET's throughput). Bounded as the labels are: routes, methods and statuses.
    static HANDLES: RefCell<HashMap<Box<str>, Vec<RequestHandles>>> = RefCell::new(HashMap::new());
}

fn record(route: &str, method: &'static str, status: StatusCode, seconds: f64) {
    HANDLES.with_borrow_mut(|cache| {
        if !cache.contains_key(route) {
            cache.insert(Box::from(route), Vec::new());
        }
        let Some(handles) = cache.get_mut(route) else {
            return;
        };
        let code = status.as_u16();
        let index = match handles
            .iter()
            .position(|h| h.method == method && h.status == code)
        {
            Some(index) => index,
            None => {
                handles.push(RequestHandles {
                    method,
                    status: code,
                    requests: counter!(HTTP_REQUESTS, "route" => route.to_owned(), "method" => method, "status" => status.as_str().to_owned()),
                    duration: histogram!(HTTP_DURATION, "route" => route.to_owned(), "method" => method),
                });
                handles.len() - 1
            }
        };
        handles[index].requests.increment(1);
        handles[index].duration.record(seconds);
    });
}

/// Counts a close the server sends (its code is a label: a handful of values).
pub fn closed(code: u16) {
    counter!(WS_CLOSES, "code" => code.to_string()).increment(1);
}

/// Binds `METRICS_ADDR` and serves `/metrics` there in the background; the address it listens on.
pub async fn serve(
    app: &App,
    addr: std::net::SocketAddr,
    handle: PrometheusHandle,
) -> Result<std::net::SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("binding METRICS_ADDR {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    let router = Router::new()
        .route("/metrics", get(scrape))
        .with_state((app.clone(), handle));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "the metrics listener failed");
        }
    });
    Ok(bound)
}

/// `GET /metrics`: reads what the server counts anyway, then renders everything.
async fn scrape(State((app, handle)): State<(App, PrometheusHandle)>) -> impl IntoResponse {
    observe(&app).await;
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
}

/// Sets the gauges and counters that are read rather than recorded.
async fn observe(app: &App) {
    let hub = app.hub.stats();
    gauge!(WS_CONNECTIONS).set(hub.connections as f64);
    // Every live model is shown, 0 when nobody subscribes (a series that vanished would keep its last value).
    for model in crate::channels::MODELS {
        let count = hub.subscriptions.get(*model).copied().unwrap_or(0);
        gauge!(WS_SUBSCRIPTIONS, "model" => *model).set(count as f64);
    }
    counter!(WS_DELIVERIES).absolute(hub.deliveries);
    gauge!(WS_QUEUE_HIGH_WATER).set(hub.queue_high_water as f64);
    gauge!(FEED_DISPATCHED).set(hub.head as f64);
    match outbox::head(&app.db).await {
        Ok(head) => {
            gauge!(OUTBOX_HEAD).set(head as f64);
            gauge!(FEED_LAG).set((head - hub.head).max(0) as f64);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading the outbox's head failed"),
    }
    match app.db.applied_migrations().await {
        Ok(applied) => gauge!(MIGRATIONS_APPLIED).set(applied.len() as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: reading the migrations failed"),
    }
    // SQLite has no pool: one writer connection, and a reader per thread (docs/operations.md).
    if let Db::Sqlite(db) = &app.db {
        let writes = db.write_stats();
        counter!(SQLITE_WRITE_BATCHES).absolute(writes.batches);
        counter!(SQLITE_WRITES).absolute(writes.writes);
    }
    if let Db::Postgres(db) = &app.db {
        let writes = db.write_stats();
        counter!(POSTGRES_WRITE_BATCHES).absolute(writes.batches);
        counter!(POSTGRES_WRITES).absolute(writes.writes);
        let open = db.pool.size();
        let idle = u32::try_from(db.pool.num_idle()).unwrap_or(u32::MAX);
        gauge!(DB_POOL_CONNECTIONS).set(f64::from(open));
        gauge!(DB_POOL_IN_USE).set(f64::from(open.saturating_sub(idle)));
        gauge!(DB_POOL_MAX).set(f64::from(app.config.pg_max_connections));
    }
}
