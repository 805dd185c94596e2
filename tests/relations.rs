//! Relations in reads (`include`, docs/rest.md), end to end on the chat example, on SQLite and on PostgreSQL:
//! to-one and to-many includes, nested, each included row passing its own model's read rule (bookmarks are
//! owner-only, users need a token, `passwordHash` is hidden), a to-many's own `where`/`orderBy`/`take` applied per
//! parent, the 400s for unknown relations and too deep nesting, and one query per relation level whatever the
//! number of rows (counted in the server's debug log); and deletes by the references' `onDelete` (a room's
//! messages cascade with their bookmarks, replies are cleared, a user with rows is restricted), each deleted or
//! changed row with its event, in an order a subscriber can apply. Runs with libtest-mimic like tests/server.rs.

mod common;
#[path = "common/scenarios.rs"]
mod scenarios;
#[path = "common/server.rs"]
mod server_harness;
#[path = "common/ws.rs"]
mod ws;

use serde_json::{json, Value};

use scenarios::{Backend, Scenario, Shared};
use server_harness::{new_room, new_user, Server, User};
use ws::Ws;

const SCENARIOS: &[(&str, Scenario)] = &[
    ("include_to_one_and_to_many", include_to_one_and_to_many),
    ("include_respects_read_rules", include_respects_read_rules),
    ("include_many_options", include_many_options),
    ("include_nested", include_nested),
    ("include_bad_requests", include_bad_requests),
    ("include_over_websocket", include_over_websocket),
    (
        "relation_filters_match_brute_force",
        relation_filters_match_brute_force,
    ),
    (
        "relation_filters_respect_read_rules",
        relation_filters_respect_read_rules,
    ),
    ("relation_filter_bad_requests", relation_filter_bad_requests),
    ("delete_cascades_with_events", delete_cascades_with_events),
    (
        "delete_restricted_changes_nothing",
        delete_restricted_changes_nothing,
    ),
];

fn main() {
    let sqlite = Shared::new(Backend::Sqlite, Server::start_sqlite);
    let postgres = Shared::new(Backend::Postgres, Server::start_postgres);
    let mut trials = sqlite.trials(SCENARIOS);
    trials.extend(postgres.trials(SCENARIOS));
    trials.extend([
        scenarios::test(Backend::Sqlite, "one_query_per_level", || {
            one_query_per_level(&Server::start_sqlite_with(LOG_QUERIES));
            Ok(())
        }),
        scenarios::test(Backend::Postgres, "one_query_per_level", || {
            one_query_per_level(&Server::start_postgres_with(LOG_QUERIES));
            Ok(())
        }),
        scenarios::test(Backend::Sqlite, "include_to_one_row_rules", || {
            let binary = server_harness::runtime_server_binary();
            include_to_one_row_rules(&Server::start_binary_sqlite(binary, LOG_QUERIES));
            Ok(())
        }),
        scenarios::test(Backend::Postgres, "include_to_one_row_rules", || {
            let binary = server_harness::runtime_server_binary();
            include_to_one_row_rules(&Server::start_binary_postgres(binary, LOG_QUERIES));
            Ok(())
        }),
    ]);
    scenarios::main(trials, &[sqlite, postgres]);
}

/// The include queries' debug lines (`ssot::include`), and nothing else above the default level.
const LOG_QUERIES: &[(&str, &str)] = &[("RUST_LOG", "info,ssot::include=debug")];

fn message(s: &Server, author: &User, room: i64, text: &str) -> Value {
    s.post("/api/messages")
        .auth(&author.token)
        .json(json!({ "roomId": room, "text": text }))
        .send()
        .expect_json(201)
}

fn bookmark(s: &Server, owner: &User, message: &Value) -> Value {
    s.post("/api/bookmarks")
        .auth(&owner.token)
        .json(json!({ "messageId": message["id"] }))
        .send()
        .expect_json(201)
}

/// `GET path` with `include` (and `where` when given) as `token`'s caller; the JSON of a 200.
fn read(
    s: &Server,
    path: &str,
    token: Option<&str>,
    include: &str,
    filter: Option<Value>,
) -> Value {
    let mut req = s.get(path).auth_opt(token).query("include", include);
    if let Some(filter) = filter {
        req = req.query("where", &filter.to_string());
    }
    req.send().expect_json(200)
}

fn items(list: &Value) -> &Vec<Value> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a list has items: {list}"))
}

/// The item of a list with the id of `record`.
fn by_id<'a>(list: &'a Value, record: &Value) -> &'a Value {
    items(list)
        .iter()
        .find(|i| i["id"] == record["id"])
        .unwrap_or_else(|| panic!("{} is not in {list}", record["id"]))
}

fn sorted(mut texts: Vec<&str>) -> Vec<&str> {
    texts.sort_unstable();
    texts
}

fn texts(messages: &Value) -> Vec<&str> {
    messages
        .as_array()
        .unwrap_or_else(|| panic!("a to-many is a list: {messages}"))
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect()
}

