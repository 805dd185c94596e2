//! The OpenAPI document (`ssot_gen::openapi::document`) describes exactly the REST contract of docs/rest.md for the
//! example schemas: the six operations of every model at the right paths, the record and input schemas decided by
//! the graph, filter operators by type, references that resolve, and the same bytes on every run. When the Python
//! package `openapi_spec_validator` is installed, the document is also checked against the OpenAPI 3.1 schema.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use ssot_gen::model::Graph;

const EXAMPLES: &[&str] = &["chat", "kitchen-sink"];
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn graph(name: &str) -> Graph {
    let text = common::example_text(name);
    ssot_gen::load(&format!("{name}.yaml"), &text).unwrap_or_else(|e| panic!("{e}"))
}

fn doc(name: &str) -> (Graph, Value) {
    let g = graph(name);
    let d = ssot_gen::openapi::document(&g);
    (g, d)
}

fn schema<'d>(d: &'d Value, name: &str) -> &'d Value {
    d.pointer(&format!("/components/schemas/{name}"))
        .unwrap_or_else(|| panic!("no component schema `{name}`"))
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn props<'d>(d: &'d Value, name: &str) -> Vec<&'d str> {
    keys(&schema(d, name)["properties"])
}

fn required<'d>(d: &'d Value, name: &str) -> Vec<&'d str> {
    schema(d, name)["required"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
        .unwrap_or_default()
}

/// The schema a `$ref` points at, following chains of references.
fn resolve<'d>(d: &'d Value, mut v: &'d Value) -> &'d Value {
    while let Some(r) = v.get("$ref").and_then(Value::as_str) {
        v = d.pointer(r.strip_prefix('#').unwrap()).unwrap();
    }
    v
}

#[test]
fn version_and_info() {
    for name in EXAMPLES {
        let (g, d) = doc(name);
        assert_eq!(d["openapi"], "3.1.0", "{name}");
        assert_eq!(d["info"]["title"], g.crate_name.as_str(), "{name}");
        assert_eq!(d["info"]["version"], g.version.as_str(), "{name}");
        assert!(d["info"]["description"].is_string(), "{name}");
        assert_eq!(
            keys(&d),
            ["openapi", "info", "tags", "paths", "components"],
            "{name}"
        );
    }
}

#[test]
fn every_model_has_its_six_operations_and_nothing_else() {
    for name in EXAMPLES {
        let (g, d) = doc(name);
        let paths = d["paths"].as_object().unwrap();
        let mut expected_paths: BTreeSet<String> = [
            "/admin".to_owned(),
            "/health".to_owned(),
            "/openapi.json".to_owned(),
            "/ready".to_owned(),
            "/ws".to_owned(),
        ]
        .into();
        for m in &g.models {
            let plural = &m.plural;
            let n = &m.name;
            let collection = &paths[&m.route];
            let item = &paths[&format!("{}/{{id}}", m.route)];
            let ops = |v: &Value| -> Vec<String> {
                keys(v)
                    .into_iter()
                    .filter(|k| METHODS.contains(k))
                    .map(str::to_owned)
                    .collect()
            };
            assert_eq!(ops(collection), ["get", "post"], "{name} {n}");
            assert_eq!(ops(item), ["get", "put", "patch", "delete"], "{name} {n}");
            let ids = [
                (&collection["get"], format!("list{plural}"), "200"),
                (&collection["post"], format!("create{n}"), "201"),
                (&item["get"], format!("get{n}"), "200"),
                (&item["put"], format!("replace{n}"), "200"),
                (&item["patch"], format!("update{n}"), "200"),
                (&item["delete"], format!("delete{n}"), "204"),
            ];
            for (op, id, success) in ids {
                assert_eq!(op["operationId"], id.as_str(), "{name}");
                assert_eq!(op["tags"], serde_json::json!([n]), "{name} {id}");
                let responses = &op["responses"];
                assert!(responses.get(success).is_some(), "{name} {id}: {success}");
                for status in ["400", "401", "500"] {
                    let r = resolve(&d, &responses[status]);
                    let error = &r["content"]["application/json"]["schema"]["$ref"];
                    assert!(
                        error
                            .as_str()
                            .is_some_and(|e| e.starts_with("#/components/schemas/")),
                        "{name} {id} {status}"
                    );
                }
            }
            // The id parameter is typed by the id field.
            let id_param = &item["parameters"][0];
            assert_eq!(id_param["name"], "id");
            assert_eq!(id_param["in"], "path");
            assert_eq!(id_param["required"], true);
            let id_field = m.fields.iter().find(|f| f.name == m.id_field).unwrap();
            // A bigint id is a string of digits, like every bigint (docs/rest.md).
            let id_type = match id_field.scalar.name() {
                "uuid" | "string" | "bigint" => "string",
                _ => "integer",
            };
            assert_eq!(id_param["schema"]["type"], id_type, "{name} {n}");
            // Collection: where/orderBy as JSON, skip/take with defaults.
            let params = collection["get"]["parameters"].as_array().unwrap();
            let param = |p: &str| {
                params
                    .iter()
                    .map(|x| resolve(&d, x))
                    .find(|x| x["name"] == p)
                    .unwrap()
            };
            assert_eq!(
                param("where")["content"]["application/json"]["schema"]["$ref"],
                format!("#/components/schemas/{n}Filter").as_str()
            );
            assert!(param("orderBy")["content"]["application/json"]["schema"]["oneOf"].is_array());
            assert_eq!(param("skip")["schema"]["default"], 0);
            assert_eq!(param("take")["schema"]["default"], 20);
            // A `take` above `MAX_TAKE` is lowered to it, not refused (docs/rest.md): no `maximum` to contradict.
            assert!(param("take")["schema"].get("maximum").is_none());
            // Mutations announce their event; create its location.
            let created = &collection["post"]["responses"]["201"]["headers"];
            assert!(created.get("Location").is_some() && created.get("Event-Seq").is_some());
            for op in [&item["put"], &item["patch"]] {
                assert!(op["responses"]["200"]["headers"].get("Event-Seq").is_some());
            }
            assert!(item["delete"]["responses"]["204"]["headers"]
                .get("Event-Seq")
                .is_some());
            // Security unless public.
            for (op, rule) in [
                (&collection["get"], &m.access.read),
                (&collection["post"], &m.access.create),
                (&item["get"], &m.access.read),
                (&item["put"], &m.access.update),
                (&item["patch"], &m.access.update),
                (&item["delete"], &m.access.delete),
            ] {
                if rule.public {
                    assert!(op.get("security").is_none(), "{name} {n}");
                } else {
                    assert_eq!(op["security"], serde_json::json!([{ "bearerAuth": [] }]));
                }
            }
            expected_paths.insert(m.route.clone());
            expected_paths.insert(format!("{}/{{id}}", m.route));
        }
        let actual: BTreeSet<String> = paths.keys().cloned().collect();
        assert_eq!(actual, expected_paths, "{name}");
        assert_eq!(
            d["components"]["securitySchemes"]["bearerAuth"],
            serde_json::json!({
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": d["components"]["securitySchemes"]["bearerAuth"]["description"],
            })
        );
    }
}

