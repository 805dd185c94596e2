//! `components`: the schemas of each model (record, inputs, filter, sort key, list page), of the enums, the shared
//! ones (error, operator schemas, sort direction), and the shared responses, parameters and headers.

use serde_json::{json, Map, Value};

use super::*;
use crate::model::types::{BoundKind, Scalar, IS_NULL};
use crate::model::{
    Bounds, DefaultKind, Enum, Field, Include, OperandFilter, Presence, DEFAULT_TAKE, MAX_TAKE,
};

/// The entries of `components.schemas`: enums, each model's schemas, then the shared ones.
pub(super) fn component_schemas(graph: &Graph) -> impl Iterator<Item = (String, Value)> + '_ {
    let enums = graph.enums.iter().map(|e| (e.name.clone(), enum_schema(e)));
    let models = graph.models.iter().flat_map(move |m| {
        let n = &m.api_names;
        [
            (n.record.clone(), fields_schema(m, Use::Record)),
            (n.create.clone(), fields_schema(m, Use::Create)),
            (n.update.clone(), fields_schema(m, Use::Update)),
            (n.patch.clone(), fields_schema(m, Use::Patch)),
            (n.filter.clone(), filter_schema(m, graph)),
            (n.order_by.clone(), order_by_schema(m, graph)),
            (n.list.clone(), list_schema(m)),
        ]
        .into_iter()
        .chain(
            (!m.includes.is_empty())
                .then(|| (n.with_relations.clone(), with_relations_schema(m, graph))),
        )
    });
    let names = &graph.api_names;
    let shared = std::iter::once((names.error.clone(), error_schema()))
        .chain(
            names
                .filters
                .iter()
                .map(|filter| (filter.name.clone(), operand_filter_schema(filter))),
        )
        .chain(std::iter::once((
            names.sort_order.clone(),
            json!({ "type": "string", "enum": ["asc", "desc"] }),
        )));
    enums.chain(models).chain(shared)
}

