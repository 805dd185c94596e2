//! Property-based fuzzing on stable Rust (proptest), bounded so that it runs in CI on every push:
//! - the schema reader: any YAML-shaped text gives a graph or located errors, never a panic;
//! - the generated server's filter and order parser: any JSON in `where` / `orderBy` is a 200 or a 400 with the
//!   JSON error shape, never a 5xx;
//! - writes: any JSON body to `POST /api/messages` is answered with a 4xx or a 201 whose row reads back;
//! - JWT handling: any claims, validly signed, are accepted or refused with 401 (REST) / 4401 (WebSocket), never a
//!   panic, and a close frame's reason fits the frame;
//! - the WebSocket message handler: any sequence of frames gets well-formed replies (the harness fails on invalid
//!   JSON), a valid close if any, and leaves the connection answering `ping`.
//!
//! The runs are deterministic (a fixed RNG seed), so CI is reproducible; `FUZZ_CASES=N` runs N cases per target
//! and `FUZZ_RANDOM=1` a fresh random seed, to search further locally. Inputs that once found a bug are kept in
//! `CORPUS` below and run first, every time.

mod common;
#[path = "common/server.rs"]
mod server_harness;
#[path = "common/ws.rs"]
mod ws;

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{json, Value};
use server_harness::{handmade_jwt, new_room, new_user, Server, JWT_SECRET};
use ws::{Auth, Incoming, Ws};

/// Inputs that found bugs (issue 17), run before the generated ones.
mod corpus {
    /// Datetimes outside what the server can store and read back (a 500 on read), and text that sorted wrong.
    pub const DATETIMES: &[&str] = &[
        "+10000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "2026-12-03T10:00:00+14:00",
    ];
    /// `exp` values that overflowed the connection's deadline (a panic per connection), and other edges.
    pub const EXPS: &[&str] = &[
        "9223372036854775808",
        "18446744073709551615",
        "1e300",
        "-1",
        "0",
    ];
    /// Request ids the server once answered without echoing them.
    pub const REQUEST_IDS: &[&str] = &["-1", "1.5", "\"x\"", "null", "18446744073709551616"];
}

fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("FUZZ_RANDOM").is_some() {
        TestRunner::new(config)
    } else {
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
    }
}

fn check<T: std::fmt::Debug>(
    name: &str,
    cases: u32,
    strategy: impl Strategy<Value = T>,
    test: impl Fn(T) -> Result<(), TestCaseError>,
) {
    if let Err(e) = runner(cases).run(&strategy, test) {
        panic!("{name}: {e}");
    }
}

/// Words the chat schema and the query language use, so that generated inputs reach past the first lookup.
const WORDS: &[&str] = &[
    "id",
    "text",
    "roomId",
    "authorId",
    "editedAt",
    "createdAt",
    "title",
    "ownerId",
    "AND",
    "OR",
    "NOT",
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
    "endsWith",
    "mode",
    "insensitive",
    "asc",
    "desc",
    "null",
    "",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(WORDS).prop_map(str::to_owned),
        1 => "[a-zA-Z_$.\\- ]{0,10}",
    ]
}

/// Any JSON, leaning towards the values that matter here: edge numbers, datetimes, the schema's words.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            json!(0),
            json!(-1),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(1e308),
            json!(356.0),
            json!(2147483648i64),
        ]),
        prop::sample::select(corpus::DATETIMES).prop_map(Value::from),
        key().prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A schema-shaped document: models with fields, access rules, enums, built from the schema language's words
