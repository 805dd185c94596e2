//! The admin page at `/admin`: plain HTML, CSS and JavaScript embedded in the binary (no build step, nothing
//! loaded from elsewhere), and `models.json`, the page's description of the models, generated from the schema.
//! The page reads and writes through the REST API and stays live through the WebSocket gateway, both through the
//! crate's TypeScript client (`clients/ts/dist`, served as ES modules under `/admin/client/`): one JavaScript
//! client in the crate. The server enforces every access rule, the page only hides what the schema denies.

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::ApiError;
use super::App;

/// The page.
pub const INDEX_HTML: &str = include_str!("../../admin/index.html");
/// Its script.
pub const ADMIN_JS: &str = include_str!("../../admin/admin.js");
/// Its style sheet.
pub const ADMIN_CSS: &str = include_str!("../../admin/admin.css");
/// The models, fields, routes, channels and access rules the page works with.
pub const MODELS_JSON: &str = include_str!("../../admin/models.json");

/// The client modules the page imports (`/admin/client/<name>`): the schema-independent part of the TypeScript
/// client, compiled. (`react.js` is left out: the page does not use React.)
pub const CLIENT_MODULES: &[(&str, &str)] = &[
    (
        "backoff.js",
        include_str!("../../clients/ts/dist/backoff.js"),
    ),
    ("client.js", include_str!("../../clients/ts/dist/client.js")),
    ("errors.js", include_str!("../../clients/ts/dist/errors.js")),
    ("follow.js", include_str!("../../clients/ts/dist/follow.js")),
    ("http.js", include_str!("../../clients/ts/dist/http.js")),
    ("live.js", include_str!("../../clients/ts/dist/live.js")),
    ("model.js", include_str!("../../clients/ts/dist/model.js")),
    ("query.js", include_str!("../../clients/ts/dist/query.js")),
    (
        "runtime.js",
        include_str!("../../clients/ts/dist/runtime.js"),
    ),
    ("wire.js", include_str!("../../clients/ts/dist/wire.js")),
    ("ws.js", include_str!("../../clients/ts/dist/ws.js")),
];

/// Everything comes from this server; the WebSocket too (`'self'` covers `ws:`/`wss:` to the same host).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `/admin` and its files.
pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/admin",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/admin/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/admin/admin.js",
            get(|| async { asset("text/javascript; charset=utf-8", ADMIN_JS) }),
        )
        .route(
            "/admin/admin.css",
            get(|| async { asset("text/css; charset=utf-8", ADMIN_CSS) }),
        )
        .route(
            "/admin/models.json",
            get(|| async { asset("application/json", MODELS_JSON) }),
        )
        .route("/admin/client/{module}", get(client_module))
}

async fn client_module(Path(module): Path<String>) -> Response {
    match CLIENT_MODULES.iter().find(|(name, _)| *name == module) {
        Some((_, source)) => asset("text/javascript; charset=utf-8", source).into_response(),
        None => ApiError::not_found("no such client module").into_response(),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (CONTENT_SECURITY_POLICY, POLICY),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::CLIENT_MODULES;

    /// The modules a served module imports (`from "./x.js"`, `import "./x.js"`).
    fn imports(body: &str) -> Vec<&str> {
        body.split("\"./")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|name| name.ends_with(".js"))
            .collect()
    }

    #[test]
    fn every_module_the_page_imports_is_served() {
        // A missing one fails the page's whole import graph in the browser, and the page stays empty.
        for (name, body) in CLIENT_MODULES {
            for import in imports(body) {
                assert!(
                    CLIENT_MODULES.iter().any(|(served, _)| *served == import),
                    "{name} imports ./{import}, which /admin/client/ does not serve"
                );
            }
        }
        assert_eq!(
            imports(r#"import { a } from "./x.js"; import "./y.js";"#),
            ["x.js", "y.js"]
        );
    }
}