/// A message's `author` and `room` are the referenced rows; a room's `messages` are the messages that refer to it;
/// a get includes as a list does; the plain record is unchanged besides the added relations.
fn include_to_one_and_to_many(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "inc-a");
    let b = new_user(s, &admin, "inc-b");
    let room = new_room(s, &a, "include room");
    let other_room = new_room(s, &b, "other room");
    let m1 = message(s, &a, room, "first");
    let m2 = message(s, &b, room, "second");
    message(s, &b, other_room, "elsewhere");

    let list = read(
        s,
        "/api/messages",
        Some(&a.token),
        "author,room",
        Some(json!({ "roomId": { "equals": room } })),
    );
    assert_eq!(list["total"], 2, "{list}");
    for (created, author) in [(&m1, &a), (&m2, &b)] {
        let item = by_id(&list, created);
        assert_eq!(item["author"]["id"], author.id.as_str(), "{item}");
        assert_eq!(
            item["author"]["name"],
            if author.id == a.id { "inc-a" } else { "inc-b" }
        );
        assert_eq!(item["room"]["id"], room, "{item}");
        assert_eq!(item["room"]["title"], "include room");
        let mut plain = item.clone();
        let fields = plain.as_object_mut().unwrap();
        fields.remove("author");
        fields.remove("room");
        assert_eq!(&plain, created, "the record itself is unchanged");
    }

    let got = read(
        s,
        &format!("/api/rooms/{room}"),
        Some(&a.token),
        "messages,owner",
        None,
    );
    assert_eq!(got["owner"]["id"], a.id.as_str(), "{got}");
    assert_eq!(
        sorted(texts(&got["messages"])),
        ["first", "second"],
        "{got}"
    );
    // A row with no related rows gets an empty list, not a missing field.
    let empty = new_room(s, &a, "empty");
    let got = read(
        s,
        &format!("/api/rooms/{empty}"),
        Some(&a.token),
        "messages",
        None,
    );
    assert_eq!(got["messages"], json!([]), "{got}");
    // Without `include`, nothing is added.
    let plain = s.get(&format!("/api/rooms/{room}")).send().expect_json(200);
    assert!(
        plain.get("messages").is_none() && plain.get("owner").is_none(),
        "{plain}"
    );
}

/// Each included row passes its own model's read rule: bookmarks (`read: owner`) show only the caller's, users
/// (`read: authenticated`) are `null` and messages (`read: authenticated`) left out for an anonymous caller of the
/// public rooms, and a user's hidden `passwordHash` never appears.
fn include_respects_read_rules(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "rule-a");
    let b = new_user(s, &admin, "rule-b");
    let room = new_room(s, &a, "rules");
    let m1 = message(s, &a, room, "marked by both");
    let m2 = message(s, &b, room, "marked by b");
    let mark_a = bookmark(s, &a, &m1);
    bookmark(s, &b, &m1);
    bookmark(s, &b, &m2);

    let filter = json!({ "roomId": { "equals": room } });
    let as_a = read(
        s,
        "/api/messages",
        Some(&a.token),
        "bookmarks,author",
        Some(filter.clone()),
    );
    assert_eq!(
        by_id(&as_a, &m1)["bookmarks"],
        json!([mark_a]),
        "only the caller's own"
    );
    assert_eq!(
        by_id(&as_a, &m2)["bookmarks"],
        json!([]),
        "only the caller's own"
    );
    for item in items(&as_a) {
        assert!(item["author"].is_object(), "{item}");
        assert!(
            item["author"].get("passwordHash").is_none(),
            "hidden field included: {item}"
        );
    }
    let as_b = read(
        s,
        "/api/messages",
        Some(&b.token),
        "bookmarks",
        Some(filter),
    );
    let counts: Vec<usize> = items(&as_b)
        .iter()
        .map(|m| m["bookmarks"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, [1, 1], "{as_b}");

    // Rooms are public; their owners and messages are not.
    let anonymous = read(
        s,
        &format!("/api/rooms/{room}"),
        None,
        "owner,messages",
        None,
    );
    assert_eq!(anonymous["owner"], Value::Null, "{anonymous}");
    assert_eq!(anonymous["messages"], json!([]), "{anonymous}");
    let signed_in = read(
        s,
        &format!("/api/rooms/{room}"),
        Some(&b.token),
        "owner.bookmarks",
        None,
    );
    assert_eq!(signed_in["owner"]["id"], a.id.as_str(), "{signed_in}");
    assert_eq!(
        signed_in["owner"]["bookmarks"],
        json!([]),
        "a's bookmarks are not b's to see"
    );
    assert!(
        signed_in["owner"].get("passwordHash").is_none(),
        "{signed_in}"
    );
}

/// A to-many's own `where`, `orderBy` and `take` apply to each parent's list separately (`take` per parent, not
/// per page), and `take` is capped by the server's maximum.
fn include_many_options(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "opt-a");
    let b = new_user(s, &admin, "opt-b");
    let rooms = [new_room(s, &a, "opt-1"), new_room(s, &a, "opt-2")];
    for room in rooms {
        for (i, author) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
            message(s, author, room, &format!("{room}-{i}"));
        }
    }
    let spec = json!({ "messages": {
        "where": { "authorId": { "equals": a.id } },
        "orderBy": { "text": "desc" },
        "take": 2,
    }});
    let list = read(
        s,
        "/api/rooms",
        Some(&a.token),
        &spec.to_string(),
        Some(json!({ "id": { "in": rooms } })),
    );
    for (room, item) in rooms.iter().zip(items(&list)) {
        assert_eq!(
            texts(&item["messages"]),
            [format!("{room}-4"), format!("{room}-2")],
            "{item}"
        );
    }
    let everything = json!({ "messages": { "take": 1_000_000 } }).to_string();
    let list = read(
        s,
        "/api/rooms",
        Some(&a.token),
        &everything,
        Some(json!({ "id": { "in": rooms } })),
    );
    assert!(
        items(&list)
            .iter()
            .all(|r| r["messages"].as_array().unwrap().len() == 5),
        "{list}"
    );
    let none = json!({ "messages": { "take": 0 } }).to_string();
    let list = read(
        s,
        "/api/rooms",
        Some(&a.token),
        &none,
        Some(json!({ "id": { "in": rooms } })),
    );
    assert!(
        items(&list).iter().all(|r| r["messages"] == json!([])),
        "{list}"
    );
}

