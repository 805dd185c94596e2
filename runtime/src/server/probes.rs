//! Liveness and readiness, for orchestrators and load balancers. `/health` answers while the process serves (a
//! failing one means: restart it); `/ready` answers `200` only when the instance can do its work, so that a load
//! balancer sends it traffic: its database answers, every migration of this build is applied, its event feed
//! receives every committed event (on PostgreSQL: its LISTEN connection is up), and it is not shutting down.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{migrate, App};

/// How long `/ready` waits for the database: a check that hangs is a failed one (a load balancer's own timeout
/// would otherwise decide, without saying why).
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health`: liveness. `200` as long as the process serves requests, whatever its database does: restarting
/// a server whose database is down helps nobody.
pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /ready`: readiness; `503` while any check fails (each one is named in the body) and from the moment a
/// graceful shutdown starts, before any connection is closed.
pub async fn ready(State(app): State<App>) -> (StatusCode, Json<Value>) {
    let events = if app.feed_healthy.load(Ordering::Acquire) {
        "ok"
    } else {
        "catching_up"
    };
    let (database, migrations) = database_checks(&app).await;
    let status = if app.draining.load(Ordering::Acquire) {
        "shutting_down"
    } else if database == "ok" && migrations == "ok" && events == "ok" {
        "ok"
    } else {
        "unavailable"
    };
    let code = if status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": status,
        "database": database,
        "migrations": migrations,
        "events": events,
    });
    (code, Json(body))
}

/// Whether the database answers, and whether it has applied exactly this build's migrations: one query does both.
async fn database_checks(app: &App) -> (&'static str, &'static str) {
    let applied = match tokio::time::timeout(DATABASE_TIMEOUT, app.db.applied_migrations()).await {
        Ok(Ok(applied)) => applied,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            return ("unavailable", "unknown");
        }
        Err(_) => {
            tracing::warn!(timeout = ?DATABASE_TIMEOUT, "readiness: the database did not answer in time");
            return ("unavailable", "unknown");
        }
    };
    let migrations = match migrate::pending(
        app.db.known_migrations(),
        &applied,
        app.db.dialect_name(),
    ) {
        Ok([]) => "ok",
        Ok(_) => "pending",
        // Changed under the running server (a newer version migrated the database, or another history).
        Err(e) => {
            tracing::warn!(error = %e, "readiness: the database's migrations are not this server's");
            "mismatch"
        }
    };
    ("ok", migrations)
}
