//! End-to-end tests of the generated WebSocket gateway (`docs/protocol.md`), over real sockets against the chat
//! example's server on SQLite and on PostgreSQL: delivery of REST mutations to list and item channels, per-row
//! authorization, resume, retention, limits, malformed input, shutdown, and (PostgreSQL) fan-out across two
//! instances. Every scenario is a test of its own on each backend (`sqlite::limits`, `postgres::limits`), sharing
//! one server per backend; tests that need other settings start a server of their own. Runs with libtest-mimic
//! (`tests/common/scenarios.rs`).

mod common;
#[path = "common/proxy.rs"]
mod proxy;
#[path = "common/scenarios.rs"]
mod scenarios;
#[path = "common/server.rs"]
mod server_harness;
#[path = "common/ws.rs"]
mod ws;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use libtest_mimic::Failed;
use scenarios::{Backend, Scenario, Shared};
use server_harness::{new_room, new_user, token_with_secret, unique, Server, User};
use ws::{Auth, Incoming, Ws};

/// Limits of the main test server: small enough to be reached by a test.
const LIMITS: &[(&str, &str)] = &[
    ("WS_AUTH_TIMEOUT_MS", "500"),
    ("WS_MAX_SUBSCRIPTIONS", "4"),
    ("WS_MAX_MESSAGE_BYTES", "16384"),
    ("WS_SEND_QUEUE", "64"),
    // The slow reader's close frame waits for its stalled write for this long; a loaded CI machine can take more
    // than the default 10 s between the cut-off and the reader reading again.
    ("WS_WRITE_TIMEOUT_MS", "60000"),
];

const SCENARIOS: &[(&str, Scenario)] = &[
    (
        "rest_mutations_reach_subscribers",
        rest_mutations_reach_subscribers,
    ),
    ("rows_go_only_to_readers", rows_go_only_to_readers),
    (
        "item_channel_needs_read_access",
        item_channel_needs_read_access,
    ),
    (
        "resume_delivers_exactly_the_missed_events",
        resume_delivers_exactly_the_missed_events,
    ),
    ("item_resume_after_delete", item_resume_after_delete),
    (
        "write_right_after_subscribed_is_delivered",
        write_right_after_subscribed_is_delivered,
    ),
    (
        "concurrent_writers_arrive_in_order",
        concurrent_writers_arrive_in_order,
    ),
    (
        "requests_carry_their_sequence",
        requests_carry_their_sequence,
    ),
    ("authentication", authentication),
    ("hostile_tokens", hostile_tokens),
    ("malformed_input_gets_errors", malformed_input_gets_errors),
    ("limits", limits),
    (
        "slow_reader_is_cut_off_others_keep_receiving",
        slow_reader_is_cut_off_others_keep_receiving,
    ),
];

fn main() {
    let sqlite = Shared::new(Backend::Sqlite, || Server::start_sqlite_with(LIMITS));
    let postgres = Shared::new(Backend::Postgres, || Server::start_postgres_with(LIMITS));
    let mut trials = sqlite.trials(SCENARIOS);
    trials.extend(postgres.trials(SCENARIOS));
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let start = move |env: &[(&str, &str)]| match backend {
            Backend::Sqlite => Server::start_sqlite_with(env),
            Backend::Postgres => Server::start_postgres_with(env),
        };
        trials.push(scenarios::test(
            backend,
            "retention_and_liveness",
            move || {
                let server = start(RETENTION);
                scenarios::run_logged(&server, || retention_and_liveness(&server))
            },
        ));
        trials.push(scenarios::test(
            backend,
            "shutdown_closes_with_1001",
            move || shutdown_closes_with_1001(start(LIMITS)),
        ));
    }
    trials.push(scenarios::test(
        Backend::Postgres,
        "fan_out_across_instances",
        fan_out_across_instances,
    ));
    scenarios::main(trials, &[sqlite, postgres]);
}

/// SIGTERM: every WebSocket connection is closed with 1001 (reconnect elsewhere and resume), and the process
/// exits instead of waiting for them.
fn shutdown_closes_with_1001(mut server: Server) -> Result<(), Failed> {
    let admin = server.admin_token();
    let mut clients: Vec<Ws> = (0..3).map(|_| Ws::connect(&server, &admin)).collect();
    clients[0].subscribe("Room:list", None);
    server.terminate();
    for ws in &mut clients {
        assert_eq!(ws.expect_close().0, 1001);
    }
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "the server should exit cleanly, exited {status:?}"
    );
    Ok(())
}