/// with any value mixed in, written as JSON (which is YAML) so that it is well formed and reaches the model graph.
fn schema_document() -> impl Strategy<Value = String> {
    let word = |words: &'static [&'static str]| {
        prop_oneof![
            6 => prop::sample::select(words).prop_map(Value::from),
            1 => json_value(),
        ]
    };
    const TYPES: &[&str] = &[
        "string",
        "int",
        "bigint",
        "float",
        "bool",
        "datetime",
        "date",
        "uuid",
        "json",
        "text",
        "string?",
        "int?",
        "datetime?",
        "Color",
        "Color?",
        "User",
        "Room",
        "nope",
    ];
    const PROPS: &[&str] = &[
        "type",
        "id",
        "default",
        "references",
        "owner",
        "unique",
        "min",
        "max",
        "hidden",
        "readonly",
        "doc",
        "renamedFrom",
        "backfill",
        "onDelete",
        "optional",
    ];
    const VALUES: &[&str] = &[
        "autoincrement",
        "uuid",
        "now",
        "User",
        "Room",
        "Message",
        "red",
        "cascade",
        "setNull",
        "restrict",
        "",
    ];
    const RULES: &[&str] = &[
        "public",
        "authenticated",
        "owner",
        "admin",
        "self",
        "nobody",
    ];
    const MODELS: &[&str] = &[
        "User", "Room", "Message", "type", "Option", "Self", "Client", "A",
    ];
    const FIELDS: &[&str] = &[
        "id",
        "name",
        "type",
        "self",
        "ownerId",
        "roomId",
        "userId",
        "createdAt",
        "x",
    ];
    let value = prop_oneof![
        word(TYPES),
        word(VALUES),
        any::<bool>().prop_map(Value::from),
        (-5i64..300).prop_map(Value::from),
    ];
    let field = prop_oneof![
        1 => word(TYPES),
        3 => prop::collection::vec((word(PROPS), value), 0..5).prop_map(object),
    ];
    let id_field = prop_oneof![
        Just(json!({ "type": "int", "id": true, "default": "autoincrement" })),
        Just(json!({ "type": "uuid", "id": true, "default": "uuid" })),
        Just(json!({ "type": "string", "id": true })),
    ];
    let fields = (
        prop::option::of(id_field),
        prop::collection::vec((word(FIELDS), field), 0..5),
    )
        .prop_map(|(id, mut fields)| {
            if let Some(id) = id {
                fields.insert(0, (Value::from("id"), id));
            }
            object(fields)
        });
    let access = prop::collection::vec(
        (
            word(&["read", "create", "update", "delete", "write"]),
            word(RULES),
        ),
        0..5,
    )
    .prop_map(object);
    let model = (
        fields,
        prop::option::of(access),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(fields, access, realtime)| {
            let mut model = json!({ "fields": fields });
            if let Some(access) = access {
                model["access"] = access;
            }
            if let Some(realtime) = realtime {
                model["realtime"] = json!(realtime);
            }
            model
        });
    let models = prop::collection::vec((word(MODELS), model), 0..4).prop_map(object);
    let enums = prop::option::of(prop::collection::vec(
        (
            word(&["Color", "Level", "type"]),
            prop::collection::vec(word(&["red", "blue", "type", "", "1"]), 0..4),
        ),
        0..3,
    ));
    (models, enums).prop_map(|(models, enums)| {
        let mut document = json!({ "crate": "fuzz", "models": models });
        if let Some(enums) = enums {
            let enums: Vec<(Value, Value)> = enums
                .into_iter()
                .map(|(k, v)| (k, Value::Array(v)))
                .collect();
            document["enums"] = object(enums);
        }
        serde_json::to_string_pretty(&document).unwrap()
    })
}

/// An object from pairs whose keys are strings (other keys are written as their JSON text).
fn object(pairs: Vec<(Value, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.as_str().map_or_else(|| k.to_string(), str::to_owned), v))
            .collect(),
    )
}

/// YAML-shaped text made of the schema language's words, nested: what a person mistypes.
fn schema_text() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        prop::sample::select(vec![
            "string",
            "int",
            "true",
            "null",
            "~",
            "0",
            "-1",
            "1e9",
            "User",
            "autoincrement",
            "now",
            "public",
            "[]",
            "{}",
            "'x'",
            "\"y\"",
            "&a",
            "*a",
            "!tag",
            "|",
            ">",
            "[owner, admin]",
            "{ type: int }",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9_ ]{0,8}",
    ];
    let word = prop_oneof![
        prop::sample::select(vec![
            "models",
            "enums",
            "fields",
            "type",
            "id",
            "default",
            "references",
            "owner",
            "access",
            "read",
            "unique",
            "min",
            "max",
            "User",
            "Room",
            "title",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z][a-zA-Z0-9]{0,6}",
    ];
    let tree = scalar.prop_recursive(4, 40, 6, move |inner| {
        prop::collection::vec((word.clone(), inner), 1..5).prop_map(|pairs| {
            let mut text = String::new();
            for (key, value) in pairs {
                text.push_str(&format!("\n{key}:"));
                if value.starts_with('\n') {
                    text.push_str(&value.replace('\n', "\n  "));
                } else {
                    text.push(' ');
                    text.push_str(&value);
                }
            }
            text
        })
    });
    tree.prop_map(|text| format!("crate: fuzz\nmodels:{}\n", text.replace('\n', "\n  ")))
}