#[test]
fn chat_routes_and_operation_ids() {
    let (_, d) = doc("chat");
    assert_eq!(
        d["paths"]["/api/messages"]["get"]["operationId"],
        "listMessages"
    );
    assert_eq!(
        d["paths"]["/api/messages"]["post"]["operationId"],
        "createMessage"
    );
    assert_eq!(
        d["paths"]["/api/messages/{id}"]["patch"]["operationId"],
        "updateMessage"
    );
    assert_eq!(
        d["paths"]["/api/messages/{id}"]["parameters"][0]["schema"],
        serde_json::json!({ "type": "string", "format": "uuid" })
    );
    assert_eq!(
        d["paths"]["/api/rooms/{id}"]["parameters"][0]["schema"]["format"],
        "int32"
    );
    // Room is readable by anyone: no security on list and get; creating needs a token.
    assert!(d["paths"]["/api/rooms"]["get"].get("security").is_none());
    assert!(d["paths"]["/api/rooms"]["post"].get("security").is_some());
    // Error statuses as applicable: User.email is unique, Message references Room and User.
    let users = &d["paths"]["/api/users"]["post"]["responses"];
    assert!(users.get("409").is_some() && users.get("403").is_some());
    // Any signed-in user may create a message, but its owner `authorId` comes from the token's subject: one that is
    // not a uuid is a 403, one that is no user's id a 422 (`owner_from_token` in tests/server.rs).
    let messages = &d["paths"]["/api/messages"]["post"]["responses"];
    assert!(messages.get("422").is_some() && messages.get("403").is_some());
    // A body over the limit is a 413 (tests/server.rs `bad_requests`), on every operation that takes one.
    assert!(messages.get("413").is_some());
    assert!(d["paths"]["/api/messages/{id}"]["patch"]["responses"]
        .get("413")
        .is_some());
    assert!(d["paths"]["/api/messages"]["get"]["responses"]
        .get("413")
        .is_none());
    // A user is referenced by rooms and messages: deleting one can conflict.
    assert!(d["paths"]["/api/users/{id}"]["delete"]["responses"]
        .get("409")
        .is_some());
    // Bookmarks reference messages; nothing references a bookmark.
    assert!(d["paths"]["/api/messages/{id}"]["delete"]["responses"]
        .get("409")
        .is_some());
    assert!(d["paths"]["/api/bookmarks/{id}"]["delete"]["responses"]
        .get("409")
        .is_none());
    // The kitchen sink's plural.
    let (_, k) = doc("kitchen-sink");
    assert_eq!(
        k["paths"]["/api/outcomes"]["get"]["operationId"],
        "listOutcomes"
    );
    assert_eq!(
        k["paths"]["/api/outcomes"]["post"]["operationId"],
        "createResult"
    );
}

