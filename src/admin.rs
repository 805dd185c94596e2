//! The data of the generated admin page (`/admin`), built from the model graph: `admin/models.json` in the
//! generated crate. The page's JavaScript is generic; everything it knows about the schema comes from here:
//! models, routes, channel names, fields with their types and flags, which fields are create and patch inputs,
//! filter operators and the access rules (docs/admin.md).
//!
//! Hidden fields are listed only as write inputs (never as columns) and only where an input takes them.
//! The output is deterministic: models come sorted from the graph, fields in schema order, keys in a fixed order.

use serde_json::{json, Value};

use crate::model::types::Scalar;
use crate::model::{DefaultKind, Field, Graph, Model, Presence, Rule};

/// Path of the page's data in the generated crate.
pub const MODELS_JSON: &str = "admin/models.json";

/// The whole `admin/models.json` document.
pub fn document(graph: &Graph) -> Value {
    json!({
        "crate": graph.crate_name,
        "version": graph.version,
        "description": graph.description,
        "generator": graph.generator,
        "roles": graph.roles,
        "userModel": graph.user_model,
        "defaultTake": graph.paging.default_take,
        "maxTake": graph.paging.max_take,
        "models": graph.models.iter().map(|m| model(graph, m)).collect::<Vec<_>>(),
    })
}

/// The page's document as the file's text (pretty, ending in a newline).
pub fn render(graph: &Graph) -> String {
    let text =
        serde_json::to_string_pretty(&document(graph)).expect("JSON values always serialize");
    format!("{text}\n")
}

fn model(graph: &Graph, m: &Model) -> Value {
    let slug = slug_of(graph, &m.name);
    let is_user_model = graph.user_model.as_deref() == Some(m.name.as_str());
    json!({
        "name": m.name,
        "plural": m.plural,
        "slug": slug,
        "doc": m.doc,
        "route": m.route,
        "realtime": m.realtime,
        "channels": if m.realtime {
            json!({ "list": m.channels.list, "itemPrefix": m.channels.item_prefix })
        } else {
            Value::Null
        },
        "idField": m.id_field,
        "ownerField": m.owner_field,
        "isUserModel": is_user_model,
        "access": {
            "read": rule(&m.access.read),
            "create": rule(&m.access.create),
            "update": rule(&m.access.update),
            "delete": rule(&m.access.delete),
        },
        "label": label_field(m),
        "relations": m.includes.iter().filter(|i| i.many).map(|i| json!({
            "name": i.name,
            "model": i.target,
            "slug": slug_of(graph, &i.target),
            "field": i.remote_field,
        })).collect::<Vec<_>>(),
        "fields": m.fields.iter().filter(|f| shown(f)).map(|f| field(graph, m, f)).collect::<Vec<_>>(),
    })
}

/// The field that names a row where another row links to it: the first text field a reader sees, if any.
fn label_field(m: &Model) -> Option<&str> {
    m.fields
        .iter()
        .find(|f| f.in_record && !f.id && matches!(f.scalar, Scalar::String | Scalar::Text))
        .map(|f| f.name.as_str())
}

/// The page's path segment of a model (`/api/chat-rooms` -> `chat-rooms`).
fn slug_of(graph: &Graph, model: &str) -> String {
    graph
        .models
        .iter()
        .find(|m| m.name == model)
        .map(|m| m.route.rsplit('/').next().unwrap_or(&m.route).to_owned())
        .unwrap_or_default()
}

/// Where a reference field links to: the to-one relation reads include for its row (whose label the page shows),
/// and the referenced model's page.
fn link(graph: &Graph, m: &Model, f: &Field) -> Value {
    m.includes
        .iter()
        .find(|i| !i.many && i.key_field == f.name)
        .map_or(
            Value::Null,
            |i| json!({ "relation": i.name, "model": i.target, "slug": slug_of(graph, &i.target) }),
        )
}

/// A hidden field appears only when some input takes it (it is written, never read).
fn shown(f: &Field) -> bool {
    f.in_record || f.create != Presence::Absent || f.in_patch
}

fn rule(r: &Rule) -> Value {
    json!({
        "public": r.public,
        "authenticated": r.authenticated,
        "owner": r.owner,
        "self": r.self_,
        "roles": r.roles,
        "summary": r.summary,
    })
}

fn presence(p: Presence) -> &'static str {
    match p {
        Presence::Required => "required",
        Presence::Optional => "optional",
        Presence::Absent => "absent",
    }
}

/// How the page edits a value of the field: which input, and how the text becomes JSON.
fn input_kind(f: &Field) -> &'static str {
    match f.scalar {
        Scalar::String | Scalar::Uuid | Scalar::DateTime => "text",
        Scalar::Text => "textarea",
        Scalar::Int | Scalar::BigInt => "integer",
        Scalar::Float => "number",
        Scalar::Bool => "bool",
        Scalar::Date => "date",
        Scalar::Json => "json",
        Scalar::Enum => "select",
    }
}

