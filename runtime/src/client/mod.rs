//! Typed clients (feature `client`): an HTTP transport, a WebSocket transport, and the hybrid [`Client`] that reads
//! from live lists it holds (else over HTTP), writes over HTTP, and falls back to HTTP while the socket is down.
//!
//! Each model has an accessor on [`Client`] that returns its typed [`Resource`] (`client.messages()` for a model
//! `Message`); they are generated in `models.rs`, and the crate's documentation starts with an example.

mod error;
mod follow;
mod http;
mod live;
/// Each model's record with its included relations (`<Model>WithRelations`), and how the client reads it.
pub mod models;
mod ws;

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use error::Error;
pub use follow::Relation;
pub use http::{HttpTransport, Written};
pub use live::{LiveList, LiveSnapshot};
pub use ws::{Backoff, ChannelEvent, ConnectionState, TokenProvider, WsTransport};

/// A model as the client sees it; implemented for every record type.
pub trait Model: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The schema name (`request`s and events use it).
    const NAME: &'static str;
    /// The REST collection path.
    const ROUTE: &'static str;
    /// The list channel; `None` for a model with `realtime: false`.
    const CHANNEL: Option<&'static str>;
    /// The id field's type.
    type Id: std::fmt::Display + Send + Sync;
    /// The input of [`Resource::create`].
    type Create: Serialize + Send + Sync;
    /// The input of [`Resource::update`].
    type Update: Serialize + Send + Sync;
    /// The input of [`Resource::patch`].
    type Patch: Serialize + Send + Sync;
    /// A list's `where`; also evaluated on records by live lists.
    type Filter: Serialize + Clone + std::fmt::Debug + Send + Sync + 'static;
    /// One sort key of a list; also compared on records by live lists.
    type OrderBy: Serialize + Clone + std::fmt::Debug + Send + Sync + 'static;
    /// The record with the relations a read's `include` adds, as typed fields ([`Resource::list_including`]).
    type WithRelations: DeserializeOwned + Clone + Send + Sync + 'static;
    /// The relations `include` and relation filters follow from this model, sorted by name.
    const RELATIONS: &'static [Relation];
    /// The id as it prints (as events and channels carry it).
    fn id_string(&self) -> String;
    /// Whether the server's list with this filter includes the record.
    fn matches(filter: &Self::Filter, record: &Self) -> bool;
    /// Whether the filter goes through a relation (which a live list cannot evaluate on a changed record, so it
    /// reads its page again on changes instead).
    fn follows_relations(filter: &Self::Filter) -> bool;
    /// The server's order for these sort keys.
    fn compare(keys: &[Self::OrderBy], a: &Self, b: &Self) -> std::cmp::Ordering;
}

/// A list query: filter, sort keys (the id always breaks ties), and the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Query<F, O> {
    /// `where`: which rows; `None` is every row the caller may read.
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    pub filter: Option<F>,
    /// `orderBy`: the sort keys, most significant first.
    #[serde(rename = "orderBy", skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<O>,
    /// Rows to pass over; `None` is 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<i64>,
    /// The page size; `None` is the server's default, and the server caps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub take: Option<i64>,
}

impl<F, O> Default for Query<F, O> {
    fn default() -> Self {
        Query {
            filter: None,
            order_by: Vec::new(),
            skip: None,
            take: None,
        }
    }
}

impl<F, O> Query<F, O> {
    /// Every row, in id order, the server's default page size.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the filter (replacing one given before).
    pub fn filter(mut self, filter: F) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Adds a sort key after the ones already given.
    pub fn order_by(mut self, key: O) -> Self {
        self.order_by.push(key);
        self
    }

    /// Sets the rows to pass over.
    pub fn skip(mut self, skip: i64) -> Self {
        self.skip = Some(skip);
        self
    }

    /// Sets the page size.
    pub fn take(mut self, take: i64) -> Self {
        self.take = Some(take);
        self
    }
}