#[test]
fn operation_ids_are_unique() {
    for name in EXAMPLES {
        let (_, d) = doc(name);
        let mut seen = BTreeSet::new();
        for (path, item) in d["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: {method} {path} has no operationId"));
                assert!(seen.insert(id.to_owned()), "{name}: `{id}` twice");
            }
        }
    }
}

#[test]
fn records_never_show_hidden_fields() {
    let (_, d) = doc("chat");
    assert_eq!(
        props(&d, "User"),
        ["id", "email", "name", "createdAt"],
        "no passwordHash"
    );
    assert_eq!(required(&d, "User"), ["id", "email", "name", "createdAt"]);
    // Hidden fields are still written: they are in the inputs.
    assert!(props(&d, "UserCreate").contains(&"passwordHash"));
    assert_eq!(
        props(&d, "Message"),
        [
            "id",
            "roomId",
            "authorId",
            "replyToId",
            "text",
            "editedAt",
            "createdAt"
        ]
    );
    assert_eq!(
        required(&d, "Message"),
        ["id", "roomId", "authorId", "text", "createdAt"]
    );
    assert_eq!(
        schema(&d, "Message")["properties"]["editedAt"]["type"],
        serde_json::json!(["string", "null"])
    );
    assert!(schema(&d, "Message").get("additionalProperties").is_none());
    // In general: exactly the graph's record fields, required when not optional.
    for name in EXAMPLES {
        let (g, d) = doc(name);
        for m in &g.models {
            let fields: Vec<&str> = m
                .fields
                .iter()
                .filter(|f| f.in_record)
                .map(|f| f.name.as_str())
                .collect();
            assert_eq!(props(&d, &m.name), fields, "{name} {}", m.name);
            let req: Vec<&str> = m
                .fields
                .iter()
                .filter(|f| f.in_record && !f.optional)
                .map(|f| f.name.as_str())
                .collect();
            assert_eq!(required(&d, &m.name), req, "{name} {}", m.name);
        }
    }
}

