//! The OpenAPI 3.1 document of the generated REST server, built from the model graph. It describes exactly the
//! contract in `docs/rest.md`: per model a collection path (list, create) and an item path (get, replace, update,
//! delete), the one list shape, the filter and order query parameters, bearer authentication and the one error
//! shape; plus `/health`, `/ws`, `/admin` (the admin page, HTML) and `/openapi.json`.
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

use std::collections::{BTreeMap, BTreeSet};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};

use crate::model::types::{BoundKind, FilterKind, Scalar};
use crate::model::{DefaultKind, Enum, Field, Graph, Model, Presence, Rule};

/// The OpenAPI version the document is written in.
pub const OPENAPI_VERSION: &str = "3.1.0";
/// Rows a list returns when `take` is not given.
pub const DEFAULT_TAKE: u64 = 20;
/// The largest `take` with the default configuration (`MAX_TAKE` in the server's environment).
pub const DEFAULT_MAX_TAKE: u64 = 100;
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
/// Tag of the operations that belong to no model (`/health`, `/ws`, `/admin`, `/openapi.json`).
pub const SERVER_TAG: &str = "server";

const HTTP_JSON: &str = "application/json";

/// The whole OpenAPI 3.1 document for the server generated from `graph`.
pub fn document(graph: &Graph) -> Value {
    serde_json::to_value(Document::new(graph)).expect("the document always serializes")
}

/// `openapi.json`: the document pretty-printed, with a final newline; the same text as `document` pretty-printed.
/// It is written as it is built, one model at a time, so the whole tree of JSON values (several times the size
/// of the text for a large schema) never exists at once.
pub fn json(graph: &Graph) -> String {
    // Room for the usual size (about 30 KB a model), so that the text is not copied each time it outgrows its
    // buffer; memory reserved and never written costs nothing.
    let mut out = Vec::with_capacity(64 * 1024 + 40 * 1024 * graph.models.len());
    serde_json::to_writer_pretty(&mut out, &Document::new(graph))
        .expect("writing to memory never fails");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The document, serialized piece by piece (`Serialize` walks the graph and builds each model's part only when it
/// is written).
struct Document<'g> {
    graph: &'g Graph,
    names: Names,
}

impl<'g> Document<'g> {
    fn new(graph: &'g Graph) -> Document<'g> {
        Document {
            graph,
            names: Names::new(graph),
        }
    }
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
        let (graph, names) = (self.graph, &self.names);
        let mut doc = serializer.serialize_map(Some(5))?;
        doc.serialize_entry("openapi", OPENAPI_VERSION)?;
        doc.serialize_entry("info", &info(graph))?;
        doc.serialize_entry("tags", &tags(graph))?;
        doc.serialize_entry("paths", &LazyObject(|| paths(graph, names)))?;
        doc.serialize_entry("components", &Components { graph, names })?;
        doc.end()
    }
}

/// `components`: the schemas, written one model at a time, then the few shared responses, parameters and so on.
struct Components<'a> {
    graph: &'a Graph,
    names: &'a Names,
}

impl Serialize for Components<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (graph, names) = (self.graph, self.names);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("schemas", &LazyObject(|| component_schemas(graph, names)))?;
        for (key, value) in other_components(names) {
            map.serialize_entry(&key, &value)?;
        }
        map.end()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Component names

/// The component schema names of one model.
struct ModelNames {
    record: String,
    create: String,
    update: String,
    patch: String,
    filter: String,
    order_by: String,
    list: String,
}

struct Names {
    /// Parallel to `graph.models`.
    models: Vec<ModelNames>,
    error: String,
    /// One shared operator schema per operand type and nullability (`StringFilter`, `NullableDateTimeFilter`,
    /// `StatusFilter`), referenced by every filterable field of that type instead of repeated per field.
    filters: BTreeMap<FilterOperand, String>,
    /// The direction of a sort key (`asc`, `desc`).
    sort_order: String,
}

/// What decides a field filter's operator schema: the operand's type (a scalar with the same JSON schema, or an
/// enum by name) and whether the field is optional (`isNull`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct FilterOperand {
    label: String,
    is_enum: bool,
    nullable: bool,
}

impl FilterOperand {
    fn of(f: &Field) -> Option<FilterOperand> {
        f.filter_type.as_ref()?;
        FilterKind::for_scalar(f.scalar, f.optional)?;
        let label = match f.scalar {
            Scalar::String | Scalar::Text => "String",
            Scalar::Int => "Int",
            Scalar::BigInt => "BigInt",
            Scalar::Float => "Float",
            Scalar::Bool => "Bool",
            Scalar::Uuid => "Uuid",
            Scalar::DateTime => "DateTime",
            Scalar::Date => "Date",
            Scalar::Json => "Json",
            Scalar::Enum => f.type_name.as_str(),
        };
        Some(FilterOperand {
            label: label.to_owned(),
            is_enum: f.scalar == Scalar::Enum,
            nullable: f.optional,
        })
    }

