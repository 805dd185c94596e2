//! End-to-end tests of the generated REST server (`docs/rest.md`), on the chat example: the server is built once,
//! started once on a fresh SQLite file and once on a fresh PostgreSQL database, and every scenario is a test of its
//! own on each (`sqlite::filters`, `postgres::filters`; `cargo test --test server filters` runs both). Tests that
//! need a server of their own start it themselves. Runs with libtest-mimic (`tests/common/scenarios.rs`).

mod common;
#[path = "common/scenarios.rs"]
mod scenarios;
#[path = "common/server.rs"]
mod server_harness;

use std::collections::BTreeSet;

use serde_json::{json, Value};

use scenarios::{Backend, Scenario, Shared};
use server_harness::{
    fake_uuid, handmade_jwt, new_room, new_user, now_secs, token_with_secret, unique, Server, User,
};

const SCENARIOS: &[(&str, Scenario)] = &[
    ("health_and_openapi", health_and_openapi),
    ("owner_only_reads", owner_only_reads),
    ("hooks_run", hooks_run),
    ("crud_rooms_and_messages", crud_rooms_and_messages),
    ("filters", filters),
    ("paging", paging),
    ("access_rules", access_rules),
    ("owner_from_token", owner_from_token),
    ("hidden_fields", hidden_fields),
    ("bad_requests", bad_requests),
    ("concurrent_mutations", concurrent_mutations),
    (
        "concurrent_creates_each_get_their_own_answer",
        concurrent_creates_each_get_their_own_answer,
    ),
    ("error_shape_of_405", error_shape_of_405),
    (
        "wrong_type_in_filter_is_named",
        wrong_type_in_filter_is_named,
    ),
    (
        "null_for_required_field_in_patch",
        null_for_required_field_in_patch,
    ),
    (
        "failed_mutations_write_no_event",
        failed_mutations_write_no_event,
    ),
    ("datetimes_out_of_range", datetimes_out_of_range),
    (
        "oversized_body_is_answered_while_it_is_sent",
        oversized_body_is_answered_while_it_is_sent,
    ),
];

fn main() {
    let sqlite = Shared::new(Backend::Sqlite, Server::start_sqlite);
    let postgres = Shared::new(Backend::Postgres, Server::start_postgres);
    let mut trials = sqlite.trials(SCENARIOS);
    trials.extend(postgres.trials(SCENARIOS));
    trials.extend([
        scenarios::test(
            Backend::Postgres,
            "ready_without_the_database",
            ready_without_the_database,
        ),
        scenarios::test(
            Backend::Sqlite,
            "request_logs_only_when_asked",
            request_logs_only_when_asked,
        ),
        scenarios::test(
            Backend::Sqlite,
            "acknowledged_writes_survive_kill_9",
            || acknowledged_writes_survive_kill_9(Server::start_sqlite()),
        ),
        scenarios::test(
            Backend::Postgres,
            "acknowledged_writes_survive_kill_9",
            || acknowledged_writes_survive_kill_9(Server::start_postgres()),
        ),
        scenarios::test(
            Backend::Sqlite,
            "wal_is_checkpointed_in_the_background",
            wal_is_checkpointed_in_the_background,
        ),
    ]);
    scenarios::main(trials, &[sqlite, postgres]);
}

/// `/ready` answers 503 when the database does not (the database is dropped under a running server), and says
/// so; `/health` (liveness) still answers 200: restarting the process would not bring the database back.
fn ready_without_the_database() -> Result<(), libtest_mimic::Failed> {
    let server = Server::start_postgres();
    scenarios::run_logged(&server, || {
        server.get("/ready").send().expect_json(200);
        server.drop_database_now();
        let r = server.get("/ready").send();
        assert_eq!(r.status, 503, "ready without a database\n{r:?}");
        let body = r.expect_json(503);
        assert_eq!(
            (&body["status"], &body["database"], &body["migrations"]),
            (
                &json!("unavailable"),
                &json!("unavailable"),
                &json!("unknown")
            ),
            "{body}"
        );
        assert_eq!(
            server.get("/health").send().expect_json(200),
            json!({ "status": "ok" })
        );
    })
}

/// The server is killed (SIGKILL) while 8 writers create messages as fast as it answers: after a restart every
/// acknowledged create is there with the event its `Event-Seq` named, and no event exists without its row. On
/// SQLite the writes were committed in groups; a response means committed, a batch commits whole or not at all.
fn acknowledged_writes_survive_kill_9(mut s: Server) -> Result<(), libtest_mimic::Failed> {
    let admin = s.admin_token();
    let a = new_user(&s, &admin, "crash");
    let room = new_room(&s, &a, "crash");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let acknowledged: Vec<(String, u64)> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..8)
            .map(|t| {
                let (s, a, stop) = (&s, &a, &stop);
                scope.spawn(move || {
                    let mut acknowledged = Vec::new();
                    for i in 0.. {
                        let sent = s
                            .post("/api/messages")
                            .auth(&a.token)
                            .json(json!({ "roomId": room, "text": format!("w{t} {i}") }))
                            .try_send();
                        match sent {
                            Ok(r) if r.status == 201 => {
                                acknowledged.push((id_of(&r.expect_json(201)), r.event_seq()))
                            }
                            Ok(r) => panic!("not a create: {r:?}"),
                            // The server is gone: whatever was in flight may or may not have committed.
                            Err(_) if stop.load(std::sync::atomic::Ordering::Acquire) => break,
                            Err(e) => panic!("{e}"),
                        }
                    }
                    acknowledged
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(700));
        stop.store(true, std::sync::atomic::Ordering::Release);
        // `Server::kill` needs `&mut`, which the writers' borrows forbid: the same signal, by pid.
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &s.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        acknowledged.len() > 50,
        "only {} writes before the kill",
        acknowledged.len()
    );
    s.restart();
    scenarios::run_logged(&s, || {
        for (id, seq) in &acknowledged {
            s.get(&format!("/api/messages/{id}"))
                .auth(&a.token)
                .send()
                .expect_json(200);
            assert_eq!(
                s.sql(&format!(
                    "SELECT kind, record_id FROM _ssot_events WHERE seq = {seq}"
                )),
                format!("created|{id}"),
                "the event of an acknowledged write"
            );
        }
        let orphans = s.sql(&format!(
            "SELECT count(*) FROM _ssot_events e WHERE e.model = 'Message' AND NOT EXISTS \
             (SELECT 1 FROM messages m WHERE {} = e.record_id)",
            if s.is_postgres() {
                "m.id::text"
            } else {
                "m.id"
            }
        ));
        assert_eq!(orphans, "0", "events without their rows");
        let rows = s.sql(&format!(
            "SELECT count(*) FROM messages WHERE room_id = {room}"
        ));
        let events =
            s.sql("SELECT count(*) FROM _ssot_events WHERE model = 'Message' AND kind = 'created'");
        assert_eq!(rows, events, "every row has its event");
    })
}

/// A log line per request only when `RUST_LOG` asks for tower_http's: the layer that writes them is left out
/// otherwise (it cost a clock read and a span per request).
fn request_logs_only_when_asked() -> Result<(), libtest_mimic::Failed> {
    const LINE: &str = "finished processing request";
    let quiet = Server::start_sqlite();
    quiet.get("/health").send().expect_json(200);
    let verbose = Server::start_sqlite_with(&[("RUST_LOG", "info,tower_http=debug")]);
    verbose.get("/health").send().expect_json(200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !verbose.log().contains(LINE) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        verbose.log().contains(LINE),
        "no request line with tower_http=debug:\n{}",
        verbose.log()
    );
    assert!(
        !quiet.log().contains(LINE),
        "a request line at the default level:\n{}",
        quiet.log()
    );
    Ok(())
}

/// SQLite: requests write on the async worker threads, so the writer's automatic checkpoint (which would run
/// inside a request's commit and sync the file there) is off, and a thread of its own checkpoints the WAL. The
/// WAL's header counts the times the WAL started over, which a write does only after a complete checkpoint.
fn wal_is_checkpointed_in_the_background() -> Result<(), libtest_mimic::Failed> {
    let s = Server::start_sqlite();
    let server_harness::Backend::Sqlite(db) = &s.backend else {
        unreachable!("a SQLite server")
    };
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    // Offset 12 of the WAL header: the checkpoint sequence number (big-endian), counting the restarts.
    let restarts = || {
        let header = std::fs::read(&wal).unwrap_or_else(|e| panic!("{}: {e}", wal.display()));
        u32::from_be_bytes(header[12..16].try_into().expect("a WAL header"))
    };
    let admin = s.admin_token();
    let owner = new_user(&s, &admin, "wal");
    let before = restarts();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut writes = 0;
    while restarts() == before && std::time::Instant::now() < deadline {
        new_room(&s, &owner, &format!("wal {writes}"));
        writes += 1;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        restarts() > before,
        "the WAL never started over in {writes} writes over 10 s: nothing checkpointed it\n{}",
        s.log()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

fn new_message(
    s: &Server,
    author: &User,
    room: i64,
    text: &str,
    edited_at: Option<&str>,
) -> String {
    let mut body = json!({ "roomId": room, "text": text });
    if let Some(at) = edited_at {
        body["editedAt"] = json!(at);
    }
    let body = s
        .post("/api/messages")
        .auth(&author.token)
        .json(body)
        .send()
        .expect_json(201);
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("message id should be a uuid string: {body}"))
        .to_owned()
}

/// An id as a string, whether the JSON has a number or a string.
fn id_of(record: &Value) -> String {
    match &record["id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("record without an id: {other} in {record}"),
    }
}

fn items(list: &Value) -> &Vec<Value> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a list has `items`: {list}"))
}

/// Asserts the list shape `{items, total, skip, take}`.
#[track_caller]
fn check_list_shape(list: &Value) {
    let obj = list
        .as_object()
        .unwrap_or_else(|| panic!("a list is an object: {list}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["items", "skip", "take", "total"],
        "list shape: {list}"
    );
    assert!(
        list["total"].is_u64() && list["skip"].is_u64() && list["take"].is_u64(),
        "{list}"
    );
}

fn uuid_like(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 36
            && s.chars().enumerate().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    })
}