#[test]
fn inputs_follow_presence() {
    let (_, d) = doc("chat");
    let create = schema(&d, "MessageCreate");
    assert_eq!(create["additionalProperties"], false);
    let p = props(&d, "MessageCreate");
    for absent in ["id", "authorId", "createdAt"] {
        assert!(!p.contains(&absent), "MessageCreate has {absent}");
    }
    assert_eq!(p, ["roomId", "replyToId", "text", "editedAt"]);
    assert_eq!(required(&d, "MessageCreate"), ["roomId", "text"]);
    assert_eq!(
        props(&d, "MessageUpdate"),
        ["roomId", "replyToId", "text", "editedAt"]
    );
    assert_eq!(required(&d, "MessageUpdate"), ["roomId", "text"]);
    assert_eq!(
        props(&d, "MessagePatch"),
        ["roomId", "replyToId", "text", "editedAt"]
    );
    assert!(required(&d, "MessagePatch").is_empty());
    for s in ["MessageUpdate", "MessagePatch"] {
        assert_eq!(schema(&d, s)["additionalProperties"], false, "{s}");
    }
    let text = &schema(&d, "MessageCreate")["properties"]["text"];
    assert_eq!(text["type"], "string");
    assert_eq!(text["minLength"], 1);
    assert_eq!(text["maxLength"], 2000);
    assert_eq!(
        schema(&d, "MessagePatch")["properties"]["editedAt"]["type"],
        serde_json::json!(["string", "null"])
    );
    assert_eq!(
        schema(&d, "MessagePatch")["properties"]["text"]["type"],
        "string"
    );
    // User: the generated id and readonly createdAt are never input; the hidden hash is.
    assert_eq!(props(&d, "UserCreate"), ["email", "name", "passwordHash"]);
    assert_eq!(props(&d, "UserUpdate"), ["email", "name", "passwordHash"]);
    // Room: the owner is set from the token.
    assert_eq!(props(&d, "RoomCreate"), ["title"]);

    // The kitchen sink: a client-supplied id is required in create, never in update or patch; defaults are
    // optional in create with their value, required in update.
    let (g, d) = doc("kitchen-sink");
    assert_eq!(required(&d, "AccountCreate"), ["id", "handle", "secret"]);
    assert_eq!(
        props(&d, "AccountCreate"),
        ["id", "handle", "secret", "role"]
    );
    assert_eq!(props(&d, "AccountUpdate"), ["handle", "secret", "role"]);
    assert_eq!(required(&d, "AccountUpdate"), ["handle", "secret", "role"]);
    let role = &schema(&d, "AccountCreate")["properties"]["role"];
    assert_eq!(role["$ref"], "#/components/schemas/Kind");
    assert_eq!(role["default"], "self");
    let payload = &schema(&d, "ErrorCreate")["properties"]["payload"];
    assert_eq!(
        payload["default"],
        serde_json::json!({ "retry": true, "codes": [1, 2] })
    );
    // An optional reference to an enum-free id, and an optional enum-typed field would be oneOf with null.
    assert_eq!(
        schema(&d, "Error")["properties"]["reviewer"]["type"],
        serde_json::json!(["string", "null"])
    );
    let client = &schema(&d, "ClientCreate")["properties"];
    assert_eq!(client["ref"]["minimum"], -1.5);
    assert_eq!(client["ref"]["maximum"], 1.5);
    assert_eq!(client["ref"]["format"], "double");
    assert_eq!(client["or"]["type"], "integer");
    assert_eq!(client["or"]["format"], "int32");
    assert_eq!(client["or"]["minimum"], 0);
    assert_eq!(client["or"]["maximum"], 10);
    assert_eq!(client["or"]["default"], 3);
    assert_eq!(client["not"], serde_json::json!({}));
    assert_eq!(
        client["match"]["type"],
        serde_json::json!(["integer", "null"])
    );
    assert_eq!(schema(&d, "Client")["properties"]["id"]["format"], "int64");
    assert_eq!(
        schema(&d, "Account")["properties"]["joinedOn"]["format"],
        "date"
    );
    assert_eq!(
        schema(&d, "Error")["properties"]["when"]["format"],
        "date-time"
    );
    // Every input of every model is exactly what the graph decided.
    use ssot_gen::model::Presence;
    for m in &g.models {
        let names = |pick: &dyn Fn(&ssot_gen::model::Field) -> bool| -> Vec<String> {
            m.fields
                .iter()
                .filter(|f| pick(f))
                .map(|f| f.name.clone())
                .collect()
        };
        let as_strings =
            |v: Vec<&str>| -> Vec<String> { v.into_iter().map(str::to_owned).collect() };
        let n = &m.name;
        assert_eq!(
            as_strings(props(&d, &format!("{n}Create"))),
            names(&|f| f.create != Presence::Absent)
        );
        assert_eq!(
            as_strings(required(&d, &format!("{n}Create"))),
            names(&|f| f.create == Presence::Required)
        );
        assert_eq!(
            as_strings(props(&d, &format!("{n}Update"))),
            names(&|f| f.update != Presence::Absent)
        );
        assert_eq!(
            as_strings(required(&d, &format!("{n}Update"))),
            names(&|f| f.update == Presence::Required)
        );
        assert_eq!(
            as_strings(props(&d, &format!("{n}Patch"))),
            names(&|f| f.in_patch)
        );
    }
}

#[test]
fn enums_are_string_enums_and_optional_refs_allow_null() {
    let (_, d) = doc("kitchen-sink");
    assert_eq!(
        *schema(&d, "Status"),
        serde_json::json!({ "type": "string", "enum": ["draft", "in-review", "published", "2nd-pass"] })
    );
    assert_eq!(
        schema(&d, "Kind")["enum"],
        serde_json::json!(["self", "type", "Option"])
    );
    assert_eq!(
        schema(&d, "Error")["properties"]["status"]["$ref"],
        "#/components/schemas/Status"
    );
}

#[test]
fn every_int_schema_says_a_fraction_is_refused() {
    // JSON Schema's `integer` takes `356.0`; the server does not (docs/rest.md), so every int32 schema (properties,
    // path parameters, filter operands) says it must be written without a fraction, beside the field's own words.
    fn visit(v: &Value, seen: &mut usize) {
        match v {
            Value::Object(o) => {
                if o.get("format") == Some(&Value::from("int32")) {
                    let description = o
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    assert!(description.contains("`356`, not `356.0`"), "{v}");
                    *seen += 1;
                }
                o.values().for_each(|v| visit(v, seen));
            }
            Value::Array(a) => a.iter().for_each(|v| visit(v, seen)),
            _ => {}
        }
    }
    for name in ["chat", "kitchen-sink"] {
        let (_, d) = doc(name);
        let mut seen = 0;
        visit(&d, &mut seen);
        assert!(seen > 3, "{name}: {seen}");
    }
    let (_, d) = doc("kitchen-sink");
    let or = &schema(&d, "ClientCreate")["properties"]["or"]["description"];
    assert!(or.as_str().unwrap().contains("`356`, not `356.0`"), "{or}");
    assert!(
        !or.as_str().unwrap().starts_with("Written"),
        "the field's notes come first: {or}"
    );
}

