//! The REST server (feature `server`): axum over SQLite (the embedded default) or PostgreSQL (`DATABASE_URL`).
//! Every committed mutation writes an event to the outbox in its transaction and is then published on `events`.

pub mod admin;
pub mod auth;
pub mod config;
pub mod cors;
pub mod db;
pub mod error;
pub mod events;
pub mod feed;
pub mod group_commit;
pub mod group_commit_postgres;
pub mod hub;
pub mod logs;
pub mod metrics;
pub mod migrate;
pub mod migrations;
pub mod outbox;
pub mod postgres;
pub mod probes;
mod resources;
pub mod rest;
pub mod sqlite;
pub mod ws;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use clap::{Parser, Subcommand};

use config::Config;
use db::Dialect;
use error::ApiError;

/// The OpenAPI document of this API, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// The database behind the server.
#[derive(Clone)]
pub enum Db {
    /// A SQLite file (`sqlite://`).
    Sqlite(sqlite::Sqlite),
    /// A PostgreSQL server (`postgres://`).
    Postgres(postgres::Postgres),
}

/// Where `DATABASE_URL` points.
enum Location<'a> {
    Sqlite(&'a std::path::Path),
    Postgres(&'a str),
}

impl<'a> Location<'a> {
    fn of(url: &'a str) -> Result<Location<'a>, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Location::Sqlite(std::path::Path::new(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Location::Postgres(url))
        } else {
            Err(format!(
                "DATABASE_URL must start with sqlite:// or postgres://, not {url:?}"
            ))
        }
    }

    /// This crate's migrations for the database's dialect.
    fn migrations(&self) -> &'static [migrate::Migration] {
        match self {
            Location::Sqlite(_) => migrations::SQLITE,
            Location::Postgres(_) => migrations::POSTGRES,
        }
    }
}

impl Db {
    /// Opens the database and applies the migrations it has not run yet; refuses one whose migrations are not
    /// this crate's first ones, unchanged.
    pub async fn open(config: &Config) -> Result<Db, String> {
        let location = Location::of(&config.database_url)?;
        let known = location.migrations();
        match location {
            Location::Sqlite(path) => Ok(Db::Sqlite(sqlite::Sqlite::open(
                path,
                known,
                config.writes,
            )?)),
            Location::Postgres(url) => Ok(Db::Postgres(
                postgres::Postgres::open(url, config.pg_max_connections, known, config.writes)
                    .await?,
            )),
        }
    }

    /// The migrations the database has applied.
    pub async fn applied_migrations(&self) -> Result<Vec<migrate::Applied>, String> {
        match self {
            Db::Sqlite(db) => db.applied_migrations(),
            Db::Postgres(db) => db.applied_migrations().await,
        }
    }

    /// This crate's migrations for the database's dialect.
    pub fn known_migrations(&self) -> &'static [migrate::Migration] {
        match self {
            Db::Sqlite(_) => migrations::SQLITE,
            Db::Postgres(_) => migrations::POSTGRES,
        }
    }

    /// The dialect's name, as the migrations' folder names it.
    pub fn dialect_name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// The SQL dialect statements for this database are written in.
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }
}

/// Shared state of every request, behind one `Arc`: axum clones the state for every request, and one shared count
/// costs less than one per field (each is a cache line that both cores write).
#[derive(Clone)]
pub struct App(Arc<AppState>);

impl std::ops::Deref for App {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.0
    }
}

/// What every request handler and background task shares.
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Committed events, from the feed to the hub.
    pub events: events::EventBus,
    /// The settings the server started with.
    pub config: Arc<Config>,
    /// Checks the callers' tokens (and caches those already checked).
    pub tokens: auth::Verifier,
    /// The WebSocket subscriptions and the fan-out of committed events to them.
    pub hub: Arc<hub::Hub>,
    /// Whether the feed is receiving every committed event (on PostgreSQL: its LISTEN connection is up).
    pub feed_healthy: AtomicBool,
    /// Set when a graceful shutdown starts: `/ready` answers 503 from then on, while connections are still served.
    pub draining: AtomicBool,
    /// Per model, the outbox's head when the last migration that changed its table was applied
    /// (`migrate::epochs`): a subscription with a `since` not above it is not resumed.
    pub epochs: std::collections::BTreeMap<String, i64>,
}