/// The rest of `components`, after the schemas.
pub(super) fn other_components(graph: &Graph) -> Map<String, Value> {
    let names = &graph.api_names;
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
        ("TooLarge", "`too_large`: the body is over the server's limit (2 MiB); the connection is closed after the \
                      answer."),
        ("Internal", "`internal`: a bug in the server; the cause is logged, not shown."),
        ("Overloaded", "`overloaded`: too many writes are waiting for the database (`WRITE_QUEUE_MAX`, SQLite); \
                        nothing was written, retry shortly."),
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
                // No `maximum`: the server's `MAX_TAKE` is configurable, so a larger `take` is not an error but
                // lowered to it, and the answer's `take` says how many were asked of the database.
                "description": format!("Rows to return. A larger number than the server's `MAX_TAKE` ({MAX_TAKE} unless configured otherwise) is lowered to it; the answer's `take` is the number applied."),
                "schema": {
                    "type": "integer",
                    "format": "int64",
                    "minimum": 0,
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
pub(super) fn base_schema(f: &Field, bounds: bool) -> Value {
    if f.scalar == Scalar::BigInt {
        return bigint_schema(f.bounds.as_ref().filter(|_| bounds));
    }
    let Value::Object(mut s) = value_schema(f.scalar, &f.type_name) else {
        unreachable!("an object")
    };
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

/// The schema of a value of a type (`type_name`: the enum's name, for an enum).
fn value_schema(scalar: Scalar, type_name: &str) -> Value {
    let mut s = Map::new();
    let (ty, format) = match scalar {
        Scalar::String | Scalar::Text => ("string", None),
        Scalar::Int => ("integer", Some("int32")),
        Scalar::Float => ("number", Some("double")),
        Scalar::Bool => ("boolean", None),
        Scalar::Uuid => ("string", Some("uuid")),
        Scalar::DateTime => ("string", Some("date-time")),
        Scalar::Date => ("string", Some("date")),
        Scalar::Json => return json!({}),
        Scalar::Enum => return schema_ref(type_name),
        // A string of digits, so that JavaScript keeps every digit beyond 2^53 (docs/rest.md); requests may also
        // send a number. Bounds are not JSON Schema keywords of strings, so they are said in words.
        Scalar::BigInt => return bigint_schema(None),
    };
    s.insert("type".into(), json!(ty));
    if let Some(format) = format {
        s.insert("format".into(), json!(format));
    }
    if scalar == Scalar::Int {
        s.insert("description".into(), json!(INT_WITHOUT_FRACTION));
    }
    Value::Object(s)
}

/// JSON Schema's `integer` takes `356.0` and `3.56e2` for 356; the server refuses them (docs/rest.md), so every
/// `int` value's schema says so.
const INT_WITHOUT_FRACTION: &str =
    "Written as a JSON integer, without a fraction or an exponent: `356`, not `356.0` or `3.56e2` (a 400).";

/// A bigint: a string of decimal digits (format `int64`), its bounds (if given) in the description.
fn bigint_schema(bounds: Option<&Bounds>) -> Value {
    let mut description =
        "A 64-bit integer as a string of decimal digits (a number is accepted too).".to_owned();
    if let Some(b) = bounds {
        if let Some(min) = &b.min {
            description.push_str(&format!(" At least {min}."));
        }
        if let Some(max) = &b.max {
            description.push_str(&format!(" At most {max}."));
        }
    }
    json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]+$", "description": description })
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
    // What the value's own schema says (a bigint's or an int's wire form) is kept after the field's words.
    if let Some(Value::String(own)) = s.get("description") {
        description.push(own.clone());
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

/// The record with the relations a read's `include` can add (docs/rest.md), each present only when asked for: the
/// related record, itself with the relations it can include.
fn with_relations_schema(m: &Model, graph: &Graph) -> Value {
    let mut properties = Map::new();
    for i in &m.includes {
        let Some(target) = graph.models.iter().find(|t| t.name == i.target) else {
            continue;
        };
        let target_ref = schema_ref(if target.includes.is_empty() {
            &target.api_names.record
        } else {
            &target.api_names.with_relations
        });
        let schema = if i.many {
            json!({
                "type": "array",
                "items": target_ref,
                "description": format!(
                    "With `include={}`: the `{}` rows that refer to this one and that the caller may read.",
                    i.name, i.target
                ),
            })
        } else {
            json!({
                "oneOf": [target_ref, { "type": "null" }],
                "description": format!(
                    "With `include={}`: the `{}` that `{}` refers to; null when there is none or the caller may \
                     not read it.",
                    i.name, i.target, i.key_field
                ),
            })
        };
        properties.insert(i.name.clone(), schema);
    }
    json!({
        "description": format!(
            "A `{}` with the relations a read's `include` asked for (each present only then).",
            m.name
        ),
        "allOf": [schema_ref(&m.api_names.record), { "type": "object", "properties": properties }],
    })
}

/// The schema of the record (`Use::Record`) or of an input: its fields (`Model::sets`), which of them are required,
/// and what it is for. Inputs reject unknown fields.
fn fields_schema(m: &Model, usage: Use) -> Value {
    type Required = fn(&Field) -> bool;
    let (set, required, description): (&[usize], Required, String) = match usage {
        Use::Record => {
            let mut description = Vec::new();
            if let Some(doc) = &m.doc {
                description.push(doc.trim_end().to_owned());
            }
            description.push(format!(
                "A `{}` as readers see it{}.",
                m.name,
                if m.has_hidden_fields {
                    " (hidden fields are never included)"
                } else {
                    ""
                }
            ));
            (&m.sets.record, |f| !f.optional, description.join("\n\n"))
        }
        Use::Create => (
            &m.sets.create,
            |f| f.create == Presence::Required,
            format!(
                "Input to create a `{}`. Server-set fields (a generated id, the owner, readonly fields) are not part \
                 of it; unknown fields are rejected. A field left out gets its default (or null).",
                m.name
            ),
        ),
        Use::Update => (
            &m.sets.update,
            |f| f.update == Presence::Required,
            format!(
                "Input to replace a `{}`'s writable fields (`PUT`): every field is set; an absent optional field \
                 becomes null. Unknown fields are rejected.",
                m.name
            ),
        ),
        Use::Patch => (
            &m.sets.patch,
            |_| false,
            format!(
                "Input to change some of a `{}`'s writable fields (`PATCH`): absent fields are left as they are; \
                 `null` clears an optional field. Unknown fields are rejected.",
                m.name
            ),
        ),
    };
    let fields = set
        .iter()
        .map(|&i| &m.fields[i])
        .map(|f| (f, required(f), f.optional))
        .collect();
    object_schema(description, fields, usage, usage != Use::Record)
}

/// The operator schema shared by every filterable field with this operand (`Graph::api_names`).
fn operand_filter_schema(filter: &OperandFilter) -> Value {
    let operand_schema = value_schema(filter.scalar, &filter.type_name);
    let mut operators = Map::new();
    for op in filter.kind.operators() {
        let schema = if op.list {
            json!({ "type": "array", "items": operand_schema.clone() })
        } else {
            operand_schema.clone()
        };
        operators.insert(op.wire.into(), schema);
    }
    if filter.nullable {
        operators.insert(
            IS_NULL.wire.into(),
            json!({
                "type": "boolean",
                "description": "`true`: the field is null; `false`: it is not.",
            }),
        );
    }
    let what = if filter.scalar == Scalar::Enum {
        format!("the enum `{}`", filter.type_name)
    } else {
        format!("type `{}`", filter.scalar.name())
    };
    json!({
        "type": "object",
        "description": format!(
            "Operators on a{} field of {what}; every one given must match.",
            if filter.nullable { "n optional" } else { " required" }
        ),
        "properties": operators,
        "additionalProperties": false,
    })
}

fn filter_schema(m: &Model, graph: &Graph) -> Value {
    let mut properties = Map::new();
    for f in &m.fields {
        if let Some(filter) = &f.api_filter {
            properties.insert(f.name.clone(), schema_ref(filter));
        }
    }
    for i in &m.includes {
        if let Some(target) = graph.models.iter().find(|t| t.name == i.target) {
            properties.insert(
                i.name.clone(),
                relation_filter_schema(i, &target.api_names.filter),
            );
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
                "items": schema_ref(&m.api_names.filter),
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

/// A filter through a relation (docs/rest.md): `is`/`isNot` (a filter of the related model, or null) for a
/// to-one, `some`/`every`/`none` for a to-many. Only related rows the caller may read count.
fn relation_filter_schema(include: &Include, target_filter: &str) -> Value {
    let operators: &[(&str, &str)] = if include.many {
        &[
            ("some", "At least one related row matches."),
            ("every", "Every related row matches (also true with none)."),
            ("none", "No related row matches."),
        ]
    } else {
        &[
            (
                "is",
                "The related row matches; `null`: there is no related row.",
            ),
            (
                "isNot",
                "No related row matches; `null`: there is a related row.",
            ),
        ]
    };
    // The operand is the related model's filter, which names this model's filter again through the reverse
    // relation: a `$ref` there makes every filter schema recursive through every other, and a generator that
    // inlines references (schemathesis) grows without bound on it (12 GB within minutes on the chat schema). So
    // the operand is an object that names its schema; the server checks it as that filter (400 otherwise).
    let filter = json!({
        "type": "object",
        "description": format!(
            "A `{target_filter}` (#/components/schemas/{target_filter}), relation filters nested up to 3 levels."
        ),
    });
    let mut properties = Map::new();
    for (op, description) in operators {
        let mut operand = if include.many {
            filter.clone()
        } else {
            json!({ "oneOf": [filter.clone(), { "type": "null" }] })
        };
        operand["description"] = json!(format!(
            "{description} {}",
            filter["description"].as_str().unwrap_or_default()
        ));
        properties.insert((*op).into(), operand);
    }
    json!({
        "type": "object",
        "description": format!(
            "Through the relation `{}` to `{}`; only the related rows the caller may read count.",
            include.name, include.target
        ),
        "properties": properties,
        "additionalProperties": false,
    })
}

fn order_by_schema(m: &Model, graph: &Graph) -> Value {
    let keys: Vec<Value> = m
        .sets
        .order
        .iter()
        .map(|&i| &m.fields[i])
        .map(|f| {
            let mut properties = Map::new();
            properties.insert(f.name.clone(), schema_ref(&graph.api_names.sort_order));
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

fn list_schema(m: &Model) -> Value {
    json!({
        "type": "object",
        "description": format!("A page of `{}` rows.", m.name),
        "required": ["items", "total", "skip", "take"],
        "properties": {
            "items": { "type": "array", "items": schema_ref(&m.api_names.record) },
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

/// The body of `/health`: the process is up.
pub(super) fn health_schema() -> Value {
    json!({
        "type": "object",
        "required": ["status"],
        "properties": { "status": { "type": "string", "const": "ok" } },
    })
}

/// The body of `/ready` with one of `statuses`: the overall status, then each check.
pub(super) fn readiness_schema(statuses: &[&str]) -> Value {
    json!({
        "type": "object",
        "required": ["status", "database", "migrations", "events"],
        "properties": {
            "status": { "type": "string", "enum": statuses },
            "database": { "type": "string", "enum": ["ok", "unavailable"] },
            "migrations": { "type": "string", "enum": ["ok", "pending", "mismatch", "unknown"] },
            "events": { "type": "string", "enum": ["ok", "catching_up"] },
        },
    })
}