#[test]
fn filter_operators_follow_the_field_type() {
    let (_, d) = doc("chat");
    let filter = schema(&d, "MessageFilter");
    assert_eq!(filter["additionalProperties"], false);
    // Each field refers to the operator schema shared by every field of its type.
    let operators = |field: &str| resolve(&d, &filter["properties"][field]);
    let ops = |field: &str| -> Vec<&str> { keys(&operators(field)["properties"]) };
    assert_eq!(
        ops("text"),
        [
            "equals",
            "not",
            "in",
            "notIn",
            "lt",
            "lte",
            "gt",
            "gte",
            "contains",
            "startsWith",
            "endsWith"
        ]
    );
    assert_eq!(
        ops("id"),
        ["equals", "not", "in", "notIn"],
        "uuid has no lt"
    );
    assert!(!ops("authorId").contains(&"lt"));
    assert_eq!(
        ops("roomId"),
        ["equals", "not", "in", "notIn", "lt", "lte", "gt", "gte"]
    );
    assert_eq!(
        ops("editedAt"),
        ["equals", "not", "in", "notIn", "lt", "lte", "gt", "gte", "isNull"]
    );
    assert!(!ops("createdAt").contains(&"isNull"));
    assert_eq!(
        filter["properties"]["roomId"],
        serde_json::json!({ "$ref": "#/components/schemas/IntFilter" })
    );
    assert_eq!(
        filter["properties"]["editedAt"],
        serde_json::json!({ "$ref": "#/components/schemas/NullableDateTimeFilter" })
    );
    assert_eq!(
        operators("roomId")["properties"]["in"]["items"]["format"],
        "int32"
    );
    // Operands carry no bounds: `contains: "a"` is fine on a field of at least 3 characters.
    assert!(operators("text")["properties"]["contains"]
        .get("minLength")
        .is_none());
    for combinator in ["AND", "OR", "NOT"] {
        assert_eq!(
            filter["properties"][combinator],
            serde_json::json!({
                "type": "array",
                "description": filter["properties"][combinator]["description"],
                "items": { "$ref": "#/components/schemas/MessageFilter" },
            })
        );
    }
    // No filter on hidden fields.
    assert!(schema(&d, "UserFilter")["properties"]
        .get("passwordHash")
        .is_none());

    let (_, d) = doc("kitchen-sink");
    let ops = |model: &str, field: &str| -> Vec<String> {
        keys(
            &resolve(
                &d,
                &schema(&d, &format!("{model}Filter"))["properties"][field],
            )["properties"],
        )
        .into_iter()
        .map(str::to_owned)
        .collect()
    };
    assert_eq!(ops("Client", "async"), ["equals", "not"]);
    assert_eq!(
        ops("Client", "not"),
        ["isNull"],
        "optional json: isNull only"
    );
    assert_eq!(
        ops("Client", "match"),
        ["equals", "not", "in", "notIn", "lt", "lte", "gt", "gte", "isNull"]
    );
    assert_eq!(ops("Error", "status"), ["equals", "not", "in", "notIn"]);
    assert_eq!(
        resolve(&d, &schema(&d, "ErrorFilter")["properties"]["status"])["properties"]["equals"]
            ["$ref"],
        "#/components/schemas/Status"
    );
    assert!(
        schema(&d, "ErrorFilter")["properties"]
            .get("payload")
            .is_none(),
        "a required json field cannot be filtered"
    );
    assert!(schema(&d, "AccountFilter")["properties"]
        .get("secret")
        .is_none());
}

#[test]
fn order_by_lists_orderable_fields() {
    let (_, d) = doc("chat");
    let order = schema(&d, "MessageOrderBy");
    let fields: Vec<&str> = order["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let k = keys(&o["properties"]);
            assert_eq!(k.len(), 1);
            assert_eq!(o["required"], serde_json::json!(k));
            assert_eq!(o["additionalProperties"], false);
            assert_eq!(
                resolve(&d, &o["properties"][k[0]])["enum"],
                serde_json::json!(["asc", "desc"])
            );
            k[0]
        })
        .collect();
    // uuid fields are not orderable.
    assert_eq!(fields, ["roomId", "text", "editedAt", "createdAt"]);
    let list = schema(&d, "MessageList");
    assert_eq!(
        list["required"],
        serde_json::json!(["items", "total", "skip", "take"])
    );
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/Message"
    );
}