/// One page of a list: the one list shape of the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<M> {
    /// The page's records, in the query's order.
    pub items: Vec<M>,
    /// How many rows match the query in all.
    pub total: i64,
    /// The rows before the page.
    pub skip: i64,
    /// The page size the server used.
    pub take: i64,
}

/// Builds a [`Client`].
pub struct ClientBuilder {
    base: String,
    token: Option<TokenProvider>,
    realtime: bool,
    timeout: Duration,
    backoff: Backoff,
}

impl ClientBuilder {
    /// A fixed token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.token = Some(Arc::new(move || Some(token.clone())));
        self
    }

    /// A token asked for at every connect, and once more after the server refused one (so it can refresh).
    pub fn token_provider(
        mut self,
        provider: impl Fn() -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.token = Some(Arc::new(provider));
        self
    }

    /// Open the WebSocket: live lists, and reads served from them.
    pub fn realtime(mut self, realtime: bool) -> Self {
        self.realtime = realtime;
        self
    }

    /// Time allowed for each request (HTTP or WebSocket). Default 10 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The WebSocket's reconnect delays. Default [`Backoff::default`].
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Connects. With `realtime`, waits for the socket (up to the timeout): a refused token is an
    /// `Error::Auth` here; a server that is down is not an error (the client keeps reconnecting and reads over
    /// HTTP meanwhile).
    pub async fn build(self) -> Result<Client, Error> {
        let token = self.token.unwrap_or_else(|| Arc::new(|| None));
        let http = HttpTransport::new(&self.base, token(), self.timeout)?;
        let ws = if self.realtime {
            let ws = WsTransport::connect(&self.base, token.clone(), self.timeout, self.backoff);
            match ws.wait_connected(self.timeout).await {
                Err(Error::Auth(reason)) => return Err(Error::Auth(reason)),
                _ => Some(ws),
            }
        } else {
            None
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                ws,
                token,
                last_write: AtomicI64::new(0),
                lives: Mutex::default(),
                timeout: self.timeout,
            }),
        })
    }
}

type LiveKey = (&'static str, String);

struct Inner {
    http: HttpTransport,
    ws: Option<WsTransport>,
    token: TokenProvider,
    /// The highest `Event-Seq` of this client's writes: cached reads wait for it (read-your-writes).
    last_write: AtomicI64,
    /// Live lists by model and query, for reads served from them.
    lives: Mutex<HashMap<LiveKey, Weak<dyn Any + Send + Sync>>>,
    timeout: Duration,
}

/// The hybrid client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// A builder for a client of the server at `base` (`http://host:port`): no token, no realtime, 10 s timeout.
    pub fn builder(base: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base: base.into(),
            token: None,
            realtime: false,
            timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
        }
    }

    /// The typed client of model `M`.
    pub fn resource<M: Model>(&self) -> Resource<M> {
        Resource {
            client: self.clone(),
            _model: PhantomData,
        }
    }

    /// The REST transport, for requests the typed API does not cover.
    pub fn http(&self) -> &HttpTransport {
        &self.inner.http
    }

    /// The WebSocket transport, with `realtime`.
    pub fn ws(&self) -> Option<&WsTransport> {
        self.inner.ws.as_ref()
    }

    /// Closes the WebSocket for good (no reconnect). HTTP requests still work.
    pub fn disconnect(&self) {
        if let Some(ws) = &self.inner.ws {
            ws.disconnect();
        }
    }

    fn wrote(&self, seq: Option<i64>) {
        if let Some(seq) = seq {
            self.inner.last_write.fetch_max(seq, Ordering::AcqRel);
        }
    }

    /// A fresh token from the provider for HTTP, after a 401.
    fn refresh_http_token(&self) {
        self.inner.http.set_token((self.inner.token)());
    }
}

/// The typed operations of one model.
pub struct Resource<M: Model> {
    client: Client,
    _model: PhantomData<fn() -> M>,
}