/// Includes nest, in the path form and the object form alike, up to three levels.
fn include_nested(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "nest-a");
    let room = new_room(s, &a, "nested");
    let m = message(s, &a, room, "deep");
    let mark = bookmark(s, &a, &m);

    let by_path = read(
        s,
        &format!("/api/rooms/{room}"),
        Some(&a.token),
        "messages.author.bookmarks,owner",
        None,
    );
    let first = &by_path["messages"][0];
    assert_eq!(first["text"], "deep", "{by_path}");
    assert_eq!(first["author"]["id"], a.id.as_str());
    assert_eq!(first["author"]["bookmarks"], json!([mark]));
    assert_eq!(by_path["owner"]["id"], a.id.as_str());

    let spec = json!({ "messages": { "include": { "author": { "include": { "bookmarks": true } } } }, "owner": true });
    let by_object = read(
        s,
        &format!("/api/rooms/{room}"),
        Some(&a.token),
        &spec.to_string(),
        None,
    );
    assert_eq!(by_object, by_path);

    // Through a bookmark back to its message's room: a to-one chain.
    let list = read(
        s,
        "/api/bookmarks",
        Some(&a.token),
        "message.room.owner",
        None,
    );
    let got = items(&list).iter().find(|b| b["id"] == mark["id"]).unwrap();
    assert_eq!(
        got["message"]["room"]["owner"]["id"],
        a.id.as_str(),
        "{got}"
    );
}

/// Unknown relations, too deep nesting, options a to-one does not take and malformed specs are 400s that say
/// what is wrong, on lists and gets alike.
fn include_bad_requests(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "bad-inc");
    let room = new_room(s, &a, "bad include");
    let get = format!("/api/rooms/{room}");
    let bad = |path: &str, include: &str, naming: &str| {
        let r = s.get(path).auth(&a.token).query("include", include).send();
        let error = r.expect_error(400, "bad_request");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(naming),
            "{include:?}: the error should say {naming:?}\n{r:?}"
        );
    };
    bad(
        "/api/messages",
        "author,sender",
        "Message has no relation \"sender\"",
    );
    bad("/api/messages", "authorId", "no relation \"authorId\"");
    bad(&get, "messages.nope", "Message has no relation \"nope\"");
    bad(&get, "messages.author.messages.room", "at most 3 levels");
    bad(
        "/api/messages",
        r#"{"author":{"take":2}}"#,
        "only `include` applies",
    );
    bad(&get, r#"{"messages":{"limit":2}}"#, "unknown field `limit`");
    bad(
        &get,
        r#"{"messages":{"where":{"text":{"near":1}}}}"#,
        "`where` of Message",
    );
    bad(&get, r#"{"messages":{"take":-1}}"#, "0 or more");
    bad(&get, "messages,,owner", "not a relation path");
    bad(&get, "{not json", "invalid `include`");
    bad(&get, "[1]", "no relation");
    s.get(&get)
        .auth(&a.token)
        .query("select", "title")
        .send()
        .expect_error(400, "bad_request");
}

/// One query per relation and level for the whole page: the include queries the server logs do not grow with the
/// number of rows, and a list's own to-one relations are read by the page's statement: 20 messages by 20 authors in
/// 2 rooms with their authors and rooms are one statement (and the count).
fn one_query_per_level(s: &Server) {
    let admin = s.admin_token();
    let rooms: Vec<i64> = (0..2)
        .map(|i| {
            let owner = new_user(s, &admin, &format!("q-owner-{i}"));
            new_room(s, &owner, &format!("q-room-{i}"))
        })
        .collect();
    for i in 0..20 {
        let author = new_user(s, &admin, &format!("q-author-{i}"));
        message(s, &author, rooms[i % 2], &format!("q-{i}"));
    }
    let reader = new_user(s, &admin, "q-reader");
    // (include queries, pages with joined includes) of one list.
    let queries = |path: &str, include: &str| -> (usize, usize) {
        let before = include_queries(s);
        let joined_before = joined_pages(s);
        let body = s
            .get(path)
            .auth(&reader.token)
            .query("include", include)
            .query("take", "20")
            .send()
            .expect_json(200);
        assert!(!body.is_null());
        // The log is written by another process: wait until it stops growing.
        let mut seen = include_queries(s);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
            let now = include_queries(s);
            if now == seen && now > before {
                break;
            }
            seen = now;
        }
        (seen - before, joined_pages(s) - joined_before)
    };
    let list = s
        .get("/api/messages")
        .auth(&reader.token)
        .query("take", "20")
        .send()
        .expect_json(200);
    assert_eq!(items(&list).len(), 20);
    assert_eq!(queries("/api/messages", "author,room"), (0, 1));
    // The joined rows' own relations: one query each, for all of the page's authors and rooms.
    assert_eq!(
        queries("/api/messages", "author.messages,room.owner"),
        (2, 1)
    );
    // A to-many's to-one relations are not joined (only a page's are).
    assert_eq!(queries("/api/rooms", "messages.author"), (2, 0));
}

