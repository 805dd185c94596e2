//! The OpenAPI 3.1 document of the generated REST server, built from the model graph. It describes exactly the
//! contract in `docs/rest.md`: per model a collection path (list, create) and an item path (get, replace, update,
//! delete), the one list shape, the filter and order query parameters, bearer authentication and the one error
//! shape; plus `/health`, `/ready`, `/ws`, `/admin` (the admin page, HTML) and `/openapi.json`.
//!
//! Names on the wire are the schema's own names (`field.name`). Component schemas are named after the schema's
//! model and enum names (`Message`, `MessageCreate`, ..., `MessageList`) and `Error`. Names the schema validator
//! does not reserve (`<Model>List`, `Error`) are given a fallback when a model or enum already uses them (the
//! kitchen-sink schema has a model called `Error`), so every component name is unique. What is the same for many
//! models is written once and referenced: the operators of a field filter, one schema per operand type and
//! nullability (`StringFilter`, `NullableDateTimeFilter`, `<Enum>Filter`); the sort direction (`SortOrder`); and the
//! `skip` and `take` query parameters (`#/components/parameters/...`).
//!
//! The output is deterministic: models and enums come sorted from the graph, fields in schema order, and every
//! object is built with keys in a fixed order (`serde_json` keeps insertion order).
//!
//! One file per part: `paths` (operations), `schemas` (components); names of components come from the graph
//! (`Model::api_names`, `Graph::api_names`, `Field::api_filter`).

mod paths;
mod schemas;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};

use crate::model::{Graph, Model};

/// The OpenAPI version the document is written in.
pub const OPENAPI_VERSION: &str = "3.1.0";

/// Every `error.code` the server answers with (docs/rest.md, "Errors"), in the table's order.
pub const ERROR_CODES: &[&str] = &[
    "bad_request",
    "validation_failed",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "reference_not_found",
    "internal",
];

/// Name of the bearer security scheme.
pub const SECURITY_SCHEME: &str = "bearerAuth";

/// Tag of the operations that belong to no model (`/health`, `/ready`, `/ws`, `/admin`, `/openapi.json`).
pub const SERVER_TAG: &str = "server";

const HTTP_JSON: &str = "application/json";

/// The whole OpenAPI 3.1 document for the server generated from `graph`.
pub fn document(graph: &Graph) -> Value {
    serde_json::to_value(Document { graph }).expect("the document always serializes")
}

/// `openapi.json`: the document pretty-printed, with a final newline; the same text as `document` pretty-printed.
/// It is written as it is built, one model at a time, so the whole tree of JSON values (several times the size
/// of the text for a large schema) never exists at once.
pub fn json(graph: &Graph) -> String {
    // Room for the usual size (about 30 KB a model), so that the text is not copied each time it outgrows its
    // buffer; memory reserved and never written costs nothing.
    let mut out = Vec::with_capacity(64 * 1024 + 40 * 1024 * graph.models.len());
    serde_json::to_writer_pretty(&mut out, &Document { graph })
        .expect("writing to memory never fails");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The document, serialized piece by piece (`Serialize` walks the graph and builds each model's part only when it
/// is written).
struct Document<'g> {
    graph: &'g Graph,
}

/// A JSON object whose entries are produced by `entries` as it is serialized.
struct LazyObject<F>(F);

impl<F, I> Serialize for LazyObject<F>
where
    F: Fn() -> I,
    I: Iterator<Item = (String, Value)>,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in (self.0)() {
            map.serialize_entry(&key, &value)?;
        }
        map.end()
    }
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let graph = self.graph;
        let mut doc = serializer.serialize_map(Some(5))?;
        doc.serialize_entry("openapi", OPENAPI_VERSION)?;
        doc.serialize_entry("info", &info(graph))?;
        doc.serialize_entry("tags", &tags(graph))?;
        doc.serialize_entry("paths", &LazyObject(|| paths::paths(graph)))?;
        doc.serialize_entry("components", &Components { graph })?;
        doc.end()
    }
}

/// `components`: the schemas, written one model at a time, then the few shared responses, parameters and so on.
struct Components<'a> {
    graph: &'a Graph,
}

impl Serialize for Components<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let graph = self.graph;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("schemas", &LazyObject(|| schemas::component_schemas(graph)))?;
        for (key, value) in schemas::other_components(graph) {
            map.serialize_entry(&key, &value)?;
        }
        map.end()
    }
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn response_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

fn parameter_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

fn header_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/headers/{name}") })
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------------------------
// info and tags

fn info(graph: &Graph) -> Value {
    let mut info = Map::new();
    info.insert("title".into(), json!(graph.crate_name));
    info.insert("version".into(), json!(graph.version));
    if let Some(d) = &graph.description {
        info.insert("description".into(), json!(d.trim_end()));
    }
    Value::Object(info)
}

fn access_summary(m: &Model) -> String {
    let a = &m.access;
    format!(
        "Access: read by {}; create by {}; update by {}; delete by {}.",
        a.read.summary, a.create.summary, a.update.summary, a.delete.summary
    )
}

fn tags(graph: &Graph) -> Value {
    let mut tags: Vec<Value> = graph
        .models
        .iter()
        .map(|m| {
            let mut parts = Vec::new();
            if let Some(doc) = &m.doc {
                parts.push(doc.trim_end().to_owned());
            }
            parts.push(access_summary(m));
            json!({ "name": m.name, "description": parts.join("\n\n") })
        })
        .collect();
    tags.push(json!({ "name": SERVER_TAG, "description": "Health check and this document." }));
    Value::Array(tags)
}