/// Whether a datetime on the wire is the given UTC instant (`expected` like `2024-01-02T03:04:05Z`), whatever the
/// fraction digits and `Z`/`+00:00` spelling.
fn same_instant(actual: &Value, expected: &str) -> bool {
    let Some(actual) = actual.as_str() else {
        return false;
    };
    let base = &expected[..19];
    let Some(rest) = actual.strip_prefix(base) else {
        return false;
    };
    let rest = rest
        .strip_prefix('.')
        .map_or(rest, |r| r.trim_start_matches('0'));
    rest == "Z" || rest == "+00:00"
}

fn absent_or_null(record: &Value, field: &str) -> bool {
    record.get(field).is_none_or(Value::is_null)
}

// ---------------------------------------------------------------------------------------------------------------
// 9. Health and OpenAPI

fn health_and_openapi(s: &Server) {
    let health = s.get("/health").send().expect_json(200);
    assert_eq!(health, json!({ "status": "ok" }));
    let ready = s.get("/ready").send().expect_json(200);
    assert_eq!(
        ready,
        json!({ "status": "ok", "database": "ok", "migrations": "ok", "events": "ok" })
    );

    let r = s.get("/openapi.json").send();
    let doc = r.expect_json(200);
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("3.1"),
        "openapi should be 3.1.x, is {version:?}"
    );
    let paths = doc["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("openapi.json has paths: {}", r.body));
    for path in [
        "/api/users",
        "/api/users/{id}",
        "/api/rooms",
        "/api/rooms/{id}",
        "/api/messages",
        "/api/messages/{id}",
    ] {
        assert!(
            paths.contains_key(path),
            "openapi.json lacks {path}: {:?}",
            paths.keys()
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 1. CRUD

fn crud_rooms_and_messages(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "crud");
    let mut seqs = Vec::new();

    // Room: create, get, put, patch.
    let r = s
        .post("/api/rooms")
        .auth(&a.token)
        .json(json!({ "title": "General" }))
        .send();
    let room = r.expect_json(201);
    let room_id = room["id"].as_i64().unwrap_or_else(|| panic!("{r:?}"));
    assert_eq!(
        room,
        json!({ "id": room_id, "title": "General", "ownerId": a.id }),
        "{r:?}"
    );
    assert_eq!(
        r.header("location"),
        Some(format!("/api/rooms/{room_id}").as_str()),
        "{r:?}"
    );
    seqs.push(r.event_seq());
    let room_path = format!("/api/rooms/{room_id}");

    let got = s.get(&room_path).auth(&a.token).send().expect_json(200);
    assert_eq!(got, room);
    // Rooms are `read: public`.
    let got = s.get(&room_path).send().expect_json(200);
    assert_eq!(got, room);

    let r = s
        .put(&room_path)
        .auth(&a.token)
        .json(json!({ "title": "Renamed" }))
        .send();
    assert_eq!(
        r.expect_json(200),
        json!({ "id": room_id, "title": "Renamed", "ownerId": a.id })
    );
    seqs.push(r.event_seq());

    let r = s
        .patch(&room_path)
        .auth(&a.token)
        .json(json!({ "title": "Patched" }))
        .send();
    assert_eq!(
        r.expect_json(200),
        json!({ "id": room_id, "title": "Patched", "ownerId": a.id })
    );
    seqs.push(r.event_seq());
    assert_eq!(
        s.get(&room_path).send().expect_json(200)["title"],
        "Patched"
    );

    // Message: create, get, put, patch (an absent field stays, `null` clears), delete.
    let r = s
        .post("/api/messages")
        .auth(&a.token)
        .json(json!({ "roomId": room_id, "text": "hello" }))
        .send();
    let msg = r.expect_json(201);
    let msg_id = msg["id"].as_str().unwrap_or_default().to_owned();
    assert!(uuid_like(&msg["id"]), "generated uuid id: {r:?}");
    assert_eq!(msg["roomId"], json!(room_id), "{r:?}");
    assert_eq!(msg["authorId"], json!(a.id), "{r:?}");
    assert_eq!(msg["text"], "hello", "{r:?}");
    assert!(absent_or_null(&msg, "editedAt"), "{r:?}");
    assert!(
        msg["createdAt"].is_string(),
        "createdAt is set by the database: {r:?}"
    );
    assert_eq!(
        r.header("location"),
        Some(format!("/api/messages/{msg_id}").as_str()),
        "{r:?}"
    );
    seqs.push(r.event_seq());
    let msg_path = format!("/api/messages/{msg_id}");

    assert_eq!(s.get(&msg_path).auth(&a.token).send().expect_json(200), msg);

    let r = s
        .put(&msg_path)
        .auth(&a.token)
        .json(json!({ "roomId": room_id, "text": "edited", "editedAt": "2024-01-02T03:04:05Z" }))
        .send();
    let put = r.expect_json(200);
    assert_eq!(put["id"], msg["id"], "{r:?}");
    assert_eq!(put["text"], "edited", "{r:?}");
    assert!(
        same_instant(&put["editedAt"], "2024-01-02T03:04:05Z"),
        "{r:?}"
    );
    assert_eq!(
        put["createdAt"], msg["createdAt"],
        "readonly createdAt is kept: {r:?}"
    );
    assert_eq!(put["authorId"], json!(a.id), "the owner is kept: {r:?}");
    seqs.push(r.event_seq());

    let r = s
        .patch(&msg_path)
        .auth(&a.token)
        .json(json!({ "text": "patched" }))
        .send();
    let patched = r.expect_json(200);
    assert_eq!(patched["text"], "patched", "{r:?}");
    assert!(
        same_instant(&patched["editedAt"], "2024-01-02T03:04:05Z"),
        "a field absent from a PATCH is kept: {r:?}"
    );
    assert_eq!(patched["roomId"], json!(room_id), "{r:?}");
    seqs.push(r.event_seq());

    let r = s
        .patch(&msg_path)
        .auth(&a.token)
        .json(json!({ "editedAt": null }))
        .send();
    let cleared = r.expect_json(200);
    assert!(
        absent_or_null(&cleared, "editedAt"),
        "`editedAt: null` clears it: {r:?}"
    );
    assert_eq!(cleared["text"], "patched", "{r:?}");
    seqs.push(r.event_seq());
    let got = s.get(&msg_path).auth(&a.token).send().expect_json(200);
    assert_eq!(got, cleared, "the cleared value is stored");

    let r = s.delete(&msg_path).auth(&a.token).send();
    r.expect(204);
    assert!(r.body.is_empty(), "204 has no body: {r:?}");
    seqs.push(r.event_seq());
    s.get(&msg_path)
        .auth(&a.token)
        .send()
        .expect_error(404, "not_found");
    s.delete(&msg_path)
        .auth(&a.token)
        .send()
        .expect_error(404, "not_found");
    s.patch(&msg_path)
        .auth(&a.token)
        .json(json!({ "text": "x" }))
        .send()
        .expect_error(404, "not_found");

    let r = s.delete(&room_path).auth(&a.token).send();
    r.expect(204);
    seqs.push(r.event_seq());
    s.get(&room_path).send().expect_error(404, "not_found");

    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "Event-Seq increases across mutations: {seqs:?}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Filters

fn filters(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "filter-a");
    let b = new_user(s, &admin, "filter-b");
    let ra = new_room(s, &a, "fa");
    let rb = new_room(s, &a, "fb");
    let rc = new_room(s, &a, "fc");
    assert!(
        ra < rb && rb < rc,
        "autoincrement ids increase: {ra} {rb} {rc}"
    );

    // Code point order of the texts: "50% off_now" < "Apple tart" < "apple pie" < "banana split" < "cherry apple"
    // < "date" < "zebra".
    let rows: [(i64, &User, &str, Option<&str>); 7] = [
        (ra, &a, "apple pie", None),                            // 1
        (ra, &a, "Apple tart", Some("2024-01-01T00:00:00Z")),   // 2
        (rb, &a, "banana split", Some("2024-06-01T00:00:00Z")), // 3
        (rb, &a, "cherry apple", None),                         // 4
        (rc, &a, "date", Some("2025-01-01T00:00:00Z")),         // 5
        (rc, &a, "50% off_now", None),                          // 6
        (ra, &b, "zebra", Some("2023-01-01T00:00:00Z")),        // 7
    ];
    let ids: Vec<String> = rows
        .iter()
        .map(|(room, user, text, at)| new_message(s, user, *room, text, *at))
        .collect();
    let m = |n: usize| ids[n - 1].clone();
    let scope = json!({ "roomId": { "in": [ra, rb, rc] } });

    let check = |filter: Value, expected: &[usize]| {
        let filter_text = filter.to_string();
        let r = s
            .get("/api/messages")
            .auth(&a.token)
            .query("where", &json!({ "AND": [scope, filter] }).to_string())
            .query("take", "100")
            .send();
        let list = r.expect_json(200);
        check_list_shape(&list);
        let got: BTreeSet<usize> = items(&list)
            .iter()
            .map(|item| {
                let id = id_of(item);
                ids.iter()
                    .position(|x| *x == id)
                    .map(|p| p + 1)
                    .unwrap_or_else(|| {
                        panic!("{filter_text}: a row from outside the scope: {item}")
                    })
            })
            .collect();
        let want: BTreeSet<usize> = expected.iter().copied().collect();
        assert_eq!(
            got, want,
            "where {filter_text} (rows by number, see `rows`)\n{r:?}"
        );
        assert_eq!(
            list["total"],
            json!(expected.len()),
            "total for {filter_text}\n{r:?}"
        );
    };

    // Text: every operator, case-sensitive, by code point, LIKE wildcards taken literally.
    check(json!({ "text": { "equals": "date" } }), &[5]);
    check(json!({ "text": { "not": "date" } }), &[1, 2, 3, 4, 6, 7]);
    check(
        json!({ "text": { "in": ["date", "apple pie", "nope"] } }),
        &[1, 5],
    );
    check(
        json!({ "text": { "notIn": ["date", "apple pie"] } }),
        &[2, 3, 4, 6, 7],
    );
    check(json!({ "text": { "in": [] } }), &[]);
    check(json!({ "text": { "notIn": [] } }), &[1, 2, 3, 4, 5, 6, 7]);
    check(json!({ "text": { "lt": "apple pie" } }), &[2, 6]);
    check(json!({ "text": { "lte": "apple pie" } }), &[1, 2, 6]);
    check(json!({ "text": { "gt": "cherry apple" } }), &[5, 7]);
    check(json!({ "text": { "gte": "cherry apple" } }), &[4, 5, 7]);
    check(json!({ "text": { "gte": "a", "lt": "b" } }), &[1]); // "Apple tart" < "a" by code point
    check(json!({ "text": { "gte": "b", "lt": "d" } }), &[3, 4]);
    check(json!({ "text": { "contains": "apple" } }), &[1, 4]);
    check(json!({ "text": { "contains": "App" } }), &[2]);
    check(json!({ "text": { "contains": "APPLE" } }), &[]);
    check(json!({ "text": { "startsWith": "apple" } }), &[1]);
    check(json!({ "text": { "startsWith": "A" } }), &[2]);
    check(json!({ "text": { "endsWith": "apple" } }), &[4]);
    check(json!({ "text": { "endsWith": "e" } }), &[1, 4, 5]);
    check(json!({ "text": { "contains": "%" } }), &[6]);
    check(json!({ "text": { "contains": "_" } }), &[6]);
    check(json!({ "text": { "startsWith": "a_p" } }), &[]);
    check(json!({ "text": { "endsWith": "%" } }), &[]);

    // Int (a reference).
    check(json!({ "roomId": { "equals": ra } }), &[1, 2, 7]);
    check(json!({ "roomId": { "not": ra } }), &[3, 4, 5, 6]);
    check(json!({ "roomId": { "in": [ra, rc] } }), &[1, 2, 5, 6, 7]);
    check(json!({ "roomId": { "notIn": [ra] } }), &[3, 4, 5, 6]);
    check(json!({ "roomId": { "lt": rb } }), &[1, 2, 7]);
    check(json!({ "roomId": { "lte": rb } }), &[1, 2, 3, 4, 7]);
    check(json!({ "roomId": { "gt": rb } }), &[5, 6]);
    check(json!({ "roomId": { "gte": rb } }), &[3, 4, 5, 6]);

    // Uuid: the owner and the id.
    check(json!({ "authorId": { "equals": b.id } }), &[7]);
    check(json!({ "authorId": { "not": a.id } }), &[7]);
    check(json!({ "authorId": { "in": [b.id, fake_uuid()] } }), &[7]);
    check(
        json!({ "authorId": { "notIn": [b.id] } }),
        &[1, 2, 3, 4, 5, 6],
    );
    check(json!({ "id": { "equals": m(3) } }), &[3]);
    check(json!({ "id": { "equals": m(3).to_uppercase() } }), &[3]);
    check(json!({ "id": { "not": m(3) } }), &[1, 2, 4, 5, 6, 7]);
    check(json!({ "id": { "in": [m(1), m(5)] } }), &[1, 5]);
    check(json!({ "id": { "notIn": [m(1), m(5)] } }), &[2, 3, 4, 6, 7]);

    // Optional datetime: ordered operators, any offset, isNull.
    check(
        json!({ "editedAt": { "equals": "2024-06-01T00:00:00Z" } }),
        &[3],
    );
    check(
        json!({ "editedAt": { "equals": "2024-06-01T02:00:00+02:00" } }),
        &[3],
    );
    check(
        json!({ "editedAt": { "in": ["2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"] } }),
        &[2, 5],
    );
    check(
        json!({ "editedAt": { "lt": "2024-06-01T00:00:00Z" } }),
        &[2, 7],
    );
    check(
        json!({ "editedAt": { "lte": "2024-06-01T00:00:00Z" } }),
        &[2, 3, 7],
    );
    check(
        json!({ "editedAt": { "gt": "2024-06-01T00:00:00Z" } }),
        &[5],
    );
    check(
        json!({ "editedAt": { "gte": "2024-06-01T00:00:00Z" } }),
        &[3, 5],
    );
    check(
        json!({ "editedAt": { "gt": "2024-05-31T23:59:59.999Z" } }),
        &[3, 5],
    );
    check(json!({ "editedAt": { "isNull": true } }), &[1, 4, 6]);
    check(json!({ "editedAt": { "isNull": false } }), &[2, 3, 5, 7]);
    // Required datetime.
    check(
        json!({ "createdAt": { "gte": "2000-01-01T00:00:00Z" } }),
        &[1, 2, 3, 4, 5, 6, 7],
    );
    check(
        json!({ "createdAt": { "lt": "2000-01-01T00:00:00Z" } }),
        &[],
    );

    // Combinators.
    check(
        json!({ "AND": [{ "text": { "contains": "a" } }, { "roomId": { "equals": rc } }] }),
        &[5],
    );
    check(
        json!({ "OR": [{ "text": { "equals": "date" } }, { "roomId": { "equals": ra } }] }),
        &[1, 2, 5, 7],
    );
    check(
        json!({ "NOT": [{ "roomId": { "equals": ra } }] }),
        &[3, 4, 5, 6],
    );
    check(
        json!({ "OR": [
            { "AND": [{ "authorId": { "equals": a.id } }, { "editedAt": { "isNull": true } }] },
            { "NOT": [{ "text": { "lt": "zebra" } }] }
        ] }),
        &[1, 4, 6, 7],
    );
    // Several fields in one filter all apply.
    check(
        json!({ "roomId": { "equals": ra }, "text": { "startsWith": "A" } }),
        &[2],
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Paging

fn paging(s: &Server) {
    const ROWS: usize = 105; // more than MAX_TAKE
    let admin = s.admin_token();
    let a = new_user(s, &admin, "paging");
    let room = new_room(s, &a, "paging");
    let mut created = BTreeSet::new();
    for i in 0..ROWS {
        created.insert(new_message(s, &a, room, &format!("k{}", i % 3), None));
    }
    let scope = json!({ "roomId": { "equals": room } }).to_string();
    let list = |params: &[(&str, &str)]| {
        let mut req = s.get("/api/messages").auth(&a.token).query("where", &scope);
        for (k, v) in params {
            req = req.query(k, v);
        }
        let r = req.send();
        let list = r.expect_json(200);
        check_list_shape(&list);
        assert_eq!(
            list["total"],
            json!(ROWS),
            "total counts every matching row\n{r:?}"
        );
        list
    };

    // Walk pages ordered by a key shared by 35 rows each: every row exactly once, in order, ties by id.
    let order = json!([{ "text": "desc" }]).to_string();
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut skip = 0;
    loop {
        let page = list(&[
            ("orderBy", &order),
            ("skip", &skip.to_string()),
            ("take", "10"),
        ]);
        assert_eq!(page["skip"], json!(skip), "{page}");
        assert_eq!(page["take"], json!(10), "{page}");
        let rows = items(&page);
        assert_eq!(
            rows.len(),
            10.min(ROWS.saturating_sub(skip)),
            "page at skip {skip}"
        );
        if rows.is_empty() {
            break;
        }
        seen.extend(
            rows.iter()
                .map(|r| (r["text"].as_str().unwrap().to_owned(), id_of(r))),
        );
        skip += 10;
    }
    let ids: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
    let unique_ids: BTreeSet<String> = ids.iter().map(|id| (*id).clone()).collect();
    assert_eq!(ids.len(), ROWS, "rows seen across pages");
    assert_eq!(unique_ids, created, "every row exactly once across pages");
    for w in seen.windows(2) {
        let ((t0, id0), (t1, id1)) = (&w[0], &w[1]);
        assert!(
            t0 > t1 || (t0 == t1 && id0 < id1),
            "orderBy text desc, then id asc: {t0} {id0} before {t1} {id1}"
        );
    }

    // A single orderBy object is accepted too.
    let page = list(&[
        ("orderBy", &json!({ "text": "asc" }).to_string()),
        ("take", "50"),
    ]);
    let texts: Vec<&str> = items(&page)
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.iter().take(35).all(|t| *t == "k0") && texts[35..].iter().all(|t| *t == "k1"),
        "{texts:?}"
    );

    // Defaults: skip 0, take 20, by id ascending.
    let page = list(&[]);
    assert_eq!(
        (page["skip"].clone(), page["take"].clone()),
        (json!(0), json!(20)),
        "{page}"
    );
    let ids: Vec<String> = items(&page).iter().map(id_of).collect();
    let first20: Vec<String> = created.iter().take(20).cloned().collect();
    assert_eq!(ids, first20, "the default order is by id ascending");

    // At most MAX_TAKE (100).
    let page = list(&[("take", "1000")]);
    assert_eq!(
        page["take"],
        json!(100),
        "take is capped at MAX_TAKE: {}",
        page["take"]
    );
    assert_eq!(items(&page).len(), 100);

    // The id can be ordered on too (newest first for autoincrement ids).
    let rooms: Vec<i64> = (0..3)
        .map(|i| new_room(s, &a, &format!("order {i}")))
        .collect();
    let r = s
        .get("/api/rooms")
        .query("where", &json!({ "id": { "in": rooms } }).to_string())
        .query("orderBy", &json!([{ "id": "desc" }]).to_string())
        .send();
    let got: Vec<i64> = items(&r.expect_json(200))
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        got,
        [rooms[2], rooms[1], rooms[0]],
        "orderBy id desc\n{r:?}"
    );

    // Past the end.
    let page = list(&[("skip", "1000")]);
    assert!(items(&page).is_empty(), "{page}");
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Access rules

fn access_rules(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "owner-a");
    let b = new_user(s, &admin, "other-b");

    // Room: read public, create authenticated, update/delete [owner, admin].
    let room = new_room(s, &a, "a's room");
    let room_path = format!("/api/rooms/{room}");
    s.get(&room_path).send().expect_json(200);
    let list = s
        .get("/api/rooms")
        .query("where", &json!({ "id": { "equals": room } }).to_string())
        .send()
        .expect_json(200);
    assert_eq!(
        items(&list).len(),
        1,
        "anonymous callers list public rooms: {list}"
    );
    s.post("/api/rooms")
        .json(json!({ "title": "anon" }))
        .send()
        .expect_error(401, "unauthorized");
    s.patch(&room_path)
        .json(json!({ "title": "anon" }))
        .send()
        .expect_error(401, "unauthorized");
    s.delete(&room_path)
        .send()
        .expect_error(401, "unauthorized");
    s.patch(&room_path)
        .auth(&b.token)
        .json(json!({ "title": "by b" }))
        .send()
        .expect_error(403, "forbidden");
    s.put(&room_path)
        .auth(&b.token)
        .json(json!({ "title": "by b" }))
        .send()
        .expect_error(403, "forbidden");
    s.delete(&room_path)
        .auth(&b.token)
        .send()
        .expect_error(403, "forbidden");
    assert_eq!(
        s.get(&room_path).send().expect_json(200)["title"],
        "a's room",
        "denied writes change nothing"
    );
    let r = s
        .patch(&room_path)
        .auth(&a.token)
        .json(json!({ "title": "by a" }))
        .send();
    assert_eq!(r.expect_json(200)["title"], "by a");
    let r = s
        .patch(&room_path)
        .auth(&admin)
        .json(json!({ "title": "by admin" }))
        .send();
    let patched = r.expect_json(200);
    assert_eq!(patched["title"], "by admin");
    assert_eq!(
        patched["ownerId"],
        json!(a.id),
        "an admin's update keeps the owner"
    );

    // Message: read authenticated, update owner (not admin), delete [owner, admin].
    let msg = new_message(s, &a, room, "a's message", None);
    let msg_path = format!("/api/messages/{msg}");
    s.get(&msg_path).send().expect_error(401, "unauthorized");
    s.get("/api/messages")
        .send()
        .expect_error(401, "unauthorized");
    s.post("/api/messages")
        .json(json!({ "roomId": room, "text": "anon" }))
        .send()
        .expect_error(401, "unauthorized");
    assert_eq!(
        s.get(&msg_path).auth(&b.token).send().expect_json(200)["text"],
        "a's message"
    );
    let list = s
        .get("/api/messages")
        .auth(&b.token)
        .query(
            "where",
            &json!({ "roomId": { "equals": room } }).to_string(),
        )
        .send()
        .expect_json(200);
    assert_eq!(
        list["total"],
        json!(1),
        "B may read A's message (read: authenticated): {list}"
    );
    s.patch(&msg_path)
        .auth(&b.token)
        .json(json!({ "text": "by b" }))
        .send()
        .expect_error(403, "forbidden");
    s.put(&msg_path)
        .auth(&b.token)
        .json(json!({ "roomId": room, "text": "by b" }))
        .send()
        .expect_error(403, "forbidden");
    s.delete(&msg_path)
        .auth(&b.token)
        .send()
        .expect_error(403, "forbidden");
    s.patch(&msg_path)
        .auth(&admin)
        .json(json!({ "text": "by admin" }))
        .send()
        .expect_error(403, "forbidden"); // update: owner, and only the owner
    assert_eq!(
        s.get(&msg_path).auth(&b.token).send().expect_json(200)["text"],
        "a's message"
    );
    s.delete(&msg_path).auth(&admin).send().expect(204);
    s.get(&msg_path)
        .auth(&a.token)
        .send()
        .expect_error(404, "not_found");

    // B's own message in A's room: B may change and delete it.
    let msg_b = new_message(s, &b, room, "b's message", None);
    let path_b = format!("/api/messages/{msg_b}");
    s.patch(&path_b)
        .auth(&b.token)
        .json(json!({ "text": "b edited" }))
        .send()
        .expect_json(200);
    s.delete(&path_b).auth(&b.token).send().expect(204);

    // User: read authenticated, create admin, update [self, admin], delete admin.
    let user_path = format!("/api/users/{}", a.id);
    s.get(&user_path).send().expect_error(401, "unauthorized");
    s.get("/api/users").send().expect_error(401, "unauthorized");
    assert_eq!(
        s.get(&user_path).auth(&b.token).send().expect_json(200)["id"],
        json!(a.id)
    );
    let new =
        json!({ "email": format!("u{}@example.com", unique()), "name": "n", "passwordHash": "h" });
    s.post("/api/users")
        .json(new.clone())
        .send()
        .expect_error(401, "unauthorized");
    s.post("/api/users")
        .auth(&a.token)
        .json(new)
        .send()
        .expect_error(403, "forbidden");
    s.patch(&user_path)
        .auth(&a.token)
        .json(json!({ "name": "self" }))
        .send()
        .expect_json(200);
    s.patch(&user_path)
        .auth(&b.token)
        .json(json!({ "name": "by b" }))
        .send()
        .expect_error(403, "forbidden");
    s.patch(&user_path)
        .auth(&admin)
        .json(json!({ "name": "by admin" }))
        .send()
        .expect_json(200);
    s.delete(&format!("/api/users/{}", b.id))
        .auth(&b.token)
        .send()
        .expect_error(403, "forbidden"); // delete: admin only, not self
    assert_eq!(
        s.get(&user_path).auth(&a.token).send().expect_json(200)["name"],
        "by admin"
    );

    // The admin deletes A's room.
    s.delete(&room_path).auth(&admin).send().expect(204);
    s.get(&room_path).send().expect_error(404, "not_found");

    // Tokens: malformed, badly signed, expired are 401; a valid hand-made one with roles works.
    let exp = now_secs() + 3600;
    let valid = handmade_jwt(
        &json!({ "sub": a.id, "exp": exp }),
        server_harness::JWT_SECRET,
    );
    s.get(&user_path).auth(&valid).send().expect_json(200);
    let admin_made = handmade_jwt(
        &json!({ "sub": fake_uuid(), "exp": exp, "roles": ["admin"] }),
        server_harness::JWT_SECRET,
    );
    let new =
        json!({ "email": format!("r{}@example.com", unique()), "name": "n", "passwordHash": "h" });
    s.post("/api/users")
        .auth(&admin_made)
        .json(new)
        .send()
        .expect_json(201);
    let expired = handmade_jwt(
        &json!({ "sub": a.id, "exp": now_secs() - 3600 }),
        server_harness::JWT_SECRET,
    );
    let wrong_secret = token_with_secret(&a.id, &[], "another-secret");
    for (what, token) in [
        ("malformed", "not-a-jwt".to_owned()),
        ("badly signed", wrong_secret),
        ("expired", expired),
    ] {
        let r = s.get(&user_path).auth(&token).send();
        assert_eq!(r.status, 401, "a {what} token is a 401\n{r:?}");
        r.expect_error(401, "unauthorized");
        // Even where anonymous callers are allowed, a bad token is an error, not anonymity.
        let r = s.get("/api/rooms").auth(&token).send();
        assert_eq!(
            r.status, 401,
            "a {what} token is a 401 on a public route too\n{r:?}"
        );
    }

    // The server remembers accepted tokens (their signature is not checked again), but not past their expiry:
    // accepted twice, then a 401 once `exp` has passed (the test servers run with no leeway).
    let exp = now_secs() + 2;
    let short = handmade_jwt(
        &json!({ "sub": a.id, "exp": exp }),
        server_harness::JWT_SECRET,
    );
    for _ in 0..2 {
        s.get(&user_path).auth(&short).send().expect_json(200);
    }
    while now_secs() <= exp {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let r = s.get(&user_path).auth(&short).send();
    assert_eq!(
        r.status, 401,
        "an accepted token is a 401 once it expired\n{r:?}"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Create sets the owner from the token

fn owner_from_token(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "owner");
    let b = new_user(s, &admin, "impostor");

    s.post("/api/rooms")
        .auth(&a.token)
        .json(json!({ "title": "t", "ownerId": b.id }))
        .send()
        .expect_error_naming(400, "bad_request", "ownerId");
    let room = new_room(s, &a, "mine");
    let stored = s.get(&format!("/api/rooms/{room}")).send().expect_json(200);
    assert_eq!(
        stored["ownerId"],
        json!(a.id),
        "the owner is the token's sub"
    );
    s.patch(&format!("/api/rooms/{room}"))
        .auth(&a.token)
        .json(json!({ "ownerId": b.id }))
        .send()
        .expect_error_naming(400, "bad_request", "ownerId");
    s.put(&format!("/api/rooms/{room}"))
        .auth(&a.token)
        .json(json!({ "title": "t", "ownerId": b.id }))
        .send()
        .expect_error_naming(400, "bad_request", "ownerId");

    s.post("/api/messages")
        .auth(&a.token)
        .json(json!({ "roomId": room, "text": "hi", "authorId": b.id }))
        .send()
        .expect_error_naming(400, "bad_request", "authorId");
    // Server-set fields: the generated id and readonly createdAt.
    s.post("/api/messages")
        .auth(&a.token)
        .json(json!({ "id": fake_uuid(), "roomId": room, "text": "hi" }))
        .send()
        .expect_error_naming(400, "bad_request", "id");
    s.post("/api/messages")
        .auth(&a.token)
        .json(json!({ "roomId": room, "text": "hi", "createdAt": "2020-01-01T00:00:00Z" }))
        .send()
        .expect_error_naming(400, "bad_request", "createdAt");
    s.post("/api/rooms")
        .auth(&a.token)
        .json(json!({ "id": 999_999, "title": "t" }))
        .send()
        .expect_error_naming(400, "bad_request", "id");

    let msg = new_message(s, &b, room, "from b", None);
    let stored = s
        .get(&format!("/api/messages/{msg}"))
        .auth(&a.token)
        .send()
        .expect_json(200);
    assert_eq!(
        stored["authorId"],
        json!(b.id),
        "the author is the token's sub"
    );
    let count = s.sql(&format!(
        "SELECT count(*) FROM messages WHERE CAST(author_id AS TEXT) = '{}' AND CAST(id AS TEXT) = '{msg}'",
        b.id
    ));
    assert_eq!(count, "1", "the stored author_id is B's id");

    // The subject sets the owner, so creating answers what OpenAPI lists for it (tests/openapi.rs): 403 for a
    // subject that is not a uuid, 422 for one that is no user's id.
    for (sub, status, code) in [
        ("not-a-uuid".to_owned(), 403, "forbidden"),
        (fake_uuid(), 422, "reference_not_found"),
    ] {
        let token = handmade_jwt(
            &json!({ "sub": sub, "exp": now_secs() + 3600 }),
            server_harness::JWT_SECRET,
        );
        s.post("/api/messages")
            .auth(&token)
            .json(json!({ "roomId": room, "text": "hi" }))
            .send()
            .expect_error(status, code);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 6. Hidden fields

fn hidden_fields(s: &Server) {
    const SECRET: &str = "argon2-very-secret-hash";
    let admin = s.admin_token();
    let email = format!("hidden-{}@example.com", unique());
    let r = s
        .post("/api/users")
        .auth(&admin)
        .json(json!({ "email": email, "name": "Hidden", "passwordHash": SECRET }))
        .send();
    let user = r.expect_json(201);
    let seq = r.event_seq();
    let id = id_of(&user);
    assert!(uuid_like(&user["id"]), "{r:?}");
    assert_eq!(user["email"], json!(email));
    assert!(user["createdAt"].is_string(), "{r:?}");
    let no_secret = |r: &server_harness::Resp| {
        assert!(
            !r.body.contains("passwordHash")
                && !r.body.contains("password_hash")
                && !r.body.contains(SECRET),
            "hidden fields never appear\n{r:?}"
        );
    };
    no_secret(&r);
    let token = s.token(&id, &[]);
    let path = format!("/api/users/{id}");
    let r = s.get(&path).auth(&token).send();
    r.expect_json(200);
    no_secret(&r);
    let r = s.get("/api/users").auth(&token).query("take", "100").send();
    assert!(!items(&r.expect_json(200)).is_empty());
    no_secret(&r);
    let r = s
        .get("/api/users")
        .auth(&token)
        .query("where", &json!({ "id": { "equals": id } }).to_string())
        .send();
    assert_eq!(items(&r.expect_json(200)).len(), 1, "{r:?}");
    no_secret(&r);
    let r = s
        .patch(&path)
        .auth(&token)
        .json(json!({ "name": "Renamed" }))
        .send();
    r.expect_json(200);
    no_secret(&r);
    let r = s
        .put(&path)
        .auth(&token)
        .json(json!({ "email": email, "name": "Put", "passwordHash": format!("{SECRET}-2") }))
        .send();
    r.expect_json(200);
    no_secret(&r);
    // Nor in the outbox, which is broadcast.
    let data = s.sql(&format!(
        "SELECT CAST(data AS TEXT) FROM _ssot_events WHERE seq = {seq}"
    ));
    assert!(!data.is_empty(), "the create wrote event {seq}");
    assert!(
        !data.contains(SECRET) && !data.contains("passwordHash"),
        "the hidden field is not in the event data: {data}"
    );
    // And it cannot be filtered on.
    s.get("/api/users")
        .auth(&token)
        .query(
            "where",
            &json!({ "passwordHash": { "equals": SECRET } }).to_string(),
        )
        .send()
        .expect_error_naming(400, "bad_request", "passwordHash");
}

// ---------------------------------------------------------------------------------------------------------------
// 7. Bad bodies and queries

fn bad_requests(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "bad");
    let room = new_room(s, &a, "bad");

    // Bodies.
    s.post("/api/rooms")
        .auth(&a.token)
        .raw("{\"title\": ")
        .send()
        .expect_error(400, "bad_request");
    s.post("/api/rooms")
        .auth(&a.token)
        .raw("[1, 2]")
        .send()
        .expect_error(400, "bad_request");
    // A body over the limit (2 MiB) is a 413 in the JSON error shape: resending it will not help.
    let big = format!("{{\"title\": \"{}\"}}", "x".repeat(3 << 20));
    s.post("/api/rooms")
        .auth(&a.token)
        .raw(&big)
        .send()
        .expect_error(413, "too_large");
    s.post("/api/rooms")
        .auth(&a.token)
        .json(json!({ "title": "t", "colour": "red" }))
        .send()
        .expect_error_naming(400, "bad_request", "colour");
    s.patch(&format!("/api/rooms/{room}"))
        .auth(&a.token)
        .json(json!({ "colour": "red" }))
        .send()
        .expect_error_naming(400, "bad_request", "colour");
    s.post("/api/rooms")
        .auth(&a.token)
        .json(json!({ "title": 5 }))
        .send()
        .expect_error_naming(400, "bad_request", "title");
    s.post("/api/messages")
        .auth(&a.token)
        .json(json!({ "roomId": "one", "text": "x" }))
        .send()
        .expect_error_naming(400, "bad_request", "roomId");
    s.post("/api/messages")
        .auth(&a.token)
        .json(json!({ "roomId": room, "text": "x", "editedAt": "yesterday" }))
        .send()
        .expect_error(400, "bad_request");
    s.post("/api/messages")
        .auth(&a.token)
        .json(json!({ "text": "no room" }))
        .send()
        .expect_error_naming(400, "bad_request", "roomId");

    // PUT needs every writable field; PATCH cannot clear a required one.
    s.put(&format!("/api/rooms/{room}"))
        .auth(&a.token)
        .json(json!({}))
        .send()
        .expect_error_naming(400, "bad_request", "title");

    // Bounds: characters, not bytes; every violation listed.
    let at_max = "é".repeat(2000);
    new_message(s, &a, room, &at_max, None);
    let r = s
        .post("/api/messages")
        .auth(&a.token)
        .json(json!({ "roomId": room, "text": "x".repeat(2001) }))
        .send();
    let error = r.expect_error(400, "validation_failed");
    let details = error["details"]
        .as_array()
        .unwrap_or_else(|| panic!("details: {r:?}"));
    assert_eq!(details.len(), 1, "{r:?}");
    assert_eq!(details[0]["field"], "text", "{r:?}");
    assert!(
        details[0]["code"].is_string() && details[0]["message"].is_string(),
        "{r:?}"
    );
    let r = s
        .post("/api/messages")
        .auth(&a.token)
        .json(json!({ "roomId": room, "text": "" }))
        .send();
    assert_eq!(
        r.expect_error(400, "validation_failed")["details"][0]["field"],
        "text",
        "{r:?}"
    );
    let r = s
        .patch(&format!("/api/rooms/{room}"))
        .auth(&a.token)
        .json(json!({ "title": "t".repeat(101) }))
        .send();
    assert_eq!(
        r.expect_error(400, "validation_failed")["details"][0]["field"],
        "title",
        "{r:?}"
    );
    let r = s
        .post("/api/users")
        .auth(&admin)
        .json(json!({ "email": "e".repeat(255), "name": "", "passwordHash": "h" }))
        .send();
    let error = r.expect_error(400, "validation_failed");
    let fields: BTreeSet<&str> = error["details"]
        .as_array()
        .unwrap_or_else(|| panic!("{r:?}"))
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["email", "name"]),
        "every violation is listed\n{r:?}"
    );

    // Queries.
    let bad_where = |filter: &str, names: Option<&str>| {
        let r = s
            .get("/api/messages")
            .auth(&a.token)
            .query("where", filter)
            .send();
        match names {
            Some(what) => r.expect_error_naming(400, "bad_request", what),
            None => r.expect_error(400, "bad_request"),
        };
    };
    bad_where("{\"text\": ", None);
    bad_where("not json", None);
    bad_where(r#"{"nope": {"equals": 1}}"#, Some("nope"));
    bad_where(r#"{"text": {"like": "x"}}"#, Some("like"));
    bad_where(r#"{"roomId": {"equals": "abc"}}"#, None);
    bad_where(r#"{"roomId": {"equals": 1.5}}"#, Some("roomId"));
    bad_where(r#"{"roomId": {"gt": 3000000000}}"#, Some("roomId"));
    bad_where(r#"{"roomId": {"in": [1, "2"]}}"#, Some("roomId"));
    bad_where(r#"{"text": {"gt": 5}}"#, None);
    bad_where(r#"{"id": {"equals": "not-a-uuid"}}"#, None);
    bad_where(r#"{"editedAt": {"lt": "soon"}}"#, None);
    bad_where(r#"{"roomId": {"contains": "1"}}"#, Some("contains"));
    bad_where(
        r#"{"id": {"lt": "00000000-0000-0000-0000-000000000000"}}"#,
        Some("lt"),
    );
    bad_where(r#"{"text": {"isNull": true}}"#, Some("isNull"));
    bad_where(r#"{"AND": {"text": {"equals": "x"}}}"#, None);
    bad_where(r#"{"OR": [{"bogus": {"equals": 1}}]}"#, Some("bogus"));
    let bad_param = |key: &str, value: &str| {
        s.get("/api/messages")
            .auth(&a.token)
            .query(key, value)
            .send()
            .expect_error_naming(400, "bad_request", key);
    };
    bad_param("skip", "abc");
    bad_param("skip", "-1");
    bad_param("take", "many");
    bad_param("take", "-5");
    let r = s
        .get("/api/messages")
        .auth(&a.token)
        .query("orderBy", r#"[{"nope": "asc"}]"#)
        .send();
    r.expect_error_naming(400, "bad_request", "nope");
    s.get("/api/messages")
        .auth(&a.token)
        .query("orderBy", r#"[{"text": "up"}]"#)
        .send()
        .expect_error(400, "bad_request");
    s.get("/api/messages")
        .auth(&a.token)
        .query("orderBy", "text")
        .send()
        .expect_error(400, "bad_request");

    // Ids in the path.
    s.get("/api/rooms/abc")
        .send()
        .expect_error(400, "bad_request");
    s.get("/api/rooms/1.5")
        .send()
        .expect_error(400, "bad_request");
    s.get("/api/messages/not-a-uuid")
        .auth(&a.token)
        .send()
        .expect_error(400, "bad_request");
    s.delete("/api/messages/not-a-uuid")
        .auth(&a.token)
        .send()
        .expect_error(400, "bad_request");
    s.get("/api/rooms/999999999")
        .send()
        .expect_error(404, "not_found");
    s.get(&format!("/api/messages/{}", fake_uuid()))
        .auth(&a.token)
        .send()
        .expect_error(404, "not_found");

    // Unknown routes.
    s.get("/api/nope").send().expect_error(404, "not_found");
    s.get("/nope").send().expect_error(404, "not_found");
    s.get("/api/rooms/1/extra")
        .send()
        .expect_error(404, "not_found");

    // Conflicts and references.
    let email = format!("dup-{}@example.com", unique());
    let user = json!({ "email": email, "name": "d", "passwordHash": "h" });
    s.post("/api/users")
        .auth(&admin)
        .json(user.clone())
        .send()
        .expect_json(201);
    s.post("/api/users")
        .auth(&admin)
        .json(user)
        .send()
        .expect_error(409, "conflict");
    s.patch(&format!("/api/users/{}", a.id))
        .auth(&a.token)
        .json(json!({ "email": email }))
        .send()
        .expect_error(409, "conflict");
    s.post("/api/messages")
        .auth(&a.token)
        .json(json!({ "roomId": 999_999_999, "text": "nowhere" }))
        .send()
        .expect_error(422, "reference_not_found");
    let msg = new_message(s, &a, room, "here", None);
    s.patch(&format!("/api/messages/{msg}"))
        .auth(&a.token)
        .json(json!({ "roomId": 999_999_999 }))
        .send()
        .expect_error(422, "reference_not_found");
    // A token for a user that does not exist: the owner reference points nowhere.
    let ghost = s.token(&fake_uuid(), &[]);
    s.post("/api/rooms")
        .auth(&ghost)
        .json(json!({ "title": "ghost" }))
        .send()
        .expect_error(422, "reference_not_found");
    // The user is still referenced by the room it owns (`Room.ownerId`: onDelete restrict).
    s.delete(&format!("/api/users/{}", a.id))
        .auth(&s.admin_token())
        .send()
        .expect_error(409, "conflict");
    assert_eq!(s.get(&format!("/api/rooms/{room}")).send().status, 200);
}

// Stricter points of the error contract, each a scenario of its own so that a failure does not hide others.

/// "Every error has one shape": also for a method the route does not have.
fn error_shape_of_405(s: &Server) {
    let r = s.delete("/api/rooms").send();
    assert!(r.status == 405 || r.status == 404, "{r:?}");
    assert!(
        r.json
            .as_ref()
            .is_some_and(|v| v["error"]["code"].is_string() && v["error"]["message"].is_string()),
        "a 405 has the error shape too\n{r:?}"
    );
}

/// "A value of the wrong type is a 400 that names it", in a filter as in a body.
fn wrong_type_in_filter_is_named(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "wrong-type");
    s.get("/api/messages")
        .auth(&a.token)
        .query("where", r#"{"roomId": {"equals": "abc"}}"#)
        .send()
        .expect_error_naming(400, "bad_request", "roomId");
}

/// Datetimes are accepted from year 0001 to 9999 in UTC (`docs/rest.md`): years outside have no 4-digit RFC 3339
/// form, used to be stored and then failed to read back (500), and SQLite compared their texts out of time order.
/// Out of range is a 400 naming the field in a body (POST, PUT, PATCH) and in a filter; the bounds themselves are
/// stored, read back and ordered as times on both databases.
fn datetimes_out_of_range(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "datetimes");
    let room = new_room(s, &a, "datetimes");
    let kept = new_message(s, &a, room, "kept", Some("2024-06-01T00:00:00Z"));
    let path = format!("/api/messages/{kept}");
    let before = s.event_count();
    // The last is 10000-01-01T04:00:00Z in UTC.
    for at in [
        "+10000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "0000-12-31T23:59:59Z",
        "9999-12-31T23:00:00-05:00",
    ] {
        s.post("/api/messages")
            .auth(&a.token)
            .json(json!({ "roomId": room, "text": "x", "editedAt": at }))
            .send()
            .expect_error_naming(400, "bad_request", "editedAt");
        s.put(&path)
            .auth(&a.token)
            .json(json!({ "roomId": room, "text": "x", "editedAt": at }))
            .send()
            .expect_error_naming(400, "bad_request", "editedAt");
        s.patch(&path)
            .auth(&a.token)
            .json(json!({ "editedAt": at }))
            .send()
            .expect_error_naming(400, "bad_request", "editedAt");
        s.get("/api/messages")
            .auth(&a.token)
            .query("where", &json!({ "editedAt": { "gt": at } }).to_string())
            .send()
            .expect_error_naming(400, "bad_request", "editedAt");
    }
    assert_eq!(s.event_count(), before, "a refused write writes no event");
    let get = s.get(&path).auth(&a.token).send().expect_json(200);
    assert!(
        same_instant(&get["editedAt"], "2024-06-01T00:00:00Z"),
        "{get}"
    );

    // The bounds are accepted, read back, and ordered and compared as times.
    let last = new_message(s, &a, room, "last", Some("9999-12-31T23:59:59.999999Z"));
    let first = new_message(s, &a, room, "first", Some("0001-01-01T00:00:00Z"));
    let list = s
        .get("/api/messages")
        .auth(&a.token)
        .query(
            "where",
            &json!({ "roomId": { "equals": room } }).to_string(),
        )
        .query("orderBy", &json!({ "editedAt": "asc" }).to_string())
        .send()
        .expect_json(200);
    let ids: Vec<String> = items(&list).iter().map(id_of).collect();
    assert_eq!(ids, [first.clone(), kept.clone(), last.clone()], "{list}");
    assert!(
        same_instant(&items(&list)[0]["editedAt"], "0001-01-01T00:00:00Z"),
        "{list}"
    );
    let edited = items(&list)[2]["editedAt"].as_str().unwrap_or_default();
    assert!(edited.starts_with("9999-12-31T23:59:59.999999"), "{list}");
    let later = s
        .get("/api/messages")
        .auth(&a.token)
        .query(
            "where",
            &json!({ "roomId": { "equals": room }, "editedAt": { "gt": "2024-06-01T00:00:00Z" } })
                .to_string(),
        )
        .send()
        .expect_json(200);
    let ids: Vec<String> = items(&later).iter().map(id_of).collect();
    assert_eq!(ids, [last], "{later}");
}

/// `null` for a required field is a value of the wrong type, not "leave unchanged" (and writes no event).
fn null_for_required_field_in_patch(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "null-required");
    let room = new_room(s, &a, "strict");
    let room_path = format!("/api/rooms/{room}");
    let before = s.event_count();
    s.patch(&room_path)
        .auth(&a.token)
        .json(json!({ "title": null }))
        .send()
        .expect_error_naming(400, "bad_request", "title");
    assert_eq!(s.event_count(), before);
    assert_eq!(s.get(&room_path).send().expect_json(200)["title"], "strict");
}

/// Writes from several clients at once all succeed (no "database is locked"), each with its own event.
fn concurrent_mutations(s: &Server) {
    const THREADS: usize = 4;
    const EACH: usize = 10;
    let admin = s.admin_token();
    let a = new_user(s, &admin, "concurrent");
    let room = new_room(s, &a, "concurrent");
    let before = s.event_count();
    let seqs: Vec<u64> = in_parallel(THREADS, |t| {
        (0..EACH)
            .map(|i| {
                let r = s
                    .post("/api/messages")
                    .auth(&a.token)
                    .json(json!({ "roomId": room, "text": format!("t{t} m{i}") }))
                    .send();
                r.expect_json(201);
                r.event_seq()
            })
            .collect()
    });
    let distinct: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        THREADS * EACH,
        "every write has its own Event-Seq: {seqs:?}"
    );
    assert_eq!(s.event_count(), before + (THREADS * EACH) as u64);
    let list = s
        .get("/api/messages")
        .auth(&a.token)
        .query(
            "where",
            &json!({ "roomId": { "equals": room } }).to_string(),
        )
        .send()
        .expect_json(200);
    assert_eq!(list["total"], json!(THREADS * EACH));
}

/// 200 concurrent creates, of which some take an email already taken (409) and some reference a missing room
/// (422): on SQLite they are committed in groups (`group_commit`), one failing write in a group must not fail the
/// others. Each request gets its own answer, and exactly the successful ones have rows and events, one each.
fn concurrent_creates_each_get_their_own_answer(s: &Server) {
    const THREADS: usize = 20;
    const EACH: usize = 10;
    let admin = s.admin_token();
    let a = new_user(s, &admin, "grouped");
    let room = new_room(s, &a, "grouped");
    let taken = format!("taken-{}@example.com", unique());
    s.post("/api/users")
        .auth(&admin)
        .json(json!({ "email": taken, "name": "t", "passwordHash": "h" }))
        .send()
        .expect_json(201);
    let tag = unique();
    let before = s.event_count();
    // Per request: the id of what it created (with its Event-Seq), or None for an expected refusal.
    let created: Vec<Option<(String, u64)>> = in_parallel(THREADS, |t| {
        (0..EACH)
            .map(|i| {
                let n = t * EACH + i;
                match n % 4 {
                    0 => {
                        s.post("/api/users")
                            .auth(&admin)
                            .json(json!({ "email": taken, "name": "dup", "passwordHash": "h" }))
                            .send()
                            .expect_error(409, "conflict");
                        None
                    }
                    1 => {
                        s.post("/api/messages")
                            .auth(&a.token)
                            .json(json!({ "roomId": 999_999_999, "text": "lost" }))
                            .send()
                            .expect_error(422, "reference_not_found");
                        None
                    }
                    2 => {
                        let r = s
                            .post("/api/users")
                            .auth(&admin)
                            .json(json!({
                                "email": format!("g{n}-{tag}@example.com"),
                                "name": "fresh",
                                "passwordHash": "h"
                            }))
                            .send();
                        Some((id_of(&r.expect_json(201)), r.event_seq()))
                    }
                    _ => {
                        let r = s
                            .post("/api/messages")
                            .auth(&a.token)
                            .json(json!({ "roomId": room, "text": format!("m{n}") }))
                            .send();
                        let record = r.expect_json(201);
                        assert_eq!(record["text"], format!("m{n}"), "its own row");
                        Some((id_of(&record), r.event_seq()))
                    }
                }
            })
            .collect()
    });
    let created: Vec<(String, u64)> = created.into_iter().flatten().collect();
    assert_eq!(created.len(), THREADS * EACH / 2);
    // One event per successful write, the one its Event-Seq names, and no other.
    assert_eq!(s.event_count(), before + created.len() as u64);
    let mut expected: Vec<String> = created
        .iter()
        .map(|(id, seq)| format!("{seq}|{id}"))
        .collect();
    expected.sort_by_key(|line| line.split('|').next().unwrap().parse::<u64>().unwrap());
    let events = s.sql(&format!(
        "SELECT seq, record_id FROM _ssot_events WHERE seq > (SELECT max(seq) - {} FROM _ssot_events) ORDER BY seq",
        created.len()
    ));
    assert_eq!(events.lines().collect::<Vec<_>>(), expected);
    let list = s
        .get("/api/messages")
        .auth(&a.token)
        .query(
            "where",
            &json!({ "roomId": { "equals": room } }).to_string(),
        )
        .query("take", "100")
        .send()
        .expect_json(200);
    assert_eq!(
        list["total"],
        json!(THREADS * EACH / 4),
        "the messages committed, and only they"
    );
    let users = s.sql(&format!(
        "SELECT count(*) FROM users WHERE email LIKE '%-{tag}@example.com'"
    ));
    assert_eq!(users, (THREADS * EACH / 4).to_string());
}

/// A client that sends a 3 MiB body (over the 2 MiB limit) at its own pace reads the 413: the server reads the
/// body before it answers and closes. Answered at once, the client's next write found a reset connection, and the
/// answer was lost (seen as a broken pipe by `bad_requests` under load).
fn oversized_body_is_answered_while_it_is_sent(s: &Server) {
    use std::io::{Read, Write};
    let admin = s.admin_token();
    let a = new_user(s, &admin, "oversized");
    let address = s.base.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    let length = 3usize << 20;
    write!(
        socket,
        "POST /api/rooms HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n",
        a.token
    )
    .unwrap();
    let chunk = vec![b' '; 64 << 10];
    for _ in 0..length / chunk.len() {
        socket
            .write_all(&chunk)
            .expect("the server reads the whole body before it answers");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"too_large\""), "{answer}");
}

/// Runs `work(t)` on `threads` threads at once, `t` from 0, and gathers what they return, in thread order.
fn in_parallel<T: Send>(threads: usize, work: impl Fn(usize) -> Vec<T> + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let work = &work;
                scope.spawn(move || work(t))
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------------------------
// 8. A failed mutation writes no event

fn failed_mutations_write_no_event(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "events-a");
    let b = new_user(s, &admin, "events-b");
    let room = new_room(s, &a, "events");
    let msg = new_message(s, &a, room, "events", None);
    let email = format!("taken-{}@example.com", unique());
    s.post("/api/users")
        .auth(&admin)
        .json(json!({ "email": email, "name": "t", "passwordHash": "h" }))
        .send()
        .expect_json(201);

    let before = s.event_count();
    let failures = [
        s.post("/api/users")
            .auth(&admin)
            .json(json!({ "email": email, "name": "t", "passwordHash": "h" }))
            .send()
            .expect_error(409, "conflict"),
        s.patch(&format!("/api/users/{}", b.id))
            .auth(&admin)
            .json(json!({ "email": email }))
            .send()
            .expect_error(409, "conflict"),
        s.post("/api/messages")
            .auth(&a.token)
            .json(json!({ "roomId": 999_999_999, "text": "x" }))
            .send()
            .expect_error(422, "reference_not_found"),
        s.put(&format!("/api/messages/{msg}"))
            .auth(&a.token)
            .json(json!({ "roomId": 999_999_999, "text": "x" }))
            .send()
            .expect_error(422, "reference_not_found"),
        // Restricted: the user still owns rows (`onDelete: restrict`).
        s.delete(&format!("/api/users/{}", a.id))
            .auth(&s.admin_token())
            .send()
            .expect_error(409, "conflict"),
        s.post("/api/messages")
            .auth(&a.token)
            .json(json!({ "roomId": room, "text": "" }))
            .send()
            .expect_error(400, "validation_failed"),
        s.post("/api/messages")
            .auth(&a.token)
            .json(json!({ "roomId": room, "text": "x", "bogus": 1 }))
            .send()
            .expect_error(400, "bad_request"),
        s.patch(&format!("/api/messages/{msg}"))
            .auth(&b.token)
            .json(json!({ "text": "x" }))
            .send()
            .expect_error(403, "forbidden"),
        s.delete(&format!("/api/messages/{}", fake_uuid()))
            .auth(&a.token)
            .send()
            .expect_error(404, "not_found"),
    ];
    assert_eq!(failures.len(), 9);
    assert_eq!(s.event_count(), before, "failed mutations write no event");
    assert_eq!(
        s.get(&format!("/api/messages/{msg}"))
            .auth(&a.token)
            .send()
            .expect_json(200)["text"],
        "events",
        "failed mutations change nothing"
    );

    // A successful one writes exactly one, numbered by Event-Seq.
    let r = s
        .patch(&format!("/api/messages/{msg}"))
        .auth(&a.token)
        .json(json!({ "text": "changed" }))
        .send();
    r.expect_json(200);
    let seq = r.event_seq();
    assert_eq!(s.event_count(), before + 1, "one event per mutation");
    let row = s.sql(&format!(
        "SELECT kind, record_id FROM _ssot_events WHERE seq = {seq}"
    ));
    assert_eq!(row, format!("updated|{msg}"), "the event Event-Seq names");
    let r = s
        .delete(&format!("/api/messages/{msg}"))
        .auth(&a.token)
        .send();
    r.expect(204);
    let seq = r.event_seq();
    let row = s.sql(&format!(
        "SELECT kind, record_id FROM _ssot_events WHERE seq = {seq}"
    ));
    assert_eq!(row, format!("deleted|{msg}"));
    let r = s
        .post("/api/rooms")
        .auth(&a.token)
        .json(json!({ "title": "e" }))
        .send();
    let id = id_of(&r.expect_json(201));
    let row = s.sql(&format!(
        "SELECT kind, record_id FROM _ssot_events WHERE seq = {}",
        r.event_seq()
    ));
    assert_eq!(row, format!("created|{id}"));
    assert_eq!(s.event_count(), before + 3);
}

// ---------------------------------------------------------------------------------------------------------------
// Owner-only models and hooks

/// Bookmarks are `read: owner`: lists hold only the caller's rows, another owner's row is a 404 for reading,
/// changing and deleting alike, and an anonymous caller is told 401. Also exercises enum and bool filters.
fn owner_only_reads(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "bm-a");
    let b = new_user(s, &admin, "bm-b");
    let room = s
        .post("/api/rooms")
        .auth(&a.token)
        .json(json!({ "title": "bookmarks" }))
        .send()
        .expect_json(201);
    let message = s
        .post("/api/messages")
        .auth(&a.token)
        .json(json!({ "roomId": room["id"], "text": "save me" }))
        .send()
        .expect_json(201);
    let mark = |user: &User, body: Value| {
        s.post("/api/bookmarks")
            .auth(&user.token)
            .json(body)
            .send()
            .expect_json(201)
    };
    let a1 = mark(&a, json!({ "messageId": message["id"] }));
    let a2 = mark(
        &a,
        json!({ "messageId": message["id"], "color": "red", "pinned": true }),
    );
    let b1 = mark(&b, json!({ "messageId": message["id"], "color": "green" }));
    assert_eq!(a1["ownerId"], a.id.as_str());
    assert_eq!(
        (a1["color"].as_str(), a1["pinned"].as_bool()),
        (Some("blue"), Some(false)),
        "schema defaults apply"
    );

    let ids = |user: &User, filter: Value| -> Vec<i64> {
        let list = s
            .get("/api/bookmarks")
            .auth(&user.token)
            .query("where", &filter.to_string())
            .send()
            .expect_json(200);
        let ids: Vec<i64> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        assert_eq!(
            list["total"].as_i64(),
            Some(ids.len() as i64),
            "total counts only readable rows: {list}"
        );
        ids
    };
    let id = |v: &Value| v["id"].as_i64().unwrap();
    assert_eq!(ids(&a, json!({})), [id(&a1), id(&a2)]);
    assert_eq!(ids(&b, json!({})), [id(&b1)]);
    // Asking for someone else's row by id in the filter does not get around the rule.
    assert_eq!(
        ids(&b, json!({ "id": { "equals": id(&a1) } })),
        Vec::<i64>::new()
    );
    // Enum and bool operators.
    assert_eq!(ids(&a, json!({ "color": { "equals": "red" } })), [id(&a2)]);
    assert_eq!(
        ids(&a, json!({ "color": { "in": ["blue", "green"] } })),
        [id(&a1)]
    );
    assert_eq!(
        ids(&a, json!({ "color": { "notIn": ["blue"] } })),
        [id(&a2)]
    );
    assert_eq!(ids(&a, json!({ "pinned": { "equals": true } })), [id(&a2)]);
    assert_eq!(ids(&a, json!({ "pinned": { "not": true } })), [id(&a1)]);
    s.get("/api/bookmarks")
        .auth(&a.token)
        .query(
            "where",
            &json!({ "color": { "equals": "purple" } }).to_string(),
        )
        .send()
        .expect_error(400, "bad_request");

    let a1_path = format!("/api/bookmarks/{}", id(&a1));
    s.get(&a1_path)
        .auth(&b.token)
        .send()
        .expect_error(404, "not_found");
    s.patch(&a1_path)
        .auth(&b.token)
        .json(json!({ "pinned": true }))
        .send()
        .expect_error(404, "not_found");
    s.delete(&a1_path)
        .auth(&b.token)
        .send()
        .expect_error(404, "not_found");
    s.get(&a1_path).send().expect_error(401, "unauthorized");
    s.get("/api/bookmarks")
        .send()
        .expect_error(401, "unauthorized");
    // The owner still has it, unchanged, and may change and delete it.
    assert_eq!(s.get(&a1_path).auth(&a.token).send().expect_json(200), a1);
    let patched = s
        .patch(&a1_path)
        .auth(&a.token)
        .json(json!({ "pinned": true }))
        .send()
        .expect_json(200);
    assert_eq!(patched["pinned"], true);
    assert_eq!(s.delete(&a1_path).auth(&a.token).send().status, 204);
}

/// The user's hook in `src/hooks/room.rs` (tests/fixtures/room_hook.rs) runs: it refuses some titles with its own
/// error and trims the others, on create and on patch.
fn hooks_run(s: &Server) {
    let admin = s.admin_token();
    let a = new_user(s, &admin, "hooks");
    s.post("/api/rooms")
        .auth(&a.token)
        .json(json!({ "title": "hook: not allowed" }))
        .send()
        .expect_error(422, "rejected_by_hook");
    // A panicking hook is caught: a 500 in the JSON error shape, no row written, and the server goes on serving.
    let before = s.event_count();
    s.post("/api/rooms")
        .auth(&a.token)
        .json(json!({ "title": "hook: panic" }))
        .send()
        .expect_error(500, "internal");
    assert_eq!(s.event_count(), before);
    let room = s
        .post("/api/rooms")
        .auth(&a.token)
        .json(json!({ "title": "  padded  " }))
        .send()
        .expect_json(201);
    assert_eq!(room["title"], "padded");
    let path = format!("/api/rooms/{}", room["id"]);
    let patched = s
        .patch(&path)
        .auth(&a.token)
        .json(json!({ "title": " again " }))
        .send()
        .expect_json(200);
    assert_eq!(patched["title"], "again");

    // The panic is logged once, with its cause and where it happened, as a tracing error (the server's panic hook),
    // not also by Rust's default hook on stderr nor again by the layer that answered 500.
    const CAUSE: &str = "the room hook panics on request";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s.log().contains(CAUSE) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = s.log();
    assert_eq!(log.matches(CAUSE).count(), 1, "{log}");
    let line = log.lines().find(|l| l.contains(CAUSE)).unwrap_or_default();
    assert!(
        line.contains("ERROR") && line.contains("panicked") && line.contains("room.rs"),
        "{line}"
    );
}