fn include_queries(s: &Server) -> usize {
    s.log().matches("include query").count()
}

fn joined_pages(s: &Server) -> usize {
    s.log().matches("page with joined includes").count()
}

/// A to-one to a model only its owner may read, through a self-reference (the runtime's schema: a note's
/// `parent`): the caller's own parent note is included, another user's is `null`, at every level; a to-many
/// leaves the other user's notes out. A list's `parent` is joined by the page's own statement, so the read rule is
/// checked in the join.
fn include_to_one_row_rules(s: &Server) {
    let admin = s.admin_token();
    let user = |name: &str| -> String {
        let body = s
            .post("/api/users")
            .auth(&admin)
            .json(json!({ "email": format!("{name}-{}@example.com", server_harness::unique()), "passwordHash": "x" }))
            .send()
            .expect_json(201);
        s.token(body["id"].as_str().unwrap(), &[])
    };
    let (a, b) = (user("rows-a"), user("rows-b"));
    let note = |token: &str, title: &str, parent: &Value| -> Value {
        s.post("/api/notes")
            .auth(token)
            .json(json!({ "title": title, "parentId": parent }))
            .send()
            .expect_json(201)
    };
    let a_root = note(&a, "a root", &Value::Null);
    let b_child = note(&b, "b child of a's", &a_root["id"]);
    let b_grandchild = note(&b, "b grandchild", &b_child["id"]);

    let as_b = read(s, "/api/notes", Some(&b), "parent.parent", None);
    assert_eq!(items(&as_b).len(), 2, "{as_b}");
    assert_eq!(
        by_id(&as_b, &b_child)["parent"],
        Value::Null,
        "another user's note is not included: {as_b}"
    );
    let parent = &by_id(&as_b, &b_grandchild)["parent"];
    let mut expected = b_child.clone();
    expected["parent"] = Value::Null;
    assert_eq!(
        parent, &expected,
        "the caller's own parent, whole, its parent null"
    );

    let as_a = read(s, "/api/notes", Some(&a), "parent,children", None);
    assert_eq!(items(&as_a).len(), 1, "{as_a}");
    assert_eq!(by_id(&as_a, &a_root)["parent"], Value::Null);
    assert_eq!(
        by_id(&as_a, &a_root)["children"],
        json!([]),
        "b's notes are not a's to read"
    );
    // The same page over a get and as b's own to-many.
    let got = read(
        s,
        &format!("/api/notes/{}", b_grandchild["id"]),
        Some(&b),
        "parent",
        None,
    );
    assert_eq!(got["parent"]["id"], b_child["id"], "{got}");
    let roots = read(s, "/api/notes", Some(&b), "children.parent", None);
    let children = &by_id(&roots, &b_child)["children"];
    assert_eq!(children.as_array().map(Vec::len), Some(1), "{roots}");
    assert_eq!(children[0]["parent"]["id"], b_child["id"], "{roots}");
    assert!(joined_pages(s) >= 2, "the lists' `parent` was joined");
}

/// A WebSocket `request` includes as REST does, in both forms, with the same read rules and the same 400s.
fn include_over_websocket(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "ws-a");
    let b = new_user(s, &admin, "ws-b");
    let room = new_room(s, &a, "ws include");
    let m = message(s, &a, room, "over the socket");
    bookmark(s, &b, &m);
    let mark = bookmark(s, &a, &m);
    let mut ws = Ws::connect(s, &a.token);

    let list = ws.request(
        1,
        "Message",
        "list",
        json!({ "where": { "roomId": { "equals": room } }, "include": "author,bookmarks" }),
    );
    let item = &list["data"]["items"][0];
    assert_eq!(item["author"]["id"], a.id.as_str(), "{list}");
    assert_eq!(
        item["bookmarks"],
        json!([mark]),
        "only the caller's bookmarks: {list}"
    );
    let got = ws.request(
        2,
        "Room",
        "get",
        json!({ "id": room, "include": { "messages": { "take": 1, "include": { "room": true } } } }),
    );
    assert_eq!(got["data"]["messages"][0]["room"]["id"], room, "{got}");
    assert!(got["seq"].as_u64().is_some(), "{got}");
    let bad = ws.request(3, "Room", "list", json!({ "include": "members" }));
    assert_eq!(bad["error"]["code"], "bad_request", "{bad}");
    assert!(bad.get("data").is_none(), "{bad}");
}

fn reply(s: &Server, author: &User, room: i64, to: &Value, text: &str) -> Value {
    s.post("/api/messages")
        .auth(&author.token)
        .json(json!({ "roomId": room, "text": text, "replyToId": to["id"] }))
        .send()
        .expect_json(201)
}