    fn component_name(&self) -> String {
        let nullable = if self.nullable { "Nullable" } else { "" };
        format!("{nullable}{}Filter", self.label)
    }
}

impl Names {
    fn new(graph: &Graph) -> Names {
        // Names the validator keeps unique (enums and the six types of each model) are claimed first, then the
        // ones it does not know about, each with a fallback if taken.
        let mut taken: BTreeSet<String> = BTreeSet::new();
        for e in &graph.enums {
            taken.insert(e.name.clone());
        }
        let mut models: Vec<ModelNames> = graph
            .models
            .iter()
            .map(|m| {
                let n = &m.name;
                let names = ModelNames {
                    record: n.clone(),
                    create: format!("{n}Create"),
                    update: format!("{n}Update"),
                    patch: format!("{n}Patch"),
                    filter: format!("{n}Filter"),
                    order_by: format!("{n}OrderBy"),
                    list: String::new(),
                };
                for name in [
                    &names.record,
                    &names.create,
                    &names.update,
                    &names.patch,
                    &names.filter,
                    &names.order_by,
                ] {
                    taken.insert(name.clone());
                }
                names
            })
            .collect();
        for (m, names) in graph.models.iter().zip(&mut models) {
            names.list = claim(&mut taken, &[format!("{}List", m.name)]);
        }
        let error = claim(&mut taken, &["Error".to_owned(), "ApiError".to_owned()]);
        // Sorted by operand, so the fallback a clash gets is the same on every run.
        let operands: BTreeSet<FilterOperand> = graph
            .models
            .iter()
            .flat_map(|m| &m.fields)
            .filter_map(FilterOperand::of)
            .collect();
        let filters = operands
            .into_iter()
            .map(|o| {
                let name = claim(&mut taken, &[o.component_name()]);
                (o, name)
            })
            .collect();
        let sort_order = claim(&mut taken, &["SortOrder".to_owned()]);
        Names {
            models,
            error,
            filters,
            sort_order,
        }
    }
}

