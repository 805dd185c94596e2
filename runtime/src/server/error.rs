//! The one error shape of the API: `{"error": {"code", "message", "details"?}}` with a stable code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::validation::ValidationErrors;

/// A failed request as the client sees it: every handler's error, turned into the JSON body by `IntoResponse`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status of the response.
    pub status: StatusCode,
    /// Stable, machine-readable (`not_found`, `validation_failed`): what clients match on.
    pub code: &'static str,
    /// For people; never the internal cause.
    pub message: String,
    /// Per-field errors of a `validation_failed`, sent as `details`.
    pub details: Option<ValidationErrors>,
}

impl ApiError {
    /// An error with this status, code and message, without details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// 400 `bad_request`: the request cannot be read (bad JSON, an unknown operator, a negative `skip`).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthorized`: no valid token where one is needed.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`: the caller is known but the access rule refuses it.
    pub fn forbidden() -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "you may not do this")
    }

    /// 404 `not_found`; `what` says what was missing.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// A bug or an outage: logged with its cause, answered without it.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::internal_logged()
    }

    /// The answer to a bug whose cause is already in the log (a panic: the server's panic hook logged it).
    pub fn internal_logged() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the cause is in the server log",
        )
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> ApiError {
        ApiError {
            details: Some(errors),
            ..ApiError::new(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "the request body is invalid",
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(details) = self.details {
            error["details"] = serde_json::to_value(details.errors).unwrap_or_default();
        }
        let mut response =
            (self.status, Json(serde_json::json!({ "error": error }))).into_response();
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was never read, so the server closes the connection after answering: said in
            // the answer, so that a client does not send its next request on a connection about to close.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

/// Database failures that are the client's doing, by meaning; anything else is internal.
pub enum DbFailure {
    /// A unique or primary key value already exists.
    Unique,
    /// A reference to a missing row, or a delete of a row still referenced.
    ForeignKey,
    /// A CHECK constraint (bounds, enum values) failed.
    Check,
    /// A required column was null.
    NotNull,
}

impl DbFailure {
    /// `deleting`: a foreign key failure then means the row is still referenced, not that a reference dangles.
    pub fn into_api(self, deleting: bool) -> ApiError {
        match self {
            DbFailure::Unique => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "a row with this unique value already exists",
            ),
            DbFailure::ForeignKey if deleting => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "the row is still referenced by other rows",
            ),
            DbFailure::ForeignKey => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "reference_not_found",
                "a reference points at a row that does not exist",
            ),
            DbFailure::Check | DbFailure::NotNull => {
                ApiError::bad_request("a value breaks a constraint of the table")
            }
        }
    }

    /// The meaning of a SQLite error, if it is a constraint failure.
    pub fn of_sqlite(e: &rusqlite::Error) -> Option<DbFailure> {
        let rusqlite::Error::SqliteFailure(failure, _) = e else {
            return None;
        };
        match failure.extended_code {
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Some(DbFailure::Unique),
            rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Some(DbFailure::ForeignKey),
            rusqlite::ffi::SQLITE_CONSTRAINT_CHECK => Some(DbFailure::Check),
            rusqlite::ffi::SQLITE_CONSTRAINT_NOTNULL => Some(DbFailure::NotNull),
            _ => None,
        }
    }

    /// The meaning of a PostgreSQL error, by its SQLSTATE, if it is a constraint failure.
    pub fn of_postgres(e: &sqlx::Error) -> Option<DbFailure> {
        let sqlx::Error::Database(db) = e else {
            return None;
        };
        match db.code().as_deref() {
            Some("23505") => Some(DbFailure::Unique),
            Some("23503") => Some(DbFailure::ForeignKey),
            Some("23514") => Some(DbFailure::Check),
            Some("23502") => Some(DbFailure::NotNull),
            _ => None,
        }
    }
}

/// An error inside a write transaction: the API's answer, or a database error to classify.
#[derive(Debug)]
pub enum WriteError {
    /// Already the answer (a refused access, a failed validation, a hook's error).
    Api(ApiError),
    /// From SQLite: a constraint failure or an internal error.
    Sqlite(rusqlite::Error),
    /// From PostgreSQL: a constraint failure or an internal error.
    Postgres(sqlx::Error),
}

impl From<ApiError> for WriteError {
    fn from(e: ApiError) -> WriteError {
        WriteError::Api(e)
    }
}

impl From<rusqlite::Error> for WriteError {
    fn from(e: rusqlite::Error) -> WriteError {
        WriteError::Sqlite(e)
    }
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> WriteError {
        WriteError::Postgres(e)
    }
}

impl WriteError {
    /// The client's answer: a constraint failure by its meaning (`deleting` as in [`DbFailure::into_api`]),
    /// anything else internal.
    pub fn into_api(self, deleting: bool) -> ApiError {
        match self {
            WriteError::Api(e) => e,
            WriteError::Sqlite(e) => DbFailure::of_sqlite(&e)
                .map_or_else(|| ApiError::internal(e), |f| f.into_api(deleting)),
            WriteError::Postgres(e) => DbFailure::of_postgres(&e)
                .map_or_else(|| ApiError::internal(e), |f| f.into_api(deleting)),
        }
    }
}