impl AppState {
    /// The outbox's head when a migration last changed `model`'s table (`None`: none since the first).
    pub fn epoch(&self, model: &str) -> Option<i64> {
        self.epochs.get(model).copied()
    }
}

impl App {
    /// Opens the database (migrating it), reads the outbox's head, and sets up the shared state; the error says
    /// what failed.
    pub async fn new(config: Config) -> Result<App, String> {
        let db = Db::open(&config).await?;
        let head = outbox::head(&db)
            .await
            .map_err(|e| format!("reading the outbox: {e}"))?;
        let epochs = migrate::epochs(db.known_migrations(), &db.applied_migrations().await?);
        Ok(App(Arc::new(AppState {
            db,
            events: events::EventBus::new(4096),
            hub: Arc::new(hub::Hub::new(
                head,
                config.ws.send_queue,
                config.ws.max_subscriptions,
            )),
            feed_healthy: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            epochs,
            tokens: auth::Verifier::new(config.secret(), config.jwt_leeway),
            config: Arc::new(config),
        })))
    }
}

/// Every route of the server (REST, `/ws`, `/health`, `/ready`, the OpenAPI document, the admin UI) with its
/// middleware.
pub fn router(app: App) -> Router {
    let router = Router::new()
        .merge(resources::routes())
        .route("/health", get(probes::health))
        .route("/ready", get(probes::ready))
        .route("/ws", get(ws::endpoint))
        .route("/openapi.json", get(openapi))
        .merge(admin::routes())
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take this method",
            )
        });
    // One span per request, with method, path, status and latency, when the log filter shows them
    // (`RUST_LOG=tower_http=debug`); otherwise the layer is left out, as it costs a clock read and a span per request.
    let router = if tracing::enabled!(target: "tower_http::trace::on_response", tracing::Level::DEBUG)
    {
        router.layer(tower_http::trace::TraceLayer::new_for_http())
    } else {
        router
    };
    // A body announced over the limit is refused (413) after it has been read: see `rest::refuse_oversized`.
    let router = router.layer(axum::middleware::from_fn(rest::refuse_oversized));
    // A panic in a request's task (a bug, or a hook's) answers 500 in the JSON error shape instead of dropping the
    // connection without an answer. It was logged, with its cause, where it happened (`log_panics`): not again here.
    // Inside CORS, so that the 500 carries its headers. The request held no transaction across the panic: an open
    // one rolls back when dropped.
    let router = router.layer(tower_http::catch_panic::CatchPanicLayer::custom(
        |_panic: Box<dyn std::any::Any + Send>| ApiError::internal_logged().into_response(),
    ));
    // Outside the panic layer, so that the panic's log line is in the request's span.
    let router = if app.config.log_format == logs::LogFormat::Json {
        router.layer(axum::middleware::from_fn(logs::request_span))
    } else {
        router
    };
    // Outside the panic layer, so that a panic's 500 is counted too.
    let router = if app.config.metrics_addr.is_some() {
        router.layer(metrics::TrackLayer)
    } else {
        router
    };
    // Outermost, so that preflights are answered before routing and every answer (errors too) carries the headers.
    let router = match app.config.cors_origins.layer() {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(app)
}

async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}

