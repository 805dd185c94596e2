//! What the WebSocket gateway asks of a model: which events a subscriber may see, whether it may subscribe to
//! one row, and `request`s (the REST list and get over the socket).

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::hub::Visibility;
use crate::server::App;

use super::access::{scope, Scope};
use super::include::Include;
use super::read::{fetch_list, fetch_list_including, fetch_one, with_relations, ListQuery};
use super::{not_found, Resource};

/// Which of the model's events the caller may receive on a list channel (401/403 when none could ever pass).
pub fn visibility<R: Resource>(caller: &Caller) -> Result<Visibility, ApiError> {
    let rule = R::ACCESS.read;
    match scope::<R>(&rule, caller)? {
        Scope::All => Ok(Visibility {
            all: true,
            ..Visibility::default()
        }),
        Scope::Rows(_) => {
            let subject = caller.subject().unwrap_or_default();
            Ok(Visibility {
                all: false,
                owner: if rule.owner {
                    R::owner_param(subject).and_then(|p| p.as_key())
                } else {
                    None
                },
                own_row: if rule.self_ {
                    R::id_param(subject).and_then(|p| p.as_key())
                } else {
                    None
                },
            })
        }
    }
}

/// An item channel may be subscribed only by a caller who may read that row.
pub async fn check_item<R: Resource>(app: &App, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let parsed: R::Id = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not a valid {} id", R::NAME)))?;
    match fetch_one::<R>(app, caller, &parsed, false).await?.0 {
        Some(_) => Ok(()),
        None => Err(not_found::<R>(&parsed)),
    }
}

/// `params` of a WebSocket list request: the REST list's query parameters as JSON values.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
struct RequestListParams<R: Resource> {
    #[serde(rename = "where", default)]
    filter: Option<R::Filter>,
    #[serde(rename = "orderBy", default)]
    order_by: Option<OneOrMany<R::OrderBy>>,
    #[serde(default)]
    skip: Option<i64>,
    #[serde(default)]
    take: Option<i64>,
    #[serde(default)]
    include: Option<serde_json::Value>,
}

/// A request's `include` (the query string's list or object form, as a JSON string or object).
fn request_include<R: Resource>(spec: Option<&serde_json::Value>) -> Result<Include, ApiError> {
    spec.map_or_else(|| Ok(Include::default()), Include::from_json::<R>)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestGetParams {
    id: serde_json::Value,
    #[serde(default)]
    include: Option<serde_json::Value>,
}

fn request_params<T: DeserializeOwned>(params: serde_json::Value) -> Result<T, ApiError> {
    let params = if params.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        params
    };
    serde_path_to_error::deserialize(params).map_err(|e| {
        ApiError::bad_request(format!("invalid `params`: {}: {}", e.path(), e.inner()))
    })
}

/// A WebSocket `request`: the data and the sequence number it reflects.
pub async fn request<R: Resource>(
    app: &App,
    caller: &Caller,
    action: crate::protocol::Action,
    params: serde_json::Value,
) -> Result<(serde_json::Value, i64), ApiError> {
    match action {
        crate::protocol::Action::List => {
            let p: RequestListParams<R> = request_params(params)?;
            let include = request_include::<R>(p.include.as_ref())?;
            if p.skip.is_some_and(|n| n < 0) || p.take.is_some_and(|n| n < 0) {
                return Err(ApiError::bad_request("`skip` and `take` must be 0 or more"));
            }
            let order = match p.order_by {
                None => Vec::new(),
                Some(OneOrMany::One(key)) => vec![key],
                Some(OneOrMany::Many(keys)) => keys,
            };
            let query = ListQuery {
                filter: p.filter,
                order,
                skip: p.skip,
                take: p.take,
            };
            let (data, seq) = if include.is_empty() {
                let (page, seq) = fetch_list::<R>(app, caller, query, true).await?;
                (serde_json::to_value(page), seq)
            } else {
                // Included rows read after the page's snapshot (all but the list's own to-one relations) may be
                // newer than `seq`.
                let (page, seq) =
                    fetch_list_including::<R>(app, caller, query, true, &include).await?;
                (serde_json::to_value(page), seq)
            };
            Ok((data.map_err(ApiError::internal)?, seq.unwrap_or(0)))
        }
        crate::protocol::Action::Get => {
            let p: RequestGetParams = request_params(params)?;
            let include = request_include::<R>(p.include.as_ref())?;
            let text = match &p.id {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let id: R::Id = text.parse().map_err(|_| {
                ApiError::bad_request(format!("{text:?} is not a valid {} id", R::NAME))
            })?;
            let (row, seq) = fetch_one::<R>(app, caller, &id, true).await?;
            let row = row.ok_or_else(|| not_found::<R>(&id))?;
            let mut rows =
                with_relations(app, caller, &include, std::slice::from_ref(&row)).await?;
            Ok((rows.pop().unwrap_or_default(), seq.unwrap_or(0)))
        }
    }
}