/// The first free candidate, or else the last one with the smallest free number appended.
fn claim(taken: &mut BTreeSet<String>, candidates: &[String]) -> String {
    let last = candidates.last().expect("at least one candidate");
    let name = candidates
        .iter()
        .find(|c| !taken.contains(*c))
        .cloned()
        .unwrap_or_else(|| {
            (2..)
                .map(|i| format!("{last}{i}"))
                .find(|c| !taken.contains(c))
                .expect("some number is free")
        });
    taken.insert(name.clone());
    name
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

// ---------------------------------------------------------------------------------------------------------------
// Paths

/// The entries of `paths`: each model's collection and item paths, then the server's own.
fn paths<'a>(graph: &'a Graph, names: &'a Names) -> impl Iterator<Item = (String, Value)> + 'a {
    let models = graph.models.iter().zip(&names.models).flat_map(|(m, n)| {
        let mut collection = Map::new();
        collection.insert("get".into(), list_operation(m, n));
        collection.insert("post".into(), create_operation(m, n));

        let mut item = Map::new();
        item.insert("parameters".into(), json!([id_parameter(m)]));
        item.insert("get".into(), get_operation(m, n));
        item.insert("put".into(), replace_operation(m, n));
        item.insert("patch".into(), patch_operation(m, n));
        item.insert("delete".into(), delete_operation(m));
        [
            (m.route.clone(), Value::Object(collection)),
            (format!("{}/{{id}}", m.route), Value::Object(item)),
        ]
    });
    models.chain(server_paths())
}

fn server_paths() -> [(String, Value); 4] {
    [
        (
            "/health".into(),
            json!({
                "get": {
                    "operationId": "checkHealth",
                    "tags": [SERVER_TAG],
                    "summary": "Health check",
                    "description": "Answers `200` when the database answers and the server receives every committed \
                        event (on PostgreSQL: its LISTEN connection is up), `503` otherwise.",
                    "responses": {
                        "200": {
                            "description": "The server, its database and its event feed are up.",
                            "content": { HTTP_JSON: { "schema": health_schema("ok") } },
                        },
                        "503": {
                            "description": "The database does not answer, or the server is catching up with events.",
                            "content": { HTTP_JSON: { "schema": health_schema("unavailable") } },
                        },
                    },
                }
            }),
        ),
        (
            "/ws".into(),
            json!({
                "get": {
                    "operationId": "openWebSocket",
                    "tags": [SERVER_TAG],
                    "summary": "The WebSocket gateway",
                    "description": "Upgrades to a WebSocket (subprotocol `ssot.v1`): subscriptions to `<Model>:list` \
                        and `<Model>:item:<id>` channels with resume, and reads. A token goes in `Authorization: \
                        Bearer`, a `bearer.<token>` subprotocol, or a first `auth` frame. The messages are described \
                        in the generated crate's `protocol` module.",
                    "responses": {
                        "101": { "description": "Switching to the WebSocket protocol." },
                        "400": { "description": "Not a WebSocket upgrade request." },
                    },
                }
            }),
        ),
        (
            "/admin".into(),
            json!({
                "get": {
                    "operationId": "adminPage",
                    "tags": [SERVER_TAG],
                    "summary": "The admin page",
                    "description": "A live admin page for people, in plain HTML: a table per model with sorting, \
                        filters and paging, and create / edit / delete forms, updated live over `/ws`. Its script, \
                        style sheet and the description of the models it works with are served beside it \
                        (`/admin/admin.js`, `/admin/admin.css`, `/admin/models.json`); nothing is loaded from \
                        elsewhere. It reads and writes through this API with the token entered on the page.",
                    "responses": {
                        "200": {
                            "description": "The page.",
                            "content": { "text/html": { "schema": { "type": "string" } } },
                        },
                    },
                }
            }),
        ),
        (
            "/openapi.json".into(),
            json!({
                "get": {
                    "operationId": "openapiDocument",
                    "tags": [SERVER_TAG],
                    "summary": "This OpenAPI document",
                    "responses": {
                        "200": {
                            "description": "The OpenAPI 3.1 document of this server.",
                            "content": { HTTP_JSON: { "schema": { "type": "object" } } },
                        },
                    },
                }
            }),
        ),
    ]
}

/// What an operation can fail with, besides `400` (bad request) and `500` (internal), which every operation has.
#[derive(Default)]
struct Failures {
    forbidden: bool,
    not_found: bool,
    conflict: bool,
    reference_not_found: bool,
}

/// Whether a signed-in caller can be refused by the rule (anonymous callers are told `401` instead).
fn may_forbid(rule: &Rule) -> bool {
    !rule.public && !rule.authenticated
}

/// Fields of an input that can make it fail: a unique value already taken, a reference to a missing row.
fn input_failures<'m>(m: &'m Model, in_input: impl Fn(&Field) -> bool) -> (bool, bool) {
    let fields: Vec<&'m Field> = m.fields.iter().filter(|f| in_input(f)).collect();
    (
        fields.iter().any(|f| f.unique),
        fields.iter().any(|f| f.references.is_some()),
    )
}

struct Operation<'a> {
    id: String,
    summary: String,
    description: String,
    rule: &'a Rule,
    tag: &'a str,
    parameters: Vec<Value>,
    body: Option<(&'a str, &'a str)>,
    /// Status and response object.
    success: (&'static str, Value),
    failures: Failures,
}

impl Operation<'_> {
    fn build(self) -> Value {
        let mut op = Map::new();
        op.insert("operationId".into(), json!(self.id));
        op.insert("tags".into(), json!([self.tag]));
        op.insert("summary".into(), json!(self.summary));
        let allowed = format!("Allowed for: {}.", self.rule.summary);
        op.insert(
            "description".into(),
            json!(format!("{}\n\n{allowed}", self.description)),
        );
        if !self.parameters.is_empty() {
            op.insert("parameters".into(), Value::Array(self.parameters));
        }
        if let Some((schema, description)) = self.body {
            op.insert(
                "requestBody".into(),
                json!({
                    "description": description,
                    "required": true,
                    "content": { HTTP_JSON: { "schema": schema_ref(schema) } },
                }),
            );
        }
        let mut responses = Map::new();
        responses.insert(self.success.0.into(), self.success.1);
        responses.insert("400".into(), response_ref("BadRequest"));
        responses.insert("401".into(), response_ref("Unauthorized"));
        let f = self.failures;
        if f.forbidden {
            responses.insert("403".into(), response_ref("Forbidden"));
        }
        if f.not_found {
            responses.insert("404".into(), response_ref("NotFound"));
        }
        if f.conflict {
            responses.insert("409".into(), response_ref("Conflict"));
        }
        if f.reference_not_found {
            responses.insert("422".into(), response_ref("ReferenceNotFound"));
        }
        responses.insert("500".into(), response_ref("Internal"));
        op.insert("responses".into(), Value::Object(responses));
        if !self.rule.public {
            op.insert("security".into(), json!([{ SECURITY_SCHEME: [] }]));
        }
        Value::Object(op)
    }
}

