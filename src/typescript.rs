//! The TypeScript client's view of the model graph: every name, type and evaluator the templates under
//! `templates/clients/ts/` print, decided here once. The schema-independent part of the client (transports, hybrid
//! client, live lists, React hooks) is not rendered: it is TypeScript source in `runtime/clients/ts/`, copied as it
//! is (`render::typescript`).
//!
//! Types follow the wire ([docs/typescript.md](../docs/typescript.md)): text, uuids, dates and times are `string`;
//! `int` and `float` are `number`; `bigint` is `bigint` (a JSON string of digits on the wire); `json` is `w.Json`;
//! an enum is a union of its values. Type names are the Rust ones (unique among the schema's types); the few names
//! only TypeScript needs (the typed client's interface) are kept clear of them.

use std::collections::BTreeSet;

use heck::ToLowerCamelCase;
use serde::Serialize;

use crate::model::types::{FilterKind, Scalar};
use crate::model::{Field, Graph, Model, Presence};

/// The package: what every template of `clients/ts/` sees as `ts`.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    /// The npm package name: the crate's name with `-client` (`chat-api-client`).
    pub name: String,
    pub version: String,
    pub description: String,
    /// The typed client's interface (`ApiClient`, unless a schema type is called that).
    pub client_type: String,
    pub enums: Vec<Enum>,
    pub models: Vec<ModelView>,
    /// Some model has a bigint field: `models.ts` imports the wire helpers.
    pub uses_bigint: bool,
    /// Some record has a json field: `models.ts` imports the `Json` type.
    pub uses_json: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Enum {
    pub name: String,
    /// A JSDoc block (`/** ... */`), or none.
    pub doc: Option<String>,
    /// The union, values as JSON strings: `"red" | "green"`.
    pub union: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelView {
    /// The schema name.
    pub name: String,
    /// A JSDoc block for the record type.
    pub doc: String,
    /// The camelCase stem of the module-level names (`chatRoom`: `chatRoomModel`, `chatRoomTruth`).
    pub var: String,
    /// The typed client's property (`chatRooms`).
    pub accessor: String,
    pub route: String,
    pub list_channel: Option<String>,
    pub item_prefix: Option<String>,
    pub id_field: String,
    /// The id's TypeScript type.
    pub id_type: String,
    /// The id's value type (`q.uuid`), for the tie-break of every order.
    pub id_value: &'static str,
    pub record: String,
    pub create: String,
    pub update: String,
    pub patch: String,
    pub filter: String,
    pub order_by: String,
    pub record_fields: Vec<Member>,
    pub create_fields: Vec<Member>,
    pub update_fields: Vec<Member>,
    pub patch_fields: Vec<Member>,
    pub filter_fields: Vec<FilterField>,
    /// The filter's relations (docs/rest.md): name and operator type (`q.ToOneFilter<UserFilter>`).
    pub relation_filters: Vec<FilterField>,
    /// The orderable fields (the id included when it is orderable), as a union of their names.
    pub order_keys: String,
    pub order_fields: Vec<OrderField>,
    /// The record's fields as `decode` builds them, in schema order.
    pub decode_fields: Vec<DecodeField>,
    /// Some field of the record is converted when decoded (a bigint).
    pub decode_converts: bool,
    /// The record with its included relations (`MessageWithRelations`).
    pub with_relations: String,
    /// The relations a read can include, as fields of `with_relations`.
    pub included: Vec<Included>,
    /// The spec's relation table (`m.Relation`): what `include` and relation filters go through, and so what a
    /// live list that reads through them follows.
    pub relations: Vec<RelationSpec>,
}

/// One relation as the runtime's `Relation`: the related model, its list channel, and its spec (for its own
/// relations).
#[derive(Debug, Clone, Serialize)]
pub struct RelationSpec {
    /// The name `include` and relation filters use (`author`, `messages`).
    pub name: String,
    /// The related model's schema name.
    pub model: String,
    /// The related model's list channel; none when it is not realtime.
    pub channel: Option<String>,
    /// The related model's spec (`userModel`).
    pub spec: String,
}

/// A relation as a field of `<Model>WithRelations`: its type, and how its rows are decoded.
#[derive(Debug, Clone, Serialize)]
pub struct Included {
    pub name: String,
    /// `UserWithRelations | null` (to-one) or `BookmarkWithRelations[]` (to-many).
    pub ty: String,
    pub many: bool,
    /// The related model's decoder of a row with relations (`userDecodeIncluded`).
    pub decode: String,
}

/// One property of an interface.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub name: String,
    /// A JSDoc block indented for a member, or none.
    pub doc: Option<String>,
    /// `?:` or `:`.
    pub colon: &'static str,
    pub ty: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterField {
    pub name: String,
    /// The operator type (`q.StringFilter`, `q.NullableOrderedFilter<number>`).
    pub ty: String,
    /// How its values compare (`q.text`, `q.datetime`).
    pub value: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderField {
    pub name: String,
    pub value: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecodeField {
    pub name: String,
    /// The field's type, for the cast in the source.
    pub ty: String,
    /// The conversion from the wire (`w.toBigInt`), if the value is not taken as it is.
    pub convert: Option<&'static str>,
}

/// A JSDoc block of `text`, each line indented by `indent`: one line when the text is one line.
fn jsdoc(text: &str, indent: &str) -> String {
    let text = text.trim().replace("*/", "*\\/");
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() == 1 {
        return format!("{indent}/** {} */", lines[0]);
    }
    let mut out = format!("{indent}/**\n");
    for line in lines {
        if line.trim().is_empty() {
            out.push_str(&format!("{indent} *\n"));
        } else {
            out.push_str(&format!("{indent} * {}\n", line.trim_end()));
        }
    }
    out.push_str(&format!("{indent} */"));
    out
}

/// The runtime's value type of a scalar (`runtime/clients/ts/src/query.ts`).
fn value_type(scalar: Scalar) -> &'static str {
    match scalar {
        Scalar::String | Scalar::Text => "q.text",
        Scalar::Int => "q.int",
        Scalar::BigInt => "q.bigint",
        Scalar::Float => "q.float",
        Scalar::Bool => "q.bool",
        Scalar::Uuid => "q.uuid",
        Scalar::DateTime => "q.datetime",
        Scalar::Date => "q.date",
        Scalar::Json => "q.json",
        Scalar::Enum => "q.enumeration",
    }
}

/// The TypeScript type of a field's value (without null).
fn scalar_type(field: &Field, graph: &Graph) -> String {
    match field.scalar {
        Scalar::String | Scalar::Text | Scalar::Uuid | Scalar::DateTime | Scalar::Date => {
            "string".into()
        }
        Scalar::Int | Scalar::Float => "number".into(),
        Scalar::BigInt => "bigint".into(),
        Scalar::Bool => "boolean".into(),
        Scalar::Json => "w.Json".into(),
        Scalar::Enum => graph
            .enums
            .iter()
            .find(|e| e.name == field.type_name)
            .map(|e| e.rust_name.clone())
            .unwrap_or_else(|| "string".into()),
    }
}

fn nullable(ty: String, optional: bool) -> String {
    if optional {
        format!("{ty} | null")
    } else {
        ty
    }
}

fn filter_type(field: &Field, graph: &Graph) -> Option<String> {
    field.filter_type.as_ref()?;
    let kind = FilterKind::for_scalar(field.scalar, field.optional)?;
    let name = kind.struct_name(field.optional);
    Some(if kind.is_generic() {
        format!("q.{name}<{}>", scalar_type(field, graph))
    } else {
        format!("q.{name}")
    })
}

/// A name not in `taken`: `name`, else `name` with `_` appended until it is free.
fn unique(name: &str, taken: &BTreeSet<String>) -> String {
    let mut name = name.to_owned();
    while taken.contains(&name) {
        name.push('_');
    }
    name
}

/// The TypeScript view of the graph.
pub fn package(graph: &Graph) -> Package {
    let mut taken: BTreeSet<String> = graph.enums.iter().map(|e| e.rust_name.clone()).collect();
    for m in &graph.models {
        taken.extend(m.types.all().iter().map(|(_, name)| (*name).to_owned()));
    }
    let models: Vec<ModelView> = graph.models.iter().map(|m| model(m, graph)).collect();
    Package {
        name: format!("{}-client", graph.crate_name),
        version: graph.version.clone(),
        description: format!(
            "The TypeScript client of {}: typed, live, with React hooks.",
            graph.crate_name
        ),
        client_type: unique("ApiClient", &taken),
        enums: graph
            .enums
            .iter()
            .map(|e| Enum {
                name: e.rust_name.clone(),
                doc: Some(jsdoc(
                    e.doc
                        .as_deref()
                        .unwrap_or(&format!("The `{}` enum of the schema.", e.name)),
                    "",
                )),
                union: e
                    .variants
                    .iter()
                    .map(|v| serde_json::Value::String(v.value.clone()).to_string())
                    .collect::<Vec<_>>()
                    .join(" | "),
            })
            .collect(),
        uses_bigint: models.iter().any(|m| m.decode_converts),
        uses_json: graph
            .models
            .iter()
            .flat_map(|m| &m.fields)
            .any(|f| f.scalar == Scalar::Json && (f.in_record || f.create != Presence::Absent)),
        models,
    }
}

fn member(field: &Field, graph: &Graph, presence: Presence, may_be_null: bool) -> Member {
    Member {
        name: field.name.clone(),
        doc: field.doc.as_deref().map(|doc| jsdoc(doc, "    ")),
        colon: if presence == Presence::Optional {
            "?:"
        } else {
            ":"
        },
        ty: nullable(scalar_type(field, graph), may_be_null),
    }
}

/// The prefix of a model's values in `models.ts` (`message` of `messageModel`, `messageDecode`).
fn var_of(m: &Model) -> String {
    m.types.record.trim_end_matches('_').to_lower_camel_case()
}

fn model(m: &Model, graph: &Graph) -> ModelView {
    let id = m
        .fields
        .iter()
        .find(|f| f.id)
        .expect("every model has an id");
    let var = var_of(m);
    let orderable: Vec<&Field> = m.fields.iter().filter(|f| f.orderable).collect();
    ModelView {
        name: m.name.clone(),
        doc: jsdoc(
            m.doc
                .as_deref()
                .unwrap_or(&format!("A `{}` as readers see it.", m.name)),
            "",
        ),
        accessor: m.plural.to_lower_camel_case(),
        var,
        route: m.route.clone(),
        list_channel: m.realtime.then(|| m.channels.list.clone()),
        item_prefix: m.realtime.then(|| m.channels.item_prefix.clone()),
        id_field: id.name.clone(),
        id_type: scalar_type(id, graph),
        id_value: value_type(id.scalar),
        record: m.types.record.clone(),
        create: m.types.create.clone(),
        update: m.types.update.clone(),
        patch: m.types.patch.clone(),
        filter: m.types.filter.clone(),
        order_by: m.types.order_by.clone(),
        record_fields: m
            .fields
            .iter()
            .filter(|f| f.in_record)
            .map(|f| member(f, graph, Presence::Required, f.optional))
            .collect(),
        create_fields: m
            .fields
            .iter()
            .filter(|f| f.create != Presence::Absent)
            .map(|f| {
                member(
                    f,
                    graph,
                    f.create,
                    f.optional || f.create == Presence::Optional,
                )
            })
            .collect(),
        update_fields: m
            .fields
            .iter()
            .filter(|f| f.update != Presence::Absent)
            .map(|f| member(f, graph, f.update, f.optional))
            .collect(),
        patch_fields: m
            .fields
            .iter()
            .filter(|f| f.in_patch)
            .map(|f| member(f, graph, Presence::Optional, f.optional))
            .collect(),
        relation_filters: m
            .includes
            .iter()
            .map(|i| FilterField {
                name: i.name.clone(),
                ty: format!(
                    "q.{}<{}>",
                    if i.many {
                        "ToManyFilter"
                    } else {
                        "ToOneFilter"
                    },
                    i.target_filter
                ),
                value: "",
            })
            .collect(),
        filter_fields: m
            .fields
            .iter()
            .filter_map(|f| {
                Some(FilterField {
                    name: f.name.clone(),
                    ty: filter_type(f, graph)?,
                    value: value_type(f.scalar),
                })
            })
            .collect(),
        order_keys: if orderable.is_empty() {
            "never".into()
        } else {
            orderable
                .iter()
                .map(|f| serde_json::Value::String(f.name.clone()).to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        },
        order_fields: orderable
            .iter()
            .filter(|f| !f.id)
            .map(|f| OrderField {
                name: f.name.clone(),
                value: value_type(f.scalar),
            })
            .collect(),
        with_relations: m.types.with_relations.clone(),
        included: m
            .includes
            .iter()
            .filter_map(|i| {
                let target = graph.models.iter().find(|t| t.name == i.target)?;
                let ty = &target.types.with_relations;
                Some(Included {
                    name: i.name.clone(),
                    ty: if i.many {
                        format!("{ty}[]")
                    } else {
                        format!("{ty} | null")
                    },
                    many: i.many,
                    decode: format!("{}DecodeIncluded", var_of(target)),
                })
            })
            .collect(),
        relations: m
            .includes
            .iter()
            .filter_map(|i| {
                let target = graph.models.iter().find(|t| t.name == i.target)?;
                Some(RelationSpec {
                    name: i.name.clone(),
                    model: target.name.clone(),
                    channel: target.realtime.then(|| target.channels.list.clone()),
                    spec: format!("{}Model", var_of(target)),
                })
            })
            .collect(),
        decode_converts: m
            .fields
            .iter()
            .any(|f| f.in_record && f.scalar == Scalar::BigInt),
        decode_fields: m
            .fields
            .iter()
            .filter(|f| f.in_record)
            .map(|f| DecodeField {
                name: f.name.clone(),
                ty: nullable(scalar_type(f, graph), f.optional),
                convert: (f.scalar == Scalar::BigInt).then_some(if f.optional {
                    "w.toBigIntOrNull"
                } else {
                    "w.toBigInt"
                }),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Package {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/examples/chat.yaml"
        ))
        .unwrap();
        package(&crate::load("chat.yaml", &text).unwrap())
    }

    #[test]
    fn types_follow_the_wire() {
        let ts = chat();
        assert_eq!(ts.name, "chat-api-client");
        let message = ts.models.iter().find(|m| m.name == "Message").unwrap();
        let ty = |name: &str| {
            message
                .record_fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.ty.as_str())
        };
        assert_eq!(ty("roomId"), Some("number"));
        assert_eq!(ty("editedAt"), Some("string | null"));
        assert_eq!(message.accessor, "messages");
        assert_eq!(
            message.order_keys,
            r#""roomId" | "text" | "editedAt" | "createdAt""#
        );
        let bookmark = ts.models.iter().find(|m| m.name == "Bookmark").unwrap();
        let color = bookmark
            .record_fields
            .iter()
            .find(|f| f.name == "color")
            .unwrap();
        assert_eq!(color.ty, "Color");
        assert_eq!(ts.enums[0].union, r#""red" | "green" | "blue""#);
        // A hidden field is an input, never a record member or a filter.
        let user = ts.models.iter().find(|m| m.name == "User").unwrap();
        assert!(user.record_fields.iter().all(|f| f.name != "passwordHash"));
        assert!(user.filter_fields.iter().all(|f| f.name != "passwordHash"));
        assert!(user.create_fields.iter().any(|f| f.name == "passwordHash"));
        // The relation table a live list walks: each relation's model, its channel and its spec.
        let relations: Vec<_> = message
            .relations
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.model.as_str(),
                    r.channel.as_deref(),
                    r.spec.as_str(),
                )
            })
            .collect();
        assert_eq!(
            relations,
            [
                ("author", "User", Some("User:list"), "userModel"),
                (
                    "bookmarks",
                    "Bookmark",
                    Some("Bookmark:list"),
                    "bookmarkModel"
                ),
                ("replies", "Message", Some("Message:list"), "messageModel"),
                ("replyTo", "Message", Some("Message:list"), "messageModel"),
                ("room", "Room", Some("Room:list"), "roomModel"),
            ]
        );
    }

    #[test]
    fn the_client_interface_keeps_clear_of_schema_types() {
        let taken: BTreeSet<String> = ["ApiClient".to_owned(), "ApiClient_".to_owned()].into();
        assert_eq!(unique("ApiClient", &taken), "ApiClient__");
        assert_eq!(chat().client_type, "ApiClient");
    }
}
