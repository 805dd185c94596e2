//! Cross-origin use: which web origins other than the server's own may call the API from a browser
//! (`CORS_ORIGINS`), as CORS response headers (tower-http's `CorsLayer`) and as the check of a WebSocket upgrade's
//! `Origin` header, which browsers send but which CORS does not cover.
//!
//! Nothing is allowed by default: a page served elsewhere (a dev server on another port) must be named. Requests
//! without an `Origin` (other servers, the Rust client, curl) are not browsers and are not concerned.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The origins allowed besides the server's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Origins {
    /// None (the default).
    #[default]
    None,
    /// Any origin (`CORS_ORIGINS=*`): for development only.
    Any,
    /// These, each `scheme://host[:port]` as a browser sends it.
    List(Vec<String>),
}

impl Origins {
    /// `CORS_ORIGINS`: a comma-separated list of origins (`https://app.example.com,http://localhost:5173`), or `*`.
    pub fn parse(value: &str) -> Result<Origins, String> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(Origins::None);
        }
        if value == "*" {
            return Ok(Origins::Any);
        }
        let mut origins = Vec::new();
        for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let rest = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .ok_or_else(|| {
                    format!("`{origin}` is not an origin: it starts with http:// or https://")
                })?;
            if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
                return Err(format!(
                    "`{origin}` is not an origin: scheme, host and port only, no path (e.g. http://localhost:5173)"
                ));
            }
            origins.push(origin.to_owned());
        }
        Ok(if origins.is_empty() {
            Origins::None
        } else {
            Origins::List(origins)
        })
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            Origins::None => false,
            Origins::Any => true,
            Origins::List(list) => list.iter().any(|o| o == origin),
        }
    }

    /// The CORS layer for these origins; `None` when no other origin is allowed (no CORS headers at all, so
    /// browsers refuse every cross-origin read, and preflights get `405`).
    pub fn layer(&self) -> Option<CorsLayer> {
        let allow = match self {
            Origins::None => return None,
            Origins::Any => AllowOrigin::any(),
            Origins::List(list) => {
                AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
            }
        };
        Some(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
                // A mutation's `Event-Seq` is how a client waits for its own write (read-your-writes); `Location`
                // names a created row.
                .expose_headers([HeaderName::from_static("event-seq"), header::LOCATION])
                .max_age(Duration::from_secs(600)),
        )
    }

    /// Whether a WebSocket upgrade with these headers may proceed: no `Origin` (not a browser), the server's own
    /// origin (its host, as the `Host` header names it: the admin page), or an allowed one.
    pub fn allows_upgrade(&self, headers: &HeaderMap) -> Result<(), String> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().unwrap_or_default();
        let own = headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .is_some_and(|host| {
                origin
                    .split_once("://")
                    .is_some_and(|(_, authority)| authority == host)
            });
        if own || self.allows(origin) {
            Ok(())
        } else {
            Err(format!(
                "the origin {origin} may not open a WebSocket here (CORS_ORIGINS)"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn origins_parse_strictly() {
        assert_eq!(Origins::parse("").unwrap(), Origins::None);
        assert_eq!(Origins::parse("*").unwrap(), Origins::Any);
        assert_eq!(
            Origins::parse("http://localhost:5173, https://app.example.com").unwrap(),
            Origins::List(vec![
                "http://localhost:5173".into(),
                "https://app.example.com".into()
            ])
        );
        assert!(Origins::parse("localhost:5173")
            .unwrap_err()
            .contains("http://"));
        assert!(Origins::parse("http://localhost:5173/")
            .unwrap_err()
            .contains("no path"));
    }

    #[test]
    fn upgrades_are_checked_against_the_list_and_the_servers_own_origin() {
        let list = Origins::parse("http://localhost:5173").unwrap();
        assert!(list.allows_upgrade(&headers(&[])).is_ok(), "not a browser");
        assert!(list
            .allows_upgrade(&headers(&[("origin", "http://localhost:5173")]))
            .is_ok());
        assert!(list
            .allows_upgrade(&headers(&[
                ("origin", "http://127.0.0.1:8080"),
                ("host", "127.0.0.1:8080")
            ]))
            .is_ok());
        assert!(list
            .allows_upgrade(&headers(&[("origin", "http://evil.example")]))
            .is_err());
        assert!(Origins::None
            .allows_upgrade(&headers(&[
                ("origin", "http://localhost:5173"),
                ("host", "127.0.0.1:8080")
            ]))
            .is_err());
        assert!(Origins::Any
            .allows_upgrade(&headers(&[("origin", "http://x")]))
            .is_ok());
        assert!(Origins::None.layer().is_none());
    }
}