fn record_response(description: String, record: &str, headers: Value) -> Value {
    let mut r = Map::new();
    r.insert("description".into(), json!(description));
    if headers.as_object().is_some_and(|h| !h.is_empty()) {
        r.insert("headers".into(), headers);
    }
    r.insert(
        "content".into(),
        json!({ HTTP_JSON: { "schema": schema_ref(record) } }),
    );
    Value::Object(r)
}

fn event_seq() -> Value {
    json!({ "Event-Seq": header_ref("EventSeq") })
}

fn list_operation(m: &Model, n: &ModelNames) -> Value {
    let plural = upper_first(m.plural.trim_end_matches('_'));
    let query_json = |name: &str, description: String, schema: Value| {
        json!({
            "name": name,
            "in": "query",
            "required": false,
            "description": description,
            "content": { HTTP_JSON: { "schema": schema } },
        })
    };
    let parameters = vec![
        query_json(
            "where",
            "Which rows to return, as JSON (Prisma-style): `{\"field\": {\"operator\": value}}`; fields \
             combine with AND, and `AND`, `OR`, `NOT` take lists of filters. An unknown field or operator is a \
             `400`. Only rows the caller may read are ever returned."
                .to_owned(),
            schema_ref(&n.filter),
        ),
        query_json(
            "orderBy",
            "Sort keys, as JSON: a list of one-key objects such as `[{\"field\": \"desc\"}]`, or a single one. \
             The id is always added as the last key, so pages are stable. Default: by id, ascending."
                .to_owned(),
            json!({ "oneOf": [
                schema_ref(&n.order_by),
                { "type": "array", "items": schema_ref(&n.order_by) },
            ] }),
        ),
        parameter_ref("skip"),
        parameter_ref("take"),
    ];
    Operation {
        id: format!("list{plural}"),
        summary: format!("List {}", m.plural),
        description: format!(
            "A page of the `{}` rows the caller may read that match `where`, in `orderBy` order, with the \
             number of all such rows in `total`.",
            m.name
        ),
        rule: &m.access.read,
        tag: &m.name,
        parameters,
        body: None,
        success: (
            "200",
            json!({
                "description": format!("A page of `{}` rows.", m.name),
                "content": { HTTP_JSON: { "schema": schema_ref(&n.list) } },
            }),
        ),
        failures: Failures {
            forbidden: may_forbid(&m.access.read),
            ..Failures::default()
        },
    }
    .build()
}

fn create_operation(m: &Model, n: &ModelNames) -> Value {
    let (conflict, reference_not_found) = input_failures(m, |f| f.create != Presence::Absent);
    let mut headers = Map::new();
    headers.insert(
        "Location".into(),
        json!({
            "description": format!("Path of the new row, `{}/<id>`.", m.route),
            "required": true,
            "schema": { "type": "string", "format": "uri-reference" },
        }),
    );
    headers.insert("Event-Seq".into(), header_ref("EventSeq"));
    let owner_note = m
        .owner_field
        .as_ref()
        .map(|o| format!(" The owner field `{o}` is set from the caller's token."))
        .unwrap_or_default();
    Operation {
        id: format!("create{}", upper_first(&m.name)),
        summary: format!("Create a {}", m.name),
        description: format!(
            "Creates a `{}`. Unknown fields and fields the server sets are rejected.{owner_note}",
            m.name
        ),
        rule: &m.access.create,
        tag: &m.name,
        parameters: Vec::new(),
        body: Some((&n.create, "The new row's fields.")),
        success: (
            "201",
            record_response(
                format!("The created `{}`.", m.name),
                &n.record,
                Value::Object(headers),
            ),
        ),
        failures: Failures {
            forbidden: may_forbid(&m.access.create),
            not_found: false,
            conflict,
            reference_not_found,
        },
    }
    .build()
}

fn id_parameter(m: &Model) -> Value {
    let schema = m
        .fields
        .iter()
        .find(|f| f.name == m.id_field)
        .map(|f| base_schema(f, false))
        .unwrap_or_else(|| json!({ "type": "string" }));
    json!({
        "name": "id",
        "in": "path",
        "required": true,
        "description": format!("The `{}` of the `{}`.", m.id_field, m.name),
        "schema": schema,
    })
}

fn get_operation(m: &Model, n: &ModelNames) -> Value {
    Operation {
        id: format!("get{}", upper_first(&m.name)),
        summary: format!("Get a {}", m.name),
        description: format!(
            "One `{}`. A row the caller may not read is a `404`, as if it did not exist.",
            m.name
        ),
        rule: &m.access.read,
        tag: &m.name,
        parameters: Vec::new(),
        body: None,
        success: (
            "200",
            record_response(format!("The `{}`.", m.name), &n.record, json!({})),
        ),
        failures: Failures {
            not_found: true,
            ..Failures::default()
        },
    }
    .build()
}

