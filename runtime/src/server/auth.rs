//! Who is calling: a JWT (HS256) in `Authorization: Bearer`, or nobody.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::App;

/// The claims of a token that the server reads (others are ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// The roles the access rules' `roles` are checked against.
    pub roles: Vec<String>,
    /// Expiry, in seconds since the Unix epoch; an expired token is refused.
    pub exp: u64,
}

/// The caller of a request: `None` for an anonymous one.
#[derive(Debug, Clone, Default)]
pub struct Caller(pub Option<Claims>);

impl Caller {
    /// Whether the caller's token lists this role (false when anonymous).
    pub fn has_role(&self, role: &str) -> bool {
        self.0
            .as_ref()
            .is_some_and(|c| c.roles.iter().any(|r| r == role))
    }

    /// The token's `sub` (the user's id); `None` when anonymous.
    pub fn subject(&self) -> Option<&str> {
        self.0.as_ref().map(|c| c.sub.as_str())
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller, ApiError> {
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(Caller(None));
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        let claims = app.tokens.verify(token).map_err(ApiError::unauthorized)?;
        Ok(Caller(Some(claims)))
    }
}

/// Tokens accepted and remembered at most; when full, the memory starts over.
const ACCEPTED_CAPACITY: usize = 4096;

/// Checks tokens: HS256 with the server's secret, `exp` required and checked with a leeway for clock skew.
///
/// A client sends the same token with every request, and checking it each time made a GET on SQLite take 1.3 to
/// 1.7 times the CPU (measured on hand-written handlers, `benches/server`); so accepted tokens are remembered (by
/// their exact text, which the signature covers) and only their expiry is checked again.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
    accepted: std::sync::Mutex<std::collections::HashMap<Box<str>, Claims>>,
}

impl Verifier {
    /// A verifier of HS256 tokens signed with `secret`, allowing `leeway` of clock skew on `exp`.
    pub fn new(secret: &str, leeway: std::time::Duration) -> Verifier {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = leeway.as_secs();
        Verifier {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            accepted: Default::default(),
        }
    }

    /// The claims of a valid token that has not expired (give or take the leeway).
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        let now = jsonwebtoken::get_current_timestamp();
        let unexpired = |claims: &Claims| claims.exp >= now.saturating_sub(self.validation.leeway);
        let mut accepted = self.accepted.lock().unwrap_or_else(|e| e.into_inner());
        match accepted.get(token) {
            Some(claims) if unexpired(claims) => return Ok(claims.clone()),
            Some(_) => {
                accepted.remove(token);
            }
            None => {}
        }
        drop(accepted);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| format!("invalid token: {e}"))?;
        let mut accepted = self.accepted.lock().unwrap_or_else(|e| e.into_inner());
        if accepted.len() >= ACCEPTED_CAPACITY {
            accepted.clear();
        }
        accepted.insert(token.into(), claims.clone());
        Ok(claims)
    }
}

/// A token for `sub` with `roles`, valid for `ttl`.
pub fn mint(
    secret: &str,
    sub: &str,
    roles: Vec<String>,
    ttl: std::time::Duration,
) -> Result<String, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    let claims = Claims {
        sub: sub.to_owned(),
        roles,
        exp: (now + ttl).as_secs(),
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| e.to_string())
}