#[test]
fn the_schema_reader_never_panics_and_locates_every_error() {
    let schemas = prop_oneof![4 => schema_document(), 1 => schema_text()];
    check("schema reader", 1000, schemas, |text| {
        let lines = text.lines().count() + 1;
        let loaded = ssot_gen::load("fuzz.yaml", &text);
        match loaded {
            Ok(graph) => {
                // A schema that validates must also generate.
                let generated = ssot_gen::generate(&graph, &Default::default());
                prop_assert!(generated.is_ok(), "{text}\n{:?}", generated.err());
            }
            Err(ssot_gen::Error::Schema(diagnostics)) => {
                prop_assert!(
                    !diagnostics.items.is_empty(),
                    "an error without a problem: {text}"
                );
                for item in &diagnostics.items {
                    prop_assert!(
                        (1..=lines).contains(&item.loc.line) && item.loc.column >= 1,
                        "{}:{} is outside the text:\n{text}",
                        item.loc.line,
                        item.loc.column
                    );
                }
            }
            Err(other) => prop_assert!(false, "not a schema error: {other}\n{text}"),
        }
        Ok(())
    });
}

/// The server's answer is a 2xx or one of `allowed`, with the JSON error shape for an error; never a 5xx.
fn answered(response: &server_harness::Resp, allowed: &[u16]) -> Result<(), TestCaseError> {
    let status = response.status;
    prop_assert!(
        (200..300).contains(&status) || allowed.contains(&status),
        "unexpected status {status}\n{response:?}"
    );
    if status >= 400 {
        let code = response
            .json
            .as_ref()
            .and_then(|body| body["error"]["code"].as_str());
        prop_assert!(
            code.is_some(),
            "an error without the JSON error shape\n{response:?}"
        );
    }
    Ok(())
}

#[test]
fn the_server_answers_any_query_and_body() {
    let server = Server::start_sqlite();
    let admin = server.admin_token();
    let user = new_user(&server, &admin, "fuzz");
    let room = new_room(&server, &user, "fuzz");
    server
        .post("/api/messages")
        .auth(&user.token)
        .json(json!({ "roomId": room, "text": "hello", "editedAt": "2026-01-01T00:00:00Z" }))
        .send()
        .expect(201);

    // Filters and sort keys: a page or a 400.
    let query = (json_value(), json_value(), any::<i64>(), any::<i64>());
    check(
        "where/orderBy",
        300,
        query,
        |(filter, order, skip, take)| {
            let response = server
                .get("/api/messages")
                .auth(&user.token)
                .query("where", &filter.to_string())
                .query("orderBy", &order.to_string())
                .query("skip", &skip.to_string())
                .query("take", &take.to_string())
                .send();
            answered(&response, &[400])
        },
    );
    for datetime in corpus::DATETIMES {
        let filter = json!({ "editedAt": { "gt": datetime } });
        let response = server
            .get("/api/messages")
            .auth(&user.token)
            .query("where", &filter.to_string())
            .send();
        answered(&response, &[400]).unwrap_or_else(|e| panic!("{e}"));
    }

    // Bodies: refused with a 4xx, or created and readable.
    let body = prop_oneof![
        json_value(),
        (json_value(), json_value(), json_value()).prop_map(move |(text, edited, room_id)| {
            json!({ "roomId": room_id, "text": text, "editedAt": edited })
        }),
        (".{1,20}", prop::sample::select(corpus::DATETIMES)).prop_map(move |(text, edited)| {
            json!({ "roomId": room, "text": text, "editedAt": edited })
        }),
    ];
    check("POST body", 300, body, |body| {
        let created = server
            .post("/api/messages")
            .auth(&user.token)
            .json(body.clone())
            .send();
        answered(&created, &[400, 403, 404, 409, 413, 415, 422])?;
        if created.status == 201 {
            let id = created.json.as_ref().unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let read = server
                .get(&format!("/api/messages/{id}"))
                .auth(&user.token)
                .send();
            prop_assert_eq!(
                read.status,
                200,
                "{:?} was created from {} but does not read back",
                read,
                body
            );
            let listed = server
                .get("/api/messages")
                .auth(&user.token)
                .query("take", "100")
                .send();
            prop_assert_eq!(listed.status, 200, "the list after {}: {:?}", body, listed);
        }
        Ok(())
    });
}

/// Claims that a signed token may carry: the registered ones with any value, and others.
fn claims() -> impl Strategy<Value = Value> {
    let number = prop_oneof![
        prop::sample::select(corpus::EXPS).prop_map(|n| serde_json::from_str::<Value>(n).unwrap()),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(json!(server_harness::now_secs() + 3600)),
        Just(json!(server_harness::now_secs() - 3600)),
    ];
    let value = prop_oneof![3 => number, 1 => json_value()];
    let name = prop_oneof![
        prop::sample::select(vec![
            "sub", "exp", "nbf", "iat", "roles", "aud", "iss", "jti"
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,5}",
    ];
    (
        prop::collection::vec((name, value), 0..6),
        prop::option::of(".{0,300}"),
    )
        .prop_map(|(pairs, sub)| {
            let mut claims: serde_json::Map<String, Value> = pairs.into_iter().collect();
            if let Some(sub) = sub {
                claims.insert("sub".to_owned(), Value::from(sub));
            }
            Value::Object(claims)
        })
}

/// A close frame as RFC 6455 allows it: a code a server may send, a reason of at most 123 bytes.
fn valid_close(code: u16, reason: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999),
        "close code {code} may not be sent"
    );
    prop_assert!(
        reason.len() <= 123,
        "a close reason of {} bytes: {reason:?}",
        reason.len()
    );
    Ok(())
}