const CHECK_STORED: &str =
    "The rule is checked against the stored row: `404` if the caller may not read it, \
                            `403` if they may read but not change it.";

fn replace_operation(m: &Model, n: &ModelNames) -> Value {
    let (conflict, reference_not_found) = input_failures(m, |f| f.update != Presence::Absent);
    Operation {
        id: format!("replace{}", upper_first(&m.name)),
        summary: format!("Replace a {}", m.name),
        description: format!(
            "Sets every writable field of a `{}`; an absent optional field becomes null. {CHECK_STORED}",
            m.name
        ),
        rule: &m.access.update,
        tag: &m.name,
        parameters: Vec::new(),
        body: Some((&n.update, "Every writable field.")),
        success: (
            "200",
            record_response(format!("The updated `{}`.", m.name), &n.record, event_seq()),
        ),
        failures: Failures {
            forbidden: may_forbid(&m.access.update),
            not_found: true,
            conflict,
            reference_not_found,
        },
    }
    .build()
}

fn patch_operation(m: &Model, n: &ModelNames) -> Value {
    let (conflict, reference_not_found) = input_failures(m, |f| f.in_patch);
    Operation {
        id: format!("update{}", upper_first(&m.name)),
        summary: format!("Update some fields of a {}", m.name),
        description: format!(
            "Changes the given fields of a `{}`; absent fields are left as they are, and `null` clears an \
             optional field. {CHECK_STORED}",
            m.name
        ),
        rule: &m.access.update,
        tag: &m.name,
        parameters: Vec::new(),
        body: Some((&n.patch, "The fields to change.")),
        success: (
            "200",
            record_response(format!("The updated `{}`.", m.name), &n.record, event_seq()),
        ),
        failures: Failures {
            forbidden: may_forbid(&m.access.update),
            not_found: true,
            conflict,
            reference_not_found,
        },
    }
    .build()
}

fn delete_operation(m: &Model) -> Value {
    let referenced = !m.inverse_relations.is_empty();
    Operation {
        id: format!("delete{}", upper_first(&m.name)),
        summary: format!("Delete a {}", m.name),
        description: format!(
            "Deletes a `{}`{}. {CHECK_STORED}",
            m.name,
            if referenced {
                "; a row still referenced by others is a `409`"
            } else {
                ""
            }
        ),
        rule: &m.access.delete,
        tag: &m.name,
        parameters: Vec::new(),
        body: None,
        success: (
            "204",
            json!({ "description": "Deleted.", "headers": event_seq() }),
        ),
        failures: Failures {
            forbidden: may_forbid(&m.access.delete),
            not_found: true,
            conflict: referenced,
            reference_not_found: false,
        },
    }
    .build()
}

// ---------------------------------------------------------------------------------------------------------------
// Components

/// The entries of `components.schemas`: enums, each model's schemas, then the shared ones.
fn component_schemas<'a>(
    graph: &'a Graph,
    names: &'a Names,
) -> impl Iterator<Item = (String, Value)> + 'a {
    let enums = graph.enums.iter().map(|e| (e.name.clone(), enum_schema(e)));
    let models = graph
        .models
        .iter()
        .zip(&names.models)
        .flat_map(move |(m, n)| {
            [
                (n.record.clone(), record_schema(m)),
                (n.create.clone(), create_schema(m)),
                (n.update.clone(), update_schema(m)),
                (n.patch.clone(), patch_schema(m)),
                (n.filter.clone(), filter_schema(m, n, names)),
                (n.order_by.clone(), order_by_schema(m, names)),
                (n.list.clone(), list_schema(m, n)),
            ]
        });
    let shared = std::iter::once((names.error.clone(), error_schema()))
        .chain(
            names
                .filters
                .iter()
                .map(|(operand, name)| (name.clone(), operand_filter_schema(graph, operand))),
        )
        .chain(std::iter::once((
            names.sort_order.clone(),
            json!({ "type": "string", "enum": ["asc", "desc"] }),
        )));
    enums.chain(models).chain(shared)
}