fn bound(literal: &Option<String>, scalar: Scalar) -> Value {
    let Some(text) = literal else {
        return Value::Null;
    };
    if scalar == Scalar::Float {
        text.parse::<f64>().map(|v| json!(v)).unwrap_or(Value::Null)
    } else {
        text.parse::<i64>().map(|v| json!(v)).unwrap_or(Value::Null)
    }
}

fn field(graph: &Graph, m: &Model, f: &Field) -> Value {
    let values = (f.scalar == Scalar::Enum).then(|| {
        graph
            .enums
            .iter()
            .find(|e| e.name == f.type_name)
            .map(|e| {
                e.variants
                    .iter()
                    .map(|v| v.value.clone())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    });
    let operators: Vec<&str> = f
        .filter_kind
        .map(|kind| kind.field_operators(f.optional).map(|op| op.wire).collect())
        .unwrap_or_default();
    let list_operators: Vec<&str> = f
        .filter_kind
        .map(|kind| {
            kind.operators()
                .iter()
                .filter(|op| op.list)
                .map(|op| op.wire)
                .collect()
        })
        .unwrap_or_default();
    let (min, max, bound_kind) = match &f.bounds {
        Some(b) => (
            bound(&b.min, f.scalar),
            bound(&b.max, f.scalar),
            json!(b.kind),
        ),
        None => (Value::Null, Value::Null, Value::Null),
    };
    let default = f.default.as_ref().map(|d| match d.kind {
        DefaultKind::Literal => json!({ "kind": "literal", "value": d.value }),
        kind => json!({ "kind": kind }),
    });
    json!({
        "name": f.name,
        "type": f.type_name,
        "scalar": f.scalar,
        "input": input_kind(f),
        "values": values,
        "optional": f.optional,
        "id": f.id,
        "unique": f.unique,
        "readonly": f.readonly,
        "hidden": f.hidden,
        "owner": f.owner,
        "references": f.references,
        "link": link(graph, m, f),
        "column": f.in_record,
        "create": presence(f.create),
        "patch": f.in_patch,
        "filter": operators,
        "listOperators": list_operators,
        "orderable": f.orderable && f.in_record,
        "boundKind": bound_kind,
        "min": min,
        "max": max,
        "default": default,
        "notes": f.notes,
        "doc": f.doc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Graph {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/examples/chat.yaml"
        ))
        .unwrap();
        crate::load("chat.yaml", &text).unwrap()
    }

    /// The element of a JSON list whose `name` is `name`.
    fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|item| item["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {list}"))
    }

    #[test]
    fn hidden_fields_are_inputs_never_columns() {
        let doc = document(&chat());
        let hash = named(&named(&doc["models"], "User")["fields"], "passwordHash");
        assert_eq!(hash["column"], false);
        assert_eq!(hash["hidden"], true);
        assert_eq!(hash["create"], "required");
        assert_eq!(hash["orderable"], false);
        assert_eq!(hash["filter"], json!([]));
    }

    #[test]
    fn routes_channels_and_rules_come_from_the_graph() {
        let doc = document(&chat());
        let room = named(&doc["models"], "Room");
        assert_eq!(room["route"], "/api/rooms");
        assert_eq!(room["slug"], "rooms");
        assert_eq!(room["channels"]["list"], "Room:list");
        assert_eq!(room["ownerField"], "ownerId");
        assert_eq!(room["access"]["update"]["owner"], true);
        assert_eq!(room["access"]["update"]["roles"], json!(["admin"]));
        let owner = named(&room["fields"], "ownerId");
        assert_eq!(owner["create"], "absent");
        assert_eq!(owner["patch"], false);
        let title = named(&room["fields"], "title");
        assert_eq!(title["max"], 100);
        assert_eq!(title["filter"][0], "equals");
        assert!(title["filter"]
            .as_array()
            .unwrap()
            .contains(&json!("contains")));
    }

    #[test]
    fn references_link_to_their_rows_and_relations_to_their_lists() {
        let doc = document(&chat());
        let message = named(&doc["models"], "Message");
        assert_eq!(message["label"], "text");
        assert_eq!(
            named(&message["fields"], "roomId")["link"],
            json!({ "relation": "room", "model": "Room", "slug": "rooms" })
        );
        assert_eq!(named(&message["fields"], "text")["link"], Value::Null);
        let room = named(&doc["models"], "Room");
        assert_eq!(room["label"], "title");
        assert_eq!(
            room["relations"],
            json!([{ "name": "messages", "model": "Message", "slug": "messages", "field": "roomId" }])
        );
    }
}