#[test]
fn any_signed_claims_are_accepted_or_refused_cleanly() {
    let server = Server::start_sqlite();
    check("JWT claims", 120, claims(), |claims| {
        let token = handmade_jwt(&claims, JWT_SECRET);
        let response = server.get("/api/messages").auth(&token).send();
        answered(&response, &[401])?;
        let mut ws = Ws::open(&server, Auth::Header(&token));
        match ws.next(Duration::from_secs(10)) {
            Incoming::Message(ready) => {
                prop_assert_eq!(&ready["type"], "ready", "{}", ready);
                // The connection task still serves (a panic in it would leave no answer).
                ws.send(json!({ "type": "ping" }));
                match ws.next(Duration::from_secs(10)) {
                    Incoming::Message(pong) => prop_assert_eq!(&pong["type"], "pong", "{}", pong),
                    Incoming::Closed(Some((code, reason))) => {
                        prop_assert_eq!(code, 4401, "{}", reason);
                        valid_close(code, &reason)?;
                    }
                    other => prop_assert!(false, "no pong for {claims}: {other:?}"),
                }
            }
            Incoming::Closed(Some((code, reason))) => {
                prop_assert_eq!(code, 4401, "claims {}: {}", claims, reason);
                valid_close(code, &reason)?;
            }
            other => prop_assert!(false, "claims {claims}: {other:?}"),
        }
        Ok(())
    });
}

/// One frame a client might send: protocol messages with any field values, and text that is no message at all.
fn frame() -> impl Strategy<Value = String> {
    let kind = prop::sample::select(vec![
        "subscribe",
        "unsubscribe",
        "request",
        "ping",
        "auth",
        "update",
        "bogus",
    ]);
    let channel = prop_oneof![
        prop::sample::select(vec![
            "Message:list",
            "Room:list",
            "User:list",
            "Bookmark:list",
            "Message:item:1",
            "Room:item:1",
            "Nope:list",
            "Room:item:",
            ":list",
            "",
        ])
        .prop_map(Value::from),
        json_value(),
    ];
    let request_id = prop_oneof![
        prop::sample::select(corpus::REQUEST_IDS)
            .prop_map(|id| serde_json::from_str::<Value>(id).unwrap()),
        json_value(),
    ];
    let action = prop_oneof![
        prop::sample::select(vec![
            "list", "get", "create", "update", "patch", "delete", "drop"
        ])
        .prop_map(Value::from),
        json_value(),
    ];
    let message = (
        kind,
        channel,
        json_value(),
        request_id,
        key(),
        action,
        json_value(),
    )
        .prop_map(
            |(kind, channel, since, request_id, model, action, params)| {
                json!({
                    "type": kind, "channel": channel, "since": since, "requestId": request_id,
                    "model": model, "action": action, "params": params,
                })
                .to_string()
            },
        );
    prop_oneof![
        4 => message,
        1 => json_value().prop_map(|v| v.to_string()),
        1 => ".{0,40}",
    ]
}

#[test]
fn any_frames_get_well_formed_replies() {
    let server = Server::start_sqlite();
    let user = new_user(&server, &server.admin_token(), "frames");
    let frames = prop::collection::vec(frame(), 1..8);
    check("WebSocket frames", 200, frames, |frames| {
        let mut ws = Ws::open(&server, Auth::Header(&user.token));
        let ready = ws.recv();
        prop_assert_eq!(&ready["type"], "ready");
        for text in &frames {
            ws.send_text(text);
        }
        // Every reply parses (the harness fails on invalid JSON) and has a type; then the connection still
        // answers a ping, or it was closed with a valid frame.
        ws.send(json!({ "type": "ping" }));
        loop {
            match ws.next(Duration::from_secs(10)) {
                Incoming::Message(message) => {
                    prop_assert!(message["type"].is_string(), "{message}");
                    if message["type"] == "pong" {
                        break;
                    }
                }
                Incoming::Closed(Some((code, reason))) => {
                    valid_close(code, &reason)?;
                    break;
                }
                other => prop_assert!(false, "after {frames:?}: {other:?}"),
            }
        }
        ws.close();
        Ok(())
    });
}