/// Two instances on one PostgreSQL database: each one's writes reach the other's subscribers, also while their
/// LISTEN connections are being killed.
fn fan_out_across_instances() -> Result<(), Failed> {
    // A long poll interval: events must arrive through NOTIFY and the catch-up after a reconnect, not the poll.
    let quiet = &[("FEED_POLL_INTERVAL_MS", "600000")];
    let a = Server::start_postgres_with(quiet);
    // `b` reaches the database through a proxy, so that the test can cut exactly its connections.
    let proxy = proxy::Proxy::start("127.0.0.1:5432");
    let b_url =
        a.database_url()
            .replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port), 1);
    assert_ne!(
        b_url,
        a.database_url(),
        "the database URL should name 127.0.0.1:5432"
    );
    let b = a.another_instance(&[quiet[0], ("DATABASE_URL", &b_url)]);
    let admin = a.admin_token();
    let owner = new_user(&a, &admin, "fan-out");

    let mut on_b = Ws::connect(&b, &owner.token);
    on_b.subscribe("Room:list", None);
    let mut on_a = Ws::connect(&a, &owner.token);
    on_a.subscribe("Room:list", None);
    for i in 0..5 {
        let seq = a
            .post("/api/rooms")
            .auth(&owner.token)
            .json(json!({ "title": format!("from a {i}") }))
            .send();
        let seq = seq.event_seq();
        for (name, ws) in [("b", &mut on_b), ("a", &mut on_a)] {
            let update = ws.update();
            assert_eq!(update["seq"], seq, "subscriber on {name}: {update}");
        }
        let seq = b
            .post("/api/rooms")
            .auth(&owner.token)
            .json(json!({ "title": format!("from b {i}") }))
            .send()
            .event_seq();
        for (name, ws) in [("b", &mut on_b), ("a", &mut on_a)] {
            assert_eq!(ws.update()["seq"], seq, "subscriber on {name}");
        }
    }

    // Kill every LISTEN connection of the database again and again while writing on `a`: `b`'s subscriber still
    // gets every event, in order, and `b` reports ready again afterwards.
    let database = match &a.backend {
        server_harness::Backend::Postgres(db) => db.clone(),
        _ => unreachable!(),
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let stop = stop.clone();
        let database = database.clone();
        std::thread::spawn(move || {
            let mut kills = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let out = common::pg::psql(
                    "test",
                    &format!(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{database}' AND query ILIKE 'LISTEN%'"
                    ),
                )
                .unwrap();
                kills += out.trim().parse::<u32>().unwrap_or(0);
                std::thread::sleep(Duration::from_millis(15));
            }
            kills
        })
    };
    let mut written = Vec::new();
    for i in 0..30 {
        let r = a
            .post("/api/rooms")
            .auth(&owner.token)
            .json(json!({ "title": format!("outage {i}") }))
            .send();
        written.push(r.event_seq());
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let kills = killer.join().unwrap();
    assert!(
        kills >= 2,
        "the test should have killed LISTEN connections, killed {kills}"
    );
    let received: Vec<u64> = (0..written.len())
        .map(|_| on_b.update()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        received, written,
        "b's subscriber, across {kills} killed LISTEN connections"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = b.get("/ready").send();
        if ready.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "b never became ready again: {ready:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // An outage of `b` alone: every connection of `b` is cut and new ones are refused, while `a` keeps writing.
    // `b` reports not ready meanwhile; once it can connect again, it reads what it missed from the outbox, though
    // no notification announces those events any more.
    proxy.cut();
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.get("/ready").send().status != 503 {
        assert!(
            Instant::now() < deadline,
            "b should report not ready while it cannot reach the database"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let during: Vec<u64> = (0..5)
        .map(|i| create_room(&a, &owner, &format!("during the outage {i}")).1)
        .collect();
    proxy.restore();
    let received: Vec<u64> = (0..during.len())
        .map(|_| on_b.update()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(received, during, "b's subscriber after b's outage");
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.get("/ready").send().status != 200 {
        assert!(
            Instant::now() < deadline,
            "b never became ready after its outage"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A large row travels too: NOTIFY carries only the sequence number.
    let author = new_user(&a, &admin, "large");
    let room = new_room(&a, &author, "large rows");
    let mut messages = Ws::connect(&b, &author.token);
    messages.subscribe("Message:list", None);
    let text = "x".repeat(2000);
    let seq = a
        .post("/api/messages")
        .auth(&author.token)
        .json(json!({ "roomId": room, "text": text }))
        .send()
        .event_seq();
    let update = messages.update();
    assert_eq!(
        (update["seq"].as_u64(), update["data"]["text"].as_str()),
        (Some(seq), Some(text.as_str()))
    );
    drop(b);
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/// Creates a room; returns its id and the event's sequence number.
fn create_room(s: &Server, owner: &User, title: &str) -> (i64, u64) {
    let r = s
        .post("/api/rooms")
        .auth(&owner.token)
        .json(json!({ "title": title }))
        .send();
    let seq = r.event_seq();
    (r.expect_json(201)["id"].as_i64().unwrap(), seq)
}

/// The current head of the outbox, as a `ready` message reports it.
fn head(s: &Server, token: &str) -> u64 {
    let mut ws = Ws::open(s, Auth::Header(token));
    let ready = ws.recv();
    ready["seq"].as_u64().unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios

fn rest_mutations_reach_subscribers(s: &Server) {
    let admin = s.admin_token();
    let owner = new_user(s, &admin, "owner");
    let (room, _) = create_room(s, &owner, "watched");
    let (other_room, _) = create_room(s, &owner, "unwatched");

    let mut list = Ws::connect(s, &owner.token);
    list.subscribe("Room:list", None);
    let mut item = Ws::connect(s, &owner.token);
    let subscribed = item.subscribe(&format!("Room:item:{room}"), None);
    assert!(subscribed["seq"].as_u64().is_some(), "{subscribed}");

    // Update the other room, then this one: the item channel gets only its own.
    let r = s
        .patch(&format!("/api/rooms/{other_room}"))
        .auth(&owner.token)
        .json(json!({ "title": "other" }))
        .send();
    let other_seq = r.event_seq();
    let r = s
        .patch(&format!("/api/rooms/{room}"))
        .auth(&owner.token)
        .json(json!({ "title": "renamed" }))
        .send();
    let seq = r.event_seq();
    let record = r.expect_json(200);

    let first = list.update();
    assert_eq!(
        (
            first["channel"].as_str(),
            first["seq"].as_u64(),
            first["kind"].as_str()
        ),
        (Some("Room:list"), Some(other_seq), Some("updated"))
    );
    let update = list.update();
    assert_eq!(update["seq"], seq);
    assert_eq!(update["kind"], "updated");
    assert_eq!(update["id"], room.to_string());
    assert_eq!(
        update["data"], record,
        "the update carries the record as REST returns it"
    );
    assert!(
        update["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{update}"
    );

    let on_item = item.update();
    assert_eq!(
        (on_item["channel"].as_str(), on_item["seq"].as_u64()),
        (Some(format!("Room:item:{room}").as_str()), Some(seq))
    );

    let r = s
        .delete(&format!("/api/rooms/{room}"))
        .auth(&owner.token)
        .send();
    let deleted_seq = r.event_seq();
    assert_eq!(r.status, 204);
    for ws in [&mut list, &mut item] {
        let deleted = ws.update();
        assert_eq!(
            (deleted["kind"].as_str(), deleted["seq"].as_u64()),
            (Some("deleted"), Some(deleted_seq))
        );
        assert_eq!(
            deleted["data"]["title"], "renamed",
            "a deletion carries the row as it was"
        );
    }
    let (created, created_seq) = create_room(s, &owner, "new");
    let update = list.update();
    assert_eq!(
        (
            update["kind"].as_str(),
            update["seq"].as_u64(),
            update["id"].as_str()
        ),
        (
            Some("created"),
            Some(created_seq),
            Some(created.to_string().as_str())
        )
    );
    item.expect_silence(Duration::from_millis(300));

    // Unsubscribe: acknowledged, and nothing more arrives.
    list.send(json!({ "type": "unsubscribe", "channel": "Room:list" }));
    assert_eq!(
        list.recv(),
        json!({ "type": "unsubscribed", "channel": "Room:list" })
    );
    create_room(s, &owner, "after unsubscribe");
    list.expect_silence(Duration::from_millis(300));

    // Hidden fields are never broadcast.
    let mut users = Ws::connect(s, &admin);
    users.subscribe("User:list", None);
    let created = new_user(s, &admin, "hidden");
    let update = users.update();
    assert_eq!(update["id"], created.id);
    assert!(
        update["data"].get("passwordHash").is_none(),
        "hidden field broadcast: {update}"
    );
}

fn rows_go_only_to_readers(s: &Server) {
    let admin = s.admin_token();
    let alice = new_user(s, &admin, "alice");
    let bob = new_user(s, &admin, "bob");
    let room = new_room(s, &alice, "bookmarks");
    let message = s
        .post("/api/messages")
        .auth(&alice.token)
        .json(json!({ "roomId": room, "text": "save me" }))
        .send()
        .expect_json(201);

    // Bookmarks are read by their owner only (not even admins).
    let mut for_alice = Ws::connect(s, &alice.token);
    for_alice.subscribe("Bookmark:list", None);
    for_alice.subscribe("Room:list", None);
    let mut for_bob = Ws::connect(s, &bob.token);
    for_bob.subscribe("Bookmark:list", None);
    for_bob.subscribe("Room:list", None);

    let alices = s
        .post("/api/bookmarks")
        .auth(&alice.token)
        .json(json!({ "messageId": message["id"] }))
        .send();
    let alices_seq = alices.event_seq();
    let update = for_alice.update();
    assert_eq!(update["seq"], alices_seq);
    assert_eq!(update["data"]["ownerId"], alice.id);

    // Bob sees his own bookmark next, and the public room, but never Alice's bookmark: the fence is a later event
    // he may see, which arrives after anything sent before it.
    let bobs_seq = s
        .post("/api/bookmarks")
        .auth(&bob.token)
        .json(json!({ "messageId": message["id"] }))
        .send()
        .event_seq();
    let (_, fence) = create_room(s, &alice, "fence");
    let first = for_bob.update();
    assert_eq!(
        (first["channel"].as_str(), first["seq"].as_u64()),
        (Some("Bookmark:list"), Some(bobs_seq)),
        "{first}"
    );
    assert_eq!(first["data"]["ownerId"], bob.id);
    let second = for_bob.update();
    assert_eq!(
        (second["channel"].as_str(), second["seq"].as_u64()),
        (Some("Room:list"), Some(fence))
    );
    let next = for_alice.update();
    assert_eq!(
        (next["channel"].as_str(), next["seq"].as_u64()),
        (Some("Room:list"), Some(fence)),
        "Alice gets the fence, never Bob's bookmark"
    );
    assert_ne!(
        next["seq"].as_u64(),
        Some(bobs_seq),
        "Alice must not get Bob's bookmark: {next}"
    );

    // An admin without the owner rule may not subscribe to bookmarks at all... the rule is `owner`, so a signed-in
    // caller is allowed the channel and simply sees only their own rows. An anonymous one never gets here (4401).
    let mut admin_ws = Ws::connect(s, &admin);
    admin_ws.subscribe("Bookmark:list", None);
    s.post("/api/bookmarks")
        .auth(&alice.token)
        .json(json!({ "messageId": message["id"] }))
        .send()
        .expect(201);
    admin_ws.expect_silence(Duration::from_millis(300));
}

fn item_channel_needs_read_access(s: &Server) {
    let admin = s.admin_token();
    let alice = new_user(s, &admin, "alice");
    let bob = new_user(s, &admin, "bob");
    let room = new_room(s, &alice, "item");
    let message = s
        .post("/api/messages")
        .auth(&alice.token)
        .json(json!({ "roomId": room, "text": "x" }))
        .send()
        .expect_json(201);
    let bookmark = s
        .post("/api/bookmarks")
        .auth(&alice.token)
        .json(json!({ "messageId": message["id"] }))
        .send()
        .expect_json(201);
    let channel = format!("Bookmark:item:{}", bookmark["id"]);

    let mut ws = Ws::connect(s, &bob.token);
    ws.send(json!({ "type": "subscribe", "channel": channel }));
    let reply = ws.recv();
    assert_eq!(
        (
            reply["type"].as_str(),
            reply["code"].as_str(),
            reply["channel"].as_str()
        ),
        (Some("error"), Some("not_found"), Some(channel.as_str())),
        "{reply}"
    );
    // The connection stays usable after a denied subscribe.
    ws.send(json!({ "type": "ping" }));
    assert_eq!(ws.recv(), json!({ "type": "pong" }));
    for (channel, code) in [
        ("Room:item:999999999", "not_found"),
        ("Room:item:abc", "bad_request"),
        ("Nope:list", "unknown_channel"),
        ("Room:item:", "unknown_channel"),
    ] {
        ws.send(json!({ "type": "subscribe", "channel": channel }));
        let reply = ws.recv();
        assert_eq!(
            (reply["type"].as_str(), reply["code"].as_str()),
            (Some("error"), Some(code)),
            "{channel}: {reply}"
        );
    }
    let mut owner = Ws::connect(s, &alice.token);
    owner.subscribe(&channel, None);
}

fn resume_delivers_exactly_the_missed_events(s: &Server) {
    let admin = s.admin_token();
    let owner = new_user(s, &admin, "resumer");
    let mut ws = Ws::connect(s, &owner.token);
    ws.subscribe("Room:list", None);
    let (_, first) = create_room(s, &owner, "before the drop");
    assert_eq!(ws.update()["seq"], first);
    ws.drop_connection();

    let missed: Vec<u64> = (0..5)
        .map(|i| create_room(s, &owner, &format!("missed {i}")).1)
        .collect();
    // Events of other channels in between are not replayed on this one.
    let other = new_user(s, &admin, "other");
    assert!(!other.id.is_empty());

    let mut ws = Ws::connect(s, &owner.token);
    let subscribed = ws.subscribe("Room:list", Some(first));
    assert_eq!(subscribed["resumed"], true, "{subscribed}");
    assert_eq!(subscribed["since"], first);
    let replayed: Vec<u64> = (0..missed.len())
        .map(|_| ws.update()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(replayed, missed, "exactly the missed events, in order");
    let (_, live) = create_room(s, &owner, "live again");
    assert_eq!(ws.update()["seq"], live, "then live, with nothing repeated");

    // Resuming from the head replays nothing; from the future, the server says the client must refetch.
    let mut again = Ws::connect(s, &owner.token);
    let subscribed = again.subscribe("Room:list", Some(live));
    assert_eq!(subscribed["resumed"], true);
    let future = live + 1_000_000;
    let mut ahead = Ws::connect(s, &owner.token);
    let subscribed = ahead.subscribe("Room:list", Some(future));
    assert_eq!(subscribed["resumed"], false, "{subscribed}");
    again.expect_silence(Duration::from_millis(200));
}

/// A resume of an item channel whose row was updated and deleted meanwhile replays both (it answered `not_found`,
/// and the subscriber never heard of the delete, while the list channel replayed it). Only to a subscriber who may
/// see the row as it was, and only while there is something to replay.
fn item_resume_after_delete(s: &Server) {
    let admin = s.admin_token();
    let alice = new_user(s, &admin, "item-resume");
    let bob = new_user(s, &admin, "item-resume-other");
    let room = new_room(s, &alice, "item resume");
    let message = s
        .post("/api/messages")
        .auth(&alice.token)
        .json(json!({ "roomId": room, "text": "soon gone" }))
        .send()
        .expect_json(201);
    let path = format!("/api/messages/{}", message["id"].as_str().unwrap());
    let channel = format!("Message:item:{}", message["id"].as_str().unwrap());
    let mut ws = Ws::connect(s, &alice.token);
    let since = ws.subscribe(&channel, None)["seq"].as_u64().unwrap();
    ws.drop_connection();

    let updated = s
        .patch(&path)
        .auth(&alice.token)
        .json(json!({ "text": "edited" }))
        .send()
        .event_seq();
    let deleted = s.delete(&path).auth(&alice.token).send().event_seq();

    let mut ws = Ws::connect(s, &alice.token);
    let subscribed = ws.subscribe(&channel, Some(since));
    assert_eq!(subscribed["resumed"], true, "{subscribed}");
    let first = ws.update();
    assert_eq!(
        (&first["kind"], &first["seq"]),
        (&json!("updated"), &json!(updated)),
        "{first}"
    );
    assert_eq!(first["data"]["text"], "edited");
    let second = ws.update();
    assert_eq!(
        (&second["kind"], &second["seq"]),
        (&json!("deleted"), &json!(deleted)),
        "{second}"
    );

    // Nothing left to replay (resuming from the delete itself), or nothing this caller may see: not found.
    let others_bookmark = {
        let note = s
            .post("/api/messages")
            .auth(&alice.token)
            .json(json!({ "roomId": room, "text": "bookmarked" }))
            .send()
            .expect_json(201);
        s.post("/api/bookmarks")
            .auth(&alice.token)
            .json(json!({ "messageId": note["id"] }))
            .send()
            .expect_json(201)
    };
    let bookmark_path = format!("/api/bookmarks/{}", others_bookmark["id"]);
    let head = u64::try_from(s.last_seq()).unwrap();
    s.delete(&bookmark_path)
        .auth(&alice.token)
        .send()
        .expect(204);
    for (token, channel, since) in [
        (&alice.token, channel.clone(), deleted),
        (
            &bob.token,
            format!("Bookmark:item:{}", others_bookmark["id"]),
            head,
        ),
    ] {
        let mut ws = Ws::connect(s, token);
        ws.send(json!({ "type": "subscribe", "channel": channel, "since": since }));
        let reply = ws.recv();
        assert_eq!(
            (reply["type"].as_str(), reply["code"].as_str()),
            (Some("error"), Some("not_found")),
            "{channel} since {since}: {reply}"
        );
        // Not left subscribed: the same channel can be asked for again.
        ws.send(json!({ "type": "subscribe", "channel": channel, "since": since }));
        assert_eq!(ws.recv()["code"], "not_found");
    }
}

fn write_right_after_subscribed_is_delivered(s: &Server) {
    let admin = s.admin_token();
    let owner = new_user(s, &admin, "racer");
    for i in 0..40 {
        let mut ws = Ws::connect(s, &owner.token);
        let since = if i % 2 == 0 {
            None
        } else {
            Some(head(s, &owner.token))
        };
        ws.subscribe("Room:list", since);
        let (_, seq) = create_room(s, &owner, &format!("race {i}"));
        let update = ws.update();
        assert_eq!(update["seq"], seq, "iteration {i} (since {since:?})");
    }
}

fn concurrent_writers_arrive_in_order(s: &Server) {
    let admin = s.admin_token();
    let owner = new_user(s, &admin, "writers");
    let mut ws = Ws::connect(s, &owner.token);
    ws.subscribe("Room:list", None);
    let written: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let owner = &owner;
                scope.spawn(move || {
                    (0..15)
                        .map(|i| create_room(s, owner, &format!("w{t}-{i}")).1)
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let received: Vec<u64> = (0..written.len())
        .map(|_| ws.update()["seq"].as_u64().unwrap())
        .collect();
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "in sequence order: {received:?}"
    );
    assert_eq!(
        received.iter().copied().collect::<BTreeSet<_>>(),
        written.iter().copied().collect::<BTreeSet<_>>(),
        "each event once"
    );
}

fn requests_carry_their_sequence(s: &Server) {
    let admin = s.admin_token();
    let owner = new_user(s, &admin, "reader");
    let title = format!("req-{}", unique());
    let (room, seq) = create_room(s, &owner, &title);
    let mut ws = Ws::connect(s, &owner.token);
    let list = ws.request(1, "Room", "list", json!({ "where": { "title": { "equals": title } }, "orderBy": { "id": "desc" }, "take": 5 }));
    assert!(list["seq"].as_u64().is_some_and(|n| n >= seq), "{list}");
    assert_eq!(list["data"]["total"], 1, "{list}");
    assert_eq!(list["data"]["items"][0]["id"], room);
    assert_eq!(
        (list["data"]["take"].as_i64(), list["data"]["skip"].as_i64()),
        (Some(5), Some(0))
    );
    let got = ws.request(2, "Room", "get", json!({ "id": room }));
    assert_eq!(got["data"]["title"], title.as_str());
    let got = ws.request(3, "Room", "get", json!({ "id": room.to_string() }));
    assert_eq!(got["data"]["id"], room);

    // The sequence is the one the data reflects: nothing written after it is in the page.
    let mut ws_seq = ws
        .request(4, "Room", "list", json!({}))
        .get("seq")
        .and_then(Value::as_u64)
        .unwrap();
    let (_, after) = create_room(s, &owner, &title);
    assert!(after > ws_seq);
    ws_seq = ws.request(
        5,
        "Room",
        "list",
        json!({ "where": { "title": { "equals": title } } }),
    )["seq"]
        .as_u64()
        .unwrap();
    assert!(ws_seq >= after);

    for (id, model, action, params, code) in [
        (10, "Room", "get", json!({ "id": 999999999 }), "not_found"),
        (
            11,
            "Room",
            "list",
            json!({ "where": { "nope": { "equals": 1 } } }),
            "bad_request",
        ),
        (12, "Nope", "list", json!({}), "not_found"),
        (13, "Bookmark", "list", json!({ "take": -1 }), "bad_request"),
        (14, "Room", "get", json!({ "id": "abc" }), "bad_request"),
    ] {
        let reply = ws.request(id, model, action, params);
        assert_eq!(reply["error"]["code"], code, "{reply}");
        assert!(reply.get("data").is_none());
    }
    // String request ids are echoed as strings; an unknown action is a malformed message, answered with the
    // request's id (`malformed_input_gets_errors` has more).
    ws.send(json!({ "type": "request", "requestId": "abc", "model": "Room", "action": "list" }));
    let reply = ws.recv();
    assert_eq!(reply["requestId"], "abc", "{reply}");
    ws.send(json!({ "type": "request", "requestId": 1, "model": "Room", "action": "drop" }));
    let reply = ws.recv();
    assert_eq!(
        (&reply["type"], &reply["requestId"], &reply["error"]["code"]),
        (&json!("response"), &json!(1), &json!("bad_message")),
        "{reply}"
    );
    // An anonymous... over the socket everyone is signed in; access rules still apply per model.
    let other = new_user(s, &admin, "other-reader");
    let mut theirs = Ws::connect(s, &other.token);
    let bookmarks = theirs.request(20, "Bookmark", "list", json!({}));
    assert_eq!(bookmarks["data"]["total"], 0, "{bookmarks}");
}

fn authentication(s: &Server) {
    let admin = s.admin_token();
    let user = new_user(s, &admin, "auth");

    // No token, and no `auth` frame within the deadline.
    let mut ws = Ws::open(s, Auth::None);
    assert_eq!(ws.expect_close().0, 4401);
    // A bad token, an expired one, one signed with another secret, a malformed header.
    for token in [
        "not-a-jwt",
        &token_with_secret(&user.id, &[], "another secret"),
    ] {
        let mut ws = Ws::open(s, Auth::Header(token));
        assert_eq!(ws.expect_close().0, 4401, "token {token}");
        let mut ws = Ws::open(s, Auth::Frame(token));
        assert_eq!(ws.expect_close().0, 4401, "auth frame with {token}");
    }
    let handmade = server_harness::handmade_jwt(
        &json!({ "sub": user.id, "exp": 1 }),
        server_harness::JWT_SECRET,
    );
    let mut ws = Ws::open(s, Auth::Header(&handmade));
    let (code, reason) = ws.expect_close();
    assert_eq!(code, 4401);
    assert!(reason.contains("token"), "{reason}");
    // The first frame is something else than `auth`.
    let mut ws = Ws::open(s, Auth::None);
    ws.send(json!({ "type": "subscribe", "channel": "Room:list" }));
    assert_eq!(ws.expect_close().0, 4401);

    // A token through the subprotocol: the server selects `ssot.v1`.
    let mut ws = Ws::open(s, Auth::Subprotocol(&user.token));
    assert_eq!(ws.protocol.as_deref(), Some("ssot.v1"));
    assert_eq!(ws.recv()["type"], "ready");
    // Through a first frame, with more frames right behind it: none is lost while the token is checked.
    let mut ws = Ws::open(s, Auth::Frame(&user.token));
    ws.send(json!({ "type": "subscribe", "channel": "Room:list" }));
    ws.send(json!({ "type": "ping" }));
    assert_eq!(ws.recv()["type"], "ready");
    assert_eq!(ws.recv()["type"], "subscribed");
    assert_eq!(ws.recv()["type"], "pong");

    // A token that expires while connected closes the connection with 4401.
    let short = server_harness::handmade_jwt(
        &json!({ "sub": user.id, "exp": server_harness::now_secs() + 2 }),
        server_harness::JWT_SECRET,
    );
    let mut ws = Ws::connect(s, &short);
    let (code, reason) = ws.expect_close();
    assert_eq!((code, reason.as_str()), (4401, "the token expired"));
}

/// Tokens an attacker or a careless client sends (`docs/security.md`).
fn hostile_tokens(s: &Server) {
    let admin = s.admin_token();
    let user = new_user(s, &admin, "hostile");
    let later = server_harness::now_secs() + 3600;
    let echo = "x".repeat(300);

    // Refused with a clean 4401 whose reason fits a close frame (123 bytes; a longer one made the client fail the
    // connection with a protocol error instead) and does not quote the token: `alg: none`, an unknown `alg` of
    // 300 bytes, a claim of the wrong type.
    for token in [
        server_harness::unsigned_jwt(
            &json!({ "alg": "none", "typ": "JWT" }),
            &json!({ "sub": user.id, "exp": later }),
            "",
        ),
        server_harness::unsigned_jwt(
            &json!({ "alg": echo, "typ": "JWT" }),
            &json!({ "sub": user.id, "exp": later }),
            "c2ln",
        ),
        server_harness::handmade_jwt(
            &json!({ "sub": user.id, "exp": later, "roles": echo }),
            server_harness::JWT_SECRET,
        ),
    ] {
        for auth in [Auth::Header(&token), Auth::Frame(&token)] {
            let mut ws = Ws::open(s, auth);
            let (code, reason) = ws.expect_close();
            assert_eq!(code, 4401, "{reason}");
            assert!(reason.len() <= 123, "{} bytes: {reason}", reason.len());
            assert!(
                reason.contains("token") && !reason.contains("xxxxx"),
                "{reason}"
            );
        }
    }

    // A validly signed token whose `exp` is at or beyond 2^63 seconds panicked the connection's task (an `Instant`
    // overflow) before it sent anything: now it never expires within the connection's life, which works normally.
    for exp in [json!(1u64 << 63), json!(u64::MAX)] {
        let token = server_harness::handmade_jwt(
            &json!({ "sub": user.id, "exp": exp }),
            server_harness::JWT_SECRET,
        );
        let mut ws = Ws::connect(s, &token);
        ws.subscribe("Room:list", None);
        ws.send(json!({ "type": "ping" }));
        assert_eq!(ws.recv()["type"], "pong", "exp {exp}");
    }

    // `nbf` in the future (beyond the leeway) is refused, over the socket as over REST; in the past it is accepted.
    let early = server_harness::handmade_jwt(
        &json!({ "sub": user.id, "exp": later, "nbf": later - 60 }),
        server_harness::JWT_SECRET,
    );
    let mut ws = Ws::open(s, Auth::Header(&early));
    let (code, reason) = ws.expect_close();
    assert_eq!(code, 4401);
    assert!(reason.contains("nbf"), "{reason}");
    s.get("/api/rooms")
        .auth(&early)
        .send()
        .expect_error(401, "unauthorized");
    let valid = server_harness::handmade_jwt(
        &json!({ "sub": user.id, "exp": later, "nbf": later - 7200 }),
        server_harness::JWT_SECRET,
    );
    let mut ws = Ws::connect(s, &valid);
    ws.subscribe("Room:list", None);
}

fn malformed_input_gets_errors(s: &Server) {
    let admin = s.admin_token();
    let mut ws = Ws::connect(s, &admin);
    for text in [
        "not json",
        "{}",
        "[1, 2]",
        r#"{"type": "nope"}"#,
        r#"{"type": "subscribe"}"#,
        r#"{"type": "subscribe", "channel": 5}"#,
        r#"{"type": "auth", "token": "x"}"#,
    ] {
        ws.send_text(text);
        let reply = ws.recv();
        assert_eq!(
            (reply["type"].as_str(), reply["code"].as_str()),
            (Some("error"), Some("bad_message")),
            "{text}: {reply}"
        );
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    ws.send_binary(vec![1, 2, 3]);
    assert_eq!(ws.recv()["code"], "bad_message");
    // A `request` refused for its shape still gets a `response` with its `requestId` as sent (it used to be an
    // `error` without it, which the client could not match to the request).
    for (id, action) in [
        (json!(-1), json!("list")),
        (json!(1.5), json!("list")),
        (json!("no-action"), Value::Null),
    ] {
        ws.send(json!({ "type": "request", "requestId": id, "model": "Room", "action": action }));
        let reply = ws.recv();
        assert_eq!(
            (
                reply["type"].as_str(),
                &reply["requestId"],
                reply["error"]["code"].as_str()
            ),
            (Some("response"), &id, Some("bad_message")),
            "{reply}"
        );
    }
    ws.send(json!({ "type": "unsubscribe", "channel": "Room:list" }));
    assert_eq!(ws.recv()["code"], "not_subscribed");
    ws.subscribe("Room:list", None);
    ws.send(json!({ "type": "subscribe", "channel": "Room:list" }));
    assert_eq!(ws.reply()["code"], "already_subscribed");
    // Still alive, and another connection was never disturbed.
    ws.send(json!({ "type": "ping" }));
    assert_eq!(ws.reply(), json!({ "type": "pong" }));
}

fn limits(s: &Server) {
    let admin = s.admin_token();
    // WS_MAX_SUBSCRIPTIONS=4.
    let owner = new_user(s, &admin, "limits");
    let room = new_room(s, &owner, "limits");
    let mut ws = Ws::connect(s, &admin);
    for channel in ["Room:list", "Message:list", "User:list", "Bookmark:list"] {
        ws.subscribe(channel, None);
    }
    ws.send(json!({ "type": "subscribe", "channel": format!("Room:item:{room}") }));
    let reply = ws.reply();
    assert_eq!(reply["code"], "too_many_subscriptions", "{reply}");
    // An unsubscribe makes room again.
    ws.send(json!({ "type": "unsubscribe", "channel": "User:list" }));
    assert_eq!(ws.reply()["type"], "unsubscribed");
    ws.send(json!({ "type": "subscribe", "channel": "User:list" }));
    assert_eq!(ws.reply()["type"], "subscribed");

    // A text frame that is not UTF-8 closes with 1007, a frame with a reserved bit set with 1002: a close frame the
    // client can read, not a bare TCP close.
    use tungstenite::protocol::frame::coding::{Data, OpCode};
    use tungstenite::protocol::frame::Frame;
    let mut bad = Ws::connect(s, &admin);
    bad.send_frame(Frame::message(
        vec![b'"', 0xff, 0xfe, b'"'],
        OpCode::Data(Data::Text),
        true,
    ));
    assert_eq!(bad.expect_close().0, 1007);
    let mut bad = Ws::connect(s, &admin);
    let mut frame = Frame::message(b"{}".to_vec(), OpCode::Data(Data::Text), true);
    frame.header_mut().rsv1 = true;
    bad.send_frame(frame);
    assert_eq!(bad.expect_close().0, 1002);

    // WS_MAX_MESSAGE_BYTES=16384: a larger message closes the connection with 1009; others are untouched.
    let mut big = Ws::connect(s, &admin);
    big.send_text(&format!(
        r#"{{"type": "ping", "pad": "{}"}}"#,
        "x".repeat(20_000)
    ));
    assert_eq!(big.expect_close().0, 1009);
    ws.send(json!({ "type": "ping" }));
    assert_eq!(ws.reply()["type"], "pong");
}

/// The flood of `slow_reader_is_cut_off_others_keep_receiving` runs on one backend at a time: on two cores, two
/// floods at once starve the fast readers' threads until they too fall behind.
static FLOOD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn slow_reader_is_cut_off_others_keep_receiving(s: &Server) {
    const CUT_OFF: &str = "fell too far behind";
    let _one_flood = FLOOD.lock().unwrap_or_else(|e| e.into_inner());
    let admin = s.admin_token();
    let author = new_user(s, &admin, "flood");
    let room = new_room(s, &author, "flood");
    let cut_offs_before = s.log().matches(CUT_OFF).count();
    // A reader that subscribes, then never reads again; its small receive buffer makes the kernel hold little.
    let mut slow = Ws::open_with(s, Auth::Header(&author.token), None, Some(4096));
    assert_eq!(slow.recv()["type"], "ready");
    slow.subscribe("Message:list", None);
    let readers: Vec<Ws> = (0..100)
        .map(|_| {
            let mut ws = Ws::connect(s, &author.token);
            ws.subscribe("Message:list", None);
            ws
        })
        .collect();
    // How many updates each fast reader must get; 0 while the writer is still writing.
    let target = std::sync::atomic::AtomicUsize::new(0);
    let text = "y".repeat(2000);
    let (written, received) = std::thread::scope(|scope| {
        let target = &target;
        let consumers: Vec<_> = readers
            .into_iter()
            .map(|mut ws| {
                scope.spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(120);
                    let mut seqs = Vec::new();
                    loop {
                        let wanted = target.load(std::sync::atomic::Ordering::Acquire);
                        if (wanted > 0 && seqs.len() >= wanted) || Instant::now() > deadline {
                            return seqs;
                        }
                        match ws.next(Duration::from_millis(500)) {
                            Incoming::Message(m) => {
                                assert_eq!(m["type"], "update", "{m}");
                                seqs.push(m["seq"].as_u64().unwrap());
                            }
                            Incoming::Timeout => {}
                            Incoming::Closed(frame) => {
                                panic!("a fast reader was closed: {frame:?}")
                            }
                        }
                    }
                })
            })
            .collect();
        // Write until the server has cut the slow reader off (its queue of 64 overflows once the kernel's socket
        // buffers are full), then 20 more: the others must get every one.
        let mut written = Vec::new();
        let mut more = None;
        while more != Some(0) {
            let r = s
                .post("/api/messages")
                .auth(&author.token)
                .json(json!({ "roomId": room, "text": text }))
                .send();
            written.push(r.event_seq());
            more = match more {
                Some(n) => Some(n - 1),
                None if written.len() % 25 == 0
                    && s.log().matches(CUT_OFF).count() > cut_offs_before =>
                {
                    Some(20)
                }
                None => None,
            };
            assert!(
                // Loopback buffers vary with the kernel's autotuning; the cut-off usually comes within a few
                // hundred messages, rarely after thousands.
                written.len() < 20_000,
                "the slow reader was never cut off after {} messages",
                written.len()
            );
        }
        target.store(written.len(), std::sync::atomic::Ordering::Release);
        let received: Vec<Vec<u64>> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
        (written, received)
    });
    for (i, seqs) in received.iter().enumerate() {
        assert!(
            seqs == &written,
            "fast reader {i} got {} of {} updates",
            seqs.len(),
            written.len()
        );
    }
    // The slow reader, reading again well within the write timeout (60 s here), finds some of the updates, each whole
    // (`next` parses each as JSON), then the close frame 4429: the server finished what it had started to write.
    // It waits first, past the 1 s that a close frame gets on other closes, as a stalled client would.
    std::thread::sleep(Duration::from_secs(2));
    let mut got = 0;
    let end = loop {
        match slow.next(ws::WAIT) {
            Incoming::Message(_) => got += 1,
            Incoming::Closed(frame) => break frame,
            Incoming::Timeout => {
                panic!("the slow reader's connection is still open after {got} updates")
            }
        }
    };
    assert!(
        got < written.len(),
        "the slow reader got everything ({got}); it should have been cut off"
    );
    let (code, reason) = end.expect("the slow reader gets a close frame, not a cut connection");
    assert_eq!(code, 4429, "{reason}");
}

// ---------------------------------------------------------------------------------------------------------------
// Retention and liveness (a server of their own: events expire after a second, pings every 300 ms)

const RETENTION: &[(&str, &str)] = &[
    ("OUTBOX_RETENTION_SECS", "1"),
    ("OUTBOX_PRUNE_INTERVAL_MS", "100"),
    ("WS_PING_INTERVAL_MS", "300"),
    ("WS_PONG_TIMEOUT_MS", "300"),
];

fn retention_and_liveness(s: &Server) {
    let admin = s.admin_token();
    let owner = new_user(s, &admin, "retention");
    let (_, old) = create_room(s, &owner, "old");
    create_room(s, &owner, "expires");
    std::thread::sleep(Duration::from_millis(2500));
    let mut ws = Ws::connect(s, &owner.token);
    let subscribed = ws.subscribe("Room:list", Some(old));
    assert_eq!(
        subscribed["resumed"], false,
        "beyond retention the client must refetch: {subscribed}"
    );
    let (_, live) = create_room(s, &owner, "live");
    // Live events still come after a failed resume (the client refetches, then applies them).
    let update = loop {
        match ws.next(ws::WAIT) {
            Incoming::Message(m) if m["type"] == "update" => break m,
            Incoming::Message(_) => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(update["seq"], live);

    // A client that reads (and so answers pings) stays; one that never reads is closed with 4408 after the pong
    // deadline.
    let silent = Ws::open(s, Auth::Header(&owner.token));
    let silent = std::thread::spawn(move || {
        let mut silent = silent;
        std::thread::sleep(Duration::from_millis(1500));
        silent.expect_close()
    });
    // Meanwhile `ws` reads (tungstenite answers the pings while reading) and stays open.
    ws.expect_silence(Duration::from_millis(1500));
    let (code, _) = silent.join().unwrap();
    assert_eq!(code, 4408, "no pong in time");
    ws.send(json!({ "type": "ping" }));
    let deadline = Instant::now() + ws::WAIT;
    loop {
        match ws.next(deadline.saturating_duration_since(Instant::now())) {
            Incoming::Message(m) if m["type"] == "pong" => break,
            Incoming::Message(_) => continue,
            other => panic!("the reading client was closed: {other:?}"),
        }
    }
}