/// The rest of `components`, after the schemas.
fn other_components(names: &Names) -> Map<String, Value> {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": { HTTP_JSON: { "schema": schema_ref(&names.error) } },
        })
    };
    let mut responses = Map::new();
    for (name, description) in [
        ("BadRequest", "`bad_request`: malformed JSON, an unknown field or operator, a wrong type, a bad query \
                        parameter or a malformed id; or `validation_failed`: values outside their bounds, each \
                        listed in `details`."),
        ("Unauthorized", "`unauthorized`: a malformed, badly signed or expired token, or no token where one is \
                          needed."),
        ("Forbidden", "`forbidden`: the caller's token does not give the right to do this."),
        ("NotFound", "`not_found`: no such row, or not one the caller may read."),
        ("Conflict", "`conflict`: a unique field's value is taken, or the row is still referenced by others."),
        ("ReferenceNotFound", "`reference_not_found`: a reference field points at a row that does not exist."),
        ("Internal", "`internal`: a bug in the server; the cause is logged, not shown."),
    ] {
        responses.insert(name.into(), error(description));
    }

    let rest = json!({
        "responses": responses,
        "parameters": {
            "skip": {
                "name": "skip",
                "in": "query",
                "required": false,
                "description": "Rows to skip.",
                "schema": { "type": "integer", "format": "int64", "minimum": 0, "default": 0 },
            },
            "take": {
                "name": "take",
                "in": "query",
                "required": false,
                "description": format!("Rows to return, at most `MAX_TAKE` ({DEFAULT_MAX_TAKE} unless the server is configured otherwise)."),
                "schema": {
                    "type": "integer",
                    "format": "int64",
                    "minimum": 0,
                    "maximum": DEFAULT_MAX_TAKE,
                    "default": DEFAULT_TAKE,
                },
            },
        },
        "headers": {
            "EventSeq": {
                "description": "Sequence number of the event this mutation wrote, so a client can tell when its \
                                own write has reached a live cache.",
                "required": true,
                "schema": { "type": "integer", "format": "int64" },
            },
        },
        "securitySchemes": {
            SECURITY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "HS256 token signed with the server's `JWT_SECRET`. Claims: `sub` (the user's id, \
                                as a string), `exp`, and optionally `roles` (a list of role names). Without the \
                                header the caller is anonymous.",
            },
        },
    });
    match rest {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    }
}

fn enum_schema(e: &Enum) -> Value {
    let mut s = Map::new();
    s.insert("type".into(), json!("string"));
    s.insert(
        "enum".into(),
        Value::Array(e.variants.iter().map(|v| json!(v.value)).collect()),
    );
    if let Some(doc) = &e.doc {
        s.insert("description".into(), json!(doc.trim_end()));
    }
    Value::Object(s)
}

/// JSON value of a bound literal (`254`, `-1.5`).
fn bound_value(literal: &str, scalar: Scalar) -> Value {
    if scalar == Scalar::Float {
        literal
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    } else {
        literal
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::Null)
    }
}

/// The schema of a field's value, never null. `bounds` adds `min`/`max` (not wanted for filter operands, where
/// `contains: "a"` on a field of at least 3 characters is fine).
fn base_schema(f: &Field, bounds: bool) -> Value {
    let mut s = Map::new();
    let (ty, format) = match f.scalar {
        Scalar::String | Scalar::Text => ("string", None),
        Scalar::Int => ("integer", Some("int32")),
        Scalar::BigInt => ("integer", Some("int64")),
        Scalar::Float => ("number", Some("double")),
        Scalar::Bool => ("boolean", None),
        Scalar::Uuid => ("string", Some("uuid")),
        Scalar::DateTime => ("string", Some("date-time")),
        Scalar::Date => ("string", Some("date")),
        Scalar::Json => return json!({}),
        Scalar::Enum => return schema_ref(&f.type_name),
    };
    s.insert("type".into(), json!(ty));
    if let Some(format) = format {
        s.insert("format".into(), json!(format));
    }
    if let (true, Some(b)) = (bounds, &f.bounds) {
        let (min_key, max_key) = match b.kind {
            BoundKind::Length => ("minLength", "maxLength"),
            BoundKind::Range => ("minimum", "maximum"),
        };
        if let Some(min) = &b.min {
            s.insert(min_key.into(), bound_value(min, f.scalar));
        }
        if let Some(max) = &b.max {
            s.insert(max_key.into(), bound_value(max, f.scalar));
        }
    }
    Value::Object(s)
}

/// `schema` or null, in 3.1 style: `type: [t, "null"]`, or `oneOf` with null around a `$ref`.
fn nullable(schema: Value) -> Value {
    let Value::Object(mut s) = schema else {
        return schema;
    };
    if s.is_empty() {
        return Value::Object(s); // any value, null included
    }
    match s.get("type").cloned() {
        Some(Value::String(t)) => {
            s.insert("type".into(), json!([t, "null"]));
            Value::Object(s)
        }
        _ => json!({ "oneOf": [Value::Object(s), { "type": "null" }] }),
    }
}

/// How a field appears in one schema.
#[derive(Clone, Copy, PartialEq)]
enum Use {
    Record,
    Create,
    Update,
    Patch,
}