/// `(channel's model, kind, id)` of the updates `ws` receives up to and including the one with `seq`, checking that
/// seqs increase.
fn updates_until(ws: &mut Ws, seq: u64) -> Vec<(String, String, String)> {
    let mut seen = Vec::new();
    let mut last = 0;
    loop {
        let update = ws.update();
        let at = update["seq"].as_u64().expect("an update has a seq");
        assert!(at > last, "seqs increase: {update} after {last}");
        last = at;
        let model = update["channel"].as_str().unwrap_or_default();
        let model = model.split(':').next().unwrap_or_default().to_owned();
        let id = match &update["id"] {
            Value::String(id) => id.clone(),
            other => other.to_string(),
        };
        seen.push((
            model,
            update["kind"].as_str().unwrap_or_default().to_owned(),
            id,
        ));
        if at >= seq {
            assert_eq!(at, seq, "the delete's own event: {update}");
            return seen;
        }
    }
}

fn event(model: &str, kind: &str, id: &Value) -> (String, String, String) {
    let id = match id {
        Value::String(id) => id.clone(),
        other => other.to_string(),
    };
    (model.to_owned(), kind.to_owned(), id)
}

/// Deleting a room (`Message.roomId` has `onDelete: cascade`) deletes its messages and their bookmarks
/// (`Bookmark.messageId`: cascade) and clears replies to them from other rooms (`Message.replyToId`: setNull):
/// every such row has its event in the delete's transaction, before the room's own, each subscriber sees those it
/// may read, in seq order, and nothing stale is left to read.
fn delete_cascades_with_events(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "cascade-a");
    let b = new_user(s, &admin, "cascade-b");
    let room = new_room(s, &a, "to be deleted");
    let other = new_room(s, &b, "stays");
    let m1 = message(s, &a, room, "first");
    let m2 = reply(s, &b, room, &m1, "a reply in the same room");
    let m3 = message(s, &a, room, "third");
    let m4 = reply(s, &b, other, &m1, "a reply from another room");
    let b_mark = bookmark(s, &b, &m1);
    let a_mark = bookmark(s, &a, &m3);
    let kept = bookmark(s, &a, &m4);

    let mut on_a = Ws::connect(s, &a.token);
    let mut on_b = Ws::connect(s, &b.token);
    for ws in [&mut on_a, &mut on_b] {
        for channel in ["Room:list", "Message:list", "Bookmark:list"] {
            ws.subscribe(channel, None);
        }
    }

    let deleted = s
        .delete(&format!("/api/rooms/{room}"))
        .auth(&a.token)
        .send();
    deleted.expect(204);
    let seq: u64 = deleted
        .header("event-seq")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a delete answers its Event-Seq\n{deleted:?}"));

    // Depth first by relation name (`bookmarks`, then `replies`) and by id, each message after what referenced it.
    let room_id = json!(room);
    let mut messages = [&m1, &m2, &m3];
    messages.sort_by_key(|m| m["id"].as_str().unwrap_or_default().to_owned());
    let mut expected_a = Vec::new();
    let mut expected_b = Vec::new();
    for m in messages {
        for mark in [&a_mark, &b_mark] {
            if mark["messageId"] == m["id"] {
                let mine = if mark["ownerId"] == a.id.as_str() {
                    &mut expected_a
                } else {
                    &mut expected_b
                };
                mine.push(event("Bookmark", "deleted", &mark["id"]));
            }
        }
        for r in [&m2, &m4] {
            // m2 is cleared here only if m1 comes first; otherwise it is deleted before m1 is reached.
            let cleared = r["replyToId"] == m["id"]
                && (r["id"] == m4["id"] || m1["id"].as_str() < m2["id"].as_str());
            if cleared {
                for expected in [&mut expected_a, &mut expected_b] {
                    expected.push(event("Message", "updated", &r["id"]));
                }
            }
        }
        for expected in [&mut expected_a, &mut expected_b] {
            expected.push(event("Message", "deleted", &m["id"]));
        }
    }
    for expected in [&mut expected_a, &mut expected_b] {
        expected.push(event("Room", "deleted", &room_id));
    }
    assert_eq!(updates_until(&mut on_a, seq), expected_a, "a's subscriber");
    assert_eq!(updates_until(&mut on_b, seq), expected_b, "b's subscriber");
    on_a.expect_silence(std::time::Duration::from_millis(200));

    // Nothing stale is left, and what was outside the room stays.
    s.get(&format!("/api/rooms/{room}"))
        .send()
        .expect_error(404, "not_found");
    let left = read(
        s,
        "/api/messages",
        Some(&a.token),
        "bookmarks",
        Some(json!({ "roomId": { "equals": room } })),
    );
    assert_eq!(left["items"], json!([]), "{left}");
    for m in [&m1, &m2, &m3] {
        s.get(&format!("/api/messages/{}", m["id"].as_str().unwrap()))
            .auth(&a.token)
            .send()
            .expect_error(404, "not_found");
    }
    let m4_now = s
        .get(&format!("/api/messages/{}", m4["id"].as_str().unwrap()))
        .auth(&b.token)
        .send()
        .expect_json(200);
    assert_eq!(m4_now["replyToId"], Value::Null, "{m4_now}");
    let marks = s
        .get("/api/bookmarks")
        .auth(&a.token)
        .send()
        .expect_json(200);
    assert_eq!(marks["items"], json!([kept]), "{marks}");
    let marks = s
        .get("/api/bookmarks")
        .auth(&b.token)
        .send()
        .expect_json(200);
    assert_eq!(marks["items"], json!([]), "{marks}");
}

