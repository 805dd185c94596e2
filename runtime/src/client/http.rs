//! The HTTP transport: every operation as one REST request (reqwest).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::Error;
use crate::protocol::ErrorBody;

/// A mutation's answer: the record (none for a delete) and the sequence number of the event it committed.
#[derive(Debug, Clone)]
pub struct Written<T> {
    /// The record as stored, server-set fields included.
    pub record: Option<T>,
    /// `Event-Seq`: wait for this sequence number on a subscription to see the write there.
    pub seq: Option<i64>,
}

/// REST over HTTP(S).
#[derive(Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    base: String,
    token: std::sync::Arc<std::sync::RwLock<Option<String>>>,
}

impl HttpTransport {
    /// A transport to `base` (`http://host:port`), sending `token` as a bearer token, each request bounded by
    /// `timeout`.
    pub fn new(
        base: &str,
        token: Option<String>,
        timeout: Duration,
    ) -> Result<HttpTransport, Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(HttpTransport {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: std::sync::Arc::new(std::sync::RwLock::new(token)),
        })
    }

    /// Replaces the token (after a refresh).
    pub fn set_token(&self, token: Option<String>) {
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = token;
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match self
            .token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
        {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Written<T>, Error> {
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                Error::Timeout
            } else {
                Error::Transport(e.to_string())
            }
        })?;
        let status = response.status();
        let seq = response
            .headers()
            .get("event-seq")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        if !status.is_success() {
            #[derive(serde::Deserialize)]
            struct Body {
                error: ErrorBody,
            }
            let error = serde_json::from_slice::<Body>(&bytes)
                .map(|b| b.error)
                .unwrap_or_else(|_| ErrorBody {
                    code: "http".to_owned(),
                    message: String::from_utf8_lossy(&bytes).into_owned(),
                    details: None,
                });
            return Err(if status == reqwest::StatusCode::UNAUTHORIZED {
                Error::Auth(error.message)
            } else {
                Error::Http {
                    status: status.as_u16(),
                    error,
                }
            });
        }
        if bytes.is_empty() {
            return Ok(Written { record: None, seq });
        }
        let record = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Protocol(format!("unexpected answer: {e}")))?;
        Ok(Written {
            record: Some(record),
            seq,
        })
    }

    /// `GET <route>` with `where`, `orderBy`, `skip`, `take` as JSON query parameters.
    pub async fn list<T: DeserializeOwned>(
        &self,
        route: &str,
        query: &super::Query<impl Serialize, impl Serialize>,
    ) -> Result<T, Error> {
        self.list_including(route, query, None).await
    }

    /// `GET <route>` as [`HttpTransport::list`], with `include` when given.
    pub async fn list_including<T: DeserializeOwned>(
        &self,
        route: &str,
        query: &super::Query<impl Serialize, impl Serialize>,
        include: Option<&str>,
    ) -> Result<T, Error> {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(include) = include {
            params.push(("include", include.to_owned()));
        }
        if let Some(filter) = &query.filter {
            params.push((
                "where",
                serde_json::to_string(filter).map_err(|e| Error::Protocol(e.to_string()))?,
            ));
        }
        if !query.order_by.is_empty() {
            params.push((
                "orderBy",
                serde_json::to_string(&query.order_by)
                    .map_err(|e| Error::Protocol(e.to_string()))?,
            ));
        }
        if let Some(skip) = query.skip {
            params.push(("skip", skip.to_string()));
        }
        if let Some(take) = query.take {
            params.push(("take", take.to_string()));
        }
        let written = self
            .send(self.request(reqwest::Method::GET, route).query(&params))
            .await?;
        written
            .record
            .ok_or_else(|| Error::Protocol("an empty list answer".to_owned()))
    }

    /// `GET {route}/{id}`: one record.
    pub async fn get<T: DeserializeOwned>(&self, route: &str, id: &str) -> Result<T, Error> {
        self.get_including(route, id, None).await
    }

    /// `GET {route}/{id}` as [`HttpTransport::get`], with `include` when given.
    pub async fn get_including<T: DeserializeOwned>(
        &self,
        route: &str,
        id: &str,
        include: Option<&str>,
    ) -> Result<T, Error> {
        let request = self.request(reqwest::Method::GET, &format!("{route}/{id}"));
        let request = match include {
            Some(include) => request.query(&[("include", include)]),
            None => request,
        };
        let written = self.send(request).await?;
        written
            .record
            .ok_or_else(|| Error::Protocol("an empty answer".to_owned()))
    }

    /// `POST {route}`: create a record from `input`.
    pub async fn create<T: DeserializeOwned>(
        &self,
        route: &str,
        input: &impl Serialize,
    ) -> Result<Written<T>, Error> {
        self.send(self.request(reqwest::Method::POST, route).json(input))
            .await
    }

    /// `PUT {route}/{id}`: replace the record's writable fields.
    pub async fn update<T: DeserializeOwned>(
        &self,
        route: &str,
        id: &str,
        input: &impl Serialize,
    ) -> Result<Written<T>, Error> {
        self.send(
            self.request(reqwest::Method::PUT, &format!("{route}/{id}"))
                .json(input),
        )
        .await
    }

    /// `PATCH {route}/{id}`: change the fields present in `input`.
    pub async fn patch<T: DeserializeOwned>(
        &self,
        route: &str,
        id: &str,
        input: &impl Serialize,
    ) -> Result<Written<T>, Error> {
        self.send(
            self.request(reqwest::Method::PATCH, &format!("{route}/{id}"))
                .json(input),
        )
        .await
    }

    /// `DELETE {route}/{id}`.
    pub async fn delete(&self, route: &str, id: &str) -> Result<Written<serde_json::Value>, Error> {
        self.send(self.request(reqwest::Method::DELETE, &format!("{route}/{id}")))
            .await
    }
}
