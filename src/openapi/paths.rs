//! `paths`: each model's collection and item operations, and the server's own paths.

use serde_json::{json, Map, Value};

use super::schemas::{base_schema, health_schema, readiness_schema};
use super::*;
use crate::model::{OnDelete, Rule};

/// The entries of `paths`: each model's collection and item paths, then the server's own.
pub(super) fn paths(graph: &Graph) -> impl Iterator<Item = (String, Value)> + '_ {
    let models = graph.models.iter().flat_map(|m| {
        let mut collection = Map::new();
        collection.insert("get".into(), list_operation(m));
        collection.insert("post".into(), create_operation(m));

        let mut item = Map::new();
        item.insert("parameters".into(), json!([id_parameter(m)]));
        item.insert("get".into(), get_operation(m));
        item.insert("put".into(), update_operation(m, true));
        item.insert("patch".into(), update_operation(m, false));
        item.insert("delete".into(), delete_operation(m));
        [
            (m.route.clone(), Value::Object(collection)),
            (format!("{}/{{id}}", m.route), Value::Object(item)),
        ]
    });
    models.chain(server_paths())
}

fn server_paths() -> [(String, Value); 5] {
    [
        (
            "/health".into(),
            json!({
                "get": {
                    "operationId": "checkHealth",
                    "tags": [SERVER_TAG],
                    "summary": "Liveness",
                    "description": "Answers `200` as long as the process serves requests, whatever its database \
                        does: a failing liveness check means the process should be restarted. Whether the server can \
                        do its work is `/ready`.",
                    "responses": {
                        "200": {
                            "description": "The process is up.",
                            "content": { HTTP_JSON: { "schema": health_schema() } },
                        },
                    },
                }
            }),
        ),
        (
            "/ready".into(),
            json!({
                "get": {
                    "operationId": "checkReadiness",
                    "tags": [SERVER_TAG],
                    "summary": "Readiness",
                    "description": "Answers `200` when the database answers, every migration of this build is \
                        applied, the server receives every committed event (on PostgreSQL: its LISTEN connection is \
                        up) and it is not shutting down; `503` otherwise, naming what fails. A graceful shutdown \
                        turns it `503` before any connection is closed (for `SHUTDOWN_DRAIN_MS`).",
                    "responses": {
                        "200": {
                            "description": "The server can serve: send it traffic.",
                            "content": { HTTP_JSON: { "schema": readiness_schema(&["ok"]) } },
                        },
                        "503": {
                            "description": "The database does not answer, a migration is missing, the server is \
                                catching up with events, or it is shutting down.",
                            "content": {
                                HTTP_JSON: { "schema": readiness_schema(&["unavailable", "shutting_down"]) }
                            },
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
    /// A write: on SQLite it waits in the group commit's bounded queue, and is refused with 503 when that is full.
    write: bool,
}

/// Whether a signed-in caller can be refused by the rule (anonymous callers are told `401` instead).
fn may_forbid(rule: &Rule) -> bool {
    !rule.public && !rule.authenticated
}

/// Fields of an input (`Model::sets`) that can make it fail: a unique value already taken, a reference to a missing
/// row.
fn input_failures(m: &Model, input: &[usize]) -> (bool, bool) {
    let fields = || input.iter().map(|&i| &m.fields[i]);
    (
        fields().any(|f| f.unique),
        fields().any(|f| f.references.is_some()),
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
        if self.body.is_some() {
            responses.insert("413".into(), response_ref("TooLarge"));
        }
        if f.reference_not_found {
            responses.insert("422".into(), response_ref("ReferenceNotFound"));
        }
        responses.insert("500".into(), response_ref("Internal"));
        if f.write {
            responses.insert("503".into(), response_ref("Overloaded"));
        }
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

fn list_operation(m: &Model) -> Value {
    let n = &m.api_names;
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
    let parameters = parameters.into_iter().chain(include_parameter(m)).collect();
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

fn create_operation(m: &Model) -> Value {
    let n = &m.api_names;
    let (conflict, reference_not_found) = input_failures(m, &m.sets.create);
    // The owner field is set from the token's subject, not the body: a subject that is not an id of the owner's type
    // is a 403, and one that names no row of the referenced model a 422.
    let owner = m.sets.owner.map(|i| &m.fields[i]);
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
            forbidden: may_forbid(&m.access.create) || owner.is_some(),
            not_found: false,
            conflict,
            reference_not_found: reference_not_found
                || owner.is_some_and(|f| f.references.is_some()),
            write: true,
        },
    }
    .build()
}

/// `include` of a list or get, for a model with relations (docs/rest.md): which relations it has and the two forms.
fn include_parameter(m: &Model) -> Option<Value> {
    let names: Vec<String> = m
        .includes
        .iter()
        .map(|i| {
            format!(
                "`{}` ({} `{}`)",
                i.name,
                if i.many { "list of" } else { "one" },
                i.target
            )
        })
        .collect();
    (!names.is_empty()).then(|| {
        json!({
            "name": "include",
            "in": "query",
            "required": false,
            "description": format!(
                "Related rows to add to each record, under the relation's name: {}. A comma-separated list of \
                 paths (`a,b.c`), or a JSON object of relation name to `true` or to `{{\"where\", \"orderBy\", \
                 \"take\", \"include\"}}` (the first three for lists only). At most {} levels deep; one query per \
                 relation and level. Each included row passes its own model's read rule: a to-one the caller may \
                 not read is null, a list leaves it out. The records then have the shape `{}`. An unknown relation \
                 is a `400`.",
                names.join(", "),
                crate::model::MAX_INCLUDE_DEPTH,
                m.api_names.with_relations
            ),
            "schema": { "type": "string" },
        })
    })
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

fn get_operation(m: &Model) -> Value {
    let n = &m.api_names;
    Operation {
        id: format!("get{}", upper_first(&m.name)),
        summary: format!("Get a {}", m.name),
        description: format!(
            "One `{}`. A row the caller may not read is a `404`, as if it did not exist.",
            m.name
        ),
        rule: &m.access.read,
        tag: &m.name,
        parameters: include_parameter(m).into_iter().collect(),
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

/// `PUT` (`replace`: every writable field) or `PATCH` (the given fields): the same rule and answers, another input.
fn update_operation(m: &Model, replace: bool) -> Value {
    let n = &m.api_names;
    let (id, summary, description, body, input) = if replace {
        (
            "replace",
            format!("Replace a {}", m.name),
            format!(
                "Sets every writable field of a `{}`; an absent optional field becomes null.",
                m.name
            ),
            (n.update.as_str(), "Every writable field."),
            &m.sets.update,
        )
    } else {
        (
            "update",
            format!("Update some fields of a {}", m.name),
            format!(
                "Changes the given fields of a `{}`; absent fields are left as they are, and `null` clears an \
                 optional field.",
                m.name
            ),
            (n.patch.as_str(), "The fields to change."),
            &m.sets.patch,
        )
    };
    let (conflict, reference_not_found) = input_failures(m, input);
    Operation {
        id: format!("{id}{}", upper_first(&m.name)),
        summary,
        description: format!("{description} {CHECK_STORED}"),
        rule: &m.access.update,
        tag: &m.name,
        parameters: Vec::new(),
        body: Some(body),
        success: (
            "200",
            record_response(format!("The updated `{}`.", m.name), &n.record, event_seq()),
        ),
        failures: Failures {
            forbidden: may_forbid(&m.access.update),
            not_found: true,
            conflict,
            reference_not_found,
            write: true,
        },
    }
    .build()
}

/// What deleting a row of `m` does to the rows that reference it, by `onDelete`, as sentences.
fn on_delete_effects(m: &Model) -> String {
    let names = |rule: OnDelete| {
        let names: Vec<String> = m
            .inverse_relations
            .iter()
            .filter(|r| r.on_delete == rule)
            .map(|r| format!("`{}` ({}.{})", r.name, r.source, r.field))
            .collect();
        (!names.is_empty()).then(|| names.join(", "))
    };
    let mut effects = String::new();
    if let Some(names) = names(OnDelete::Cascade) {
        effects.push_str(&format!(
            " Its {names} are deleted first, each with a `deleted` event."
        ));
    }
    if let Some(names) = names(OnDelete::SetNull) {
        effects.push_str(&format!(
            " Its {names} have their reference set to null, each with an `updated` event."
        ));
    }
    if let Some(names) = names(OnDelete::Restrict) {
        effects.push_str(&format!(" While it has {names}, the delete is a `409`."));
    }
    effects
}

fn delete_operation(m: &Model) -> Value {
    let referenced = !m.inverse_relations.is_empty();
    Operation {
        id: format!("delete{}", upper_first(&m.name)),
        summary: format!("Delete a {}", m.name),
        description: format!(
            "Deletes a `{}`.{} {CHECK_STORED}",
            m.name,
            on_delete_effects(m)
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
            write: true,
        },
    }
    .build()
}