/// `restrict` (the default on `Room.ownerId`, `Message.authorId` and `Bookmark.ownerId`): deleting a user who
/// still owns rows is a 409 naming the relation, and changes nothing (no row, no event); once the rows are gone
/// the delete goes through.
fn delete_restricted_changes_nothing(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "restrict-a");
    let room = new_room(s, &a, "a's room");
    let mut watcher = Ws::connect(s, &admin);
    for channel in ["User:list", "Room:list", "Message:list"] {
        watcher.subscribe(channel, None);
    }
    let refused = s
        .delete(&format!("/api/users/{}", a.id))
        .auth(&admin)
        .send()
        .expect_error(409, "conflict");
    let text = refused["message"].as_str().unwrap_or_default();
    assert!(
        text.contains("`rooms`") && text.contains("Room.ownerId"),
        "{refused}"
    );
    watcher.expect_silence(std::time::Duration::from_millis(300));
    s.get(&format!("/api/rooms/{room}")).send().expect_json(200);
    s.get(&format!("/api/users/{}", a.id))
        .auth(&admin)
        .send()
        .expect_json(200);

    s.delete(&format!("/api/rooms/{room}"))
        .auth(&a.token)
        .send()
        .expect(204);
    assert_eq!(watcher.update()["kind"], "deleted");
    s.delete(&format!("/api/users/{}", a.id))
        .auth(&admin)
        .send()
        .expect(204);
    let gone = watcher.update();
    assert_eq!(
        (gone["kind"].as_str(), gone["id"].as_str()),
        (Some("deleted"), Some(a.id.as_str())),
        "{gone}"
    );
}

/// A tiny deterministic generator (xorshift): the same cases on every run and both databases.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The rows a relation filter test inserted, by model, as the server returned them.
struct Data {
    rows: std::collections::BTreeMap<&'static str, Vec<Value>>,
    /// The reader: bookmarks (owner-only) of other users are not there for it.
    caller: String,
}

/// A relation of the chat example as the filter sees it: (model, name) -> (target, to-many, this row's field,
/// the target's field).
fn relation(model: &str, name: &str) -> Option<(&'static str, bool, &'static str, &'static str)> {
    Some(match (model, name) {
        ("Room", "messages") => ("Message", true, "id", "roomId"),
        ("Room", "owner") => ("User", false, "ownerId", "id"),
        ("Message", "room") => ("Room", false, "roomId", "id"),
        ("Message", "author") => ("User", false, "authorId", "id"),
        ("Message", "bookmarks") => ("Bookmark", true, "id", "messageId"),
        // A relation of the model to itself (an optional reference).
        ("Message", "replyTo") => ("Message", false, "replyToId", "id"),
        ("Message", "replies") => ("Message", true, "id", "replyToId"),
        ("User", "messages") => ("Message", true, "id", "authorId"),
        ("User", "rooms") => ("Room", true, "id", "ownerId"),
        ("User", "bookmarks") => ("Bookmark", true, "id", "ownerId"),
        ("Bookmark", "message") => ("Message", false, "messageId", "id"),
        ("Bookmark", "owner") => ("User", false, "ownerId", "id"),
        _ => return None,
    })
}

impl Data {
    /// The filter evaluated on `row` of `model` by brute force: what the server's answer must be. The generated
    /// filters compare no nullable field, so two-valued logic is SQL's here.
    fn eval(&self, model: &str, row: &Value, filter: &Value) -> bool {
        filter.as_object().unwrap().iter().all(|(key, value)| {
            let subs = || value.as_array().unwrap().iter();
            match key.as_str() {
                "AND" => subs().all(|f| self.eval(model, row, f)),
                "OR" => {
                    value.as_array().unwrap().is_empty() || subs().any(|f| self.eval(model, row, f))
                }
                "NOT" => subs().all(|f| !self.eval(model, row, f)),
                _ => {
                    match relation(model, key) {
                        None => value.as_object().unwrap().iter().all(|(op, operand)| {
                            match op.as_str() {
                                "equals" => &row[key] == operand,
                                "contains" => row[key]
                                    .as_str()
                                    .unwrap()
                                    .contains(operand.as_str().unwrap()),
                                other => panic!("no operator {other} in the generator"),
                            }
                        }),
                        Some((target, _, local, remote)) => {
                            let related: Vec<&Value> = self.rows[target]
                                .iter()
                                .filter(|r| r[remote] == row[local] && self.readable(target, r))
                                .collect();
                            let matching = |f: &Value| {
                                related.iter().filter(|r| self.eval(target, r, f)).count()
                            };
                            value.as_object().unwrap().iter().all(|(op, f)| {
                                match (op.as_str(), f) {
                                    ("is", Value::Null) => related.is_empty(),
                                    ("isNot", Value::Null) => !related.is_empty(),
                                    ("is" | "some", f) => matching(f) > 0,
                                    ("isNot" | "none", f) => matching(f) == 0,
                                    ("every", f) => matching(f) == related.len(),
                                    (other, _) => {
                                        panic!("no relation operator {other} in the generator")
                                    }
                                }
                            })
                        }
                    }
                }
            }
        })
    }

    fn readable(&self, model: &str, row: &Value) -> bool {
        model != "Bookmark" || row["ownerId"] == self.caller.as_str()
    }