fn property(f: &Field, nullable_value: bool, usage: Use) -> Value {
    let base = base_schema(f, true);
    let schema = if nullable_value { nullable(base) } else { base };
    let Value::Object(mut s) = schema else {
        return schema;
    };
    let mut description = Vec::new();
    if let Some(doc) = &f.doc {
        description.push(doc.trim_end().to_owned());
    }
    if !f.notes.is_empty() {
        description.push(upper_first(&f.notes) + ".");
    }
    if !description.is_empty() {
        s.insert("description".into(), json!(description.join("\n\n")));
    }
    if usage == Use::Create {
        if let Some(d) = &f.default {
            if let (DefaultKind::Literal, Some(v)) = (d.kind, &d.value) {
                s.insert("default".into(), v.clone());
            }
        }
    }
    if f.hidden && usage != Use::Record {
        s.insert("writeOnly".into(), json!(true));
    }
    Value::Object(s)
}

/// An object schema of `fields`, each with whether it is required and whether it may be null.
fn object_schema(
    description: String,
    fields: Vec<(&Field, bool, bool)>,
    usage: Use,
    closed: bool,
) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (f, is_required, is_nullable) in fields {
        properties.insert(f.name.clone(), property(f, is_nullable, usage));
        if is_required {
            required.push(json!(f.name));
        }
    }
    let mut s = Map::new();
    s.insert("type".into(), json!("object"));
    s.insert("description".into(), json!(description));
    if !required.is_empty() {
        s.insert("required".into(), Value::Array(required));
    }
    s.insert("properties".into(), Value::Object(properties));
    if closed {
        s.insert("additionalProperties".into(), json!(false));
    }
    Value::Object(s)
}

fn record_schema(m: &Model) -> Value {
    let mut description = Vec::new();
    if let Some(doc) = &m.doc {
        description.push(doc.trim_end().to_owned());
    }
    let hidden = m.fields.iter().any(|f| f.hidden);
    description.push(format!(
        "A `{}` as readers see it{}.",
        m.name,
        if hidden {
            " (hidden fields are never included)"
        } else {
            ""
        }
    ));
    let fields = m
        .fields
        .iter()
        .filter(|f| f.in_record)
        .map(|f| (f, !f.optional, f.optional))
        .collect();
    object_schema(description.join("\n\n"), fields, Use::Record, false)
}

fn create_schema(m: &Model) -> Value {
    let fields = m
        .fields
        .iter()
        .filter(|f| f.create != Presence::Absent)
        .map(|f| (f, f.create == Presence::Required, f.optional))
        .collect();
    object_schema(
        format!(
            "Input to create a `{}`. Server-set fields (a generated id, the owner, readonly fields) are not part of \
             it; unknown fields are rejected. A field left out gets its default (or null).",
            m.name
        ),
        fields,
        Use::Create,
        true,
    )
}

fn update_schema(m: &Model) -> Value {
    let fields = m
        .fields
        .iter()
        .filter(|f| f.update != Presence::Absent)
        .map(|f| (f, f.update == Presence::Required, f.optional))
        .collect();
    object_schema(
        format!(
            "Input to replace a `{}`'s writable fields (`PUT`): every field is set; an absent optional field becomes \
             null. Unknown fields are rejected.",
            m.name
        ),
        fields,
        Use::Update,
        true,
    )
}

fn patch_schema(m: &Model) -> Value {
    let fields = m
        .fields
        .iter()
        .filter(|f| f.in_patch)
        .map(|f| (f, false, f.optional))
        .collect();
    object_schema(
        format!(
            "Input to change some of a `{}`'s writable fields (`PATCH`): absent fields are left as they are; \
             `null` clears an optional field. Unknown fields are rejected.",
            m.name
        ),
        fields,
        Use::Patch,
        true,
    )
}

/// The operators of a filter kind with whether each takes a list, in the order of `docs/rest.md`.
pub fn filter_operators(kind: FilterKind) -> &'static [(&'static str, bool)] {
    const EQUALITY: &[(&str, bool)] = &[
        ("equals", false),
        ("not", false),
        ("in", true),
        ("notIn", true),
    ];
    const ORDERED: &[(&str, bool)] = &[
        ("equals", false),
        ("not", false),
        ("in", true),
        ("notIn", true),
        ("lt", false),
        ("lte", false),
        ("gt", false),
        ("gte", false),
    ];
    const STRING: &[(&str, bool)] = &[
        ("equals", false),
        ("not", false),
        ("in", true),
        ("notIn", true),
        ("lt", false),
        ("lte", false),
        ("gt", false),
        ("gte", false),
        ("contains", false),
        ("startsWith", false),
        ("endsWith", false),
    ];
    match kind {
        FilterKind::String => STRING,
        FilterKind::Ordered => ORDERED,
        FilterKind::Equality => EQUALITY,
        FilterKind::Bool => &[("equals", false), ("not", false)],
        FilterKind::Null => &[],
    }
}