impl<M: Model> Resource<M> {
    /// A page of rows: from a live list of this exact query when the client holds one (once it reflects this
    /// client's own writes), otherwise over HTTP.
    pub async fn list(&self, query: Query<M::Filter, M::OrderBy>) -> Result<Page<M>, Error> {
        if let Some(live) = self.cached(&query) {
            let seq = self.client.inner.last_write.load(Ordering::Acquire);
            if let Ok(snapshot) = live.reflecting(seq, Duration::from_secs(2)).await {
                return Ok(Page {
                    items: snapshot.items,
                    total: snapshot.total,
                    skip: snapshot.skip,
                    take: snapshot.take,
                });
            }
        }
        self.retry_auth(|| self.client.inner.http.list(M::ROUTE, &query))
            .await
    }

    /// A page of rows with the related rows `include` names (the REST query's `include`: `"author,room.owner"`,
    /// or a JSON object's text, docs/rest.md), as typed fields of [`Model::WithRelations`]. Always over HTTP: live
    /// lists hold records without relations.
    pub async fn list_including(
        &self,
        query: Query<M::Filter, M::OrderBy>,
        include: &str,
    ) -> Result<Page<M::WithRelations>, Error> {
        self.retry_auth(|| {
            self.client
                .inner
                .http
                .list_including(M::ROUTE, &query, Some(include))
        })
        .await
    }

    /// The record with this id and the related rows `include` names, as in [`Resource::list_including`].
    pub async fn get_including(
        &self,
        id: &M::Id,
        include: &str,
    ) -> Result<M::WithRelations, Error> {
        let id = id.to_string();
        self.retry_auth(|| {
            self.client
                .inner
                .http
                .get_including(M::ROUTE, &id, Some(include))
        })
        .await
    }

    /// The record with this id (`Error::Http` with status 404 when there is none).
    pub async fn get(&self, id: &M::Id) -> Result<M, Error> {
        let id = id.to_string();
        self.retry_auth(|| self.client.inner.http.get(M::ROUTE, &id))
            .await
    }

    /// Creates a record and returns it as stored (with its id and server-set fields).
    pub async fn create(&self, input: &M::Create) -> Result<M, Error> {
        let written: Written<M> = self
            .retry_auth(|| self.client.inner.http.create(M::ROUTE, input))
            .await?;
        self.client.wrote(written.seq);
        written
            .record
            .ok_or_else(|| Error::Protocol("an empty create answer".to_owned()))
    }

    /// Replaces the record's writable fields (`PUT`) and returns it as stored.
    pub async fn update(&self, id: &M::Id, input: &M::Update) -> Result<M, Error> {
        let id = id.to_string();
        let written: Written<M> = self
            .retry_auth(|| self.client.inner.http.update(M::ROUTE, &id, input))
            .await?;
        self.client.wrote(written.seq);
        written
            .record
            .ok_or_else(|| Error::Protocol("an empty update answer".to_owned()))
    }

    /// Changes the fields set in `input` (`PATCH`) and returns the record as stored.
    pub async fn patch(&self, id: &M::Id, input: &M::Patch) -> Result<M, Error> {
        let id = id.to_string();
        let written: Written<M> = self
            .retry_auth(|| self.client.inner.http.patch(M::ROUTE, &id, input))
            .await?;
        self.client.wrote(written.seq);
        written
            .record
            .ok_or_else(|| Error::Protocol("an empty patch answer".to_owned()))
    }

    /// Deletes the record.
    pub async fn delete(&self, id: &M::Id) -> Result<(), Error> {
        let id = id.to_string();
        let written = self
            .retry_auth(|| self.client.inner.http.delete(M::ROUTE, &id))
            .await?;
        self.client.wrote(written.seq);
        Ok(())
    }