    /// A random filter on `model` whose relation filters nest at most `depth` more levels.
    fn filter(&self, rng: &mut Rng, model: &'static str, depth: usize, size: usize) -> Value {
        let mut filter = serde_json::Map::new();
        for _ in 0..=rng.below(2) {
            let choice = rng.below(if size == 0 { 2 } else { 5 });
            let relations: Vec<&str> = [
                "messages",
                "owner",
                "room",
                "author",
                "bookmarks",
                "rooms",
                "message",
                "replyTo",
                "replies",
            ]
            .into_iter()
            .filter(|r| relation(model, r).is_some())
            .collect();
            if choice == 1 && depth > 0 {
                let name = *rng.pick(&relations);
                let (target, many, _, _) = relation(model, name).unwrap();
                let inner = self.filter(rng, target, depth - 1, size.saturating_sub(1));
                let op = if many {
                    *rng.pick(&["some", "every", "none"])
                } else {
                    *rng.pick(&["is", "isNot"])
                };
                // Now and then `is: null` / `isNot: null`: no related row the caller may read.
                let operand = if !many && rng.below(6) == 0 {
                    Value::Null
                } else {
                    inner
                };
                filter.insert(name.to_owned(), json!({ op: operand }));
            } else if choice >= 2 {
                let key = *rng.pick(&["AND", "OR", "NOT"]);
                let subs: Vec<Value> = (0..=rng.below(2))
                    .map(|_| self.filter(rng, model, depth, size - 1))
                    .collect();
                filter.insert(key.to_owned(), Value::Array(subs));
            } else {
                let (field, operand) = match model {
                    "Room" => ("title", json!({ "contains": rng.pick(&["a", "b", "c"]) })),
                    "Message" => ("text", json!({ "contains": rng.pick(&["a", "b", "c"]) })),
                    "User" => {
                        let user = rng.pick(&self.rows["User"]);
                        ("name", json!({ "equals": user["name"] }))
                    }
                    _ => ("pinned", json!({ "equals": rng.below(2) == 0 })),
                };
                filter.insert(field.to_owned(), operand);
            }
        }
        Value::Object(filter)
    }
}

/// Relation filters (`is`, `isNot`, `is: null`, `some`, `every`, `none`, nested up to the limit, inside `AND`,
/// `OR` and `NOT`, with field filters) on random rooms, messages, users and bookmarks: the server's answer is the
/// brute-force evaluation of the same filter over the inserted rows, bookmarks of other users left out (owner-only).
fn relation_filters_match_brute_force(s: &Server) {
    let admin = s.admin_token();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let tag = format!("rf{}", server_harness::unique());
    let users: Vec<User> = (0..4)
        .map(|i| new_user(s, &admin, &format!("{tag}-{i}")))
        .collect();
    let mut rows: std::collections::BTreeMap<&'static str, Vec<Value>> = Default::default();
    rows.insert(
        "User",
        users
            .iter()
            .enumerate()
            .map(|(i, u)| json!({ "id": u.id, "name": format!("{tag}-{i}") }))
            .collect(),
    );
    let titles = ["ab", "bc", "ca", "a", "cc"];
    for title in titles {
        let owner = rng.pick(&users);
        let id = new_room(s, owner, title);
        rows.entry("Room")
            .or_default()
            .push(json!({ "id": id, "title": title, "ownerId": owner.id }));
    }
    let texts = ["a", "b", "ab", "bc", "abc", "c"];
    for _ in 0..14 {
        let room = rng.pick(&rows["Room"])["id"].as_i64().unwrap();
        let text = *rng.pick(&texts);
        let author = rng.pick(&users);
        // Half of the messages reply to an earlier one.
        let reply_to = match rows.get("Message") {
            Some(earlier) if rng.below(2) == 0 => rng.pick(earlier)["id"].clone(),
            _ => Value::Null,
        };
        let created = s
            .post("/api/messages")
            .auth(&author.token)
            .json(json!({ "roomId": room, "text": text, "replyToId": reply_to }))
            .send()
            .expect_json(201);
        rows.entry("Message").or_default().push(created);
    }
    for _ in 0..10 {
        let owner = rng.pick(&users);
        let on = rng.pick(&rows["Message"])["id"].clone();
        let pinned = rng.below(2) == 0;
        let created = s
            .post("/api/bookmarks")
            .auth(&owner.token)
            .json(json!({ "messageId": on, "pinned": pinned }))
            .send()
            .expect_json(201);
        rows.entry("Bookmark").or_default().push(created);
    }
    let caller = &users[0];
    let data = Data {
        rows,
        caller: caller.id.clone(),
    };
    let mut matched = 0;
    for case in 0..150 {
        let (model, path) = *rng.pick(&[
            ("Room", "/api/rooms"),
            ("Message", "/api/messages"),
            ("User", "/api/users"),
        ]);
        let filter = data.filter(&mut rng, model, 3, 2);
        let mine: Vec<&Value> = data.rows[model].iter().map(|r| &r["id"]).collect();
        let scoped = json!({ "AND": [{ "id": { "in": mine } }, filter] });
        let list = s
            .get(path)
            .auth(&caller.token)
            .query("where", &scoped.to_string())
            .query("take", "100")
            .send()
            .expect_json(200);
        let mut got: Vec<String> = items(&list).iter().map(|r| r["id"].to_string()).collect();
        let mut want: Vec<String> = data.rows[model]
            .iter()
            .filter(|r| data.eval(model, r, &filter))
            .map(|r| r["id"].to_string())
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "case {case}: {model} where {filter}");
        matched += want.len();
    }
    // The cases are not all empty answers (nor all full ones).
    assert!(matched > 100, "{matched} rows matched in all");
}