/// The operator schema shared by every filterable field with this operand (`names.filters`).
fn operand_filter_schema(graph: &Graph, operand: &FilterOperand) -> Value {
    // Any field with this operand describes it: the operand schema depends only on its type.
    let f = graph
        .models
        .iter()
        .flat_map(|m| &m.fields)
        .find(|f| FilterOperand::of(f).as_ref() == Some(operand))
        .expect("every operand comes from a field");
    let kind = FilterKind::for_scalar(f.scalar, f.optional).expect("the field is filterable");
    let operand_schema = base_schema(f, false);
    let mut operators = Map::new();
    for (op, list) in filter_operators(kind) {
        let schema = if *list {
            json!({ "type": "array", "items": operand_schema.clone() })
        } else {
            operand_schema.clone()
        };
        operators.insert((*op).into(), schema);
    }
    if f.optional {
        operators.insert(
            "isNull".into(),
            json!({
                "type": "boolean",
                "description": "`true`: the field is null; `false`: it is not.",
            }),
        );
    }
    let what = if operand.is_enum {
        format!("the enum `{}`", operand.label)
    } else {
        format!("type `{}`", f.scalar.name())
    };
    json!({
        "type": "object",
        "description": format!(
            "Operators on a{} field of {what}; every one given must match.",
            if operand.nullable { "n optional" } else { " required" }
        ),
        "properties": operators,
        "additionalProperties": false,
    })
}

fn filter_schema(m: &Model, n: &ModelNames, names: &Names) -> Value {
    let mut properties = Map::new();
    for f in &m.fields {
        if let Some(operand) = FilterOperand::of(f) {
            properties.insert(f.name.clone(), schema_ref(&names.filters[&operand]));
        }
    }
    for (key, description) in [
        ("AND", "Every one of these filters matches."),
        ("OR", "At least one of these filters matches."),
        ("NOT", "None of these filters matches."),
    ] {
        properties.insert(
            key.into(),
            json!({
                "type": "array",
                "description": description,
                "items": schema_ref(&n.filter),
            }),
        );
    }
    json!({
        "type": "object",
        "description": format!(
            "Which `{}` rows a list returns. Fields combine with AND; `AND`, `OR` and `NOT` nest filters. Hidden and \
             json fields cannot be filtered on (an optional json field only with `isNull`). Text comparisons are \
             case-sensitive and by code point.",
            m.name
        ),
        "properties": properties,
        "additionalProperties": false,
    })
}

fn order_by_schema(m: &Model, names: &Names) -> Value {
    let keys: Vec<Value> = m
        .fields
        .iter()
        .filter(|f| f.orderable)
        .map(|f| {
            let mut properties = Map::new();
            properties.insert(f.name.clone(), schema_ref(&names.sort_order));
            json!({
                "type": "object",
                "required": [f.name],
                "properties": properties,
                "additionalProperties": false,
            })
        })
        .collect();
    let description = format!(
        "One sort key of a `{}` list, written `{{\"field\": \"asc\"}}` or `{{\"field\": \"desc\"}}`.",
        m.name
    );
    if keys.is_empty() {
        // No field can be sorted on: no sort key is valid (lists are still ordered by id).
        json!({ "description": format!("{description} This model has no sortable fields."), "not": {} })
    } else {
        json!({ "description": description, "oneOf": keys })
    }
}

fn list_schema(m: &Model, n: &ModelNames) -> Value {
    json!({
        "type": "object",
        "description": format!("A page of `{}` rows.", m.name),
        "required": ["items", "total", "skip", "take"],
        "properties": {
            "items": { "type": "array", "items": schema_ref(&n.record) },
            "total": {
                "type": "integer",
                "format": "int64",
                "minimum": 0,
                "description": "Every row that matches and that the caller may read.",
            },
            "skip": { "type": "integer", "format": "int64", "minimum": 0 },
            "take": { "type": "integer", "format": "int64", "minimum": 0 },
        },
    })
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "Every error response has this shape, with a stable `code`.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": { "type": "string", "enum": ERROR_CODES },
                    "message": { "type": "string" },
                    "details": {
                        "type": "array",
                        "description": "For `validation_failed`: every violation.",
                        "items": {
                            "type": "object",
                            "required": ["field", "code", "message"],
                            "properties": {
                                "field": { "type": "string" },
                                "code": { "type": "string" },
                                "message": { "type": "string" },
                            },
                        },
                    },
                },
            },
        },
    })
}

/// The body of `/health`: overall `status`, and the state of the database and of the event feed.
fn health_schema(status: &str) -> Value {
    json!({
        "type": "object",
        "required": ["status", "database", "events"],
        "properties": {
            "status": { "type": "string", "const": status },
            "database": { "type": "string", "enum": ["ok", "unavailable"] },
            "events": { "type": "string", "enum": ["ok", "catching_up"] },
        },
    })
}