/// Binds, prints `listening on http://<addr>` on stdout, and serves until SIGINT or SIGTERM. Replaces the process's
/// panic hook with one that logs through `tracing` (see `log_panics`).
pub async fn serve(config: Config) -> Result<(), String> {
    log_panics();
    if config.jwt_secret.is_none() {
        tracing::warn!(
            "JWT_SECRET is not set: DEVELOPMENT MODE, tokens are signed with a public secret"
        );
    }
    let bind = config.bind;
    let app = App::new(config).await?;
    if let Some(addr) = app.config.metrics_addr {
        let addr = metrics::serve(&app, addr, metrics::recorder()?).await?;
        tracing::info!(%addr, "serving metrics at /metrics");
    }
    feed::start(&app).await;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("binding {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, "serving");
    let hub = app.hub.clone();
    let closing = app.clone();
    let served = axum::serve(listener, router(app))
        .with_graceful_shutdown(async move {
            shutdown().await;
            // Out of the load balancer's rotation first: `/ready` answers 503 while everything is still served, for
            // `SHUTDOWN_DRAIN_MS`, so that new traffic goes elsewhere before any connection is closed.
            closing.draining.store(true, Ordering::Release);
            let drain = closing.config.shutdown_drain;
            if !drain.is_zero() {
                tracing::info!(
                    ?drain,
                    "not ready any more; closing connections after the drain"
                );
                tokio::time::sleep(drain).await;
            }
            // Each WebSocket connection is told through its own kill switch: it closes with 1001.
            closing.hub.shut_down();
        })
        .await
        .map_err(|e| e.to_string());
    // WebSocket connections were told to close (1001); give them a moment to send their close frames.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while hub.counts().0 > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    served
}

async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

#[derive(Parser)]
#[command(
    name = env!("CARGO_PKG_NAME"),
    about = concat!("The ", env!("CARGO_PKG_NAME"), " server (configured by environment variables, see README.md)")
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Print a token signed with the configured secret, for development.
    Token {
        /// The user id the token speaks for.
        #[arg(long)]
        sub: String,
        /// A role the token grants; repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Hours until it expires.
        #[arg(long, default_value_t = 24)]
        ttl_hours: u64,
    },
    /// Show the database's migrations (applied or pending) and apply the pending ones, without serving.
    Migrate {
        /// Apply nothing: print the SQL of the pending migrations instead.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `migrate`: each migration, applied (when) or pending, then the pending ones applied (or, with `dry_run`,
/// their SQL printed). Fails, changing nothing, on a database the server would refuse.
async fn migrate_command(config: &Config, dry_run: bool) -> Result<(), String> {
    let location = Location::of(&config.database_url)?;
    let known = location.migrations();
    let (applied, dialect) = match location {
        Location::Sqlite(path) => (sqlite::applied(path, known)?, "sqlite"),
        Location::Postgres(url) => (postgres::applied(url, known).await?, "postgres"),
    };
    let pending = migrate::pending(known, &applied, dialect)?;
    print!("{}", migrate::status(known, &applied));
    if pending.is_empty() {
        println!("up to date: {} migration(s) applied", applied.len());
        return Ok(());
    }
    if dry_run {
        for migration in pending {
            println!(
                "\n-- {} (not applied: --dry-run)\n{}",
                migration.name, migration.sql
            );
        }
        return Ok(());
    }
    let db = Db::open(config).await?;
    let applied = db.applied_migrations().await?;
    println!(
        "applied {}; up to date: {} migration(s) applied",
        pending
            .iter()
            .map(|m| m.name)
            .collect::<Vec<_>>()
            .join(", "),
        applied.len()
    );
    Ok(())
}

/// Makes every panic one `tracing` error with its cause, location and thread (and a backtrace when `RUST_BACKTRACE`
/// asks for one), in the server's log with everything else, instead of the default hook's lines on stderr. It is the
/// only place a panic is logged: the layer that turns a request's panic into a 500 does not log it again.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let cause = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a panic without a message");
        let location = info
            .location()
            .map_or_else(|| "unknown".to_owned(), ToString::to_string);
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("<unnamed>");
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(%cause, %location, thread, %backtrace, "panicked");
        } else {
            tracing::error!(%cause, %location, thread, "panicked");
        }
    }));
}

/// The server binary's entry point.
pub fn main() -> ExitCode {
    let config = Config::from_env();
    // A bad setting is reported (below) in the default format.
    logs::init(
        config
            .as_ref()
            .map_or_else(|_| Default::default(), |c| c.log_format),
    );
    let cli = Cli::parse();
    let result = config.and_then(|config| match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(serve(config)),
        Command::Token {
            sub,
            roles,
            ttl_hours,
        } => {
            let token = auth::mint(
                config.secret(),
                &sub,
                roles,
                std::time::Duration::from_secs(ttl_hours * 3600),
            )?;
            println!("{token}");
            Ok(())
        }
        Command::Migrate { dry_run } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(migrate_command(&config, dry_run)),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