/// A filter through an owner-only model (bookmarks) sees only the caller's own rows: `some` finds no message
/// bookmarked only by someone else, `none` and `every` ignore other users' bookmarks; the same over a WebSocket
/// `request`, and through a to-many's `where` in an include.
fn relation_filters_respect_read_rules(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "rf-owner-a");
    let b = new_user(s, &admin, "rf-owner-b");
    let room = new_room(s, &a, "rf owner room");
    let secret = message(s, &a, room, "bookmarked by b only");
    let own = message(s, &a, room, "bookmarked by a");
    bookmark(s, &b, &secret);
    bookmark(s, &a, &own);
    let in_room = |extra: Value| json!({ "AND": [{ "roomId": { "equals": room } }, extra] });
    let ids = |token: &str, filter: Value| -> Vec<Value> {
        let list = s
            .get("/api/messages")
            .auth(token)
            .query("where", &in_room(filter).to_string())
            .send()
            .expect_json(200);
        items(&list).iter().map(|m| m["id"].clone()).collect()
    };
    let some = json!({ "bookmarks": { "some": {} } });
    assert_eq!(ids(&a.token, some.clone()), [own["id"].clone()]);
    assert_eq!(ids(&b.token, some.clone()), [secret["id"].clone()]);
    let none = json!({ "bookmarks": { "none": {} } });
    assert_eq!(ids(&a.token, none), [secret["id"].clone()]);
    // `every` bookmark unpinned: for `a`, `secret` has no bookmark it can read (vacuously true) and `own` has one.
    let every = json!({ "bookmarks": { "every": { "pinned": { "equals": true } } } });
    assert_eq!(ids(&a.token, every), [secret["id"].clone()]);
    // A related row the filter leaves unknown (a comparison with a null note) fails `every`, as it is not selected.
    let unknown = json!({ "bookmarks": { "every": { "note": { "equals": "x" } } } });
    assert_eq!(ids(&a.token, unknown), [secret["id"].clone()]);
    // Through two levels: rooms with a message that someone bookmarked, as `a` sees it.
    let rooms = s
        .get("/api/rooms")
        .auth(&a.token)
        .query(
            "where",
            &json!({ "id": { "equals": room }, "messages": { "some": { "bookmarks": { "some": { "ownerId": { "equals": b.id } } } } } })
                .to_string(),
        )
        .send()
        .expect_json(200);
    assert_eq!(
        rooms["total"], 0,
        "b's bookmark shows through a's filter: {rooms}"
    );
    // Without a token, messages (read: authenticated) are no related rows: a room has none of them.
    let anonymous = s
        .get("/api/rooms")
        .query(
            "where",
            &json!({ "id": { "equals": room }, "messages": { "some": {} } }).to_string(),
        )
        .send()
        .expect_json(200);
    assert_eq!(anonymous["total"], 0, "{anonymous}");
    // The WebSocket `request` compiles the same filter.
    let mut ws = Ws::connect(s, &a.token);
    let answer = ws.request(
        1,
        "Message",
        "list",
        json!({ "where": in_room(some.clone()) }),
    );
    let got: Vec<Value> = items(&answer["data"])
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(got, [own["id"].clone()], "{answer}");
    // A to-many's `where` in an include takes relation filters too.
    let with = read(
        s,
        &format!("/api/rooms/{room}"),
        Some(&a.token),
        &json!({ "messages": { "where": some } }).to_string(),
        None,
    );
    assert_eq!(texts(&with["messages"]), ["bookmarked by a"], "{with}");
}

/// Unknown relations and operators, and relation filters nested too deep, are 400s that say what is wrong.
fn relation_filter_bad_requests(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "rf-bad");
    let bad = |path: &str, filter: Value, naming: &str| {
        let r = s
            .get(path)
            .auth(&a.token)
            .query("where", &filter.to_string())
            .send();
        let error = r.expect_error(400, "bad_request");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(naming),
            "{filter}: should say {naming:?}\n{r:?}"
        );
    };
    bad(
        "/api/messages",
        json!({ "sender": { "is": {} } }),
        "unknown field `sender`",
    );
    bad(
        "/api/messages",
        json!({ "author": { "some": {} } }),
        "unknown field `some`",
    );
    bad(
        "/api/rooms",
        json!({ "messages": { "is": {} } }),
        "unknown field `is`",
    );
    bad(
        "/api/rooms",
        json!({ "messages": { "some": { "text": { "near": "x" } } } }),
        "unknown field `near`",
    );
    bad(
        "/api/rooms",
        json!({ "messages": { "some": { "author": { "is": { "messages": { "some": { "room": { "is": {} } } } } } } } }),
        "`messages.author.messages.room` is nested 4 levels deep",
    );
    // Three levels are fine, and so is the deep filter inside `NOT`/`OR` at that depth.
    let ok = json!({ "OR": [{ "messages": { "some": { "author": { "is": { "rooms": { "none": {} } } } } } }] });
    s.get("/api/rooms")
        .auth(&a.token)
        .query("where", &ok.to_string())
        .send()
        .expect_json(200);
}