#[test]
fn one_error_schema_with_the_documented_codes() {
    let (_, d) = doc("chat");
    let error = schema(&d, "Error");
    assert_eq!(
        error["properties"]["error"]["properties"]["code"]["enum"],
        serde_json::json!([
            "bad_request",
            "validation_failed",
            "unauthorized",
            "forbidden",
            "not_found",
            "method_not_allowed",
            "conflict",
            "reference_not_found",
            "internal"
        ])
    );
    assert_eq!(
        error["properties"]["error"]["required"],
        serde_json::json!(["code", "message"])
    );
    assert_eq!(
        keys(&error["properties"]["error"]["properties"]["details"]["items"]["properties"]),
        ["field", "code", "message"]
    );
    // The kitchen sink has a model called `Error`: the error shape gets another name, and every error response
    // refers to that one schema.
    let (_, d) = doc("kitchen-sink");
    assert_eq!(props(&d, "Error")[0], "id", "the model keeps its name");
    let mut refs = BTreeSet::new();
    for r in d["components"]["responses"].as_object().unwrap().values() {
        refs.insert(
            r["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(refs.len(), 1);
    let error = resolve(
        &d,
        &d["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"],
    );
    assert!(error["properties"]["error"]["properties"]["code"]["enum"].is_array());
}

fn walk<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r);
            }
            o.values().for_each(|x| walk(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    for name in EXAMPLES {
        let (_, d) = doc(name);
        let mut refs = Vec::new();
        walk(&d, &mut refs);
        assert!(refs.len() > 10, "{name}");
        for r in refs {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{name}: `{r}` is not local"));
            assert!(
                pointer.starts_with("/components/"),
                "{name}: `{r}` points outside components"
            );
            assert!(
                d.pointer(pointer).is_some(),
                "{name}: `{r}` does not resolve"
            );
        }
    }
}

/// `openapi.json` is written as the document is built; it is the document, pretty-printed.
#[test]
fn json_text_is_the_document() {
    for name in EXAMPLES {
        let (g, d) = doc(name);
        let pretty = serde_json::to_string_pretty(&d).unwrap() + "\n";
        assert_eq!(ssot_gen::openapi::json(&g), pretty, "{name}");
    }
    let edge_graph = ssot_gen::load("edge.yaml", EDGE).unwrap();
    assert_eq!(
        ssot_gen::openapi::json(&edge_graph),
        serde_json::to_string_pretty(&edge()).unwrap() + "\n"
    );
}

#[test]
fn deterministic() {
    for name in EXAMPLES {
        let first = serde_json::to_string_pretty(&doc(name).1).unwrap();
        for _ in 0..3 {
            assert_eq!(
                serde_json::to_string_pretty(&doc(name).1).unwrap(),
                first,
                "{name}"
            );
        }
    }
}

/// A schema that exercises the corners the examples miss: an optional enum field, a model without sortable fields,
/// and models that take the names `<Model>List` and `Error` would otherwise get.
const EDGE: &str = r#"
crate: edge
enums:
  Color: [red, green]
models:
  Tag:
    fields:
      id:    { type: uuid, id: true, default: uuid }
      color: Color?
      flag:  bool
    access: { read: public }
  TagList:
    fields:
      id: { type: uuid, id: true, default: uuid }
  Error:
    fields:
      id: { type: int, id: true, default: autoincrement }
  ApiError:
    fields:
      id: { type: int, id: true, default: autoincrement }
  NullableColor:
    fields:
      id: { type: int, id: true, default: autoincrement }
  SortOrder:
    fields:
      id: { type: int, id: true, default: autoincrement }
"#;

fn edge() -> Value {
    let g = ssot_gen::load("edge.yaml", EDGE).unwrap_or_else(|e| panic!("{e}"));
    ssot_gen::openapi::document(&g)
}

#[test]
fn names_the_validator_does_not_reserve_get_a_fallback() {
    let d = edge();
    // The model `TagList` keeps its name; `Tag`'s list schema takes another, and so does the error shape.
    assert_eq!(props(&d, "TagList"), ["id"]);
    assert_eq!(
        d["paths"]["/api/tags"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/TagList2"
    );
    assert_eq!(
        schema(&d, "TagList2")["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/Tag"
    );
    assert_eq!(props(&d, "Error"), ["id"]);
    assert_eq!(props(&d, "ApiError"), ["id"]);
    assert_eq!(
        d["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ApiError2"
    );
    assert_eq!(props(&d, "ApiError2"), ["error"]);
    // An optional enum: oneOf with null.
    assert_eq!(
        schema(&d, "Tag")["properties"]["color"],
        serde_json::json!({ "oneOf": [{ "$ref": "#/components/schemas/Color" }, { "type": "null" }] })
    );
    // The shared operator schemas and the sort direction also give way to model names.
    assert_eq!(
        schema(&d, "TagFilter")["properties"]["color"]["$ref"],
        "#/components/schemas/NullableColorFilter2"
    );
    assert_eq!(props(&d, "NullableColorFilter"), ["id", "AND", "OR", "NOT"]);
    assert_eq!(props(&d, "SortOrder"), ["id"]);
    assert_eq!(
        schema(&d, "SortOrder2"),
        &serde_json::json!({ "type": "string", "enum": ["asc", "desc"] })
    );
    assert_eq!(
        keys(&resolve(&d, &schema(&d, "TagFilter")["properties"]["color"])["properties"]),
        ["equals", "not", "in", "notIn", "isNull"]
    );
    // No sortable field: no sort key is valid.
    assert_eq!(schema(&d, "TagOrderBy")["not"], serde_json::json!({}));
    let mut refs = Vec::new();
    walk(&d, &mut refs);
    for r in refs {
        assert!(d.pointer(&r[1..]).is_some(), "`{r}` does not resolve");
    }
}

/// The schema at `pointer` checked against instances: (pointer, instance, whether it is valid).
fn chat_cases(d: &Value) -> Value {
    let order_by = "/paths/~1api~1messages/get/parameters/1/content/application~1json/schema";
    let filter = "/components/schemas/MessageFilter";
    let message = serde_json::json!({
        "id": "9b2f0d4e-3c1a-4e5b-8f6a-7d8e9f0a1b2c", "roomId": 1,
        "authorId": "9b2f0d4e-3c1a-4e5b-8f6a-7d8e9f0a1b2c", "text": "hi", "editedAt": null,
        "createdAt": "2024-01-31T12:00:00.000000Z",
    });
    assert!(d.pointer(order_by).is_some());
    serde_json::json!([
        // docs/rest.md's own examples.
        [filter, { "text": { "contains": "hi" }, "roomId": { "in": [1, 2] } }, true],
        [order_by, [{ "createdAt": "desc" }, { "text": "asc" }], true],
        [order_by, { "text": "asc" }, true],
        ["/components/schemas/Error", { "error": { "code": "validation_failed", "message": "the request body is invalid",
            "details": [{ "field": "text", "code": "too_long", "message": "must be at most 2000 characters long, is 2001" }] } }, true],
        ["/components/schemas/MessageList", { "items": [message], "total": 1, "skip": 0, "take": 20 }, true],
        // Filters.
        [filter, { "AND": [{ "text": { "startsWith": "a" } }], "NOT": [{ "editedAt": { "isNull": true } }] }, true],
        [filter, { "text": { "like": "x" } }, false],
        [filter, { "id": { "lt": "9b2f0d4e-3c1a-4e5b-8f6a-7d8e9f0a1b2c" } }, false],
        [filter, { "createdAt": { "isNull": true } }, false],
        [filter, { "nope": { "equals": 1 } }, false],
        [filter, { "roomId": { "in": ["1"] } }, false],
        // Sort keys.
        [order_by, { "text": "up" }, false],
        [order_by, { "id": "asc" }, false],
        [order_by, { "text": "asc", "createdAt": "desc" }, false],
        // Inputs.
        ["/components/schemas/MessageCreate", { "roomId": 1, "text": "hi" }, true],
        ["/components/schemas/MessageCreate", { "roomId": 1, "text": "hi", "editedAt": null }, true],
        ["/components/schemas/MessageCreate", { "roomId": 1, "text": "hi", "authorId": message["authorId"] }, false],
        ["/components/schemas/MessageCreate", { "roomId": 1, "text": "" }, false],
        ["/components/schemas/MessageCreate", { "text": "hi" }, false],
        ["/components/schemas/MessageUpdate", { "roomId": 1, "text": "hi" }, true],
        ["/components/schemas/MessageUpdate", { "roomId": 1, "text": "hi", "createdAt": message["createdAt"] }, false],
        ["/components/schemas/MessagePatch", {}, true],
        ["/components/schemas/MessagePatch", { "editedAt": null }, true],
        ["/components/schemas/MessagePatch", { "text": null }, false],
        ["/components/schemas/Message", message, true],
        ["/components/schemas/Error", { "error": { "code": "nope", "message": "x" } }, false],
    ])
}

const VALIDATE_PY: &str = r#"
import json, sys
from openapi_spec_validator import validate, OpenAPIV31SpecValidator
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

doc = json.load(open(sys.argv[1]))
validate(doc, cls=OpenAPIV31SpecValidator)
if len(sys.argv) > 2:
    registry = Registry().with_resource("urn:doc", Resource.from_contents(doc, default_specification=DRAFT202012))
    wrong = []
    for pointer, instance, valid in json.load(open(sys.argv[2])):
        validator = Draft202012Validator({"$ref": "urn:doc#" + pointer}, registry=registry)
        if validator.is_valid(instance) != valid:
            wrong.append(f"{pointer}: {json.dumps(instance)} should be {'valid' if valid else 'invalid'}")
    assert not wrong, "\n".join(wrong)
"#;

/// Validates against the OpenAPI 3.1 specification with `openapi_spec_validator`, and checks instances against the
/// component schemas with `jsonschema` (which it depends on). `.ci/run` installs them (PyPI), so CI always runs
/// this; elsewhere it is skipped, loudly, when Python does not have them.
#[test]
fn valid_openapi_31() {
    let available = Command::new("python3")
        .args([
            "-c",
            "import openapi_spec_validator, jsonschema, referencing",
        ])
        .output()
        .map_err(|e| format!("python3: {e}"))
        .and_then(|o| {
            o.status.success().then_some(()).ok_or_else(|| {
                format!(
                    "python3 lacks openapi_spec_validator (pip install -r tests/requirements.txt): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                )
            })
        });
    if !common::available_or_skip("the OpenAPI validator test", available) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut documents: Vec<(&str, Value)> =
        EXAMPLES.iter().map(|name| (*name, doc(name).1)).collect();
    documents.push(("edge", edge()));
    for (name, document) in documents {
        let path = dir.path().join(format!("{name}.openapi.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&document).unwrap()).unwrap();
        let mut command = Command::new("python3");
        command.args(["-c", VALIDATE_PY]).arg(&path);
        if name == "chat" {
            let cases = dir.path().join("chat.cases.json");
            std::fs::write(&cases, chat_cases(&document).to_string()).unwrap();
            command.arg(cases);
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn the_admin_page_is_an_html_page() {
    for name in EXAMPLES {
        let (_, d) = doc(name);
        let get = &d["paths"]["/admin"]["get"];
        assert_eq!(get["tags"], serde_json::json!(["server"]), "{name}");
        let ok = &get["responses"]["200"]["content"];
        assert_eq!(keys(ok), ["text/html"], "{name}");
        assert_eq!(ok["text/html"]["schema"]["type"], "string", "{name}");
    }
}

/// Lists and gets of a model with relations take `include`, which names them; `<Model>WithRelations` is the
/// record plus each relation, a to-one nullable and a to-many a list, nested through the related model's own.
#[test]
fn include_is_described() {
    let (_, d) = doc("chat");
    for path in ["/api/messages", "/api/messages/{id}"] {
        let parameters = d["paths"][path]["get"]["parameters"].as_array().unwrap();
        let include = parameters
            .iter()
            .find(|p| p["name"] == "include")
            .unwrap_or_else(|| panic!("{path}: no include parameter"));
        let text = include["description"].as_str().unwrap();
        for named in [
            "`author` (one `User`)",
            "`bookmarks` (list of `Bookmark`)",
            "`room` (one `Room`)",
            "MessageWithRelations",
            "At most 3 levels",
        ] {
            assert!(text.contains(named), "{path}: {text}");
        }
    }
    let with = schema(&d, "MessageWithRelations");
    assert_eq!(with["allOf"][0]["$ref"], "#/components/schemas/Message");
    let relations = &with["allOf"][1]["properties"];
    assert_eq!(
        keys(relations),
        ["author", "bookmarks", "replies", "replyTo", "room"]
    );
    assert_eq!(
        relations["author"]["oneOf"][0]["$ref"],
        "#/components/schemas/UserWithRelations"
    );
    assert_eq!(relations["author"]["oneOf"][1]["type"], "null");
    assert_eq!(
        relations["bookmarks"]["items"]["$ref"],
        "#/components/schemas/BookmarkWithRelations"
    );
    // Records themselves stay as they are.
    assert!(!props(&d, "Message").contains(&"author"));
}

/// A filter's relations (docs/rest.md, "Filtering through relations"): `is`/`isNot` (the related filter or null)
/// for a to-one, `some`/`every`/`none` for a to-many, nothing else.
#[test]
fn filters_describe_relation_filters() {
    let (_, d) = doc("chat");
    let author = &schema(&d, "MessageFilter")["properties"]["author"];
    assert_eq!(keys(&author["properties"]), ["is", "isNot"]);
    assert_eq!(author["additionalProperties"], false);
    // The operand names the related model's filter rather than referencing it: references there would make the
    // filters recursive through each other, which request generators cannot bound (src/openapi/schemas.rs).
    let is = &author["properties"]["is"]["oneOf"];
    assert_eq!(is[0]["type"], "object");
    assert!(
        is[0]["description"]
            .as_str()
            .unwrap()
            .contains("`UserFilter`"),
        "{is}"
    );
    assert_eq!(is[1], serde_json::json!({ "type": "null" }));
    let messages = &schema(&d, "RoomFilter")["properties"]["messages"];
    assert_eq!(keys(&messages["properties"]), ["some", "every", "none"]);
    let some = &messages["properties"]["some"];
    assert_eq!(some["type"], "object");
    assert!(!some.to_string().contains("$ref"), "{some}");
}