    /// A live page of `query` (needs `realtime`). Reads of the same query through [`Resource::list`] are then
    /// served from it. A query that filters through a relation is read again after each change of its model or of
    /// the models it filters through, rather than changed in memory (docs/client.md).
    pub async fn live(&self, query: Query<M::Filter, M::OrderBy>) -> Result<LiveList<M>, Error> {
        let ws = self.live_socket().await?;
        let key = Self::key(&query);
        let live = if query.filter.as_ref().is_some_and(M::follows_relations) {
            let (params, related) = Self::following(&query, None)?;
            LiveList::start_following::<M>(ws, params, related).await?
        } else {
            LiveList::<M>::start(ws, query).await?
        };
        let shared: Arc<dyn Any + Send + Sync> = Arc::new(live.clone());
        let mut lives = self
            .client
            .inner
            .lives
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        lives.retain(|_, weak| weak.strong_count() > 0);
        lives.insert(key, Arc::downgrade(&shared));
        // The registry holds a weak handle: the entry lives as long as the returned list.
        Ok(LiveList::with_keepalive(live, shared))
    }

    /// A live page of `query` with the related rows `include` names (as in [`Resource::list_including`]), kept up
    /// to date: the page is read again after each committed change of its model or of a model it includes or
    /// filters through (one read per batch of changes), so an author's rename shows in every message that includes
    /// them. Every included model must be realtime.
    pub async fn live_including(
        &self,
        query: Query<M::Filter, M::OrderBy>,
        include: &str,
    ) -> Result<LiveList<M::WithRelations>, Error> {
        let ws = self.live_socket().await?;
        let (params, related) = Self::following(&query, Some(include))?;
        LiveList::start_following::<M>(ws, params, related).await
    }

    /// The socket live lists use, once connected.
    async fn live_socket(&self) -> Result<WsTransport, Error> {
        let ws = self
            .client
            .inner
            .ws
            .clone()
            .ok_or_else(|| Error::Protocol("live lists need `realtime(true)`".to_owned()))?;
        ws.wait_connected(self.client.inner.timeout).await?;
        Ok(ws)
    }

    /// The `request` parameters of a query that reads through relations, and the channels of the models it reads.
    fn following(
        query: &Query<M::Filter, M::OrderBy>,
        include: Option<&str>,
    ) -> Result<(serde_json::Value, BTreeMap<&'static str, &'static str>), Error> {
        let mut params = serde_json::to_value(query).map_err(|e| Error::Protocol(e.to_string()))?;
        let related = follow::followed_channels(M::RELATIONS, params.get("where"), include)?;
        if let (Some(include), Some(fields)) = (include, params.as_object_mut()) {
            fields.insert(
                "include".to_owned(),
                serde_json::Value::String(include.to_owned()),
            );
        }
        Ok((params, related))
    }

    fn key(query: &Query<M::Filter, M::OrderBy>) -> LiveKey {
        (M::NAME, serde_json::to_string(query).unwrap_or_default())
    }

    fn cached(&self, query: &Query<M::Filter, M::OrderBy>) -> Option<LiveList<M>> {
        if !self
            .client
            .inner
            .ws
            .as_ref()
            .is_some_and(WsTransport::is_connected)
        {
            return None;
        }
        let lives = self
            .client
            .inner
            .lives
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let shared = lives.get(&Self::key(query))?.upgrade()?;
        let live = shared.downcast_ref::<LiveList<M>>()?.clone();
        // Only while the socket is up; otherwise the read goes over HTTP.
        live.snapshot().fresh.then_some(live)
    }

    /// Runs an HTTP operation; on 401 asks the token provider once more and retries once.
    async fn retry_auth<T, F: std::future::Future<Output = Result<T, Error>>>(
        &self,
        operation: impl Fn() -> F,
    ) -> Result<T, Error> {
        match operation().await {
            Err(Error::Auth(_)) => {
                self.client.refresh_http_token();
                operation().await
            }
            other => other,
        }
    }
}
